//! The REST API (`/api/v1/...`) beside MCP: the same services, behind the same bearer-key
//! guard, with JSON errors in the same `{"error": {code, message, field}}` shape.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

use super::error_response;
use crate::auth::{Permission, Principal};
use crate::copilot::ChatInput;
use crate::error::AppError;
use crate::mcp::AppServices;

/// The HTTP status for a domain error.
pub fn status_of(e: &AppError) -> StatusCode {
    match e {
        AppError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::NotFound { .. } => StatusCode::NOT_FOUND,
        AppError::Conflict { .. } | AppError::InvalidTransition { .. } => StatusCode::CONFLICT,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn fail(e: AppError) -> Response {
    if let AppError::Internal(detail) = &e {
        tracing::error!(error = %detail, "REST call failed with an internal error");
        return error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &AppError::Internal("internal error; see the server log".into()),
        );
    }
    error_response(status_of(&e), &e)
}

/// Body problems (wrong types, missing fields) as a VALIDATION error naming the problem.
fn bad_body(r: JsonRejection) -> Response {
    fail(AppError::validation("body", r.body_text()))
}

pub fn routes<S: Clone + Send + Sync + 'static>(services: AppServices) -> Router<S> {
    Router::new()
        .route("/api/v1/copilot/chat", post(copilot_chat))
        .with_state(services)
}

/// `POST /api/v1/copilot/chat` (planner, or any role with copilot access):
/// `{"brand_code": "AUR", "messages": [{"role": "user", "content": "..."}]}` ->
/// `{"answer", "found", "mode", "retrieval", "citations": [...]}`.
async fn copilot_chat(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    body: Result<Json<ChatInput>, JsonRejection>,
) -> Response {
    if let Err(e) = principal.require(Permission::Copilot) {
        return fail(e);
    }
    let Json(input) = match body {
        Ok(b) => b,
        Err(r) => return bad_body(r),
    };
    match services.copilot.chat(input).await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => fail(e),
    }
}
