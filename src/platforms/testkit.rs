//! Test kit shared by all nine connectors' tests: parse written files back and compare with
//! `carried`, random rows (a proptest strategy, or seeded histories) for the round-trip
//! property, fixture totals, byte mutations for the no-panic properties, and the scope
//! (`--account-id` / `--currency`) error check. Two fixed scopes exist because the two
//! connector groups' fixtures and expectations were written against different accounts:
//! [`ctx`]/[`scope_opts`] (USD, `1234567890`) and [`ctx_at`]/[`opts`] ([`ACCOUNT`], [`CURRENCY`]).
use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::schema::AdDailyRow;

/// Parses every file (decompressing it) into one set of columns, folding rows across files.
pub fn read_back(
    p: Platform,
    files: &[NativeFile],
    opts: &ParseOptions,
) -> Result<Vec<AdDailyRow>, ParseError> {
    let mut all = AdDailyColumns::new();
    for f in files {
        let b = decompress(&f.bytes)?;
        parse_native_into(p, &b, opts, &mut all)?;
    }
    Ok(all.into_rows())
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

// ------------------------------------------------ seeded histories and the normalize round trip

pub const ACCOUNT: &str = "5101234";
pub const CURRENCY: &str = "EUR";

/// Scope options matching [`ctx_at`]: account [`ACCOUNT`], currency [`CURRENCY`].
pub fn opts() -> ParseOptions {
    ParseOptions {
        account_id: Some(ACCOUNT.into()),
        currency: Some(CURRENCY.into()),
        ..Default::default()
    }
}

/// A writer context for account [`ACCOUNT`] in [`CURRENCY`] at a given UTC offset.
pub fn ctx_at(seed: u64, utc_offset_minutes: i32, format: NativeFormat) -> WriteContext {
    WriteContext {
        account_id: ACCOUNT.into(),
        account_name: "Acme EU".into(),
        currency: CURRENCY.into(),
        utc_offset_minutes,
        format,
        seed,
    }
}

/// A random history of one account: 1–4 ads, each active on up to 8 distinct days spread
/// over ~7 weeks (so 7- and 30-day request windows and paging are crossed). Money is in
/// cents, conversions have two decimals; optional fields are sometimes absent.
pub fn rows(
    seed: u64,
    platform: Platform,
    ad_id: fn(&mut ChaCha8Rng, usize) -> String,
) -> Vec<AdDailyRow> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let base = NaiveDate::from_ymd_opt(2026, 2, 20).unwrap_or_default();
    let n_ads = rng.gen_range(1..=4);
    let mut out = Vec::new();
    for a in 0..n_ads {
        let id = ad_id(&mut rng, a);
        let mut days: Vec<i64> = (0..rng.gen_range(1..=8))
            .map(|_| rng.gen_range(0..50))
            .collect();
        days.sort_unstable();
        days.dedup();
        let campaign = rng.gen_range(100..999);
        for d in days {
            let date = base + chrono::Duration::days(d);
            let mut r = AdDailyRow::new(platform, ACCOUNT.into(), id.clone(), date);
            r.impressions = rng.gen_range(0..200_000);
            r.clicks = rng.gen_range(0..=r.impressions.min(9_000));
            let opt = |rng: &mut ChaCha8Rng| rng.gen_bool(0.8);
            r.reach = opt(&mut rng).then(|| rng.gen_range(0..=r.impressions));
            r.spend = opt(&mut rng).then(|| rng.gen_range(0..5_000_000) as f64 / 100.0);
            r.conversions = opt(&mut rng).then(|| rng.gen_range(0..50_000) as f64 / 100.0);
            r.conversion_value = opt(&mut rng).then(|| rng.gen_range(0..9_000_000) as f64 / 100.0);
            r.video_views = opt(&mut rng).then(|| rng.gen_range(0..=r.impressions));
            r.campaign_id = opt(&mut rng).then(|| campaign.to_string());
            r.campaign_name = opt(&mut rng).then(|| format!("Campaign {campaign}"));
            r.ad_group_id = opt(&mut rng).then(|| format!("{campaign}{a}"));
            r.ad_group_name = opt(&mut rng).then(|| format!("Group {a}"));
            r.ad_name = opt(&mut rng).then(|| format!("Creative \"{a}\" é"));
            r.currency = Some(CURRENCY.into());
            out.push(r);
        }
    }
    out
}

/// Writes `rows`, normalizes every written file (detected and by name) and checks that the
/// result is exactly `carried(row)` for every input row (money within 1e-6), that writing
/// is deterministic, and that file names follow `<platform>_<account>_<first>_<last>`.
pub fn round_trip(
    platform: Platform,
    rows: &[AdDailyRow],
    ctx: &WriteContext,
) -> Result<(), String> {
    let files = write_native(platform, rows, ctx);
    let again = write_native(platform, rows, ctx);
    if files.len() != again.len()
        || files
            .iter()
            .zip(&again)
            .any(|(a, b)| a.bytes != b.bytes || a.file_name != b.file_name)
    {
        return Err("writer is not deterministic".into());
    }
    let prefix = format!("{}_{}_", platform.as_str(), ctx.account_id);
    let opts = opts();
    let mut got = Vec::new();
    for f in &files {
        if !f.file_name.starts_with(&prefix) {
            return Err(format!("bad file name {}", f.file_name));
        }
        let plain = decompress(&f.bytes).map_err(|e| e.to_string())?;
        let detected = detect(&plain).map_err(|e| format!("{}: {e}", f.file_name))?;
        if detected != platform {
            return Err(format!("{} detected as {detected}", f.file_name));
        }
        let (_, r) = normalize(Some(platform), &f.bytes, &opts)
            .map_err(|e| format!("{}: {e}", f.file_name))?;
        got.extend(r);
    }
    if got.len() != rows.len() {
        return Err(format!("{} rows in, {} rows out", rows.len(), got.len()));
    }
    let by_key: HashMap<(String, NaiveDate), &AdDailyRow> =
        got.iter().map(|r| ((r.ad_id.clone(), r.date), r)).collect();
    for row in rows {
        let want = carried(platform, ctx.format, row);
        let have = by_key
            .get(&(row.ad_id.clone(), row.date))
            .ok_or_else(|| format!("row {} {} missing", row.ad_id, row.date))?;
        let money_ok = close(want.spend, have.spend)
            && close(want.conversions, have.conversions)
            && close(want.conversion_value, have.conversion_value);
        let mut w = want.clone();
        let mut h = (*have).clone();
        for r in [&mut w, &mut h] {
            r.spend = None;
            r.conversions = None;
            r.conversion_value = None;
        }
        if !money_ok || w != h {
            return Err(format!("mismatch:\n want {want:?}\n have {have:?}"));
        }
    }
    Ok(())
}

/// Cuts `bytes` at `cut` (if shorter) and overwrites a few bytes: the no-panic corpus.
pub fn cut_and_flip(bytes: &[u8], cut: usize, flips: &[(usize, u8)]) -> Vec<u8> {
    let mut b = bytes[..cut.min(bytes.len())].to_vec();
    for &(i, v) in flips {
        if !b.is_empty() {
            let n = b.len();
            b[i % n] = v;
        }
    }
    b
}

/// A numeric id like the ones LinkedIn, Pinterest and TikTok use.
pub fn numeric_id(rng: &mut ChaCha8Rng, i: usize) -> String {
    format!("{}{i}", rng.gen_range(10_000_000u64..99_999_999))
}

// ------------------------------------------------ fixtures and expected errors

/// A connector's `parse`.
pub type ParseFn = fn(&[u8], &ParseOptions) -> Result<Vec<NativeRow>, ParseError>;

/// The bytes of `tests/fixtures/<dir>/<name>`; panics naming the path when it cannot be read.
pub fn fixture_bytes(dir: &str, name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{dir}/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The error a parse must have returned; panics with the row count when it succeeded.
pub fn expect_err(r: Result<Vec<NativeRow>, ParseError>) -> ParseError {
    match r {
        Err(e) => e,
        Ok(rows) => panic!("expected an error, got {} rows", rows.len()),
    }
}

/// Scope with only an account id (so a file without a currency must ask for `--currency`).
pub fn only_account(account_id: &str) -> ParseOptions {
    ParseOptions {
        account_id: Some(account_id.into()),
        ..ParseOptions::default()
    }
}

/// Scope with only a currency (so a file without an account must ask for `--account-id`).
pub fn only_currency(currency: &str) -> ParseOptions {
    ParseOptions {
        currency: Some(currency.into()),
        ..ParseOptions::default()
    }
}

/// Asserts that a parse failed with a message naming the command-line `flag`.
pub fn assert_flag_named(r: Result<Vec<NativeRow>, ParseError>, flag: &str) {
    let e = expect_err(r);
    assert!(e.message.contains(flag), "{e}");
}

/// Asserts that `parse` of `bytes` (a file carrying neither account nor currency) names
/// `--account-id` when only `currency` is in scope and `--currency` when only `account_id` is.
pub fn assert_needs_scope(parse: ParseFn, bytes: &[u8], currency: &str, account_id: &str) {
    assert_flag_named(parse(bytes, &only_currency(currency)), "--account-id");
    assert_flag_named(parse(bytes, &only_account(account_id)), "--currency");
}

/// The Google-group round trip: writes `rows` with the connector's `write` in `format`, reads
/// every file back under [`scope_opts`], checks [`assert_round_trip`], and that writing again
/// with the same seed gives the same bytes in every file.
pub fn check_write_round_trip(
    p: Platform,
    write: fn(&[AdDailyRow], &WriteContext) -> Vec<NativeFile>,
    rows: &[AdDailyRow],
    format: NativeFormat,
    seed: u64,
) -> Result<(), TestCaseError> {
    let files = write(rows, &ctx(format, seed));
    let got =
        read_back(p, &files, &scope_opts()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    assert_round_trip(p, format, rows, &got)?;
    let again = write(rows, &ctx(format, seed));
    prop_assert_eq!(
        files.iter().map(|f| f.bytes.clone()).collect::<Vec<_>>(),
        again.iter().map(|f| f.bytes.clone()).collect::<Vec<_>>()
    );
    Ok(())
}

/// Normalizes `bytes` with the platform detected from content, asserts it is `expected`, and
/// returns the rows; panics on a parse error.
pub fn normalize_as(expected: Platform, bytes: &[u8], opts: &ParseOptions) -> Vec<AdDailyRow> {
    let (p, rows) = normalize(None, bytes, opts).unwrap_or_else(|e| panic!("parses: {e}"));
    assert_eq!(p, expected);
    rows
}
