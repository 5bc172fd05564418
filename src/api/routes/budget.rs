//! `POST /v1/budget/optimize` (a plan from explicit curves or the tenant's champion budget
//! model; the same JSON as `omnify optimize --json`) and `POST /v1/budget/forecast` (outcome
//! per future period under a plan, with intervals; the same JSON as
//! `omnify forecast budget --json`).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use super::Errors;
use crate::api::champions::{Champion, Model};
use crate::api::error::ApiError;
use crate::api::extract::{ApiJson, Caller};
use crate::api::{AppState, blocking};
use crate::budget::service::{
    self, ForecastView, ModeKind, Objective, OptimizeOptions, PlanView, ServiceError,
};
use crate::budget::{Constraints, EntitySpec, allocate};
use crate::registry::ModelKind;
use crate::state::Role;

/// A budget to split.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptimizeRequest {
    /// Budget per period in currency units: spent exactly in `fixed` mode, the cap on spend
    /// in the target modes.
    #[schema(exclusive_minimum = 0.0)]
    pub budget: f64,
    /// Explicit curves, as in `omnify optimize --curves`:
    /// `[{"id","curve":{"type":"hill","beta","half_saturation","shape"},"current_spend",
    /// "min_spend"?,"max_spend"?,"max_shift_pct"?,"fixed"?,"allow_new"?}]`. Default: the
    /// tenant's champion budget model.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>, min_items = 1)]
    pub entities: Option<Vec<EntitySpec>>,
    /// What the curves measure [default: value for target_roas, else conversions].
    #[serde(default)]
    pub objective: Option<Objective>,
    /// fixed (default), target_cpa or target_roas.
    #[serde(default)]
    pub mode: Option<ModeKind>,
    /// The CPA or ROAS to meet (target modes).
    #[serde(default)]
    #[schema(exclusive_minimum = 0.0)]
    pub target: Option<f64>,
    /// Hold the marginal (last-unit) CPA/ROAS to the target instead of the average.
    #[serde(default)]
    pub marginal: Option<bool>,
    /// As in `omnify optimize --constraints`: `{"max_shift_pct"?, "entities": {"<id>":
    /// {"min_spend"?,"max_spend"?,"max_shift_pct"?,"fixed"?,"allow_new"?}}}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub constraints: Option<Constraints>,
}

/// A spend plan to forecast.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForecastRequest {
    /// Spend per period for each entity; entities left out stay at their current spend.
    /// The `entities` of an optimize answer are accepted too (`recommended` is the spend).
    pub entities: Vec<PlanEntity>,
    /// Periods to forecast (1–104).
    #[schema(minimum = 1, maximum = 104)]
    pub periods: usize,
    /// A registered version [default: the champion].
    #[serde(default)]
    pub model_version: Option<String>,
}

/// One entity of a plan.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PlanEntity {
    pub id: String,
    /// Spend per period (currency units).
    #[serde(alias = "recommended")]
    pub spend: f64,
}

fn service_err(e: ServiceError) -> ApiError {
    match e {
        ServiceError::Invalid(m) => ApiError::unprocessable(m),
        ServiceError::NotFound(m) => ApiError::not_found(m),
        ServiceError::Failed(m) => ApiError::internal(m),
    }
}

fn champion(st: &AppState, tenant: &str) -> Result<Arc<Champion>, ApiError> {
    st.champions
        .get(tenant, ModelKind::Budget)
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "tenant `{tenant}` has no champion budget model; train one (POST /v1/jobs) or \
                 send explicit entities"
            ))
        })
}

/// Splits a budget across entities: equal marginal returns for concave curves, a global
/// search for S-shaped ones, bounds respected.
#[utoipa::path(
    post,
    path = "/v1/budget/optimize",
    tag = "budget",
    request_body = OptimizeRequest,
    responses((status = 200, description = "The plan", body = PlanView), Errors),
    security(("bearer" = []))
)]
pub async fn optimize(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(req): ApiJson<OptimizeRequest>,
) -> Result<Json<PlanView>, ApiError> {
    caller.require(Role::Read)?;
    if req.entities.is_none() && !st.is_ready() {
        return Err(ApiError::unavailable("models are loading", 5));
    }
    blocking(move || plan(&st, &caller.tenant, req).map(Json)).await
}

/// The plan of an optimize request for `tenant` (explicit curves or its champion's): the
/// answer of `POST /v1/budget/optimize`, for every front end. Blocking.
pub(crate) fn plan(
    st: &AppState,
    tenant: &str,
    req: OptimizeRequest,
) -> Result<PlanView, ApiError> {
    if !req.budget.is_finite() || req.budget <= 0.0 {
        return Err(ApiError::invalid("budget", "must be a finite number > 0"));
    }
    if req.target.is_some_and(|t| !t.is_finite() || t <= 0.0) {
        return Err(ApiError::invalid("target", "must be a finite number > 0"));
    }
    let opts = OptimizeOptions {
        budget: req.budget,
        objective: req.objective,
        mode: req.mode.unwrap_or_default(),
        target: req.target,
        marginal: req.marginal.unwrap_or(false),
        constraints: req.constraints,
    };
    let (entities, version) = match req.entities {
        Some(e) => {
            if e.is_empty() {
                return Err(ApiError::invalid("entities", "give at least one entity"));
            }
            (e, None)
        }
        None => {
            let c = champion(st, tenant)?;
            let Model::Budget(m) = &c.model else {
                return Err(ApiError::internal("budget slot holds another kind"));
            };
            (service::champion_entities(m), Some(c.version().to_string()))
        }
    };
    let problem = service::build_problem(entities, &opts).map_err(service_err)?;
    let a = allocate(&problem).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    Ok(PlanView {
        model_version: version,
        ..PlanView::from_allocation(&a)
    })
}

/// Forecasts the outcome per future period under a plan, with intervals; adstock carries
/// over from the fitted history.
#[utoipa::path(
    post,
    path = "/v1/budget/forecast",
    tag = "budget",
    request_body = ForecastRequest,
    responses((status = 200, description = "Per-period forecast", body = ForecastView), Errors),
    security(("bearer" = []))
)]
pub async fn forecast(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(req): ApiJson<ForecastRequest>,
) -> Result<Json<ForecastView>, ApiError> {
    caller.require(Role::Read)?;
    if !st.is_ready() {
        return Err(ApiError::unavailable("models are loading", 5));
    }
    blocking(move || forecast_plan(&st, &caller.tenant, req).map(Json)).await
}

/// The forecast of a plan for `tenant`: the answer of `POST /v1/budget/forecast`, for every
/// front end. Blocking.
pub(crate) fn forecast_plan(
    st: &AppState,
    tenant: &str,
    req: ForecastRequest,
) -> Result<ForecastView, ApiError> {
    if req.periods == 0 || req.periods > 104 {
        return Err(ApiError::invalid("periods", "must be 1 to 104"));
    }
    let plan = service::plan_from_entries(req.entities.iter().map(|e| (e.id.as_str(), e.spend)))
        .map_err(|e| {
            let m = e.to_string();
            match m.split_once(": ") {
                Some((path, msg)) => ApiError::invalid(path, msg),
                None => ApiError::unprocessable(m),
            }
        })?;
    let run = |m: &crate::budget::BudgetModel, v: &str| {
        m.forecast(&plan, req.periods)
            .map(|f| ForecastView::new(v, f))
            .map_err(|e| ApiError::unprocessable(e.to_string()))
    };
    match &req.model_version {
        None => {
            let c = champion(st, tenant)?;
            let Model::Budget(m) = &c.model else {
                return Err(ApiError::internal("budget slot holds another kind"));
            };
            run(m, c.version())
        }
        Some(v) => {
            let (card, m) =
                service::load_model(&st.registry, tenant, Some(v)).map_err(service_err)?;
            run(&m, &card.version)
        }
    }
}
