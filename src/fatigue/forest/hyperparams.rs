//! Checked hyperparameters of the per-horizon forests.

use serde::{Deserialize, Serialize};

use crate::fatigue::FatigueError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForestParams {
    /// Checkpoint days, increasing; the horizon is added if missing. Default [3, 7, 14].
    pub checkpoints: Vec<usize>,
    /// Trees per checkpoint. Default 16.
    pub trees: usize,
    /// Maximum depth of a tree. Default 8.
    pub max_depth: usize,
    /// Minimum rows in a leaf (linfa `min_weight_leaf`). Default 20.
    pub min_leaf: f32,
    /// Share of rows drawn (with replacement) per tree. Default 0.7.
    pub bootstrap: f64,
    /// Share of features per tree. Default 0.5.
    pub features: f64,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            checkpoints: vec![3, 7, 14],
            trees: 16,
            max_depth: 8,
            min_leaf: 20.0,
            bootstrap: 0.7,
            features: 0.5,
        }
    }
}

impl ForestParams {
    pub fn validate(&self) -> Result<(), FatigueError> {
        let bad = |m: &str| Err(FatigueError::Config(format!("models.forest.{m}")));
        if self.checkpoints.is_empty()
            || self.checkpoints.windows(2).any(|w| w[0] >= w[1])
            || self.checkpoints[0] == 0
        {
            return bad("checkpoints must be increasing days ≥ 1");
        }
        if self.checkpoints.len() > 30 || self.checkpoints.iter().any(|&d| d > 366) {
            return bad("checkpoints must be at most 30 days, each ≤ 366");
        }
        if !(1..=1_000).contains(&self.trees) {
            return bad("trees must be in 1..=1000");
        }
        if !(1..=32).contains(&self.max_depth) {
            return bad("max_depth must be in 1..=32");
        }
        let share = |v: f64| v > 0.0 && v <= 1.0;
        if !share(self.bootstrap) || !share(self.features) {
            return bad("bootstrap and features must be shares in (0, 1]");
        }
        if self.min_leaf.is_nan() || self.min_leaf < 1.0 {
            return bad("min_leaf must be ≥ 1");
        }
        Ok(())
    }
}
