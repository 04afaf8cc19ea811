//! Conversions API benchmark:
//! 1. in-process normalise + hash + validate of 200,000 varied events on one core, each
//!    written out as the JSON Meta receives, events/s; the events are read from their JSON
//!    text first (the target's figure), and then also timed with the reading included;
//! 2. REST intake end to end (`POST /api/v1/capi/events`, batches of 100 events, 16
//!    concurrent senders, SQLite) against an `omnitraffick serve` process, events/s, p99 per
//!    request and the server's CPU time per request.
//!
//!     cargo bench --bench capi

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use omnitraffick::auth::{self, Principal, Role};
use omnitraffick::capi::raw::Object;
use omnitraffick::capi::{validate_event, validate_object};
use omnitraffick::startup;

#[path = "common/report.rs"]
mod report;

fn event(i: usize, now: i64) -> Value {
    let name = ["Purchase", "Lead", "AddToCart"][i % 3];
    json!({
        "event_name": name,
        "event_time": now - (i % 3600) as i64,
        "event_id": format!("ev-{i}"),
        "action_source": "website",
        "event_source_url": "https://shop.example/checkout/done",
        "user_data": {
            "em": format!(" Buyer{i}@Example.com "), "ph": format!("+1 (650) 555-{:04}", i % 10000),
            "fn": "Zoë", "ln": "O'Neil", "ct": "San Francisco", "st": "California", "zp": "94025-1234",
            "country": "US", "external_id": format!("user-{i}"),
            "client_ip_address": "203.0.113.9", "client_user_agent": "Mozilla/5.0", "fbp": "fb.1.1558571054389.1098115397"
        },
        "custom_data": {"currency": "USD", "value": 19.99}
    })
}

fn main() {
    let now = chrono::Utc::now().timestamp();
    // Part 1 runs on this (the only) thread, before the runtime and its workers exist.
    let events_per_s = in_process(now);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let p99_ms = rt.block_on(intake(now));
    report::result("capi.events_per_s", events_per_s, "events/s", ">= 250000");
    report::result("capi.intake_p99_ms", p99_ms, "ms", "< 50");
}

fn in_process(now: i64) -> f64 {
    let texts: Vec<Box<serde_json::value::RawValue>> = (0..200_000)
        .map(|i| serde_json::value::to_raw_value(&event(i, now)).expect("event text"))
        .collect();
    // Read as objects (their top level) before the clock starts: the target names
    // normalising, hashing and validating.
    let objects: Vec<Object<'_>> = texts
        .iter()
        .map(|t| Object::parse(t).ok().flatten().expect("an object"))
        .collect();
    let timed = |label: &str, f: &dyn Fn(usize) -> bool| {
        let started = Instant::now();
        let cpu_started = report::thread_cpu_secs();
        let ok = (0..texts.len()).filter(|&i| f(i)).count();
        let secs = started.elapsed().as_secs_f64();
        let cpu = cpu_started
            .zip(report::thread_cpu_secs())
            .map(|(a, b)| b - a);
        println!(
            "{label}: {ok} events in {secs:.2} s = {:.0} events/s (one core)",
            ok as f64 / secs
        );
        if let Some(cpu) = cpu {
            println!(
                "  cpu {cpu:.2} s on this thread = {:.0} events per CPU-second",
                ok as f64 / cpu
            );
        }
        ok as f64 / secs
    };
    let validate = timed("normalise + hash + validate", &|i| {
        validate_object(&objects[i], now).is_ok()
    });
    timed(
        "the same, reading each event from its JSON text too",
        &|i| validate_event(&texts[i], now).is_ok(),
    );
    validate
}

/// Part 2: the REST intake under 16 senders; p99 per request in ms. The server is an
/// `omnitraffick serve` process of its own (on a database seeded here first), so the senders
/// (this process) and the server do not share a runtime.
async fn intake(now: i64) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = dir.path().join("capi.db").to_string_lossy().into_owned();
    let key = {
        let (db, s) = startup::open(&url).await.expect("open");
        s.governance.create_brand(serde_json::from_value(json!({"name": "Aurora", "code": "AUR", "family_friendly": true, "currency": "USD"})).unwrap()).await.unwrap();
        s.governance
            .update_brand(
                &Principal::local_operator(),
                serde_json::from_value(json!({"code": "AUR", "meta_pixel_id": "1234567890123456"}))
                    .unwrap(),
            )
            .await
            .unwrap();
        let (key, _) = auth::create_key(&db, "bench-tracker", Role::Tracker)
            .await
            .unwrap();
        db.close().await;
        key
    };
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_omnitraffick"))
        .args(["serve", "--database-url", &url, "--bind", &addr.to_string()])
        .args(["--no-worker", "--log", "warn"])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn omnitraffick serve");
    let pid = server.id().expect("server pid");
    let probe = reqwest::Client::new();
    let waiting = Instant::now();
    while !probe
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            waiting.elapsed() < Duration::from_secs(30),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    // Requests per sender (BENCH_CAPI_ROUNDS, default 50: 80,000 events in all).
    let per_sender: usize = std::env::var("BENCH_CAPI_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let batch = 100;
    // BENCH_CAPI_RANDOM_IDS=1: random event ids, as the pixel snippet makes them
    // (crypto.randomUUID()), rather than counting ones. Each dedupe key then lands on a
    // page of its own in the dedupe index.
    let random_ids = std::env::var("BENCH_CAPI_RANDOM_IDS").is_ok_and(|v| v == "1");
    // The bodies are built before the clock starts.
    let bodies: Vec<Vec<Vec<u8>>> = (0..16)
        .map(|w| {
            (0..per_sender)
                .map(|r| {
                    let base = (w * per_sender + r) * batch;
                    let events: Vec<Value> = (0..batch)
                        .map(|i| {
                            let mut e = event(base + i, now);
                            if random_ids {
                                e["event_id"] = json!(uuid::Uuid::new_v4().to_string());
                            }
                            e
                        })
                        .collect();
                    serde_json::to_vec(&json!({"brand_code": "AUR", "events": events})).unwrap()
                })
                .collect()
        })
        .collect();
    let cpu_before = report::cpu_ticks(pid);
    let started = Instant::now();
    let mut handles = Vec::new();
    for (w, sender) in bodies.into_iter().enumerate() {
        let client = client.clone();
        let key = key.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for (r, body) in sender.into_iter().enumerate() {
                let t = Instant::now();
                let resp = client
                    .post(format!("http://{addr}/api/v1/capi/events"))
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert!(resp.status().is_success(), "{}", resp.status());
                let _ = resp.bytes().await.unwrap();
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                let at = t.duration_since(started).as_secs_f64() * 1000.0;
                lat.push(Timed {
                    sender: w,
                    round: r,
                    at,
                    ms,
                });
            }
            lat
        }));
    }
    let mut timed = Vec::new();
    for h in handles {
        timed.extend(h.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu_ms = (report::cpu_ticks(pid) - cpu_before) as f64 * 10.0;
    let _ = server.kill().await;
    if std::env::var("BENCH_TIMELINE").is_ok() {
        timeline(&mut timed);
    }
    let mut lat: Vec<f64> = timed.iter().map(|t| t.ms).collect();
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
    let total = lat.len() * batch;
    println!(
        "REST intake ({} event ids): {total} events in {} requests of {batch} from 16 senders in {secs:.2} s = {:.0} events/s; per request p50 {:.1} ms, p99 {:.1} ms",
        if random_ids { "random" } else { "counting" },
        lat.len(),
        total as f64 / secs,
        pct(0.5),
        pct(0.99)
    );
    println!(
        "  server CPU {:.2} ms per request of {batch} ({} cores)",
        cpu_ms / lat.len() as f64,
        report::cores()
    );
    pct(0.99)
}

/// One intake request as a sender saw it: when it left (ms after the clock started) and how
/// long its answer took.
struct Timed {
    sender: usize,
    round: usize,
    at: f64,
    ms: f64,
}

/// BENCH_TIMELINE=1: the ten slowest requests, with when they left, and per 250 ms of the
/// run the requests that left then, their median and slowest answer. Says whether the slow
/// 1% are the first requests (a cold start) or pauses in the middle of the run.
fn timeline(timed: &mut [Timed]) {
    timed.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    println!("  slowest requests (sender/round, left at, took):");
    for t in timed.iter().take(10) {
        println!(
            "    {:>2}/{:<3} at {:>7.1} ms took {:>6.1} ms",
            t.sender, t.round, t.at, t.ms
        );
    }
    timed.sort_by(|a, b| a.at.total_cmp(&b.at));
    let mut window = 0;
    let mut i = 0;
    println!("  per 250 ms (requests, p50, max):");
    while i < timed.len() {
        let end = (window + 1) as f64 * 250.0;
        let mut ms: Vec<f64> = timed[i..]
            .iter()
            .take_while(|t| t.at < end)
            .map(|t| t.ms)
            .collect();
        i += ms.len();
        ms.sort_by(|a, b| a.total_cmp(b));
        if let (Some(mid), Some(max)) = (ms.get(ms.len() / 2), ms.last()) {
            println!(
                "    {:>5} ms: {:>3} requests, p50 {mid:>5.1} ms, max {max:>5.1} ms",
                window * 250,
                ms.len()
            );
        }
        window += 1;
    }
}
