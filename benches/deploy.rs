//! Deploy benchmark: N tickets (default 1,000; BENCH_TICKETS) deployed through the queue by
//! two `omnitraffick worker` processes against a fake platform with 20 ms latency, 10% rate
//! limits, 10% 5xx and 2% responses lost after commit, each worker running 64 deploys at once
//! (BENCH_CONCURRENCY). Prints total seconds, tickets/s, requests, attempts and take-ups per
//! ticket, the duplicate and lost counts (both must be 0), and where each ticket's time went.
//! Then the same again with one worker killed (SIGKILL) halfway and a new one started.
//! With BENCH_DATABASE_URL (a PostgreSQL server where the user may create databases) the
//! plain round runs once more on PostgreSQL, the mode meant for several worker processes.
//!
//!     cargo bench --bench deploy

#[path = "common/report.rs"]
mod report;

#[path = "common/pg.rs"]
mod pg;

#[path = "../tests/common/fake_platforms.rs"]
mod fake_platforms;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use fake_platforms::{FakePlatforms, RandomFaults};
use omnitraffick::auth::Principal;
use omnitraffick::deploy::DeployTicketInput;
use omnitraffick::startup;
use omnitraffick::startup::AppServices;

fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("input parses")
}

fn spec() -> Value {
    json!({
        "objective": "TRAFFIC",
        "budget": {"amount": "19.99", "period": "DAILY"},
        "schedule": {"start_time": "2027-03-01T00:00:00-05:00", "end_time": "2027-03-31T23:59:59-05:00"},
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

/// A worker process, killed when dropped: a benchmark that panics leaves none behind.
struct Worker(std::process::Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Deploys each worker process runs at once (BENCH_CONCURRENCY, default 64): a deploy
/// mostly waits on the platform, so a worker runs many.
fn concurrency() -> String {
    std::env::var("BENCH_CONCURRENCY").unwrap_or_else(|_| "64".into())
}

fn worker(db_url: &str, fake: &FakePlatforms) -> Worker {
    Worker(spawn_worker(db_url, fake))
}

fn spawn_worker(db_url: &str, fake: &FakePlatforms) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_omnitraffick"))
        .arg("worker")
        .env("DATABASE_URL", db_url)
        .env("OMNITRAFFICK_LOG", "error")
        .env("OMNITRAFFICK_META_BASE_URL", fake.base_url())
        .env("OMNITRAFFICK_TIKTOK_BASE_URL", fake.base_url())
        .env("OMNITRAFFICK_GOOGLE_ADS_BASE_URL", fake.base_url())
        .env("OMNITRAFFICK_META_ACCESS_TOKEN", "bench-meta")
        .env("OMNITRAFFICK_TIKTOK_ACCESS_TOKEN", "bench-tiktok")
        .env("OMNITRAFFICK_GOOGLE_ADS_DEVELOPER_TOKEN", "bench-dev")
        .env("OMNITRAFFICK_GOOGLE_ADS_ACCESS_TOKEN", "bench-access")
        .env("OMNITRAFFICK_PLATFORM_TIMEOUT_MS", "1000")
        // The default poll (500 ms): a worker is woken at once for the retries it queues
        // itself, so the poll only matters for jobs queued by other processes.
        .env("OMNITRAFFICK_DEPLOY_BACKOFF_BASE_MS", "50")
        .env("OMNITRAFFICK_DEPLOY_BACKOFF_MAX_MS", "1000")
        .env("OMNITRAFFICK_DEPLOY_MAX_ATTEMPTS", "20")
        .env("OMNITRAFFICK_DEPLOY_LEASE_SECS", "3")
        .env("OMNITRAFFICK_WORKER_CONCURRENCY", concurrency())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn omnitraffick worker")
}

async fn seed(s: &AppServices, n: usize) -> Vec<i64> {
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
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let channel = ["META", "TIKTOK", "GADS"][i % 3];
        let c = g
            .create_campaign(from(json!({"brand_code": "DIS", "market_code": "US", "name": format!("Bench {i}"), "year": 2027})))
            .await
            .unwrap();
        let t = g
            .create_ticket(
                &who,
                from(
                    json!({"campaign_id": c.id, "channel_code": channel, "payload_config": spec()}),
                ),
            )
            .await
            .unwrap();
        s.qa.run_qa(&who, from(json!({"ticket_id": t.id})))
            .await
            .unwrap();
        ids.push(t.id);
        if (i + 1) % 250 == 0 {
            eprintln!("  prepared {}/{n} tickets", i + 1);
        }
    }
    ids
}

async fn counts(s: &AppServices) -> (i64, i64, i64, i64, i64) {
    use sqlx::Row;
    let pool = s.governance.db().pool();
    let one = |q: &'static str| async move {
        sqlx::query(q)
            .fetch_one(pool)
            .await
            .unwrap()
            .try_get::<i64, _>("n")
            .unwrap()
    };
    (
        one("SELECT COUNT(*) AS n FROM tickets WHERE status = 'TRAFFICKED_SUCCESS'").await,
        one("SELECT COUNT(*) AS n FROM tickets WHERE status = 'DEPLOY_FAILED'").await,
        one("SELECT COUNT(*) AS n FROM deploy_attempts").await,
        one("SELECT CAST(COALESCE(SUM(attempts), 0) AS BIGINT) AS n FROM deploy_runs").await,
        one("SELECT COUNT(*) AS n FROM ticket_history WHERE event = 'DEPLOY_STARTED'").await,
    )
}

/// The five tickets that finished last (BENCH_TIMELINE=1): each request, from when it left
/// (ms after the round's start), with its outcome and how long the platform took.
async fn slowest(s: &AppServices, start: chrono::DateTime<chrono::Utc>) {
    use sqlx::Row;
    let pool = s.governance.db().pool();
    let ms = |t: String| {
        chrono::DateTime::parse_from_rfc3339(&t)
            .map(|d| (d.with_timezone(&chrono::Utc) - start).num_milliseconds())
            .unwrap_or(-1)
    };
    let last = sqlx::query(
        "SELECT ticket_id, finished_at FROM deploy_runs WHERE finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 5",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for r in last {
        let t: i64 = r.try_get("ticket_id").unwrap();
        let end = ms(r.try_get("finished_at").unwrap());
        let steps: Vec<String> = sqlx::query(
            "SELECT object, action, outcome, latency_ms, started_at FROM deploy_attempts WHERE ticket_id = $1 ORDER BY id",
        )
        .bind(t)
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|a| {
            format!(
                "{}@{} {} {} {}ms",
                a.try_get::<String, _>("object").unwrap(),
                ms(a.try_get("started_at").unwrap()),
                a.try_get::<String, _>("action").unwrap(),
                a.try_get::<String, _>("outcome").unwrap(),
                a.try_get::<Option<i64>, _>("latency_ms").unwrap().unwrap_or(-1),
            )
        })
        .collect();
        println!("  ticket {t} done at {end} ms: {}", steps.join(", "));
    }
}

/// Where a round's time went, per ticket on average, from the stored attempts and runs:
/// from the round's start to the first request (waiting for a worker), from the first request
/// to the run's end (a worker busy with it), and within that the platform's answers. The
/// rest of the busy time is the worker's own: database writes, back-off sleeps and queue
/// round trips. Busy time over wall time is how many deploys were in progress at once.
async fn breakdown(s: &AppServices, start: chrono::DateTime<chrono::Utc>, secs: f64) {
    use sqlx::Row;
    let pool = s.governance.db().pool();
    let at = |t: String| {
        chrono::DateTime::parse_from_rfc3339(&t)
            .map(|d| d.with_timezone(&chrono::Utc))
            .unwrap_or(start)
    };
    let mut first: std::collections::HashMap<i64, chrono::DateTime<chrono::Utc>> =
        Default::default();
    let mut platform_ms = 0i64;
    for r in sqlx::query("SELECT ticket_id, started_at, latency_ms FROM deploy_attempts")
        .fetch_all(pool)
        .await
        .unwrap()
    {
        let t: i64 = r.try_get("ticket_id").unwrap();
        let started = at(r.try_get("started_at").unwrap());
        platform_ms += r
            .try_get::<Option<i64>, _>("latency_ms")
            .unwrap()
            .unwrap_or(0);
        let e = first.entry(t).or_insert(started);
        *e = (*e).min(started);
    }
    let (mut wait_ms, mut busy_ms, mut runs) = (0i64, 0i64, 0i64);
    // Deploys in progress per 500 ms of the round (BENCH_TIMELINE=1 prints them).
    let mut timeline = vec![0u32; (secs * 2.0).ceil() as usize + 1];
    for r in
        sqlx::query("SELECT ticket_id, finished_at FROM deploy_runs WHERE finished_at IS NOT NULL")
            .fetch_all(pool)
            .await
            .unwrap()
    {
        let t: i64 = r.try_get("ticket_id").unwrap();
        let Some(f) = first.get(&t) else { continue };
        let end = at(r.try_get("finished_at").unwrap());
        let (a, b) = (
            (*f - start).num_milliseconds().max(0) as usize / 500,
            (end - start).num_milliseconds().max(0) as usize / 500,
        );
        for slot in timeline.iter_mut().take(b + 1).skip(a) {
            *slot += 1;
        }
        wait_ms += (*f - start).num_milliseconds();
        busy_ms += (end - *f).num_milliseconds();
        runs += 1;
    }
    if std::env::var("BENCH_TIMELINE").is_ok() {
        println!("  in progress per 500 ms: {timeline:?}");
        slowest(s, start).await;
    }
    let n = runs.max(1) as f64;
    println!(
        "  per ticket: {:.0} ms waiting for a worker, {:.0} ms busy ({:.0} ms of it the platform's answers, {:.0} ms the worker's own); {:.1} deploys in progress on average",
        wait_ms as f64 / n,
        busy_ms as f64 / n,
        platform_ms as f64 / n,
        (busy_ms - platform_ms) as f64 / n,
        busy_ms as f64 / 1000.0 / secs,
    );
}

/// One round on `db_url`; `store` names it in the output ("sqlite" or "postgres").
async fn round(kill_halfway: bool, n: usize, db_url: &str, store: &str) {
    let db_url = db_url.to_owned();
    let fake = FakePlatforms::start().await;
    fake.set_lose_delay(Duration::from_millis(1500));
    let (_db, services) = startup::open(&db_url).await.expect("open");
    eprintln!("preparing {n} READY_FOR_API tickets ...");
    let tickets = seed(&services, n).await;
    let who = Principal::local_operator();
    for t in &tickets {
        services
            .deploy
            .deploy_ticket(
                &who,
                DeployTicketInput {
                    ticket_id: *t,
                    validate_only: false,
                },
            )
            .await
            .unwrap();
    }
    fake.set_random(
        RandomFaults {
            rate_limit: 0.10,
            server_error: 0.10,
            lose: 0.02,
        },
        Duration::from_millis(20),
    );
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    let mut a = Some(worker(&db_url, &fake));
    // BENCH_ONE_WORKER=1 runs one worker process instead of two (to compare).
    let _b = std::env::var("BENCH_ONE_WORKER")
        .is_err()
        .then(|| worker(&db_url, &fake));
    let mut killed = false;
    let mut replacement = None;
    let mut last_print = Instant::now();
    loop {
        let (ok, failed, requests, attempts, takeups) = counts(&services).await;
        let done = (ok + failed) as usize;
        if kill_halfway && !killed && done >= n / 2 {
            // Dropping it kills it (SIGKILL) and reaps it.
            drop(a.take());
            killed = true;
            eprintln!("  killed one worker (SIGKILL) at {done}/{n}; starting a replacement");
            replacement = Some(worker(&db_url, &fake));
        }
        if last_print.elapsed() > Duration::from_secs(2) {
            eprintln!("  {done}/{n} deployed ({requests} requests so far)");
            last_print = Instant::now();
        }
        if done == n {
            let secs = started.elapsed().as_secs_f64();
            let dupes = fake.duplicates();
            let campaigns = fake.objects("campaign").len();
            println!(
                "{}: {n} tickets in {secs:.1} s = {:.1} tickets/s; {:.2} platform requests, {:.2} attempts and {:.2} take-ups per ticket; {campaigns} campaigns on the platform; duplicates {dupes}, lost {}, failed {failed}",
                match (kill_halfway, store) {
                    (true, _) => "with a worker killed halfway".to_owned(),
                    (false, s) => format!("two workers ({s})"),
                },
                n as f64 / secs,
                requests as f64 / n as f64,
                attempts as f64 / n as f64,
                takeups as f64 / n as f64,
                n as i64 - ok - failed,
            );
            breakdown(&services, started_at, secs).await;
            // The summary figures are those of the plain round (two workers, none killed).
            if !kill_halfway && store == "postgres" {
                report::result(
                    "deploy.postgres_seconds_1000",
                    secs * 1000.0 / n as f64,
                    "s",
                    "< 5",
                );
                report::result("deploy.postgres_duplicates", dupes as f64, "", "0");
                report::result(
                    "deploy.postgres_lost",
                    (n as i64 - ok - failed) as f64,
                    "",
                    "0",
                );
            } else if !kill_halfway {
                report::result("deploy.seconds_1000", secs * 1000.0 / n as f64, "s", "< 5");
                report::result("deploy.duplicates", dupes as f64, "", "0");
                report::result("deploy.lost", (n as i64 - ok - failed) as f64, "", "0");
            }
            break;
        }
        if started.elapsed() > Duration::from_secs(900) {
            println!(
                "gave up after 900 s: {ok} succeeded, {failed} failed of {n}; lost {}",
                n as i64 - ok - failed
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The workers (and the replacement) are killed as they go out of scope.
    drop((a, replacement));
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("BENCH_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = dir.path().join("bench.db").to_string_lossy().into_owned();
    round(false, n, &sqlite, "sqlite").await;
    let killed = dir
        .path()
        .join("bench-kill.db")
        .to_string_lossy()
        .into_owned();
    round(true, n, &killed, "sqlite").await;
    if let Ok(admin) = std::env::var("BENCH_DATABASE_URL") {
        let (url, name) = pg::pg_database(&admin, "deploy")
            .await
            .expect("a PostgreSQL database for the benchmark");
        round(false, n, &url, "postgres").await;
        if let Err(e) = pg::drop_pg_database(&admin, &name).await {
            eprintln!("could not drop {name}: {e}");
        }
    } else {
        eprintln!("(set BENCH_DATABASE_URL to run the round on PostgreSQL too)");
    }
}
