//! Checked hyperparameters of the logistic hazard.

use serde::{Deserialize, Serialize};

use crate::fatigue::FatigueError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogisticHazardParams {
    /// L2 penalty on the coefficients (linfa's `alpha`). Default 1.0.
    pub l2: f64,
    /// LBFGS iterations. Default 100.
    pub max_iterations: u64,
    /// Share of non-event person-periods kept (all events are kept; the intercepts are
    /// corrected by ln(share)). Fitting cost scales with the rows. Default 0.25.
    pub negative_sampling: f64,
}

impl Default for LogisticHazardParams {
    fn default() -> Self {
        LogisticHazardParams {
            l2: 1.0,
            max_iterations: 100,
            negative_sampling: 0.25,
        }
    }
}

impl LogisticHazardParams {
    pub fn validate(&self) -> Result<(), FatigueError> {
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(FatigueError::Config(
                "models.logistic.l2 must be ≥ 0".into(),
            ));
        }
        if !(self.negative_sampling > 0.0 && self.negative_sampling <= 1.0) {
            return Err(FatigueError::Config(
                "models.logistic.negative_sampling must be in (0, 1]".into(),
            ));
        }
        if !(1..=100_000).contains(&self.max_iterations) {
            return Err(FatigueError::Config(
                "models.logistic.max_iterations must be in 1..=100000".into(),
            ));
        }
        Ok(())
    }
}
