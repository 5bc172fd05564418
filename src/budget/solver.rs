//! The exact solver for concave separable problems: maximise Σ fᵢ(sᵢ) subject to Σ sᵢ = B and
//! loᵢ ≤ sᵢ ≤ hiᵢ, each fᵢ concave on its range.
//!
//! KKT: there is a multiplier μ with sᵢ = clamp(fᵢ'⁻¹(μ), loᵢ, hiᵢ). The total S(μ) is
//! non-increasing in μ, so μ is found by bracketing (between the marginals at the bounds) and a
//! safeguarded regula falsi in log μ (Illinois variant, falling back to bisection); each step
//! costs O(n) closed-form or warm-started Newton inversions. The last
//! bracket [μ_a, μ_b] holds two allocations with S(μ_a) ≥ B ≥ S(μ_b); their convex combination
//! with the right weight spends B exactly and stays inside every bound, which also resolves
//! flat stretches (a concave envelope's linear piece) where S(μ) jumps.

use super::curve::ResponseCurve;

/// One free entity's range and how it responds to the multiplier.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Piece {
    /// A curve concave on `[lo, hi]` (`lo` at or above the curve's concave start).
    Concave {
        curve: ResponseCurve,
        lo: f64,
        hi: f64,
    },
    /// The concave envelope of an S-shaped curve on `[lo, hi]`: slope `mu_star` from `lo` to
    /// the tangent point `t`, the curve itself beyond (used only for the relaxation bound).
    Envelope {
        curve: ResponseCurve,
        lo: f64,
        hi: f64,
        t: f64,
        mu_star: f64,
    },
}

impl Piece {
    pub fn lo(&self) -> f64 {
        match *self {
            Piece::Concave { lo, .. } | Piece::Envelope { lo, .. } => lo,
        }
    }

    pub fn hi(&self) -> f64 {
        match *self {
            Piece::Concave { hi, .. } | Piece::Envelope { hi, .. } => hi,
        }
    }

    /// The spend this piece takes at multiplier `mu` (> 0).
    fn at(&self, mu: f64, warm: &mut f64) -> f64 {
        match *self {
            Piece::Concave { curve, lo, hi } => curve.concave_inverse(mu, warm).clamp(lo, hi),
            Piece::Envelope {
                curve,
                lo,
                hi,
                t,
                mu_star,
            } => {
                if mu > mu_star {
                    lo
                } else if t >= hi {
                    hi
                } else {
                    curve.concave_inverse(mu, warm).clamp(t, hi)
                }
            }
        }
    }

    /// Marginal at the lower end (the largest slope of the piece).
    fn top_slope(&self) -> f64 {
        match *self {
            Piece::Concave { curve, lo, .. } => curve.marginal(lo),
            Piece::Envelope { mu_star, .. } => mu_star,
        }
    }

    /// Marginal at the upper end (the smallest slope of the piece).
    fn bottom_slope(&self) -> f64 {
        match *self {
            Piece::Concave { curve, hi, .. } => curve.marginal(hi),
            Piece::Envelope {
                curve,
                hi,
                t,
                mu_star,
                ..
            } => {
                if t >= hi {
                    mu_star
                } else {
                    curve.marginal(hi)
                }
            }
        }
    }
}

/// An allocation of the pieces and its multiplier (outcome per currency unit at the margin).
#[derive(Debug, Clone)]
pub(crate) struct Solution {
    pub s: Vec<f64>,
    pub mu: f64,
}

fn fill(pieces: &[Piece], mu: f64, warm: &mut [f64], out: &mut [f64]) -> f64 {
    let mut total = 0.0;
    for ((p, w), o) in pieces.iter().zip(warm.iter_mut()).zip(out.iter_mut()) {
        *o = p.at(mu, w);
        total += *o;
    }
    total
}

/// Relative tolerance under which a budget counts as equal to a bound sum.
const SUM_TOL: f64 = 1e-12;

/// Solves the concave problem for `budget`; `None` when Σlo > budget or Σhi < budget beyond
/// rounding. `warm` (one slot per piece) carries Newton starting points between calls.
pub(crate) fn solve(pieces: &[Piece], budget: f64, warm: &mut [f64]) -> Option<Solution> {
    let n = pieces.len();
    let sum_lo: f64 = pieces.iter().map(Piece::lo).sum();
    let sum_hi: f64 = pieces.iter().map(Piece::hi).sum();
    let tol = SUM_TOL * budget.abs().max(1.0);
    if budget < sum_lo - tol || budget > sum_hi + tol {
        return None;
    }
    if n == 0 {
        return Some(Solution {
            s: Vec::new(),
            mu: f64::NAN,
        });
    }
    if budget <= sum_lo + tol {
        let mu = pieces.iter().map(Piece::top_slope).fold(f64::NAN, f64::max);
        let mut s: Vec<f64> = pieces.iter().map(Piece::lo).collect();
        settle(&mut s, pieces, budget);
        return Some(Solution { s, mu });
    }
    if budget >= sum_hi - tol {
        let mu = pieces
            .iter()
            .map(Piece::bottom_slope)
            .fold(f64::NAN, f64::min);
        let mut s: Vec<f64> = pieces.iter().map(Piece::hi).collect();
        settle(&mut s, pieces, budget);
        return Some(Solution { s, mu });
    }

    let mut sa = vec![0.0; n];
    let mut sb = vec![0.0; n];
    let mut sm = vec![0.0; n];
    // μ_b: high multiplier, S(μ_b) ≤ B. Start at the largest finite top slope.
    let mut mu_b = pieces
        .iter()
        .map(Piece::top_slope)
        .filter(|m| m.is_finite() && *m > 0.0)
        .fold(f64::MIN_POSITIVE, f64::max);
    let mut total_b = fill(pieces, mu_b, warm, &mut sb);
    let mut guard = 0;
    while total_b > budget && guard < 2100 {
        mu_b *= 2.0;
        total_b = fill(pieces, mu_b, warm, &mut sb);
        guard += 1;
    }
    // μ_a: low multiplier, S(μ_a) ≥ B. Start at the smallest positive bottom slope.
    let mut mu_a = pieces
        .iter()
        .map(Piece::bottom_slope)
        .filter(|m| *m > 0.0)
        .fold(mu_b, f64::min);
    let mut total_a = fill(pieces, mu_a, warm, &mut sa);
    guard = 0;
    while total_a < budget && guard < 2100 && mu_a > 0.0 {
        mu_a *= 0.5;
        total_a = fill(pieces, mu_a, warm, &mut sa);
        guard += 1;
    }
    if total_a < budget || total_b > budget {
        // Unreachable for valid curves: the limits μ→0 and μ→∞ give Σhi and Σlo.
        return None;
    }
    // Illinois regula falsi on ln μ (S is monotone and piecewise smooth): superlinear in
    // practice, with a bisection step whenever the bracket stops halving.
    let sum_tol = 1e-13 * budget.abs().max(1.0);
    let (mut xa, mut xb) = (mu_a.ln(), mu_b.ln());
    let (mut fa, mut fb) = (total_a - budget, total_b - budget);
    let mut side = 0i8;
    let mut width = xb - xa;
    let mut exact = None;
    if fa <= sum_tol {
        exact = Some(mu_a);
        total_b = total_a;
    } else if -fb <= sum_tol {
        exact = Some(mu_b);
        total_a = total_b;
        sa.copy_from_slice(&sb);
    }
    for it in 0..300 {
        if exact.is_some() || xb - xa <= 1e-15 * (1.0 + xa.abs().max(xb.abs())) {
            break;
        }
        let mut x = if fa > fb {
            xa + fa * (xb - xa) / (fa - fb)
        } else {
            0.5 * (xa + xb)
        };
        if it % 3 == 2 {
            if xb - xa > 0.5 * width {
                x = 0.5 * (xa + xb);
            }
            width = xb - xa;
        }
        if !(x > xa && x < xb) {
            x = 0.5 * (xa + xb);
            if !(x > xa && x < xb) {
                break;
            }
        }
        let t = fill(pieces, x.exp(), warm, &mut sm);
        if (t - budget).abs() <= sum_tol {
            exact = Some(x.exp());
            std::mem::swap(&mut sa, &mut sm);
            total_a = t;
            total_b = t;
            break;
        }
        if t > budget {
            xa = x;
            fa = t - budget;
            total_a = t;
            std::mem::swap(&mut sa, &mut sm);
            if side == 1 {
                fb *= 0.5;
            }
            side = 1;
        } else {
            xb = x;
            fb = t - budget;
            total_b = t;
            std::mem::swap(&mut sb, &mut sm);
            if side == -1 {
                fa *= 0.5;
            }
            side = -1;
        }
    }
    mu_a = xa.exp();
    mu_b = xb.exp();
    if exact.is_some() {
        sb.copy_from_slice(&sa);
    }
    // Convex combination of the bracket's allocations spends exactly B.
    let theta = if total_a > total_b {
        ((budget - total_b) / (total_a - total_b)).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mut s: Vec<f64> = sb
        .iter()
        .zip(&sa)
        .zip(pieces)
        .map(|((b, a), p)| (b + theta * (a - b)).clamp(p.lo(), p.hi()))
        .collect();
    settle(&mut s, pieces, budget);
    let mu = exact.unwrap_or_else(|| (0.5 * (mu_a.ln() + mu_b.ln())).exp());
    Some(Solution { s, mu })
}

/// Moves the last rounding residual of Σs − B onto the entities with room, largest room first,
/// so the budget is met to the last bit the arithmetic allows.
pub(crate) fn settle(s: &mut [f64], pieces: &[Piece], budget: f64) {
    for _ in 0..4 {
        let r = budget - s.iter().sum::<f64>();
        if r == 0.0 {
            return;
        }
        let best = (0..s.len())
            .map(|i| {
                let room = if r > 0.0 {
                    pieces[i].hi() - s[i]
                } else {
                    s[i] - pieces[i].lo()
                };
                (i, room)
            })
            .filter(|(_, room)| *room > 0.0)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        match best {
            Some((i, room)) => s[i] += r.signum() * r.abs().min(room),
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_michaelis_menten_by_hand() {
        // f1 = 100s/(50+s), f2 = 100s/(200+s), B = 250. Equal marginals:
        // 5000/(50+s1)² = 20000/(200+s2)² ⇒ 200+s2 = 2(50+s1); s1+s2 = 250
        // ⇒ s2 = 2s1 − 100 ⇒ 3s1 = 350 ⇒ s1 = 116.667, s2 = 133.333, μ = 5000/166.667² = 0.18.
        let p = [
            Piece::Concave {
                curve: ResponseCurve::MichaelisMenten {
                    beta: 100.0,
                    half_saturation: 50.0,
                },
                lo: 0.0,
                hi: 250.0,
            },
            Piece::Concave {
                curve: ResponseCurve::MichaelisMenten {
                    beta: 100.0,
                    half_saturation: 200.0,
                },
                lo: 0.0,
                hi: 250.0,
            },
        ];
        let mut w = [f64::NAN; 2];
        let sol = solve(&p, 250.0, &mut w).unwrap();
        assert!((sol.s[0] - 350.0 / 3.0).abs() < 1e-9, "{:?}", sol.s);
        assert!((sol.s[1] - 400.0 / 3.0).abs() < 1e-9);
        assert!((sol.mu - 0.18).abs() < 1e-9);
        assert_eq!(sol.s.iter().sum::<f64>(), 250.0);
    }

    #[test]
    fn infeasible_budgets_are_refused() {
        let p = [Piece::Concave {
            curve: ResponseCurve::Logistic {
                beta: 1.0,
                lambda: 1.0,
            },
            lo: 10.0,
            hi: 20.0,
        }];
        let mut w = [f64::NAN];
        assert!(solve(&p, 5.0, &mut w).is_none());
        assert!(solve(&p, 25.0, &mut w).is_none());
        assert_eq!(solve(&p, 20.0, &mut w).unwrap().s, vec![20.0]);
    }
}
