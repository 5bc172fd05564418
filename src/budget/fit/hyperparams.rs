//! Checked hyperparameters of the response-model fit, with documented defaults (the
//! `[fit]` table of `training/budget.toml`).

use serde::{Deserialize, Serialize};

use super::FitError;
use crate::budget::series::PeriodKind;

/// Adstock families the search may choose from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdstockFamily {
    Geometric,
    WeibullPdf,
    WeibullCdf,
}

/// Saturation families the search may choose from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaturationFamily {
    Hill,
    Logistic,
    MichaelisMenten,
}

/// How to fit the response model. Every field has a default ([`FitParams::default`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FitParams {
    /// Adstock families searched per channel (default all three).
    pub adstock: Vec<AdstockFamily>,
    /// Saturation families searched per channel (default Hill only: Michaelis–Menten is the
    /// Hill curve with slope 1 and the logistic curve is nearly a Hill curve too, so with the
    /// slope free they add little but the noise of choosing among near-equivalents on a short
    /// holdout, and a chosen one-parameter curve understates the curve's uncertainty. On 50
    /// generated datasets the 90% share intervals covered the truth 70% of the time with all
    /// three, 89–91% with Hill alone.) With both Hill and logistic listed, the posterior draws
    /// move between the two and each channel's point takes the family most draws are in, so
    /// the intervals carry the choice: on PyMC-Marketing's example data (logistic truth) that
    /// is the better setting, on the Hill-curve generated data Hill alone is (docs/evaluation.md,
    /// "Budget recovery").
    pub saturation: Vec<SaturationFamily>,
    /// Longest Weibull lag in periods [default: 21 for days, 8 for weeks].
    pub max_lag: Option<usize>,
    /// Share of the latest periods held out to choose each channel's family and report MAPE
    /// (default 0.15; no holdout below 20 periods).
    pub holdout_fraction: f64,
    /// Coordinate sweeps of the grid search over channels (default 3; at least 2 run, as the
    /// prior is weighed against the previous sweep's residual variance, except for a single
    /// channel without prior).
    pub sweeps: usize,
    /// Halvings of the local pattern search after the grid (default 8).
    pub refine_rounds: usize,
    /// A linear trend in the baseline (default true).
    pub trend: bool,
    /// Weekday Fourier order for daily data (default 3; 0 = none).
    pub weekly_order: usize,
    /// Yearly Fourier order (default 2), used only when the data span at least 365 days —
    /// a shorter span cannot tell a yearly wave from slow budget changes.
    pub yearly_order: usize,
    /// Posterior draws for intervals (default 200; 0 = no intervals). `bootstrap` is accepted
    /// as an older name.
    #[serde(alias = "bootstrap")]
    pub draws: usize,
    /// Central interval level (default 0.9).
    pub interval: f64,
    /// Seed of the posterior sampler.
    pub seed: u64,
    /// Weight of the prior on each channel's transform (default 1; 0 = maximum likelihood).
    /// The prior: geometric decay ~ Beta(1, 3); Weibull shape ~ LogNormal(0, 0.7), scale ~
    /// LogNormal(ln 2, 0.8) periods; half-saturation (and 1/λ for the logistic curve) ~
    /// LogNormal around the typical adstocked spend, σ = 0.7; Hill slope ~ LogNormal(ln 1.3,
    /// 0.5). Without it, a channel that never stops spending can trade its level against the
    /// intercept through a curve that saturates almost at once, and the fit attributes most of
    /// the outcome to it.
    pub prior_strength: f64,
}

impl Default for FitParams {
    fn default() -> Self {
        FitParams {
            adstock: vec![
                AdstockFamily::Geometric,
                AdstockFamily::WeibullPdf,
                AdstockFamily::WeibullCdf,
            ],
            saturation: vec![SaturationFamily::Hill],
            max_lag: None,
            holdout_fraction: 0.15,
            sweeps: 3,
            refine_rounds: 8,
            trend: true,
            weekly_order: 3,
            yearly_order: 2,
            draws: 200,
            interval: 0.9,
            seed: 7,
            prior_strength: 1.0,
        }
    }
}

impl FitParams {
    /// Checks ranges; the error names the field.
    pub fn validate(&self) -> Result<(), FitError> {
        let bad = |field: &str, msg: String| Err(FitError::Params(format!("fit.{field}: {msg}")));
        if self.adstock.is_empty() {
            return bad("adstock", "needs at least one family".into());
        }
        if self.saturation.is_empty() {
            return bad("saturation", "needs at least one family".into());
        }
        if !(0.0..0.5).contains(&self.holdout_fraction) {
            return bad(
                "holdout_fraction",
                format!("must be in [0, 0.5), got {}", self.holdout_fraction),
            );
        }
        if self.sweeps == 0 || self.sweeps > 20 {
            return bad("sweeps", format!("must be 1–20, got {}", self.sweeps));
        }
        if self.refine_rounds > 30 {
            return bad(
                "refine_rounds",
                format!("must be ≤ 30, got {}", self.refine_rounds),
            );
        }
        if self.max_lag.is_some_and(|l| l == 0 || l > 365) {
            return bad("max_lag", "must be 1–365".into());
        }
        if !(self.interval > 0.0 && self.interval < 1.0) {
            return bad(
                "interval",
                format!("must be in (0, 1), got {}", self.interval),
            );
        }
        if !(self.prior_strength >= 0.0 && self.prior_strength <= 100.0) {
            return bad(
                "prior_strength",
                format!("must be in [0, 100], got {}", self.prior_strength),
            );
        }
        if self.weekly_order > 3 || self.yearly_order > 10 {
            return bad(
                "weekly_order",
                "weekly_order must be ≤ 3 and yearly_order ≤ 10".into(),
            );
        }
        if self.adstock.len() > 8 || self.saturation.len() > 8 {
            return bad("saturation", "list at most 8 families each".into());
        }
        if self.draws > 10_000 {
            return bad("draws", format!("must be ≤ 10000, got {}", self.draws));
        }
        Ok(())
    }

    /// The Weibull lag window for a period kind.
    pub fn lag(&self, period: PeriodKind) -> usize {
        self.max_lag.unwrap_or(match period {
            PeriodKind::Day => 21,
            PeriodKind::Week => 8,
        })
    }
}
