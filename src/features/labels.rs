//! Fatigue labels (docs/design.md §4): per creative-day status as known that day
//! ([`label_days`]), per creative onset / censoring ([`label_creatives`]) and how many creatives
//! each rule touched ([`rule_counts`]). Input: the `ad_daily` frame; thresholds:
//! [`LabelConfig`] (`training/fatigue.toml`, `[labels]`).
//!
//! Rules, in order:
//! - **Restated days**: one row per (creative, date) is expected after ingest; should a key
//!   repeat, the last row (the restatement) wins — a day is never summed twice.
//! - **Gaps**: every calendar day between a creative's first and last row exists; a missing day
//!   is zero delivery, so a 7-day window is 7 calendar days.
//! - **Baseline**: sums from the creative's first row to the first active day on which its
//!   cumulative impressions reach `baseline_min_impressions`, if that is within its first
//!   `baseline_max_active_days` active days; otherwise `insufficient_data`.
//! - **Metric** (chosen once, from the baseline sums): CPA → CPC → inverse CTR by volume floors,
//!   so sources with only impressions and clicks still get labels.
//! - **Rolling value**: ratio of `rolling_days` sums (never a mean of daily ratios); cost with
//!   zero results is +∞ (above every threshold); no delivery in the window is null.
//! - **Ratio**: rolling / baseline, defined only after the baseline's last day.
//! - **Seasonal adjustment**: the account index is the account's rolling metric (ratio of sums
//!   over its creatives, leaving this creative out by default) divided by the account's metric
//!   over this creative's baseline days; adjusted ratio = ratio / index. Where the index is not a
//!   finite positive number (no other volume) the raw ratio stands. An account-wide 2× rise is
//!   index 2, so it does not make every creative fatigued.
//! - **Status** on day t: `fatigued` once a run of `onset_consecutive_days` days at ≥
//!   `onset_ratio` has completed on or before t (absorbing: onset is an event); else
//!   `insufficient_data` while the ratio is unknown (before the baseline is complete, no metric,
//!   or nothing delivered in the window); else `limited` at ≥ `limited_ratio` (this includes the
//!   first days of a run not yet complete); else `healthy`.
//! - **Onset** = first day of the first complete run. Computed on the adjusted ratio (when
//!   enabled) and on the raw ratio, so the effect of the adjustment can be counted.
//! - **Censoring**: a creative whose last active day is ≥ `stop_after_days` before its account's
//!   last data day has stopped: censored at its last active day. Otherwise it is still running:
//!   censored at the account's last data day. A creative with an onset is an event, not censored.
//! - **Left truncation**: a creative whose first row is its account's first data day was
//!   probably already running when the account was connected; its baseline is taken from its
//!   first available days like any other and it is flagged `left_truncated` (age is then a lower
//!   bound), so training can weight or drop it.

use polars::prelude::*;
use serde::Serialize;

use super::LabelConfig;
use super::cols::*;
use super::prepare::*;
use crate::schema::cols as ad;

/// The cost-like metric of a creative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// spend / conversions (currency units per conversion).
    Cpa,
    /// spend / clicks (currency units per click).
    Cpc,
    /// impressions / clicks (impressions per click), for sources without cost.
    InvCtr,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Cpa => "cpa",
            MetricKind::Cpc => "cpc",
            MetricKind::InvCtr => "inv_ctr",
        }
    }
    /// The metric named `s` (as [`MetricKind::as_str`] spells it).
    pub fn from_name(s: &str) -> Option<MetricKind> {
        [MetricKind::Cpa, MetricKind::Cpc, MetricKind::InvCtr]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

fn key_cols() -> Vec<Expr> {
    CREATIVE_KEY.iter().map(|k| col(*k)).collect()
}

/// Per creative-day labels, sorted by creative key and date. Columns: the creative key,
/// `date`, [`AGE_DAYS`], [`METRIC_KIND`], [`BASELINE_VALUE`], [`ROLLING_VALUE`], [`RATIO`],
/// [`ACCOUNT_INDEX`], [`ADJUSTED_RATIO`], [`STATUS`], [`LEFT_TRUNCATED`]. Every value at day t
/// depends only on days ≤ t.
pub fn label_days(lf: LazyFrame, cfg: &LabelConfig) -> PolarsResult<LazyFrame> {
    let mut sel = key_cols();
    sel.extend([
        col(ad::DATE),
        col(AGE_DAYS),
        col(METRIC_KIND),
        col(BASELINE_VALUE),
        col(ROLLING_VALUE),
        col(RATIO),
        col(ACCOUNT_INDEX),
        col(ADJUSTED_RATIO),
        col(STATUS),
        col(LEFT_TRUNCATED),
    ]);
    // Creative ids are in key order, so this is (key, date) order.
    Ok(labelled_days(lf, cfg)?
        .sort([CID, DAY], SortMultipleOptions::default())
        .select(sel))
}

/// One row per creative, sorted by key: `first_date`, `last_active_date` (null if it never
/// delivered), `baseline_end_date`, `metric_kind`, `baseline_value`, `onset_date`,
/// `onset_date_unadjusted`, `event`, `stopped`, `censor_date`, `censored`,
/// `insufficient_data`, `left_truncated`.
pub fn label_creatives(lf: LazyFrame, cfg: &LabelConfig) -> PolarsResult<LazyFrame> {
    let back = (cfg.onset_consecutive_days as i32) - 1;
    let onset = |run: &str| (col(DAY).filter(col(run)).min() - lit(back)).cast(DataType::Date);
    let mut aggs: Vec<Expr> = CREATIVE_KEY.iter().map(|k| col(*k).first()).collect();
    aggs.extend([
        col(FIRST_DAY)
            .first()
            .cast(DataType::Date)
            .alias(FIRST_DATE),
        col(DAY)
            .filter(col(ACTIVE))
            .max()
            .cast(DataType::Date)
            .alias(LAST_ACTIVE_DATE),
        col(DAY).filter(col(ACTIVE)).max().alias(LAST_ACTIVE_DAY),
        col(BASE_END_DAY)
            .first()
            .cast(DataType::Date)
            .alias(BASELINE_END_DATE),
        col(METRIC_KIND_FINAL).first().alias(METRIC_KIND),
        col(BASELINE_FINAL).first().alias(BASELINE_VALUE),
        onset(RUN_DONE).alias(ONSET_DATE),
        onset(RUN_DONE_UNADJ).alias(ONSET_DATE_UNADJUSTED),
        col(ACCT_LAST_DAY).first(),
        col(LEFT_TRUNCATED).first(),
    ]);
    let stopped = col(LAST_ACTIVE_DAY)
        .is_null()
        .or((col(ACCT_LAST_DAY) - col(LAST_ACTIVE_DAY)).gt_eq(lit(cfg.stop_after_days as i32)));
    Ok(labelled_days(lf, cfg)?
        .group_by([col(CID)])
        .agg(aggs)
        .with_columns([
            col(ONSET_DATE).is_not_null().alias(EVENT),
            stopped.alias(STOPPED),
            col(METRIC_KIND).is_null().alias(INSUFFICIENT_DATA),
        ])
        .with_columns([
            when(col(STOPPED))
                .then(col(LAST_ACTIVE_DATE).fill_null(col(FIRST_DATE)))
                .otherwise(col(ACCT_LAST_DAY).cast(DataType::Date))
                .alias(CENSOR_DATE),
            col(EVENT).not().alias(CENSORED),
        ])
        .sort([CID], SortMultipleOptions::default())
        .select([
            col(ad::TENANT),
            col(ad::PLATFORM),
            col(ad::ACCOUNT_ID),
            col(ad::AD_ID),
            col(FIRST_DATE),
            col(LAST_ACTIVE_DATE),
            col(BASELINE_END_DATE),
            col(METRIC_KIND),
            col(BASELINE_VALUE),
            col(ONSET_DATE),
            col(ONSET_DATE_UNADJUSTED),
            col(EVENT),
            col(STOPPED),
            col(CENSOR_DATE),
            col(CENSORED),
            col(INSUFFICIENT_DATA),
            col(LEFT_TRUNCATED),
        ]))
}

/// How many creatives each labelling rule affected; printed with every evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
pub struct RuleCounts {
    pub creatives: u64,
    /// First row on the account's first data day (baseline from first available days).
    pub left_truncated: u64,
    /// No metric: baseline floor not reached within the allowed active days, or too few clicks.
    pub insufficient_data: u64,
    pub metric_cpa: u64,
    pub metric_cpc: u64,
    pub metric_inv_ctr: u64,
    /// Creatives with an onset (events).
    pub events: u64,
    /// No onset and stopped delivering: censored at the last active day.
    pub censored_stopped: u64,
    /// No onset and still running at the end of the data.
    pub censored_end_of_data: u64,
    /// Onset date differs between the adjusted and the raw ratio (any of the three below).
    pub onset_changed_by_adjustment: u64,
    /// Raw ratio had an onset, adjusted has none (account-wide move netted out).
    pub onset_removed_by_adjustment: u64,
    /// Adjusted ratio has an onset, raw had none.
    pub onset_added_by_adjustment: u64,
    /// Both have an onset, on different days.
    pub onset_moved_by_adjustment: u64,
}

/// Counts the rules over the output of [`label_creatives`] (collects it).
pub fn rule_counts(creatives: LazyFrame) -> PolarsResult<RuleCounts> {
    let n = |e: Expr, name: &str| e.cast(DataType::UInt64).sum().alias(name);
    let adj = col(ONSET_DATE);
    let raw = col(ONSET_DATE_UNADJUSTED);
    let df = creatives
        .select([
            len().cast(DataType::UInt64).alias("creatives"),
            n(col(LEFT_TRUNCATED), "left_truncated"),
            n(col(INSUFFICIENT_DATA), "insufficient_data"),
            n(col(METRIC_KIND).eq(lit("cpa")).fill_null(lit(false)), "cpa"),
            n(col(METRIC_KIND).eq(lit("cpc")).fill_null(lit(false)), "cpc"),
            n(
                col(METRIC_KIND).eq(lit("inv_ctr")).fill_null(lit(false)),
                "inv_ctr",
            ),
            n(col(EVENT), "events"),
            n(col(CENSORED).and(col(STOPPED)), "censored_stopped"),
            n(col(CENSORED).and(col(STOPPED).not()), "censored_end"),
            n(adj.clone().eq_missing(raw.clone()).not(), "changed"),
            n(
                raw.clone().is_not_null().and(adj.clone().is_null()),
                "removed",
            ),
            n(
                adj.clone().is_not_null().and(raw.clone().is_null()),
                "added",
            ),
            n(
                adj.clone()
                    .is_not_null()
                    .and(raw.clone().is_not_null())
                    .and(adj.neq(raw)),
                "moved",
            ),
        ])
        .collect()?;
    let get = |name: &str| -> PolarsResult<u64> { Ok(df.column(name)?.u64()?.get(0).unwrap_or(0)) };
    Ok(RuleCounts {
        creatives: get("creatives")?,
        left_truncated: get("left_truncated")?,
        insufficient_data: get("insufficient_data")?,
        metric_cpa: get("cpa")?,
        metric_cpc: get("cpc")?,
        metric_inv_ctr: get("inv_ctr")?,
        events: get("events")?,
        censored_stopped: get("censored_stopped")?,
        censored_end_of_data: get("censored_end")?,
        onset_changed_by_adjustment: get("changed")?,
        onset_removed_by_adjustment: get("removed")?,
        onset_added_by_adjustment: get("added")?,
        onset_moved_by_adjustment: get("moved")?,
    })
}
