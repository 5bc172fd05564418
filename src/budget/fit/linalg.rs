//! Small dense least squares for the response model: modified Gram–Schmidt (twice, for
//! stability) over column vectors, dropping columns that are numerically dependent on earlier
//! ones, so collinear inputs give a defined answer instead of a blow-up. Sizes are tiny
//! (periods × a few dozen columns), so plain loops beat a BLAS call's setup.

/// Dot product.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// An orthonormal basis of the span of some columns.
#[derive(Debug, Clone, Default)]
pub struct Basis {
    q: Vec<Vec<f64>>,
}

/// Relative residual norm under which a column counts as dependent on earlier ones.
const DEPENDENT: f64 = 1e-9;

impl Basis {
    /// Orthonormalises `cols` in order; `kept[i]` says whether column i added a direction.
    pub fn build<'a>(cols: impl IntoIterator<Item = &'a [f64]>) -> (Basis, Vec<bool>) {
        let mut b = Basis::default();
        let mut kept = Vec::new();
        for c in cols {
            kept.push(b.push(c).is_some());
        }
        (b, kept)
    }

    /// Adds a column; returns its coordinates on the earlier basis vectors and its own norm
    /// (None when dependent).
    fn push(&mut self, col: &[f64]) -> Option<(Vec<f64>, f64)> {
        let norm0 = dot(col, col).sqrt();
        let mut v = col.to_vec();
        let mut coords = vec![0.0; self.q.len()];
        for _ in 0..2 {
            for (i, q) in self.q.iter().enumerate() {
                let r = dot(q, &v);
                coords[i] += r;
                for (vk, qk) in v.iter_mut().zip(q) {
                    *vk -= r * qk;
                }
            }
        }
        let norm = dot(&v, &v).sqrt();
        if norm0 == 0.0 || !norm.is_finite() || norm <= DEPENDENT * norm0 {
            return None;
        }
        for vk in v.iter_mut() {
            *vk /= norm;
        }
        self.q.push(v);
        Some((coords, norm))
    }

    /// `v` minus its projection on the basis.
    pub fn residual(&self, v: &[f64]) -> Vec<f64> {
        let mut r = v.to_vec();
        for q in &self.q {
            let c = dot(q, &r);
            for (rk, qk) in r.iter_mut().zip(q) {
                *rk -= c * qk;
            }
        }
        r
    }
}

/// A QR factorisation X = Q·R built column by column (Gram–Schmidt); columns dependent on
/// earlier ones are skipped and get coefficient 0.
#[derive(Debug, Clone, Default)]
pub struct Qr {
    basis: Basis,
    /// Per column: its coordinates on the earlier basis vectors and its own norm (R's column),
    /// None when dependent.
    r_cols: Vec<Option<(Vec<f64>, f64)>>,
}

impl Qr {
    pub fn new<'a>(cols: impl IntoIterator<Item = &'a [f64]>) -> Qr {
        let mut qr = Qr::default();
        for c in cols {
            qr.push(c);
        }
        qr
    }

    pub fn push(&mut self, col: &[f64]) {
        let r = self.basis.push(col);
        self.r_cols.push(r);
    }

    /// Columns that added a direction.
    pub fn rank(&self) -> usize {
        self.basis.q.len()
    }

    /// Solves R·z = rhs (rhs indexed by basis vector) and spreads z over the columns.
    fn back_substitute(&self, rhs: &[f64]) -> Vec<f64> {
        // Basis vector i belongs to the i-th kept column.
        let kept: Vec<usize> = (0..self.r_cols.len())
            .filter(|&j| self.r_cols[j].is_some())
            .collect();
        let m = kept.len();
        let mut z = vec![0.0; m];
        for i in (0..m).rev() {
            let Some((_, diag)) = &self.r_cols[kept[i]] else {
                continue;
            };
            let mut s = rhs[i];
            for (k, &jk) in kept.iter().enumerate().skip(i + 1) {
                if let Some((coords_k, _)) = &self.r_cols[jk] {
                    s -= coords_k.get(i).copied().unwrap_or(0.0) * z[k];
                }
            }
            z[i] = s / diag;
        }
        let mut out = vec![0.0; self.r_cols.len()];
        for (i, &j) in kept.iter().enumerate() {
            out[j] = z[i];
        }
        out
    }

    /// Least-squares coefficients of `y` and the residual sum of squares.
    pub fn solve(&self, y: &[f64]) -> (Vec<f64>, f64) {
        let qty: Vec<f64> = self.basis.q.iter().map(|q| dot(q, y)).collect();
        let sse = (dot(y, y) - dot(&qty, &qty)).max(0.0);
        (self.back_substitute(&qty), sse)
    }

    /// R⁻¹·z for `z` with one entry per basis vector: with z standard normal, a draw from
    /// N(0, (XᵀX)⁻¹) over the columns.
    pub fn inverse_r(&self, z: &[f64]) -> Vec<f64> {
        self.back_substitute(z)
    }
}

/// Least-squares coefficients of `y` on `cols`; dependent columns get coefficient 0.
pub fn lstsq(cols: &[&[f64]], y: &[f64]) -> Vec<f64> {
    Qr::new(cols.iter().copied()).solve(y).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_fit_by_hand() {
        // y = 2 + 3x at x = 0, 1, 2, 3 → coefficients (2, 3).
        let one = [1.0; 4];
        let x = [0.0, 1.0, 2.0, 3.0];
        let y = [2.0, 5.0, 8.0, 11.0];
        let b = lstsq(&[&one, &x], &y);
        assert!(
            (b[0] - 2.0).abs() < 1e-12 && (b[1] - 3.0).abs() < 1e-12,
            "{b:?}"
        );
    }

    #[test]
    fn least_squares_line_by_hand() {
        // x = 0,1,2, y = 0,2,1: slope = Σ(x−1)(y−1)/Σ(x−1)² = (1·−1 + 1·0... ) → (−1)(−1)+(1)(0)
        // = 1, /2 = 0.5; intercept = ȳ − 0.5·x̄ = 1 − 0.5 = 0.5.
        let one = [1.0; 3];
        let x = [0.0, 1.0, 2.0];
        let y = [0.0, 2.0, 1.0];
        let b = lstsq(&[&one, &x], &y);
        assert!(
            (b[0] - 0.5).abs() < 1e-12 && (b[1] - 0.5).abs() < 1e-12,
            "{b:?}"
        );
    }

    #[test]
    fn residual_sum_and_inverse_r_by_hand() {
        // The line above: residuals 0.5·(−1, 2, −1)... y − (0.5 + 0.5x) = (−0.5, 1, −0.5), SSE 1.5.
        let one = [1.0; 3];
        let x = [0.0, 1.0, 2.0];
        let qr = Qr::new([&one[..], &x[..]]);
        let (_, sse) = qr.solve(&[0.0, 2.0, 1.0]);
        assert!((sse - 1.5).abs() < 1e-12, "{sse}");
        // (XᵀX)⁻¹ = [[5/6, −1/2], [−1/2, 1/2]]; R⁻¹·R⁻ᵀ must equal it: check through the
        // columns of R⁻¹ (unit vectors e1, e2).
        let c1 = qr.inverse_r(&[1.0, 0.0]);
        let c2 = qr.inverse_r(&[0.0, 1.0]);
        let cov = |a: usize, b: usize| c1[a] * c1[b] + c2[a] * c2[b];
        assert!((cov(0, 0) - 5.0 / 6.0).abs() < 1e-12);
        assert!((cov(0, 1) + 0.5).abs() < 1e-12);
        assert!((cov(1, 1) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn a_duplicated_column_gets_zero() {
        let one = [1.0; 4];
        let x = [0.0, 1.0, 2.0, 3.0];
        let y = [2.0, 5.0, 8.0, 11.0];
        let b = lstsq(&[&one, &x, &x], &y);
        assert!((b[1] - 3.0).abs() < 1e-9 && b[2] == 0.0, "{b:?}");
        assert_eq!(Qr::new([&one[..], &x[..], &x[..]]).rank(), 2);
        let (basis, kept) = Basis::build([&one[..], &x[..], &x[..]]);
        assert_eq!(kept, vec![true, true, false]);
        // y is in the span: no residual.
        assert!(basis.residual(&y).iter().all(|r| r.abs() < 1e-9));
    }
}
