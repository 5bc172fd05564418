//! The scoring service (docs/design.md §8): an axum JSON API over the library — fatigue scores,
//! budget plans and forecasts, ingest, retraining jobs, the model registry, keys and tenant
//! erase — with bearer API keys scoped to a tenant and a role, problem+json errors, per-key rate
//! limits, request timeouts, Prometheus metrics and an OpenAPI 3.1 document generated from the
//! handlers (`/openapi.json`).
//!
//! [`app`] builds the router from an [`AppState`] (tests call it without a socket); [`serve`]
//! binds, starts the job workers, the model poller and the schedule, and shuts down gracefully
//! on SIGTERM or Ctrl-C. Handlers are thin: they check the caller, parse, run the library call
//! (on the blocking pool when it is CPU work) and format.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State as AxState};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use governor::{Quota, RateLimiter};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::Config;
use crate::fatigue::JobConfig;
use crate::registry::Registry;
use crate::state::{KeyRecord, State};
use crate::warehouse::Warehouse;

pub(crate) mod batcher;
pub mod champions;
pub mod codec;
pub mod error;
pub mod extract;
mod metrics;
pub(crate) mod routes;
mod server;
pub mod snapshots;

pub use champions::Champions;
pub use error::{ApiError, FieldError, Problem};
pub use metrics::Metrics;
pub use routes::fatigue::{CreativeHistory, HistoryDay, ScoreRequest, ScoreResponse};
pub use server::{ServeOptions, serve};

type KeyCache = RwLock<HashMap<String, (Option<KeyRecord>, Instant)>>;

/// Everything a handler needs.
pub struct AppState {
    pub cfg: Config,
    pub state: Arc<State>,
    pub registry: Registry,
    pub warehouse: Arc<Warehouse>,
    pub champions: Champions,
    /// Batches small scoring requests into shared feature runs.
    pub batcher: batcher::Batcher,
    /// Each tenant's fatigue features at its latest day, for `ad_ids` scoring.
    pub snapshots: snapshots::Snapshots,
    /// The fatigue job spec in force (scoring thresholds, feature settings).
    pub fatigue_spec: JobConfig,
    pub key_cache: KeyCache,
    pub limiter: governor::DefaultKeyedRateLimiter<String>,
    pub clock: governor::clock::DefaultClock,
    pub metrics: Metrics,
    /// False while the server bootstraps or loads models: model routes answer 503.
    pub ready: AtomicBool,
    /// Wakes the job workers when a job is queued.
    pub wake_workers: RwLock<Option<Arc<dyn Fn() + Send + Sync>>>,
}

impl AppState {
    /// Opens the warehouse, registry and state named by `cfg`.
    pub fn open(cfg: Config) -> Result<AppState, String> {
        let state = State::open(cfg.state_path()).map_err(|e| e.to_string())?;
        let warehouse = Warehouse::open(cfg.warehouse_dir()).map_err(|e| e.to_string())?;
        let registry = Registry::open(&cfg.models_dir);
        let fatigue_spec = crate::bootstrap::fatigue_job()?;
        let per_sec = std::num::NonZeroU32::new(cfg.api.rate_limit_per_second.max(1))
            .unwrap_or(std::num::NonZeroU32::MIN);
        Ok(AppState {
            champions: Champions::new(registry.clone()),
            batcher: batcher::Batcher::start(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
                fatigue_spec.clone(),
            ),
            registry,
            warehouse: Arc::new(warehouse),
            state: Arc::new(state),
            fatigue_spec,
            snapshots: snapshots::Snapshots::default(),
            key_cache: RwLock::new(HashMap::new()),
            limiter: RateLimiter::keyed(Quota::per_second(per_sec)),
            clock: governor::clock::DefaultClock::default(),
            metrics: Metrics::new(),
            ready: AtomicBool::new(false),
            wake_workers: RwLock::new(None),
            cfg,
        })
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    pub fn set_ready(&self, v: bool) {
        self.ready.store(v, Ordering::SeqCst);
    }

    /// Forgets cached key lookups (after a revoke or erase through the API).
    pub fn clear_key_cache(&self) {
        self.key_cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    pub(crate) fn wake_workers(&self) {
        if let Some(f) = self
            .wake_workers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            f();
        }
    }
}

/// Runs CPU or file work on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("blocking task failed: {e}")))?
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OmniFy API",
        description = "Creative-fatigue scores, budget plans and forecasts, ingest, retraining \
            jobs and the model registry. Authenticate with `Authorization: Bearer <key>` \
            (`omnify keys create`). Errors are application/problem+json.",
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "fatigue", description = "Creative fatigue forecasts"),
        (name = "budget", description = "Budget plans and forecasts"),
        (name = "data", description = "Ingest native platform reports"),
        (name = "jobs", description = "Retraining jobs"),
        (name = "models", description = "The model registry"),
        (name = "reports", description = "Forecast reports (HTML, CSV, Parquet)"),
        (name = "admin", description = "Keys and tenant erase"),
        (name = "alerts", description = "Alert destinations (webhooks, Slack) and their deliveries"),
        (name = "ops", description = "Health, readiness, metrics"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("omk_<id>_<secret>")
                    .build(),
            ),
        );
    }
}

/// The router and the OpenAPI document generated from it.
// `DELETE /v1/jobs/{id}` is served while deprecated (marked so in the OpenAPI document).
#[allow(deprecated)]
pub fn router_and_doc(state: Arc<AppState>) -> (Router<Arc<AppState>>, utoipa::openapi::OpenApi) {
    let batch = OpenApiRouter::new()
        .routes(routes!(routes::fatigue::score))
        .routes(routes!(routes::ingest::ingest))
        .layer(DefaultBodyLimit::max(state.cfg.api.batch_body_limit_bytes));
    let rest = OpenApiRouter::new()
        .routes(routes!(routes::budget::optimize))
        .routes(routes!(routes::budget::forecast))
        .routes(routes!(routes::jobs::create, routes::jobs::list))
        .routes(routes!(routes::jobs::get, routes::jobs::cancel_by_delete))
        .routes(routes!(routes::jobs::cancel))
        .routes(routes!(routes::models::list))
        .routes(routes!(routes::models::show))
        .routes(routes!(routes::models::promote))
        .routes(routes!(routes::models::rollback))
        .routes(routes!(routes::admin::create_key, routes::admin::list_keys))
        .routes(routes!(routes::admin::revoke_key))
        .routes(routes!(routes::admin::erase_tenant))
        .routes(routes!(routes::alerts::create, routes::alerts::list))
        .routes(routes!(routes::alerts::remove))
        .routes(routes!(routes::alerts::resume))
        .routes(routes!(routes::alerts::deliveries))
        .routes(routes!(routes::reports::create))
        .routes(routes!(routes::reports::latest))
        .routes(routes!(routes::reports::get))
        .routes(routes!(routes::ops::healthz))
        .routes(routes!(routes::ops::readyz))
        .routes(routes!(routes::ops::metrics))
        .layer(DefaultBodyLimit::max(state.cfg.api.body_limit_bytes));
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(batch)
        .merge(rest)
        .split_for_parts();
    (router, doc)
}

/// The whole service as a router (no socket): routes, `/openapi.json`, metrics, timeouts,
/// panic safety and problem+json for unknown routes.
pub fn app(state: Arc<AppState>) -> Router {
    let (router, doc) = router_and_doc(state.clone());
    let doc_json: Arc<str> = doc.to_json().unwrap_or_else(|_| "{}".into()).into();
    let timeout = Duration::from_secs(state.cfg.api.request_timeout_secs.max(1));
    let mcp = tower::ServiceBuilder::new()
        .layer(middleware::from_fn_with_state(state.clone(), mcp_caller))
        .service(crate::mcp::http_service(state.clone()));
    router
        .route_service("/mcp", mcp)
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let d = doc_json.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        d.to_string(),
                    )
                }
            }),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), track))
        .fallback(|| async {
            ApiError::not_found("no such route; see /openapi.json").into_response()
        })
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            limit_time(timeout, req, next)
        }))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            error::panic_response,
        ))
        .with_state(state)
}

/// Authenticates an MCP request like any route (bearer key, rate limit; 401/429 as
/// problem+json) and hands the caller to the tools through the request's extensions.
async fn mcp_caller(AxState(state): AxState<Arc<AppState>>, req: Request, next: Next) -> Response {
    use axum::extract::FromRequestParts;
    let (mut parts, body) = req.into_parts();
    match extract::Caller::from_request_parts(&mut parts, &state).await {
        Ok(c) => {
            parts.extensions.insert(c);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(e) => e.into_response(),
    }
}

/// Counts requests and records latency per route, method and status.
async fn track(AxState(state): AxState<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let t0 = Instant::now();
    let res = next.run(req).await;
    state
        .metrics
        .observe(&route, &method, res.status().as_u16(), t0.elapsed());
    res
}

/// Answers 503 when a request takes longer than the configured timeout.
async fn limit_time(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::unavailable(
            format!(
                "the request took longer than {} s and was abandoned",
                limit.as_secs()
            ),
            1,
        )
        .into_response(),
    }
}

#[cfg(test)]
pub(crate) mod tests;
