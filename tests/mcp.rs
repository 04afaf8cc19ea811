//! The MCP surface through a real MCP client (rmcp), over stdio and Streamable HTTP.

mod common;

use common::*;
use omnitraffick::auth::Role;
use serde_json::json;

const CONTRACT_TOOLS: &[&str] = &[
    "list_markets",
    "create_market",
    "update_market",
    "archive_market",
    "list_brands",
    "create_brand",
    "update_brand",
    "archive_brand",
    "list_channels",
    "create_channel",
    "update_channel",
    "archive_channel",
    "list_campaigns",
    "get_campaign",
    "create_campaign",
    "update_campaign",
    "list_tickets",
    "get_ticket",
    "create_ticket",
    "update_ticket",
    "preview_name",
    "validate_name",
    "rename_impact",
];

/// The whole governance flow a trafficker's assistant runs, with the mistakes it makes.
async fn governance_flow(client: &Client) -> i64 {
    let tools = client.list_all_tools().await.expect("tools/list");
    let names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    for t in CONTRACT_TOOLS {
        assert!(
            names.iter().any(|n| n == t),
            "tool {t} missing from {names:?}"
        );
    }
    let list = tools
        .iter()
        .find(|t| t.name == "list_markets")
        .expect("list_markets");
    assert_eq!(
        list.annotations.as_ref().and_then(|a| a.read_only_hint),
        Some(true)
    );
    assert!(
        list.output_schema.is_some(),
        "tools return structured output"
    );
    let create = tools
        .iter()
        .find(|t| t.name == "create_ticket")
        .expect("create_ticket");
    assert_eq!(
        create.annotations.as_ref().and_then(|a| a.read_only_hint),
        Some(false)
    );

    let campaign_id = seed_example(client).await;

    let preview = call(
        client,
        "preview_name",
        json!({"campaign_id": campaign_id, "channel_code": "META"}),
    )
    .await
    .ok();
    assert_eq!(preview["name"], "DIS_US_META_2026_MoanaLaunch");

    let ticket = call(
        client,
        "create_ticket",
        json!({"campaign_id": campaign_id, "channel_code": "META", "payload_config": {"objective": "TRAFFIC"}}),
    )
    .await
    .ok();
    assert_eq!(ticket["platform_name"], "DIS_US_META_2026_MoanaLaunch");
    assert_eq!(ticket["status"], "DRAFT");
    assert_eq!(ticket["payload_config"]["objective"], "TRAFFIC");
    let ticket_id = ticket["id"].as_i64().expect("ticket id");

    // Duplicate code.
    let e = call(
        client,
        "create_market",
        json!({"code": "US", "country": "US", "region": "NA"}),
    )
    .await
    .err();
    assert_eq!(e["code"], "CONFLICT");
    assert_eq!(e["field"], "code");
    assert!(e["message"].as_str().unwrap().contains("already exists"));

    // Unknown references.
    let e = call(
        client,
        "create_campaign",
        json!({"brand_code": "NOPE", "market_code": "US", "name": "X", "year": 2026}),
    )
    .await
    .err();
    assert_eq!(e["code"], "NOT_FOUND");
    assert_eq!(e["field"], "brand_code");
    assert!(
        e["message"].as_str().unwrap().contains("list_brands"),
        "{e}"
    );
    let e = call(
        client,
        "create_ticket",
        json!({"campaign_id": 999_999, "channel_code": "META"}),
    )
    .await
    .err();
    assert_eq!(e["field"], "campaign_id");
    let e = call(
        client,
        "create_ticket",
        json!({"campaign_id": campaign_id, "channel_code": "SNAP"}),
    )
    .await
    .err();
    assert_eq!(e["field"], "channel_code");

    // Wrong types and missing fields are tool errors naming the field.
    let e = call(
        client,
        "create_campaign",
        json!({"brand_code": "DIS", "market_code": "US", "name": "X", "year": "twenty"}),
    )
    .await
    .err();
    assert_eq!(e["code"], "VALIDATION");
    assert_eq!(e["field"], "year");
    let e = call(
        client,
        "create_market",
        json!({"code": "GB", "country": "GB"}),
    )
    .await
    .err();
    assert_eq!(e["field"], "region");
    let e = call(
        client,
        "create_market",
        json!({"code": "u-k", "country": "GB", "region": "EMEA"}),
    )
    .await
    .err();
    assert_eq!(e["field"], "code");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("did you mean \\\"UK\\\"")
            || e["message"]
                .as_str()
                .unwrap()
                .contains("did you mean \"UK\""),
        "{e}"
    );
    let e = call(
        client,
        "create_brand",
        json!({"name": "Acme", "code": "ACME", "family_friendly": false, "currency": "DOLLARS"}),
    )
    .await
    .err();
    assert_eq!(e["field"], "currency");

    // Nothing half-written: the failed calls left one market, one brand, one campaign.
    let markets = call(client, "list_markets", json!({})).await.ok();
    assert_eq!(markets["markets"].as_array().unwrap().len(), 1);
    let campaigns = call(client, "list_campaigns", json!({})).await.ok();
    assert_eq!(campaigns["campaigns"].as_array().unwrap().len(), 1);

    // Taxonomy validation names the segment and suggests the fix.
    let v = call(
        client,
        "validate_name",
        json!({"name": "DIS_us_META_26_moana launch"}),
    )
    .await
    .ok();
    assert_eq!(v["valid"], false);
    assert_eq!(v["issues"][0]["segment"], "Market");
    assert_eq!(v["suggested_name"], "DIS_US_META_2026_MoanaLaunch");
    let v = call(
        client,
        "validate_name",
        json!({"name": "DIS_US_META_2026_MoanaLaunch"}),
    )
    .await
    .ok();
    assert_eq!(v["valid"], true);

    // Rename impact: the draft ticket would be renamed; nothing changes yet.
    let impact = call(
        client,
        "rename_impact",
        json!({"segment": "brand", "code": "DIS", "new_code": "DSNY"}),
    )
    .await
    .ok();
    assert_eq!(
        impact["renamed_tickets"][0]["new_name"],
        "DSNY_US_META_2026_MoanaLaunch"
    );
    let still = call(client, "get_ticket", json!({"ticket_id": ticket_id}))
        .await
        .ok();
    assert_eq!(still["platform_name"], "DIS_US_META_2026_MoanaLaunch");

    // State machine: statuses set by QA/deploy cannot be forced; illegal moves are refused.
    let e = call(
        client,
        "update_ticket",
        json!({"ticket_id": ticket_id, "status": "READY_FOR_API"}),
    )
    .await
    .err();
    assert_eq!(e["field"], "status");
    assert!(e["message"].as_str().unwrap().contains("run_qa"));
    let e = call(
        client,
        "update_ticket",
        json!({"ticket_id": ticket_id, "status": "LIVE"}),
    )
    .await
    .err();
    assert_eq!(e["field"], "status");

    // A wrong expected_version is refused.
    let e = call(
        client,
        "update_ticket",
        json!({"ticket_id": ticket_id, "payload_config": {"objective": "SALES"}, "expected_version": 99}),
    )
    .await
    .err();
    assert_eq!(e["code"], "CONFLICT");

    let edited = call(
        client,
        "update_ticket",
        json!({"ticket_id": ticket_id, "payload_config": {"objective": "SALES"}, "expected_version": 1, "reason": "switch objective"}),
    )
    .await
    .ok();
    assert_eq!(edited["payload_config"]["objective"], "SALES");
    assert_eq!(edited["version"], 2);
    let events: Vec<&str> = edited["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["CREATED", "EDITED"]);
    ticket_id
}

#[tokio::test]
async fn stdio_full_flow_and_restart() {
    let db = fresh_db().await;
    let client = connect_stdio(&db).await;
    let info = client.peer_info().expect("initialized");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("omnitraffick")
    );
    let ticket_id = governance_flow(&client).await;

    let cancelled = call(
        &client,
        "update_ticket",
        json!({"ticket_id": ticket_id, "status": "CANCELLED"}),
    )
    .await
    .ok();
    assert_eq!(cancelled["status"], "CANCELLED");
    let e = call(
        &client,
        "update_ticket",
        json!({"ticket_id": ticket_id, "status": "DRAFT"}),
    )
    .await
    .err();
    assert_eq!(e["code"], "INVALID_TRANSITION");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("CANCELLED is final")
    );
    client.cancel().await.expect("close");

    // A new server process on the same database sees everything.
    let client = connect_stdio(&db).await;
    let t = call(&client, "get_ticket", json!({"ticket_id": ticket_id}))
        .await
        .ok();
    assert_eq!(t["platform_name"], "DIS_US_META_2026_MoanaLaunch");
    assert_eq!(t["status"], "CANCELLED");
    let events: Vec<&str> = t["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["CREATED", "EDITED", "TRANSITION"]);
    assert_eq!(t["history"][0]["actor"], "local-operator");
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn http_full_flow_roles_and_restart() {
    let db = fresh_db().await;
    let server = TestServer::start(&db, false).await;
    let admin = key(&server.db, Role::Admin).await;
    let viewer = key(&server.db, Role::Viewer).await;
    let trafficker = key(&server.db, Role::Trafficker).await;

    let client = connect_http(&server, Some(&admin)).await;
    let ticket_id = governance_flow(&client).await;
    client.cancel().await.expect("close");

    // A viewer reads but cannot write.
    let client = connect_http(&server, Some(&viewer)).await;
    let t = call(&client, "get_ticket", json!({"ticket_id": ticket_id}))
        .await
        .ok();
    assert_eq!(t["history"][0]["actor"], "test-admin");
    let e = call(
        &client,
        "create_market",
        json!({"code": "FR", "country": "FR", "region": "EMEA"}),
    )
    .await
    .err();
    assert_eq!(e["code"], "FORBIDDEN");
    let e = call(
        &client,
        "update_ticket",
        json!({"ticket_id": ticket_id, "status": "CANCELLED"}),
    )
    .await
    .err();
    assert_eq!(e["code"], "FORBIDDEN");
    client.cancel().await.expect("close");

    // A trafficker edits tickets but not governance data.
    let client = connect_http(&server, Some(&trafficker)).await;
    let e = call(
        &client,
        "create_brand",
        json!({"name": "Acme", "code": "ACME", "family_friendly": false, "currency": "USD"}),
    )
    .await
    .err();
    assert_eq!(e["code"], "FORBIDDEN");
    call(
        &client,
        "update_ticket",
        json!({"ticket_id": ticket_id, "status": "CANCELLED"}),
    )
    .await
    .ok();
    client.cancel().await.expect("close");
    server.stop().await;

    // Restart on the same database: data and keys are still there.
    let server = TestServer::start(&db, false).await;
    let client = connect_http(&server, Some(&viewer)).await;
    let t = call(&client, "get_ticket", json!({"ticket_id": ticket_id}))
        .await
        .ok();
    assert_eq!(t["status"], "CANCELLED");
    assert_eq!(t["platform_name"], "DIS_US_META_2026_MoanaLaunch");
    client.cancel().await.expect("close");
    server.stop().await;
}

fn initialize_body() -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}})
}

#[tokio::test]
async fn http_refuses_missing_keys_bad_hosts_bad_json_and_big_bodies() {
    let db = fresh_db().await;
    let server = TestServer::start_with(&db, |o| o.max_body_bytes = 64 * 1024).await;
    let admin = key(&server.db, Role::Admin).await;
    let http = reqwest::Client::new();
    let post = |k: Option<&str>| {
        let mut r = http
            .post(server.url("/mcp"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if let Some(k) = k {
            r = r.bearer_auth(k);
        }
        r
    };

    let r = post(None).json(&initialize_body()).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("keys create")
    );
    let r = post(Some("otk_not-a-real-key"))
        .json(&initialize_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // DNS rebinding: a foreign Host or Origin is refused before anything else.
    let r = post(Some(&admin))
        .header("host", "evil.example")
        .json(&initialize_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = post(Some(&admin))
        .header("origin", "https://evil.example")
        .json(&initialize_body())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Malformed JSON gets a JSON-RPC parse error.
    let r = post(Some(&admin))
        .body("{\"jsonrpc\": \"2.0\", \"id\": 1,")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32700);

    // Oversized bodies get 413.
    let big = json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "x".repeat(100 * 1024)}});
    let r = post(Some(&admin)).json(&big).send().await.unwrap();
    assert_eq!(r.status(), 413);

    // The server is still healthy and a real client still works.
    let health = http.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let client = connect_http(&server, Some(&admin)).await;
    call(&client, "list_markets", json!({})).await.ok();
    client.cancel().await.expect("close");
    server.stop().await;
}

#[tokio::test]
async fn no_auth_only_on_loopback() {
    let mut opts = omnitraffick::http::HttpOptions::loopback("0.0.0.0:8080".parse().unwrap());
    opts.no_auth = true;
    let e = opts.check().unwrap_err().to_string();
    assert!(e.contains("loopback"), "{e}");
    opts.bind = "127.0.0.1:8080".parse().unwrap();
    opts.check().unwrap();

    let db = fresh_db().await;
    let server = TestServer::start(&db, true).await;
    let client = connect_http(&server, None).await;
    let m = call(
        &client,
        "create_market",
        json!({"code": "US", "country": "us", "region": "NA"}),
    )
    .await
    .ok();
    assert_eq!(m["country"], "US");
    client.cancel().await.expect("close");
    server.stop().await;
}

#[tokio::test]
async fn resources_prompts_and_logging() {
    #[allow(deprecated)]
    use rmcp::model::LoggingLevel;
    #[allow(deprecated)]
    use rmcp::model::SetLevelRequestParams;
    use rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams};

    let db = fresh_db().await;
    let client = connect_stdio(&db).await;
    let campaign_id = seed_example(&client).await;
    let ticket = call(
        &client,
        "create_ticket",
        json!({"campaign_id": campaign_id, "channel_code": "META"}),
    )
    .await
    .ok();
    let id = ticket["id"].as_i64().unwrap();

    let listed = client.list_all_resources().await.expect("resources/list");
    assert!(
        listed
            .iter()
            .any(|r| r.uri == "omnitraffick://taxonomy/convention")
    );
    assert!(
        listed
            .iter()
            .any(|r| r.uri == format!("omnitraffick://tickets/{id}"))
    );
    let templates = client
        .list_all_resource_templates()
        .await
        .expect("templates");
    assert!(
        templates
            .iter()
            .any(|t| t.uri_template == "omnitraffick://tickets/{id}")
    );

    let read = client
        .read_resource(ReadResourceRequestParams::new(format!(
            "omnitraffick://tickets/{id}"
        )))
        .await
        .expect("read ticket");
    let text = match &read.contents[0] {
        rmcp::model::ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("unexpected {other:?}"),
    };
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["platform_name"], "DIS_US_META_2026_MoanaLaunch");
    assert_eq!(v["history"][0]["event"], "CREATED");

    let conv = client
        .read_resource(ReadResourceRequestParams::new(
            "omnitraffick://taxonomy/convention",
        ))
        .await
        .expect("read convention");
    let text = match &conv.contents[0] {
        rmcp::model::ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("unexpected {other:?}"),
    };
    assert!(text.contains("[BrandCode]_[Market]_[Channel]_[Year]_[CampaignName]"));
    assert!(
        client
            .read_resource(ReadResourceRequestParams::new(
                "omnitraffick://tickets/424242"
            ))
            .await
            .is_err()
    );

    let prompts = client.list_all_prompts().await.expect("prompts/list");
    let names: Vec<_> = prompts.iter().map(|p| p.name.as_str()).collect();
    assert!(
        names.contains(&"traffic_campaign") && names.contains(&"explain_ticket"),
        "{names:?}"
    );
    let mut args = serde_json::Map::new();
    args.insert("ticket_id".into(), json!(id.to_string()));
    let p = client
        .get_prompt(GetPromptRequestParams::new("explain_ticket").with_arguments(args))
        .await
        .expect("explain_ticket");
    let text = format!("{:?}", p.messages);
    assert!(
        text.contains("DIS_US_META_2026_MoanaLaunch") && text.contains("run_qa"),
        "{text}"
    );

    #[allow(deprecated)]
    client
        .set_level(SetLevelRequestParams::new(LoggingLevel::Info))
        .await
        .expect("logging/setLevel");
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn pixel_snippet_shares_one_event_id() {
    let db = fresh_db().await;
    let client = connect_stdio(&db).await;
    seed_example(&client).await;
    let e = call(
        &client,
        "pixel_snippet",
        json!({"brand_code": "DIS", "event_name": "Purchase"}),
    )
    .await
    .err();
    assert_eq!(e["field"], "brand_code");
    call(&client, "update_brand", json!({"code": "DIS", "meta_pixel_id": "1234567890123456", "tiktok_pixel_code": "CABCDEF1234567890"})).await.ok();
    let s = call(
        &client,
        "pixel_snippet",
        json!({"brand_code": "DIS", "event_name": "Purchase"}),
    )
    .await
    .ok();
    let meta = s["meta"].as_str().unwrap();
    assert!(meta.contains("fbq('init', \"1234567890123456\")"), "{meta}");
    assert!(
        meta.contains("fbq('track', \"Purchase\", {}, {eventID: eventId})"),
        "{meta}"
    );
    let tt = s["tiktok"].as_str().unwrap();
    assert!(
        tt.contains("ttq.load(\"CABCDEF1234567890\")") && tt.contains("{event_id: eventId}"),
        "{tt}"
    );
    let e = call(
        &client,
        "pixel_snippet",
        json!({"brand_code": "DIS", "event_name": "Buy<script>"}),
    )
    .await
    .err();
    assert_eq!(e["field"], "event_name");
    client.cancel().await.ok();
}

/// MCP clients (and the conformance suite) reject boolean schemas such as `true` where a
/// property schema is expected; an undocumented `serde_json::Value` field produces one.
#[tokio::test]
async fn every_tool_schema_property_is_an_object_schema() {
    let db = fresh_db().await;
    let client = connect_stdio(&db).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    assert!(tools.len() >= 30, "{} tools", tools.len());
    for t in &tools {
        for (kind, schema) in [
            ("input", Some(t.input_schema.clone())),
            ("output", t.output_schema.clone()),
        ] {
            let Some(schema) = schema else { continue };
            if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
                for (name, p) in props {
                    assert!(
                        p.is_object(),
                        "{} {kind} schema: property {name} is {p}",
                        t.name
                    );
                }
            }
        }
    }
    client.cancel().await.ok();
}
