//! Scoring (docs/design.md §4 "Prediction"): every active creative of an `ad_daily` frame at an
//! as-of day, with the champion model — one row per creative with the onset probabilities,
//! expected days to onset, status, drivers and recommended action. [`score`] builds the
//! features with the Polars pipeline; [`score_rows`] / [`score_frame`] (the CLI, reports and
//! the API) with the row-by-row engine, which gives the same values far faster.
//!
//! Only rows dated ≤ as-of are read. A creative is active when it delivered within the last
//! `stop_after_days` days up to the as-of day; its features are those of its latest day ≤ as-of.
//! Status `fatigued` → onset already confirmed: probabilities 1, expected days 0, `refresh_now`.
//! `insufficient_data` → no probabilities, action `insufficient_data`.

use chrono::NaiveDate;
use ndarray::Array2;
use polars::prelude::*;

use super::FatigueError;
use super::common::{Summary, summarize, survival};
use super::config::JobConfig;
use super::dataset::{DayStatus, Prepared, prepare, prepare_input, prepare_rows_last};
use super::model::FittedModel;
use crate::features::DayInput;
use crate::features::rows::Keep;
use crate::schema::{AdDailyRow, cols as ad, date_to_days};

/// One scored creative.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ScoreRow {
    pub tenant: String,
    pub platform: String,
    pub account_id: String,
    pub ad_id: String,
    pub as_of: NaiveDate,
    pub status: String,
    pub p_onset_7d: Option<f64>,
    pub p_onset_14d: Option<f64>,
    pub p_onset_7_14d: Option<f64>,
    /// Restricted mean days to onset within the horizon. Days.
    pub expected_days_to_onset: Option<f64>,
    pub drivers: String,
    pub action: String,
    pub model_version: String,
    /// Survival curve S(k) = P(no onset within k days), k = 1..horizon, for creatives scored by
    /// the model (absent when fatigued or without enough data). Not in the CSV/Parquet output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub survival: Option<Vec<f64>>,
}

/// Scores every active creative of `lf` at `as_of` with `model` (registry `version`).
pub fn score(
    lf: LazyFrame,
    as_of: NaiveDate,
    model: &FittedModel,
    version: &str,
    cfg: &JobConfig,
) -> Result<Vec<ScoreRow>, FatigueError> {
    let lf = lf.filter(col(ad::DATE).lt_eq(lit(as_of)));
    let p = prepare(lf, &cfg.base)?;
    let mut out = score_prepared(&[p], as_of, model, version, cfg)?;
    Ok(out.pop().unwrap_or_default())
}

/// [`score`] for the rows of one tenant, with the features computed row by row
/// ([`prepare_rows_until`]: the same values, without a Polars query) — for a few creatives at a
/// time.
pub fn score_rows(
    tenant: &str,
    rows: &[AdDailyRow],
    as_of: NaiveDate,
    model: &FittedModel,
    version: &str,
    cfg: &JobConfig,
) -> Result<Vec<ScoreRow>, FatigueError> {
    let p = prepare_rows_until(tenant, rows, as_of, cfg)?;
    let mut out = score_prepared(&[p], as_of, model, version, cfg)?;
    Ok(out.pop().unwrap_or_default())
}

/// [`score_rows`] of an `ad_daily` frame holding one tenant's rows (as the warehouse returns
/// them): what `omnify score fatigue` and reports use — the scores of [`score`] (the engines
/// are tested equal) in a fraction of its time and memory.
pub fn score_frame(
    df: &DataFrame,
    tenant: &str,
    as_of: NaiveDate,
    model: &FittedModel,
    version: &str,
    cfg: &JobConfig,
) -> Result<Vec<ScoreRow>, FatigueError> {
    let p = prepare_input(tenant, &input_until(df, as_of)?, &cfg.base, Keep::Last)?;
    let mut out = score_prepared(&[p], as_of, model, version, cfg)?;
    Ok(out.pop().unwrap_or_default())
}

/// The engine's input of the rows of `df` dated ≤ `as_of`.
pub fn input_until(df: &DataFrame, as_of: NaiveDate) -> Result<DayInput, FatigueError> {
    let last = df.column(ad::DATE)?.cast(&DataType::Int32)?.i32()?.max();
    if last.is_none_or(|d| d <= date_to_days(as_of)) {
        return Ok(DayInput::from_frame(df)?);
    }
    let cut = df
        .clone()
        .lazy()
        .filter(col(ad::DATE).lt_eq(lit(as_of)))
        .collect()?;
    Ok(DayInput::from_frame(&cut)?)
}

/// [`prepare_rows_last`] of the rows dated ≤ `as_of`: each creative's latest day, what
/// [`score_prepared`] reads.
pub fn prepare_rows_until(
    tenant: &str,
    rows: &[AdDailyRow],
    as_of: NaiveDate,
    cfg: &JobConfig,
) -> Result<Prepared, FatigueError> {
    if rows.iter().all(|r| r.date <= as_of) {
        return prepare_rows_last(tenant, rows, &cfg.base);
    }
    let kept: Vec<AdDailyRow> = rows.iter().filter(|r| r.date <= as_of).cloned().collect();
    prepare_rows_last(tenant, &kept, &cfg.base)
}

/// Scores the active creatives of several prepared frames (each already cut at `as_of`) with
/// one model run over all of them; one list of scores per frame, in creative key order.
pub fn score_prepared(
    frames: &[Prepared],
    as_of: NaiveDate,
    model: &FittedModel,
    version: &str,
    cfg: &JobConfig,
) -> Result<Vec<Vec<ScoreRow>>, FatigueError> {
    let t = date_to_days(as_of);
    let stop = cfg.base.labels.stop_after_days as i32;
    // Per frame: the (creative, row) pairs scored; all frames' model rows stacked.
    let mut picked_per: Vec<Vec<(usize, usize)>> = Vec::with_capacity(frames.len());
    let mut model_rows: Vec<(usize, usize)> = Vec::new();
    for (f, p) in frames.iter().enumerate() {
        if p.feature_names != model.meta.feature_names {
            return Err(FatigueError::Data(
                "the model was trained on a different feature set; retrain it (omnify train fatigue)"
                    .into(),
            ));
        }
        // Each creative's latest row (rows are sorted by creative, then day).
        let mut last_row: Vec<Option<usize>> = vec![None; p.creatives.len()];
        for r in 0..p.day.len() {
            last_row[p.creative[r]] = Some(r);
        }
        let picked: Vec<(usize, usize)> = (0..p.creatives.len())
            .filter_map(|c| {
                let r = last_row[c]?;
                let a = p.creatives[c].last_active?;
                (t - a < stop).then_some((c, r))
            })
            .collect();
        model_rows.extend(
            picked
                .iter()
                .filter(|(_, r)| p.status[*r].at_risk())
                .map(|(_, r)| (f, *r)),
        );
        picked_per.push(picked);
    }
    // The model's rows: one frame's whole matrix when every row of it is scored, in order
    // (a batch scored at its last day), else a copy of the rows scored.
    let whole = match frames {
        [p] if model_rows.len() == p.x.nrows()
            && model_rows.iter().enumerate().all(|(i, (_, r))| *r == i) =>
        {
            Some(&p.x)
        }
        _ => None,
    };
    let copied;
    let x = match whole {
        Some(x) => x,
        None => {
            let ncols = model.meta.feature_names.len();
            let mut m = Array2::<f64>::zeros((model_rows.len(), ncols));
            for (i, (f, r)) in model_rows.iter().enumerate() {
                m.row_mut(i).assign(&frames[*f].x.row(*r));
            }
            copied = m;
            &copied
        }
    };
    let hz = model.hazards(x)?;
    let drivers = model.drivers(x, &hz, cfg.scoring.drivers)?;
    // Per frame and row: its model row, if it was scored.
    let mut model_row: Vec<Vec<Option<usize>>> =
        frames.iter().map(|p| vec![None; p.day.len()]).collect();
    for (i, (f, r)) in model_rows.iter().enumerate() {
        model_row[*f][*r] = Some(i);
    }
    // Each creative's score on its own (on all cores for many).
    let row_of = |f: usize, p: &Prepared, &(c, r): &(usize, usize)| {
        let scored = model_row[f][r].map(|i| Scored {
            summary: summarize(hz.row(i)),
            drivers: drivers.get(i).map_or(&[][..], Vec::as_slice),
            survival: survival(hz.row(i)).iter().skip(1).copied().collect(),
        });
        score_row(p, c, r, scored, as_of, version, cfg)
    };
    let mut all = Vec::with_capacity(frames.len());
    for (f, (p, picked)) in frames.iter().zip(picked_per).enumerate() {
        all.push(if picked.len() >= PARALLEL_MIN_ROWS {
            use rayon::prelude::*;
            picked.par_iter().map(|cr| row_of(f, p, cr)).collect()
        } else {
            picked.iter().map(|cr| row_of(f, p, cr)).collect()
        });
    }
    Ok(all)
}

/// Creatives of one frame from which their scores are built on all cores.
const PARALLEL_MIN_ROWS: usize = 1024;

/// What the model gave one at-risk row.
struct Scored<'a> {
    summary: Summary,
    drivers: &'a [String],
    /// S(1..=H).
    survival: Vec<f64>,
}

/// The score of creative `c` at its row `r`, from the model's output for that row if it was
/// at risk.
fn score_row(
    p: &Prepared,
    c: usize,
    r: usize,
    scored: Option<Scored>,
    as_of: NaiveDate,
    version: &str,
    cfg: &JobConfig,
) -> ScoreRow {
    let key = &p.creatives[c].key;
    let status = p.status[r];
    let (summary, curve) = match scored {
        Some(s) => (Some((s.summary, s.drivers)), Some(s.survival)),
        None => (None, None),
    };
    let (p7, p14, p714, exp, drv, action) = match (status, summary) {
        (DayStatus::Fatigued, _) => (
            Some(1.0),
            Some(1.0),
            Some(0.0),
            Some(0.0),
            match p.ratio[r] {
                // Ratios are capped when computed (zero results with cost is +inf).
                Some(v) if v >= super::dataset::RATIO_CAP => {
                    format!("onset confirmed: cost ratio ≥ {:.0}x launch", v)
                }
                Some(v) => format!("onset confirmed: cost ratio {v:.2}x launch"),
                None => "onset confirmed".to_string(),
            },
            "refresh_now",
        ),
        (s, Some((sm, d))) if s.at_risk() => {
            let action = if sm.p7 >= cfg.scoring.refresh_now_p7 {
                "refresh_now"
            } else if sm.p14 >= cfg.scoring.prepare_refresh_p14 {
                "prepare_refresh"
            } else {
                "keep"
            };
            (
                Some(sm.p7),
                Some(sm.p14),
                Some(sm.p7_14),
                Some(sm.expected_days),
                d.join("; "),
                action,
            )
        }
        _ => (None, None, None, None, String::new(), "insufficient_data"),
    };
    ScoreRow {
        tenant: key.tenant.clone(),
        platform: key.platform.clone(),
        account_id: key.account_id.clone(),
        ad_id: key.ad_id.clone(),
        as_of,
        status: status.as_str().to_string(),
        p_onset_7d: p7,
        p_onset_14d: p14,
        p_onset_7_14d: p714,
        expected_days_to_onset: exp,
        drivers: drv,
        action: action.to_string(),
        model_version: version.to_string(),
        survival: if status.at_risk() { curve } else { None },
    }
}

/// The scores as a frame (columns in the documented order).
pub fn scores_frame(rows: &[ScoreRow]) -> PolarsResult<DataFrame> {
    let s = |f: &dyn Fn(&ScoreRow) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let o = |f: &dyn Fn(&ScoreRow) -> Option<f64>| rows.iter().map(f).collect::<Vec<Option<f64>>>();
    let dates: Vec<i32> = rows.iter().map(|r| date_to_days(r.as_of)).collect();
    DataFrame::new(
        rows.len(),
        vec![
            Column::new("tenant".into(), s(&|r| r.tenant.clone())),
            Column::new("platform".into(), s(&|r| r.platform.clone())),
            Column::new("account_id".into(), s(&|r| r.account_id.clone())),
            Column::new("ad_id".into(), s(&|r| r.ad_id.clone())),
            Column::new("as_of".into(), dates).cast(&DataType::Date)?,
            Column::new("status".into(), s(&|r| r.status.clone())),
            Column::new("p_onset_7d".into(), o(&|r| r.p_onset_7d)),
            Column::new("p_onset_14d".into(), o(&|r| r.p_onset_14d)),
            Column::new("p_onset_7_14d".into(), o(&|r| r.p_onset_7_14d)),
            Column::new(
                "expected_days_to_onset".into(),
                o(&|r| r.expected_days_to_onset),
            ),
            Column::new("drivers".into(), s(&|r| r.drivers.clone())),
            Column::new("action".into(), s(&|r| r.action.clone())),
            Column::new("model_version".into(), s(&|r| r.model_version.clone())),
        ],
    )
}
