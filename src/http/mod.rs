//! HTTP edge: MCP Streamable HTTP at /mcp and the REST API behind bearer-key auth, health,
//! readiness and metrics; Host/Origin checks in front of all of it.
//!
//! The server loop is ours rather than `axum::serve` because axum does not expose hyper's
//! connection settings: without a timer hyper never applies its header-read timeout, so a
//! client sending headers slowly held a connection open for good.

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rmcp::model::{ClientJsonRpcMessage, ClientRequest};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub mod api;
pub mod api_console;
pub mod console;
pub mod error;
pub mod openapi;
pub mod sessions;

use crate::auth::{KeyVerifier, Principal};
use crate::error::{AppError, AppResult};
use crate::mcp::OmniMcp;
use crate::startup::AppServices;
use crate::store::Db;
use sessions::{LimitedSessions, Refusal, SessionLimits};

#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub bind: SocketAddr,
    pub no_auth: bool,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub max_body_bytes: usize,
    /// How long a client may take to send a request's headers; an idle keep-alive connection
    /// is closed after the same time.
    pub header_read_timeout: Duration,
    /// Longest a REST or probe request may take, and longest the body of an MCP POST may take
    /// to arrive. MCP responses and event streams are not cut by it.
    pub request_timeout: Duration,
    /// Open MCP sessions one key may hold.
    pub max_sessions_per_key: usize,
    /// Open MCP sessions in all.
    pub max_sessions: usize,
    /// An MCP session with no traffic for this long is closed.
    pub session_idle: Duration,
}

impl HttpOptions {
    /// Defaults: 1 MiB bodies, 30 s for headers, 120 s per request, 64 sessions per key and
    /// 1,024 in all, sessions closed after 5 idle minutes.
    pub fn loopback(bind: SocketAddr) -> Self {
        Self {
            bind,
            no_auth: false,
            allowed_hosts: vec![],
            allowed_origins: vec![],
            max_body_bytes: 1_048_576,
            header_read_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(120),
            max_sessions_per_key: 64,
            max_sessions: 1024,
            session_idle: Duration::from_secs(300),
        }
    }

    /// Refuse settings that would expose an unauthenticated server.
    pub fn check(&self) -> AppResult<()> {
        if self.no_auth && !self.bind.ip().is_loopback() {
            return Err(AppError::validation(
                "--no-auth",
                format!(
                    "is only allowed on a loopback address, but --bind is {}; bind 127.0.0.1 or create a key with `omnitraffick keys create`",
                    self.bind
                ),
            ));
        }
        Ok(())
    }

    fn host_allowlist(&self) -> Vec<String> {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1", "[::1]"]
            .map(String::from)
            .to_vec();
        hosts.extend(
            self.allowed_hosts
                .iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty()),
        );
        let ip = self.bind.ip();
        if !ip.is_unspecified() {
            hosts.push(ip.to_string());
        }
        hosts
    }
}

#[derive(Clone)]
struct EdgeState {
    db: Db,
    verifier: Arc<KeyVerifier>,
    no_auth: bool,
    hosts: Arc<Vec<String>>,
    origins: Arc<Vec<String>>,
    max_body_bytes: usize,
    request_timeout: Duration,
    sessions: Arc<SessionLimits>,
    session_idle: Duration,
}

/// Host without the port: "example.com:8080" -> "example.com", "[::1]:80" -> "[::1]".
fn host_name(host: &str) -> String {
    let h = host.trim().to_ascii_lowercase();
    if h.starts_with('[') {
        return h.split(']').next().map(|s| format!("{s}]")).unwrap_or(h);
    }
    match h.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name.to_owned(),
        _ => h,
    }
}

fn origin_allowed(origin: &str, allowed: &[String], hosts: &[String]) -> bool {
    if allowed.iter().any(|a| a == origin) {
        return true;
    }
    // Same-machine browser tools (the MCP Inspector) on any port are fine for loopback hosts.
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let name = host_name(rest);
    ["localhost", "127.0.0.1", "[::1]"].contains(&name.as_str()) && hosts.iter().any(|h| h == &name)
}

/// DNS-rebinding protection (403), in front of every route: the probes and /metrics too.
async fn check_host(
    State(st): State<EdgeState>,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(host_name);
    match host {
        Some(h) if st.hosts.iter().any(|a| a == &h) => {}
        _ => {
            return error::render(
                StatusCode::FORBIDDEN,
                &AppError::Forbidden("the Host header is not an allowed host for this server; add it with --allowed-host".into()),
            );
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ok = origin
            .to_str()
            .is_ok_and(|o| origin_allowed(o, &st.origins, &st.hosts));
        if !ok {
            return error::render(
                StatusCode::FORBIDDEN,
                &AppError::Forbidden(
                    "the Origin header is not allowed; add it with --allowed-origin".into(),
                ),
            );
        }
    }
    next.run(req).await
}

/// The key in `Authorization: Bearer <key>`, if the request has one.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
}

/// Bearer auth (401) for /mcp and /api, after the Host check.
async fn authenticate(
    State(st): State<EdgeState>,
    headers: HeaderMap,
    mut req: Request,
    next: Next,
) -> Response {
    let principal = if st.no_auth {
        Principal::local_operator()
    } else {
        let token = bearer(&headers);
        let Some(token) = token else {
            return error::render(
                StatusCode::UNAUTHORIZED,
                &AppError::Unauthorized("send `Authorization: Bearer <key>`; create a key with `omnitraffick keys create --role ROLE --name NAME`".into()),
            );
        };
        match st.verifier.verify(&st.db, token).await {
            Ok(p) => p,
            Err(e @ AppError::Unauthorized(_)) => {
                return error::render(StatusCode::UNAUTHORIZED, &e);
            }
            Err(e) => {
                tracing::error!(error = %e, "key verification failed");
                return error::render(StatusCode::SERVICE_UNAVAILABLE, &e);
            }
        }
    };
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// The REST routes and probes end after `request_timeout`, with the JSON error shape. (Not
/// /mcp: its responses are event streams that may rightly stay open.)
async fn deadline(State(st): State<EdgeState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(st.request_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => error::render(
            StatusCode::SERVICE_UNAVAILABLE,
            &AppError::Unavailable(format!(
                "the request took longer than {} s and was stopped; try again later (the limit is --request-timeout-secs)",
                st.request_timeout.as_secs()
            )),
        ),
    }
}

/// A POST to /mcp: its body must arrive in time, fit the limit and be one JSON-RPC message;
/// anything else gets a JSON-RPC error here (rmcp answers those in plain text). An
/// `initialize` outside a session also needs a free session slot (see `sessions`).
async fn mcp_body(State(st): State<EdgeState>, req: Request, next: Next) -> Response {
    if req.method() != axum::http::Method::POST {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let limit = st.max_body_bytes;
    let bytes =
        match tokio::time::timeout(st.request_timeout, axum::body::to_bytes(body, limit)).await {
            Ok(Ok(b)) => b,
            Ok(Err(_)) => {
                return json_rpc_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    -32600,
                    format!(
                        "request body is larger than the {limit}-byte limit; send smaller requests"
                    ),
                );
            }
            Err(_) => {
                return json_rpc_error(
                    StatusCode::REQUEST_TIMEOUT,
                    -32600,
                    format!(
                        "the request body did not arrive within {} s",
                        st.request_timeout.as_secs()
                    ),
                );
            }
        };
    let message = match serde_json::from_slice::<ClientJsonRpcMessage>(&bytes) {
        Ok(m) => m,
        Err(e) if e.is_data() => {
            return json_rpc_error(
                StatusCode::BAD_REQUEST,
                -32600,
                format!(
                    "Invalid Request: the body is JSON but not one JSON-RPC request, notification or response ({e})"
                ),
            );
        }
        Err(e) => {
            return json_rpc_error(
                StatusCode::BAD_REQUEST,
                -32700,
                format!("Parse error: the body is not valid JSON ({e})"),
            );
        }
    };
    let opens_session = !parts.headers.contains_key("mcp-session-id")
        && matches!(&message, ClientJsonRpcMessage::Request(r)
            if matches!(r.request, ClientRequest::InitializeRequest(_)));
    let _reservation = if opens_session {
        let key = parts
            .extensions
            .get::<Principal>()
            .map(|p| p.name.clone())
            .unwrap_or_default();
        match st.sessions.reserve(&key) {
            Ok(r) => {
                parts.extensions.insert(r.ticket());
                Some(r)
            }
            Err(refusal) => return session_refused(refusal, st.session_idle),
        }
    } else {
        None
    };
    // The reservation lives until rmcp has created the session (or failed to).
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

fn session_refused(refusal: Refusal, idle: Duration) -> Response {
    let idle = idle.as_secs();
    match refusal {
        Refusal::PerKey(n) => error::render(
            StatusCode::TOO_MANY_REQUESTS,
            &AppError::Unavailable(format!(
                "this key already has {n} open MCP sessions, the most one key may hold; close one (DELETE /mcp with its Mcp-Session-Id) or wait for an idle one to expire ({idle} s); the limit is --max-sessions-per-key"
            )),
        ),
        Refusal::Total(n) => error::render(
            StatusCode::SERVICE_UNAVAILABLE,
            &AppError::Unavailable(format!(
                "the server already has {n} open MCP sessions, the most it holds; try again later (idle sessions expire after {idle} s); the limit is --max-sessions"
            )),
        ),
    }
}

/// A JSON-RPC error response with no id, as the spec requires for unparseable input.
fn json_rpc_error(status: StatusCode, code: i64, message: String) -> Response {
    let body = serde_json::json!({ "jsonrpc": "2.0", "id": null, "error": { "code": code, "message": message } });
    (status, Json(body)).into_response()
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(st): State<EdgeState>) -> Response {
    match st.db.ping().await {
        Ok(()) => Json(serde_json::json!({ "status": "ready" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "status": "unavailable", "reason": "database unreachable" }))).into_response()
        }
    }
}

async fn openapi_json() -> Json<serde_json::Value> {
    Json(openapi::document())
}

async fn metrics_text(State(st): State<EdgeState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::telemetry::metrics::render(&st.db).await,
    )
        .into_response()
}

/// Build the HTTP application. `shutdown` ends MCP sessions when cancelled.
pub fn router(
    services: AppServices,
    db: Db,
    opts: &HttpOptions,
    shutdown: CancellationToken,
) -> Router {
    let hosts = opts.host_allowlist();
    let mut mcp_config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(
            hosts
                .iter()
                .map(|h| h.trim_matches(|c| c == '[' || c == ']').to_owned())
                .collect::<Vec<_>>(),
        )
        .with_max_request_body_bytes(opts.max_body_bytes)
        .with_cancellation_token(shutdown.clone());
    if !opts.allowed_origins.is_empty() {
        mcp_config = mcp_config.with_allowed_origins(opts.allowed_origins.clone());
    }
    let streams = api_console::Streams::new(
        shutdown.clone(),
        SessionLimits::new(opts.max_sessions_per_key, opts.max_sessions),
    );
    services.watch.start();
    let limits = SessionLimits::new(opts.max_sessions_per_key, opts.max_sessions);
    let mut local = LocalSessionManager::default();
    local.session_config.keep_alive = Some(opts.session_idle);
    let mcp_services = services.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(OmniMcp::for_http(mcp_services.clone())),
        LimitedSessions::new(local, limits.clone()).into(),
        mcp_config,
    );
    let state = EdgeState {
        db,
        verifier: Arc::new(KeyVerifier::default()),
        no_auth: opts.no_auth,
        hosts: Arc::new(hosts),
        origins: Arc::new(opts.allowed_origins.clone()),
        max_body_bytes: opts.max_body_bytes,
        request_timeout: opts.request_timeout,
        sessions: limits,
        session_idle: opts.session_idle,
    };
    let mcp = Router::new()
        .nest_service("/mcp", mcp)
        .layer(middleware::from_fn_with_state(state.clone(), mcp_body));
    let api = api::routes(services)
        .layer(axum::Extension(streams))
        .layer(middleware::from_fn_with_state(state.clone(), deadline));
    let authenticated = mcp
        .merge(api)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate));
    let open = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/api/v1/openapi.json", get(openapi_json))
        .merge(console::routes(console::dev_dir()))
        .layer(middleware::from_fn_with_state(state.clone(), deadline));
    open.merge(authenticated)
        .layer(middleware::from_fn_with_state(state.clone(), check_host))
        .layer(DefaultBodyLimit::max(opts.max_body_bytes))
        .with_state(state)
}

/// Bind and serve until `shutdown` is cancelled.
pub async fn serve(
    services: AppServices,
    db: Db,
    opts: HttpOptions,
    shutdown: CancellationToken,
) -> AppResult<()> {
    opts.check()?;
    let listener = tokio::net::TcpListener::bind(opts.bind)
        .await
        .map_err(|e| {
            AppError::validation("--bind", format!("cannot listen on {}: {e}", opts.bind))
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| AppError::Internal(e.to_string()))?;
    tracing::info!(%addr, auth = !opts.no_auth, "serving MCP at http://{addr}/mcp");
    let app = router(services, db, &opts, shutdown.child_token());
    serve_on(listener, app, &opts, shutdown).await;
    Ok(())
}

/// Serve `app` on `listener` until `shutdown` is cancelled, then wait for the open
/// connections to finish their requests. The tests and benchmarks serve through this too.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    app: Router,
    opts: &HttpOptions,
    shutdown: CancellationToken,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout);
    let connections = tokio_util::task::TaskTracker::new();
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        // An MCP response goes out in several small writes; with Nagle on, each later write
        // waits for the client's delayed ACK, about 40 ms per call on a keep-alive connection.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = http1.serve_connection(TokioIo::new(stream), service);
        let stop = shutdown.clone();
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// After a failed accept: per-connection errors are the client's and need nothing; anything
/// else (out of file descriptors) gets a pause so the loop does not spin.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
