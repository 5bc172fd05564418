//! Unauthenticated operations routes: liveness, readiness and Prometheus metrics.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::error::{ApiError, Problem};
use crate::api::{AppState, blocking};
use crate::schema::cols;

/// Liveness.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

/// Readiness: the state answers and the champions are loaded.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Ready {
    pub status: String,
    /// Champions in memory: `tenant/kind@version`.
    pub champions: Vec<String>,
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "Alive", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Models are loaded and the state database answers; 503 otherwise.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 503, description = "Not ready", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn readyz(State(st): State<Arc<AppState>>) -> Result<Json<Ready>, ApiError> {
    if !st.is_ready() {
        return Err(ApiError::unavailable(
            "starting: bootstrapping data or loading models",
            5,
        ));
    }
    blocking(move || {
        st.state
            .ping()
            .map_err(|_| ApiError::unavailable("the state database does not answer", 5))?;
        Ok(Json(Ready {
            status: "ready".into(),
            champions: st
                .champions
                .cached()
                .into_iter()
                .map(|(t, k, v)| format!("{t}/{}@{v}", k.as_str()))
                .collect(),
        }))
    })
    .await
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Metrics in the OpenMetrics text format", body = String,
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")))]
pub async fn metrics(State(st): State<Arc<AppState>>) -> Result<impl IntoResponse, ApiError> {
    let text = blocking(move || {
        let counts = st.state.job_counts()?;
        let jobs: Vec<(String, i64)> = crate::state::JobStatus::ALL
            .iter()
            .map(|s| {
                let n = counts.iter().find(|(c, _)| c == s).map_or(0, |(_, n)| *n);
                (s.as_str().to_string(), n)
            })
            .collect();
        let champions: Vec<(String, String, String)> = st
            .champions
            .cached()
            .into_iter()
            .map(|(t, k, v)| (t, k.as_str().to_string(), v))
            .collect();
        let rows = st.metrics.warehouse_rows(|| {
            // Only the date column is read.
            match st
                .warehouse
                .query(None, |lf| lf.select([col(cols::DATE)]).collect())
            {
                Ok(df) => Some(df.height() as u64),
                Err(e) => {
                    tracing::warn!(error = %e, "counting warehouse rows failed");
                    None
                }
            }
        });
        Ok(st.metrics.render(&jobs, &champions, rows))
    })
    .await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    ))
}
