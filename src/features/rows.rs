//! The label and feature pipelines computed row by row in plain Rust: what scoring, training
//! and evaluation use.
//!
//! The Polars pipelines ([`super::label_days`], [`super::label_creatives`], [`super::features`])
//! are the definition; a Polars query has a fixed cost of planning and dispatch (about 20 ms)
//! that dwarfs the work for the few creatives of one scoring request, and at scale its many
//! materialised window steps make it several times slower and hungrier than one pass per
//! creative. [`compute`] gives the same values for every creative-day — the feature matrix
//! in [`super::feature_names`] order (all days, or each creative's last: [`Keep`]), the status
//! and the label ratio — and the same per-creative labels. Tests compare it with the Polars
//! pipelines value by value on simulated data with gaps, restatements and missing fields.
//!
//! To agree to the last bit, the floating-point steps follow the Polars kernels: rolling sums
//! add the entering value and subtract the leaving one with separate compensation terms (as
//! Polars' rolling sum does), cumulative sums and maxima run in row order, a median of an even
//! count is `lower + 0.5·(upper − lower)`, and comparisons order NaN above every number.

use std::collections::HashMap;

use ndarray::Array2;
use rayon::prelude::*;

use super::cols::*;
use super::{FeatureConfig, LabelConfig, MetricKind, feature_names};
use crate::platforms::Platform;
use crate::schema::{AdDailyRow, date_to_days};

/// One creative of the input, with what the labels say about its whole history.
#[derive(Debug, Clone, PartialEq)]
pub struct RowCreative {
    pub platform: String,
    pub account_id: String,
    pub ad_id: String,
    /// Onset day (days since 1970-01-01), if any.
    pub onset: Option<i32>,
    /// The onset day the unadjusted ratio gives (equal to `onset` without seasonal adjustment).
    pub onset_unadjusted: Option<i32>,
    /// The cost-like metric its labels use (none when `insufficient`).
    pub metric: Option<MetricKind>,
    /// Stopped delivering (censored at its last active day when it has no onset).
    pub stopped: bool,
    /// Censoring day (last active day if stopped, else the account's last data day).
    pub censor: i32,
    /// Its last day with impressions, if any.
    pub last_active: Option<i32>,
    pub insufficient: bool,
    pub left_truncated: bool,
}

/// Every creative-day of the input (every calendar day from a creative's first to its last
/// row), sorted by creative key and day; the features of the [`Keep`] rows.
#[derive(Debug, Clone)]
pub struct RowFrame {
    /// Sorted by (platform, account_id, ad_id).
    pub creatives: Vec<RowCreative>,
    /// Per row: index into `creatives`.
    pub creative: Vec<usize>,
    /// Per row: day number (days since 1970-01-01).
    pub day: Vec<i32>,
    /// Per row: [`STATUS_HEALTHY`], [`STATUS_LIMITED`], [`STATUS_FATIGUED`] or
    /// [`STATUS_INSUFFICIENT`].
    pub status: Vec<&'static str>,
    /// Per row: the ratio the labels use (adjusted when seasonal adjustment is on).
    pub ratio: Vec<Option<f64>>,
    /// Per row: the `ctr_7d_vs_peak` feature (as in `x`).
    pub ctr_vs_peak: Vec<f64>,
    /// The rows whose features are in `x`, in order.
    pub kept: Vec<usize>,
    /// Per kept row: the features, columns in [`feature_names`] order, no null, NaN or ∞.
    pub x: Array2<f64>,
}

/// Which rows get their features in the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Every creative-day.
    All,
    /// Each creative's last day only (what scoring reads); the other days are still computed
    /// (their sums, running maxima and the account medians feed the last one).
    Last,
    /// The days that can become training rows: at risk (healthy or limited), delivering, on a
    /// day number that is a multiple of the stride (a superset of what
    /// `fatigue::survival_rows` picks); the other days are still computed.
    AtRiskEvery(u32),
}

/// `v >= t` with NaN above every number (Polars' comparison order).
fn ge(v: f64, t: f64) -> bool {
    v.is_nan() || v >= t
}

/// `v > t` with NaN above every number.
fn gt(v: f64, t: f64) -> bool {
    v.is_nan() || v > t
}

/// Sums of the last `w` values (fewer at the start), computed as Polars' rolling sum does:
/// the leaving values are subtracted and the entering ones added, each side with its own
/// compensation term, and the state is reset when the window no longer overlaps.
fn rolling_f64(v: &[f64], w: usize) -> Vec<f64> {
    let (mut sum, mut err_add, mut err_sub) = (0.0f64, 0.0f64, 0.0f64);
    let (mut start, mut end) = (0usize, 0usize);
    let mut out = Vec::with_capacity(v.len());
    for new_end in 1..=v.len() {
        let new_start = new_end.saturating_sub(w);
        if new_start >= end {
            sum = 0.0;
            err_add = 0.0;
            err_sub = 0.0;
            start = new_start;
            end = new_start;
        }
        for &x in &v[start..new_start] {
            let y = -x - err_sub;
            let s = sum + y;
            err_sub = (s - sum) - y;
            sum = s;
        }
        for &x in &v[end..new_end] {
            let y = x - err_add;
            let s = sum + y;
            err_add = (s - sum) - y;
            sum = s;
        }
        start = new_start;
        end = new_end;
        out.push(sum);
    }
    out
}

/// Exact sums of the last `w` integers.
fn rolling_i64(v: &[i64], w: usize) -> Vec<i64> {
    let mut out = Vec::with_capacity(v.len());
    let mut s = 0i64;
    for i in 0..v.len() {
        s += v[i];
        if i >= w {
            s -= v[i - w];
        }
        out.push(s);
    }
    out
}

fn cum_f64(v: &[f64]) -> Vec<f64> {
    let mut s = 0.0;
    v.iter()
        .map(|x| {
            s += x;
            s
        })
        .collect()
}

fn cum_i64(v: &[i64]) -> Vec<i64> {
    let mut s = 0;
    v.iter()
        .map(|x| {
            s += x;
            s
        })
        .collect()
}

/// `num / den` where the window has results; +∞ where it has cost but no results; none where
/// it has neither.
fn ratio_of_sums(num: Option<f64>, den: Option<f64>) -> Option<f64> {
    match (num, den) {
        (n, Some(d)) if gt(d, 0.0) => n.map(|n| n / d),
        (Some(n), _) if gt(n, 0.0) => Some(f64::INFINITY),
        _ => None,
    }
}

/// `num / den` where `den > 0` and `num` is known; none otherwise.
fn safe_div(num: Option<f64>, den: Option<f64>) -> Option<f64> {
    match (num, den) {
        (Some(n), Some(d)) if gt(d, 0.0) => Some(n / d),
        _ => None,
    }
}

fn div(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? / b?)
}

/// A creative's input rows on its calendar days (missing days are zero delivery).
struct Dense {
    account: usize,
    first: i32,
    imps: Vec<i64>,
    clicks: Vec<i64>,
    spend: Vec<f64>,
    conv: Vec<f64>,
    reach: Vec<i64>,
    spend_seen: Vec<bool>,
    conv_seen: Vec<bool>,
    reach_seen: Vec<bool>,
}

impl Dense {
    fn len(&self) -> usize {
        self.imps.len()
    }
    fn active(&self, i: usize) -> bool {
        self.imps[i] > 0
    }
}

/// An account's totals per calendar day over its creatives, from its first to its last day.
struct Account {
    first: i32,
    last: i32,
    imps: Vec<i64>,
    clicks: Vec<i64>,
    spend: Vec<f64>,
    conv: Vec<f64>,
}

/// Rolling and cumulative sums of an account's totals, for one rolling window.
struct AccountSums {
    roll_imps: Vec<i64>,
    roll_clicks: Vec<i64>,
    roll_spend: Vec<f64>,
    roll_conv: Vec<f64>,
    cum_imps: Vec<i64>,
    cum_clicks: Vec<i64>,
    cum_spend: Vec<f64>,
    cum_conv: Vec<f64>,
}

impl AccountSums {
    fn new(a: &Account, w: usize) -> AccountSums {
        AccountSums {
            roll_imps: rolling_i64(&a.imps, w),
            roll_clicks: rolling_i64(&a.clicks, w),
            roll_spend: rolling_f64(&a.spend, w),
            roll_conv: rolling_f64(&a.conv, w),
            cum_imps: cum_i64(&a.imps),
            cum_clicks: cum_i64(&a.clicks),
            cum_spend: cum_f64(&a.spend),
            cum_conv: cum_f64(&a.conv),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Cpa,
    Cpc,
    InvCtr,
}

/// Sums of the four base measures (impressions, clicks, spend, conversions) as f64.
#[derive(Debug, Clone, Copy)]
struct Sums4 {
    imps: f64,
    clicks: f64,
    spend: f64,
    conv: f64,
}

impl Sums4 {
    /// (numerator, denominator) of a metric kind.
    fn pick(&self, k: Kind) -> (f64, f64) {
        match k {
            Kind::Cpa => (self.spend, self.conv),
            Kind::Cpc => (self.spend, self.clicks),
            Kind::InvCtr => (self.imps, self.clicks),
        }
    }
    /// `self − loo·other`, measure by measure.
    fn minus(&self, other: &Sums4, loo: f64) -> Sums4 {
        Sums4 {
            imps: self.imps - other.imps * loo,
            clicks: self.clicks - other.clicks * loo,
            spend: self.spend - other.spend * loo,
            conv: self.conv - other.conv * loo,
        }
    }
}

/// What the labels say about one creative, per day and overall.
struct Labelled {
    /// Per day: the ratio the labels use (adjusted when enabled).
    used: Vec<Option<f64>>,
    status: Vec<&'static str>,
    run_done: Vec<bool>,
    /// `run_done` of the unadjusted ratio (for the rule counts).
    run_done_raw: Vec<bool>,
    freeze: Option<usize>,
    kind: Option<Kind>,
}

/// The label pass of [`super::prepare::labelled_days`] over one creative.
fn label(d: &Dense, acct: &Account, sums: &AccountSums, cfg: &LabelConfig) -> Labelled {
    let n = d.len();
    let w = cfg.rolling_days;
    let cum_imps = cum_i64(&d.imps);
    let cum_clicks = cum_i64(&d.clicks);
    let cum_spend = cum_f64(&d.spend);
    let cum_conv = cum_f64(&d.conv);
    let roll_imps = rolling_i64(&d.imps, w);
    let roll_clicks = rolling_i64(&d.clicks, w);
    let roll_spend = rolling_f64(&d.spend, w);
    let roll_conv = rolling_f64(&d.conv, w);
    let off = (d.first - acct.first) as usize;

    let mut active_idx = 0i64;
    let (mut base_end, mut freeze, mut first_active) = (None, None, None);
    for (i, &cum) in cum_imps.iter().enumerate() {
        if !d.active(i) {
            continue;
        }
        active_idx += 1;
        first_active.get_or_insert(i);
        let reached =
            cum >= cfg.baseline_min_impressions && active_idx <= cfg.baseline_max_active_days;
        if reached && base_end.is_none() {
            base_end = Some(i);
        }
        if (reached || active_idx == cfg.baseline_max_active_days) && freeze.is_none() {
            freeze = Some(i);
        }
    }
    let spend_seen_to = |i: usize| d.spend_seen[..=i].iter().any(|s| *s);
    let base = base_end.map(|b| Sums4 {
        imps: cum_imps[b] as f64,
        clicks: cum_clicks[b] as f64,
        spend: cum_spend[b],
        conv: cum_conv[b],
    });
    let kind = match (base_end, base) {
        (Some(b), Some(s)) => {
            let spend_known = spend_seen_to(b) && gt(s.spend, 0.0);
            if spend_known && ge(s.conv, cfg.cpa_min_conversions) {
                Some(Kind::Cpa)
            } else if spend_known && ge(s.clicks, cfg.cpc_min_clicks as f64) {
                Some(Kind::Cpc)
            } else if ge(s.clicks, cfg.inv_ctr_min_clicks as f64) {
                Some(Kind::InvCtr)
            } else {
                None
            }
        }
        _ => None,
    };
    // The account over the creative's baseline days: cumulative at the baseline's end minus
    // cumulative before its first active day.
    let acct_base = match (base_end, first_active) {
        (Some(b), Some(f)) => {
            let (b, f) = (b + off, f + off);
            Some(Sums4 {
                imps: (sums.cum_imps[b] - (sums.cum_imps[f] - acct.imps[f])) as f64,
                clicks: (sums.cum_clicks[b] - (sums.cum_clicks[f] - acct.clicks[f])) as f64,
                spend: sums.cum_spend[b] - (sums.cum_spend[f] - acct.spend[f]),
                conv: sums.cum_conv[b] - (sums.cum_conv[f] - acct.conv[f]),
            })
        }
        _ => None,
    };
    let loo = if cfg.account_index_leave_one_out {
        1.0
    } else {
        0.0
    };
    let baseline = match (kind, base) {
        (Some(k), Some(s)) => {
            let (a, b) = s.pick(k);
            ratio_of_sums(Some(a), Some(b))
        }
        _ => None,
    };
    let acct_base_value = match (kind, acct_base, base) {
        (Some(k), Some(a), Some(s)) => {
            let (x, y) = a.minus(&s, loo).pick(k);
            ratio_of_sums(Some(x), Some(y))
        }
        _ => None,
    };

    let mut used = Vec::with_capacity(n);
    let mut raw = Vec::with_capacity(n);
    for i in 0..n {
        let own = Sums4 {
            imps: roll_imps[i] as f64,
            clicks: roll_clicks[i] as f64,
            spend: roll_spend[i],
            conv: roll_conv[i],
        };
        let a = i + off;
        let acct_roll = Sums4 {
            imps: sums.roll_imps[a] as f64,
            clicks: sums.roll_clicks[a] as f64,
            spend: sums.roll_spend[a],
            conv: sums.roll_conv[a],
        };
        let after_base = base_end.is_some_and(|b| i > b);
        let (ratio, index) = match kind {
            Some(k) if after_base => {
                let (x, y) = own.pick(k);
                let rolling = ratio_of_sums(Some(x), Some(y));
                let (ax, ay) = acct_roll.minus(&own, loo).pick(k);
                let index = div(ratio_of_sums(Some(ax), Some(ay)), acct_base_value)
                    .filter(|v| v.is_finite() && *v > 0.0);
                (div(rolling, baseline), index)
            }
            _ => (None, None),
        };
        let adjusted = match index {
            Some(ix) => ratio.map(|r| r / ix),
            None => ratio,
        };
        used.push(if cfg.seasonal_adjustment {
            adjusted
        } else {
            ratio
        });
        raw.push(ratio);
    }

    let k = cfg.onset_consecutive_days;
    let runs = |r: &[Option<f64>]| -> Vec<bool> {
        let above: Vec<bool> = r
            .iter()
            .map(|v| v.is_some_and(|v| ge(v, cfg.onset_ratio)))
            .collect();
        let mut streak = 0usize;
        above
            .iter()
            .enumerate()
            .map(|(i, a)| {
                streak = if *a { streak + 1 } else { 0 };
                i + 1 >= k && streak >= k
            })
            .collect()
    };
    let run_done = runs(&used);
    let run_done_raw = runs(&raw);
    let mut fatigued = false;
    let status = (0..n)
        .map(|i| {
            fatigued |= run_done[i];
            match used[i] {
                _ if fatigued => STATUS_FATIGUED,
                None => STATUS_INSUFFICIENT,
                Some(v) if ge(v, cfg.limited_ratio) => STATUS_LIMITED,
                Some(_) => STATUS_HEALTHY,
            }
        })
        .collect();
    Labelled {
        used,
        status,
        run_done,
        run_done_raw,
        freeze,
        kind,
    }
}

/// Inputs with at least this many creatives are computed on all cores.
const PARALLEL_MIN_CREATIVES: usize = 256;

/// Labels, features and per-creative labels of `rows` (one tenant; any order; a repeated
/// (creative, date) keeps its last row). `labels` drives status, ratio and the per-creative
/// labels; `features.labels` the features (they are the same in a loaded config). The matrix
/// holds the `keep` rows, with `spare_cols` zero columns after the features for the caller.
pub fn compute(
    rows: &[AdDailyRow],
    labels: &LabelConfig,
    features: &FeatureConfig,
    spare_cols: usize,
    keep: Keep,
) -> RowFrame {
    // Creatives in key order, each with its rows in day order (input order within a day, so
    // the last row of a repeated day is found last).
    let mut ids: HashMap<(&str, &str, &str), usize> = HashMap::new();
    let mut groups: Vec<Vec<(i32, usize)>> = Vec::new();
    let mut prev: Option<((&str, &str, &str), usize)> = None;
    for (i, r) in rows.iter().enumerate() {
        let key = (r.platform.as_str(), r.account_id.as_str(), r.ad_id.as_str());
        // A creative's rows usually come together: look the key up only when it changes.
        let g = match prev {
            Some((k, g)) if k == key => g,
            _ => *ids.entry(key).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            }),
        };
        prev = Some((key, g));
        groups[g].push((date_to_days(r.date), i));
    }
    let mut keys: Vec<((&str, &str, &str), usize)> = ids.into_iter().collect();
    keys.sort_unstable();

    let mut creatives = Vec::with_capacity(keys.len());
    let mut dense = Vec::with_capacity(keys.len());
    let mut accounts: Vec<Account> = Vec::new();
    let mut prev_account: Option<(&str, &str)> = None;
    for &((platform, account_id, ad_id), g) in &keys {
        let days = &mut groups[g];
        days.sort_by_key(|(d, _)| *d);
        let (Some(&(first, _)), Some(&(last, _))) = (days.first(), days.last()) else {
            continue;
        };
        if prev_account != Some((platform, account_id)) {
            accounts.push(Account {
                first,
                last,
                imps: Vec::new(),
                clicks: Vec::new(),
                spend: Vec::new(),
                conv: Vec::new(),
            });
            prev_account = Some((platform, account_id));
        }
        let account = accounts.len() - 1;
        let acct = &mut accounts[account];
        acct.first = acct.first.min(first);
        acct.last = acct.last.max(last);
        let n = (last - first + 1) as usize;
        let mut d = Dense {
            account,
            first,
            imps: vec![0; n],
            clicks: vec![0; n],
            spend: vec![0.0; n],
            conv: vec![0.0; n],
            reach: vec![0; n],
            spend_seen: vec![false; n],
            conv_seen: vec![false; n],
            reach_seen: vec![false; n],
        };
        for &(day, ri) in days.iter() {
            let (i, r) = ((day - first) as usize, &rows[ri]);
            d.imps[i] = r.impressions;
            d.clicks[i] = r.clicks;
            d.spend[i] = r.spend.unwrap_or(0.0);
            d.conv[i] = r.conversions.unwrap_or(0.0);
            d.reach[i] = r.reach.unwrap_or(0);
            d.spend_seen[i] = r.spend.is_some();
            d.conv_seen[i] = r.conversions.is_some();
            d.reach_seen[i] = r.reach.is_some();
        }
        creatives.push((platform, account_id, ad_id));
        dense.push(d);
    }
    drop(groups);
    // Account totals per day, summed over its creatives in key order.
    for a in &mut accounts {
        let n = (a.last - a.first + 1) as usize;
        a.imps = vec![0; n];
        a.clicks = vec![0; n];
        a.spend = vec![0.0; n];
        a.conv = vec![0.0; n];
    }
    for d in &dense {
        let a = &mut accounts[d.account];
        let off = (d.first - a.first) as usize;
        for i in 0..d.len() {
            a.imps[off + i] += d.imps[i];
            a.clicks[off + i] += d.clicks[i];
            a.spend[off + i] += d.spend[i];
            a.conv[off + i] += d.conv[i];
        }
    }
    let label_sums: Vec<AccountSums> = accounts
        .iter()
        .map(|a| AccountSums::new(a, labels.rolling_days))
        .collect();
    // The features read the labels of `features.labels`.
    let feature_sums: Option<Vec<AccountSums>> = (features.labels != *labels).then(|| {
        accounts
            .iter()
            .map(|a| AccountSums::new(a, features.labels.rolling_days))
            .collect()
    });

    // Per creative: its labels (both settings when they differ), on all cores when large.
    let label_one = |c: usize| -> (Labelled, Option<Labelled>) {
        let d = &dense[c];
        let acct = &accounts[d.account];
        let lab = label(d, acct, &label_sums[d.account], labels);
        let flab = feature_sums
            .as_ref()
            .map(|s| label(d, acct, &s[d.account], &features.labels));
        (lab, flab)
    };
    let labs: Vec<(Labelled, Option<Labelled>)> = if dense.len() >= PARALLEL_MIN_CREATIVES {
        (0..dense.len()).into_par_iter().map(label_one).collect()
    } else {
        (0..dense.len()).map(label_one).collect()
    };
    // The days of each creative that get a matrix row.
    let kept_days: Vec<Vec<usize>> = dense
        .iter()
        .zip(&labs)
        .map(|(d, (lab, _))| match keep {
            Keep::All => (0..d.len()).collect(),
            Keep::Last => (d.len().saturating_sub(1)..d.len()).collect(),
            Keep::AtRiskEvery(stride) => (0..d.len())
                .filter(|&i| {
                    d.active(i)
                        && matches!(lab.status[i], STATUS_HEALTHY | STATUS_LIMITED)
                        && (d.first + i as i32).rem_euclid(stride.max(1) as i32) == 0
                })
                .collect(),
        })
        .collect();

    // Per creative: its feature rows written straight into its own slice of the matrix
    // (row-major), on all cores when large.
    let names = feature_names();
    let ncols = names.len() + spare_cols;
    let total: usize = dense.iter().map(|d| d.len()).sum();
    let kept_rows: usize = kept_days.iter().map(Vec::len).sum();
    let mut flat = vec![0.0; kept_rows * ncols];
    let mut blocks: Vec<&mut [f64]> = Vec::with_capacity(dense.len());
    let mut rest = flat.as_mut_slice();
    for days in &kept_days {
        let (block, tail) = rest.split_at_mut(days.len() * ncols);
        blocks.push(block);
        rest = tail;
    }
    let one = |(c, block): (usize, &mut [f64])| -> PerDay {
        let d = &dense[c];
        let (lab, flab) = &labs[c];
        creative_features(
            d,
            &accounts[d.account],
            flab.as_ref().unwrap_or(lab),
            features,
            creatives[c].0,
            &kept_days[c],
            block,
            ncols,
        )
    };
    let per: Vec<PerDay> = if dense.len() >= PARALLEL_MIN_CREATIVES {
        blocks.into_par_iter().enumerate().map(one).collect()
    } else {
        blocks.into_iter().enumerate().map(one).collect()
    };

    let mut out = RowFrame {
        creatives: Vec::with_capacity(dense.len()),
        creative: Vec::with_capacity(total),
        day: Vec::with_capacity(total),
        status: Vec::with_capacity(total),
        ratio: Vec::with_capacity(total),
        ctr_vs_peak: Vec::with_capacity(total),
        kept: Vec::with_capacity(kept_rows),
        x: Array2::zeros((0, 0)),
    };
    // The 7-day rates and delivery of every row, for the account medians.
    let mut rates7: Vec<[Option<f64>; 4]> = Vec::with_capacity(total);
    let mut active: Vec<bool> = Vec::with_capacity(total);
    for (c, ((d, (lab, _)), per_day)) in dense.iter().zip(labs).zip(per).enumerate() {
        let (platform, account_id, ad_id) = creatives[c];
        let acct = &accounts[d.account];
        let n = d.len();
        let last_active = (0..n)
            .rev()
            .find(|&i| d.active(i))
            .map(|i| d.first + i as i32);
        let stopped = last_active.is_none_or(|l| acct.last - l >= labels.stop_after_days as i32);
        let back = labels.onset_consecutive_days as i32 - 1;
        let onset_of = |runs: &[bool]| {
            runs.iter()
                .position(|r| *r)
                .map(|i| d.first + i as i32 - back)
        };
        out.creatives.push(RowCreative {
            platform: platform.to_string(),
            account_id: account_id.to_string(),
            ad_id: ad_id.to_string(),
            onset: onset_of(&lab.run_done),
            onset_unadjusted: onset_of(&lab.run_done_raw),
            metric: lab.kind.map(|k| match k {
                Kind::Cpa => MetricKind::Cpa,
                Kind::Cpc => MetricKind::Cpc,
                Kind::InvCtr => MetricKind::InvCtr,
            }),
            stopped,
            censor: if stopped {
                last_active.unwrap_or(d.first)
            } else {
                acct.last
            },
            last_active,
            insufficient: lab.kind.is_none(),
            left_truncated: d.first == acct.first,
        });
        let row0 = out.day.len();
        out.kept.extend(kept_days[c].iter().map(|i| row0 + i));
        for i in 0..n {
            out.creative.push(c);
            out.day.push(d.first + i as i32);
            out.status.push(lab.status[i]);
            out.ratio.push(lab.used[i]);
            active.push(d.active(i));
        }
        rates7.extend(per_day.rates7);
        out.ctr_vs_peak.extend(per_day.ctr_vs_peak);
    }
    let mut x = Array2::from_shape_vec((out.kept.len(), ncols), flat)
        .expect("each creative's block holds its kept days × ncols values");

    // The account's same-day median of each 7-day rate over its creatives that delivered.
    let account_cols = [
        CTR_VS_ACCOUNT,
        CVR_VS_ACCOUNT,
        CPC_VS_ACCOUNT,
        CPM_VS_ACCOUNT,
    ]
    .map(|name| names.iter().position(|n| *n == name).unwrap_or(usize::MAX));
    let mut pool: Vec<Vec<[Vec<f64>; 4]>> = accounts
        .iter()
        .map(|a| vec![Default::default(); (a.last - a.first + 1) as usize])
        .collect();
    let slot = |r: usize| {
        let d = &dense[out.creative[r]];
        (d.account, (out.day[r] - accounts[d.account].first) as usize)
    };
    for (r, r7) in rates7.iter().enumerate() {
        if active[r] {
            let (a, k) = slot(r);
            for (m, v) in r7.iter().enumerate() {
                if let Some(v) = v {
                    pool[a][k][m].push(*v);
                }
            }
        }
    }
    let medians: Vec<Vec<[Option<f64>; 4]>> = pool
        .into_iter()
        .map(|days| {
            days.into_iter()
                .map(|mut ms| {
                    let mut out = [None; 4];
                    for (m, v) in ms.iter_mut().enumerate() {
                        out[m] = median(v);
                    }
                    out
                })
                .collect()
        })
        .collect();
    for (k, &r) in out.kept.iter().enumerate() {
        let (a, day) = slot(r);
        for m in 0..4 {
            let v = safe_div(rates7[r][m], medians[a][day][m]);
            if let Some(cell) = x.get_mut((k, account_cols[m])) {
                *cell = neutral(v, 1.0);
            }
        }
    }
    out.x = x;
    out
}

/// The median of `v` (reordered in place), as Polars computes it: the lower middle value by
/// selection, and for an even count `lower + 0.5·(upper − lower)` with `upper` the least value
/// above it.
fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let fi = (v.len() as f64 - 1.0) * 0.5;
    let lo_i = fi as usize;
    let (_, lo, rest) = v.select_nth_unstable_by(lo_i, |a, b| a.total_cmp(b));
    let lo = *lo;
    if lo_i == fi.ceil() as usize {
        return Some(lo);
    }
    let hi = rest
        .iter()
        .copied()
        .min_by(|a, b| a.total_cmp(b))
        .unwrap_or(lo);
    Some(if lo == hi {
        lo
    } else {
        (fi - lo_i as f64) * (hi - lo) + lo
    })
}

/// A finite value, or the neutral fill (1 for relative values, 0 otherwise).
fn neutral(v: Option<f64>, fill: f64) -> f64 {
    match v {
        Some(v) if v.is_finite() => v,
        _ => fill,
    }
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// What the caller needs of every day of a creative, beyond its kept feature rows.
struct PerDay {
    /// 7-day CTR, CVR, CPC and CPM (the inputs of the account-relative features).
    rates7: Vec<[Option<f64>; 4]>,
    /// The `ctr_7d_vs_peak` feature.
    ctr_vs_peak: Vec<f64>,
}

/// Writes the features of one creative's `kept` days (ascending day indices) into `block` (row-major,
/// `ncols` per row; the account-relative ones are filled in later).
#[allow(clippy::too_many_arguments)]
fn creative_features(
    d: &Dense,
    acct: &Account,
    lab: &Labelled,
    cfg: &FeatureConfig,
    platform: &str,
    kept: &[usize],
    block: &mut [f64],
    ncols: usize,
) -> PerDay {
    let n = d.len();
    let f = |v: &[i64]| v.iter().map(|x| *x as f64).collect::<Vec<f64>>();
    let (imps, clicks, reach) = (f(&d.imps), f(&d.clicks), f(&d.reach));
    let reach_seen: Vec<f64> = d.reach_seen.iter().map(|b| flag(*b)).collect();
    let w = |v: &[f64], k: usize| rolling_f64(v, k);
    let (i3, i7) = (w(&imps, 3), w(&imps, 7));
    let (c3, c7) = (w(&clicks, 3), w(&clicks, 7));
    let (s3, s7) = (w(&d.spend, 3), w(&d.spend, 7));
    let (v3, v7) = (w(&d.conv, 3), w(&d.conv, 7));
    let r7 = w(&reach, 7);
    let rs7 = w(&reach_seen, 7);
    let cum_imps = cum_i64(&d.imps);
    let cum_clicks = cum_i64(&d.clicks);
    let cum_spend = cum_f64(&d.spend);
    let cum_conv = cum_f64(&d.conv);
    let cum_reach = cum_f64(&reach);

    // Log-CTR least-squares sums over the slope window, delivering days only.
    let a = cfg.ctr_smoothing;
    let wgt: Vec<f64> = (0..n).map(|i| flag(d.active(i))).collect();
    let t: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let y: Vec<f64> = (0..n)
        .map(|i| {
            if d.active(i) {
                ((clicks[i] + a) / (imps[i] + 2.0 * a)).log(std::f64::consts::E)
            } else {
                0.0
            }
        })
        .collect();
    let sd = cfg.slope_days;
    let sn = w(&wgt, sd);
    let st = w(&(0..n).map(|i| wgt[i] * t[i]).collect::<Vec<_>>(), sd);
    let stt = w(
        &(0..n).map(|i| wgt[i] * t[i] * t[i]).collect::<Vec<_>>(),
        sd,
    );
    let sy = w(&y, sd);
    let sty = w(&(0..n).map(|i| y[i] * t[i]).collect::<Vec<_>>(), sd);

    let first_limited = lab
        .used
        .iter()
        .position(|v| v.is_some_and(|v| ge(v, cfg.labels.limited_ratio)));
    let platform_code = Platform::ALL
        .iter()
        .position(|p| p.as_str() == platform)
        .map_or(-1.0, |i| i as f64);
    let acct_first_day = acct.first;

    let (mut ctr_best, mut cvr_best, mut cpc_best, mut cpm_best) =
        (None::<f64>, None::<f64>, None::<f64>, None::<f64>);
    let best = |b: &mut Option<f64>, v: Option<f64>, max: bool| -> Option<f64> {
        let v = v?;
        let nb = match *b {
            None => v,
            Some(x) if max => x.max(v),
            Some(x) => x.min(v),
        };
        *b = Some(nb);
        Some(nb)
    };
    let mut seen_spend = false;
    let mut seen_conv = false;
    let mut out = PerDay {
        rates7: Vec::with_capacity(n),
        ctr_vs_peak: Vec::with_capacity(n),
    };
    let mut next_kept = 0;
    for i in 0..n {
        seen_spend |= d.spend_seen[i];
        seen_conv |= d.conv_seen[i];
        let day = d.first + i as i32;
        let rates = |im: f64, cl: f64, sp: f64, cv: f64| {
            [
                safe_div(Some(cl), Some(im)),
                if seen_conv {
                    safe_div(Some(cv), Some(cl))
                } else {
                    None
                },
                if seen_spend {
                    safe_div(Some(sp), Some(cl))
                } else {
                    None
                },
                if seen_spend {
                    safe_div(Some(sp * 1000.0), Some(im))
                } else {
                    None
                },
            ]
        };
        let r1 = rates(imps[i], clicks[i], d.spend[i], d.conv[i]);
        let r3 = rates(i3[i], c3[i], s3[i], v3[i]);
        let r7_ = rates(i7[i], c7[i], s7[i], v7[i]);
        let [ctr7, cvr7, cpc7, cpm7] = r7_;

        // Baseline as known at t: sums up to min(t, freeze day).
        let fi = match lab.freeze {
            Some(fz) if i > fz => fz,
            _ => i,
        };
        let (bi, bc, bs, bv) = (
            cum_imps[fi] as f64,
            cum_clicks[fi] as f64,
            cum_spend[fi],
            cum_conv[fi],
        );
        let ctr_base = safe_div(ctr7, safe_div(Some(bc), Some(bi)));
        let cvr_base = safe_div(cvr7, safe_div(Some(bv), Some(bc)));
        let cpc_base = safe_div(cpc7, safe_div(Some(bs), Some(bc)));
        let cpm_base = safe_div(cpm7, safe_div(Some(bs * 1000.0), Some(bi)));
        let ctr_peak = safe_div(ctr7, best(&mut ctr_best, ctr7, true));
        let cvr_peak = safe_div(cvr7, best(&mut cvr_best, cvr7, true));
        let cpc_peak = safe_div(cpc7, best(&mut cpc_best, cpc7, false));
        let cpm_peak = safe_div(cpm7, best(&mut cpm_best, cpm7, false));
        out.rates7.push([ctr7, cvr7, cpc7, cpm7]);
        out.ctr_vs_peak.push(neutral(ctr_peak, 1.0));
        if kept.get(next_kept) != Some(&i) {
            continue;
        }
        let row = next_kept;
        next_kept += 1;

        let den = sn[i] * stt[i] - st[i] * st[i];
        let num = sn[i] * sty[i] - st[i] * sy[i];
        let slope_ok = ge(sn[i], cfg.slope_min_points as f64) && gt(den, 1e-9);
        let change = |v: &[f64]| -> Option<f64> {
            let prev = i.checked_sub(7).map(|k| v[k]);
            safe_div(Some(v[i]), prev).map(|x| x - 1.0)
        };
        let spend_change = change(&s7);
        let limited_since = first_limited
            .filter(|&fl| i >= fl)
            .map(|fl| (i - fl) as f64);
        let weekday = (day.rem_euclid(7) + 3) % 7 + 1;

        let values = [
            (day - d.first) as f64,
            cum_imps[i] as f64,
            cum_spend[i],
            cum_clicks[i] as f64,
            i7[i],
            s7[i],
            c7[i],
            neutral(safe_div(Some(i7[i]), Some(r7[i])), 0.0),
            neutral(safe_div(Some(cum_imps[i] as f64), Some(cum_reach[i])), 0.0),
            neutral(change(&r7), 0.0),
            flag(rs7[i] > 0.0),
            neutral(r1[0], 0.0),
            neutral(r3[0], 0.0),
            neutral(ctr7, 0.0),
            neutral(r1[1], 0.0),
            neutral(r3[1], 0.0),
            neutral(cvr7, 0.0),
            neutral(r1[2], 0.0),
            neutral(r3[2], 0.0),
            neutral(cpc7, 0.0),
            neutral(r1[3], 0.0),
            neutral(r3[3], 0.0),
            neutral(cpm7, 0.0),
            neutral(ctr_base, 1.0),
            neutral(cvr_base, 1.0),
            neutral(cpc_base, 1.0),
            neutral(cpm_base, 1.0),
            neutral(ctr_peak, 1.0),
            neutral(cvr_peak, 1.0),
            neutral(cpc_peak, 1.0),
            neutral(cpm_peak, 1.0),
            // The four account-relative values: filled in by the caller.
            1.0,
            1.0,
            1.0,
            1.0,
            neutral(slope_ok.then(|| num / den), 0.0),
            flag(slope_ok),
            neutral(spend_change, 0.0),
            flag(spend_change.is_some()),
            platform_code,
            weekday as f64,
            neutral(limited_since, 0.0),
            flag(limited_since.is_some()),
            flag(seen_spend),
            flag(seen_conv),
            flag(lab.freeze.is_some_and(|fz| i >= fz)),
            flag(d.active(i)),
            flag(i3[i] > 0.0),
            flag(d.first == acct_first_day),
        ];
        let at = row * ncols;
        block[at..at + values.len()].copy_from_slice(&values);
    }
    out
}
