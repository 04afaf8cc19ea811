//! The MCP surface through a real MCP client (rmcp), over stdio and Streamable HTTP.

mod common;

use common::*;
use omnitraffick::auth::Role;
use reqwest::Method;
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

/// A raw Streamable HTTP POST to /mcp with `key`, in `session` when given.
fn mcp_post(
    http: &reqwest::Client,
    server: &TestServer,
    key: &str,
    session: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut r = http
        .post(server.url("/mcp"))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(s) = session {
        r = r
            .header("mcp-session-id", s)
            .header("mcp-protocol-version", "2025-06-18");
    }
    r
}

/// A JSON-RPC `tools/call` request body.
fn tools_call(id: i64, name: &str, arguments: serde_json::Value) -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": name, "arguments": arguments}})
}

/// Initialize a session the way an MCP client does; the session id, or the refusal.
async fn open_raw_session(
    http: &reqwest::Client,
    server: &TestServer,
    key: &str,
) -> Result<String, (u16, serde_json::Value)> {
    let r = mcp_post(http, server, key, None)
        .json(&initialize_body())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let sid = r
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = r.text().await.unwrap();
    let Some(sid) = sid.filter(|_| status == 200) else {
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        return Err((status, body));
    };
    let r = mcp_post(http, server, key, Some(&sid))
        .json(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    r.text().await.unwrap();
    Ok(sid)
}

/// Every tool name a caller sent used to become a Prometheus label, so /metrics grew without
/// bound; and /metrics, /healthz and /readyz answered any Host (DNS rebinding).
#[tokio::test]
async fn unknown_tool_names_share_one_metric_label_and_probes_check_the_host() {
    let db = fresh_db().await;
    let server = TestServer::start(&db, false).await;
    let admin = key(&server.db, Role::Admin).await;
    let client = connect_http(&server, Some(&admin)).await;
    let junk = format!("no_such_tool_{}", "z".repeat(20_000));
    for i in 0..5 {
        let name = format!("{junk}{i}");
        let r = client
            .call_tool(rmcp::model::CallToolRequestParams::new(name))
            .await;
        assert!(
            r.is_err() || r.as_ref().is_ok_and(|r| r.is_error == Some(true)),
            "an unknown tool cannot succeed"
        );
    }
    call(&client, "list_markets", json!({})).await.ok();
    client.cancel().await.expect("close");

    let rest = Rest::new(&server, None);
    let (status, metrics) = rest.metrics().await;
    assert_eq!(status, 200);
    assert!(
        !metrics.contains("no_such_tool_"),
        "an unknown tool name became a label"
    );
    assert!(metrics.contains("tool=\"unknown\""), "{metrics}");
    assert!(metrics.contains("tool=\"list_markets\""), "{metrics}");
    assert!(
        metrics.len() < 200_000,
        "/metrics is {} bytes",
        metrics.len()
    );

    for path in ["/metrics", "/healthz", "/readyz"] {
        let (status, body) = Rest::send(
            rest.request(Method::GET, path)
                .header("host", "evil.example"),
        )
        .await;
        assert_eq!(status, 403, "{path} with a foreign Host");
        assert_eq!(body["error"]["code"], "FORBIDDEN", "{path}: {body}");
        let (status, body) = rest.get(path).await;
        assert_eq!(status, 200, "{path} with the server's own Host: {body}");
    }
    server.stop().await;
}

/// Each MCP call over a keep-alive connection used to wait ~40 ms: the SSE response goes out
/// in several small writes, and without TCP_NODELAY Nagle holds the later ones until the
/// client's delayed ACK. The bound is generous; the stall it catches is a 40 ms floor.
#[tokio::test]
async fn sequential_keep_alive_calls_are_not_held_back_by_nagle() {
    let db = fresh_db().await;
    let server = TestServer::start(&db, false).await;
    let admin = key(&server.db, Role::Admin).await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    let sid = open_raw_session(&http, &server, &admin).await.unwrap();
    let mut took = Vec::new();
    for id in 0..21 {
        let started = std::time::Instant::now();
        let r = mcp_post(&http, &server, &admin, Some(&sid))
            .json(&tools_call(100 + id, "list_markets", json!({})))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body = r.text().await.unwrap();
        assert!(body.contains("\"result\""), "{body}");
        took.push(started.elapsed());
    }
    took.sort();
    let median = took[took.len() / 2];
    assert!(
        median < std::time::Duration::from_millis(25),
        "median of sequential keep-alive calls is {median:?} (all: {took:?}); a ~40 ms floor means TCP_NODELAY is off"
    );
    server.stop().await;
}

/// A body that is not a JSON-RPC message gets a JSON-RPC error, never plain text.
#[tokio::test]
async fn malformed_json_rpc_gets_a_json_rpc_error_body() {
    let db = fresh_db().await;
    let server = TestServer::start(&db, false).await;
    let admin = key(&server.db, Role::Admin).await;
    let http = reqwest::Client::new();
    let sid = open_raw_session(&http, &server, &admin).await.unwrap();
    let cases = [
        ("[]", -32600),
        ("{\"jsonrpc\": \"2.0\", \"id\": 1}", -32600),
        ("{\"jsonrpc\": \"2.0\", \"id\": 1, \"params\": {}}", -32600),
        ("42", -32600),
        ("not json", -32700),
        ("{\"jsonrpc\": \"2.0\", \"id\": 1,", -32700),
    ];
    for session in [None, Some(sid.as_str())] {
        for (body, code) in cases {
            let r = mcp_post(&http, &server, &admin, session)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 400, "{body:?} (session {session:?})");
            let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
            assert!(ct.starts_with("application/json"), "{body:?}: {ct}");
            let v: serde_json::Value = r.json().await.unwrap();
            assert_eq!(v["jsonrpc"], "2.0", "{body:?}: {v}");
            assert!(v["id"].is_null(), "{body:?}: {v}");
            assert_eq!(v["error"]["code"], code, "{body:?}: {v}");
            assert!(v["error"]["message"].is_string(), "{body:?}: {v}");
        }
    }
    server.stop().await;
}

/// Approve and reject check the caller's role before they look at the body, and a body they
/// cannot read gets the JSON error shape (it used to be axum's plain-text rejection).
#[tokio::test]
async fn fix_decisions_check_the_role_before_the_body() {
    let db = fresh_db().await;
    let server = TestServer::start(&db, false).await;
    let viewer = key(&server.db, Role::Viewer).await;
    let ops = key(&server.db, Role::Ops).await;
    let viewer = server.rest(&viewer);
    let ops = server.rest(&ops);
    for action in ["approve", "reject"] {
        let path = format!("/api/v1/fixes/1/{action}");
        // Unreadable JSON is 400, readable JSON of the wrong shape 422; both say "body".
        for (body, status) in [("", 400), ("{not json", 400), ("{\"reason\": 5}", 422)] {
            let (got, v) = viewer.post_raw(&path, body).await;
            assert_eq!(got, 403, "{action} {body:?} as a viewer");
            assert_eq!(v["error"]["code"], "FORBIDDEN", "{action} {body:?}: {v}");
            let (got, v) = ops.post_raw(&path, body).await;
            assert_eq!(got, status, "{action} {body:?} as ops");
            assert_eq!(v["error"]["code"], "VALIDATION", "{action} {body:?}: {v}");
            assert_eq!(v["error"]["field"], "body", "{action} {body:?}: {v}");
        }
    }
    server.stop().await;
}

/// `serve --no-auth` on a public address is refused with one line on stderr: no log lines
/// before it and no backtrace (RUST_BACKTRACE=1 makes anyhow print one).
#[tokio::test]
async fn no_auth_on_a_public_address_exits_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_omnitraffick"))
            .args(["serve", "--no-auth", "--bind", "0.0.0.0:0"])
            .env("DATABASE_URL", dir.path().join("refused.db"))
            .env("RUST_BACKTRACE", "1")
            .env("OMNITRAFFICK_LOG", "info")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the server refused to start instead of serving")
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected, got:\n{stderr}");
    assert!(
        lines[0].contains("--no-auth") && lines[0].contains("loopback"),
        "{stderr}"
    );
    assert!(!stderr.to_lowercase().contains("backtrace"), "{stderr}");
}

/// Three connections that never finished their headers stayed open past 75 s: hyper only
/// applies its header-read timeout when the server gives it a timer.
#[tokio::test]
async fn connections_that_never_finish_their_headers_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let db = fresh_db().await;
    let server = TestServer::start_with(&db, |o| {
        o.header_read_timeout = std::time::Duration::from_secs(1)
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..3 {
        let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(s);
    }
    for mut s in slow {
        // Generous: the timeout is 1 s; a minute only separates "closed" from "kept for good".
        let closed = tokio::time::timeout(std::time::Duration::from_secs(60), async {
            let mut buf = [0u8; 1024];
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
        assert!(
            closed.is_ok(),
            "a connection with unfinished headers was kept open"
        );
    }
    assert_eq!(
        Rest::new(&server, None).healthz().await,
        200,
        "the server still serves"
    );
    server.stop().await;
}

/// A REST request (here: a body that never arrives) ends after the request timeout with the
/// JSON error shape; so does an MCP POST body. The MCP event stream is not cut by it.
#[tokio::test]
async fn slow_requests_end_with_an_error_and_mcp_streams_stay_open() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let db = fresh_db().await;
    let server = TestServer::start_with(&db, |o| {
        o.request_timeout = std::time::Duration::from_secs(1)
    })
    .await;
    let admin = key(&server.db, Role::Admin).await;
    for (path, status, needle) in [
        ("/api/v1/capi/events", "503", "\"code\":\"UNAVAILABLE\""),
        ("/mcp", "408", "\"jsonrpc\":\"2.0\""),
    ] {
        let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {admin}\r\n\
             Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
             Content-Length: 100\r\n\r\n{{\"brand_code\": "
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let mut reply = Vec::new();
        let read = tokio::time::timeout(std::time::Duration::from_secs(60), async {
            let mut buf = [0u8; 4096];
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => reply.extend_from_slice(&buf[..n]),
                }
                if String::from_utf8_lossy(&reply).contains(needle) {
                    break;
                }
            }
        })
        .await;
        let reply = String::from_utf8_lossy(&reply);
        assert!(read.is_ok(), "{path}: no answer to a stalled body");
        assert!(
            reply.starts_with(&format!("HTTP/1.1 {status}")),
            "{path}: {reply}"
        );
        assert!(reply.contains(needle), "{path}: {reply}");
    }

    // A session's event stream (GET /mcp) outlives the request timeout.
    let http = reqwest::Client::new();
    let sid = open_raw_session(&http, &server, &admin).await.unwrap();
    let mut stream = http
        .get(server.url("/mcp"))
        .bearer_auth(&admin)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &sid)
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let waited = tokio::time::timeout(std::time::Duration::from_secs(3), async {
        loop {
            match stream.chunk().await {
                Ok(Some(_)) => continue,
                other => return other.map(|_| ()),
            }
        }
    })
    .await;
    assert!(
        waited.is_err(),
        "the event stream ended within 3 s: {waited:?}"
    );
    server.stop().await;
}

/// Sessions per key and in total are limited, with the JSON error shape beyond the limit;
/// a session ending (DELETE, idle expiry) frees its slot.
#[tokio::test]
async fn mcp_sessions_are_limited_per_key_and_in_total() {
    let db = fresh_db().await;
    let server = TestServer::start_with(&db, |o| {
        o.max_sessions_per_key = 2;
        o.max_sessions = 3;
    })
    .await;
    let a = key(&server.db, Role::Admin).await;
    let b = key(&server.db, Role::Viewer).await;
    let http = reqwest::Client::new();
    let a1 = open_raw_session(&http, &server, &a).await.unwrap();
    open_raw_session(&http, &server, &a).await.unwrap();
    let (status, body) = open_raw_session(&http, &server, &a).await.unwrap_err();
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "UNAVAILABLE", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--max-sessions-per-key"),
        "{body}"
    );
    open_raw_session(&http, &server, &b).await.unwrap();
    let (status, body) = open_raw_session(&http, &server, &b).await.unwrap_err();
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--max-sessions"),
        "{body}"
    );
    // Calls inside an open session are not affected.
    let r = mcp_post(&http, &server, &a, Some(&a1))
        .json(&tools_call(7, "list_markets", json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap();

    let r = http
        .delete(server.url("/mcp"))
        .bearer_auth(&a)
        .header("mcp-session-id", &a1)
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    open_raw_session(&http, &server, &b)
        .await
        .expect("a deleted session frees its slot");
    server.stop().await;

    // Idle sessions expire and free theirs.
    let db = fresh_db().await;
    let server = TestServer::start_with(&db, |o| {
        o.max_sessions_per_key = 1;
        o.session_idle = std::time::Duration::from_secs(1);
    })
    .await;
    let a = key(&server.db, Role::Admin).await;
    open_raw_session(&http, &server, &a).await.unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match open_raw_session(&http, &server, &a).await {
            Ok(_) => break,
            Err((429, _)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => panic!("the idle session never freed its slot: {e:?}"),
        }
    }
    server.stop().await;
}

/// Hold the store's write lock from another connection until the returned one is dropped
/// or committed: SQLite's `BEGIN IMMEDIATE`, PostgreSQL's lock on the markets table.
async fn hold_write_lock(db: &TestDb) -> sqlx::AnyConnection {
    use omnitraffick::store::{Backend, normalize_database_url};
    use sqlx::Connection;
    let (url, backend) = normalize_database_url(&db.url).unwrap();
    let pg = matches!(backend, Backend::Postgres);
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    let lock = if pg {
        "BEGIN; LOCK TABLE markets IN EXCLUSIVE MODE"
    } else {
        "BEGIN IMMEDIATE"
    };
    sqlx::raw_sql(lock).execute(&mut conn).await.unwrap();
    conn
}

/// The JSON-RPC message in a Streamable HTTP answer (SSE `data:` line or a JSON body).
fn rpc_answer(body: &str) -> serde_json::Value {
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .find(|d| !d.is_empty())
        .or(Some(body.trim()))
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_else(|| panic!("no JSON-RPC message in {body:?}"))
}

/// A request whose id a running request of the same session still uses is refused at once
/// with a JSON-RPC error naming the id; the running request still gets its own answer (it
/// used to lose it to the second request and wait forever), and the id is free again after.
/// A call whose client left before its answer keeps its id taken.
#[tokio::test]
async fn a_request_id_in_use_in_the_session_is_refused_and_the_first_call_still_answered() {
    let db = fresh_db().await;
    let server = TestServer::start(&db, false).await;
    let admin = key(&server.db, Role::Admin).await;
    let http = reqwest::Client::new();
    let sid = open_raw_session(&http, &server, &admin).await.unwrap();
    let create = |code: &str| {
        tools_call(
            5,
            "create_market",
            json!({"code": code, "country": "DE", "region": "EMEA"}),
        )
    };

    // The first call waits for the write lock another connection holds.
    let lock = hold_write_lock(&db).await;
    // The answer's headers come once the request is registered in its session; the body
    // waits for the tool.
    let first = mcp_post(&http, &server, &admin, Some(&sid))
        .json(&create("DE"))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let first = tokio::spawn(first.text());
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(
        !first.is_finished(),
        "the first call did not wait for the lock"
    );

    let second = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        let r = mcp_post(&http, &server, &admin, Some(&sid))
            .json(&create("AT"))
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        r.text().await
    })
    .await
    .expect("the second call with the same id was not answered at once")
    .unwrap();
    let refused = rpc_answer(&second);
    assert_eq!(refused["id"], 5, "{refused}");
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    let msg = refused["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("request id 5") && msg.contains("own id"),
        "{msg}"
    );

    drop(lock);
    let first = tokio::time::timeout(std::time::Duration::from_secs(20), first)
        .await
        .expect("the first call never got its answer")
        .unwrap()
        .unwrap();
    let answer = rpc_answer(&first);
    assert_eq!(answer["id"], 5, "{answer}");
    assert_eq!(
        answer["result"]["structuredContent"]["code"], "DE",
        "{answer}"
    );

    // Answered: the id may be used again, and the refused call wrote nothing.
    let again = mcp_post(&http, &server, &admin, Some(&sid))
        .json(&tools_call(5, "list_markets", json!({})))
        .send()
        .await
        .unwrap();
    let listed = rpc_answer(&again.text().await.unwrap());
    let codes: Vec<&str> = listed["result"]["structuredContent"]["markets"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"))
        .iter()
        .filter_map(|m| m["code"].as_str())
        .collect();
    assert_eq!(codes, ["DE"], "{listed}");

    // A call whose client goes away before its answer keeps its id: the server may still
    // answer it, and that answer must not reach a new call that reused the id.
    let lock = hold_write_lock(&db).await;
    let gone = mcp_post(&http, &server, &admin, Some(&sid))
        .json(&tools_call(
            7,
            "create_market",
            json!({"code": "AT", "country": "AT", "region": "EMEA"}),
        ))
        .send()
        .await
        .unwrap();
    drop(gone);
    // Let the server see the closed connection and drop the call's answer stream.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let reused = mcp_post(&http, &server, &admin, Some(&sid))
        .json(&tools_call(7, "list_markets", json!({})))
        .send()
        .await
        .unwrap();
    let refused = rpc_answer(&reused.text().await.unwrap());
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    drop(lock);
    server.stop().await;
}
