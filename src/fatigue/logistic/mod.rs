//! Discrete-time logistic hazard (linfa logistic regression on person-period rows):
//! logit h(k | x) = α_k + βᵀz(x), z the standardised features, α_k one coefficient per day of the
//! horizon (day 1 is the reference level, folded into the intercept). Non-event periods are
//! subsampled (seeded) with the intercepts corrected, which keeps the fit fast: linfa's generic
//! solver is compiled at the caller's optimisation level.

mod algorithm;
mod hyperparams;

pub use algorithm::{LogisticHazard, ScoreHazards};
pub use hyperparams::LogisticHazardParams;
