//! Holdout metrics of hazard predictions (docs/design.md §4 "Evaluation"), all on the same as-of
//! rows for every model and baseline. Times are days after the as-of day, 1..=H; a row is an
//! event at T or censored at T (event-free through day T). Conventions:
//!
//! - **AUC@k** of P(onset ≤ k) against "onset within k days", over rows whose status at k is
//!   known (rows censored before k are left out); ties get half credit (average ranks).
//! - **Concordance** (Harrell): pairs (i, j) with T_i < T_j and i an event are comparable; the
//!   pair is concordant when i has the higher risk (risk = −restricted mean days to onset),
//!   half when the risks tie. Pairs with equal times are not comparable.
//! - **Integrated Brier score** with inverse probability of censoring weights (Graf et al.
//!   1999), discrete days: BS(k) = 1/n Σ_i [δ_i·1{T_i ≤ k}·S_i(k)²/G(T_i−) +
//!   1{known event-free through k}·(1 − S_i(k))²/G(k−)], G(t−) = P(still observed on day t) =
//!   Π_{s<t} (1 − c_s/n_s) the Kaplan–Meier of censoring (c_s rows censored at s, n_s rows
//!   with T ≥ s); IBS = mean of BS(k), k = 1..=H.
//! - **ECE**: 10 equal-width bins of P(onset ≤ 14) over rows with a known 14-day status;
//!   Σ_b n_b/N·|mean p − observed rate|.
//! - **Onset MAE** on events within the horizon: |median onset day given onset ≤ H − T|, days
//!   (the conditional median is the point forecast that minimises absolute error).
//! - **Precision at recall 0.5** of P(onset ≤ 14): the precision at the highest threshold whose
//!   recall reaches 0.5 (rows tied at the threshold all count).
//! - **Median alert lead time**: alert = P(onset ≤ 14) at or above that threshold; for each
//!   creative with an onset within 14 days of one of its rows, the first alerting row's
//!   onset − as-of day; the median over alerted creatives (days).

use std::collections::BTreeMap;

use ndarray::Array2;

use super::common::{Summary, summarize_all};
use super::dataset::SurvivalData;

/// Every holdout metric of one model (None where undefined, e.g. no events).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    pub rows: usize,
    pub events_14: usize,
    pub auc_7: Option<f64>,
    pub auc_14: Option<f64>,
    pub c_index: Option<f64>,
    pub ibs: Option<f64>,
    pub ece: Option<f64>,
    pub onset_mae: Option<f64>,
    pub precision_at_recall_50: Option<f64>,
    pub median_lead_days: Option<f64>,
}

impl Metrics {
    /// Named values, for model cards.
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        let mut m = BTreeMap::new();
        for (k, v) in [
            ("auc_7", self.auc_7),
            ("auc_14", self.auc_14),
            ("c_index", self.c_index),
            ("ibs", self.ibs),
            ("ece", self.ece),
            ("onset_mae", self.onset_mae),
            ("precision_at_recall_50", self.precision_at_recall_50),
            ("median_lead_days", self.median_lead_days),
        ] {
            if let Some(v) = v {
                m.insert(k.to_string(), v);
            }
        }
        m.insert("rows".into(), self.rows as f64);
        m.insert("events_14".into(), self.events_14 as f64);
        m
    }

    pub fn get(&self, name: &str) -> Option<f64> {
        self.to_map().get(name).copied()
    }
}

/// Whether higher is better for a selection metric; None if it cannot select.
pub fn metric_direction(name: &str) -> Option<bool> {
    match name {
        "auc_7" | "auc_14" | "c_index" | "precision_at_recall_50" => Some(true),
        "ibs" | "ece" | "onset_mae" => Some(false),
        _ => None,
    }
}

/// Mann–Whitney AUC with average ranks for ties. None without both classes.
pub fn auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let n = scores.len().min(labels.len());
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut ranks = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            ranks[k] = r;
        }
        i = j + 1;
    }
    let pos = labels[..n].iter().filter(|l| **l).count() as f64;
    let neg = n as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return None;
    }
    let sum: f64 = (0..n).filter(|&k| labels[k]).map(|k| ranks[k]).sum();
    Some((sum - pos * (pos + 1.0) / 2.0) / (pos * neg))
}

/// Harrell's concordance (module docs). Integer times; O(T · n log n).
pub fn concordance(risk: &[f64], time: &[usize], event: &[bool]) -> Option<f64> {
    let n = risk.len().min(time.len()).min(event.len());
    let tmax = time[..n].iter().copied().max()?;
    // Risks of rows with T > t, for each t, as sorted vectors built from the top down.
    let mut by_time: Vec<Vec<f64>> = vec![Vec::new(); tmax + 1];
    for i in 0..n {
        by_time[time[i]].push(risk[i]);
    }
    let (mut num, mut den) = (0.0, 0.0);
    let mut later: Vec<f64> = Vec::new();
    for t in (0..=tmax).rev() {
        if !later.is_empty() {
            for i in (0..n).filter(|&i| time[i] == t && event[i]) {
                let r = risk[i];
                let below = later.partition_point(|v| *v < r);
                let upto = later.partition_point(|v| *v <= r);
                num += below as f64 + 0.5 * (upto - below) as f64;
                den += later.len() as f64;
            }
        }
        later.extend(by_time[t].iter().copied());
        later.sort_by(f64::total_cmp);
    }
    (den > 0.0).then(|| num / den)
}

/// G(t−) for t = 0..=H+1 (see module docs): probability of still being observed on day t.
fn censoring_km(time: &[usize], event: &[bool], h: usize) -> Vec<f64> {
    let mut g = vec![1.0; h + 2];
    for t in 1..=h + 1 {
        let s = t - 1; // factor of day s = t − 1 (s ≥ 1)
        let mut factor = 1.0;
        if s >= 1 {
            let n_s = time.iter().filter(|&&x| x >= s).count() as f64;
            let c_s = time
                .iter()
                .zip(event)
                .filter(|(x, e)| **x == s && !**e)
                .count() as f64;
            if n_s > 0.0 {
                factor = 1.0 - c_s / n_s;
            }
        }
        g[t] = g[t - 1] * factor;
    }
    g
}

/// Integrated Brier score with IPCW (module docs). `hazards` n × H.
pub fn integrated_brier(hazards: &Array2<f64>, time: &[usize], event: &[bool]) -> Option<f64> {
    let (n, h) = hazards.dim();
    if n == 0 || h == 0 {
        return None;
    }
    let g = censoring_km(time, event, h);
    let mut total = 0.0;
    for k in 1..=h {
        let mut bs = 0.0;
        for i in 0..n {
            let s_k: f64 = (0..k).map(|j| 1.0 - hazards[[i, j]]).product();
            let t = time[i];
            if event[i] && t <= k {
                let w = g[t];
                if w > 0.0 {
                    bs += s_k * s_k / w;
                }
            } else if t >= k {
                let w = g[k];
                if w > 0.0 {
                    bs += (1.0 - s_k) * (1.0 - s_k) / w;
                }
            }
        }
        total += bs / n as f64;
    }
    Some(total / h as f64)
}

/// Expected calibration error over 10 equal-width bins.
pub fn ece(p: &[f64], y: &[bool]) -> Option<f64> {
    if p.is_empty() {
        return None;
    }
    let mut bins = [(0.0f64, 0.0f64, 0usize); 10];
    for (pi, yi) in p.iter().zip(y) {
        let b = ((pi * 10.0).floor() as usize).min(9);
        bins[b].0 += pi;
        bins[b].1 += f64::from(u8::from(*yi));
        bins[b].2 += 1;
    }
    let n = p.len() as f64;
    Some(
        bins.iter()
            .filter(|b| b.2 > 0)
            .map(|b| (b.2 as f64 / n) * ((b.0 - b.1) / b.2 as f64).abs())
            .sum(),
    )
}

/// (precision, threshold) at the highest threshold whose recall reaches 0.5.
pub fn precision_at_recall_half(scores: &[f64], labels: &[bool]) -> Option<(f64, f64)> {
    let pos = labels.iter().filter(|l| **l).count();
    if pos == 0 {
        return None;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut seen) = (0usize, 0usize);
    let mut i = 0;
    while i < idx.len() {
        let s = scores[idx[i]];
        while i < idx.len() && scores[idx[i]] == s {
            tp += usize::from(labels[idx[i]]);
            seen += 1;
            i += 1;
        }
        if 2 * tp >= pos {
            return Some((tp as f64 / seen as f64, s));
        }
    }
    None
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// Every metric of `hazards` (rows of `data`).
pub fn evaluate(hazards: &Array2<f64>, data: &SurvivalData) -> Metrics {
    let s: Vec<Summary> = summarize_all(hazards);
    let at = |k: usize| -> (Vec<f64>, Vec<bool>) {
        (0..data.len())
            .filter_map(|i| {
                data.eval_label_at(i, k).map(|l| {
                    let p = 1.0
                        - (0..k.min(hazards.ncols()))
                            .map(|j| 1.0 - hazards[[i, j]])
                            .product::<f64>();
                    (p, l)
                })
            })
            .unzip()
    };
    let (p7, y7) = at(7);
    let (p14, y14) = at(14);
    let risk: Vec<f64> = s.iter().map(|x| -x.expected_days).collect();
    let mae: Vec<f64> = (0..data.len())
        .filter(|&i| data.event[i])
        .map(|i| (s[i].conditional_median_day - data.duration[i] as f64).abs())
        .collect();
    let pr = precision_at_recall_half(&p14, &y14);
    // Lead times: first alert per creative among its rows with an onset within 14 days.
    let lead = pr.map(|(_, thr)| {
        let mut first: BTreeMap<usize, (i32, i32)> = BTreeMap::new();
        for (i, si) in s.iter().enumerate() {
            if !(data.event[i] && data.duration[i] <= 14) || si.p14 < thr {
                continue;
            }
            let Some(onset) = data.onset[i] else { continue };
            let e = first
                .entry(data.creative[i])
                .or_insert((data.as_of[i], onset));
            if data.as_of[i] < e.0 {
                *e = (data.as_of[i], onset);
            }
        }
        let mut leads: Vec<f64> = first.values().map(|(t, o)| (o - t) as f64).collect();
        median(&mut leads)
    });
    Metrics {
        rows: data.len(),
        events_14: y14.iter().filter(|y| **y).count(),
        auc_7: auc(&p7, &y7),
        auc_14: auc(&p14, &y14),
        c_index: concordance(&risk, &data.duration, &data.event),
        ibs: integrated_brier(hazards, &data.duration, &data.event),
        ece: ece(&p14, &y14),
        onset_mae: if mae.is_empty() {
            None
        } else {
            Some(mae.iter().sum::<f64>() / mae.len() as f64)
        },
        precision_at_recall_50: pr.map(|p| p.0),
        median_lead_days: lead.flatten(),
    }
}

/// Most ROC points kept per model (thinned evenly; the curve is monotone, so its shape stays).
pub const MAX_ROC_POINTS: usize = 101;
/// Most (predicted, realized) onset pairs kept per model (evenly sampled over the test rows).
pub const MAX_ONSET_PAIRS: usize = 400;

/// One equal-width bin of P(onset ≤ 14) (the same bins as [`ece`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CalibrationBin {
    /// Bin bounds (probability).
    pub lower: f64,
    pub upper: f64,
    /// Mean predicted P(onset ≤ 14) of the bin's rows (probability).
    pub mean_predicted: f64,
    /// Share of the bin's rows with an onset within 14 days (probability).
    pub observed_rate: f64,
    pub rows: usize,
}

/// What reports draw for one model, from the same test rows as [`evaluate`]: the ROC and the
/// calibration bins of P(onset ≤ 14), and a backtest of predicted vs realized onset days.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Curves {
    /// (false-positive rate, true-positive rate) from (0, 0) to (1, 1), one point per
    /// distinct threshold, thinned to at most [`MAX_ROC_POINTS`]. Empty without both classes.
    pub roc_14: Vec<[f64; 2]>,
    /// Non-empty bins only, lowest first.
    pub calibration: Vec<CalibrationBin>,
    /// (predicted, realized) onset day after the as-of day for rows with an onset within the
    /// horizon: the conditional median day (the point forecast of [`Metrics::onset_mae`]) and
    /// the observed duration. Days.
    pub onsets: Vec<[f64; 2]>,
}

/// ROC points of `scores` against `labels`: thresholds from the highest score down, tied
/// scores taken together (one diagonal step). Empty without both classes.
pub fn roc(scores: &[f64], labels: &[bool]) -> Vec<[f64; 2]> {
    let n = scores.len().min(labels.len());
    let pos = labels[..n].iter().filter(|l| **l).count();
    let neg = n - pos;
    if pos == 0 || neg == 0 {
        return Vec::new();
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut pts = vec![[0.0, 0.0]];
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut i = 0;
    while i < n {
        let s = scores[idx[i]];
        while i < n && scores[idx[i]] == s {
            if labels[idx[i]] {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        pts.push([fp as f64 / neg as f64, tp as f64 / pos as f64]);
    }
    thin(pts, MAX_ROC_POINTS)
}

/// Keeps at most `max` (≥ 2) items, evenly spaced, always the first and the last.
fn thin<T: Copy>(v: Vec<T>, max: usize) -> Vec<T> {
    if v.len() <= max || max < 2 {
        return v;
    }
    let last = v.len() - 1;
    (0..max).map(|k| v[k * last / (max - 1)]).collect()
}

/// The non-empty bins of 10 equal-width bins of `p` against `y` (as [`ece`]).
pub fn calibration_bins(p: &[f64], y: &[bool]) -> Vec<CalibrationBin> {
    let mut bins = [(0.0f64, 0.0f64, 0usize); 10];
    for (pi, yi) in p.iter().zip(y) {
        let b = ((pi * 10.0).floor().max(0.0) as usize).min(9);
        bins[b].0 += pi;
        bins[b].1 += f64::from(u8::from(*yi));
        bins[b].2 += 1;
    }
    bins.iter()
        .enumerate()
        .filter(|(_, b)| b.2 > 0)
        .map(|(k, b)| CalibrationBin {
            lower: k as f64 / 10.0,
            upper: (k + 1) as f64 / 10.0,
            mean_predicted: b.0 / b.2 as f64,
            observed_rate: b.1 / b.2 as f64,
            rows: b.2,
        })
        .collect()
}

/// The [`Curves`] of `hazards` (rows of `data`).
pub fn curves(hazards: &Array2<f64>, data: &SurvivalData) -> Curves {
    let s: Vec<Summary> = summarize_all(hazards);
    let (p14, y14): (Vec<f64>, Vec<bool>) = (0..data.len())
        .filter_map(|i| data.eval_label_at(i, 14).map(|l| (s[i].p14, l)))
        .unzip();
    let onsets: Vec<[f64; 2]> = (0..data.len())
        .filter(|&i| data.event[i])
        .map(|i| [s[i].conditional_median_day, data.duration[i] as f64])
        .collect();
    Curves {
        roc_14: roc(&p14, &y14),
        calibration: calibration_bins(&p14, &y14),
        onsets: thin(onsets, MAX_ONSET_PAIRS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_points_by_hand_and_area_equals_auc() {
        // Same rows as `auc_with_ties_by_hand`: 2 positives, 2 negatives. Thresholds from the
        // top: 0.8 (p) → (0, ½); 0.4 (p and n together) → (½, 1); 0.1 (n) → (1, 1).
        // Trapezoids: 0·… + ½·(½ + 1)/2 = .375 + ½·1 = .5 → .875 = the AUC.
        let r = roc(&[0.1, 0.4, 0.4, 0.8], &[false, true, false, true]);
        assert_eq!(r, vec![[0.0, 0.0], [0.0, 0.5], [0.5, 1.0], [1.0, 1.0]]);
        let area: f64 = r
            .windows(2)
            .map(|w| (w[1][0] - w[0][0]) * (w[1][1] + w[0][1]) / 2.0)
            .sum();
        assert!((area - 0.875).abs() < 1e-12);
        assert!(roc(&[0.3, 0.4], &[true, true]).is_empty());
        // 1,000 distinct scores thin to MAX_ROC_POINTS, keeping both ends.
        let scores: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        let labels: Vec<bool> = (0..1000).map(|i| i % 3 == 0).collect();
        let r = roc(&scores, &labels);
        assert_eq!(r.len(), MAX_ROC_POINTS);
        assert_eq!(r[0], [0.0, 0.0]);
        assert_eq!(r[MAX_ROC_POINTS - 1], [1.0, 1.0]);
    }

    #[test]
    fn calibration_bins_by_hand() {
        // As `ece_by_hand`: bin 1 (.1–.2) holds p .1, .1 with y 0, 1 → mean .1, rate .5;
        // bin 9 (.9–1) holds .9, .9 with y 1, 1 → mean .9, rate 1. p = 1.0 falls in bin 9.
        let b = calibration_bins(
            &[0.1, 0.1, 0.9, 0.9, 1.0],
            &[false, true, true, true, false],
        );
        assert_eq!(b.len(), 2);
        assert_eq!((b[0].lower, b[0].rows), (0.1, 2));
        assert!((b[0].mean_predicted - 0.1).abs() < 1e-12);
        assert!((b[0].observed_rate - 0.5).abs() < 1e-12);
        // Bin 9: p .9, .9, 1.0 → mean 2.8/3; y 1, 1, 0 → rate 2/3.
        assert_eq!(b[1].rows, 3);
        assert!((b[1].mean_predicted - 2.8 / 3.0).abs() < 1e-12);
        assert!((b[1].observed_rate - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn auc_with_ties_by_hand() {
        // scores 0.1(n) 0.4(p) 0.4(n) 0.8(p): positive/negative pairs:
        // (0.4p, 0.1n) 1, (0.4p, 0.4n) ½, (0.8p, 0.1n) 1, (0.8p, 0.4n) 1 → 3.5 / 4 = 0.875.
        let a = auc(&[0.1, 0.4, 0.4, 0.8], &[false, true, false, true]).unwrap();
        assert!((a - 0.875).abs() < 1e-12);
        assert_eq!(auc(&[0.1, 0.2], &[true, true]), None);
    }

    #[test]
    fn concordance_by_hand() {
        // Rows (T, event, risk): A (2, e, 0.9), B (4, e, 0.5), C (3, censored, 0.7),
        // D (5, censored, 0.5).
        // Comparable pairs (i event, T_i < T_j): A–B, A–C, A–D, B–D.
        // A vs B: 0.9 > 0.5 → 1; A vs C: 0.9 > 0.7 → 1; A vs D: 1; B vs D: 0.5 = 0.5 → ½.
        // C-index = 3.5 / 4 = 0.875.
        let c = concordance(
            &[0.9, 0.5, 0.7, 0.5],
            &[2, 4, 3, 5],
            &[true, true, false, false],
        )
        .unwrap();
        assert!((c - 0.875).abs() < 1e-12);
    }

    #[test]
    fn integrated_brier_by_hand() {
        // H = 2, three rows with constant hazard 0.5 (S(1) = .5, S(2) = .25):
        //   r0 event at 1, r1 censored at 1, r2 censored at 2.
        // Censoring KM: G(1−) = 1; day 1: n = 3, c = 1 → G(2−) = 2/3.
        // BS(1): r0 event ≤ 1: S(1)²/G(1−) = .25; r1 known event-free through 1: (1 − .5)²/G(1−)
        //   = .25; r2 likewise .25 → .75/3 = .25.
        // BS(2): r0: S(2)²/G(1−) = .0625; r1: censored before 2 → 0; r2: (1 − .25)²/G(2−) =
        //   .5625·1.5 = .84375 → (.0625 + .84375)/3 = .3020833.
        // IBS = (.25 + .3020833)/2 = .2760417.
        let hz = Array2::from_elem((3, 2), 0.5);
        let ibs = integrated_brier(&hz, &[1, 1, 2], &[true, false, false]).unwrap();
        assert!((ibs - 0.2760417).abs() < 1e-6, "{ibs}");
    }

    #[test]
    fn ece_by_hand() {
        // Bin 0.1–0.2: p .1, .1 with y 0, 1 → |.1 − .5| = .4, weight 2/4.
        // Bin 0.9–1.0: p .9, .9 with y 1, 1 → |.9 − 1| = .1, weight 2/4. ECE = .2 + .05 = .25.
        let e = ece(&[0.1, 0.1, 0.9, 0.9], &[false, true, true, true]).unwrap();
        assert!((e - 0.25).abs() < 1e-12);
    }

    #[test]
    fn precision_at_half_recall_by_hand() {
        // 4 positives. Sorted: .9 p, .8 n, .7 p, .6 p, .5 p. Recall reaches 2/4 at .7 with
        // 2 TP of 3 seen → precision 2/3, threshold .7.
        let (p, t) =
            precision_at_recall_half(&[0.9, 0.8, 0.7, 0.6, 0.5], &[true, false, true, true, true])
                .unwrap();
        assert!((p - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(t, 0.7);
    }

    #[test]
    fn evaluate_lead_time_and_mae_by_hand() {
        // One creative (0), onset on day 20; as-of rows on days 10, 14, 18 → T = 10, 6, 2
        // (events). Plus a creative (1) without onset, 3 rows censored at 14.
        // Hazards: creative 0 rows constant 0.3 → p14 = 1 − .7^14 = .9932; creative 1 rows
        // constant 0.01 → p14 = 1 − .99^14 = .1313. All 3 positives rank above → recall 0.5
        // reached at the first threshold; first alert on day 10 → lead 20 − 10 = 10 days.
        // MAE: conditional median day for h = .3: 1 − S(14) = 1 − .7^14 = .993218, half
        // = .496609; 1 − S(1) = .3 < half ≤ 1 − S(2) = .51 → day 2.
        // |2 − 10| + |2 − 6| + |2 − 2| = 8 + 4 + 0 = 12 → mean 4.
        let n = 6;
        let mut hz = Array2::from_elem((n, 14), 0.01);
        for i in 0..3 {
            hz.row_mut(i).fill(0.3);
        }
        let data = SurvivalData {
            feature_names: vec![],
            horizon: 14,
            creative: vec![0, 0, 0, 1, 1, 1],
            as_of: vec![10, 14, 18, 0, 1, 2],
            x: Array2::zeros((n, 0)),
            duration: vec![10, 6, 2, 14, 14, 14],
            event: vec![true, true, true, false, false, false],
            onset: vec![Some(20), Some(20), Some(20), None, None, None],
            follow_up: Vec::new(),
        };
        let m = evaluate(&hz, &data);
        assert_eq!(m.median_lead_days, Some(10.0));
        assert_eq!(m.auc_14, Some(1.0));
        assert_eq!(m.onset_mae, Some(4.0));
        // The backtest pairs are the same (conditional median, realized duration) pairs.
        let c = curves(&hz, &data);
        assert_eq!(c.onsets, vec![[2.0, 10.0], [2.0, 6.0], [2.0, 2.0]]);
        // All 3 positives score above all 3 negatives → the ROC goes straight up.
        assert_eq!(c.roc_14, vec![[0.0, 0.0], [0.0, 1.0], [1.0, 1.0]]);
    }
}
