//! The model registry of the caller's tenant: list versions with the champion, show a card,
//! promote a version, roll back to the previous champion. A promotion is served at once (the
//! server swaps the model in before answering).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Errors;
use crate::api::error::ApiError;
use crate::api::extract::Caller;
use crate::api::{AppState, blocking};
use crate::registry::{ModelCard, ModelKind, RegistryError};
use crate::state::Role;

/// Versions of one kind.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KindModels {
    /// The tenant's champion version, if it has one.
    pub champion: Option<String>,
    /// The version that scores this tenant's requests: the champion, or for fatigue without
    /// a champion the cold-start prior (`prior-…`, trained on simulated accounts).
    pub serving: Option<String>,
    /// True when `serving` is the cold-start prior (no champion, or the champion is a
    /// registration of the prior because the tenant's data could not validate a model).
    pub on_prior: bool,
    /// Model cards, oldest first (kind, version, created, data range, metrics...).
    #[schema(value_type = Vec<Object>)]
    pub versions: Vec<ModelCard>,
}

/// The tenant's registry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModelsResponse {
    pub fatigue: KindModels,
    pub budget: KindModels,
}

/// The champion after a promotion or rollback.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChampionChange {
    pub kind: String,
    pub champion: String,
    pub previous: Option<String>,
}

fn kind(s: &str) -> Result<ModelKind, ApiError> {
    ModelKind::parse(s).map_err(|e| ApiError::not_found(e.to_string()))
}

fn reg_err(e: RegistryError) -> ApiError {
    match e {
        RegistryError::NotFound { .. }
        | RegistryError::NoChampion { .. }
        | RegistryError::UnknownKind(_) => ApiError::not_found(e.to_string()),
        RegistryError::NoPrevious { .. } => ApiError::conflict(e.to_string()),
        other => ApiError::internal(other),
    }
}

/// Every version of both kinds, with the champions.
#[utoipa::path(
    get,
    path = "/v1/models",
    tag = "models",
    responses((status = 200, description = "The registry", body = ModelsResponse), Errors),
    security(("bearer" = []))
)]
pub async fn list(
    State(st): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<ModelsResponse>, ApiError> {
    caller.require(Role::Read)?;
    blocking(move || registry_of(&st, &caller.tenant).map(Json)).await
}

/// `tenant`'s registry: every version of both kinds, the champions and what serves. Blocking.
pub(crate) fn registry_of(st: &AppState, tenant: &str) -> Result<ModelsResponse, ApiError> {
    let one = |k: ModelKind| -> Result<KindModels, ApiError> {
        let champion = st.registry.champion(tenant, k).map_err(reg_err)?;
        let versions = st.registry.list(tenant, k).map_err(reg_err)?;
        let prior = match (&champion, k) {
            (None, ModelKind::Fatigue) => crate::fatigue::prior::embedded(),
            _ => None,
        };
        let on_prior = prior.is_some()
            || versions.iter().any(|c| {
                Some(&c.version) == champion.as_ref()
                    && crate::fatigue::pipeline::is_prior(&c.model)
            });
        Ok(KindModels {
            serving: champion
                .clone()
                .or_else(|| prior.map(|p| p.card.version.clone())),
            on_prior,
            champion,
            versions,
        })
    };
    Ok(ModelsResponse {
        fatigue: one(ModelKind::Fatigue)?,
        budget: one(ModelKind::Budget)?,
    })
}

/// One version's card.
#[utoipa::path(
    get,
    path = "/v1/models/{kind}/{version}",
    tag = "models",
    params(
        ("kind" = String, Path, description = "fatigue or budget"),
        ("version" = String, Path, description = "Version id"),
    ),
    responses((status = 200, description = "The model card", body = Object), Errors),
    security(("bearer" = []))
)]
pub async fn show(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path((k, version)): Path<(String, String)>,
) -> Result<Json<ModelCard>, ApiError> {
    caller.require(Role::Read)?;
    let k = kind(&k)?;
    blocking(move || {
        st.registry
            .card(&caller.tenant, k, &version)
            .map(Json)
            .map_err(reg_err)
    })
    .await
}

/// Makes a version the champion (it is verified first) and serves it at once.
#[utoipa::path(
    post,
    path = "/v1/models/{kind}/{version}/promote",
    tag = "models",
    params(
        ("kind" = String, Path, description = "fatigue or budget"),
        ("version" = String, Path, description = "Version id"),
    ),
    responses((status = 200, description = "The new champion", body = ChampionChange), Errors),
    security(("bearer" = []))
)]
pub async fn promote(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path((k, version)): Path<(String, String)>,
) -> Result<Json<ChampionChange>, ApiError> {
    caller.require(Role::Write)?;
    let k = kind(&k)?;
    blocking(move || {
        let previous = st.registry.champion(&caller.tenant, k).map_err(reg_err)?;
        st.registry
            .promote(&caller.tenant, k, &version)
            .map_err(reg_err)?;
        st.champions.refresh().map_err(ApiError::internal)?;
        Ok(Json(ChampionChange {
            kind: k.as_str().into(),
            champion: version,
            previous,
        }))
    })
    .await
}

/// Restores the previous champion and serves it at once.
#[utoipa::path(
    post,
    path = "/v1/models/{kind}/rollback",
    tag = "models",
    params(("kind" = String, Path, description = "fatigue or budget")),
    responses((status = 200, description = "The restored champion", body = ChampionChange), Errors),
    security(("bearer" = []))
)]
pub async fn rollback(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(k): Path<String>,
) -> Result<Json<ChampionChange>, ApiError> {
    caller.require(Role::Write)?;
    let k = kind(&k)?;
    blocking(move || {
        let previous = st.registry.champion(&caller.tenant, k).map_err(reg_err)?;
        let now = st.registry.rollback(&caller.tenant, k).map_err(reg_err)?;
        st.champions.refresh().map_err(ApiError::internal)?;
        Ok(Json(ChampionChange {
            kind: k.as_str().into(),
            champion: now,
            previous,
        }))
    })
    .await
}
