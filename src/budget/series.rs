//! Spend and outcome series for the response model: from the
//! warehouse's `ad_daily` rows, or from the wide table MMM users already have, into
//! [`Dataset`]s — one outcome series per period with one spend series per channel, on a
//! complete period grid (a period without rows is zero spend and zero outcome: the platforms
//! omit zero rows).
//!
//! - Warehouse: [`entity_period`] is a `LazyFrame -> LazyFrame` step summing spend and the
//!   outcome (conversions or conversion value) per entity (platform, campaign, or
//!   platform×campaign) and period (day, or ISO week starting Monday); rows without spend
//!   (sources that carry no cost) are dropped. [`warehouse_datasets`] collects it and builds one
//!   single-channel dataset per entity: each entity is fitted on its own attributed outcome,
//!   which identifies its curve far better than a pooled total would.
//! - Wide table (CSV or Parquet): one row per period; `--date-col`, `--outcome-col`,
//!   `--spend-cols`, optional `--control-cols` and `--event-cols` ([`read_wide`]). Errors name
//!   the file, the missing column, or the row (CSV line) and column of a bad value (missing,
//!   NaN, negative spend, duplicate or unsorted dates are sorted out: dates are sorted, a
//!   duplicate date is an error).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, Duration, NaiveDate};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::schema::cols;

/// Length of one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    Day,
    Week,
}

impl PeriodKind {
    /// Days per period.
    pub fn days(self) -> i64 {
        match self {
            PeriodKind::Day => 1,
            PeriodKind::Week => 7,
        }
    }

    /// `day`, `week`.
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodKind::Day => "day",
            PeriodKind::Week => "week",
        }
    }
}

/// Which warehouse dimension is one entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityLevel {
    /// `google_ads`, `meta`, ...
    Platform,
    /// The campaign id (ids from different platforms are assumed not to collide).
    Campaign,
    /// `platform/campaign_id` (`(none)` where the platform's stats carry no campaign).
    PlatformCampaign,
}

/// What the outcome is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    Conversions,
    ConversionValue,
}

/// The `[series]` table of `training/budget.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeriesConfig {
    /// Entity level (default `platform_campaign`).
    pub entity: EntityLevel,
    /// Period (default `day`).
    pub period: PeriodKind,
    /// Outcome (default `conversions`).
    pub outcome: OutcomeKind,
    /// Entities with less total spend than this over the window are skipped (currency units;
    /// default 0).
    pub min_total_spend: f64,
}

impl Default for SeriesConfig {
    fn default() -> Self {
        SeriesConfig {
            entity: EntityLevel::PlatformCampaign,
            period: PeriodKind::Day,
            outcome: OutcomeKind::Conversions,
            min_total_spend: 0.0,
        }
    }
}

/// Name of the warehouse series' event column: 1 in periods where the entity spends.
pub const DELIVERING: &str = "delivering";

/// Column names of the entity × period frame.
pub mod series_cols {
    pub const ENTITY: &str = "entity";
    pub const PERIOD: &str = "period";
    pub const SPEND: &str = "spend";
    pub const OUTCOME: &str = "outcome";
}

/// One outcome series with its spend channels, on a complete period grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// What the outcome is of (an entity id, or `total` for a wide table).
    pub name: String,
    pub period: PeriodKind,
    /// First day of each period, consecutive.
    pub dates: Vec<NaiveDate>,
    /// Outcome per period (conversions or value).
    pub outcome: Vec<f64>,
    /// Channel (entity) names.
    pub channels: Vec<String>,
    /// Spend per channel per period (currency units), `spend[channel][period]`.
    pub spend: Vec<Vec<f64>>,
    /// Control variables (name, values per period).
    pub controls: Vec<(String, Vec<f64>)>,
    /// Event indicators (name, values per period).
    pub events: Vec<(String, Vec<f64>)>,
}

/// Errors building series.
#[derive(Debug, thiserror::Error)]
pub enum SeriesError {
    #[error("{path}: {message}")]
    Input { path: String, message: String },
    #[error("warehouse series: {0}")]
    Polars(#[from] PolarsError),
    #[error("{0}")]
    Empty(String),
}

/// Monday on or before `d`.
pub fn week_start(d: NaiveDate) -> NaiveDate {
    d - Duration::days(d.weekday().num_days_from_monday() as i64)
}

/// `ad_daily` rows → (entity, period, spend, outcome), one row per entity and period with
/// data, sorted by entity then period. Rows without spend are dropped.
pub fn entity_period(lf: LazyFrame, cfg: &SeriesConfig) -> LazyFrame {
    use series_cols::*;
    let campaign = col(cols::CAMPAIGN_ID).fill_null(lit("(none)"));
    let entity = match cfg.entity {
        EntityLevel::Platform => col(cols::PLATFORM),
        EntityLevel::Campaign => campaign,
        EntityLevel::PlatformCampaign => concat_str([col(cols::PLATFORM), campaign], "/", false),
    };
    let period = match cfg.period {
        PeriodKind::Day => col(cols::DATE),
        // Days since 1970-01-01 (a Thursday): Monday start = d − ((d + 3) mod 7); the offset
        // keeps the modulus of pre-1970 dates non-negative.
        PeriodKind::Week => {
            let d = col(cols::DATE).cast(DataType::Int32);
            (d.clone() - ((d + lit(3 + 7 * 100_000)) % lit(7))).cast(DataType::Date)
        }
    };
    let outcome = match cfg.outcome {
        OutcomeKind::Conversions => cols::CONVERSIONS,
        OutcomeKind::ConversionValue => cols::CONVERSION_VALUE,
    };
    lf.filter(col(cols::SPEND).is_not_null())
        .select([
            entity.alias(ENTITY),
            period.alias(PERIOD),
            col(cols::SPEND).cast(DataType::Float64).alias(SPEND),
            col(outcome)
                .cast(DataType::Float64)
                .fill_null(lit(0.0))
                .alias(OUTCOME),
        ])
        .group_by([col(ENTITY), col(PERIOD)])
        .agg([col(SPEND).sum(), col(OUTCOME).sum()])
        .sort([ENTITY, PERIOD], SortMultipleOptions::default())
}

/// Collects [`entity_period`] and builds one single-channel dataset per entity on the common
/// period grid (first to last period of the whole frame).
pub fn warehouse_datasets(lf: LazyFrame, cfg: &SeriesConfig) -> Result<Vec<Dataset>, SeriesError> {
    datasets_from_frame(&entity_period(lf, cfg).collect()?, cfg)
}

/// Builds the datasets from a collected [`entity_period`] frame.
pub fn datasets_from_frame(
    df: &DataFrame,
    cfg: &SeriesConfig,
) -> Result<Vec<Dataset>, SeriesError> {
    use series_cols::*;
    let ent = df.column(ENTITY)?.str()?.clone();
    let per = df.column(PERIOD)?.cast(&DataType::Int32)?;
    let per = per.i32()?.clone();
    let sp = df.column(SPEND)?.f64()?.clone();
    let out = df.column(OUTCOME)?.f64()?.clone();
    let mut by: BTreeMap<String, Vec<(i32, f64, f64)>> = BTreeMap::new();
    for i in 0..df.height() {
        let (Some(e), Some(p)) = (ent.get(i), per.get(i)) else {
            continue;
        };
        by.entry(e.to_string()).or_default().push((
            p,
            sp.get(i).unwrap_or(0.0),
            out.get(i).unwrap_or(0.0),
        ));
    }
    let (Some(lo), Some(hi)) = (per.min(), per.max()) else {
        return Err(SeriesError::Empty(
            "no warehouse rows with spend: ingest reports first (omnify ingest)".into(),
        ));
    };
    let step = cfg.period.days() as i32;
    let n = ((hi - lo) / step + 1) as usize;
    let dates: Vec<NaiveDate> = (0..n)
        .map(|i| crate::schema::days_to_date(lo + step * i as i32))
        .collect();
    let mut sets = Vec::new();
    for (e, rows) in by {
        let mut spend = vec![0.0; n];
        let mut outcome = vec![0.0; n];
        for (p, s, o) in rows {
            let i = ((p - lo) / step) as usize;
            if let (Some(sv), Some(ov)) = (spend.get_mut(i), outcome.get_mut(i)) {
                *sv += s;
                *ov += o;
            }
        }
        if spend.iter().sum::<f64>() <= cfg.min_total_spend {
            continue;
        }
        // Platform-attributed outcomes are zero when the entity does not deliver (nothing to
        // attribute to), so the baseline only exists in delivering periods: a `delivering`
        // indicator keeps that step out of the spend curve. Omitted when it never changes.
        let delivering: Vec<f64> = spend
            .iter()
            .map(|s| f64::from(u8::from(*s > 0.0)))
            .collect();
        let events = if delivering.contains(&0.0) {
            vec![(DELIVERING.to_string(), delivering)]
        } else {
            Vec::new()
        };
        sets.push(Dataset {
            name: e.clone(),
            period: cfg.period,
            dates: dates.clone(),
            outcome,
            channels: vec![e],
            spend: vec![spend],
            controls: Vec::new(),
            events,
        });
    }
    if sets.is_empty() {
        return Err(SeriesError::Empty(
            "no entity has spend above series.min_total_spend".into(),
        ));
    }
    Ok(sets)
}

/// The columns of a wide MMM table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WideSpec {
    pub date_col: String,
    pub outcome_col: String,
    pub spend_cols: Vec<String>,
    pub control_cols: Vec<String>,
    pub event_cols: Vec<String>,
    /// Period kind; None = inferred from the date spacing (7 days → week, else day).
    pub period: Option<PeriodKind>,
}

/// A table as text cells: header and rows (None = empty / null cell).
struct TextTable {
    header: Vec<String>,
    rows: Vec<Vec<Option<String>>>,
    /// Row label for messages: CSV line numbers, or Parquet row indices.
    label: fn(usize) -> String,
}

fn read_csv_text(path: &Path) -> Result<TextTable, SeriesError> {
    let err = |m: String| SeriesError::Input {
        path: path.display().to_string(),
        message: m,
    };
    let mut r = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(path)
        .map_err(|e| err(e.to_string()))?;
    let header: Vec<String> = r
        .headers()
        .map_err(|e| err(e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut rows = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| err(e.to_string()))?;
        rows.push(
            rec.iter()
                .map(|c| {
                    let c = c.trim();
                    (!c.is_empty()).then(|| c.to_string())
                })
                .collect(),
        );
    }
    Ok(TextTable {
        header,
        rows,
        label: |i| format!("line {}", i + 2),
    })
}

fn read_parquet_text(path: &Path) -> Result<TextTable, SeriesError> {
    let err = |m: String| SeriesError::Input {
        path: path.display().to_string(),
        message: m,
    };
    let df = crate::warehouse::read_parquet(path).map_err(|e| err(e.to_string()))?;
    let header: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut columns = Vec::new();
    for c in df.columns() {
        let s = c.cast(&DataType::String).map_err(|e| err(e.to_string()))?;
        let ca = s.str().map_err(|e| err(e.to_string()))?.clone();
        columns.push(ca);
    }
    let rows = (0..df.height())
        .map(|i| {
            columns
                .iter()
                .map(|c| c.get(i).map(|s| s.to_string()))
                .collect()
        })
        .collect();
    Ok(TextTable {
        header,
        rows,
        label: |i| format!("row {}", i + 1),
    })
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.get(..10).unwrap_or(s);
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%m/%d/%Y"))
        .ok()
}

/// Reads a wide MMM table (`.csv` or `.parquet`) into one dataset.
pub fn read_wide(path: &Path, spec: &WideSpec) -> Result<Dataset, SeriesError> {
    let p = path.display().to_string();
    let err = |m: String| SeriesError::Input {
        path: p.clone(),
        message: m,
    };
    let is_parquet = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    let t = if is_parquet {
        read_parquet_text(path)?
    } else {
        read_csv_text(path)?
    };
    if spec.spend_cols.is_empty() {
        return Err(err("--spend-cols names no column".into()));
    }
    let find = |name: &str| {
        t.header.iter().position(|h| h == name).ok_or_else(|| {
            err(format!(
                "missing column `{name}` (columns: {})",
                t.header.join(", ")
            ))
        })
    };
    let di = find(&spec.date_col)?;
    let oi = find(&spec.outcome_col)?;
    let si: Vec<usize> = spec
        .spend_cols
        .iter()
        .map(|c| find(c))
        .collect::<Result<_, _>>()?;
    let ci: Vec<usize> = spec
        .control_cols
        .iter()
        .map(|c| find(c))
        .collect::<Result<_, _>>()?;
    let ei: Vec<usize> = spec
        .event_cols
        .iter()
        .map(|c| find(c))
        .collect::<Result<_, _>>()?;
    let num = |row: usize, col: usize, nonneg: bool| -> Result<f64, SeriesError> {
        let name = &t.header[col];
        let cell = t.rows[row].get(col).cloned().flatten();
        let Some(s) = cell else {
            return Err(err(format!(
                "{}: column `{name}`: missing value",
                (t.label)(row)
            )));
        };
        let v: f64 = s.parse().map_err(|_| {
            err(format!(
                "{}: column `{name}`: `{s}` is not a number",
                (t.label)(row)
            ))
        })?;
        if !v.is_finite() {
            return Err(err(format!(
                "{}: column `{name}`: {s} is not finite",
                (t.label)(row)
            )));
        }
        if nonneg && v < 0.0 {
            return Err(err(format!(
                "{}: column `{name}`: negative spend {s}",
                (t.label)(row)
            )));
        }
        Ok(v)
    };
    let mut recs: Vec<(NaiveDate, usize)> = Vec::with_capacity(t.rows.len());
    for r in 0..t.rows.len() {
        let d = t.rows[r].get(di).cloned().flatten().ok_or_else(|| {
            err(format!(
                "{}: column `{}`: missing date",
                (t.label)(r),
                spec.date_col
            ))
        })?;
        let date = parse_date(&d).ok_or_else(|| {
            err(format!(
                "{}: column `{}`: `{d}` is not a date (YYYY-MM-DD)",
                (t.label)(r),
                spec.date_col
            ))
        })?;
        recs.push((date, r));
    }
    if recs.len() < 8 {
        return Err(err(format!(
            "{} rows: a response model needs at least 8 periods",
            recs.len()
        )));
    }
    recs.sort();
    for w in recs.windows(2) {
        if w[0].0 == w[1].0 {
            return Err(err(format!(
                "{}: date {} appears twice (one row per period)",
                (t.label)(w[1].1),
                w[1].0
            )));
        }
    }
    let period = spec.period.unwrap_or_else(|| {
        let gap = (recs[1].0 - recs[0].0).num_days();
        if gap == 7 {
            PeriodKind::Week
        } else {
            PeriodKind::Day
        }
    });
    for w in recs.windows(2) {
        let gap = (w[1].0 - w[0].0).num_days();
        if gap != period.days() {
            return Err(err(format!(
                "{}: date {} is {gap} days after the previous row; a {} series needs one row \
                 every {} day(s) (fill missing periods with zeros)",
                (t.label)(w[1].1),
                w[1].0,
                period.as_str(),
                period.days()
            )));
        }
    }
    let mut outcome = Vec::with_capacity(recs.len());
    let mut spend = vec![Vec::with_capacity(recs.len()); si.len()];
    let mut controls = vec![Vec::with_capacity(recs.len()); ci.len()];
    let mut events = vec![Vec::with_capacity(recs.len()); ei.len()];
    for &(_, r) in &recs {
        outcome.push(num(r, oi, false)?);
        for (k, &c) in si.iter().enumerate() {
            spend[k].push(num(r, c, true)?);
        }
        for (k, &c) in ci.iter().enumerate() {
            controls[k].push(num(r, c, false)?);
        }
        for (k, &c) in ei.iter().enumerate() {
            events[k].push(num(r, c, false)?);
        }
    }
    Ok(Dataset {
        name: spec.outcome_col.clone(),
        period,
        dates: recs.iter().map(|r| r.0).collect(),
        outcome,
        channels: spec.spend_cols.clone(),
        spend,
        controls: spec.control_cols.iter().cloned().zip(controls).collect(),
        events: spec.event_cols.iter().cloned().zip(events).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::Platform;
    use crate::schema::{AdDailyRow, rows_to_frame};

    fn row(p: Platform, camp: &str, ad: &str, date: &str, spend: f64, conv: f64) -> AdDailyRow {
        let d = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
        let mut r = AdDailyRow::new(p, "acc".into(), ad.into(), d);
        r.campaign_id = Some(camp.into());
        r.spend = Some(spend);
        r.conversions = Some(conv);
        r
    }

    #[test]
    fn warehouse_series_by_hand() {
        // Campaign c1 on Meta: two ads on Mon 2026-01-05 (10 + 5 spend, 1 + 2 conv) and one on
        // Wed 01-07 (20, 4); Google c2 on Tue 01-13 (8, 1). Weekly grid: weeks of 01-05 and
        // 01-12. meta/c1: spend [35, 0], conv [7, 0]; google_ads/c2: spend [0, 8], conv [0, 1].
        let rows = vec![
            row(Platform::Meta, "c1", "a1", "2026-01-05", 10.0, 1.0),
            row(Platform::Meta, "c1", "a2", "2026-01-05", 5.0, 2.0),
            row(Platform::Meta, "c1", "a1", "2026-01-07", 20.0, 4.0),
            row(Platform::GoogleAds, "c2", "g1", "2026-01-13", 8.0, 1.0),
        ];
        let df = rows_to_frame("t", &rows).unwrap();
        let cfg = SeriesConfig {
            period: PeriodKind::Week,
            ..SeriesConfig::default()
        };
        let sets = warehouse_datasets(df.lazy(), &cfg).unwrap();
        assert_eq!(sets.len(), 2);
        assert_eq!(sets[0].name, "google_ads/c2");
        assert_eq!(sets[0].spend[0], vec![0.0, 8.0]);
        assert_eq!(sets[1].name, "meta/c1");
        assert_eq!(sets[1].spend[0], vec![35.0, 0.0]);
        assert_eq!(sets[1].outcome, vec![7.0, 0.0]);
        assert_eq!(
            sets[1].events,
            vec![("delivering".to_string(), vec![1.0, 0.0])]
        );
        assert_eq!(
            sets[1].dates,
            vec![
                NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
                NaiveDate::from_ymd_opt(2026, 1, 12).unwrap()
            ]
        );
        // Daily grid 01-05..01-13 = 9 days; platform level sums both campaigns' days.
        let cfg = SeriesConfig {
            entity: EntityLevel::Platform,
            ..SeriesConfig::default()
        };
        let sets = warehouse_datasets(rows_to_frame("t", &rows).unwrap().lazy(), &cfg).unwrap();
        assert_eq!(sets[1].name, "meta");
        assert_eq!(sets[1].spend[0].len(), 9);
        assert_eq!(sets[1].spend[0][0], 15.0);
        assert_eq!(sets[1].spend[0][2], 20.0);
        assert_eq!(
            week_start(NaiveDate::from_ymd_opt(2026, 1, 11).unwrap()).day(),
            5
        );
    }

    fn spec() -> WideSpec {
        WideSpec {
            date_col: "week".into(),
            outcome_col: "sales".into(),
            spend_cols: vec!["tv".into(), "search".into()],
            ..WideSpec::default()
        }
    }

    fn wide_csv(body: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mmm.csv");
        std::fs::write(&p, body).unwrap();
        (dir, p)
    }

    fn weeks(n: usize, f: impl Fn(usize) -> String) -> String {
        let mut s = "week,sales,tv,search\n".to_string();
        let d0 = NaiveDate::from_ymd_opt(2025, 1, 6).unwrap();
        for i in 0..n {
            s.push_str(&format!("{},{}\n", d0 + Duration::days(7 * i as i64), f(i)));
        }
        s
    }

    #[test]
    fn wide_table_reads_and_infers_weeks() {
        // Rows written out of order are sorted by date.
        let mut body = weeks(10, |i| format!("{},{},{}", 100 + i, 10 * i, 5));
        body = body.replacen("2025-01-06,100,0,5\n", "", 1) + "2025-01-06,100,0,5\n";
        let (_d, p) = wide_csv(&body);
        let ds = read_wide(&p, &spec()).unwrap();
        assert_eq!(ds.period, PeriodKind::Week);
        assert_eq!(ds.outcome[0], 100.0);
        assert_eq!(ds.spend[0][3], 30.0);
        assert_eq!(ds.channels, vec!["tv", "search"]);
    }

    #[test]
    fn wide_table_errors_name_the_column_or_row() {
        let (_d, p) = wide_csv(&weeks(10, |i| format!("{},{},{}", 100 + i, 10 * i, 5)));
        let mut s = spec();
        s.spend_cols.push("radio".into());
        let e = read_wide(&p, &s).unwrap_err().to_string();
        assert!(e.contains("missing column `radio`"), "{e}");
        // Negative spend on the 4th data row = CSV line 5.
        let (_d, p) = wide_csv(&weeks(10, |i| {
            format!("{},{},{}", 100, if i == 3 { -1.0 } else { 1.0 }, 5)
        }));
        let e = read_wide(&p, &spec()).unwrap_err().to_string();
        assert!(
            e.contains("line 5") && e.contains("negative spend") && e.contains("tv"),
            "{e}"
        );
        let (_d, p) = wide_csv(&weeks(10, |i| {
            format!("{},{},{}", 100, 1, if i == 2 { "NaN" } else { "5" })
        }));
        let e = read_wide(&p, &spec()).unwrap_err().to_string();
        assert!(
            e.contains("line 4") && e.contains("search") && e.contains("finite"),
            "{e}"
        );
        // A missing week.
        let body = weeks(10, |_| "1,1,1".into()).replace("2025-01-20,1,1,1\n", "");
        let (_d, p) = wide_csv(&body);
        let e = read_wide(&p, &spec()).unwrap_err().to_string();
        assert!(e.contains("14 days"), "{e}");
    }
}
