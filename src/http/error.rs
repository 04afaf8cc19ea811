//! The one error type of the HTTP edge: every REST handler returns `Result<_, ApiError>`, and
//! the edge's own refusals (host, auth, limits) render through the same function, so every
//! error body is `{"error": {"code", "message", "field"?}}` and a 500 never shows its text.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// The HTTP status for a domain error.
pub fn status_of(e: &AppError) -> StatusCode {
    match e {
        AppError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::NotFound { .. } => StatusCode::NOT_FOUND,
        AppError::Conflict { .. } | AppError::InvalidTransition { .. } => StatusCode::CONFLICT,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A failed REST call: the domain error and the status it is answered with.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    error: AppError,
}

impl ApiError {
    /// The error with a status other than its usual one (the edge's 413, 429 …).
    pub fn with_status(status: StatusCode, error: AppError) -> Self {
        Self { status, error }
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        Self {
            status: status_of(&error),
            error,
        }
    }
}

/// A body the JSON extractor refused, as a VALIDATION error naming the problem, with axum's
/// status for it (400 unreadable JSON, 415 no JSON content type, 413 too large, 422 wrong
/// types or fields).
impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        Self {
            status: r.status(),
            error: AppError::validation("body", r.body_text()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        render(self.status, &self.error)
    }
}

/// The response for an error: internal details are logged, never sent; a 401 says how to
/// authenticate.
pub fn render(status: StatusCode, err: &AppError) -> Response {
    if let AppError::Internal(detail) = err {
        tracing::error!(error = %detail, "HTTP call failed with an internal error");
    }
    // `body()` never carries an internal error's text.
    let mut resp = (status, Json(serde_json::json!({ "error": err.body() }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    resp
}
