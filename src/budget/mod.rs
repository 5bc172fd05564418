//! Budget shifts (docs/design.md §5): response curves fitted from history, and the
//! allocator.
//!
//! From per-entity response curves (outcome per period as a function of spend per period,
//! currency units), current spends and constraints, [`allocate`] finds the split of a budget
//! that maximises total expected outcome — exact for concave curves (equal marginal returns,
//! multiplier search), global for S-shaped ones (envelope relaxation, split search, local
//! refinement) — or, in target CPA/ROAS modes, the most outcome that meets the target. The
//! answer carries per entity the binding constraint and marginal return, plus the multiplier
//! and KKT gap, so it can be checked.
//!
//! The curves come from explicit JSON or from a fitted response model:
//! - `series.rs`: warehouse `ad_daily` → entity × period spend/outcome series (Polars), and the
//!   wide MMM table reader (`--input FILE.csv|parquet`);
//! - `transform.rs`: adstock (geometric, Weibull PDF/CDF lags) and saturation (Hill, logistic,
//!   Michaelis–Menten), and their mapping onto the allocator's [`ResponseCurve`];
//! - `fit/`: the response model (baseline + Σ β·saturation(adstock(spend)), β ≥ 0) fitted by
//!   exact least squares inside a seeded grid + pattern search over transform parameters
//!   (the posterior mode under a weak prior on them), adstock family chosen per entity by
//!   holdout error, intervals from posterior draws (`fit/posterior.rs`); reports
//!   (contribution, share, ROAS with intervals, R², holdout MAPE, identifiability warnings),
//!   curves for the allocator, and forecasts under a plan with adstock carried over;
//! - `flight.rs`: flighting — a total spread over N future periods and the entities, carry-over
//!   included (greedy exact-gain increments, capped at 2× each entity's largest past spend);
//! - `job.rs`: `training/budget.toml` and the train → registry step;
//! - `synth.rs`: known-truth data for recovery tests, coverage runs and benchmarks.
//!
//! Commands: `omnify train budget [--input FILE --date-col --outcome-col --spend-cols ...]`,
//! `omnify evaluate budget [--json]`, `omnify forecast budget --plan plan.json --periods N`,
//! `omnify optimize` (champion curves unless `--curves`; `--periods N` for flighting).
//!
//! Measured (docs/evaluation.md, "Budget recovery"; 2-core machine, release): over 50 generated
//! datasets the 90% share intervals cover the truth 89.3–91.3% of the time at 1–5% noise; at
//! 1% noise the well-identified channels are within 0.43 points of share and 3.9% of ROAS at
//! the median; at 5% noise no fit of this model gets within ±1 point and 5% for most channels
//! (least squares given the true curves reaches 57 of 150). `fit/tests.rs` and `tests.rs` hold
//! the ignored commands that rerun these figures; `benches/budget.rs` the fit times.
//!
//! Not built yet: candle gradient fitting (the search is grid + pattern search with exact linear
//! solves — no candle); flighting with per-entity bounds or target modes (only the total and
//! the 2× caps); forecasts of a per-period (flighted) plan (`forecast` takes a constant spend per
//! entity).
//!
//! Files: `curve.rs` (curve families), `problem.rs` (checked inputs), `solver.rs` (concave
//! multiplier method), `global.rs` (S-shaped search), `allocator.rs` (modes and report),
//! `error.rs`.

mod allocator;
mod curve;
mod error;
pub mod fit;
pub mod flight;
mod global;
pub mod job;
mod problem;
pub mod series;
pub mod service;
mod solver;
pub mod synth;
pub mod transform;

pub use allocator::{Allocation, Binding, EntityAllocation, allocate};
pub use curve::{Envelope, ResponseCurve};
pub use error::BudgetError;
pub use fit::{BudgetModel, EntityReport, FitError, FitParams, Forecast};
pub use problem::{AllocationProblem, Constraints, EntityConstraints, EntitySpec, Mode};

#[cfg(test)]
mod tests;
