//! Per creative-day model inputs (docs/design.md §4), from the `ad_daily` frame, using days ≤ t
//! only for the row of day t. Rows: every calendar day from a creative's first to its last row
//! (gaps are zero-delivery days), sorted by creative key and date; columns: the creative key,
//! `date`, then [`feature_names`] in order.
//!
//! - volume: age, cumulative and 7-day impressions / spend / clicks;
//! - reach (where the platform reports it per ad-day): 7-day impressions / 7-day summed daily
//!   reach (a frequency proxy: daily reach overlaps, so it is not unique people), cumulative
//!   impressions / cumulative summed reach, and 7-day reach growth versus the 7 days before;
//! - CTR, CVR (conversions per click), CPC, CPM (spend per 1,000 impressions) over 1, 3, 7
//!   calendar days, each a ratio of window sums;
//! - the 7-day metrics relative to the launch baseline (sums up to the baseline's last day, or
//!   up to t while the baseline is still open — never beyond t), to the running best so far
//!   (max for CTR/CVR, min for CPC/CPM, over days ≤ t), and to the account's same-day median
//!   over its creatives that delivered that day (nets out seasonality and auction-wide moves);
//! - least-squares slope of ln((clicks + a) / (impressions + 2a)) against the day over the
//!   last `slope_days` calendar days, on delivering days only (rolling sums of 1, t, t², y, ty);
//! - 7-day spend change versus the previous 7 days, platform code (index in
//!   [`Platform::ALL`], -1 if unknown), ISO weekday (Monday = 1), and days since the label ratio
//!   first reached `limited_ratio`.
//!
//! Missing values are explicit: a rate with an empty denominator is 0 and a relative value is
//! 1 (no change), each with an indicator column (`has_spend`, `has_conversions`,
//! `has_reach_7d`, `delivered_1d`, `delivered_3d`, `baseline_complete`, `log_ctr_slope_valid`,
//! `spend_change_valid`, `ever_limited`), so the matrix for the models has no null, NaN or ∞.
//! `left_truncated` (first row on the account's first data day) marks rows whose age and
//! baseline are lower bounds / taken from the first available days.

use ndarray::Array2;
use polars::prelude::*;

use super::FeatureConfig;
use super::cols::*;
use super::prepare::*;
use crate::platforms::Platform;
use crate::schema::cols as ad;

/// The model input columns, in matrix column order.
pub fn feature_names() -> Vec<&'static str> {
    vec![
        AGE_DAYS,
        CUM_IMPRESSIONS,
        CUM_SPEND,
        CUM_CLICKS,
        IMPRESSIONS_7D,
        SPEND_7D,
        CLICKS_7D,
        FREQUENCY_7D,
        CUM_FREQUENCY,
        REACH_GROWTH_7D,
        HAS_REACH_7D,
        CTR_1D,
        CTR_3D,
        CTR_7D,
        CVR_1D,
        CVR_3D,
        CVR_7D,
        CPC_1D,
        CPC_3D,
        CPC_7D,
        CPM_1D,
        CPM_3D,
        CPM_7D,
        CTR_VS_BASELINE,
        CVR_VS_BASELINE,
        CPC_VS_BASELINE,
        CPM_VS_BASELINE,
        CTR_VS_PEAK,
        CVR_VS_PEAK,
        CPC_VS_PEAK,
        CPM_VS_PEAK,
        CTR_VS_ACCOUNT,
        CVR_VS_ACCOUNT,
        CPC_VS_ACCOUNT,
        CPM_VS_ACCOUNT,
        LOG_CTR_SLOPE_7D,
        SLOPE_VALID,
        SPEND_CHANGE_7D,
        SPEND_CHANGE_VALID,
        PLATFORM_CODE,
        WEEKDAY,
        DAYS_SINCE_LIMITED,
        EVER_LIMITED,
        HAS_SPEND,
        HAS_CONVERSIONS,
        BASELINE_COMPLETE,
        DELIVERED_1D,
        DELIVERED_3D,
        LEFT_TRUNCATED,
    ]
}

const F64: DataType = DataType::Float64;

fn null_f64() -> Expr {
    lit(NULL).cast(F64)
}

/// num / den where den > 0 and both are known; null otherwise (never ∞ or NaN).
fn safe_div(num: Expr, den: Expr) -> Expr {
    when(den.clone().gt(lit(0.0)).and(num.clone().is_not_null()))
        .then(num.cast(F64) / den.cast(F64))
        .otherwise(null_f64())
}

/// Name of the `n`-day window sum of an internal base column (computed once, see
/// [`with_window_sums`]).
fn wsum(c: &str, n: usize) -> String {
    format!("__w{n}{c}")
}

/// Adds the 1-, 3- and 7-day window sums every rate below is built from, each computed once.
fn with_window_sums(lf: LazyFrame) -> LazyFrame {
    let mut exprs = Vec::new();
    for c in [IMPS, CLICKS, SPEND, CONV, REACH, REACH_SEEN] {
        exprs.push(col(c).cast(F64).alias(wsum(c, 1)));
        for n in [3, 7] {
            exprs.push(
                over_cid(col(c).cast(F64).rolling_sum(RollingOptionsFixedWindow {
                    window_size: n,
                    min_periods: 1,
                    ..Default::default()
                }))
                .alias(wsum(c, n)),
            );
        }
    }
    lf.with_columns(exprs)
}

/// Rates over an `n`-day window. CPC/CPM need spend reported, CVR needs conversions reported
/// (as known by day t: any row so far carried the field).
fn rates(n: usize) -> [Expr; 4] {
    let (i, c, s, v) = (
        col(wsum(IMPS, n)),
        col(wsum(CLICKS, n)),
        col(wsum(SPEND, n)),
        col(wsum(CONV, n)),
    );
    let spend_ok = col(HAS_SPEND);
    let conv_ok = col(HAS_CONVERSIONS);
    [
        safe_div(c.clone(), i.clone()),
        when(conv_ok)
            .then(safe_div(v, c.clone()))
            .otherwise(null_f64()),
        when(spend_ok.clone())
            .then(safe_div(s.clone(), c))
            .otherwise(null_f64()),
        when(spend_ok)
            .then(safe_div(s * lit(1000.0), i))
            .otherwise(null_f64()),
    ]
}

/// Creative-day features; see the module docs. `cfg.labels` supplies the label ratio used by
/// `days_since_limited`.
pub fn features(lf: LazyFrame, cfg: &FeatureConfig) -> PolarsResult<LazyFrame> {
    let lf = with_window_sums(labelled_days(lf, &cfg.labels)?).with_columns([
        col(cum(SPEND_SEEN)).gt(lit(0i64)).alias(HAS_SPEND),
        col(cum(CONV_SEEN)).gt(lit(0i64)).alias(HAS_CONVERSIONS),
    ]);

    // Windows of 1, 3 and 7 calendar days.
    let [ctr1, cvr1, cpc1, cpm1] = rates(1);
    let [ctr3, cvr3, cpc3, cpm3] = rates(3);
    let [ctr7, cvr7, cpc7, cpm7] = rates(7);
    let reach7 = col(wsum(REACH, 7));
    let reach_seen7 = col(wsum(REACH_SEEN, 7));
    let imps7 = col(wsum(IMPS, 7));
    let spend7 = col(wsum(SPEND, 7));
    let lf = lf.with_columns([
        ctr1.alias(CTR_1D),
        cvr1.alias(CVR_1D),
        cpc1.alias(CPC_1D),
        cpm1.alias(CPM_1D),
        ctr3.alias(CTR_3D),
        cvr3.alias(CVR_3D),
        cpc3.alias(CPC_3D),
        cpm3.alias(CPM_3D),
        ctr7.alias(CTR_7D),
        cvr7.alias(CVR_7D),
        cpc7.alias(CPC_7D),
        cpm7.alias(CPM_7D),
        imps7.clone().alias(IMPRESSIONS_7D),
        spend7.clone().alias(SPEND_7D),
        col(wsum(CLICKS, 7)).alias(CLICKS_7D),
        col(cum(IMPS)).cast(F64).alias(CUM_IMPRESSIONS),
        col(cum(SPEND)).cast(F64).alias(CUM_SPEND),
        col(cum(CLICKS)).cast(F64).alias(CUM_CLICKS),
        reach_seen7.gt(lit(0.0)).alias(HAS_REACH_7D),
        safe_div(imps7, reach7.clone()).alias(FREQUENCY_7D),
        safe_div(
            col(cum(IMPS)),
            over_cid(col(REACH).cast(F64).cum_sum(false)),
        )
        .alias(CUM_FREQUENCY),
        (safe_div(reach7.clone(), over_cid(reach7.shift(lit(7)))) - lit(1.0))
            .alias(REACH_GROWTH_7D),
        (safe_div(spend7.clone(), over_cid(spend7.shift(lit(7)))) - lit(1.0))
            .alias(SPEND_CHANGE_7D),
        col(wsum(IMPS, 3)).gt(lit(0.0)).alias(DELIVERED_3D),
        col(ACTIVE).alias(DELIVERED_1D),
    ]);

    // Baseline as known at t: sums up to min(t, freeze day). Before the freeze day the cumulative
    // sum at t is the baseline so far; the freeze day is the first day the floor is reached or
    // the allowed active days run out, so `day <= freeze` is decided by days ≤ t.
    let frozen = |c: &str| {
        let at_freeze = over_cid(col(cum(c)).filter(col(DAY).eq(col(FREEZE_DAY))).first());
        when(
            col(FREEZE_DAY)
                .is_null()
                .or(col(DAY).lt_eq(col(FREEZE_DAY))),
        )
        .then(col(cum(c)).cast(F64))
        .otherwise(at_freeze.cast(F64))
    };
    let (bi, bc, bs, bv) = (frozen(IMPS), frozen(CLICKS), frozen(SPEND), frozen(CONV));
    let best = |c: &str, max: bool| {
        let e = if max {
            col(c).cum_max(false)
        } else {
            col(c).cum_min(false)
        };
        over_cid(e)
    };
    let lf = lf.with_columns([
        safe_div(col(CTR_7D), safe_div(bc.clone(), bi.clone())).alias(CTR_VS_BASELINE),
        safe_div(col(CVR_7D), safe_div(bv, bc.clone())).alias(CVR_VS_BASELINE),
        safe_div(col(CPC_7D), safe_div(bs.clone(), bc)).alias(CPC_VS_BASELINE),
        safe_div(col(CPM_7D), safe_div(bs * lit(1000.0), bi)).alias(CPM_VS_BASELINE),
        safe_div(col(CTR_7D), best(CTR_7D, true)).alias(CTR_VS_PEAK),
        safe_div(col(CVR_7D), best(CVR_7D, true)).alias(CVR_VS_PEAK),
        safe_div(col(CPC_7D), best(CPC_7D, false)).alias(CPC_VS_PEAK),
        safe_div(col(CPM_7D), best(CPM_7D, false)).alias(CPM_VS_PEAK),
        col(FREEZE_DAY)
            .is_not_null()
            .and(col(DAY).gt_eq(col(FREEZE_DAY)))
            .alias(BASELINE_COMPLETE),
    ]);

    // Account's same-day median over its creatives that delivered that day (whether a creative
    // has a row on a zero day depends on its later rows, so zero days are left out).
    let acct_day = [col(AID), col(DAY)];
    let median = |c: &str| {
        col(c)
            .filter(col(ACTIVE))
            .median()
            .over(acct_day.clone())
            .expect("over with a non-empty partition")
    };
    let lf = lf.with_columns([
        safe_div(col(CTR_7D), median(CTR_7D)).alias(CTR_VS_ACCOUNT),
        safe_div(col(CVR_7D), median(CVR_7D)).alias(CVR_VS_ACCOUNT),
        safe_div(col(CPC_7D), median(CPC_7D)).alias(CPC_VS_ACCOUNT),
        safe_div(col(CPM_7D), median(CPM_7D)).alias(CPM_VS_ACCOUNT),
    ]);

    // Log-CTR slope by least squares over the last `slope_days` calendar days, delivering days
    // only: slope = (n Σty − Σt Σy) / (n Σt² − (Σt)²), t = age in days.
    let a = cfg.ctr_smoothing;
    let wgt = col(ACTIVE).cast(F64);
    let t = col(AGE_DAYS).cast(F64);
    let y = ((col(CLICKS).cast(F64) + lit(a)) / (col(IMPS).cast(F64) + lit(2.0 * a)))
        .log(lit(std::f64::consts::E));
    let y = when(col(ACTIVE)).then(y).otherwise(lit(0.0));
    let sw = |e: Expr| {
        over_cid(e.rolling_sum(RollingOptionsFixedWindow {
            window_size: cfg.slope_days,
            min_periods: 1,
            ..Default::default()
        }))
    };
    let lf = lf.with_columns([
        sw(wgt.clone()).alias("__sn"),
        sw(wgt.clone() * t.clone()).alias("__st"),
        sw(wgt.clone() * t.clone() * t.clone()).alias("__stt"),
        sw(y.clone()).alias("__sy"),
        sw(y * t).alias("__sty"),
    ]);
    let den = col("__sn") * col("__stt") - col("__st") * col("__st");
    let num = col("__sn") * col("__sty") - col("__st") * col("__sy");
    let slope_ok = col("__sn")
        .gt_eq(lit(cfg.slope_min_points as f64))
        .and(den.clone().gt(lit(1e-9)));

    // Days since the label ratio first reached `limited_ratio` (days ≤ t only: null before).
    let first_limited = over_cid(
        col(DAY)
            .filter(col(USED_RATIO).gt_eq(lit(cfg.labels.limited_ratio)))
            .min(),
    );
    let mut platform_code = lit(-1.0);
    for (i, p) in Platform::ALL.iter().enumerate().rev() {
        platform_code = when(col(ad::PLATFORM).eq(lit(p.as_str())))
            .then(lit(i as f64))
            .otherwise(platform_code);
    }
    let lf = lf.with_columns([
        when(slope_ok.clone())
            .then(num / den)
            .otherwise(null_f64())
            .alias(LOG_CTR_SLOPE_7D),
        slope_ok.alias(SLOPE_VALID),
        when(col(DAY).gt_eq(first_limited.clone()))
            .then((col(DAY) - first_limited.clone()).cast(F64))
            .otherwise(null_f64())
            .alias(DAYS_SINCE_LIMITED),
        col(DAY)
            .gt_eq(first_limited)
            .fill_null(lit(false))
            .alias(EVER_LIMITED),
        platform_code.alias(PLATFORM_CODE),
        col(ad::DATE).dt().weekday().cast(F64).alias(WEEKDAY),
    ]);
    let lf = lf.with_column(col(SPEND_CHANGE_7D).is_not_null().alias(SPEND_CHANGE_VALID));

    // Neutral fills: relative values 1, everything else 0; flags to f64 0/1.
    let relative = [
        CTR_VS_BASELINE,
        CVR_VS_BASELINE,
        CPC_VS_BASELINE,
        CPM_VS_BASELINE,
        CTR_VS_PEAK,
        CVR_VS_PEAK,
        CPC_VS_PEAK,
        CPM_VS_PEAK,
        CTR_VS_ACCOUNT,
        CVR_VS_ACCOUNT,
        CPC_VS_ACCOUNT,
        CPM_VS_ACCOUNT,
    ];
    let mut sel: Vec<Expr> = CREATIVE_KEY.iter().map(|k| col(*k)).collect();
    sel.push(col(ad::DATE));
    for name in feature_names() {
        let neutral = if relative.contains(&name) { 1.0 } else { 0.0 };
        let v = col(name).cast(F64);
        sel.push(
            when(v.clone().is_finite())
                .then(v)
                .otherwise(lit(neutral))
                .alias(name),
        );
    }
    // Creative ids are in key order, so this is (key, date) order.
    Ok(lf
        .sort([CID, DAY], SortMultipleOptions::default())
        .select(sel))
}

/// The model matrix: one row per frame row, one column per [`feature_names`] entry, built
/// column by column. Errors if a column is missing or holds a null.
pub fn feature_matrix(df: &DataFrame) -> PolarsResult<Array2<f64>> {
    let names = feature_names();
    let mut m = Array2::<f64>::zeros((df.height(), names.len()));
    for (j, name) in names.iter().enumerate() {
        let c = df.column(name)?.cast(&F64)?;
        let ca = c.f64()?;
        polars_ensure!(
            ca.null_count() == 0,
            ComputeError: "feature column `{}` has {} null values", name, ca.null_count()
        );
        for (dst, v) in m.column_mut(j).iter_mut().zip(ca.into_no_null_iter()) {
            *dst = v;
        }
    }
    Ok(m)
}
