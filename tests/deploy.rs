//! The deploy pipeline against fake platforms that speak the real wire formats: success with
//! ids written back, rate limits and 5xx retried, permanent errors parsed into the ticket,
//! responses lost after the platform committed, resumes after partial failure, racing
//! workers, a killed worker, cancel and validate-only. Runs on SQLite and, with
//! TEST_DATABASE_URL, on PostgreSQL.

mod common;

use std::time::Duration;

use serde_json::{Value, json};

use common::fake_platforms::{FakePlatforms, Fault};
use common::from_json as from;
use common::*;
use omnitraffick::deploy::{DeploySettings, RunOutcome};
use omnitraffick::domain::TicketStatus;
use omnitraffick::platforms::client::PlatformConfig;
use omnitraffick::startup::AppServices;
use omnitraffick::startup::{self, AppOptions};
use omnitraffick::store::Db;

fn settings() -> DeploySettings {
    DeploySettings {
        max_attempts: 6,
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        max_rate_limit_wait: Duration::from_secs(5),
        // Back-offs (50-200 ms) are retried in place; a 1 s Retry-After goes to the queue.
        retry_in_place_max: Duration::from_millis(500),
        lease: Duration::from_millis(1500),
        sweep_every: Duration::from_millis(300),
        poll_every: Duration::from_millis(50),
        concurrency: 4,
    }
}

/// A world on the fake platforms with META, TIKTOK and GADS channels and `settings()`;
/// a response the fake "loses" arrives three timeouts late.
async fn setup_with_timeout(timeout: Duration) -> World {
    let w = World::build()
        .timeout(timeout)
        .options(|o| o.deploy = settings())
        .start()
        .await;
    w.fake.set_lose_delay(timeout * 3);
    w
}

async fn setup() -> World {
    setup_with_timeout(Duration::from_millis(400)).await
}

/// The same with every retry going back through the queue (`--deploy-retry-in-place-ms 0`).
async fn setup_queue_only() -> World {
    let timeout = Duration::from_millis(400);
    let w = World::build()
        .timeout(timeout)
        .options(|o| {
            o.deploy = DeploySettings {
                retry_in_place_max: Duration::ZERO,
                ..settings()
            }
        })
        .start()
        .await;
    w.fake.set_lose_delay(timeout * 3);
    w
}

/// The attempts in a `get_deploy_status` answer that carry an error, in its order.
fn failed_attempts(st: &Value) -> Vec<&Value> {
    st["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["error"].is_object())
        .collect()
}

/// The ticket's history events, oldest first.
async fn events(s: &AppServices, ticket_id: i64) -> Vec<String> {
    let view = s.governance.get_ticket(ticket_id).await.unwrap();
    view.history.iter().map(|h| h.event.clone()).collect()
}

fn spec() -> Value {
    json!({
        "objective": "TRAFFIC",
        "budget": {"amount": "19.99", "period": "DAILY"},
        "schedule": {"start_time": "2027-03-01T00:00:00-05:00", "end_time": "2027-03-31T23:59:59-05:00"},
        "targeting": {"countries": ["US"], "age_min": 18, "age_max": 34,
                      "interests": [{"id": "6003107902433", "name": "Movies"}]},
        "creative": {"headline": "Moana is back", "body": "Sail with Moana this March.",
                     "link_url": "https://example.com/moana", "call_to_action": "LEARN_MORE",
                     "image_url": "https://cdn.example.com/moana.jpg"},
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

/// A READY_FOR_API ticket on `channel` with `spec()`, for a campaign named `name`.
async fn ready(s: &AppServices, channel: &str, name: &str) -> i64 {
    ready_ticket(s, channel, name, spec()).await
}

/// Process the run in this test, retrying (after the scheduled wait) until it ends.
async fn drive(s: &AppServices, run_id: i64) -> Vec<RunOutcome> {
    let d = s.deploy.deployer("test-worker".into());
    let mut outcomes = Vec::new();
    for _ in 0..20 {
        let o = d.process(run_id).await.expect("process");
        outcomes.push(o.clone());
        match o {
            RunOutcome::RetryIn(wait) => tokio::time::sleep(wait + Duration::from_millis(20)).await,
            RunOutcome::Skipped => tokio::time::sleep(Duration::from_millis(100)).await,
            _ => return outcomes,
        }
    }
    panic!("run {run_id} did not finish: {outcomes:?}");
}

/// A form field or id as text (Meta form values arrive as strings or numbers).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[tokio::test]
async fn meta_success_writes_every_id_back_in_order() {
    let w = setup().await;
    let t = ready(&w.s, "META", "Moana Launch").await;
    let run = queue_deploy(&w.s, t).await;
    assert_eq!(drive(&w.s, run).await, [RunOutcome::Succeeded]);

    let st = deploy_status(&w.s, t).await;
    assert_eq!(st["ticket_status"], "TRAFFICKED_SUCCESS");
    assert_eq!(st["run"]["state"], "SUCCEEDED");
    let ids = &st["external_ids"];
    for obj in ["campaign", "adset", "creative", "ad"] {
        assert!(
            ids[obj].as_str().is_some_and(|i| !i.is_empty()),
            "{obj} id missing: {st}"
        );
    }
    // Created once each, PAUSED, named by the taxonomy, parents filled in.
    let campaigns = w.fake.objects("campaign");
    assert_eq!(campaigns.len(), 1);
    assert_eq!(
        campaigns[0].name.as_deref(),
        Some("DIS_US_META_2027_MoanaLaunch")
    );
    assert_eq!(campaigns[0].body["status"], "PAUSED");
    let adset = &w.fake.objects("adset")[0];
    assert_eq!(text(&adset.body["campaign_id"]), text(&ids["campaign"]));
    assert_eq!(adset.body["daily_budget"], 1999);
    let ad = &w.fake.objects("ad")[0];
    assert_eq!(text(&ad.body["adset_id"]), text(&ids["adset"]));
    assert_eq!(
        text(&ad.body["creative"]["creative_id"]),
        text(&ids["creative"])
    );
    assert!(
        w.fake
            .state
            .lock()
            .unwrap()
            .tokens_seen
            .iter()
            .all(|t| t == META_TOKEN)
    );

    let attempts = st["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 4);
    assert!(
        attempts
            .iter()
            .all(|a| a["outcome"] == "CREATED" && a["latency_ms"].is_i64())
    );
    // The history tells the story.
    let view = w.s.governance.get_ticket(t).await.unwrap();
    let events: Vec<&str> = view.history.iter().map(|h| h.event.as_str()).collect();
    assert!(
        events.ends_with(&["DEPLOY_QUEUED", "DEPLOY_STARTED", "DEPLOYED"]),
        "{events:?}"
    );
    // The take-up says which run, attempt and worker, as the ticket moved.
    let started = view
        .history
        .iter()
        .find(|h| h.event == "DEPLOY_STARTED")
        .unwrap();
    assert_eq!(
        (started.from_status, started.to_status),
        (Some(TicketStatus::Queued), TicketStatus::Deploying)
    );
    let detail = started.detail.as_deref().unwrap_or_default();
    assert!(
        detail.starts_with(&format!("deploy run {}, attempt 1 by ", st["run"]["id"])),
        "{detail}"
    );
    assert_eq!(started.actor, detail.rsplit(" by ").next().unwrap());
}

#[tokio::test]
async fn tiktok_and_google_deploy_through_their_own_formats() {
    let w = setup().await;
    let tt = ready(&w.s, "TIKTOK", "Moana TikTok").await;
    let ga = ready(&w.s, "GADS", "Moana Search").await;
    let r1 = queue_deploy(&w.s, tt).await;
    let r2 = queue_deploy(&w.s, ga).await;
    assert_eq!(drive(&w.s, r1).await, [RunOutcome::Succeeded]);
    assert_eq!(drive(&w.s, r2).await, [RunOutcome::Succeeded]);

    let st = deploy_status(&w.s, tt).await;
    assert_eq!(st["ticket_status"], "TRAFFICKED_SUCCESS");
    let adgroup = &w.fake.objects("adgroup")[0];
    assert_eq!(
        text(&adgroup.body["campaign_id"]),
        text(&st["external_ids"]["campaign"])
    );
    assert_eq!(adgroup.body["budget"], json!(19.99));

    let st = deploy_status(&w.s, ga).await;
    assert_eq!(st["ticket_status"], "TRAFFICKED_SUCCESS", "{st}");
    let ids = &st["external_ids"];
    for obj in [
        "campaign_budget",
        "campaign",
        "campaign_criterion",
        "ad_group",
        "ad_group_criterion",
        "ad_group_ad",
    ] {
        assert!(ids[obj].is_string(), "{obj} missing: {st}");
    }
    let campaign = w
        .fake
        .objects("campaign")
        .into_iter()
        .find(|o| o.platform == "GOOGLE_ADS")
        .unwrap();
    assert_eq!(
        campaign.body["campaignBudget"],
        format!(
            "customers/1234567890/campaignBudgets/{}",
            ids["campaign_budget"].as_str().unwrap()
        )
    );
    assert_eq!(campaign.body["status"], "PAUSED");
    let budget = &w.fake.objects("campaign_budget")[0];
    assert_eq!(budget.body["amountMicros"], "19990000");
    let seen = w.fake.state.lock().unwrap().tokens_seen.clone();
    assert!(seen.contains(&TIKTOK_TOKEN.to_owned()) && seen.contains(&GOOGLE_ACCESS.to_owned()));
}

#[tokio::test]
async fn rate_limit_waits_as_the_platform_says_then_succeeds() {
    let w = setup().await;
    let t = ready(&w.s, "META", "Moana Launch").await;
    w.fake.fail_next(
        "campaign",
        Fault::RateLimit {
            retry_after_secs: 1,
        },
    );
    let run = queue_deploy(&w.s, t).await;
    let d = w.s.deploy.deployer("w1".into());
    let first = d.process(run).await.unwrap();
    assert_eq!(first, RunOutcome::RetryIn(Duration::from_secs(1)));

    let st = deploy_status(&w.s, t).await;
    assert_eq!(st["ticket_status"], "QUEUED");
    assert_eq!(st["run"]["state"], "WAITING");
    assert!(st["next_retry_at"].is_string(), "{st}");
    assert_eq!(st["last_error"]["class"], "RATE_LIMITED");
    assert_eq!(st["last_error"]["code"], "17");
    assert_eq!(st["last_error"]["retry_after_ms"], 1000);
    // Not due yet: a delivery now does nothing.
    assert_eq!(d.process(run).await.unwrap(), RunOutcome::Skipped);

    assert_eq!(drive(&w.s, run).await.last(), Some(&RunOutcome::Succeeded));
    assert_eq!(w.fake.objects("campaign").len(), 1);
    let st = deploy_status(&w.s, t).await;
    assert_eq!(st["ticket_status"], "TRAFFICKED_SUCCESS");
    assert_eq!(st["attempts"][0]["outcome"], "RATE_LIMITED");
    assert_eq!(st["attempts"][0]["http_status"], 429);
}

#[tokio::test]
async fn server_errors_are_retried_in_place_by_the_same_worker() {
    let w = setup().await;
    let t = ready(&w.s, "TIKTOK", "Moana TikTok").await;
    w.fake.fail_next("adgroup", Fault::ServerError);
    w.fake.fail_next("adgroup", Fault::ServerError);
    let run = queue_deploy(&w.s, t).await;
    // One take-up: the worker sits out the short back-offs itself.
    assert_eq!(drive(&w.s, run).await, [RunOutcome::Succeeded]);
    assert_eq!(w.fake.objects("campaign").len(), 1);
    assert_eq!(w.fake.objects("adgroup").len(), 1);
    let st = deploy_status(&w.s, t).await;
    assert_eq!(st["ticket_status"], "TRAFFICKED_SUCCESS");
    // Each retry counts as an attempt, as it would through the queue.
    assert_eq!(st["run"]["attempts"], 3);
    let errs = failed_attempts(&st);
    assert_eq!(errs.len(), 2);
    assert_eq!(errs[0]["error"]["code"], "50000");
    // The ticket never went back to QUEUED; each retry is in its history.
    let ev = events(&w.s, t).await;
    assert!(
        ev.ends_with(&[
            "DEPLOY_QUEUED".into(),
            "DEPLOY_STARTED".into(),
            "DEPLOY_RETRY".into(),
            "DEPLOY_RETRY".into(),
            "DEPLOYED".into()
        ]),
        "{ev:?}"
    );
    let view = w.s.governance.get_ticket(t).await.unwrap();
    let retry = view
        .history
        .iter()
        .find(|h| h.event == "DEPLOY_RETRY")
        .unwrap();
    let detail = retry.detail.as_deref().unwrap_or_default();
    assert!(detail.contains("attempt 2"), "{detail}");
    assert!(detail.contains("50000"), "{detail}");
}

#[tokio::test]
async fn retries_in_place_stop_at_max_attempts() {
    let w = setup().await;
    let t = ready(&w.s, "META", "Moana Launch").await;
    for _ in 0..settings().max_attempts {
        w.fake.fail_next("campaign", Fault::ServerError);
    }
    let run = queue_deploy(&w.s, t).await;
    assert_eq!(drive(&w.s, run).await, [RunOutcome::Failed]);
    let st = deploy_status(&w.s, t).await;
    assert_eq!(st["ticket_status"], "DEPLOY_FAILED");
    assert_eq!(st["run"]["attempts"], settings().max_attempts);
    assert_eq!(
        st["last_error"]["gave_up_after_attempts"],
        settings().max_attempts
    );
    assert_eq!(w.fake.calls("meta campaign create"), 6);
    assert!(w.fake.objects("campaign").is_empty());
}

/// A world whose retries are made in place when due within `in_place`, and a META ticket
/// whose campaign create is first throttled with Retry-After `retry_after_secs`.
async fn throttled_in_place(in_place: Duration, retry_after_secs: u64) -> (World, i64) {
    let w = World::build()
        .timeout(Duration::from_millis(400))
        .options(move |o| {
            o.deploy = DeploySettings {
                retry_in_place_max: in_place,
                ..settings()
            }
        })
        .start()
        .await;
    let t = ready(&w.s, "META", "Moana Launch").await;
    w.fake
        .fail_next("campaign", Fault::RateLimit { retry_after_secs });
    (w, t)
}

#[tokio::test]
async fn a_retry_in_place_keeps_the_run_and_shows_when_it_is_due() {
    // Retry-After 1 s is within the in-place limit here.
    let (w, t) = throttled_in_place(Duration::from_secs(3), 1).await;
    let run = queue_deploy(&w.s, t).await;
    let d = w.s.deploy.deployer("w1".into());
    let job = tokio::spawn(async move { d.process(run).await });
    let st = wait_until(
        "no retry was scheduled",
        Duration::from_secs(10),
        || async {
            let st = deploy_status(&w.s, t).await;
            if st["next_retry_at"].is_string() {
                Ok(st)
            } else {
                Err(st.to_string())
            }
        },
    )
    .await;
    assert_eq!(st["ticket_status"], "DEPLOYING");
    assert_eq!(st["run"]["state"], "RUNNING");
    assert_eq!(st["run"]["attempts"], 2);
    assert_eq!(st["last_error"]["class"], "RATE_LIMITED");
    // Another worker cannot take it meanwhile.
    let other = w.s.deploy.deployer("w2".into());
    assert_eq!(other.process(run).await.unwrap(), RunOutcome::Skipped);
    assert_eq!(job.await.unwrap().unwrap(), RunOutcome::Succeeded);
    let st = deploy_status(&w.s, t).await;
    assert_eq!(st["ticket_status"], "TRAFFICKED_SUCCESS");
    assert!(st["next_retry_at"].is_null(), "{st}");
    assert_eq!(w.fake.objects("campaign").len(), 1);
}

#[tokio::test]
async fn a_shutdown_during_a_retry_in_place_hands_the_run_back_to_the_queue() {
    let (w, t) = throttled_in_place(Duration::from_secs(5), 4).await;
    let run = queue_deploy(&w.s, t).await;
    let stopping = tokio_util::sync::CancellationToken::new();
    let d =
        w.s.deploy
            .deployer("w1".into())
            .with_stopping(stopping.clone());
    let job = tokio::spawn(async move { d.process(run).await });
    wait_until(
        "no retry was scheduled",
        Duration::from_secs(10),
        || async {
            match deploy_status(&w.s, t).await["next_retry_at"].is_string() {
                true => Ok(()),
                false => Err("not yet".to_owned()),
            }
        },
    )
    .await;
    let asked = std::time::Instant::now();
    stopping.cancel();
    let outcome = job.await.unwrap().unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "the worker sat out the wait"
    );
    // Due when the retry in place was, not a whole wait later.
    let RunOutcome::RetryIn(left) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(left < Duration::from_secs(4), "{left:?}");
    let st = deploy_status(&w.s, t).await;
    assert_eq!(st["ticket_status"], "QUEUED");
    assert_eq!(st["run"]["state"], "WAITING");
    // The retry was not made: only the first attempt counts until the next take-up.
    assert_eq!(st["run"]["attempts"], 1);
    assert!(st["next_retry_at"].is_string());
    tokio::time::sleep(left).await;
    assert_eq!(drive(&w.s, run).await.last(), Some(&RunOutcome::Succeeded));
    assert_eq!(w.fake.objects("campaign").len(), 1);
    // Two creates were sent, two attempts counted.
    assert_eq!(w.fake.calls("meta campaign create"), 2);
    assert_eq!(deploy_status(&w.s, t).await["run"]["attempts"], 2);
}

#[tokio::test]
async fn server_errors_go_back_to_the_queue_when_in_place_retries_are_off() {
    let w = setup_queue_only().await;
    let t = ready(&w.s, "TIKTOK", "Moana TikTok").await;
    w.fake.fail_next("adgroup", Fault::ServerError);
    w.fake.fail_next("adgroup", Fault::ServerError);
    let run = queue_deploy(&w.s, t).await;
    let outcomes = drive(&w.s, run).await;
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    assert!(matches!(outcomes[0], RunOutcome::RetryIn(d) if d <= Duration::from_millis(200)));
    assert_eq!(outcomes[2], RunOutcome::Succeeded);
    assert_eq!(w.fake.objects("campaign").len(), 1);
    assert_eq!(w.fake.objects("adgroup").len(), 1);
    let st = deploy_status(&w.s, t).await;
    assert_eq!(st["run"]["attempts"], 3);
    let errs = failed_attempts(&st);
    assert_eq!(errs.len(), 2);
    // TikTok answered HTTP 200 with code 50000: still an error, classified transient.
    assert_eq!(errs[0]["error"]["code"], "50000");
    assert_eq!(errs[0]["error"]["http_status"], 200);
}

#[tokio::test]
async fn permanent_meta_error_is_parsed_into_the_ticket() {
    let w = setup().await;
    let t = ready(&w.s, "META", "Moana Launch").await;
    w.fake.fail_next("adset", Fault::Reject);
    let run = queue_deploy(&w.s, t).await;
    assert_eq!(drive(&w.s, run).await, [RunOutcome::Failed]);
    let st = deploy_status(&w.s, t).await;
    assert_eq!(st["ticket_status"], "DEPLOY_FAILED");
    assert_eq!(st["run"]["state"], "FAILED");
    let e = &st["last_error"];
    assert_eq!(e["platform"], "META");
    assert_eq!(e["class"], "PERMANENT");
    assert_eq!(e["object"], "adset");
    assert_eq!(e["code"], "100");
    assert_eq!(e["subcode"], "1885621");
    assert_eq!(e["field_path"], "daily_budget");
    assert_eq!(e["trace_id"], "AbudgetClash");
    assert_eq!(
        e["user_title"],
        "Can't Set Ad Set Budget When Campaign Budget Is Set"
    );
    // The campaign made before the failure is kept, so a fixed ticket resumes from it.
    assert!(st["external_ids"]["campaign"].is_string());
    let view = w.s.governance.get_ticket(t).await.unwrap();
    let last = view.history.last().unwrap();
    assert_eq!(last.event, "DEPLOY_FAILED");
    assert!(
        last.detail
            .as_deref()
            .unwrap_or_default()
            .contains("1885621")
    );
}

#[tokio::test]
async fn lost_response_after_commit_is_found_by_name_not_created_twice() {
    let w = setup().await;
    let t = ready(&w.s, "META", "Moana Launch").await;
    w.fake.fail_next("campaign", Fault::Lose);
    let run = queue_deploy(&w.s, t).await;
    let outcomes = drive(&w.s, run).await;
    assert_eq!(
        outcomes.last(),
        Some(&RunOutcome::Succeeded),
        "{outcomes:?}"
    );
    assert_eq!(
        w.fake.objects("campaign").len(),
        1,
        "the retry must adopt the committed campaign"
    );
    assert_eq!(w.fake.duplicates(), 0);
    let st = deploy_status(&w.s, t).await;
    let outcomes: Vec<(&str, &str)> = st["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap(),
                a["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(outcomes[0], ("CREATE", "UNKNOWN"));
    assert_eq!(outcomes[1], ("LOOKUP", "FOUND"));
    assert_eq!(
        st["external_ids"]["campaign"].as_str(),
        Some(w.fake.objects("campaign")[0].id.as_str())
    );

    // Google: the same through GAQL search.
    let g = ready(&w.s, "GADS", "Moana Search").await;
    w.fake.fail_next("campaign", Fault::Lose);
    w.fake.fail_next("ad_group_criterion", Fault::Lose);
    let run = queue_deploy(&w.s, g).await;
    assert_eq!(drive(&w.s, run).await.last(), Some(&RunOutcome::Succeeded));
    let google: Vec<_> = w
        .fake
        .objects("campaign")
        .into_iter()
        .filter(|o| o.platform == "GOOGLE_ADS")
        .collect();
    assert_eq!(google.len(), 1);
    // Its criteria were sent as one mutate; the retry found them instead of adding copies.
    let criteria = w.fake.objects("ad_group_criterion");
    let distinct: std::collections::HashSet<String> =
        criteria.iter().map(|o| o.body.to_string()).collect();
    assert!(!criteria.is_empty());
    assert_eq!(criteria.len(), distinct.len());
}

#[tokio::test]
async fn failure_after_the_campaign_resumes_without_a_second_campaign() {
    let w = setup_queue_only().await;
    let t = ready(&w.s, "META", "Moana Launch").await;
    w.fake.fail_next("adset", Fault::ServerError);
    let run = queue_deploy(&w.s, t).await;
    let d = w.s.deploy.deployer("w1".into());
    assert!(matches!(
        d.process(run).await.unwrap(),
        RunOutcome::RetryIn(_)
    ));
    let st = deploy_status(&w.s, t).await;
    let campaign_id = st["external_ids"]["campaign"].as_str().unwrap().to_owned();
    assert!(st["external_ids"]["adset"].is_null());

    assert_eq!(drive(&w.s, run).await.last(), Some(&RunOutcome::Succeeded));
    assert_eq!(w.fake.objects("campaign").len(), 1);
    assert_eq!(
        text(&w.fake.objects("adset")[0].body["campaign_id"]),
        campaign_id
    );
    assert_eq!(w.fake.calls("meta campaign create"), 1);
}

/// A world whose fake platform answers every request after `latency` (the client waits up
/// to three times that), with a READY Meta ticket queued for deploy: (world, ticket, run).
async fn slow_meta_deploy(latency: Duration) -> (World, i64, i64) {
    let w = setup_with_timeout(latency * 3).await;
    w.fake.set_random(Default::default(), latency);
    let t = ready(&w.s, "META", "Moana Launch").await;
    let run = queue_deploy(&w.s, t).await;
    (w, t, run)
}

/// Start deploying `run` as worker "w1", wait until its `attempts`-th request has left, then
/// let another worker take the run over: what the worker's take-up ends with.
async fn steal_the_run_after(w: &World, t: i64, run: i64, attempts: usize) -> RunOutcome {
    let d = w.s.deploy.deployer("w1".into());
    let job = tokio::spawn(async move { d.process(run).await });
    wait_until(
        "the request never left",
        Duration::from_secs(20),
        || async {
            let st = deploy_status(&w.s, t).await;
            match st["attempts"].as_array().map(|a| a.len()) {
                Some(n) if n == attempts => Ok(()),
                _ => Err(st.to_string()),
            }
        },
    )
    .await;
    sqlx::query("UPDATE deploy_runs SET lease_owner = 'thief' WHERE id = $1")
        .bind(run)
        .execute(w.db.pool())
        .await
        .unwrap();
    job.await.unwrap().unwrap()
}

/// A worker whose run is taken over while its campaign create is on its way: the answer
/// and the id must be written all the same (the object exists), and nothing more sent.
/// With `latency` shorter than the heartbeat (lease / 3) the worker finds out when it opens
/// its next request; longer, its heartbeat finds out first and the answer is written alone.
async fn lease_lost_mid_request(latency: Duration) {
    let (w, t, run) = slow_meta_deploy(latency).await;
    // Another worker takes the run over while the answer is on its way.
    assert_eq!(
        steal_the_run_after(&w, t, run, 1).await,
        RunOutcome::LeaseLost
    );
    // The campaign exists, so its id and the answer are written all the same, and nothing
    // else was sent.
    let st = deploy_status(&w.s, t).await;
    let campaign = w.fake.objects("campaign");
    assert_eq!(campaign.len(), 1);
    assert_eq!(
        st["external_ids"]["campaign"].as_str(),
        Some(campaign[0].id.as_str())
    );
    let attempts = st["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{st}");
    assert_eq!(attempts[0]["outcome"], "CREATED");
    assert!(w.fake.objects("adset").is_empty());
    assert_eq!(st["run"]["state"], "RUNNING");
}

#[tokio::test]
async fn a_lease_lost_mid_request_is_found_at_the_next_opening_and_the_answer_kept() {
    lease_lost_mid_request(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_lease_lost_mid_request_is_found_by_the_heartbeat_and_the_answer_kept() {
    lease_lost_mid_request(settings().lease).await;
}

/// A worker whose run is taken over while its last request (the ad) is on its way: the ad's
/// id and answer are written all the same, but the run is not ended and the ticket stays
/// DEPLOYING (no DEPLOYED row): finishing is the new holder's.
#[tokio::test]
async fn a_lease_lost_during_the_last_request_keeps_its_id_and_does_not_finish() {
    let (w, t, run) = slow_meta_deploy(Duration::from_millis(300)).await;
    // Another worker takes the run over while the answer is on its way.
    assert_eq!(
        steal_the_run_after(&w, t, run, 4).await,
        RunOutcome::LeaseLost
    );
    let st = deploy_status(&w.s, t).await;
    let ad = w.fake.objects("ad");
    assert_eq!(ad.len(), 1);
    assert_eq!(
        st["external_ids"]["ad"].as_str(),
        Some(ad[0].id.as_str()),
        "{st}"
    );
    assert_eq!(st["attempts"][3]["outcome"], "CREATED", "{st}");
    assert_eq!(st["run"]["state"], "RUNNING");
    assert_eq!(st["ticket_status"], "DEPLOYING");
    assert!(!events(&w.s, t).await.contains(&"DEPLOYED".to_owned()));
}

/// A worker whose run is taken over while a request is on its way that then fails: the
/// failed attempt's end is written all the same, but the retry in place is not (no attempt
/// counted, no DEPLOY_RETRY row), and nothing more is sent.
#[tokio::test]
async fn a_lease_lost_before_a_retry_in_place_keeps_the_failure_and_counts_no_retry() {
    let (w, t, run) = slow_meta_deploy(Duration::from_millis(300)).await;
    w.fake.fail_next("campaign", Fault::ServerError);
    // Another worker takes the run over while the answer is on its way.
    assert_eq!(
        steal_the_run_after(&w, t, run, 1).await,
        RunOutcome::LeaseLost
    );
    let st = deploy_status(&w.s, t).await;
    let attempts = st["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{st}");
    // A create's 5xx may have been applied: its outcome is unknown, its error kept.
    assert_eq!(attempts[0]["outcome"], "UNKNOWN", "{st}");
    assert_eq!(attempts[0]["http_status"], 500, "{st}");
    assert_eq!(attempts[0]["error"]["class"], "TRANSIENT", "{st}");
    assert_eq!(st["run"]["attempts"], 1, "{st}");
    assert_eq!(st["run"]["state"], "RUNNING");
    assert!(!events(&w.s, t).await.contains(&"DEPLOY_RETRY".to_owned()));
    assert_eq!(w.fake.calls("meta campaign create"), 1);
}

#[tokio::test]
async fn two_workers_racing_deploy_once() {
    let w = setup().await;
    w.fake
        .set_random(Default::default(), Duration::from_millis(30));
    let t = ready(&w.s, "META", "Moana Launch").await;
    let run = queue_deploy(&w.s, t).await;
    let a = w.s.deploy.deployer("worker-a".into());
    let b = w.s.deploy.deployer("worker-b".into());
    let (ra, rb) = tokio::join!(a.process(run), b.process(run));
    let mut outcomes = [ra.unwrap(), rb.unwrap()];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, [RunOutcome::Skipped, RunOutcome::Succeeded]);
    assert_eq!(w.fake.objects("campaign").len(), 1);
    assert_eq!(w.fake.objects("ad").len(), 1);
    // A late duplicate delivery finds nothing to do.
    assert_eq!(a.process(run).await.unwrap(), RunOutcome::Skipped);
    // And the ticket cannot be queued twice.
    let again = try_deploy(&w.s, t, false).await.unwrap_err();
    assert!(again.to_string().contains("TRAFFICKED_SUCCESS"), "{again}");
}

/// Queue a deploy of META ticket `t` and let a worker take it and die mid-request: the
/// platform commits the campaign, but its answer comes too late, the worker dies first.
/// Returns the run, still RUNNING under the dead worker's lease.
async fn die_after_the_campaign(w: &World, t: i64) -> i64 {
    w.fake.fail_next("campaign", Fault::Lose);
    let run = queue_deploy(&w.s, t).await;
    let doomed = w.s.deploy.deployer("doomed".into());
    let job = tokio::spawn(async move { doomed.process(run).await });
    wait_until(
        "the create never reached the platform",
        Duration::from_secs(10),
        || async {
            if w.fake.objects("campaign").is_empty() {
                Err("no campaign yet".to_owned())
            } else {
                Ok(())
            }
        },
    )
    .await;
    job.abort();
    let _ = job.await;
    run
}

#[tokio::test]
async fn a_worker_that_dies_mid_request_is_taken_over_without_a_duplicate() {
    let w = setup().await;
    let t = ready(&w.s, "META", "Moana Launch").await;
    let run = die_after_the_campaign(&w, t).await;
    assert_eq!(w.fake.objects("campaign").len(), 1);
    let st = deploy_status(&w.s, t).await;
    assert_eq!(st["run"]["state"], "RUNNING");
    assert_eq!(st["attempts"][0]["outcome"], "IN_FLIGHT");

    // Another worker cannot take it while the lease holds, then can once it lapses.
    let heir = w.s.deploy.deployer("heir".into());
    assert_eq!(heir.process(run).await.unwrap(), RunOutcome::Skipped);
    // Polled rather than slept past the lease: on a slow machine the takeover is still seen.
    let taken_over = wait_until(
        "the heir never took the run over",
        settings().lease * 10,
        || async {
            match heir.process(run).await.expect("process") {
                RunOutcome::Skipped => Err("still leased".to_owned()),
                other => Ok(other),
            }
        },
    )
    .await;
    assert_eq!(taken_over, RunOutcome::Succeeded);
    assert_eq!(w.fake.objects("campaign").len(), 1);
    assert_eq!(w.fake.duplicates(), 0);
    let st = deploy_status(&w.s, t).await;
    assert_eq!(st["ticket_status"], "TRAFFICKED_SUCCESS");
    assert_eq!(st["run"]["attempts"], 2);
}

#[tokio::test]
async fn a_queue_worker_takes_a_dead_workers_run_over_when_its_lease_lapses() {
    // No sweep within the test's time: the takeover must come from the queue's job itself.
    let w = World::build()
        .timeout(Duration::from_millis(400))
        .options(|o| {
            o.deploy = DeploySettings {
                sweep_every: Duration::from_secs(600),
                ..settings()
            }
        })
        .start()
        .await;
    w.fake.set_lose_delay(Duration::from_millis(1200));
    let t = ready(&w.s, "META", "Moana Launch").await;
    die_after_the_campaign(&w, t).await;

    // The queue's workers take the run's job while the dead worker's lease still holds.
    let workers = Workers::start(&w.s);
    let st = wait_until(
        "the run was not taken over after its lease lapsed",
        settings().lease * 8,
        || async {
            let st = deploy_status(&w.s, t).await;
            match st["ticket_status"] == "TRAFFICKED_SUCCESS" {
                true => Ok(st),
                false => Err(st.to_string()),
            }
        },
    )
    .await;
    workers.stop().await;
    assert_eq!(st["run"]["attempts"], 2);
    assert_eq!(w.fake.objects("campaign").len(), 1);
    assert_eq!(w.fake.duplicates(), 0);
}

#[tokio::test]
async fn the_queue_and_workers_deploy_everything_once_under_faults() {
    let w = setup().await;
    w.fake.set_random(
        common::fake_platforms::RandomFaults {
            rate_limit: 0.1,
            server_error: 0.1,
            lose: 0.03,
        },
        Duration::from_millis(5),
    );
    let mut tickets = Vec::new();
    for i in 0..6 {
        let channel = ["META", "TIKTOK", "GADS"][i % 3];
        let t = ready(&w.s, channel, &format!("Wave {i}")).await;
        queue_deploy(&w.s, t).await;
        tickets.push(t);
    }
    let w1 = Workers::start(&w.s);
    let w2 = Workers::start(&w.s);
    wait_until(
        "deploys did not finish in time",
        Duration::from_secs(60),
        || async {
            let mut pending = Vec::new();
            for t in &tickets {
                let st = deploy_status(&w.s, *t).await;
                assert_ne!(st["ticket_status"], "DEPLOY_FAILED", "{st}");
                if st["ticket_status"] != "TRAFFICKED_SUCCESS" {
                    pending.push(format!("{t}: {}", st["ticket_status"]));
                }
            }
            if pending.is_empty() {
                Ok(())
            } else {
                Err(format!("not done: {pending:?}"))
            }
        },
    )
    .await;
    w1.stop().await;
    w2.stop().await;
    assert_eq!(w.fake.duplicates(), 0);
    assert_eq!(w.fake.objects("campaign").len(), 6);
}

#[tokio::test]
async fn cancel_only_before_anything_exists() {
    let w = setup_queue_only().await;
    let t = ready(&w.s, "META", "Moana Launch").await;
    queue_deploy(&w.s, t).await;
    let out = w.s.deploy.cancel(&me(), t).await.unwrap();
    assert_eq!(out.status, TicketStatus::ReadyForApi);
    let st = deploy_status(&w.s, t).await;
    assert_eq!(st["run"]["state"], "CANCELLED");
    let e = w.s.deploy.cancel(&me(), t).await.unwrap_err();
    assert!(e.to_string().contains("no deploy in progress"), "{e}");

    // Once the campaign exists the deploy cannot be cancelled.
    w.fake.fail_next("adset", Fault::ServerError);
    let run = queue_deploy(&w.s, t).await;
    let d = w.s.deploy.deployer("w".into());
    assert!(matches!(
        d.process(run).await.unwrap(),
        RunOutcome::RetryIn(_)
    ));
    let e = w.s.deploy.cancel(&me(), t).await.unwrap_err();
    assert!(e.to_string().contains("already has objects"), "{e}");
    assert_eq!(deploy_status(&w.s, t).await["ticket_status"], "QUEUED");
}

#[tokio::test]
async fn deploy_requires_ready_for_api_and_passing_qa() {
    let w = setup().await;
    let t = ready(&w.s, "META", "Moana Launch").await;
    // Tighten the brand's cap after QA passed: the deploy re-runs QA and refuses.
    w.s.governance
        .update_brand(
            &me(),
            from(json!({"code": "DIS", "daily_budget_limit": "10.00"})),
        )
        .await
        .unwrap();
    let e = try_deploy(&w.s, t, false).await.unwrap_err();
    assert!(e.to_string().contains("budget.limits"), "{e}");
    assert_eq!(deploy_status(&w.s, t).await["ticket_status"], "QA_FAILED");
    let e = try_deploy(&w.s, t, false).await.unwrap_err();
    assert!(e.to_string().contains("only READY_FOR_API"), "{e}");
    let e = try_deploy(&w.s, 99_999, false).await.unwrap_err();
    assert!(e.to_string().contains("not found"), "{e}");
    assert!(w.fake.objects("campaign").is_empty());
}

#[tokio::test]
async fn validate_only_checks_without_creating() {
    let w = setup().await;
    let t = ready(&w.s, "META", "Moana Launch").await;
    let out = try_deploy(&w.s, t, true).await.unwrap();
    let v = serde_json::to_value(&out).unwrap();
    assert_eq!(v["status"], "READY_FOR_API");
    assert_eq!(v["validation"][0]["object"], "campaign");
    assert_eq!(v["validation"][0]["outcome"], "VALID");
    assert_eq!(v["validation"][1]["outcome"], "SKIPPED");
    assert!(w.fake.objects("campaign").is_empty());

    let g = ready(&w.s, "GADS", "Moana Search").await;
    w.fake.fail_next("campaign_budget", Fault::Reject);
    let out = try_deploy(&w.s, g, true).await.unwrap();
    let v = serde_json::to_value(&out).unwrap();
    // validate-only requests never meet scripted faults in the fake, so the budget is valid
    assert_eq!(v["validation"][0]["outcome"], "VALID", "{v}");
    assert!(w.fake.objects("campaign_budget").is_empty());

    let tt = ready(&w.s, "TIKTOK", "Moana TikTok").await;
    let e = try_deploy(&w.s, tt, true).await.unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("validate_only:") && msg.contains("no validate-only mode"),
        "{msg}"
    );
}

#[tokio::test]
async fn missing_credentials_fail_clearly_and_secrets_never_leak() {
    let tdb = fresh_db().await;
    let fake = FakePlatforms::start().await;
    let base = fake.base_url();
    let mut platforms =
        PlatformConfig::new(&base, &base, &base, "v25.0", Duration::from_millis(400));
    platforms.set_credential("OMNITRAFFICK_META_ACCESS_TOKEN_META", META_TOKEN);
    let opts = AppOptions {
        platforms,
        deploy: settings(),
        ..AppOptions::default()
    };
    let (db, services) = startup::open_with(&tdb.url, opts).await.unwrap();
    seed_services(&services, &[META, TIKTOK, GADS]).await;
    // META has a channel-specific token; TIKTOK has none at all.
    let m = ready(&services, "META", "Moana Launch").await;
    let run = queue_deploy(&services, m).await;
    assert_eq!(drive(&services, run).await, [RunOutcome::Succeeded]);
    let t = ready(&services, "TIKTOK", "Moana TikTok").await;
    let run = queue_deploy(&services, t).await;
    assert_eq!(drive(&services, run).await, [RunOutcome::Failed]);
    let st = deploy_status(&services, t).await;
    let msg = st["last_error"]["message"].as_str().unwrap();
    assert!(msg.contains("OMNITRAFFICK_TIKTOK_ACCESS_TOKEN"), "{msg}");
    assert!(
        fake.objects("campaign")
            .iter()
            .all(|o| o.platform == "META")
    );

    let everything = format!("{st}{}", deploy_status(&services, m).await);
    assert!(!everything.contains(META_TOKEN));
    // Nothing in the database holds a token in clear.
    let dump = dump_text(&db).await;
    assert!(!dump.contains(META_TOKEN), "a token reached the database");
}

/// Every text column of the deploy and ticket tables, concatenated.
async fn dump_text(db: &Db) -> String {
    use sqlx::Row;
    let mut out = String::new();
    for q in [
        "SELECT COALESCE(error, '') AS t FROM deploy_attempts",
        "SELECT COALESCE(last_error, '') AS t FROM deploy_runs",
        "SELECT external_ids || payload_config AS t FROM tickets",
        "SELECT COALESCE(detail, '') AS t FROM ticket_history",
    ] {
        for r in sqlx::query(q).fetch_all(db.pool()).await.unwrap() {
            out.push_str(&r.try_get::<String, _>("t").unwrap());
        }
    }
    out
}

#[tokio::test]
async fn shutdown_lets_the_in_flight_deploy_finish() {
    let w = setup_with_timeout(Duration::from_secs(3)).await;
    w.fake
        .set_random(Default::default(), Duration::from_millis(250));
    let t = ready(&w.s, "META", "Moana Launch").await;
    queue_deploy(&w.s, t).await;
    let workers = Workers::start(&w.s);
    wait_deploy(
        &w.s,
        t,
        "the worker never started",
        Duration::from_secs(10),
        |st| st["run"]["state"] == "RUNNING",
    )
    .await;
    let stopping = tokio::time::Instant::now();
    workers.stop().await;
    let st = deploy_status(&w.s, t).await;
    assert_eq!(st["ticket_status"], "TRAFFICKED_SUCCESS", "{st}");
    assert_eq!(w.fake.objects("ad").len(), 1);
    // The deploy's last writes were not held up by the queue stopping (a stalled SQLite
    // write waits out the 10 s busy timeout).
    assert!(
        stopping.elapsed() < Duration::from_secs(8),
        "shutdown took {:?}",
        stopping.elapsed()
    );
    // Nothing is left locked: the next worker deploys the next ticket.
    let t2 = ready(&w.s, "META", "Moana Sequel").await;
    queue_deploy(&w.s, t2).await;
    let workers = Workers::start(&w.s);
    wait_deploy(
        &w.s,
        t2,
        "the next deploy never finished",
        Duration::from_secs(15),
        |st| st["ticket_status"] == "TRAFFICKED_SUCCESS",
    )
    .await;
    workers.stop().await;
}
