//! Retraining jobs: `POST /v1/jobs` queues one (202), `GET /v1/jobs` lists the tenant's,
//! `GET /v1/jobs/{id}` shows status, progress, timings, the resulting version or the error,
//! `POST /v1/jobs/{id}/cancel` cancels (`DELETE /v1/jobs/{id}` too, deprecated: the job is
//! not deleted).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::Errors;
use crate::api::error::ApiError;
use crate::api::extract::{ApiJson, ApiQuery, Caller};
use crate::api::{AppState, blocking};
use crate::state::{Job, Role};

/// A retraining request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// `fatigue` or `budget`.
    #[schema(pattern = "^(fatigue|budget)$")]
    pub kind: String,
    /// Overrides of the job spec, laid over `training/<kind>.toml` key by key, e.g.
    /// `{"fit": {"draws": 100}}` or `{"models": {"seed": 7}}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Most jobs to return, newest first (default 50, at most 500).
    pub limit: Option<usize>,
}

/// Queues a retraining job for the caller's tenant.
#[utoipa::path(
    post,
    path = "/v1/jobs",
    tag = "jobs",
    request_body = JobRequest,
    responses((status = 202, description = "Queued; poll the Location", body = Job), Errors),
    security(("bearer" = []))
)]
pub async fn create(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(req): ApiJson<JobRequest>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Role::Write)?;
    let job = blocking(move || enqueue(&st, &caller.tenant, req, "api")).await?;
    let loc = format!("/v1/jobs/{}", job.id);
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, loc)], Json(job)))
}

/// Queues a retraining job of `tenant` after checking its spec and the tenant's job limit;
/// `source` records who asked (`api`, `mcp`, ...). Blocking.
pub(crate) fn enqueue(
    st: &AppState,
    tenant: &str,
    req: JobRequest,
    source: &str,
) -> Result<Job, ApiError> {
    crate::jobs::validate_request(&req.kind, req.config.as_ref()).map_err(|e| {
        let (path, msg) = e.split_once(": ").unwrap_or(("config", &e));
        ApiError::invalid(path, msg)
    })?;
    let max = st.cfg.limits.max_jobs_per_tenant;
    let j = st
        .state
        .enqueue_within(tenant, &req.kind, req.config.as_ref(), source, max)?
        .ok_or_else(|| {
            ApiError::too_many(
                format!(
                    "this tenant already has {max} jobs queued or running (see [limits] \
                     max_jobs_per_tenant); wait for one to finish or cancel one"
                ),
                30,
            )
        })?;
    st.wake_workers();
    Ok(j)
}

/// One job of `tenant` (404 for another tenant's). Blocking.
pub(crate) fn job_of(st: &AppState, tenant: &str, id: &str) -> Result<Job, ApiError> {
    st.state
        .job(id, Some(tenant))?
        .ok_or_else(|| ApiError::not_found(format!("no job `{id}`")))
}

/// The caller's jobs, newest first.
#[utoipa::path(
    get,
    path = "/v1/jobs",
    tag = "jobs",
    params(ListQuery),
    responses((status = 200, description = "Jobs", body = Vec<Job>), Errors),
    security(("bearer" = []))
)]
pub async fn list(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<Job>>, ApiError> {
    caller.require(Role::Read)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    blocking(move || Ok(Json(st.state.jobs(Some(&caller.tenant), limit)?))).await
}

/// One job.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}",
    tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "The job", body = Job), Errors),
    security(("bearer" = []))
)]
pub async fn get(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    caller.require(Role::Read)?;
    blocking(move || job_of(&st, &caller.tenant, &id).map(Json)).await
}

/// Cancels a job: a queued one at once, a running one at its next step (nothing is
/// registered). Finished jobs are left as they are. The job stays readable with status
/// `cancelled` (a job's record is never deleted).
#[utoipa::path(
    post,
    path = "/v1/jobs/{id}/cancel",
    tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "The job after the request", body = Job), Errors),
    security(("bearer" = []))
)]
pub async fn cancel(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    caller.require(Role::Write)?;
    blocking(move || {
        st.state
            .cancel(&id, Some(&caller.tenant))?
            .map(Json)
            .ok_or_else(|| ApiError::not_found(format!("no job `{id}`")))
    })
    .await
}

/// The same as `POST /v1/jobs/{id}/cancel`, kept for older clients. Deprecated: despite the
/// method, the job is not deleted; it stays readable with status `cancelled`.
#[utoipa::path(
    delete,
    path = "/v1/jobs/{id}",
    tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, description = "The job after the request", body = Job), Errors),
    security(("bearer" = []))
)]
#[deprecated = "use POST /v1/jobs/{id}/cancel"]
pub async fn cancel_by_delete(
    st: State<Arc<AppState>>,
    caller: Caller,
    id: Path<String>,
) -> Result<Json<Job>, ApiError> {
    cancel(st, caller, id).await
}
