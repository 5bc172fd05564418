//! Campaign-level spend → outcome response used by the simulator: adstock (geometric and
//! Weibull-shaped lag) and Hill saturation, in the exact forms docs/design.md §5 names, so that a
//! budget model fitted on the simulated data can be checked against these true parameters.
//!
//! Units: spend and adstock are in account-currency units per day; the Hill half-saturation
//! `k` is in the same units as the adstock it saturates; Hill values are dimensionless in [0, 1).

use serde::Serialize;

/// How past spend carries over into today's effective media pressure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Adstock {
    /// `a(t) = x(t) + decay · a(t−1)`, `decay` in [0, 1). Weights are not normalised, so a
    /// constant spend `x` settles at `x / (1 − decay)`.
    Geometric { decay: f64 },
    /// `a(t) = Σ_{l=0}^{max_lag−1} w_l · x(t−l)` with `w_l ∝ pdf_Weibull(l + 1; shape, scale)`
    /// normalised to sum 1 (a delayed peak when `shape > 1`). A constant spend `x` settles at `x`.
    Weibull {
        shape: f64,
        scale: f64,
        max_lag: usize,
    },
}

impl Adstock {
    /// The name written to `campaigns.csv`.
    pub fn kind(&self) -> &'static str {
        match self {
            Adstock::Geometric { .. } => "geometric",
            Adstock::Weibull { .. } => "weibull",
        }
    }

    /// The level the adstock settles at under a constant daily spend `x`.
    pub fn steady_state(&self, x: f64) -> f64 {
        match *self {
            Adstock::Geometric { decay } => x / (1.0 - decay),
            Adstock::Weibull { .. } => x,
        }
    }

    /// Applies the adstock to a whole spend series (day 0 first; spend before day 0 is zero).
    pub fn apply(&self, spend: &[f64]) -> Vec<f64> {
        let mut state = AdstockState::new(*self);
        spend.iter().map(|&x| state.step(x)).collect()
    }
}

/// The normalised Weibull lag weights `w_0..w_{max_lag−1}` (sum 1). Lag `l` uses the density
/// at `l + 1` so that a shape above 1 still gives today's spend some weight.
pub fn weibull_weights(shape: f64, scale: f64, max_lag: usize) -> Vec<f64> {
    let raw: Vec<f64> = (0..max_lag)
        .map(|l| {
            let z = (l as f64 + 1.0) / scale;
            (shape / scale) * z.powf(shape - 1.0) * (-z.powf(shape)).exp()
        })
        .collect();
    let total: f64 = raw.iter().sum();
    if total > 0.0 && total.is_finite() {
        raw.iter().map(|w| w / total).collect()
    } else {
        // Degenerate parameters: fall back to no carry-over rather than dividing by zero.
        let mut w = vec![0.0; max_lag.max(1)];
        w[0] = 1.0;
        w
    }
}

/// Incremental adstock, one day at a time (the simulator learns spend day by day).
#[derive(Debug, Clone)]
pub struct AdstockState {
    kind: Adstock,
    level: f64,
    weights: Vec<f64>,
    /// Most recent spend first, at most `max_lag` entries.
    history: std::collections::VecDeque<f64>,
}

impl AdstockState {
    pub fn new(kind: Adstock) -> Self {
        let weights = match kind {
            Adstock::Weibull {
                shape,
                scale,
                max_lag,
            } => weibull_weights(shape, scale, max_lag),
            Adstock::Geometric { .. } => Vec::new(),
        };
        AdstockState {
            kind,
            level: 0.0,
            history: std::collections::VecDeque::with_capacity(weights.len()),
            weights,
        }
    }

    /// Feeds today's spend and returns today's adstock.
    pub fn step(&mut self, spend: f64) -> f64 {
        match self.kind {
            Adstock::Geometric { decay } => {
                self.level = spend + decay * self.level;
                self.level
            }
            Adstock::Weibull { .. } => {
                self.history.push_front(spend);
                self.history.truncate(self.weights.len());
                self.history
                    .iter()
                    .zip(&self.weights)
                    .map(|(x, w)| x * w)
                    .sum()
            }
        }
    }
}

/// Hill saturation `a^s / (a^s + k^s)`: 0 at `a = 0`, ½ at `a = k`, → 1 as `a` grows; S-shaped
/// when `shape > 1`, concave when `shape ≤ 1`.
pub fn hill(a: f64, k: f64, shape: f64) -> f64 {
    if a <= 0.0 {
        return 0.0;
    }
    let r = (k / a).powf(shape);
    1.0 / (1.0 + r)
}

/// A campaign's true response parameters: expected conversions on day t =
/// `baseline + beta · hill(adstock(spend)(t); half_saturation, shape) · Q(t) · season(t)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ResponseParams {
    pub adstock: Adstock,
    /// Hill half-saturation, in adstocked currency units per day.
    pub half_saturation: f64,
    /// Hill shape (dimensionless).
    pub shape: f64,
    /// Conversions per day at full saturation, fresh creatives, neutral season.
    pub beta: f64,
    /// Conversions per day that do not depend on spend (while the campaign delivers).
    pub baseline: f64,
}

impl ResponseParams {
    /// The media part `beta · hill(adstock)` (before quality and season).
    pub fn media(&self, adstock: f64) -> f64 {
        self.beta * hill(adstock, self.half_saturation, self.shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometric_adstock_matches_hand_values() {
        // decay 0.5: 100, 0 + 0.5·100 = 50, 0 + 0.5·50 = 25.
        let a = Adstock::Geometric { decay: 0.5 }.apply(&[100.0, 0.0, 0.0]);
        assert_eq!(a, vec![100.0, 50.0, 25.0]);
        // decay 0.2 on [10, 20]: 10, 20 + 0.2·10 = 22.
        let a = Adstock::Geometric { decay: 0.2 }.apply(&[10.0, 20.0]);
        assert!((a[1] - 22.0).abs() < 1e-12);
        assert!((Adstock::Geometric { decay: 0.5 }.steady_state(100.0) - 200.0).abs() < 1e-12);
    }

    #[test]
    fn weibull_weights_match_hand_values() {
        // shape 1, scale 1 is the exponential density e^{-z}: raw weights e^-1, e^-2 at z = 1, 2.
        // Normalised: e^-1/(e^-1+e^-2) = 1/(1+e^-1) = 0.731059, and 0.268941.
        let w = weibull_weights(1.0, 1.0, 2);
        assert!((w[0] - 0.731_058_578_6).abs() < 1e-9, "{w:?}");
        assert!((w[1] - 0.268_941_421_4).abs() < 1e-9, "{w:?}");
        // Spend [100, 0, 0] → [73.106, 26.894, 0] (the lag window is only 2 days).
        let a = Adstock::Weibull {
            shape: 1.0,
            scale: 1.0,
            max_lag: 2,
        }
        .apply(&[100.0, 0.0, 0.0]);
        assert!((a[0] - 73.105_857_86).abs() < 1e-6);
        assert!((a[1] - 26.894_142_14).abs() < 1e-6);
        assert_eq!(a[2], 0.0);
        // shape 2, scale 2, lags 1..3: z = 0.5, 1, 1.5; pdf ∝ z·e^{-z²}: 0.5·e^-0.25 = 0.389400,
        // 1·e^-1 = 0.367879, 1.5·e^-2.25 = 0.158099; the peak is at lag 0 here but lag 1 is close.
        let w = weibull_weights(2.0, 2.0, 3);
        let raw = [0.389_400_39, 0.367_879_44, 0.158_098_83];
        let tot: f64 = raw.iter().sum();
        for (got, r) in w.iter().zip(raw) {
            assert!((got - r / tot).abs() < 1e-7);
        }
    }

    #[test]
    fn hill_matches_hand_values() {
        assert_eq!(hill(0.0, 10.0, 2.0), 0.0);
        assert!((hill(10.0, 10.0, 2.0) - 0.5).abs() < 1e-12);
        // 2² / (2² + 1²) = 0.8
        assert!((hill(2.0, 1.0, 2.0) - 0.8).abs() < 1e-12);
        // shape 1 is Michaelis–Menten: 3 / (3 + 1) = 0.75
        assert!((hill(3.0, 1.0, 1.0) - 0.75).abs() < 1e-12);
        // monotone
        let mut prev = 0.0;
        for i in 1..100 {
            let v = hill(i as f64, 20.0, 1.7);
            assert!(v > prev);
            prev = v;
        }
    }
}
