//! Column names of every frame the feature and label pipelines produce, in one place.
//! Input columns come from [`crate::schema::cols`]; the creative key is
//! (tenant, platform, account_id, ad_id).

use crate::schema::cols as ad;

/// The key of a creative.
pub const CREATIVE_KEY: [&str; 4] = [ad::TENANT, ad::PLATFORM, ad::ACCOUNT_ID, ad::AD_ID];
/// The key of an account.
pub const ACCOUNT_KEY: [&str; 3] = [ad::TENANT, ad::PLATFORM, ad::ACCOUNT_ID];

// ---- label_days / label_creatives ----
/// Days since the creative's first row (0 on that day). Days.
pub const AGE_DAYS: &str = "age_days";
/// `cpa` | `cpc` | `inv_ctr` | null (see [`super::MetricKind`]).
pub const METRIC_KIND: &str = "metric_kind";
/// The launch-baseline value of the cost-like metric (currency units per result or click, or
/// impressions per click).
pub const BASELINE_VALUE: &str = "baseline_value";
/// Rolling value of the cost-like metric: ratio of rolling sums.
pub const ROLLING_VALUE: &str = "rolling_value";
/// rolling_value / baseline_value.
pub const RATIO: &str = "ratio";
/// ratio / account index (seasonal and auction-wide moves netted out).
pub const ADJUSTED_RATIO: &str = "adjusted_ratio";
/// The account index: the account's rolling metric relative to its value over the creative's
/// baseline days.
pub const ACCOUNT_INDEX: &str = "account_index";
/// `healthy` | `limited` | `fatigued` | `insufficient_data`, as known at that day.
pub const STATUS: &str = "status";
pub const LEFT_TRUNCATED: &str = "left_truncated";
pub const FIRST_DATE: &str = "first_date";
pub const LAST_ACTIVE_DATE: &str = "last_active_date";
pub const BASELINE_END_DATE: &str = "baseline_end_date";
pub const ONSET_DATE: &str = "onset_date";
pub const ONSET_DATE_UNADJUSTED: &str = "onset_date_unadjusted";
pub const EVENT: &str = "event";
pub const CENSOR_DATE: &str = "censor_date";
pub const CENSORED: &str = "censored";
/// The creative stopped delivering (≥ `stop_after_days` days without impressions before the end
/// of its account's data).
pub const STOPPED: &str = "stopped";
pub const INSUFFICIENT_DATA: &str = "insufficient_data";

// ---- status values ----
pub const STATUS_HEALTHY: &str = "healthy";
pub const STATUS_LIMITED: &str = "limited";
pub const STATUS_FATIGUED: &str = "fatigued";
pub const STATUS_INSUFFICIENT: &str = "insufficient_data";

// ---- features (model inputs) ----
pub const CUM_IMPRESSIONS: &str = "cum_impressions";
pub const CUM_SPEND: &str = "cum_spend";
pub const CUM_CLICKS: &str = "cum_clicks";
pub const IMPRESSIONS_7D: &str = "impressions_7d";
pub const SPEND_7D: &str = "spend_7d";
pub const CLICKS_7D: &str = "clicks_7d";
pub const FREQUENCY_7D: &str = "frequency_7d";
pub const CUM_FREQUENCY: &str = "cum_frequency";
pub const REACH_GROWTH_7D: &str = "reach_growth_7d";
pub const HAS_REACH_7D: &str = "has_reach_7d";
pub const CTR_1D: &str = "ctr_1d";
pub const CTR_3D: &str = "ctr_3d";
pub const CTR_7D: &str = "ctr_7d";
pub const CVR_1D: &str = "cvr_1d";
pub const CVR_3D: &str = "cvr_3d";
pub const CVR_7D: &str = "cvr_7d";
pub const CPC_1D: &str = "cpc_1d";
pub const CPC_3D: &str = "cpc_3d";
pub const CPC_7D: &str = "cpc_7d";
pub const CPM_1D: &str = "cpm_1d";
pub const CPM_3D: &str = "cpm_3d";
pub const CPM_7D: &str = "cpm_7d";
pub const CTR_VS_BASELINE: &str = "ctr_7d_vs_baseline";
pub const CVR_VS_BASELINE: &str = "cvr_7d_vs_baseline";
pub const CPC_VS_BASELINE: &str = "cpc_7d_vs_baseline";
pub const CPM_VS_BASELINE: &str = "cpm_7d_vs_baseline";
pub const CTR_VS_PEAK: &str = "ctr_7d_vs_peak";
pub const CVR_VS_PEAK: &str = "cvr_7d_vs_peak";
pub const CPC_VS_PEAK: &str = "cpc_7d_vs_best";
pub const CPM_VS_PEAK: &str = "cpm_7d_vs_best";
pub const CTR_VS_ACCOUNT: &str = "ctr_7d_vs_account";
pub const CVR_VS_ACCOUNT: &str = "cvr_7d_vs_account";
pub const CPC_VS_ACCOUNT: &str = "cpc_7d_vs_account";
pub const CPM_VS_ACCOUNT: &str = "cpm_7d_vs_account";
pub const LOG_CTR_SLOPE_7D: &str = "log_ctr_slope_7d";
pub const SLOPE_VALID: &str = "log_ctr_slope_valid";
pub const SPEND_CHANGE_7D: &str = "spend_change_7d";
pub const SPEND_CHANGE_VALID: &str = "spend_change_valid";
pub const PLATFORM_CODE: &str = "platform_code";
pub const WEEKDAY: &str = "weekday";
pub const DAYS_SINCE_LIMITED: &str = "days_since_limited";
pub const EVER_LIMITED: &str = "ever_limited";
pub const HAS_SPEND: &str = "has_spend";
pub const HAS_CONVERSIONS: &str = "has_conversions";
pub const BASELINE_COMPLETE: &str = "baseline_complete";
pub const DELIVERED_1D: &str = "delivered_1d";
pub const DELIVERED_3D: &str = "delivered_3d";
