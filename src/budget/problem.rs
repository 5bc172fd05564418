//! The allocation problem and its checked form: entities (id, response curve, current spend,
//! optional bounds), the total budget and the mode, validated before any solving.
//!
//! Bounds per entity, in currency units per period:
//! - `fixed`: held at its current spend (its min/max must allow that);
//! - current spend 0 and not `allow_new`: held at zero (a channel that never had money gets
//!   none unless explicitly allowed — a frequent complaint about Robyn/Meridian/PyMC
//!   allocators);
//! - otherwise `[min_spend, max_spend]` (default `[0, ∞)`), intersected with
//!   `current·(1 ± max_shift_pct/100)` when a shift limit applies (the entity's own, else the
//!   problem's global one; not applied to zero-spend entities, whose shift would be 0).
//!
//! A current spend outside its own bounds is allowed (the recommendation moves it inside) and
//! reported as a note. Contradictory bounds, and bounds the budget cannot meet, are errors that
//! name the constraint and the gap — never a silent partial answer.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::curve::ResponseCurve;
use super::error::BudgetError;

/// One budget entity (a platform, campaign, …) as given by the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntitySpec {
    pub id: String,
    pub curve: ResponseCurve,
    /// Spend per period now (currency units).
    pub current_spend: f64,
    /// Lowest recommended spend (currency units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_spend: Option<f64>,
    /// Highest recommended spend (currency units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_spend: Option<f64>,
    /// Largest move away from the current spend, in percent of it (e.g. 30 = ±30%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_shift_pct: Option<f64>,
    /// Hold at the current spend.
    #[serde(default)]
    pub fixed: bool,
    /// A zero-spend entity may receive money (default: held at zero).
    #[serde(default)]
    pub allow_new: bool,
}

/// Constraints for one entity, overriding what its curve record says (all optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityConstraints {
    /// Lowest spend (currency units).
    pub min_spend: Option<f64>,
    /// Highest spend (currency units).
    pub max_spend: Option<f64>,
    /// Largest move from current spend, percent of it.
    pub max_shift_pct: Option<f64>,
    /// Hold at current spend.
    pub fixed: Option<bool>,
    /// Let a zero-spend entity receive money.
    pub allow_new: Option<bool>,
}

/// Constraints kept apart from the curves (the CLI reads them from TOML, the API from JSON):
/// a global shift limit and per-entity overrides keyed by entity id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraints {
    /// Largest move from current spend, percent of it, for entities without their own.
    pub max_shift_pct: Option<f64>,
    #[serde(default)]
    pub entities: BTreeMap<String, EntityConstraints>,
}

impl Constraints {
    /// Writes the overrides into `entities`; an id that matches no entity is an error (a typo
    /// would otherwise silently drop a constraint). Returns the global shift limit.
    pub fn apply(&self, entities: &mut [EntitySpec]) -> Result<Option<f64>, BudgetError> {
        for (id, k) in &self.entities {
            let e = entities.iter_mut().find(|e| &e.id == id).ok_or_else(|| {
                BudgetError::invalid(id, "constraints", "no entity with this id in the curves")
            })?;
            if k.min_spend.is_some() {
                e.min_spend = k.min_spend;
            }
            if k.max_spend.is_some() {
                e.max_spend = k.max_spend;
            }
            if k.max_shift_pct.is_some() {
                e.max_shift_pct = k.max_shift_pct;
            }
            if let Some(f) = k.fixed {
                e.fixed = f;
            }
            if let Some(a) = k.allow_new {
                e.allow_new = a;
            }
        }
        Ok(self.max_shift_pct)
    }
}

/// What to optimise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Spend exactly the budget, maximising total outcome.
    FixedBudget,
    /// The most conversions whose cost per conversion meets `target` (currency per
    /// conversion): the *average* CPA (total spend / total conversions) by default, or with
    /// `marginal` the cost of the last conversion. The budget caps total spend.
    TargetCpa { target: f64, marginal: bool },
    /// The most value whose return on ad spend (value / spend, ratio) meets `target`, average
    /// or marginal likewise. The budget caps total spend.
    TargetRoas { target: f64, marginal: bool },
}

impl Mode {
    /// The mode's name as printed (`fixed`, `target_cpa`, `target_roas`).
    pub fn name(&self) -> &'static str {
        match self {
            Mode::FixedBudget => "fixed",
            Mode::TargetCpa { .. } => "target_cpa",
            Mode::TargetRoas { .. } => "target_roas",
        }
    }
}

/// An allocation problem: entities, total budget (currency units per period), mode and an
/// optional global shift limit applied to entities that have none of their own.
#[derive(Debug, Clone, PartialEq)]
pub struct AllocationProblem {
    pub entities: Vec<EntitySpec>,
    pub budget: f64,
    pub mode: Mode,
    pub max_shift_pct: Option<f64>,
}

/// Why an entity's spend cannot move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hold {
    Free,
    Fixed,
    ZeroSpend,
}

/// A validated problem: per-entity bounds `lo ≤ hi` (`hi` may be `+∞`), holds and notes.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub lo: Vec<f64>,
    pub hi: Vec<f64>,
    pub hold: Vec<Hold>,
    pub notes: Vec<String>,
}

fn nonneg(entity: &str, field: &str, v: f64) -> Result<f64, BudgetError> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(BudgetError::invalid(
            entity,
            field,
            format!("must be a finite number ≥ 0, got {v}"),
        ))
    }
}

impl AllocationProblem {
    /// Validates the problem and derives each entity's bounds; infeasibility of the bounds
    /// against the budget is checked by the allocator (it depends on the mode).
    pub(crate) fn check(&self) -> Result<Checked, BudgetError> {
        if self.entities.is_empty() {
            return Err(BudgetError::invalid(
                "-",
                "entities",
                "no entities to allocate",
            ));
        }
        nonneg("-", "budget", self.budget)?;
        if let Some(p) = self.max_shift_pct {
            nonneg("-", "max_shift_pct", p)?;
        }
        match self.mode {
            Mode::FixedBudget => {}
            Mode::TargetCpa { target, .. } | Mode::TargetRoas { target, .. } => {
                if !(target.is_finite() && target > 0.0) {
                    return Err(BudgetError::invalid(
                        "-",
                        "target",
                        format!("must be a finite number > 0, got {target}"),
                    ));
                }
            }
        }
        let mut seen = HashSet::new();
        let n = self.entities.len();
        let mut out = Checked {
            lo: Vec::with_capacity(n),
            hi: Vec::with_capacity(n),
            hold: Vec::with_capacity(n),
            notes: Vec::new(),
        };
        for e in &self.entities {
            let id = e.id.as_str();
            if id.is_empty() {
                return Err(BudgetError::invalid("\"\"", "id", "must not be empty"));
            }
            if !seen.insert(id) {
                return Err(BudgetError::invalid(id, "id", "appears more than once"));
            }
            e.curve.validate(id)?;
            let current = nonneg(id, "current_spend", e.current_spend)?;
            let min = e
                .min_spend
                .map(|v| nonneg(id, "min_spend", v))
                .transpose()?;
            let max = e
                .max_spend
                .map(|v| nonneg(id, "max_spend", v))
                .transpose()?;
            let shift = match e.max_shift_pct {
                Some(p) => Some(nonneg(id, "max_shift_pct", p)?),
                None => self.max_shift_pct,
            };
            if let (Some(a), Some(b)) = (min, max)
                && a > b
            {
                return Err(BudgetError::invalid(
                    id,
                    "min_spend",
                    format!("min_spend {a} is above max_spend {b}"),
                ));
            }
            let (lo, hi, hold) = if e.fixed {
                if let Some(a) = min.filter(|a| *a > current) {
                    return Err(BudgetError::invalid(
                        id,
                        "fixed",
                        format!("fixed at current spend {current}, below its min_spend {a}"),
                    ));
                }
                if let Some(b) = max.filter(|b| *b < current) {
                    return Err(BudgetError::invalid(
                        id,
                        "fixed",
                        format!("fixed at current spend {current}, above its max_spend {b}"),
                    ));
                }
                (current, current, Hold::Fixed)
            } else if current == 0.0 && !e.allow_new {
                if let Some(a) = min.filter(|a| *a > 0.0) {
                    return Err(BudgetError::invalid(
                        id,
                        "min_spend",
                        format!(
                            "min_spend {a} for an entity with zero current spend needs allow_new"
                        ),
                    ));
                }
                (0.0, 0.0, Hold::ZeroSpend)
            } else {
                let mut lo = min.unwrap_or(0.0);
                let mut hi = max.unwrap_or(f64::INFINITY);
                if let Some(p) = shift
                    && current > 0.0
                {
                    let (a, b) = (
                        current * (1.0 - p / 100.0).max(0.0),
                        current * (1.0 + p / 100.0),
                    );
                    if a > hi || b < lo {
                        return Err(BudgetError::invalid(
                            id,
                            "max_shift_pct",
                            format!(
                                "±{p}% around current spend {current} is [{a}, {b}], outside \
                                 min_spend/max_spend [{lo}, {hi}]"
                            ),
                        ));
                    }
                    lo = lo.max(a);
                    hi = hi.min(b);
                }
                if current < lo || current > hi {
                    out.notes.push(format!(
                        "{id}: current spend {current} is outside its bounds [{lo}, {hi}]; the \
                         recommendation moves it inside"
                    ));
                }
                (lo, hi, Hold::Free)
            };
            out.lo.push(lo);
            out.hi.push(hi);
            out.hold.push(hold);
        }
        Ok(out)
    }
}
