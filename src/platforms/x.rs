//! X (Twitter) Ads API connector: parses the synchronous analytics response
//! (`GET /12/stats/accounts/{id}?entity=PROMOTED_TWEET&granularity=DAY&metric_groups=
//! ENGAGEMENT,BILLING,VIDEO,WEB_CONVERSION`) — or an async job's result file, which has the same
//! `data` layout — into ad-day rows, and writes such responses back for the simulator.
//! Reference: docs/connectors.md, "X".
//!
//! Wire shape: `{"data_type":"stats","time_series_length":7,"data":[{"id":"<promoted tweet>",
//! "id_data":[{"segment":null,"metrics":{"impressions":[7 values],"url_clicks":[..],
//! "billed_charge_local_micro":[..],"conversion_purchases":{"metric":[..],"sale_amount":[..]}}}]}],
//! "request":{"params":{"start_time":"2024-01-01T08:00:00Z",...}}}`.
//! Quirks handled:
//! - **each metric is an array with one value per day**; element i is the day
//!   `request.params.start_time` + i, the start being local midnight of the account's time zone
//!   (the account-local day is taken from it with [`common::parse_day`]);
//! - metrics without data are `null`, either the whole array or single elements; X's UI shows
//!   those as 0, so a null value is 0 (a metric *absent* from `metrics` — its group not
//!   requested — is `None`). A day whose every value is null had no activity and yields no row;
//! - spend `billed_charge_local_micro` and value `conversion_purchases.sale_amount` are local
//!   micro-currency (÷1e6; the unit of `sale_amount` is believed, not confirmed, to be micro);
//! - clicks are `url_clicks` (link clicks), falling back to `clicks` when the ENGAGEMENT group
//!   did not return `url_clicks`; conversions `conversion_purchases.metric`; video views
//!   `video_total_views`; no reach (X reports reach only per campaign and range);
//! - segmented results (`id_data[].segment` non-null) go into [`NativeRow::segment`] so that
//!   `AdDailyColumns` sums them into one ad-day;
//! - an `errors` body is an error naming the code and message;
//! - the account id is in the request path and the currency on the account entity, so both
//!   come from [`ParseOptions`]; names and hierarchy come from the entity endpoints.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{Duration, FixedOffset, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use super::common::{self, JsonNum, at};
use super::writer::{json_file_name, json_number, without_entities, zero_missing_money};
use super::{
    Location, NativeFile, NativeFormat, NativeRow, ParseError, ParseOptions, Platform, WriteContext,
};
use crate::schema::AdDailyRow;

/// Whether the text looks like an X Ads analytics response.
pub fn looks_like(head: &str) -> bool {
    head.contains("\"time_series_length\"")
        || head.contains("\"id_data\"")
        || head.contains("\"billed_charge_local_micro\"")
}

/// A metric series: absent from `metrics` (its group was not requested), `null` (no data in
/// the whole range), or one value per day (each possibly null).
#[derive(Default)]
enum Series<'a> {
    #[default]
    Absent,
    Null,
    Values(Vec<JsonNum<'a>>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Series<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<Vec<JsonNum<'a>>>::deserialize(d)? {
            None => Series::Null,
            Some(v) => Series::Values(v),
        })
    }
}

impl<'a> Series<'a> {
    fn len(&self) -> Option<usize> {
        match self {
            Series::Values(v) => Some(v.len()),
            _ => None,
        }
    }

    /// The value of day `j`; `JsonNum::Null` when the series or the element is null.
    fn at(&self, j: usize) -> &JsonNum<'a> {
        const NULL: JsonNum<'static> = JsonNum::Null;
        match self {
            Series::Values(v) => v.get(j).unwrap_or(&NULL),
            _ => &NULL,
        }
    }

    fn present(&self) -> bool {
        !matches!(self, Series::Absent)
    }
}

#[derive(Deserialize)]
struct Response<'a> {
    #[serde(borrow, default)]
    time_series_length: JsonNum<'a>,
    #[serde(borrow, default)]
    data: Option<Vec<Entity<'a>>>,
    #[serde(borrow, default)]
    request: Option<Request<'a>>,
    #[serde(borrow, default)]
    errors: Option<Vec<ApiError<'a>>>,
}

#[derive(Deserialize)]
struct ApiError<'a> {
    #[serde(borrow, default)]
    code: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow, default)]
    params: Option<Params<'a>>,
}

#[derive(Deserialize)]
struct Params<'a> {
    #[serde(borrow, default)]
    start_time: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    granularity: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Entity<'a> {
    #[serde(borrow, default)]
    id: JsonNum<'a>,
    #[serde(borrow, default)]
    id_data: Option<Vec<IdData<'a>>>,
}

#[derive(Deserialize)]
struct IdData<'a> {
    #[serde(default)]
    segment: Value,
    #[serde(borrow, default)]
    metrics: Option<Metrics<'a>>,
}

#[derive(Deserialize)]
struct Metrics<'a> {
    #[serde(borrow, default)]
    impressions: Series<'a>,
    #[serde(borrow, default)]
    clicks: Series<'a>,
    #[serde(borrow, default)]
    url_clicks: Series<'a>,
    #[serde(borrow, default)]
    billed_charge_local_micro: Series<'a>,
    #[serde(borrow, default)]
    video_total_views: Series<'a>,
    #[serde(borrow, default)]
    conversion_purchases: Option<Conversions<'a>>,
}

#[derive(Deserialize)]
struct Conversions<'a> {
    #[serde(borrow, default)]
    metric: Series<'a>,
    #[serde(borrow, default)]
    sale_amount: Series<'a>,
}

/// A segment value as one string: `{"segment_name":"iOS","segment_value":"1"}` → `iOS|1`.
fn segment_key(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Object(m) => Some(
            m.values()
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join("|"),
        ),
        other => Some(other.to_string()),
    }
}

/// Parses an X Ads analytics response (DAY granularity, promoted-tweet entities).
pub fn parse(bytes: &[u8], opts: &ParseOptions) -> Result<Vec<NativeRow>, ParseError> {
    let bytes = common::strip_bom(bytes);
    let resp: Response = serde_json::from_slice(bytes).map_err(|e| ParseError::json(&e))?;
    if let Some(e) = resp.errors.as_ref().and_then(|v| v.first()) {
        return Err(ParseError::new(
            Location::Path("errors[0]".into()),
            Some("code"),
            format!(
                "X Ads API error {}: {}",
                e.code.as_deref().unwrap_or("-"),
                e.message.as_deref().unwrap_or("no message")
            ),
        ));
    }
    let data = resp.data.ok_or_else(|| {
        ParseError::new(
            Location::File,
            Some("data"),
            "missing: not an X Ads stats response",
        )
    })?;
    let params = resp.request.and_then(|r| r.params);
    let granularity = params.as_ref().and_then(|p| p.granularity.as_deref());
    if let Some(g) = granularity.filter(|g| !g.eq_ignore_ascii_case("DAY")) {
        return Err(ParseError::new(
            Location::Path("request.params".into()),
            Some("granularity"),
            format!("{g} stats are not daily (request granularity=DAY)"),
        ));
    }
    let start = params
        .as_ref()
        .and_then(|p| p.start_time.as_deref())
        .ok_or_else(|| {
            ParseError::new(
                Location::Path("request.params".into()),
                Some("start_time"),
                "missing: the day of each metric value counts from it",
            )
        })?;
    let start = at(
        super::common::parse_day(start),
        || Location::Path("request.params".into()),
        "start_time",
    )?;
    let declared = resp
        .time_series_length
        .count_at(|| Location::File, "time_series_length")?;
    let account = opts.require_account_id(Platform::X)?;
    let currency = opts.require_currency(Platform::X)?;
    let scope = Scope {
        start,
        declared,
        account: &account,
        currency: &currency,
    };
    let mut out = Vec::new();
    for (i, ent) in data.iter().enumerate() {
        let ad_id = ent.id.to_id().ok_or_else(|| {
            ParseError::new(Location::Path(format!("data[{i}]")), Some("id"), "missing")
        })?;
        let Some(id_data) = ent.id_data.as_ref() else {
            continue;
        };
        for (k, d) in id_data.iter().enumerate() {
            let path = format!("data[{i}].id_data[{k}]");
            let Some(m) = d.metrics.as_ref() else {
                continue;
            };
            let segment = segment_key(&d.segment);
            entity_days(m, &path, &ad_id, segment, &scope, &mut out)?;
        }
    }
    Ok(out)
}

/// What every entity of one response shares.
struct Scope<'s> {
    /// The account-local day of element 0 of every metric array.
    start: NaiveDate,
    /// `time_series_length`, when the response states it.
    declared: Option<i64>,
    account: &'s str,
    currency: &'s str,
}

/// Appends the active days of one entity (one segment) to `out`.
fn entity_days(
    m: &Metrics,
    path: &str,
    ad_id: &str,
    segment: Option<String>,
    scope: &Scope,
    out: &mut Vec<NativeRow>,
) -> Result<(), ParseError> {
    let Scope {
        start,
        declared,
        account,
        currency,
    } = *scope;
    if !m.impressions.present() {
        return Err(ParseError::new(
            Location::Path(format!("{path}.metrics")),
            Some("impressions"),
            "missing (request metric_groups=ENGAGEMENT)",
        ));
    }
    let empty = (Series::Absent, Series::Absent);
    let (conv, value) = match &m.conversion_purchases {
        Some(c) => (&c.metric, &c.sale_amount),
        None => (&empty.0, &empty.1),
    };
    let clicks = if m.url_clicks.present() {
        &m.url_clicks
    } else {
        &m.clicks
    };
    let clicks_name = if m.url_clicks.present() {
        "url_clicks"
    } else {
        "clicks"
    };
    let named: [(&str, &Series); 6] = [
        ("impressions", &m.impressions),
        (clicks_name, clicks),
        ("billed_charge_local_micro", &m.billed_charge_local_micro),
        ("video_total_views", &m.video_total_views),
        ("conversion_purchases.metric", conv),
        ("conversion_purchases.sale_amount", value),
    ];
    if named.iter().all(|(_, s)| s.len().is_none()) {
        // Every metric is null for the whole range: no activity, no rows.
        return Ok(());
    }
    let days = match declared {
        Some(n) => n as usize,
        None => named.iter().filter_map(|(_, s)| s.len()).max().unwrap_or(0),
    };
    for (name, s) in &named {
        if let Some(len) = s.len().filter(|&len| len != days) {
            return Err(ParseError::new(
                Location::Path(format!("{path}.metrics")),
                Some(name),
                format!("has {len} daily values, expected {days} (time_series_length)"),
            ));
        }
    }
    for j in 0..days {
        if named.iter().all(|(_, s)| *s.at(j) == JsonNum::Null) {
            continue;
        }
        let loc_of = |name: &str| Location::Path(format!("{path}.metrics.{name}[{j}]"));
        let count = |s: &Series, name: &str| -> Result<Option<i64>, ParseError> {
            if !s.present() {
                return Ok(None);
            }
            Ok(Some(
                at(s.at(j).to_count(), || loc_of(name), name)?.unwrap_or(0),
            ))
        };
        let money = |s: &Series, name: &str, micro: bool| -> Result<Option<f64>, ParseError> {
            if !s.present() {
                return Ok(None);
            }
            let v = if micro {
                s.at(j).micros_to_money()
            } else {
                s.at(j).to_money()
            };
            Ok(Some(at(v, || loc_of(name), name)?.unwrap_or(0.0)))
        };
        // Checked: a start_time near the end of the calendar must not overflow.
        let date = start
            .checked_add_signed(Duration::days(j as i64))
            .ok_or_else(|| {
                ParseError::new(
                    Location::Path("request.params".into()),
                    Some("start_time"),
                    "day index runs past the last representable date",
                )
            })?;
        let mut row = AdDailyRow::new(Platform::X, account.to_string(), ad_id.to_string(), date);
        row.impressions = count(&m.impressions, "impressions")?.unwrap_or(0);
        row.clicks = count(clicks, clicks_name)?.unwrap_or(0);
        row.spend = money(
            &m.billed_charge_local_micro,
            "billed_charge_local_micro",
            true,
        )?;
        row.video_views = count(&m.video_total_views, "video_total_views")?;
        row.conversions = money(conv, "conversion_purchases.metric", false)?;
        row.conversion_value = money(value, "conversion_purchases.sale_amount", true)?;
        row.currency = Some(currency.to_string());
        out.push(NativeRow {
            row,
            segment: segment.clone(),
        });
    }
    Ok(())
}

/// Requests cover at most 7 days and 20 entities (synchronous endpoint limits).
const WINDOW_DAYS: i64 = 7;
const MAX_ENTITIES: usize = 20;

/// `start_time` of a request: local midnight of `d`, written in UTC (`Z`) as X's docs show,
/// unless the offset is so far from UTC that the UTC time would read as another day; then the
/// offset is written out.
fn start_time(d: NaiveDate, off_minutes: i32) -> String {
    let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    if off_minutes > -720 && off_minutes <= 720 {
        let utc = midnight - Duration::minutes(off_minutes as i64);
        utc.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        let tz = FixedOffset::east_opt(off_minutes * 60)
            .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset is valid"));
        match midnight.and_local_timezone(tz).single() {
            Some(t) => t.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            None => format!("{d}T00:00:00Z"),
        }
    }
}

/// A metric array: `null` when every day is null (X's no-data form), else the values.
fn series(values: Vec<Option<Value>>) -> Value {
    if values.iter().all(Option::is_none) {
        Value::Null
    } else {
        Value::Array(
            values
                .into_iter()
                .map(|v| v.unwrap_or(Value::Null))
                .collect(),
        )
    }
}

/// Writes the synchronous stats responses X returns for one account: 7-day windows from the
/// first day, each split into requests of at most 20 promoted tweets that were active in the
/// window (as `active_entities` would list), one file per request. Days on which an entity has
/// no row are null in every metric; zero values are sometimes null too (seeded), and a metric
/// null on every day is a null array. `UiCsv` writes the API JSON too: no X UI export is
/// established.
pub fn write(rows: &[AdDailyRow], ctx: &WriteContext) -> Vec<NativeFile> {
    let (Some(first), Some(last)) = (
        rows.iter().map(|r| r.date).min(),
        rows.iter().map(|r| r.date).max(),
    ) else {
        return Vec::new();
    };
    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed ^ 0x5857_4954);
    // window index → ad id → rows of that ad in the window
    let mut windows: BTreeMap<i64, BTreeMap<&str, Vec<&AdDailyRow>>> = BTreeMap::new();
    for r in rows {
        let w = (r.date - first).num_days() / WINDOW_DAYS;
        windows
            .entry(w)
            .or_default()
            .entry(r.ad_id.as_str())
            .or_default()
            .push(r);
    }
    let mut bodies = Vec::new();
    for (w, ads) in &windows {
        let w_start = first + Duration::days(w * WINDOW_DAYS);
        let w_end = (w_start + Duration::days(WINDOW_DAYS - 1)).min(last);
        let n = (w_end - w_start).num_days() as usize + 1;
        let ids: Vec<&str> = ads.keys().copied().collect();
        for chunk in ids.chunks(MAX_ENTITIES) {
            let mut data = Vec::with_capacity(chunk.len());
            for id in chunk {
                let mut day_rows: Vec<Option<&AdDailyRow>> = vec![None; n];
                for r in ads.get(id).into_iter().flatten() {
                    let j = (r.date - w_start).num_days() as usize;
                    if let Some(slot) = day_rows.get_mut(j) {
                        *slot = Some(r);
                    }
                }
                // A zero may come back as null, as X does for metrics without data.
                let mut z = |v: Value, zero: bool| (!zero || !rng.gen_bool(0.5)).then_some(v);
                let mut impressions = Vec::with_capacity(n);
                let mut url_clicks = Vec::with_capacity(n);
                let mut clicks = Vec::with_capacity(n);
                let mut spend = Vec::with_capacity(n);
                let mut video = Vec::with_capacity(n);
                let mut conv = Vec::with_capacity(n);
                let mut sale = Vec::with_capacity(n);
                for r in &day_rows {
                    let Some(r) = r else {
                        for s in [
                            &mut impressions,
                            &mut url_clicks,
                            &mut clicks,
                            &mut spend,
                            &mut video,
                            &mut conv,
                            &mut sale,
                        ] {
                            s.push(None);
                        }
                        continue;
                    };
                    // Impressions are always written on an active day so the day is kept.
                    impressions.push(Some(json!(r.impressions)));
                    url_clicks.push(z(json!(r.clicks), r.clicks == 0));
                    clicks.push(z(json!(r.clicks + r.clicks / 4), r.clicks == 0));
                    let s = r.spend.unwrap_or(0.0);
                    spend.push(z(json!((s * 1e6).round() as i64), s == 0.0));
                    let v = r.video_views.unwrap_or(0);
                    video.push(z(json!(v), v == 0));
                    let c = r.conversions.unwrap_or(0.0);
                    conv.push(z(json_number(c), c == 0.0));
                    let a = r.conversion_value.unwrap_or(0.0);
                    sale.push(z(json!((a * 1e6).round() as i64), a == 0.0));
                }
                data.push(json!({
                    "id": id,
                    "id_data": [{
                        "segment": null,
                        "metrics": {
                            "impressions": series(impressions),
                            "clicks": series(clicks),
                            "url_clicks": series(url_clicks),
                            "billed_charge_local_micro": series(spend),
                            "video_total_views": series(video),
                            "conversion_purchases": {
                                "metric": series(conv),
                                "sale_amount": series(sale),
                            },
                        }
                    }]
                }));
            }
            bodies.push(json!({
                "data_type": "stats",
                "time_series_length": n,
                "data": data,
                "request": {"params": {
                    "start_time": start_time(w_start, ctx.utc_offset_minutes),
                    "end_time": start_time(w_end + Duration::days(1), ctx.utc_offset_minutes),
                    "granularity": "DAY",
                    "entity": "PROMOTED_TWEET",
                    "entity_ids": chunk,
                    "placement": "ALL_ON_TWITTER",
                    "metric_groups": ["ENGAGEMENT", "BILLING", "VIDEO", "WEB_CONVERSION"],
                }},
            }));
        }
    }
    let many = bodies.len() > 1;
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, b)| NativeFile {
            file_name: json_file_name(
                Platform::X,
                &ctx.account_id,
                first,
                last,
                many.then_some(i + 1),
            ),
            bytes: serde_json::to_vec(&b).unwrap_or_default(),
        })
        .collect()
}

/// What X stats carry of a row: no hierarchy, names or reach; spend, conversions, value and
/// video views are always reported (no data reads as 0).
pub fn carried(row: &AdDailyRow, _format: NativeFormat) -> AdDailyRow {
    let mut r = without_entities(row);
    r.reach = None;
    zero_missing_money(&mut r);
    r.video_views = Some(row.video_views.unwrap_or(0));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::testkit;
    use proptest::prelude::*;

    fn fixture(name: &str) -> Vec<u8> {
        testkit::fixture_bytes("x", name)
    }

    fn err_of(bytes: &[u8]) -> ParseError {
        testkit::expect_err(parse(bytes, &testkit::opts()))
    }

    fn base36_id(rng: &mut ChaCha8Rng, i: usize) -> String {
        let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let mut s: String = (0..4)
            .map(|_| digits[rand::Rng::gen_range(rng, 0..36)] as char)
            .collect();
        s.push(digits[i % 36] as char);
        s
    }

    #[test]
    fn seven_day_fixture_totals() {
        let rows =
            testkit::normalize_as(Platform::X, &fixture("stats_7day.json"), &testkit::opts());
        // entity 1bx7i: days 0,1,2,4,6 have a value (3 and 5 are null in every metric);
        // entity 2cy8j: its whole arrays are null except impressions on day 0 → 1 row. 5 + 1 = 6.
        assert_eq!(rows.len(), 6);
        // impressions 1bx7i: 1000 + 1200 + null(0, but url_clicks 4) + 900 + 0 = 3100; 2cy8j: 50 → 3150
        assert_eq!(rows.iter().map(|r| r.impressions).sum::<i64>(), 3150);
        // url_clicks 10 + 12 + 4 + 9 + null = 35
        assert_eq!(rows.iter().map(|r| r.clicks).sum::<i64>(), 35);
        // billed_charge_local_micro 5_000_000 + 6_250_000 + 1_000_000 + 4_500_000 + 0 = 16.75
        let spend: f64 = rows.iter().filter_map(|r| r.spend).sum();
        assert!((spend - 16.75).abs() < 1e-9, "{spend}");
        // conversion_purchases.metric 1 + 0 + 0 + 2 + 0 = 3
        let conv: f64 = rows.iter().filter_map(|r| r.conversions).sum();
        assert!((conv - 3.0).abs() < 1e-9);
        // sale_amount 25_000_000 + 40_500_000 micros = 65.5
        let value: f64 = rows.iter().filter_map(|r| r.conversion_value).sum();
        assert!((value - 65.5).abs() < 1e-9);
        // start_time 2024-01-01T08:00:00Z is midnight in -08:00 → first day Jan 1
        let d = |day| NaiveDate::from_ymd_opt(2024, 1, day).unwrap();
        let days: Vec<NaiveDate> = rows
            .iter()
            .filter(|r| r.ad_id == "1bx7i")
            .map(|r| r.date)
            .collect();
        assert_eq!(days, vec![d(1), d(2), d(3), d(5), d(7)]);
        assert!(rows.iter().all(|r| r.reach.is_none() && r.spend.is_some()));
        assert_eq!(rows[0].video_views, Some(400));
    }

    #[test]
    fn segments_are_summed() {
        let (_, rows) = crate::platforms::normalize(
            Some(Platform::X),
            &fixture("stats_segmented.json"),
            &testkit::opts(),
        )
        .expect("parses");
        // one tweet, 2 days, two segments (iOS, Android) each → 2 ad-days
        assert_eq!(rows.len(), 2);
        // day 1: impressions 100 + 60 = 160; url_clicks 3 + 2 = 5; spend 1.00 + 0.50 = 1.50
        assert_eq!((rows[0].impressions, rows[0].clicks), (160, 5));
        assert!((rows[0].spend.unwrap() - 1.5).abs() < 1e-9);
        // day 2: impressions 80 + 0 = 80 (Android null); url_clicks 1
        assert_eq!((rows[1].impressions, rows[1].clicks), (80, 1));
    }

    #[test]
    fn errors_and_bad_values() {
        let e = err_of(br#"{"errors":[{"code":"INVALID_PARAMETER","message":"start_time must be midnight","parameter":"start_time"}],"request":{"params":{}}}"#);
        assert!(
            e.message.contains("INVALID_PARAMETER") && e.message.contains("midnight"),
            "{e}"
        );
        let doc = |metrics: &str| {
            format!(
                r#"{{"data_type":"stats","time_series_length":2,"data":[{{"id":"ab1","id_data":[{{"segment":null,"metrics":{{{metrics}}}}}]}}],"request":{{"params":{{"start_time":"2024-01-01T00:00:00Z","granularity":"DAY"}}}}}}"#
            )
        };
        let e = err_of(doc(r#""impressions":[1,2],"billed_charge_local_micro":[5,-7]"#).as_bytes());
        assert_eq!(
            e.location,
            Location::Path("data[0].id_data[0].metrics.billed_charge_local_micro[1]".into())
        );
        assert_eq!(e.field.as_deref(), Some("billed_charge_local_micro"));
        let e =
            err_of(doc(r#""impressions":[1,2],"billed_charge_local_micro":["NaN",1]"#).as_bytes());
        assert_eq!(e.field.as_deref(), Some("billed_charge_local_micro"));
        assert!(e.message.contains("finite"), "{e}");
        assert_eq!(
            err_of(doc(r#""impressions":[1,"x"]"#).as_bytes())
                .field
                .as_deref(),
            Some("impressions")
        );
        assert_eq!(
            err_of(doc(r#""impressions":[1,2.5]"#).as_bytes())
                .field
                .as_deref(),
            Some("impressions")
        );
        assert_eq!(
            err_of(doc(r#""impressions":[1,2,3]"#).as_bytes())
                .field
                .as_deref(),
            Some("impressions")
        );
        assert_eq!(
            err_of(doc(r#""url_clicks":[1,2]"#).as_bytes())
                .field
                .as_deref(),
            Some("impressions")
        );
        let e = err_of(
            doc(r#""impressions":[1,2]"#)
                .replace(r#""start_time":"2024-01-01T00:00:00Z","#, "")
                .as_bytes(),
        );
        assert_eq!(e.field.as_deref(), Some("start_time"));
        let e = err_of(
            doc(r#""impressions":[1,2]"#)
                .replace("\"DAY\"", "\"TOTAL\"")
                .as_bytes(),
        );
        assert_eq!(e.field.as_deref(), Some("granularity"));
        let e = err_of(
            doc(r#""impressions":[1,2]"#)
                .replace(r#""id":"ab1","#, "")
                .as_bytes(),
        );
        assert_eq!(e.field.as_deref(), Some("id"));
    }

    #[test]
    fn start_at_the_end_of_the_calendar_is_an_error_not_a_panic() {
        let doc = br#"{"time_series_length":2,"data":[{"id":"a","id_data":[{"metrics":{"impressions":[1,2]}}]}],"request":{"params":{"start_time":"+262142-12-31"}}}"#;
        // Whether the date parses or not, the answer is an error, never a panic.
        let e = parse(doc, &testkit::opts()).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("start_time"), "{e}");
    }

    #[test]
    fn truncated_and_scope_errors() {
        let bytes = fixture("stats_7day.json");
        assert!(matches!(
            err_of(&bytes[..bytes.len() - 3]).location,
            Location::Line { .. }
        ));
        testkit::assert_needs_scope(parse, &bytes, "USD", "1");
    }

    #[test]
    fn sniffing_and_start_times() {
        assert!(looks_like(
            &String::from_utf8(fixture("stats_7day.json")).unwrap()
        ));
        assert!(!looks_like(
            r#"{"data":[{"ad_id":"1","date_start":"2024-01-01"}],"paging":{"next":"x"}}"#
        ));
        assert!(!looks_like("Date,Tweet id,Impressions\n2024-01-01,1,2\n"));
        let d = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        assert_eq!(start_time(d, -480), "2024-01-01T08:00:00Z");
        assert_eq!(start_time(d, 540), "2023-12-31T15:00:00Z");
        assert_eq!(start_time(d, 780), "2024-01-01T00:00:00+13:00");
        for off in [-720, -600, -480, 0, 330, 540, 720, 765, 840] {
            assert_eq!(
                common::parse_day(&start_time(d, off)),
                Ok(d),
                "offset {off}"
            );
        }
    }

    #[test]
    fn writer_splits_requests_by_20_entities_and_7_days() {
        // 25 tweets active on Jan 1 and Jan 9: windows [Jan 1..7] and [Jan 8..9], each split
        // into 20 + 5 entities → 4 files.
        let d1 = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let d9 = NaiveDate::from_ymd_opt(2024, 1, 9).unwrap();
        let rows: Vec<AdDailyRow> = (0..25)
            .flat_map(|i| {
                [d1, d9].map(|d| {
                    let mut r = AdDailyRow::new(
                        Platform::X,
                        testkit::ACCOUNT.into(),
                        format!("t{i:02}"),
                        d,
                    );
                    r.impressions = 10 + i;
                    r.currency = Some(testkit::CURRENCY.into());
                    r
                })
            })
            .collect();
        let ctx = testkit::ctx_at(7, -300, NativeFormat::ApiJson);
        let files = write(&rows, &ctx);
        assert_eq!(files.len(), 4);
        assert_eq!(
            files[0].file_name,
            "x_5101234_2024-01-01_2024-01-09_p1.json"
        );
        let first: Value = serde_json::from_slice(&files[0].bytes).unwrap();
        assert_eq!(first["data"].as_array().map(Vec::len), Some(20));
        assert_eq!(first["time_series_length"], json!(7));
        let second_window: Value = serde_json::from_slice(&files[2].bytes).unwrap();
        // Jan 8..9 only: the last window is cut at the last day
        assert_eq!(second_window["time_series_length"], json!(2));
        assert_eq!(testkit::round_trip(Platform::X, &rows, &ctx), Ok(()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn round_trip(seed in any::<u64>(), off in prop::sample::select(vec![-720, -480, 0, 60, 540, 765, 840])) {
            let rows = testkit::rows(seed, Platform::X, base36_id);
            prop_assert_eq!(testkit::round_trip(Platform::X, &rows, &testkit::ctx_at(seed, off, NativeFormat::ApiJson)), Ok(()));
        }

        #[test]
        fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&bytes, &testkit::opts());
        }

        #[test]
        fn never_panics_on_mutated_fixture(cut in 0usize..3000, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6)) {
            let _ = parse(&testkit::cut_and_flip(&fixture("stats_7day.json"), cut, &flips), &testkit::opts());
        }
    }
}
