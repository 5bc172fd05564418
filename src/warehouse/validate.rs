//! Checks a frame claimed to be `ad_daily` (a data scientist's own Parquet/CSV history, or
//! connector output) and casts it to the exact schema. The first bad value is reported with its
//! row (and CSV line) and field; nothing is written when any row is bad.

use polars::prelude::*;

use crate::platforms::Platform;
use crate::schema::{DateRange, ad_daily_schema, cols, date_to_days, days_to_date};

/// A validation failure: which row (0-based data row; CSV line = row + 2), which field, why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}field `{field}`: {message}", row.map(|r| format!("row {} (line {}), ", r + 1, r + 2)).unwrap_or_default())]
pub struct ValidationError {
    pub row: Option<usize>,
    pub field: String,
    pub message: String,
}

fn verr(row: Option<usize>, field: &str, message: impl Into<String>) -> ValidationError {
    ValidationError {
        row,
        field: field.to_string(),
        message: message.into(),
    }
}

/// Columns that may not be null.
const REQUIRED: [&str; 7] = [
    cols::TENANT,
    cols::PLATFORM,
    cols::ACCOUNT_ID,
    cols::AD_ID,
    cols::DATE,
    cols::IMPRESSIONS,
    cols::CLICKS,
];

/// Whether a tenant name is safe as a partition folder and an API path segment.
pub fn valid_tenant(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 64
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Validates and casts `df` to the `ad_daily` schema, in table order.
///
/// `tenant`: used when the frame has no `tenant` column. `dates`: the dates a row may carry
/// (a row outside fails the frame, so one absurd date cannot cost every later run of the
/// tenant a filled calendar of millions of days). Extra columns are an error (a typo'd
/// column would otherwise be silently dropped); optional columns may be absent (filled null).
pub fn validate_frame(
    df: DataFrame,
    tenant: Option<&str>,
    dates: &DateRange,
) -> Result<DataFrame, ValidationError> {
    let schema = ad_daily_schema();
    let n = df.height();
    for name in df.get_column_names() {
        if schema.get(name.as_str()).is_none() {
            return Err(verr(
                None,
                name.as_str(),
                format!(
                    "unknown column; the unified schema has: {}",
                    cols::ALL.join(", ")
                ),
            ));
        }
    }
    let mut out: Vec<Column> = Vec::with_capacity(schema.len());
    for (name, dtype) in schema.iter() {
        let col = match df.column(name.as_str()) {
            Ok(c) => c.clone(),
            Err(_) if name.as_str() == cols::TENANT => match tenant {
                Some(t) => Column::new_scalar(name.clone(), Scalar::from(PlSmallStr::from(t)), n),
                None => {
                    return Err(verr(
                        None,
                        cols::TENANT,
                        "column missing; add it or pass --tenant",
                    ));
                }
            },
            Err(_) if REQUIRED.contains(&name.as_str()) => {
                return Err(verr(None, name.as_str(), "required column missing"));
            }
            Err(_) => Column::full_null(name.clone(), n, dtype),
        };
        out.push(cast_checked(col, dtype)?);
    }
    let df = DataFrame::new(n, out).map_err(|e| verr(None, "*", e.to_string()))?;
    check_values(&df, dates)?;
    Ok(df)
}

/// Casts a column strictly; on failure finds the first value that does not convert.
fn cast_checked(col: Column, dtype: &DataType) -> Result<Column, ValidationError> {
    if col.dtype() == dtype {
        return Ok(col);
    }
    let name = col.name().to_string();
    let src = if col.dtype() == &DataType::String {
        // Trim and treat empty strings as null, as a CSV writer would mean them.
        col.str()
            .map_err(|e| verr(None, &name, e.to_string()))?
            .apply_values(|s| std::borrow::Cow::Owned(s.trim().to_string()))
            .into_series()
            .into_column()
    } else {
        col
    };
    let src = if src.dtype() == &DataType::String {
        let ca = src.str().map_err(|e| verr(None, &name, e.to_string()))?;
        ca.set(&ca.equal(""), None)
            .map_err(|e| verr(None, &name, e.to_string()))?
            .into_series()
            .into_column()
    } else {
        src
    };
    let convert = |strict: bool| -> PolarsResult<Column> {
        match (src.dtype(), dtype) {
            (DataType::String, DataType::Date) => src
                .as_materialized_series()
                .str()
                .and_then(|s| s.as_date(Some("%Y-%m-%d"), false))
                .map(|d| d.into_series().into_column()),
            _ if strict => src.strict_cast(dtype),
            _ => src.cast(dtype),
        }
    };
    if let Ok(c) = convert(true)
        && c.null_count() == src.null_count()
    {
        return Ok(c);
    }
    // Locate the first value that does not survive the conversion.
    let lenient = convert(false).map_err(|e| verr(None, &name, e.to_string()))?;
    let first_bad = (0..src.len()).find(|&i| {
        let before = src.get(i).map(|v| !v.is_null()).unwrap_or(false);
        let after = lenient.get(i).map(|v| !v.is_null()).unwrap_or(false);
        before && !after
    });
    match first_bad {
        Some(i) => {
            let shown = src
                .get(i)
                .map(|v| v.to_string())
                .unwrap_or_else(|_| "?".into());
            Err(verr(
                Some(i),
                &name,
                format!("cannot read {shown} as {dtype}"),
            ))
        }
        None => Err(verr(
            None,
            &name,
            format!("cannot convert column to {dtype}"),
        )),
    }
}

fn first_true(mask: &BooleanChunked) -> Option<usize> {
    mask.iter().position(|v| v == Some(true))
}

fn check_values(df: &DataFrame, dates: &DateRange) -> Result<(), ValidationError> {
    let err = |e: PolarsError| verr(None, "*", e.to_string());
    for name in REQUIRED {
        let c = df.column(name).map_err(err)?;
        if c.null_count() > 0 {
            let i = first_true(&c.is_null()).unwrap_or(0);
            return Err(verr(Some(i), name, "missing value"));
        }
    }
    for name in [
        cols::IMPRESSIONS,
        cols::CLICKS,
        cols::REACH,
        cols::VIDEO_VIEWS,
    ] {
        let c = df.column(name).map_err(err)?.i64().map_err(err)?;
        if let Some(i) = c.iter().position(|v| v.is_some_and(|v| v < 0)) {
            return Err(verr(
                Some(i),
                name,
                format!("negative count {}", c.get(i).unwrap_or_default()),
            ));
        }
    }
    for name in [cols::SPEND, cols::CONVERSIONS, cols::CONVERSION_VALUE] {
        let c = df.column(name).map_err(err)?.f64().map_err(err)?;
        if let Some(i) = c.iter().position(|v| v.is_some_and(|v| !v.is_finite())) {
            return Err(verr(Some(i), name, "not a finite number (NaN or infinite)"));
        }
        if let Some(i) = c.iter().position(|v| v.is_some_and(|v| v < 0.0)) {
            return Err(verr(
                Some(i),
                name,
                format!("negative amount {}", c.get(i).unwrap_or_default()),
            ));
        }
    }
    let day = df.column(cols::DATE).map_err(err)?.date().map_err(err)?;
    let allowed = date_to_days(dates.earliest)..=date_to_days(dates.latest);
    if let Some(i) = day
        .physical()
        .iter()
        .position(|d| d.is_some_and(|d| !allowed.contains(&d)))
    {
        let d = days_to_date(day.physical().get(i).unwrap_or_default());
        return Err(verr(Some(i), cols::DATE, dates.refusal(d)));
    }
    let bad_platform = |p: &str| {
        Platform::from_name(p)
            .map(|q| q.as_str() != p)
            .unwrap_or(true)
    };
    if let Some((i, p)) =
        first_bad_text(df.column(cols::PLATFORM).map_err(err)?, bad_platform).map_err(err)?
    {
        return Err(verr(
            Some(i),
            cols::PLATFORM,
            format!(
                "unknown platform {p:?}; expected one of: {}",
                Platform::ALL.map(|p| p.as_str()).join(", ")
            ),
        ));
    }
    if let Some((i, t)) =
        first_bad_text(df.column(cols::TENANT).map_err(err)?, |t| !valid_tenant(t)).map_err(err)?
    {
        return Err(verr(
            Some(i),
            cols::TENANT,
            format!("invalid tenant {t:?}: use 1-64 letters, digits, '_' or '-'"),
        ));
    }
    Ok(())
}

/// The first present value of a text column for which `bad` holds, with its row. A scalar
/// column (one value on every row, as connectors build `tenant` and `platform`) is checked
/// once instead of being expanded to every row.
fn first_bad_text(c: &Column, bad: impl Fn(&str) -> bool) -> PolarsResult<Option<(usize, String)>> {
    if let Some(sc) = c.as_scalar_column() {
        if sc.is_empty() {
            return Ok(None);
        }
        if let Some(s) = sc.scalar().value().extract_str() {
            return Ok(bad(s).then(|| (0, s.to_string())));
        }
        if sc.scalar().is_null() {
            return Ok(None);
        }
    }
    Ok(c.str()?
        .iter()
        .enumerate()
        .find_map(|(i, v)| v.filter(|s| bad(s)).map(|s| (i, s.to_string()))))
}
