//! Meta (Facebook/Instagram) connector: Ads Insights at `level=ad`, `time_increment=1` into
//! [`AdDailyRow`]s. Reference: docs/connectors.md, "Meta".
//!
//! Two formats are read:
//! - **API JSON** — one Insights page `{"data":[...],"paging":{"cursors":..,"next":..}}`
//!   (the same shape for the async report run's `/{run_id}/insights`). Several pages are
//!   several files; the caller concatenates them.
//! - **Ads Manager CSV** — the UI export (`Reporting starts`, ..., `Amount spent (USD)`, ...),
//!   including localised exports such as French (`Montant dépensé (EUR)`, `;` delimiter,
//!   decimal commas and space thousands separators `1 234,56`).
//!
//! Quirks handled:
//! - **every numeric scalar is a JSON string** (`"impressions":"361324"`); ids are strings;
//! - daily rows have `date_start == date_stop`; a row spanning several days is an error (the
//!   report was not requested with `time_increment=1`);
//! - conversions and value are **lists of action stats** (`actions`, `action_values`) whose
//!   `action_type`s include aliases of the same event (`omni_purchase`, `purchase`,
//!   `offsite_conversion.fb_pixel_purchase`, same value) and unrelated actions (`link_click`,
//!   `landing_page_view`...). [`ParseOptions::conversion_events`] says which count: per event
//!   the first alias present is taken (never summed), events are summed. Per-window keys
//!   (`1d_click`, `7d_click`, `28d_click`, `1d_view`) are ignored: `value` is the figure under
//!   the account's attribution setting. Meta omits the lists when nothing happened, so an
//!   absent list means 0 conversions;
//! - `clicks` is `inline_link_clicks` (link clicks), Meta's `clicks` counts every click on the
//!   ad; only when a file carries no `inline_link_clicks` at all is `clicks` used;
//! - `reach` is per ad-day and kept (never summed); video views are the `video_view` entry of
//!   `video_play_actions`;
//! - the CSV carries purchases (`Purchases`, `Purchases conversion value`), not the
//!   configurable events, and takes the currency from `Currency` or the spend header;
//! - an error envelope (`{"error":{"message","type","code","fbtrace_id"}}`) is an error naming
//!   the code and message.

use std::borrow::Cow;
use std::ops::Range;

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::common::{self, CsvTable, JsonNum, at};
use super::common::{day, nonneg};
use super::json_scan::Cursor;
use super::writer::{
    cents, date_span, file_name, fmt_cents, fmt_micros, to_cents_amount, to_micros,
    zero_missing_money,
};
use super::{
    ConversionEvents, Location, NativeFile, NativeFormat, NativeRow, ParseError, ParseOptions,
    Platform, RowRef, RowSink, WriteContext,
};
use crate::schema::AdDailyRow;

const P: Platform = Platform::Meta;

/// Whether the text looks like Meta Insights JSON (`date_start`, or a Graph API error with
/// `fbtrace_id`) or an Ads Manager export (English or French spend / reporting headers).
pub fn looks_like(head: &str) -> bool {
    head.contains("\"date_start\"")
        || head.contains("\"fbtrace_id\"")
        || (head.contains("\"insights\"") && head.contains("\"data\""))
        || head.contains("Reporting starts")
        || head.contains("Amount spent (")
        || head.contains("Début des rapports")
        || head.contains("Montant dépensé (")
}

/// Parses an Insights JSON page or an Ads Manager CSV export.
pub fn parse(bytes: &[u8], opts: &ParseOptions) -> Result<Vec<NativeRow>, ParseError> {
    let mut out = Vec::new();
    parse_into(bytes, opts, &mut out)?;
    Ok(out)
}

/// [`parse`] into any [`RowSink`]; Insights JSON rows go in without being copied out of the
/// page first.
pub fn parse_into<S: RowSink>(
    bytes: &[u8],
    opts: &ParseOptions,
    out: &mut S,
) -> Result<(), ParseError> {
    let body = common::strip_bom(bytes);
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Err(ParseError::file("empty file")),
        Some(b'{') => parse_json(body, opts, out),
        Some(b'[') => Err(ParseError::file(
            "a JSON array is not an Insights response; expected {\"data\":[...],\"paging\":...}",
        )),
        Some(_) => {
            for r in parse_csv(body, opts)? {
                out.push_native(r)?;
            }
            Ok(())
        }
    }
}

// ---------------------------------------------------------------- API JSON

#[derive(Deserialize)]
struct GraphError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    error_subcode: Option<i64>,
}

/// An Insights page as read: its rows, the action stats of every row back to back, and the
/// error envelope when there is one.
struct Page<'a> {
    data: Option<Vec<MRow<'a>>>,
    actions: Vec<ActionStat<'a>>,
    error: Option<GraphError>,
}

/// The fields of one Insights row that are used; text borrowed from the page. Action lists
/// are ranges of [`Page::actions`] (no allocation per row).
#[derive(Default)]
struct MRow<'a> {
    account_id: JsonNum<'a>,
    account_currency: Option<Cow<'a, str>>,
    campaign_id: JsonNum<'a>,
    campaign_name: Option<Cow<'a, str>>,
    adset_id: JsonNum<'a>,
    adset_name: Option<Cow<'a, str>>,
    ad_id: JsonNum<'a>,
    ad_name: Option<Cow<'a, str>>,
    date_start: Option<Cow<'a, str>>,
    date_stop: Option<Cow<'a, str>>,
    impressions: JsonNum<'a>,
    reach: JsonNum<'a>,
    clicks: JsonNum<'a>,
    inline_link_clicks: JsonNum<'a>,
    spend: JsonNum<'a>,
    actions: Option<Range<usize>>,
    action_values: Option<Range<usize>>,
    video_play_actions: Option<Range<usize>>,
}

struct ActionStat<'a> {
    /// Compared with the configured names as bytes, so not checked to be UTF-8.
    action_type: Cow<'a, [u8]>,
    value: JsonNum<'a>,
}

/// Reads a page `{"data":[...],"paging":..}` or `{"error":{..}}`; other members are skipped.
/// The reading is done by [`Cursor`] rather than derived serde structs because a page holds
/// hundreds of rows of ~60 strings each and this is the hot path of `normalize`.
fn read_page(text: &[u8]) -> Result<Page<'_>, ParseError> {
    let mut c = Cursor::new(text);
    c.begin_object("an Insights response object")?;
    let mut page = Page {
        data: None,
        actions: Vec::new(),
        error: None,
    };
    let mut seen = 0u32;
    let mut first = true;
    while let Some(key) = c.next_key(&mut first)? {
        match &*key {
            b"data" => {
                once(&c, &mut seen, 0, &key)?;
                if !c.null()? {
                    // About 900 bytes per row with every field: sizes the rows once.
                    let hint = text.len() / 800;
                    page.actions.reserve(hint * 4);
                    page.data = Some(read_rows(&mut c, &mut page.actions, hint)?);
                }
            }
            b"error" => {
                once(&c, &mut seen, 1, &key)?;
                let start = c.offset();
                c.skip_value()?;
                let end = c.here();
                page.error = serde_json::from_slice::<Option<GraphError>>(c.slice(start, end))
                    .map_err(|e| c.error(e))?;
            }
            _ => c.skip_value()?,
        }
    }
    c.end()?;
    Ok(page)
}

/// A field may appear once per object.
fn once(c: &Cursor, seen: &mut u32, bit: u32, key: &[u8]) -> Result<(), ParseError> {
    if *seen & (1 << bit) != 0 {
        let key = String::from_utf8_lossy(key);
        return Err(c.error(format!("duplicate field `{key}`")));
    }
    *seen |= 1 << bit;
    Ok(())
}

fn read_rows<'a>(
    c: &mut Cursor<'a>,
    actions: &mut Vec<ActionStat<'a>>,
    hint: usize,
) -> Result<Vec<MRow<'a>>, ParseError> {
    c.begin_array("the `data` array of rows")?;
    let mut rows = Vec::with_capacity(hint);
    let mut first = true;
    while c.next_item(&mut first)? {
        // Filled in place: a row is ~500 bytes, and moving each into the vector showed.
        rows.push(MRow::default());
        if let Some(r) = rows.last_mut() {
            read_row(c, actions, r)?;
        }
    }
    Ok(rows)
}

fn read_row<'a>(
    c: &mut Cursor<'a>,
    actions: &mut Vec<ActionStat<'a>>,
    r: &mut MRow<'a>,
) -> Result<(), ParseError> {
    c.begin_object("an Insights row object")?;
    let mut seen = 0u32;
    let mut first = true;
    while let Some(key) = c.next_key(&mut first)? {
        let bit = match &*key {
            b"account_id" => 0,
            b"account_currency" => 1,
            b"campaign_id" => 2,
            b"campaign_name" => 3,
            b"adset_id" => 4,
            b"adset_name" => 5,
            b"ad_id" => 6,
            b"ad_name" => 7,
            b"date_start" => 8,
            b"date_stop" => 9,
            b"impressions" => 10,
            b"reach" => 11,
            b"clicks" => 12,
            b"inline_link_clicks" => 13,
            b"spend" => 14,
            b"actions" => 15,
            b"action_values" => 16,
            b"video_play_actions" => 17,
            _ => {
                c.skip_value()?;
                continue;
            }
        };
        once(c, &mut seen, bit, &key)?;
        match bit {
            0 => r.account_id = c.num()?,
            1 => r.account_currency = c.opt_string()?,
            2 => r.campaign_id = c.num()?,
            3 => r.campaign_name = c.opt_string()?,
            4 => r.adset_id = c.num()?,
            5 => r.adset_name = c.opt_string()?,
            6 => r.ad_id = c.num()?,
            7 => r.ad_name = c.opt_string()?,
            8 => r.date_start = c.opt_string()?,
            9 => r.date_stop = c.opt_string()?,
            10 => r.impressions = c.num()?,
            11 => r.reach = c.num()?,
            12 => r.clicks = c.num()?,
            13 => r.inline_link_clicks = c.num()?,
            14 => r.spend = c.num()?,
            15 => r.actions = read_actions(c, actions)?,
            16 => r.action_values = read_actions(c, actions)?,
            _ => r.video_play_actions = read_actions(c, actions)?,
        }
    }
    Ok(())
}

/// A list of action stats (`null` for none), appended to `actions`.
fn read_actions<'a>(
    c: &mut Cursor<'a>,
    actions: &mut Vec<ActionStat<'a>>,
) -> Result<Option<Range<usize>>, ParseError> {
    if c.null()? {
        return Ok(None);
    }
    c.begin_array("a list of action stats")?;
    let start = actions.len();
    let mut first = true;
    while c.next_item(&mut first)? {
        c.begin_object("an action stat object")?;
        let (mut kind, mut value) = (None, None);
        let mut seen = 0u32;
        let mut first_key = true;
        while let Some(key) = c.next_key(&mut first_key)? {
            match &*key {
                b"action_type" => {
                    once(c, &mut seen, 0, &key)?;
                    kind = Some(c.raw_string()?);
                }
                b"value" => {
                    once(c, &mut seen, 1, &key)?;
                    value = Some(c.num()?);
                }
                _ => c.skip_value()?,
            }
        }
        let action_type = kind.ok_or_else(|| c.error("missing field `action_type`"))?;
        actions.push(ActionStat {
            action_type,
            value: value.unwrap_or_default(),
        });
    }
    Ok(Some(start..actions.len()))
}

fn parse_json<S: RowSink>(body: &[u8], opts: &ParseOptions, out: &mut S) -> Result<(), ParseError> {
    match nested_rows(body)? {
        Some(flat) => parse_page(&flat, opts, out),
        None => parse_page(body, opts, out),
    }
}

/// Whether `body` is one of the Graph API's nested shapes rather than an Insights page:
/// insights requested through the ads edge (`/act_<id>/ads?fields=insights.time_increment(1)
/// {...}`: `{"data":[{"id", "name", "insights":{"data":[rows],"paging"}}], "paging"}`, ads
/// without delivery carrying no `insights` at all), or a response keyed by account id
/// (`?ids=act_<id>`: `{"act_<id>": {"data":[rows], "paging"}}`).
fn is_nested(body: &[u8]) -> bool {
    let first_key_is_account = body
        .iter()
        .position(|&b| b == b'"')
        .is_some_and(|i| body[i + 1..].starts_with(b"act_"));
    first_key_is_account || body.windows(10).any(|w| w == b"\"insights\"")
}

/// The rows of a nested shape ([`is_nested`]) as one Insights page (`{"data":[rows]}`), each
/// row given the `ad_id`, `ad_name` and `account_id` of the objects around it when it lacks
/// them. `None` for an ordinary page.
fn nested_rows(body: &[u8]) -> Result<Option<Vec<u8>>, ParseError> {
    if !is_nested(body) {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ParseError::file(format!("not valid JSON: {e}")))?;
    if v.get("error").is_some() || v.get("data").is_some_and(|d| !d.is_array()) {
        return Ok(None);
    }
    #[derive(Clone, Default)]
    struct Ctx {
        account: Option<String>,
        ad: Option<String>,
        ad_name: Option<String>,
    }
    fn walk(v: &Value, ctx: &Ctx, rows: &mut Vec<Value>) {
        match v {
            Value::Object(m) if m.contains_key("date_start") => {
                let mut r = m.clone();
                let mut fill = |k: &str, x: &Option<String>| {
                    if let Some(x) = x
                        && r.get(k).is_none_or(|v| v.is_null())
                    {
                        r.insert(k.to_string(), Value::String(x.clone()));
                    }
                };
                fill("ad_id", &ctx.ad);
                fill("ad_name", &ctx.ad_name);
                fill("account_id", &ctx.account);
                rows.push(Value::Object(r));
            }
            Value::Object(m) => {
                let mut ctx = ctx.clone();
                if m.contains_key("insights") {
                    ctx.ad = m.get("id").and_then(id_text);
                    ctx.ad_name = m.get("name").and_then(Value::as_str).map(str::to_string);
                }
                if let Some(a) = m.get("account_id").and_then(id_text) {
                    ctx.account = Some(a);
                }
                for (k, x) in m {
                    if k == "paging" {
                        continue;
                    }
                    let mut inner = ctx.clone();
                    if let Some(a) = k.strip_prefix("act_")
                        && !a.is_empty()
                        && a.bytes().all(|b| b.is_ascii_digit())
                    {
                        inner.account = Some(a.to_string());
                    }
                    walk(x, &inner, rows);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, ctx, rows)),
            _ => {}
        }
    }
    fn id_text(v: &Value) -> Option<String> {
        match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
    let mut rows = Vec::new();
    walk(&v, &Ctx::default(), &mut rows);
    Ok(Some(
        serde_json::to_vec(&json!({ "data": rows }))
            .map_err(|e| ParseError::file(e.to_string()))?,
    ))
}

fn parse_page<S: RowSink>(body: &[u8], opts: &ParseOptions, out: &mut S) -> Result<(), ParseError> {
    let page = read_page(body)?;
    if let Some(e) = page.error {
        return Err(ParseError::new(
            Location::Path("error".into()),
            None,
            format!(
                "Meta Graph API error {}{} ({}): {}",
                e.code.map(|c| c.to_string()).unwrap_or_else(|| "?".into()),
                e.error_subcode.map(|s| format!("/{s}")).unwrap_or_default(),
                e.kind.unwrap_or_default(),
                e.message.unwrap_or_else(|| "(no message)".into())
            ),
        ));
    }
    let data = page.data.ok_or_else(|| {
        ParseError::new(
            Location::File,
            Some("data"),
            "not an Insights response: no `data` array",
        )
    })?;
    // Link clicks are what we report; Meta's `clicks` (all clicks) is used only when the
    // report did not request `inline_link_clicks` at all.
    let link_mode = data
        .iter()
        .any(|r| !matches!(r.inline_link_clicks, JsonNum::Null));
    // Same test as `to_id().is_none()` without building an id string per row.
    let lacks_id = |n: &JsonNum| match n {
        JsonNum::Null => true,
        JsonNum::Str(s) => s.trim().is_empty(),
        JsonNum::Int(_) | JsonNum::Float(_) => false,
    };
    let scope_account = if data.iter().any(|r| lacks_id(&r.account_id)) {
        Some(opts.scope_account_id(P)?)
    } else {
        None
    };
    out.reserve(data.len());
    for (i, r) in data.iter().enumerate() {
        let loc = || Location::Path(format!("data[{i}]"));
        json_row(r, &page.actions, &loc, link_mode, scope_account, opts, out)?;
    }
    Ok(())
}

fn json_row<S: RowSink>(
    r: &MRow,
    actions: &[ActionStat],
    loc: &dyn Fn() -> Location,
    link_mode: bool,
    scope_account: Option<&str>,
    opts: &ParseOptions,
    out: &mut S,
) -> Result<(), ParseError> {
    let missing = |field: &str| ParseError::new(loc(), Some(field), "required field is missing");
    let list = |l: &Option<Range<usize>>| l.clone().map(|l| actions.get(l).unwrap_or(&[]));
    let ad_id = r.ad_id.id_str().ok_or_else(|| missing("ad_id"))?;
    let start = r
        .date_start
        .as_deref()
        .ok_or_else(|| missing("date_start"))?;
    let date = at(day(start), loc, "date_start")?;
    if let Some(stop) = r.date_stop.as_deref() {
        // Daily rows repeat the start day: skip parsing the same text twice.
        let stop = if stop == start {
            date
        } else {
            at(day(stop), loc, "date_stop")?
        };
        if stop != date {
            return Err(ParseError::new(
                loc(),
                Some("date_stop"),
                format!("row covers {date}..{stop}, not one day; request time_increment=1"),
            ));
        }
    }
    let account_id = r.account_id.id_str();
    let account_id = match (&account_id, scope_account) {
        (Some(a), _) => a,
        (None, Some(s)) => s,
        (None, None) => "",
    };
    let currency = match r.account_currency.as_deref() {
        Some(c) if !c.trim().is_empty() => c,
        _ => opts.scope_currency(P)?,
    };
    let impressions = r
        .impressions
        .count_at(loc, "impressions")?
        .ok_or_else(|| missing("impressions"))?;
    let clicks = if link_mode {
        r.inline_link_clicks
            .count_at(loc, "inline_link_clicks")?
            .unwrap_or(0)
    } else {
        r.clicks.count_at(loc, "clicks")?.unwrap_or(0)
    };
    let reach = r.reach.count_at(loc, "reach")?;
    let spend = r.spend.money_at(loc, "spend")?.unwrap_or(0.0);
    let conversions = pick_events(list(&r.actions), &opts.conversion_events, loc, "actions")?;
    let value = pick_events(
        list(&r.action_values),
        &opts.conversion_events,
        loc,
        "action_values",
    )?;
    let video_views = match list(&r.video_play_actions) {
        None => None,
        Some(list) => {
            let mut n = 0i64;
            for (j, a) in list.iter().enumerate() {
                if *a.action_type == *b"video_view" {
                    // The field name is built only on error: this runs for every row.
                    n += a
                        .value
                        .to_count()
                        .map_err(|m| {
                            let f = format!("video_play_actions[{j}].value");
                            ParseError::new(loc(), Some(&f), m)
                        })?
                        .unwrap_or(0);
                }
            }
            Some(n)
        }
    };
    let campaign_id = r.campaign_id.id_str();
    let ad_group_id = r.adset_id.id_str();
    out.push(RowRef {
        platform: P,
        account_id,
        ad_id: &ad_id,
        campaign_id: campaign_id.as_deref(),
        ad_group_id: ad_group_id.as_deref(),
        campaign_name: non_empty(&r.campaign_name),
        ad_group_name: non_empty(&r.adset_name),
        ad_name: non_empty(&r.ad_name),
        date,
        impressions,
        clicks,
        reach,
        spend: Some(spend),
        currency: Some(currency),
        conversions: Some(conversions),
        conversion_value: Some(value),
        video_views,
        segment: None,
    })
}

fn non_empty<'s>(name: &'s Option<Cow<'_, str>>) -> Option<&'s str> {
    name.as_deref().filter(|s| !s.is_empty())
}

/// Sums the chosen events: per event, the first alias present in `list` (aliases of one
/// event report the same figure, so adding them would double count).
fn pick_events(
    list: Option<&[ActionStat]>,
    events: &ConversionEvents,
    loc: &dyn Fn() -> Location,
    field: &str,
) -> Result<f64, ParseError> {
    let Some(list) = list else { return Ok(0.0) };
    let mut total = 0.0;
    for aliases in &events.0 {
        let hit = aliases.iter().find_map(|alias| {
            list.iter()
                .enumerate()
                .find(|(_, a)| *a.action_type == *alias.as_bytes())
        });
        if let Some((j, a)) = hit {
            // The field name is built only on error: this runs for every row.
            let v = a
                .value
                .to_f64()
                .and_then(|o| o.map(nonneg).transpose())
                .map_err(|m| {
                    let f = format!("{field}[{j}].value");
                    ParseError::new(loc(), Some(&f), m)
                })?;
            total += v.unwrap_or(0.0);
        }
    }
    Ok(total)
}

// ---------------------------------------------------------------- Ads Manager CSV

/// Header names per column: English first, then the French export.
mod h {
    pub const STARTS: &[&str] = &["Reporting starts", "Début des rapports"];
    pub const ENDS: &[&str] = &["Reporting ends", "Fin des rapports"];
    pub const ACCOUNT_ID: &[&str] = &["Account ID", "Identifiant du compte"];
    pub const CAMPAIGN_ID: &[&str] = &["Campaign ID", "Identifiant de la campagne"];
    pub const CAMPAIGN: &[&str] = &["Campaign name", "Nom de la campagne"];
    pub const ADSET_ID: &[&str] = &[
        "Ad set ID",
        "Identifiant de l’ensemble de publicités",
        "Identifiant de l'ensemble de publicités",
    ];
    pub const ADSET: &[&str] = &[
        "Ad set name",
        "Nom de l’ensemble de publicités",
        "Nom de l'ensemble de publicités",
    ];
    pub const AD_ID: &[&str] = &["Ad ID", "Identifiant de la publicité"];
    pub const AD: &[&str] = &["Ad name", "Nom de la publicité"];
    pub const DAY: &[&str] = &["Day", "Jour"];
    pub const IMPRESSIONS: &[&str] = &["Impressions"];
    pub const REACH: &[&str] = &["Reach", "Couverture"];
    pub const LINK_CLICKS: &[&str] = &["Link clicks", "Clics sur un lien"];
    pub const PURCHASES: &[&str] = &["Purchases", "Achats"];
    pub const PURCHASE_VALUE: &[&str] = &[
        "Purchases conversion value",
        "Valeur de conversion des achats",
    ];
    pub const CURRENCY: &[&str] = &["Currency", "Devise"];
    pub const SPEND_PREFIX: &[&str] = &["Amount spent", "Montant dépensé"];
}

fn spend_col(headers: &[String]) -> Option<usize> {
    headers
        .iter()
        .position(|c| h::SPEND_PREFIX.iter().any(|p| c.starts_with(p)))
}

fn is_csv_header(cells: &[String]) -> bool {
    let has = |names: &[&str]| cells.iter().any(|c| names.iter().any(|n| c == n));
    has(h::AD_ID) && spend_col(cells).is_some()
}

fn parse_csv(body: &[u8], opts: &ParseOptions) -> Result<Vec<NativeRow>, ParseError> {
    let t = CsvTable::read(body, is_csv_header, |_| false)?;
    // Localised exports that use `;` also write decimal commas.
    let dc = t.delimiter == b';';
    let c_spend = spend_col(&t.headers).ok_or_else(|| {
        ParseError::new(
            Location::Line {
                line: t.header_line,
                column: None,
            },
            Some("Amount spent"),
            "required column missing",
        )
    })?;
    let spend_header = t.headers.get(c_spend).cloned().unwrap_or_default();
    let header_currency = spend_header
        .split_once('(')
        .and_then(|(_, r)| r.strip_suffix(')'))
        .map(|c| c.trim().to_string())
        .filter(|c| c.len() == 3);
    let c_ad = t.require(h::AD_ID)?;
    let c_day = match t.col(h::DAY) {
        Some(c) => c,
        None => t.require(h::STARTS)?,
    };
    let c_ends = t.col(h::ENDS);
    let c_imp = t.require(h::IMPRESSIONS)?;
    let c_clicks = t.require(h::LINK_CLICKS)?;
    let c_reach = t.col(h::REACH);
    let c_purch = t.col(h::PURCHASES);
    let c_value = t.col(h::PURCHASE_VALUE);
    let c_cur = t.col(h::CURRENCY);
    let c_acc = t.col(h::ACCOUNT_ID);
    let c_camp_id = t.col(h::CAMPAIGN_ID);
    let c_camp = t.col(h::CAMPAIGN);
    let c_set_id = t.col(h::ADSET_ID);
    let c_set = t.col(h::ADSET);
    let c_ad_name = t.col(h::AD);
    let scope_account = common::scope_unless(c_acc, || opts.require_account_id(P))?;
    let scope_currency = match (c_cur, &header_currency) {
        (None, None) => Some(opts.require_currency(P)?),
        _ => None,
    };
    let name = |c: usize| t.header(c);
    let mut out = Vec::with_capacity(t.len());
    for r in t.rows(dc) {
        let text = |c: Option<usize>| r.text(c);
        // A summary row (Ads Manager's optional totals line) has no identity at all.
        if [c_acc, c_camp_id, c_set_id, Some(c_ad), c_ad_name]
            .iter()
            .all(|c| text(*c).is_none())
        {
            continue;
        }
        let required = |f: &str| r.error(f, "required value is empty");
        let ad_id = text(Some(c_ad)).ok_or_else(|| required(name(c_ad)))?;
        let date = r.at(day(r.cell(c_day)), name(c_day))?;
        if let Some(c) = c_ends.filter(|_| t.col(h::DAY).is_none()) {
            let end = r.at(day(r.cell(c)), name(c))?;
            if end != date {
                return Err(r.error(
                    name(c),
                    format!("row covers {date}..{end}, not one day; export with the Day breakdown"),
                ));
            }
        }
        let impressions = r
            .count_as(c_imp, name(c_imp))?
            .ok_or_else(|| required(name(c_imp)))?;
        // Ads Manager leaves a metric blank when it has no data for the row: 0.
        let clicks = r.count_as(c_clicks, name(c_clicks))?.unwrap_or(0);
        let reach = r.count(c_reach)?;
        let money =
            |c: usize| -> Result<f64, ParseError> { Ok(r.money_as(c, name(c))?.unwrap_or(0.0)) };
        let spend = money(c_spend)?;
        let conversions = c_purch
            .map(|c| r.decimal_as(c, name(c), nonneg).map(|o| o.unwrap_or(0.0)))
            .transpose()?;
        let value = c_value.map(money).transpose()?;
        let account_id = match &scope_account {
            Some(a) => a.clone(),
            None => text(c_acc).ok_or_else(|| required("Account ID"))?,
        };
        let currency = match (&scope_currency, text(c_cur), &header_currency) {
            (Some(s), _, _) => s.clone(),
            (None, Some(c), _) => c,
            (None, None, Some(h)) => h.clone(),
            (None, None, None) => return Err(required("Currency")),
        };
        out.push(NativeRow::from(AdDailyRow {
            platform: P,
            account_id,
            ad_id,
            campaign_id: text(c_camp_id),
            ad_group_id: text(c_set_id),
            campaign_name: text(c_camp),
            ad_group_name: text(c_set),
            ad_name: text(c_ad_name),
            date,
            impressions,
            clicks,
            reach,
            spend: Some(spend),
            currency: Some(currency),
            conversions,
            conversion_value: value,
            video_views: None,
        }));
    }
    Ok(out)
}

// ---------------------------------------------------------------- writer

/// Writes Insights pages (`ApiJson`, split over `paging.next`) or an Ads Manager CSV
/// (`UiCsv`, English or French by seed).
pub fn write(rows: &[AdDailyRow], ctx: &WriteContext) -> Vec<NativeFile> {
    if rows.is_empty() {
        return Vec::new();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(ctx.seed ^ 0x3e7a);
    let mut order: Vec<&AdDailyRow> = rows.iter().collect();
    order.sort_by(|a, b| (a.date, &a.ad_id).cmp(&(b.date, &b.ad_id)));
    let (first, last) = date_span(rows);
    match ctx.format {
        NativeFormat::ApiJson => write_pages(&order, ctx, &mut rng, first, last),
        NativeFormat::UiCsv => {
            let french = rng.gen_bool(0.5);
            vec![NativeFile {
                file_name: file_name(P, &ctx.account_id, first, last, None, "csv"),
                bytes: write_csv(&order, ctx, french),
            }]
        }
    }
}

/// One action-stat element with the per-window keys of the default attribution setting
/// (`7d_click_1d_view`): all of these conversions are 7-day-click ones.
fn action(kind: &str, micros: i64) -> Value {
    let v = fmt_micros(micros);
    json!({
        "action_type": kind,
        "value": v,
        "7d_click": v,
        "1d_view": "0",
    })
}

const PURCHASE_ALIASES: [&str; 3] = [
    "purchase",
    "omni_purchase",
    "offsite_conversion.fb_pixel_purchase",
];

fn write_pages(
    order: &[&AdDailyRow],
    ctx: &WriteContext,
    rng: &mut ChaCha8Rng,
    first: NaiveDate,
    last: NaiveDate,
) -> Vec<NativeFile> {
    let n = order.len();
    // A `limit` Meta accepts for insights, but small histories are still split over 1–3
    // pages so simulated files exercise `paging.next`.
    let limit = [500usize, 1000, 5000][rng.gen_range(0..3usize)];
    let page_size = n.div_ceil(rng.gen_range(1..=3usize)).clamp(1, limit);
    let pages: Vec<&[&AdDailyRow]> = order.chunks(page_size).collect();
    let multi = pages.len() > 1;
    let mut files = Vec::with_capacity(pages.len());
    for (pi, chunk) in pages.iter().enumerate() {
        let mut data = Vec::with_capacity(chunk.len());
        for r in chunk.iter() {
            let mut o = Map::new();
            let mut s = |k: &str, v: &str| {
                o.insert(k.into(), Value::String(v.to_string()));
            };
            s("account_id", &r.account_id);
            s("account_name", &ctx.account_name);
            s(
                "account_currency",
                r.currency.as_deref().unwrap_or(&ctx.currency),
            );
            if let Some(v) = &r.campaign_id {
                s("campaign_id", v);
            }
            if let Some(v) = &r.campaign_name {
                s("campaign_name", v);
            }
            if let Some(v) = &r.ad_group_id {
                s("adset_id", v);
            }
            if let Some(v) = &r.ad_group_name {
                s("adset_name", v);
            }
            s("ad_id", &r.ad_id);
            if let Some(v) = &r.ad_name {
                s("ad_name", v);
            }
            let day = r.date.to_string();
            s("date_start", &day);
            s("date_stop", &day);
            s("impressions", &r.impressions.to_string());
            if let Some(reach) = r.reach {
                s("reach", &reach.to_string());
                if reach > 0 {
                    s(
                        "frequency",
                        &format!("{:.6}", r.impressions as f64 / reach as f64),
                    );
                }
            }
            // All clicks include likes, expands and profile clicks besides link clicks.
            let other = if r.clicks > 0 {
                rng.gen_range(0..=r.clicks / 3)
            } else {
                0
            };
            s("clicks", &(r.clicks + other).to_string());
            s("inline_link_clicks", &r.clicks.to_string());
            s("spend", &fmt_micros(to_micros(r.spend.unwrap_or(0.0))));
            let mut actions = Vec::new();
            if r.clicks > 0 {
                // Engagement actions carry no attribution windows.
                actions.push(json!({"action_type": "link_click", "value": r.clicks.to_string()}));
                actions.push(json!({
                    "action_type": "landing_page_view",
                    "value": (r.clicks * 4 / 5).to_string(),
                }));
            }
            let conv = to_micros(r.conversions.unwrap_or(0.0));
            let value = to_micros(r.conversion_value.unwrap_or(0.0));
            let mut values = Vec::new();
            for alias in PURCHASE_ALIASES {
                if conv > 0 {
                    actions.push(action(alias, conv));
                }
                if value > 0 {
                    values.push(action(alias, value));
                }
            }
            if !actions.is_empty() {
                o.insert("actions".into(), Value::Array(actions));
            }
            if !values.is_empty() {
                o.insert("action_values".into(), Value::Array(values));
            }
            if let Some(v) = r.video_views {
                o.insert(
                    "video_play_actions".into(),
                    json!([{"action_type": "video_view", "value": v.to_string()}]),
                );
            }
            data.push(Value::Object(o));
        }
        let before = format!("MjA{pi:04}ZD");
        let after = format!("MjA{:04}ZD", pi + 1);
        let mut paging = json!({"cursors": {"before": before, "after": after}});
        if pi + 1 < pages.len() {
            paging["next"] = json!(format!(
                "https://graph.facebook.com/v25.0/act_{}/insights?level=ad&time_increment=1&limit={page_size}&after={after}",
                ctx.account_id
            ));
        }
        let body = json!({"data": data, "paging": paging});
        files.push(NativeFile {
            file_name: file_name(
                P,
                &ctx.account_id,
                first,
                last,
                multi.then_some(pi + 1),
                "json",
            ),
            bytes: serde_json::to_vec(&body).unwrap_or_default(),
        });
    }
    files
}

/// Cents as a French decimal: space thousands separators, decimal comma (`1 234,56`).
fn fr_cents(c: i64) -> String {
    fmt_cents(c, true).replace(',', " ").replace('.', ",")
}

fn write_csv(order: &[&AdDailyRow], ctx: &WriteContext, french: bool) -> Vec<u8> {
    let cur = &ctx.currency;
    let header: Vec<String> = if french {
        [
            "Début des rapports",
            "Fin des rapports",
            "Identifiant du compte",
            "Nom du compte",
            "Identifiant de la campagne",
            "Nom de la campagne",
            "Identifiant de l’ensemble de publicités",
            "Nom de l’ensemble de publicités",
            "Identifiant de la publicité",
            "Nom de la publicité",
            "Jour",
            &format!("Montant dépensé ({cur})"),
            "Impressions",
            "Couverture",
            "Répétition",
            "Clics sur un lien",
            "Résultats",
            "Indicateur de résultats",
            "Coût par résultat",
            "Achats",
            "Valeur de conversion des achats",
            "ROAS des achats",
            "Paramètre d’attribution",
            "Devise",
        ]
        .map(str::to_string)
        .to_vec()
    } else {
        [
            "Reporting starts",
            "Reporting ends",
            "Account ID",
            "Account name",
            "Campaign ID",
            "Campaign name",
            "Ad set ID",
            "Ad set name",
            "Ad ID",
            "Ad name",
            "Day",
            &format!("Amount spent ({cur})"),
            "Impressions",
            "Reach",
            "Frequency",
            "Link clicks",
            "Results",
            "Result indicator",
            "Cost per results",
            "Purchases",
            "Purchases conversion value",
            "Purchase ROAS",
            "Attribution setting",
            "Currency",
        ]
        .map(str::to_string)
        .to_vec()
    };
    let money = |c: i64| {
        if french {
            fr_cents(c)
        } else {
            fmt_cents(c, false)
        }
    };
    let ratio = |x: f64| {
        let s = format!("{x:.2}");
        if french { s.replace('.', ",") } else { s }
    };
    let mut w = csv::WriterBuilder::new()
        .delimiter(if french { b';' } else { b',' })
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let _ = w.write_record(&header);
    for r in order {
        let spend = cents(r.spend.unwrap_or(0.0));
        let conv = cents(r.conversions.unwrap_or(0.0));
        let value = cents(r.conversion_value.unwrap_or(0.0));
        let day = r.date.to_string();
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let blank_zero =
            |c: i64, f: &dyn Fn(i64) -> String| if c == 0 { String::new() } else { f(c) };
        let _ = w.write_record([
            day.clone(),
            day.clone(),
            r.account_id.clone(),
            ctx.account_name.clone(),
            opt(&r.campaign_id),
            opt(&r.campaign_name),
            opt(&r.ad_group_id),
            opt(&r.ad_group_name),
            r.ad_id.clone(),
            opt(&r.ad_name),
            day,
            money(spend),
            r.impressions.to_string(),
            r.reach.map(|v| v.to_string()).unwrap_or_default(),
            match r.reach {
                Some(reach) if reach > 0 => ratio(r.impressions as f64 / reach as f64),
                _ => String::new(),
            },
            r.clicks.to_string(),
            blank_zero(conv, &|c| money(c)),
            if conv > 0 {
                "actions:offsite_conversion.fb_pixel_purchase".into()
            } else {
                String::new()
            },
            if conv > 0 {
                ratio(spend as f64 / conv as f64)
            } else {
                String::new()
            },
            blank_zero(conv, &|c| money(c)),
            blank_zero(value, &|c| money(c)),
            if spend > 0 && value > 0 {
                ratio(value as f64 / spend as f64)
            } else {
                String::new()
            },
            if french {
                "Clic de 7 jours ou vue d’un jour".into()
            } else {
                "7-day click or 1-day view".into()
            },
            r.currency.clone().unwrap_or_else(|| cur.clone()),
        ]);
    }
    w.into_inner().unwrap_or_default()
}

/// What an Insights report carries of a row: everything for the API (conversions and value
/// are 0 when Meta omits the lists); the Ads Manager CSV has no video views and rounds money
/// and purchases to cents.
pub fn carried(row: &AdDailyRow, format: NativeFormat) -> AdDailyRow {
    let mut r = row.clone();
    match format {
        NativeFormat::ApiJson => {
            zero_missing_money(&mut r);
        }
        NativeFormat::UiCsv => {
            let c = to_cents_amount;
            r.spend = c(r.spend);
            r.conversions = c(r.conversions);
            r.conversion_value = c(r.conversion_value);
            r.video_views = None;
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::normalize;
    use crate::platforms::testkit::*;
    use proptest::prelude::*;

    fn fx(name: &str) -> Vec<u8> {
        fixture_bytes("meta", name)
    }

    #[test]
    fn insights_pages_fixture_totals() {
        let opts = ParseOptions::default();
        let (p, page1) = normalize(None, &fx("insights_p1.json"), &opts).unwrap();
        assert_eq!(p, Platform::Meta);
        let (_, page2) = normalize(None, &fx("insights_p2.json"), &opts).unwrap();
        let rows: Vec<AdDailyRow> = page1.into_iter().chain(page2).collect();
        // p1: ad 2384 on 09-01 and 09-02, ad 2385 on 09-01; p2: ad 2385 on 09-02.
        // impressions 1000+1500+400+600 = 3500; link clicks 25+40+8+12 = 85 (not `clicks`
        // 31+52+9+12); spend 12.34+20.00+5.5+7.16 = 45.00; conversions (omni_purchase taken
        // once, aliases not added) 2+3+0 (no actions)+1 = 6; value 80.5+120+0+35.25 = 235.75.
        assert_totals(totals(&rows), (4, 3500, 85, 45.0, 6.0, 235.75));
        let r = &rows[0];
        assert_eq!(r.account_id, "101234567890");
        assert_eq!(r.currency.as_deref(), Some("EUR"));
        assert_eq!(r.reach, Some(900));
        assert_eq!(r.video_views, Some(150));
        assert_eq!(r.ad_group_id.as_deref(), Some("23850000000000002"));
        assert_eq!(rows[2].conversions, Some(0.0));
    }

    /// The Graph API's nested shapes, written from its field-expansion and `ids` forms:
    /// insights under each ad of the ads edge (ads without delivery carry no `insights`), and
    /// a page keyed by account id.
    #[test]
    fn nested_graph_shapes_read_as_their_rows() {
        let opts = ParseOptions::default();
        let (p, rows) = normalize(None, &fx("ads_edge_nested.json"), &opts).unwrap();
        assert_eq!(p, Platform::Meta);
        // Ad ...001 on 09-01 and 09-02, ad ...003 on 09-01; ...002 and ...004 have no insights.
        // impressions 1200+800+500 = 2500; link clicks 30+12+5 = 47; spend 15.50+9.25+4.00 =
        // 28.75; conversions (omni_purchase once) 0+2+0 = 2; value 0+60+0 = 60.
        assert_totals(totals(&rows), (3, 2500, 47, 28.75, 2.0, 60.0));
        let ids: Vec<_> = rows.iter().map(|r| r.ad_id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "23851000000000001",
                "23851000000000001",
                "23851000000000003"
            ]
        );
        assert!(rows.iter().all(|r| r.account_id == "101234567890"));
        assert_eq!(rows[0].ad_name.as_deref(), Some("Summer video"));
        assert_eq!(rows[0].currency.as_deref(), Some("USD"));

        let (p, rows) = normalize(None, &fx("ids_keyed.json"), &opts).unwrap();
        assert_eq!(p, Platform::Meta);
        // 1000+400 = 1400 impressions; 25+8 = 33 clicks; 12.34+5.50 = 17.84; the account from
        // the key `act_101234567890`.
        assert_totals(totals(&rows), (2, 1400, 33, 17.84, 0.0, 0.0));
        assert!(rows.iter().all(|r| r.account_id == "101234567890"));
        // An ads-edge page without insights anywhere: no rows, not an error.
        let empty = br#"{"data":[{"id":"1","name":"a","insights":null},{"id":"2"}],"paging":{}}"#;
        assert!(parse(empty, &opts).unwrap().is_empty());
        // A bad value inside the nesting still names the field.
        let bad = String::from_utf8(fx("ads_edge_nested.json"))
            .unwrap()
            .replace("\"800\"", "\"lots\"");
        let e = parse(bad.as_bytes(), &opts).unwrap_err();
        assert!(e.to_string().contains("impressions"), "{e}");
    }

    #[test]
    fn clicks_are_link_clicks_unless_not_requested() {
        let row = |extra: &str| {
            format!(
                r#"{{"data":[{{"account_id":"1","account_currency":"USD","ad_id":"5","date_start":"2026-09-01","date_stop":"2026-09-01","impressions":"100","clicks":"9"{extra}}},{{"account_id":"1","account_currency":"USD","ad_id":"6","date_start":"2026-09-01","date_stop":"2026-09-01","impressions":"50","clicks":"4"}}]}}"#
            )
        };
        // The file requested inline_link_clicks: 7 link clicks; the row without it has 0.
        let rows = parse(
            row(r#","inline_link_clicks":"7""#).as_bytes(),
            &ParseOptions::default(),
        )
        .unwrap();
        assert_eq!((rows[0].row.clicks, rows[1].row.clicks), (7, 0));
        // No row has inline_link_clicks: all clicks (9, 4) are used.
        let rows = parse(row("").as_bytes(), &ParseOptions::default()).unwrap();
        assert_eq!((rows[0].row.clicks, rows[1].row.clicks), (9, 4));
    }

    #[test]
    fn conversion_event_choice() {
        // Counting leads instead: only the row with a `lead` action contributes (1).
        let opts = ParseOptions {
            conversion_events: ConversionEvents(vec![vec!["lead".into()]]),
            ..ParseOptions::default()
        };
        let rows = parse(&fx("insights_p1.json"), &opts).unwrap();
        let conv: f64 = rows.iter().filter_map(|r| r.row.conversions).sum();
        assert_eq!(conv, 1.0);
        // Purchases + leads as two events: 2+3 purchases plus 1 lead = 6.
        let opts = ParseOptions {
            conversion_events: ConversionEvents(vec![
                vec!["omni_purchase".into(), "purchase".into()],
                vec!["lead".into()],
            ]),
            ..ParseOptions::default()
        };
        let rows = parse(&fx("insights_p1.json"), &opts).unwrap();
        let conv: f64 = rows.iter().filter_map(|r| r.row.conversions).sum();
        assert_eq!(conv, 6.0);
    }

    #[test]
    fn ads_manager_csv_fixtures() {
        let opts = ParseOptions::default();
        let rows = normalize_as(Platform::Meta, &fx("ads_manager.csv"), &opts);
        // 3 rows (the summary row without ids is skipped): impressions 1000+1500+400 = 2900;
        // link clicks 25+40+8 = 73; spend 12.34+1020.50+5.50 = 1038.34;
        // purchases 2+3+0 (blank) = 5; value 80.50+120.00+0 = 200.50.
        assert_totals(totals(&rows), (3, 2900, 73, 1038.34, 5.0, 200.5));
        assert_eq!(rows[0].currency.as_deref(), Some("USD"));
        assert_eq!(rows[1].campaign_name.as_deref(), Some("Prospecting, EU"));
        assert_eq!(rows[2].reach, None);
        let rows = normalize_as(Platform::Meta, &fx("ads_manager_fr.csv"), &opts);
        // French: impressions 1 000 + 1 500 = 2500; clicks 25+40 = 65;
        // spend 12,34 + 1 234,56 = 1246.90; purchases 2+3 = 5; value 80,50 + 1 120,25 = 1200.75.
        assert_totals(totals(&rows), (2, 2500, 65, 1246.9, 5.0, 1200.75));
        // Currency from the spend header (no `Devise` column in this export).
        assert_eq!(rows[0].currency.as_deref(), Some("EUR"));
        assert_eq!(rows[1].reach, Some(1200));
    }

    #[test]
    fn bad_inputs() {
        let ok = String::from_utf8(fx("insights_p1.json")).unwrap();
        let o = ParseOptions::default();
        let e = parse(&ok.as_bytes()[..ok.len() * 2 / 3], &o).unwrap_err();
        assert!(matches!(e.location, Location::Line { .. }), "{e}");
        let check = |body: String, path: &str, field: &str| {
            let e = parse(body.as_bytes(), &ParseOptions::default()).unwrap_err();
            assert_eq!(e.location, Location::Path(path.into()), "{e}");
            assert_eq!(e.field.as_deref(), Some(field), "{e}");
        };
        check(
            ok.replacen("\"impressions\":\"1500\"", "\"impressions\":\"1.5k\"", 1),
            "data[1]",
            "impressions",
        );
        check(
            ok.replacen("\"spend\":\"20.00\"", "\"spend\":\"-20.00\"", 1),
            "data[1]",
            "spend",
        );
        check(
            ok.replacen("\"spend\":\"20.00\"", "\"spend\":\"NaN\"", 1),
            "data[1]",
            "spend",
        );
        check(
            ok.replacen("\"impressions\":\"400\"", "\"impressionz\":\"400\"", 1),
            "data[2]",
            "impressions",
        );
        check(
            ok.replacen("\"ad_id\":\"2385\"", "\"adid\":\"2385\"", 1),
            "data[2]",
            "ad_id",
        );
        check(
            ok.replacen(
                "\"date_stop\":\"2026-09-02\"",
                "\"date_stop\":\"2026-09-08\"",
                1,
            ),
            "data[1]",
            "date_stop",
        );
        check(
            ok.replacen("\"value\":\"3\"", "\"value\":\"-3\"", 1),
            "data[1]",
            "actions[2].value",
        );
        // No account id in the rows and none in scope → the flag is named; with it, used.
        let no_acc = ok.replace("\"account_id\":\"101234567890\",", "");
        let e = parse(no_acc.as_bytes(), &o).unwrap_err();
        assert!(e.message.contains("--account-id"), "{e}");
        let rows = parse(no_acc.as_bytes(), &scope_opts()).unwrap();
        assert!(rows.iter().all(|r| r.row.account_id == "1234567890"));
        // No currency anywhere → the scope flag is named.
        let e = parse(
            ok.replace("\"account_currency\":\"EUR\",", "").as_bytes(),
            &o,
        )
        .unwrap_err();
        assert!(e.message.contains("--currency"), "{e}");
        // Error envelope.
        let e = parse(br#"{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190,"fbtrace_id":"AbCdEf"}}"#, &o).unwrap_err();
        assert!(
            e.message.contains("190") && e.message.contains("Invalid OAuth"),
            "{e}"
        );
        // CSV: non-numeric count, negative spend, missing column, truncated row.
        let csv = String::from_utf8(fx("ads_manager.csv")).unwrap();
        let e = parse(csv.replacen(",1500,", ",15x0,", 1).as_bytes(), &o).unwrap_err();
        assert_eq!(
            (e.location.clone(), e.field.as_deref()),
            (
                Location::Line {
                    line: 3,
                    column: None
                },
                Some("Impressions")
            )
        );
        let e = parse(csv.replacen("\"1,020.50\"", "-1020.50", 1).as_bytes(), &o).unwrap_err();
        assert_eq!(
            (e.location.clone(), e.field.as_deref()),
            (
                Location::Line {
                    line: 3,
                    column: None
                },
                Some("Amount spent (USD)")
            )
        );
        let e = parse(
            csv.replacen("Link clicks", "Clicks (all)", 1).as_bytes(),
            &o,
        )
        .unwrap_err();
        assert_eq!(
            (e.location.clone(), e.field.as_deref()),
            (
                Location::Line {
                    line: 1,
                    column: None
                },
                Some("Link clicks")
            )
        );
        let cut = csv.find("2385").unwrap() + 4;
        let e = parse(&csv.as_bytes()[..cut], &o).unwrap_err();
        assert_eq!(
            e.location,
            Location::Line {
                line: 4,
                column: None
            },
            "{e}"
        );
    }

    #[test]
    fn sniffing() {
        for f in ["insights_p1.json", "ads_manager.csv", "ads_manager_fr.csv"] {
            assert!(looks_like(&common::text_head(&fx(f), 65536)), "{f}");
        }
        assert!(!looks_like(
            r#"{"elements":[{"dateRange":{"start":{"year":2026,"month":9,"day":1}},"impressions":10}]}"#
        ));
        assert!(!looks_like(
            "date,ad_id,impressions,clicks,spend\n2026-09-01,1,10,1,0.5\n"
        ));
        assert!(!looks_like(
            r#"[{"results":[{"adGroupAd":{"ad":{"id":"1"}},"segments":{"date":"2026-09-01"}}]}]"#
        ));
    }

    #[test]
    fn writer_pages_link_with_next() {
        let rows: Vec<AdDailyRow> = (0..6)
            .map(|i| {
                let mut r = AdDailyRow::new(
                    P,
                    "1234567890".into(),
                    format!("{i}"),
                    NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
                );
                r.impressions = 10;
                r.conversions = Some(1.0);
                r.currency = Some("USD".into());
                r
            })
            .collect();
        // Find a seed that pages, then check every page but the last links to the next.
        let files = (0..50u64)
            .map(|s| write(&rows, &ctx(NativeFormat::ApiJson, s)))
            .find(|f| f.len() > 1)
            .unwrap();
        for (i, f) in files.iter().enumerate() {
            let v: Value = serde_json::from_slice(&f.bytes).unwrap();
            assert_eq!(v["paging"]["next"].is_string(), i + 1 < files.len());
            assert!(
                f.file_name.ends_with(&format!("_p{}.json", i + 1)),
                "{}",
                f.file_name
            );
            // The purchase is listed under its three aliases, each with the same value.
            let kinds: Vec<&str> = v["data"][0]["actions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["action_type"].as_str().unwrap())
                .collect();
            assert!(PURCHASE_ALIASES.iter().all(|k| kinds.contains(k)));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn round_trip(rows in rows_strategy(P), seed in any::<u64>(), ui in any::<bool>()) {
            let format = if ui { NativeFormat::UiCsv } else { NativeFormat::ApiJson };
            // Reads back to `carried` rows; deterministic for the same seed.
            check_write_round_trip(P, write, &rows, format, seed)?;
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512), m in mutations()) {
            let _ = parse(&bytes, &scope_opts());
            for f in ["insights_p1.json", "ads_manager.csv", "ads_manager_fr.csv"] {
                let _ = parse(&mutate(&fx(f), &m), &scope_opts());
            }
        }
    }
}
