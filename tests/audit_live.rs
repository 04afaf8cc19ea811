//! `audit_live` against the fake platforms: campaigns made outside OmniTraffick are listed as
//! foreign (the account listing paged on all three platforms), badly named ones are flagged
//! with the segment at fault, changes made behind OmniTraffick's back are reported as drift
//! and written to the ticket's history once, and nothing is ever written to a platform.
//! Viewers, keys for other brands, unknown scopes and both scopes at once are refused.

mod common;

use std::time::Duration;

use std::sync::{Arc, Mutex};

use rmcp::model::{
    ClientCapabilities, ClientConfig, Implementation, ResourceUpdatedNotificationParam,
    SubscribeRequestParams,
};
use rmcp::service::NotificationContext;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use common::fake_platforms::Fault;
use common::world::{World, me};
use common::*;
use omnitraffick::auth::{self, Role};
use omnitraffick::http::{self, HttpOptions};
use omnitraffick::insights::audit::{AuditLiveInput, AuditReport};

fn spec() -> Value {
    json!({
        "objective": "TRAFFIC",
        "budget": {"amount": "50.00", "period": "DAILY"},
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

/// A ticket deployed on `channel` (objects created PAUSED, ticket TRAFFICKED_SUCCESS).
async fn deployed(w: &World, channel: &str, name: &str) -> (i64, serde_json::Map<String, Value>) {
    let t = w.ready_ticket(channel, name, spec()).await;
    w.queue_deploy(t).await;
    w.wait_status(t, "TRAFFICKED_SUCCESS").await;
    let ticket = w.s.governance.get_ticket(t).await.expect("ticket").ticket;
    let ids = ticket.external_ids.as_object().cloned().expect("ids");
    (t, ids)
}

async fn audit(w: &World, input: Value) -> AuditReport {
    let input: AuditLiveInput = from_json(input);
    w.s.audit.audit(&me(), input).await.expect("audit runs")
}

fn id(ids: &serde_json::Map<String, Value>, key: &str) -> String {
    ids[key].as_str().expect("stored id").to_owned()
}

async fn drift_entries(w: &World, ticket: i64, event: &str) -> usize {
    w.s.governance
        .get_ticket(ticket)
        .await
        .expect("ticket")
        .history
        .iter()
        .filter(|h| h.event == event)
        .count()
}

fn total_writes(w: &World, ids: &serde_json::Map<String, Value>) -> u64 {
    ids.values()
        .filter_map(Value::as_str)
        .flat_map(|s| s.split(','))
        .map(|id| w.fake.writes(id))
        .sum()
}

/// Campaigns made in the platforms' own UIs are foreign; the ones with names outside the
/// taxonomy are flagged with what is wrong; ours are neither. Each account lists in pages.
#[tokio::test]
async fn foreign_and_badly_named_campaigns_are_reported_on_every_platform() {
    let w = World::build().workers().start().await;
    for (channel, platform, account) in [
        ("META", "META", "act_1234567890"),
        ("TIKTOK", "TIKTOK", "7012345678901234567"),
        ("GADS", "GOOGLE_ADS", ""),
    ] {
        let (_, ids) = deployed(&w, channel, &format!("{channel} Audit")).await;
        let ours = id(&ids, "campaign");
        let (on, off) = match platform {
            "META" => ("ACTIVE", "PAUSED"),
            "TIKTOK" => ("ENABLE", "DISABLE"),
            _ => ("ENABLED", "PAUSED"),
        };
        let bad = w
            .fake
            .add_campaign(platform, account, "summer sale promo", on);
        let good_name = format!("DIS_US_{channel}_2027_Agency");
        let foreign = w.fake.add_campaign(platform, account, &good_name, off);
        let pages_before = w.fake.calls(&format!(
            "{} campaign list page",
            match platform {
                "META" => "meta",
                "TIKTOK" => "tiktok",
                _ => "google",
            }
        ));

        let r = audit(&w, json!({"channel_code": channel})).await;
        let v = serde_json::to_value(&r).expect("json");
        assert_eq!(r.summary.accounts_listed, 1, "{v}");
        assert_eq!(r.summary.campaigns_listed, 3, "{v}");
        assert!(!r.summary.listing_truncated, "{v}");
        let foreign_ids: Vec<&str> = r
            .foreign_campaigns
            .iter()
            .map(|f| f.campaign.id.as_str())
            .collect();
        assert_eq!(foreign_ids.len(), 2, "{v}");
        assert!(foreign_ids.contains(&bad.as_str()), "{v}");
        assert!(foreign_ids.contains(&foreign.as_str()), "{v}");
        assert!(!foreign_ids.contains(&ours.as_str()), "{v}");
        let listed = r
            .foreign_campaigns
            .iter()
            .find(|f| f.campaign.id == foreign)
            .expect("foreign listed");
        assert_eq!(listed.campaign.name, good_name);
        assert_eq!(listed.campaign.status, off);

        // Only the badly named one breaks the taxonomy, and the reason names the segments.
        assert_eq!(r.naming_issues.len(), 1, "{v}");
        let n = &r.naming_issues[0];
        assert_eq!(n.id, bad);
        assert_eq!(n.status, on);
        assert!(n.ticket_id.is_none());
        assert!(
            n.problem.contains("segments") && n.problem.contains("convention"),
            "{}",
            n.problem
        );
        // Three campaigns, two a page: the listing followed the platform's paging.
        let pages = w.fake.calls(&format!(
            "{} campaign list page",
            match platform {
                "META" => "meta",
                "TIKTOK" => "tiktok",
                _ => "google",
            }
        )) - pages_before;
        assert_eq!(pages, 2, "{channel}: {pages} pages");
        // Nothing was changed anywhere.
        assert_eq!(total_writes(&w, &ids), 0);
        assert_eq!(w.fake.writes(&bad) + w.fake.writes(&foreign), 0);
        // Drift-free: the deployed ticket holds what was set (paused).
        assert_eq!(r.summary.tickets_drifted, 0, "{v}");
    }
    w.finish().await;
}

/// A throttled listing page is retried as the platform asks; a failing account is reported,
/// not fatal.
#[tokio::test]
async fn a_throttled_listing_page_is_retried_and_a_failing_account_is_reported() {
    let w = World::build().workers().start().await;
    deployed(&w, "META", "Throttled List").await;
    w.fake.fail_next_read(
        "list campaign",
        Fault::RateLimit {
            retry_after_secs: 0,
        },
    );
    let r = audit(&w, json!({"channel_code": "META"})).await;
    assert_eq!(r.summary.accounts_failed, 0, "{:?}", r.accounts);
    assert_eq!(r.summary.campaigns_listed, 1);

    for _ in 0..3 {
        w.fake.fail_next_read("list campaign", Fault::ServerError);
    }
    let r = audit(&w, json!({"channel_code": "META"})).await;
    assert_eq!(r.summary.accounts_failed, 1);
    let err = r.accounts[0].error.as_deref().expect("error");
    assert!(err.contains("run the audit again"), "{err}");
    assert!(!err.contains(world::META_TOKEN), "token leaked: {err}");
    w.finish().await;
}

/// Budget and status changed in the platforms' UIs are drift: reported per field, written to
/// the ticket's history once (a second audit adds nothing), noted once when it is gone, and
/// never written back to the platform.
#[tokio::test]
async fn drift_is_reported_recorded_once_and_nothing_is_written_to_the_platform() {
    let w = World::build().workers().start().await;
    for (channel, budget_obj, budget_field, budget_value, status_field, active) in [
        (
            "META",
            "adset",
            "daily_budget",
            json!(9000),
            "status",
            "ACTIVE",
        ),
        (
            "TIKTOK",
            "adgroup",
            "budget",
            json!(90.0),
            "operation_status",
            "ENABLE",
        ),
        (
            "GADS",
            "campaign_budget",
            "amountMicros",
            json!("90000000"),
            "status",
            "ENABLED",
        ),
    ] {
        let (t, ids) = deployed(&w, channel, &format!("{channel} Drift")).await;
        let budget_id = id(&ids, budget_obj);
        let campaign_id = id(&ids, "campaign");
        let before = w.fake.object(&budget_id).expect("budget object").body[budget_field].clone();
        w.fake
            .set_field(&budget_id, budget_field, budget_value.clone());
        w.fake.set_field(&campaign_id, status_field, json!(active));

        let r = audit(&w, json!({"channel_code": channel})).await;
        let v = serde_json::to_value(&r).expect("json");
        assert_eq!(r.summary.tickets_drifted, 1, "{v}");
        assert_eq!(r.summary.read_errors, 0, "{v}");
        let budget = r
            .drift
            .iter()
            .find(|d| d.object == budget_obj && d.platform_field == budget_field)
            .unwrap_or_else(|| panic!("{channel}: no budget drift in {v}"));
        assert_eq!(budget.ticket_id, t);
        assert_eq!(budget.object_id, budget_id);
        assert!(
            omnitraffick::platforms::live::same_value(&budget.actual, &budget_value),
            "{v}"
        );
        assert!(
            omnitraffick::platforms::live::same_value(&budget.expected, &before),
            "{v}"
        );
        assert!(budget.newly_recorded);
        let status = r
            .drift
            .iter()
            .find(|d| d.object == "campaign" && d.platform_field == status_field)
            .unwrap_or_else(|| panic!("{channel}: no status drift in {v}"));
        assert_eq!(status.actual, json!(active));
        assert_ne!(status.expected, json!(active));
        assert_eq!(r.drift.len(), 2, "{v}");
        assert_eq!(r.summary.history_entries_written, 1);
        assert_eq!(drift_entries(&w, t, "LIVE_DRIFT").await, 1);

        // The same drift again: reported, not recorded twice.
        let again = audit(&w, json!({"channel_code": channel})).await;
        assert_eq!(again.drift.len(), 2);
        assert!(again.drift.iter().all(|d| !d.newly_recorded));
        assert_eq!(again.summary.history_entries_written, 0);
        assert_eq!(drift_entries(&w, t, "LIVE_DRIFT").await, 1);

        // Nothing was written to the platform by either audit.
        assert_eq!(total_writes(&w, &ids), 0, "{channel}: the audit wrote");
        assert_eq!(
            w.fake.object(&budget_id).expect("object").body[budget_field],
            budget_value
        );

        // Put back by hand: the drift is gone, noted once.
        w.fake.set_field(&budget_id, budget_field, before);
        let off = if channel == "TIKTOK" {
            "DISABLE"
        } else {
            "PAUSED"
        };
        w.fake.set_field(&campaign_id, status_field, json!(off));
        let clean = audit(&w, json!({"channel_code": channel})).await;
        assert!(clean.drift.is_empty(), "{:?}", clean.drift);
        assert_eq!(drift_entries(&w, t, "LIVE_DRIFT_CLEARED").await, 1);
        let clean = audit(&w, json!({"campaign_id": campaign_of(&w, t).await})).await;
        assert!(clean.drift.is_empty());
        assert_eq!(drift_entries(&w, t, "LIVE_DRIFT_CLEARED").await, 1);
    }
    w.finish().await;
}

async fn campaign_of(w: &World, ticket: i64) -> i64 {
    w.s.governance
        .get_ticket(ticket)
        .await
        .expect("ticket")
        .ticket
        .campaign_id
}

/// An MCP server on `w`'s own services (so it talks to the fake platforms).
struct Served {
    url: String,
    stop: CancellationToken,
}

async fn serve(w: &World) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let opts = HttpOptions::loopback(addr);
    let stop = CancellationToken::new();
    let app = http::router(w.s.clone(), w.db.clone(), &opts, stop.child_token());
    let token = stop.clone();
    tokio::spawn(async move { http::serve_on(listener, app, &opts, token).await });
    Served {
        url: format!("http://{addr}/mcp"),
        stop,
    }
}

async fn client(served: &Served, key: &str) -> Mcp {
    let config = StreamableHttpClientTransportConfig::with_uri(served.url.clone())
        .auth_header(key.to_owned());
    let info = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("audit-tests", "0.1.0"),
    );
    Mcp::new(
        info.serve(StreamableHttpClientTransport::from_config(config))
            .await
            .expect("MCP client connects"),
    )
}

/// Over MCP: ops may audit (drift is in the structured answer); a viewer, an ops key for
/// another brand, or a brand-scoped key on a whole account are refused; unknown scopes are
/// not found and both scopes at once is a validation error naming the field.
#[tokio::test]
async fn over_mcp_roles_brands_and_scopes_are_checked() {
    let w = World::build().workers().start().await;
    let (t, ids) = deployed(&w, "META", "Mcp Audit").await;
    let campaign = campaign_of(&w, t).await;
    w.s.governance
        .create_brand(from_json(json!(
            {"name": "Pixar", "code": "PIX", "family_friendly": true, "currency": "USD"}
        )))
        .await
        .expect("brand");
    let adset = id(&ids, "adset");
    w.fake.set_field(&adset, "daily_budget", json!(12345));
    let served = serve(&w).await;

    let ops = key(&w.db, Role::Ops).await;
    let ops = client(&served, &ops).await;
    let out = ops.ok("audit_live", json!({"campaign_id": campaign})).await;
    assert_eq!(out["summary"]["tickets_drifted"], 1, "{out}");
    assert_eq!(out["drift"][0]["platform_field"], "daily_budget", "{out}");
    assert_eq!(out["drift"][0]["actual"], 12345, "{out}");
    assert_eq!(out["drift"][0]["newly_recorded"], true, "{out}");
    let out = ops.ok("audit_live", json!({"channel_code": "META"})).await;
    assert_eq!(out["drift"][0]["newly_recorded"], false, "{out}");
    assert_eq!(drift_entries(&w, t, "LIVE_DRIFT").await, 1);

    let e = ops
        .err(
            "audit_live",
            json!({"channel_code": "META", "campaign_id": campaign}),
        )
        .await;
    assert_eq!(e["code"], "VALIDATION", "{e}");
    assert!(
        e["message"].as_str().unwrap_or("").contains("not both"),
        "{e}"
    );
    let e = ops.err("audit_live", json!({})).await;
    assert_eq!(e["code"], "VALIDATION", "{e}");
    let e = ops.err("audit_live", json!({"channel_code": "NOPE"})).await;
    assert_eq!(e["code"], "NOT_FOUND", "{e}");
    assert_eq!(e["field"], "channel_code", "{e}");
    let e = ops.err("audit_live", json!({"campaign_id": 999_999})).await;
    assert_eq!(e["code"], "NOT_FOUND", "{e}");
    assert_eq!(e["field"], "campaign_id", "{e}");
    ops.close().await;

    let viewer = key(&w.db, Role::Viewer).await;
    let viewer = client(&served, &viewer).await;
    let e = viewer
        .err("audit_live", json!({"campaign_id": campaign}))
        .await;
    assert_eq!(e["code"], "FORBIDDEN", "{e}");
    viewer.close().await;

    let (pix, _) = auth::create_scoped_key(&w.db, "ops-pix", Role::Ops, Some(vec!["PIX".into()]))
        .await
        .expect("scoped key");
    let pix = client(&served, &pix).await;
    let e = pix
        .err("audit_live", json!({"campaign_id": campaign}))
        .await;
    assert_eq!(e["code"], "FORBIDDEN", "{e}");
    let e = pix.err("audit_live", json!({"channel_code": "META"})).await;
    assert_eq!(e["code"], "FORBIDDEN", "{e}");
    assert!(
        e["message"].as_str().unwrap_or("").contains("campaign_id"),
        "{e}"
    );
    pix.close().await;

    assert_eq!(total_writes(&w, &ids), 0);
    assert_eq!(drift_entries(&w, t, "LIVE_DRIFT").await, 1);
    served.stop.cancel();
    tokio::time::sleep(Duration::from_millis(50)).await;
    w.finish().await;
}

/// End dates and targeting are compared too, in each platform's own fields.
#[tokio::test]
async fn end_dates_and_targeting_changed_outside_are_drift() {
    let w = World::build().workers().start().await;
    for (channel, changes) in [
        (
            "META",
            vec![
                ("adset", "end_time", json!("2027-06-30T23:59:59-0700")),
                (
                    "adset",
                    "targeting",
                    json!({"geo_locations": {"countries": ["US", "CA"]}, "age_min": 18, "age_max": 65}),
                ),
                ("campaign", "name", json!("not compared")),
            ],
        ),
        (
            "TIKTOK",
            vec![
                ("adgroup", "schedule_end_time", json!("2027-06-30 23:59:59")),
                ("adgroup", "location_ids", json!(["6252001", "6251999"])),
            ],
        ),
        (
            "GADS",
            vec![("campaign", "endDateTime", json!("2027-06-30 23:59:59"))],
        ),
    ] {
        let (_, ids) = deployed(&w, channel, &format!("{channel} Ends")).await;
        for (obj, field, value) in &changes {
            w.fake.set_field(&id(&ids, obj), field, value.clone());
        }
        let r = audit(&w, json!({"channel_code": channel})).await;
        let v = serde_json::to_value(&r).expect("json");
        let mut fields: Vec<(&str, &str)> = r
            .drift
            .iter()
            .map(|d| (d.object.as_str(), d.platform_field.as_str()))
            .collect();
        let mut compared: Vec<(&str, &str)> = changes
            .iter()
            .filter(|(_, f, _)| *f != "name")
            .map(|(o, f, _)| (*o, *f))
            .collect();
        fields.sort_unstable();
        compared.sort_unstable();
        assert_eq!(fields, compared, "{channel}: {v}");
        assert_eq!(total_writes(&w, &ids), 0);
    }
    w.finish().await;
}

/// Records `notifications/resources/updated`.
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
            Implementation::new("audit-subscriber", "0.1.0"),
        )
    }
}

/// New drift reaches the subscribers of `omnitraffick://tickets/{id}` like any history entry.
#[tokio::test]
async fn new_drift_notifies_the_tickets_subscribers() {
    let w = World::build().workers().start().await;
    let (t, ids) = deployed(&w, "META", "Notify Drift").await;
    let served = serve(&w).await;
    let key = key(&w.db, Role::Ops).await;
    let config = StreamableHttpClientTransportConfig::with_uri(served.url.clone()).auth_header(key);
    let recorder = Recorder::default();
    let client = Mcp::new(
        recorder
            .clone()
            .serve(StreamableHttpClientTransport::from_config(config))
            .await
            .expect("connect"),
    );
    let uri = format!("omnitraffick://tickets/{t}");
    #[allow(deprecated)]
    client
        .subscribe(SubscribeRequestParams::new(uri.clone()))
        .await
        .expect("resources/subscribe");
    w.fake
        .set_field(&id(&ids, "adset"), "daily_budget", json!(7777));
    let out = client
        .ok("audit_live", json!({"channel_code": "META"}))
        .await;
    assert_eq!(out["summary"]["history_entries_written"], 1, "{out}");
    world::wait_until(
        "no resource update for the drift",
        Duration::from_secs(10),
        || async {
            let seen = recorder.updates.lock().unwrap().clone();
            if seen.contains(&uri) {
                Ok(())
            } else {
                Err(format!("updates: {seen:?}"))
            }
        },
    )
    .await;
    client.close().await;
    served.stop.cancel();
    w.finish().await;
}

/// A campaign scope covers the campaign's own tickets and the foreign campaigns whose name
/// claims its brand; other campaigns' objects and other brands' names are left out.
#[tokio::test]
async fn a_campaign_scope_keeps_to_its_tickets_and_its_brand() {
    let w = World::build().workers().start().await;
    let (t, ids) = deployed(&w, "META", "Scope One").await;
    let (_, other) = deployed(&w, "META", "Scope Two").await;
    let rogue = w
        .fake
        .add_campaign("META", "act_1234567890", "DIS_US_META_2027_Rogue", "ACTIVE");
    let pix = w
        .fake
        .add_campaign("META", "act_1234567890", "PIX_US_META_2027_Other", "ACTIVE");
    w.fake
        .add_campaign("META", "act_1234567890", "no taxonomy at all", "ACTIVE");

    let r = audit(&w, json!({"campaign_id": campaign_of(&w, t).await})).await;
    let v = serde_json::to_value(&r).expect("json");
    assert_eq!(r.summary.campaigns_listed, 5, "{v}");
    assert_eq!(r.summary.tickets_checked, 1, "{v}");
    let foreign: Vec<&str> = r
        .foreign_campaigns
        .iter()
        .map(|f| f.campaign.id.as_str())
        .collect();
    assert_eq!(foreign, [rogue.as_str()], "{v}");
    assert!(r.naming_issues.is_empty(), "{v}");
    assert!(!v.to_string().contains(&id(&other, "campaign")), "{v}");

    // The whole account: every foreign campaign, and the unknown brand code is named.
    let r = audit(&w, json!({"channel_code": "META"})).await;
    let v = serde_json::to_value(&r).expect("json");
    assert_eq!(r.summary.tickets_checked, 2, "{v}");
    assert_eq!(r.foreign_campaigns.len(), 3, "{v}");
    let issue = r
        .naming_issues
        .iter()
        .find(|n| n.id == pix)
        .expect("PIX flagged");
    assert!(
        issue.problem.contains("not a governed brand code"),
        "{}",
        issue.problem
    );
    assert_eq!(r.naming_issues.len(), 2, "{v}");
    assert_eq!(total_writes(&w, &ids) + total_writes(&w, &other), 0);
    w.finish().await;
}

/// An object deleted in the platform's UI is drift on `exists`; a read that fails is reported
/// and, since it proves nothing, no drift is recorded for that ticket.
#[tokio::test]
async fn a_deleted_object_is_drift_and_an_unreadable_one_records_nothing() {
    let w = World::build().workers().start().await;
    let (t, ids) = deployed(&w, "META", "Gone Ad").await;
    let ad = id(&ids, "ad");
    w.fake.state.lock().unwrap().objects.retain(|o| o.id != ad);
    for _ in 0..3 {
        w.fake.fail_next_read("adset", Fault::ServerError);
    }
    let r = audit(&w, json!({"channel_code": "META"})).await;
    let v = serde_json::to_value(&r).expect("json");
    let gone = r
        .drift
        .iter()
        .find(|d| d.object == "ad")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(gone.platform_field, "exists");
    assert_eq!(gone.actual, json!(false));
    assert!(!gone.newly_recorded, "{v}");
    assert_eq!(r.summary.read_errors, 1, "{v}");
    assert_eq!(r.read_errors[0].object, "adset");
    assert_eq!(drift_entries(&w, t, "LIVE_DRIFT").await, 0);

    // Readable again: the deleted ad is recorded.
    let r = audit(&w, json!({"channel_code": "META"})).await;
    assert_eq!(r.summary.read_errors, 0);
    assert_eq!(r.summary.history_entries_written, 1);
    assert_eq!(drift_entries(&w, t, "LIVE_DRIFT").await, 1);
    w.finish().await;
}
