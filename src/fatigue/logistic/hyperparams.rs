//! Checked hyperparameters of the logistic hazard.

use serde::{Deserialize, Serialize};

use crate::fatigue::FatigueError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogisticHazardParams {
    /// L2 penalty on the coefficients (linfa's `alpha`). Default 1.0.
    pub l2: f64,
    /// LBFGS iterations. Default 200.
    pub max_iterations: u64,
}

impl Default for LogisticHazardParams {
    fn default() -> Self {
        LogisticHazardParams {
            l2: 1.0,
            max_iterations: 200,
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
        if self.max_iterations == 0 {
            return Err(FatigueError::Config(
                "models.logistic.max_iterations must be ≥ 1".into(),
            ));
        }
        Ok(())
    }
}
