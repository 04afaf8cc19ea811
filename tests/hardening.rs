//! Regression tests for the hardening issue: bounded work per request, governed fields that
//! stay governed, brand scopes that hold for every role, and server file reads only for the
//! operator at the terminal.

mod common;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::rest::ok200;
use common::*;
use omnitraffick::auth::{self, Principal, Role};
use omnitraffick::startup::AppServices;

fn spec() -> Value {
    json!({
        "objective": "TRAFFIC",
        "budget": {"amount": "50.00", "period": "DAILY"},
        "schedule": {"start_time": "2027-03-01T00:00:00-05:00"},
        "targeting": {"countries": ["US"], "age_min": 18},
        "creative": {"headline": "Moana", "body": "Sail with Moana.", "link_url": "https://example.com/m"},
        "overrides": {
            "meta": {"creative": {"object_story_spec": {"page_id": "1122334455"}}},
            "tiktok": {"ad": {"creatives": [{"video_id": "v10033g50000abc"}]}}
        }
    })
}

/// A complete responsive search ad (Google needs 3+ headlines and 2+ descriptions).
fn rsa() -> Value {
    json!({"ad": {"responsiveSearchAd": {
        "headlines": [{"text": "A"}, {"text": "B"}, {"text": "C"}],
        "descriptions": [{"text": "D"}, {"text": "E"}]
    }}})
}

async fn campaign(s: &AppServices, brand: &str, name: &str) -> i64 {
    s.governance
        .create_campaign(from_json(
            json!({"brand_code": brand, "market_code": "US", "name": name, "year": 2027}),
        ))
        .await
        .expect("campaign")
        .id
}

async fn ticket(s: &AppServices, campaign: i64, channel: &str, payload: Value) -> i64 {
    s.governance
        .create_ticket(
            &Principal::local_operator(),
            from_json(json!({"campaign_id": campaign, "channel_code": channel, "payload_config": payload})),
        )
        .await
        .expect("ticket")
        .id
}

fn rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The attack from the issue: TikTok creative 0 padded to 20 KB plus thousands of empty items,
/// each of which used to become a full copy of creative 0.
fn hostile_payload(total_bytes: usize) -> Value {
    let mut p = spec();
    let pad = "x".repeat(20_000);
    let empties = (total_bytes.saturating_sub(20_100)) / 3;
    let mut creatives = vec![json!({"video_id": "v1", "ad_text": pad})];
    creatives.extend(std::iter::repeat_n(json!({}), empties));
    p["overrides"]["tiktok"]["ad"]["creatives"] = Value::Array(creatives);
    p
}

#[tokio::test]
async fn hostile_ticket_payloads_are_refused_quickly_with_flat_memory() {
    let tdb = fresh_db().await;
    let (db, s) = open(&tdb).await;
    seed_services(&s, &[TIKTOK, META]).await;
    let c = campaign(&s, "DIS", "Hostile").await;
    let op = Principal::local_operator();
    let rss_before = rss_kb();
    let started = Instant::now();

    // 200 KB: over the size limit, refused on create, nothing stored.
    let e = s
        .governance
        .create_ticket(
            &op,
            from_json(json!({"campaign_id": c, "channel_code": "TIKTOK", "payload_config": hostile_payload(200_000)})),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "VALIDATION");
    assert_eq!(e.field(), Some("payload_config"));
    assert!(e.to_string().contains("65536"), "{e}");
    let listed = s
        .governance
        .list_tickets(&op, Default::default())
        .await
        .unwrap();
    assert!(listed.tickets.is_empty());

    // 59 KB: under the size limit, but more creatives than a TikTok ad group holds.
    let e = s
        .governance
        .create_ticket(
            &op,
            from_json(json!({"campaign_id": c, "channel_code": "TIKTOK", "payload_config": hostile_payload(59_000)})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.field(),
        Some("payload_config.overrides.tiktok.ad.creatives")
    );
    assert!(e.to_string().contains("at most 20"), "{e}");

    // The same payload stored by an older version (bypassing the write check) is refused by
    // QA and preview without translating it.
    let t = ticket(&s, c, "TIKTOK", spec()).await;
    sqlx::query("UPDATE tickets SET payload_config = $1 WHERE id = $2")
        .bind(hostile_payload(59_000).to_string())
        .bind(t)
        .execute(db.pool())
        .await
        .unwrap();
    let qa =
        s.qa.run_qa(&op, from_json(json!({"ticket_id": t})))
            .await
            .unwrap();
    assert_eq!(qa.status.as_str(), "QA_FAILED");
    assert!(
        qa.report
            .results
            .iter()
            .any(|r| r.path.as_deref() == Some("payload_config.overrides.tiktok.ad.creatives")),
        "{:?}",
        qa.report.results
    );
    assert!(s.qa.preview_payloads(t).await.is_err());

    // Twenty creatives off a 20 KB creative 0 (the most the cap allows) translate in linear
    // work: each extra starts from the generated creative, not a copy of the padded one.
    let mut p = spec();
    let mut creatives = vec![json!({"video_id": "v1", "ad_text": "y".repeat(20_000)})];
    creatives.extend((2..=20).map(|i| json!({"video_id": format!("v{i}")})));
    p["overrides"]["tiktok"]["ad"]["creatives"] = Value::Array(creatives);
    let t = ticket(&s, c, "TIKTOK", p).await;
    let payloads = s.qa.preview_payloads(t).await.unwrap();
    let ad = payloads.body("ad").unwrap();
    assert_eq!(ad["creatives"].as_array().unwrap().len(), 20);
    assert_eq!(ad["creatives"][1]["ad_text"], "Sail with Moana.");

    // Generous bounds: the attack took seconds and gigabytes.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    if let (Some(a), Some(b)) = (rss_before, rss_kb()) {
        assert!(
            b.saturating_sub(a) < 200 * 1024,
            "RSS grew {a} kB -> {b} kB"
        );
    }
}

#[tokio::test]
async fn payload_depth_and_list_caps_name_the_field() {
    let tdb = fresh_db().await;
    let (_db, s) = open(&tdb).await;
    seed_services(&s, &[META]).await;
    let c = campaign(&s, "DIS", "Caps").await;
    let op = Principal::local_operator();
    let mut deep = json!("leaf");
    for _ in 0..20 {
        deep = json!({ "k": deep });
    }
    let mut p = spec();
    p["overrides"]["meta"]["adset"] = json!({ "x": deep });
    let e = s
        .governance
        .create_ticket(
            &op,
            from_json(json!({"campaign_id": c, "channel_code": "META", "payload_config": p})),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "VALIDATION");
    assert!(
        e.field()
            .is_some_and(|f| f.starts_with("payload_config.overrides.meta.adset.x.k")),
        "{e}"
    );
    assert!(e.to_string().contains("16 levels"), "{e}");

    let t = ticket(&s, c, "META", spec()).await;
    let mut p = spec();
    p["targeting"]["countries"] = json!(vec!["US"; 300]);
    let e = s
        .governance
        .update_ticket(&op, from_json(json!({"ticket_id": t, "payload_config": p})))
        .await
        .unwrap_err();
    assert_eq!(e.field(), Some("payload_config.targeting.countries"));
    assert!(e.to_string().contains("at most 250"), "{e}");
    // Nothing half-written: the ticket keeps its payload and version.
    let view = s.governance.get_ticket(t).await.unwrap();
    assert_eq!(view.ticket.version, 1);
    assert_eq!(
        view.ticket.payload_config["targeting"]["countries"],
        json!(["US"])
    );
}

#[tokio::test]
async fn governed_fields_cannot_be_overridden() {
    let tdb = fresh_db().await;
    let (_db, s) = open(&tdb).await;
    seed_services(&s, &[META, TIKTOK, GADS]).await;
    let c = campaign(&s, "DIS", "Governed").await;
    let op = Principal::local_operator();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "TIKTOK",
            json!({"tiktok": {"adgroup": {"advertiser_id": "999999999"}, "ad": {"creatives": [{"video_id": "v1"}]}}}),
            "payload_config.overrides.tiktok.adgroup.advertiser_id",
        ),
        (
            "TIKTOK",
            json!({"tiktok": {"campaign": {"campaign_name": "NOT_A_TAXONOMY_NAME"}, "ad": {"creatives": [{"video_id": "v1"}]}}}),
            "payload_config.overrides.tiktok.campaign.campaign_name",
        ),
        (
            "TIKTOK",
            json!({"tiktok": {"ad": {"creatives": [{"video_id": "v1", "ad_name": "Evil"}]}}}),
            "payload_config.overrides.tiktok.ad.creatives[0].ad_name",
        ),
        (
            "TIKTOK",
            json!({"tiktok": {"adgroup": {"operation_status": "ENABLE"}, "ad": {"creatives": [{"video_id": "v1"}]}}}),
            "payload_config.overrides.tiktok.adgroup.operation_status",
        ),
        (
            "META",
            json!({"meta": {"adset": {"name": "Evil"}, "creative": {"object_story_spec": {"page_id": "1"}}}}),
            "payload_config.overrides.meta.adset.name",
        ),
        (
            "META",
            json!({"meta": {"campaign": {"status": "ACTIVE"}, "creative": {"object_story_spec": {"page_id": "1"}}}}),
            "payload_config.overrides.meta.campaign.status",
        ),
        (
            "META",
            json!({"meta": {"adset": {"promoted_object": {"pixel_id": "666"}}, "creative": {"object_story_spec": {"page_id": "1"}}}}),
            "payload_config.overrides.meta.adset.promoted_object.pixel_id",
        ),
        (
            "GADS",
            json!({"google_ads": {"campaign": {"name": "Evil"}, "ad_group_ad": rsa()}}),
            "payload_config.overrides.google_ads.campaign.name",
        ),
    ];
    for (channel, overrides, path) in cases {
        let mut p = spec();
        p["overrides"] = overrides;
        let t = ticket(&s, c, channel, p).await;
        let qa =
            s.qa.run_qa(&op, from_json(json!({"ticket_id": t})))
                .await
                .unwrap();
        assert_eq!(qa.status.as_str(), "QA_FAILED", "{path}");
        let hit = qa
            .report
            .results
            .iter()
            .find(|r| r.path.as_deref() == Some(path))
            .unwrap_or_else(|| panic!("no finding at {path}: {:?}", qa.report.results));
        assert!(hit.message.contains("governed"), "{}", hit.message);
        let e = s.qa.preview_payloads(t).await.unwrap_err();
        assert_eq!(e.field(), Some(path));
    }

    // The taxonomy name with a short suffix (the duplicate-name fix) is still accepted.
    let mut p = spec();
    p["overrides"] = json!({"google_ads": {"campaign": {"name": "DIS_US_GADS_2027_Governed_T9"}, "ad_group_ad": rsa()}});
    let t = ticket(&s, c, "GADS", p).await;
    let payloads = s.qa.preview_payloads(t).await.unwrap();
    assert_eq!(
        payloads.body("campaign").unwrap()["operations"][0]["create"]["name"],
        "DIS_US_GADS_2027_Governed_T9"
    );
}

/// DIS and NWS, each with a campaign and a META ticket; returns (DIS ticket, NWS ticket,
/// NWS campaign).
async fn two_brands(s: &AppServices) -> (i64, i64, i64) {
    seed_services(s, &[META]).await;
    s.governance
        .create_brand(from_json(json!(
            {"name": "Northwind", "code": "NWS", "family_friendly": false, "currency": "USD"}
        )))
        .await
        .unwrap();
    let dis = campaign(s, "DIS", "Moana").await;
    let nws = campaign(s, "NWS", "Winter").await;
    let t_dis = ticket(s, dis, "META", spec()).await;
    let t_nws = ticket(s, nws, "META", spec()).await;
    (t_dis, t_nws, nws)
}

#[tokio::test]
async fn brand_scoped_keys_see_and_change_only_their_brands() {
    let tdb = fresh_db().await;
    let (db, s) = open(&tdb).await;
    let (t_dis, t_nws, nws_campaign) = two_brands(&s).await;
    let server = TestServer::start(&tdb, false).await;
    let (trafficker, _) =
        auth::create_scoped_key(&db, "dis-agent", Role::Trafficker, Some(vec!["DIS".into()]))
            .await
            .unwrap();
    let client = connect_http(&server, Some(&trafficker)).await;

    // Creating for another brand is refused, naming the scope.
    let e = call(
        &client,
        "create_campaign",
        json!({"brand_code": "NWS", "market_code": "US", "name": "Sneaky", "year": 2027}),
    )
    .await
    .err();
    assert_eq!(e["code"], "FORBIDDEN");
    assert!(e["message"].as_str().unwrap().contains("DIS"), "{e}");
    let e = call(
        &client,
        "create_ticket",
        json!({"campaign_id": nws_campaign, "channel_code": "META", "payload_config": spec()}),
    )
    .await
    .err();
    assert_eq!(e["code"], "FORBIDDEN");

    // Lists hold only the key's brands.
    let campaigns = call(&client, "list_campaigns", json!({})).await.ok();
    let brands: Vec<&str> = campaigns["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["brand_code"].as_str().unwrap())
        .collect();
    assert_eq!(brands, vec!["DIS"]);
    let tickets = call(&client, "list_tickets", json!({})).await.ok();
    let ids: Vec<i64> = tickets["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![t_dis]);

    // Another brand's ticket cannot be read, changed, QA'd, previewed or deployed.
    for (tool, args) in [
        ("get_ticket", json!({"ticket_id": t_nws})),
        (
            "update_ticket",
            json!({"ticket_id": t_nws, "status": "CANCELLED"}),
        ),
        ("run_qa", json!({"ticket_id": t_nws})),
        ("preview_payloads", json!({"ticket_id": t_nws})),
        ("deploy_ticket", json!({"ticket_id": t_nws})),
        ("get_deploy_status", json!({"ticket_id": t_nws})),
        (
            "review_ticket_against_guidelines",
            json!({"ticket_id": t_nws}),
        ),
        (
            "ask_copilot",
            json!({"brand_code": "NWS", "question": "age?"}),
        ),
        ("get_campaign", json!({"campaign_id": nws_campaign})),
        (
            "rename_impact",
            json!({"segment": "brand", "code": "NWS", "new_code": "NWX"}),
        ),
    ] {
        let e = call(&client, tool, args).await.err();
        assert_eq!(e["code"], "FORBIDDEN", "{tool}: {e}");
    }
    // Its own brand works.
    call(&client, "get_ticket", json!({"ticket_id": t_dis}))
        .await
        .ok();
    call(&client, "run_qa", json!({"ticket_id": t_dis}))
        .await
        .ok();
    client.cancel().await.ok();

    // The same over REST, for a scoped ops key.
    let (ops, _) = auth::create_scoped_key(&db, "dis-ops", Role::Ops, Some(vec!["DIS".into()]))
        .await
        .unwrap();
    let ops = server.rest(&ops);
    assert_eq!(ops.ticket(t_nws).await.0, 403);
    ok200(ops.ticket(t_dis).await);
    let (status, body) = ops
        .copilot_chat(
            &json!({"brand_code": "NWS", "messages": [{"role": "user", "content": "age?"}]}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    ok200(ops.fixes("").await);

    // A scoped admin may not change what every brand shares.
    let (admin, _) =
        auth::create_scoped_key(&db, "dis-admin", Role::Admin, Some(vec!["DIS".into()]))
            .await
            .unwrap();
    let client = connect_http(&server, Some(&admin)).await;
    let e = call(
        &client,
        "create_market",
        json!({"code": "CA", "country": "CA", "region": "NA"}),
    )
    .await
    .err();
    assert_eq!(e["code"], "FORBIDDEN");
    let e = call(&client, "update_brand", json!({"code": "NWS", "name": "X"}))
        .await
        .err();
    assert_eq!(e["code"], "FORBIDDEN");
    call(
        &client,
        "update_brand",
        json!({"code": "DIS", "name": "Disney+"}),
    )
    .await
    .ok();
    client.cancel().await.ok();
    server.stop().await;
}

#[tokio::test]
async fn unreadable_scopes_disable_the_key_and_reserved_names_are_refused() {
    let tdb = fresh_db().await;
    let (db, s) = open(&tdb).await;
    seed_services(&s, &[META]).await;
    let server = TestServer::start(&tdb, false).await;
    let (k, id) = auth::create_scoped_key(&db, "shop", Role::Trafficker, Some(vec!["DIS".into()]))
        .await
        .unwrap();
    // keys list shows the scope.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_omnitraffick"))
        .args(["keys", "list"])
        .env("DATABASE_URL", &tdb.url)
        .env("OMNITRAFFICK_LOG", "error")
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("brands DIS"), "{listing}");

    sqlx::query("UPDATE api_keys SET brand_scope = $1 WHERE id = $2")
        .bind("not json")
        .bind(id)
        .execute(db.pool())
        .await
        .unwrap();
    let (status, body) = server.rest(&k).ticket(1).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("brand scope"),
        "{body}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_omnitraffick"))
        .args(["keys", "list"])
        .env("DATABASE_URL", &tdb.url)
        .env("OMNITRAFFICK_LOG", "error")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("UNREADABLE SCOPE"));

    for name in ["local-operator", "Local-Operator", "auto-heal"] {
        let e = auth::create_key(&db, name, Role::Admin).await.unwrap_err();
        assert_eq!(e.field(), Some("name"), "{name}");
    }
    server.stop().await;
}

#[tokio::test]
async fn server_files_are_read_only_over_stdio_and_within_the_size_limit() {
    let tdb = fresh_db().await;
    let (db, s) = open(&tdb).await;
    seed_services(&s, &[META]).await;

    // HTTP, even without auth on loopback and even for an admin: no server paths.
    let server = TestServer::start(&tdb, true).await;
    let client = connect_http(&server, None).await;
    for path in ["/etc/passwd", "/proc/self/environ", "/does/not/exist.pdf"] {
        let e = call(
            &client,
            "ingest_guideline",
            json!({"brand_code": "DIS", "path": path}),
        )
        .await
        .err();
        assert_eq!(e["code"], "FORBIDDEN", "{path}: {e}");
        // The same answer whether or not the file exists: no existence oracle.
        assert!(!e["message"].as_str().unwrap().contains("No such file"));
    }
    client.cancel().await.ok();
    server.stop().await;
    db.close().await;

    // stdio: the operator may, but a device or an oversized file is refused before reading.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.pdf");
    std::fs::write(&big, vec![b'%'; 4096]).unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_omnitraffick"));
    cmd.args(["serve", "--stdio"])
        .env("DATABASE_URL", &tdb.url)
        .env("OMNITRAFFICK_MAX_PDF_BYTES", "1024")
        .env("OMNITRAFFICK_LOG", "warn");
    let (transport, _) = rmcp::transport::TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use rmcp::ServiceExt;
    let stdio = rmcp::model::ClientConfig::new(
        rmcp::model::ClientCapabilities::default(),
        rmcp::model::Implementation::new("hardening-tests", "0.1.0"),
    )
    .serve(transport)
    .await
    .unwrap();
    let started = Instant::now();
    let e = call(
        &stdio,
        "ingest_guideline",
        json!({"brand_code": "DIS", "path": "/dev/zero"}),
    )
    .await
    .err();
    assert_eq!(e["field"], "path");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("not a regular file"),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let e = call(
        &stdio,
        "ingest_guideline",
        json!({"brand_code": "DIS", "path": big.to_string_lossy()}),
    )
    .await
    .err();
    assert!(
        e["message"].as_str().unwrap().contains("1024-byte limit"),
        "{e}"
    );
    stdio.cancel().await.ok();
}

#[tokio::test]
async fn copilot_chat_is_for_every_role_but_tracker() {
    let tdb = fresh_db().await;
    let (db, s) = open(&tdb).await;
    seed_services(&s, &[META]).await;
    let server = TestServer::start(&tdb, false).await;
    let body =
        json!({"brand_code": "DIS", "messages": [{"role": "user", "content": "minimum age?"}]});
    for role in [
        Role::Viewer,
        Role::Planner,
        Role::Ops,
        Role::Trafficker,
        Role::Admin,
    ] {
        let (status, answer) = server.rest(&key(&db, role).await).copilot_chat(&body).await;
        assert_eq!(status, 200, "{role:?}: {answer}");
    }
    let (status, answer) = server
        .rest(&key(&db, Role::Tracker).await)
        .copilot_chat(&body)
        .await;
    assert_eq!(status, 403, "{answer}");
    server.stop().await;
}
