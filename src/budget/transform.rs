//! Media transforms of the response model (docs/design.md §5): adstock (carry-over of past spend)
//! and saturation (diminishing returns), from a spend series per period (currency units) into
//! the media pressure the response model regresses on.
//!
//! - Adstock: geometric `a(t) = x(t) + d·a(t−1)` (unnormalised, as in the simulator: a constant
//!   spend x settles at x/(1−d)); Weibull lag weights over `max_lag` periods in two shapes —
//!   `weibull_pdf` (density at lag+1, so shape > 1 gives a delayed peak; the simulator's form)
//!   and `weibull_cdf` (survival `1 − F(lag)`, a monotone decay with a shape-controlled tail) —
//!   both normalised to sum 1, so a constant spend x settles at x.
//! - Saturation of an adstock level `a` ≥ 0, all 0 at 0 and → 1: Hill `aˢ/(aˢ+kˢ)`, logistic
//!   `(1−e^(−λa))/(1+e^(−λa))`, Michaelis–Menten `a/(k+a)`. These are the allocator's
//!   [`ResponseCurve`] families, so a fitted β·saturation(adstock) maps onto one exactly at
//!   steady spend ([`to_curve`]).

use serde::{Deserialize, Serialize};

use super::curve::ResponseCurve;

/// How past spend carries over into the current period's media pressure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Adstock {
    /// `a(t) = x(t) + decay·a(t−1)`, decay in [0, 1).
    Geometric { decay: f64 },
    /// Weights ∝ Weibull density at lag + 1 (lags 0..max_lag−1, in periods), sum 1.
    WeibullPdf {
        shape: f64,
        scale: f64,
        max_lag: usize,
    },
    /// Weights ∝ Weibull survival `exp(−(lag/scale)^shape)` (lags 0..max_lag−1), sum 1.
    WeibullCdf {
        shape: f64,
        scale: f64,
        max_lag: usize,
    },
}

impl Adstock {
    /// Family name (`geometric`, `weibull_pdf`, `weibull_cdf`).
    pub fn family(&self) -> &'static str {
        match self {
            Adstock::Geometric { .. } => "geometric",
            Adstock::WeibullPdf { .. } => "weibull_pdf",
            Adstock::WeibullCdf { .. } => "weibull_cdf",
        }
    }

    /// The normalised lag weights of the Weibull forms (empty for geometric). Degenerate
    /// parameters fall back to no carry-over rather than dividing by zero.
    pub fn weights(&self) -> Vec<f64> {
        let raw: Vec<f64> = match *self {
            Adstock::Geometric { .. } => return Vec::new(),
            Adstock::WeibullPdf {
                shape,
                scale,
                max_lag,
            } => (0..max_lag.max(1))
                .map(|l| {
                    let z = (l as f64 + 1.0) / scale;
                    (shape / scale) * z.powf(shape - 1.0) * (-z.powf(shape)).exp()
                })
                .collect(),
            Adstock::WeibullCdf {
                shape,
                scale,
                max_lag,
            } => (0..max_lag.max(1))
                .map(|l| (-(l as f64 / scale).powf(shape)).exp())
                .collect(),
        };
        let total: f64 = raw.iter().sum();
        if total > 0.0 && total.is_finite() {
            raw.iter().map(|w| w / total).collect()
        } else {
            let mut w = vec![0.0; raw.len().max(1)];
            w[0] = 1.0;
            w
        }
    }

    /// Adstock of a whole series (first period first; spend before it is zero).
    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        match *self {
            Adstock::Geometric { decay } => {
                let mut level = 0.0;
                x.iter()
                    .map(|&v| {
                        level = v + decay * level;
                        level
                    })
                    .collect()
            }
            _ => {
                let w = self.weights();
                (0..x.len())
                    .map(|t| {
                        w.iter()
                            .enumerate()
                            .take(t + 1)
                            .map(|(l, wl)| wl * x[t - l])
                            .sum()
                    })
                    .collect()
            }
        }
    }

    /// The level a constant spend `x` per period settles at, divided by `x`.
    pub fn steady_factor(&self) -> f64 {
        match *self {
            Adstock::Geometric { decay } => 1.0 / (1.0 - decay),
            _ => 1.0,
        }
    }
}

/// Diminishing returns of an adstock level; dimensionless, 0 at 0, rising towards 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Saturation {
    /// `aˢ/(aˢ+kˢ)`, k in adstocked currency units, s = shape.
    Hill { half_saturation: f64, shape: f64 },
    /// `(1−e^(−λa))/(1+e^(−λa))`, λ in 1/currency units.
    Logistic { lambda: f64 },
    /// `a/(k+a)`.
    MichaelisMenten { half_saturation: f64 },
}

impl Saturation {
    /// Family name (`hill`, `logistic`, `michaelis_menten`).
    pub fn family(&self) -> &'static str {
        match self {
            Saturation::Hill { .. } => "hill",
            Saturation::Logistic { .. } => "logistic",
            Saturation::MichaelisMenten { .. } => "michaelis_menten",
        }
    }

    /// Saturation at adstock level `a` (negative treated as 0).
    pub fn value(&self, a: f64) -> f64 {
        if a <= 0.0 {
            return 0.0;
        }
        match *self {
            Saturation::Hill {
                half_saturation: k,
                shape,
            } => 1.0 / (1.0 + (k / a).powf(shape)),
            Saturation::Logistic { lambda } => (lambda * a / 2.0).tanh(),
            Saturation::MichaelisMenten { half_saturation: k } => a / (k + a),
        }
    }
}

/// The allocator curve of `β·saturation(adstock(s))` under a constant spend `s` per period
/// (the steady state the allocator plans for): the adstock scales spend by its steady factor
/// c, so k becomes k/c and λ becomes λ·c.
pub fn to_curve(beta: f64, adstock: &Adstock, sat: &Saturation) -> ResponseCurve {
    let c = adstock.steady_factor();
    match *sat {
        Saturation::Hill {
            half_saturation,
            shape,
        } => ResponseCurve::Hill {
            beta,
            half_saturation: half_saturation / c,
            shape,
        },
        Saturation::Logistic { lambda } => ResponseCurve::Logistic {
            beta,
            lambda: lambda * c,
        },
        Saturation::MichaelisMenten { half_saturation } => ResponseCurve::MichaelisMenten {
            beta,
            half_saturation: half_saturation / c,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn geometric_adstock_by_hand() {
        // 100, 0 + 0.5·100 = 50, 0 + 0.5·50 = 25.
        let a = Adstock::Geometric { decay: 0.5 }.apply(&[100.0, 0.0, 0.0]);
        assert_eq!(a, vec![100.0, 50.0, 25.0]);
        // Steady state of 10/period with decay 0.5: 10/(1−0.5) = 20.
        assert_eq!(Adstock::Geometric { decay: 0.5 }.steady_factor(), 2.0);
    }

    #[test]
    fn weibull_pdf_weights_by_hand() {
        // shape 1, scale 1: density e^{−z} at z = 1, 2 → e^-1/(e^-1+e^-2) = 1/(1+e^-1)
        // = 0.7310586, and 0.2689414. Spend [100, 0, 0] → [73.106, 26.894, 0].
        let ad = Adstock::WeibullPdf {
            shape: 1.0,
            scale: 1.0,
            max_lag: 2,
        };
        let a = ad.apply(&[100.0, 0.0, 0.0]);
        assert!(close(a[0], 73.105_857_86, 1e-6), "{a:?}");
        assert!(close(a[1], 26.894_142_14, 1e-6), "{a:?}");
        assert_eq!(a[2], 0.0);
    }

    #[test]
    fn weibull_cdf_weights_by_hand() {
        // shape 1, scale 2, 3 lags: survival e^{−l/2} at l = 0, 1, 2 = 1, 0.6065307, 0.3678794;
        // sum 1.9744101 → 0.5064805, 0.3071949, 0.1863246. Spend [10, 20]: a(1) = 0.5064805·20
        // + 0.3071949·10 = 13.201559.
        let ad = Adstock::WeibullCdf {
            shape: 1.0,
            scale: 2.0,
            max_lag: 3,
        };
        let w = ad.weights();
        assert!(close(w[0], 0.506_480_5, 1e-6), "{w:?}");
        assert!(close(w[2], 0.186_324_6, 1e-6), "{w:?}");
        let a = ad.apply(&[10.0, 20.0]);
        assert!(close(a[1], 13.201_559, 1e-5), "{a:?}");
        // Normalised weights: a constant spend settles at itself.
        let a = ad.apply(&[7.0; 10]);
        assert!(close(a[9], 7.0, 1e-12));
    }

    #[test]
    fn saturations_by_hand() {
        let hill = Saturation::Hill {
            half_saturation: 1.0,
            shape: 2.0,
        };
        // 2²/(2²+1²) = 0.8; ½ at k.
        assert!(close(hill.value(2.0), 0.8, 1e-12));
        assert!(close(hill.value(1.0), 0.5, 1e-12));
        assert_eq!(hill.value(0.0), 0.0);
        // MM: 3/(1+3) = 0.75.
        let mm = Saturation::MichaelisMenten {
            half_saturation: 1.0,
        };
        assert!(close(mm.value(3.0), 0.75, 1e-12));
        // logistic λ = ln 3, a = 1: (1 − 1/3)/(1 + 1/3) = 0.5.
        let lg = Saturation::Logistic { lambda: 3f64.ln() };
        assert!(close(lg.value(1.0), 0.5, 1e-12));
    }

    #[test]
    fn curve_at_steady_spend_matches_the_transform_chain() {
        // decay 0.5 doubles a constant spend: Hill k = 200 on adstock is k = 100 on spend.
        let ad = Adstock::Geometric { decay: 0.5 };
        let sat = Saturation::Hill {
            half_saturation: 200.0,
            shape: 1.5,
        };
        let curve = to_curve(40.0, &ad, &sat);
        let series = ad.apply(&[100.0; 60]);
        let steady = 40.0 * sat.value(series[59]);
        assert!(close(curve.value(100.0), steady, 1e-9));
        assert!(close(curve.value(100.0), 20.0, 1e-9));
        let lg = Saturation::Logistic { lambda: 0.01 };
        let c = to_curve(3.0, &ad, &lg);
        assert!(close(c.value(50.0), 3.0 * lg.value(100.0), 1e-9));
    }
}
