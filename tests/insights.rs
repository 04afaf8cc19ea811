//! Read-back against the fake platforms: daily metrics synced from each platform's report
//! (every page followed, money exact, a re-sync replaces days instead of adding them), a
//! failed sync keeping the last good data, pacing with the platforms' reasons ranked, the
//! scheduled sync through the queue, and the MCP tools, resource and prompt.

mod common;

use std::time::Duration;

use rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams};
use serde_json::{Value, json};

use common::fake_platforms::Fault;
use common::world::{World, me};
use common::*;
use omnitraffick::auth::Role;
use omnitraffick::domain::{ChangeKind, ChangeStatus};
use omnitraffick::insights::InsightsInput;

/// A daily budget of `amount` that started `days_ago` days ago and ends in `days_left` days.
fn spec(amount: &str, days_ago: i64, days_left: i64) -> Value {
    let now = chrono::Utc::now();
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
    json!({
        "objective": "TRAFFIC",
        "budget": {"amount": amount, "period": "DAILY"},
        "schedule": {
            "start_time": fmt(now - chrono::Duration::days(days_ago)),
            "end_time": fmt(now + chrono::Duration::days(days_left)),
        },
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

fn day(days_ago: i64) -> String {
    (chrono::Utc::now().date_naive() - chrono::Duration::days(days_ago)).to_string()
}

/// A ticket deployed on `channel` and launched (LIVE), with its external ids.
async fn live(w: &World, channel: &str, name: &str, amount: &str) -> (i64, Value) {
    let t = w.ready_ticket(channel, name, spec(amount, 4, 6)).await;
    w.queue_deploy(t).await;
    w.wait_status(t, "TRAFFICKED_SUCCESS").await;
    let out =
        w.s.changes
            .request(&me(), t, ChangeKind::Launch, None, "test", None)
            .await
            .expect("launch");
    let c = out.change.change;
    if c.status == ChangeStatus::NeedsConfirmation {
        w.s.changes
            .confirm(&me(), c.id, out.confirmation_token.as_deref())
            .await
            .expect("confirm");
    }
    w.wait_status(t, "LIVE").await;
    // Launched when its schedule started, four days ago (pacing plans from the later of the
    // two).
    let launched = omnitraffick::domain::time_text(chrono::Utc::now() - chrono::Duration::days(4));
    sqlx::query("UPDATE ticket_history SET at = $1 WHERE ticket_id = $2 AND to_status = 'LIVE'")
        .bind(launched)
        .bind(t)
        .execute(w.db.pool())
        .await
        .expect("backdate the launch");
    let ids =
        w.s.governance
            .get_ticket(t)
            .await
            .expect("ticket")
            .ticket
            .external_ids;
    (t, ids)
}

/// A ticket on `channel` in an existing campaign, deployed (objects created paused); its id
/// and external ids.
async fn deployed_in(w: &World, campaign_id: i64, channel: &str, payload: Value) -> (i64, Value) {
    let t = w
        .s
        .governance
        .create_ticket(
            &me(),
            from_json(json!({"campaign_id": campaign_id, "channel_code": channel, "payload_config": payload})),
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
    let ids =
        w.s.governance
            .get_ticket(t)
            .await
            .expect("t")
            .ticket
            .external_ids;
    (t, ids)
}

fn id_of(ids: &Value, key: &str) -> String {
    ids[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {ids}"))
        .split(',')
        .next()
        .unwrap_or_default()
        .to_owned()
}

trait WithoutTicket {
    fn without_ticket(self) -> Self;
}

impl WithoutTicket for InsightsInput {
    fn without_ticket(mut self) -> Self {
        self.ticket_id = None;
        self
    }
}

fn by_ticket(ticket: i64) -> InsightsInput {
    InsightsInput {
        ticket_id: Some(ticket),
        campaign_id: None,
        brand_code: None,
        from: Some(day(10)),
        to: Some(day(0)),
        breakdown: None,
        limit: None,
        offset: None,
    }
}

/// Each platform's report is read page by page into exact money; a re-sync replaces a day
/// instead of adding it again; spend reported in another currency stays apart.
#[tokio::test]
async fn sync_reads_every_page_with_exact_money_and_a_resync_replaces_days() {
    let w = World::build().workers().start().await;
    for (channel, name, key) in [
        ("META", "Meta Readback", "meta insights read"),
        ("TIKTOK", "Tt Readback", "tiktok insights read"),
        ("GADS", "Gads Readback", "google insights read"),
    ] {
        let (t, ids) = live(&w, channel, name, "100.00").await;
        let campaign = id_of(&ids, "campaign");
        // Five days at page size 2: three pages.
        for (ago, spend) in [
            (4, "12.40"),
            (3, "7.05"),
            (2, "0.01"),
            (1, "99.99"),
            (0, "3.50"),
        ] {
            w.fake
                .set_day(&campaign, &day(ago), (spend, 1000, 25, "2", "USD"));
        }
        let calls = w.fake.calls(key);
        let out = w.s.insights.sync(Some(t), None).await.expect("sync");
        assert_eq!(out.synced, 1, "{channel}: {out:?}");
        assert_eq!(out.tickets[0].days, 5, "{channel}: {out:?}");
        assert!(
            w.fake.calls(key) - calls >= 3,
            "{channel}: every page is read"
        );
        let got = w.s.insights.insights(by_ticket(t)).await.expect("insights");
        // 12.40 + 7.05 + 0.01 + 99.99 + 3.50, exactly.
        assert_eq!(got.totals.spend, "122.95", "{channel}: {got:?}");
        assert_eq!(got.totals.spend_micros, 122_950_000);
        assert_eq!(got.totals.impressions, 5000);
        assert_eq!(got.totals.clicks, 125);
        assert_eq!(got.totals.conversions, "10");
        assert_eq!(got.totals.ctr_percent.as_deref(), Some("2.50"));
        assert_eq!(got.totals.cpc.as_deref(), Some("0.98"));
        assert_eq!(got.totals.cpm.as_deref(), Some("24.59"));
        assert_eq!(got.currency, "USD");
        assert_eq!(got.groups_total, 5);
        assert!(got.freshness.oldest_sync.is_some());

        // The platform restates a day (late conversions, corrections): replaced, not added.
        w.fake
            .set_day(&campaign, &day(4), ("20.00", 1000, 25, "2", "USD"));
        w.s.insights.sync(Some(t), None).await.expect("resync");
        let again = w.s.insights.insights(by_ticket(t)).await.expect("insights");
        assert_eq!(again.totals.spend, "130.55", "{channel}: {again:?}");
        assert_eq!(again.groups_total, 5, "{channel}: no day twice");
    }

    // A TikTok account in euros for a dollar brand: listed apart, never added.
    let (t, ids) = live(&w, "TIKTOK", "Tt Euro", "100.00").await;
    let campaign = id_of(&ids, "campaign");
    w.fake
        .set_day(&campaign, &day(1), ("5.00", 10, 1, "0", "USD"));
    w.fake
        .set_day(&campaign, &day(2), ("9.00", 10, 1, "0", "EUR"));
    w.s.insights.sync(Some(t), None).await.expect("sync");
    let got = w.s.insights.insights(by_ticket(t)).await.expect("insights");
    assert_eq!(got.totals.spend, "5.00");
    assert_eq!(got.other_currencies.len(), 1, "{got:?}");
    assert_eq!(got.other_currencies[0].currency, "EUR");
    assert_eq!(got.other_currencies[0].totals.spend, "9.00");
    assert!(got.summary.contains("EUR"), "{}", got.summary);
    let pacing = w.s.insights.pacing(Some(t), None).await.expect("pacing");
    assert!(
        pacing.reasons.iter().any(|r| r.code == "CURRENCY_MISMATCH"),
        "{pacing:?}"
    );
    w.finish().await;
}

/// Under-spending with the platforms' own reasons, most important first, each naming the
/// object and the platform field.
#[tokio::test]
async fn pacing_explains_a_gap_with_ranked_platform_reasons() {
    let w = World::build().workers().start().await;

    // Meta: $100 a day for 4 days = $400 planned; $200 spent.
    let (t, ids) = live(&w, "META", "Meta Pacing", "100.00").await;
    let campaign = id_of(&ids, "campaign");
    for ago in 1..=4 {
        w.fake
            .set_day(&campaign, &day(ago), ("50.00", 5000, 40, "1", "USD"));
    }
    w.fake.set_field(
        &id_of(&ids, "adset"),
        "learning_stage_info",
        json!({"status": "FAIL", "conversions": 3}),
    );
    w.fake
        .set_field(&id_of(&ids, "ad"), "effective_status", json!("DISAPPROVED"));
    w.fake.set_field(
        &id_of(&ids, "ad"),
        "ad_review_feedback",
        json!({"global": {"Alcohol": "Ads may not promote alcohol"}}),
    );
    w.s.insights.sync(Some(t), None).await.expect("sync");
    let p = w.s.insights.pacing(Some(t), None).await.expect("pacing");
    assert_eq!(p.verdict.as_str(), "UNDER", "{p:?}");
    let tp = &p.tickets[0];
    assert_eq!(tp.actual_to_date, "200.00");
    // Planned: 4 days live at $100 (to the minute the test runs).
    let planned: f64 = tp.planned_to_date.parse().expect("planned");
    assert!((399.0..=401.0).contains(&planned), "{tp:?}");
    assert!(
        tp.pace_percent
            .as_deref()
            .is_some_and(|x| x.starts_with("50.") || x.starts_with("49.")),
        "{tp:?}"
    );
    assert_eq!(
        tp.planned_total
            .as_deref()
            .map(|x| x.starts_with("99") || x.starts_with("100")),
        Some(true),
        "{tp:?}"
    );
    let codes: Vec<&str> = p.reasons.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes[0], "DISAPPROVED", "{codes:?}");
    assert!(codes.contains(&"LEARNING_LIMITED"), "{codes:?}");
    let disapproved = &p.reasons[0];
    assert_eq!(disapproved.field, "effective_status");
    assert_eq!(disapproved.object, "ad");
    assert!(disapproved.detail.contains("alcohol"), "{disapproved:?}");
    let learning = p
        .reasons
        .iter()
        .find(|r| r.code == "LEARNING_LIMITED")
        .expect("learning");
    assert_eq!(learning.field, "learning_stage_info.status");
    assert_eq!(
        learning.object_id.as_deref(),
        Some(id_of(&ids, "adset").as_str())
    );

    // Google: the budget limits serving.
    let (g, gids) = live(&w, "GADS", "Gads Pacing", "100.00").await;
    w.fake.set_field(
        &id_of(&gids, "campaign"),
        "primaryStatusReasons",
        json!(["BUDGET_CONSTRAINED"]),
    );
    w.fake
        .set_field(&id_of(&gids, "campaign"), "primaryStatus", json!("LIMITED"));
    w.s.insights.sync(Some(g), None).await.expect("sync");
    let gp = w.s.insights.pacing(Some(g), None).await.expect("pacing");
    let budget = gp
        .reasons
        .iter()
        .find(|r| r.code == "BUDGET_CONSTRAINED")
        .unwrap_or_else(|| panic!("{gp:?}"));
    assert_eq!(budget.field, "primary_status_reasons");
    assert!(
        budget
            .suggestion
            .as_deref()
            .unwrap_or("")
            .contains("change_ticket")
    );

    // TikTok: the ad group was refused in review.
    let (k, kids) = live(&w, "TIKTOK", "Tt Pacing", "100.00").await;
    w.fake.set_field(
        &id_of(&kids, "adgroup"),
        "secondary_status",
        json!("ADGROUP_STATUS_AUDIT_DENY"),
    );
    w.s.insights.sync(Some(k), None).await.expect("sync");
    let kp = w.s.insights.pacing(Some(k), None).await.expect("pacing");
    assert_eq!(kp.reasons[0].code, "DISAPPROVED", "{kp:?}");
    assert_eq!(kp.reasons[0].field, "secondary_status");

    // The campaign-wide answer sums its tickets and ranks their reasons together.
    let campaign_id =
        w.s.governance
            .get_ticket(t)
            .await
            .expect("t")
            .ticket
            .campaign_id;
    let all =
        w.s.insights
            .pacing(None, Some(campaign_id))
            .await
            .expect("campaign pacing");
    assert_eq!(all.tickets.len(), 1, "{all:?}");
    assert_eq!(all.actual_to_date, "200.00");
    assert_eq!(all.reasons[0].code, "DISAPPROVED");
    assert!(all.summary.contains("DISAPPROVED"), "{}", all.summary);
    w.finish().await;
}

/// A failed sync keeps the last good data and says so; a rate limit is retried by a worker.
#[tokio::test]
async fn a_failed_sync_keeps_the_last_good_data_and_a_rate_limit_is_retried() {
    let w = World::build()
        .workers()
        .options(|o| {
            o.insights.retry_base = Duration::from_millis(200);
            o.insights.every = Duration::from_secs(3600);
        })
        .start()
        .await;
    let (t, ids) = live(&w, "META", "Meta Faults", "100.00").await;
    let campaign = id_of(&ids, "campaign");
    w.fake
        .set_day(&campaign, &day(1), ("10.00", 100, 3, "0", "USD"));
    w.s.insights.sync(Some(t), None).await.expect("sync");

    w.fake
        .set_day(&campaign, &day(1), ("11.00", 100, 3, "0", "USD"));
    w.fake.fail_next_read("insights", Fault::Reject);
    let out = w.s.insights.sync(Some(t), None).await.expect("sync");
    assert_eq!(out.failed, 1);
    assert_eq!(out.tickets[0].status, "FAILED");
    assert!(
        out.tickets[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("reduce the amount of data"),
        "{out:?}"
    );
    let got = w.s.insights.insights(by_ticket(t)).await.expect("insights");
    assert_eq!(got.totals.spend, "10.00", "the last good data stays");
    assert_eq!(got.freshness.failing.len(), 1, "{got:?}");
    let p = w.s.insights.pacing(Some(t), None).await.expect("pacing");
    assert!(p.reasons.iter().any(|r| r.code == "SYNC_FAILED"), "{p:?}");

    // Throttled: answered RETRY_QUEUED and a worker reads it again shortly.
    w.fake.fail_next_read(
        "insights",
        Fault::RateLimit {
            retry_after_secs: 0,
        },
    );
    let out = w.s.insights.sync(Some(t), None).await.expect("sync");
    assert_eq!(out.tickets[0].status, "RETRY_QUEUED", "{out:?}");
    let s = w.s.clone();
    world::wait_until("the retried sync", Duration::from_secs(20), move || {
        let s = s.clone();
        async move {
            let got = s
                .insights
                .insights(by_ticket(t))
                .await
                .map_err(|e| e.to_string())?;
            if got.totals.spend == "11.00" && got.freshness.failing.is_empty() {
                Ok(())
            } else {
                Err(format!("{got:?}"))
            }
        }
    })
    .await;
    w.finish().await;
}

/// The schedule queues every live ticket and a worker syncs it.
#[tokio::test]
async fn the_schedule_syncs_live_tickets_through_the_queue() {
    let w = World::build()
        .workers()
        .options(|o| o.insights.every = Duration::from_secs(1))
        .start()
        .await;
    let (t, ids) = live(&w, "GADS", "Gads Scheduled", "100.00").await;
    w.fake.set_day(
        &id_of(&ids, "campaign"),
        &day(1),
        ("42.00", 100, 3, "2.5", "USD"),
    );
    let s = w.s.clone();
    world::wait_until("a scheduled sync", Duration::from_secs(30), move || {
        let s = s.clone();
        async move {
            let got = s
                .insights
                .insights(by_ticket(t))
                .await
                .map_err(|e| e.to_string())?;
            if got.totals.spend == "42.00" {
                Ok(got)
            } else {
                Err(format!("{got:?}"))
            }
        }
    })
    .await;
    let got = w.s.insights.insights(by_ticket(t)).await.expect("insights");
    assert_eq!(got.totals.conversions, "2.5");
    w.finish().await;
}

fn text_of(contents: &[rmcp::model::ResourceContents]) -> String {
    match &contents[0] {
        rmcp::model::ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("unexpected {other:?}"),
    }
}

/// The tools, the pacing resource and the prompt over MCP, with their refusals.
#[tokio::test]
async fn mcp_tools_resource_and_prompt() {
    let w = World::build().workers().server().start().await;
    let (t, ids) = live(&w, "META", "Meta Mcp", "100.00").await;
    let campaign = id_of(&ids, "campaign");
    for ago in 1..=3 {
        w.fake
            .set_day(&campaign, &day(ago), ("25.00", 2000, 10, "1", "USD"));
    }
    w.s.insights.sync(Some(t), None).await.expect("sync");
    let campaign_id =
        w.s.governance
            .get_ticket(t)
            .await
            .expect("t")
            .ticket
            .campaign_id;
    let server = w.server();
    let viewer = Mcp::http(server, Some(&key(&server.db, Role::Viewer).await)).await;

    let got = viewer
        .ok(
            "get_insights",
            json!({"campaign_id": campaign_id, "from": day(10), "to": day(0), "breakdown": "day", "limit": 2}),
        )
        .await;
    assert_eq!(got["totals"]["spend"], "75.00", "{got}");
    assert_eq!(got["groups"].as_array().map(Vec::len), Some(2));
    assert_eq!(got["next_offset"], 2);
    let by_platform = viewer
        .ok(
            "get_insights",
            json!({"brand_code": "dis", "breakdown": "platform"}),
        )
        .await;
    assert_eq!(by_platform["groups"][0]["key"], "META", "{by_platform}");

    let both = viewer
        .err(
            "get_insights",
            json!({"campaign_id": campaign_id, "ticket_id": t}),
        )
        .await;
    assert!(both.to_string().contains("exactly one"), "{both}");
    let bad_date = viewer
        .err("get_insights", json!({"ticket_id": t, "from": "yesterday"}))
        .await;
    assert!(bad_date.to_string().contains("YYYY-MM-DD"), "{bad_date}");
    let unknown = viewer.err("get_pacing", json!({"ticket_id": 424242})).await;
    assert!(unknown.to_string().contains("424242"), "{unknown}");

    let pacing = viewer.ok("get_pacing", json!({"ticket_id": t})).await;
    assert_eq!(pacing["verdict"], "UNDER", "{pacing}");
    assert_eq!(pacing["tickets"][0]["actual_to_date"], "75.00");

    // Syncing spends the platforms' rate limits: not for viewers.
    let refused = viewer.err("sync_insights", json!({"ticket_id": t})).await;
    assert!(refused.to_string().contains("viewer"), "{refused}");
    // A ticket with nothing deployed says so.
    let draft = w
        .ready_ticket("META", "Meta Draft", spec("10.00", 1, 5))
        .await;
    let admin = Mcp::http(server, Some(&key(&server.db, Role::Admin).await)).await;
    let not_live = admin
        .err("sync_insights", json!({"ticket_id": draft}))
        .await;
    assert!(not_live.to_string().contains("deployed"), "{not_live}");

    let read = viewer
        .read_resource(ReadResourceRequestParams::new(format!(
            "omnitraffick://campaigns/{campaign_id}/pacing"
        )))
        .await
        .expect("pacing resource");
    let v: Value = serde_json::from_str(&text_of(&read.contents)).expect("json");
    assert_eq!(v["tickets"][0]["ticket_id"], t, "{v}");
    let templates = viewer
        .list_all_resource_templates()
        .await
        .expect("templates");
    assert!(
        templates
            .iter()
            .any(|t| t.uri_template == "omnitraffick://campaigns/{id}/pacing")
    );

    let mut args = serde_json::Map::new();
    args.insert("campaign_id".into(), json!(campaign_id.to_string()));
    let p = viewer
        .get_prompt(GetPromptRequestParams::new("pacing_review").with_arguments(args))
        .await
        .expect("pacing_review");
    let text = format!("{:?}", p.messages);
    assert!(
        text.contains("sync_insights") && text.contains("UNDER") && text.contains("75.00"),
        "{text}"
    );
    viewer.close().await;
    admin.close().await;
    w.finish().await;
}

/// Once every ticket of a campaign has ended, its results become a cited passage of the
/// brand: the copilot answers from facts, without a model.
#[tokio::test]
async fn an_ended_campaign_becomes_a_cited_passage_for_the_copilot() {
    let w = World::build().workers().start().await;
    let (meta, mids) = live(&w, "META", "Haunted Harbor", "100.00").await;
    let campaign_id =
        w.s.governance
            .get_ticket(meta)
            .await
            .expect("t")
            .ticket
            .campaign_id;
    // A TikTok ticket in the same campaign.
    let (tt, tids) = deployed_in(&w, campaign_id, "TIKTOK", spec("100.00", 4, 6)).await;
    w.fake.set_day(
        &id_of(&mids, "campaign"),
        &day(2),
        ("310.00", 40000, 800, "12", "USD"),
    );
    w.fake.set_day(
        &id_of(&tids, "campaign"),
        &day(2),
        ("190.50", 90000, 2700, "30", "USD"),
    );

    // One ticket ended, the other not yet: nothing is remembered.
    w.s.changes
        .request(&me(), meta, ChangeKind::End, None, "flight over", None)
        .await
        .expect("end");
    w.wait_status(meta, "ENDED").await;
    w.s.insights
        .sync(None, Some(campaign_id))
        .await
        .expect("sync");
    let docs =
        w.s.copilot
            .list(from_json(json!({"brand_code": "DIS"})))
            .await
            .expect("list");
    assert!(docs.documents.is_empty(), "{:?}", docs.documents);

    w.s.changes
        .request(&me(), tt, ChangeKind::End, None, "flight over", None)
        .await
        .expect("end");
    w.wait_status(tt, "ENDED").await;
    let out =
        w.s.insights
            .sync(None, Some(campaign_id))
            .await
            .expect("sync");
    assert_eq!(out.synced, 2, "{out:?}");
    let docs =
        w.s.copilot
            .list(from_json(json!({"brand_code": "DIS"})))
            .await
            .expect("list");
    assert_eq!(docs.documents.len(), 1, "{:?}", docs.documents);
    assert_eq!(
        docs.documents[0].name,
        format!("Results - Haunted Harbor 2027 (campaign {campaign_id})")
    );

    let answer =
        w.s.copilot
            .ask(from_json(
                json!({"brand_code": "DIS", "question": "How did Haunted Harbor do on TikTok?"}),
            ))
            .await
            .expect("ask");
    assert!(answer.found, "{answer:?}");
    assert_eq!(answer.mode, "extractive");
    let cited = &answer.citations[0];
    assert!(
        cited.citation.starts_with("Results - Haunted Harbor 2027"),
        "{cited:?}"
    );
    assert!(
        cited.text.contains("On TikTok")
            && cited.text.contains("spend 190.50 USD")
            && cited.text.contains("30 conversions"),
        "{}",
        cited.text
    );
    assert!(
        cited
            .text
            .contains("All platforms together: spend 500.50 USD"),
        "{}",
        cited.text
    );

    // A re-sync with the same figures keeps one document; new figures replace it.
    w.s.insights
        .sync(None, Some(campaign_id))
        .await
        .expect("sync");
    w.fake.set_day(
        &id_of(&tids, "campaign"),
        &day(2),
        ("200.00", 90000, 2700, "31", "USD"),
    );
    w.s.insights.sync(Some(tt), None).await.expect("sync");
    let docs =
        w.s.copilot
            .list(from_json(json!({"brand_code": "DIS"})))
            .await
            .expect("list");
    assert_eq!(docs.documents.len(), 1);
    let (_, pages) =
        w.s.copilot
            .document_text(docs.documents[0].id)
            .await
            .expect("text");
    assert!(pages[0].contains("spend 200.00 USD"), "{}", pages[0]);
    w.finish().await;
}

/// A euro brand's euro account stays in euros; a schedule that has not started is
/// NOT_STARTED (not UNDER); an object paused on the platform is the first reason.
#[tokio::test]
async fn currencies_kept_not_started_and_paused_first() {
    let w = World::build().workers().start().await;
    w.s.governance
        .create_brand(from_json(json!({"name": "Euro Films", "code": "EUF", "family_friendly": false, "currency": "EUR"})))
        .await
        .expect("brand");
    let c = w
        .s
        .governance
        .create_campaign(from_json(
            json!({"brand_code": "EUF", "market_code": "US", "name": "Euro Launch", "year": 2027}),
        ))
        .await
        .expect("campaign")
        .id;
    let (t, ids) = deployed_in(&w, c, "META", spec("80.00", 4, 6)).await;
    w.fake.set_day(
        &id_of(&ids, "campaign"),
        &day(2),
        ("10.50", 100, 2, "0", "EUR"),
    );
    w.fake.set_day(
        &id_of(&ids, "campaign"),
        &day(1),
        ("20.25", 100, 2, "0", "EUR"),
    );
    w.s.insights.sync(Some(t), None).await.expect("sync");
    let got =
        w.s.insights
            .insights(
                InsightsInput {
                    brand_code: Some("EUF".into()),
                    ..by_ticket(t)
                }
                .without_ticket(),
            )
            .await
            .expect("insights");
    assert_eq!(got.currency, "EUR");
    assert_eq!(got.totals.spend, "30.75", "{got:?}");
    assert!(got.other_currencies.is_empty());
    // Deployed but never launched: NOT_STARTED, and the first reason says so.
    let p = w.s.insights.pacing(Some(t), None).await.expect("pacing");
    assert_eq!(p.verdict.as_str(), "NOT_STARTED", "{p:?}");
    assert_eq!(p.reasons[0].code, "NOT_LAUNCHED");
    assert_eq!(p.currency, "EUR");

    // Launched, but its schedule starts in two days: NOT_STARTED, not UNDER.
    let later = w
        .ready_ticket("META", "Meta Later", spec("100.00", -2, 10))
        .await;
    w.queue_deploy(later).await;
    w.wait_status(later, "TRAFFICKED_SUCCESS").await;
    let out =
        w.s.changes
            .request(&me(), later, ChangeKind::Launch, None, "test", None)
            .await
            .expect("launch");
    w.s.changes
        .confirm(
            &me(),
            out.change.change.id,
            out.confirmation_token.as_deref(),
        )
        .await
        .expect("confirm");
    w.wait_status(later, "LIVE").await;
    w.s.insights.sync(Some(later), None).await.expect("sync");
    let p =
        w.s.insights
            .pacing(Some(later), None)
            .await
            .expect("pacing");
    assert_eq!(p.verdict.as_str(), "NOT_STARTED", "{p:?}");
    assert!(
        p.reasons.iter().any(|r| r.code == "SCHEDULE_NOT_STARTED"),
        "{p:?}"
    );

    // Paused on the platform behind OmniTraffick's back: the first reason, on the campaign.
    let (live_t, live_ids) = live(&w, "META", "Meta Paused", "100.00").await;
    w.fake.set_day(
        &id_of(&live_ids, "campaign"),
        &day(1),
        ("5.00", 100, 2, "0", "USD"),
    );
    w.fake
        .set_field(&id_of(&live_ids, "campaign"), "status", json!("PAUSED"));
    w.fake.set_field(
        &id_of(&live_ids, "adset"),
        "learning_stage_info",
        json!({"status": "LEARNING"}),
    );
    w.s.insights.sync(Some(live_t), None).await.expect("sync");
    let p =
        w.s.insights
            .pacing(Some(live_t), None)
            .await
            .expect("pacing");
    assert_eq!(p.verdict.as_str(), "UNDER", "{p:?}");
    assert_eq!(p.reasons[0].code, "PAUSED", "{p:?}");
    assert_eq!(p.reasons[0].object, "campaign");
    assert_eq!(p.reasons[0].field, "effective_status");
    assert!(p.reasons.iter().any(|r| r.code == "LEARNING"));
    w.finish().await;
}

/// A platform that suddenly reports nothing (a campaign deleted in its UI) never wipes the
/// stored spend; an ended ticket stops planning spend when it ended.
#[tokio::test]
async fn silence_keeps_stored_spend_and_an_early_end_stops_the_plan() {
    let w = World::build().workers().start().await;
    let (t, ids) = live(&w, "TIKTOK", "Tt Silence", "100.00").await;
    let campaign = id_of(&ids, "campaign");
    for ago in 1..=3 {
        w.fake
            .set_day(&campaign, &day(ago), ("80.00", 1000, 20, "1", "USD"));
    }
    w.s.insights.sync(Some(t), None).await.expect("sync");
    w.fake.state.lock().unwrap().reports.days.clear();
    let out = w.s.insights.sync(Some(t), None).await.expect("sync");
    assert_eq!(out.tickets[0].status, "FAILED", "{out:?}");
    assert!(
        out.tickets[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("stored figures were kept"),
        "{out:?}"
    );
    let got = w.s.insights.insights(by_ticket(t)).await.expect("insights");
    assert_eq!(got.totals.spend, "240.00");

    // Ended today, four days into a ten-day schedule: nothing is planned after the end.
    w.s.changes
        .request(&me(), t, ChangeKind::End, None, "stop", None)
        .await
        .expect("end");
    w.wait_status(t, "ENDED").await;
    let p = w.s.insights.pacing(Some(t), None).await.expect("pacing");
    let tp = &p.tickets[0];
    assert_eq!(p.verdict.as_str(), "ENDED", "{p:?}");
    assert_eq!(tp.projected_end_spend.as_deref(), Some("240.00"), "{tp:?}");
    let total: f64 = tp
        .planned_total
        .as_deref()
        .unwrap_or("0")
        .parse()
        .expect("n");
    assert!((399.0..=401.0).contains(&total), "{tp:?}");
    w.finish().await;
}

/// A worker's sync and an assistant's sync_insights of the same ticket at the same moment
/// both succeed and count each day once.
#[tokio::test]
async fn two_syncs_of_one_ticket_at_once_both_succeed() {
    let w = World::build().workers().start().await;
    let (t, ids) = live(&w, "GADS", "Gads Twice", "100.00").await;
    let campaign = id_of(&ids, "campaign");
    // The schedule started four days ago: five days, today included.
    for ago in 0..5 {
        w.fake
            .set_day(&campaign, &day(ago), ("10.00", 100, 1, "1", "USD"));
    }
    for _ in 0..3 {
        let (a, b) = tokio::join!(
            w.s.insights.sync(Some(t), None),
            w.s.insights.sync(Some(t), None)
        );
        for out in [a.expect("first"), b.expect("second")] {
            assert_eq!(out.synced, 1, "{out:?}");
        }
    }
    let got = w.s.insights.insights(by_ticket(t)).await.expect("insights");
    assert_eq!(got.totals.spend, "50.00", "{got:?}");
    assert_eq!(got.groups_total, 5);
    w.finish().await;
}
