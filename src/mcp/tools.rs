//! The tools: what each takes, returns and runs. Tools that mirror a route take that route's
//! body and return its answer, through the same library functions; the others
//! (`list_at_risk_creatives`, `model_health`, `summarize_report`, `job_status`) have their
//! types here.

use std::sync::Arc;

use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{ToolDef, schema, text};
use crate::api::AppState;
use crate::api::champions::Model;
use crate::api::error::ApiError;
use crate::api::extract::{Caller, parse_json};
use crate::api::routes::fatigue::{BodyLimits, ScoreRequest};
use crate::api::routes::{budget, fatigue, jobs, models};
use crate::fatigue::ScoreRow;
use crate::registry::{ModelCard, ModelKind};
use crate::report::inputs::{at_risk, urgency_rank};
use crate::state::Role;

/// The creatives that most need a refresh.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AtRiskRequest {
    /// How many to return, most urgent first (1–100) [default: 10].
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
    /// The day to score at [default: the latest day in the tenant's data].
    #[serde(default)]
    pub as_of: Option<NaiveDate>,
    /// List creatives already fatigued too [default: true].
    #[serde(default)]
    pub include_fatigued: Option<bool>,
}

/// A creative that needs attention, with why and what to do.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AtRiskCreative {
    pub platform: String,
    pub account_id: String,
    pub ad_id: String,
    /// `fatigued` (onset confirmed), or the creative's status before onset.
    pub status: String,
    /// `refresh_now`, `prepare_refresh`, `keep` or `none`.
    pub action: String,
    /// P(fatigue onset within 7 days), 0–1 (absent when already fatigued or unscored).
    pub p_onset_7d: Option<f64>,
    /// P(fatigue onset within 14 days), 0–1.
    pub p_onset_14d: Option<f64>,
    /// Expected days to onset within the horizon.
    pub expected_days_to_onset: Option<f64>,
    /// What drives the forecast (the features furthest from the creative's launch values).
    pub drivers: String,
}

impl From<&ScoreRow> for AtRiskCreative {
    fn from(s: &ScoreRow) -> Self {
        AtRiskCreative {
            platform: s.platform.clone(),
            account_id: s.account_id.clone(),
            ad_id: s.ad_id.clone(),
            status: s.status.clone(),
            action: s.action.clone(),
            p_onset_7d: s.p_onset_7d,
            p_onset_14d: s.p_onset_14d,
            expected_days_to_onset: s.expected_days_to_onset,
            drivers: s.drivers.clone(),
        }
    }
}

/// The most urgent creatives of the tenant.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AtRiskResponse {
    pub model_version: String,
    pub as_of: NaiveDate,
    /// Active creatives scored.
    pub creatives_scored: usize,
    /// Of them, to refresh now or prepare a refresh (not yet fatigued).
    pub creatives_at_risk: usize,
    /// Of them, already fatigued.
    pub creatives_fatigued: usize,
    /// Most urgent first: fatigued, refresh now, prepare a refresh; then by P(onset ≤ 14 d).
    pub creatives: Vec<AtRiskCreative>,
}

/// No arguments.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArguments {}

/// A served model as an agent should weigh it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServedModel {
    /// The version that answers (`prior-…`: the cold-start prior); absent when none does.
    pub version: Option<String>,
    /// True when the tenant's own data did not train it (cold-start prior).
    pub on_prior: bool,
    /// Model family (e.g. `survival_mlp`, `hill_geometric`).
    pub family: Option<String>,
    /// When it was trained (RFC 3339).
    pub trained: Option<String>,
    /// Whole days since it was trained.
    pub age_days: Option<i64>,
    /// The training data's first and last day.
    pub data_from: Option<NaiveDate>,
    pub data_to: Option<NaiveDate>,
    /// The metric that chose it and its value on data it was not fitted on.
    pub selection_metric: Option<String>,
    pub selection_score: Option<f64>,
    /// The validation actually done (method, folds, rows, onsets, intervals), as recorded.
    #[schema(value_type = Option<Object>)]
    pub validation: Option<Value>,
}

/// The tenant's data as the models see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DataFreshness {
    pub rows: u64,
    pub creatives: u64,
    pub first_date: Option<NaiveDate>,
    pub last_date: Option<NaiveDate>,
    /// Whole days from the last data day to today (UTC).
    pub days_since_last: Option<i64>,
}

/// Whether the numbers can be trusted today.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModelHealth {
    pub tenant: String,
    /// Today (UTC) as the check saw it.
    pub checked: NaiveDate,
    pub fatigue: ServedModel,
    pub budget: ServedModel,
    pub data: DataFreshness,
    /// What to fix or keep in mind before acting on a number; empty when all is well.
    pub warnings: Vec<String>,
}

/// Which report to summarise.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SummaryRequest {
    /// The day to report at [default: the latest day in the tenant's data].
    #[serde(default)]
    pub as_of: Option<NaiveDate>,
}

/// The budget part of a report summary.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BudgetSummary {
    pub model_version: String,
    /// `day` or `week`.
    pub period: String,
    /// What the curves measure (`conversions`, `conversion_value`, ...).
    pub outcome: String,
    /// Budget per period (the current total spend).
    pub total_budget: f64,
    /// Spend moved per period by the recommended plan.
    pub moved: f64,
    pub entities: usize,
    /// Expected outcome per period of the recommended minus the current split, with its
    /// central interval.
    pub lift: f64,
    pub lift_lo: f64,
    pub lift_hi: f64,
    /// The interval's level (e.g. 0.9).
    pub interval: f64,
}

/// The report's summary, as numbers and as text.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReportSummary {
    pub tenant: String,
    pub as_of: NaiveDate,
    /// The account currency when there is one.
    pub currency: Option<String>,
    pub creatives_scored: Option<usize>,
    pub creatives_at_risk: Option<usize>,
    pub creatives_fatigued: Option<usize>,
    /// Spend over the last 7 days behind the creatives at risk.
    pub spend_7d_at_risk: Option<f64>,
    /// The five most urgent creatives.
    pub top_at_risk: Vec<AtRiskCreative>,
    pub budget: Option<BudgetSummary>,
    /// Why a part is missing (no model, no data), one line each.
    pub notes: Vec<String>,
    /// The summary in plain language.
    pub text: String,
}

/// Which job.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobStatusRequest {
    /// The job id `start_retraining` returned.
    #[schema(pattern = r"\S")]
    pub id: String,
}

/// Schemas of the types above, for the tool list.
pub(crate) fn extra_schemas() -> Vec<(String, Value)> {
    let mut v = Vec::new();
    v.extend(schema::of::<AtRiskRequest>());
    v.extend(schema::of::<AtRiskResponse>());
    v.extend(schema::of::<NoArguments>());
    v.extend(schema::of::<ModelHealth>());
    v.extend(schema::of::<SummaryRequest>());
    v.extend(schema::of::<ReportSummary>());
    v.extend(schema::of::<JobStatusRequest>());
    v
}

pub(crate) fn all() -> &'static [ToolDef] {
    &TOOLS
}

static TOOLS: [ToolDef; 8] = [
    ToolDef {
        name: "list_at_risk_creatives",
        title: "Creatives at risk of fatigue",
        description: "The tenant's creatives that most need a refresh, most urgent first: \
            already fatigued, then refresh now (high chance of fatigue onset within 7 days), \
            then prepare a refresh (within 14 days). Each comes with its onset probabilities, \
            expected days to onset, the drivers behind the forecast and the action. Scored \
            from the warehouse at the latest day (or as_of) with the tenant's champion model.",
        input: "AtRiskRequest",
        output: "AtRiskResponse",
        role: Role::Read,
        needs_models: true,
        run: list_at_risk,
    },
    ToolDef {
        name: "score_creatives",
        title: "Score creatives",
        description: "Fatigue forecast for specific creatives: give ad_ids (scored from the \
            warehouse) or creatives with their daily history (impressions, clicks, spend per \
            day; nothing is stored). Returns per creative the status, P(onset within 7 and 14 \
            days), expected days to onset, survival curve, drivers and action. Same body and \
            answer as POST /v1/fatigue/score.",
        input: "ScoreRequest",
        output: "ScoreResponse",
        role: Role::Read,
        needs_models: true,
        run: score,
    },
    ToolDef {
        name: "recommend_budget_shifts",
        title: "Recommend budget shifts",
        description: "Splits a budget per period between the tenant's entities (campaigns) \
            to maximise the expected outcome under constraints (e.g. max_shift_pct), from \
            the champion budget model's response curves, or from explicit curves. A dry run: \
            it changes nothing. Returns current and recommended spend, expected outcomes and \
            marginal returns per entity. Same body and answer as POST /v1/budget/optimize.",
        input: "OptimizeRequest",
        output: "PlanView",
        role: Role::Read,
        needs_models: true,
        run: recommend,
    },
    ToolDef {
        name: "forecast_plan",
        title: "Forecast a spend plan",
        description: "Expected outcome per future period under a spend plan (spend per \
            entity and period; entities left out stay at their current spend), with central \
            intervals; carry-over from past spend is included. Pass the entities of a \
            recommend_budget_shifts answer to forecast that plan. Same body and answer as \
            POST /v1/budget/forecast.",
        input: "ForecastRequest",
        output: "ForecastView",
        role: Role::Read,
        needs_models: true,
        run: forecast,
    },
    ToolDef {
        name: "model_health",
        title: "Model health",
        description: "Call before acting on a number: which fatigue and budget models serve \
            this tenant, how they were validated (method, metric, score), how old they are, \
            whether the cold-start prior stands in for a model of its own, and how fresh the \
            data is, with warnings when something is stale or missing.",
        input: "NoArguments",
        output: "ModelHealth",
        role: Role::Read,
        needs_models: true,
        run: health,
    },
    ToolDef {
        name: "summarize_report",
        title: "Summarise the forecast report",
        description: "The summary of the tenant's forecast report (the page POST /v1/reports \
            writes) as numbers and plain text: creatives at risk and already fatigued with \
            the spend behind them, the five most urgent creatives, and the recommended budget \
            shift with its expected lift and interval.",
        input: "SummaryRequest",
        output: "ReportSummary",
        role: Role::Read,
        needs_models: true,
        run: summarize,
    },
    ToolDef {
        name: "start_retraining",
        title: "Start retraining",
        description: "Queues a retraining job of the tenant's fatigue or budget model (write \
            key). The job trains on the warehouse and promotes the new version only if it \
            beats the champion. Returns the job; poll job_status with its id. Same body and \
            answer as POST /v1/jobs.",
        input: "JobRequest",
        output: "Job",
        role: Role::Write,
        needs_models: false,
        run: retrain,
    },
    ToolDef {
        name: "job_status",
        title: "Job status",
        description: "A retraining job's status (queued, running, succeeded, failed, \
            cancelled), progress, current step, the version it registered and whether it was \
            promoted, or its error.",
        input: "JobStatusRequest",
        output: "Job",
        role: Role::Read,
        needs_models: false,
        run: job_status,
    },
];

type Out = super::ToolOutcome;

/// The tool's arguments as the route would read its body (same errors).
fn args<T: DeserializeOwned>(v: Value) -> Result<T, ApiError> {
    let bytes = serde_json::to_vec(&v).map_err(ApiError::internal)?;
    parse_json(&bytes)
}

fn json<T: Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(ApiError::internal)
}

fn list_at_risk(st: &Arc<AppState>, c: &Caller, v: Value) -> Out {
    let req: AtRiskRequest = args(v)?;
    let limit = req.limit.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be 1 to 100"));
    }
    BodyLimits::of(&st.cfg).check_as_of(req.as_of)?;
    let r = at_risk_of(
        st,
        &c.tenant,
        req.as_of,
        limit,
        req.include_fatigued != Some(false),
    )?;
    let t = text::at_risk(&r);
    Ok((json(&r)?, t))
}

/// The `limit` most urgent creatives of `tenant` at `as_of` (default: its latest day).
pub(crate) fn at_risk_of(
    st: &Arc<AppState>,
    tenant: &str,
    as_of: Option<NaiveDate>,
    limit: usize,
    include_fatigued: bool,
) -> Result<AtRiskResponse, ApiError> {
    let champion = st
        .champions
        .get(tenant, ModelKind::Fatigue)
        .map_err(ApiError::internal)?
        .or_else(crate::api::champions::fatigue_prior)
        .ok_or_else(|| ApiError::not_found(format!("tenant `{tenant}` has no fatigue model")))?;
    let Model::Fatigue(model) = &champion.model else {
        return Err(ApiError::internal("fatigue slot holds another kind"));
    };
    let spec = &st.fatigue_spec;
    let latest = st.snapshots.latest(&st.warehouse, tenant, spec)?;
    let Some(latest) = latest else {
        return Err(ApiError::not_found(format!(
            "tenant `{tenant}` has no rows in the warehouse; ingest its reports first"
        )));
    };
    let snap = match as_of {
        Some(d) if d != latest.as_of => {
            let found = crate::fatigue::snapshot::at(&st.warehouse, tenant, Some(d), &spec.base)
                .map_err(crate::api::batcher::score_err)?;
            match found.snapshot {
                Some(s) => Arc::new(s),
                None => {
                    return Err(ApiError::not_found(format!(
                        "tenant `{tenant}` has no rows on or before {d}"
                    )));
                }
            }
        }
        _ => latest,
    };
    let mut scored = crate::fatigue::score_prepared(
        std::slice::from_ref(&snap.prepared),
        snap.as_of,
        model,
        champion.version(),
        spec,
    )
    .map_err(crate::api::batcher::score_err)?
    .pop()
    .unwrap_or_default();
    scored.sort_by(|x, y| {
        urgency_rank(x)
            .cmp(&urgency_rank(y))
            .then(
                y.p_onset_14d
                    .unwrap_or(-1.0)
                    .total_cmp(&x.p_onset_14d.unwrap_or(-1.0)),
            )
            .then(
                y.p_onset_7d
                    .unwrap_or(-1.0)
                    .total_cmp(&x.p_onset_7d.unwrap_or(-1.0)),
            )
            .then_with(|| {
                (&x.ad_id, &x.platform, &x.account_id).cmp(&(&y.ad_id, &y.platform, &y.account_id))
            })
    });
    let fatigued = scored.iter().filter(|s| s.status == "fatigued").count();
    let risky = scored.iter().filter(|s| at_risk(s)).count();
    Ok(AtRiskResponse {
        model_version: champion.version().to_string(),
        as_of: snap.as_of,
        creatives_scored: scored.len(),
        creatives_at_risk: risky,
        creatives_fatigued: fatigued,
        creatives: scored
            .iter()
            .filter(|s| at_risk(s) || (include_fatigued && s.status == "fatigued"))
            .take(limit)
            .map(AtRiskCreative::from)
            .collect(),
    })
}

fn score(st: &Arc<AppState>, c: &Caller, v: Value) -> Out {
    let req: ScoreRequest = args(v)?;
    let r = fatigue::score_now(st, &c.tenant, req)?;
    let t = text::scores(&r);
    Ok((json(&r)?, t))
}

fn recommend(st: &Arc<AppState>, c: &Caller, v: Value) -> Out {
    let req: budget::OptimizeRequest = args(v)?;
    let r = budget::plan(st, &c.tenant, req)?;
    let t = text::plan(&r);
    Ok((json(&r)?, t))
}

fn forecast(st: &Arc<AppState>, c: &Caller, v: Value) -> Out {
    let req: budget::ForecastRequest = args(v)?;
    let r = budget::forecast_plan(st, &c.tenant, req)?;
    let t = text::forecast(&r);
    Ok((json(&r)?, t))
}

fn served(card: Option<&ModelCard>, version: Option<String>, on_prior: bool) -> ServedModel {
    let today = chrono::Utc::now();
    ServedModel {
        version,
        on_prior,
        family: card.map(|c| c.model.clone()),
        trained: card.map(|c| c.created.clone()),
        age_days: card
            .and_then(|c| chrono::DateTime::parse_from_rfc3339(&c.created).ok())
            .map(|t| (today - t.with_timezone(&chrono::Utc)).num_days()),
        data_from: card.and_then(|c| c.data_from),
        data_to: card.and_then(|c| c.data_to),
        selection_metric: card.map(|c| c.selection_metric.clone()),
        selection_score: card.and_then(|c| c.score()),
        validation: card.and_then(|c| c.validation.clone()),
    }
}

fn health(st: &Arc<AppState>, c: &Caller, v: Value) -> Out {
    let _: NoArguments = args(v)?;
    let h = health_of(st, &c.tenant, chrono::Utc::now().date_naive())?;
    let t = text::health(&h);
    Ok((json(&h)?, t))
}

/// Days after which a model or the data is called stale.
const STALE_MODEL_DAYS: i64 = 30;
const STALE_DATA_DAYS: i64 = 3;

/// The served models and the data of `tenant`, checked on `today`.
pub(crate) fn health_of(
    st: &Arc<AppState>,
    tenant: &str,
    today: NaiveDate,
) -> Result<ModelHealth, ApiError> {
    let reg = models::registry_of(st, tenant)?;
    let pick = |k: &models::KindModels, kind: ModelKind| -> ServedModel {
        let card = k
            .versions
            .iter()
            .find(|c| Some(&c.version) == k.serving.as_ref())
            .cloned()
            .or_else(|| match (kind, &k.champion) {
                (ModelKind::Fatigue, None) => {
                    crate::fatigue::prior::embedded().map(|p| p.card.clone())
                }
                _ => None,
            });
        served(card.as_ref(), k.serving.clone(), k.on_prior)
    };
    let fatigue = pick(&reg.fatigue, ModelKind::Fatigue);
    let budget = pick(&reg.budget, ModelKind::Budget);
    let sum = st
        .warehouse
        .summary(Some(tenant))
        .map_err(ApiError::internal)?;
    let data = DataFreshness {
        rows: sum.rows,
        creatives: sum.creatives,
        first_date: sum.first_date,
        last_date: sum.last_date,
        days_since_last: sum.last_date.map(|d| (today - d).num_days()),
    };
    let mut warnings = Vec::new();
    if data.rows == 0 {
        warnings.push(
            "no data in the warehouse for this tenant: ingest its reports before trusting any \
             forecast"
                .to_string(),
        );
    } else if let Some(d) = data.days_since_last.filter(|d| *d > STALE_DATA_DAYS) {
        warnings.push(format!(
            "the latest data day is {d} days old: forecasts describe the account as it was \
             then; ingest recent reports"
        ));
    }
    if fatigue.on_prior {
        warnings.push(
            "fatigue forecasts come from the cold-start prior (trained on simulated accounts, \
             not this tenant's data): treat them as rough until a model of its own is trained"
                .to_string(),
        );
    }
    for (name, m) in [("fatigue", &fatigue), ("budget", &budget)] {
        if m.version.is_none() {
            warnings.push(format!(
                "no {name} model serves this tenant: start_retraining with kind {name}"
            ));
            continue;
        }
        if let Some(a) = m.age_days.filter(|a| *a > STALE_MODEL_DAYS) {
            warnings.push(format!(
                "the {name} model is {a} days old: consider start_retraining"
            ));
        }
        if let (Some(to), Some(last)) = (m.data_to, data.last_date) {
            let newer = (last - to).num_days();
            if newer > 14 && !m.on_prior {
                warnings.push(format!(
                    "the {name} model was trained on data up to {to}; {newer} newer days are \
                     in the warehouse: consider start_retraining"
                ));
            }
        }
        if m.validation
            .as_ref()
            .and_then(|v| v.get("method"))
            .and_then(Value::as_str)
            == Some("none")
        {
            warnings.push(format!(
                "the {name} model could not be validated on this tenant's data (too few \
                 events): its numbers are not backed by a holdout"
            ));
        }
    }
    Ok(ModelHealth {
        tenant: tenant.to_string(),
        checked: today,
        fatigue,
        budget,
        data,
        warnings,
    })
}

fn summarize(st: &Arc<AppState>, c: &Caller, v: Value) -> Out {
    let req: SummaryRequest = args(v)?;
    BodyLimits::of(&st.cfg).check_as_of(req.as_of)?;
    let inputs = crate::report::gather_with(&st.cfg, &c.tenant, req.as_of, &st.fatigue_spec, 5)
        .map_err(|e| match e {
            crate::report::ReportError::NotFound(m) | crate::report::ReportError::Invalid(m) => {
                ApiError::not_found(m)
            }
            crate::report::ReportError::Failed(m) => ApiError::internal(m),
        })?;
    let s = text::report_summary(&inputs);
    let t = s.text.clone();
    Ok((json(&s)?, t))
}

fn retrain(st: &Arc<AppState>, c: &Caller, v: Value) -> Out {
    let req: jobs::JobRequest = args(v)?;
    let j = jobs::enqueue(st, &c.tenant, req, "mcp")?;
    let t = text::job(&j);
    Ok((json(&j)?, t))
}

fn job_status(st: &Arc<AppState>, c: &Caller, v: Value) -> Out {
    let req: JobStatusRequest = args(v)?;
    let j = jobs::job_of(st, &c.tenant, req.id.trim())?;
    let t = text::job(&j);
    Ok((json(&j)?, t))
}
