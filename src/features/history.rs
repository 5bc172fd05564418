//! Label-history features of a creative-day (all from days ≤ t): the label ratio now, its
//! 7-day max and log-slope, days at `limited` in the last 7, the run of days with CTR well
//! below its peak, and the decay-curve extrapolation to the onset ratio. Both engines append
//! them after [`super::feature_names`].

use super::LabelConfig;

/// Label-history features, in matrix column order after [`super::feature_names`].
pub const EXTRA_FEATURES: [&str; 7] = [
    "label_ratio",
    "label_ratio_known",
    "label_ratio_max_7d",
    "label_log_ratio_slope_7d",
    "label_days_limited_7d",
    "ctr_below_peak_run",
    "decay_days_to_onset",
];

/// Cap of the extrapolated days to the onset ratio. Days.
const DECAY_CAP: f64 = 60.0;
/// Cap of the label ratio as a feature (zero results with cost is +∞). Ratio.
pub const RATIO_CAP: f64 = 10.0;

/// The label ratio as a model input: NaN dropped, capped at [`RATIO_CAP`].
pub fn capped_ratio(v: Option<f64>) -> Option<f64> {
    v.filter(|r| !r.is_nan()).map(|r| r.min(RATIO_CAP))
}

/// The [`EXTRA_FEATURES`] of one creative's `kept` days (ascending day indices), walking its
/// calendar days in order. `ratio` (capped, see [`capped_ratio`]) and `ctr_vs_peak` (the
/// `ctr_7d_vs_peak` feature) are per day; `write(k, values)` receives the k-th kept day's.
pub fn history_features(
    ratio: &[Option<f64>],
    ctr_vs_peak: &[f64],
    cfg: &LabelConfig,
    kept: &[usize],
    mut write: impl FnMut(usize, [f64; 7]),
) {
    let onset_ln = cfg.onset_ratio.ln();
    let mut run = 0.0;
    let mut next = 0;
    for r in 0..ratio.len() {
        let below = ctr_vs_peak.get(r).is_some_and(|v| *v <= 0.8);
        run = if below { run + 1.0 } else { 0.0 };
        if kept.get(next) != Some(&r) {
            continue;
        }
        let lo = r.saturating_sub(6);
        // Known ratios in the last 7 calendar days.
        let mut buf = [(0.0, 0.0); 7];
        let mut m = 0;
        for (k, v) in ratio.iter().enumerate().take(r + 1).skip(lo) {
            if let Some(v) = v.filter(|v| *v > 0.0) {
                buf[m] = (k as f64 - r as f64, v);
                m += 1;
            }
        }
        let pts = &buf[..m];
        let now = ratio[r].filter(|v| *v > 0.0);
        let max7 = pts.iter().map(|p| p.1).fold(f64::NAN, f64::max);
        let limited = pts.iter().filter(|p| p.1 >= cfg.limited_ratio).count() as f64;
        let slope = if pts.len() >= 3 {
            let m = pts.len() as f64;
            let (st, sy) = pts
                .iter()
                .fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1.ln()));
            let (mt, my) = (st / m, sy / m);
            let (mut num, mut den) = (0.0, 0.0);
            for p in pts {
                num += (p.0 - mt) * (p.1.ln() - my);
                den += (p.0 - mt) * (p.0 - mt);
            }
            if den > 0.0 { num / den } else { 0.0 }
        } else {
            0.0
        };
        let decay = match now {
            Some(v) if v.ln() >= onset_ln => 0.0,
            Some(v) if slope > 1e-6 => ((onset_ln - v.ln()) / slope).min(DECAY_CAP),
            _ => DECAY_CAP,
        };
        write(
            next,
            [
                now.unwrap_or(1.0),
                if now.is_some() { 1.0 } else { 0.0 },
                if max7.is_nan() { 1.0 } else { max7 },
                slope,
                limited,
                run,
                decay,
            ],
        );
        next += 1;
    }
}
