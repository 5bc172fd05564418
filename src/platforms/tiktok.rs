//! TikTok Marketing API connector: parses one page of the integrated report
//! (`/open_api/v1.3/report/integrated/get/`, `data_level=AUCTION_AD`,
//! `dimensions=["ad_id","stat_time_day"]`) into ad-day rows, and writes such pages back for the
//! simulator. Reference: docs/connectors.md, "TikTok".
//!
//! Wire shape: `{"code":0,"message":"OK","request_id":"..","data":{"page_info":{..},"list":
//! [{"dimensions":{"ad_id":"..","stat_time_day":"YYYY-MM-DD 00:00:00"},"metrics":{..}}]}}`.
//! Quirks handled:
//! - **every metric is a string**, counts included; `"-"` means unavailable (→ `None`);
//! - errors arrive as HTTP 200 with `code != 0` (e.g. 40100 rate limited): an error naming the
//!   code and message, never an empty report;
//! - `stat_time_day` is an advertiser-time-zone day written with a `00:00:00` time;
//! - the attributes `campaign_id`, `campaign_name`, `adgroup_id`, `adgroup_name`, `ad_name`
//!   arrive inside `metrics`;
//! - clicks: `clicks` (TikTok's basic set has only destination clicks); conversions:
//!   `conversion` (the ad's optimisation event); value: `total_purchase_value`; video views:
//!   `video_play_actions`; reach: `reach`;
//! - the currency is not in the rows (it is on the advertiser entity) and the `advertiser_id`
//!   is a request parameter, so both come from [`ParseOptions`].

use std::borrow::Cow;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{Value, json};

use super::common::{self, JsonNum, at};
use super::writer::{json_file_name, money_text};
use super::{
    Location, NativeFile, NativeFormat, NativeRow, ParseError, ParseOptions, Platform, WriteContext,
};
use crate::schema::AdDailyRow;

/// Whether the text looks like a TikTok report page (or a TikTok error envelope).
pub fn looks_like(head: &str) -> bool {
    head.contains("\"stat_time_day\"")
        || (head.contains("\"code\"")
            && head.contains("\"request_id\"")
            && head.contains("\"message\"")
            && !head.contains("\"request_status\""))
        || head.lines().take(20).any(|l| {
            is_export_header(&common::split_line(l, b','))
                || is_export_header(&common::split_line(l, b';'))
        })
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    code: JsonNum<'a>,
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    request_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    data: Option<Data<'a>>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow, default)]
    list: Option<Vec<Item<'a>>>,
}

#[derive(Deserialize)]
struct Item<'a> {
    #[serde(borrow, default)]
    dimensions: Option<Dimensions<'a>>,
    #[serde(borrow, default)]
    metrics: Option<Metrics<'a>>,
}

#[derive(Deserialize)]
struct Dimensions<'a> {
    #[serde(borrow, default)]
    ad_id: JsonNum<'a>,
    #[serde(borrow, default)]
    stat_time_day: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Metrics<'a> {
    #[serde(borrow, default)]
    spend: JsonNum<'a>,
    #[serde(borrow, default)]
    impressions: JsonNum<'a>,
    #[serde(borrow, default)]
    clicks: JsonNum<'a>,
    #[serde(borrow, default)]
    reach: JsonNum<'a>,
    #[serde(borrow, default)]
    conversion: JsonNum<'a>,
    #[serde(borrow, default)]
    total_purchase_value: JsonNum<'a>,
    #[serde(borrow, default)]
    video_play_actions: JsonNum<'a>,
    #[serde(borrow, default)]
    campaign_id: JsonNum<'a>,
    #[serde(borrow, default)]
    adgroup_id: JsonNum<'a>,
    #[serde(borrow, default)]
    campaign_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    adgroup_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    ad_name: Option<Cow<'a, str>>,
}

/// An attribute id: `"-"` (or empty) means not available.
fn attr_id(v: &JsonNum) -> Option<String> {
    v.to_id().filter(|s| !common::is_missing(s))
}

fn attr_name(v: &Option<Cow<str>>) -> Option<String> {
    v.as_deref()
        .filter(|s| !common::is_missing(s))
        .map(str::to_string)
}

/// Parses one TikTok integrated-report page (one file per page).
pub fn parse(bytes: &[u8], opts: &ParseOptions) -> Result<Vec<NativeRow>, ParseError> {
    let bytes = common::strip_bom(bytes);
    if !matches!(
        bytes.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[') | None
    ) {
        return parse_csv(bytes, opts);
    }
    let env: Envelope = serde_json::from_slice(bytes).map_err(|e| ParseError::json(&e))?;
    let code = env.code.to_id().ok_or_else(|| {
        ParseError::new(
            Location::File,
            Some("code"),
            "missing: not a TikTok API response",
        )
    })?;
    if code != "0" {
        return Err(ParseError::new(
            Location::Path("code".into()),
            Some("code"),
            format!(
                "TikTok API error {code}: {} (request_id {})",
                env.message.as_deref().unwrap_or("no message"),
                env.request_id.as_deref().unwrap_or("-")
            ),
        ));
    }
    let list = env
        .data
        .and_then(|d| d.list)
        .ok_or_else(|| ParseError::new(Location::Path("data".into()), Some("list"), "missing"))?;
    let account = opts.require_account_id(Platform::TikTok)?;
    let currency = opts.require_currency(Platform::TikTok)?;
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let loc = || Location::Path(format!("data.list[{i}]"));
        let dims = item
            .dimensions
            .as_ref()
            .ok_or_else(|| ParseError::new(loc(), Some("dimensions"), "missing"))?;
        let m = item
            .metrics
            .as_ref()
            .ok_or_else(|| ParseError::new(loc(), Some("metrics"), "missing"))?;
        let ad_id = attr_id(&dims.ad_id).ok_or_else(|| {
            ParseError::new(
                loc(),
                Some("dimensions.ad_id"),
                "missing (request dimensions [\"ad_id\",\"stat_time_day\"])",
            )
        })?;
        let day = dims.stat_time_day.as_deref().ok_or_else(|| {
            ParseError::new(
                loc(),
                Some("dimensions.stat_time_day"),
                "missing (request a daily report)",
            )
        })?;
        let date = at(
            super::common::parse_day(day),
            loc,
            "dimensions.stat_time_day",
        )?;
        let impressions = m
            .impressions
            .count_at(loc, "metrics.impressions")?
            .ok_or_else(|| ParseError::new(loc(), Some("metrics.impressions"), "missing"))?;
        let mut row = AdDailyRow::new(Platform::TikTok, account.clone(), ad_id, date);
        row.impressions = impressions;
        row.clicks = m.clicks.count_at(loc, "metrics.clicks")?.unwrap_or(0);
        row.spend = m.spend.money_at(loc, "metrics.spend")?;
        row.reach = m.reach.count_at(loc, "metrics.reach")?;
        row.conversions = m.conversion.money_at(loc, "metrics.conversion")?;
        row.conversion_value = m
            .total_purchase_value
            .money_at(loc, "metrics.total_purchase_value")?;
        row.video_views = m
            .video_play_actions
            .count_at(loc, "metrics.video_play_actions")?;
        row.campaign_id = attr_id(&m.campaign_id);
        row.ad_group_id = attr_id(&m.adgroup_id);
        row.campaign_name = attr_name(&m.campaign_name);
        row.ad_group_name = attr_name(&m.adgroup_name);
        row.ad_name = attr_name(&m.ad_name);
        row.currency = Some(currency.clone());
        out.push(NativeRow::from(row));
    }
    Ok(out)
}

/// Whether a header row is an Ads Manager export's: a daily breakdown column or TikTok's
/// destination-clicks column, next to `Impressions`.
fn is_export_header(cells: &[String]) -> bool {
    let has = |n: &str| cells.iter().any(|c| c.eq_ignore_ascii_case(n));
    has("Impressions") && (has("By Day") || has("Clicks (destination)"))
}

/// Parses an Ads Manager custom-report export (CSV; known from one public column map, low
/// confidence). Columns: day `By Day` (or `Date`), `Ad ID` (required: names are not unique),
/// `Impressions`, clicks `Clicks (destination)` (else `Clicks`), spend `Cost`, `Reach`,
/// conversions `Conversions` (else `Total purchase (all-channels)`), value
/// `Total purchase value (all-channels)`, names `Campaign name` / `Ad group name` / `Ad name`
/// and ids `Campaign ID` / `Ad group ID`. `Total` rows end the data; `-` is missing; a
/// `;`-delimited file is read with decimal commas. Currency from a `Currency` column, else
/// from [`ParseOptions`].
fn parse_csv(bytes: &[u8], opts: &ParseOptions) -> Result<Vec<NativeRow>, ParseError> {
    let table = common::CsvTable::read(bytes, is_export_header, |rec| {
        rec.get(0)
            .is_some_and(|c| c.trim().to_ascii_lowercase().starts_with("total"))
    })?;
    let cols = common::ExportColumns {
        date: &["By Day", "Date", "Day"],
        date_field: None,
        ad: &["Ad ID"],
        impressions: &["Impressions"],
        clicks: &["Clicks (destination)", "Clicks"],
        spend: &["Cost", "Spend"],
        reach: &["Reach"],
        conversions: &["Conversions", "Total purchase (all-channels)"],
        conversion_value: &[
            "Total purchase value (all-channels)",
            "Total purchase value",
        ],
        video_views: &["Video views", "Video plays"],
        currency: &["Currency"],
        campaign_id: &["Campaign ID"],
        ad_group_id: &["Ad group ID"],
        campaign_name: &["Campaign name"],
        ad_group_name: &["Ad group name"],
        ad_name: &["Ad name"],
    };
    common::export_rows(&table, Platform::TikTok, &cols, opts)
}

fn opt_string<T>(v: Option<T>, f: impl Fn(T) -> String) -> Value {
    match v {
        Some(x) => Value::String(f(x)),
        None => Value::String("-".into()),
    }
}

/// A ratio metric as TikTok prints it (two decimals), `"0.00"` when undefined.
fn ratio(num: f64, den: f64, scale: f64) -> String {
    if den > 0.0 {
        format!("{:.2}", num / den * scale)
    } else {
        "0.00".into()
    }
}

fn item(r: &AdDailyRow) -> Value {
    let spend = r.spend.unwrap_or(0.0);
    let text = |s: &Option<String>| Value::String(s.clone().unwrap_or_else(|| "-".into()));
    json!({
        "dimensions": {
            "ad_id": r.ad_id,
            "stat_time_day": format!("{} 00:00:00", r.date),
        },
        "metrics": {
            "campaign_id": text(&r.campaign_id),
            "campaign_name": text(&r.campaign_name),
            "adgroup_id": text(&r.ad_group_id),
            "adgroup_name": text(&r.ad_group_name),
            "ad_name": text(&r.ad_name),
            "spend": opt_string(r.spend, money_text),
            "impressions": r.impressions.to_string(),
            "clicks": r.clicks.to_string(),
            "ctr": ratio(r.clicks as f64, r.impressions as f64, 100.0),
            "cpc": ratio(spend, r.clicks as f64, 1.0),
            "cpm": ratio(spend, r.impressions as f64, 1000.0),
            "reach": opt_string(r.reach, |v| v.to_string()),
            "conversion": opt_string(r.conversions, |v| format!("{v}")),
            "total_purchase_value": opt_string(r.conversion_value, money_text),
            "video_play_actions": opt_string(r.video_views, |v| v.to_string()),
        }
    })
}

/// Writes the report pages TikTok would return for one advertiser: requests sliced into
/// 30-day windows (TikTok rejects longer daily ranges), each paged by a page size chosen from
/// `ctx.seed`, one file per page; unavailable metrics are `"-"`. `UiCsv` writes the API JSON
/// too: the Ads Manager export columns are not established.
pub fn write(rows: &[AdDailyRow], ctx: &WriteContext) -> Vec<NativeFile> {
    let mut sorted: Vec<&AdDailyRow> = rows.iter().collect();
    sorted.sort_by(|a, b| (a.date, &a.ad_id).cmp(&(b.date, &b.ad_id)));
    let Some(first) = sorted.first().map(|r| r.date) else {
        return Vec::new();
    };
    let last = sorted.last().map(|r| r.date).unwrap_or(first);
    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed ^ 0x5449_4b54);
    let page_size = [3usize, 10, 100, 1000][rng.gen_range(0..4)];
    // Group into 30-day request windows counted from the first day.
    let mut windows: Vec<Vec<&AdDailyRow>> = Vec::new();
    let mut current: Option<i64> = None;
    for r in sorted {
        let w = (r.date - first).num_days() / 30;
        if current != Some(w) {
            windows.push(Vec::new());
            current = Some(w);
        }
        if let Some(v) = windows.last_mut() {
            v.push(r);
        }
    }
    let mut pages = Vec::new();
    for w in &windows {
        let total_page = w.len().div_ceil(page_size);
        for (p, chunk) in w.chunks(page_size).enumerate() {
            let request_id: String =
                format!("{:016x}{:08x}", rng.r#gen::<u64>(), rng.r#gen::<u32>());
            let body = json!({
                "code": 0,
                "message": "OK",
                "request_id": request_id,
                "data": {
                    "page_info": {
                        "page": p + 1,
                        "page_size": page_size,
                        "total_number": w.len(),
                        "total_page": total_page,
                    },
                    "list": chunk.iter().map(|r| item(r)).collect::<Vec<_>>(),
                }
            });
            pages.push(serde_json::to_vec(&body).unwrap_or_default());
        }
    }
    let many = pages.len() > 1;
    pages
        .into_iter()
        .enumerate()
        .map(|(i, bytes)| NativeFile {
            file_name: json_file_name(
                Platform::TikTok,
                &ctx.account_id,
                first,
                last,
                many.then_some(i + 1),
            ),
            bytes,
        })
        .collect()
}

/// What a TikTok integrated report carries of a row: everything (ids, names, reach and video
/// views are all in the row); the currency is request scope.
pub fn carried(row: &AdDailyRow, _format: NativeFormat) -> AdDailyRow {
    row.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::testkit;
    use chrono::NaiveDate;
    use proptest::prelude::*;

    fn fixture(name: &str) -> Vec<u8> {
        testkit::fixture_bytes("tiktok", name)
    }

    fn err_of(bytes: &[u8]) -> ParseError {
        testkit::expect_err(parse(bytes, &testkit::opts()))
    }

    #[test]
    fn two_pages_totals() {
        let mut rows = Vec::new();
        for f in ["report_p1.json", "report_p2.json"] {
            let r = testkit::normalize_as(Platform::TikTok, &fixture(f), &testkit::opts());
            rows.extend(r);
        }
        // page 1 has 2 rows, page 2 has 1 (page_info total_number 3, total_page 2)
        assert_eq!(rows.len(), 3);
        // impressions "10505" + "2000" + "0" = 12505
        assert_eq!(rows.iter().map(|r| r.impressions).sum::<i64>(), 12505);
        // clicks "120" + "30" + "0" = 150
        assert_eq!(rows.iter().map(|r| r.clicks).sum::<i64>(), 150);
        // spend "76.73" + "20.50" + "0.00" = 97.23
        let spend: f64 = rows.iter().filter_map(|r| r.spend).sum();
        assert!((spend - 97.23).abs() < 1e-9, "{spend}");
        // conversion "4" + "-" + "0" = 4
        let conv: f64 = rows.iter().filter_map(|r| r.conversions).sum();
        assert!((conv - 4.0).abs() < 1e-9);
        assert_eq!(rows[1].conversions, None);
        // total_purchase_value "199.96" + "-" + "0" = 199.96
        let value: f64 = rows.iter().filter_map(|r| r.conversion_value).sum();
        assert!((value - 199.96).abs() < 1e-9);
        let r = &rows[0];
        assert_eq!(r.ad_id, "1678604629756978");
        assert_eq!(r.date, NaiveDate::from_ymd_opt(2020, 10, 17).unwrap());
        assert_eq!(r.campaign_id.as_deref(), Some("1678604500000001"));
        assert_eq!(r.ad_group_name.as_deref(), Some("Lookalike 18-34"));
        assert_eq!(r.reach, Some(8100));
        assert_eq!(r.video_views, Some(3200));
        assert_eq!(rows[1].reach, None);
        assert_eq!(r.currency.as_deref(), Some(testkit::CURRENCY));
    }

    #[test]
    fn error_envelope_names_code() {
        let e = err_of(&fixture("error_40100.json"));
        assert_eq!(e.field.as_deref(), Some("code"));
        assert!(
            e.message.contains("40100") && e.message.contains("Too many requests"),
            "{e}"
        );
        assert!(looks_like(
            &String::from_utf8(fixture("error_40100.json")).unwrap()
        ));
    }

    #[test]
    fn bad_values_are_located() {
        let page = |metrics: &str| {
            format!(
                r#"{{"code":0,"message":"OK","data":{{"list":[{{"dimensions":{{"ad_id":"7","stat_time_day":"2024-01-02 00:00:00"}},"metrics":{{{metrics}}}}}]}}}}"#
            )
        };
        let e = err_of(page(r#""impressions":"10","spend":"-3.00""#).as_bytes());
        assert_eq!(e.location, Location::Path("data.list[0]".into()));
        assert_eq!(e.field.as_deref(), Some("metrics.spend"));
        assert_eq!(
            err_of(page(r#""impressions":"10","spend":"NaN""#).as_bytes())
                .field
                .as_deref(),
            Some("metrics.spend")
        );
        assert_eq!(
            err_of(page(r#""impressions":"1o""#).as_bytes())
                .field
                .as_deref(),
            Some("metrics.impressions")
        );
        assert_eq!(
            err_of(page(r#""impressions":"-""#).as_bytes())
                .field
                .as_deref(),
            Some("metrics.impressions")
        );
        assert_eq!(
            err_of(page(r#""impressions":"5","clicks":"2.5""#).as_bytes())
                .field
                .as_deref(),
            Some("metrics.clicks")
        );
        let no_ad = page(r#""impressions":"5""#).replace(r#""ad_id":"7","#, "");
        assert_eq!(
            err_of(no_ad.as_bytes()).field.as_deref(),
            Some("dimensions.ad_id")
        );
        let bad_day = page(r#""impressions":"5""#).replace("2024-01-02 00:00:00", "yesterday");
        assert_eq!(
            err_of(bad_day.as_bytes()).field.as_deref(),
            Some("dimensions.stat_time_day")
        );
        assert_eq!(
            err_of(br#"{"code":0,"message":"OK","data":{}}"#)
                .field
                .as_deref(),
            Some("list")
        );
    }

    #[test]
    fn truncated_and_scope_errors() {
        let bytes = fixture("report_p1.json");
        assert!(matches!(
            err_of(&bytes[..bytes.len() - 10]).location,
            Location::Line { .. }
        ));
        testkit::assert_needs_scope(parse, &bytes, "USD", "1");
    }

    #[test]
    fn sniffing() {
        assert!(looks_like(
            &String::from_utf8(fixture("report_p2.json")).unwrap()
        ));
        assert!(!looks_like(
            r#"{"elements":[{"pivotValues":["urn:li:sponsoredCreative:1"]}]}"#
        ));
        assert!(!looks_like(
            r#"{"request_status":"ERROR","request_id":"x","code":"E1","message":"m"}"#
        ));
        assert!(!looks_like("date,ad_id,impressions\n2024-01-01,1,2\n"));
    }

    #[test]
    fn ads_manager_export_totals() {
        let bytes = fixture("ads_manager_export.csv");
        let rows = testkit::normalize_as(Platform::TikTok, &bytes, &testkit::opts());
        // 3 rows; the "Total of 3 results" row is dropped
        assert_eq!(rows.len(), 3);
        // Impressions "10,505" + 2000 + 0 = 12505
        assert_eq!(rows.iter().map(|r| r.impressions).sum::<i64>(), 12505);
        // Clicks (destination) 120 + 30 + 0 = 150
        assert_eq!(rows.iter().map(|r| r.clicks).sum::<i64>(), 150);
        // Cost 76.73 + 20.50 + 0.00 = 97.23
        let spend: f64 = rows.iter().filter_map(|r| r.spend).sum();
        assert!((spend - 97.23).abs() < 1e-9, "{spend}");
        // Conversions 4 + "-" + 0 = 4
        let conv: f64 = rows.iter().filter_map(|r| r.conversions).sum();
        assert!((conv - 4.0).abs() < 1e-9);
        assert_eq!(rows[1].conversions, None);
        assert_eq!(rows[0].ad_name.as_deref(), Some("UGC hook, v2"));
        assert_eq!(rows[0].date, NaiveDate::from_ymd_opt(2020, 10, 17).unwrap());
        assert_eq!(rows[0].currency.as_deref(), Some("USD"));
    }

    #[test]
    fn ads_manager_export_errors() {
        let text = String::from_utf8(fixture("ads_manager_export.csv")).unwrap();
        let e = err_of(text.replace("Ad ID", "Ad ref").as_bytes());
        assert_eq!(e.field.as_deref(), Some("Ad ID"));
        let e = err_of(text.replace("76.73", "-76.73").as_bytes());
        assert_eq!(e.field.as_deref(), Some("Cost"));
        assert!(matches!(e.location, Location::Line { line: 2, .. }), "{e}");
        let e = err_of(text.replace("\"10,505\"", "n/a?").as_bytes());
        assert_eq!(e.field.as_deref(), Some("Impressions"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn round_trip(seed in any::<u64>(), csv in any::<bool>()) {
            let rows = testkit::rows(seed, Platform::TikTok, testkit::numeric_id);
            let format = if csv { NativeFormat::UiCsv } else { NativeFormat::ApiJson };
            prop_assert_eq!(testkit::round_trip(Platform::TikTok, &rows, &testkit::ctx_at(seed, 480, format)), Ok(()));
        }

        #[test]
        fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&bytes, &testkit::opts());
        }

        #[test]
        fn never_panics_on_mutated_fixture(cut in 0usize..3000, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6)) {
            let _ = parse(&testkit::cut_and_flip(&fixture("report_p1.json"), cut, &flips), &testkit::opts());
            let _ = parse(&testkit::cut_and_flip(&fixture("ads_manager_export.csv"), cut, &flips), &testkit::opts());
        }
    }
}
