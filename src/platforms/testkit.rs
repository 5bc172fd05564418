//! Test kit shared by the connector tests: parse written files back and compare with
//! `carried`, random-row strategies for the round-trip property, totals, byte mutation.
use super::*;
use crate::platforms::{decompress, finalize, parse_native};
use crate::schema::AdDailyRow;
use chrono::NaiveDate;
use proptest::prelude::*;
use std::collections::BTreeMap;

/// Parses every file (decompressing it), concatenates the rows and folds them.
pub fn read_back(
    p: Platform,
    files: &[NativeFile],
    opts: &ParseOptions,
) -> Result<Vec<AdDailyRow>, ParseError> {
    let mut all = Vec::new();
    for f in files {
        let b = decompress(&f.bytes)?;
        all.extend(parse_native(p, &b, opts)?);
    }
    Ok(finalize(all))
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => (x - y).abs() <= 1e-6,
        _ => false,
    }
}

/// Asserts that `got` holds exactly `carried(row)` for every input row (money within 1e-6).
pub fn assert_round_trip(
    p: Platform,
    format: NativeFormat,
    input: &[AdDailyRow],
    got: &[AdDailyRow],
) -> Result<(), TestCaseError> {
    let by_key: BTreeMap<(String, NaiveDate), &AdDailyRow> =
        got.iter().map(|r| ((r.ad_id.clone(), r.date), r)).collect();
    prop_assert_eq!(got.len(), input.len());
    for r in input {
        let want = crate::platforms::carried(p, format, r);
        let g = by_key.get(&(r.ad_id.clone(), r.date));
        prop_assert!(g.is_some(), "row {} {} missing", r.ad_id, r.date);
        let g = *g.unwrap_or(&r);
        let mut g0 = g.clone();
        let mut w0 = want.clone();
        for x in [&mut g0, &mut w0] {
            x.spend = None;
            x.conversions = None;
            x.conversion_value = None;
        }
        prop_assert_eq!(g0, w0);
        prop_assert!(
            close(g.spend, want.spend),
            "spend {:?} vs {:?}",
            g.spend,
            want.spend
        );
        prop_assert!(
            close(g.conversions, want.conversions),
            "conv {:?} vs {:?}",
            g.conversions,
            want.conversions
        );
        prop_assert!(
            close(g.conversion_value, want.conversion_value),
            "value {:?} vs {:?}",
            g.conversion_value,
            want.conversion_value
        );
    }
    Ok(())
}

/// Random rows of one account: 1–4 ads over 1–6 days, numeric ids, money in cents,
/// conversions with 2 decimals, names that may need CSV quoting.
pub fn rows_strategy(p: Platform) -> impl Strategy<Value = Vec<AdDailyRow>> {
    let metrics = (
        0i64..2_000_000,
        0i64..50_000,
        proptest::option::of(0i64..500_000),
        proptest::option::of(0i64..5_000_000),
        proptest::option::of(0i64..50_000),
        proptest::option::of(0i64..10_000_000),
        proptest::option::of(0i64..100_000),
    );
    (
        1usize..=4,
        1usize..=6,
        "[A-Za-z][A-Za-z ,\"é]{0,10}[A-Za-z]",
    )
        .prop_flat_map(move |(ads, days, name)| {
            proptest::collection::vec(metrics.clone(), ads * days)
                .prop_map(move |ms| (ads, days, name.clone(), ms))
        })
        .prop_map(move |(ads, days, name, ms)| {
            let d0 = NaiveDate::from_ymd_opt(2026, 8, 30).unwrap_or_default();
            let mut rows = Vec::new();
            for a in 0..ads {
                for d in 0..days {
                    let (imp, clk, reach, spend, conv, val, vid) = ms[a * days + d];
                    let mut r = AdDailyRow::new(
                        p,
                        "1234567890".into(),
                        format!("{}", 90_000_000_000u64 + a as u64 * 7),
                        d0 + chrono::Duration::days(d as i64),
                    );
                    r.campaign_id = Some(format!("{}", 700 + a % 2));
                    r.ad_group_id = Some(format!("{}", 800 + a));
                    r.campaign_name = Some(format!("{name} C{}", a % 2));
                    r.ad_group_name = Some(format!("G{a}"));
                    r.ad_name = Some(format!("{name} ad {a}"));
                    r.impressions = imp;
                    r.clicks = clk.min(imp);
                    r.reach = reach.map(|x| x.min(imp));
                    r.spend = spend.map(|c| c as f64 / 100.0);
                    r.currency = Some("USD".into());
                    r.conversions = conv.map(|c| c as f64 / 100.0);
                    r.conversion_value = val.map(|c| c as f64 / 100.0);
                    r.video_views = vid;
                    rows.push(r);
                }
            }
            rows
        })
}

pub fn ctx(format: NativeFormat, seed: u64) -> WriteContext {
    WriteContext {
        account_id: "1234567890".into(),
        account_name: "Acme, Inc.".into(),
        currency: "USD".into(),
        utc_offset_minutes: -300,
        format,
        seed,
    }
}

pub fn scope_opts() -> ParseOptions {
    ParseOptions {
        account_id: Some("1234567890".into()),
        currency: Some("USD".into()),
        ..ParseOptions::default()
    }
}

/// Sums (rows, impressions, clicks, spend, conversions, value) of normalized rows.
pub fn totals(rows: &[AdDailyRow]) -> (usize, i64, i64, f64, f64, f64) {
    (
        rows.len(),
        rows.iter().map(|r| r.impressions).sum(),
        rows.iter().map(|r| r.clicks).sum(),
        rows.iter().filter_map(|r| r.spend).sum(),
        rows.iter().filter_map(|r| r.conversions).sum(),
        rows.iter().filter_map(|r| r.conversion_value).sum(),
    )
}

pub fn assert_totals(
    got: (usize, i64, i64, f64, f64, f64),
    want: (usize, i64, i64, f64, f64, f64),
) {
    assert_eq!(
        (got.0, got.1, got.2),
        (want.0, want.1, want.2),
        "rows/impressions/clicks"
    );
    assert!(
        (got.3 - want.3).abs() < 1e-6,
        "spend {} vs {}",
        got.3,
        want.3
    );
    assert!(
        (got.4 - want.4).abs() < 1e-6,
        "conversions {} vs {}",
        got.4,
        want.4
    );
    assert!(
        (got.5 - want.5).abs() < 1e-6,
        "value {} vs {}",
        got.5,
        want.5
    );
}

/// Truncations and byte flips of `bytes`, for the no-panic property.
pub fn mutations() -> impl Strategy<Value = (usize, Vec<(usize, u8)>)> {
    (
        any::<usize>(),
        proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
    )
}

pub fn mutate(bytes: &[u8], m: &(usize, Vec<(usize, u8)>)) -> Vec<u8> {
    let mut b = bytes.to_vec();
    if !b.is_empty() {
        for (i, v) in &m.1 {
            let n = b.len();
            if let Some(x) = b.get_mut(i % n) {
                *x = *v;
            }
        }
        b.truncate(m.0 % (b.len() + 1));
    }
    b
}
