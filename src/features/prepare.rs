//! The shared first stages of the label and feature pipelines: dedupe, gap filling to calendar
//! days, rolling and cumulative sums per creative, the launch baseline, the cost-like metric and
//! the account index. Internal columns start with `__` and are dropped by the public steps.
//!
//! Everything is a window expression over a dense integer creative id (`__cid`) or account id
//! (`__aid`), on a frame sorted by (creative, date), so rows are never looped over in Rust.

use polars::prelude::*;

use super::LabelConfig;
use super::cols::*;
use crate::schema::cols as ad;

pub(crate) const CID: &str = "__cid";
pub(crate) const AID: &str = "__aid";
/// Physical day number (days since 1970-01-01) of `date`, as i32.
pub(crate) const DAY: &str = "__day";
pub(crate) const IMPS: &str = "__imps";
pub(crate) const CLICKS: &str = "__clicks";
pub(crate) const SPEND: &str = "__spend";
pub(crate) const CONV: &str = "__conv";
pub(crate) const REACH: &str = "__reach";
pub(crate) const SPEND_SEEN: &str = "__spend_seen";
pub(crate) const CONV_SEEN: &str = "__conv_seen";
pub(crate) const REACH_SEEN: &str = "__reach_seen";
pub(crate) const ACTIVE: &str = "__active";
pub(crate) const ACTIVE_IDX: &str = "__active_idx";
pub(crate) const BASE_END_DAY: &str = "__base_end_day";
/// First day at which the baseline is frozen: reached, or the last allowed active day passed.
pub(crate) const FREEZE_DAY: &str = "__freeze_day";
/// The creative's first row.
pub(crate) const FIRST_DAY: &str = "__first_day";
pub(crate) const FIRST_ACTIVE_DAY: &str = "__first_active_day";
pub(crate) const LAST_ACTIVE_DAY: &str = "__last_active_day";
pub(crate) const ACCT_FIRST_DAY: &str = "__acct_first_day";
pub(crate) const ACCT_LAST_DAY: &str = "__acct_last_day";
/// The ratio that drives status and onset: adjusted when seasonal adjustment is on.
pub(crate) const USED_RATIO: &str = "__used_ratio";
pub(crate) const RUN_DONE: &str = "__run_done";
pub(crate) const RUN_DONE_UNADJ: &str = "__run_done_unadj";
pub(crate) const METRIC_KIND_FINAL: &str = "__metric_kind_final";
pub(crate) const BASELINE_FINAL: &str = "__baseline_final";

/// Name of a rolling or cumulative sum of an internal base column.
pub(crate) fn roll(c: &str, days: usize) -> String {
    format!("{c}_r{days}")
}
pub(crate) fn cum(c: &str) -> String {
    format!("{c}_cum")
}
fn acct(c: &str) -> String {
    format!("__acct{c}")
}

pub(crate) fn over_cid(e: Expr) -> Expr {
    e.over([col(CID)]).expect("over with a non-empty partition")
}
fn over_aid(e: Expr) -> Expr {
    e.over([col(AID)]).expect("over with a non-empty partition")
}

/// Sum of the last `n` rows (calendar days, on the dense frame) within the partition.
fn rolling(e: Expr, n: usize) -> Expr {
    e.rolling_sum(RollingOptionsFixedWindow {
        window_size: n,
        min_periods: 1,
        ..Default::default()
    })
}

/// `num / den` where the window has results; +∞ where it has cost but no results; null where
/// it has neither (nothing delivered, the value is unknown rather than infinite).
pub(crate) fn ratio_of_sums(num: Expr, den: Expr) -> Expr {
    when(den.clone().gt(lit(0.0)))
        .then(num.clone().cast(DataType::Float64) / den.cast(DataType::Float64))
        .when(num.gt(lit(0.0)))
        .then(lit(f64::INFINITY))
        .otherwise(lit(NULL).cast(DataType::Float64))
}

/// Value of `e` on the row whose day equals `day_col`, broadcast over the creative.
fn at_day(e: Expr, day_col: &str) -> Expr {
    over_cid(e.filter(col(DAY).eq(col(day_col))).first())
}

/// Skeleton of every calendar day from the first to the last row of each group of `key`.
fn dense_days(lf: LazyFrame, key: &[&str]) -> PolarsResult<LazyFrame> {
    let key_exprs: Vec<Expr> = key.iter().map(|k| col(*k)).collect();
    let range = int_ranges(
        col("__start"),
        col("__end") + lit(1),
        lit(1),
        DataType::Int32,
    );
    let mut sel = key_exprs.clone();
    sel.push(range.alias(DAY));
    Ok(lf
        .group_by(key_exprs)
        .agg([
            col(DAY).min().alias("__start"),
            col(DAY).max().alias("__end"),
        ])
        .select(sel)
        .explode(
            by_name([DAY], true, false),
            ExplodeOptions {
                empty_as_null: false,
                keep_nulls: false,
            },
        ))
}

/// Stage 1: the needed columns, one row per creative-day (a repeated key keeps its last row,
/// the restatement, so a day is never counted twice), every calendar day between a creative's
/// first and last row present (missing days are zero delivery), sorted by creative and date,
/// with rolling and cumulative sums.
fn dense_creative_days(lf: LazyFrame, cfg: &LabelConfig) -> PolarsResult<LazyFrame> {
    let mut key_date: Vec<&str> = CREATIVE_KEY.to_vec();
    key_date.push(ad::DATE);
    let rows = lf
        .select([
            col(ad::TENANT),
            col(ad::PLATFORM),
            col(ad::ACCOUNT_ID),
            col(ad::AD_ID),
            col(ad::DATE).cast(DataType::Int32).alias(DAY),
            col(ad::IMPRESSIONS).cast(DataType::Int64).alias(IMPS),
            col(ad::CLICKS).cast(DataType::Int64).alias(CLICKS),
            col(ad::SPEND).cast(DataType::Float64).alias(SPEND),
            col(ad::CONVERSIONS).cast(DataType::Float64).alias(CONV),
            col(ad::REACH).cast(DataType::Int64).alias(REACH),
        ])
        .unique_stable(
            Some(by_name(
                CREATIVE_KEY.iter().copied().chain([DAY]),
                true,
                false,
            )),
            UniqueKeepStrategy::Last,
        )
        // Used three times below: computed once.
        .cache();

    // Dense integer ids keep the many window expressions below cheap.
    let creatives = rows
        .clone()
        .select(CREATIVE_KEY.iter().map(|k| col(*k)).collect::<Vec<_>>())
        .unique_stable(None, UniqueKeepStrategy::First)
        // Ids in key order: a frame sorted by (id, day) is then sorted by (key, date), so the
        // public steps never sort by the string key columns.
        .sort(CREATIVE_KEY, SortMultipleOptions::default())
        .with_row_index(CID, None)
        .with_column(
            col(CID)
                .first()
                .over(ACCOUNT_KEY.iter().map(|k| col(*k)).collect::<Vec<_>>())?
                .alias(AID),
        )
        .cache();
    let rows = rows
        .join(
            creatives.clone(),
            CREATIVE_KEY.iter().map(|k| col(*k)).collect::<Vec<_>>(),
            CREATIVE_KEY.iter().map(|k| col(*k)).collect::<Vec<_>>(),
            JoinArgs::new(JoinType::Inner),
        )
        .cache();
    let skeleton = dense_days(rows.clone().select([col(CID), col(DAY)]), &[CID])?.join(
        creatives,
        [col(CID)],
        [col(CID)],
        JoinArgs::new(JoinType::Left),
    );
    let dense = skeleton
        .join(
            rows.select([
                col(CID),
                col(DAY),
                col(IMPS),
                col(CLICKS),
                col(SPEND),
                col(CONV),
                col(REACH),
            ]),
            [col(CID), col(DAY)],
            [col(CID), col(DAY)],
            JoinArgs::new(JoinType::Left),
        )
        .sort([CID, DAY], SortMultipleOptions::default())
        .with_columns([
            col(SPEND).is_not_null().alias(SPEND_SEEN),
            col(CONV).is_not_null().alias(CONV_SEEN),
            col(REACH).is_not_null().alias(REACH_SEEN),
            col(IMPS).fill_null(lit(0i64)),
            col(CLICKS).fill_null(lit(0i64)),
            col(SPEND).fill_null(lit(0.0)),
            col(CONV).fill_null(lit(0.0)),
            col(REACH).fill_null(lit(0i64)),
            col(DAY).cast(DataType::Date).alias(ad::DATE),
        ])
        .with_column(col(IMPS).gt(lit(0i64)).alias(ACTIVE));

    let w = cfg.rolling_days;
    let mut sums = Vec::new();
    for c in [IMPS, CLICKS, SPEND, CONV] {
        sums.push(over_cid(rolling(col(c), w)).alias(roll(c, w)));
        sums.push(over_cid(col(c).cum_sum(false)).alias(cum(c)));
    }
    sums.push(over_cid(col(ACTIVE).cast(DataType::Int64).cum_sum(false)).alias(ACTIVE_IDX));
    sums.push(
        over_cid(col(SPEND_SEEN).cast(DataType::Int64).cum_sum(false)).alias(cum(SPEND_SEEN)),
    );
    sums.push(over_cid(col(CONV_SEEN).cast(DataType::Int64).cum_sum(false)).alias(cum(CONV_SEEN)));
    sums.push(over_cid(col(DAY).min()).alias(FIRST_DAY));
    sums.push(over_aid(col(DAY).min()).alias(ACCT_FIRST_DAY));
    sums.push(over_aid(col(DAY).max()).alias(ACCT_LAST_DAY));
    sums.push(over_cid(col(DAY).filter(col(ACTIVE)).min()).alias(FIRST_ACTIVE_DAY));
    Ok(dense.with_columns(sums))
}

/// Account totals per calendar day (over all its creatives), dense, with rolling and cumulative
/// sums; joined back onto the creative days.
fn with_account_sums(lf: LazyFrame, cfg: &LabelConfig) -> PolarsResult<LazyFrame> {
    let w = cfg.rolling_days;
    let lf = lf.cache();
    let daily = lf.clone().group_by([col(AID), col(DAY)]).agg([
        col(IMPS).sum(),
        col(CLICKS).sum(),
        col(SPEND).sum(),
        col(CONV).sum(),
    ]);
    let dense = dense_days(daily.clone(), &[AID])?
        .join(
            daily,
            [col(AID), col(DAY)],
            [col(AID), col(DAY)],
            JoinArgs::new(JoinType::Left),
        )
        .sort([AID, DAY], SortMultipleOptions::default());
    let mut exprs = vec![col(AID), col(DAY)];
    for c in [IMPS, CLICKS, SPEND, CONV] {
        let v = col(c).fill_null(lit(0));
        exprs.push(v.clone().alias(acct(c)));
        exprs.push(over_aid(rolling(v.clone(), w)).alias(acct(&roll(c, w))));
        exprs.push(over_aid(v.cum_sum(false)).alias(acct(&cum(c))));
    }
    let acct_days = dense.select(exprs);
    Ok(lf
        .join(
            acct_days,
            [col(AID), col(DAY)],
            [col(AID), col(DAY)],
            JoinArgs::new(JoinType::Left),
        )
        .sort([CID, DAY], SortMultipleOptions::default()))
}

/// The (numerator, denominator) base columns of each metric kind.
const KINDS: [(&str, &str, &str); 3] = [
    ("cpa", SPEND, CONV),
    ("cpc", SPEND, CLICKS),
    ("inv_ctr", IMPS, CLICKS),
];

/// `e_by_kind(num, den)` chosen by the creative's metric kind (null when it has none).
fn by_kind(f: impl Fn(&str, &str) -> Expr) -> Expr {
    let [(k0, n0, d0), (k1, n1, d1), (k2, n2, d2)] = KINDS;
    when(col(METRIC_KIND_FINAL).eq(lit(k0)))
        .then(f(n0, d0))
        .when(col(METRIC_KIND_FINAL).eq(lit(k1)))
        .then(f(n1, d1))
        .when(col(METRIC_KIND_FINAL).eq(lit(k2)))
        .then(f(n2, d2))
        .otherwise(lit(NULL).cast(DataType::Float64))
}

/// The full label stage: every creative-day with baseline, metric, rolling value, ratios,
/// account index, status and run flags (internal columns included).
pub(crate) fn labelled_days(lf: LazyFrame, cfg: &LabelConfig) -> PolarsResult<LazyFrame> {
    let w = cfg.rolling_days;
    let lf = dense_creative_days(lf, cfg)?;
    let lf = with_account_sums(lf, cfg)?;

    // Launch baseline: the first active day where cumulative impressions reach the floor within
    // the allowed number of active days. Frozen (for features) there, or at the last allowed
    // active day when the floor is never reached.
    let reached = col(ACTIVE)
        .and(col(cum(IMPS)).gt_eq(lit(cfg.baseline_min_impressions)))
        .and(col(ACTIVE_IDX).lt_eq(lit(cfg.baseline_max_active_days)));
    let last_allowed = col(ACTIVE).and(col(ACTIVE_IDX).eq(lit(cfg.baseline_max_active_days)));
    let lf = lf.with_columns([
        over_cid(col(DAY).filter(reached.clone()).min()).alias(BASE_END_DAY),
        over_cid(col(DAY).filter(reached.or(last_allowed)).min()).alias(FREEZE_DAY),
    ]);

    // Baseline sums: cumulative sums on the baseline's last day (the window starts at the
    // creative's first row; days before its first active day add zero).
    let mut base = Vec::new();
    for c in [IMPS, CLICKS, SPEND, CONV, SPEND_SEEN] {
        base.push(at_day(col(cum(c)), BASE_END_DAY).alias(format!("__base{c}")));
    }
    // The account over the same calendar days: cum at the end minus cum before the first active
    // day.
    for c in [IMPS, CLICKS, SPEND, CONV] {
        let end = at_day(col(acct(&cum(c))), BASE_END_DAY);
        let before = at_day(col(acct(&cum(c))) - col(acct(c)), FIRST_ACTIVE_DAY);
        base.push((end - before).alias(format!("__acctbase{c}")));
    }
    let lf = lf.with_columns(base);

    let spend_known = col(format!("__base{SPEND_SEEN}"))
        .gt(lit(0i64))
        .and(col(format!("__base{SPEND}")).gt(lit(0.0)));
    let kind = when(col(BASE_END_DAY).is_null())
        .then(lit(NULL).cast(DataType::String))
        .when(
            spend_known
                .clone()
                .and(col(format!("__base{CONV}")).gt_eq(lit(cfg.cpa_min_conversions))),
        )
        .then(lit("cpa"))
        .when(spend_known.and(col(format!("__base{CLICKS}")).gt_eq(lit(cfg.cpc_min_clicks))))
        .then(lit("cpc"))
        .when(col(format!("__base{CLICKS}")).gt_eq(lit(cfg.inv_ctr_min_clicks)))
        .then(lit("inv_ctr"))
        .otherwise(lit(NULL).cast(DataType::String));
    let lf = lf.with_column(kind.alias(METRIC_KIND_FINAL));

    let loo = if cfg.account_index_leave_one_out {
        1.0
    } else {
        0.0
    };
    let lf = lf.with_columns([
        by_kind(|n, d| ratio_of_sums(col(format!("__base{n}")), col(format!("__base{d}"))))
            .alias(BASELINE_FINAL),
        by_kind(|n, d| ratio_of_sums(col(roll(n, w)), col(roll(d, w)))).alias(ROLLING_VALUE),
        by_kind(|n, d| {
            let own = |c: &str| col(roll(c, w)).cast(DataType::Float64) * lit(loo);
            ratio_of_sums(
                col(acct(&roll(n, w))).cast(DataType::Float64) - own(n),
                col(acct(&roll(d, w))).cast(DataType::Float64) - own(d),
            )
        })
        .alias("__acct_roll"),
        by_kind(|n, d| {
            let own = |c: &str| col(format!("__base{c}")).cast(DataType::Float64) * lit(loo);
            ratio_of_sums(
                col(format!("__acctbase{n}")).cast(DataType::Float64) - own(n),
                col(format!("__acctbase{d}")).cast(DataType::Float64) - own(d),
            )
        })
        .alias("__acct_base"),
    ]);

    // Ratio only after the baseline window; the account index only where both of its values
    // are finite and positive (otherwise there is nothing to net out and the raw ratio stands).
    let after_base = col(DAY).gt(col(BASE_END_DAY));
    let index = col("__acct_roll") / col("__acct_base");
    let lf = lf
        .with_columns([
            when(after_base.clone())
                .then(col(ROLLING_VALUE) / col(BASELINE_FINAL))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias(RATIO),
            when(
                index
                    .clone()
                    .is_finite()
                    .and(index.clone().gt(lit(0.0)))
                    .and(after_base),
            )
            .then(index)
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias(ACCOUNT_INDEX),
        ])
        .with_column(
            when(col(ACCOUNT_INDEX).is_not_null())
                .then(col(RATIO) / col(ACCOUNT_INDEX))
                .otherwise(col(RATIO))
                .alias(ADJUSTED_RATIO),
        )
        .with_column(if cfg.seasonal_adjustment {
            col(ADJUSTED_RATIO).alias(USED_RATIO)
        } else {
            col(RATIO).alias(USED_RATIO)
        });

    // A run is complete on day t when the last N calendar days (all on the dense frame) were at
    // or above the onset ratio.
    let n = cfg.onset_consecutive_days;
    let run = |r: &str| {
        let above = col(r)
            .gt_eq(lit(cfg.onset_ratio))
            .fill_null(lit(false))
            .cast(DataType::Int64);
        // min_periods = n: the first n-1 days of a creative cannot complete a run.
        over_cid(above.rolling_sum(RollingOptionsFixedWindow {
            window_size: n,
            min_periods: n,
            ..Default::default()
        }))
        .eq(lit(n as i64))
        .fill_null(lit(false))
    };
    let lf = lf.with_columns([
        run(USED_RATIO).alias(RUN_DONE),
        run(RATIO).alias(RUN_DONE_UNADJ),
    ]);
    let fatigued_by_now =
        over_cid(col(RUN_DONE).cast(DataType::Int64).cum_sum(false)).gt(lit(0i64));
    let status = when(fatigued_by_now)
        .then(lit(STATUS_FATIGUED))
        .when(col(USED_RATIO).is_null())
        .then(lit(STATUS_INSUFFICIENT))
        .when(col(USED_RATIO).gt_eq(lit(cfg.limited_ratio)))
        .then(lit(STATUS_LIMITED))
        .otherwise(lit(STATUS_HEALTHY));
    let known = col(DAY).gt_eq(col(BASE_END_DAY));
    Ok(lf.with_columns([
        status.alias(STATUS),
        (col(DAY) - col(FIRST_DAY))
            .cast(DataType::Int64)
            .alias(AGE_DAYS),
        col(FIRST_DAY).eq(col(ACCT_FIRST_DAY)).alias(LEFT_TRUNCATED),
        // As known on that day: the metric and baseline exist from the baseline's last day on.
        when(known.clone())
            .then(col(METRIC_KIND_FINAL))
            .otherwise(lit(NULL).cast(DataType::String))
            .alias(METRIC_KIND),
        when(known.clone())
            .then(col(ROLLING_VALUE))
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias(ROLLING_VALUE),
        when(known)
            .then(col(BASELINE_FINAL))
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias(BASELINE_VALUE),
    ]))
}
