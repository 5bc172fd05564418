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
    /// Saturation families searched per channel (default all three).
    pub saturation: Vec<SaturationFamily>,
    /// Longest Weibull lag in periods [default: 21 for days, 8 for weeks].
    pub max_lag: Option<usize>,
    /// Share of the latest periods held out to choose each channel's family and report MAPE
    /// (default 0.15; no holdout below 20 periods).
    pub holdout_fraction: f64,
    /// Coordinate sweeps of the grid search over channels (default 3).
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
    /// Bootstrap replicates for intervals (default 200; 0 = no intervals).
    pub bootstrap: usize,
    /// Moving-block length in periods [default: 8 weeks or 28 days].
    pub block_len: Option<usize>,
    /// Central interval level (default 0.9).
    pub interval: f64,
    /// Seed of the bootstrap.
    pub seed: u64,
}

impl Default for FitParams {
    fn default() -> Self {
        FitParams {
            adstock: vec![
                AdstockFamily::Geometric,
                AdstockFamily::WeibullPdf,
                AdstockFamily::WeibullCdf,
            ],
            saturation: vec![
                SaturationFamily::Hill,
                SaturationFamily::Logistic,
                SaturationFamily::MichaelisMenten,
            ],
            max_lag: None,
            holdout_fraction: 0.15,
            sweeps: 3,
            refine_rounds: 8,
            trend: true,
            weekly_order: 3,
            yearly_order: 2,
            bootstrap: 200,
            block_len: None,
            interval: 0.9,
            seed: 7,
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
        if self.block_len == Some(0) {
            return bad("block_len", "must be ≥ 1".into());
        }
        if !(self.interval > 0.0 && self.interval < 1.0) {
            return bad(
                "interval",
                format!("must be in (0, 1), got {}", self.interval),
            );
        }
        if self.bootstrap > 10_000 {
            return bad(
                "bootstrap",
                format!("must be ≤ 10000, got {}", self.bootstrap),
            );
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

    /// The bootstrap block length for a period kind.
    pub fn block(&self, period: PeriodKind) -> usize {
        self.block_len.unwrap_or(match period {
            PeriodKind::Day => 28,
            PeriodKind::Week => 8,
        })
    }
}
