//! Fit / predict of the logistic hazard.

use linfa::Dataset;
use linfa::traits::Fit;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2, s};

use super::LogisticHazardParams;
use crate::fatigue::FatigueError;
use rand::Rng;

use crate::fatigue::calibration::Platt;
use crate::fatigue::common::{
    HAZARD_EPS, Standardizer, clamp_hazard, logit, person_periods, rng, sigmoid,
};
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

    /// βᵀz(x) of one row: the linear score before the day effects, standardised as
    /// [`Standardizer::transform`] does.
    pub fn linear_score(&self, row: ndarray::ArrayView1<f64>) -> f64 {
        let sc = &self.scaler;
        row.iter()
            .zip(&self.beta)
            .enumerate()
            .map(|(j, (v, b))| {
                let m = sc.mean.get(j).copied().unwrap_or(0.0);
                let s = sc.sd.get(j).copied().unwrap_or(1.0);
                b * ((v - m) / s).clamp(-8.0, 8.0)
            })
            .sum()
    }
}

/// The calibrated day hazards of a [`LogisticHazard`] as functions of a row's linear score l:
/// h_k(l) = clamp(σ(a·logit(clamp(σ(l + α_k))) + b)) with the Platt scaling (a, b), or
/// clamp(σ(l + α_k)) uncalibrated (the hazards, then [`Platt::apply`]).
///
/// On a day where no clamp binds, logit∘σ is the identity and e^{a(l + α_k) + b} =
/// e^{a·l + b}·e^{a·α_k}, so a row costs one exponential instead of three per day:
/// h_k = t/(1 + t) and 1 − h_k = 1/(1 + t) with t = e^{a·l + b}·e^{a·α_k}. Days where a clamp
/// binds (and scores that are not numbers) are computed as written above.
#[derive(Debug, Clone)]
pub struct ScoreHazards {
    alpha: Vec<f64>,
    /// e^{a·α_k}.
    growth: Vec<f64>,
    platt: Option<Platt>,
    /// Per day: the scores l for which no clamp binds, [lo_k, hi_k] (empty when unknown).
    range: Vec<(f64, f64)>,
}

impl ScoreHazards {
    pub fn new(m: &LogisticHazard, platt: Option<Platt>) -> ScoreHazards {
        let (a, b) = platt.map_or((1.0, 0.0), |p| (p.a, p.b));
        // σ(u) ∈ [ε, 1 − ε] ⇔ u ∈ [edge, −edge]: l + α_k there, and a·(l + α_k) + b too.
        let edge = logit(HAZARD_EPS);
        let (mut lo_u, mut hi_u) = (edge, -edge);
        if platt.is_some() {
            if a > 0.0 && a.is_finite() && b.is_finite() {
                lo_u = lo_u.max((edge - b) / a);
                hi_u = hi_u.min((-edge - b) / a);
            } else {
                // A decreasing or unusable scaling: every day as written.
                (lo_u, hi_u) = (f64::INFINITY, f64::NEG_INFINITY);
            }
        }
        let growth: Vec<f64> = m.alpha.iter().map(|al| (a * al).exp()).collect();
        let range = m
            .alpha
            .iter()
            .zip(&growth)
            .map(|(al, g)| {
                if g.is_finite() && *g > 0.0 {
                    (lo_u - al, hi_u - al)
                } else {
                    (f64::INFINITY, f64::NEG_INFINITY)
                }
            })
            .collect();
        ScoreHazards {
            alpha: m.alpha.clone(),
            growth,
            platt,
            range,
        }
    }

    /// e^{a·l + b}, when usable.
    fn scale(&self, l: f64) -> Option<f64> {
        let (a, b) = self.platt.map_or((1.0, 0.0), |p| (p.a, p.b));
        let e = (a * l + b).exp();
        (e.is_finite() && e > 0.0).then_some(e)
    }

    /// The hazard of day k + 1 at score `l`, as written (every clamp applied).
    fn exact(&self, l: f64, k: usize) -> f64 {
        let h = clamp_hazard(sigmoid(l + self.alpha[k]));
        match self.platt {
            Some(p) => clamp_hazard(sigmoid(p.a * logit(h) + p.b)),
            None => h,
        }
    }

    /// t = e^{a·l + b}·e^{a·α_k} when no clamp binds on day k + 1 at score `l` (`e`: its
    /// [`ScoreHazards::scale`]).
    fn unclamped(&self, l: f64, e: Option<f64>, k: usize) -> Option<f64> {
        let (lo, hi) = self.range[k];
        e.filter(|_| l >= lo && l <= hi).map(|e| e * self.growth[k])
    }

    /// h(1..=H) at score `l`, written into `out` (H values).
    pub fn hazards_into(&self, l: f64, out: &mut [f64]) {
        let e = self.scale(l);
        for (k, o) in out.iter_mut().enumerate() {
            *o = match self.unclamped(l, e, k) {
                Some(t) => t / (1.0 + t),
                None => self.exact(l, k),
            };
        }
    }

    /// P(onset within `days` days) at score `l`: 1 − Π_{k ≤ days} (1 − h_k) (days past the
    /// horizon count as the horizon).
    pub fn onset_within(&self, l: f64, days: usize) -> f64 {
        let e = self.scale(l);
        let survive: f64 = (0..days.min(self.alpha.len()))
            .map(|k| match self.unclamped(l, e, k) {
                Some(t) => 1.0 / (1.0 + t),
                None => 1.0 - self.exact(l, k),
            })
            .product();
        1.0 - survive
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fatigue::common::summarize;

    /// The hazards from the linear score equal the textbook pipeline (standardise, σ(α_k +
    /// βᵀz), clamp, then Platt's σ(a·logit(h) + b), clamp) on every day, for scores where no
    /// clamp binds, where the raw or the calibrated hazard is clamped, for a decreasing
    /// scaling, without calibration, and for a value that is not a number; so do
    /// P(onset ≤ 7) and P(onset ≤ 14) (`summarize` of the textbook hazards).
    #[test]
    fn hazards_from_the_score_equal_the_textbook_pipeline() {
        let m = LogisticHazard {
            scaler: Standardizer {
                mean: vec![0.0, 5.0],
                sd: vec![4.0, 2.0],
            },
            beta: vec![4.0, 0.5],
            alpha: (0..14).map(|k| -4.0 + 0.3 * k as f64).collect(),
        };
        // Linear scores from −30 to 30 (the second feature at its mean adds nothing), and a
        // second feature far out (clipped to z = 8).
        let mut rows: Vec<[f64; 2]> = (0..=600).map(|i| [-30.0 + 0.1 * i as f64, 5.0]).collect();
        rows.push([0.3, 400.0]);
        rows.push([f64::NAN, 5.0]);
        let x = Array2::from_shape_fn((rows.len(), 2), |(i, j)| rows[i][j]);
        let platts = [
            None,
            Some(Platt { a: 0.8, b: -0.3 }),
            Some(Platt { a: 2.5, b: 1.0 }),
            Some(Platt { a: -0.5, b: 0.2 }),
        ];
        for platt in platts {
            let mut want = m.hazards(&x);
            if let Some(p) = platt {
                p.apply(&mut want);
            }
            let curve = ScoreHazards::new(&m, platt);
            let mut got = vec![0.0; 14];
            for (i, w) in want.rows().into_iter().enumerate() {
                let l = m.linear_score(x.row(i));
                curve.hazards_into(l, &mut got);
                for k in 0..14 {
                    assert!(
                        (got[k] - w[k]).abs() <= 1e-12 * w[k].max(1e-3),
                        "{platt:?} row {i} day {}: {} vs {}",
                        k + 1,
                        got[k],
                        w[k]
                    );
                }
                let s = summarize(w);
                assert!((curve.onset_within(l, 7) - s.p7).abs() < 1e-12);
                assert!((curve.onset_within(l, 14) - s.p14).abs() < 1e-12);
                assert!((curve.onset_within(l, 30) - s.p14).abs() < 1e-12);
            }
        }
        // The scores span both sides of the clamps: some hazards sit on them.
        let h = m.hazards(&x);
        assert!(h.iter().any(|v| *v == HAZARD_EPS) && h.iter().any(|v| *v == 1.0 - HAZARD_EPS));
    }
}
