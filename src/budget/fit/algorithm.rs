//! Fitting the response model of one [`Dataset`]: outcome = baseline + Σ β·saturation(
//! adstock(spend)), β ≥ 0.
//!
//! Given every channel's adstock and saturation parameters the model is linear, so the search
//! is over those parameters only and the linear part is solved exactly (least squares; a
//! channel whose best β would be negative is dropped, i.e. β = 0). The search is coordinate-
//! wise over channels: for channel j the baseline and the other channels' media columns are
//! orthonormalised once, and each candidate transform of channel j is then scored in
//! O(periods × columns) by the sum-of-squares it removes from the residual
//! (Frisch–Waugh: gain = ⟨r_m, r_y⟩²/⟨r_m, r_m⟩ with r the residuals on the others), minus
//! σ²·prior·penalty (so the search maximises the log posterior with the linear part profiled
//! out; see [`FitParams::prior_strength`]), σ² the residual variance before the sweep.
//!
//! 1. On the training periods (all but the latest `holdout_fraction`): `sweeps` passes of a
//!    coarse grid over every enabled adstock × saturation family, then a pattern search
//!    (coordinate steps in log / logit space, halving `refine_rounds` times).
//! 2. Per channel, the family pair is chosen by holdout error: each family's best grid point
//!    is fitted on the training periods and scored on the held-out ones.
//! 3. Refit on all periods within the chosen families (grid, then pattern search).
//! 4. Intervals: posterior draws around the point estimate within the chosen families
//!    ([`super::posterior`]); every draw's contributions are evaluated on the original series.
//!    When both Hill and logistic curves are searched the draws also move between those two,
//!    and a channel whose draws lie mostly in the other one gets its point refitted there.

use serde::{Deserialize, Serialize};

use super::FitError;
use super::baseline::BaselineSpec;
use super::hyperparams::{AdstockFamily, FitParams, SaturationFamily};
use super::linalg::{Basis, dot, lstsq};
use crate::budget::series::Dataset;
use crate::budget::transform::{Adstock, Saturation};

/// One channel's transform.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChannelSpec {
    pub adstock: Adstock,
    pub saturation: Saturation,
}

impl ChannelSpec {
    /// β-free media column over a whole spend series.
    pub fn media(&self, x: &[f64]) -> Vec<f64> {
        self.adstock
            .apply(x)
            .into_iter()
            .map(|a| self.saturation.value(a))
            .collect()
    }

    fn families(&self) -> (AdstockFamily, SaturationFamily) {
        let a = match self.adstock {
            Adstock::Geometric { .. } => AdstockFamily::Geometric,
            Adstock::WeibullPdf { .. } => AdstockFamily::WeibullPdf,
            Adstock::WeibullCdf { .. } => AdstockFamily::WeibullCdf,
        };
        let s = match self.saturation {
            Saturation::Hill { .. } => SaturationFamily::Hill,
            Saturation::Logistic { .. } => SaturationFamily::Logistic,
            Saturation::MichaelisMenten { .. } => SaturationFamily::MichaelisMenten,
        };
        (a, s)
    }
}

/// A fitted channel (one entity's spend).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedChannel {
    pub name: String,
    /// None when no transform gave a positive effect (β = 0).
    pub spec: Option<ChannelSpec>,
    /// Outcome units at full saturation.
    pub beta: f64,
    /// Spend per fitted period (currency units), kept to carry adstock into forecasts.
    pub spend: Vec<f64>,
}

/// The parameters of one posterior draw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replicate {
    pub specs: Vec<Option<ChannelSpec>>,
    pub betas: Vec<f64>,
    pub base: Vec<f64>,
}

/// The fitted response model of one dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedModel {
    pub name: String,
    pub baseline: BaselineSpec,
    pub base_coef: Vec<f64>,
    pub channels: Vec<FittedChannel>,
    pub replicates: Vec<Replicate>,
    /// Observed outcome per fitted period.
    pub outcome: Vec<f64>,
    /// In-sample residuals (observed − fitted), for prediction intervals.
    pub residuals: Vec<f64>,
    pub r2: f64,
    /// Mean |error|/outcome over held-out periods with outcome > 0 (model fitted without them).
    pub holdout_mape: Option<f64>,
    /// Σ|error| and Σ outcome over the held-out periods (pooled across models into a WAPE).
    pub holdout_abs_error: f64,
    pub holdout_outcome: f64,
    pub holdout_periods: usize,
    /// Identifiability and fit warnings, one line each, naming the channel.
    pub warnings: Vec<String>,
}

/// Everything the search needs about one dataset.
pub(super) struct Ctx<'a> {
    pub(super) y: &'a [f64],
    pub(super) base: Vec<Vec<f64>>,
    pub(super) spend: &'a [Vec<f64>],
    pub(super) lag: usize,
    pub(super) cap: Cap,
    /// Residual variance the prior is weighed against (updated between sweeps).
    pub(super) sigma2: f64,
    /// [`FitParams::prior_strength`].
    pub(super) prior: f64,
}

fn gather(v: &[f64], rows: &[usize]) -> Vec<f64> {
    rows.iter().map(|&r| v[r]).collect()
}

pub(super) fn positive_mean(v: &[f64]) -> f64 {
    let (s, c) = v
        .iter()
        .filter(|x| **x > 0.0)
        .fold((0.0, 0usize), |(s, c), x| (s + x, c + 1));
    if c == 0 { 1.0 } else { s / c as f64 }
}

/// Smallest mean saturation (over periods with media) a candidate may have.
const LINEAR_LIMIT: f64 = 0.005;
/// Largest mean saturation (over periods with media) a candidate may have.
const SATURATED_LIMIT: f64 = 0.9;

/// Whether a media column (saturation values) is inside the identifiable range: far into the
/// linear regime β and the curvature trade off without bound; near full saturation the column
/// is nearly constant wherever the entity spends and trades off against the intercept.
pub(super) fn plausible(m: &[f64]) -> bool {
    let mean = positive_mean(m);
    (LINEAR_LIMIT..=SATURATED_LIMIT).contains(&mean)
}

const REL: [f64; 5] = [0.25, 0.5, 1.0, 2.0, 4.0];

fn adstock_grid(fam: AdstockFamily, lag: usize) -> Vec<Adstock> {
    match fam {
        AdstockFamily::Geometric => (0..9)
            .map(|i| Adstock::Geometric {
                decay: i as f64 * 0.1,
            })
            .collect(),
        AdstockFamily::WeibullPdf => {
            let mut v = Vec::new();
            for shape in [1.0, 1.6, 2.5] {
                for scale in [1.0, 2.0, 3.5, 6.0] {
                    v.push(Adstock::WeibullPdf {
                        shape,
                        scale,
                        max_lag: lag,
                    });
                }
            }
            v
        }
        AdstockFamily::WeibullCdf => {
            let mut v = Vec::new();
            for shape in [0.7, 1.5, 3.0] {
                for scale in [0.5, 1.5, 3.0, 6.0] {
                    v.push(Adstock::WeibullCdf {
                        shape,
                        scale,
                        max_lag: lag,
                    });
                }
            }
            v
        }
    }
}

/// Saturation candidates scaled to the typical (positive) adstock level `aref`.
fn saturation_grid(fam: SaturationFamily, aref: f64) -> Vec<Saturation> {
    match fam {
        SaturationFamily::Hill => {
            let mut v = Vec::new();
            for r in REL {
                for shape in [0.7, 1.0, 1.5, 2.2, 3.2] {
                    v.push(Saturation::Hill {
                        half_saturation: r * aref,
                        shape,
                    });
                }
            }
            v
        }
        SaturationFamily::Logistic => REL
            .iter()
            .map(|r| Saturation::Logistic { lambda: r / aref })
            .collect(),
        SaturationFamily::MichaelisMenten => REL
            .iter()
            .chain(&[8.0])
            .map(|r| Saturation::MichaelisMenten {
                half_saturation: r * aref,
            })
            .collect(),
    }
}

/// Unconstrained coordinates of a spec for the pattern search.
pub(super) fn encode(s: &ChannelSpec) -> Vec<f64> {
    let mut v = match s.adstock {
        Adstock::Geometric { decay } => {
            let p = (decay / 0.95).clamp(1e-4, 1.0 - 1e-4);
            vec![(p / (1.0 - p)).ln()]
        }
        Adstock::WeibullPdf { shape, scale, .. } | Adstock::WeibullCdf { shape, scale, .. } => {
            vec![shape.ln(), scale.ln()]
        }
    };
    match s.saturation {
        Saturation::Hill {
            half_saturation,
            shape,
        } => {
            v.push(half_saturation.ln());
            v.push(shape.ln());
        }
        Saturation::Logistic { lambda } => v.push(lambda.ln()),
        Saturation::MichaelisMenten { half_saturation } => v.push(half_saturation.ln()),
    }
    v
}

/// The spec of the same families at coordinates `v` (clamped to sane ranges).
pub(super) fn decode(t: &ChannelSpec, v: &[f64]) -> ChannelSpec {
    let g = |i: usize| v.get(i).copied().unwrap_or(0.0);
    let (adstock, next) = match t.adstock {
        Adstock::Geometric { .. } => {
            let p = 1.0 / (1.0 + (-g(0)).exp());
            (Adstock::Geometric { decay: 0.95 * p }, 1)
        }
        Adstock::WeibullPdf { max_lag, .. } => (
            Adstock::WeibullPdf {
                shape: g(0).exp().clamp(0.3, 8.0),
                scale: g(1).exp().clamp(0.2, 2.0 * max_lag as f64),
                max_lag,
            },
            2,
        ),
        Adstock::WeibullCdf { max_lag, .. } => (
            Adstock::WeibullCdf {
                shape: g(0).exp().clamp(0.3, 8.0),
                scale: g(1).exp().clamp(0.2, 2.0 * max_lag as f64),
                max_lag,
            },
            2,
        ),
    };
    let saturation = match t.saturation {
        Saturation::Hill { .. } => Saturation::Hill {
            half_saturation: g(next).exp(),
            shape: g(next + 1).exp().clamp(0.3, 6.0),
        },
        Saturation::Logistic { .. } => Saturation::Logistic {
            lambda: g(next).exp(),
        },
        Saturation::MichaelisMenten { .. } => Saturation::MichaelisMenten {
            half_saturation: g(next).exp(),
        },
    };
    ChannelSpec {
        adstock,
        saturation,
    }
}

/// Prior of the Hill slope: ln s ~ N(mean, sd).
pub(super) const SLOPE_PRIOR: (f64, f64) = (0.262_364_264_467_491, 0.5); // ln 1.3

/// −2·log prior density of a channel's transform (up to a constant), `aref` the typical
/// (positive mean) adstocked spend over the whole series. See [`FitParams::prior_strength`].
pub(super) fn penalty(spec: &ChannelSpec, aref: f64) -> f64 {
    let z = |x: f64, mu: f64, sd: f64| ((x.max(1e-300).ln() - mu) / sd).powi(2);
    let adstock = match spec.adstock {
        // Beta(1, 3): density ∝ (1 − d)².
        Adstock::Geometric { decay } => -4.0 * (1.0 - decay).max(1e-12).ln(),
        Adstock::WeibullPdf { shape, scale, .. } | Adstock::WeibullCdf { shape, scale, .. } => {
            z(shape, 0.0, 0.7) + z(scale, 2f64.ln(), 0.8)
        }
    };
    let aref = aref.max(1e-300);
    let saturation = match spec.saturation {
        Saturation::Hill {
            half_saturation,
            shape,
        } => z(half_saturation / aref, 0.0, 0.7) + z(shape, SLOPE_PRIOR.0, SLOPE_PRIOR.1),
        Saturation::Logistic { lambda } => z(lambda * aref, 0.0, 0.7),
        Saturation::MichaelisMenten { half_saturation } => z(half_saturation / aref, 0.0, 0.7),
    };
    adstock + saturation
}

/// Plausibility bounds on one channel's effect (outcome units).
#[derive(Debug, Clone, Copy)]
pub(super) struct Cap {
    /// Largest effect in one period: the largest observed outcome.
    pub(super) per_period: f64,
    /// Largest mean effect per period: the mean observed outcome (a channel cannot cause more
    /// than all of the outcome unless the baseline is negative).
    pub(super) share: f64,
}

impl Cap {
    /// Whether β times media column `m` (one value per period) stays within the caps.
    pub(super) fn allows(&self, m: &[f64], beta: f64) -> bool {
        let mmax = m.iter().fold(0.0f64, |a, v| a.max(*v));
        let msum: f64 = m.iter().sum();
        beta * mmax <= self.per_period && beta * msum <= self.share * m.len() as f64
    }
}

/// Residual sum of squares removed by adding column `m` (rows already gathered) to the
/// others; 0 when its coefficient would be negative.
/// Candidates beyond the [`Cap`] score 0: such effects can only be offset by a negative
/// baseline, and let near-step curves trade off against the intercept without bound.
fn gain(basis: &Basis, ry: &[f64], m: &[f64], cap: Cap) -> f64 {
    let r = basis.residual(m);
    let nr = dot(&r, &r);
    let nm = dot(m, m);
    if nr <= 1e-12 * nm.max(1e-300) {
        return 0.0;
    }
    let c = dot(&r, ry);
    if c <= 0.0 || !cap.allows(m, c / nr) {
        0.0
    } else {
        c * c / nr
    }
}

/// Best spec per family pair found by a grid pass, with its gain.
type FamilyBest = Vec<((AdstockFamily, SaturationFamily), ChannelSpec, f64)>;

impl Ctx<'_> {
    fn channel_media(&self, j: usize, spec: &Option<ChannelSpec>) -> Option<Vec<f64>> {
        spec.map(|s| s.media(&self.spend[j]))
    }

    /// Orthonormal basis of the baseline and every channel but `j`, on `rows`.
    fn others(&self, j: usize, media: &[Option<Vec<f64>>], rows: &[usize]) -> Basis {
        let mut cols: Vec<Vec<f64>> = self.base.iter().map(|c| gather(c, rows)).collect();
        for (k, m) in media.iter().enumerate() {
            if k != j
                && let Some(m) = m
            {
                cols.push(gather(m, rows));
            }
        }
        Basis::build(cols.iter().map(|c| c.as_slice())).0
    }

    /// The search objective of a candidate: the residual sum of squares it removes minus
    /// σ²·prior·[`penalty`] (the log posterior, up to constants, with the linear part
    /// profiled out); −∞ when the candidate is out of range or has no positive effect.
    fn objective(&self, g: f64, spec: &ChannelSpec, aref: f64) -> f64 {
        if g <= 0.0 {
            f64::NEG_INFINITY
        } else {
            g - self.sigma2 * self.prior * penalty(spec, aref)
        }
    }

    fn score(
        &self,
        j: usize,
        spec: &ChannelSpec,
        basis: &Basis,
        ry: &[f64],
        rows: &[usize],
    ) -> f64 {
        let a = spec.adstock.apply(&self.spend[j]);
        let m: Vec<f64> = rows.iter().map(|&r| spec.saturation.value(a[r])).collect();
        // Far into the linear regime (saturation ≈ 0 at typical spend) β and the curvature
        // trade off without bound and extrapolate wildly; the search stays out of it.
        if !plausible(&m) {
            return f64::NEG_INFINITY;
        }
        self.objective(gain(basis, ry, &m, self.cap), spec, positive_mean(&a))
    }

    /// Residual variance of the least-squares fit with `media` on `rows`.
    fn residual_variance(&self, media: &[Option<Vec<f64>>], rows: &[usize]) -> f64 {
        let (b, betas) = self.linear(media, rows);
        let sse: f64 = rows
            .iter()
            .map(|&t| (self.y[t] - self.predict(&b, &betas, media, t)).powi(2))
            .sum();
        let p = b.len() + betas.iter().filter(|v| **v != 0.0).count();
        sse / rows.len().saturating_sub(p).max(1) as f64
    }

    /// Grid over the allowed families; returns the best spec and the best per family pair.
    fn grid(
        &self,
        j: usize,
        basis: &Basis,
        ry: &[f64],
        rows: &[usize],
        allowed: &[(AdstockFamily, SaturationFamily)],
    ) -> FamilyBest {
        let mut best: FamilyBest = Vec::new();
        let mut afams: Vec<AdstockFamily> = allowed.iter().map(|f| f.0).collect();
        afams.dedup();
        for af in afams {
            for ad in adstock_grid(af, self.lag) {
                let a = ad.apply(&self.spend[j]);
                let ar = gather(&a, rows);
                let aref = positive_mean(&ar);
                let aref_all = positive_mean(&a);
                for &(_, sf) in allowed.iter().filter(|f| f.0 == af) {
                    for sat in saturation_grid(sf, aref) {
                        let m: Vec<f64> = ar.iter().map(|v| sat.value(*v)).collect();
                        let spec = ChannelSpec {
                            adstock: ad,
                            saturation: sat,
                        };
                        let g = if !plausible(&m) {
                            f64::NEG_INFINITY
                        } else {
                            self.objective(gain(basis, ry, &m, self.cap), &spec, aref_all)
                        };
                        match best.iter_mut().find(|b| b.0 == (af, sf)) {
                            Some(b) if b.2 >= g => {}
                            Some(b) => {
                                b.1 = spec;
                                b.2 = g;
                            }
                            None => best.push(((af, sf), spec, g)),
                        }
                    }
                }
            }
        }
        best
    }

    /// Pattern search from `start` within its families.
    #[allow(clippy::too_many_arguments)]
    fn refine(
        &self,
        j: usize,
        start: ChannelSpec,
        basis: &Basis,
        ry: &[f64],
        rows: &[usize],
        rounds: usize,
        step0: f64,
    ) -> (ChannelSpec, f64) {
        let mut x = encode(&start);
        let mut cur = start;
        let mut g = self.score(j, &cur, basis, ry, rows);
        let mut step = step0;
        let mut halvings = 0;
        let mut iters = 0;
        while halvings < rounds && iters < 6 * rounds + 6 {
            iters += 1;
            let mut improved = false;
            for i in 0..x.len() {
                for sign in [1.0, -1.0] {
                    let mut c = x.clone();
                    c[i] += sign * step;
                    let spec = decode(&start, &c);
                    let gc = self.score(j, &spec, basis, ry, rows);
                    if gc > g + 1e-12 * g.abs() {
                        g = gc;
                        cur = spec;
                        x = encode(&spec);
                        improved = true;
                        break;
                    }
                }
            }
            if !improved {
                step /= 2.0;
                halvings += 1;
            }
        }
        (cur, g)
    }

    /// Least squares on `rows` with β ≥ 0: channels with a negative coefficient are dropped
    /// one at a time (most negative first). Returns (baseline coefficients, β per channel).
    fn linear(&self, media: &[Option<Vec<f64>>], rows: &[usize]) -> (Vec<f64>, Vec<f64>) {
        let yr = gather(self.y, rows);
        let base: Vec<Vec<f64>> = self.base.iter().map(|c| gather(c, rows)).collect();
        let mr: Vec<Option<Vec<f64>>> = media
            .iter()
            .map(|m| m.as_ref().map(|m| gather(m, rows)))
            .collect();
        let mut active: Vec<bool> = mr.iter().map(|m| m.is_some()).collect();
        loop {
            let mut cols: Vec<&[f64]> = base.iter().map(|c| c.as_slice()).collect();
            let mut idx = Vec::new();
            for (k, m) in mr.iter().enumerate() {
                if let (true, Some(m)) = (active[k], m) {
                    cols.push(m);
                    idx.push(k);
                }
            }
            let coef = lstsq(&cols, &yr);
            let nb = base.len();
            let worst = idx
                .iter()
                .enumerate()
                .map(|(i, &k)| (k, coef[nb + i]))
                .filter(|(_, b)| *b < 0.0)
                .min_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((k, _)) = worst {
                active[k] = false;
                continue;
            }
            let mut betas = vec![0.0; media.len()];
            for (i, &k) in idx.iter().enumerate() {
                betas[k] = coef[nb + i];
            }
            return (coef[..nb].to_vec(), betas);
        }
    }

    fn predict(&self, base: &[f64], betas: &[f64], media: &[Option<Vec<f64>>], t: usize) -> f64 {
        let mut v: f64 = self.base.iter().zip(base).map(|(c, b)| c[t] * b).sum();
        for (m, b) in media.iter().zip(betas) {
            if let Some(m) = m {
                v += b * m[t];
            }
        }
        v
    }

    /// One coordinate sweep over channels. With `grid`, a grid pass over `allowed(j)` precedes
    /// the pattern search; the per-family bests of the pass are returned per channel.
    #[allow(clippy::too_many_arguments)]
    fn sweep(
        &self,
        specs: &mut [Option<ChannelSpec>],
        media: &mut [Option<Vec<f64>>],
        rows: &[usize],
        grid: bool,
        allowed: &dyn Fn(usize) -> Vec<(AdstockFamily, SaturationFamily)>,
        rounds: usize,
        step0: f64,
    ) -> Vec<FamilyBest> {
        let yr = gather(self.y, rows);
        let mut out = Vec::with_capacity(specs.len());
        for j in 0..specs.len() {
            let basis = self.others(j, media, rows);
            let ry = basis.residual(&yr);
            let mut cand: Option<(ChannelSpec, f64)> = specs[j].map(|s| {
                let g = self.score(j, &s, &basis, &ry, rows);
                (s, g)
            });
            let mut fam = Vec::new();
            if grid {
                fam = self.grid(j, &basis, &ry, rows, &allowed(j));
                for f in &fam {
                    if cand.is_none_or(|c| f.2 > c.1) {
                        cand = Some((f.1, f.2));
                    }
                }
            }
            if let Some((s, g)) = cand
                && g.is_finite()
            {
                let (s, g2) = self.refine(j, s, &basis, &ry, rows, rounds, step0);
                specs[j] = g2.is_finite().then_some(s);
            } else {
                specs[j] = None;
            }
            media[j] = self.channel_media(j, &specs[j]);
            out.push(fam);
        }
        out
    }
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().max(1) as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa <= 0.0 || sbb <= 0.0 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// Warnings for channels whose curve the data cannot identify.
fn identifiability(ds: &Dataset) -> Vec<String> {
    let mut w = Vec::new();
    for (j, x) in ds.spend.iter().enumerate() {
        let n = x.len().max(1) as f64;
        let mean = x.iter().sum::<f64>() / n;
        let sd = (x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
        let name = &ds.channels[j];
        if mean <= 0.0 {
            w.push(format!(
                "{name}: no spend in the window; its curve is not identified"
            ));
        } else if sd / mean < 0.05 {
            w.push(format!(
                "{name}: flat spend (varies by {:.1}% around its mean); the data cannot identify \
                 its curve — vary its budget to learn it",
                100.0 * sd / mean
            ));
        }
        for k in 0..ds.spend.len() {
            if k != j {
                let r = pearson(x, &ds.spend[k]);
                if r.abs() > 0.95 {
                    w.push(format!(
                        "{name}: spend moves with {} (correlation {r:.3}); their separate \
                         effects are not identified",
                        ds.channels[k]
                    ));
                }
            }
        }
    }
    w
}

/// Holdout error of a set of transforms: the linear part fitted on `train`, predictions on
/// `hold`; (squared error sum, absolute error sum, absolute percentage error sum, periods with
/// a positive outcome).
fn holdout_error(
    ctx: &Ctx,
    specs: &[Option<ChannelSpec>],
    train: &[usize],
    hold: &[usize],
) -> (f64, f64, f64, usize) {
    let media: Vec<Option<Vec<f64>>> = (0..specs.len())
        .map(|j| ctx.channel_media(j, &specs[j]))
        .collect();
    let (b, betas) = ctx.linear(&media, train);
    let (mut sse, mut abs, mut ape, mut cnt) = (0.0, 0.0, 0.0, 0usize);
    for &t in hold {
        let e = ctx.y[t] - ctx.predict(&b, &betas, &media, t);
        sse += e * e;
        abs += e.abs();
        if ctx.y[t] > 0.0 {
            ape += e.abs() / ctx.y[t];
            cnt += 1;
        }
    }
    (sse, abs, ape, cnt)
}

/// Fits one dataset.
pub fn fit_dataset(ds: &Dataset, params: &FitParams) -> Result<FittedModel, FitError> {
    params.validate()?;
    let n = ds.dates.len();
    if n < 8 {
        return Err(FitError::Data(format!(
            "{}: {n} periods; a response model needs at least 8",
            ds.name
        )));
    }
    if ds.outcome.len() != n || ds.spend.iter().any(|s| s.len() != n) {
        return Err(FitError::Data(format!(
            "{}: series lengths differ from the {n} dates",
            ds.name
        )));
    }
    let baseline =
        BaselineSpec::for_dataset(ds, params.trend, params.weekly_order, params.yearly_order);
    let mut ctx = Ctx {
        y: &ds.outcome,
        base: baseline.design(&ds.dates, Some(&ds.controls), Some(&ds.events)),
        spend: &ds.spend,
        lag: params.lag(ds.period),
        cap: Cap {
            per_period: ds.outcome.iter().fold(0.0f64, |a, v| a.max(v.abs())),
            share: ds.outcome.iter().map(|v| v.abs()).sum::<f64>() / n as f64,
        },
        sigma2: 0.0,
        prior: params.prior_strength,
    };
    let nc = ds.channels.len();
    let all_fams: Vec<(AdstockFamily, SaturationFamily)> = params
        .adstock
        .iter()
        .flat_map(|a| params.saturation.iter().map(move |s| (*a, *s)))
        .collect();
    let n_hold = if n >= 20 {
        ((n as f64) * params.holdout_fraction).round() as usize
    } else {
        0
    };
    let n_train = n - n_hold;
    let train: Vec<usize> = (0..n_train).collect();
    let hold: Vec<usize> = (n_train..n).collect();
    // The prior is weighed against the residual variance, which the first sweep (from a
    // baseline-only fit) overstates: a second sweep re-weighs it even for one channel.
    let sweeps = if nc == 1 && params.prior_strength == 0.0 {
        1
    } else {
        params.sweeps.max(2)
    };

    // 1. Search on the training periods.
    let mut specs: Vec<Option<ChannelSpec>> = vec![None; nc];
    let mut media: Vec<Option<Vec<f64>>> = vec![None; nc];
    let mut fams = Vec::new();
    for _ in 0..sweeps {
        ctx.sigma2 = ctx.residual_variance(&media, &train);
        fams = ctx.sweep(
            &mut specs,
            &mut media,
            &train,
            true,
            &|_| all_fams.clone(),
            params.refine_rounds,
            0.5,
        );
    }

    // 2. Family per channel by holdout error.
    let holdout_sse = |specs: &[Option<ChannelSpec>]| holdout_error(&ctx, specs, &train, &hold);
    if n_hold > 0 && all_fams.len() > 1 {
        for j in 0..nc {
            let Some(cur) = specs[j] else { continue };
            let mut best = (holdout_sse(&specs).0, cur);
            // Each family's grid optimum is refined first, so families compete at their best
            // rather than at coarse grid points (a flexible wrong family would otherwise win).
            let media: Vec<Option<Vec<f64>>> =
                (0..nc).map(|k| ctx.channel_media(k, &specs[k])).collect();
            let basis = ctx.others(j, &media, &train);
            let ry = basis.residual(&gather(&ds.outcome, &train));
            for (_, cand, g) in fams.get(j).map(|f| f.as_slice()).unwrap_or(&[]) {
                if !g.is_finite() {
                    continue;
                }
                let (cand, g) =
                    ctx.refine(j, *cand, &basis, &ry, &train, params.refine_rounds, 0.5);
                if !g.is_finite() {
                    continue;
                }
                let mut trial = specs.clone();
                trial[j] = Some(cand);
                let sse = holdout_sse(&trial).0;
                if sse < best.0 {
                    best = (sse, cand);
                }
            }
            specs[j] = Some(best.1);
        }
    }
    let holdout_summary = |ctx: &Ctx, specs: &[Option<ChannelSpec>]| {
        if n_hold > 0 {
            let (_, abs, ape, cnt) = holdout_error(ctx, specs, &train, &hold);
            ((cnt > 0).then(|| ape / cnt as f64), abs)
        } else {
            (None, 0.0)
        }
    };
    let (mut holdout_mape, mut hold_abs) = holdout_summary(&ctx, &specs);

    // 3. Refit on all periods within the chosen families.
    let all: Vec<usize> = (0..n).collect();
    let chosen: Vec<Option<(AdstockFamily, SaturationFamily)>> =
        specs.iter().map(|s| s.map(|s| s.families())).collect();
    media = (0..nc).map(|j| ctx.channel_media(j, &specs[j])).collect();
    for _ in 0..sweeps {
        ctx.sigma2 = ctx.residual_variance(&media, &all);
        ctx.sweep(
            &mut specs,
            &mut media,
            &all,
            true,
            &|j| chosen[j].map_or_else(|| all_fams.clone(), |f| vec![f]),
            params.refine_rounds,
            0.5,
        );
    }
    // 4. Intervals: posterior draws around the point estimate. With both Hill and logistic
    // curves searched the draws move between the two, and a channel whose draws lie mostly in
    // the other family gets its point refitted there: the posterior, not the short holdout,
    // then decides the family.
    let (mut base_coef, mut betas) = ctx.linear(&media, &all);
    ctx.sigma2 = ctx.residual_variance(&media, &all);
    let point: Vec<Option<ChannelSpec>> = specs
        .iter()
        .zip(&betas)
        .map(|(s, b)| if *b > 0.0 { *s } else { None })
        .collect();
    let switch = params.saturation.contains(&SaturationFamily::Hill)
        && params.saturation.contains(&SaturationFamily::Logistic);
    let replicates = ctx.posterior_draws(&point, params.draws, params.seed, switch);
    if switch && !replicates.is_empty() {
        let hill = |s: &Option<ChannelSpec>| {
            matches!(s.map(|s| s.saturation), Some(Saturation::Hill { .. }))
        };
        let mut changed = false;
        for j in 0..nc {
            let Some(cur) = specs[j] else { continue };
            if betas[j] <= 0.0 {
                continue;
            }
            let same = replicates
                .iter()
                .filter(|r| r.specs.get(j).is_some_and(|s| hill(s) == hill(&Some(cur))))
                .count();
            if 2 * same >= replicates.len() {
                continue;
            }
            let saturation = match cur.saturation {
                Saturation::Hill {
                    half_saturation, ..
                } => Saturation::Logistic {
                    lambda: 3f64.ln() / half_saturation,
                },
                Saturation::Logistic { lambda } => Saturation::Hill {
                    half_saturation: 3f64.ln() / lambda,
                    shape: SLOPE_PRIOR.0.exp(),
                },
                Saturation::MichaelisMenten { .. } => continue,
            };
            let basis = ctx.others(j, &media, &all);
            let ry = basis.residual(&ds.outcome);
            let start = ChannelSpec {
                adstock: cur.adstock,
                saturation,
            };
            let (cand, g) = ctx.refine(j, start, &basis, &ry, &all, params.refine_rounds, 0.5);
            if g.is_finite() {
                specs[j] = Some(cand);
                media[j] = ctx.channel_media(j, &specs[j]);
                changed = true;
            }
        }
        if changed {
            (base_coef, betas) = ctx.linear(&media, &all);
            (holdout_mape, hold_abs) = holdout_summary(&ctx, &specs);
        }
    }
    let fitted: Vec<f64> = (0..n)
        .map(|t| ctx.predict(&base_coef, &betas, &media, t))
        .collect();
    let residuals: Vec<f64> = ds.outcome.iter().zip(&fitted).map(|(y, f)| y - f).collect();
    let mean_y = ds.outcome.iter().sum::<f64>() / n as f64;
    let sst: f64 = ds.outcome.iter().map(|y| (y - mean_y) * (y - mean_y)).sum();
    let sse: f64 = residuals.iter().map(|e| e * e).sum();
    let r2 = if sst > 0.0 { 1.0 - sse / sst } else { 0.0 };

    let mut warnings = identifiability(ds);
    if replicates.len() < params.draws {
        // A chain yields nothing when the point estimate sits on the edge of the support.
        for (j, p) in point.iter().enumerate() {
            if p.is_some() {
                warnings.push(format!(
                    "{}: {} of {} posterior draws were made; its intervals {}",
                    ds.channels[j],
                    replicates.len(),
                    params.draws,
                    if replicates.is_empty() {
                        "are not available (shown as the point)"
                    } else {
                        "rest on fewer draws"
                    }
                ));
            }
        }
    }
    for (j, b) in betas.iter().enumerate() {
        if *b <= 0.0 {
            warnings.push(format!(
                "{}: no positive effect of spend found (β = 0); contribution reported as 0",
                ds.channels[j]
            ));
        }
    }
    let channels = (0..nc)
        .map(|j| FittedChannel {
            name: ds.channels[j].clone(),
            spec: if betas[j] > 0.0 { specs[j] } else { None },
            beta: betas[j].max(0.0),
            spend: ds.spend[j].clone(),
        })
        .collect();
    Ok(FittedModel {
        name: ds.name.clone(),
        baseline,
        base_coef,
        channels,
        replicates,
        outcome: ds.outcome.clone(),
        residuals,
        r2,
        holdout_mape,
        holdout_abs_error: hold_abs,
        holdout_outcome: hold.iter().map(|&t| ds.outcome[t]).sum(),
        holdout_periods: n_hold,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trips() {
        let s = ChannelSpec {
            adstock: Adstock::Geometric { decay: 0.4 },
            saturation: Saturation::Hill {
                half_saturation: 120.0,
                shape: 1.7,
            },
        };
        let d = decode(&s, &encode(&s));
        let (
            Adstock::Geometric { decay },
            Saturation::Hill {
                half_saturation,
                shape,
            },
        ) = (d.adstock, d.saturation)
        else {
            panic!("{d:?}")
        };
        assert!((decay - 0.4).abs() < 1e-9 && (half_saturation - 120.0).abs() < 1e-9);
        assert!((shape - 1.7).abs() < 1e-9);
    }
}
