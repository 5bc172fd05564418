//! Pieces every model family shares: the person-period expansion of a survival dataset
//! (discrete-time hazard rows), column standardisation, hazards → survival summaries, and the
//! seeded random stream.

use ndarray::{Array1, Array2, ArrayView1, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::dataset::SurvivalData;

/// Smallest / largest hazard a model may output: keeps logits and logs finite.
pub const HAZARD_EPS: f64 = 1e-5;

pub fn clamp_hazard(h: f64) -> f64 {
    if h.is_nan() {
        HAZARD_EPS
    } else {
        h.clamp(HAZARD_EPS, 1.0 - HAZARD_EPS)
    }
}

pub fn logit(p: f64) -> f64 {
    let p = clamp_hazard(p);
    (p / (1.0 - p)).ln()
}

pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// A seeded stream for one purpose (`salt` keeps purposes independent).
pub fn rng(seed: u64, salt: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Person-period rows: for as-of row i followed for d days, one row per day k = 1..=d with
/// y = 1 only on the event day. Returns (row, k, y).
pub fn person_periods(d: &SurvivalData) -> Vec<(usize, usize, bool)> {
    let mut out = Vec::new();
    for i in 0..d.len() {
        for k in 1..=d.duration[i] {
            out.push((i, k, d.event[i] && k == d.duration[i]));
        }
    }
    out
}

/// Per-column mean and standard deviation from training rows (sd 1 for constant columns).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Standardizer {
    pub mean: Vec<f64>,
    pub sd: Vec<f64>,
}

impl Standardizer {
    pub fn fit(x: &Array2<f64>) -> Standardizer {
        let n = x.nrows().max(1) as f64;
        let mean: Vec<f64> = x.mean_axis(Axis(0)).map(|m| m.to_vec()).unwrap_or_default();
        let sd = x
            .axis_iter(Axis(1))
            .zip(&mean)
            .map(|(c, m)| {
                let v = c.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n;
                if v.sqrt() > 1e-12 { v.sqrt() } else { 1.0 }
            })
            .collect();
        Standardizer { mean, sd }
    }

    /// z-scores, clipped to ±8 so one extreme value cannot dominate a linear score.
    pub fn transform(&self, x: &Array2<f64>) -> Array2<f64> {
        let ms: Vec<(f64, f64)> = (0..x.ncols())
            .map(|j| {
                (
                    self.mean.get(j).copied().unwrap_or(0.0),
                    self.sd.get(j).copied().unwrap_or(1.0),
                )
            })
            .collect();
        let mut z = x.clone();
        // Row by row: the matrix is row-major, so each value is visited in memory order.
        for mut row in z.rows_mut() {
            for (v, (m, s)) in row.iter_mut().zip(&ms) {
                *v = ((*v - m) / s).clamp(-8.0, 8.0);
            }
        }
        z
    }
}

/// Survival summaries of one row of hazards h(1..=H).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// P(onset within 7 days) = 1 − S(7).
    pub p7: f64,
    /// P(onset within 14 days) = 1 − S(14).
    pub p14: f64,
    /// P(7 < onset ≤ 14) = S(7) − S(14).
    pub p7_14: f64,
    /// Restricted mean days to onset within the horizon: Σ_{k=0}^{H−1} S(k), S(0) = 1. Days.
    pub expected_days: f64,
    /// Expected onset day given an onset within the horizon: Σ k·f(k) / Σ f(k). Days.
    pub conditional_onset_day: f64,
    /// Median onset day given an onset within the horizon: the first k with
    /// 1 − S(k) ≥ ½(1 − S(H)) (the point forecast that minimises the absolute error). Days.
    pub conditional_median_day: f64,
}

/// S(k) for k = 0..=H (S(0) = 1).
pub fn survival(h: ArrayView1<f64>) -> Array1<f64> {
    let mut s = Array1::<f64>::ones(h.len() + 1);
    for k in 0..h.len() {
        s[k + 1] = s[k] * (1.0 - h[k]);
    }
    s
}

pub fn summarize(h: ArrayView1<f64>) -> Summary {
    let s = survival(h);
    let at = |k: usize| s.get(k.min(s.len() - 1)).copied().unwrap_or(1.0);
    let horizon = h.len();
    let expected_days = (0..horizon).map(|k| s[k]).sum();
    let (mut num, mut den) = (0.0, 0.0);
    for k in 1..=horizon {
        let f = s[k - 1] - s[k];
        num += k as f64 * f;
        den += f;
    }
    Summary {
        p7: 1.0 - at(7),
        p14: 1.0 - at(14),
        p7_14: at(7) - at(14),
        expected_days,
        conditional_onset_day: if den > 0.0 { num / den } else { horizon as f64 },
        conditional_median_day: {
            let half = 0.5 * (1.0 - s[horizon]);
            (1..=horizon)
                .find(|&k| 1.0 - s[k] >= half)
                .unwrap_or(horizon) as f64
        },
    }
}

/// Summaries of every row.
pub fn summarize_all(h: &Array2<f64>) -> Vec<Summary> {
    h.axis_iter(Axis(0)).map(summarize).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn survival_summaries_by_hand() {
        // h = 0.1 every day for 14 days: S(k) = 0.9^k.
        // S(7) = 0.9^7 = 0.4782969, S(14) = 0.9^14 = 0.2287679.
        // Restricted mean = Σ_{k=0}^{13} 0.9^k = (1 − 0.9^14)/0.1 = 7.712321.
        let h = Array1::from_elem(14, 0.1);
        let s = summarize(h.view());
        assert!((s.p7 - (1.0 - 0.4782969)).abs() < 1e-6);
        assert!((s.p14 - (1.0 - 0.2287679)).abs() < 1e-6);
        assert!((s.p7_14 - (0.4782969 - 0.2287679)).abs() < 1e-6);
        assert!((s.expected_days - 7.712321).abs() < 1e-5);
        // Conditional median: ½(1 − S(14)) = .385616; 1 − S(4) = .3439 < it ≤ 1 − S(5) = .40951.
        assert_eq!(s.conditional_median_day, 5.0);
        // Two days: h = (0.5, 1.0): f(1) = 0.5, f(2) = 0.5 → conditional day 1.5; S = 1, .5, 0
        // → restricted mean 1.5.
        let s = summarize(array![0.5, 1.0].view());
        assert!((s.conditional_onset_day - 1.5).abs() < 1e-12);
        assert!((s.expected_days - 1.5).abs() < 1e-12);
    }

    #[test]
    fn standardizer_centres_and_scales() {
        // Column 0: 1, 3 → mean 2, sd 1 → z = −1, 1. Column 1 constant 5 → sd 1 → z = 0.
        let x = array![[1.0, 5.0], [3.0, 5.0]];
        let st = Standardizer::fit(&x);
        assert_eq!(st.transform(&x), array![[-1.0, 0.0], [1.0, 0.0]]);
    }
}
