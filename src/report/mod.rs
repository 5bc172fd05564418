//! Forecast reports for analysts: one self-contained HTML page per tenant and as-of
//! day — summary, creatives at risk, forecast quality, budget shifts, definitions — plus the
//! tables behind it (`scores.csv` / `scores.parquet`, `plan.csv` / `plan.parquet`).
//!
//! Three steps, so the API and the CLI share them and rendering can be benchmarked alone:
//! - [`gather`]: reads the tenant's warehouse rows, the champion models and their stored
//!   evaluation, scores every active creative ([`crate::fatigue::snapshot::score_tenant`]), allocates the current
//!   total spend over the budget curves and forecasts the next periods under both splits;
//! - [`render`]: pure formatting of those [`ReportInputs`] into a [`Report`] (HTML and frames);
//! - [`Report::write`]: every file written atomically ([`crate::fsutil::write_atomic`]).
//!
//! [`generate`] runs all three. A tenant with only one of the two model kinds gets the other
//! section as a note saying what to run; no rows or no champion at all is [`ReportError::NotFound`].

pub mod format;
mod gather;
pub mod inputs;
mod render;
pub mod svg;
pub mod synth;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::*;

pub use gather::{DEFAULT_TOP_N, gather, gather_with};
pub use inputs::{
    BudgetInputs, Coverage, CreativeHistory, CreativeInput, Definitions, EntityCurve, Estimate,
    FatigueInputs, ReportInputs, Section,
};
pub use render::SECTIONS;

use crate::config::Config;
use crate::fsutil::write_atomic;

/// Why a report could not be made (one line naming the cause). The API maps `NotFound` to
/// 404, `Invalid` to 422 and `Failed` to 500.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// No rows for the tenant, or no champion model of either kind.
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be used (e.g. an as-of day outside the data).
    #[error("{0}")]
    Invalid(String),
    /// Reading, scoring or writing failed.
    #[error("{0}")]
    Failed(String),
}

/// What [`generate`] made.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReportMeta {
    pub tenant: String,
    pub as_of: NaiveDate,
    /// RFC 3339, UTC.
    pub created: String,
    /// File names written in the output folder.
    pub files: Vec<String>,
    /// creatives_scored, creatives_at_risk, creatives_fatigued, entities, warehouse_rows.
    pub counts: BTreeMap<String, u64>,
}

/// A rendered report.
#[derive(Debug, Clone)]
pub struct Report {
    pub html: String,
    /// One row per scored creative (the scoring columns plus `spend_7d`).
    pub scores: DataFrame,
    /// One row per budget entity of the recommended plan.
    pub plan: DataFrame,
}

/// The files a report consists of, in writing order (`report.html` last, so a complete page
/// never points at missing tables).
pub const FILES: [&str; 5] = [
    "scores.csv",
    "scores.parquet",
    "plan.csv",
    "plan.parquet",
    "report.html",
];

/// Linear-interpolated quantile of sorted values (NaN when empty).
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos.fract());
    let a = sorted[i];
    let b = sorted.get(i + 1).copied().unwrap_or(a);
    a + frac * (b - a)
}

fn scores_frame(inp: &ReportInputs) -> PolarsResult<DataFrame> {
    let (rows, spend): (Vec<_>, Vec<f64>) = match inp.fatigue.ready() {
        Some(f) => f
            .creatives
            .iter()
            .map(|c| (c.score.clone(), c.spend_7d))
            .unzip(),
        None => (Vec::new(), Vec::new()),
    };
    let mut df = crate::fatigue::scores_frame(&rows)?;
    df.with_column(Column::new("spend_7d".into(), spend))?;
    Ok(df)
}

fn plan_frame(inp: &ReportInputs) -> PolarsResult<DataFrame> {
    let e = inp
        .budget
        .ready()
        .map(|b| b.plan.entities.as_slice())
        .unwrap_or_default();
    let f = |g: &dyn Fn(&crate::budget::service::EntityPlanView) -> f64| {
        e.iter().map(g).collect::<Vec<f64>>()
    };
    DataFrame::new(
        e.len(),
        vec![
            Column::new(
                "entity".into(),
                e.iter().map(|x| x.id.clone()).collect::<Vec<_>>(),
            ),
            Column::new("current".into(), f(&|x| x.current)),
            Column::new("recommended".into(), f(&|x| x.recommended)),
            Column::new("delta".into(), f(&|x| x.delta)),
            Column::new(
                "expected_outcome_current".into(),
                f(&|x| x.expected_outcome_current),
            ),
            Column::new(
                "expected_outcome_recommended".into(),
                f(&|x| x.expected_outcome_recommended),
            ),
            Column::new(
                "marginal_return".into(),
                e.iter().map(|x| x.marginal_return).collect::<Vec<_>>(),
            ),
            Column::new(
                "binding".into(),
                e.iter().map(|x| x.binding.clone()).collect::<Vec<_>>(),
            ),
        ],
    )
}

/// Formats gathered inputs into the page and its tables. Pure: no I/O.
pub fn render(inp: &ReportInputs) -> Result<Report, ReportError> {
    let failed = |e: PolarsError| ReportError::Failed(format!("report tables: {e}"));
    Ok(Report {
        html: render::page(inp),
        scores: scores_frame(inp).map_err(failed)?,
        plan: plan_frame(inp).map_err(failed)?,
    })
}

impl Report {
    /// Writes [`FILES`] into `dir` (created if missing), each atomically. Returns their names.
    pub fn write(&self, dir: &Path) -> Result<Vec<String>, ReportError> {
        let fail = |name: &str, e: &dyn std::fmt::Display| {
            ReportError::Failed(format!("{}: {e}", dir.join(name).display()))
        };
        let mut out = Vec::new();
        for name in FILES {
            let mut df = if name.starts_with("scores") {
                self.scores.clone()
            } else {
                self.plan.clone()
            };
            let bytes = if name.ends_with(".csv") {
                let mut buf = Vec::new();
                CsvWriter::new(&mut buf)
                    .finish(&mut df)
                    .map_err(|e| fail(name, &e))?;
                buf
            } else if name.ends_with(".parquet") {
                let mut buf = std::io::Cursor::new(Vec::new());
                ParquetWriter::new(&mut buf)
                    .finish(&mut df)
                    .map_err(|e| fail(name, &e))?;
                buf.into_inner()
            } else {
                self.html.as_bytes().to_vec()
            };
            let path = dir.join(name);
            // Readable by others (0644): a report is meant to be shared and served.
            write_atomic(&path, &bytes).map_err(|e| fail(name, &e))?;
            out.push(name.to_string());
        }
        Ok(out)
    }
}

/// Gathers, renders and writes the report of `tenant` at `as_of` (default: the tenant's last
/// data day) into `out_dir`, with the fatigue job spec in force (`training/fatigue.toml`) and
/// [`DEFAULT_TOP_N`] charted creatives. The entry point of the API.
pub fn generate(
    cfg: &Config,
    tenant: &str,
    as_of: Option<NaiveDate>,
    out_dir: &Path,
) -> Result<ReportMeta, ReportError> {
    let job = crate::bootstrap::fatigue_job().map_err(ReportError::Failed)?;
    generate_with(cfg, tenant, as_of, out_dir, &job, DEFAULT_TOP_N)
}

/// [`generate`] with an explicit fatigue job spec and number of charted creatives.
pub fn generate_with(
    cfg: &Config,
    tenant: &str,
    as_of: Option<NaiveDate>,
    out_dir: &Path,
    job: &crate::fatigue::JobConfig,
    top_n: usize,
) -> Result<ReportMeta, ReportError> {
    let inputs = gather_with(cfg, tenant, as_of, job, top_n)?;
    let report = render(&inputs)?;
    let files = report.write(out_dir)?;
    Ok(ReportMeta {
        tenant: inputs.tenant.clone(),
        as_of: inputs.as_of,
        created: inputs.created.clone(),
        files,
        counts: inputs::counts(&inputs),
    })
}

#[cfg(test)]
mod tests;
