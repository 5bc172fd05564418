//! Errors as RFC 9457 `application/problem+json`: `type`, `title`, `status`, `detail`, and for
//! validation errors the field paths (`creatives[3].history[10].spend`). 5xx bodies say only
//! that something failed and the request id to quote; the cause goes to the server log.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// A problem report (RFC 9457).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// A URN naming the class of problem, e.g. `urn:omnify:problem:validation`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short summary of the class.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, in one line.
    pub detail: String,
    /// Validation errors, one per field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One invalid field.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct FieldError {
    /// Path of the field in the request, e.g. `creatives[3].history[10].spend`.
    pub path: String,
    pub message: String,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub slug: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, slug: &'static str, title: &'static str, detail: String) -> Self {
        ApiError {
            status,
            slug,
            title,
            detail,
            errors: Vec::new(),
            retry_after: None,
        }
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            "Malformed request",
            detail.into(),
        )
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Missing or invalid API key",
            detail.into(),
        )
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "The key's role does not allow this",
            detail.into(),
        )
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            detail.into(),
        )
    }
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail.into())
    }
    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Request body too large",
            detail.into(),
        )
    }
    pub fn unsupported_media(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            detail.into(),
        )
    }
    /// 422 with one field error.
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::invalid_fields(vec![FieldError {
            path: path.into(),
            message: message.into(),
        }])
    }
    /// 422 with several field errors.
    pub fn invalid_fields(errors: Vec<FieldError>) -> Self {
        let detail = match errors.first() {
            Some(e) if errors.len() == 1 => format!("{}: {}", e.path, e.message),
            Some(e) => format!("{}: {} (and {} more)", e.path, e.message, errors.len() - 1),
            None => "the request is invalid".into(),
        };
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Invalid request",
            detail,
        );
        e.errors = errors;
        e
    }
    /// 422 without a field path (the data, not one field, is the problem).
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
            "Cannot process the request",
            detail.into(),
        )
    }
    pub fn rate_limited(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
            format!("this key exceeded its rate limit; retry after {retry_after} s"),
        );
        e.retry_after = Some(retry_after);
        e
    }
    /// 429 for a quota other than the request rate (e.g. jobs per tenant).
    pub fn too_many(detail: impl Into<String>, retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many",
            "Too many at once",
            detail.into(),
        );
        e.retry_after = Some(retry_after);
        e
    }
    pub fn unavailable(detail: impl Into<String>, retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service not ready",
            detail.into(),
        );
        e.retry_after = Some(retry_after);
        e
    }
    /// 500: the cause is logged with an id; the body reveals nothing else.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        tracing::error!(error_id = %id, cause = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            format!("the server failed to answer; quote error id {id} to the operator"),
        )
    }

    pub fn problem(&self) -> Problem {
        Problem {
            type_: format!("urn:omnify:problem:{}", self.slug),
            title: self.title.to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut r = (self.status, body).into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"omnify\""),
            );
        }
        r
    }
}

impl From<crate::state::StateError> for ApiError {
    fn from(e: crate::state::StateError) -> Self {
        ApiError::internal(e)
    }
}

/// Response for a panic inside a handler: a 500 problem, nothing internal.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("a request handler panicked").into_response()
}
