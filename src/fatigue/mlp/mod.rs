//! Discrete-time survival network (candle, CPU): an MLP from the standardised features at t to
//! H hazard logits, trained with the censored discrete-time likelihood
//! −Σ_i Σ_{k ≤ d_i} [y_ik log h_k(x_i) + (1 − y_ik) log(1 − h_k(x_i))] (a row contributes the
//! days it was followed; y_ik = 1 only on its event day), AdamW on seeded minibatches, early
//! stopping on the validation slice's loss (the best epoch's weights are kept). Weights are
//! stored as safetensors.

mod algorithm;
mod hyperparams;

pub use algorithm::SurvivalMlp;
pub use hyperparams::MlpParams;
