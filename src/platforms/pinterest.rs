//! Pinterest Ads (API v5) connector: parses the ad-level analytics response
//! (`GET /v5/ad_accounts/{id}/ads/analytics?granularity=DAY&columns=...`, a JSON array of flat
//! UPPER_SNAKE objects) into ad-day rows, and writes it back for the simulator. Reference:
//! docs/connectors.md, "Pinterest".
//!
//! Also accepted: an object whose values are arrays of such rows, keyed by entity id, which is
//! how the async report download (`POST /v5/ad_accounts/{id}/reports`, level `PIN_PROMOTION`)
//! groups rows (not checked against a real download); and a `{"code":..,"message":..}` error
//! body, which is an error naming both.
//!
//! Mapping and quirks:
//! - ad id `AD_ID`, day `DATE` (`YYYY-MM-DD`; reporting time zone as requested, UTC by
//!   default), account `AD_ACCOUNT_ID` (request scope only when a row lacks it);
//! - impressions `IMPRESSION_1` (paid; `PAID_IMPRESSION` as fallback);
//! - clicks `OUTBOUND_CLICK_1` (link clicks to the destination), falling back to
//!   `CLICKTHROUGH_1` (pin clicks) when outbound clicks were not requested;
//! - spend `SPEND_IN_MICRO_DOLLAR` ÷ 1e6 (`SPEND_IN_DOLLAR` as fallback): **account currency
//!   despite the "DOLLAR" name**, so the currency comes from [`ParseOptions`];
//! - conversions `TOTAL_CONVERSIONS`, value `TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR` ÷ 1e6,
//!   reach `TOTAL_IMPRESSION_USER`, video views `TOTAL_VIDEO_3SEC_VIEWS`;
//! - `CAMPAIGN_ID`, `AD_GROUP_ID` and `CAMPAIGN_NAME` are columns; ad-group and ad names come
//!   from the entity endpoints and are not carried.
//!
//! Numbers may be JSON numbers or strings; ids never go through floats.

use std::borrow::Cow;
use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{Value, json};

use super::common::{self, JsonNum, at};
use super::writer::{json_file_name, json_number};
use super::{
    Location, NativeFile, NativeFormat, NativeRow, ParseError, ParseOptions, Platform, WriteContext,
};
use crate::schema::AdDailyRow;

/// Whether the text looks like a Pinterest ads analytics response.
pub fn looks_like(head: &str) -> bool {
    [
        "\"SPEND_IN_MICRO_DOLLAR\"",
        "\"AD_ACCOUNT_ID\"",
        "\"IMPRESSION_1\"",
        "\"PIN_ID\"",
        "\"OUTBOUND_CLICK_1\"",
        "\"TOTAL_IMPRESSION_USER\"",
    ]
    .iter()
    .any(|k| head.contains(k))
}

#[derive(Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
struct Row<'a> {
    #[serde(borrow, default)]
    ad_id: JsonNum<'a>,
    #[serde(borrow, default)]
    date: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    ad_account_id: JsonNum<'a>,
    #[serde(borrow, default)]
    campaign_id: JsonNum<'a>,
    #[serde(borrow, default)]
    ad_group_id: JsonNum<'a>,
    #[serde(borrow, default)]
    campaign_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    spend_in_micro_dollar: JsonNum<'a>,
    #[serde(borrow, default)]
    spend_in_dollar: JsonNum<'a>,
    #[serde(borrow, default, rename = "IMPRESSION_1")]
    impression_1: JsonNum<'a>,
    #[serde(borrow, default)]
    paid_impression: JsonNum<'a>,
    #[serde(borrow, default, rename = "OUTBOUND_CLICK_1")]
    outbound_click_1: JsonNum<'a>,
    #[serde(borrow, default, rename = "CLICKTHROUGH_1")]
    clickthrough_1: JsonNum<'a>,
    #[serde(borrow, default)]
    total_impression_user: JsonNum<'a>,
    #[serde(borrow, default)]
    total_conversions: JsonNum<'a>,
    #[serde(borrow, default)]
    total_checkout_value_in_micro_dollar: JsonNum<'a>,
    #[serde(borrow, default, rename = "TOTAL_VIDEO_3SEC_VIEWS")]
    total_video_3sec_views: JsonNum<'a>,
}

/// A JSON object body: an error, or async-report rows grouped by entity id.
#[derive(Deserialize)]
struct ObjectBody<'a> {
    #[serde(borrow, default)]
    code: JsonNum<'a>,
    #[serde(default)]
    message: Option<String>,
    #[serde(borrow, flatten)]
    groups: BTreeMap<String, Vec<Row<'a>>>,
}

/// Parses a Pinterest ads analytics response (array) or async report (object of arrays).
pub fn parse(bytes: &[u8], opts: &ParseOptions) -> Result<Vec<NativeRow>, ParseError> {
    let bytes = common::strip_bom(bytes);
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let groups: Vec<(String, Vec<Row>)> = if first == Some(b'{') {
        let body: ObjectBody = serde_json::from_slice(bytes).map_err(|e| ParseError::json(&e))?;
        if body.code != JsonNum::Null || body.message.is_some() {
            return Err(ParseError::new(
                Location::Path("code".into()),
                Some("code"),
                format!(
                    "Pinterest API error {}: {}",
                    body.code.to_id().unwrap_or_else(|| "-".into()),
                    body.message.as_deref().unwrap_or("no message")
                ),
            ));
        }
        body.groups
            .into_iter()
            .map(|(k, v)| (format!("{k:?}"), v))
            .collect()
    } else {
        let rows: Vec<Row> = serde_json::from_slice(bytes).map_err(|e| ParseError::json(&e))?;
        vec![(String::new(), rows)]
    };
    let currency = opts.require_currency(Platform::Pinterest)?;
    let mut out = Vec::new();
    for (key, rows) in &groups {
        for (i, r) in rows.iter().enumerate() {
            let loc = || {
                if key.is_empty() {
                    Location::Path(format!("[{i}]"))
                } else {
                    Location::Path(format!("[{key}][{i}]"))
                }
            };
            out.push(NativeRow::from(row(r, loc, &currency, opts)?));
        }
    }
    Ok(out)
}

fn row(
    r: &Row,
    loc: impl Fn() -> Location + Copy,
    currency: &str,
    opts: &ParseOptions,
) -> Result<AdDailyRow, ParseError> {
    let id = |v: &JsonNum| v.to_id().filter(|s| !common::is_missing(s));
    let ad_id = id(&r.ad_id).ok_or_else(|| ParseError::new(loc(), Some("AD_ID"), "missing"))?;
    let day = r
        .date
        .as_deref()
        .ok_or_else(|| ParseError::new(loc(), Some("DATE"), "missing (request granularity=DAY)"))?;
    let date = at(super::common::parse_day(day), loc, "DATE")?;
    let account = match id(&r.ad_account_id) {
        Some(a) => a,
        None => opts.require_account_id(Platform::Pinterest)?,
    };
    let impressions = match r.impression_1.count_at(loc, "IMPRESSION_1")? {
        Some(v) => v,
        None => r
            .paid_impression
            .count_at(loc, "PAID_IMPRESSION")?
            .ok_or_else(|| ParseError::new(loc(), Some("IMPRESSION_1"), "missing"))?,
    };
    let mut row = AdDailyRow::new(Platform::Pinterest, account, ad_id, date);
    row.impressions = impressions;
    row.clicks = match r.outbound_click_1.count_at(loc, "OUTBOUND_CLICK_1")? {
        Some(v) => v,
        None => r
            .clickthrough_1
            .count_at(loc, "CLICKTHROUGH_1")?
            .unwrap_or(0),
    };
    row.spend = match r
        .spend_in_micro_dollar
        .micros_money_at(loc, "SPEND_IN_MICRO_DOLLAR")?
    {
        Some(v) => Some(v),
        None => r.spend_in_dollar.money_at(loc, "SPEND_IN_DOLLAR")?,
    };
    row.reach = r
        .total_impression_user
        .count_at(loc, "TOTAL_IMPRESSION_USER")?;
    row.conversions = r.total_conversions.money_at(loc, "TOTAL_CONVERSIONS")?;
    row.conversion_value = r
        .total_checkout_value_in_micro_dollar
        .micros_money_at(loc, "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR")?;
    row.video_views = r
        .total_video_3sec_views
        .count_at(loc, "TOTAL_VIDEO_3SEC_VIEWS")?;
    row.campaign_id = id(&r.campaign_id);
    row.ad_group_id = id(&r.ad_group_id);
    row.campaign_name = r
        .campaign_name
        .as_deref()
        .filter(|s| !common::is_missing(s))
        .map(str::to_string);
    row.currency = Some(currency.to_string());
    Ok(row)
}

fn micros(v: f64) -> i64 {
    (v * 1_000_000.0).round() as i64
}

/// The longest date range one synchronous analytics request may cover.
const MAX_RANGE_DAYS: i64 = 90;

/// Writes the synchronous ads-analytics responses for one account: one JSON array per request,
/// requests covering at most 90 days (files `_pN` when there are several). Missing metrics are
/// left out of the object; `PIN_ID`s are made up per ad; pin clicks (`CLICKTHROUGH_1`) are
/// written a little above outbound clicks. `UiCsv` writes the API JSON too: no Pinterest UI
/// export is established.
pub fn write(rows: &[AdDailyRow], ctx: &WriteContext) -> Vec<NativeFile> {
    let mut sorted: Vec<&AdDailyRow> = rows.iter().collect();
    sorted.sort_by(|a, b| (a.date, &a.ad_id).cmp(&(b.date, &b.ad_id)));
    let Some(first) = sorted.first().map(|r| r.date) else {
        return Vec::new();
    };
    let last = sorted.last().map(|r| r.date).unwrap_or(first);
    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed ^ 0x5049_4e54);
    let mut pins: BTreeMap<&str, String> = BTreeMap::new();
    let mut windows: Vec<Vec<Value>> = Vec::new();
    let mut current = None;
    for r in sorted {
        let w = (r.date - first).num_days() / MAX_RANGE_DAYS;
        if current != Some(w) {
            windows.push(Vec::new());
            current = Some(w);
        }
        let pin = pins
            .entry(r.ad_id.as_str())
            .or_insert_with(|| {
                rng.gen_range(100_000_000_000u64..999_999_999_999)
                    .to_string()
            })
            .clone();
        let mut o = serde_json::Map::new();
        o.insert("AD_ACCOUNT_ID".into(), json!(ctx.account_id));
        o.insert("AD_ID".into(), json!(r.ad_id));
        o.insert("PIN_ID".into(), json!(pin));
        o.insert("DATE".into(), json!(r.date.to_string()));
        if let Some(v) = &r.campaign_id {
            o.insert("CAMPAIGN_ID".into(), json!(v));
        }
        if let Some(v) = &r.campaign_name {
            o.insert("CAMPAIGN_NAME".into(), json!(v));
        }
        if let Some(v) = &r.ad_group_id {
            o.insert("AD_GROUP_ID".into(), json!(v));
        }
        o.insert("IMPRESSION_1".into(), json!(r.impressions));
        o.insert("PAID_IMPRESSION".into(), json!(r.impressions));
        o.insert("OUTBOUND_CLICK_1".into(), json!(r.clicks));
        let extra = rng.gen_range(0..=r.clicks / 3 + 1);
        o.insert("CLICKTHROUGH_1".into(), json!(r.clicks + extra));
        if let Some(s) = r.spend {
            o.insert("SPEND_IN_MICRO_DOLLAR".into(), json!(micros(s)));
            o.insert("SPEND_IN_DOLLAR".into(), json!(s));
        }
        if let Some(v) = r.reach {
            o.insert("TOTAL_IMPRESSION_USER".into(), json!(v));
        }
        if let Some(v) = r.conversions {
            o.insert("TOTAL_CONVERSIONS".into(), json_number(v));
        }
        if let Some(v) = r.conversion_value {
            o.insert(
                "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR".into(),
                json!(micros(v)),
            );
        }
        if let Some(v) = r.video_views {
            o.insert("TOTAL_VIDEO_3SEC_VIEWS".into(), json!(v));
        }
        if let Some(win) = windows.last_mut() {
            win.push(Value::Object(o));
        }
    }
    let many = windows.len() > 1;
    windows
        .into_iter()
        .enumerate()
        .map(|(i, w)| NativeFile {
            file_name: json_file_name(
                Platform::Pinterest,
                &ctx.account_id,
                first,
                last,
                many.then_some(i + 1),
            ),
            bytes: serde_json::to_vec(&Value::Array(w)).unwrap_or_default(),
        })
        .collect()
}

/// What Pinterest ads analytics carry of a row: ids and the campaign name, but no ad-group or
/// ad names (entity endpoints).
pub fn carried(row: &AdDailyRow, _format: NativeFormat) -> AdDailyRow {
    let mut r = row.clone();
    r.ad_group_name = None;
    r.ad_name = None;
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::testkit;
    use chrono::NaiveDate;
    use proptest::prelude::*;

    const FIXTURE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/pinterest/ads_analytics_day.json"
    );

    fn fixture() -> Vec<u8> {
        std::fs::read(FIXTURE).expect("fixture")
    }

    fn err_of(bytes: &[u8]) -> ParseError {
        testkit::expect_err(parse(bytes, &testkit::opts()))
    }

    #[test]
    fn fixture_totals() {
        let rows = testkit::normalize_as(Platform::Pinterest, &fixture(), &testkit::opts());
        assert_eq!(rows.len(), 3);
        // IMPRESSION_1 100 + 2500 + PAID_IMPRESSION 40 (third row has no IMPRESSION_1) = 2640
        assert_eq!(rows.iter().map(|r| r.impressions).sum::<i64>(), 2640);
        // OUTBOUND_CLICK_1 3 + 41, third row falls back to CLICKTHROUGH_1 2 → 46
        assert_eq!(rows.iter().map(|r| r.clicks).sum::<i64>(), 46);
        // SPEND_IN_MICRO_DOLLAR 1_230_000 + "25000000" + SPEND_IN_DOLLAR 0.5 → 1.23 + 25 + 0.5 = 26.73
        let spend: f64 = rows.iter().filter_map(|r| r.spend).sum();
        assert!((spend - 26.73).abs() < 1e-9, "{spend}");
        // TOTAL_CONVERSIONS 0 + 3.5 = 3.5
        let conv: f64 = rows.iter().filter_map(|r| r.conversions).sum();
        assert!((conv - 3.5).abs() < 1e-9);
        // TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR 0 + 104_970_000 → 104.97
        let value: f64 = rows.iter().filter_map(|r| r.conversion_value).sum();
        assert!((value - 104.97).abs() < 1e-9);
        let r = &rows[0];
        assert_eq!(r.account_id, "549755885175");
        assert_eq!(r.ad_id, "687195134316");
        assert_eq!(r.campaign_id.as_deref(), Some("626736533506"));
        assert_eq!(r.campaign_name.as_deref(), Some("Spring decor"));
        assert_eq!(r.reach, Some(90));
        assert_eq!(r.video_views, None);
        assert_eq!(r.date, NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
        assert_eq!(r.currency.as_deref(), Some(testkit::CURRENCY));
        // the third row carries its AD_ID as a JSON number
        assert_eq!(rows[2].ad_id, "687195134399");
    }

    #[test]
    fn async_report_object_and_error_body() {
        let body = br#"{"687195134316":[{"AD_ID":"687195134316","DATE":"2024-01-01","AD_ACCOUNT_ID":"5","IMPRESSION_1":7,"SPEND_IN_MICRO_DOLLAR":10000}]}"#;
        let rows = parse(body, &testkit::opts()).expect("parses");
        // one row, spend 10_000 micros = 0.01
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].row.spend, Some(0.01));
        let e = err_of(br#"{"code":2,"message":"Authentication failed."}"#);
        assert_eq!(e.field.as_deref(), Some("code"));
        assert!(e.message.contains("Authentication failed"), "{e}");
    }

    #[test]
    fn bad_values_are_located() {
        let one = |body: &str| {
            format!(r#"[{{"AD_ID":"1","DATE":"2024-01-01","AD_ACCOUNT_ID":"5",{body}}}]"#)
        };
        let e = err_of(one(r#""IMPRESSION_1":1,"SPEND_IN_MICRO_DOLLAR":-5"#).as_bytes());
        assert_eq!(e.location, Location::Path("[0]".into()));
        assert_eq!(e.field.as_deref(), Some("SPEND_IN_MICRO_DOLLAR"));
        assert_eq!(
            err_of(one(r#""IMPRESSION_1":1,"SPEND_IN_DOLLAR":"NaN""#).as_bytes())
                .field
                .as_deref(),
            Some("SPEND_IN_DOLLAR")
        );
        assert_eq!(
            err_of(one(r#""IMPRESSION_1":"many""#).as_bytes())
                .field
                .as_deref(),
            Some("IMPRESSION_1")
        );
        assert_eq!(
            err_of(one(r#""CLICKTHROUGH_1":1"#).as_bytes())
                .field
                .as_deref(),
            Some("IMPRESSION_1")
        );
        assert_eq!(
            err_of(one(r#""IMPRESSION_1":3,"OUTBOUND_CLICK_1":-1"#).as_bytes())
                .field
                .as_deref(),
            Some("OUTBOUND_CLICK_1")
        );
        assert_eq!(
            err_of(br#"[{"DATE":"2024-01-01","IMPRESSION_1":1}]"#)
                .field
                .as_deref(),
            Some("AD_ID")
        );
        assert_eq!(
            err_of(br#"[{"AD_ID":"1","IMPRESSION_1":1}]"#)
                .field
                .as_deref(),
            Some("DATE")
        );
        // no AD_ACCOUNT_ID and no --account-id
        testkit::assert_flag_named(
            parse(
                br#"[{"AD_ID":"1","DATE":"2024-01-01","IMPRESSION_1":1}]"#,
                &testkit::only_currency("USD"),
            ),
            "--account-id",
        );
    }

    #[test]
    fn truncated_and_scope_errors() {
        let bytes = fixture();
        assert!(matches!(
            err_of(&bytes[..bytes.len() - 5]).location,
            Location::Line { .. }
        ));
        let e = parse(&bytes, &ParseOptions::default()).unwrap_err();
        assert!(e.message.contains("--currency"), "{e}");
    }

    #[test]
    fn sniffing() {
        assert!(looks_like(&String::from_utf8(fixture()).unwrap()));
        assert!(!looks_like(
            r#"[{"adId":"1","date":"2024-01-01","impressions":3,"cost":1.5}]"#
        ));
        assert!(!looks_like(
            "AccountId,AdId,TimePeriod,Impressions\n1,2,2024-01-01,3\n"
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn round_trip(seed in any::<u64>()) {
            let rows = testkit::rows(seed, Platform::Pinterest, testkit::numeric_id);
            prop_assert_eq!(testkit::round_trip(Platform::Pinterest, &rows, &testkit::ctx_at(seed, 0, NativeFormat::ApiJson)), Ok(()));
        }

        #[test]
        fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&bytes, &testkit::opts());
        }

        #[test]
        fn never_panics_on_mutated_fixture(cut in 0usize..2000, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6)) {
            let _ = parse(&testkit::cut_and_flip(&fixture(), cut, &flips), &testkit::opts());
        }
    }
}
