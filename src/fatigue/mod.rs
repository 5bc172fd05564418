//! Creative-fatigue forecasting (docs/design.md §4): survival dataset, models,
//! evaluation, training jobs and scoring, on top of [`crate::features`] (labels and features).
//!
//! Flow: `ad_daily` frame → [`dataset::prepare_frame`] (labels + features + label-history
//! features per creative-day, row by row; [`dataset::prepare`] is the Polars definition it is
//! tested against) → [`dataset::survival_rows`] (as-of rows with censored durations,
//! administratively censored at the horizon H) → validation as the data allows
//! ([`validation`]: the time split of [`dataset::split`] with gaps ≥ H, else rolling-origin
//! folds, else none) → models, the cold-start [`prior`] among them → [`metrics::evaluate`] →
//! [`pipeline::train`] (registry) → [`score::score_frame`] (at a tenant's latest day from its
//! materialised features, [`snapshot::at`]). [`regime_eval`] runs the whole job on
//! real-shaped simulated accounts (`docs/fatigue-real-data.md`).
//!
//! Every model is a [`FittedModel`] with the same interface: hazards h(1..=H) per row (n × H),
//! calibrated with Platt scaling on the validation slice for the learned families
//! ([`calibration`]) and given a sharper onset day by a second stage fitted on the training
//! onsets ([`timing`]: keeps P(onset ≤ H), mixes in a day model where validation favours it); survival S(k) = Π(1 − h), P(onset ≤ 7), P(≤ 14), P(7 < onset ≤ 14),
//! restricted mean days ([`common::summarize`]); drivers by occlusion; save/load as registry
//! files. Families (one folder each: `mod.rs`, `hyperparams.rs`, `algorithm.rs`; errors are the
//! single [`FatigueError`] of this module, since the families share every failure mode):
//! - [`logistic`]: linfa logistic regression on person-period rows (discrete-time hazard);
//! - [`forest`]: linfa decision trees bagged per checkpoint horizon, turned into hazards;
//! - [`mlp`]: candle MLP trained with the censored discrete-time likelihood (AdamW, seeded,
//!   early stopping), weights as safetensors;
//! - [`baselines`]: frequency/CTR rule, CTR −20% from peak for 3 days, reactive 2×, calendar
//!   refresh 7/14/21, decay-curve extrapolation — each a life table per rule group, so they are
//!   scored exactly like models.
//!
//! Configuration: `training/fatigue.toml` tables `[evaluation]`, `[models]` (with
//! `[models.logistic]`, `[models.forest]`, `[models.mlp]`), `[scoring]` ([`config`]).
//!
//! Status:
//! - Done and tested: dataset + time split (gap tests), the three learned families and five
//!   baselines behind [`FittedModel`], Platt calibration, every metric (hand-computed tests),
//!   save/load through the registry (checksums verified by [`crate::registry`]), `omnify
//!   evaluate|train|score fatigue` (`src/cli/fatigue.rs`, CLI test in a temp dir), property
//!   tests (probabilities in [0, 1], survival never rises), reproducibility (every family
//!   bit for bit; the forest's sample weights carry a seeded tie-break, see [`forest`]).
//! - Job spec flag is `--spec FILE` (the global `--config` is the omnify config file).
//! - Training is per tenant (`--tenant` / `--all-tenants`); `evaluate` without `--tenant`
//!   pools every tenant of the warehouse.
//! - Scoring takes a creative's latest day ≤ as-of (if it delivered within `stop_after_days`);
//!   drivers are occlusion effects on the ten [`model::DRIVER_FEATURES`].
//! - Figures: speed and memory (`benches/fatigue.rs`, `benches/fatigue_scale.rs`) are in
//!   `docs/benchmarks.md` ("Fatigue at scale"), the evaluation tables in `docs/evaluation.md`
//!   ("Fatigue").
//! - Not done: a GRU over the last N days (the network is an MLP on the features at t);
//!   isotonic calibration (Platt only; an isotonic fit of the forest was tried and not adopted,
//!   `docs/evaluation.md`, "The onset-day stage"); hyperparameter search.

pub mod baselines;
pub mod calibration;
pub mod common;
pub mod config;
pub mod dataset;
pub mod forest;
pub mod logistic;
pub mod metrics;
pub mod mlp;
pub mod model;
pub mod pipeline;
pub mod prior;
pub mod regime_eval;
#[cfg(test)]
mod rows_tests;
pub mod score;
pub mod selection;
pub mod snapshot;
#[cfg(test)]
mod snapshot_tests;
#[cfg(test)]
pub(crate) mod tests;
pub mod timing;
pub mod validation;

pub use config::{EvaluationConfig, JobConfig, ModelsConfig, ScoringConfig};
pub use dataset::{
    INPUT_COLUMNS, Prepared, SurvivalData, prepare, prepare_frame, prepare_input, prepare_rows,
    prepare_rows_keep, prepare_rows_last, split, survival_rows,
};
pub use metrics::{Metrics, evaluate as metrics};
pub use model::FittedModel;
pub use pipeline::{
    EvaluationReport, Progress, TrainOutcome, evaluate, impressions_clicks_only, train,
};
pub use score::{
    ScoreRow, prepare_rows_until, score, score_frame, score_prepared, score_rows, scores_frame,
};

/// The learned families `[models] families` may list.
pub const LEARNED_FAMILIES: [&str; 3] = ["logistic_hazard", "forest", "survival_mlp"];

/// A fatigue job failure: one line naming the cause.
#[derive(Debug, thiserror::Error)]
pub enum FatigueError {
    #[error("fatigue config: {0}")]
    Config(String),
    #[error("fatigue data: {0}")]
    Data(String),
    #[error("fatigue model: {0}")]
    Model(String),
    #[error("fatigue I/O: {0}")]
    Io(String),
    #[error("fatigue pipeline: {0}")]
    Polars(#[from] polars::prelude::PolarsError),
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    #[error(transparent)]
    Warehouse(#[from] crate::warehouse::WarehouseError),
}
