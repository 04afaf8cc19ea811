//! Shared test helpers: a fresh database per test (SQLite by default, PostgreSQL when
//! TEST_DATABASE_URL is set), an in-process HTTP server, and MCP clients over both transports.
#![allow(dead_code)]

use rmcp::model::{CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::{Peer, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use std::net::SocketAddr;
use tokio_util::sync::CancellationToken;

use omnitraffick::auth::{self, Role};
use omnitraffick::http::{self, HttpOptions};
use omnitraffick::startup;
use omnitraffick::startup::AppServices;
use omnitraffick::store::Db;

pub mod fake_openai;
pub mod fake_platforms;
pub mod fake_qdrant;
pub mod mcp;
pub mod rest;
pub mod world;

#[allow(unused_imports)]
pub use mcp::Mcp;
#[allow(unused_imports)]
pub use rest::Rest;
#[allow(unused_imports)]
pub use world::*;

pub type Client = RunningService<RoleClient, ClientConfig>;

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    /// PostgreSQL: (server URL, database name), dropped with the TestDb.
    pg: Option<(String, String)>,
}

impl Drop for TestDb {
    /// A PostgreSQL test database is dropped when the test ends (pass or fail), so runs do
    /// not pile databases up; FORCE ends the connections a test left open.
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg.take() else {
            return;
        };
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&admin).await.ok()?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("note: test database could not be dropped; .ci/run drops leftovers");
        }
    }
}

/// Create a fresh, empty database: a SQLite file in a temp dir, or a new PostgreSQL
/// database on the server in TEST_DATABASE_URL.
pub async fn fresh_db() -> TestDb {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin) if !admin.trim().is_empty() => {
            use sqlx::Connection;
            let name = format!("omni_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("TEST_DATABASE_URL must point at a reachable PostgreSQL server");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create test database");
            // The same server and settings (`?sslmode=disable`, say), another database.
            let url = admin
                .parse::<sqlx::postgres::PgConnectOptions>()
                .expect("TEST_DATABASE_URL is a PostgreSQL URL")
                .database(&name);
            TestDb {
                url: sqlx::ConnectOptions::to_url_lossy(&url).to_string(),
                _dir: None,
                pg: Some((admin, name)),
            }
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = dir.path().join("test.db").to_string_lossy().into_owned();
            TestDb {
                url,
                _dir: Some(dir),
                pg: None,
            }
        }
    }
}

pub async fn open(db: &TestDb) -> (Db, AppServices) {
    startup::open(&db.url).await.expect("open database")
}

pub async fn key(db: &Db, role: Role) -> String {
    auth::create_key(db, &format!("test-{}", role.as_str()), role)
        .await
        .expect("create key")
        .0
}

/// An HTTP server on an ephemeral loopback port.
pub struct TestServer {
    pub addr: SocketAddr,
    pub db: Db,
    shutdown: CancellationToken,
    handle: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub async fn start(db: &TestDb, no_auth: bool) -> Self {
        Self::start_with(db, |o| o.no_auth = no_auth).await
    }

    pub async fn start_with(db: &TestDb, tweak: impl FnOnce(&mut HttpOptions)) -> Self {
        let (db, services) = open(db).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut opts = HttpOptions::loopback(addr);
        tweak(&mut opts);
        let shutdown = CancellationToken::new();
        let app = http::router(services, db.clone(), &opts, shutdown.child_token());
        let token = shutdown.clone();
        // The server's own loop, so tests see its timeouts and socket options.
        let handle = tokio::spawn(async move { http::serve_on(listener, app, &opts, token).await });
        Self {
            addr,
            db,
            shutdown,
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A REST client for this server with `key` (see `rest::Rest`).
    pub fn rest(&self, key: &str) -> Rest {
        Rest::new(self, Some(key))
    }

    /// Ask the server to stop without waiting for it (a world being dropped mid-test).
    pub fn cancel(&self) {
        self.shutdown.cancel();
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.handle.await;
        self.db.close().await;
    }
}

fn client_info() -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("omnitraffick-tests", "0.1.0"),
    )
}

pub async fn connect_http(server: &TestServer, key: Option<&str>) -> Client {
    let mut config = StreamableHttpClientTransportConfig::with_uri(server.url("/mcp"));
    if let Some(k) = key {
        config = config.auth_header(k.to_owned());
    }
    let transport = StreamableHttpClientTransport::from_config(config);
    client_info()
        .serve(transport)
        .await
        .expect("MCP client connects over HTTP")
}

pub async fn connect_stdio(db: &TestDb) -> Client {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_omnitraffick"));
    cmd.args(["serve", "--stdio"])
        .env("DATABASE_URL", &db.url)
        .env("OMNITRAFFICK_LOG", "warn");
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn omnitraffick serve --stdio");
    client_info()
        .serve(transport)
        .await
        .expect("MCP client connects over stdio")
}

/// Result of a tool call: whether it was a tool error, and its JSON payload
/// (structured content on success, the parsed error body on failure).
#[derive(Debug)]
pub struct Outcome {
    pub is_error: bool,
    pub value: Value,
}

impl Outcome {
    pub fn ok(self) -> Value {
        assert!(!self.is_error, "expected success, got {}", self.value);
        self.value
    }

    /// The `error` object of a tool error.
    pub fn err(self) -> Value {
        assert!(self.is_error, "expected a tool error, got {}", self.value);
        self.value["error"].clone()
    }
}

/// Call a tool on any MCP client (a `Client`, an `Mcp` or one with its own handler).
pub async fn call(client: &Peer<RoleClient>, tool: &str, args: Value) -> Outcome {
    let params = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().cloned().unwrap_or_default());
    let result = client
        .call_tool(params)
        .await
        .unwrap_or_else(|e| panic!("{tool}: protocol error {e}"));
    let is_error = result.is_error == Some(true);
    let value = if let Some(s) = result.structured_content.clone() {
        s
    } else {
        let text = result
            .content
            .iter()
            .find_map(|c| c.as_text().map(|t| t.text.clone()))
            .unwrap_or_default();
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Outcome { is_error, value }
}

/// Create the seed example: market US, brand DIS, channel META, campaign "Moana Launch!" 2026.
/// Returns the campaign id.
pub async fn seed_example(client: &Peer<RoleClient>) -> i64 {
    call(
        client,
        "create_market",
        serde_json::json!({"code": "US", "country": "US", "region": "NA"}),
    )
    .await
    .ok();
    call(
        client,
        "create_brand",
        serde_json::json!({"name": "Disney", "code": "DIS", "family_friendly": true, "currency": "USD"}),
    )
    .await
    .ok();
    call(
        client,
        "create_channel",
        serde_json::json!({"code": "META", "platform": "META", "account_id": "1234567890"}),
    )
    .await
    .ok();
    let campaign = call(
        client,
        "create_campaign",
        serde_json::json!({"brand_code": "DIS", "market_code": "US", "name": "Moana Launch!", "year": 2026, "daily_budget": "1500.00"}),
    )
    .await
    .ok();
    campaign["id"].as_i64().expect("campaign id")
}

/// Parse a typed service input from JSON.
pub fn from_json<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("input parses")
}

/// Channels every seeded world can have: (code, platform, account id).
pub const META: (&str, &str, &str) = ("META", "META", "1234567890");
pub const TIKTOK: (&str, &str, &str) = ("TIKTOK", "TIKTOK", "7012345678901234567");
pub const GADS: (&str, &str, &str) = ("GADS", "GOOGLE_ADS", "123-456-7890");

/// Market US, the family-friendly USD brand DIS, and the given channels, straight through the
/// services (no MCP round trip).
pub async fn seed_services(s: &AppServices, channels: &[(&str, &str, &str)]) {
    let g = &s.governance;
    g.create_market(from_json(
        serde_json::json!({"code": "US", "country": "US", "region": "NA"}),
    ))
    .await
    .expect("market");
    g.create_brand(from_json(serde_json::json!(
        {"name": "Disney", "code": "DIS", "family_friendly": true, "currency": "USD"}
    )))
    .await
    .expect("brand");
    for (code, platform, account) in channels {
        g.create_channel(from_json(serde_json::json!(
            {"code": code, "platform": platform, "account_id": account}
        )))
        .await
        .expect("channel");
    }
}

/// Wait (up to 20 s) until a ticket reaches `want`; fails with the status it is stuck in.
pub async fn wait_status(s: &AppServices, ticket: i64, want: &str) {
    wait_until(
        &format!("ticket {ticket} never reached {want}"),
        std::time::Duration::from_secs(20),
        || async {
            let st = s
                .governance
                .get_ticket(ticket)
                .await
                .expect("ticket exists")
                .ticket
                .status;
            if st.as_str() == want {
                Ok(())
            } else {
                Err(format!("stuck in {st}"))
            }
        },
    )
    .await
}
