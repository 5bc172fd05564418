//! `POST /v1/ingest/{platform}`: a native report (the platform's API JSON or export CSV, also
//! gzip or zip; or a unified `ad_daily` CSV/Parquet) for the caller's tenant, with the same
//! parsing, validation and atomic upsert as `omnify ingest`. A report with any bad row is
//! rejected whole with the place (line or JSON path and field); nothing is written.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Request, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Errors;
use crate::api::error::ApiError;
use crate::api::extract::{ApiQuery, Caller, body_bytes};
use crate::api::{AppState, blocking};
use crate::ingest::{self, IngestError, InputFile, LoadOptions};
use crate::platforms::Platform;
use crate::schema::cols;
use crate::state::Role;

/// Scope values a report may not carry itself (LinkedIn, TikTok, Snapchat, X stats, Google's
/// UI CSV); used only where the payload lacks them.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct IngestQuery {
    /// The ad account the report belongs to.
    pub account_id: Option<String>,
    /// ISO 4217 currency of the account.
    pub currency: Option<String>,
}

/// What an ingest did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IngestResponse {
    /// Platforms of the rows (detected with `auto`).
    pub platforms: Vec<String>,
    /// Ad-day rows accepted (after folding segments and restated days).
    pub rows: usize,
    /// Of those, keys new to the warehouse.
    pub inserted: usize,
    /// Of those, keys that replaced a stored row.
    pub replaced: usize,
    /// Rows superseded by a later row for the same key in the same report.
    pub superseded_in_batch: usize,
    /// Warehouse partitions rewritten.
    pub partitions: usize,
}

fn ingest_err(e: IngestError) -> ApiError {
    match e {
        IngestError::Parse { source, .. } => ApiError::unprocessable(source.to_string()),
        IngestError::Invalid { source, .. } => ApiError::unprocessable(source.to_string()),
        IngestError::Read { message, .. } => ApiError::unprocessable(message),
        IngestError::Usage(m) => ApiError::unprocessable(m),
    }
}

/// Ingests a native platform report (or a unified table) into the caller's tenant.
#[utoipa::path(
    post,
    path = "/v1/ingest/{platform}",
    tag = "data",
    params(
        ("platform" = String, Path, description = "google_ads, meta, linkedin, tiktok, \
            microsoft_ads, snapchat, pinterest, x, amazon_ads, or auto (detect)"),
        IngestQuery
    ),
    request_body(content = String, description = "The report as the platform delivers it \
        (JSON or CSV; gzip and zip accepted)", content_type = "application/octet-stream"),
    responses((status = 200, description = "Rows stored", body = IngestResponse), Errors),
    security(("bearer" = []))
)]
pub async fn ingest(
    State(st): State<Arc<AppState>>,
    caller: Caller,
    Path(platform): Path<String>,
    ApiQuery(q): ApiQuery<IngestQuery>,
    req: Request,
) -> Result<Json<IngestResponse>, ApiError> {
    caller.require(Role::Write)?;
    let platform = match platform.as_str() {
        "auto" => None,
        name => Some(Platform::from_name(name).map_err(|e| ApiError::not_found(e.to_string()))?),
    };
    let bytes = body_bytes(req).await?;
    if bytes.is_empty() {
        return Err(ApiError::invalid("body", "the report is empty"));
    }
    blocking(move || {
        let input = InputFile {
            path: "request body".into(),
            tenant: caller.tenant.clone(),
            platform,
            account_id: q.account_id,
            currency: q.currency,
        };
        let opts = LoadOptions::from_config(&st.cfg);
        let df = ingest::load_bytes(&input, bytes.to_vec(), &opts).map_err(ingest_err)?;
        let mut platforms: Vec<String> = df
            .column(cols::PLATFORM)
            .and_then(|c| c.str().cloned())
            .map_err(ApiError::internal)?
            .iter()
            .flatten()
            .map(str::to_string)
            .collect();
        platforms.sort();
        platforms.dedup();
        let r = st.warehouse.ingest(df).map_err(|e| match e {
            crate::warehouse::WarehouseError::Invalid(m) => ApiError::unprocessable(m.to_string()),
            other => ApiError::internal(other),
        })?;
        // A tenant that scores by ad id gets its latest-day features rebuilt now, in the
        // background, rather than by its next request.
        let (st2, tenant) = (st.clone(), caller.tenant.clone());
        tokio::task::spawn_blocking(move || {
            if let Err(e) =
                st2.snapshots
                    .refresh_if_kept(&st2.warehouse, &tenant, &st2.fatigue_spec)
            {
                tracing::warn!(tenant, error = %e.detail, "rebuilding the feature snapshot failed");
            }
            // New rows are a scoring run: the tenant's alerts are evaluated.
            crate::alerts::evaluate_logged(&st2, &tenant, None);
        });
        Ok(Json(IngestResponse {
            platforms,
            rows: r.rows,
            inserted: r.inserted,
            replaced: r.replaced,
            superseded_in_batch: r.superseded_in_batch,
            partitions: r.partitions,
        }))
    })
    .await
}
