//! `allocate`: from an [`AllocationProblem`] (curves, current spends, bounds, budget, mode) to
//! an [`Allocation`] — per entity the recommended spend, its expected outcome, the marginal
//! return there and which bound binds — checkable through the multiplier λ and the KKT gap.
//!
//! Modes (docs/design.md §5):
//! - `fixed`: spend exactly the budget (to rounding), maximising total outcome;
//! - target CPA / ROAS, *marginal*: maximise Σ(fᵢ(sᵢ) − r·sᵢ) with r the required outcome per
//!   currency unit (1/CPA, or ROAS) — separable, so solved exactly per entity — capped by the
//!   budget (if the cap binds, the fixed-budget answer at the cap);
//! - target CPA / ROAS, *average*: the largest total T ≤ budget whose optimal outcome F(T)
//!   satisfies F(T) ≥ r·T, by bisection on T between the marginal answer (where F(T) − rT is
//!   largest) and the cap. For concave curves F(T) − rT is concave, so that crossing is the
//!   largest; with S-shaped curves it is a crossing (a later one may exist).
//!
//! Known failures of the anchor tools (Robyn, Meridian, PyMC-Marketing) that this avoids by
//! construction and tests: equal or unchanged splits, budget left unspent, bounds ignored,
//! starts outside bounds, money to zero-spend channels.

use serde::Serialize;

use super::error::BudgetError;
use super::global::{Free, optimize};
use super::problem::{AllocationProblem, Checked, EntitySpec, Hold, Mode};

/// Which constraint holds an entity's recommendation where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Binding {
    /// At its lower bound (marginal ≤ λ).
    Min,
    /// At its upper bound (marginal ≥ λ).
    Max,
    /// Held at current spend by request.
    Fixed,
    /// Zero current spend and not allowed new money.
    ZeroSpendHeld,
    /// Interior: marginal = λ.
    None,
}

impl Binding {
    pub fn as_str(&self) -> &'static str {
        match self {
            Binding::Min => "min",
            Binding::Max => "max",
            Binding::Fixed => "fixed",
            Binding::ZeroSpendHeld => "zero_spend_held",
            Binding::None => "none",
        }
    }
}

/// One entity's recommendation. Spends in currency units per period; outcomes in the curves'
/// unit (conversions or value) per period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntityAllocation {
    pub id: String,
    pub current: f64,
    pub recommended: f64,
    pub delta: f64,
    pub expected_outcome_current: f64,
    pub expected_outcome_recommended: f64,
    /// Outcome per extra currency unit at the recommendation (`null` when infinite).
    pub marginal_return: Option<f64>,
    pub binding: Binding,
    /// The bounds the recommendation had to respect (`max_bound` null = unbounded).
    pub min_bound: f64,
    pub max_bound: Option<f64>,
}

/// The allocator's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Allocation {
    /// `fixed`, `target_cpa` or `target_roas`.
    pub mode: String,
    /// Total recommended spend: the budget in fixed mode.
    pub total_budget: f64,
    pub expected_outcome: f64,
    pub expected_outcome_current: f64,
    /// The multiplier: marginal outcome per currency unit shared by interior entities
    /// (`null` when no entity is free to move).
    pub lambda: Option<f64>,
    /// Largest relative KKT violation: |marginal − λ|/λ for interior entities, marginal above λ
    /// at a lower bound, marginal below λ at an upper bound. ≈ 0 at an optimum.
    pub kkt_gap: f64,
    pub entities: Vec<EntityAllocation>,
    /// Remarks for people (e.g. a current spend outside its bounds).
    pub notes: Vec<String>,
}

/// Solves an allocation problem (see the module docs for the modes).
pub fn allocate(problem: &AllocationProblem) -> Result<Allocation, BudgetError> {
    let checked = problem.check()?;
    let specs = &problem.entities;
    let budget = problem.budget;
    let sum_lo: f64 = checked.lo.iter().sum();
    let sum_hi: f64 = checked.hi.iter().sum();
    let rel = |x: f64| 1e-12 * x.abs().max(1.0);
    if sum_lo > budget + rel(budget) {
        return Err(BudgetError::Infeasible(format!(
            "lower bounds (min_spend, max_shift_pct floors, fixed entities) sum to {sum_lo}, \
             above the budget {budget} by {}",
            sum_lo - budget
        )));
    }
    let mut notes = checked.notes.clone();
    let (s, mu, total) = match problem.mode {
        Mode::FixedBudget => {
            if sum_hi < budget - rel(budget) {
                return Err(BudgetError::Infeasible(format!(
                    "upper bounds (max_spend, max_shift_pct caps, fixed and zero-spend-held \
                     entities) sum to {sum_hi}, below the budget {budget} by {}; raise a \
                     max_spend or max_shift_pct, unfix an entity or set allow_new",
                    budget - sum_hi
                )));
            }
            let (s, mu) = at_total(specs, &checked, budget)?;
            (s, mu, budget)
        }
        Mode::TargetCpa { target, marginal } | Mode::TargetRoas { target, marginal } => {
            let cpa = matches!(problem.mode, Mode::TargetCpa { .. });
            let r = if cpa { 1.0 / target } else { target };
            let (s, mu) = target_plan(specs, &checked, budget, r, marginal, cpa)?;
            let total = s.iter().sum();
            if total >= budget - rel(budget) && budget < sum_hi {
                notes.push(format!(
                    "the budget cap {budget} binds: the target would allow more spend"
                ));
            }
            (s, mu, total)
        }
    };
    Ok(report(problem, &checked, s, mu, total, notes))
}

/// The free entities (bounds not pinned) with upper bounds capped by what the total allows.
fn free_entities<'a>(
    specs: &'a [EntitySpec],
    c: &Checked,
    total: f64,
) -> (Vec<usize>, Vec<Free<'a>>, f64) {
    let sum_lo: f64 = c.lo.iter().sum();
    let slack = (total - sum_lo).max(0.0);
    let mut idx = Vec::new();
    let mut free = Vec::new();
    for (i, e) in specs.iter().enumerate() {
        // Nobody can take more than the slack; the cap sits a hair above it so it never
        // binds (an entity absorbing all the slack is interior, with marginal = λ).
        let hi = c.hi[i].min(c.lo[i] + slack * (1.0 + 1e-9) + 1e-9);
        if c.hold[i] == Hold::Free && hi > c.lo[i] {
            idx.push(i);
            free.push(Free {
                id: &e.id,
                curve: e.curve,
                lo: c.lo[i],
                hi,
            });
        }
    }
    let pinned: f64 = (0..specs.len())
        .filter(|i| !idx.contains(i))
        .map(|i| c.lo[i])
        .sum();
    (idx, free, pinned)
}

/// The best allocation spending exactly `total` (Σlo ≤ total ≤ Σhi), and its multiplier.
fn at_total(specs: &[EntitySpec], c: &Checked, total: f64) -> Result<(Vec<f64>, f64), BudgetError> {
    let (idx, free, pinned) = free_entities(specs, c, total);
    let mut s = c.lo.clone();
    if free.is_empty() {
        return Ok((s, f64::NAN));
    }
    let plan = optimize(&free, total - pinned).ok_or_else(|| {
        BudgetError::Infeasible(format!(
            "no allocation of {total} fits the bounds of the free entities"
        ))
    })?;
    for (k, &i) in idx.iter().enumerate() {
        s[i] = plan.s[k];
    }
    Ok((s, plan.mu))
}

/// Target modes: `r` is the required outcome per currency unit.
fn target_plan(
    specs: &[EntitySpec],
    c: &Checked,
    cap: f64,
    r: f64,
    marginal: bool,
    cpa: bool,
) -> Result<(Vec<f64>, f64), BudgetError> {
    let value = |s: &[f64]| -> f64 { specs.iter().zip(s).map(|(e, x)| e.curve.value(*x)).sum() };
    // Per entity, argmax f(s) − r·s over its range: the bounds and the concave-branch point.
    let (idx, free, _) = free_entities(specs, c, cap);
    let mut s_m = c.lo.clone();
    for (k, f) in free.iter().enumerate() {
        let start = f.lo.max(f.curve.concave_start().min(f.hi));
        let mut w = f64::NAN;
        let inner = f.curve.concave_inverse(r, &mut w).clamp(start, f.hi);
        let mut best = (f.curve.value(f.lo) - r * f.lo, f.lo);
        for x in [inner, f.hi] {
            let v = f.curve.value(x) - r * x;
            if v > best.0 {
                best = (v, x);
            }
        }
        s_m[idx[k]] = best.1;
    }
    let t_m: f64 = s_m.iter().sum();
    let sum_lo: f64 = c.lo.iter().sum();
    let t_max = cap.min(c.hi.iter().sum());
    if marginal {
        if t_m <= t_max {
            return Ok((s_m, r));
        }
        return at_total(specs, c, t_max);
    }
    let g = |s: &[f64]| value(s) - r * s.iter().sum::<f64>();
    let what = if cpa { "average CPA" } else { "average ROAS" };
    let shown = |s: &[f64]| {
        let (spend, out) = (s.iter().sum::<f64>(), value(s));
        if cpa { spend / out } else { out / spend }
    };
    let (p_plan, p) = if t_m >= sum_lo && t_m <= t_max {
        ((s_m, r), t_m)
    } else {
        let p = t_m.clamp(sum_lo, t_max);
        (at_total(specs, c, p)?, p)
    };
    if p.is_nan() || p <= 0.0 || g(&p_plan.0) < 0.0 {
        let best = if p > 0.0 {
            format!(
                "the best {what} within the budget and bounds is {}",
                shown(&p_plan.0)
            )
        } else {
            "no spend is possible within the budget and bounds".to_string()
        };
        return Err(BudgetError::Unreachable(format!(
            "{best} (at total spend {p}), short of the target"
        )));
    }
    let top = at_total(specs, c, t_max)?;
    if g(&top.0) >= 0.0 {
        return Ok(top);
    }
    let (mut a, mut b) = (p, t_max);
    let mut best = p_plan;
    for _ in 0..100 {
        if b - a <= 1e-12 * b.max(1.0) {
            break;
        }
        let m = 0.5 * (a + b);
        let plan = at_total(specs, c, m)?;
        if g(&plan.0) >= 0.0 {
            a = m;
            best = plan;
        } else {
            b = m;
        }
    }
    Ok(best)
}

/// Builds the per-entity report, bindings and the KKT gap.
fn report(
    problem: &AllocationProblem,
    c: &Checked,
    s: Vec<f64>,
    mu: f64,
    total: f64,
    notes: Vec<String>,
) -> Allocation {
    let tol = 1e-9 * total.abs().max(1.0);
    let lambda = (mu.is_finite() && mu > 0.0).then_some(mu);
    let mut kkt_gap: f64 = 0.0;
    let mut entities = Vec::with_capacity(s.len());
    for (i, e) in problem.entities.iter().enumerate() {
        let x = s[i];
        let m = e.curve.marginal(x);
        let (lo, hi) = (c.lo[i], c.hi[i]);
        let binding = match c.hold[i] {
            Hold::Fixed => Binding::Fixed,
            Hold::ZeroSpend => Binding::ZeroSpendHeld,
            Hold::Free if x <= lo + tol => Binding::Min,
            Hold::Free if x >= hi - tol => Binding::Max,
            Hold::Free => Binding::None,
        };
        if let Some(l) = lambda {
            let gap = match binding {
                Binding::None => (m - l).abs() / l,
                // A Hill curve with shape < 1 has an infinite slope at 0, yet for shapes near 1
                // the spend where its slope falls to λ can underflow to 0 (e.g. 1e-800): then
                // the bound is the optimum to machine precision, not a violation.
                Binding::Min if lo < hi && m.is_infinite() => {
                    let mut w = f64::NAN;
                    if e.curve.concave_inverse(l, &mut w) <= lo {
                        0.0
                    } else {
                        f64::INFINITY
                    }
                }
                Binding::Min if lo < hi => (m - l).max(0.0) / l,
                Binding::Max => (l - m).max(0.0) / l,
                _ => 0.0,
            };
            kkt_gap = kkt_gap.max(gap);
        }
        let cur = e.current_spend;
        entities.push(EntityAllocation {
            id: e.id.clone(),
            current: cur,
            recommended: x,
            delta: x - cur,
            expected_outcome_current: e.curve.value(cur),
            expected_outcome_recommended: e.curve.value(x),
            marginal_return: m.is_finite().then_some(m),
            binding,
            min_bound: lo,
            max_bound: hi.is_finite().then_some(hi),
        });
    }
    Allocation {
        mode: problem.mode.name().to_string(),
        total_budget: total,
        expected_outcome: entities
            .iter()
            .map(|e| e.expected_outcome_recommended)
            .sum(),
        expected_outcome_current: entities.iter().map(|e| e.expected_outcome_current).sum(),
        lambda,
        kkt_gap,
        entities,
        notes,
    }
}
