//! The survival dataset of as-of rows (docs/design.md §4 "Prediction", "Evaluation"), from the
//! `ad_daily` frame: labels ([`label_days`], [`label_creatives`]) and features ([`features`]) are
//! joined per creative-day, a few label-history features are added (ratio now, its 7-day max and
//! log-slope, days at `limited`, the CTR-below-peak run, the decay-curve extrapolation to the
//! onset ratio — all from days ≤ t), then:
//!
//! - **as-of rows**: creative-days t on which the creative delivered, its ratio is known and it
//!   is not yet fatigued (`healthy` or `limited`), not `insufficient_data`, and the calendar day
//!   number is a multiple of `stride_days`;
//! - **duration / event**, administratively censored at the horizon H so a row's label reads
//!   days ≤ t + H only: an onset d = onset − t days later (d ≥ 1; an onset run that started on or
//!   before t but completes after t counts as d = 1) is an event if d ≤ H, otherwise the row is
//!   censored at H; a creative without onset is censored at min(censor − t, H); a row with no
//!   follow-up (censor = t) is dropped;
//! - **time split** ([`split`]): test = the last `test_days` as-of days; validation = the
//!   `validation_days` before a gap ≥ H; train = everything before a second gap. Labels never
//!   reach into a later slice; onsets themselves come from the full history.

use std::collections::HashMap;

use ndarray::{Array2, Axis, s};
use polars::prelude::*;

use super::FatigueError;
use super::config::EvaluationConfig;
use crate::features::cols::*;
use crate::features::history::{capped_ratio, history_features};
use crate::features::rows::{self, Keep};
use crate::features::{
    DayInput, FatigueConfig, MetricKind, RuleCounts, feature_matrix, feature_names, features,
    label_creatives, label_days,
};
pub use crate::features::{EXTRA_FEATURES, INPUT_COLUMNS, RATIO_CAP};
use crate::schema::{AdDailyRow, cols as ad};

/// Every model input name, in matrix column order.
pub fn all_feature_names() -> Vec<String> {
    feature_names()
        .into_iter()
        .chain(EXTRA_FEATURES)
        .map(String::from)
        .collect()
}

/// A creative: (tenant, platform, account_id, ad_id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct CreativeKey {
    pub tenant: String,
    pub platform: String,
    pub account_id: String,
    pub ad_id: String,
}

/// Status of a creative-day as the labels know it that day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayStatus {
    Healthy,
    Limited,
    Fatigued,
    Insufficient,
}

impl DayStatus {
    /// A label frame's status (null: insufficient data).
    fn parse(s: Option<&str>) -> DayStatus {
        s.and_then(DayStatus::from_name)
            .unwrap_or(DayStatus::Insufficient)
    }
    /// The status named `s` (as [`DayStatus::as_str`] spells it).
    pub fn from_name(s: &str) -> Option<DayStatus> {
        [
            DayStatus::Healthy,
            DayStatus::Limited,
            DayStatus::Fatigued,
            DayStatus::Insufficient,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            DayStatus::Healthy => STATUS_HEALTHY,
            DayStatus::Limited => STATUS_LIMITED,
            DayStatus::Fatigued => STATUS_FATIGUED,
            DayStatus::Insufficient => STATUS_INSUFFICIENT,
        }
    }
    /// At risk of onset: the ratio is known and no onset has completed.
    pub fn at_risk(self) -> bool {
        matches!(self, DayStatus::Healthy | DayStatus::Limited)
    }
}

/// Per-creative labels from the full history.
#[derive(Debug, Clone)]
pub struct CreativeLabels {
    pub key: CreativeKey,
    /// Onset day (days since 1970-01-01), if any.
    pub onset: Option<i32>,
    /// The onset day of the unadjusted ratio (equal to `onset` without seasonal adjustment).
    pub onset_unadjusted: Option<i32>,
    /// The cost-like metric of its labels (none when `insufficient`).
    pub metric: Option<MetricKind>,
    /// Stopped delivering before the end of its account's data.
    pub stopped: bool,
    /// Censoring day (last active day if stopped, else the account's last data day).
    pub censor: i32,
    /// Its last day with impressions, if any.
    pub last_active: Option<i32>,
    pub insufficient: bool,
    pub left_truncated: bool,
}

/// Every creative-day of the frame with its features and status (computed once; both the
/// survival dataset and scoring read it).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub feature_names: Vec<String>,
    pub creatives: Vec<CreativeLabels>,
    /// Per grid row: index into `creatives`.
    pub creative: Vec<usize>,
    /// Per grid row: day number (days since 1970-01-01).
    pub day: Vec<i32>,
    pub status: Vec<DayStatus>,
    /// Per grid row: the label ratio that day (null when unknown).
    pub ratio: Vec<Option<f64>>,
    pub x: Array2<f64>,
}

impl Prepared {
    /// The frame of some of its creatives only (`creatives`: indices, each at most once), in
    /// the order given, with every row of each.
    pub fn select_creatives(&self, creatives: &[usize]) -> Prepared {
        let mut new_index = vec![usize::MAX; self.creatives.len()];
        for (k, &c) in creatives.iter().enumerate() {
            new_index[c] = k;
        }
        let mut rows: Vec<usize> = (0..self.day.len())
            .filter(|&r| new_index[self.creative[r]] != usize::MAX)
            .collect();
        // Rows of a creative stay together and in day order.
        rows.sort_by_key(|&r| new_index[self.creative[r]]);
        Prepared {
            feature_names: self.feature_names.clone(),
            creatives: creatives
                .iter()
                .map(|&c| self.creatives[c].clone())
                .collect(),
            creative: rows.iter().map(|&r| new_index[self.creative[r]]).collect(),
            day: rows.iter().map(|&r| self.day[r]).collect(),
            status: rows.iter().map(|&r| self.status[r]).collect(),
            ratio: rows.iter().map(|&r| self.ratio[r]).collect(),
            x: self.x.select(Axis(0), &rows),
        }
    }
}

fn key_exprs() -> Vec<Expr> {
    CREATIVE_KEY.iter().map(|k| col(*k)).collect()
}

fn strs(df: &DataFrame, name: &str) -> Result<Vec<String>, FatigueError> {
    let c = df.column(name)?.str()?;
    Ok(c.iter().map(|v| v.unwrap_or("").to_string()).collect())
}

fn days_of(df: &DataFrame, name: &str) -> Result<Vec<Option<i32>>, FatigueError> {
    let c = df.column(name)?.cast(&DataType::Int32)?;
    Ok(c.i32()?.iter().collect())
}

fn bools(df: &DataFrame, name: &str) -> Result<Vec<bool>, FatigueError> {
    Ok(df
        .column(name)?
        .bool()?
        .iter()
        .map(|v| v.unwrap_or(false))
        .collect())
}

/// Joins labels and features of an `ad_daily` frame and adds the label-history features.
pub fn prepare(lf: LazyFrame, cfg: &FatigueConfig) -> Result<Prepared, FatigueError> {
    let used_ratio = if cfg.labels.seasonal_adjustment {
        ADJUSTED_RATIO
    } else {
        RATIO
    };
    let mut lab_sel = key_exprs();
    lab_sel.extend([
        col(ad::DATE),
        col(STATUS).alias("__status"),
        col(used_ratio).cast(DataType::Float64).alias("__ratio"),
    ]);
    let labs = label_days(lf.clone(), &cfg.labels)?.select(lab_sel);
    let mut on = key_exprs();
    on.push(col(ad::DATE));
    let mut args = JoinArgs::new(JoinType::Left);
    args.maintain_order = MaintainOrderJoin::Left;
    let joined = features(lf.clone(), &cfg.features)?.join(labs, on.clone(), on, args);
    let creatives_lf = label_creatives(lf, &cfg.labels)?;
    let df = joined.collect()?;
    let cre = creatives_lf.collect()?;

    // Creatives by key.
    let (t, p, a, i) = (
        strs(&cre, ad::TENANT)?,
        strs(&cre, ad::PLATFORM)?,
        strs(&cre, ad::ACCOUNT_ID)?,
        strs(&cre, ad::AD_ID)?,
    );
    let onset = days_of(&cre, ONSET_DATE)?;
    let onset_raw = days_of(&cre, ONSET_DATE_UNADJUSTED)?;
    let metric: Vec<Option<MetricKind>> = cre
        .column(METRIC_KIND)?
        .str()?
        .iter()
        .map(|m| m.and_then(MetricKind::from_name))
        .collect();
    let stopped = bools(&cre, STOPPED)?;
    let censor = days_of(&cre, CENSOR_DATE)?;
    let last_active = days_of(&cre, LAST_ACTIVE_DATE)?;
    let insufficient = bools(&cre, INSUFFICIENT_DATA)?;
    let left_trunc = bools(&cre, LEFT_TRUNCATED)?;
    let mut creatives = Vec::with_capacity(cre.height());
    let mut index: HashMap<CreativeKey, usize> = HashMap::with_capacity(cre.height());
    for r in 0..cre.height() {
        let key = CreativeKey {
            tenant: t[r].clone(),
            platform: p[r].clone(),
            account_id: a[r].clone(),
            ad_id: i[r].clone(),
        };
        index.insert(key.clone(), r);
        creatives.push(CreativeLabels {
            key,
            onset: onset[r],
            onset_unadjusted: onset_raw[r],
            metric: metric[r],
            stopped: stopped[r],
            censor: censor[r].unwrap_or(i32::MIN),
            last_active: last_active[r],
            insufficient: insufficient[r],
            left_truncated: left_trunc[r],
        });
    }

    let (t, p, a, i) = (
        strs(&df, ad::TENANT)?,
        strs(&df, ad::PLATFORM)?,
        strs(&df, ad::ACCOUNT_ID)?,
        strs(&df, ad::AD_ID)?,
    );
    let day: Vec<i32> = days_of(&df, ad::DATE)?
        .into_iter()
        .map(|d| d.unwrap_or(0))
        .collect();
    let status: Vec<DayStatus> = df
        .column("__status")?
        .str()?
        .iter()
        .map(DayStatus::parse)
        .collect();
    let ratio: Vec<Option<f64>> = df
        .column("__ratio")?
        .f64()?
        .iter()
        .map(capped_ratio)
        .collect();
    let mut creative = Vec::with_capacity(df.height());
    let mut last: Option<(usize, usize)> = None; // (row of the previous key, its creative)
    for r in 0..df.height() {
        let same = last.is_some_and(|(pr, _)| {
            t[pr] == t[r] && p[pr] == p[r] && a[pr] == a[r] && i[pr] == i[r]
        });
        let c = if same {
            last.map(|(_, c)| c).unwrap_or(0)
        } else {
            let key = CreativeKey {
                tenant: t[r].clone(),
                platform: p[r].clone(),
                account_id: a[r].clone(),
                ad_id: i[r].clone(),
            };
            *index.get(&key).ok_or_else(|| {
                FatigueError::Data(format!("creative {key:?} has features but no labels"))
            })?
        };
        last = Some((r, c));
        creative.push(c);
    }

    let base = feature_matrix(&df)?;
    assemble(creatives, creative, day, status, ratio, base, cfg)
}

/// [`prepare`] computed row by row ([`crate::features::rows`]) for the creatives of `rows`
/// (all of `tenant`): the same values without a Polars query, faster at every size.
pub fn prepare_rows(
    tenant: &str,
    rows: &[AdDailyRow],
    cfg: &FatigueConfig,
) -> Result<Prepared, FatigueError> {
    prepare_rows_keep(tenant, rows, cfg, Keep::All)
}

/// How many creatives each labelling rule affected ([`crate::features::rule_counts`] of the
/// same creatives, from their labels).
pub fn rule_counts_of(creatives: &[CreativeLabels]) -> RuleCounts {
    let count =
        |f: &dyn Fn(&CreativeLabels) -> bool| creatives.iter().filter(|c| f(c)).count() as u64;
    RuleCounts {
        creatives: creatives.len() as u64,
        left_truncated: count(&|c| c.left_truncated),
        insufficient_data: count(&|c| c.insufficient),
        metric_cpa: count(&|c| c.metric == Some(MetricKind::Cpa)),
        metric_cpc: count(&|c| c.metric == Some(MetricKind::Cpc)),
        metric_inv_ctr: count(&|c| c.metric == Some(MetricKind::InvCtr)),
        events: count(&|c| c.onset.is_some()),
        censored_stopped: count(&|c| c.onset.is_none() && c.stopped),
        censored_end_of_data: count(&|c| c.onset.is_none() && !c.stopped),
        onset_changed_by_adjustment: count(&|c| c.onset != c.onset_unadjusted),
        onset_removed_by_adjustment: count(&|c| c.onset.is_none() && c.onset_unadjusted.is_some()),
        onset_added_by_adjustment: count(&|c| c.onset.is_some() && c.onset_unadjusted.is_none()),
        onset_moved_by_adjustment: count(&|c| {
            c.onset.is_some() && c.onset_unadjusted.is_some() && c.onset != c.onset_unadjusted
        }),
    }
}

/// [`prepare`] of a collected `ad_daily` frame (one tenant or several), computed row by row
/// from the frame's columns ([`prepare_input`]) tenant by tenant and joined in tenant order:
/// the rows, values and order of the Polars pipeline (tested), in a fraction of its time and
/// memory. What training and evaluation use, with `keep` the rows whose features the frame
/// holds (training keeps [`Keep::AtRiskEvery`] its stride: every row [`survival_rows`] can
/// pick, a fraction of the memory).
pub fn prepare_frame(
    df: &DataFrame,
    cfg: &FatigueConfig,
    keep: Keep,
) -> Result<Prepared, FatigueError> {
    // The distinct tenants by hashing (a warehouse read of one tenant holds its name as a
    // single repeated value: no row is visited).
    let distinct = df.column(ad::TENANT)?.unique()?;
    let mut names: Vec<&str> = distinct.str()?.iter().flatten().collect();
    names.sort_unstable();
    if names.len() <= 1 {
        let tenant = names.first().copied().unwrap_or_default().to_string();
        return prepare_input(&tenant, &DayInput::from_frame(df)?, cfg, keep);
    }
    let tenants = df.column(ad::TENANT)?.str()?;
    let mut parts = Vec::with_capacity(names.len());
    for name in names {
        let mask = tenants.equal(name);
        let input = DayInput::from_frame(&df.select(INPUT_COLUMNS)?.filter(&mask)?)?;
        parts.push(prepare_input(name, &input, cfg, keep)?);
    }
    concat_prepared(parts)
}

/// Prepared frames of distinct creatives, one after the other.
fn concat_prepared(parts: Vec<Prepared>) -> Result<Prepared, FatigueError> {
    let views: Vec<_> = parts.iter().map(|p| p.x.view()).collect();
    let x = ndarray::concatenate(Axis(0), &views)
        .map_err(|e| FatigueError::Data(format!("feature matrices differ in width: {e}")))?;
    drop(views);
    let mut out = Prepared {
        feature_names: all_feature_names(),
        creatives: Vec::new(),
        creative: Vec::new(),
        day: Vec::new(),
        status: Vec::new(),
        ratio: Vec::new(),
        x,
    };
    for p in parts {
        let offset = out.creatives.len();
        out.creatives.extend(p.creatives);
        out.creative.extend(p.creative.iter().map(|c| c + offset));
        out.day.extend(p.day);
        out.status.extend(p.status);
        out.ratio.extend(p.ratio);
    }
    Ok(out)
}

/// [`prepare_rows`] with only each creative's last day in the frame (all days are computed;
/// the features of the last one are what scoring reads), at a fraction of the memory.
pub fn prepare_rows_last(
    tenant: &str,
    rows: &[AdDailyRow],
    cfg: &FatigueConfig,
) -> Result<Prepared, FatigueError> {
    prepare_rows_keep(tenant, rows, cfg, Keep::Last)
}

/// [`prepare_rows`] with `keep` the rows whose features the frame holds.
pub fn prepare_rows_keep(
    tenant: &str,
    rows: &[AdDailyRow],
    cfg: &FatigueConfig,
    keep: Keep,
) -> Result<Prepared, FatigueError> {
    prepare_input(tenant, &DayInput::from_rows(rows), cfg, keep)
}

/// [`prepare`] computed row by row from the columns of one tenant's rows, with `keep` the
/// rows whose features the frame holds.
pub fn prepare_input(
    tenant: &str,
    input: &DayInput,
    cfg: &FatigueConfig,
    keep: Keep,
) -> Result<Prepared, FatigueError> {
    let f = rows::compute(input, &cfg.labels, &cfg.features, keep);
    let creatives = f
        .creatives
        .into_iter()
        .map(|c| CreativeLabels {
            key: CreativeKey {
                tenant: tenant.to_string(),
                platform: c.platform,
                account_id: c.account_id,
                ad_id: c.ad_id,
            },
            onset: c.onset,
            onset_unadjusted: c.onset_unadjusted,
            metric: c.metric,
            stopped: c.stopped,
            censor: c.censor,
            last_active: c.last_active,
            insufficient: c.insufficient,
            left_truncated: c.left_truncated,
        })
        .collect();
    Ok(Prepared {
        feature_names: all_feature_names(),
        creatives,
        creative: f.creative,
        day: f.day,
        status: f.status.iter().map(|s| DayStatus::parse(Some(s))).collect(),
        ratio: f.ratio,
        x: f.x,
    })
}

/// Appends the label-history features to the base feature matrix.
fn assemble(
    creatives: Vec<CreativeLabels>,
    creative: Vec<usize>,
    day: Vec<i32>,
    status: Vec<DayStatus>,
    ratio: Vec<Option<f64>>,
    base: Array2<f64>,
    cfg: &FatigueConfig,
) -> Result<Prepared, FatigueError> {
    let names = feature_names();
    let ctr_peak = names
        .iter()
        .position(|n| *n == CTR_VS_PEAK)
        .ok_or_else(|| FatigueError::Data("ctr_7d_vs_peak missing".into()))?;
    let nb = base.ncols();
    let mut x = Array2::<f64>::zeros((day.len(), nb + EXTRA_FEATURES.len()));
    x.slice_mut(s![.., ..nb]).assign(&base);
    // Rows are sorted by creative, then day, with every calendar day present: the
    // label-history features walk each creative's run of rows.
    let mut start = 0;
    while start < day.len() {
        let end = (start..day.len())
            .find(|&r| creative[r] != creative[start])
            .unwrap_or(day.len());
        let ctr_vs_peak: Vec<f64> = (start..end).map(|r| base[[r, ctr_peak]]).collect();
        let all: Vec<usize> = (0..end - start).collect();
        history_features(
            &ratio[start..end],
            &ctr_vs_peak,
            &cfg.labels,
            &all,
            |k, values| {
                x.slice_mut(s![start + k, nb..])
                    .assign(&ndarray::ArrayView1::from(&values));
            },
        );
        start = end;
    }
    Ok(Prepared {
        feature_names: all_feature_names(),
        creatives,
        creative,
        day,
        status,
        ratio,
        x,
    })
}

/// As-of rows with censored durations (see the module docs).
#[derive(Debug, Clone)]
pub struct SurvivalData {
    pub feature_names: Vec<String>,
    pub horizon: usize,
    /// Per row: index into the creatives of the [`Prepared`] it came from.
    pub creative: Vec<usize>,
    /// As-of day (days since 1970-01-01).
    pub as_of: Vec<i32>,
    pub x: Array2<f64>,
    /// Days from t to the event or censoring, 1..=H.
    pub duration: Vec<usize>,
    pub event: Vec<bool>,
    /// The creative's onset day from the full history (for alert lead times).
    pub onset: Vec<Option<i32>>,
    /// Days from t to its account's last data day (the end of observation, whatever the
    /// creative does). Empty: unknown (every row fully followed).
    pub follow_up: Vec<i32>,
}

impl SurvivalData {
    pub fn len(&self) -> usize {
        self.duration.len()
    }
    pub fn is_empty(&self) -> bool {
        self.duration.is_empty()
    }
    /// The rows at `idx`, in that order.
    pub fn subset(&self, idx: &[usize]) -> SurvivalData {
        SurvivalData {
            feature_names: self.feature_names.clone(),
            horizon: self.horizon,
            creative: idx.iter().map(|&i| self.creative[i]).collect(),
            as_of: idx.iter().map(|&i| self.as_of[i]).collect(),
            x: self.x.select(Axis(0), idx),
            duration: idx.iter().map(|&i| self.duration[i]).collect(),
            event: idx.iter().map(|&i| self.event[i]).collect(),
            onset: idx.iter().map(|&i| self.onset[i]).collect(),
            follow_up: if self.follow_up.is_empty() {
                Vec::new()
            } else {
                idx.iter().map(|&i| self.follow_up[i]).collect()
            },
        }
    }
    /// Event within k days: Some(true) / Some(false), None when censored before k.
    pub fn label_at(&self, i: usize, k: usize) -> Option<bool> {
        if self.event[i] && self.duration[i] <= k {
            Some(true)
        } else if self.duration[i] >= k {
            Some(false)
        } else {
            None
        }
    }
    /// [`SurvivalData::label_at`] for evaluation: None also when the account's data ends
    /// within k days of t. A row near the end of the data could only ever be labelled by an
    /// early onset (its negative twin is censored), so keeping such rows would fill the last
    /// k days with positives and bias AUC and calibration; short histories are mostly such days.
    pub fn eval_label_at(&self, i: usize, k: usize) -> Option<bool> {
        if self.follow_up.get(i).is_some_and(|&f| f < k as i32) {
            return None;
        }
        self.label_at(i, k)
    }
}

/// Builds the as-of rows of a prepared frame.
pub fn survival_rows(p: &Prepared, ev: &EvaluationConfig) -> SurvivalData {
    let h = ev.horizon_days;
    let delivered = p.feature_names.iter().position(|n| n == DELIVERED_1D);
    let stride = ev.stride_days.max(1) as i32;
    let mut rows = Vec::new();
    let (mut duration, mut event, mut onset) = (Vec::new(), Vec::new(), Vec::new());
    let mut follow_up = Vec::new();
    // Each account's last data day: the latest censoring or active day of its creatives (a
    // creative still running is censored at exactly that day).
    let mut account_end: HashMap<(&str, &str, &str), i32> = HashMap::new();
    for c in &p.creatives {
        let k = (
            c.key.tenant.as_str(),
            c.key.platform.as_str(),
            c.key.account_id.as_str(),
        );
        let end = c.censor.max(c.last_active.unwrap_or(i32::MIN));
        let e = account_end.entry(k).or_insert(end);
        *e = (*e).max(end);
    }
    for r in 0..p.day.len() {
        let Some(c) = p.creatives.get(p.creative[r]) else {
            continue;
        };
        let t = p.day[r];
        let active = delivered.is_none_or(|j| p.x[[r, j]] > 0.5);
        if !active || !p.status[r].at_risk() || c.insufficient || t.rem_euclid(stride) != 0 {
            continue;
        }
        if ev.drop_left_truncated && c.left_truncated {
            continue;
        }
        let (d, e) = match c.onset {
            Some(o) => {
                let d = (o - t).max(1) as usize;
                if d <= h { (d, true) } else { (h, false) }
            }
            None => {
                let d = c.censor - t;
                if d <= 0 {
                    continue;
                }
                ((d as usize).min(h), false)
            }
        };
        rows.push(r);
        duration.push(d);
        event.push(e);
        onset.push(c.onset);
        let end = account_end
            .get(&(
                c.key.tenant.as_str(),
                c.key.platform.as_str(),
                c.key.account_id.as_str(),
            ))
            .copied()
            .unwrap_or(c.censor);
        follow_up.push(end - t);
    }
    SurvivalData {
        feature_names: p.feature_names.clone(),
        horizon: h,
        creative: rows.iter().map(|&r| p.creative[r]).collect(),
        as_of: rows.iter().map(|&r| p.day[r]).collect(),
        x: p.x.select(Axis(0), &rows),
        duration,
        event,
        onset,
        follow_up,
    }
}

/// Row indices of the three time slices and their as-of day ranges (inclusive).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Split {
    pub train: Vec<usize>,
    pub validation: Vec<usize>,
    pub test: Vec<usize>,
    pub train_days: (i32, i32),
    pub validation_days: (i32, i32),
    pub test_days: (i32, i32),
}

/// The time split (module docs). Errors when a slice would be empty.
pub fn split(d: &SurvivalData, ev: &EvaluationConfig) -> Result<Split, FatigueError> {
    let (Some(&lo), Some(&hi)) = (d.as_of.iter().min(), d.as_of.iter().max()) else {
        return Err(FatigueError::Data(
            "no as-of rows (no active, labelled creative-days)".into(),
        ));
    };
    let gap = ev.gap();
    let test_start = hi - ev.test_days + 1;
    let val_end = test_start - gap; // exclusive
    let val_start = val_end - ev.validation_days;
    let train_end = val_start - gap; // exclusive
    let mut sp = Split {
        train: Vec::new(),
        validation: Vec::new(),
        test: Vec::new(),
        train_days: (lo, train_end - 1),
        validation_days: (val_start, val_end - 1),
        test_days: (test_start, hi),
    };
    for (i, &t) in d.as_of.iter().enumerate() {
        if t < train_end {
            sp.train.push(i);
        } else if t >= val_start && t < val_end {
            sp.validation.push(i);
        } else if t >= test_start {
            sp.test.push(i);
        }
    }
    for (name, v) in [
        ("train", &sp.train),
        ("validation", &sp.validation),
        ("test", &sp.test),
    ] {
        if v.is_empty() {
            return Err(FatigueError::Data(format!(
                "the {name} slice is empty: {} as-of days of data cannot hold train + {} validation + {} test days with {gap}-day gaps",
                hi - lo + 1,
                ev.validation_days,
                ev.test_days
            )));
        }
    }
    Ok(sp)
}
