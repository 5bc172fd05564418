//! Model tests on small simulated data.
