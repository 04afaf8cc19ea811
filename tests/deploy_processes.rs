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
use common::from_json as from;
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

async fn wait_for_status(client: &Client2, ticket: i64, want: &str, secs: u64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let st = call2(client, "get_deploy_status", json!({"ticket_id": ticket})).await;
        if st["ticket_status"] == want {
            return st;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "ticket never reached {want}: {st}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

type Client2 = rmcp::service::RunningService<RoleClient, Recorder>;

async fn call2(client: &Client2, tool: &str, args: Value) -> Value {
    let params = rmcp::model::CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().cloned().unwrap_or_default());
    let r = client.call_tool(params).await.expect("protocol");
    if let Some(s) = r.structured_content.clone() {
        return s;
    }
    let text = r
        .content
        .iter()
        .find_map(|c| c.as_text().map(|t| t.text.clone()))
        .unwrap_or_default();
    serde_json::from_str(&text).unwrap_or(Value::String(text))
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
    let client = recorder.clone().serve(transport).await.expect("connect");

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
        call2(&client, tool, args).await;
    }
    let campaign = call2(
        &client,
        "create_campaign",
        json!({"brand_code": "DIS", "market_code": "US", "name": "Moana Launch!", "year": 2027}),
    )
    .await;
    let ticket = call2(&client, "create_ticket", json!({"campaign_id": campaign["id"], "channel_code": "META", "payload_config": meta_spec()})).await;
    let id = ticket["id"].as_i64().expect("ticket id");

    // Only READY_FOR_API tickets deploy; the error says what to do.
    let e = call2(&client, "deploy_ticket", json!({"ticket_id": id})).await;
    assert_eq!(e["error"]["code"], "INVALID_TRANSITION", "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("run_qa"),
        "{e}"
    );
    let e = call2(&client, "get_deploy_status", json!({"ticket_id": 424242})).await;
    assert_eq!(e["error"]["code"], "NOT_FOUND", "{e}");
    let e = call2(&client, "deploy_ticket", json!({"ticket_id": "seven"})).await;
    assert_eq!(e["error"]["code"], "VALIDATION", "{e}");

    let qa = call2(&client, "run_qa", json!({"ticket_id": id})).await;
    assert_eq!(qa["status"], "READY_FOR_API", "{qa}");
    let uri = format!("omnitraffick://tickets/{id}");
    #[allow(deprecated)]
    client
        .subscribe(SubscribeRequestParams::new(uri.clone()))
        .await
        .expect("resources/subscribe");

    let out = call2(&client, "deploy_ticket", json!({"ticket_id": id})).await;
    assert_eq!(out["status"], "QUEUED", "{out}");
    let st = wait_for_status(&client, id, "TRAFFICKED_SUCCESS", 30).await;
    for obj in ["campaign", "adset", "creative", "ad"] {
        assert!(st["external_ids"][obj].is_string(), "{st}");
    }
    assert_eq!(fake.objects("campaign").len(), 1);
    assert_eq!(fake.objects("adset").len(), 1);
    // The 500 left the ad set's fate unknown, so the retry looked for it before creating it.
    let steps: Vec<(String, String, String)> = st["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["object"].to_string(),
                a["action"].to_string(),
                a["outcome"].to_string(),
            )
        })
        .collect();
    let adset: Vec<&(String, String, String)> =
        steps.iter().filter(|s| s.0 == "\"adset\"").collect();
    assert_eq!(adset.len(), 3, "{steps:?}");
    assert_eq!(
        (adset[0].1.as_str(), adset[0].2.as_str()),
        ("\"CREATE\"", "\"UNKNOWN\"")
    );
    assert_eq!(
        (adset[1].1.as_str(), adset[1].2.as_str()),
        ("\"LOOKUP\"", "\"NOT_FOUND\"")
    );
    assert_eq!(
        (adset[2].1.as_str(), adset[2].2.as_str()),
        ("\"CREATE\"", "\"CREATED\"")
    );
    assert!(!st.to_string().contains(META_TOKEN));

    // Status changes reached the subscriber (changes within one poll are coalesced).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let n = recorder
            .updates
            .lock()
            .unwrap()
            .iter()
            .filter(|u| **u == uri)
            .count();
        if n >= 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no resource update arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // After unsubscribing, changes to a ticket are no longer announced.
    let other = call2(&client, "create_ticket", json!({"campaign_id": campaign["id"], "channel_code": "META", "payload_config": meta_spec()})).await;
    let other_uri = format!("omnitraffick://tickets/{}", other["id"]);
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
    call2(&client, "run_qa", json!({"ticket_id": other["id"]})).await;
    let probe = call2(&client, "create_ticket", json!({"campaign_id": campaign["id"], "channel_code": "META", "payload_config": meta_spec()})).await;
    let probe_uri = format!("omnitraffick://tickets/{}", probe["id"]);
    #[allow(deprecated)]
    client
        .subscribe(SubscribeRequestParams::new(probe_uri.clone()))
        .await
        .expect("subscribe");
    call2(&client, "run_qa", json!({"ticket_id": probe["id"]})).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !recorder.updates.lock().unwrap().contains(&probe_uri) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the probe's update never arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!recorder.updates.lock().unwrap().contains(&other_uri));
    client.cancel().await.ok();
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
    let who = omnitraffick::auth::Principal::local_operator();
    seed_services(&services, &[META]).await;
    let g = &services.governance;
    let c = g
        .create_campaign(from(
            json!({"brand_code": "DIS", "market_code": "US", "name": "Moana Launch", "year": 2027}),
        ))
        .await
        .unwrap();
    let t = g
        .create_ticket(
            &who,
            from(
                json!({"campaign_id": c.id, "channel_code": "META", "payload_config": meta_spec()}),
            ),
        )
        .await
        .unwrap();
    services
        .qa
        .run_qa(&who, from(json!({"ticket_id": t.id})))
        .await
        .unwrap();
    services
        .deploy
        .deploy_ticket(
            &who,
            omnitraffick::deploy::DeployTicketInput {
                ticket_id: t.id,
                validate_only: false,
            },
        )
        .await
        .unwrap();

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
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while fake.objects("campaign").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first worker never sent the campaign"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.kill().await.expect("kill -9 the worker");
    let _ = first.wait().await;

    let mut second = spawn_worker();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let st = services.deploy.status(t.id).await.unwrap();
        if st.ticket_status == omnitraffick::domain::TicketStatus::TraffickedSuccess {
            let v = serde_json::to_value(&st).unwrap();
            let outcomes: Vec<&str> = v["attempts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["outcome"].as_str().unwrap())
                .collect();
            assert_eq!(outcomes[0], "IN_FLIGHT", "{outcomes:?}");
            assert!(outcomes.contains(&"FOUND"), "{outcomes:?}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replacement worker did not finish: {st:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    second.kill().await.ok();
    assert_eq!(fake.objects("campaign").len(), 1, "no duplicate campaign");
    assert_eq!(fake.duplicates(), 0);
}
