//! Fit / predict of the logistic hazard.

use linfa::Dataset;
use linfa::traits::Fit;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2, s};

use super::LogisticHazardParams;
use crate::fatigue::FatigueError;
use rand::Rng;

use crate::fatigue::common::{Standardizer, clamp_hazard, person_periods, rng, sigmoid};
use crate::fatigue::dataset::SurvivalData;

/// A fitted logistic hazard: standardiser, feature coefficients β, day effects α_k.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogisticHazard {
    pub scaler: Standardizer,
    pub beta: Vec<f64>,
    /// α_k for k = 1..=H (intercept plus the day dummy).
    pub alpha: Vec<f64>,
}

impl LogisticHazard {
    pub fn fit(
        data: &SurvivalData,
        params: &LogisticHazardParams,
        seed: u64,
    ) -> Result<LogisticHazard, FatigueError> {
        params.validate()?;
        let h = data.horizon;
        let p = data.x.ncols();
        let scaler = Standardizer::fit(&data.x);
        let z = scaler.transform(&data.x);
        // Every event period, and each non-event period with probability r (seeded); the
        // fitted logit is then the full-data logit + ln(1/r) in every row, so ln(r) is added
        // back to the day effects (prior correction for outcome-dependent sampling).
        let r = params.negative_sampling;
        let mut g = rng(seed, 2000);
        let pp: Vec<(usize, usize, bool)> = person_periods(data)
            .into_iter()
            .filter(|p| p.2 || r >= 1.0 || g.gen_bool(r))
            .collect();
        let mut design = Array2::<f64>::zeros((pp.len(), p + h - 1));
        let mut y = Array1::<usize>::zeros(pp.len());
        for (r, &(i, k, e)) in pp.iter().enumerate() {
            design.slice_mut(s![r, ..p]).assign(&z.row(i));
            if k >= 2 {
                design[[r, p + k - 2]] = 1.0;
            }
            y[r] = usize::from(e);
        }
        let events = y.sum();
        if events == 0 || events == y.len() {
            return Err(FatigueError::Data(format!(
                "logistic hazard: {events} events in {} person-periods; need both outcomes",
                y.len()
            )));
        }
        let fitted = LogisticRegression::default()
            .alpha(params.l2)
            .max_iterations(params.max_iterations)
            .fit(&Dataset::new(design, y))
            .map_err(|e| FatigueError::Model(format!("logistic hazard: {e}")))?;
        // linfa's "positive" class is the first label it meets in the data, so orient the
        // coefficients towards y = 1 explicitly.
        let sign = if fitted.labels().pos.class == 1 {
            1.0
        } else {
            -1.0
        };
        let w = fitted.params().mapv(|v| sign * v);
        let b0 = sign * fitted.intercept() + r.min(1.0).ln();
        let beta = w.slice(s![..p]).to_vec();
        let mut alpha = vec![b0];
        alpha.extend(w.slice(s![p..]).iter().map(|a| a + b0));
        Ok(LogisticHazard {
            scaler,
            beta,
            alpha,
        })
    }

    pub fn hazards(&self, x: &Array2<f64>) -> Array2<f64> {
        let z = self.scaler.transform(x);
        let lin = z.dot(&Array1::from(self.beta.clone()));
        let mut out = Array2::<f64>::zeros((x.nrows(), self.alpha.len()));
        for (i, l) in lin.iter().enumerate() {
            for (k, a) in self.alpha.iter().enumerate() {
                out[[i, k]] = clamp_hazard(sigmoid(l + a));
            }
        }
        out
    }
}
