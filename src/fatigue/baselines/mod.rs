//! Non-learned baselines, scored exactly like the models (docs/design.md §4): each rule maps the
//! features at t to a group (alert / no alert, or an age or extrapolation band); the hazards of
//! a group are its life table on the training slice, h_g(k) = (events at k + m·h̄(k)) /
//! (at risk at k + m) (h̄ the pooled hazard, m = 5 pseudo-rows keep empty groups sane). So a rule
//! gets probabilities, AUC, concordance, Brier and calibration on the same rows as the models.
//!
//! - `rule_frequency_ctr`: 7-day frequency > 4 (where reach exists) or 7-day CTR ≤ 80% of
//!   its peak — the market's after-the-fact rules;
//! - `rule_ctr_peak_3d`: 7-day CTR ≥ 20% below its peak for 3 consecutive days;
//! - `reactive_2x`: the cost-like ratio to baseline is ≥ 2 today (the label's threshold, before
//!   the 3-day confirmation — Meta's "cost per result ≥ 2× past ads" alert);
//! - `calendar_refresh`: age bands [0, 7), [7, 14), [14, 21), ≥ 21 days (refresh every 7/14/21);
//! - `decay_curve`: per-creative log-linear fit of the ratio over its last 7 days, extrapolated
//!   to the onset ratio; bands of the days to crossing: 0, (0, 3], (3, 7], (7, 14], (14, 30],
//!   > 30 or never.

mod algorithm;
mod hyperparams;

pub use algorithm::{Baseline, BaselineRule};
pub use hyperparams::BASELINE_PSEUDO_ROWS;
