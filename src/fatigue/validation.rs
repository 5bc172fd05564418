//! How a fatigue job validates what it trains on the data a tenant has (docs/fatigue-real-data.md): the
//! configured holdout when it fits and holds enough onsets, else rolling-origin folds, else
//! nothing (the job then says `unvalidated`). Plus the pieces both need: onset counts, the split
//! of training rows by creative for calibration, and 90% metric intervals by a bootstrap over
//! creatives.
//!
//! **Rolling origin.** Test blocks of `fold_days` as-of days are counted back from the last
//! as-of day (at most `max_folds`). Fold k's models are fitted on the as-of rows before
//! `block start − gap` (gap ≥ horizon H), so a training row's label (days ≤ t + H) never reads a
//! day of its test block; a fold needs `min_train_days` of such rows and at least one onset
//! among them. Every model is scored on the pooled out-of-fold rows (the blocks are disjoint),
//! and the served model is then refitted on every labelled row.
//!
//! **Calibration and early stopping inside a fold** use a share of the training *creatives*
//! (stratified by whether the creative has an onset row), not a later time slice: short
//! histories cannot spare a second gap, and held-out creatives of the same days still test the
//! calibration out of sample.

use std::collections::{BTreeMap, BTreeSet};

use ndarray::{Array2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::config::EvaluationConfig;
use super::dataset::SurvivalData;
use super::metrics::{auc, ece, evaluate as metrics_of};

/// Share of the training creatives held out for calibration and early stopping when there is
/// no validation time slice.
pub const CALIBRATION_SHARE: f64 = 0.2;

/// Confidence level of the metric intervals.
pub const INTERVAL_LEVEL: f64 = 0.9;

/// What validation a job could do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The configured time split: train, gap, validation, gap, test.
    Holdout,
    /// Rolling-origin folds over the as-of days that exist.
    RollingOrigin,
    /// Too few onsets to compare models: the served model is unvalidated.
    None,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Holdout => "holdout",
            Method::RollingOrigin => "rolling_origin",
            Method::None => "none",
        }
    }

    /// Strength for promotion: none < rolling_origin < holdout.
    pub fn rank(self) -> u8 {
        match self {
            Method::None => 0,
            Method::RollingOrigin => 1,
            Method::Holdout => 2,
        }
    }
}

/// The validation a job did, as the model card, `--json` and reports record it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Validation {
    pub method: Method,
    /// Folds scored: 1 for the holdout, k for rolling origin, 0 for none.
    pub folds: usize,
    /// Out-of-sample rows every model was scored on (creative-days).
    pub rows: usize,
    /// Creatives with an onset within the horizon among those rows.
    pub onsets: usize,
    /// Why this method (what did not fit, counts against `min_onsets`).
    pub reason: String,
    /// Level of the metric intervals (0.9) and the bootstrap resamples behind them.
    pub interval_level: f64,
    pub resamples: usize,
}

impl Validation {
    /// What a version trained before validation methods were recorded did: a holdout of
    /// `rows` rows with `onsets` onsets (as far as it is known).
    pub fn recorded_before(rows: usize, onsets: usize) -> Validation {
        Validation {
            method: Method::Holdout,
            folds: 1,
            rows,
            onsets,
            reason: "recorded before validation methods".into(),
            interval_level: INTERVAL_LEVEL,
            resamples: 0,
        }
    }

    /// `holdout (1 fold, 1234 rows, 17 onsets)` or `unvalidated` (the reason is separate).
    pub fn summary(&self) -> String {
        match self.method {
            Method::None => "unvalidated".into(),
            m => format!(
                "{} ({} fold{}, {} rows, {} onsets)",
                m.as_str(),
                self.folds,
                if self.folds == 1 { "" } else { "s" },
                self.rows,
                self.onsets
            ),
        }
    }

    /// Orders two validations by strength: method first, then onsets.
    pub fn strength(&self) -> (u8, usize) {
        (self.method.rank(), self.onsets)
    }
}

/// One rolling-origin fold: row indices into the [`SurvivalData`] it was built from.
#[derive(Debug, Clone, PartialEq)]
pub struct Fold {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
    /// First and last as-of day (days since 1970-01-01) of each part.
    pub train_days: (i32, i32),
    pub test_days: (i32, i32),
}

/// Creatives with an onset within the horizon among the rows `idx`.
pub fn onsets(d: &SurvivalData, idx: &[usize]) -> usize {
    idx.iter()
        .filter(|&&i| d.event[i])
        .map(|&i| d.creative[i])
        .collect::<BTreeSet<_>>()
        .len()
}

/// The rolling-origin folds of `d` (oldest first; module docs). Empty when not even one fits.
pub fn rolling_folds(d: &SurvivalData, ev: &EvaluationConfig) -> Vec<Fold> {
    let (Some(&lo), Some(&hi)) = (d.as_of.iter().min(), d.as_of.iter().max()) else {
        return Vec::new();
    };
    let gap = ev.gap();
    let mut folds = Vec::new();
    for k in 0..ev.max_folds {
        let test_end = hi - k as i32 * ev.fold_days;
        let test_start = test_end - ev.fold_days + 1;
        let train_end = test_start - gap; // exclusive
        if train_end - lo < ev.min_train_days {
            break;
        }
        let train: Vec<usize> = (0..d.len()).filter(|&i| d.as_of[i] < train_end).collect();
        if !train.iter().any(|&i| d.event[i]) {
            // Earlier folds have even fewer training rows.
            break;
        }
        let test: Vec<usize> = (0..d.len())
            .filter(|&i| (test_start..=test_end).contains(&d.as_of[i]))
            .collect();
        if test.is_empty() {
            continue;
        }
        folds.push(Fold {
            train,
            test,
            train_days: (lo, train_end - 1),
            test_days: (test_start, test_end),
        });
    }
    folds.reverse();
    folds
}

/// Splits the rows `idx` by creative: about `share` of the creatives (seeded, stratified by
/// whether the creative has an event row) go to the second part. Rows keep their order.
pub fn split_by_creative(
    d: &SurvivalData,
    idx: &[usize],
    share: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut with_event = BTreeSet::new();
    let mut all = BTreeSet::new();
    for &i in idx {
        all.insert(d.creative[i]);
        if d.event[i] {
            with_event.insert(d.creative[i]);
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_ca1b);
    let mut held = BTreeSet::new();
    let without: Vec<usize> = all.difference(&with_event).copied().collect();
    for group in [with_event.into_iter().collect::<Vec<_>>(), without] {
        let mut g = group;
        g.shuffle(&mut rng);
        // Round down, so a lone creative (or a lone onset) stays in the fitting part.
        let take = (g.len() as f64 * share).floor() as usize;
        held.extend(g.into_iter().take(take));
    }
    idx.iter().partition(|&&i| !held.contains(&d.creative[i]))
}

/// P(onset ≤ k) of each row of `hazards`.
fn p_within(hazards: &Array2<f64>, k: usize) -> Vec<f64> {
    hazards
        .rows()
        .into_iter()
        .map(|r| 1.0 - r.iter().take(k).map(|h| 1.0 - h).product::<f64>())
        .collect()
}

/// The value at quantile `q` of sorted `v` (linear interpolation).
fn quantile(v: &[f64], q: f64) -> f64 {
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// 90% intervals of `metrics` for `hazards` scored on `d`, by `resamples` bootstrap draws of
/// creatives (with replacement, every row of a drawn creative), seeded. A metric undefined in
/// more than half the draws gets no interval. `auc_7`, `auc_14` and `ece` are computed
/// directly; any other metric name through [`metrics_of`].
pub fn intervals(
    hazards: &Array2<f64>,
    d: &SurvivalData,
    metrics: &[&str],
    resamples: usize,
    seed: u64,
) -> BTreeMap<String, [f64; 2]> {
    let mut by_creative: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..d.len() {
        by_creative.entry(d.creative[i]).or_default().push(i);
    }
    let groups: Vec<Vec<usize>> = by_creative.into_values().collect();
    if groups.is_empty() || resamples == 0 {
        return BTreeMap::new();
    }
    let p7 = p_within(hazards, 7);
    let p14 = p_within(hazards, 14);
    let y7: Vec<Option<bool>> = (0..d.len()).map(|i| d.eval_label_at(i, 7)).collect();
    let y14: Vec<Option<bool>> = (0..d.len()).map(|i| d.eval_label_at(i, 14)).collect();
    let labelled = |rows: &[usize], p: &[f64], y: &[Option<bool>]| -> (Vec<f64>, Vec<bool>) {
        rows.iter().filter_map(|&i| y[i].map(|l| (p[i], l))).unzip()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xb007_57a9);
    let mut values: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for _ in 0..resamples {
        let mut rows = Vec::new();
        for _ in 0..groups.len() {
            if let Some(g) = groups.choose(&mut rng) {
                rows.extend_from_slice(g);
            }
        }
        let full = metrics
            .iter()
            .any(|m| !matches!(*m, "auc_7" | "auc_14" | "ece"))
            .then(|| metrics_of(&hazards.select(Axis(0), &rows), &d.subset(&rows)));
        for &m in metrics {
            let v = match m {
                "auc_7" => {
                    let (p, y) = labelled(&rows, &p7, &y7);
                    auc(&p, &y)
                }
                "auc_14" => {
                    let (p, y) = labelled(&rows, &p14, &y14);
                    auc(&p, &y)
                }
                "ece" => {
                    let (p, y) = labelled(&rows, &p14, &y14);
                    ece(&p, &y)
                }
                other => full.as_ref().and_then(|f| f.get(other)),
            };
            if let Some(v) = v.filter(|v| v.is_finite()) {
                values.entry(m).or_default().push(v);
            }
        }
    }
    let tail = (1.0 - INTERVAL_LEVEL) / 2.0;
    values
        .into_iter()
        .filter(|(_, v)| v.len() * 2 > resamples)
        .map(|(m, mut v)| {
            v.sort_by(f64::total_cmp);
            (
                m.to_string(),
                [quantile(&v, tail), quantile(&v, 1.0 - tail)],
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of `creatives` creatives, one as-of row per creative and day in `days`; creative c
    /// has an event (duration 1) on its rows when `c % 3 == 0`.
    fn data(creatives: usize, days: std::ops::Range<i32>) -> SurvivalData {
        let mut d = SurvivalData {
            feature_names: vec!["a".into()],
            horizon: 14,
            creative: Vec::new(),
            as_of: Vec::new(),
            x: Array2::zeros((0, 1)),
            duration: Vec::new(),
            event: Vec::new(),
            onset: Vec::new(),
            follow_up: Vec::new(),
        };
        for c in 0..creatives {
            for t in days.clone() {
                d.creative.push(c);
                d.as_of.push(t);
                let e = c % 3 == 0;
                d.event.push(e);
                d.duration.push(if e { 1 } else { 14 });
                d.onset.push(e.then_some(t + 1));
            }
        }
        d.x = Array2::zeros((d.len(), 1));
        d
    }

    #[test]
    fn folds_leave_a_gap_of_the_horizon_and_do_not_overlap() {
        // 89 as-of days (0..=88), blocks of 14, gap 14, ≥ 14 training days: test blocks
        // 75–88, 61–74, 47–60 and 33–46 (training before 47, 33, 19, 5: the last is too short).
        let d = data(6, 0..89);
        let ev = EvaluationConfig::default();
        let folds = rolling_folds(&d, &ev);
        let tests: Vec<(i32, i32)> = folds.iter().map(|f| f.test_days).collect();
        assert_eq!(tests, vec![(33, 46), (47, 60), (61, 74), (75, 88)]);
        for f in &folds {
            let last_train = f.train.iter().map(|&i| d.as_of[i]).max().unwrap();
            // A training row's label reads days ≤ t + H: before the test block.
            assert!(last_train + 14 < f.test_days.0, "{f:?}");
            assert_eq!(f.train_days.1, f.test_days.0 - 15);
            assert!(f.test.iter().all(|&i| d.as_of[i] >= f.test_days.0));
        }
        let mut all: Vec<usize> = folds.iter().flat_map(|f| f.test.clone()).collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n, "test blocks overlap");
        // 40 days: no fold (test 26–39 leaves training before day 12 < 14 days).
        assert!(rolling_folds(&data(6, 0..40), &ev).is_empty());
        let short = EvaluationConfig {
            fold_days: 7,
            min_train_days: 7,
            ..ev
        };
        let f = rolling_folds(&data(6, 0..40), &short);
        assert_eq!(
            f.iter().map(|f| f.test_days).collect::<Vec<_>>(),
            vec![(26, 32), (33, 39)]
        );
    }

    #[test]
    fn creative_split_keeps_creatives_whole_and_stratifies() {
        let d = data(30, 0..5);
        let idx: Vec<usize> = (0..d.len()).collect();
        let (fit, held) = split_by_creative(&d, &idx, 0.2, 1);
        assert_eq!(fit.len() + held.len(), idx.len());
        let cf: BTreeSet<usize> = fit.iter().map(|&i| d.creative[i]).collect();
        let ch: BTreeSet<usize> = held.iter().map(|&i| d.creative[i]).collect();
        assert!(cf.is_disjoint(&ch));
        // 10 creatives with events, 20 without: 2 and 4 held out.
        assert_eq!(ch.len(), 6);
        assert_eq!(ch.iter().filter(|&&c| c % 3 == 0).count(), 2);
        assert_eq!(split_by_creative(&d, &idx, 0.2, 1), (fit, held));
        assert_eq!(onsets(&d, &idx), 10);
    }

    #[test]
    fn bootstrap_intervals_cover_the_point_value() {
        // Hazards that rank events first with some overlap: AUC@14 by hand from the pairs.
        let d = data(40, 0..3);
        let mut hz = Array2::<f64>::zeros((d.len(), 14));
        for i in 0..d.len() {
            let c = d.creative[i];
            let h = if d.event[i] {
                0.05 + 0.001 * c as f64
            } else {
                0.02 + 0.002 * c as f64
            };
            hz.row_mut(i).fill(h);
        }
        let point = metrics_of(&hz, &d).auc_14.unwrap();
        let iv = intervals(&hz, &d, &["auc_14", "ece", "c_index"], 200, 3);
        let [lo, hi] = iv["auc_14"];
        assert!(lo <= point && point <= hi && lo < hi, "{lo} {point} {hi}");
        assert!(iv.contains_key("ece") && iv.contains_key("c_index"));
        // Same seed, same intervals.
        assert_eq!(intervals(&hz, &d, &["auc_14"], 200, 3)["auc_14"], [lo, hi]);
        // No events: AUC undefined in every draw, no interval.
        let mut none = d.clone();
        none.event.iter_mut().for_each(|e| *e = false);
        none.duration.iter_mut().for_each(|t| *t = 14);
        assert!(!intervals(&hz, &none, &["auc_14"], 50, 3).contains_key("auc_14"));
    }
}
