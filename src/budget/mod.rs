//! Budget shifts (DESIGN.md §5, issue 4): response curves and the allocator.
//!
//! From per-entity response curves (outcome per period as a function of spend per period,
//! currency units), current spends and constraints, [`allocate`] finds the split of a budget
//! that maximises total expected outcome — exact for concave curves (equal marginal returns,
//! multiplier search), global for S-shaped ones (envelope relaxation, split search, local
//! refinement) — or, in target CPA/ROAS modes, the most outcome that meets the target. The
//! answer carries per entity the binding constraint and marginal return, plus the multiplier
//! and KKT gap, so it can be checked. Fitting the curves from history is a later step.
//!
//! Files: `curve.rs` (curve families), `problem.rs` (checked inputs), `solver.rs` (concave
//! multiplier method), `global.rs` (S-shaped search), `allocator.rs` (modes and report),
//! `error.rs`.

mod allocator;
mod curve;
mod error;
mod global;
mod problem;
mod solver;

pub use allocator::{Allocation, Binding, EntityAllocation, allocate};
pub use curve::{Envelope, ResponseCurve};
pub use error::BudgetError;
pub use problem::{AllocationProblem, Constraints, EntityConstraints, EntitySpec, Mode};

#[cfg(test)]
mod tests;
