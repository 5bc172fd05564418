//! Alert destinations of the caller's tenant (admin keys): add one (its signing secret shown
//! once), list, remove, resume a paused one, and read the deliveries with their status and
//! attempts.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Errors;
use crate::alerts::{Delivery, Destination, Format, NewDestination, Rules, check_target};
use crate::api::error::ApiError;
use crate::api::extract::{ApiJson, ApiQuery, Caller};
use crate::api::{AppState, blocking};
use crate::state::Role;

/// A destination to add for the caller's tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertRequest {
    /// Where deliveries are POSTed (http or https).
    #[schema(format = "uri", max_length = 2048)]
    pub url: String,
    /// A name to recognise it by (at most 200 characters) [default: the URL's host].
    #[serde(default)]
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// `webhook` (the event JSON) or `slack` (`{"text": ...}`) [default: webhook].
    #[serde(default)]
    pub format: Option<Format>,
    /// What to alert on [default: creatives entering prepare_refresh, refresh_now or
    /// fatigued; budget gains of 5%; failed jobs; retrained models worse than the champion].
    #[serde(default)]
    pub rules: Option<Rules>,
}

/// A new destination. `secret` signs its deliveries and is shown only in this answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewAlert {
    pub destination: Destination,
    pub secret: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// Most deliveries to return, newest first (default 50, at most 500).
    pub limit: Option<usize>,
}

/// Adds an alert destination.
#[utoipa::path(
    post,
    path = "/v1/alerts",
    tag = "alerts",
    request_body = AlertRequest,
    responses((status = 201, description = "Added; the secret is shown once", body = NewAlert), Errors),
    security(("bearer" = []))
)]
pub async fn create(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(req): ApiJson<AlertRequest>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Role::Admin)?;
    check_target(&req.url, st.cfg.api.alert_private_targets)
        .map_err(|m| ApiError::invalid("url", m))?;
    let rules = req.rules.unwrap_or_default();
    rules.check().map_err(|(f, m)| ApiError::invalid(f, m))?;
    let name = req.name.unwrap_or_else(|| {
        reqwest::Url::parse(&req.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default()
    });
    if name.chars().count() > 200 {
        return Err(ApiError::invalid("name", "at most 200 characters"));
    }
    let created = blocking(move || {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        let secret = format!(
            "whsec_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        );
        let d = st.state.create_destination(NewDestination {
            tenant: &caller.tenant,
            name: &name,
            url: &req.url,
            format: req.format.unwrap_or_default(),
            rules: &rules,
            secret: &secret,
        })?;
        Ok(NewAlert {
            destination: d,
            secret,
        })
    })
    .await?;
    let loc = format!("/v1/alerts/{}", created.destination.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, loc)],
        Json(created),
    ))
}

/// The tenant's alert destinations (never their secrets).
#[utoipa::path(
    get,
    path = "/v1/alerts",
    tag = "alerts",
    responses((status = 200, description = "Destinations", body = Vec<Destination>), Errors),
    security(("bearer" = []))
)]
pub async fn list(
    State(st): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<Destination>>, ApiError> {
    caller.require(Role::Admin)?;
    blocking(move || Ok(Json(st.state.alert_destinations(Some(&caller.tenant))?))).await
}

/// Removes a destination and its delivery records.
#[utoipa::path(
    delete,
    path = "/v1/alerts/{id}",
    tag = "alerts",
    params(("id" = String, Path, description = "Destination id")),
    responses((status = 204, description = "Removed"), Errors),
    security(("bearer" = []))
)]
pub async fn remove(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    blocking(move || {
        if st.state.delete_destination(&id, Some(&caller.tenant))? {
            Ok(StatusCode::NO_CONTENT)
        } else {
            Err(ApiError::not_found(format!("no alert destination `{id}`")))
        }
    })
    .await
}

/// Resumes a paused destination (its failure count starts again).
#[utoipa::path(
    post,
    path = "/v1/alerts/{id}/resume",
    tag = "alerts",
    params(("id" = String, Path, description = "Destination id")),
    responses((status = 200, description = "The destination", body = Destination), Errors),
    security(("bearer" = []))
)]
pub async fn resume(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Destination>, ApiError> {
    caller.require(Role::Admin)?;
    blocking(move || {
        st.state
            .resume_destination(&id, Some(&caller.tenant))?
            .map(Json)
            .ok_or_else(|| ApiError::not_found(format!("no alert destination `{id}`")))
    })
    .await
}

/// The tenant's deliveries, newest first: status (`queued`, `delivered`, `failed`), attempts,
/// the last HTTP status and error.
#[utoipa::path(
    get,
    path = "/v1/alerts/deliveries",
    tag = "alerts",
    params(DeliveriesQuery),
    responses((status = 200, description = "Deliveries", body = Vec<Delivery>), Errors),
    security(("bearer" = []))
)]
pub async fn deliveries(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Json<Vec<Delivery>>, ApiError> {
    caller.require(Role::Admin)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    blocking(move || Ok(Json(st.state.deliveries(Some(&caller.tenant), limit)?))).await
}
