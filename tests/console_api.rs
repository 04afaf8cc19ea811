//! The REST routes the web console is built on, as any client sees them: who the key is, the
//! board with its filters and brand scope, the live event stream (replay with Last-Event-ID,
//! scope, a change seen as it happens), ticket read-outs, guideline pages, governed-code edits
//! with rename previews, and the refusals (roles, scope, bad input) with errors that name the
//! field.

mod common;

use std::time::Duration;

use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use common::rest::ok200;
use common::*;
use omnitraffick::auth::{self, Role};

async fn scoped_key(w: &World, role: Role, brand: &str) -> String {
    auth::create_scoped_key(&w.server().db, "scoped", role, Some(vec![brand.into()]))
        .await
        .expect("scoped key")
        .0
}

/// A second brand (AUR) with a campaign and a draft ticket, beside DIS's.
async fn second_brand(w: &World) -> i64 {
    let g = &w.s.governance;
    g.create_brand(from_json(json!(
        {"name": "Aurora", "code": "AUR", "family_friendly": true, "currency": "USD"}
    )))
    .await
    .expect("brand");
    g.create_market(from_json(
        json!({"code": "FR", "country": "FR", "region": "EMEA"}),
    ))
    .await
    .expect("market");
    let c = g
        .create_campaign(from_json(
            json!({"brand_code": "AUR", "market_code": "FR", "name": "Bonjour", "year": 2027}),
        ))
        .await
        .expect("campaign")
        .id;
    g.create_ticket(
        &me(),
        from_json(json!({"campaign_id": c, "channel_code": "META", "payload_config": {"objective": "TRAFFIC"}})),
    )
    .await
    .expect("ticket")
    .id
}

fn card_ids(board: &Value) -> Vec<i64> {
    board["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn me_says_what_the_key_may_do() {
    let w = World::build().server().start().await;
    let ops = ok200(w.rest(Role::Ops).await.get("/api/v1/me").await);
    assert_eq!(ops["role"], "ops");
    assert_eq!(ops["permissions"], json!(["read", "review", "copilot"]));
    assert!(ops["brand_scope"].is_null());
    let tracker = scoped_key(&w, Role::Tracker, "DIS").await;
    let t = ok200(w.server().rest(&tracker).get("/api/v1/me").await);
    assert_eq!(t["permissions"], json!(["track"]));
    assert_eq!(t["brand_scope"], json!(["DIS"]));
    let (status, body) = Rest::new(w.server(), Some("otk_wrong"))
        .get("/api/v1/me")
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "UNAUTHORIZED");
    w.finish().await;
}

#[tokio::test]
async fn board_shows_columns_filters_and_only_the_keys_brands() {
    let w = World::build().server().start().await;
    let dis = w.ready_ticket("META", "Moana", deployable_spec()).await;
    let draft = draft_ticket(&w.s, "TIKTOK", "Draft One", json!({"objective": "TRAFFIC"})).await;
    let aur = second_brand(&w).await;
    let viewer = w.rest(Role::Viewer).await;

    let board = ok200(viewer.get("/api/v1/board").await);
    let columns: Vec<&str> = board["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        [
            "draft",
            "qa_failed",
            "ready",
            "deploying",
            "live",
            "failed",
            "fix_proposed"
        ]
    );
    // Newest first, each in its column, with what it belongs to.
    assert_eq!(card_ids(&board), [aur, draft, dis]);
    let card = &board["cards"][2];
    assert_eq!(card["column"], "ready");
    assert_eq!(card["status"], "READY_FOR_API");
    assert_eq!(card["brand_code"], "DIS");
    assert_eq!(card["market_code"], "US");
    assert_eq!(card["channel_code"], "META");
    assert_eq!(card["campaign_name"], "Moana");
    assert_eq!(board["truncated"], false);
    assert!(board["last_event_id"].as_i64().unwrap() > 0);

    // Filters, by code.
    let only = ok200(viewer.get("/api/v1/board?brand=AUR").await);
    assert_eq!(card_ids(&only), [aur]);
    let (status, body) = viewer.get("/api/v1/board?brand=aur").await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean \"AUR\"")
    );
    let only = ok200(viewer.get("/api/v1/board?market=US&channel=TIKTOK").await);
    assert_eq!(card_ids(&only), [draft]);
    let (status, body) = viewer.get("/api/v1/board?market=ZZ").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["field"], "market");

    // A key for one brand sees only that brand's cards, and may not ask for another's.
    let scoped = w.server().rest(&scoped_key(&w, Role::Viewer, "AUR").await);
    assert_eq!(card_ids(&ok200(scoped.get("/api/v1/board").await)), [aur]);
    assert_eq!(scoped.get("/api/v1/board?brand=DIS").await.0, 403);
    // A tracker reads nothing.
    let tracker = w.server().rest(&key(&w.server().db, Role::Tracker).await);
    assert_eq!(tracker.get("/api/v1/board").await.0, 403);
    w.finish().await;
}

/// Read SSE frames from `resp` until `n` `ticket` events arrived (or 10 s passed).
async fn read_events(resp: reqwest::Response, n: usize) -> Vec<Value> {
    let mut body = resp.bytes_stream();
    let mut buf = String::new();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while out.len() < n {
        // Once events arrived, a quiet second means the replay is over.
        let until = if out.is_empty() {
            deadline
        } else {
            deadline.min(tokio::time::Instant::now() + Duration::from_secs(1))
        };
        let chunk = match tokio::time::timeout_at(until, body.next()).await {
            Ok(Some(Ok(c))) => c,
            _ => break,
        };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            let mut event = "";
            let mut kind = String::new();
            let mut id = None;
            let mut data = None;
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    kind = v.trim().to_owned();
                    event = if kind == "ticket" { "ticket" } else { "other" };
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse::<i64>().ok();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = serde_json::from_str::<Value>(v.trim()).ok();
                }
            }
            match (event, data) {
                ("ticket", Some(d)) => {
                    assert_eq!(
                        Some(d["history_id"].as_i64().unwrap()),
                        id,
                        "id matches data"
                    );
                    out.push(d);
                }
                (_, Some(mut d)) if !event.is_empty() => {
                    d["kind"] = json!(kind);
                    d["id"] = json!(id);
                    out.push(d);
                }
                _ => {}
            }
        }
    }
    out
}

#[tokio::test]
async fn event_stream_replays_after_last_event_id_and_then_follows_live() {
    let w = World::build().server().start().await;
    let t = draft_ticket(&w.s, "META", "Moana", json!({"objective": "TRAFFIC"})).await;
    let viewer = w.rest(Role::Viewer).await;
    let board = ok200(viewer.get("/api/v1/board").await);
    let since = board["last_event_id"].as_i64().unwrap();

    // A change after the board was read arrives, replayed from the history...
    let aur = second_brand(&w).await;
    let resp = viewer
        .request(Method::GET, "/api/v1/events")
        .header("Last-Event-ID", since.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    // ...and a change made while the stream is open arrives as it happens.
    let s = w.s.clone();
    let waiter = tokio::spawn(read_events(resp, 2));
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.qa.run_qa(&me(), from_json(json!({"ticket_id": t})))
        .await
        .expect("qa runs");
    let got = waiter.await.unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0]["ticket_id"], aur);
    assert_eq!(got[0]["event"], "CREATED");
    assert_eq!(got[0]["column"], "draft");
    assert!(got[0]["history_id"].as_i64().unwrap() > since);
    assert_eq!(got[1]["ticket_id"], t);
    // The draft lacks a budget, so QA fails it.
    assert_eq!(got[1]["to_status"], "QA_FAILED");
    assert_eq!(got[1]["column"], "qa_failed");

    // A key for one brand gets only that brand's events.
    let scoped = w.server().rest(&scoped_key(&w, Role::Viewer, "DIS").await);
    let resp = scoped
        .request(Method::GET, "/api/v1/events")
        .header("Last-Event-ID", "0")
        .send()
        .await
        .unwrap();
    let seen = read_events(resp, 100).await;
    let dis_events = seen.iter().filter(|e| e["ticket_id"] == t).count();
    assert!(dis_events >= 2, "DIS's ticket: created and QA'd: {seen:?}");
    assert!(seen.iter().all(|e| e["ticket_id"] != aur), "{seen:?}");

    // Without an id the stream starts with `ready` and the current id; with an id it never
    // sent (ahead of the history) it says `resync`.
    let latest = ok200(viewer.get("/api/v1/board").await)["last_event_id"]
        .as_i64()
        .unwrap();
    let resp = viewer
        .request(Method::GET, "/api/v1/events")
        .send()
        .await
        .unwrap();
    let first = read_events(resp, 1).await;
    assert_eq!(first[0]["kind"], "ready", "{first:?}");
    assert_eq!(first[0]["id"], latest);
    assert_eq!(first[0]["last_event_id"], latest);
    let resp = viewer
        .request(Method::GET, "/api/v1/events")
        .header("Last-Event-ID", (latest + 1000).to_string())
        .send()
        .await
        .unwrap();
    let first = read_events(resp, 1).await;
    assert_eq!(first[0]["kind"], "resync", "{first:?}");
    assert_eq!(first[0]["last_event_id"], latest);

    let (status, body) = Rest::send(
        viewer
            .request(Method::GET, "/api/v1/events")
            .header("Last-Event-ID", "soon"),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "Last-Event-ID");
    assert_eq!(
        Rest::new(w.server(), None).get("/api/v1/events").await.0,
        401
    );
    w.finish().await;
}

#[tokio::test]
async fn ticket_read_outs_follow_the_tickets_brand() {
    let w = World::build().server().start().await;
    let t = w.ready_ticket("META", "Moana", deployable_spec()).await;
    let viewer = w.rest(Role::Viewer).await;
    let payloads = ok200(viewer.get(&format!("/api/v1/tickets/{t}/payloads")).await);
    assert_eq!(payloads["platform"], "META");
    assert_eq!(payloads["requests"][0]["object"], "campaign");
    let deploys = ok200(viewer.get(&format!("/api/v1/tickets/{t}/deploys")).await);
    assert_eq!(deploys["ticket_status"], "READY_FOR_API");
    assert_eq!(deploys["attempt_count"], 0);
    let (status, body) = viewer.get(&format!("/api/v1/tickets/{t}/pacing")).await;
    // Pacing needs a deployed ticket, and says so.
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not deployed"),
        "{body}"
    );
    let insights = ok200(viewer.get(&format!("/api/v1/tickets/{t}/insights")).await);
    assert_eq!(insights["totals"]["spend"], "0.00");
    assert!(
        insights["summary"]
            .as_str()
            .unwrap()
            .contains("never synced"),
        "{insights}"
    );
    let (status, body) = viewer
        .get(&format!("/api/v1/tickets/{t}/insights?from=yesterday"))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "from", "{body}");
    assert_eq!(viewer.get("/api/v1/tickets/999/deploys").await.0, 404);
    let (status, body) = viewer.get("/api/v1/tickets/x/payloads").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "id");
    // Another brand's key: refused, not shown.
    second_brand(&w).await;
    let aur = w.server().rest(&scoped_key(&w, Role::Viewer, "AUR").await);
    assert_eq!(
        aur.get(&format!("/api/v1/tickets/{t}/payloads")).await.0,
        403
    );
    // The guideline review: a planner gets findings (none here: DIS has no guidelines).
    let review = ok200(
        w.rest(Role::Planner)
            .await
            .post_empty(&format!("/api/v1/tickets/{t}/guideline-review"))
            .await,
    );
    assert!(review["findings"].is_array(), "{review}");
    // It needs the copilot permission (a tracker has none).
    let tracker = w.server().rest(&key(&w.server().db, Role::Tracker).await);
    assert_eq!(
        tracker
            .post_empty(&format!("/api/v1/tickets/{t}/guideline-review"))
            .await
            .0,
        403
    );
    w.finish().await;
}

#[tokio::test]
async fn guideline_pages_are_what_citations_point_at() {
    let w = World::build().server().start().await;
    w.s.copilot.ensure_sample_brands().await.unwrap();
    let s = &omnitraffick::copilot::SAMPLES[0];
    w.s.copilot
        .ingest(s.brand_code, s.file_name, s.bytes.to_vec())
        .await
        .unwrap();
    let planner = w.rest(Role::Planner).await;
    let list = ok200(
        planner
            .get(&format!("/api/v1/guidelines?brand={}", s.brand_code))
            .await,
    );
    let doc = &list["documents"][0];
    assert_eq!(doc["name"], s.file_name);
    let id = doc["id"].as_i64().unwrap();
    let text = ok200(planner.get(&format!("/api/v1/guidelines/{id}")).await);
    assert_eq!(text["document"]["id"], id);
    let pages = text["pages"].as_array().unwrap();
    assert_eq!(pages.len() as i64, doc["pages"].as_i64().unwrap());
    assert_eq!(pages[0]["page"], 1);
    assert!(!pages[0]["text"].as_str().unwrap().is_empty());
    // A citation's document and page resolve to a page here. (The guidelines were ingested
    // by another AppServices than the server's: its index picks them up without a restart.)
    let answer = ok200(
        planner
            .copilot_chat(&json!({"brand_code": s.brand_code, "messages": [{"role": "user", "content": "Can we target kids under 13?"}]}))
            .await,
    );
    let cite = &answer["citations"][0];
    assert_eq!(cite["document"], s.file_name, "{answer}");
    let page = cite["page"].as_u64().unwrap() as usize;
    assert!(page >= 1 && page <= pages.len());
    // Another brand's key may not read it.
    let other = w.server().rest(&scoped_key(&w, Role::Viewer, "DIS").await);
    assert_eq!(other.get(&format!("/api/v1/guidelines/{id}")).await.0, 403);
    assert_eq!(planner.get("/api/v1/guidelines/4242").await.0, 404);
    w.finish().await;
}

#[tokio::test]
async fn admin_edits_codes_after_seeing_the_rename_impact() {
    let w = World::build().server().start().await;
    let draft = draft_ticket(&w.s, "META", "Moana", json!({"objective": "TRAFFIC"})).await;
    let admin = w.rest(Role::Admin).await;
    let patch = |path: &str, body: Value| {
        let r = admin.request(Method::PATCH, path).json(&body);
        Rest::send(r)
    };

    let impact = ok200(
        admin
            .get("/api/v1/rename-impact?segment=market&code=US&new_code=USA")
            .await,
    );
    assert_eq!(impact["renamed_tickets"][0]["ticket_id"], draft);
    assert_eq!(
        impact["renamed_tickets"][0]["new_name"],
        "DIS_USA_META_2027_Moana"
    );
    let (status, body) = admin
        .get("/api/v1/rename-impact?segment=market&code=US")
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "new_code");

    // The rename itself, then other fields.
    let done = ok200(patch("/api/v1/markets/US", json!({"new_code": "USA"})).await);
    assert_eq!(done["market"]["code"], "USA", "{done}");
    let t = ok200(admin.ticket(draft).await);
    assert_eq!(t["platform_name"], "DIS_USA_META_2027_Moana");
    let done = ok200(patch("/api/v1/markets/USA", json!({"region": "AMER"})).await);
    assert_eq!(done["market"]["region"], "AMER", "{done}");
    let done = ok200(patch("/api/v1/brands/DIS", json!({"name": "Disney Co"})).await);
    assert_eq!(done["brand"]["name"], "Disney Co", "{done}");
    let done = ok200(patch("/api/v1/channels/META", json!({"archived": false})).await);
    assert_eq!(done["channel"]["code"], "META", "{done}");

    // Bad bodies name the field and leave everything as it was.
    let (status, body) = patch("/api/v1/markets/USA", json!({"regoin": "EMEA"})).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("regoin"),
        "{body}"
    );
    let (status, body) = patch("/api/v1/markets/USA", json!({"code": "X"})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "code");
    let (status, body) = patch("/api/v1/markets/USA", json!({"archived": "yes"})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "archived");
    let (status, body) = patch("/api/v1/markets/USA", json!(["region"])).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = patch("/api/v1/markets/NOPE", json!({"region": "X"})).await;
    assert_eq!(status, 404, "{body}");
    let markets = ok200(admin.get("/api/v1/markets").await);
    assert_eq!(markets["markets"][0]["region"], "AMER");

    // Only admins edit; ops and scoped admins may not touch shared codes.
    let ops = w.rest(Role::Ops).await;
    let (status, _) = Rest::send(
        ops.request(Method::PATCH, "/api/v1/markets/USA")
            .json(&json!({"region": "X"})),
    )
    .await;
    assert_eq!(status, 403);
    let scoped = w.server().rest(&scoped_key(&w, Role::Admin, "DIS").await);
    // A key for one brand may change that brand, not another, and lists only its own.
    second_brand(&w).await;
    let (status, body) = Rest::send(
        scoped
            .request(Method::PATCH, "/api/v1/brands/AUR")
            .json(&json!({"name": "Mine now"})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    ok200(
        Rest::send(
            scoped
                .request(Method::PATCH, "/api/v1/brands/DIS")
                .json(&json!({"family_friendly": true})),
        )
        .await,
    );
    let brands = ok200(scoped.get("/api/v1/brands").await);
    assert_eq!(brands["brands"].as_array().unwrap().len(), 1, "{brands}");
    assert_eq!(brands["brands"][0]["code"], "DIS");
    assert_eq!(scoped.get("/api/v1/guidelines?brand=AUR").await.0, 403);
    let (status, _) = Rest::send(
        scoped
            .request(Method::PATCH, "/api/v1/channels/META")
            .json(&json!({"archived": false})),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        scoped
            .get("/api/v1/rename-impact?segment=brand&code=DIS&new_code=DSN")
            .await
            .0,
        403
    );
    w.finish().await;
}

#[tokio::test]
async fn event_streams_are_limited_per_key_like_mcp_sessions() {
    let tdb = fresh_db().await;
    let server = TestServer::start_with(&tdb, |o| o.max_sessions_per_key = 1).await;
    let viewer = server.rest(&key(&server.db, Role::Viewer).await);
    let first = viewer
        .request(Method::GET, "/api/v1/events")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let (status, body) = Rest::send(viewer.request(Method::GET, "/api/v1/events")).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--max-sessions-per-key"),
        "{body}"
    );
    // Another key has its own allowance.
    let other = server.rest(&key(&server.db, Role::Viewer).await);
    let second = other
        .request(Method::GET, "/api/v1/events")
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 200);
    drop(first);
    // The server stops although a stream is still open and its client reads nothing.
    tokio::time::timeout(std::time::Duration::from_secs(10), server.stop())
        .await
        .expect("the server stops with an event stream open");
    drop(second);
}
