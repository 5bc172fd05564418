//! `omnify warehouse summary`: rows, creatives, date range and spend per tenant and platform.

use polars::prelude::*;

use super::WarehouseError;
use crate::schema::{cols, days_to_date};

/// One tenant × platform line of the summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SummaryRow {
    pub tenant: String,
    pub platform: String,
    pub rows: u64,
    /// Distinct (account_id, ad_id).
    pub creatives: u64,
    pub accounts: u64,
    pub first_date: Option<chrono::NaiveDate>,
    pub last_date: Option<chrono::NaiveDate>,
    pub impressions: i64,
    pub clicks: i64,
    /// Sum of spend in account-currency units (currencies listed in `currencies`).
    pub spend: f64,
    pub conversions: f64,
    pub currencies: Vec<String>,
}

/// The whole summary, ordered by tenant then platform.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    pub rows: u64,
    pub creatives: u64,
    pub first_date: Option<chrono::NaiveDate>,
    pub last_date: Option<chrono::NaiveDate>,
    pub by_tenant_platform: Vec<SummaryRow>,
}

pub(crate) fn summarize(lf: LazyFrame) -> Result<Summary, WarehouseError> {
    // Currencies per tenant × platform, as a separate small query (aggregating a filtered list
    // inside the main group-by is slower and noisier).
    let cur = lf
        .clone()
        .select([col(cols::TENANT), col(cols::PLATFORM), col(cols::CURRENCY)])
        .drop_nulls(None)
        .unique(None, UniqueKeepStrategy::Any)
        .sort(
            [cols::TENANT, cols::PLATFORM, cols::CURRENCY],
            SortMultipleOptions::default(),
        )
        .collect()?;
    let mut currencies: std::collections::BTreeMap<(String, String), Vec<String>> =
        Default::default();
    {
        let t = cur.column(cols::TENANT)?.str()?;
        let p = cur.column(cols::PLATFORM)?.str()?;
        let c = cur.column(cols::CURRENCY)?.str()?;
        for i in 0..cur.height() {
            if let (Some(t), Some(p), Some(c)) = (t.get(i), p.get(i), c.get(i)) {
                currencies
                    .entry((t.to_string(), p.to_string()))
                    .or_default()
                    .push(c.to_string());
            }
        }
    }
    let df = lf
        .group_by([col(cols::TENANT), col(cols::PLATFORM)])
        .agg([
            len().alias("rows"),
            concat_str([col(cols::ACCOUNT_ID), col(cols::AD_ID)], "\u{1f}", true)
                .n_unique()
                .alias("creatives"),
            col(cols::ACCOUNT_ID).n_unique().alias("accounts"),
            col(cols::DATE).min().alias("first"),
            col(cols::DATE).max().alias("last"),
            col(cols::IMPRESSIONS).sum().alias("impressions"),
            col(cols::CLICKS).sum().alias("clicks"),
            col(cols::SPEND).sum().alias("spend"),
            col(cols::CONVERSIONS).sum().alias("conversions"),
        ])
        .sort(
            [cols::TENANT, cols::PLATFORM],
            SortMultipleOptions::default(),
        )
        .collect()?;
    let date = |c: &str, i: usize| -> Result<Option<chrono::NaiveDate>, WarehouseError> {
        let v = df.column(c)?.cast(&DataType::Int32)?;
        Ok(v.i32()?.get(i).map(days_to_date))
    };
    let mut rows = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let s = |c: &str| -> Result<String, WarehouseError> {
            Ok(df.column(c)?.str()?.get(i).unwrap_or_default().to_string())
        };
        let u = |c: &str| -> Result<u64, WarehouseError> {
            Ok(df
                .column(c)?
                .cast(&DataType::UInt64)?
                .u64()?
                .get(i)
                .unwrap_or(0))
        };
        let int = |c: &str| -> Result<i64, WarehouseError> {
            Ok(df
                .column(c)?
                .cast(&DataType::Int64)?
                .i64()?
                .get(i)
                .unwrap_or(0))
        };
        let fl = |c: &str| -> Result<f64, WarehouseError> {
            Ok(df
                .column(c)?
                .cast(&DataType::Float64)?
                .f64()?
                .get(i)
                .unwrap_or(0.0))
        };
        let (tenant, platform) = (s(cols::TENANT)?, s(cols::PLATFORM)?);
        let currencies = currencies
            .get(&(tenant.clone(), platform.clone()))
            .cloned()
            .unwrap_or_default();
        rows.push(SummaryRow {
            tenant,
            platform,
            rows: u("rows")?,
            creatives: u("creatives")?,
            accounts: u("accounts")?,
            first_date: date("first", i)?,
            last_date: date("last", i)?,
            impressions: int("impressions")?,
            clicks: int("clicks")?,
            spend: fl("spend")?,
            conversions: fl("conversions")?,
            currencies,
        });
    }
    Ok(Summary {
        rows: rows.iter().map(|r| r.rows).sum(),
        creatives: rows.iter().map(|r| r.creatives).sum(),
        first_date: rows.iter().filter_map(|r| r.first_date).min(),
        last_date: rows.iter().filter_map(|r| r.last_date).max(),
        by_tenant_platform: rows,
    })
}
