//! Admin routes (admin keys only, scoped to the key's tenant): create, list and revoke keys,
//! and erase the tenant — its warehouse rows, models, jobs, reports and keys.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Errors;
use crate::api::error::ApiError;
use crate::api::extract::{ApiJson, Caller};
use crate::api::{AppState, blocking};
use crate::state::{KeyRecord, Role};

/// A key to create for the caller's tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRequest {
    pub role: Role,
    /// A note to recognise the key by (who or what uses it).
    #[serde(default)]
    pub label: Option<String>,
}

/// A new key. `key` is shown only in this answer; only its hash is stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NewKey {
    pub id: String,
    pub key: String,
    pub tenant: String,
    pub role: Role,
    pub label: String,
}

/// What an erase removed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Erased {
    pub tenant: String,
    pub warehouse_partitions: usize,
    pub models: bool,
    pub jobs: usize,
    pub keys: usize,
    pub reports: bool,
}

/// Creates a key for the caller's tenant.
#[utoipa::path(
    post,
    path = "/v1/keys",
    tag = "admin",
    request_body = KeyRequest,
    responses((status = 201, description = "The key, shown once", body = NewKey), Errors),
    security(("bearer" = []))
)]
pub async fn create_key(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(req): ApiJson<KeyRequest>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Role::Admin)?;
    let label = req.label.unwrap_or_default();
    if label.len() > 200 {
        return Err(ApiError::invalid("label", "at most 200 characters"));
    }
    let (rec, key) =
        blocking(move || Ok(st.state.create_key(&caller.tenant, req.role, &label)?)).await?;
    Ok((
        StatusCode::CREATED,
        Json(NewKey {
            id: rec.id,
            key,
            tenant: rec.tenant,
            role: rec.role,
            label: rec.label,
        }),
    ))
}

/// The tenant's keys (never the secrets).
#[utoipa::path(
    get,
    path = "/v1/keys",
    tag = "admin",
    responses((status = 200, description = "Keys", body = Vec<KeyRecord>), Errors),
    security(("bearer" = []))
)]
pub async fn list_keys(
    State(st): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<KeyRecord>>, ApiError> {
    caller.require(Role::Admin)?;
    blocking(move || Ok(Json(st.state.list_keys(Some(&caller.tenant))?))).await
}

/// Revokes one of the tenant's keys; it stops working at once.
#[utoipa::path(
    delete,
    path = "/v1/keys/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "Key id (the 12 hex digits after omk_)")),
    responses((status = 204, description = "Revoked"), Errors),
    security(("bearer" = []))
)]
pub async fn revoke_key(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    blocking(move || {
        if st.state.revoke_key(&id, Some(&caller.tenant))? {
            st.clear_key_cache();
            Ok(StatusCode::NO_CONTENT)
        } else {
            Err(ApiError::not_found(format!("no active key `{id}`")))
        }
    })
    .await
}

/// Erases the tenant: warehouse rows, models, jobs, reports and keys (including the one
/// making the request). Only the tenant's own admin key can; any other id answers 404.
#[utoipa::path(
    delete,
    path = "/v1/tenants/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "Tenant id (must be the key's own)")),
    responses((status = 200, description = "What was erased", body = Erased), Errors),
    security(("bearer" = []))
)]
pub async fn erase_tenant(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Erased>, ApiError> {
    caller.require(Role::Admin)?;
    if id != caller.tenant {
        return Err(ApiError::not_found("no such tenant"));
    }
    blocking(move || {
        let partitions = st
            .warehouse
            .delete_tenant(&id)
            .map_err(ApiError::internal)?;
        let models = st.registry.delete_tenant(&id).map_err(ApiError::internal)?;
        st.champions.forget(&id);
        let reports_dir = st.cfg.data_dir.join("reports").join(&id);
        let reports = match std::fs::remove_dir_all(&reports_dir) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(ApiError::internal(e)),
        };
        let (jobs, keys) = st.state.delete_tenant(&id)?;
        st.clear_key_cache();
        Ok(Json(Erased {
            tenant: id,
            warehouse_partitions: partitions,
            models,
            jobs,
            keys,
            reports,
        }))
    })
    .await
}
