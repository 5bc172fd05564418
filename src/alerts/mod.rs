//! Alerts: tell people what is coming without anyone opening a report.
//!
//! A destination (a generic webhook, or a Slack-compatible incoming webhook) belongs to a
//! tenant and has rules. After each scoring run of the tenant (a job's end, an ingest, or
//! `omnify alerts evaluate`) the rules are evaluated into events:
//! - `creative_state`: a creative entered `prepare_refresh`, `refresh_now` or `fatigued`
//!   (one event per creative per change; nothing while the state holds);
//! - `budget_gain`: the champion budget model's plan at the current total spend gains at least
//!   the destination's threshold (once per budget model version);
//! - `job_failed`: a retraining job failed;
//! - `model_worse`: a retraining job's new version scored worse than the champion on its
//!   selection metric (it was not promoted).
//!
//! Events of one run go to each destination as one delivery, recorded in the state and sent by
//! [`deliver`] off the scoring path: signed (HMAC-SHA256 over the timestamp and the body, header
//! `OmniFy-Signature: t=<unix seconds>,v1=<hex>`), retried with exponential backoff and jitter,
//! and a destination whose deliveries keep failing is paused (and says why).

pub mod deliver;
pub(crate) mod store;

pub use store::NewDestination;

use std::collections::HashMap;

use chrono::NaiveDate;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use utoipa::ToSchema;

use crate::api::AppState;
use crate::api::champions::Model;
use crate::fatigue::ScoreRow;
use crate::registry::ModelKind;
use crate::state::{Job, JobStatus, State, StateError};

/// Creative states a rule can alert on.
pub const CREATIVE_STATES: [&str; 3] = ["prepare_refresh", "refresh_now", "fatigued"];
/// Attempts per delivery before it counts as failed.
pub const MAX_ATTEMPTS: i64 = 5;
/// Failed deliveries in a row after which a destination is paused.
pub const PAUSE_AFTER_FAILURES: i64 = 3;

/// What a destination is told about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Alert when a creative enters one of these states (`prepare_refresh`, `refresh_now`,
    /// `fatigued`) [default: all three].
    #[serde(default = "all_states")]
    pub creative_states: Vec<String>,
    /// Alert when the champion budget plan at the current total spend is expected to gain at
    /// least this many percent of the outcome; `null` turns it off [default: 5].
    #[serde(default = "default_gain")]
    #[schema(minimum = 0)]
    pub budget_gain_pct: Option<f64>,
    /// Alert when a retraining job fails [default: true].
    #[serde(default = "yes")]
    pub job_failed: bool,
    /// Alert when a retrained model scores worse than the champion [default: true].
    #[serde(default = "yes")]
    pub model_worse: bool,
}

fn all_states() -> Vec<String> {
    CREATIVE_STATES.iter().map(|s| s.to_string()).collect()
}
fn default_gain() -> Option<f64> {
    Some(5.0)
}
fn yes() -> bool {
    true
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            creative_states: all_states(),
            budget_gain_pct: default_gain(),
            job_failed: true,
            model_worse: true,
        }
    }
}

impl Rules {
    /// `Err((field, message))` when a rule is out of range.
    pub fn check(&self) -> Result<(), (String, String)> {
        for (i, s) in self.creative_states.iter().enumerate() {
            if !CREATIVE_STATES.contains(&s.as_str()) {
                return Err((
                    format!("rules.creative_states[{i}]"),
                    format!("`{s}` is not one of {}", CREATIVE_STATES.join(", ")),
                ));
            }
        }
        if let Some(g) = self.budget_gain_pct
            && (!g.is_finite() || g < 0.0)
        {
            return Err((
                "rules.budget_gain_pct".into(),
                "must be a finite number >= 0".into(),
            ));
        }
        Ok(())
    }
}

/// How the payload is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// The event JSON (see the README), signed.
    #[default]
    Webhook,
    /// `{"text": ...}`, what Slack-compatible incoming webhooks take (signed too).
    Slack,
}

/// A destination as stored (the secret never leaves the state but to sign).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Destination {
    pub id: String,
    pub tenant: String,
    pub name: String,
    pub url: String,
    pub format: Format,
    pub rules: Rules,
    /// `api` or `config`.
    pub source: String,
    pub created: String,
    /// Why deliveries are paused (resume with `POST /v1/alerts/{id}/resume`); absent when active.
    pub paused: Option<String>,
    /// Failed deliveries in a row.
    pub failures: i64,
    #[serde(skip)]
    #[schema(ignore)]
    pub secret: String,
}

/// One delivery: the events of one run for one destination.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Delivery {
    pub id: String,
    pub destination: String,
    pub tenant: String,
    pub created: String,
    /// `queued`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    /// HTTP status of the last attempt, if it got one.
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered: Option<String>,
    /// Events in the payload.
    pub events: i64,
    #[serde(skip)]
    #[schema(ignore)]
    pub payload: String,
    #[serde(skip)]
    #[schema(ignore)]
    pub next_attempt: String,
}

/// An event of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    CreativeState {
        platform: String,
        account_id: String,
        ad_id: String,
        /// The previous state (`null` the first time the creative is seen).
        from: Option<String>,
        to: String,
        p_onset_7d: Option<f64>,
        p_onset_14d: Option<f64>,
        drivers: String,
        model_version: String,
    },
    BudgetGain {
        model_version: String,
        total_budget: f64,
        expected_outcome_current: f64,
        expected_outcome: f64,
        gain_pct: f64,
    },
    JobFailed {
        job_id: String,
        kind: String,
        error: String,
    },
    ModelWorse {
        kind: String,
        version: String,
        champion: String,
        metric: String,
        score: f64,
        champion_score: f64,
    },
}

impl Event {
    /// One line for people.
    pub fn line(&self) -> String {
        let pct = |p: Option<f64>| p.map_or("n/a".to_string(), |p| format!("{:.0}%", p * 100.0));
        match self {
            Event::CreativeState {
                platform,
                account_id,
                ad_id,
                to,
                p_onset_7d,
                p_onset_14d,
                ..
            } => {
                let what = match to.as_str() {
                    "fatigued" => "is fatigued: replace it".to_string(),
                    "refresh_now" => format!(
                        "should be refreshed now (fatigue within 7 days: {})",
                        pct(*p_onset_7d)
                    ),
                    _ => format!(
                        "needs a refresh prepared (fatigue within 14 days: {})",
                        pct(*p_onset_14d)
                    ),
                };
                format!("Creative {ad_id} ({platform} account {account_id}) {what}")
            }
            Event::BudgetGain {
                gain_pct,
                total_budget,
                ..
            } => format!(
                "Shifting the current budget ({total_budget:.2} per period) as recommended is \
                 expected to gain {gain_pct:.1}% of the outcome"
            ),
            Event::JobFailed { kind, error, .. } => {
                format!("Retraining the {kind} model failed: {error}")
            }
            Event::ModelWorse {
                kind,
                metric,
                score,
                champion_score,
                ..
            } => format!(
                "The retrained {kind} model scored worse than the champion ({metric} \
                 {score:.4} vs {champion_score:.4}); the champion keeps serving"
            ),
        }
    }
}

/// `Err(reason)` unless `url` is an absolute http(s) URL with a host.
pub fn check_url(url: &str) -> Result<(), String> {
    if url.chars().count() > 2048 {
        return Err("at most 2,048 characters".into());
    }
    let u = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL ({e})"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{url}` is not an http or https URL with a host"));
    }
    Ok(())
}

/// Whether `ip` is on the public internet: not loopback, private, link-local, shared
/// (100.64/10), unspecified, broadcast, documentation, multicast or unique-local. Alert
/// deliveries to other addresses are refused unless `[api] alert_private_targets` allows them,
/// so a tenant's admin cannot make the service call into its own network.
pub fn is_public(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v) => {
            let o = v.octets();
            !(v.is_loopback()
                || v.is_private()
                || v.is_link_local()
                || v.is_unspecified()
                || v.is_broadcast()
                || v.is_documentation()
                || v.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || o[0] >= 240)
        }
        IpAddr::V6(v) => {
            if let Some(m) = v.to_ipv4_mapped() {
                return is_public(IpAddr::V4(m));
            }
            let s = v.segments();
            !(v.is_loopback()
                || v.is_unspecified()
                || v.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8))
        }
    }
}

/// `Err(reason)` when `url` names a literal address that is not public and `allow_private`
/// is off (host names are checked when a delivery resolves them).
pub fn check_target(url: &str, allow_private: bool) -> Result<(), String> {
    check_url(url)?;
    if allow_private {
        return Ok(());
    }
    let u = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
    let host = u.host_str().unwrap_or_default();
    let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
    else {
        return Ok(());
    };
    if is_public(ip) {
        Ok(())
    } else {
        Err(format!(
            "{ip} is not a public address (set [api] alert_private_targets = true to allow it)"
        ))
    }
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &str, unix: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(format!("{unix}.").as_bytes());
    mac.update(body);
    format!("t={unix},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `header` (an `OmniFy-Signature` value) signs `body` with `secret` at a time within
/// `tolerance_secs` of `now_unix`: what a receiver checks before trusting a delivery. The
/// comparison takes the same time whatever the signature.
pub fn verify(secret: &str, header: &str, body: &[u8], now_unix: i64, tolerance_secs: i64) -> bool {
    let Some(t) = header
        .strip_prefix("t=")
        .and_then(|s| s.split(',').next())
        .and_then(|t| t.parse::<i64>().ok())
    else {
        return false;
    };
    let want = signature(secret, t, body);
    (now_unix - t).abs() <= tolerance_secs
        && subtle::ConstantTimeEq::ct_eq(want.as_bytes(), header.as_bytes()).into()
}

/// The JSON body sent to `d` for `events`.
pub fn payload(
    d: &Destination,
    delivery_id: &str,
    as_of: Option<NaiveDate>,
    events: &[Event],
) -> Value {
    let text = summary(&d.tenant, events);
    match d.format {
        Format::Slack => json!({ "text": text }),
        Format::Webhook => json!({
            "id": delivery_id,
            "type": "omnify.alerts",
            "tenant": d.tenant,
            "destination": d.id,
            "created": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "as_of": as_of,
            "events": events,
            "text": text,
        }),
    }
}

fn summary(tenant: &str, events: &[Event]) -> String {
    let mut s = format!("OmniFy, tenant {tenant}: {} alert(s)", events.len());
    for e in events.iter().take(20) {
        s.push_str(&format!("\n• {}", e.line()));
    }
    if events.len() > 20 {
        s.push_str(&format!("\n(and {} more)", events.len() - 20));
    }
    s
}

/// A creative: platform, account id, ad id.
pub type CreativeKey = (String, String, String);

/// The alerting state of a scored creative: `fatigued`, else its action.
pub fn creative_state(s: &ScoreRow) -> &str {
    if s.status == "fatigued" {
        "fatigued"
    } else {
        s.action.as_str()
    }
}

/// Creative-state events of a run: creatives whose state changed since the last run (`last`,
/// by platform/account/ad) into an alerting state. Returns the events and the new states.
pub fn creative_events(
    last: &HashMap<CreativeKey, String>,
    scores: &[ScoreRow],
) -> (Vec<Event>, Vec<(CreativeKey, String)>) {
    let mut events = Vec::new();
    let mut changed = Vec::new();
    for s in scores {
        let key = (s.platform.clone(), s.account_id.clone(), s.ad_id.clone());
        let now = creative_state(s);
        let before = last.get(&key);
        if before.map(String::as_str) == Some(now) {
            continue;
        }
        changed.push((key, now.to_string()));
        if CREATIVE_STATES.contains(&now) {
            events.push(Event::CreativeState {
                platform: s.platform.clone(),
                account_id: s.account_id.clone(),
                ad_id: s.ad_id.clone(),
                from: before.cloned(),
                to: now.to_string(),
                p_onset_7d: s.p_onset_7d,
                p_onset_14d: s.p_onset_14d,
                drivers: s.drivers.clone(),
                model_version: s.model_version.clone(),
            });
        }
    }
    (events, changed)
}

/// Events of a finished job: its failure, or a new version worse than the champion.
fn job_events(st: &AppState, job: &Job) -> Vec<Event> {
    match job.status {
        JobStatus::Failed => vec![Event::JobFailed {
            job_id: job.id.clone(),
            kind: job.kind.clone(),
            error: job.error.clone().unwrap_or_else(|| job.message.clone()),
        }],
        JobStatus::Succeeded if job.promoted == Some(false) => {
            let Ok(kind) = ModelKind::parse(&job.kind) else {
                return vec![];
            };
            let (Some(v), Ok(Some(champion))) = (
                job.version.as_ref(),
                st.registry.champion(&job.tenant, kind),
            ) else {
                return vec![];
            };
            let (Ok(new), Ok(old)) = (
                st.registry.card(&job.tenant, kind, v),
                st.registry.card(&job.tenant, kind, &champion),
            ) else {
                return vec![];
            };
            match (new.score(), old.score()) {
                (Some(s), Some(o)) if new.selection_metric == old.selection_metric => {
                    let worse = if new.higher_is_better { s < o } else { s > o };
                    if worse {
                        vec![Event::ModelWorse {
                            kind: job.kind.clone(),
                            version: v.clone(),
                            champion,
                            metric: new.selection_metric.clone(),
                            score: s,
                            champion_score: o,
                        }]
                    } else {
                        vec![]
                    }
                }
                _ => vec![],
            }
        }
        _ => vec![],
    }
}

/// The champion budget plan's gain at the current total spend: (version, total, current
/// outcome, planned outcome), or `None` without a budget model.
fn budget_gain(st: &AppState, tenant: &str) -> Option<(String, f64, f64, f64)> {
    let c = st.champions.get(tenant, ModelKind::Budget).ok().flatten()?;
    let Model::Budget(m) = &c.model else {
        return None;
    };
    let entities = crate::budget::service::champion_entities(m);
    let total: f64 = entities.iter().map(|e| e.current_spend).sum();
    if total.is_nan() || total <= 0.0 {
        return None;
    }
    let opts = crate::budget::service::OptimizeOptions {
        budget: total,
        objective: None,
        mode: Default::default(),
        target: None,
        marginal: false,
        constraints: None,
    };
    let problem = crate::budget::service::build_problem(entities, &opts).ok()?;
    let a = crate::budget::allocate(&problem).ok()?;
    Some((
        c.version().to_string(),
        total,
        a.expected_outcome_current,
        a.expected_outcome,
    ))
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub as_of: Option<NaiveDate>,
    pub creatives_scored: usize,
    pub events: usize,
    /// Deliveries queued (one per destination with events).
    pub deliveries: Vec<String>,
}

/// Evaluates `tenant`'s alert rules after a scoring run (and after `job`, when one ended):
/// scores the tenant at its latest day, finds the events, queues one delivery per active
/// destination with events, and records the creatives' states. Blocking; does no network I/O.
pub fn evaluate(st: &AppState, tenant: &str, job: Option<&Job>) -> Result<RunReport, String> {
    // Runs of this process one at a time: two runs reading the same recorded states (an
    // ingest and a job ending together) would both report the same change.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dests: Vec<Destination> = st
        .state
        .alert_destinations(Some(tenant))
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|d| d.paused.is_none())
        .collect();
    let mut report = RunReport::default();
    // Nothing to tell anyone: no scoring. A destination added later first hears of every
    // creative already in an alerting state (`from: null`), then of changes.
    if dests.is_empty() {
        return Ok(report);
    }
    let champion = st
        .champions
        .get(tenant, ModelKind::Fatigue)
        .map_err(|e| e.to_string())?
        .or_else(crate::api::champions::fatigue_prior);
    let mut creative = Vec::new();
    let mut changed = Vec::new();
    if let Some(c) = &champion
        && let Model::Fatigue(model) = &c.model
    {
        let scores = crate::fatigue::snapshot::score_tenant(
            &st.warehouse,
            tenant,
            None,
            model,
            c.version(),
            &st.fatigue_spec,
        )
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
        report.creatives_scored = scores.len();
        report.as_of = scores.first().map(|s| s.as_of);
        let last = st
            .state
            .creative_states(tenant)
            .map_err(|e| e.to_string())?;
        (creative, changed) = creative_events(&last, &scores);
    }
    let jobs = job.map(|j| job_events(st, j)).unwrap_or_default();
    let budget = if dests.iter().any(|d| d.rules.budget_gain_pct.is_some()) {
        budget_gain(st, tenant)
    } else {
        None
    };
    for d in &dests {
        let mut events: Vec<Event> = creative
            .iter()
            .filter(|e| match e {
                Event::CreativeState { to, .. } => d.rules.creative_states.contains(to),
                _ => false,
            })
            .cloned()
            .collect();
        for e in &jobs {
            let on = match e {
                Event::JobFailed { .. } => d.rules.job_failed,
                Event::ModelWorse { .. } => d.rules.model_worse,
                _ => false,
            };
            if on {
                events.push(e.clone());
            }
        }
        if let (Some(min), Some((version, total, cur, plan))) = (d.rules.budget_gain_pct, &budget) {
            let gain_pct = if *cur > 0.0 {
                (plan - cur) / cur * 100.0
            } else {
                0.0
            };
            let mark = format!("budget:{}:{version}", d.id);
            if gain_pct >= min
                && !st
                    .state
                    .alert_mark(tenant, &mark)
                    .map_err(|e| e.to_string())?
            {
                st.state
                    .set_alert_mark(tenant, &mark)
                    .map_err(|e| e.to_string())?;
                events.push(Event::BudgetGain {
                    model_version: version.clone(),
                    total_budget: *total,
                    expected_outcome_current: *cur,
                    expected_outcome: *plan,
                    gain_pct,
                });
            }
        }
        if events.is_empty() {
            continue;
        }
        let id = uuid::Uuid::now_v7().to_string();
        let body = payload(d, &id, report.as_of, &events);
        st.state
            .queue_delivery(&id, d, &body.to_string(), events.len())
            .map_err(|e| e.to_string())?;
        report.events += events.len();
        report.deliveries.push(id);
    }
    st.state
        .set_creative_states(tenant, &changed)
        .map_err(|e| e.to_string())?;
    Ok(report)
}

/// [`evaluate`], with its outcome logged (for hooks that cannot answer anyone).
pub fn evaluate_logged(st: &AppState, tenant: &str, job: Option<&Job>) {
    match evaluate(st, tenant, job) {
        Ok(r) if r.events > 0 => {
            tracing::info!(
                tenant,
                events = r.events,
                deliveries = r.deliveries.len(),
                "alerts queued"
            )
        }
        Ok(_) => {}
        Err(e) => tracing::error!(tenant, error = %e, "evaluating alerts failed"),
    }
}

/// Registers (or updates) the `[[alerts]]` entries of the configuration, by name.
pub fn sync_config(state: &State, entries: &[crate::config::AlertEntry]) -> Result<(), String> {
    for e in entries {
        let secret = match (&e.secret, &e.secret_env) {
            (Some(s), _) => s.clone(),
            (None, Some(var)) => std::env::var(var)
                .map_err(|_| format!("[[alerts]] {}: secret_env `{var}` is not set", e.name))?,
            (None, None) => String::new(),
        };
        state
            .upsert_config_destination(e, &secret)
            .map_err(|e: StateError| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
