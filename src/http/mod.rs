//! HTTP edge: MCP Streamable HTTP at /mcp behind bearer-key auth and Host/Origin checks,
//! plus health and readiness probes.

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub mod api;
pub mod metrics;
pub mod openapi;

use crate::auth::{KeyVerifier, Principal};
use crate::error::{AppError, AppResult};
use crate::mcp::{AppServices, OmniMcp};
use crate::store::Db;

#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub bind: SocketAddr,
    pub no_auth: bool,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub max_body_bytes: usize,
}

impl HttpOptions {
    pub fn loopback(bind: SocketAddr) -> Self {
        Self {
            bind,
            no_auth: false,
            allowed_hosts: vec![],
            allowed_origins: vec![],
            max_body_bytes: 1_048_576,
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
}

fn error_response(status: StatusCode, err: &AppError) -> Response {
    let mut resp = (status, Json(serde_json::json!({ "error": err.body() }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    resp
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

/// DNS-rebinding protection first (403), then bearer auth (401).
async fn guard(
    State(st): State<EdgeState>,
    headers: HeaderMap,
    mut req: Request,
    next: Next,
) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(host_name);
    match host {
        Some(h) if st.hosts.iter().any(|a| a == &h) => {}
        _ => {
            return error_response(
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
            return error_response(
                StatusCode::FORBIDDEN,
                &AppError::Forbidden(
                    "the Origin header is not allowed; add it with --allowed-origin".into(),
                ),
            );
        }
    }
    let principal = if st.no_auth {
        Principal::local_operator()
    } else {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            });
        let Some(token) = token else {
            return error_response(
                StatusCode::UNAUTHORIZED,
                &AppError::Unauthorized("send `Authorization: Bearer <key>`; create a key with `omnitraffick keys create --role ROLE --name NAME`".into()),
            );
        };
        match st.verifier.verify(&st.db, token).await {
            Ok(p) => p,
            Err(e @ AppError::Unauthorized(_)) => {
                return error_response(StatusCode::UNAUTHORIZED, &e);
            }
            Err(e) => {
                tracing::error!(error = %e, "key verification failed");
                return error_response(StatusCode::SERVICE_UNAVAILABLE, &e);
            }
        }
    };
    req.extensions_mut().insert(principal);
    if req.method() == axum::http::Method::POST {
        req = match check_json_rpc_body(req, st.max_body_bytes).await {
            Ok(r) => r,
            Err(resp) => return resp,
        };
    }
    next.run(req).await
}

/// A JSON-RPC error response with no id, as the spec requires for unparseable input.
fn json_rpc_error(status: StatusCode, code: i64, message: String) -> Response {
    let body = serde_json::json!({ "jsonrpc": "2.0", "id": null, "error": { "code": code, "message": message } });
    (status, Json(body)).into_response()
}

/// Read the body within the size limit and make sure it is JSON, so a malformed or oversized
/// request gets a JSON-RPC error (-32700 parse error, or 413) instead of a transport error.
async fn check_json_rpc_body(req: Request, limit: usize) -> Result<Request, Response> {
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return Err(json_rpc_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                -32600,
                format!(
                    "request body is larger than the {limit}-byte limit; send smaller requests"
                ),
            ));
        }
    };
    // REST actions such as POST /api/v1/fixes/{id}/approve may have no body at all.
    if bytes.is_empty() && parts.uri.path().starts_with("/api/") {
        return Ok(Request::from_parts(parts, axum::body::Body::from(bytes)));
    }
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
        return Err(json_rpc_error(
            StatusCode::BAD_REQUEST,
            -32700,
            format!("Parse error: the body is not valid JSON ({e})"),
        ));
    }
    Ok(Request::from_parts(parts, axum::body::Body::from(bytes)))
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
        metrics::render(&st.db).await,
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
        .with_cancellation_token(shutdown);
    if !opts.allowed_origins.is_empty() {
        mcp_config = mcp_config.with_allowed_origins(opts.allowed_origins.clone());
    }
    let mcp_services = services.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(OmniMcp::for_http(mcp_services.clone())),
        LocalSessionManager::default().into(),
        mcp_config,
    );
    let state = EdgeState {
        db,
        verifier: Arc::new(KeyVerifier::default()),
        no_auth: opts.no_auth,
        hosts: Arc::new(hosts),
        origins: Arc::new(opts.allowed_origins.clone()),
        max_body_bytes: opts.max_body_bytes,
    };
    let guarded = Router::new()
        .nest_service("/mcp", mcp)
        .merge(api::routes(services))
        .layer(middleware::from_fn_with_state(state.clone(), guard));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/api/v1/openapi.json", get(openapi_json))
        .merge(guarded)
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
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .map_err(|e| AppError::Internal(format!("http server: {e}")))
}
