//! Live campaigns against the fake platforms: launch asks for confirmation and goes live with
//! one update per object; pause applies at once; a spend increase above the brand's threshold
//! waits for ops (rejected: the platform is untouched; approved: applied); a lost update is not
//! written twice; rollback restores the before values; elicitation declined or cancelled
//! changes nothing; change request types never build a campaign; viewers and assistants
//! cannot approve.

mod common;

use std::time::Duration;

use serde_json::{Value, json};

use rmcp::model::{
    ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult, ElicitationAction,
    Implementation,
};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, RoleClient, ServiceExt};

use common::fake_platforms::Fault;
use common::rest::ok200;
use common::world::{World, me};
use common::*;
use omnitraffick::auth::{Principal, Role};
use omnitraffick::changes::ChangeOutput;
use omnitraffick::domain::{ChangeKind, ChangeStatus, Risk, TicketStatus};

fn spec(amount: &str) -> Value {
    json!({
        "objective": "TRAFFIC",
        "budget": {"amount": amount, "period": "DAILY"},
        "schedule": {"start_time": "2027-03-01T00:00:00-05:00", "end_time": "2027-03-31T23:59:59-05:00"},
        "targeting": {"countries": ["US"], "age_min": 18, "age_max": 34},
        "creative": {"headline": "Moana is back", "body": "Sail with Moana this March.", "link_url": "https://example.com/moana", "call_to_action": "LEARN_MORE", "image_url": "https://cdn.example.com/moana.jpg"},
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

fn trafficker() -> Principal {
    Principal {
        name: "assistant-key".into(),
        role: Role::Trafficker,
        brand_scope: None,
    }
}

/// A ticket deployed on `channel` (objects created paused) and its external ids.
async fn deployed(w: &World, channel: &str, name: &str, amount: &str) -> (i64, Vec<String>) {
    let t = w.ready_ticket(channel, name, spec(amount)).await;
    w.queue_deploy(t).await;
    w.wait_status(t, "TRAFFICKED_SUCCESS").await;
    let ticket = w.s.governance.get_ticket(t).await.expect("ticket").ticket;
    let ids = ticket
        .external_ids
        .as_object()
        .expect("ids")
        .values()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    (t, ids)
}

async fn wait_change(w: &World, id: i64, want: ChangeStatus) -> Value {
    let s = w.s.clone();
    world::wait_until(
        &format!("change {id} to be {want}"),
        Duration::from_secs(30),
        move || {
            let s = s.clone();
            async move {
                let v = s.changes.view(id).await.map_err(|e| e.to_string())?;
                let json = serde_json::to_value(&v).expect("json");
                if v.change.status == want {
                    Ok(json)
                } else {
                    Err(json.to_string())
                }
            }
        },
    )
    .await
}

async fn request(
    w: &World,
    ticket: i64,
    kind: ChangeKind,
    after: Option<Value>,
) -> Result<ChangeOutput, omnitraffick::error::AppError> {
    w.s.changes
        .request(&trafficker(), ticket, kind, after, "test", None)
        .await
}

fn is_active(o: &common::fake_platforms::Obj) -> bool {
    let b = &o.body;
    ["status", "operation_status"]
        .iter()
        .any(|k| matches!(b[*k].as_str(), Some("ACTIVE" | "ENABLE" | "ENABLED")))
}

/// Launch asks the person, goes live once confirmed with exactly one write per object, and
/// pause then applies at once; on each platform.
#[tokio::test]
async fn launch_is_confirmed_then_live_with_one_update_per_object_and_pause_is_immediate() {
    let w = World::build().workers().start().await;
    for (channel, name) in [
        ("META", "Meta Launch"),
        ("TIKTOK", "Tt Launch"),
        ("GADS", "Gads Launch"),
    ] {
        let (t, ids) = deployed(&w, channel, name, "19.99").await;
        let before: Vec<u64> = ids.iter().map(|id| w.fake.writes(id)).collect();

        let out = request(&w, t, ChangeKind::Launch, None)
            .await
            .expect("launch");
        let c = &out.change.change;
        assert_eq!(c.status, ChangeStatus::NeedsConfirmation, "{channel}");
        assert_eq!(c.risk, Risk::SpendIncrease);
        assert_eq!(out.change.daily_after.as_deref(), Some("19.99"));
        let token = out.confirmation_token.clone().expect("a token");
        // Nothing happens before the person says yes.
        assert_eq!(
            ids.iter().map(|id| w.fake.writes(id)).collect::<Vec<_>>(),
            before,
            "{channel}: written before confirmation"
        );
        let bad =
            w.s.changes
                .confirm(&me(), c.id, Some("not-the-token"))
                .await;
        assert!(
            bad.unwrap_err().to_string().contains("token"),
            "a wrong token is refused"
        );
        w.s.changes
            .confirm(&me(), c.id, Some(&token))
            .await
            .expect("confirm");
        // A token works once.
        assert!(
            w.s.changes
                .confirm(&me(), c.id, Some(&token))
                .await
                .is_err()
        );
        let done = wait_change(&w, c.id, ChangeStatus::Applied).await;
        w.wait_status(t, "LIVE").await;
        let written: u64 =
            ids.iter().map(|id| w.fake.writes(id)).sum::<u64>() - before.iter().sum::<u64>();
        let objects = done["results"].as_array().expect("results").len() as u64;
        assert!(objects > 0, "{channel}: no object in the plan");
        assert_eq!(written, objects, "{channel}: one write per object: {done}");
        for id in &ids {
            if let Some(o) = w.fake.object(id)
                && [
                    "campaign",
                    "adset",
                    "adgroup",
                    "ad",
                    "ad_group",
                    "ad_group_ad",
                ]
                .contains(&o.kind.as_str())
            {
                assert!(
                    is_active(&o),
                    "{channel}: {} {} not active: {}",
                    o.kind,
                    o.id,
                    o.body
                );
            }
        }
        // get_ticket shows what the platform last said of the live objects.
        let live =
            w.s.governance
                .get_ticket(t)
                .await
                .expect("ticket")
                .ticket
                .live_state;
        let live = live.expect("a live state after the launch");
        let states: Vec<&str> = live["objects"]
            .as_array()
            .expect("objects")
            .iter()
            .filter_map(|o| o["delivery_state"].as_str())
            .collect();
        assert!(
            !states.is_empty(),
            "{channel}: no delivery state read back: {live}"
        );
        // Launching twice is refused by the state machine.
        let again = request(&w, t, ChangeKind::Launch, None).await.unwrap_err();
        assert!(again.to_string().contains("LIVE"), "{again}");

        // Pause is SAFE: queued at once, no confirmation.
        let p = request(&w, t, ChangeKind::Pause, None)
            .await
            .expect("pause");
        assert_eq!(p.change.change.status, ChangeStatus::Queued);
        assert!(p.confirmation_token.is_none());
        wait_change(&w, p.change.change.id, ChangeStatus::Applied).await;
        w.wait_status(t, "PAUSED").await;
        let history = w.s.governance.get_ticket(t).await.expect("ticket").history;
        assert!(
            history
                .iter()
                .filter(|h| h.event == "CHANGE_APPLIED")
                .count()
                >= 2,
            "{channel}: changes leave ticket history"
        );
    }
    w.finish().await;
}

/// A budget increase above the brand's threshold waits for ops: rejection leaves the platform
/// untouched; approval applies it. Viewers and traffickers cannot decide, and no MCP tool does.
#[tokio::test]
async fn spend_increase_above_threshold_waits_for_ops_review() {
    let w = World::build().workers().server().start().await;
    let (t, ids) = deployed(&w, "META", "Review Budget", "19.99").await;
    let writes = |w: &World| ids.iter().map(|id| w.fake.writes(id)).sum::<u64>();
    let start = writes(&w);

    let out = request(&w, t, ChangeKind::Edit, Some(spec("2500.00")))
        .await
        .expect("edit");
    let c = out.change.change.clone();
    assert_eq!(c.status, ChangeStatus::PendingReview);
    assert_eq!(c.risk, Risk::SpendIncrease);
    assert!(out.confirmation_token.is_none(), "review has no token");
    assert!(out.message.contains("ops"), "{}", out.message);
    assert_eq!(out.change.daily_before.as_deref(), Some("19.99"));
    assert_eq!(out.change.daily_after.as_deref(), Some("2500.00"));

    // Nobody but ops (or admin) decides.
    for role in [Role::Viewer, Role::Trafficker, Role::Planner] {
        let rest = w.rest(role).await;
        let (status, body) = rest
            .post(&format!("/api/v1/changes/{}/approve", c.id), &json!({}))
            .await;
        assert_eq!(status.as_u16(), 403, "{role:?} approved: {body}");
    }
    let ops = w.rest(Role::Ops).await;
    let (status, body) = ops
        .post(&format!("/api/v1/changes/{}/reject", c.id), &json!({}))
        .await;
    assert_eq!(status.as_u16(), 422, "a rejection needs a reason: {body}");
    let rejected = ok200(
        ops.post(
            &format!("/api/v1/changes/{}/reject", c.id),
            &json!({"reason": "not this quarter"}),
        )
        .await,
    );
    assert_eq!(rejected["status"], "REJECTED");
    let (status, _) = ops
        .post(&format!("/api/v1/changes/{}/approve", c.id), &json!({}))
        .await;
    assert_eq!(status.as_u16(), 409, "a rejected change cannot be approved");
    assert_eq!(writes(&w), start, "a rejection wrote to the platform");

    // Asked again and approved: applied, and the ticket's spec is the new one.
    let again = request(&w, t, ChangeKind::Edit, Some(spec("2500.00")))
        .await
        .expect("edit again");
    let id = again.change.change.id;
    let listed = ok200(ops.get("/api/v1/changes?status=PENDING_REVIEW").await);
    assert!(
        listed["changes"]
            .as_array()
            .expect("list")
            .iter()
            .any(|c| c["id"] == id),
        "{listed}"
    );
    // Whoever asked cannot approve, whatever their role.
    let same = Principal {
        role: Role::Admin,
        ..trafficker()
    };
    let e = w.s.changes.approve(&same, id, None).await.unwrap_err();
    assert!(e.to_string().contains("another ops or admin key"), "{e}");
    let approved = ok200(
        ops.post(&format!("/api/v1/changes/{id}/approve"), &json!({}))
            .await,
    );
    assert_eq!(approved["status"], "QUEUED");
    let done = wait_change(&w, id, ChangeStatus::Applied).await;
    assert!(writes(&w) > start, "nothing written: {done}");
    let ticket = w.s.governance.get_ticket(t).await.expect("ticket").ticket;
    assert_eq!(ticket.payload_config["budget"]["amount"], "2500.00");
    let audit: Vec<&str> = done["audit"]
        .as_array()
        .expect("audit")
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    assert_eq!(
        audit,
        [
            "REQUESTED",
            "SENT_TO_REVIEW",
            "APPROVED",
            "APPLYING",
            "APPLIED"
        ]
    );
    w.finish().await;
}

/// An update whose answer is lost is read back, not written twice; rollback restores the
/// before values through the same gate.
#[tokio::test]
async fn lost_update_is_not_written_twice_and_rollback_restores() {
    let w = World::build()
        .workers()
        .options(|o| {
            o.deploy.backoff_base = Duration::from_millis(50);
            o.deploy.backoff_max = Duration::from_millis(200);
        })
        .start()
        .await;
    let (t, ids) = deployed(&w, "META", "Lost Update", "19.99").await;
    let writes = |w: &World| ids.iter().map(|id| w.fake.writes(id)).sum::<u64>();
    let start = writes(&w);
    w.fake.fail_next_update("adset", Fault::AppliedServerError);
    // A lower budget is SAFE: applied at once.
    let out = request(&w, t, ChangeKind::Edit, Some(spec("15.00")))
        .await
        .expect("edit");
    assert_eq!(out.change.change.risk, Risk::Safe);
    let done = wait_change(&w, out.change.change.id, ChangeStatus::Applied).await;
    assert_eq!(
        writes(&w) - start,
        1,
        "the lost update was written again: {done}"
    );
    let ticket = w.s.governance.get_ticket(t).await.expect("ticket").ticket;
    assert_eq!(ticket.payload_config["budget"]["amount"], "15.00");

    // Rolling back raises spend again: the person confirms, then the old budget is back.
    let back =
        w.s.changes
            .rollback(&trafficker(), out.change.change.id, None)
            .await
            .expect("rollback");
    let b = &back.change.change;
    assert_eq!(b.rollback_of, Some(out.change.change.id));
    assert_eq!(b.status, ChangeStatus::NeedsConfirmation);
    w.s.changes
        .confirm(&me(), b.id, back.confirmation_token.as_deref())
        .await
        .expect("confirm");
    wait_change(&w, b.id, ChangeStatus::Applied).await;
    let ticket = w.s.governance.get_ticket(t).await.expect("ticket").ticket;
    assert_eq!(ticket.payload_config["budget"]["amount"], "19.99");
    // The first change is no longer the latest: rolling it back would undo the rollback too.
    let e =
        w.s.changes
            .rollback(&trafficker(), out.change.change.id, None)
            .await
            .unwrap_err();
    assert!(e.to_string().contains("latest"), "{e}");
    let adset = w
        .fake
        .objects("adset")
        .into_iter()
        .find(|o| ids.contains(&o.id))
        .expect("adset");
    assert_eq!(
        adset.body["daily_budget"].to_string().trim_matches('"'),
        "1999",
        "{}",
        adset.body
    );
    w.finish().await;
}

/// A new headline on a live Meta ad is a CREATIVE_CHANGE: the person confirms, then the ad
/// points at a new creative with the new headline.
#[tokio::test]
async fn meta_headline_change_is_confirmed_then_the_ad_gets_a_new_creative() {
    let w = World::build().workers().start().await;
    let (t, _) = deployed(&w, "META", "New Headline", "19.99").await;
    let ticket = w.s.governance.get_ticket(t).await.expect("ticket").ticket;
    let ad = ticket.external_ids["ad"]
        .as_str()
        .expect("ad id")
        .to_owned();
    let old = ticket.external_ids["creative"]
        .as_str()
        .expect("creative id")
        .to_owned();
    let mut after = spec("19.99");
    after["creative"]["headline"] = json!("Moana sails again");
    let out = request(&w, t, ChangeKind::Edit, Some(after))
        .await
        .expect("edit");
    let c = &out.change.change;
    assert_eq!(c.risk, Risk::CreativeChange);
    assert_eq!(c.status, ChangeStatus::NeedsConfirmation);
    assert_eq!(w.fake.writes(&ad), 0, "written before confirmation");
    w.s.changes
        .confirm(&me(), c.id, out.confirmation_token.as_deref())
        .await
        .expect("confirm");
    let done = wait_change(&w, c.id, ChangeStatus::Applied).await;
    assert_eq!(w.fake.writes(&ad), 1, "{done}");
    let now = w.fake.object(&ad).expect("ad").body["creative"]["creative_id"]
        .as_str()
        .expect("creative id")
        .to_owned();
    assert_ne!(now, old);
    let creative = w.fake.object(&now).expect("the new creative");
    assert_eq!(
        creative.body["object_story_spec"]["link_data"]["name"],
        "Moana sails again"
    );
    let ticket = w.s.governance.get_ticket(t).await.expect("ticket").ticket;
    assert_eq!(
        ticket.payload_config["creative"]["headline"],
        "Moana sails again"
    );
    w.finish().await;
}

/// A change the platform refuses fails with a per-object report and leaves the ticket as it
/// was.
#[tokio::test]
async fn a_refused_change_fails_with_a_per_object_report() {
    let w = World::build().workers().start().await;
    let (t, _) = deployed(&w, "META", "Refused Change", "19.99").await;
    w.fake.fail_next_update("adset", Fault::Reject);
    let out = request(&w, t, ChangeKind::Edit, Some(spec("15.00")))
        .await
        .expect("edit");
    let done = wait_change(&w, out.change.change.id, ChangeStatus::Failed).await;
    let outcomes: Vec<&str> = done["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["outcome"].as_str())
        .collect();
    assert!(outcomes.contains(&"FAILED"), "{done}");
    let ticket = w.s.governance.get_ticket(t).await.expect("ticket").ticket;
    assert_eq!(ticket.status, TicketStatus::TraffickedSuccess);
    assert_eq!(ticket.payload_config["budget"]["amount"], "19.99");
    w.finish().await;
}

/// A ticket of an old change request type is refused at creation with the tool to use, and a
/// stored one is never deployed as a new campaign.
#[tokio::test]
async fn a_pause_request_type_never_creates_a_campaign() {
    let w = World::build().workers().start().await;
    let c = world::campaign(&w.s, "Old Types").await;
    let e =
        w.s.governance
            .create_ticket(
                &me(),
                omnitraffick::governance::CreateTicketInput {
                    campaign_id: c,
                    channel_code: "META".into(),
                    request_type: Some("PAUSE".into()),
                    payload_config: Some(spec("19.99")),
                },
            )
            .await
            .unwrap_err();
    assert!(e.to_string().contains("pause_ticket"), "{e}");
    // A row stored before the refusal existed.
    let t = w.ready_ticket("META", "Stored Pause", spec("19.99")).await;
    let mut tx = w.db.begin_write().await.expect("tx");
    sqlx::query("UPDATE tickets SET request_type = 'PAUSE' WHERE id = $1")
        .bind(t)
        .execute(&mut *tx)
        .await
        .expect("plant");
    tx.commit().await.expect("commit");
    let e = world::try_deploy(&w.s, t, false).await.unwrap_err();
    assert!(e.to_string().contains("pause_ticket"), "{e}");
    assert!(
        w.fake.objects("campaign").is_empty(),
        "a campaign was created"
    );
    w.finish().await;
}

/// Progress notifications seen: (progress, total).
/// A client that answers every confirmation dialog the same way, and records progress.
#[derive(Clone)]
struct Person(
    ElicitationAction,
    Option<bool>,
    Shared<(f64, Option<f64>)>,
    Shared<String>,
);

/// What a client handler records for the test to check.
type Shared<T> = std::sync::Arc<std::sync::Mutex<Vec<T>>>;

fn answer(action: ElicitationAction, yes: Option<bool>) -> Person {
    Person(action, yes, Default::default(), Default::default())
}

/// The person saw what they were agreeing to: the kind, the ticket and the money.
fn saw(p: &Person, ticket_name: &str) {
    let asked = p.3.lock().expect("lock").clone();
    assert!(!asked.is_empty(), "the person was never asked");
    for message in asked {
        assert!(
            message.contains("LAUNCH") && message.contains("19.99 USD a day"),
            "{message}"
        );
        assert!(message.contains(ticket_name), "{message}");
    }
}

impl ClientHandler for Person {
    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<ElicitResult, rmcp::ErrorData> {
        let ElicitRequestParams::FormElicitationParams { message, .. } = request else {
            return Ok(ElicitResult::new(ElicitationAction::Decline));
        };
        // Asserted by the test, not here: a panic in a client handler hangs the call.
        self.3.lock().expect("lock").push(message);
        let mut r = ElicitResult::new(self.0.clone());
        if let Some(yes) = self.1 {
            r = r.with_content(json!({"confirm": yes}));
        }
        Ok(r)
    }

    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _context: rmcp::service::NotificationContext<RoleClient>,
    ) {
        self.2
            .lock()
            .expect("lock")
            .push((params.progress, params.total));
    }

    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::builder().enable_elicitation().build(),
            Implementation::new("omnitraffick-change-tests", "0.1.0"),
        )
    }
}

async fn person(w: &World, key: &str, answer: Person) -> common::mcp::Mcp<Person> {
    let config = StreamableHttpClientTransportConfig::with_uri(w.server().url("/mcp"))
        .auth_header(key.to_owned());
    let transport = StreamableHttpClientTransport::from_config(config);
    common::mcp::Mcp::new(answer.serve(transport).await.expect("connect"))
}

/// Over MCP with a client that can show a dialog: declined or closed, the change is cancelled
/// and nothing is written; accepted, it is applied.
#[tokio::test]
async fn elicitation_declined_or_cancelled_changes_nothing_and_accepted_applies() {
    let w = World::build().workers().server().start().await;
    let (t, ids) = deployed(&w, "META", "Ask Person", "19.99").await;
    let writes = |w: &World| ids.iter().map(|id| w.fake.writes(id)).sum::<u64>();
    let start = writes(&w);
    let key = key(&w.server().db, Role::Trafficker).await;
    for answer in [
        answer(ElicitationAction::Decline, None),
        answer(ElicitationAction::Cancel, None),
        answer(ElicitationAction::Accept, Some(false)),
    ] {
        let client = person(&w, &key, answer.clone()).await;
        let out = client.ok("launch_ticket", json!({"ticket_id": t})).await;
        assert_eq!(out["change"]["status"], "CANCELLED", "{out}");
        saw(&answer, "DIS_US_META_2027_AskPerson");
        assert!(out.get("confirmation_token").is_none(), "{out}");
        client.close().await;
    }
    assert_eq!(writes(&w), start, "a declined launch wrote to the platform");
    let t_now = w.s.governance.get_ticket(t).await.expect("ticket").ticket;
    assert_eq!(t_now.status, TicketStatus::TraffickedSuccess);

    let client = person(&w, &key, answer(ElicitationAction::Accept, Some(true))).await;
    let out = client.ok("launch_ticket", json!({"ticket_id": t})).await;
    assert_eq!(out["change"]["status"], "QUEUED", "{out}");
    let id = out["change"]["id"].as_i64().expect("id");
    wait_change(&w, id, ChangeStatus::Applied).await;
    w.wait_status(t, "LIVE").await;
    // No MCP tool approves a change.
    let tools = client.list_all_tools().await.expect("tools");
    assert!(
        !tools.iter().any(|t| t.name.contains("approve")),
        "an MCP tool approves"
    );
    client.close().await;
    w.finish().await;
}

/// A throttled update waits as the platform says and is then written once.
#[tokio::test]
async fn a_throttled_change_is_retried_and_written_once() {
    let w = World::build().workers().start().await;
    let (t, ids) = deployed(&w, "TIKTOK", "Throttled Change", "19.99").await;
    let writes = |w: &World| ids.iter().map(|id| w.fake.writes(id)).sum::<u64>();
    let start = writes(&w);
    w.fake.fail_next_update(
        "adgroup",
        Fault::RateLimit {
            retry_after_secs: 1,
        },
    );
    let out = request(&w, t, ChangeKind::Edit, Some(spec("15.00")))
        .await
        .expect("edit");
    let done = wait_change(&w, out.change.change.id, ChangeStatus::Applied).await;
    assert_eq!(writes(&w) - start, 1, "{done}");
    let audit: Vec<&str> = done["audit"]
        .as_array()
        .expect("audit")
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    assert!(audit.contains(&"RETRY"), "{done}");
    assert!(done["attempts"].as_i64().unwrap_or(0) >= 2, "{done}");
    w.finish().await;
}

/// launch_campaign launches every deployed ticket of a campaign, one confirmed change each,
/// reports progress per ticket, and lists what it left alone.
#[tokio::test]
async fn launch_campaign_reports_progress_and_launches_each_deployed_ticket() {
    let w = World::build().workers().server().start().await;
    let c = world::campaign(&w.s, "Whole Campaign").await;
    let mut deployed_ids = Vec::new();
    for channel in ["META", "TIKTOK"] {
        let t =
            w.s.governance
                .create_ticket(
                    &me(),
                    omnitraffick::governance::CreateTicketInput {
                        campaign_id: c,
                        channel_code: channel.into(),
                        request_type: None,
                        payload_config: Some(spec("19.99")),
                    },
                )
                .await
                .expect("ticket")
                .id;
        w.s.qa
            .run_qa(&me(), from_json(json!({"ticket_id": t})))
            .await
            .expect("qa");
        w.queue_deploy(t).await;
        w.wait_status(t, "TRAFFICKED_SUCCESS").await;
        deployed_ids.push(t);
    }
    // A draft on the third channel is skipped.
    w.s.governance
        .create_ticket(
            &me(),
            omnitraffick::governance::CreateTicketInput {
                campaign_id: c,
                channel_code: "GADS".into(),
                request_type: None,
                payload_config: None,
            },
        )
        .await
        .expect("draft");
    let key = key(&w.server().db, Role::Trafficker).await;
    let who = answer(ElicitationAction::Accept, Some(true));
    let progress = who.2.clone();
    let client = person(&w, &key, who.clone()).await;
    let mut params = rmcp::model::CallToolRequestParams::new("launch_campaign").with_arguments(
        json!({"campaign_id": c})
            .as_object()
            .cloned()
            .expect("args"),
    );
    params.meta = Some(rmcp::model::RequestMetaObject::with_progress_token(
        rmcp::model::ProgressToken(rmcp::model::NumberOrString::Number(7)),
    ));
    let result = client.call_tool(params).await.expect("launch_campaign");
    let out = result.structured_content.expect("structured");
    assert_eq!(
        out["launched"].as_array().expect("launched").len(),
        2,
        "{out}"
    );
    assert_eq!(
        out["skipped"].as_array().expect("skipped").len(),
        1,
        "{out}"
    );
    for t in &deployed_ids {
        w.wait_status(*t, "LIVE").await;
    }
    let seen = world::wait_until(
        "three progress notifications",
        Duration::from_secs(5),
        || {
            let p = progress.lock().expect("lock").clone();
            async move {
                if p.len() == 3 {
                    Ok(p)
                } else {
                    Err(format!("{p:?}"))
                }
            }
        },
    )
    .await;
    assert_eq!(seen.last(), Some(&(3.0, Some(3.0))), "{seen:?}");
    saw(&who, "DIS_US_");
    assert_eq!(
        who.3.lock().expect("lock").len(),
        2,
        "one confirmation per ticket"
    );
    client.close().await;
    w.finish().await;
}

/// Two requests racing for the same ticket: one change is in progress, the other is told so.
#[tokio::test]
async fn racing_requests_leave_one_change_in_progress() {
    let w = World::build().workers().start().await;
    let (t, _) = deployed(&w, "META", "Racing Changes", "19.99").await;
    let (a, b) = tokio::join!(
        request(&w, t, ChangeKind::Edit, Some(spec("2500.00"))),
        request(&w, t, ChangeKind::Edit, Some(spec("3000.00"))),
    );
    let oks = [&a, &b].iter().filter(|r| r.is_ok()).count();
    assert_eq!(oks, 1, "{a:?} / {b:?}");
    let err = a.err().or(b.err()).expect("one refused");
    assert!(
        err.to_string().contains("in progress") || err.to_string().contains("wait for it"),
        "{err}"
    );
    let open =
        w.s.changes
            .list(
                &me(),
                omnitraffick::changes::ListChangesInput {
                    ticket_id: Some(t),
                    status: Some("PENDING_REVIEW".into()),
                    ..Default::default()
                },
            )
            .await
            .expect("list");
    assert_eq!(open.changes.len(), 1);
    w.finish().await;
}

/// Ending a campaign does not wait behind a spend increase that waits for ops: the pending
/// change is cancelled and the end is applied at once.
#[tokio::test]
async fn ending_supersedes_a_change_waiting_for_review() {
    let w = World::build().workers().start().await;
    let (t, _) = deployed(&w, "META", "Emergency End", "19.99").await;
    let pending = request(&w, t, ChangeKind::Edit, Some(spec("2500.00")))
        .await
        .expect("edit");
    assert_eq!(pending.change.change.status, ChangeStatus::PendingReview);
    let end = request(&w, t, ChangeKind::End, None).await.expect("end");
    assert_eq!(end.change.change.status, ChangeStatus::Queued);
    wait_change(&w, pending.change.change.id, ChangeStatus::Cancelled).await;
    wait_change(&w, end.change.change.id, ChangeStatus::Applied).await;
    w.wait_status(t, "ENDED").await;
    w.finish().await;
}

/// Confirm a change that waits for the person (a SAFE one is already queued), then wait for
/// it to be applied.
async fn confirmed(w: &World, out: &ChangeOutput) -> Value {
    let c = &out.change.change;
    if c.status == ChangeStatus::NeedsConfirmation {
        w.s.changes
            .confirm(&me(), c.id, out.confirmation_token.as_deref())
            .await
            .expect("confirm");
    }
    wait_change(w, c.id, ChangeStatus::Applied).await
}

fn sorted_ids(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v
        .as_str()
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    ids.sort();
    ids
}

/// On a live Google ticket, a new country and a new headline: the location criteria are
/// replaced, a new ad delivers and the old one is paused, the ticket's external_ids and the
/// change's results name the new objects, and a rollback restores both.
#[tokio::test]
async fn google_targeting_and_ad_text_change_live_and_roll_back() {
    let w = World::build().workers().start().await;
    let (t, _) = deployed(&w, "GADS", "Gads Replace", "19.99").await;
    let launch = request(&w, t, ChangeKind::Launch, None)
        .await
        .expect("launch");
    confirmed(&w, &launch).await;
    let ids =
        w.s.governance
            .get_ticket(t)
            .await
            .expect("ticket")
            .ticket
            .external_ids;
    let id = |k: &str| ids[k].as_str().expect(k).to_owned();
    let (campaign, group, old_ad) = (id("campaign"), id("ad_group"), id("ad_group_ad"));
    assert_eq!(w.fake.children("campaign_criterion", &campaign).len(), 1);

    let mut after = spec("19.99");
    after["targeting"]["countries"] = json!(["US", "CA"]);
    after["overrides"]["google_ads"]["ad_group_ad"]["ad"]["responsiveSearchAd"]["headlines"][0] =
        json!({"text": "Moana sails again"});
    let out = request(&w, t, ChangeKind::Edit, Some(after))
        .await
        .expect("edit");
    assert_eq!(out.change.change.status, ChangeStatus::NeedsConfirmation);
    let mutates = w.fake.calls("google campaign_criterion mutate");
    let done = confirmed(&w, &out).await;
    assert_eq!(
        w.fake.calls("google campaign_criterion mutate"),
        mutates + 1
    );

    let ticket = w.s.governance.get_ticket(t).await.expect("ticket").ticket;
    let now = &ticket.external_ids;
    let mut live: Vec<String> = w
        .fake
        .children("campaign_criterion", &campaign)
        .into_iter()
        .map(|o| o.id)
        .collect();
    live.sort();
    assert_eq!(live.len(), 2);
    assert_eq!(sorted_ids(&now["campaign_criterion"]), live, "{done}");
    let new_ad = now["ad_group_ad"].as_str().expect("ad").to_owned();
    assert_ne!(new_ad, old_ad);
    assert_eq!(w.fake.children("ad_group_ad", &group).len(), 2);
    let body = w.fake.object(&new_ad).expect("new ad").body;
    assert_eq!(body["status"], "ENABLED");
    assert_eq!(
        body["ad"]["responsiveSearchAd"]["headlines"][0]["text"],
        "Moana sails again"
    );
    assert_eq!(
        w.fake.object(&old_ad).expect("old ad").body["status"],
        "PAUSED"
    );
    let result = |done: &Value, object: &str| -> Value {
        done["results"]
            .as_array()
            .expect("results")
            .iter()
            .find(|r| r["object"] == object)
            .cloned()
            .unwrap_or_else(|| panic!("no {object} result in {done}"))
    };
    let ad = result(&done, "ad_group_ad");
    assert_eq!(ad["outcome"], "WRITTEN");
    assert_eq!(ad["external_ids"]["ad_group_ad"], json!(new_ad));
    assert_eq!(
        sorted_ids(&result(&done, "campaign_criterion")["external_ids"]["campaign_criterion"]),
        live
    );
    // The live state read back is the new ad's.
    let state = ticket.live_state.clone().unwrap_or_default();
    assert!(
        state.to_string().contains(&new_ad),
        "live state should name the new ad: {state}"
    );

    // Rollback: the original ad delivers again (no third ad), CA goes.
    let back =
        w.s.changes
            .rollback(&trafficker(), out.change.change.id, None)
            .await
            .expect("rollback");
    let undone = confirmed(&w, &back).await;
    let ticket = w.s.governance.get_ticket(t).await.expect("ticket").ticket;
    let ids = &ticket.external_ids;
    assert_eq!(ids["ad_group_ad"], json!(old_ad), "{undone}");
    assert_eq!(w.fake.children("ad_group_ad", &group).len(), 2);
    assert_eq!(
        w.fake.object(&old_ad).expect("old").body["status"],
        "ENABLED"
    );
    assert_eq!(
        w.fake.object(&new_ad).expect("new").body["status"],
        "PAUSED"
    );
    let live = w.fake.children("campaign_criterion", &campaign);
    assert_eq!(live.len(), 1);
    assert_eq!(ids["campaign_criterion"], json!(live[0].id));
    assert_eq!(
        live[0].body["location"]["geoTargetConstant"],
        "geoTargetConstants/2840"
    );
    w.finish().await;
}

/// The Meta creative a live ad points at after a creative change is the ticket's
/// `external_ids.creative`, and a rollback moves it again.
#[tokio::test]
async fn meta_creative_change_updates_external_ids() {
    let w = World::build().workers().start().await;
    let (t, _) = deployed(&w, "META", "Creative Ids", "19.99").await;
    let ids =
        w.s.governance
            .get_ticket(t)
            .await
            .expect("ticket")
            .ticket
            .external_ids;
    let (ad, old) = (
        ids["ad"].as_str().expect("ad").to_owned(),
        ids["creative"].as_str().expect("creative").to_owned(),
    );
    let mut after = spec("19.99");
    after["creative"]["headline"] = json!("Moana sails again");
    let out = request(&w, t, ChangeKind::Edit, Some(after))
        .await
        .expect("edit");
    confirmed(&w, &out).await;
    let ticket = w.s.governance.get_ticket(t).await.expect("ticket").ticket;
    let pointed = w.fake.object(&ad).expect("ad").body["creative"]["creative_id"].clone();
    assert_ne!(pointed, json!(old));
    assert_eq!(ticket.external_ids["creative"], pointed);

    let back =
        w.s.changes
            .rollback(&trafficker(), out.change.change.id, None)
            .await
            .expect("rollback");
    confirmed(&w, &back).await;
    let ticket = w.s.governance.get_ticket(t).await.expect("ticket").ticket;
    let pointed_now = w.fake.object(&ad).expect("ad").body["creative"]["creative_id"].clone();
    assert_ne!(pointed_now, pointed);
    assert_eq!(ticket.external_ids["creative"], pointed_now);
    assert_eq!(
        ticket.payload_config["creative"]["headline"],
        "Moana is back"
    );
    w.finish().await;
}

/// TikTok answers OK but lists the ad group in `data.error_list`: the change fails on that
/// object, with TikTok's reason, and the ticket keeps its spec.
#[tokio::test]
async fn tiktok_error_list_fails_the_change_on_that_object() {
    let w = World::build().workers().start().await;
    let (t, _) = deployed(&w, "TIKTOK", "Tt Partial", "19.99").await;
    let ids =
        w.s.governance
            .get_ticket(t)
            .await
            .expect("ticket")
            .ticket
            .external_ids;
    let adgroup = ids["adgroup"].as_str().expect("adgroup").to_owned();
    w.fake.refuse_in_error_list(&adgroup);
    let out = request(&w, t, ChangeKind::Edit, Some(spec("15.00")))
        .await
        .expect("edit");
    let done = wait_change(&w, out.change.change.id, ChangeStatus::Failed).await;
    let failed = done["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["outcome"] == "FAILED")
        .cloned()
        .unwrap_or_else(|| panic!("no failed object in {done}"));
    assert_eq!(failed["object"], "adgroup");
    assert_eq!(failed["id"], json!(adgroup));
    assert_eq!(failed["error"]["code"], "ERROR_LIST");
    assert!(
        failed["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&adgroup)),
        "{failed}"
    );
    assert_eq!(w.fake.writes(&adgroup), 0);
    let ticket = w.s.governance.get_ticket(t).await.expect("ticket").ticket;
    assert_eq!(ticket.payload_config["budget"]["amount"], "19.99");
    w.finish().await;
}

/// A creative added to a live TikTok ad group becomes its own ad, listed in
/// `external_ids.ad`; rolling back disables it and the list shrinks again.
#[tokio::test]
async fn tiktok_added_creative_gets_its_own_ad_and_rolls_back() {
    let w = World::build().workers().start().await;
    let (t, _) = deployed(&w, "TIKTOK", "Tt Two Creatives", "19.99").await;
    let ids =
        w.s.governance
            .get_ticket(t)
            .await
            .expect("ticket")
            .ticket
            .external_ids;
    let ad = ids["ad"].as_str().expect("ad").to_owned();
    let mut after = spec("19.99");
    after["overrides"]["tiktok"]["ad"]["creatives"] =
        json!([{"video_id": "v10033g50000abc"}, {"video_id": "v10033g50000def"}]);
    let out = request(&w, t, ChangeKind::Edit, Some(after))
        .await
        .expect("edit");
    let done = confirmed(&w, &out).await;
    let ticket = w.s.governance.get_ticket(t).await.expect("ticket").ticket;
    let listed: Vec<String> = ticket.external_ids["ad"]
        .as_str()
        .expect("ads")
        .split(',')
        .map(str::to_owned)
        .collect();
    assert_eq!(listed.len(), 2, "{done}");
    assert_eq!(listed[0], ad);
    let new = listed[1].clone();
    let body = w.fake.object(&new).expect("new ad").body;
    assert_eq!(body["creatives"][0]["video_id"], "v10033g50000def");

    let back =
        w.s.changes
            .rollback(&trafficker(), out.change.change.id, None)
            .await
            .expect("rollback");
    confirmed(&w, &back).await;
    let ticket = w.s.governance.get_ticket(t).await.expect("ticket").ticket;
    assert_eq!(ticket.external_ids["ad"], json!(ad));
    assert_eq!(
        w.fake.object(&new).expect("kept, disabled").body["operation_status"],
        "DISABLE"
    );
    w.finish().await;
}

/// A change that fails after replacing an object (the new Google ad is made, then the
/// criteria are refused) leaves the ticket pointing at the new ad, so a later launch enables
/// the ad that has the new text rather than the paused old one.
#[tokio::test]
async fn a_failed_change_keeps_the_ids_of_what_it_replaced() {
    let w = World::build().workers().start().await;
    let (t, _) = deployed(&w, "GADS", "Gads Half", "19.99").await;
    let ids =
        w.s.governance
            .get_ticket(t)
            .await
            .expect("ticket")
            .ticket
            .external_ids;
    let old_ad = ids["ad_group_ad"].as_str().expect("ad").to_owned();
    let mut after = spec("19.99");
    after["targeting"]["countries"] = json!(["US", "CA"]);
    after["overrides"]["google_ads"]["ad_group_ad"]["ad"]["responsiveSearchAd"]["headlines"][0] =
        json!({"text": "Moana sails again"});
    let out = request(&w, t, ChangeKind::Edit, Some(after))
        .await
        .expect("edit");
    w.fake.fail_next("campaign_criterion", Fault::Reject);
    w.s.changes
        .confirm(
            &me(),
            out.change.change.id,
            out.confirmation_token.as_deref(),
        )
        .await
        .expect("confirm");
    let done = wait_change(&w, out.change.change.id, ChangeStatus::Failed).await;
    let outcomes: Vec<(String, String)> = done["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["object"].as_str().unwrap_or("").to_owned(),
                r["outcome"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(
        outcomes.contains(&("ad_group_ad".into(), "WRITTEN".into()))
            && outcomes.contains(&("campaign_criterion".into(), "FAILED".into())),
        "{done}"
    );
    let ticket = w.s.governance.get_ticket(t).await.expect("ticket").ticket;
    let new_ad = ticket.external_ids["ad_group_ad"]
        .as_str()
        .expect("ad")
        .to_owned();
    assert_ne!(new_ad, old_ad, "{done}");
    assert_eq!(
        ticket.payload_config["overrides"]["google_ads"]["ad_group_ad"]["ad"]["responsiveSearchAd"]
            ["headlines"][0]["text"],
        "Moana is back",
        "the spec stays as it was"
    );
    let launch = request(&w, t, ChangeKind::Launch, None)
        .await
        .expect("launch");
    confirmed(&w, &launch).await;
    assert_eq!(
        w.fake.object(&new_ad).expect("new").body["status"],
        "ENABLED"
    );
    assert_eq!(
        w.fake.object(&old_ad).expect("old").body["status"],
        "PAUSED"
    );
    w.finish().await;
}

/// Switching a live Google campaign's bidding strategy goes through the person even when the
/// bid goes down, and lands on the campaign as one write each way.
#[tokio::test]
async fn google_bidding_strategy_switch_is_confirmed_and_applied() {
    let w = World::build().workers().start().await;
    let (t, _) = deployed(&w, "GADS", "Gads Switch", "19.99").await;
    let ids =
        w.s.governance
            .get_ticket(t)
            .await
            .expect("ticket")
            .ticket
            .external_ids;
    let campaign = ids["campaign"].as_str().expect("campaign").to_owned();
    let writes = w.fake.writes(&campaign);
    let mut cpa = spec("19.99");
    cpa["bidding"] = json!({"strategy": "COST_CAP", "bid_amount": "2.00"});
    let out = request(&w, t, ChangeKind::Edit, Some(cpa.clone()))
        .await
        .expect("to target CPA");
    assert_eq!(out.change.change.risk, Risk::SpendIncrease);
    confirmed(&w, &out).await;
    let body = w.fake.object(&campaign).expect("campaign").body;
    assert_eq!(body["maximizeConversions"]["targetCpaMicros"], "2000000");
    assert!(body.get("targetSpend").is_none(), "{body}");
    assert_eq!(w.fake.writes(&campaign), writes + 1);

    // A lower bid on another strategy is still a switch: the person confirms.
    let mut clicks = cpa;
    clicks["bidding"] = json!({"strategy": "BID_CAP", "bid_amount": "1.00"});
    let out = request(&w, t, ChangeKind::Edit, Some(clicks))
        .await
        .expect("to max clicks");
    assert_eq!(out.change.change.status, ChangeStatus::NeedsConfirmation);
    assert_eq!(
        w.fake.writes(&campaign),
        writes + 1,
        "written before confirmation"
    );
    confirmed(&w, &out).await;
    let body = w.fake.object(&campaign).expect("campaign").body;
    assert_eq!(body["targetSpend"]["cpcBidCeilingMicros"], "1000000");
    assert!(body.get("maximizeConversions").is_none(), "{body}");
    assert_eq!(w.fake.writes(&campaign), writes + 2);
    w.finish().await;
}
