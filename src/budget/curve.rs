//! Response curves: expected outcome per period as a function of spend per period.
//!
//! Three saturation families (docs/design.md §5), read from JSON as
//! `{"type":"hill","beta":..,"half_saturation":..,"shape":..}`,
//! `{"type":"logistic","beta":..,"lambda":..}` or
//! `{"type":"michaelis_menten","beta":..,"half_saturation":..}`:
//!
//! - Hill: `β·sᵃ/(sᵃ+kᵃ)`, a = shape, k = half_saturation. Concave on s ≥ 0 when a ≤ 1; for
//!   a > 1 it is S-shaped: convex below the inflection `k·((a−1)/(a+1))^(1/a)`, concave above.
//! - logistic: `β·(1−e^(−λs))/(1+e^(−λs)) = β·tanh(λs/2)`, concave on s ≥ 0.
//! - Michaelis–Menten: `β·s/(k+s)` (Hill with a = 1), concave on s ≥ 0.
//!
//! Units: spend `s` in currency units per period; outcome in conversions (or conversion value)
//! per period; β is the saturation level (outcome units), k and 1/λ are in currency units.
//!
//! Numerics: the Hill curve is evaluated through `v = a·ln(s/k)` and the logistic function
//! `σ(v)`, so neither tiny nor huge spends overflow; marginals are analytic derivatives. The
//! allocator needs the inverse of the marginal on the concave branch: closed forms for
//! Michaelis–Menten and logistic, a globally convergent Newton iteration for Hill (in `v`,
//! where `ln f'` is strictly decreasing and concave, so Newton overshoots at most once).

use serde::{Deserialize, Serialize};

use super::error::BudgetError;

/// A saturating response curve (outcome per period as a function of spend per period).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ResponseCurve {
    /// `β·sᵃ/(sᵃ+kᵃ)`; `half_saturation` = k (currency units), `shape` = a (unitless).
    Hill {
        beta: f64,
        half_saturation: f64,
        shape: f64,
    },
    /// `β·(1−e^(−λs))/(1+e^(−λs))`; `lambda` in 1/currency units.
    Logistic { beta: f64, lambda: f64 },
    /// `β·s/(k+s)`; `half_saturation` = k (currency units).
    MichaelisMenten { beta: f64, half_saturation: f64 },
}

/// `σ(v) = 1/(1+e^(−v))` without overflow for large |v|.
fn sigmoid(v: f64) -> f64 {
    if v >= 0.0 {
        1.0 / (1.0 + (-v).exp())
    } else {
        let e = v.exp();
        e / (1.0 + e)
    }
}

/// `ln(1+e^v)` without overflow for large |v|.
fn softplus(v: f64) -> f64 {
    v.max(0.0) + (-v.abs()).exp().ln_1p()
}

impl ResponseCurve {
    /// Checks every parameter is finite and positive; the error names the entity and field.
    pub fn validate(&self, entity: &str) -> Result<(), BudgetError> {
        let check = |field: &'static str, v: f64| -> Result<(), BudgetError> {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(BudgetError::invalid(
                    entity,
                    field,
                    format!("must be a finite number > 0, got {v}"),
                ))
            }
        };
        match *self {
            ResponseCurve::Hill {
                beta,
                half_saturation,
                shape,
            } => {
                check("curve.beta", beta)?;
                check("curve.half_saturation", half_saturation)?;
                check("curve.shape", shape)
            }
            ResponseCurve::Logistic { beta, lambda } => {
                check("curve.beta", beta)?;
                check("curve.lambda", lambda)
            }
            ResponseCurve::MichaelisMenten {
                beta,
                half_saturation,
            } => {
                check("curve.beta", beta)?;
                check("curve.half_saturation", half_saturation)
            }
        }
    }

    /// Expected outcome at spend `s` (negative spend is treated as 0).
    pub fn value(&self, s: f64) -> f64 {
        let s = s.max(0.0);
        match *self {
            ResponseCurve::Hill {
                beta,
                half_saturation: k,
                shape: a,
            } => {
                if s == 0.0 {
                    0.0
                } else {
                    beta * sigmoid(a * (s / k).ln())
                }
            }
            ResponseCurve::Logistic { beta, lambda } => beta * (lambda * s / 2.0).tanh(),
            ResponseCurve::MichaelisMenten {
                beta,
                half_saturation: k,
            } => beta * s / (k + s),
        }
    }

    /// Marginal outcome per currency unit, `d value / d s`, at spend `s` (analytic). Hill with
    /// shape < 1 has an infinite slope at 0 (returned as `f64::INFINITY`).
    pub fn marginal(&self, s: f64) -> f64 {
        let s = s.max(0.0);
        match *self {
            ResponseCurve::Hill {
                beta,
                half_saturation: k,
                shape: a,
            } => {
                if s == 0.0 {
                    if a < 1.0 {
                        f64::INFINITY
                    } else if a == 1.0 {
                        beta / k
                    } else {
                        0.0
                    }
                } else {
                    // d/ds β·σ(a ln(s/k)) = β·σ(1−σ)·a/s
                    let p = sigmoid(a * (s / k).ln());
                    beta * a * p * (1.0 - p) / s
                }
            }
            ResponseCurve::Logistic { beta, lambda } => {
                // β·λ/2·sech²(λs/2) = 2βλ·e^(−λs)/(1+e^(−λs))², which cannot cancel to garbage.
                let e = (-lambda * s).exp();
                2.0 * beta * lambda * e / ((1.0 + e) * (1.0 + e))
            }
            ResponseCurve::MichaelisMenten {
                beta,
                half_saturation: k,
            } => beta * k / ((k + s) * (k + s)),
        }
    }

    /// True when the curve is concave on all of s ≥ 0 (Hill with shape ≤ 1, logistic,
    /// Michaelis–Menten); Hill with shape > 1 is S-shaped.
    pub fn is_concave(&self) -> bool {
        match *self {
            ResponseCurve::Hill { shape, .. } => shape <= 1.0,
            _ => true,
        }
    }

    /// Start of the concave branch: 0 for concave curves, the inflection point
    /// `k·((a−1)/(a+1))^(1/a)` for an S-shaped Hill curve (currency units).
    pub fn concave_start(&self) -> f64 {
        match *self {
            ResponseCurve::Hill {
                half_saturation: k,
                shape: a,
                ..
            } if a > 1.0 => k * ((a - 1.0) / (a + 1.0)).powf(1.0 / a),
            _ => 0.0,
        }
    }

    /// The spend on the concave branch (s ≥ [`concave_start`](Self::concave_start)) where the
    /// marginal equals `mu` > 0; the branch start when `mu` is at or above the branch's
    /// largest marginal. May be `+∞` for a vanishing `mu`. `warm` is a previous answer used as
    /// the Newton starting point (the Hill case); it is updated.
    pub fn concave_inverse(&self, mu: f64, warm: &mut f64) -> f64 {
        match *self {
            ResponseCurve::MichaelisMenten {
                beta,
                half_saturation: k,
            } => ((beta * k / mu).sqrt() - k).max(0.0),
            ResponseCurve::Hill {
                beta,
                half_saturation: k,
                shape: 1.0,
            } => ((beta * k / mu).sqrt() - k).max(0.0),
            ResponseCurve::Logistic { beta, lambda } => {
                // sech²(λs/2) = 2μ/(βλ) ⇒ s = (2/λ)·acosh(√(βλ/(2μ))).
                let c = (beta * lambda / (2.0 * mu)).sqrt();
                if c <= 1.0 {
                    0.0
                } else {
                    2.0 * (c + (c * c - 1.0).sqrt()).ln() / lambda
                }
            }
            ResponseCurve::Hill {
                beta,
                half_saturation: k,
                shape: a,
            } => {
                let s = hill_inverse(beta, k, a, mu, *warm);
                if s.is_finite() {
                    *warm = s;
                }
                s
            }
        }
    }
}

/// Hill inverse marginal for shape a ≠ 1. With `v = a·ln(s/k)`,
/// `g(v) = ln f'(s) = ln(βa/k) + (1−1/a)·v − 2·softplus(v)`, strictly decreasing and concave
/// on the concave branch (all v when a < 1, v ≥ ln((a−1)/(a+1)) when a > 1), so Newton from
/// any start overshoots to the right of the root at most once and then descends monotonically.
fn hill_inverse(beta: f64, k: f64, a: f64, mu: f64, warm: f64) -> f64 {
    // The limits the multiplier search can reach: no slope is too steep to want, and an
    // infinite slope is wanted nowhere past the branch start.
    if mu <= 0.0 {
        return f64::INFINITY;
    }
    if mu == f64::INFINITY {
        return if a > 1.0 {
            k * ((a - 1.0) / (a + 1.0)).powf(1.0 / a)
        } else {
            0.0
        };
    }
    let c0 = (beta * a / k).ln();
    let target = mu.ln();
    let g = |v: f64| c0 + (1.0 - 1.0 / a) * v - 2.0 * softplus(v);
    let dg = |v: f64| (1.0 - 1.0 / a) - 2.0 * sigmoid(v);
    let v_min = if a > 1.0 {
        let vc = ((a - 1.0) / (a + 1.0)).ln();
        if g(vc) <= target {
            // μ at or above the largest marginal: the branch start.
            return k * (vc / a).exp();
        }
        Some(vc)
    } else {
        None
    };
    let mut v = if warm.is_finite() && warm > 0.0 {
        a * (warm / k).ln()
    } else {
        0.0
    };
    if let Some(vc) = v_min {
        // Near the inflection the slope of g vanishes; start to the right of it instead (a
        // warm start exactly at the branch start would otherwise stall there).
        if v.is_nan() || v <= vc + 0.5 {
            v = vc + 1.0;
        }
    }
    for _ in 0..200 {
        let h = g(v) - target;
        let d = dg(v);
        if d.is_nan() || d >= 0.0 || !h.is_finite() {
            break;
        }
        let mut next = v - h / d;
        if let Some(vc) = v_min
            && next <= vc
        {
            next = 0.5 * (v + vc);
        }
        let step = (next - v).abs();
        v = next;
        if step <= 1e-14 * (1.0 + v.abs()) {
            break;
        }
    }
    k * (v / a).exp()
}

/// The concave envelope of an S-shaped curve on `[lo, hi]` where `lo` lies below the
/// inflection: the chord from `(lo, f(lo))` touches the curve at `t` with slope
/// `mu_star = f'(t)`; when no tangent exists inside the range, `t = hi` and the slope is the
/// chord's. `mu_star` is the multiplier below which the entity is worth switching on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Envelope {
    pub t: f64,
    pub mu_star: f64,
}

impl ResponseCurve {
    /// The tangent point and slope of the concave envelope on `[lo, hi]` (see [`Envelope`]).
    pub fn envelope(&self, lo: f64, hi: f64) -> Envelope {
        let f_lo = self.value(lo);
        let chord = |t: f64| (self.value(t) - f_lo) / (t - lo);
        let start = self.concave_start().max(lo);
        // φ(t) = f'(t)(t−lo) − (f(t)−f(lo)) is ≥ 0 at the inflection and decreasing beyond.
        let phi = |t: f64| self.marginal(t) * (t - lo) - (self.value(t) - f_lo);
        if hi <= start || phi(hi) >= 0.0 {
            return Envelope {
                t: hi,
                mu_star: if hi > lo { chord(hi) } else { 0.0 },
            };
        }
        let (mut a, mut b) = (start, hi);
        for _ in 0..200 {
            let m = 0.5 * (a + b);
            if m <= a || m >= b {
                break;
            }
            if phi(m) >= 0.0 {
                a = m;
            } else {
                b = m;
            }
        }
        let t = b;
        Envelope {
            t,
            mu_star: self.marginal(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn hill_value_and_marginal_by_hand() {
        // β=100, k=50, a=2 at s=50: 100·2500/(2500+2500) = 50.
        // f'(s) = β·a·kᵃ·s^(a−1)/(sᵃ+kᵃ)² = 100·2·2500·50/5000² = 25,000,000/25,000,000 = 1.
        let c = ResponseCurve::Hill {
            beta: 100.0,
            half_saturation: 50.0,
            shape: 2.0,
        };
        assert!(close(c.value(50.0), 50.0, 1e-12));
        assert!(close(c.marginal(50.0), 1.0, 1e-12));
        // at s=100: 100·10000/12500 = 80; f' = 100·2·2500·100/12500² = 50,000,000/156,250,000 = 0.32
        assert!(close(c.value(100.0), 80.0, 1e-12));
        assert!(close(c.marginal(100.0), 0.32, 1e-12));
        assert_eq!(c.value(0.0), 0.0);
        assert_eq!(c.marginal(0.0), 0.0);
        assert!(!c.is_concave());
        // inflection: 50·(1/3)^(1/2) = 28.8675...
        assert!(close(c.concave_start(), 50.0 / 3f64.sqrt(), 1e-12));
    }

    #[test]
    fn hill_sub_linear_shape() {
        // β=10, k=4, a=0.5 at s=16: r=(16/4)^0.5=2, value=10·2/3=6.6667;
        // f' = β·a·r/(s(1+r)²) = 10·0.5·2/(16·9) = 10/144 = 0.069444...
        let c = ResponseCurve::Hill {
            beta: 10.0,
            half_saturation: 4.0,
            shape: 0.5,
        };
        assert!(close(c.value(16.0), 20.0 / 3.0, 1e-12));
        assert!(close(c.marginal(16.0), 10.0 / 144.0, 1e-12));
        assert!(c.marginal(0.0).is_infinite());
        assert!(c.is_concave());
    }

    #[test]
    fn logistic_value_and_marginal_by_hand() {
        // β=200, λ=0.01 at s=100: e^(−1)=0.36787944; (1−e)/(1+e) = 0.63212056/1.36787944
        // = 0.46211716; value = 92.423431. f' = 2·200·0.01·0.36787944/1.36787944²
        // = 1.47151776/1.87109416 = 0.78644773.
        let c = ResponseCurve::Logistic {
            beta: 200.0,
            lambda: 0.01,
        };
        assert!(close(c.value(100.0), 92.423431, 1e-7));
        assert!(close(c.marginal(100.0), 0.78644773, 1e-7));
        // f'(0) = βλ/2 = 1
        assert!(close(c.marginal(0.0), 1.0, 1e-15));
    }

    #[test]
    fn michaelis_menten_by_hand() {
        // β=100, k=50 at s=150: 100·150/200 = 75; f' = 100·50/200² = 0.125.
        let c = ResponseCurve::MichaelisMenten {
            beta: 100.0,
            half_saturation: 50.0,
        };
        assert!(close(c.value(150.0), 75.0, 1e-15));
        assert!(close(c.marginal(150.0), 0.125, 1e-15));
        let mut w = 0.0;
        // f'(s) = 0.125 ⇒ (50+s)² = 40000 ⇒ s = 150.
        assert!(close(c.concave_inverse(0.125, &mut w), 150.0, 1e-12));
    }

    #[test]
    fn inverses_invert_the_marginal() {
        let curves = [
            ResponseCurve::Hill {
                beta: 100.0,
                half_saturation: 50.0,
                shape: 2.5,
            },
            ResponseCurve::Hill {
                beta: 30.0,
                half_saturation: 500.0,
                shape: 0.6,
            },
            ResponseCurve::Hill {
                beta: 30.0,
                half_saturation: 500.0,
                shape: 1.0,
            },
            ResponseCurve::Logistic {
                beta: 50.0,
                lambda: 0.002,
            },
        ];
        for c in curves {
            let mut w = f64::NAN;
            for s in [1.0, 37.0, 120.0, 900.0, 20000.0] {
                if s <= c.concave_start() {
                    continue;
                }
                let mu = c.marginal(s);
                let back = c.concave_inverse(mu, &mut w);
                assert!(close(back, s, 1e-9), "{c:?} s={s} back={back}");
            }
        }
    }

    #[test]
    fn hill_inverse_from_a_warm_start_at_the_inflection() {
        // Regression: a warm start exactly at the branch start once stalled there.
        let c = ResponseCurve::Hill {
            beta: 413.4,
            half_saturation: 1358.8,
            shape: 2.387,
        };
        let mut w = c.concave_start();
        let s = c.concave_inverse(0.0431, &mut w);
        assert!(close(c.marginal(s), 0.0431, 1e-9), "s={s}");
    }

    #[test]
    fn inverse_at_the_limits_of_the_multiplier() {
        let c = ResponseCurve::Hill {
            beta: 10.0,
            half_saturation: 4.0,
            shape: 0.5,
        };
        let mut w = f64::NAN;
        assert_eq!(c.concave_inverse(f64::INFINITY, &mut w), 0.0);
        assert_eq!(c.concave_inverse(0.0, &mut w), f64::INFINITY);
    }

    #[test]
    fn envelope_tangent_of_hill() {
        // Hill β=1, k=1, a=2 from lo=0: tangent where f'(t)·t = f(t):
        // 2t²/(1+t²)² = t²/(1+t²) ⇒ 2 = 1+t² ⇒ t = 1, slope f'(1) = 2/4 = 0.5.
        let c = ResponseCurve::Hill {
            beta: 1.0,
            half_saturation: 1.0,
            shape: 2.0,
        };
        let e = c.envelope(0.0, 10.0);
        assert!(close(e.t, 1.0, 1e-9));
        assert!(close(e.mu_star, 0.5, 1e-9));
        // hi below the tangent: the chord 0→0.5, slope f(0.5)/0.5 = (0.25/1.25)/0.5 = 0.4.
        let e = c.envelope(0.0, 0.5);
        assert_eq!(e.t, 0.5);
        assert!(close(e.mu_star, 0.4, 1e-12));
    }

    #[test]
    fn validation_names_entity_and_field() {
        let c = ResponseCurve::Logistic {
            beta: 1.0,
            lambda: -2.0,
        };
        let e = c.validate("search_brand").unwrap_err().to_string();
        assert!(
            e.contains("search_brand") && e.contains("curve.lambda"),
            "{e}"
        );
        let c = ResponseCurve::Hill {
            beta: f64::NAN,
            half_saturation: 1.0,
            shape: 1.0,
        };
        assert!(
            c.validate("x")
                .unwrap_err()
                .to_string()
                .contains("curve.beta")
        );
    }

    #[test]
    fn json_shape() {
        let c: ResponseCurve =
            serde_json::from_str(r#"{"type":"michaelis_menten","beta":3.0,"half_saturation":2.0}"#)
                .unwrap();
        assert_eq!(
            c,
            ResponseCurve::MichaelisMenten {
                beta: 3.0,
                half_saturation: 2.0
            }
        );
        assert!(serde_json::from_str::<ResponseCurve>(r#"{"type":"hill","beta":1}"#).is_err());
    }

    proptest::proptest! {
        #[test]
        fn curves_are_monotone_and_marginals_are_derivatives(
            kind in 0u8..3, beta in 0.1f64..1e4, k in 0.1f64..1e4, a in 0.2f64..5.0,
            s1 in 0.0f64..2e4, ds in 1e-3f64..1e3,
        ) {
            let c = match kind {
                0 => ResponseCurve::Hill { beta, half_saturation: k, shape: a },
                1 => ResponseCurve::Logistic { beta, lambda: 1.0 / k },
                _ => ResponseCurve::MichaelisMenten { beta, half_saturation: k },
            };
            let s2 = s1 + ds;
            proptest::prop_assert!(c.value(s2) >= c.value(s1));
            proptest::prop_assert!(c.value(s1) >= 0.0 && c.value(s2) <= beta * (1.0 + 1e-12));
            proptest::prop_assert!(c.marginal(s2) >= 0.0);
            if c.is_concave() && s1 > 0.0 {
                proptest::prop_assert!(c.marginal(s2) <= c.marginal(s1) * (1.0 + 1e-12));
            }
            // Central difference with a step far from the point's scale: relative to β/k-sized
            // slopes, agreement to 1e-5, plus the difference's own rounding (a few ulps of
            // values up to β, divided by the step): near full saturation the slope is tiny and
            // the difference of two values ≈ β is mostly rounding.
            let h = 1e-4 * s2.max(1.0);
            if s2 > 2.0 * h {
                let fd = (c.value(s2 + h) - c.value(s2 - h)) / (2.0 * h);
                let scale = c.marginal(s2).abs() + 1e-9 * beta / k;
                let rounding = 8.0 * f64::EPSILON * beta / h;
                proptest::prop_assert!((fd - c.marginal(s2)).abs() <= 1e-5 * scale + rounding,
                    "fd {} vs {}", fd, c.marginal(s2));
            }
        }
    }
}
