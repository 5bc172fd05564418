//! Creative-fatigue labels and features (docs/design.md §4), as `LazyFrame -> LazyFrame` steps over
//! the `ad_daily` frame (docs/design.md §3). A creative is (tenant, platform, account_id, ad_id).
//!
//! - [`label_days`] / [`label_creatives`] / [`rule_counts`]: the fatigue definition — launch
//!   baseline, CPA → CPC → inverse-CTR metric, rolling ratio of sums, onset, `limited`,
//!   censoring, insufficient data, left truncation, seasonal adjustment (see [`labels`]).
//! - [`features`] / [`feature_names`] / [`feature_matrix`]: per creative-day model inputs that
//!   use days ≤ t only (see [`creative`]).
//! - [`rows::compute`]: the same labels and features computed row by row from the columns of
//!   a [`DayInput`] (what training, evaluation and scoring run), with the label-history
//!   features of [`history`].
//! - [`FatigueConfig`]: `training/fatigue.toml` (`[labels]`, `[features]`).
//!
//! Column names: [`cols`]. The pipelines stay lazy; callers collect once.

pub mod cols;
pub mod config;
pub mod creative;
#[cfg(test)]
mod feature_tests;
pub mod history;
pub mod input;
#[cfg(test)]
mod label_tests;
pub mod labels;
mod prepare;
pub mod rows;
#[cfg(test)]
mod testutil;

pub use config::{ConfigError, FatigueConfig, FeatureConfig, LabelConfig};
pub use creative::{feature_matrix, feature_names, features};
pub use history::{EXTRA_FEATURES, RATIO_CAP};
pub use input::{DayInput, INPUT_COLUMNS};
pub use labels::{MetricKind, RuleCounts, label_creatives, label_days, rule_counts};
