//! Request extractors: the caller behind a bearer key (with its rate limit), and JSON bodies
//! whose errors become problem+json (400 malformed, 413 too large, 415 not JSON, 422 with the
//! field path).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::ApiError;
use crate::state::{KeyRecord, Role};

/// How long a key lookup is trusted before the state is asked again (a key revoked from
/// another process stops working within this time; revocations through the API at once).
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(2);

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: String,
    pub tenant: String,
    pub role: Role,
}

impl Caller {
    /// 403 unless the key's role is at least `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs a {} key; this key is {}",
                role.as_str(),
                self.role.as_str()
            )))
        }
    }
}

/// The rate-limit bucket of requests that fail to authenticate (no key id is empty).
const UNAUTHENTICATED: &str = "";

/// Takes one request from `bucket`'s rate: 429 with `Retry-After` when it is spent.
fn limit(state: &AppState, bucket: &str) -> Result<(), ApiError> {
    use governor::clock::Clock;
    state
        .limiter
        .check_key(&bucket.to_string())
        .map_err(|not_until| {
            let wait = not_until.wait_time_from(state.clock.now());
            let mut e = ApiError::rate_limited(wait.as_secs_f64().ceil().max(1.0) as u64);
            if bucket == UNAUTHENTICATED {
                e.detail = format!(
                    "too many requests without a valid key; retry after {} s",
                    e.retry_after.unwrap_or(1)
                );
            }
            e
        })
}

/// Looks a presented key up, through a short-lived cache keyed by the key's hash.
pub fn authenticate(state: &AppState, key: &str) -> Result<Option<KeyRecord>, ApiError> {
    let h = hex::encode(Sha256::digest(key.as_bytes()));
    if let Some((rec, at)) = state
        .key_cache
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&h)
        && at.elapsed() < KEY_CACHE_TTL
    {
        return Ok(rec.clone());
    }
    let rec = state.state.authenticate(key)?;
    let mut cache = state.key_cache.write().unwrap_or_else(|e| e.into_inner());
    if cache.len() > 100_000 {
        cache.clear();
    }
    cache.insert(h, (rec.clone(), Instant::now()));
    Ok(rec)
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        // Requests that fail to authenticate share one bucket of the per-key rate: a flood of
        // missing, malformed or guessed keys is answered 429 like any other.
        let refuse = |e: ApiError| match limit(state, UNAUTHENTICATED) {
            Err(limited) => limited,
            Ok(()) => e,
        };
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| {
                refuse(ApiError::unauthorized(
                    "send the API key as `Authorization: Bearer <key>`",
                ))
            })?
            .to_str()
            .map_err(|_| {
                refuse(ApiError::unauthorized(
                    "the Authorization header is not text",
                ))
            })?;
        let key = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| {
                refuse(ApiError::unauthorized(
                    "the Authorization header must be `Bearer <key>`",
                ))
            })?
            .trim();
        let rec = authenticate(state, key)?
            .ok_or_else(|| refuse(ApiError::unauthorized("unknown or revoked API key")))?;
        limit(state, &rec.id)?;
        Ok(Caller {
            key_id: rec.id,
            tenant: rec.tenant,
            role: rec.role,
        })
    }
}

/// A JSON body of type `T`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

/// Parses JSON bytes; syntax errors are 400, shape errors 422 with the field path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Tracking the path costs about a fifth of the parse, so it is only done again to name
    // the field of a body that failed.
    if let Ok(v) = serde_json::from_slice(bytes) {
        return Ok(v);
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let path = if path == "." { "body".into() } else { path };
                ApiError::invalid(path, inner.to_string())
            }
            _ => ApiError::bad_request(format!("the body is not valid JSON: {inner}")),
        }
    })
}

/// Reads the body bytes under the route's size limit (413 beyond it).
pub async fn body_bytes(req: Request) -> Result<Bytes, ApiError> {
    use axum::RequestExt;
    use http_body_util::BodyExt;
    req.into_limited_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(body_error)
}

/// A body that could not be read: 413 past the route's size limit, else 400.
pub(crate) fn body_error(e: axum::Error) -> ApiError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return ApiError::too_large(
                "the body exceeds this route's size limit; send smaller batches",
            );
        }
        cause = c.source();
    }
    ApiError::bad_request(format!("cannot read the body: {e}"))
}

/// Bodies above this size are parsed on the blocking pool: a batch of many megabytes takes tens
/// of milliseconds to parse, which would otherwise hold a runtime thread that small requests
/// need.
pub(crate) const PARSE_INLINE_MAX_BYTES: usize = 256 << 10;

/// 415 unless the request says its body is JSON.
pub(crate) fn require_json(req: &Request) -> Result<(), ApiError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !(mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")) {
        return Err(ApiError::unsupported_media(format!(
            "send JSON with `Content-Type: application/json` (got `{}`)",
            if ct.is_empty() { "nothing" } else { ct }
        )));
    }
    Ok(())
}

/// The bytes of a JSON body: 415 unless the content type is JSON, 413 over the route's limit.
pub async fn json_bytes(req: Request) -> Result<Bytes, ApiError> {
    require_json(&req)?;
    body_bytes(req).await
}

impl<T: DeserializeOwned + Send + 'static> FromRequest<Arc<AppState>> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let bytes = json_bytes(req).await?;
        if bytes.len() <= PARSE_INLINE_MAX_BYTES {
            return parse_json(&bytes).map(ApiJson);
        }
        crate::api::blocking(move || parse_json(&bytes))
            .await
            .map(ApiJson)
    }
}

/// Query parameters of type `T`; a string that does not decode is a 400 problem naming the
/// parameter (axum's own rejection is plain text).
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}
