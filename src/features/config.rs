//! Typed configuration of the label and feature pipelines, loaded from `training/fatigue.toml`
//! (tables `[labels]` and `[features]`; later steps own `[models]`, `[evaluation]`,
//! `[scoring]`). Every default below matches docs/design.md §4 and the comments in that file.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Thresholds of the fatigue definition (docs/design.md §4). Units are in each field's doc.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LabelConfig {
    /// Launch baseline ends on the first active day at which the creative's cumulative
    /// impressions reach this floor. Impressions. Default 1,000.
    pub baseline_min_impressions: i64,
    /// ... provided that day is within its first this-many active (impressions > 0) days;
    /// otherwise the creative is `insufficient_data`. Days. Default 7.
    pub baseline_max_active_days: i64,
    /// Length of the rolling window, in calendar days (missing days count as zero). Default 7.
    pub rolling_days: usize,
    /// Onset: the (adjusted) ratio to baseline is at least this. Ratio. Default 2.0.
    pub onset_ratio: f64,
    /// ... on this many consecutive calendar days. Days. Default 3.
    pub onset_consecutive_days: usize,
    /// `limited` from this ratio up to `onset_ratio`. Ratio. Default 1.3.
    pub limited_ratio: f64,
    /// CPA is the metric only if the baseline window has at least this many conversions (and
    /// the source reports spend). Conversions. Default 5.
    pub cpa_min_conversions: f64,
    /// Else CPC if the baseline window has at least this many clicks and spend is reported.
    /// Clicks. Default 10.
    pub cpc_min_clicks: i64,
    /// Else inverse CTR (impressions per click) if the baseline has at least this many clicks.
    /// Clicks. Default 10.
    pub inv_ctr_min_clicks: i64,
    /// A creative whose last active day is at least this many days before the last day of its
    /// account's data has stopped delivering (censored at its last active day). Days. Default 3.
    pub stop_after_days: i64,
    /// Divide the ratio by the account index so account-wide (seasonal, auction) moves are not
    /// labelled as fatigue. Default true.
    pub seasonal_adjustment: bool,
    /// Compute the account index without the creative itself, so a creative's own decline is not
    /// partly cancelled by its share of the account. Default true.
    pub account_index_leave_one_out: bool,
}

impl Default for LabelConfig {
    fn default() -> Self {
        LabelConfig {
            baseline_min_impressions: 1_000,
            baseline_max_active_days: 7,
            rolling_days: 7,
            onset_ratio: 2.0,
            onset_consecutive_days: 3,
            limited_ratio: 1.3,
            cpa_min_conversions: 5.0,
            cpc_min_clicks: 10,
            inv_ctr_min_clicks: 10,
            stop_after_days: 3,
            seasonal_adjustment: true,
            account_index_leave_one_out: true,
        }
    }
}

impl LabelConfig {
    /// Checks ranges; the message names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field: &'static str, why: &'static str| Err(ConfigError::Invalid { field, why });
        if self.baseline_min_impressions < 1 {
            return bad("labels.baseline_min_impressions", "must be ≥ 1");
        }
        if self.baseline_max_active_days < 1 {
            return bad("labels.baseline_max_active_days", "must be ≥ 1");
        }
        if self.rolling_days < 1 {
            return bad("labels.rolling_days", "must be ≥ 1");
        }
        if self.onset_consecutive_days < 1 {
            return bad("labels.onset_consecutive_days", "must be ≥ 1");
        }
        if !(self.limited_ratio.is_finite() && self.limited_ratio > 1.0) {
            return bad("labels.limited_ratio", "must be a finite number > 1");
        }
        if !(self.onset_ratio.is_finite() && self.onset_ratio > self.limited_ratio) {
            return bad("labels.onset_ratio", "must be finite and > limited_ratio");
        }
        if !(self.cpa_min_conversions.is_finite() && self.cpa_min_conversions > 0.0) {
            return bad("labels.cpa_min_conversions", "must be > 0");
        }
        if self.cpc_min_clicks < 1 || self.inv_ctr_min_clicks < 1 {
            return bad("labels.cpc_min_clicks", "click floors must be ≥ 1");
        }
        if self.stop_after_days < 1 {
            return bad("labels.stop_after_days", "must be ≥ 1");
        }
        Ok(())
    }
}

/// Parameters of the creative-day features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeatureConfig {
    /// Days in the least-squares log-CTR slope window (days ≤ t only). Days. Default 7.
    pub slope_days: usize,
    /// Minimum delivering days inside the slope window for the slope to be defined. Default 3.
    pub slope_min_points: usize,
    /// Log-CTR is ln((clicks + a) / (impressions + 2a)) so zero-click days stay finite.
    /// Clicks. Default 0.5.
    pub ctr_smoothing: f64,
    /// The label thresholds (`days_since_limited` uses `limited_ratio` and the ratio as the
    /// labels define it). Not read from `[features]`: [`FatigueConfig::load`] copies `[labels]`.
    #[serde(skip)]
    pub labels: LabelConfig,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            slope_days: 7,
            slope_min_points: 3,
            ctr_smoothing: 0.5,
            labels: LabelConfig::default(),
        }
    }
}

impl FeatureConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.slope_days < 2 {
            return Err(ConfigError::Invalid {
                field: "features.slope_days",
                why: "must be ≥ 2",
            });
        }
        if self.slope_min_points < 2 || self.slope_min_points > self.slope_days {
            return Err(ConfigError::Invalid {
                field: "features.slope_min_points",
                why: "must be in 2..=slope_days",
            });
        }
        if !(self.ctr_smoothing.is_finite() && self.ctr_smoothing > 0.0) {
            return Err(ConfigError::Invalid {
                field: "features.ctr_smoothing",
                why: "must be > 0",
            });
        }
        self.labels.validate()
    }
}

/// The whole `training/fatigue.toml`. Tables owned by later steps are accepted as opaque
/// tables so this parser stays strict (`deny_unknown_fields`) about everything else.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FatigueConfig {
    pub labels: LabelConfig,
    pub features: FeatureConfig,
    pub models: Option<toml::Table>,
    pub evaluation: Option<toml::Table>,
    pub scoring: Option<toml::Table>,
}

impl FatigueConfig {
    /// Parses TOML text, copies `[labels]` into the feature config and validates.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let mut cfg: FatigueConfig =
            toml::from_str(text).map_err(|e| ConfigError::Parse(e.message().to_string()))?;
        cfg.features.labels = cfg.labels.clone();
        cfg.features.validate()?;
        Ok(cfg)
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_toml_str(&text)
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("cannot read {path}: {message}")]
    Io { path: String, message: String },
    #[error("fatigue config: {0}")]
    Parse(String),
    #[error("fatigue config: {field} {why}")]
    Invalid {
        field: &'static str,
        why: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_file_parses_to_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("training/fatigue.toml");
        let cfg = FatigueConfig::load(&path).unwrap();
        assert_eq!(cfg.labels, LabelConfig::default());
        assert_eq!(cfg.features, FeatureConfig::default());
        // A non-default [labels] reaches the feature config too.
        let cfg = FatigueConfig::from_toml_str("[labels]\nlimited_ratio = 1.5\n").unwrap();
        assert_eq!(cfg.features.labels.limited_ratio, 1.5);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        let err = FatigueConfig::from_toml_str("[labels]\nonset_ratoi = 2.0\n").unwrap_err();
        assert!(matches!(err, ConfigError::Parse(m) if m.contains("onset_ratoi")));
        let err = FatigueConfig::from_toml_str("[labels]\nlimited_ratio = 2.5\n").unwrap_err();
        assert_eq!(
            err,
            ConfigError::Invalid {
                field: "labels.onset_ratio",
                why: "must be finite and > limited_ratio"
            }
        );
        assert!(FatigueConfig::from_toml_str("[other]\nx = 1\n").is_err());
        // Tables of later steps are tolerated.
        let cfg = FatigueConfig::from_toml_str("[models]\nseed = 7\n").unwrap();
        assert!(cfg.models.is_some());
    }
}
