//! Self-healing benchmark:
//! 1. rule-based diagnosis + proposal + QA of the patched ticket for 10,000 recorded platform
//!    errors (a mix of the Meta, TikTok and Google errors the fixers know), proposals/s;
//! 2. `GET /api/v1/fixes` p50/p99 with 10,000 proposals stored, 8 concurrent clients.
//!
//!     cargo bench --bench healing

#[path = "common/report.rs"]
mod report;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use omnitraffick::auth::{self, Role};
use omnitraffick::domain::{Platform, TicketContext, TicketContextRef};
use omnitraffick::healing::{apply_patch, classify_risk, fixers};
use omnitraffick::http::{self, HttpOptions};
use omnitraffick::platforms::client::{ErrorClass, PlatformError};
use omnitraffick::qa::QaEngine;
use omnitraffick::startup;
use omnitraffick::store::{self, NewProposal};

fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("input parses")
}

fn errors() -> Vec<PlatformError> {
    let e = |p: Platform, code: &str, sub: Option<&str>, msg: &str, body: Value| PlatformError {
        class: ErrorClass::Permanent,
        code: Some(code.into()),
        subcode: sub.map(str::to_owned),
        message: msg.into(),
        body: Some(body),
        ..PlatformError::empty(p)
    };
    vec![
        e(
            Platform::Meta,
            "100",
            Some("1487694"),
            "Invalid parameter",
            json!({"error": {"error_user_msg": "Interest 6003020834693 is no longer available."}}),
        ),
        e(
            Platform::Meta,
            "100",
            Some("1815857"),
            "Invalid parameter",
            json!({}),
        ),
        e(
            Platform::Meta,
            "100",
            Some("1885364"),
            "Missing Target Audience Location",
            json!({}),
        ),
        e(
            Platform::Meta,
            "100",
            Some("1885272"),
            "Invalid parameter",
            json!({"error": {"error_user_msg": "The budget for this ad set must be at least $25.00 USD."}}),
        ),
        e(
            Platform::Tiktok,
            "40002",
            None,
            "budget: Your budget setting must not be less than 20.00 USD.",
            json!({}),
        ),
        e(
            Platform::GoogleAds,
            "campaignError",
            Some("DUPLICATE_CAMPAIGN_NAME"),
            "dup",
            json!({}),
        ),
    ]
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = dir.path().join("healing.db").to_string_lossy().into_owned();
    let (db, s) = startup::open(&url).await.expect("open");
    let who = auth::Principal::local_operator();
    let g = &s.governance;
    g.create_market(from(json!({"code": "US", "country": "US", "region": "NA"})))
        .await
        .unwrap();
    g.create_brand(from(
        json!({"name": "Disney", "code": "DIS", "family_friendly": true, "currency": "USD"}),
    ))
    .await
    .unwrap();
    g.create_channel(from(
        json!({"code": "META", "platform": "META", "account_id": "1234567890"}),
    ))
    .await
    .unwrap();
    let c = g
        .create_campaign(from(
            json!({"brand_code": "DIS", "market_code": "US", "name": "Bench", "year": 2027}),
        ))
        .await
        .unwrap();
    let spec = json!({
        "objective": "TRAFFIC",
        "budget": {"amount": "19.99", "period": "DAILY"},
        "schedule": {"start_time": "2027-03-01T00:00:00-05:00", "end_time": "2027-03-31T23:59:59-05:00"},
        "targeting": {"countries": ["US"], "age_min": 18, "age_max": 34,
            "interests": [{"id": "6003107902433", "name": "Movies"}, {"id": "6003020834693", "name": "Retired"}]},
        "bidding": {"strategy": "COST_CAP", "bid_amount": "2.50"},
        "creative": {"headline": "Moana", "body": "Sail.", "link_url": "https://example.com", "call_to_action": "LEARN_MORE"},
        "overrides": {"meta": {"creative": {"object_story_spec": {"page_id": "1122334455"}}}}
    });
    let t = g
        .create_ticket(
            &who,
            from(json!({"campaign_id": c.id, "channel_code": "META", "payload_config": spec})),
        )
        .await
        .unwrap();
    let base = g.ticket_context(t.id).await.unwrap();
    let TicketContext {
        ticket,
        brand,
        market,
        ..
    } = &base;
    let engine: QaEngine = s.qa.engine().await.unwrap();

    // 1. Diagnosis + fix + patch + risk + QA, in process.
    let errs = errors();
    let n = 10_000;
    let started = Instant::now();
    let mut proposed = 0;
    for i in 0..n {
        let e = &errs[i % errs.len()];
        let cx = fixers::FixContext {
            payload: &ticket.payload_config,
            market_country: &market.country,
            currency: &brand.currency,
            platform_name: &ticket.platform_name,
            ticket_id: ticket.id,
        };
        let Some(fix) = fixers::propose(e, &cx) else {
            continue;
        };
        let after = apply_patch(&ticket.payload_config, &fix.patch).expect("applies");
        let _risk = classify_risk(
            &ticket.payload_config,
            &after,
            &brand.currency,
            &fix.refused_interests,
        );
        let mut patched = ticket.clone();
        patched.payload_config = after;
        let ctx = TicketContextRef {
            ticket: &patched,
            ..base.view()
        };
        let _ = engine.check(&ctx);
        proposed += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "diagnosis + proposal + QA: {proposed} proposals from {n} recorded errors in {secs:.2} s = {:.0} proposals/s",
        proposed as f64 / secs
    );
    report::result(
        "healing.proposals_per_s",
        proposed as f64 / secs,
        "proposals/s",
        "",
    );

    // 2. 10,000 stored proposals; the list endpoint under 8 concurrent clients.
    let mut tx = db.begin_write().await.unwrap();
    let err = json!({"platform": "META", "class": "PERMANENT", "message": "Invalid parameter", "code": "100", "subcode": "1487694"});
    let patch = json!([{"op": "remove", "path": "/targeting/interests/1"}]);
    for i in 0..10_000 {
        store::insert_proposal(
            &mut tx,
            &NewProposal {
                ticket_id: t.id,
                ticket_version: 1,
                error_key: "META:100:1487694",
                error: &err,
                patch: &patch,
                rationale: "bench",
                source: "RULE:meta_refused_interest",
                risk: omnitraffick::domain::Risk::Safe,
                qa_report: None,
                status: {
                    use omnitraffick::domain::ProposalStatus as S;
                    [S::PendingReview, S::Applied, S::Rejected, S::QaFailed][i % 4]
                },
                payload_before: &ticket.payload_config,
                payload_after: &ticket.payload_config,
                created_by: "bench",
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let (key, _) = auth::create_key(&db, "bench-ops", Role::Ops).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = http::router(
        s.clone(),
        db.clone(),
        &HttpOptions::loopback(addr),
        tokio_util::sync::CancellationToken::new(),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let queries = [
        "",
        "?status=PENDING_REVIEW",
        "?status=APPLIED&limit=100",
        "?ticket=1&limit=20",
    ];
    let mut handles = Vec::new();
    let started = Instant::now();
    for w in 0..8 {
        let client = client.clone();
        let key = key.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for i in 0..250 {
                let q = queries[(w + i) % queries.len()];
                let t = Instant::now();
                let r = client
                    .get(format!("http://{addr}/api/v1/fixes{q}"))
                    .bearer_auth(&key)
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success());
                let _ = r.bytes().await.unwrap();
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            lat
        }));
    }
    let mut lat: Vec<f64> = Vec::new();
    for h in handles {
        lat.extend(h.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
    println!(
        "GET /api/v1/fixes with 10,000 proposals, 8 clients: {} requests in {secs:.2} s = {:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
        lat.len(),
        lat.len() as f64 / secs,
        pct(0.5),
        pct(0.99)
    );
    report::result("healing.list_fixes_p99_ms", pct(0.99), "ms", "");
}
