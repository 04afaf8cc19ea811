//! Read-back benchmark: N tickets (default 1,000; BENCH_TICKETS) in campaigns of 50, deployed
//! to the fake platforms, each with 30 days of delivery; then every ticket synced
//! (BENCH_SYNC_CONCURRENCY at once, default 8). Prints rows/s, tickets/s and platform
//! requests per ticket, then the p50/p99 of `get_pacing` for a campaign of 50 tickets and of
//! `get_insights` for one campaign by day.
//!
//!     cargo bench --bench insights

#[path = "../tests/common/fake_platforms.rs"]
mod fake_platforms;

#[path = "common/report.rs"]
mod report;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use fake_platforms::FakePlatforms;
use omnitraffick::auth::Principal;
use omnitraffick::deploy::DeployTicketInput;
use omnitraffick::insights::InsightsInput;
use omnitraffick::platforms::client::{self, PlatformConfig};
use omnitraffick::startup::{self, AppOptions, AppServices};

const PER_CAMPAIGN: usize = 50;
const DAYS: i64 = 30;

fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("input parses")
}

fn spec() -> Value {
    let now = chrono::Utc::now();
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
    json!({
        "objective": "TRAFFIC",
        "budget": {"amount": "100.00", "period": "DAILY"},
        "schedule": {"start_time": fmt(now - chrono::Duration::days(DAYS)), "end_time": fmt(now + chrono::Duration::days(30))},
        "targeting": {"countries": ["US"], "age_min": 18, "age_max": 34},
        "creative": {"headline": "Moana is back", "body": "Sail with Moana this March.",
                     "link_url": "https://example.com/moana", "call_to_action": "LEARN_MORE"},
        "overrides": {
            "meta": {"creative": {"object_story_spec": {"page_id": "1122334455"}}},
            "tiktok": {"ad": {"creatives": [{"video_id": "v10033g50000abc"}]}},
            "google_ads": {"ad_group_ad": {"ad": {"responsiveSearchAd": {
                "headlines": [{"text": "Moana is back"}, {"text": "Sail with Moana"}, {"text": "Tickets on sale"}],
                "descriptions": [{"text": "Sail with Moana this March."}, {"text": "Book your seats today."}]
            }}}}
        }
    })
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn seed(s: &AppServices, n: usize) -> (Vec<i64>, Vec<i64>) {
    let who = Principal::local_operator();
    let g = &s.governance;
    g.create_market(from(json!({"code": "US", "country": "US", "region": "NA"})))
        .await
        .unwrap();
    g.create_brand(from(
        json!({"name": "Disney", "code": "DIS", "family_friendly": true, "currency": "USD"}),
    ))
    .await
    .unwrap();
    for (code, platform, account) in [
        ("META", "META", "1234567890"),
        ("TIKTOK", "TIKTOK", "7012345678901234567"),
        ("GADS", "GOOGLE_ADS", "123-456-7890"),
    ] {
        g.create_channel(from(
            json!({"code": code, "platform": platform, "account_id": account}),
        ))
        .await
        .unwrap();
    }
    let mut tickets = Vec::with_capacity(n);
    let mut campaigns = Vec::new();
    for i in 0..n {
        if i % PER_CAMPAIGN == 0 {
            let c = g
                .create_campaign(from(json!({"brand_code": "DIS", "market_code": "US", "name": format!("Bench {}", i / PER_CAMPAIGN), "year": 2027})))
                .await
                .unwrap();
            campaigns.push(c.id);
        }
        let channel = ["META", "TIKTOK", "GADS"][i % 3];
        let t = g
            .create_ticket(
                &who,
                from(json!({"campaign_id": campaigns[campaigns.len() - 1], "channel_code": channel, "payload_config": spec()})),
            )
            .await
            .unwrap();
        s.qa.run_qa(&who, from(json!({"ticket_id": t.id})))
            .await
            .unwrap();
        s.deploy
            .deploy_ticket(
                &who,
                DeployTicketInput {
                    ticket_id: t.id,
                    validate_only: false,
                },
            )
            .await
            .unwrap();
        tickets.push(t.id);
        if (i + 1) % 250 == 0 {
            eprintln!("  queued {}/{n} deploys", i + 1);
        }
    }
    (tickets, campaigns)
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("BENCH_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let concurrency: usize = std::env::var("BENCH_SYNC_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let dir = tempfile::tempdir().expect("temp dir");
    let db_url = dir.path().join("bench.db").to_string_lossy().into_owned();
    let fake = FakePlatforms::start().await;
    let base = fake.base_url();
    let mut platforms = PlatformConfig::new(&base, &base, &base, "v25.0", Duration::from_secs(5));
    platforms.set_credential(client::META_TOKEN, "bench-meta");
    platforms.set_credential(client::TIKTOK_TOKEN, "bench-tiktok");
    platforms.set_credential(client::GOOGLE_DEVELOPER_TOKEN, "bench-dev");
    platforms.set_credential(client::GOOGLE_ACCESS_TOKEN, "bench-access");
    let mut options = AppOptions {
        platforms,
        ..AppOptions::default()
    };
    options.deploy.poll_every = Duration::from_millis(20);
    // No scheduled sync while measuring.
    options.insights.every = Duration::from_secs(24 * 3600);
    let (_db, s) = startup::open_with(&db_url, options).await.expect("open");
    eprintln!("preparing {n} deployed tickets in campaigns of {PER_CAMPAIGN} ...");
    let (tickets, campaigns) = seed(&s, n).await;
    let stop = tokio_util::sync::CancellationToken::new();
    let workers = {
        let s = s.clone();
        let stop = stop.clone();
        tokio::spawn(async move { s.run_workers(stop).await })
    };
    let started = Instant::now();
    loop {
        use sqlx::Row;
        let done: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM tickets WHERE status IN ('TRAFFICKED_SUCCESS', 'DEPLOY_FAILED')",
        )
        .fetch_one(s.governance.db().pool())
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
        if done as usize >= n {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "deploys did not finish"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.cancel();
    let _ = workers.await;
    // 30 days of delivery per campaign object, paged by the fake in pages of 2 rows by
    // default: raise it to what a platform gives (Meta 100 asked, TikTok 1000, Google 10,000).
    fake.state.lock().unwrap().reports.page_size = 1000;
    let today = chrono::Utc::now().date_naive();
    for t in &tickets {
        let ids = s
            .governance
            .get_ticket(*t)
            .await
            .unwrap()
            .ticket
            .external_ids;
        let campaign = ids["campaign"].as_str().unwrap_or_default().to_owned();
        for d in 1..=DAYS {
            let day = (today - chrono::Duration::days(d)).to_string();
            fake.set_day(&campaign, &day, ("41.37", 5120, 61, "3", "USD"));
        }
    }
    let calls_before: u64 = fake.state.lock().unwrap().calls.values().sum();
    eprintln!("syncing {n} tickets x {DAYS} days, {concurrency} at once ...");
    let started = Instant::now();
    let mut rows = 0usize;
    let mut failed = 0usize;
    for chunk in tickets.chunks(concurrency) {
        let outs =
            futures::future::join_all(chunk.iter().map(|t| s.insights.sync(Some(*t), None))).await;
        for o in outs {
            let o = o.expect("sync");
            failed += o.failed;
            rows += o.tickets.iter().map(|t| t.days).sum::<usize>();
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let calls: u64 = fake.state.lock().unwrap().calls.values().sum::<u64>() - calls_before;
    println!(
        "sync: {n} tickets x {DAYS} days in {secs:.2} s = {:.0} rows/s, {:.0} tickets/s; {:.2} platform requests per ticket; {failed} failed",
        rows as f64 / secs,
        n as f64 / secs,
        calls as f64 / n as f64
    );
    report::result("insights.sync_rows_per_s", rows as f64 / secs, "rows/s", "");

    let mut pacing = Vec::new();
    let mut insights = Vec::new();
    for round in 0..200 {
        let c = campaigns[round % campaigns.len()];
        let t0 = Instant::now();
        let p = s.insights.pacing(None, Some(c)).await.expect("pacing");
        pacing.push(t0.elapsed());
        assert_eq!(p.tickets.len(), PER_CAMPAIGN.min(n));
        let t0 = Instant::now();
        s.insights
            .insights(InsightsInput {
                campaign_id: Some(c),
                ticket_id: None,
                brand_code: None,
                from: None,
                to: None,
                breakdown: None,
                limit: None,
                offset: None,
            })
            .await
            .expect("insights");
        insights.push(t0.elapsed());
    }
    pacing.sort();
    insights.sort();
    println!(
        "get_pacing, campaign of {PER_CAMPAIGN} tickets: p50 {:.1} ms, p99 {:.1} ms; get_insights by day: p50 {:.1} ms, p99 {:.1} ms",
        pct(&pacing, 0.5),
        pct(&pacing, 0.99),
        pct(&insights, 0.5),
        pct(&insights, 0.99)
    );
    report::result("insights.pacing_p99_ms", pct(&pacing, 0.99), "ms", "");
    report::result(
        "insights.get_insights_p99_ms",
        pct(&insights, 0.99),
        "ms",
        "",
    );
}
