//! The REST API (`/api/v1/...`) beside MCP: the same services, behind the same bearer-key
//! guard, with JSON errors in the same `{"error": {code, message, field}}` shape. Routes are
//! one table ([`table`]) that builds the router and that the OpenAPI document is checked
//! against, so a route cannot exist undocumented.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, Query, State};
use axum::routing::{MethodRouter, get, patch, post};
use axum::{Json, Router};

use super::api_console as c;
pub use super::error::{ApiError, status_of};
use crate::auth::{Permission, Principal};
use crate::capi::{SendEventsInput, SendEventsOutput};
use crate::changes::{ChangeDecision, ChangeList, ChangeView, ListChangesInput};
use crate::copilot::{Answer, ChatInput};
use crate::domain::TicketView;
use crate::error::AppError;
use crate::healing::{DecisionOutput, FixList, FixProposalView};
use crate::startup::AppServices;

type ApiResult<T> = Result<Json<T>, ApiError>;

/// Every REST route: method, path and handler.
pub fn table() -> Vec<(&'static str, &'static str, MethodRouter<AppServices>)> {
    vec![
        ("post", "/api/v1/copilot/chat", post(copilot_chat)),
        ("get", "/api/v1/fixes", get(list_fixes)),
        ("get", "/api/v1/fixes/{id}", get(get_fix)),
        ("post", "/api/v1/fixes/{id}/approve", post(approve_fix)),
        ("post", "/api/v1/fixes/{id}/reject", post(reject_fix)),
        ("get", "/api/v1/changes", get(list_changes)),
        ("get", "/api/v1/changes/{id}", get(get_change)),
        ("post", "/api/v1/changes/{id}/approve", post(approve_change)),
        ("post", "/api/v1/changes/{id}/reject", post(reject_change)),
        ("get", "/api/v1/tickets/{id}", get(get_ticket)),
        ("post", "/api/v1/capi/events", post(capi_events)),
        ("get", "/api/v1/me", get(c::me)),
        ("get", "/api/v1/board", get(c::board)),
        ("get", "/api/v1/events", get(c::events)),
        (
            "get",
            "/api/v1/tickets/{id}/payloads",
            get(c::ticket_payloads),
        ),
        (
            "get",
            "/api/v1/tickets/{id}/deploys",
            get(c::ticket_deploys),
        ),
        ("get", "/api/v1/tickets/{id}/pacing", get(c::ticket_pacing)),
        (
            "get",
            "/api/v1/tickets/{id}/insights",
            get(c::ticket_insights),
        ),
        (
            "post",
            "/api/v1/tickets/{id}/guideline-review",
            post(c::ticket_guideline_review),
        ),
        ("get", "/api/v1/guidelines", get(c::guidelines)),
        ("get", "/api/v1/guidelines/{id}", get(c::guideline)),
        ("get", "/api/v1/markets", get(c::markets)),
        ("patch", "/api/v1/markets/{code}", patch(c::update_market)),
        ("get", "/api/v1/brands", get(c::brands)),
        ("patch", "/api/v1/brands/{code}", patch(c::update_brand)),
        ("get", "/api/v1/channels", get(c::channels)),
        ("patch", "/api/v1/channels/{code}", patch(c::update_channel)),
        ("get", "/api/v1/rename-impact", get(c::rename_impact)),
    ]
}

/// (method, path) of every REST route, for the OpenAPI check.
pub fn route_list() -> Vec<(&'static str, &'static str)> {
    table().into_iter().map(|(m, p, _)| (m, p)).collect()
}

pub fn routes<S: Clone + Send + Sync + 'static>(services: AppServices) -> Router<S> {
    table()
        .into_iter()
        .fold(Router::new(), |r, (_, path, handler)| {
            r.route(path, handler)
        })
        .with_state(services)
}

pub(super) fn path_id(raw: &str) -> Result<i64, AppError> {
    raw.parse::<i64>().map_err(|_| {
        AppError::validation(
            "id",
            format!("\"{raw}\" is not an id; use a number such as 7"),
        )
    })
}

pub(super) type QueryMap = std::collections::HashMap<String, String>;

/// A numeric query parameter, if given.
fn num(q: &QueryMap, k: &str) -> Result<Option<i64>, AppError> {
    q.get(k)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| AppError::validation(k, format!("\"{v}\" is not a number")))
        })
        .transpose()
}

/// `GET /api/v1/fixes?status=&ticket=&limit=&before_id=` (any reading role).
async fn list_fixes(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<QueryMap>,
) -> ApiResult<FixList> {
    principal.require(Permission::Read)?;
    let num = |k: &str| num(&q, k);
    let input = crate::healing::ListFixesInput {
        status: q.get("status").cloned(),
        ticket_id: num("ticket")?,
        limit: num("limit")?,
        before_id: num("before_id")?,
    };
    Ok(Json(services.healing.list(&principal, input).await?))
}

/// `GET /api/v1/fixes/{id}`: the proposal, before/after payloads, diff and audit trail.
async fn get_fix(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<FixProposalView> {
    principal.require(Permission::Read)?;
    let id = path_id(&id)?;
    services.healing.authorize(&principal, id).await?;
    Ok(Json(services.healing.get(id).await?))
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
) -> ApiResult<DecisionOutput> {
    // The role first: a caller who may not decide learns that, not what is wrong with the body.
    principal.require(Permission::Review)?;
    let id = path_id(&id)?;
    let reason = body?.and_then(|b| b.0.reason);
    Ok(Json(
        services
            .healing
            .approve(&principal, id, reason.as_deref())
            .await?,
    ))
}

/// `POST /api/v1/fixes/{id}/reject {"reason": "..."}` (ops or admin).
async fn reject_fix(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Json<Decision>, JsonRejection>,
) -> ApiResult<DecisionOutput> {
    principal.require(Permission::Review)?;
    let id = path_id(&id)?;
    let Json(d) = body?;
    Ok(Json(
        services
            .healing
            .reject(&principal, id, d.reason.as_deref().unwrap_or(""))
            .await?,
    ))
}

/// `GET /api/v1/changes?status=&ticket=&limit=&before_id=` (any reading role).
async fn list_changes(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<QueryMap>,
) -> ApiResult<ChangeList> {
    principal.require(Permission::Read)?;
    let input = ListChangesInput {
        status: q.get("status").cloned(),
        ticket_id: num(&q, "ticket")?,
        limit: num(&q, "limit")?,
        before_id: num(&q, "before_id")?,
    };
    Ok(Json(services.changes.list(&principal, input).await?))
}

/// `GET /api/v1/changes/{id}`: the change, its diff, money before and after, per-object
/// results and audit trail.
async fn get_change(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<ChangeView> {
    principal.require(Permission::Read)?;
    let id = path_id(&id)?;
    services.changes.authorize(&principal, id).await?;
    Ok(Json(services.changes.view(id).await?))
}

/// `POST /api/v1/changes/{id}/approve` (ops or admin): queues it; 409 unless PENDING_REVIEW.
async fn approve_change(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Option<Json<Decision>>, JsonRejection>,
) -> ApiResult<ChangeDecision> {
    principal.require(Permission::Review)?;
    let id = path_id(&id)?;
    let reason = body?.and_then(|b| b.0.reason);
    Ok(Json(
        services
            .changes
            .approve(&principal, id, reason.as_deref())
            .await?,
    ))
}

/// `POST /api/v1/changes/{id}/reject {"reason": "..."}` (ops or admin): nothing is sent.
async fn reject_change(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Json<Decision>, JsonRejection>,
) -> ApiResult<ChangeDecision> {
    principal.require(Permission::Review)?;
    let id = path_id(&id)?;
    let Json(d) = body?;
    Ok(Json(
        services
            .changes
            .reject(&principal, id, d.reason.as_deref())
            .await?,
    ))
}

/// `GET /api/v1/tickets/{id}`: the ticket with its history and QA report.
async fn get_ticket(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<TicketView> {
    principal.require(Permission::Read)?;
    let id = path_id(&id)?;
    services.governance.authorize_ticket(&principal, id).await?;
    Ok(Json(services.governance.get_ticket(id).await?))
}

/// `POST /api/v1/copilot/chat` (any role but tracker):
/// `{"brand_code": "AUR", "messages": [{"role": "user", "content": "..."}]}` ->
/// `{"answer", "found", "mode", "retrieval", "citations": [...]}`.
async fn copilot_chat(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    body: Result<Json<ChatInput>, JsonRejection>,
) -> ApiResult<Answer> {
    principal.require(Permission::Copilot)?;
    let Json(input) = body?;
    principal.require_brand(&input.brand_code)?;
    Ok(Json(services.copilot.chat(input).await?))
}

/// `POST /api/v1/capi/events` (tracker or admin): the body of `send_conversion_events`.
async fn capi_events(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    body: Result<Json<SendEventsInput>, JsonRejection>,
) -> ApiResult<SendEventsOutput> {
    principal.require(Permission::Track)?;
    let Json(input) = body?;
    principal.require_brand(&input.brand_code)?;
    Ok(Json(services.capi.send_events(input).await?))
}
