//! Typed `[models]`, `[evaluation]` and `[scoring]` tables of `training/fatigue.toml` (the
//! `[labels]` / `[features]` tables belong to [`crate::features::FatigueConfig`], which keeps the
//! other tables opaque; they are decoded here, strictly, with documented defaults).

use serde::{Deserialize, Serialize};

use super::FatigueError;
use crate::features::FatigueConfig;

/// How as-of rows are sampled and split in time (docs/design.md §4 "Evaluation").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvaluationConfig {
    /// Prediction horizon H: hazards h(1..=H). Days. Must be ≥ 14. Default 14.
    pub horizon_days: usize,
    /// Keep one as-of day in `stride` (by calendar day number, so every creative is sampled on
    /// the same days). Days. Default 2.
    pub stride_days: usize,
    /// Last this-many as-of days form the test period. Days. Default 60.
    pub test_days: i32,
    /// The this-many as-of days before the test gap form the validation slice (early stopping,
    /// calibration). Days. Default 30.
    pub validation_days: i32,
    /// Gap between train → validation and validation → test, in days; must be ≥ horizon so no
    /// label of an earlier slice reads data of a later one. Default = horizon (14).
    pub gap_days: Option<i32>,
    /// Metric that picks the champion (`auc_14`, `auc_7`, `c_index`, `ibs`, `ece`). Default
    /// `auc_14`.
    pub selection_metric: String,
    /// Drop creatives flagged `left_truncated` from training (their age is a lower bound).
    /// Default false: their rows are kept, `left_truncated` is a feature.
    pub drop_left_truncated: bool,
    /// Fewest creatives with an onset within the horizon among the evaluated rows for models
    /// to be ranked on them: below it the holdout gives way to rolling-origin folds, and the
    /// folds to no validation (the prior or a rule baseline serves). Default 5.
    pub min_onsets: usize,
    /// Rolling-origin cross-validation (used when the holdout does not fit or holds too few
    /// onsets): test blocks of `fold_days` as-of days counted back from the last one, each
    /// model fitted on the as-of days before a gap ≥ horizon. Days. Default 14.
    pub fold_days: i32,
    /// At most this many folds. Default 8.
    pub max_folds: usize,
    /// A fold needs at least this many calendar days of as-of rows before its gap. Days.
    /// Default 14.
    pub min_train_days: i32,
    /// Fewest days of history (first to last data day of the tenant) a fatigue model is
    /// trained on. Days. Default 28.
    pub min_history_days: i32,
    /// Bootstrap resamples (over creatives) of the 90% metric intervals. Default 200.
    pub bootstrap_resamples: usize,
    /// Candidates whose selection metric is within this of the best are tied, and the tie goes
    /// to the better calibrated (lower calibration error, else integrated Brier score).
    /// Default 0.005.
    pub selection_tolerance: f64,
}

impl Default for EvaluationConfig {
    fn default() -> Self {
        EvaluationConfig {
            horizon_days: 14,
            stride_days: 2,
            test_days: 60,
            validation_days: 30,
            gap_days: None,
            selection_metric: "auc_14".into(),
            drop_left_truncated: false,
            min_onsets: 5,
            fold_days: 14,
            max_folds: 8,
            min_train_days: 14,
            min_history_days: 28,
            bootstrap_resamples: 200,
            selection_tolerance: 0.005,
        }
    }
}

impl EvaluationConfig {
    pub fn gap(&self) -> i32 {
        self.gap_days.unwrap_or(self.horizon_days as i32)
    }
}

/// Hyperparameters of every model family, seeded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelsConfig {
    /// Seed of every random source (bootstrap, feature subsets, weight init, minibatches).
    pub seed: u64,
    /// Families fitted by `train` / `evaluate`: `logistic_hazard`, `forest`, `survival_mlp`.
    pub families: Vec<String>,
    pub logistic: super::logistic::LogisticHazardParams,
    pub forest: super::forest::ForestParams,
    pub mlp: super::mlp::MlpParams,
    /// The onset-day stage of the learned families ([`super::timing`]).
    pub timing: super::timing::TimingParams,
    /// The cold-start prior shipped with the product ([`super::prior`]) competes with the
    /// learned families on the same evaluated rows, and serves when nothing can be validated.
    /// `false`: a rule baseline serves instead. Default true.
    pub use_prior: bool,
}

impl Default for ModelsConfig {
    fn default() -> Self {
        ModelsConfig {
            seed: 7,
            families: vec![
                "logistic_hazard".into(),
                "forest".into(),
                "survival_mlp".into(),
            ],
            logistic: Default::default(),
            forest: Default::default(),
            mlp: Default::default(),
            timing: Default::default(),
            use_prior: true,
        }
    }
}

/// Action thresholds of `score` (probability of onset within 7 / 14 days).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoringConfig {
    /// `refresh_now` when P(onset ≤ 7 days) ≥ this. Probability. Default 0.5.
    pub refresh_now_p7: f64,
    /// `prepare_refresh` when P(onset ≤ 14 days) ≥ this. Probability. Default 0.4.
    pub prepare_refresh_p14: f64,
    /// Drivers listed per creative. Default 3.
    pub drivers: usize,
}

impl Default for ScoringConfig {
    fn default() -> Self {
        ScoringConfig {
            refresh_now_p7: 0.5,
            prepare_refresh_p14: 0.4,
            drivers: 3,
        }
    }
}

/// Everything the fatigue jobs read: the label/feature config plus the three tables above.
#[derive(Debug, Clone, PartialEq)]
pub struct JobConfig {
    pub base: FatigueConfig,
    pub evaluation: EvaluationConfig,
    pub models: ModelsConfig,
    pub scoring: ScoringConfig,
}

fn decode<T: for<'de> Deserialize<'de> + Default>(
    t: &Option<toml::Table>,
    name: &str,
) -> Result<T, FatigueError> {
    match t {
        None => Ok(T::default()),
        Some(t) => t.clone().try_into().map_err(|e: toml::de::Error| {
            FatigueError::Config(format!("[{name}]: {}", e.message()))
        }),
    }
}

impl JobConfig {
    /// Decodes and validates the model/evaluation/scoring tables of a loaded config.
    pub fn from_base(base: FatigueConfig) -> Result<JobConfig, FatigueError> {
        let cfg = JobConfig {
            evaluation: decode(&base.evaluation, "evaluation")?,
            models: decode(&base.models, "models")?,
            scoring: decode(&base.scoring, "scoring")?,
            base,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses a whole TOML text (as `training/fatigue.toml`).
    pub fn from_toml_str(text: &str) -> Result<JobConfig, FatigueError> {
        let base =
            FatigueConfig::from_toml_str(text).map_err(|e| FatigueError::Config(e.to_string()))?;
        Self::from_base(base)
    }

    /// Reads a file.
    pub fn load(path: &std::path::Path) -> Result<JobConfig, FatigueError> {
        let base = FatigueConfig::load(path).map_err(|e| FatigueError::Config(e.to_string()))?;
        Self::from_base(base)
    }

    pub fn validate(&self) -> Result<(), FatigueError> {
        let bad = |m: &str| Err(FatigueError::Config(m.to_string()));
        let e = &self.evaluation;
        if e.horizon_days < 14 || e.horizon_days > 60 {
            return bad("evaluation.horizon_days must be in 14..=60");
        }
        if e.stride_days < 1 {
            return bad("evaluation.stride_days must be ≥ 1");
        }
        if e.gap() < e.horizon_days as i32 {
            return bad("evaluation.gap_days must be ≥ horizon_days (labels would leak)");
        }
        if e.test_days < 1 || e.validation_days < 1 {
            return bad("evaluation.test_days and validation_days must be ≥ 1");
        }
        if !(1..=10_000).contains(&e.min_onsets) {
            return bad("evaluation.min_onsets must be in 1..=10000");
        }
        if !(1..=366).contains(&e.fold_days) || !(1..=366).contains(&e.min_train_days) {
            return bad("evaluation.fold_days and min_train_days must be in 1..=366");
        }
        if !(1..=20).contains(&e.max_folds) {
            return bad("evaluation.max_folds must be in 1..=20");
        }
        if !(14..=3650).contains(&e.min_history_days) {
            return bad("evaluation.min_history_days must be in 14..=3650");
        }
        if !(0.0..=0.1).contains(&e.selection_tolerance) {
            return bad("evaluation.selection_tolerance must be in [0, 0.1]");
        }
        if e.bootstrap_resamples > 10_000 {
            return bad("evaluation.bootstrap_resamples must be ≤ 10000");
        }
        if super::metrics::metric_direction(&e.selection_metric).is_none() {
            return bad("evaluation.selection_metric must be auc_14, auc_7, c_index, ibs or ece");
        }
        for f in &self.models.families {
            if !super::LEARNED_FAMILIES.contains(&f.as_str()) {
                return Err(FatigueError::Config(format!(
                    "models.families: unknown family `{f}` (expected one of {:?})",
                    super::LEARNED_FAMILIES
                )));
            }
        }
        self.models.logistic.validate()?;
        self.models.forest.validate()?;
        self.models.mlp.validate()?;
        self.models.timing.validate()?;
        let s = &self.scoring;
        if !(0.0..=1.0).contains(&s.refresh_now_p7) || !(0.0..=1.0).contains(&s.prepare_refresh_p14)
        {
            return bad("scoring thresholds must be probabilities in [0, 1]");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_file_decodes_to_the_defaults() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("training/fatigue.toml");
        let cfg = JobConfig::load(&path).unwrap();
        assert_eq!(cfg.evaluation, EvaluationConfig::default());
        assert_eq!(cfg.models, ModelsConfig::default());
        assert_eq!(cfg.scoring, ScoringConfig::default());
    }

    #[test]
    fn bad_values_name_their_field() {
        let e = JobConfig::from_toml_str("[evaluation]\ngap_days = 3\n").unwrap_err();
        assert!(e.to_string().contains("gap_days"), "{e}");
        let e = JobConfig::from_toml_str("[models]\nfamilies = [\"svm\"]\n").unwrap_err();
        assert!(e.to_string().contains("svm"), "{e}");
        let e = JobConfig::from_toml_str("[models.timing]\nl2 = []\n").unwrap_err();
        assert!(e.to_string().contains("models.timing.l2"), "{e}");
        let e = JobConfig::from_toml_str("[models.timing]\nl2 = [-1.0]\n").unwrap_err();
        assert!(e.to_string().contains("models.timing.l2"), "{e}");
        let e = JobConfig::from_toml_str("[models.mlp]\nlearning_rat = 1.0\n").unwrap_err();
        assert!(e.to_string().contains("learning_rat"), "{e}");
    }
}
