//! Label tests on tiny hand-written frames; expectations computed by hand in the comments.

use polars::prelude::*;

use super::cols::*;
use super::testutil::*;
use super::{LabelConfig, label_creatives, label_days, rule_counts};
use crate::schema::{AdDailyRow, cols as ad};

const TOL: f64 = 1e-9;

fn days(rows: &[AdDailyRow], cfg: &LabelConfig) -> DataFrame {
    label_days(frame(rows), cfg).unwrap().collect().unwrap()
}
fn creatives(rows: &[AdDailyRow], cfg: &LabelConfig) -> DataFrame {
    label_creatives(frame(rows), cfg)
        .unwrap()
        .collect()
        .unwrap()
}
fn no_adjust() -> LabelConfig {
    LabelConfig {
        seasonal_adjustment: false,
        ..LabelConfig::default()
    }
}
fn dates(ds: &[u32]) -> Column {
    Column::new(
        ad::DATE.into(),
        ds.iter().map(|d| day(*d)).collect::<Vec<_>>(),
    )
}
fn opt_dates(name: &str, ds: &[Option<u32>]) -> Column {
    Column::new(
        name.into(),
        ds.iter().map(|d| d.map(day)).collect::<Vec<_>>(),
    )
}
fn ads(name: &str, n: usize) -> Column {
    Column::new(ad::AD_ID.into(), vec![name; n])
}
fn df(cols: Vec<Column>) -> DataFrame {
    let h = cols.first().map_or(0, |c| c.len());
    DataFrame::new(h, cols).unwrap()
}
/// Rows of one creative only.
fn only(d: &DataFrame, ad_id: &str) -> DataFrame {
    d.clone()
        .lazy()
        .filter(col(ad::AD_ID).eq(lit(ad_id)))
        .collect()
        .unwrap()
}
const DAY_ORDER: [&str; 2] = [ad::AD_ID, ad::DATE];

#[test]
fn smoke() {
    let rows = vec![row("A", "x", 1, 1000, 10, Some(10.0), None)];
    let d = days(&rows, &LabelConfig::default());
    println!("{d}");
}
