//! The baselines' fixed parameters (they are rules: nothing is tuned).

/// Pseudo-rows of the pooled hazard added to every group's life table.
pub const BASELINE_PSEUDO_ROWS: f64 = 5.0;
/// `rule_frequency_ctr`: frequency threshold (impressions per reached person, 7 days).
pub const FREQUENCY_LIMIT: f64 = 4.0;
/// CTR at or below this share of its peak counts as "down 20%".
pub const CTR_PEAK_SHARE: f64 = 0.8;
/// `rule_ctr_peak_3d`: consecutive days below the peak share.
pub const CTR_PEAK_DAYS: f64 = 3.0;
/// `calendar_refresh`: age band edges. Days.
pub const CALENDAR_DAYS: [f64; 3] = [7.0, 14.0, 21.0];
/// `decay_curve`: band edges of the extrapolated days to the onset ratio. Days.
pub const DECAY_BANDS: [f64; 5] = [0.0, 3.0, 7.0, 14.0, 30.0];
