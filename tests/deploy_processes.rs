//! Deploys through the real binary: an MCP client over stdio queues a deploy that the server's
//! own worker carries out, while the client is notified of every status change; and a
//! `omnitraffick worker` process killed in the middle of a request, then replaced, finishes
//! the deploy without a duplicate campaign.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    ClientCapabilities, ClientConfig, Implementation, ResourceUpdatedNotificationParam,
    SubscribeRequestParams,
};
use rmcp::service::NotificationContext;
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};

use common::fake_platforms::{FakePlatforms, Fault};
use common::*;

const META_TOKEN: &str = "EAAGm0PX4ZCpsBAprocesstoken";

#[derive(Clone, Default)]
struct Recorder {
    updates: Arc<Mutex<Vec<String>>>,
}

impl ClientHandler for Recorder {
    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.updates.lock().unwrap().push(params.uri);
    }

    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("omnitraffick-deploy-tests", "0.1.0"),
        )
    }
}

fn platform_env(
    cmd: &mut tokio::process::Command,
    fake: &FakePlatforms,
    db: &TestDb,
    timeout_ms: u64,
) {
    cmd.env("DATABASE_URL", &db.url)
        .env("OMNITRAFFICK_LOG", "warn")
        .env("OMNITRAFFICK_META_BASE_URL", fake.base_url())
        .env("OMNITRAFFICK_TIKTOK_BASE_URL", fake.base_url())
        .env("OMNITRAFFICK_GOOGLE_ADS_BASE_URL", fake.base_url())
        .env("OMNITRAFFICK_META_ACCESS_TOKEN", META_TOKEN)
        .env("OMNITRAFFICK_PLATFORM_TIMEOUT_MS", timeout_ms.to_string())
        .env("OMNITRAFFICK_DEPLOY_POLL_MS", "50")
        .env("OMNITRAFFICK_DEPLOY_BACKOFF_BASE_MS", "50")
        .env("OMNITRAFFICK_DEPLOY_BACKOFF_MAX_MS", "200")
        .env("OMNITRAFFICK_DEPLOY_LEASE_SECS", "2");
}

fn meta_spec() -> Value {
    json!({
        "objective": "TRAFFIC",
        "budget": {"amount": "1500.00", "period": "DAILY"},
        "schedule": {"start_time": "2027-03-01T00:00:00-05:00", "end_time": "2027-03-31T23:59:59-05:00"},
        "targeting": {"countries": ["US"], "age_min": 18, "age_max": 44},
        "creative": {"headline": "Moana is back", "body": "Sail with Moana this March.", "link_url": "https://example.com/moana", "call_to_action": "LEARN_MORE", "image_url": "https://cdn.example.com/moana.jpg"},
        "overrides": {"meta": {"creative": {"object_story_spec": {"page_id": "112233445566"}}}}
    })
}

#[tokio::test]
async fn mcp_deploy_with_the_servers_own_worker_and_notifications() {
    let db = fresh_db().await;
    let fake = FakePlatforms::start().await;
    fake.fail_next("adset", Fault::ServerError);
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_omnitraffick"));
    cmd.args(["serve", "--stdio"]);
    platform_env(&mut cmd, &fake, &db, 2000);
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn serve --stdio");
    let recorder = Recorder::default();
    let client = Mcp::new(recorder.clone().serve(transport).await.expect("connect"));

    for (tool, args) in [
        (
            "create_market",
            json!({"code": "US", "country": "US", "region": "NA"}),
        ),
        (
            "create_brand",
            json!({"name": "Disney", "code": "DIS", "family_friendly": true, "currency": "USD"}),
        ),
        (
            "create_channel",
            json!({"code": "META", "platform": "META", "account_id": "1234567890"}),
        ),
    ] {
        client.ok(tool, args).await;
    }
    let campaign = client
        .ok(
            "create_campaign",
            json!({"brand_code": "DIS", "market_code": "US", "name": "Moana Launch!", "year": 2027}),
        )
        .await;
    let campaign = campaign["id"].as_i64().expect("campaign id");
    let id = client.create_ticket(campaign, "META", meta_spec()).await;

    // Only READY_FOR_API tickets deploy; the error says what to do.
    let e = client.err("deploy_ticket", json!({"ticket_id": id})).await;
    assert_eq!(e["code"], "INVALID_TRANSITION", "{e}");
    assert!(e["message"].as_str().unwrap().contains("run_qa"), "{e}");
    let e = client
        .err("get_deploy_status", json!({"ticket_id": 424242}))
        .await;
    assert_eq!(e["code"], "NOT_FOUND", "{e}");
    let e = client
        .err("deploy_ticket", json!({"ticket_id": "seven"}))
        .await;
    assert_eq!(e["code"], "VALIDATION", "{e}");

    let qa = client.run_qa(id).await;
    assert_eq!(qa["status"], "READY_FOR_API", "{qa}");
    let uri = format!("omnitraffick://tickets/{id}");
    #[allow(deprecated)]
    client
        .subscribe(SubscribeRequestParams::new(uri.clone()))
        .await
        .expect("resources/subscribe");

    let out = client.deploy_ticket(id).await;
    assert_eq!(out["status"], "QUEUED", "{out}");
    let st = client
        .wait_ticket_status(id, "TRAFFICKED_SUCCESS", Duration::from_secs(30))
        .await;
    for obj in ["campaign", "adset", "creative", "ad"] {
        assert!(st["external_ids"][obj].is_string(), "{st}");
    }
    assert_eq!(fake.objects("campaign").len(), 1);
    assert_eq!(fake.objects("adset").len(), 1);
    // The 500 left the ad set's fate unknown, so the retry looked for it before creating it.
    let adset: Vec<(&str, &str)> = st["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["object"] == "adset")
        .map(|a| {
            (
                a["action"].as_str().unwrap_or_default(),
                a["outcome"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        adset,
        [
            ("CREATE", "UNKNOWN"),
            ("LOOKUP", "NOT_FOUND"),
            ("CREATE", "CREATED")
        ],
        "{st}"
    );
    assert!(!st.to_string().contains(META_TOKEN));

    // Status changes reached the subscriber (changes within one poll are coalesced).
    let updates_for = |uri: &str| {
        recorder
            .updates
            .lock()
            .unwrap()
            .iter()
            .filter(|u| *u == uri)
            .count()
    };
    wait_until(
        "no resource update arrived",
        Duration::from_secs(5),
        || async {
            if updates_for(&uri) >= 1 {
                Ok(())
            } else {
                Err(format!("updates: {:?}", recorder.updates.lock().unwrap()))
            }
        },
    )
    .await;

    // After unsubscribing, changes to a ticket are no longer announced.
    let other = client.create_ticket(campaign, "META", meta_spec()).await;
    let other_uri = format!("omnitraffick://tickets/{other}");
    #[allow(deprecated)]
    {
        client
            .subscribe(SubscribeRequestParams::new(other_uri.clone()))
            .await
            .expect("subscribe");
        client
            .unsubscribe(rmcp::model::UnsubscribeRequestParams::new(
                other_uri.clone(),
            ))
            .await
            .expect("unsubscribe");
        let e = client
            .subscribe(SubscribeRequestParams::new("omnitraffick://tickets/999999"))
            .await;
        assert!(e.is_err(), "subscribing to an unknown ticket must fail");
    }
    // The unsubscribed ticket changes first; then a probe ticket is created and subscribed,
    // and changes. History is read in order, so any update for the probe means the watcher is
    // past the other ticket's change: its absence then proves it was not announced, however
    // slow the machine (no fixed wait).
    client.run_qa(other).await;
    let probe = client.create_ticket(campaign, "META", meta_spec()).await;
    let probe_uri = format!("omnitraffick://tickets/{probe}");
    #[allow(deprecated)]
    client
        .subscribe(SubscribeRequestParams::new(probe_uri.clone()))
        .await
        .expect("subscribe");
    client.run_qa(probe).await;
    wait_until(
        "the probe's update never arrived",
        Duration::from_secs(10),
        || async {
            if updates_for(&probe_uri) >= 1 {
                Ok(())
            } else {
                Err(format!("updates: {:?}", recorder.updates.lock().unwrap()))
            }
        },
    )
    .await;
    assert_eq!(
        updates_for(&other_uri),
        0,
        "an unsubscribed ticket was announced"
    );
    client.close().await;
}

#[tokio::test]
async fn a_killed_worker_process_is_replaced_without_a_duplicate() {
    let db = fresh_db().await;
    let fake = FakePlatforms::start().await;
    // The platform commits the campaign and answers 20 s later: the worker is mid-request.
    fake.set_lose_delay(Duration::from_secs(20));
    fake.fail_next("campaign", Fault::Lose);

    // Queue the deploy from this process (no worker here).
    let (_db, services) = open(&db).await;
    seed_services(&services, &[META]).await;
    let t = ready_ticket(&services, "META", "Moana Launch", meta_spec()).await;
    queue_deploy(&services, t).await;

    let spawn_worker = || {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_omnitraffick"));
        cmd.arg("worker")
            .kill_on_drop(true)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        platform_env(&mut cmd, &fake, &db, 30_000);
        cmd.spawn().expect("spawn worker")
    };
    let mut first = spawn_worker();
    wait_until(
        "the first worker never sent the campaign",
        Duration::from_secs(30),
        || async {
            if fake.objects("campaign").is_empty() {
                Err("no campaign on the platform yet".to_owned())
            } else {
                Ok(())
            }
        },
    )
    .await;
    first.kill().await.expect("kill -9 the worker");
    let _ = first.wait().await;

    let mut second = spawn_worker();
    let st = wait_deploy(
        &services,
        t,
        "the replacement worker did not finish",
        Duration::from_secs(40),
        |st| st["ticket_status"] == "TRAFFICKED_SUCCESS",
    )
    .await;
    second.kill().await.ok();
    let outcomes: Vec<&str> = st["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes[0], "IN_FLIGHT", "{outcomes:?}");
    assert!(outcomes.contains(&"FOUND"), "{outcomes:?}");
    assert_eq!(fake.objects("campaign").len(), 1, "no duplicate campaign");
    assert_eq!(fake.duplicates(), 0);
}
