//! Benchmark: in-process pre-flight QA + translation of 100,000 varied tickets on one core
//! (prints tickets/s), then `run_qa` over MCP Streamable HTTP on stored tickets (calls/s, p99),
//! then how soon `run_qa` answers when a stored CEL rule would run for seconds.
//! Run with `cargo bench --bench qa` (BENCH_TICKETS and BENCH_CALLS change the load).

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use omnitraffick::auth::{self, Principal, Role};
use omnitraffick::domain::{
    Brand, Campaign, Channel, Market, Platform, RequestType, Ticket, TicketContextRef, TicketStatus,
};
use omnitraffick::governance::*;
use omnitraffick::http::{self, HttpOptions};
use omnitraffick::platforms::ApiVersions;
use omnitraffick::qa::{QaEngine, RULE_TIME_BUDGET, RunQaInput, compile_rule};
use omnitraffick::startup;
use omnitraffick::store::QaRuleRecord;
use omnitraffick::taxonomy::{NameParts, Picklists, TaxonomyConvention};

#[path = "common/report.rs"]
mod report;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn spec(i: usize, platform: Platform) -> serde_json::Value {
    let objectives = [
        "AWARENESS",
        "TRAFFIC",
        "ENGAGEMENT",
        "LEADS",
        "APP_PROMOTION",
    ];
    let interest = match platform {
        Platform::Meta => {
            if i.is_multiple_of(7) {
                "6003139266461"
            } else {
                "6003107902433"
            }
        }
        _ => {
            if i.is_multiple_of(7) {
                "100001"
            } else {
                "100200"
            }
        }
    };
    json!({
        "objective": objectives[i % objectives.len()],
        "budget": {"amount": format!("{}.{:02}", 50 + i % 200_000, i % 100), "period": if i.is_multiple_of(3) { "LIFETIME" } else { "DAILY" }},
        "schedule": {"start_time": "2027-03-01T00:00:00-05:00", "end_time": "2027-03-31T23:59:59-05:00"},
        "targeting": {"countries": ["US"], "age_min": 13 + (i % 10) as u8, "age_max": 65, "interests": [{"id": interest, "name": "x"}], "placements": ["FACEBOOK", "TIKTOK", "GOOGLE_SEARCH"]},
        "creative": {"headline": "Moana", "body": "Sail", "link_url": "https://example.com", "call_to_action": "LEARN_MORE"},
        "overrides": {
            "meta": {"creative": {"object_story_spec": {"page_id": "1"}}},
            "tiktok": {"ad": {"creatives": [{"video_id": "v100"}]}},
            "google_ads": {"ad_group_ad": {"ad": {"responsiveSearchAd": {
                "headlines": [{"text": "Moana"}, {"text": "Sail"}, {"text": "Now"}],
                "descriptions": [{"text": "Sail with Moana"}, {"text": "Book today"}]}}}}
        }
    })
}

fn now() -> String {
    "2026-01-01T00:00:00.000000Z".into()
}

fn in_process(n: usize) -> f64 {
    let convention = TaxonomyConvention::default();
    let market = Market {
        id: 1,
        code: "US".into(),
        country: "US".into(),
        region: "NA".into(),
        archived: false,
        created_at: now(),
        updated_at: now(),
    };
    let brand = Brand {
        id: 1,
        code: "DIS".into(),
        name: "Disney".into(),
        family_friendly: true,
        currency: "USD".into(),
        daily_budget_limit_minor: None,
        lifetime_budget_limit_minor: None,
        change_review_daily_minor: None,
        change_review_percent: None,
        meta_pixel_id: Some("123".into()),
        tiktok_pixel_code: None,
        archived: false,
        created_at: now(),
        updated_at: now(),
    };
    let channels: Vec<Channel> = [
        ("META", Platform::Meta, "1234567890"),
        ("TIKTOK", Platform::Tiktok, "7000000000000000000"),
        ("GADS", Platform::GoogleAds, "1234567890"),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (code, platform, acct))| Channel {
        id: i as i64 + 1,
        code: code.into(),
        platform,
        account_id: acct.into(),
        archived: false,
        created_at: now(),
        updated_at: now(),
    })
    .collect();
    let campaign = Campaign {
        id: 1,
        brand_code: "DIS".into(),
        market_code: "US".into(),
        name: "Moana Launch".into(),
        year: 2026,
        currency: "USD".into(),
        daily_budget_minor: None,
        lifetime_budget_minor: None,
        start_date: None,
        end_date: None,
        archived: false,
        created_at: now(),
        updated_at: now(),
    };
    let rule = compile_rule(QaRuleRecord {
        id: 1,
        name: "dis_no_under_13".into(),
        description: None,
        brand_code: Some("DIS".into()),
        market_code: None,
        platform: None,
        expression: "spec.targeting.age_min < 14".into(),
        severity: "BLOCK".into(),
        message: "no kids".into(),
        field_path: None,
        enabled: true,
        disabled_reason: None,
        created_at: now(),
        updated_at: now(),
    })
    .expect("rule compiles");
    let engine = QaEngine {
        convention: convention.clone(),
        picklists: Picklists {
            brand_codes: ["DIS".to_owned()].into(),
            market_codes: ["US".to_owned()].into(),
            channel_codes: channels.iter().map(|c| c.code.clone()).collect(),
        },
        blocked_interests: [
            (Platform::Meta, "6003139266461".to_owned()),
            (Platform::Tiktok, "100001".to_owned()),
        ]
        .into(),
        budget_caps: Default::default(),
        rules: vec![rule],
        versions: ApiVersions::default(),
    };
    let tickets: Vec<Ticket> = (0..n)
        .map(|i| {
            let ch = &channels[i % channels.len()];
            Ticket {
                id: i as i64,
                campaign_id: 1,
                channel_code: ch.code.clone(),
                platform: ch.platform,
                request_type: RequestType::NewCampaign,
                status: TicketStatus::Draft,
                platform_name: convention
                    .generate(&NameParts {
                        brand_code: "DIS",
                        market_code: "US",
                        channel_code: &ch.code,
                        year: 2026,
                        campaign_name: "Moana Launch",
                    })
                    .expect("name"),
                payload_config: spec(i, ch.platform),
                qa_report: None,
                external_ids: json!({}),
                live_state: None,
                version: 1,
                created_at: now(),
                updated_at: now(),
            }
        })
        .collect();
    let started = Instant::now();
    let cpu_started = report::thread_cpu_secs();
    let (mut blocked, mut passed) = (0usize, 0usize);
    for (i, t) in tickets.iter().enumerate() {
        let ctx = TicketContextRef {
            ticket: t,
            campaign: &campaign,
            brand: &brand,
            market: &market,
            channel: &channels[i % channels.len()],
            assets: omnitraffick::domain::ResolvedAssets::none(),
        };
        let checked = engine.check(&ctx);
        if checked
            .results
            .iter()
            .any(|r| r.outcome == omnitraffick::qa::Outcome::Block)
        {
            blocked += 1
        } else {
            passed += 1
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_started
        .zip(report::thread_cpu_secs())
        .map(|(a, b)| b - a);
    println!("in-process QA + translation, one thread, {n} tickets over META/TIKTOK/GOOGLE_ADS");
    println!("  total      {secs:.2} s");
    println!("  throughput {:.0} tickets/s", n as f64 / secs);
    if let Some(cpu) = cpu {
        println!(
            "  cpu        {cpu:.2} s on this thread = {:.0} tickets per CPU-second",
            n as f64 / cpu
        );
    }
    println!("  outcomes   {passed} pass/warn, {blocked} blocked");
    n as f64 / secs
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn over_mcp(calls: usize, clients: usize) -> anyhow::Result<(f64, f64)> {
    let dir = tempfile::tempdir()?;
    let (db, services) = startup::open(&dir.path().join("qa.db").to_string_lossy()).await?;
    let g = &services.governance;
    let op = Principal::local_operator();
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
    let k = g
        .create_campaign(CreateCampaignInput {
            brand_code: "DIS".into(),
            market_code: "US".into(),
            name: "Moana".into(),
            year: 2026,
            daily_budget: None,
            lifetime_budget: None,
            start_date: None,
            end_date: None,
        })
        .await?;
    let mut ids = Vec::new();
    for i in 0..calls {
        let t = g
            .create_ticket(
                &op,
                CreateTicketInput {
                    campaign_id: k.id,
                    channel_code: "META".into(),
                    request_type: None,
                    payload_config: Some(spec(i * 5 + 1, Platform::Meta)),
                },
            )
            .await?;
        ids.push(t.id);
    }
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
    let started = Instant::now();
    let mut handles = Vec::new();
    for chunk in ids.chunks(calls.div_ceil(clients)) {
        let chunk = chunk.to_vec();
        let key = key.clone();
        let url = format!("http://{addr}/mcp");
        handles.push(tokio::spawn(async move {
            let transport = StreamableHttpClientTransport::from_config(
                StreamableHttpClientTransportConfig::with_uri(url).auth_header(key),
            );
            let client = ClientConfig::new(
                ClientCapabilities::default(),
                Implementation::new("bench", "0"),
            )
            .serve(transport)
            .await
            .expect("connect");
            let mut lat = Vec::new();
            let mut errors = 0;
            for id in chunk {
                let t = Instant::now();
                let r = client
                    .call_tool(
                        CallToolRequestParams::new("run_qa").with_arguments(
                            json!({"ticket_id": id})
                                .as_object()
                                .cloned()
                                .unwrap_or_default(),
                        ),
                    )
                    .await;
                lat.push(t.elapsed());
                if !matches!(r, Ok(ref res) if res.is_error != Some(true)) {
                    errors += 1
                }
            }
            let _ = client.cancel().await;
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (l, e) = h.await?;
        all.extend(l);
        errors += e;
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort();
    println!(
        "run_qa over MCP Streamable HTTP, SQLite, {clients} clients, {} calls on stored tickets",
        all.len()
    );
    println!("  throughput {:.0} calls/s", all.len() as f64 / secs);
    println!(
        "  p50        {:.2} ms",
        percentile(&all, 0.5).as_secs_f64() * 1e3
    );
    println!(
        "  p99        {:.2} ms",
        percentile(&all, 0.99).as_secs_f64() * 1e3
    );
    println!("  errors     {errors}");
    let calls_per_s = all.len() as f64 / secs;
    let p99_ms = percentile(&all, 0.99).as_secs_f64() * 1e3;
    shutdown.cancel();
    let _ = server.await;
    runaway_rule(&services, &db, ids[0], &op).await?;
    Ok((calls_per_s, p99_ms))
}

/// A rule the save-time limits would refuse, stored anyway (as an old row would be): how long
/// it runs to the end, and how soon `run_qa` answers with it cut off. Its evaluation goes on
/// in the background after that; the runtime waits for it at exit.
async fn runaway_rule(
    services: &omnitraffick::startup::AppServices,
    db: &omnitraffick::store::Db,
    ticket_id: i64,
    op: &Principal,
) -> anyhow::Result<()> {
    let items = (1..=90)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let cube = format!("[{items}].all(a, [{items}].all(b, [{items}].all(c, a + b + c > 0)))");
    let record = QaRuleRecord {
        id: 0,
        name: "runaway_cube".into(),
        description: None,
        brand_code: None,
        market_code: None,
        platform: None,
        expression: cube,
        severity: "WARN".into(),
        message: "never fires".into(),
        field_path: None,
        enabled: true,
        disabled_reason: None,
        created_at: now(),
        updated_at: now(),
    };
    let to_the_end = compile_rule(record.clone())
        .map_err(anyhow::Error::msg)?
        .trial();
    let mut tx = db.begin_write().await?;
    omnitraffick::store::upsert_qa_rule(&mut tx, &record).await?;
    tx.commit().await?;
    let started = Instant::now();
    services.qa.run_qa(op, RunQaInput { ticket_id }).await?;
    let answered = started.elapsed();
    let disabled = services
        .qa
        .list_rules()
        .await?
        .custom
        .iter()
        .any(|r| r.name == "runaway_cube" && !r.enabled);
    println!("a stored CEL rule of three nested `all` over 90 items (729,000 steps)");
    println!(
        "  run to the end   {:.0} ms",
        to_the_end.as_secs_f64() * 1e3
    );
    println!(
        "  run_qa answered  {:.0} ms (budget {} ms per rule); rule disabled: {disabled}",
        answered.as_secs_f64() * 1e3,
        RULE_TIME_BUDGET.as_millis()
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // The in-process figure runs on this (the only) thread, before any runtime exists.
    let tickets_per_s = in_process(env_usize("BENCH_TICKETS", 100_000));
    let rt = tokio::runtime::Runtime::new()?;
    let (calls_per_s, p99_ms) = rt.block_on(over_mcp(env_usize("BENCH_CALLS", 2_000), 16))?;
    report::result("qa.tickets_per_s", tickets_per_s, "tickets/s", ">= 50000");
    report::result("qa.run_qa_calls_per_s", calls_per_s, "calls/s", "");
    report::result("qa.run_qa_p99_ms", p99_ms, "ms", "");
    Ok(())
}
