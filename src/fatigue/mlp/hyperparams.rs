//! Checked hyperparameters of the survival MLP.

use serde::{Deserialize, Serialize};

use crate::fatigue::FatigueError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MlpParams {
    /// Hidden layer widths (ReLU). Default [64, 32].
    pub hidden: Vec<usize>,
    /// AdamW learning rate. Default 0.002.
    pub learning_rate: f64,
    /// AdamW decoupled weight decay. Default 0.0001.
    pub weight_decay: f64,
    /// Rows per minibatch. Default 256.
    pub batch_size: usize,
    /// Maximum epochs. Default 80.
    pub max_epochs: usize,
    /// Stop after this many epochs without a better validation loss. Default 8.
    pub patience: usize,
}

impl Default for MlpParams {
    fn default() -> Self {
        MlpParams {
            hidden: vec![64, 32],
            learning_rate: 0.002,
            weight_decay: 1e-4,
            batch_size: 256,
            max_epochs: 80,
            patience: 8,
        }
    }
}

impl MlpParams {
    pub fn validate(&self) -> Result<(), FatigueError> {
        let bad = |m: &str| Err(FatigueError::Config(format!("models.mlp.{m}")));
        if self.hidden.is_empty() || self.hidden.contains(&0) {
            return bad("hidden must list widths ≥ 1");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad("learning_rate must be > 0");
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("weight_decay must be ≥ 0");
        }
        if self.hidden.len() > 6 || self.hidden.iter().any(|&w| w > 1_024) {
            return bad("hidden must list at most 6 widths, each ≤ 1024");
        }
        if !(1..=65_536).contains(&self.batch_size) {
            return bad("batch_size must be in 1..=65536");
        }
        if !(1..=2_000).contains(&self.max_epochs) {
            return bad("max_epochs must be in 1..=2000");
        }
        if self.patience > 2_000 {
            return bad("patience must be ≤ 2000");
        }
        Ok(())
    }
}
