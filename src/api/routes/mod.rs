//! The handlers, one module per area. Each documents itself for the OpenAPI document with
//! `#[utoipa::path]`; the error answers every route shares are [`Errors`].

use utoipa::IntoResponses;

use super::error::Problem;

pub mod admin;
pub mod alerts;
pub mod budget;
pub mod fatigue;
pub mod ingest;
pub mod jobs;
pub mod models;
pub mod ops;
pub mod reports;

/// The problem+json answers common to authenticated routes.
#[allow(dead_code)]
#[derive(IntoResponses)]
pub enum Errors {
    /// Malformed JSON or parameters.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// Missing, unknown or revoked API key.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The key's role does not allow this.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// No such resource for the key's tenant.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// The request conflicts with the current state (e.g. nothing to roll back to).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// Body over the route's limit.
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// Body is not JSON.
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMedia(Problem),
    /// Validation failed; `errors` lists the field paths.
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(Problem),
    /// The key exceeded its rate limit, or the tenant its queued jobs; see `Retry-After`.
    #[response(status = 429, content_type = "application/problem+json")]
    RateLimited(Problem),
    /// Internal error (the body carries only an error id).
    #[response(status = 500, content_type = "application/problem+json")]
    Internal(Problem),
    /// Not ready yet (models loading) or the request timed out; see `Retry-After`.
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}
