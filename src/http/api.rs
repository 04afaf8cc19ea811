//! The REST API (`/api/v1/...`) beside MCP: the same services, behind the same bearer-key
//! guard, with JSON errors in the same `{"error": {code, message, field}}` shape.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
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
        AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
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

/// Body problems as a VALIDATION error naming the problem, with axum's status for it (400
/// unreadable JSON, 415 no JSON content type, 413 too large, 422 wrong types or fields).
fn bad_body(r: JsonRejection) -> Response {
    error_response(r.status(), &AppError::validation("body", r.body_text()))
}

pub fn routes<S: Clone + Send + Sync + 'static>(services: AppServices) -> Router<S> {
    Router::new()
        .route("/api/v1/copilot/chat", post(copilot_chat))
        .route("/api/v1/fixes", get(list_fixes))
        .route("/api/v1/fixes/{id}", get(get_fix))
        .route("/api/v1/fixes/{id}/approve", post(approve_fix))
        .route("/api/v1/fixes/{id}/reject", post(reject_fix))
        .route("/api/v1/tickets/{id}", get(get_ticket))
        .route("/api/v1/capi/events", post(capi_events))
        .with_state(services)
}

fn reply<T: serde::Serialize>(r: Result<T, AppError>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => fail(e),
    }
}

fn path_id(raw: &str) -> Result<i64, AppError> {
    raw.parse::<i64>().map_err(|_| {
        AppError::validation(
            "id",
            format!("\"{raw}\" is not an id; use a number such as 7"),
        )
    })
}

/// `GET /api/v1/fixes?status=&ticket=&limit=&before_id=` (any reading role).
async fn list_fixes(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if let Err(e) = principal.require(Permission::Read) {
        return fail(e);
    }
    let num = |k: &str| -> Result<Option<i64>, AppError> {
        q.get(k)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| AppError::validation(k, format!("\"{v}\" is not a number")))
            })
            .transpose()
    };
    let input = (|| {
        Ok(crate::healing::ListFixesInput {
            status: q.get("status").cloned(),
            ticket_id: num("ticket")?,
            limit: num("limit")?,
            before_id: num("before_id")?,
        })
    })();
    match input {
        Ok(i) => reply(services.healing.list(&principal, i).await),
        Err(e) => fail(e),
    }
}

/// `GET /api/v1/fixes/{id}`: the proposal, before/after payloads, diff and audit trail.
async fn get_fix(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    if let Err(e) = principal.require(Permission::Read) {
        return fail(e);
    }
    let id = match path_id(&id) {
        Ok(id) => id,
        Err(e) => return fail(e),
    };
    if let Err(e) = services.healing.authorize(&principal, id).await {
        return fail(e);
    }
    reply(services.healing.get(id).await)
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    reason: Option<String>,
}

/// `POST /api/v1/fixes/{id}/approve` (ops or admin): applies the patch, re-runs QA and
/// re-queues the deploy; 409 if the proposal is not pending or the ticket changed.
async fn approve_fix(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Option<Json<Decision>>, JsonRejection>,
) -> Response {
    // The role first: a caller who may not decide learns that, not what is wrong with the body.
    if let Err(e) = principal.require(Permission::Review) {
        return fail(e);
    }
    let id = match path_id(&id) {
        Ok(id) => id,
        Err(e) => return fail(e),
    };
    let reason = match body {
        Ok(b) => b.and_then(|b| b.0.reason),
        Err(r) => return bad_body(r),
    };
    reply(
        services
            .healing
            .approve(&principal, id, reason.as_deref())
            .await,
    )
}

/// `POST /api/v1/fixes/{id}/reject {"reason": "..."}` (ops or admin).
async fn reject_fix(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Json<Decision>, JsonRejection>,
) -> Response {
    if let Err(e) = principal.require(Permission::Review) {
        return fail(e);
    }
    let id = match path_id(&id) {
        Ok(id) => id,
        Err(e) => return fail(e),
    };
    let Json(d) = match body {
        Ok(b) => b,
        Err(r) => return bad_body(r),
    };
    reply(
        services
            .healing
            .reject(&principal, id, d.reason.as_deref().unwrap_or(""))
            .await,
    )
}

/// `GET /api/v1/tickets/{id}`: the ticket with its history and QA report.
async fn get_ticket(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    if let Err(e) = principal.require(Permission::Read) {
        return fail(e);
    }
    let id = match path_id(&id) {
        Ok(id) => id,
        Err(e) => return fail(e),
    };
    if let Err(e) = services.governance.authorize_ticket(&principal, id).await {
        return fail(e);
    }
    reply(services.governance.get_ticket(id).await)
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
    if let Err(e) = principal.require_brand(&input.brand_code) {
        return fail(e);
    }
    match services.copilot.chat(input).await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => fail(e),
    }
}

/// `POST /api/v1/capi/events` (tracker or admin): the body of `send_conversion_events`.
async fn capi_events(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    body: Result<Json<crate::capi::SendEventsInput>, JsonRejection>,
) -> Response {
    if let Err(e) = principal.require(Permission::Track) {
        return fail(e);
    }
    let Json(input) = match body {
        Ok(b) => b,
        Err(r) => return bad_body(r),
    };
    if let Err(e) = principal.require_brand(&input.brand_code) {
        return fail(e);
    }
    reply(services.capi.send_events(input).await)
}
