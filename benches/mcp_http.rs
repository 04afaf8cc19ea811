//! Benchmark: `create_ticket` through MCP Streamable HTTP on the embedded SQLite store.
//! 16 concurrent MCP clients (rmcp) share 10,000 calls; prints calls/s, p50 and p99.
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
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { token.cancelled().await })
            .await;
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
    shutdown.cancel();
    let _ = server.await;
    Ok(())
}
