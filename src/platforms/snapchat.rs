//! Snapchat Marketing API connector: parses the raw DAY-granularity stats response into
//! ad-day rows, and writes such responses back for the simulator. Reference: docs/connectors.md,
//! "Snapchat".
//!
//! Two request shapes deliver per-ad days, both accepted:
//! - per ad, `GET /v1/ads/{ad_id}/stats?granularity=DAY`: `{"request_status":"success",
//!   "timeseries_stats":[{"sub_request_status":"success","timeseries_stat":{"id":"<ad uuid>",
//!   "type":"AD","granularity":"DAY","timeseries":[{"start_time":..,"stats":{..}}]}}]}`
//!   (record path `timeseries_stats.*.timeseries_stat.timeseries.*`);
//! - per account with `breakdown=ad`: the `timeseries_stat` is of type `AD_ACCOUNT` (or
//!   `CAMPAIGN`, `AD_SQUAD`) and the per-ad series sit in `breakdown_stats.ad[]`, each shaped
//!   like a per-ad `timeseries_stat`. The account-level series itself is ignored (it is the sum).
//!
//! Quirks handled:
//! - day buckets start at local midnight of the ad account, written with its UTC offset
//!   (`2016-08-05T00:00:00.000-07:00`): the day is the local date ([`common::parse_day`]);
//! - `spend` and `conversion_purchases_value` are **micro-currency** integers (÷1e6);
//! - `request_status` / `sub_request_status` other than success are errors naming the error
//!   code and message; a non-DAY granularity is rejected;
//! - clicks are `swipes` (Snapchat has no separate link-click metric); reach is `uniques`;
//!   conversions `conversion_purchases`; video views `video_views`;
//! - names, squad (ad group) and campaign are not in stats, and neither the currency nor (for
//!   the per-ad request) the account id, so those come from [`ParseOptions`].

use std::borrow::Cow;

use chrono::{FixedOffset, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{Value, json};

use super::common::{self, JsonNum, at};
use super::writer::{json_file_name, json_number, without_entities};
use super::{
    Location, NativeFile, NativeFormat, NativeRow, ParseError, ParseOptions, Platform, WriteContext,
};
use crate::schema::AdDailyRow;

/// Whether the text looks like a Snapchat stats response (or its error envelope).
pub fn looks_like(head: &str) -> bool {
    head.contains("\"timeseries_stats\"") || head.contains("\"request_status\"")
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    request_status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    request_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    error_code: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    debug_message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    display_message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    timeseries_stats: Option<Vec<SubResponse<'a>>>,
}

#[derive(Deserialize)]
struct SubResponse<'a> {
    #[serde(borrow, default)]
    sub_request_status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    sub_request_error_reason: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    timeseries_stat: Option<Stat<'a>>,
}

#[derive(Deserialize)]
struct Stat<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    granularity: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    timeseries: Option<Vec<Bucket<'a>>>,
    #[serde(borrow, default)]
    breakdown_stats: Option<Breakdown<'a>>,
}

#[derive(Deserialize)]
struct Breakdown<'a> {
    #[serde(borrow, default)]
    ad: Option<Vec<Stat<'a>>>,
}

#[derive(Deserialize)]
struct Bucket<'a> {
    #[serde(borrow, default)]
    start_time: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    stats: Option<Stats<'a>>,
}

#[derive(Deserialize)]
struct Stats<'a> {
    #[serde(borrow, default)]
    impressions: JsonNum<'a>,
    #[serde(borrow, default)]
    swipes: JsonNum<'a>,
    #[serde(borrow, default)]
    spend: JsonNum<'a>,
    #[serde(borrow, default)]
    uniques: JsonNum<'a>,
    #[serde(borrow, default)]
    video_views: JsonNum<'a>,
    #[serde(borrow, default)]
    conversion_purchases: JsonNum<'a>,
    #[serde(borrow, default)]
    conversion_purchases_value: JsonNum<'a>,
}

fn is_success(s: Option<&str>) -> bool {
    s.is_some_and(|s| s.eq_ignore_ascii_case("success"))
}

/// Parses a Snapchat stats response (per-ad or account with `breakdown=ad`), DAY granularity.
pub fn parse(bytes: &[u8], opts: &ParseOptions) -> Result<Vec<NativeRow>, ParseError> {
    let bytes = common::strip_bom(bytes);
    let env: Envelope = serde_json::from_slice(bytes).map_err(|e| ParseError::json(&e))?;
    if !is_success(env.request_status.as_deref()) {
        let Some(status) = env.request_status.as_deref() else {
            return Err(ParseError::new(
                Location::File,
                Some("request_status"),
                "missing: not a Snapchat stats response",
            ));
        };
        return Err(ParseError::new(
            Location::Path("request_status".into()),
            Some("request_status"),
            format!(
                "Snapchat API {status} {}: {} (request_id {})",
                env.error_code.as_deref().unwrap_or("-"),
                env.debug_message
                    .as_deref()
                    .or(env.display_message.as_deref())
                    .unwrap_or("no message"),
                env.request_id.as_deref().unwrap_or("-")
            ),
        ));
    }
    let subs = env
        .timeseries_stats
        .ok_or_else(|| ParseError::new(Location::File, Some("timeseries_stats"), "missing"))?;
    let account = opts.require_account_id(Platform::Snapchat)?;
    let currency = opts.require_currency(Platform::Snapchat)?;
    let mut out = Vec::new();
    for (i, sub) in subs.iter().enumerate() {
        let path = format!("timeseries_stats[{i}]");
        if !is_success(sub.sub_request_status.as_deref()) {
            return Err(ParseError::new(
                Location::Path(path),
                Some("sub_request_status"),
                format!(
                    "sub-request {}: {}",
                    sub.sub_request_status.as_deref().unwrap_or("missing"),
                    sub.sub_request_error_reason
                        .as_deref()
                        .unwrap_or("no reason given")
                ),
            ));
        }
        let stat = sub.timeseries_stat.as_ref().ok_or_else(|| {
            ParseError::new(
                Location::Path(path.clone()),
                Some("timeseries_stat"),
                "missing",
            )
        })?;
        let path = format!("{path}.timeseries_stat");
        let kind = stat.kind.as_deref().unwrap_or("AD");
        if kind.eq_ignore_ascii_case("AD") {
            ad_series(stat, &path, &account, &currency, &mut out)?;
        } else {
            check_granularity(stat, &path)?;
            let ads = stat
                .breakdown_stats
                .as_ref()
                .and_then(|b| b.ad.as_ref())
                .ok_or_else(|| {
                    ParseError::new(
                        Location::Path(path.clone()),
                        Some("breakdown_stats.ad"),
                        format!("stats are at {kind} level, not per ad (request breakdown=ad)"),
                    )
                })?;
            for (k, ad) in ads.iter().enumerate() {
                let p = format!("{path}.breakdown_stats.ad[{k}]");
                ad_series(ad, &p, &account, &currency, &mut out)?;
            }
        }
    }
    Ok(out)
}

fn check_granularity(stat: &Stat, path: &str) -> Result<(), ParseError> {
    match stat.granularity.as_deref() {
        None => Ok(()),
        Some(g) if g.eq_ignore_ascii_case("DAY") => Ok(()),
        Some(g) => Err(ParseError::new(
            Location::Path(path.to_string()),
            Some("granularity"),
            format!("{g} stats are not daily (request granularity=DAY)"),
        )),
    }
}

/// Appends the days of one ad's `timeseries`.
fn ad_series(
    stat: &Stat,
    path: &str,
    account: &str,
    currency: &str,
    out: &mut Vec<NativeRow>,
) -> Result<(), ParseError> {
    check_granularity(stat, path)?;
    let ad_id = stat
        .id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ParseError::new(
                Location::Path(path.to_string()),
                Some("id"),
                "missing (the ad id)",
            )
        })?;
    let series = stat.timeseries.as_ref().ok_or_else(|| {
        ParseError::new(
            Location::Path(path.to_string()),
            Some("timeseries"),
            "missing",
        )
    })?;
    for (j, b) in series.iter().enumerate() {
        let loc = || Location::Path(format!("{path}.timeseries[{j}]"));
        let start = b
            .start_time
            .as_deref()
            .ok_or_else(|| ParseError::new(loc(), Some("start_time"), "missing"))?;
        let date = at(super::common::parse_day(start), loc, "start_time")?;
        let s = b
            .stats
            .as_ref()
            .ok_or_else(|| ParseError::new(loc(), Some("stats"), "missing"))?;
        let mut row = AdDailyRow::new(
            Platform::Snapchat,
            account.to_string(),
            ad_id.to_string(),
            date,
        );
        row.impressions = s
            .impressions
            .count_at(loc, "stats.impressions")?
            .ok_or_else(|| ParseError::new(loc(), Some("stats.impressions"), "missing"))?;
        row.clicks = s.swipes.count_at(loc, "stats.swipes")?.unwrap_or(0);
        row.spend = s.spend.micros_money_at(loc, "stats.spend")?;
        row.reach = s.uniques.count_at(loc, "stats.uniques")?;
        row.video_views = s.video_views.count_at(loc, "stats.video_views")?;
        row.conversions = s
            .conversion_purchases
            .money_at(loc, "stats.conversion_purchases")?;
        row.conversion_value = s
            .conversion_purchases_value
            .micros_money_at(loc, "stats.conversion_purchases_value")?;
        row.currency = Some(currency.to_string());
        out.push(NativeRow::from(row));
    }
    Ok(())
}

/// Local midnight of `d` in the account's offset, as Snapchat writes it
/// (`2016-08-05T00:00:00.000-07:00`).
fn local_midnight(d: NaiveDate, offset_minutes: i32) -> String {
    let tz = FixedOffset::east_opt(offset_minutes * 60)
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset is valid"));
    match d
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(tz).single())
    {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string(),
        None => format!("{d}T00:00:00.000Z"),
    }
}

fn micros(v: f64) -> i64 {
    (v * 1_000_000.0).round() as i64
}

/// The `timeseries_stat` of one ad: a bucket per reported day.
fn ad_stat(
    ad_id: &str,
    rows: &[&AdDailyRow],
    first: NaiveDate,
    last: NaiveDate,
    off: i32,
) -> Value {
    let buckets: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut stats = serde_json::Map::new();
            stats.insert("impressions".into(), json!(r.impressions));
            stats.insert("swipes".into(), json!(r.clicks));
            if let Some(s) = r.spend {
                stats.insert("spend".into(), json!(micros(s)));
            }
            if let Some(u) = r.reach {
                stats.insert("uniques".into(), json!(u));
            }
            if let Some(v) = r.video_views {
                stats.insert("video_views".into(), json!(v));
            }
            if let Some(c) = r.conversions {
                stats.insert("conversion_purchases".into(), json_number(c));
            }
            if let Some(v) = r.conversion_value {
                stats.insert("conversion_purchases_value".into(), json!(micros(v)));
            }
            json!({
                "start_time": local_midnight(r.date, off),
                "end_time": local_midnight(r.date.succ_opt().unwrap_or(r.date), off),
                "stats": stats,
            })
        })
        .collect();
    json!({
        "id": ad_id,
        "type": "AD",
        "granularity": "DAY",
        "start_time": local_midnight(first, off),
        "end_time": local_midnight(last.succ_opt().unwrap_or(last), off),
        "timeseries": buckets,
    })
}

/// Writes Snapchat stats responses for one account. `ctx.seed` picks the request shape: one
/// per-ad response per file (`/ads/{id}/stats`, files `_pN`), or one account response with
/// `breakdown=ad`. Buckets are written only for the days given (an ad's missing days are
/// absent rather than zero-filled, so the round trip adds no rows). `UiCsv` writes the API
/// JSON too: no Snapchat UI export is established.
pub fn write(rows: &[AdDailyRow], ctx: &WriteContext) -> Vec<NativeFile> {
    let mut sorted: Vec<&AdDailyRow> = rows.iter().collect();
    sorted.sort_by(|a, b| (&a.ad_id, a.date).cmp(&(&b.ad_id, b.date)));
    let (Some(first), Some(last)) = (
        sorted.iter().map(|r| r.date).min(),
        sorted.iter().map(|r| r.date).max(),
    ) else {
        return Vec::new();
    };
    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed ^ 0x534e_4150);
    let off = ctx.utc_offset_minutes;
    let mut per_ad: Vec<(&str, Vec<&AdDailyRow>)> = Vec::new();
    for r in sorted {
        match per_ad.last_mut() {
            Some((id, v)) if *id == r.ad_id => v.push(r),
            _ => per_ad.push((r.ad_id.as_str(), vec![r])),
        }
    }
    let mut request_id = || format!("{:016x}{:016x}", rng.r#gen::<u64>(), rng.r#gen::<u64>());
    let envelope = |request_id: String, stat: Value| {
        json!({
            "request_status": "SUCCESS",
            "request_id": request_id,
            "timeseries_stats": [{"sub_request_status": "SUCCESS", "timeseries_stat": stat}],
        })
    };
    if ctx.seed.is_multiple_of(2) {
        let many = per_ad.len() > 1;
        per_ad
            .iter()
            .enumerate()
            .map(|(i, (id, v))| {
                let body = envelope(request_id(), ad_stat(id, v, first, last, off));
                NativeFile {
                    file_name: json_file_name(
                        Platform::Snapchat,
                        &ctx.account_id,
                        first,
                        last,
                        many.then_some(i + 1),
                    ),
                    bytes: serde_json::to_vec(&body).unwrap_or_default(),
                }
            })
            .collect()
    } else {
        let ads: Vec<Value> = per_ad
            .iter()
            .map(|(id, v)| ad_stat(id, v, first, last, off))
            .collect();
        let stat = json!({
            "id": ctx.account_id,
            "type": "AD_ACCOUNT",
            "granularity": "DAY",
            "start_time": local_midnight(first, off),
            "end_time": local_midnight(last.succ_opt().unwrap_or(last), off),
            "breakdown_stats": {"ad": ads},
        });
        vec![NativeFile {
            file_name: json_file_name(Platform::Snapchat, &ctx.account_id, first, last, None),
            bytes: serde_json::to_vec(&envelope(request_id(), stat)).unwrap_or_default(),
        }]
    }
}

/// What Snapchat stats carry of a row: no campaign / ad squad ids or names and no ad name
/// (they come from the entity endpoints).
pub fn carried(row: &AdDailyRow, _format: NativeFormat) -> AdDailyRow {
    without_entities(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::testkit;
    use proptest::prelude::*;

    fn fixture(name: &str) -> Vec<u8> {
        testkit::fixture_bytes("snapchat", name)
    }

    fn err_of(bytes: &[u8]) -> ParseError {
        testkit::expect_err(parse(bytes, &testkit::opts()))
    }

    fn uuid_id(rng: &mut ChaCha8Rng, _i: usize) -> String {
        let a: u128 = rand::Rng::r#gen(rng);
        let h = format!("{a:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }

    #[test]
    fn per_ad_fixture_totals() {
        let rows = testkit::normalize_as(
            Platform::Snapchat,
            &fixture("ad_stats_day.json"),
            &testkit::opts(),
        );
        // 3 DAY buckets of one ad, 2016-08-05..07 in -07:00.
        assert_eq!(rows.len(), 3);
        let d = |day| NaiveDate::from_ymd_opt(2016, 8, day).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.date).collect::<Vec<_>>(),
            vec![d(5), d(6), d(7)]
        );
        // impressions 1500 + 0 + 2250 = 3750
        assert_eq!(rows.iter().map(|r| r.impressions).sum::<i64>(), 3750);
        // swipes 30 + 0 + 45 = 75
        assert_eq!(rows.iter().map(|r| r.clicks).sum::<i64>(), 75);
        // spend micros 12_340_000 + 0 + 5_005_000 = 17_345_000 → 17.345
        let spend: f64 = rows.iter().filter_map(|r| r.spend).sum();
        assert!((spend - 17.345).abs() < 1e-9, "{spend}");
        // conversion_purchases 2 + 0 + 1 = 3
        let conv: f64 = rows.iter().filter_map(|r| r.conversions).sum();
        assert!((conv - 3.0).abs() < 1e-9);
        // conversion_purchases_value micros 59_980_000 + 0 + 19_990_000 → 79.97
        let value: f64 = rows.iter().filter_map(|r| r.conversion_value).sum();
        assert!((value - 79.97).abs() < 1e-9, "{value}");
        assert_eq!(rows[0].ad_id, "7e3d4c2a-1b5f-4a8e-9c0d-112233445566");
        assert_eq!(rows[0].reach, Some(1200));
        assert_eq!(rows[0].video_views, Some(900));
        assert_eq!(rows[0].campaign_id, None);
    }

    #[test]
    fn byte_order_mark_is_ignored() {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend(fixture("ad_stats_day.json"));
        // same 3 days as without the BOM
        assert_eq!(parse(&bytes, &testkit::opts()).expect("parses").len(), 3);
    }

    #[test]
    fn breakdown_fixture_totals() {
        let rows = parse(&fixture("account_breakdown_ad.json"), &testkit::opts()).expect("parses");
        // two ads × one day each; the account-level total series is ignored
        assert_eq!(rows.len(), 2);
        // impressions 100 + 300 = 400 (the account series says 400 too, but is not added)
        assert_eq!(rows.iter().map(|r| r.row.impressions).sum::<i64>(), 400);
        // spend micros 1_000_000 + 2_500_000 → 3.5
        let spend: f64 = rows.iter().filter_map(|r| r.row.spend).sum();
        assert!((spend - 3.5).abs() < 1e-9);
        // "2024-03-10T00:00:00.000+09:00" is local day 2024-03-10
        assert!(
            rows.iter()
                .all(|r| r.row.date == NaiveDate::from_ymd_opt(2024, 3, 10).unwrap())
        );
    }

    #[test]
    fn error_envelopes() {
        let e = err_of(br#"{"request_status":"ERROR","request_id":"5f1","debug_message":"Resource can not be found","display_message":"We're sorry","error_code":"E3003"}"#);
        assert_eq!(e.field.as_deref(), Some("request_status"));
        assert!(
            e.message.contains("E3003") && e.message.contains("Resource can not be found"),
            "{e}"
        );
        let e = err_of(br#"{"request_status":"SUCCESS","timeseries_stats":[{"sub_request_status":"ERROR","sub_request_error_reason":"unauthorized"}]}"#);
        assert_eq!(e.location, Location::Path("timeseries_stats[0]".into()));
        assert!(e.message.contains("unauthorized"));
        let hourly = String::from_utf8(fixture("ad_stats_day.json"))
            .unwrap()
            .replace("\"DAY\"", "\"HOUR\"");
        assert_eq!(
            err_of(hourly.as_bytes()).field.as_deref(),
            Some("granularity")
        );
    }

    #[test]
    fn bad_values_are_located() {
        let one = |stats: &str| {
            format!(
                r#"{{"request_status":"success","timeseries_stats":[{{"sub_request_status":"success","timeseries_stat":{{"id":"a1","type":"AD","granularity":"DAY","timeseries":[{{"start_time":"2024-01-01T00:00:00.000-08:00","stats":{{{stats}}}}}]}}}}]}}"#
            )
        };
        let e = err_of(one(r#""impressions":5,"spend":-10"#).as_bytes());
        assert_eq!(
            e.location,
            Location::Path("timeseries_stats[0].timeseries_stat.timeseries[0]".into())
        );
        assert_eq!(e.field.as_deref(), Some("stats.spend"));
        assert_eq!(
            err_of(one(r#""impressions":5,"spend":"NaN""#).as_bytes())
                .field
                .as_deref(),
            Some("stats.spend")
        );
        assert_eq!(
            err_of(one(r#""impressions":"x""#).as_bytes())
                .field
                .as_deref(),
            Some("stats.impressions")
        );
        assert_eq!(
            err_of(one(r#""swipes":1"#).as_bytes()).field.as_deref(),
            Some("stats.impressions")
        );
        assert_eq!(
            err_of(one(r#""impressions":5,"swipes":1.5"#).as_bytes())
                .field
                .as_deref(),
            Some("stats.swipes")
        );
        let no_id = one(r#""impressions":5"#).replace(r#""id":"a1","#, "");
        assert_eq!(err_of(no_id.as_bytes()).field.as_deref(), Some("id"));
    }

    #[test]
    fn truncated_and_scope_errors() {
        let bytes = fixture("ad_stats_day.json");
        assert!(matches!(
            err_of(&bytes[..bytes.len() / 3]).location,
            Location::Line { .. }
        ));
        testkit::assert_needs_scope(parse, &bytes, "USD", "1");
    }

    #[test]
    fn sniffing() {
        assert!(looks_like(
            &String::from_utf8(fixture("ad_stats_day.json")).unwrap()
        ));
        assert!(!looks_like(
            r#"{"code":0,"message":"OK","request_id":"1","data":{"list":[]}}"#
        ));
        assert!(!looks_like("Day,Ad,Impressions\n2024-01-01,1,2\n"));
        assert!(!super::super::tiktok::looks_like(
            &String::from_utf8(fixture("ad_stats_day.json")).unwrap()
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn round_trip(seed in any::<u64>(), off in prop::sample::select(vec![-420, -300, 0, 60, 330, 540, 765])) {
            let rows = testkit::rows(seed, Platform::Snapchat, uuid_id);
            let ctx = testkit::ctx_at(seed, off, NativeFormat::ApiJson);
            prop_assert_eq!(testkit::round_trip(Platform::Snapchat, &rows, &ctx), Ok(()));
        }

        #[test]
        fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&bytes, &testkit::opts());
        }

        #[test]
        fn never_panics_on_mutated_fixture(cut in 0usize..3000, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6)) {
            let _ = parse(&testkit::cut_and_flip(&fixture("ad_stats_day.json"), cut, &flips), &testkit::opts());
        }
    }
}
