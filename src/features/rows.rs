//! The label and feature pipelines computed row by row in plain Rust: what scoring, training
//! and evaluation use.
//!
//! The Polars pipelines ([`super::label_days`], [`super::label_creatives`], [`super::features`])
//! are the definition; a Polars query has a fixed cost of planning and dispatch (about 20 ms)
//! that dwarfs the work for the few creatives of one scoring request, and at scale its many
//! materialised window steps make it several times slower and hungrier than one pass per
//! creative. [`compute`] gives the same values for every creative-day — the feature matrix
//! in [`super::feature_names`] order then the label-history features ([`EXTRA_FEATURES`]),
//! the status and the label ratio — and the same per-creative labels. Tests compare it with
//! the Polars pipelines value by value on simulated data with gaps, restatements and missing
//! fields.
//!
//! It reads the columns of a [`DayInput`] and runs account by account (on all cores when
//! large): creatives of different accounts share nothing. A first pass labels every day and
//! decides which days get a matrix row ([`Keep`]), keeping per day only the ratio (NaN when
//! unknown) and the status (a byte); a second pass writes the features of those rows straight
//! into their slice of the matrix, an account's medians from its own creatives. Whatever else
//! a day needs lives only while its creative is computed.
//!
//! To agree to the last bit, the floating-point steps follow the Polars kernels: rolling sums
//! add the entering value and subtract the leaving one with separate compensation terms (as
//! Polars' rolling sum does), cumulative sums and maxima run in row order, a median of an even
//! count is `lower + 0.5·(upper − lower)`, and comparisons order NaN above every number.

use ndarray::Array2;
use rayon::prelude::*;

use super::cols::*;
use super::history::{EXTRA_FEATURES, capped_ratio, history_features};
use super::input::{Columns, DayInput};
use super::{FeatureConfig, LabelConfig, MetricKind, feature_names};
use crate::platforms::Platform;

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

/// The [`Keep`] rows of the input's creative-days (every calendar day from a creative's first
/// to its last row), sorted by creative key and day, with their features.
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
    /// Per row: the ratio the labels use (adjusted when seasonal adjustment is on), capped
    /// as a model input ([`capped_ratio`]).
    pub ratio: Vec<Option<f64>>,
    /// Per row: the features, columns in [`feature_names`] order then [`EXTRA_FEATURES`], no
    /// null, NaN or ∞.
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
    let mut out = Vec::with_capacity(v.len());
    rolling_f64_into(v, w, &mut out);
    out
}

/// [`rolling_f64`] written into `out` (cleared first), to reuse its allocation.
fn rolling_f64_into(v: &[f64], w: usize, out: &mut Vec<f64>) {
    out.clear();
    let (mut sum, mut err_add, mut err_sub) = (0.0f64, 0.0f64, 0.0f64);
    let (mut start, mut end) = (0usize, 0usize);
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
}

/// Exact sums of the last `w` integers.
fn rolling_i64(v: &[i64], w: usize) -> Vec<i64> {
    let mut out = Vec::with_capacity(v.len());
    rolling_i64_into(v, w, &mut out);
    out
}

/// [`rolling_i64`] written into `out` (cleared first), to reuse its allocation.
fn rolling_i64_into(v: &[i64], w: usize, out: &mut Vec<i64>) {
    out.clear();
    let mut s = 0i64;
    for i in 0..v.len() {
        s += v[i];
        if i >= w {
            s -= v[i - w];
        }
        out.push(s);
    }
}

fn cum_f64(v: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(v.len());
    cum_f64_into(v, &mut out);
    out
}

fn cum_f64_into(v: &[f64], out: &mut Vec<f64>) {
    out.clear();
    let mut s = 0.0;
    out.extend(v.iter().map(|x| {
        s += x;
        s
    }));
}

fn cum_i64(v: &[i64]) -> Vec<i64> {
    let mut out = Vec::with_capacity(v.len());
    cum_i64_into(v, &mut out);
    out
}

fn cum_i64_into(v: &[i64], out: &mut Vec<i64>) {
    out.clear();
    let mut s = 0;
    out.extend(v.iter().map(|x| {
        s += x;
        s
    }));
}

/// `out` cleared and filled with `f` of `0..n`.
fn fill(out: &mut Vec<f64>, n: usize, f: impl Fn(usize) -> f64) {
    out.clear();
    out.extend((0..n).map(f));
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
#[derive(Default)]
struct Dense {
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
    /// The creative whose rows (in day order) are `rows` of `cols`, into this one's vectors
    /// (reused from creative to creative); a repeated day keeps its last row.
    fn refill(&mut self, cols: &Columns, rows: &[u32]) {
        let day = |r: &u32| cols.day[*r as usize];
        let (first, last) = match (rows.first(), rows.last()) {
            (Some(f), Some(l)) => (day(f), day(l)),
            _ => (0, -1),
        };
        let n = (last - first + 1) as usize;
        fn zeroed<T: Copy>(v: &mut Vec<T>, n: usize, zero: T) {
            v.clear();
            v.resize(n, zero);
        }
        self.first = first;
        zeroed(&mut self.imps, n, 0);
        zeroed(&mut self.clicks, n, 0);
        zeroed(&mut self.spend, n, 0.0);
        zeroed(&mut self.conv, n, 0.0);
        zeroed(&mut self.reach, n, 0);
        zeroed(&mut self.spend_seen, n, false);
        zeroed(&mut self.conv_seen, n, false);
        zeroed(&mut self.reach_seen, n, false);
        let d = self;
        for r in rows {
            let (i, r) = ((day(r) - first) as usize, *r as usize);
            let (spend, conv, reach) = (
                cols.spend.get(r),
                cols.conversions.get(r),
                cols.reach.get(r),
            );
            d.imps[i] = cols.impressions[r];
            d.clicks[i] = cols.clicks[r];
            d.spend[i] = spend.unwrap_or(0.0);
            d.conv[i] = conv.unwrap_or(0.0);
            d.reach[i] = reach.unwrap_or(0);
            d.spend_seen[i] = spend.is_some();
            d.conv_seen[i] = conv.is_some();
            d.reach_seen[i] = reach.is_some();
        }
    }
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

impl Account {
    /// The totals of an account's creatives, read from the input's rows: creative by creative
    /// in key order, each one's days in order with a repeated day's last row (what its
    /// [`Dense`] series holds; days without a row add nothing).
    fn of_rows(input: &DayInput, account: &AccountSpan) -> Account {
        let cols = input.columns();
        let span = |c: usize| {
            let rows = input.rows_of(c);
            match (rows.first(), rows.last()) {
                (Some(f), Some(l)) => (cols.day[*f as usize], cols.day[*l as usize]),
                _ => (0, -1),
            }
        };
        let first = account
            .creatives
            .clone()
            .map(|c| span(c).0)
            .min()
            .unwrap_or(0);
        let last = account
            .creatives
            .clone()
            .map(|c| span(c).1)
            .max()
            .unwrap_or(-1);
        let n = (last - first + 1).max(0) as usize;
        let mut a = Account {
            first,
            last,
            imps: vec![0; n],
            clicks: vec![0; n],
            spend: vec![0.0; n],
            conv: vec![0.0; n],
        };
        for c in account.creatives.clone() {
            let rows = input.rows_of(c);
            for (k, &r) in rows.iter().enumerate() {
                let (r, day) = (r as usize, cols.day[r as usize]);
                // A repeated day: only its last row counts.
                if rows
                    .get(k + 1)
                    .is_some_and(|&next| cols.day[next as usize] == day)
                {
                    continue;
                }
                let i = (day - first) as usize;
                a.imps[i] += cols.impressions[r];
                a.clicks[i] += cols.clicks[r];
                a.spend[i] += cols.spend.get(r).unwrap_or(0.0);
                a.conv[i] += cols.conversions.get(r).unwrap_or(0.0);
            }
        }
        a
    }
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

/// A day's status as a byte while the engine runs: an index into [`STATUS_NAMES`].
const HEALTHY: u8 = 0;
const LIMITED: u8 = 1;
const FATIGUED: u8 = 2;
const INSUFFICIENT: u8 = 3;
const STATUS_NAMES: [&str; 4] = [
    STATUS_HEALTHY,
    STATUS_LIMITED,
    STATUS_FATIGUED,
    STATUS_INSUFFICIENT,
];

/// What the labels say about one creative, per day and overall.
struct Labelled {
    /// Per day: the ratio the labels use (adjusted when enabled).
    used: Vec<Option<f64>>,
    /// Per day: [`HEALTHY`], [`LIMITED`], [`FATIGUED`] or [`INSUFFICIENT`].
    status: Vec<u8>,
    run_done: Vec<bool>,
    /// `run_done` of the unadjusted ratio (for the rule counts).
    run_done_raw: Vec<bool>,
    freeze: Option<usize>,
    kind: Option<Kind>,
}

/// The working vectors of [`label`], reused from one creative to the next.
#[derive(Default)]
struct LabelScratch {
    cum_imps: Vec<i64>,
    cum_clicks: Vec<i64>,
    cum_spend: Vec<f64>,
    cum_conv: Vec<f64>,
    roll_imps: Vec<i64>,
    roll_clicks: Vec<i64>,
    roll_spend: Vec<f64>,
    roll_conv: Vec<f64>,
}

/// The label pass of [`super::prepare::labelled_days`] over one creative.
fn label(
    d: &Dense,
    acct: &Account,
    sums: &AccountSums,
    cfg: &LabelConfig,
    sc: &mut LabelScratch,
) -> Labelled {
    let n = d.len();
    let w = cfg.rolling_days;
    cum_i64_into(&d.imps, &mut sc.cum_imps);
    cum_i64_into(&d.clicks, &mut sc.cum_clicks);
    cum_f64_into(&d.spend, &mut sc.cum_spend);
    cum_f64_into(&d.conv, &mut sc.cum_conv);
    rolling_i64_into(&d.imps, w, &mut sc.roll_imps);
    rolling_i64_into(&d.clicks, w, &mut sc.roll_clicks);
    rolling_f64_into(&d.spend, w, &mut sc.roll_spend);
    rolling_f64_into(&d.conv, w, &mut sc.roll_conv);
    let LabelScratch {
        cum_imps,
        cum_clicks,
        cum_spend,
        cum_conv,
        roll_imps,
        roll_clicks,
        roll_spend,
        roll_conv,
    } = sc;
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
        let mut streak = 0usize;
        r.iter()
            .enumerate()
            .map(|(i, v)| {
                let above = v.is_some_and(|v| ge(v, cfg.onset_ratio));
                streak = if above { streak + 1 } else { 0 };
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
                _ if fatigued => FATIGUED,
                None => INSUFFICIENT,
                Some(v) if ge(v, cfg.limited_ratio) => LIMITED,
                Some(_) => HEALTHY,
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

/// What the first pass keeps of a creative for the second: per day only the label ratio and
/// status, and the days that get a matrix row.
struct Labels {
    /// Per day: the ratio the labels use (NaN when unknown).
    used: Vec<f64>,
    /// Per day: the status byte.
    status: Vec<u8>,
    /// The days with a matrix row (ascending day indices).
    kept: Vec<usize>,
    /// Of the labels the features read (`features.labels`): the last day of the baseline
    /// freeze and the first day at `limited` or above.
    freeze: Option<usize>,
    first_limited: Option<usize>,
}

/// The days of a creative that get a matrix row.
fn kept_days(d: &Dense, status: &[u8], keep: Keep) -> Vec<usize> {
    match keep {
        Keep::All => (0..d.len()).collect(),
        Keep::Last => (d.len().saturating_sub(1)..d.len()).collect(),
        Keep::AtRiskEvery(stride) => (0..d.len())
            .filter(|&i| {
                d.active(i)
                    && matches!(status[i], HEALTHY | LIMITED)
                    && (d.first + i as i32).rem_euclid(stride.max(1) as i32) == 0
            })
            .collect(),
    }
}

/// An account of the input: its creatives (a range of the input's, in key order).
#[derive(Clone)]
struct AccountSpan {
    creatives: std::ops::Range<usize>,
}

/// The accounts of the input, each a run of creatives in key order.
fn accounts_of(input: &DayInput) -> Vec<AccountSpan> {
    let ids = input.creatives();
    let mut out: Vec<AccountSpan> = Vec::new();
    for (c, id) in ids.iter().enumerate() {
        let same = c > 0 && {
            let p = &ids[c - 1];
            p.platform == id.platform && p.account_id == id.account_id
        };
        match out.last_mut() {
            Some(a) if same => a.creatives.end = c + 1,
            _ => out.push(AccountSpan {
                creatives: c..c + 1,
            }),
        }
    }
    out
}

/// `f` of every account, on all cores when the input is large; results in account order.
fn per_account<T: Send>(
    accounts: &[AccountSpan],
    parallel: bool,
    f: impl Fn(&AccountSpan) -> T + Sync + Send,
) -> Vec<T> {
    if parallel {
        accounts.par_iter().map(f).collect()
    } else {
        accounts.iter().map(f).collect()
    }
}

/// Creatives per unit of work when one account's creatives are split across cores.
const CREATIVE_CHUNK: usize = 128;

/// `f` of every creative of an account, in order, with working state `S` reused from one
/// creative to the next (one per unit of work); on all cores when `parallel` and the account
/// is large (one account can hold a whole request).
fn per_creative_with<S: Default + Send, T: Send>(
    account: &AccountSpan,
    parallel: bool,
    f: impl Fn(&mut S, usize) -> T + Sync + Send,
) -> Vec<T> {
    if parallel && account.creatives.len() > CREATIVE_CHUNK {
        account
            .creatives
            .clone()
            .into_par_iter()
            .with_min_len(CREATIVE_CHUNK / 2)
            .map_init(S::default, f)
            .collect()
    } else {
        let mut state = S::default();
        account
            .creatives
            .clone()
            .map(|c| f(&mut state, c))
            .collect()
    }
}

/// First pass over one account: labels of its creatives, their per-creative summaries and
/// what the feature pass needs.
fn label_account(
    input: &DayInput,
    account: &AccountSpan,
    labels: &LabelConfig,
    features: &FeatureConfig,
    keep: Keep,
    parallel: bool,
) -> Vec<(RowCreative, Labels)> {
    let acct = Account::of_rows(input, account);
    let sums = AccountSums::new(&acct, labels.rolling_days);
    // The features read the labels of `features.labels`.
    let feature_sums =
        (features.labels != *labels).then(|| AccountSums::new(&acct, features.labels.rolling_days));
    let back = labels.onset_consecutive_days as i32 - 1;
    let cols = input.columns();
    // Each creative's series is built where it is labelled, into reused vectors.
    per_creative_with(
        account,
        parallel,
        |(d, sc): &mut (Dense, LabelScratch), c| {
            d.refill(&cols, input.rows_of(c));
            let d = &*d;
            let lab = label(d, &acct, &sums, labels, sc);
            let flab = feature_sums
                .as_ref()
                .map(|s| label(d, &acct, s, &features.labels, sc));
            let fl = flab.as_ref().unwrap_or(&lab);
            let first_limited = fl
                .used
                .iter()
                .position(|v| v.is_some_and(|v| ge(v, features.labels.limited_ratio)));
            let freeze = fl.freeze;
            let last_active = (0..d.len())
                .rev()
                .find(|&i| d.active(i))
                .map(|i| d.first + i as i32);
            let stopped =
                last_active.is_none_or(|l| acct.last - l >= labels.stop_after_days as i32);
            let onset_of = |runs: &[bool]| {
                runs.iter()
                    .position(|r| *r)
                    .map(|i| d.first + i as i32 - back)
            };
            let id = &input.creatives()[c];
            let creative = RowCreative {
                platform: id.platform.as_str().to_string(),
                account_id: id.account_id.clone(),
                ad_id: id.ad_id.clone(),
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
            };
            let kept = kept_days(d, &lab.status, keep);
            let used = lab.used.iter().map(|v| v.unwrap_or(f64::NAN)).collect();
            (
                creative,
                Labels {
                    used,
                    status: lab.status,
                    kept,
                    freeze,
                    first_limited,
                },
            )
        },
    )
}

/// The 7-day rates of an account's delivering creative-days, for its same-day medians.
struct RatePool<'a> {
    /// The account's first day.
    first: i32,
    /// Number of the account's calendar days.
    days: usize,
    /// Per account day: whether a kept row is on it (only those days' medians are read).
    wanted: &'a [bool],
    /// Per rate (CTR, CVR, CPC, CPM): (day index in the account, value) of every delivering
    /// creative-day on a wanted day where the rate is known.
    values: [Vec<(u32, f64)>; 4],
    /// Per kept row of the account, in order: its own four rates.
    kept: Vec<[Option<f64>; 4]>,
}

impl RatePool<'_> {
    /// Appends the values and kept rows of `other` (the pool of the creatives after these).
    fn append(&mut self, other: RatePool) {
        for (mine, theirs) in self.values.iter_mut().zip(other.values) {
            mine.extend(theirs);
        }
        self.kept.extend(other.kept);
    }

    /// Per account day: the median of each rate over its creatives that delivered.
    fn medians(&mut self) -> Vec<[Option<f64>; 4]> {
        let mut out = vec![[None; 4]; self.days];
        let mut sorted: Vec<f64> = Vec::new();
        let mut starts = vec![0usize; self.days + 1];
        for (m, values) in self.values.iter_mut().enumerate() {
            // A counting sort by day, then each day's median of its run.
            starts.iter_mut().for_each(|s| *s = 0);
            for (k, _) in values.iter() {
                starts[*k as usize + 1] += 1;
            }
            for k in 0..self.days {
                starts[k + 1] += starts[k];
            }
            sorted.clear();
            sorted.resize(values.len(), 0.0);
            let mut next = starts.clone();
            for (k, v) in values.drain(..) {
                sorted[next[k as usize]] = v;
                next[k as usize] += 1;
            }
            for (k, o) in out.iter_mut().enumerate() {
                o[m] = median(&mut sorted[starts[k]..starts[k + 1]]);
            }
        }
        out
    }
}

/// Second pass over one account: the features of its kept rows, written into `block` (its
/// rows of the matrix, row-major, `ncols` per row).
#[allow(clippy::too_many_arguments)]
fn feature_account(
    input: &DayInput,
    account: &AccountSpan,
    labs: &[Labels],
    labels: &LabelConfig,
    features: &FeatureConfig,
    block: &mut [f64],
    ncols: usize,
    account_cols: &[usize; 4],
    parallel: bool,
    last_only: bool,
) {
    // Each creative's series is built again where its features are computed, one at a time
    // into reused vectors; its first and last days come straight from its rows.
    let cols = input.columns();
    let span = |k: usize| {
        let rows = input.rows_of(account.creatives.start + k);
        match (rows.first(), rows.last()) {
            (Some(f), Some(l)) => (cols.day[*f as usize], cols.day[*l as usize]),
            _ => (0, -1),
        }
    };
    let n = labs.len();
    let first = (0..n).map(|k| span(k).0).min().unwrap_or(0);
    let last = (0..n).map(|k| span(k).1).max().unwrap_or(-1);
    let days = (last - first + 1).max(0) as usize;
    let mut wanted = vec![false; days];
    for (k, lab) in labs.iter().enumerate() {
        for &i in &lab.kept {
            wanted[(span(k).0 + i as i32 - first) as usize] = true;
        }
    }
    let nb = feature_names().len();
    // Creatives in chunks, each with its own block of rows and pool of rates (appended in
    // order afterwards), on all cores when the account is large.
    let mut chunks = Vec::new();
    let mut rest = &mut *block;
    for lo in (0..n).step_by(CREATIVE_CHUNK) {
        let hi = (lo + CREATIVE_CHUNK).min(n);
        let rows: usize = labs[lo..hi].iter().map(|l| l.kept.len()).sum();
        let (mine, tail) = rest.split_at_mut(rows * ncols);
        rest = tail;
        chunks.push((lo..hi, mine));
    }
    let chunk = |(range, block): (std::ops::Range<usize>, &mut [f64])| -> RatePool {
        let mut sc = FeatureScratch::default();
        let mut d = Dense::default();
        let mut pool = RatePool {
            first,
            days,
            wanted: &wanted,
            values: Default::default(),
            kept: Vec::new(),
        };
        let mut rest = block;
        for k in range {
            let lab = &labs[k];
            d.refill(&cols, input.rows_of(account.creatives.start + k));
            let (mine, tail) = rest.split_at_mut(lab.kept.len() * ncols);
            rest = tail;
            let platform = input.creatives()[account.creatives.start + k].platform;
            creative_features(
                &d, lab, features, platform, mine, ncols, &mut pool, &mut sc, last_only,
            );
            sc.ratio.clear();
            sc.ratio
                .extend(lab.used.iter().map(|v| capped_ratio(Some(*v))));
            history_features(
                &sc.ratio,
                &sc.ctr_vs_peak,
                labels,
                &lab.kept,
                |k, values| {
                    let at = k * ncols + nb;
                    mine[at..at + values.len()].copy_from_slice(&values);
                },
            );
        }
        pool
    };
    let pools: Vec<RatePool> = if parallel && chunks.len() > 1 {
        chunks.into_par_iter().map(chunk).collect()
    } else {
        chunks.into_iter().map(chunk).collect()
    };
    let mut pools = pools.into_iter();
    let Some(mut pool) = pools.next() else {
        return;
    };
    let rest: Vec<RatePool> = pools.collect();
    for m in 0..4 {
        pool.values[m].reserve_exact(rest.iter().map(|p| p.values[m].len()).sum());
    }
    pool.kept
        .reserve_exact(rest.iter().map(|p| p.kept.len()).sum());
    rest.into_iter().for_each(|p| pool.append(p));
    // The account's same-day median of each 7-day rate over its creatives that delivered.
    let medians = pool.medians();
    let mut row = 0;
    for (k, lab) in labs.iter().enumerate() {
        let creative_first = span(k).0;
        for &i in &lab.kept {
            let day = (creative_first + i as i32 - first) as usize;
            for m in 0..4 {
                let v = safe_div(pool.kept[row][m], medians[day][m]);
                if let Some(cell) = block.get_mut(row * ncols + account_cols[m]) {
                    *cell = neutral(v, 1.0);
                }
            }
            row += 1;
        }
    }
}

/// Labels, features and per-creative labels of one tenant's `input`. `labels` drives status,
/// ratio, the label-history features and the per-creative labels; `features.labels` the
/// features (they are the same in a loaded config). The matrix holds the `keep` rows.
pub fn compute(
    input: &DayInput,
    labels: &LabelConfig,
    features: &FeatureConfig,
    keep: Keep,
) -> RowFrame {
    let accounts = accounts_of(input);
    let parallel = input.creatives().len() >= PARALLEL_MIN_CREATIVES;
    let per = per_account(&accounts, parallel, |a| {
        label_account(input, a, labels, features, keep, parallel)
    });
    let (mut creatives, mut labs) = (
        Vec::with_capacity(input.creatives().len()),
        Vec::with_capacity(input.creatives().len()),
    );
    for (c, l) in per.into_iter().flatten() {
        creatives.push(c);
        labs.push(l);
    }

    // Each account's rows of the matrix (row-major), written on all cores when large.
    let names = feature_names();
    let ncols = names.len() + EXTRA_FEATURES.len();
    let account_cols = [
        CTR_VS_ACCOUNT,
        CVR_VS_ACCOUNT,
        CPC_VS_ACCOUNT,
        CPM_VS_ACCOUNT,
    ]
    .map(|name| names.iter().position(|n| *n == name).unwrap_or(usize::MAX));
    let kept_rows: usize = labs.iter().map(|l| l.kept.len()).sum();
    let mut flat = vec![0.0; kept_rows * ncols];
    let mut blocks: Vec<(&AccountSpan, &mut [f64])> = Vec::with_capacity(accounts.len());
    let mut rest = flat.as_mut_slice();
    for a in &accounts {
        let rows: usize = labs[a.creatives.clone()].iter().map(|l| l.kept.len()).sum();
        let (block, tail) = rest.split_at_mut(rows * ncols);
        blocks.push((a, block));
        rest = tail;
    }
    let one = |(a, block): (&AccountSpan, &mut [f64])| {
        let labs = &labs[a.creatives.clone()];
        feature_account(
            input,
            a,
            labs,
            labels,
            features,
            block,
            ncols,
            &account_cols,
            parallel,
            matches!(keep, Keep::Last),
        );
    };
    if parallel {
        blocks.into_par_iter().for_each(one);
    } else {
        blocks.into_iter().for_each(one);
    }

    let mut out = RowFrame {
        creatives,
        creative: Vec::with_capacity(kept_rows),
        day: Vec::with_capacity(kept_rows),
        status: Vec::with_capacity(kept_rows),
        ratio: Vec::with_capacity(kept_rows),
        x: Array2::from_shape_vec((kept_rows, ncols), flat)
            .expect("each account's block holds its kept days × ncols values"),
    };
    let cols = input.columns();
    for (c, lab) in labs.iter().enumerate() {
        let first = input
            .rows_of(c)
            .first()
            .map_or(0, |r| cols.day[*r as usize]);
        for &i in &lab.kept {
            out.creative.push(c);
            out.day.push(first + i as i32);
            out.status.push(STATUS_NAMES[lab.status[i] as usize]);
            out.ratio.push(capped_ratio(Some(lab.used[i])));
        }
    }
    if parallel {
        crate::free_apart(labs);
    }
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

/// The working buffers of [`creative_features`], reused from one creative to the next: a few
/// dozen short vectors per creative would otherwise cost about as much as the arithmetic.
#[derive(Default)]
struct FeatureScratch {
    imps: Vec<f64>,
    clicks: Vec<f64>,
    reach: Vec<f64>,
    reach_seen: Vec<f64>,
    i3: Vec<f64>,
    i7: Vec<f64>,
    c3: Vec<f64>,
    c7: Vec<f64>,
    s3: Vec<f64>,
    s7: Vec<f64>,
    v3: Vec<f64>,
    v7: Vec<f64>,
    r7: Vec<f64>,
    rs7: Vec<f64>,
    cum_imps: Vec<i64>,
    cum_clicks: Vec<i64>,
    cum_spend: Vec<f64>,
    cum_conv: Vec<f64>,
    cum_reach: Vec<f64>,
    wgt: Vec<f64>,
    y: Vec<f64>,
    term: Vec<f64>,
    sn: Vec<f64>,
    st: Vec<f64>,
    stt: Vec<f64>,
    sy: Vec<f64>,
    sty: Vec<f64>,
    /// Out: the `ctr_7d_vs_peak` feature of every day (the label-history features read it).
    ctr_vs_peak: Vec<f64>,
    /// The label ratio of every day as a model input, for the label-history features.
    ratio: Vec<Option<f64>>,
}

/// Writes the features of one creative's kept days into `block` (row-major, `ncols` per row;
/// the account-relative ones are filled in later from `pool`, where its 7-day rates go), and
/// the `ctr_7d_vs_peak` feature of every day into `sc.ctr_vs_peak`. `last_only`: the kept days
/// are at most its last one ([`Keep::Last`]).
#[allow(clippy::too_many_arguments)]
fn creative_features(
    d: &Dense,
    lab: &Labels,
    cfg: &FeatureConfig,
    platform: Platform,
    block: &mut [f64],
    ncols: usize,
    pool: &mut RatePool,
    sc: &mut FeatureScratch,
    last_only: bool,
) {
    let kept = lab.kept.as_slice();
    let n = d.len();
    fill(&mut sc.imps, n, |i| d.imps[i] as f64);
    fill(&mut sc.clicks, n, |i| d.clicks[i] as f64);
    fill(&mut sc.reach, n, |i| d.reach[i] as f64);
    fill(&mut sc.reach_seen, n, |i| flag(d.reach_seen[i]));
    rolling_f64_into(&sc.imps, 7, &mut sc.i7);
    rolling_f64_into(&sc.clicks, 7, &mut sc.c7);
    rolling_f64_into(&d.spend, 7, &mut sc.s7);
    rolling_f64_into(&d.conv, 7, &mut sc.v7);
    cum_i64_into(&d.imps, &mut sc.cum_imps);
    cum_i64_into(&d.clicks, &mut sc.cum_clicks);
    cum_f64_into(&d.spend, &mut sc.cum_spend);
    cum_f64_into(&d.conv, &mut sc.cum_conv);
    cum_f64_into(&sc.reach, &mut sc.cum_reach);

    // Log-CTR least-squares sums over the slope window, delivering days only.
    let a = cfg.ctr_smoothing;
    let sd = cfg.slope_days;
    let log_ctr =
        |imps: f64, clicks: f64| ((clicks + a) / (imps + 2.0 * a)).log(std::f64::consts::E);
    let t = |i: usize| i as f64;
    // The 7-day sums feed every day (the peaks and the account's medians); the other window
    // sums only the kept days. When only the last day is kept (a creative scored), those are
    // summed at that day alone (and 7 days before, for the reach change). Rolled sums and
    // direct ones can differ in the last bits, so the rows a model trains on (any other
    // `Keep`) are always rolled: they stay the same whichever days are kept.
    if last_only {
        let at: Vec<usize> = kept
            .iter()
            .flat_map(|&i| [Some(i), i.checked_sub(7)])
            .flatten()
            .collect();
        let window = |i: usize, w: usize| (i + 1).saturating_sub(w)..=i;
        for v in [
            &mut sc.i3,
            &mut sc.c3,
            &mut sc.s3,
            &mut sc.v3,
            &mut sc.r7,
            &mut sc.rs7,
            &mut sc.sn,
            &mut sc.st,
            &mut sc.stt,
            &mut sc.sy,
            &mut sc.sty,
        ] {
            v.clear();
            v.resize(n, 0.0);
        }
        for &i in &at {
            let sum = |v: &[f64], w: usize| window(i, w).map(|k| v[k]).sum::<f64>();
            sc.i3[i] = sum(&sc.imps, 3);
            sc.c3[i] = sum(&sc.clicks, 3);
            sc.s3[i] = sum(&d.spend, 3);
            sc.v3[i] = sum(&d.conv, 3);
            sc.r7[i] = sum(&sc.reach, 7);
            sc.rs7[i] = sum(&sc.reach_seen, 7);
            let (mut sn, mut st, mut stt, mut sy, mut sty) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for k in window(i, sd).filter(|&k| d.active(k)) {
                let y = log_ctr(sc.imps[k], sc.clicks[k]);
                sn += 1.0;
                st += t(k);
                stt += t(k) * t(k);
                sy += y;
                sty += y * t(k);
            }
            (sc.sn[i], sc.st[i], sc.stt[i], sc.sy[i], sc.sty[i]) = (sn, st, stt, sy, sty);
        }
    } else {
        rolling_f64_into(&sc.imps, 3, &mut sc.i3);
        rolling_f64_into(&sc.clicks, 3, &mut sc.c3);
        rolling_f64_into(&d.spend, 3, &mut sc.s3);
        rolling_f64_into(&d.conv, 3, &mut sc.v3);
        rolling_f64_into(&sc.reach, 7, &mut sc.r7);
        rolling_f64_into(&sc.reach_seen, 7, &mut sc.rs7);
        fill(&mut sc.wgt, n, |i| flag(d.active(i)));
        let (imps, clicks) = (&sc.imps, &sc.clicks);
        fill(&mut sc.y, n, |i| {
            if d.active(i) {
                log_ctr(imps[i], clicks[i])
            } else {
                0.0
            }
        });
        rolling_f64_into(&sc.wgt, sd, &mut sc.sn);
        let (wgt, y) = (&sc.wgt, &sc.y);
        fill(&mut sc.term, n, |i| wgt[i] * t(i));
        rolling_f64_into(&sc.term, sd, &mut sc.st);
        fill(&mut sc.term, n, |i| wgt[i] * t(i) * t(i));
        rolling_f64_into(&sc.term, sd, &mut sc.stt);
        rolling_f64_into(y, sd, &mut sc.sy);
        fill(&mut sc.term, n, |i| y[i] * t(i));
        rolling_f64_into(&sc.term, sd, &mut sc.sty);
    }
    let FeatureScratch {
        imps,
        clicks,
        i3,
        i7,
        c3,
        c7,
        s3,
        s7,
        v3,
        v7,
        r7,
        rs7,
        cum_imps,
        cum_clicks,
        cum_spend,
        cum_conv,
        cum_reach,
        sn,
        st,
        stt,
        sy,
        sty,
        ctr_vs_peak,
        ..
    } = sc;

    let first_limited = lab.first_limited;
    let platform_code = Platform::ALL
        .iter()
        .position(|p| *p == platform)
        .map_or(-1.0, |i| i as f64);
    let acct_first_day = pool.first;
    let day_off = (d.first - pool.first) as u32;

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
    ctr_vs_peak.clear();
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
        let r7_ = rates(i7[i], c7[i], s7[i], v7[i]);
        let [ctr7, cvr7, cpc7, cpm7] = r7_;
        // The running best of each rate moves every day; the ratios to them (but CTR's, read
        // every day) and the rest below only on kept days.
        let ctr_peak = safe_div(ctr7, best(&mut ctr_best, ctr7, true));
        let cvr_best_now = best(&mut cvr_best, cvr7, true);
        let cpc_best_now = best(&mut cpc_best, cpc7, false);
        let cpm_best_now = best(&mut cpm_best, cpm7, false);
        if d.active(i) && pool.wanted[(day_off + i as u32) as usize] {
            for (values, v) in pool.values.iter_mut().zip(r7_) {
                if let Some(v) = v {
                    values.push((day_off + i as u32, v));
                }
            }
        }
        ctr_vs_peak.push(neutral(ctr_peak, 1.0));
        if kept.get(next_kept) != Some(&i) {
            continue;
        }
        let row = next_kept;
        next_kept += 1;
        pool.kept.push(r7_);
        let r1 = rates(imps[i], clicks[i], d.spend[i], d.conv[i]);
        let cvr_peak = safe_div(cvr7, cvr_best_now);
        let cpc_peak = safe_div(cpc7, cpc_best_now);
        let cpm_peak = safe_div(cpm7, cpm_best_now);

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
        let r3 = rates(i3[i], c3[i], s3[i], v3[i]);

        let den = sn[i] * stt[i] - st[i] * st[i];
        let num = sn[i] * sty[i] - st[i] * sy[i];
        let slope_ok = ge(sn[i], cfg.slope_min_points as f64) && gt(den, 1e-9);
        let change = |v: &[f64]| -> Option<f64> {
            let prev = i.checked_sub(7).map(|k| v[k]);
            safe_div(Some(v[i]), prev).map(|x| x - 1.0)
        };
        let spend_change = change(s7);
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
            neutral(change(r7), 0.0),
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
}
