//! REST routes the web console is built on (any client may use them): who the key is, the
//! trafficking board and its live event stream, a ticket's payloads, deploys, pacing and
//! guideline review, the guideline documents the copilot cites, and the governed codes with
//! their edits and rename previews. Each checks the same permissions and brand scope as the
//! MCP tool that does the same thing, and calls the same service.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::api::{ApiError, QueryMap, path_id};
use super::sessions::{Refusal, Reservation, SessionLimits};
use crate::auth::{Permission, Principal};
use crate::copilot::{GuidelineList, ListGuidelinesInput, ReviewOutput, ReviewTicketInput};
use crate::deploy::DeployStatus;
use crate::domain::TicketStatus;
use crate::error::AppError;
use crate::governance::{
    Board, BrandList, BrandUpdate, ChannelList, ChannelUpdate, ListInput, MarketList, MarketUpdate,
    RenameImpact, RenameImpactInput, UpdateBrandInput, UpdateChannelInput, UpdateMarketInput,
};
use crate::insights::{InsightsInput, InsightsOutput, PacingOutput};
use crate::platforms::TranslatedPayloads;
use crate::startup::AppServices;
use crate::store::{self, GuidelineDoc, TicketChange};

type ApiResult<T> = Result<Json<T>, ApiError>;

/// The open event streams: ended when the server shuts down (so they do not hold it up),
/// and counted per key and in all like MCP sessions, with their own [`SessionLimits`] of the
/// same sizes (`--max-sessions-per-key`, `--max-sessions`).
#[derive(Clone)]
pub struct Streams {
    stop: CancellationToken,
    limits: Arc<SessionLimits>,
}

impl Streams {
    pub fn new(stop: CancellationToken, limits: Arc<SessionLimits>) -> Self {
        Self { stop, limits }
    }

    /// A slot for one more stream of `key` (freed when dropped), or the error to answer with.
    fn admit(&self, key: &str) -> Result<Reservation, ApiError> {
        self.limits.reserve(key).map_err(|refusal| match refusal {
            Refusal::Total(n) => ApiError::with_status(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                AppError::Unavailable(format!(
                    "the server has {n} event streams open, its limit (--max-sessions); try again later"
                )),
            ),
            Refusal::PerKey(n) => ApiError::with_status(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                AppError::validation(
                    "Authorization",
                    format!(
                        "this key has {n} event streams open, its limit (--max-sessions-per-key); close one, e.g. another console tab"
                    ),
                ),
            ),
        })
    }
}

/// Who the key is and what it may do: what the console shows and enables.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Me {
    /// The key's name.
    pub name: String,
    /// admin, trafficker, planner, ops, viewer or tracker.
    pub role: String,
    /// The brands a scoped key may act for; absent (null) for every brand.
    pub brand_scope: Option<Vec<String>>,
    /// What the key may do: read, govern, traffic, review, copilot, track.
    pub permissions: Vec<String>,
}

/// `GET /api/v1/me`.
pub(super) async fn me(Extension(principal): Extension<Principal>) -> ApiResult<Me> {
    let permissions = Permission::ALL
        .into_iter()
        .filter(|p| principal.role.allows(*p))
        .map(|p| p.as_str().to_owned())
        .collect();
    Ok(Json(Me {
        name: principal.name.clone(),
        role: principal.role.as_str().to_owned(),
        brand_scope: principal.brand_scope.clone(),
        permissions,
    }))
}

/// A query parameter, if given and not empty.
fn opt<'a>(q: &'a QueryMap, k: &str) -> Option<&'a str> {
    q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// `GET /api/v1/board?brand=&market=&channel=`.
pub(super) async fn board(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<QueryMap>,
) -> ApiResult<Board> {
    principal.require(Permission::Read)?;
    Ok(Json(
        services
            .governance
            .board(
                &principal,
                opt(&q, "brand"),
                opt(&q, "market"),
                opt(&q, "channel"),
            )
            .await?,
    ))
}

/// What one ticket history entry looks like on the event stream.
#[derive(Serialize)]
struct TicketEvent<'a> {
    ticket_id: i64,
    history_id: i64,
    event: &'a str,
    to_status: &'a str,
    /// The board column the ticket is in now.
    column: &'static str,
    at: &'a str,
}

fn ticket_event(c: &TicketChange) -> Event {
    let column = TicketStatus::parse("to_status", &c.to_status)
        .map(TicketStatus::board_column)
        .unwrap_or("unknown");
    let data = serde_json::to_string(&TicketEvent {
        ticket_id: c.ticket_id,
        history_id: c.history_id,
        event: &c.event,
        to_status: &c.to_status,
        column,
        at: &c.at,
    })
    .unwrap_or_else(|_| "{}".into());
    Event::default()
        .id(c.history_id.to_string())
        .event("ticket")
        .data(data)
}

/// Entries replayed on (re)connection before the client is told to reload instead.
const MAX_REPLAY: i64 = 10_000;
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// `GET /api/v1/events`: every ticket history entry the key may see, as Server-Sent Events
/// (`event: ticket`, `id:` the history id). With `Last-Event-ID` the entries after it are
/// sent first, so a reconnecting client misses nothing; without it the stream starts with
/// `event: ready` carrying the current id. A client that fell too far behind, or names an id
/// the server never sent, gets `event: resync` (with the current id) and should reload the
/// board. The key is checked again every keep-alive: a revoked key's stream ends.
pub(super) async fn events(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Extension(streams): Extension<Streams>,
    headers: HeaderMap,
) -> Result<Sse<impl futures::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    principal.require(Permission::Read)?;
    let after = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .filter(|id| *id >= 0)
                .ok_or_else(|| {
                    AppError::validation(
                        "Last-Event-ID",
                        "must be the id of an event this stream sent, e.g. 124",
                    )
                })?,
        ),
    };
    // The key as presented (none with --no-auth), to check it is still live later.
    let key_hash = super::bearer(&headers).map(|t| crate::auth::hash_key(t.trim()));
    // Counted per key (its hash; the local operator without one).
    let slot = streams.admit(key_hash.as_deref().unwrap_or(&principal.name))?;
    // Subscribe before reading the history, so nothing falls between the two.
    let feed = services.watch.feed();
    let db = services.governance.db().clone();
    let latest = store::latest_ticket_history_id(&db).await?;
    let (tx, rx) = mpsc::channel::<Result<Event, Infallible>>(64);
    let start = match after {
        // Ahead of the history (another server, a restored database), or too far behind
        // to replay: start from now and tell the client to reload.
        Some(a) if a > latest || latest - a > MAX_REPLAY => Start::Resync(latest),
        Some(a) => Start::Replay(a),
        None => Start::Ready(latest),
    };
    let stream = Stream {
        db,
        who: principal,
        key_hash,
        _slot: slot,
    };
    tokio::spawn(stream.pump(feed, tx, start));
    // The response ends when the server stops, even if the client stopped reading.
    Ok(Sse::new(rx.take_until(streams.stop.cancelled_owned())))
}

enum Start {
    Replay(i64),
    Ready(i64),
    Resync(i64),
}

/// One open event stream.
struct Stream {
    db: store::Db,
    who: Principal,
    key_hash: Option<String>,
    _slot: Reservation,
}

impl Stream {
    fn visible(&self, c: &TicketChange) -> bool {
        self.who.require_brand(&c.brand_code).is_ok()
    }

    /// Whether the key that opened the stream is still live (always, without a key).
    async fn key_live(&self) -> bool {
        let Some(hash) = &self.key_hash else {
            return true;
        };
        let found = async {
            let mut c = self.db.pool().acquire().await?;
            store::find_live_key(&mut c, hash).await
        }
        .await;
        match found {
            Ok(k) => k.is_some(),
            // A database hiccup is not a revocation.
            Err(_) => true,
        }
    }

    /// Feed the stream until the client goes away, the key is revoked or the feed closes.
    async fn pump(
        self,
        mut feed: tokio::sync::broadcast::Receiver<std::sync::Arc<TicketChange>>,
        mut tx: mpsc::Sender<Result<Event, Infallible>>,
        start: Start,
    ) {
        let mut sent = match start {
            Start::Replay(a) => {
                let mut sent = a;
                if !self.catch_up(&mut tx, &mut sent).await {
                    return;
                }
                sent
            }
            Start::Ready(latest) => {
                let ready = Event::default()
                    .id(latest.to_string())
                    .event("ready")
                    .data(format!("{{\"last_event_id\": {latest}}}"));
                if tx.send(Ok(ready)).await.is_err() {
                    return;
                }
                latest
            }
            Start::Resync(latest) => {
                if tx.send(Ok(resync(latest))).await.is_err() {
                    return;
                }
                latest
            }
        };
        let mut tick = tokio::time::interval(KEEP_ALIVE);
        tick.tick().await;
        loop {
            let next = tokio::select! {
                _ = tick.tick() => {
                    if !self.key_live().await
                        || tx.send(Ok(Event::default().comment("keep-alive"))).await.is_err()
                    {
                        return;
                    }
                    continue;
                }
                next = feed.recv() => next,
            };
            match next {
                Ok(c) => {
                    if c.history_id <= sent {
                        continue;
                    }
                    sent = c.history_id;
                    if self.visible(&c) && tx.send(Ok(ticket_event(&c))).await.is_err() {
                        return;
                    }
                }
                // Fell behind the feed: read what was missed from the history itself.
                Err(RecvError::Lagged(_)) => {
                    if !self.catch_up(&mut tx, &mut sent).await {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            }
        }
    }

    /// Send the history after `sent` from the store. False when the stream should end.
    async fn catch_up(
        &self,
        tx: &mut mpsc::Sender<Result<Event, Infallible>>,
        sent: &mut i64,
    ) -> bool {
        let mut replayed = 0;
        loop {
            let rows = match store::ticket_changes_after(&self.db, *sent).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "event stream could not read ticket history");
                    return false;
                }
            };
            let full = rows.len() >= 1000;
            for c in rows {
                *sent = c.history_id;
                if self.visible(&c) && tx.send(Ok(ticket_event(&c))).await.is_err() {
                    return false;
                }
                replayed += 1;
            }
            if !full {
                return true;
            }
            if replayed >= MAX_REPLAY {
                let latest = store::latest_ticket_history_id(&self.db)
                    .await
                    .unwrap_or(*sent);
                *sent = latest;
                return tx.send(Ok(resync(latest))).await.is_ok();
            }
        }
    }
}

/// Reload: the stream goes on from `latest`.
fn resync(latest: i64) -> Event {
    Event::default()
        .id(latest.to_string())
        .event("resync")
        .data(format!("{{\"last_event_id\": {latest}}}"))
}

/// `GET /api/v1/tickets/{id}/payloads`: the exact request bodies (`preview_payloads`).
pub(super) async fn ticket_payloads(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<TranslatedPayloads> {
    let id = readable_ticket(&services, &principal, Permission::Read, &id).await?;
    Ok(Json(services.qa.preview_payloads(id).await?))
}

/// `GET /api/v1/tickets/{id}/deploys`: runs, attempts and the parsed platform errors.
pub(super) async fn ticket_deploys(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<DeployStatus> {
    let id = readable_ticket(&services, &principal, Permission::Read, &id).await?;
    Ok(Json(services.deploy.status(id).await?))
}

/// `GET /api/v1/tickets/{id}/pacing`: as `get_pacing` for the ticket.
pub(super) async fn ticket_pacing(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<PacingOutput> {
    let id = readable_ticket(&services, &principal, Permission::Read, &id).await?;
    Ok(Json(services.insights.pacing(Some(id), None).await?))
}

/// `GET /api/v1/tickets/{id}/insights?from=&to=`: daily metrics as of the last sync (as
/// `get_insights` for the ticket).
pub(super) async fn ticket_insights(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    Query(q): Query<QueryMap>,
) -> ApiResult<InsightsOutput> {
    let ticket_id = readable_ticket(&services, &principal, Permission::Read, &id).await?;
    let input = InsightsInput {
        campaign_id: None,
        ticket_id: Some(ticket_id),
        brand_code: None,
        from: opt(&q, "from").map(str::to_owned),
        to: opt(&q, "to").map(str::to_owned),
        breakdown: None,
        limit: None,
        offset: None,
    };
    Ok(Json(services.insights.insights(input).await?))
}

/// `POST /api/v1/tickets/{id}/guideline-review`: as `review_ticket_against_guidelines`.
pub(super) async fn ticket_guideline_review(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<ReviewOutput> {
    let ticket_id = readable_ticket(&services, &principal, Permission::Copilot, &id).await?;
    Ok(Json(
        services
            .copilot
            .review_ticket(ReviewTicketInput { ticket_id })
            .await?,
    ))
}

/// The ticket id in the path, if the key may do `p` to it.
async fn readable_ticket(
    services: &AppServices,
    who: &Principal,
    p: Permission,
    raw: &str,
) -> Result<i64, AppError> {
    who.require(p)?;
    let id = path_id(raw)?;
    services.governance.authorize_ticket(who, id).await?;
    Ok(id)
}

/// `GET /api/v1/guidelines?brand=`: the ingested documents the key may see.
pub(super) async fn guidelines(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<QueryMap>,
) -> ApiResult<GuidelineList> {
    principal.require(Permission::Read)?;
    let brand_code = opt(&q, "brand").map(|b| b.to_ascii_uppercase());
    if let Some(b) = &brand_code {
        principal.require_brand(b)?;
    }
    let mut list = services
        .copilot
        .list(ListGuidelinesInput { brand_code })
        .await?;
    list.documents
        .retain(|d| principal.require_brand(&d.brand_code).is_ok());
    Ok(Json(list))
}

/// One page of a guideline document's text.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct GuidelinePage {
    pub page: usize,
    pub text: String,
}

/// A guideline document with its text page by page: what a citation links to.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct GuidelineText {
    pub document: GuidelineDoc,
    pub pages: Vec<GuidelinePage>,
}

/// `GET /api/v1/guidelines/{id}`.
pub(super) async fn guideline(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<GuidelineText> {
    principal.require(Permission::Read)?;
    let id = path_id(&id)?;
    let (document, pages) = services.copilot.document_text(id).await?;
    principal.require_brand(&document.brand_code)?;
    let pages = pages
        .into_iter()
        .enumerate()
        .map(|(i, text)| GuidelinePage { page: i + 1, text })
        .collect();
    Ok(Json(GuidelineText { document, pages }))
}

/// `?include_archived=false` hides archived entries; the console shows them by default.
fn list_input(q: &QueryMap) -> Result<ListInput, AppError> {
    let include_archived = match opt(q, "include_archived") {
        None | Some("true") => true,
        Some("false") => false,
        Some(other) => {
            return Err(AppError::validation(
                "include_archived",
                format!("\"{other}\" is not true or false"),
            ));
        }
    };
    Ok(ListInput { include_archived })
}

/// `GET /api/v1/markets`.
pub(super) async fn markets(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<QueryMap>,
) -> ApiResult<MarketList> {
    principal.require(Permission::Read)?;
    Ok(Json(
        services.governance.list_markets(list_input(&q)?).await?,
    ))
}

/// `GET /api/v1/brands` (a brand-scoped key sees its own brands).
pub(super) async fn brands(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<QueryMap>,
) -> ApiResult<BrandList> {
    principal.require(Permission::Read)?;
    let mut list = services.governance.list_brands(list_input(&q)?).await?;
    list.brands
        .retain(|b| principal.require_brand(&b.code).is_ok());
    Ok(Json(list))
}

/// `GET /api/v1/channels`.
pub(super) async fn channels(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<QueryMap>,
) -> ApiResult<ChannelList> {
    principal.require(Permission::Read)?;
    Ok(Json(
        services.governance.list_channels(list_input(&q)?).await?,
    ))
}

/// The body of a `PATCH /api/v1/{kind}/{code}` as the update tool's input: the code comes
/// from the path, the fields from the body (unknown fields are refused by name).
fn update_input<T: DeserializeOwned>(
    code: &str,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<T, ApiError> {
    let Json(body) = body?;
    let serde_json::Value::Object(mut fields) = body else {
        return Err(AppError::validation(
            "body",
            "send a JSON object of the fields to change, e.g. {\"region\": \"EMEA\"}",
        )
        .into());
    };
    if fields.contains_key("code") {
        return Err(AppError::validation(
            "code",
            "the code is in the path; to rename it send new_code",
        )
        .into());
    }
    fields.insert("code".into(), serde_json::Value::String(code.to_owned()));
    serde_path_to_error::deserialize(serde_json::Value::Object(fields)).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        ApiError::from(AppError::validation(&field, e.into_inner().to_string()))
    })
}

/// `PATCH /api/v1/markets/{code}` (admin with a key for every brand): as `update_market`.
pub(super) async fn update_market(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Path(code): Path<String>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> ApiResult<MarketUpdate> {
    principal.require(Permission::Govern)?;
    principal.require_unscoped("change markets")?;
    let input: UpdateMarketInput = update_input(&code, body)?;
    Ok(Json(
        services.governance.update_market(&principal, input).await?,
    ))
}

/// `PATCH /api/v1/brands/{code}` (admin): as `update_brand`.
pub(super) async fn update_brand(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Path(code): Path<String>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> ApiResult<BrandUpdate> {
    principal.require(Permission::Govern)?;
    principal.require_brand(&code)?;
    let input: UpdateBrandInput = update_input(&code, body)?;
    Ok(Json(
        services.governance.update_brand(&principal, input).await?,
    ))
}

/// `PATCH /api/v1/channels/{code}` (admin with a key for every brand): as `update_channel`.
pub(super) async fn update_channel(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Path(code): Path<String>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> ApiResult<ChannelUpdate> {
    principal.require(Permission::Govern)?;
    principal.require_unscoped("change channels")?;
    let input: UpdateChannelInput = update_input(&code, body)?;
    Ok(Json(
        services
            .governance
            .update_channel(&principal, input)
            .await?,
    ))
}

/// `GET /api/v1/rename-impact?segment=market&code=US&new_code=USA`: as `rename_impact`.
pub(super) async fn rename_impact(
    State(services): State<AppServices>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<QueryMap>,
) -> ApiResult<RenameImpact> {
    principal.require(Permission::Read)?;
    principal.require_unscoped("preview renames of shared codes")?;
    let need = |k: &str| {
        opt(&q, k).map(str::to_owned).ok_or_else(|| {
            AppError::validation(
                k,
                format!("{k} is required, e.g. ?segment=market&code=US&new_code=USA"),
            )
        })
    };
    let input = RenameImpactInput {
        segment: need("segment")?,
        code: need("code")?,
        new_code: need("new_code")?,
    };
    Ok(Json(services.governance.rename_impact(input).await?))
}
