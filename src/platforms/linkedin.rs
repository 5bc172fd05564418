//! LinkedIn Marketing connector: parses the raw `adAnalytics` response (finder `analytics`,
//! `pivot=CREATIVE`, `timeGranularity=DAILY`) into ad-day rows, and writes that response back
//! for the simulator. Reference: docs/connectors.md, "LinkedIn".
//!
//! Wire shape: `{"elements":[{"dateRange":{"start":{y,m,d},"end":{y,m,d}},"pivotValues":
//! ["urn:li:sponsoredCreative:N"],"impressions":..,"costInLocalCurrency":"10.00",..}],
//! "paging":{..}}`. Mapping (creative = ad; LinkedIn "campaign" is the ad-group level):
//! - ad id: the numeric tail of `pivotValues[0]` (`urn:li:sponsoredCreative:N`); any other
//!   pivot URN (campaign, account, member facets) is rejected, since rows would not be ads;
//! - date: `dateRange.start`, which must equal `dateRange.end` (a DAILY row); LinkedIn days are
//!   UTC days;
//! - clicks: `landingPageClicks` (link clicks), falling back to `clicks` when the report did not
//!   request it, else 0;
//! - spend `costInLocalCurrency` and value `conversionValueInLocalCurrency` are decimal
//!   **strings**, sometimes with long precision (`"107.5300000000000335346"`); numbers are
//!   accepted too;
//! - conversions `externalWebsiteConversions`, video views `videoViews`, reach
//!   `approximateMemberReach`;
//! - the payload carries neither the account id nor the currency, nor any names or hierarchy
//!   (they come from the creatives / account entities), so the account id and currency come
//!   from the request scope in [`ParseOptions`].
//!
//! An error body (`{"status":401,"serviceErrorCode":65600,"code":"..","message":".."}`) is an
//! error naming the code and message, never an empty report.

use std::borrow::Cow;

use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{Value, json};

use super::common::{self, JsonNum};
use super::writer::{json_file_name, json_number, money_text, without_entities};
use super::{
    Location, NativeFile, NativeFormat, NativeRow, ParseError, ParseOptions, Platform, WriteContext,
};
use crate::schema::AdDailyRow;

const CREATIVE_URN: &str = "urn:li:sponsoredCreative:";

/// Whether the text looks like a LinkedIn adAnalytics response (or its error body).
pub fn looks_like(head: &str) -> bool {
    head.contains("\"pivotValues\"")
        || head.contains("urn:li:sponsoredCreative:")
        || head.contains("\"costInLocalCurrency\"")
        || head.contains("\"serviceErrorCode\"")
        || head.contains(CSV_DATE)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Response<'a> {
    #[serde(borrow, default)]
    elements: Option<Vec<Element<'a>>>,
    #[serde(borrow, default)]
    status: JsonNum<'a>,
    #[serde(borrow, default)]
    service_error_code: JsonNum<'a>,
    #[serde(borrow, default)]
    code: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Element<'a> {
    #[serde(default)]
    date_range: Option<DateRange>,
    #[serde(borrow, default)]
    pivot_values: Option<Vec<Cow<'a, str>>>,
    /// Older API versions sent a single `pivotValue`.
    #[serde(borrow, default)]
    pivot_value: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    impressions: JsonNum<'a>,
    #[serde(borrow, default)]
    clicks: JsonNum<'a>,
    #[serde(borrow, default)]
    landing_page_clicks: JsonNum<'a>,
    #[serde(borrow, default)]
    cost_in_local_currency: JsonNum<'a>,
    #[serde(borrow, default)]
    external_website_conversions: JsonNum<'a>,
    #[serde(borrow, default)]
    conversion_value_in_local_currency: JsonNum<'a>,
    #[serde(borrow, default)]
    video_views: JsonNum<'a>,
    #[serde(borrow, default)]
    approximate_member_reach: JsonNum<'a>,
}

#[derive(Deserialize)]
struct DateRange {
    #[serde(default)]
    start: Option<Ymd>,
    #[serde(default)]
    end: Option<Ymd>,
}

#[derive(Deserialize, PartialEq, Clone, Copy)]
struct Ymd {
    year: i32,
    month: u32,
    day: u32,
}

/// Parses a LinkedIn adAnalytics (pivot CREATIVE, DAILY) response.
pub fn parse(bytes: &[u8], opts: &ParseOptions) -> Result<Vec<NativeRow>, ParseError> {
    let bytes = common::strip_bom(bytes);
    if !matches!(
        bytes.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[') | None
    ) {
        return parse_csv(bytes, opts);
    }
    let resp: Response = serde_json::from_slice(bytes).map_err(|e| ParseError::json(&e))?;
    let Some(elements) = resp.elements else {
        if resp.message.is_some() || resp.code.is_some() || resp.status != JsonNum::Null {
            let status = resp.status.to_id().unwrap_or_else(|| "?".into());
            let service = resp
                .service_error_code
                .to_id()
                .unwrap_or_else(|| "-".into());
            return Err(ParseError::new(
                Location::Path("code".into()),
                Some("code"),
                format!(
                    "LinkedIn API error (status {status}, serviceErrorCode {service}, code {}): {}",
                    resp.code.as_deref().unwrap_or("-"),
                    resp.message.as_deref().unwrap_or("no message")
                ),
            ));
        }
        return Err(ParseError::new(
            Location::File,
            Some("elements"),
            "no `elements` array: not a LinkedIn adAnalytics response",
        ));
    };
    let account = opts.require_account_id(Platform::LinkedIn)?;
    let currency = opts.require_currency(Platform::LinkedIn)?;
    let mut out = Vec::with_capacity(elements.len());
    for (i, e) in elements.iter().enumerate() {
        let loc = || Location::Path(format!("elements[{i}]"));
        let pivot = e
            .pivot_values
            .as_ref()
            .and_then(|v| v.first())
            .or(e.pivot_value.as_ref())
            .ok_or_else(|| {
                ParseError::new(loc(), Some("pivotValues"), "missing (the creative URN)")
            })?;
        let ad_id = match pivot.strip_prefix(CREATIVE_URN) {
            Some(id) if !id.trim().is_empty() => id.trim().to_string(),
            _ => {
                return Err(ParseError::new(
                    loc(),
                    Some("pivotValues"),
                    format!(
                        "expected `{CREATIVE_URN}<id>` (request pivot=CREATIVE), got {pivot:?}"
                    ),
                ));
            }
        };
        let range = e
            .date_range
            .as_ref()
            .ok_or_else(|| ParseError::new(loc(), Some("dateRange"), "missing"))?;
        let start = range
            .start
            .ok_or_else(|| ParseError::new(loc(), Some("dateRange.start"), "missing"))?;
        if range.end.is_some_and(|end| end != start) {
            return Err(ParseError::new(
                loc(),
                Some("dateRange"),
                "start and end differ: not a DAILY row (request timeGranularity=DAILY)",
            ));
        }
        let date =
            NaiveDate::from_ymd_opt(start.year, start.month, start.day).ok_or_else(|| {
                ParseError::new(
                    loc(),
                    Some("dateRange.start"),
                    format!("not a date: {}-{}-{}", start.year, start.month, start.day),
                )
            })?;
        let impressions = e
            .impressions
            .count_at(loc, "impressions")?
            .ok_or_else(|| ParseError::new(loc(), Some("impressions"), "missing"))?;
        let clicks = match e.landing_page_clicks.count_at(loc, "landingPageClicks")? {
            Some(c) => c,
            None => e.clicks.count_at(loc, "clicks")?.unwrap_or(0),
        };
        let mut row = AdDailyRow::new(Platform::LinkedIn, account.clone(), ad_id, date);
        row.impressions = impressions;
        row.clicks = clicks;
        row.spend = e
            .cost_in_local_currency
            .money_at(loc, "costInLocalCurrency")?;
        row.conversions = e
            .external_website_conversions
            .money_at(loc, "externalWebsiteConversions")?;
        row.conversion_value = e
            .conversion_value_in_local_currency
            .money_at(loc, "conversionValueInLocalCurrency")?;
        row.video_views = e.video_views.count_at(loc, "videoViews")?;
        row.reach = e
            .approximate_member_reach
            .count_at(loc, "approximateMemberReach")?;
        row.currency = Some(currency.clone());
        out.push(NativeRow::from(row));
    }
    Ok(out)
}

/// The date column of a Campaign Manager export; its presence marks the header row.
const CSV_DATE: &str = "Start Date (in UTC)";

/// Parses a Campaign Manager creative performance export (CSV, preamble rows above the header;
/// known from a single public example, so columns beyond the documented ones are looked up
/// by their likely names and a missing one is an error naming it). The export carries names:
/// `Campaign Group Name` → campaign, `Campaign Name` → ad group (LinkedIn's campaign is the
/// ad-set level), `Creative Name` → ad. Ids: `Creative ID` (required: names are not unique),
/// `Campaign ID` → ad group id, `Campaign Group ID` → campaign id. Metrics: `Impressions`,
/// clicks `Landing Page Clicks` else `Clicks`, spend `Total Spent`, `Reach`, `Conversions`,
/// `Conversion Value`, `Video Views`. A `;`-delimited file is read with decimal commas.
fn parse_csv(bytes: &[u8], opts: &ParseOptions) -> Result<Vec<NativeRow>, ParseError> {
    let table = common::CsvTable::read(
        bytes,
        |cells| cells.iter().any(|c| c.eq_ignore_ascii_case(CSV_DATE)),
        |rec| {
            rec.get(0)
                .is_some_and(|c| c.trim().to_ascii_lowercase().starts_with("total"))
        },
    )?;
    let cols = common::ExportColumns {
        date: &[CSV_DATE],
        date_field: Some(CSV_DATE),
        ad: &["Creative ID", "Creative Id", "Ad ID"],
        impressions: &["Impressions"],
        clicks: &["Landing Page Clicks", "Clicks"],
        spend: &["Total Spent", "Amount Spent"],
        reach: &["Reach"],
        conversions: &["Conversions"],
        conversion_value: &["Conversion Value", "Conversion Value In Local Currency"],
        video_views: &["Video Views"],
        currency: &["Currency"],
        campaign_id: &["Campaign Group ID"],
        ad_group_id: &["Campaign ID"],
        campaign_name: &["Campaign Group Name"],
        ad_group_name: &["Campaign Name"],
        ad_name: &["Creative Name"],
    };
    common::export_rows(&table, Platform::LinkedIn, &cols, opts)
}

fn ymd(d: NaiveDate) -> Value {
    json!({"year": d.year(), "month": d.month(), "day": d.day()})
}

/// Writes the adAnalytics response for one account (LinkedIn does not page this finder, so one
/// file). `UiCsv` writes the API JSON too: the Campaign Manager export is not established.
/// Total `clicks` are written a little above `landingPageClicks`, as real creatives also
/// get clicks on the company name and "see more"; some costs carry the long-precision tail.
pub fn write(rows: &[AdDailyRow], ctx: &WriteContext) -> Vec<NativeFile> {
    if rows.is_empty() {
        return Vec::new();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed ^ 0x4c49_4e4b);
    let mut sorted: Vec<&AdDailyRow> = rows.iter().collect();
    sorted.sort_by(|a, b| (a.date, &a.ad_id).cmp(&(b.date, &b.ad_id)));
    let mut elements = Vec::with_capacity(sorted.len());
    for r in &sorted {
        let mut e = serde_json::Map::new();
        e.insert(
            "dateRange".into(),
            json!({"start": ymd(r.date), "end": ymd(r.date)}),
        );
        e.insert(
            "pivotValues".into(),
            json!([format!("{CREATIVE_URN}{}", r.ad_id)]),
        );
        e.insert("impressions".into(), json!(r.impressions));
        let extra = if r.clicks > 0 {
            rng.gen_range(0..=r.clicks / 5)
        } else {
            0
        };
        e.insert("clicks".into(), json!(r.clicks + extra));
        e.insert("landingPageClicks".into(), json!(r.clicks));
        if let Some(s) = r.spend {
            let text = if rng.gen_bool(0.2) {
                // The exact binary expansion: parses back to the same f64.
                format!("{s:.19}")
            } else {
                money_text(s)
            };
            e.insert("costInLocalCurrency".into(), json!(text));
            if ctx.currency == "USD" {
                e.insert("costInUsd".into(), json!(text));
            }
        }
        if let Some(c) = r.conversions {
            e.insert("externalWebsiteConversions".into(), json_number(c));
        }
        if let Some(v) = r.conversion_value {
            e.insert(
                "conversionValueInLocalCurrency".into(),
                json!(money_text(v)),
            );
        }
        if let Some(v) = r.video_views {
            e.insert("videoViews".into(), json!(v));
        }
        if let Some(v) = r.reach {
            e.insert("approximateMemberReach".into(), json!(v));
        }
        elements.push(Value::Object(e));
    }
    let n = elements.len();
    let body = json!({
        "paging": {"start": 0, "count": n, "links": []},
        "elements": elements,
    });
    let first = sorted.first().map(|r| r.date).unwrap_or_default();
    let last = sorted.last().map(|r| r.date).unwrap_or_default();
    vec![NativeFile {
        file_name: json_file_name(Platform::LinkedIn, &ctx.account_id, first, last, None),
        bytes: serde_json::to_vec_pretty(&body).unwrap_or_default(),
    }]
}

/// What a LinkedIn adAnalytics report carries of a row: no campaign / ad-group ids or names
/// and no creative name (they come from entity endpoints).
pub fn carried(row: &AdDailyRow, _format: NativeFormat) -> AdDailyRow {
    without_entities(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::common::parse_day;
    use crate::platforms::testkit::{self, ACCOUNT, CURRENCY};
    use proptest::prelude::*;

    const DAILY: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/linkedin/ad_analytics_daily.json"
    );

    fn fixture() -> Vec<u8> {
        std::fs::read(DAILY).expect("fixture")
    }

    fn err_of(bytes: &[u8]) -> ParseError {
        testkit::expect_err(parse(bytes, &testkit::opts()))
    }

    #[test]
    fn daily_fixture_totals() {
        let rows = testkit::normalize_as(Platform::LinkedIn, &fixture(), &testkit::opts());
        // 4 elements: creatives 123 (Jun 1, Jun 2) and 456 (Jun 1, Jun 2).
        assert_eq!(rows.len(), 4);
        // impressions 1000 + 1200 + 800 + 0 = 3000
        assert_eq!(rows.iter().map(|r| r.impressions).sum::<i64>(), 3000);
        // clicks = landingPageClicks 40 + 55 + 12, and the last has none so `clicks` 0 → 107
        assert_eq!(rows.iter().map(|r| r.clicks).sum::<i64>(), 107);
        // spend "107.5300000000000335346" + "12.5" + 9.99 (a number) + "0" = 130.02
        let spend: f64 = rows.iter().filter_map(|r| r.spend).sum();
        assert!((spend - 130.02).abs() < 1e-9, "{spend}");
        // conversions 3 + 2.5 + 0 (absent on the 4th) = 5.5
        let conv: f64 = rows.iter().filter_map(|r| r.conversions).sum();
        assert!((conv - 5.5).abs() < 1e-9);
        // value "150.00" + "80.25" = 230.25
        let value: f64 = rows.iter().filter_map(|r| r.conversion_value).sum();
        assert!((value - 230.25).abs() < 1e-9);
        let first = &rows[0];
        assert_eq!(first.ad_id, "123");
        assert_eq!(first.date, NaiveDate::from_ymd_opt(2024, 6, 1).unwrap());
        assert_eq!(first.account_id, ACCOUNT);
        assert_eq!(first.currency.as_deref(), Some(CURRENCY));
        assert_eq!(first.reach, Some(640));
        assert_eq!(first.video_views, Some(300));
        assert_eq!(first.campaign_id, None);
        assert_eq!(rows[3].conversions, None);
        assert_eq!(rows[3].reach, None);
    }

    #[test]
    fn error_body_names_code_and_message() {
        let e = err_of(br#"{"status":401,"serviceErrorCode":65600,"code":"INVALID_ACCESS_TOKEN","message":"Invalid access token"}"#);
        assert_eq!(e.field.as_deref(), Some("code"));
        assert!(
            e.message.contains("65600") && e.message.contains("Invalid access token"),
            "{e}"
        );
        let e = err_of(br#"{"data":[]}"#);
        assert_eq!(e.field.as_deref(), Some("elements"));
    }

    #[test]
    fn bad_values_are_located() {
        let el = |body: &str| {
            format!(
                r#"{{"elements":[{{"dateRange":{{"start":{{"year":2024,"month":6,"day":1}},"end":{{"year":2024,"month":6,"day":1}}}},"pivotValues":["urn:li:sponsoredCreative:9"],{body}}}]}}"#
            )
        };
        let e = err_of(el(r#""impressions":10,"costInLocalCurrency":"-1.00""#).as_bytes());
        assert_eq!(
            (e.location.clone(), e.field.as_deref()),
            (
                Location::Path("elements[0]".into()),
                Some("costInLocalCurrency")
            )
        );
        let e = err_of(el(r#""impressions":10,"costInLocalCurrency":"NaN""#).as_bytes());
        assert_eq!(e.field.as_deref(), Some("costInLocalCurrency"));
        let e = err_of(el(r#""impressions":"ten""#).as_bytes());
        assert_eq!(e.field.as_deref(), Some("impressions"));
        let e = err_of(el(r#""impressions":10.5"#).as_bytes());
        assert_eq!(e.field.as_deref(), Some("impressions"));
        let e = err_of(el(r#""clicks":3"#).as_bytes());
        assert_eq!(e.field.as_deref(), Some("impressions"));
        assert!(e.message.contains("missing"));
        let bad_pivot = el(r#""impressions":1"#).replace("sponsoredCreative", "sponsoredCampaign");
        assert_eq!(
            err_of(bad_pivot.as_bytes()).field.as_deref(),
            Some("pivotValues")
        );
        // A MONTHLY row: start Jun 1, end Jun 30.
        let monthly = el(r#""impressions":1"#).replacen(
            r#""end":{"year":2024,"month":6,"day":1}"#,
            r#""end":{"year":2024,"month":6,"day":30}"#,
            1,
        );
        assert_eq!(
            err_of(monthly.as_bytes()).field.as_deref(),
            Some("dateRange")
        );
        let bad_day = el(r#""impressions":1"#).replace(r#""day":1"#, r#""day":31"#);
        assert_eq!(
            err_of(bad_day.as_bytes()).field.as_deref(),
            Some("dateRange.start")
        );
    }

    #[test]
    fn truncated_and_scope_errors() {
        let bytes = fixture();
        let e = err_of(&bytes[..bytes.len() / 2]);
        assert!(matches!(e.location, Location::Line { .. }), "{e}");
        testkit::assert_needs_scope(parse, &bytes, "EUR", "1");
    }

    #[test]
    fn day_guard_rejects_dates_past_the_calendar() {
        assert!(parse_day("+262142-12-31 23:00:00").is_err());
        assert!(parse_day("262142-12-31T23:00:00Z").is_err());
        assert_eq!(
            parse_day("2016-08-05T00:00:00.000-07:00"),
            Ok(NaiveDate::from_ymd_opt(2016, 8, 5).unwrap())
        );
        assert_eq!(
            parse_day("6/1/2024"),
            Ok(NaiveDate::from_ymd_opt(2024, 6, 1).unwrap())
        );
    }

    #[test]
    fn sniffing() {
        let head = String::from_utf8(fixture()).unwrap();
        assert!(looks_like(&head));
        assert!(!looks_like(
            r#"{"data":[{"date_start":"2024-01-01","ad_id":"1"}],"paging":{}}"#
        ));
        assert!(!looks_like(
            "Campaign,Ad group,Impressions,Clicks\nA,B,1,2\n"
        ));
        assert!(!looks_like(
            r#"{"code":0,"message":"OK","data":{"list":[]}}"#
        ));
    }

    const CSV: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/linkedin/campaign_manager_creatives.csv"
    );

    #[test]
    fn campaign_manager_csv_totals() {
        let bytes = std::fs::read(CSV).expect("fixture");
        let rows = testkit::normalize_as(Platform::LinkedIn, &bytes, &testkit::opts());
        // 3 data rows below a 4-line preamble; the "Total" row is dropped
        assert_eq!(rows.len(), 3);
        // Impressions "1,000" + 1200 + 800 = 3000
        assert_eq!(rows.iter().map(|r| r.impressions).sum::<i64>(), 3000);
        // Clicks 50 + 70 + 15 = 135
        assert_eq!(rows.iter().map(|r| r.clicks).sum::<i64>(), 135);
        // Total Spent 107.53 + 12.50 + 9.99 = 130.02
        let spend: f64 = rows.iter().filter_map(|r| r.spend).sum();
        assert!((spend - 130.02).abs() < 1e-9, "{spend}");
        // Conversions 3 + 2 + (empty) = 5
        let conv: f64 = rows.iter().filter_map(|r| r.conversions).sum();
        assert!((conv - 5.0).abs() < 1e-9);
        let r = &rows[0];
        assert_eq!(r.ad_id, "123");
        assert_eq!(r.date, NaiveDate::from_ymd_opt(2024, 6, 1).unwrap());
        assert_eq!(r.ad_group_name.as_deref(), Some("Prospecting - EU"));
        assert_eq!(r.campaign_name.as_deref(), Some("Brand 2024"));
        assert_eq!(r.ad_name.as_deref(), Some("Whitepaper, v1"));
        assert_eq!(r.reach, Some(640));
        assert_eq!(r.currency.as_deref(), Some(CURRENCY));
    }

    #[test]
    fn campaign_manager_csv_with_bom_and_semicolons() {
        // A European-locale export: BOM, `;` delimiter, decimal commas.
        let text = std::fs::read_to_string(CSV).expect("fixture");
        let mut out = String::from("\u{feff}");
        for line in text.lines() {
            let cells = common::split_line(line, b',');
            let cells: Vec<String> = cells
                .iter()
                .map(|c| {
                    if c.contains(',') || c.contains('.') {
                        // "1,000" → 1000; 107.53 → 107,53; names with commas stay quoted
                        if c.chars().all(|ch| ch.is_ascii_digit() || ch == ',') {
                            c.replace(',', "")
                        } else if c.chars().all(|ch| ch.is_ascii_digit() || ch == '.') {
                            c.replace('.', ",")
                        } else {
                            format!("\"{c}\"")
                        }
                    } else {
                        c.clone()
                    }
                })
                .collect();
            out.push_str(&cells.join(";"));
            out.push('\n');
        }
        let rows = parse(out.as_bytes(), &testkit::opts()).expect("parses");
        // the same totals as the comma file: 3000 impressions, 130.02 spent
        assert_eq!(rows.iter().map(|r| r.row.impressions).sum::<i64>(), 3000);
        let spend: f64 = rows.iter().filter_map(|r| r.row.spend).sum();
        assert!((spend - 130.02).abs() < 1e-9, "{spend}");
        assert_eq!(rows[0].row.ad_name.as_deref(), Some("Whitepaper, v1"));
    }

    #[test]
    fn campaign_manager_csv_errors() {
        let text = std::fs::read_to_string(CSV).expect("fixture");
        let e = err_of(text.replace("Creative ID", "Creative Ref").as_bytes());
        assert_eq!(e.field.as_deref(), Some("Creative ID"));
        let e = err_of(text.replace("\"1,000\"", "lots").as_bytes());
        assert_eq!(e.field.as_deref(), Some("Impressions"));
        assert!(matches!(e.location, Location::Line { line: 6, .. }), "{e}");
        let e = err_of(text.replace("107.53", "-107.53").as_bytes());
        assert_eq!(e.field.as_deref(), Some("Total Spent"));
        let cut = text.find("456").expect("second creative");
        let e = err_of(&text.as_bytes()[..cut + 3]);
        assert!(e.message.contains("truncated"), "{e}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn round_trip(seed in any::<u64>(), csv in any::<bool>()) {
            let rows = testkit::rows(seed, Platform::LinkedIn, testkit::numeric_id);
            let format = if csv { NativeFormat::UiCsv } else { NativeFormat::ApiJson };
            let ctx = testkit::ctx_at(seed, 0, format);
            prop_assert_eq!(testkit::round_trip(Platform::LinkedIn, &rows, &ctx), Ok(()));
        }

        #[test]
        fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&bytes, &testkit::opts());
        }

        #[test]
        fn never_panics_on_mutated_fixture(cut in 0usize..4000, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6)) {
            let _ = parse(&testkit::cut_and_flip(&fixture(), cut, &flips), &testkit::opts());
            let csv = std::fs::read(CSV).expect("fixture");
            let _ = parse(&testkit::cut_and_flip(&csv, cut, &flips), &testkit::opts());
        }
    }
}
