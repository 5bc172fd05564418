//! Forecast reports over the API: `POST /v1/reports` generates one for the caller's tenant
//! (stored under `<data_dir>/reports/<tenant>/<id>/`), `GET /v1/reports/latest` and
//! `GET /v1/reports/{id}` return the HTML page (or, with `?file=`, one of the tables behind it).
//! A report is generated in a hidden folder and renamed into place, so a half-written report
//! is never served.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Errors;
use crate::api::error::ApiError;
use crate::api::extract::{ApiJson, ApiQuery, Caller};
use crate::api::{AppState, blocking};
use crate::report::{ReportError, ReportMeta};
use crate::state::Role;

/// What to report on.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// The day to score at [default: the latest day in the tenant's data].
    #[serde(default)]
    pub as_of: Option<NaiveDate>,
}

/// A generated report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportCreated {
    pub id: String,
    /// Where the HTML page is.
    pub url: String,
    #[schema(value_type = Object)]
    pub meta: ReportMeta,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FileQuery {
    /// One of the report's files (report.html, scores.csv, scores.parquet, plan.csv,
    /// plan.parquet) [default: report.html].
    #[param(pattern = r"^(report\.html|scores\.csv|scores\.parquet|plan\.csv|plan\.parquet)$")]
    pub file: Option<String>,
}

fn tenant_dir(st: &AppState, tenant: &str) -> PathBuf {
    st.cfg.data_dir.join("reports").join(tenant)
}

fn valid_id(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok()
}

/// Generates a report for the caller's tenant.
#[utoipa::path(
    post,
    path = "/v1/reports",
    tag = "reports",
    request_body = ReportRequest,
    responses((status = 201, description = "Generated", body = ReportCreated), Errors),
    security(("bearer" = []))
)]
pub async fn create(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(req): ApiJson<ReportRequest>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Role::Read)?;
    if !st.is_ready() {
        return Err(ApiError::unavailable("models are loading", 5));
    }
    let created = blocking(move || {
        let id = uuid::Uuid::now_v7().to_string();
        let dir = tenant_dir(&st, &caller.tenant);
        let tmp = dir.join(format!(".tmp-{id}"));
        let meta = crate::report::generate(&st.cfg, &caller.tenant, req.as_of, &tmp);
        let meta = match meta {
            Ok(m) => m,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(match e {
                    ReportError::NotFound(m) => ApiError::not_found(m),
                    // A day outside the tenant's data: no report can exist for it.
                    ReportError::Invalid(m) => ApiError::not_found(m),
                    ReportError::Failed(m) => ApiError::internal(m),
                });
            }
        };
        std::fs::rename(&tmp, dir.join(&id)).map_err(ApiError::internal)?;
        Ok(ReportCreated {
            url: format!("/v1/reports/{id}"),
            id,
            meta,
        })
    })
    .await?;
    let loc = created.url.clone();
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, loc)],
        Json(created),
    ))
}

fn serve_file(dir: PathBuf, file: Option<String>) -> Result<Response, ApiError> {
    let name = file.unwrap_or_else(|| "report.html".into());
    let ct = match name.as_str() {
        "report.html" => "text/html; charset=utf-8",
        "scores.csv" | "plan.csv" => "text/csv; charset=utf-8",
        "scores.parquet" | "plan.parquet" => "application/vnd.apache.parquet",
        other => {
            return Err(ApiError::invalid(
                "file",
                format!("`{other}` is not a report file"),
            ));
        }
    };
    let bytes = std::fs::read(dir.join(&name))
        .map_err(|_| ApiError::not_found(format!("this report has no {name}")))?;
    Ok(([(header::CONTENT_TYPE, ct)], bytes).into_response())
}

/// The newest report of the caller's tenant.
#[utoipa::path(
    get,
    path = "/v1/reports/latest",
    tag = "reports",
    params(FileQuery),
    responses((status = 200, description = "The HTML page (or the file asked for)", content(
        (String = "text/html; charset=utf-8"),
        (String = "text/csv; charset=utf-8"),
        (Vec<u8> = "application/vnd.apache.parquet"))), Errors),
    security(("bearer" = []))
)]
pub async fn latest(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<FileQuery>,
) -> Result<Response, ApiError> {
    caller.require(Role::Read)?;
    blocking(move || {
        let dir = tenant_dir(&st, &caller.tenant);
        let newest = std::fs::read_dir(&dir)
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| valid_id(n))
            .max()
            .ok_or_else(|| ApiError::not_found("no report yet; POST /v1/reports makes one"))?;
        serve_file(dir.join(newest), q.file)
    })
    .await
}

/// One report of the caller's tenant.
#[utoipa::path(
    get,
    path = "/v1/reports/{id}",
    tag = "reports",
    params(("id" = String, Path, description = "Report id"), FileQuery),
    responses((status = 200, description = "The HTML page (or the file asked for)", content(
        (String = "text/html; charset=utf-8"),
        (String = "text/csv; charset=utf-8"),
        (Vec<u8> = "application/vnd.apache.parquet"))), Errors),
    security(("bearer" = []))
)]
pub async fn get(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<FileQuery>,
) -> Result<Response, ApiError> {
    caller.require(Role::Read)?;
    if !valid_id(&id) {
        return Err(ApiError::not_found("no such report"));
    }
    blocking(move || {
        let dir = tenant_dir(&st, &caller.tenant).join(&id);
        if !dir.is_dir() {
            return Err(ApiError::not_found("no such report"));
        }
        serve_file(dir, q.file)
    })
    .await
}
