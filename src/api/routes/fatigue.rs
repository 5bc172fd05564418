//! `POST /v1/fatigue/score`: the tenant's champion fatigue model scores creatives either from
//! the warehouse (`ad_ids`) or from histories in the body (`creatives`, nothing stored).
//! Warehouse scores are those of scoring the whole tenant (`omnify score fatigue`): at the
//! tenant's latest day they come from its in-memory feature snapshot ([`crate::api::snapshots`]),
//! at another day from its rows up to that day.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Errors;
use crate::api::champions::{Champion, Model};
use crate::api::codec::score_body;
use crate::api::error::{ApiError, FieldError};
use crate::api::extract::{Caller, PARSE_INLINE_MAX_BYTES, body_bytes, parse_json, require_json};
use crate::api::{AppState, blocking};
use crate::fatigue::ScoreRow;
use crate::fatigue::snapshot;
use crate::features::input::{CreativeId, DayInput, DayInputBuilder, DayValues};
use crate::features::rows::Keep;
use crate::platforms::Platform;
use crate::registry::ModelKind;
use crate::schema::{DateRange, date_to_days};
use crate::state::Role;

/// Score creatives: give `ad_ids` (scored from the warehouse) or `creatives` with their
/// daily history (scored from the body; nothing is stored). Not both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequest {
    /// The day to score at [default: the latest day in the data — of the tenant's warehouse
    /// rows for `ad_ids`, of the histories for `creatives`].
    #[serde(default)]
    pub as_of: Option<NaiveDate>,
    /// Ad ids of the caller's tenant in the warehouse (1 to `[api] max_batch_creatives`,
    /// default 10,000).
    #[serde(default)]
    #[schema(min_items = 1, max_items = 10000)]
    pub ad_ids: Option<Vec<String>>,
    /// Creatives with their history (1 to `[api] max_batch_creatives`, default 10,000). The
    /// days of one request may span at most `[limits] max_history_span_days` (default 1,096)
    /// and lie between `[limits] earliest_date` and `[limits] future_days` after today.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 10000)]
    pub creatives: Option<Vec<CreativeHistory>>,
}

/// A scoring request's body: the request as parsed, or, for a large valid body of histories,
/// its creatives already checked and built into the engine's input while the body arrived
/// ([`crate::api::codec::score_body`]).
pub enum ScoreJson {
    Request(ScoreRequest),
    Histories(Box<BodyBatch>),
}

impl FromRequest<Arc<AppState>> for ScoreJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        require_json(&req)?;
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > PARSE_INLINE_MAX_BYTES) {
            return score_body::read(req, state).await;
        }
        let bytes = body_bytes(req).await?;
        if bytes.len() <= PARSE_INLINE_MAX_BYTES {
            return parse_json(&bytes).map(ScoreJson::Request);
        }
        let lim = BodyLimits::of(&state.cfg);
        blocking(move || score_body::split_whole(bytes, lim)).await
    }
}

/// One creative and its daily history.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreativeHistory {
    /// google_ads, meta, linkedin, tiktok, microsoft_ads, snapchat, pinterest, x, amazon_ads.
    pub platform: String,
    /// Not blank.
    #[schema(pattern = r"\S")]
    pub account_id: String,
    /// Not blank.
    #[schema(pattern = r"\S")]
    pub ad_id: String,
    /// One entry per day, each day once (a missing day counts as no delivery).
    #[schema(min_items = 1)]
    pub history: Vec<HistoryDay>,
}

/// One day of a creative.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryDay {
    #[serde(deserialize_with = "history_date")]
    pub date: NaiveDate,
    #[schema(minimum = 0)]
    pub impressions: i64,
    #[schema(minimum = 0)]
    pub clicks: i64,
    /// Account currency units.
    #[schema(minimum = 0)]
    pub spend: f64,
    #[serde(default)]
    #[schema(minimum = 0)]
    pub reach: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 0)]
    pub conversions: Option<f64>,
    #[serde(default)]
    #[schema(minimum = 0)]
    pub conversion_value: Option<f64>,
}

/// A history day's date: `YYYY-MM-DD`, what clients send, read directly (the general parser
/// is several times slower and a batch has 280,000 dates); anything else goes to chrono's
/// parser, so the forms accepted and the errors are chrono's.
fn history_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = NaiveDate;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a formatted date string")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<NaiveDate, E> {
            match iso_date(s) {
                Some(d) => Ok(d),
                None => s.parse().map_err(E::custom),
            }
        }
    }
    d.deserialize_str(Visitor)
}

/// `YYYY-MM-DD` (four, two and two ASCII digits) when it names a day.
fn iso_date(s: &str) -> Option<NaiveDate> {
    iso_date_bytes(s.as_bytes())
}

/// [`iso_date`] of a string's bytes.
pub(crate) fn iso_date_bytes(b: &[u8]) -> Option<NaiveDate> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(number(&b[..4])? as i32, number(&b[5..7])?, number(&b[8..])?)
}

/// Scores, one per creative.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScoreResponse {
    pub model_version: String,
    pub as_of: NaiveDate,
    pub scores: Vec<ScoreRow>,
    /// Requested ad ids with no rows in the tenant's warehouse.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_ad_ids: Vec<String>,
}

/// A validated body: the engine's input (days after `as_of` left out), the creatives in
/// request order and the day they are scored at.
pub(crate) struct BodyBatch {
    pub input: DayInput,
    pub wanted: Vec<Key>,
    pub as_of: NaiveDate,
}

/// What one scoring body may hold: checked before the engine fills a single day.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimits {
    /// `[api] max_batch_creatives`.
    pub max_creatives: usize,
    /// Dates a history day or `as_of` may carry (`[limits]`).
    pub dates: DateRange,
    /// Most calendar days from the body's first day to its last (or `as_of`).
    pub max_span_days: u32,
}

impl BodyLimits {
    /// The limits a configuration sets, with today's date range.
    pub(crate) fn of(cfg: &crate::config::Config) -> BodyLimits {
        BodyLimits {
            max_creatives: cfg.api.max_batch_creatives,
            dates: cfg.limits.dates(),
            max_span_days: cfg.limits.max_history_span_days,
        }
    }

    /// 422 naming `as_of` when it lies outside the accepted dates.
    pub(crate) fn check_as_of(&self, as_of: Option<NaiveDate>) -> Result<(), ApiError> {
        match as_of {
            Some(d) if !self.dates.contains(d) => {
                Err(ApiError::invalid("as_of", self.dates.refusal(d)))
            }
            _ => Ok(()),
        }
    }

    /// 422 when the body's days (and `as_of`) span more calendar days than allowed: the
    /// engine fills every day from a creative's and an account's first day to the last.
    pub(crate) fn check_span(
        &self,
        first: Option<NaiveDate>,
        last: Option<NaiveDate>,
        as_of: Option<NaiveDate>,
    ) -> Result<(), ApiError> {
        let (Some(first), Some(last)) = (first, last.max(as_of)) else {
            return Ok(());
        };
        let span = (last - first).num_days() + 1;
        if span > i64::from(self.max_span_days) {
            return Err(ApiError::invalid(
                "creatives",
                format!(
                    "the histories{} span {span} days ({first} to {last}); one request may span \
                     at most {} days (see [limits] max_history_span_days): send the recent days",
                    if as_of.is_some() { " and as_of" } else { "" },
                    self.max_span_days
                ),
            ));
        }
        Ok(())
    }
}

impl Default for BodyLimits {
    fn default() -> Self {
        BodyLimits::of(&crate::config::Config::default())
    }
}

/// Most field errors one answer lists.
const MAX_FIELD_ERRORS: usize = 50;

/// Creatives checked per unit of work (runs of a large body are checked on all cores).
const CHECK_RUN: usize = 512;

/// Checks every creative and day of a body (up to 50 errors, each with its field path, in
/// request order) and builds the engine's input straight from the histories: they already
/// come creative by creative, so no row is keyed, copied into a row struct or grouped again.
pub(crate) fn check_creatives(
    list: &[CreativeHistory],
    lim: BodyLimits,
    as_of: Option<NaiveDate>,
) -> Result<BodyBatch, ApiError> {
    use rayon::prelude::*;
    let max = lim.max_creatives;
    if list.len() > max {
        return Err(ApiError::invalid(
            "creatives",
            format!("{} creatives; at most {max} per request", list.len()),
        ));
    }
    if list.is_empty() {
        return Err(ApiError::invalid("creatives", "give at least one creative"));
    }
    // A creative named twice (two spellings of a platform name one creative): the later ones.
    let mut seen = HashSet::with_capacity(list.len());
    let twice: Vec<bool> = list
        .iter()
        .map(|c| {
            Platform::from_name(&c.platform)
                .is_ok_and(|p| !seen.insert((p, c.account_id.as_str(), c.ad_id.as_str())))
        })
        .collect();
    let cut = as_of.map(date_to_days);
    let runs: Vec<CheckedRun> = if list.len() > CHECK_RUN {
        list.par_chunks(CHECK_RUN)
            .enumerate()
            .map(|(k, run)| check_run(run, k * CHECK_RUN, &twice, cut, &lim.dates))
            .collect()
    } else {
        vec![check_run(list, 0, &twice, cut, &lim.dates)]
    };
    let Some(all) = join_runs(runs) else {
        return Err(ApiError::invalid("creatives", "give at least one creative"));
    };
    if all.failed {
        return Err(ApiError::invalid_fields(all.errors));
    }
    lim.check_as_of(as_of)?;
    lim.check_span(all.earliest, all.latest, as_of)?;
    let as_of = as_of
        .or(all.latest)
        .ok_or_else(|| ApiError::invalid("creatives", "no history"))?;
    Ok(BodyBatch {
        input: all.input.finish(),
        wanted: all.wanted,
        as_of,
    })
}

/// The runs of a body joined in order: their errors in request order (up to
/// [`MAX_FIELD_ERRORS`]) and, while nothing failed, their input and creatives. None without
/// runs.
pub(crate) fn join_runs(runs: Vec<CheckedRun>) -> Option<CheckedRun> {
    if runs.is_empty() {
        return None;
    }
    let failed = runs.iter().any(|r| r.failed);
    let latest = runs.iter().filter_map(|r| r.latest).max();
    let earliest = runs.iter().filter_map(|r| r.earliest).min();
    let mut errors = Vec::new();
    let mut inputs = Vec::with_capacity(runs.len());
    let mut wanted = Vec::with_capacity(runs.iter().map(|r| r.wanted.len()).sum());
    for r in runs {
        errors.extend(r.errors);
        errors.truncate(MAX_FIELD_ERRORS);
        if !failed {
            inputs.push(r.input);
            wanted.extend(r.wanted);
        }
    }
    Some(CheckedRun {
        errors,
        failed,
        earliest,
        latest,
        input: DayInputBuilder::concat(inputs),
        wanted,
    })
}

/// What checking a run of a body's creatives found.
pub(crate) struct CheckedRun {
    /// Up to [`MAX_FIELD_ERRORS`], paths by the creative's index in the request.
    pub errors: Vec<FieldError>,
    pub failed: bool,
    pub earliest: Option<NaiveDate>,
    pub latest: Option<NaiveDate>,
    /// While nothing failed: the run's creatives as the engine reads them, days after the cut
    /// left out.
    pub input: DayInputBuilder,
    pub wanted: Vec<Key>,
}

/// Checks the creatives `run` (the request's from index `offset` on); `twice` marks, per
/// request index, a creative already named earlier in the request.
fn check_run(
    run: &[CreativeHistory],
    offset: usize,
    twice: &[bool],
    cut: Option<i32>,
    dates: &DateRange,
) -> CheckedRun {
    let mut errors = Vec::new();
    let failed = std::cell::Cell::new(false);
    let mut err = |path: String, message: &str| {
        failed.set(true);
        if errors.len() < MAX_FIELD_ERRORS {
            errors.push(FieldError {
                path,
                message: message.to_string(),
            });
        }
    };
    let mut latest: Option<NaiveDate> = None;
    let mut earliest: Option<NaiveDate> = None;
    let rows = run.iter().map(|c| c.history.len()).sum();
    let mut b = DayInputBuilder::with_capacity(run.len(), rows);
    let mut wanted = Vec::with_capacity(run.len());
    for (k, c) in run.iter().enumerate() {
        let i = offset + k;
        #[cfg(test)]
        if c.ad_id == "panic-in-check" {
            panic!("a panic injected by a test");
        }
        let platform = match Platform::from_name(&c.platform) {
            Ok(p) => Some(p),
            Err(e) => {
                err(format!("creatives[{i}].platform"), &e.to_string());
                None
            }
        };
        if c.account_id.trim().is_empty() {
            err(format!("creatives[{i}].account_id"), "must not be empty");
        }
        if c.ad_id.trim().is_empty() {
            err(format!("creatives[{i}].ad_id"), "must not be empty");
        }
        if twice.get(i).copied().unwrap_or(false) {
            err(
                format!("creatives[{i}].ad_id"),
                "this creative appears twice in the request",
            );
        }
        if c.history.is_empty() {
            err(format!("creatives[{i}].history"), "give at least one day");
        }
        // Days usually come in order: a repeat is then next to its twin. Otherwise each day
        // is looked up among the earlier ones.
        let ordered = c.history.is_sorted_by_key(|d| d.date);
        let mut days = HashSet::new();
        for (j, d) in c.history.iter().enumerate() {
            let at = |f: &str| format!("creatives[{i}].history[{j}].{f}");
            let repeated = if ordered {
                j > 0 && c.history[j - 1].date == d.date
            } else {
                !days.insert(d.date)
            };
            if repeated {
                err(at("date"), "this day appears twice");
            }
            if !dates.contains(d.date) {
                err(at("date"), &dates.refusal(d.date));
            }
            if d.impressions < 0 {
                err(at("impressions"), "must be ≥ 0");
            }
            if d.clicks < 0 {
                err(at("clicks"), "must be ≥ 0");
            }
            if !d.spend.is_finite() || d.spend < 0.0 {
                err(at("spend"), "must be a finite number ≥ 0");
            }
            if d.reach.is_some_and(|r| r < 0) {
                err(at("reach"), "must be ≥ 0");
            }
            if d.conversions.is_some_and(|v| !v.is_finite() || v < 0.0) {
                err(at("conversions"), "must be a finite number ≥ 0");
            }
            if d.conversion_value
                .is_some_and(|v| !v.is_finite() || v < 0.0)
            {
                err(at("conversion_value"), "must be a finite number ≥ 0");
            }
            latest = latest.max(Some(d.date));
            earliest = Some(earliest.map_or(d.date, |e: NaiveDate| e.min(d.date)));
        }
        // Once anything failed the answer is an error: nothing more is built.
        let Some(platform) = platform.filter(|_| !failed.get()) else {
            continue;
        };
        wanted.push((
            platform.as_str().to_string(),
            c.account_id.clone(),
            c.ad_id.clone(),
        ));
        let id = CreativeId {
            platform,
            account_id: c.account_id.clone(),
            ad_id: c.ad_id.clone(),
        };
        let days = c.history.iter().filter_map(|d| {
            let day = date_to_days(d.date);
            cut.is_none_or(|last| day <= last).then_some(DayValues {
                day,
                impressions: d.impressions,
                clicks: d.clicks,
                reach: d.reach,
                spend: Some(d.spend),
                conversions: d.conversions,
            })
        });
        b.push(id, days);
    }
    CheckedRun {
        errors,
        failed: failed.get(),
        earliest,
        latest,
        input: b,
        wanted,
    }
}

/// A row for a requested creative the model did not score (no delivery in the last days).
fn inactive(key: (&str, &str, &str), tenant: &str, as_of: NaiveDate, version: &str) -> ScoreRow {
    ScoreRow {
        tenant: tenant.to_string(),
        platform: key.0.to_string(),
        account_id: key.1.to_string(),
        ad_id: key.2.to_string(),
        as_of,
        status: "inactive".into(),
        p_onset_7d: None,
        p_onset_14d: None,
        p_onset_7_14d: None,
        expected_days_to_onset: None,
        drivers: "no delivery in the days before as_of".into(),
        action: "none".into(),
        model_version: version.to_string(),
        survival: None,
    }
}

/// Where a request's creatives come from.
enum Source {
    Body(Box<BodyBatch>),
    Warehouse(Vec<String>),
}

/// The source of a parsed request, checked (at most `max` creatives or ids). Blocking for
/// large bodies: call [`source_of`] from async code.
fn source_checked(req: ScoreRequest, lim: BodyLimits) -> Result<Source, ApiError> {
    lim.check_as_of(req.as_of)?;
    let max = lim.max_creatives;
    Ok(match (req.ad_ids, req.creatives) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "body",
                "give either ad_ids or creatives, not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::invalid("body", "give ad_ids or creatives"));
        }
        (Some(ids), None) => {
            if ids.is_empty() || ids.len() > max {
                return Err(ApiError::invalid(
                    "ad_ids",
                    format!("give 1 to {max} ad ids (got {})", ids.len()),
                ));
            }
            if let Some(i) = ids.iter().position(|s| s.trim().is_empty()) {
                return Err(ApiError::invalid(
                    format!("ad_ids[{i}]"),
                    "must not be empty",
                ));
            }
            Source::Warehouse(ids)
        }
        (None, Some(c)) => Source::Body(Box::new(check_creatives(&c, lim, req.as_of)?)),
    })
}

/// [`source_checked`] from async code: a large body is checked off the async runtime, where
/// its parsed form is also freed.
async fn source_of(req: ScoreRequest, lim: BodyLimits) -> Result<Source, ApiError> {
    if req
        .creatives
        .as_ref()
        .is_some_and(|c| c.len() > BATCHED_MAX_CREATIVES)
    {
        return blocking(move || source_checked(req, lim)).await;
    }
    source_checked(req, lim)
}

/// Scores a parsed request for `tenant` with its champion (the cold-start prior when it has
/// none), on the calling thread: the answer of `POST /v1/fatigue/score` for other front ends
/// (the MCP tools). Blocking.
pub(crate) fn score_now(
    st: &Arc<AppState>,
    tenant: &str,
    req: ScoreRequest,
) -> Result<ScoreResponse, ApiError> {
    let as_of_req = req.as_of;
    let source = source_checked(req, BodyLimits::of(&st.cfg))?;
    let champion = st
        .champions
        .get(tenant, ModelKind::Fatigue)
        .map_err(ApiError::internal)?
        .or_else(crate::api::champions::fatigue_prior)
        .ok_or_else(|| no_fatigue_model(tenant))?;
    match source {
        Source::Body(body) => {
            let BodyBatch {
                input,
                wanted,
                as_of,
            } = *body;
            let scored = run_score(tenant, &input, as_of, &champion, &st.fatigue_spec)?;
            Ok(finish(scored, &wanted, tenant, as_of, champion.version()))
        }
        Source::Warehouse(ids) => score_warehouse(st, tenant, &ids, as_of_req, &champion),
    }
}

fn no_fatigue_model(tenant: &str) -> ApiError {
    ApiError::not_found(format!(
        "tenant `{tenant}` has no champion fatigue model; train one (POST /v1/jobs)"
    ))
}

/// Scores creatives with the tenant's champion fatigue model.
#[utoipa::path(
    post,
    path = "/v1/fatigue/score",
    tag = "fatigue",
    request_body = ScoreRequest,
    responses(
        (status = 200, description = "One score per creative", body = ScoreResponse),
        Errors
    ),
    security(("bearer" = []))
)]
pub async fn score(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    body: ScoreJson,
) -> Result<Response, ApiError> {
    caller.require(Role::Read)?;
    if !st.is_ready() {
        return Err(ApiError::unavailable("models are loading", 5));
    }
    let lim = BodyLimits::of(&st.cfg);
    let (source, as_of_req) = match body {
        // Checked while it arrived.
        ScoreJson::Histories(batch) => (Source::Body(batch), None),
        ScoreJson::Request(req) => {
            let as_of = req.as_of;
            (source_of(req, lim).await?, as_of)
        }
    };
    let tenant = caller.tenant.clone();
    let champion = fatigue_champion(&st, &tenant).await?;
    let version = champion.version().to_string();
    // Small requests from the body go through the batcher: scored together with whatever
    // else is waiting, in one feature run.
    if let Source::Body(body) = source {
        let BodyBatch {
            input,
            wanted,
            as_of,
        } = *body;
        if wanted.len() <= BATCHED_MAX_CREATIVES {
            let scored = st
                .batcher
                .score(&tenant, champion.clone(), as_of, input, wanted.len())
                .await?;
            return Ok(Json(finish(scored, &wanted, &tenant, as_of, &version)).into_response());
        }
        let (st, tenant, champion) = (st.clone(), tenant.clone(), champion.clone());
        return blocking(move || {
            let answer = run_score(&tenant, &input, as_of, &champion, &st.fatigue_spec)
                .and_then(|scored| json_body(finish(scored, &wanted, &tenant, as_of, &version)));
            // Freed apart: the caller need not wait for it.
            crate::free_apart((input, wanted));
            answer
        })
        .await;
    }
    let Source::Warehouse(ids) = source else {
        return Err(ApiError::internal("unreachable request source"));
    };
    blocking(move || score_warehouse(&st, &tenant, &ids, as_of_req, &champion).and_then(json_body))
        .await
}

/// Scores `ids` of `tenant`'s warehouse creatives at `as_of_req` (default: the tenant's latest
/// day). Blocking.
fn score_warehouse(
    st: &AppState,
    tenant: &str,
    ids: &[String],
    as_of_req: Option<NaiveDate>,
    champion: &Champion,
) -> Result<ScoreResponse, ApiError> {
    let version = champion.version().to_string();
    let spec = &st.fatigue_spec;
    let latest = st.snapshots.latest(&st.warehouse, tenant, spec)?;
    // Which creatives the ids name (an id can exist on several platforms or accounts),
    // from every row of the tenant; unknown ids are marked by an empty platform.
    let mut wanted: Vec<Key> = Vec::new();
    let mut seen = HashSet::new();
    for id in ids {
        if !seen.insert(id.as_str()) {
            continue;
        }
        match latest
            .as_ref()
            .and_then(|s| s.by_ad().get(id).map(|c| (s, c)))
        {
            Some((s, found)) => wanted.extend(found.iter().map(|&c| {
                let k = &s.prepared.creatives[c].key;
                (k.platform.clone(), k.account_id.clone(), k.ad_id.clone())
            })),
            None => wanted.push((String::new(), String::new(), id.clone())),
        }
    }
    let Some(latest) = latest.filter(|_| wanted.iter().any(|k| !k.0.is_empty())) else {
        let Some(as_of) = as_of_req else {
            return Err(ApiError::invalid(
                "ad_ids",
                "none of these ads has rows in the warehouse",
            ));
        };
        return Ok(finish(Vec::new(), &wanted, tenant, as_of, &version));
    };
    // The latest day is served from the tenant's snapshot; another day is computed for
    // this request from the tenant's rows up to it.
    let as_of = as_of_req.unwrap_or(latest.as_of);
    let snap = if as_of == latest.as_of {
        latest
    } else {
        let found = snapshot::at(&st.warehouse, tenant, Some(as_of), &spec.base)
            .map_err(crate::api::batcher::score_err)?;
        match found.snapshot {
            Some(s) => Arc::new(s),
            // No row of the tenant up to that day: every wanted creative is inactive.
            None => return Ok(finish(Vec::new(), &wanted, tenant, as_of, &version)),
        }
    };
    let mut picked = Vec::new();
    let mut taken = HashSet::new();
    for id in ids {
        for &c in snap.by_ad().get(id).into_iter().flatten() {
            if taken.insert(c) {
                picked.push(c);
            }
        }
    }
    let Model::Fatigue(model) = &champion.model else {
        return Err(ApiError::internal("fatigue slot holds another kind"));
    };
    let sub = snap.prepared.select_creatives(&picked);
    let scored = crate::fatigue::score_prepared(&[sub], as_of, model, &version, spec)
        .map_err(crate::api::batcher::score_err)?
        .pop()
        .unwrap_or_default();
    Ok(finish(scored, &wanted, tenant, as_of, &version))
}

/// A JSON answer serialised where it is built (on a blocking thread for batches: 10,000 scores
/// are ~6 MB and ~10 ms to write, which would otherwise hold an async worker). Many scores are
/// written in pieces on all cores and joined: the same bytes as writing the answer in one go.
fn json_body(mut v: ScoreResponse) -> Result<Response, ApiError> {
    use rayon::prelude::*;
    /// Scores written per piece.
    const PIECE: usize = 1024;
    // About 600 bytes per score with its survival curve and drivers.
    const PER_SCORE: usize = 640;
    let scores = std::mem::take(&mut v.scores);
    let write = |rows: &[ScoreRow]| -> Result<Vec<u8>, ApiError> {
        let mut b = Vec::with_capacity(PER_SCORE * rows.len());
        for (i, r) in rows.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            serde_json::to_writer(&mut b, r).map_err(ApiError::internal)?;
        }
        Ok(b)
    };
    let pieces: Vec<Vec<u8>> = if scores.len() > PIECE {
        scores
            .par_chunks(PIECE)
            .map(write)
            .collect::<Result<_, _>>()?
    } else {
        vec![write(&scores)?]
    };
    // The answer without its scores, which are put into its empty list (the first
    // `"scores":[]`: inside a string its quotes would be escaped).
    let head = serde_json::to_vec(&v).map_err(ApiError::internal)?;
    const EMPTY: &[u8] = b"\"scores\":[]";
    let at = head
        .windows(EMPTY.len())
        .position(|w| w == EMPTY)
        .map(|p| p + EMPTY.len() - 1)
        .ok_or_else(|| ApiError::internal("the answer has no scores list"))?;
    let len = head.len() + pieces.iter().map(|p| p.len() + 1).sum::<usize>();
    let mut buf = Vec::with_capacity(len);
    buf.extend_from_slice(&head[..at]);
    for (i, p) in pieces.iter().filter(|p| !p.is_empty()).enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(p);
    }
    buf.extend_from_slice(&head[at..]);
    // Freeing 10,000 scores takes a few milliseconds the caller need not wait for.
    crate::free_apart(scores);
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        buf,
    )
        .into_response())
}

/// Requests with at most this many creatives are batched with others.
pub(crate) const BATCHED_MAX_CREATIVES: usize = 16;

pub(crate) type Key = (String, String, String);

/// The champion fatigue model of `tenant` (the cold-start prior when it has none), without
/// blocking when it is in memory.
async fn fatigue_champion(st: &Arc<AppState>, tenant: &str) -> Result<Arc<Champion>, ApiError> {
    let slot = match st.champions.cached_slot(tenant, ModelKind::Fatigue) {
        Some(c) => Some(c),
        None => {
            let (st, t) = (st.clone(), tenant.to_string());
            blocking(move || {
                st.champions
                    .get(&t, ModelKind::Fatigue)
                    .map_err(ApiError::internal)
            })
            .await?
        }
    };
    // A tenant without a model of its own is scored by the cold-start prior.
    slot.or_else(crate::api::champions::fatigue_prior)
        .ok_or_else(|| no_fatigue_model(tenant))
}

/// Scores one tenant's input, already cut at `as_of` (features computed row by row).
fn run_score(
    tenant: &str,
    input: &DayInput,
    as_of: NaiveDate,
    champion: &Champion,
    spec: &crate::fatigue::JobConfig,
) -> Result<Vec<ScoreRow>, ApiError> {
    let Model::Fatigue(model) = &champion.model else {
        return Err(ApiError::internal("fatigue slot holds another kind"));
    };
    let p = [
        crate::fatigue::prepare_input(tenant, input, &spec.base, Keep::Last)
            .map_err(crate::api::batcher::score_err)?,
    ];
    let scored = crate::fatigue::score_prepared(&p, as_of, model, champion.version(), spec)
        .map(|mut v| v.pop().unwrap_or_default())
        .map_err(crate::api::batcher::score_err);
    crate::free_apart(p);
    scored
}

/// One score per wanted creative: the model's, or `inactive`; unknown ids listed apart.
fn finish(
    scored: Vec<ScoreRow>,
    wanted: &[Key],
    tenant: &str,
    as_of: NaiveDate,
    version: &str,
) -> ScoreResponse {
    let mut scores = scored;
    let mut unknown_ad_ids = Vec::new();
    // The scored creatives are among the wanted ones, one row each: as many rows as wanted
    // (known) creatives means every one was scored.
    let all_known = wanted.iter().all(|k| !k.0.is_empty());
    if !(all_known && scores.len() == wanted.len()) {
        let scored_keys: HashSet<(&str, &str, &str)> = scores
            .iter()
            .map(|s| (s.platform.as_str(), s.account_id.as_str(), s.ad_id.as_str()))
            .collect();
        let mut extra = Vec::new();
        for k in wanted {
            if k.0.is_empty() {
                unknown_ad_ids.push(k.2.clone());
            } else if !scored_keys.contains(&(k.0.as_str(), k.1.as_str(), k.2.as_str())) {
                extra.push(inactive((&k.0, &k.1, &k.2), tenant, as_of, version));
            }
        }
        scores.extend(extra);
    }
    ScoreResponse {
        model_version: version.to_string(),
        as_of,
        scores,
        unknown_ad_ids,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// History dates read directly are chrono's dates, and everything else gets chrono's
    /// answer: the same date or the same error.
    #[test]
    fn history_dates_read_as_chrono_reads_them() {
        #[derive(Deserialize)]
        struct Chrono {
            date: NaiveDate,
        }
        #[derive(Deserialize)]
        struct Direct {
            #[serde(deserialize_with = "history_date")]
            date: NaiveDate,
        }
        let dates = [
            "\"2026-08-01\"",
            "\"0000-01-01\"",
            "\"9999-12-31\"",
            "\"2024-02-29\"",
            "\"2026-02-29\"",
            "\"2026-13-01\"",
            "\"2026-00-10\"",
            "\"2026-1-01\"",
            "\" 2026-01-01\"",
            "\"+2026-01-01\"",
            "\"2026-01-01 \"",
            "\"2026/01/01\"",
            "\"2026-01-0a\"",
            "\"20260101\"",
            "\"2026-0\\u0031-01\"",
            "\"\"",
            "5",
            "null",
        ];
        for d in dates {
            let text = format!("{{\"date\": {d}}}");
            let want = serde_json::from_str::<Chrono>(&text)
                .map(|c| c.date)
                .map_err(|e| e.to_string());
            let got = serde_json::from_str::<Direct>(&text)
                .map(|c| c.date)
                .map_err(|e| e.to_string());
            assert_eq!(format!("{got:?}"), format!("{want:?}"), "{d}");
        }
        assert_eq!(iso_date("2026-08-01"), NaiveDate::from_ymd_opt(2026, 8, 1));
    }

    /// An answer written in pieces is byte for byte the answer written by serde_json in one
    /// go: scores in order, with quotes and `"scores":[]` inside strings, unknown ids after.
    #[test]
    fn answers_written_in_pieces_equal_one_write() {
        let as_of = NaiveDate::from_ymd_opt(2026, 3, 5).unwrap();
        for (n, unknown) in [(0, vec![]), (3, vec!["x\"".to_string()]), (2500, vec![])] {
            let scores: Vec<ScoreRow> = (0..n)
                .map(|i| {
                    let mut r = inactive(("meta", "a", &format!("ad{i}")), "t", as_of, "v1");
                    r.drivers = format!("\"scores\":[] {i}");
                    r.p_onset_7d = (i % 2 == 0).then_some(i as f64 / 7.0);
                    r.survival = (i % 3 == 0).then(|| vec![0.9, 0.5]);
                    r
                })
                .collect();
            let v = ScoreResponse {
                model_version: "\"scores\":[]".into(),
                as_of,
                scores,
                unknown_ad_ids: unknown,
            };
            let want = serde_json::to_vec(&v).unwrap();
            let body = json_body(v).unwrap().into_body();
            let got = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(body.collect())
                .unwrap()
                .to_bytes();
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want)
            );
        }
    }
}
