//! The budget response model (docs/design.md §5): fitting,
//! evaluation and forecasts.
//!
//! A [`BudgetModel`] is one or more [`FittedModel`]s — one per outcome series: one per entity
//! for warehouse data (each entity's spend against its own attributed outcome), one for a wide
//! MMM table (every spend column against the one outcome) — fitted by
//! [`algorithm::fit_dataset`] (see there for the search, the prior and the holdout family
//! choice; the `posterior` module for the intervals). From it:
//! - [`BudgetModel::report`]: per entity spend, contribution (outcome minus the outcome with
//!   that entity's spend set to zero, over the fitted window), contribution share (of the total
//!   outcome of all fitted series), ROAS (contribution / spend; conversions per currency unit
//!   when the outcome is conversions), each with a posterior interval, the fitted transforms,
//!   in-sample R², holdout MAPE and identifiability warnings;
//! - [`BudgetModel::curves`]: the fitted curves as the allocator's [`ResponseCurve`]s at steady
//!   spend, with each entity's current spend (mean of the latest 4 weeks / 7 days);
//! - [`BudgetModel::forecast`]: each future period's outcome under a plan (constant spend per
//!   period per entity), carrying adstock over from the fitted history, with intervals from
//!   the posterior draws plus resampled residuals.

mod algorithm;
mod baseline;
mod hyperparams;
mod linalg;
mod posterior;
pub mod recovery;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use algorithm::{ChannelSpec, FittedChannel, FittedModel, Replicate, fit_dataset};
pub use baseline::BaselineSpec;
pub use hyperparams::{AdstockFamily, FitParams, SaturationFamily};

use super::curve::ResponseCurve;
use super::series::{DELIVERING, Dataset, PeriodKind};
use super::transform::{Adstock, Saturation, to_curve};

/// Why a fit, report or forecast failed (one line).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    #[error("{0}")]
    Params(String),
    #[error("{0}")]
    Data(String),
    #[error("plan: {0}")]
    Plan(String),
}

/// A trained budget model (what the registry stores as `model.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetModel {
    /// Where the data came from (`warehouse` or the wide table's file name).
    pub source: String,
    /// What the outcome is (`conversions`, `conversion_value`, or the wide table's column).
    pub outcome: String,
    pub period: PeriodKind,
    /// Central interval level of every interval.
    pub interval: f64,
    pub seed: u64,
    pub models: Vec<FittedModel>,
}

/// One entity's row of `omnify evaluate budget`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntityReport {
    pub entity: String,
    /// Spend over the fitted window (currency units).
    pub spend: f64,
    /// The fitted point (the posterior mode); the interval is the draws' central interval,
    /// widened to include the point when a skewed posterior leaves it outside.
    pub contribution: f64,
    pub contribution_lo: f64,
    pub contribution_hi: f64,
    pub contribution_share: f64,
    pub contribution_share_lo: f64,
    pub contribution_share_hi: f64,
    pub roas: f64,
    pub roas_lo: f64,
    pub roas_hi: f64,
    pub adstock: Option<Adstock>,
    pub saturation: Option<Saturation>,
    pub beta: f64,
    /// The outcome series the entity was fitted in.
    pub series: String,
    pub r2: f64,
    pub holdout_mape: Option<f64>,
    pub warnings: Vec<String>,
}

/// An allocator input derived from the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FittedCurve {
    pub id: String,
    pub curve: ResponseCurve,
    /// Mean spend per period over the latest 4 weeks (or 7 days).
    pub current_spend: f64,
}

/// One forecast row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodForecast {
    /// Outcome series (or `total`).
    pub series: String,
    /// First day of the period.
    pub period: NaiveDate,
    pub spend: f64,
    pub outcome: f64,
    pub outcome_lo: f64,
    pub outcome_hi: f64,
    /// Part of `outcome` caused by spend (this period's and carried-over).
    pub media: f64,
}

/// A forecast under a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forecast {
    pub interval: f64,
    pub rows: Vec<PeriodForecast>,
    /// Entities not in the plan (held at their current spend), one line each.
    pub notes: Vec<String>,
}

/// Relative half-width of the contribution interval above which an entity is reported as
/// weakly identified (a channel that never pauses typically lands here: its level trades
/// against the baseline's intercept).
const WEAKLY_IDENTIFIED: f64 = 0.5;

/// Linear-interpolated quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos.fract());
    let a = sorted[i];
    let b = sorted.get(i + 1).copied().unwrap_or(a);
    a + f * (b - a)
}

fn interval(mut v: Vec<f64>, level: f64) -> (f64, f64) {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    let a = (1.0 - level) / 2.0;
    (quantile(&v, a), quantile(&v, 1.0 - a))
}

/// Fits every dataset (in parallel).
pub fn train(
    datasets: &[Dataset],
    params: &FitParams,
    source: &str,
    outcome: &str,
) -> Result<BudgetModel, FitError> {
    params.validate()?;
    let period = datasets
        .first()
        .map(|d| d.period)
        .ok_or_else(|| FitError::Data("no series to fit".into()))?;
    let models = datasets
        .par_iter()
        .map(|d| fit_dataset(d, params))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(BudgetModel {
        source: source.to_string(),
        outcome: outcome.to_string(),
        period,
        interval: params.interval,
        seed: params.seed,
        models,
    })
}

fn recent_periods(period: PeriodKind) -> usize {
    match period {
        PeriodKind::Day => 7,
        PeriodKind::Week => 4,
    }
}

fn recent_mean(x: &[f64], k: usize) -> f64 {
    let k = k.min(x.len()).max(1);
    x.iter().rev().take(k).sum::<f64>() / k as f64
}

impl BudgetModel {
    /// Total observed outcome over every fitted series (the share denominator).
    pub fn total_outcome(&self) -> f64 {
        self.models
            .iter()
            .map(|m| m.outcome.iter().sum::<f64>())
            .sum()
    }

    /// First and last fitted period.
    pub fn range(&self) -> Option<(NaiveDate, NaiveDate)> {
        let m = self.models.first()?;
        let first = m.baseline.first;
        let last = first + chrono::Duration::days(self.period.days() * (m.baseline.n as i64 - 1));
        Some((first, last))
    }

    /// Pooled holdout error: Σ|error| / Σ outcome over every series' held-out periods.
    pub fn holdout_wape(&self) -> Option<f64> {
        let (a, o) = self.models.iter().fold((0.0, 0.0), |(a, o), m| {
            (a + m.holdout_abs_error, o + m.holdout_outcome)
        });
        (o > 0.0).then(|| a / o)
    }

    /// Per-entity contributions, shares and ROAS with intervals, and fit quality.
    pub fn report(&self) -> Vec<EntityReport> {
        let total = self.total_outcome();
        let mut out = Vec::new();
        for m in &self.models {
            for (j, ch) in m.channels.iter().enumerate() {
                let spend: f64 = ch.spend.iter().sum();
                let contrib = |spec: &Option<ChannelSpec>, beta: f64| -> f64 {
                    spec.map_or(0.0, |s| beta * s.media(&ch.spend).iter().sum::<f64>())
                };
                let reps: Vec<f64> = m
                    .replicates
                    .iter()
                    .map(|r| {
                        contrib(
                            r.specs.get(j).unwrap_or(&None),
                            r.betas.get(j).copied().unwrap_or(0.0),
                        )
                    })
                    .collect();
                // The point is the fit (the posterior mode: on generated data closer to the
                // truth than the draws' median or mean). A skewed posterior can put it outside
                // the draws' central interval; the interval is then widened to reach it.
                let c = contrib(&ch.spec, ch.beta);
                let (lo, hi) = if reps.is_empty() {
                    (c, c)
                } else {
                    let (lo, hi) = interval(reps, self.interval);
                    (lo.min(c), hi.max(c))
                };
                let share = |v: f64| if total > 0.0 { v / total } else { 0.0 };
                let roas = |v: f64| if spend > 0.0 { v / spend } else { 0.0 };
                let mut warnings: Vec<String> = m
                    .warnings
                    .iter()
                    .filter(|w| w.starts_with(&format!("{}:", ch.name)))
                    .cloned()
                    .collect();
                if c > 0.0 && (hi - lo) / 2.0 > WEAKLY_IDENTIFIED * c {
                    warnings.push(format!(
                        "{}: weakly identified: its contribution lies anywhere from {:.0}% to \
                         {:.0}% of the estimate ({:.0}% interval); pause or vary its spend for \
                         a few periods to pin it down",
                        ch.name,
                        100.0 * lo / c,
                        100.0 * hi / c,
                        100.0 * self.interval
                    ));
                }
                out.push(EntityReport {
                    entity: ch.name.clone(),
                    spend,
                    contribution: c,
                    contribution_lo: lo,
                    contribution_hi: hi,
                    contribution_share: share(c),
                    contribution_share_lo: share(lo),
                    contribution_share_hi: share(hi),
                    roas: roas(c),
                    roas_lo: roas(lo),
                    roas_hi: roas(hi),
                    adstock: ch.spec.map(|s| s.adstock),
                    saturation: ch.spec.map(|s| s.saturation),
                    beta: ch.beta,
                    series: m.name.clone(),
                    r2: m.r2,
                    holdout_mape: m.holdout_mape,
                    warnings,
                });
            }
        }
        out
    }

    /// The fitted curves for the allocator (entities without a positive effect are left out:
    /// a zero curve would only ever receive its minimum).
    pub fn curves(&self) -> Vec<FittedCurve> {
        let k = recent_periods(self.period);
        self.models
            .iter()
            .flat_map(|m| &m.channels)
            .filter_map(|ch| {
                let s = ch.spec?;
                Some(FittedCurve {
                    id: ch.name.clone(),
                    curve: to_curve(ch.beta, &s.adstock, &s.saturation),
                    current_spend: recent_mean(&ch.spend, k),
                })
            })
            .collect()
    }

    /// Forecast of the next `periods` periods with spend per period per entity from `plan`
    /// (entities not in it stay at their current spend). `plan` ids not in the model are
    /// refused.
    pub fn forecast(
        &self,
        plan: &BTreeMap<String, f64>,
        periods: usize,
    ) -> Result<Forecast, FitError> {
        if periods == 0 || periods > 3660 {
            return Err(FitError::Plan(format!(
                "periods must be 1–3660, got {periods}"
            )));
        }
        for (id, s) in plan {
            if !self
                .models
                .iter()
                .any(|m| m.channels.iter().any(|c| &c.name == id))
            {
                return Err(FitError::Plan(format!("entity `{id}` is not in the model")));
            }
            if !(s.is_finite() && *s >= 0.0) {
                return Err(FitError::Plan(format!(
                    "entity `{id}`: spend must be a finite number ≥ 0, got {s}"
                )));
            }
        }
        let k = recent_periods(self.period);
        let mut notes = Vec::new();
        let mut rows = Vec::new();
        let nrep = self.models.first().map_or(0, |m| m.replicates.len());
        let mut totals = vec![(0.0, 0.0, 0.0, vec![0.0; nrep]); periods];
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x00F0_CA57);
        for m in &self.models {
            let n = m.baseline.n;
            let dates: Vec<NaiveDate> = (0..periods)
                .map(|h| {
                    m.baseline.first + chrono::Duration::days(self.period.days() * (n + h) as i64)
                })
                .collect();
            // History followed by the plan, per channel.
            let mut series = Vec::new();
            let mut spend_per_period = 0.0;
            for ch in &m.channels {
                let s = match plan.get(&ch.name) {
                    Some(s) => *s,
                    None => {
                        let s = recent_mean(&ch.spend, k);
                        if !plan.is_empty() {
                            notes.push(format!(
                                "{}: not in the plan; held at its current spend {s:.2}",
                                ch.name
                            ));
                        }
                        s
                    }
                };
                let max_past = ch.spend.iter().fold(0.0f64, |a, v| a.max(*v));
                if s > 2.0 * max_past {
                    notes.push(format!(
                        "{}: planned spend {s:.2} is over twice its largest past spend per \
                         period ({max_past:.2}); the curve there is extrapolated and the \
                         interval is wide",
                        ch.name
                    ));
                }
                spend_per_period += s;
                let mut x = ch.spend.clone();
                x.extend(std::iter::repeat_n(s, periods));
                series.push(x);
            }
            // Future events are off, except the warehouse series' `delivering` indicator,
            // which follows the plan (the baseline of attributed outcomes needs delivery).
            let events: Vec<(String, Vec<f64>)> = m
                .baseline
                .events
                .iter()
                .map(|name| {
                    let on = name == DELIVERING && spend_per_period > 0.0;
                    (name.clone(), vec![f64::from(u8::from(on)); periods])
                })
                .collect();
            let base = m.baseline.design(&dates, None, Some(&events));
            let predict = |coef: &[f64], specs: &[Option<ChannelSpec>], betas: &[f64]| {
                let mut media = vec![0.0; periods];
                for (j, x) in series.iter().enumerate() {
                    if let (Some(Some(spec)), Some(b)) = (specs.get(j), betas.get(j)) {
                        let mm = spec.media(x);
                        for (h, v) in media.iter_mut().enumerate() {
                            *v += b * mm[n + h];
                        }
                    }
                }
                let out: Vec<f64> = (0..periods)
                    .map(|h| base.iter().zip(coef).map(|(c, b)| c[h] * b).sum::<f64>() + media[h])
                    .collect();
                (out, media)
            };
            let specs: Vec<Option<ChannelSpec>> = m.channels.iter().map(|c| c.spec).collect();
            let betas: Vec<f64> = m.channels.iter().map(|c| c.beta).collect();
            let (point, media) = predict(&m.base_coef, &specs, &betas);
            let mut draws = vec![Vec::with_capacity(m.replicates.len()); periods];
            for (b, r) in m.replicates.iter().enumerate() {
                let (p, _) = predict(&r.base, &r.specs, &r.betas);
                for h in 0..periods {
                    let e = if m.residuals.is_empty() {
                        0.0
                    } else {
                        m.residuals[rng.gen_range(0..m.residuals.len())]
                    };
                    let v = p[h] + e;
                    draws[h].push(v);
                    if let Some(t) = totals[h].3.get_mut(b) {
                        *t += v;
                    }
                }
            }
            for h in 0..periods {
                let (lo, hi) = if draws[h].is_empty() {
                    (point[h], point[h])
                } else {
                    interval(draws[h].clone(), self.interval)
                };
                totals[h].0 += point[h];
                totals[h].1 += media[h];
                totals[h].2 += spend_per_period;
                rows.push(PeriodForecast {
                    series: m.name.clone(),
                    period: dates[h],
                    spend: spend_per_period,
                    outcome: point[h],
                    outcome_lo: lo,
                    outcome_hi: hi,
                    media: media[h],
                });
            }
        }
        if self.models.len() > 1
            && let Some(m) = self.models.first()
        {
            for (h, (o, media, spend, draws)) in totals.into_iter().enumerate() {
                let (lo, hi) = if nrep == 0 {
                    (o, o)
                } else {
                    interval(draws, self.interval)
                };
                rows.push(PeriodForecast {
                    series: "total".into(),
                    period: m.baseline.first
                        + chrono::Duration::days(self.period.days() * (m.baseline.n + h) as i64),
                    spend,
                    outcome: o,
                    outcome_lo: lo,
                    outcome_hi: hi,
                    media,
                });
            }
        }
        Ok(Forecast {
            interval: self.interval,
            rows,
            notes,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
