//! Onset timing within the horizon: which day an onset falls on, given that it falls within the
//! horizon H, as a model of its own.
//!
//! A hazard model is fitted on every at-risk row, and what it learns best is *whether* an onset
//! comes (the rows without one outnumber the others many times); the day it comes on is a small
//! part of its likelihood. The onset-day forecast ([`super::common::Summary`]'s conditional
//! median) only reads that part. So the learned families get a second stage: a multinomial
//! logistic regression (linfa) of the onset day k = 1..=H, fitted on the training rows whose
//! onset fell within the horizon, on the label trajectory ([`TIMING_FEATURES`]: the ratio now,
//! its slope, the decay curve's days to 2×), each standardised and as piecewise-linear "hat"
//! bases at knots on its training quantiles. The day follows the trajectory non-linearly (an
//! extrapolated 5 days to 2× should make day 5 the likeliest, which no logit linear in that
//! number can say). Applied to a row's hazards it keeps P(onset ≤ H) — so the ranking at H,
//! the calibration of P(onset ≤ 14) and the drivers do not move — and replaces the conditional
//! distribution of the day by a mixture `(1 − w) · model's own + w · timing model's`, with w
//! (and the L2 penalty) chosen on the validation slice by the log-likelihood of the observed
//! onset days; no stage when it does not help there.

use linfa::Dataset;
use linfa::traits::Fit;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2, ArrayView1, Axis};

use super::FatigueError;
use super::common::{Standardizer, survival};
use super::dataset::SurvivalData;

/// Settings of the timing stage (`[models.timing]` in `training/fatigue.toml`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimingParams {
    /// Fit the timing stage for the learned families.
    pub enabled: bool,
    /// L2 penalties tried (linfa `alpha`); the one whose model gives the observed onset days
    /// of the validation slice the highest likelihood is kept.
    pub l2: Vec<f64>,
    /// L-BFGS iterations.
    pub max_iterations: u64,
    /// Fewest training rows with an onset within the horizon needed to fit it.
    pub min_events: usize,
}

impl Default for TimingParams {
    fn default() -> Self {
        TimingParams {
            enabled: true,
            l2: vec![1.0, 10.0, 100.0],
            max_iterations: 200,
            min_events: 50,
        }
    }
}

impl TimingParams {
    pub fn validate(&self) -> Result<(), FatigueError> {
        if self.l2.is_empty() || self.l2.iter().any(|l| !(l.is_finite() && *l >= 0.0)) {
            return Err(FatigueError::Config(format!(
                "models.timing.l2 must list finite numbers >= 0, got {:?}",
                self.l2
            )));
        }
        if self.l2.len() > 20 {
            return Err(FatigueError::Config(
                "models.timing.l2 must list at most 20 values".into(),
            ));
        }
        if !(1..=100_000).contains(&self.max_iterations) {
            return Err(FatigueError::Config(
                "models.timing.max_iterations must be in 1..=100000".into(),
            ));
        }
        Ok(())
    }
}

/// Mixture weights tried on the validation slice.
const WEIGHTS: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];

/// The features the day model reads, each standardised and as hat bases: the label ratio
/// now, its log-slope over 7 days and the decay curve's extrapolated days to the onset ratio.
/// (Every feature, linearly, fitted worse on held-out days: too many coefficients per day for
/// the few hundred onsets a tenant has.)
pub const TIMING_FEATURES: [&str; 3] = [
    "label_ratio",
    "label_log_ratio_slope_7d",
    "decay_days_to_onset",
];

/// Knots per spline feature (at evenly spaced quantiles, duplicates dropped).
const KNOTS: usize = 8;

/// One feature's piecewise-linear basis: at knots t_0 < … < t_m, basis j is 1 at t_j, falls
/// linearly to 0 at its neighbours, and the end bases stay 1 beyond the end knots.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Spline {
    pub knots: Vec<f64>,
}

impl Spline {
    /// Knots at evenly spaced quantiles of the finite values of `v`; `None` with fewer than
    /// two distinct knots.
    fn fit(v: impl Iterator<Item = f64>) -> Option<Spline> {
        let mut v: Vec<f64> = v.filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let last = v.len() - 1;
        let mut knots: Vec<f64> = (0..KNOTS).map(|q| v[q * last / (KNOTS - 1)]).collect();
        knots.dedup();
        (knots.len() >= 2).then_some(Spline { knots })
    }

    /// Writes the basis values of `x` into `out` (one per knot); a missing value (NaN) gets
    /// all zeros.
    fn basis(&self, x: f64, out: &mut [f64]) {
        out.fill(0.0);
        if x.is_nan() {
            return;
        }
        let t = &self.knots;
        let m = t.len() - 1;
        if x <= t[0] {
            out[0] = 1.0;
        } else if x >= t[m] {
            out[m] = 1.0;
        } else {
            // t[j] <= x < t[j + 1].
            let j = t.partition_point(|&k| k <= x) - 1;
            let u = (x - t[j]) / (t[j + 1] - t[j]);
            out[j] = 1.0 - u;
            out[j + 1] = u;
        }
    }
}

/// A fitted timing stage.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Timing {
    /// Matrix columns of the [`TIMING_FEATURES`] found.
    pub columns: Vec<usize>,
    /// Their standardiser.
    pub scaler: Standardizer,
    /// Their hat bases (a feature with a single distinct training value has none).
    pub splines: Vec<Option<Spline>>,
    /// Onset day (1..=H) of each class, ascending (days without a training onset have no
    /// class and get probability 0 from this model).
    pub days: Vec<usize>,
    /// Coefficients, one row per feature and one column per class.
    pub coefficients: Vec<Vec<f64>>,
    /// Intercept per class.
    pub intercepts: Vec<f64>,
    /// Weight w of this model in the mixture with the hazard model's own timing (0..=1).
    pub weight: f64,
}

impl Timing {
    /// Fits the day model on `train`'s rows with an onset within the horizon for each L2
    /// penalty, chooses its mixture weight on `validation` (whose calibrated hazards, before
    /// this stage, are `hazards`) and keeps the best. `None` (no stage) with fewer than
    /// `min_events` such training rows, fewer than two distinct onset days, none of the
    /// features, or a validation slice where no fit helps.
    pub fn fit(
        train: &SurvivalData,
        validation: &SurvivalData,
        hazards: &Array2<f64>,
        params: &TimingParams,
    ) -> Result<Option<Timing>, FatigueError> {
        params.validate()?;
        let rows: Vec<usize> = (0..train.len())
            .filter(|&i| train.event[i] && train.duration[i] <= train.horizon)
            .collect();
        let mut days: Vec<usize> = rows.iter().map(|&i| train.duration[i]).collect();
        days.sort_unstable();
        days.dedup();
        let columns: Vec<usize> = TIMING_FEATURES
            .iter()
            .filter_map(|name| train.feature_names.iter().position(|f| f == name))
            .collect();
        if rows.len() < params.min_events || days.len() < 2 || columns.is_empty() {
            return Ok(None);
        }
        let x = train.x.select(Axis(0), &rows).select(Axis(1), &columns);
        let scaler = Standardizer::fit(&x);
        let splines: Vec<Option<Spline>> = x
            .columns()
            .into_iter()
            .map(|c| Spline::fit(c.iter().copied()))
            .collect();
        let z = design(&scaler, &splines, &x);
        let y: Array1<usize> = rows.iter().map(|&i| train.duration[i]).collect();
        let mut best: Option<(f64, Timing)> = None;
        for &l2 in &params.l2 {
            let fitted = MultiLogisticRegression::default()
                .alpha(l2)
                .max_iterations(params.max_iterations)
                .fit(&Dataset::new(z.clone(), y.clone()))
                .map_err(|e| FatigueError::Model(format!("onset timing: {e}")))?;
            let classes: Vec<usize> = fitted.classes().to_vec();
            // Order the classes by day (linfa keeps them in the order it met them).
            let mut order: Vec<usize> = (0..classes.len()).collect();
            order.sort_by_key(|&c| classes[c]);
            let mut t = Timing {
                columns: columns.clone(),
                scaler: scaler.clone(),
                splines: splines.clone(),
                days: order.iter().map(|&c| classes[c]).collect(),
                coefficients: fitted
                    .params()
                    .rows()
                    .into_iter()
                    .map(|r| order.iter().map(|&c| r[c]).collect())
                    .collect(),
                intercepts: order.iter().map(|&c| fitted.intercept()[c]).collect(),
                weight: 1.0,
            };
            let Some(ll) = t.choose_weight(hazards, validation) else {
                return Ok(None);
            };
            if t.weight > 0.0 && best.as_ref().is_none_or(|b| ll > b.0 + 1e-9) {
                best = Some((ll, t));
            }
        }
        Ok(best.map(|b| b.1))
    }

    /// Checks that a stage read from a model's files fits a matrix of `features` columns and
    /// is consistent in itself (so scoring with it cannot index out of range).
    pub fn check(&self, features: usize) -> Result<(), FatigueError> {
        let bad = |what: &str| Err(FatigueError::Model(format!("onset-day stage: {what}")));
        let p = self.columns.len();
        if self.columns.iter().any(|&j| j >= features) {
            return bad(&format!(
                "a feature column is beyond the model's {features}"
            ));
        }
        if self.scaler.mean.len() != p || self.scaler.sd.len() != p || self.splines.len() != p {
            return bad("standardiser or splines do not match its features");
        }
        if let Some(sp) = self.splines.iter().flatten().find(|sp| {
            sp.knots.len() < 2
                || sp.knots.iter().any(|k| !k.is_finite())
                || sp.knots.windows(2).any(|w| w[0] >= w[1])
        }) {
            return bad(&format!(
                "knots {:?} are not increasing finite numbers",
                sp.knots
            ));
        }
        let inputs = p + self
            .splines
            .iter()
            .flatten()
            .map(|s| s.knots.len())
            .sum::<usize>();
        let classes = self.days.len();
        if classes == 0
            || self.intercepts.len() != classes
            || self.coefficients.len() != inputs
            || self.coefficients.iter().any(|r| r.len() != classes)
        {
            return bad("coefficients do not match its inputs and days");
        }
        if !(0.0..=1.0).contains(&self.weight) {
            return bad(&format!("weight {} is outside 0..=1", self.weight));
        }
        Ok(())
    }

    /// P(onset on day k | onset within the horizon) for k = 1..=`horizon`, per row of `x`.
    pub fn day_probabilities(&self, x: &Array2<f64>, horizon: usize) -> Array2<f64> {
        let z = design(
            &self.scaler,
            &self.splines,
            &x.select(Axis(1), &self.columns),
        );
        let mut out = Array2::<f64>::zeros((x.nrows(), horizon));
        let mut logits = vec![0.0; self.days.len()];
        for (i, zr) in z.rows().into_iter().enumerate() {
            for (c, l) in logits.iter_mut().enumerate() {
                *l = self.intercepts[c]
                    + zr.iter()
                        .zip(&self.coefficients)
                        .map(|(v, w)| v * w[c])
                        .sum::<f64>();
            }
            let m = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let total: f64 = logits.iter().map(|l| (l - m).exp()).sum();
            for (c, &d) in self.days.iter().enumerate() {
                if (1..=horizon).contains(&d) {
                    out[[i, d - 1]] = (logits[c] - m).exp() / total;
                }
            }
        }
        out
    }

    /// Replaces the conditional timing of `hazards` (rows of `x`) by the mixture with this
    /// model's, keeping each row's P(onset within the horizon).
    pub fn apply(&self, x: &Array2<f64>, hazards: &mut Array2<f64>) {
        if self.weight <= 0.0 {
            return;
        }
        let q = self.day_probabilities(x, hazards.ncols());
        for (mut h, qt) in hazards.rows_mut().into_iter().zip(q.rows()) {
            let mixed = mixed_onset_days(h.view(), qt, self.weight);
            // No floor on the new hazards: a day this model gives no mass keeps hazard 0.
            // A floor would add a little mass that depends on the timing and so reorder rows
            // whose P(onset ≤ H) the hazard model made equal (trees give many such ties).
            let mut s = 1.0;
            for (k, f) in mixed.iter().enumerate() {
                h[k] = if s > 0.0 {
                    (f / s).clamp(0.0, 1.0)
                } else {
                    1.0
                };
                s -= f;
            }
        }
    }

    /// Chooses the mixture weight that maximises the log-likelihood of the observed onset
    /// days of `validation`'s rows with an onset within the horizon, given `hazards` (the
    /// calibrated hazards of those rows without this stage), and returns that likelihood.
    /// Ties keep the smaller weight; a slice without such rows gives `None`.
    pub fn choose_weight(
        &mut self,
        hazards: &Array2<f64>,
        validation: &SurvivalData,
    ) -> Option<f64> {
        let rows: Vec<usize> = (0..validation.len())
            .filter(|&i| validation.event[i] && validation.duration[i] <= hazards.ncols())
            .collect();
        if rows.is_empty() {
            self.weight = 0.0;
            return None;
        }
        let x = validation.x.select(Axis(0), &rows);
        let q = self.day_probabilities(&x, hazards.ncols());
        let mut best = (f64::NEG_INFINITY, 0.0);
        for w in WEIGHTS {
            let ll: f64 = rows
                .iter()
                .enumerate()
                .map(|(r, &i)| {
                    let f = mixed_onset_days(hazards.row(i), q.row(r), w);
                    let total: f64 = f.iter().sum();
                    (f[validation.duration[i] - 1] / total).max(1e-12).ln()
                })
                .sum();
            if ll > best.0 + 1e-9 {
                best = (ll, w);
            }
        }
        self.weight = best.1;
        Some(best.0)
    }
}

/// The model's inputs from the timing features' columns `x`: the standardised values, then
/// each feature's hat bases.
fn design(scaler: &Standardizer, splines: &[Option<Spline>], x: &Array2<f64>) -> Array2<f64> {
    let z = scaler.transform(x);
    let p = z.ncols();
    let extra: usize = splines.iter().flatten().map(|s| s.knots.len()).sum();
    let mut out = Array2::<f64>::zeros((x.nrows(), p + extra));
    out.slice_mut(ndarray::s![.., ..p]).assign(&z);
    for (i, mut row) in out.rows_mut().into_iter().enumerate() {
        let mut at = p;
        for (j, sp) in splines.iter().enumerate() {
            let Some(sp) = sp else { continue };
            let n = sp.knots.len();
            if let Some(slot) = row.as_slice_mut() {
                sp.basis(
                    x.get([i, j]).copied().unwrap_or(f64::NAN),
                    &mut slot[at..at + n],
                );
            }
            at += n;
        }
    }
    out
}

/// The onset probabilities f(k) = P(onset on day k) of hazards `h` with their conditional
/// distribution over days mixed with `q` at weight `w`, total P(onset ≤ H) kept.
fn mixed_onset_days(h: ArrayView1<f64>, q: ArrayView1<f64>, w: f64) -> Vec<f64> {
    let s = survival(h);
    let n = h.len();
    let total = 1.0 - s[n];
    let own: Vec<f64> = (1..=n).map(|k| s[k - 1] - s[k]).collect();
    (0..n)
        .map(|k| {
            let own_c = if total > 0.0 { own[k] / total } else { 0.0 };
            total * ((1.0 - w) * own_c + w * q[k])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fatigue::common::summarize;
    use ndarray::array;

    fn data(x: Array2<f64>, duration: Vec<usize>, event: Vec<bool>) -> SurvivalData {
        let n = duration.len();
        let mut names: Vec<String> = vec!["other".into(), "decay_days_to_onset".into()];
        names.truncate(x.ncols());
        SurvivalData {
            feature_names: names,
            horizon: 4,
            creative: (0..n).collect(),
            as_of: vec![0; n],
            x,
            duration,
            event,
            onset: vec![None; n],
            follow_up: Vec::new(),
        }
    }

    /// A stage on column 0 that puts every onset on day 4, whatever the features.
    fn always_day_4(weight: f64) -> Timing {
        Timing {
            columns: vec![0],
            scaler: Standardizer {
                mean: vec![0.0],
                sd: vec![1.0],
            },
            splines: vec![None],
            days: vec![4],
            coefficients: vec![vec![0.0]],
            intercepts: vec![0.0],
            weight,
        }
    }

    /// Hazards (0.1, 0.2, 0.3, 0.4): S = 1, .9, .72, .504, .3024 → f = (.1, .18, .216, .2016),
    /// P(onset ≤ 4) = .6976. Mixed at w = 1 with q = (0, 0, 0, 1) every day's mass moves to
    /// day 4: f' = (0, 0, 0, .6976) → hazards (0, 0, 0, .6976), and the median day becomes 4
    /// while P(onset ≤ 4) stays .6976.
    #[test]
    fn apply_keeps_the_total_and_moves_the_days() {
        let mut h = array![[0.1, 0.2, 0.3, 0.4]];
        always_day_4(1.0).apply(&array![[0.0]], &mut h);
        let s = summarize(h.row(0));
        assert!((s.p14 - 0.6976).abs() < 1e-12, "{}", s.p14);
        assert!((h[[0, 3]] - 0.6976).abs() < 1e-12, "{h}");
        assert_eq!(h.row(0).to_vec()[..3], [0.0; 3]);
        assert_eq!(s.conditional_median_day, 4.0);
        // w = 0.5: f' = .6976·(½·f/.6976 + ½·q) = (.05, .09, .108, .1008 + .3488).
        let f = mixed_onset_days(
            array![0.1, 0.2, 0.3, 0.4].view(),
            array![0., 0., 0., 1.].view(),
            0.5,
        );
        let want = [0.05, 0.09, 0.108, 0.1008 + 0.3488];
        for (a, b) in f.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{f:?}");
        }
    }

    /// The day is a non-monotone function of the decay feature: x = 1 → day 1, x = 5 → day
    /// 3, x = 9 → day 1 again. No logit linear in x can make day 1 the likeliest at both ends
    /// and day 3 in the middle; the hat bases (knots at 1, 5, 9) can. The fitted stage must put
    /// most of the mass on the right day and, on a validation slice drawn the same way, be
    /// given the full weight over flat hazards.
    #[test]
    fn learns_a_day_the_features_reveal() {
        let n = 150;
        let x = Array2::from_shape_fn(
            (n, 2),
            |(i, j)| {
                if j == 0 { 0.0 } else { [1.0, 5.0, 9.0][i % 3] }
            },
        );
        let duration: Vec<usize> = (0..n).map(|i| [1, 3, 1][i % 3]).collect();
        let d = data(x.clone(), duration.clone(), vec![true; n]);
        let flat = Array2::from_elem((n, 4), 0.2);
        let params = TimingParams {
            min_events: 10,
            l2: vec![0.1],
            ..Default::default()
        };
        let t = Timing::fit(&d, &d, &flat, &params)
            .expect("fit")
            .expect("enough events");
        assert_eq!(t.columns, vec![1]);
        assert_eq!(t.days, vec![1, 3]);
        assert_eq!(t.weight, 1.0);
        let q = t.day_probabilities(&array![[0.0, 1.0], [0.0, 5.0], [0.0, 9.0]], 4);
        assert!(q[[0, 0]] > 0.9 && q[[1, 2]] > 0.9 && q[[2, 0]] > 0.9, "{q}");
        assert_eq!(q[[0, 1]], 0.0);
        assert_eq!(q[[0, 3]], 0.0);
        // Too few events, or no timing feature: no stage.
        let few = data(
            x.slice(ndarray::s![..8, ..]).to_owned(),
            duration[..8].to_vec(),
            vec![true; 8],
        );
        assert!(
            Timing::fit(&few, &few, &flat, &TimingParams::default())
                .unwrap()
                .is_none()
        );
        let blind = data(
            x.slice(ndarray::s![.., ..1]).to_owned(),
            duration,
            vec![true; n],
        );
        assert!(
            Timing::fit(&blind, &blind, &flat, &params)
                .unwrap()
                .is_none()
        );
    }

    /// A stage from damaged files is refused instead of indexing out of range.
    #[test]
    fn check_refuses_inconsistent_stages() {
        assert!(always_day_4(1.0).check(1).is_ok());
        assert!(
            always_day_4(1.0).check(0).is_err(),
            "column beyond the features"
        );
        let mut t = always_day_4(1.0);
        t.intercepts.push(0.0);
        assert!(t.check(1).is_err(), "intercepts vs days");
        let mut t = always_day_4(1.0);
        t.splines = vec![Some(Spline {
            knots: vec![2.0, 1.0],
        })];
        assert!(t.check(1).is_err(), "decreasing knots");
        let mut t = always_day_4(1.0);
        t.splines = vec![Some(Spline {
            knots: vec![1.0, 2.0],
        })];
        assert!(t.check(1).is_err(), "no coefficients for the bases");
        t.coefficients = vec![vec![0.0]; 3];
        assert!(t.check(1).is_ok());
        t.weight = 1.5;
        assert!(t.check(1).is_err(), "weight");
    }

    /// Knots (0, 2, 6): x = 1 is halfway between the first two (½, ½, 0); x = 5 is a quarter
    /// of the way back from 6 (0, ¼, ¾); beyond the ends the end basis is 1; NaN is all 0.
    #[test]
    fn hat_basis_by_hand() {
        let sp = Spline {
            knots: vec![0.0, 2.0, 6.0],
        };
        let mut out = [9.0; 3];
        for (x, want) in [
            (1.0, [0.5, 0.5, 0.0]),
            (5.0, [0.0, 0.25, 0.75]),
            (2.0, [0.0, 1.0, 0.0]),
            (-3.0, [1.0, 0.0, 0.0]),
            (f64::INFINITY, [0.0, 0.0, 1.0]),
            (f64::NAN, [0.0, 0.0, 0.0]),
        ] {
            sp.basis(x, &mut out);
            assert_eq!(out, want, "x = {x}");
        }
        // Quantile knots of 0..=14 at 8 evenly spaced ranks: 14·q/7 → 0, 2, 4, ..., 14.
        let fitted = Spline::fit((0..=14).map(f64::from)).expect("distinct knots");
        assert_eq!(
            fitted.knots,
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0]
        );
        assert!(Spline::fit([1.0, 1.0, f64::NAN].into_iter()).is_none());
    }

    /// A timing model that is wrong on validation (always day 4 where the onsets are on day 1)
    /// gets weight 0, so it cannot make a model worse than it was. The likelihood it reports
    /// is that of the hazards alone: f(1)/P(≤ 4) = .5/.9375 per row, 5 rows.
    #[test]
    fn a_wrong_timing_model_gets_no_weight() {
        let mut t = always_day_4(1.0);
        let d = data(Array2::zeros((5, 1)), vec![1; 5], vec![true; 5]);
        let ll = t.choose_weight(&Array2::from_elem((5, 4), 0.5), &d);
        assert_eq!(t.weight, 0.0);
        let want = 5.0 * (0.5f64 / 0.9375).ln();
        assert!((ll.expect("events") - want).abs() < 1e-12);
    }
}
