//! Test helpers: tiny `ad_daily` frames and a frame-equality assertion.

use chrono::NaiveDate;
use polars::prelude::*;

use crate::platforms::Platform;
use crate::schema::{AdDailyRow, rows_to_frame};

pub fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 3, d).expect("valid test day")
}

/// One ad-day of creative `ad` in account `acct` on platform Meta on 2025-03-`d`.
pub fn row(
    acct: &str,
    ad: &str,
    d: u32,
    imps: i64,
    clicks: i64,
    spend: Option<f64>,
    conv: Option<f64>,
) -> AdDailyRow {
    let mut r = AdDailyRow::new(Platform::Meta, acct.into(), ad.into(), day(d));
    r.impressions = imps;
    r.clicks = clicks;
    r.spend = spend;
    r.conversions = conv;
    r
}

pub fn frame(rows: &[AdDailyRow]) -> LazyFrame {
    rows_to_frame("t1", rows).expect("test frame").lazy()
}

/// Asserts `actual` equals `expected` on `expected`'s columns, after sorting both by `sort_by`
/// (row order stated by the caller). Floats compare with |a − e| ≤ tol·max(1, |e|); ±∞ and
/// null must match exactly; other types compare by value.
pub fn assert_frame_near(actual: &DataFrame, expected: &DataFrame, sort_by: &[&str], tol: f64) {
    let opts = SortMultipleOptions::default();
    let a = actual
        .sort(sort_by.to_vec(), opts.clone())
        .expect("sort actual");
    let e = expected
        .sort(sort_by.to_vec(), opts)
        .expect("sort expected");
    assert_eq!(
        a.height(),
        e.height(),
        "row count\nactual:\n{a}\nexpected:\n{e}"
    );
    for ec in e.columns() {
        let name = ec.name().as_str();
        let ac = a
            .column(name)
            .unwrap_or_else(|_| panic!("missing column {name}"));
        for i in 0..e.height() {
            let (av, ev) = (ac.get(i).expect("row"), ec.get(i).expect("row"));
            let ok = match (av.extract::<f64>(), ev.extract::<f64>()) {
                _ if ev.is_null() || av.is_null() => ev.is_null() && av.is_null(),
                (Some(x), Some(y)) if ev.dtype().is_float() => {
                    if y.is_infinite() || x.is_infinite() {
                        x == y
                    } else {
                        (x - y).abs() <= tol * y.abs().max(1.0)
                    }
                }
                _ => av == ev,
            };
            assert!(
                ok,
                "column {name}, row {i}: actual {av:?}, expected {ev:?}\nactual:\n{a}"
            );
        }
    }
}

/// Runs `f` on a thread with a 64 MiB stack. The label and feature plans run in 1 MiB today
/// (measured on a debug build, where Polars recurses deepest); before the shared sub-plans were
/// cached they did not fit the 2 MiB test-thread stack. The headroom keeps a deeper plan from
/// aborting the whole test binary with a stack overflow instead of failing one test.
pub fn big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(f)
        .expect("spawn test thread")
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: &str, v: Vec<Option<f64>>) -> DataFrame {
        DataFrame::new(v.len(), vec![Column::new(name.into(), v)]).unwrap()
    }

    #[test]
    fn equal_within_tolerance_passes() {
        let a = one("x", vec![Some(1.0 + 1e-12), None, Some(f64::INFINITY)]);
        let e = one("x", vec![Some(1.0), None, Some(f64::INFINITY)]);
        assert_frame_near(&a, &e, &["x"], 1e-9);
    }

    #[test]
    #[should_panic(expected = "column x")]
    fn a_different_value_fails() {
        assert_frame_near(
            &one("x", vec![Some(0.76)]),
            &one("x", vec![Some(0.75)]),
            &["x"],
            1e-9,
        );
    }

    #[test]
    #[should_panic(expected = "column x")]
    fn null_versus_value_fails() {
        assert_frame_near(
            &one("x", vec![None]),
            &one("x", vec![Some(0.75)]),
            &["x"],
            1e-9,
        );
    }
}
