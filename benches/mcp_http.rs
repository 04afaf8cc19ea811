//! Benchmark: `create_ticket` through MCP Streamable HTTP on the embedded SQLite store.
//! 16 concurrent MCP clients (rmcp) share 10,000 calls; prints calls/s, p50 and p99. Then one
//! client making sequential `list_markets` calls over one keep-alive connection (BENCH_SEQ
//! calls, default 500), p50 and p99: the latency an assistant sees call after call.
//! Run with `cargo bench --bench mcp_http` (set BENCH_CALLS / BENCH_CLIENTS to change the load).

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use omnitraffick::auth::{self, Role};
use omnitraffick::http::{self, HttpOptions};
use omnitraffick::{governance::*, startup};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let calls = env_usize("BENCH_CALLS", 10_000);
    let clients = env_usize("BENCH_CLIENTS", 16);
    let dir = tempfile::tempdir()?;
    let db_path = dir.path().join("bench.db");
    let (db, services) = startup::open(&db_path.to_string_lossy()).await?;

    let op = omnitraffick::auth::Principal::local_operator();
    let g = &services.governance;
    g.create_market(CreateMarketInput {
        code: "US".into(),
        country: "US".into(),
        region: "NA".into(),
    })
    .await?;
    g.create_brand(CreateBrandInput {
        name: "Disney".into(),
        code: "DIS".into(),
        family_friendly: true,
        currency: "USD".into(),
        daily_budget_limit: None,
        lifetime_budget_limit: None,
        meta_pixel_id: None,
        tiktok_pixel_code: None,
    })
    .await?;
    g.create_channel(CreateChannelInput {
        code: "META".into(),
        platform: "META".into(),
        account_id: "1234567890".into(),
    })
    .await?;
    let campaign = g
        .create_campaign(CreateCampaignInput {
            brand_code: "DIS".into(),
            market_code: "US".into(),
            name: "Moana Launch".into(),
            year: 2026,
            daily_budget: Some("1500".into()),
            lifetime_budget: None,
            start_date: None,
            end_date: None,
        })
        .await?;
    let _ = op;
    let (key, _) = auth::create_key(&db, "bench", Role::Trafficker).await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let app = http::router(
        services.clone(),
        db.clone(),
        &HttpOptions::loopback(addr),
        shutdown.child_token(),
    );
    let token = shutdown.clone();
    let server = tokio::spawn(async move {
        http::serve_on(listener, app, &HttpOptions::loopback(addr), token).await
    });

    let mut handles = Vec::new();
    let per_client = calls / clients;
    let started = Instant::now();
    for c in 0..clients {
        let key = key.clone();
        let url = format!("http://{addr}/mcp");
        let campaign_id = campaign.id;
        handles.push(tokio::spawn(async move {
            let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(key);
            let transport = StreamableHttpClientTransport::from_config(config);
            let info = ClientConfig::new(
                ClientCapabilities::default(),
                Implementation::new("bench", "0"),
            );
            let client = info.serve(transport).await.expect("connect");
            let mut latencies = Vec::with_capacity(per_client);
            let mut errors = 0usize;
            for i in 0..per_client {
                let args = json!({
                    "campaign_id": campaign_id,
                    "channel_code": "META",
                    "payload_config": {"objective": "TRAFFIC", "client": c, "n": i},
                });
                let t = Instant::now();
                let r = client
                    .call_tool(
                        CallToolRequestParams::new("create_ticket")
                            .with_arguments(args.as_object().cloned().unwrap_or_default()),
                    )
                    .await;
                latencies.push(t.elapsed());
                if !matches!(r, Ok(ref res) if res.is_error != Some(true)) {
                    errors += 1;
                }
            }
            let _ = client.cancel().await;
            (latencies, errors)
        }));
    }
    let mut all = Vec::with_capacity(calls);
    let mut errors = 0;
    for h in handles {
        let (l, e) = h.await?;
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    all.sort();
    let stored = g
        .list_tickets(
            &auth::Principal::local_operator(),
            ListTicketsInput {
                limit: Some(1),
                offset: Some((all.len() - 1) as i64),
                ..Default::default()
            },
        )
        .await?;
    println!(
        "create_ticket over MCP Streamable HTTP, SQLite, {clients} clients, {} calls",
        all.len()
    );
    println!("  total      {:.2} s", elapsed.as_secs_f64());
    println!(
        "  throughput {:.0} calls/s",
        all.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  p50        {:.2} ms",
        percentile(&all, 0.50).as_secs_f64() * 1e3
    );
    println!(
        "  p99        {:.2} ms",
        percentile(&all, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "  max        {:.2} ms",
        all.last().map(|d| d.as_secs_f64() * 1e3).unwrap_or(0.0)
    );
    println!("  errors     {errors}");
    println!(
        "  stored     {} (last ticket present: {})",
        all.len(),
        !stored.tickets.is_empty()
    );

    let seq = sequential_keep_alive(addr, &key, env_usize("BENCH_SEQ", 500)).await?;
    println!(
        "list_markets over MCP Streamable HTTP, one client, sequential, one keep-alive connection, {} calls",
        seq.len()
    );
    println!(
        "  p50        {:.2} ms",
        percentile(&seq, 0.50).as_secs_f64() * 1e3
    );
    println!(
        "  p99        {:.2} ms",
        percentile(&seq, 0.99).as_secs_f64() * 1e3
    );
    shutdown.cancel();
    let _ = server.await;
    Ok(())
}

/// `calls` sequential `tools/call list_markets` in one session over one keep-alive
/// connection (raw JSON-RPC over reqwest), sorted latencies.
async fn sequential_keep_alive(
    addr: std::net::SocketAddr,
    key: &str,
    calls: usize,
) -> anyhow::Result<Vec<Duration>> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()?;
    let url = format!("http://{addr}/mcp");
    let post = |session: Option<&str>| {
        let mut r = http
            .post(&url)
            .bearer_auth(key)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if let Some(s) = session {
            r = r
                .header("mcp-session-id", s)
                .header("mcp-protocol-version", "2025-06-18");
        }
        r
    };
    let init = post(None)
        .json(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}}))
        .send()
        .await?;
    let session = init
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("initialize returned no session id"))?;
    init.text().await?;
    post(Some(&session))
        .json(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .send()
        .await?
        .text()
        .await?;
    let mut took = Vec::with_capacity(calls);
    for id in 0..calls {
        let t = Instant::now();
        let body = post(Some(&session))
            .json(
                &json!({"jsonrpc": "2.0", "id": id + 1, "method": "tools/call",
                "params": {"name": "list_markets", "arguments": {}}}),
            )
            .send()
            .await?
            .text()
            .await?;
        took.push(t.elapsed());
        anyhow::ensure!(body.contains("\"result\""), "list_markets failed: {body}");
    }
    took.sort();
    Ok(took)
}
