//! Random forest per horizon (linfa decision trees, bagged here with a seeded stream): for each
//! checkpoint day c (e.g. 3, 7, 14) a forest classifies "onset within c days" on the rows whose
//! status at c is known (not censored before c). The vote shares F(c) are made non-decreasing
//! in c, interpolated linearly between checkpoints (F(0) = 0) and turned into hazards
//! h(k) = (F(k) − F(k−1)) / (1 − F(k−1)), so every horizon is read from one consistent curve.
//! Bagging is done here rather than with `linfa-ensemble` so the bootstrap is seeded and the
//! fitted trees serialise (the ensemble type has no serde support). linfa-trees takes a leaf's
//! class from a hash map, so a tie between equally weighted classes would resolve differently
//! from run to run; each tree is fitted with sample weights of 1 plus a small seeded draw
//! (`algorithm.rs`), which makes such ties practically impossible: the same data and seed give
//! the same forest, bit for bit.

mod algorithm;
mod hyperparams;

pub use algorithm::Forest;
pub use hyperparams::ForestParams;
