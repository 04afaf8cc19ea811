//! The Conversions API relay against fake Meta CAPI and TikTok Events API endpoints: bad
//! events refused locally while the rest are sent hashed, event ids kept or generated,
//! duplicates within 48 hours not sent again, test_event_code passed through, a rate limit
//! retried, REST intake for tracker keys, and no raw PII stored.

mod common;

use std::time::Duration;

use serde_json::{Value, json};

use common::fake_platforms::FakePlatforms;
use common::rest::ok200;
use common::*;
use omnitraffick::auth::Role;
use omnitraffick::capi::normalize::sha256_hex;
use omnitraffick::deploy::DeploySettings;
use omnitraffick::startup::{self, AppOptions};

/// Brand DIS with a Meta pixel and a TikTok pixel code, the workers delivering (a sweep
/// every 500 ms) and an HTTP server.
async fn world() -> World {
    let mut w = world_without_workers().await;
    w.start_workers();
    w
}

/// `world` before its workers start.
async fn world_without_workers() -> World {
    let w = World::build()
        .timeout(Duration::from_secs(2))
        .channels(&[])
        .options(|o| {
            o.deploy = DeploySettings {
                poll_every: Duration::from_millis(30),
                sweep_every: Duration::from_millis(500),
                ..DeploySettings::default()
            }
        })
        .server()
        .start()
        .await;
    w.s.governance
        .update_brand(
            &me(),
            from_json(json!({"code": "DIS", "meta_pixel_id": "1234567890123456", "tiktok_pixel_code": "CABCDEF1234567890"})),
        )
        .await
        .expect("pixel ids");
    w
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn purchase(id: Option<&str>) -> Value {
    let mut e = json!({
        "event_name": "Purchase", "event_time": now() - 30, "action_source": "website",
        "event_source_url": "https://shop.example/checkout/done",
        "user_data": {"em": " Jane@Example.com ", "ph": "+1 (650) 555-1212", "client_user_agent": "Mozilla/5.0", "client_ip_address": "203.0.113.9", "fbp": "fb.1.1558571054389.1098115397"},
        "custom_data": {"currency": "USD", "value": 19.99}
    });
    if let Some(id) = id {
        e["event_id"] = json!(id);
    }
    e
}

/// The batches the fake platforms received, once there are at least `n`; fails with the
/// state of the events, the job queue and the workers.
async fn wait_events(w: &World, n: usize) -> Vec<(&'static str, Value)> {
    let arrived = poll_until(Duration::from_secs(15), || async {
        let got = w.fake.state.lock().unwrap().events.clone();
        if got.len() >= n {
            Ok(got)
        } else {
            Err(format!("only {} batches arrived", got.len()))
        }
    })
    .await;
    match arrived {
        Ok(got) => got,
        Err(state) => panic!("{state}; {}", queue_state(&w.db).await),
    }
}

/// The relay's events, the job queue and the workers, for a failure message.
async fn queue_state(db: &omnitraffick::store::Db) -> String {
    use sqlx::{Column, Row};
    let events: Vec<String> =
        sqlx::query("SELECT destination, status, COALESCE(error, '') AS error FROM capi_events")
            .fetch_all(db.pool())
            .await
            .map(|rows| {
                rows.iter()
                    .map(|r| {
                        format!(
                            "{} {} {}",
                            r.get::<String, _>("destination"),
                            r.get::<String, _>("status"),
                            r.get::<String, _>("error")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
    let jobs: Vec<String> = sqlx::query("SELECT * FROM Jobs")
        .fetch_all(db.pool())
        .await
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    r.columns()
                        .iter()
                        .map(|c| {
                            let v = r.try_get::<String, _>(c.ordinal()).ok().or_else(|| {
                                r.try_get::<i64, _>(c.ordinal()).ok().map(|n| n.to_string())
                            });
                            format!("{}={v:?}", c.name())
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect()
        })
        .unwrap_or_default();
    let workers: Vec<String> = sqlx::query("SELECT id, worker_type FROM Workers")
        .fetch_all(db.pool())
        .await
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    format!(
                        "{:?} {:?}",
                        r.try_get::<String, _>(0).ok(),
                        r.try_get::<String, _>(1).ok()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    format!("events: {events:?}\njobs: {jobs:#?}\nworkers: {workers:?}")
}

#[tokio::test]
async fn events_are_validated_hashed_deduped_and_delivered_to_both_destinations() {
    let w = world().await;
    let mut stale = purchase(Some("old-1"));
    stale["event_time"] = json!(now() - 8 * 86400);
    let out =
        w.s.capi
            .send_events(from_json(json!({
                "brand_code": "DIS",
                "events": [purchase(Some("order-123")), stale, purchase(None)],
                "test_event_code": "TEST12345"
            })))
            .await
            .unwrap();
    assert_eq!((out.accepted, out.duplicates, out.rejected), (2, 0, 1));
    assert_eq!(out.destinations, ["META", "TIKTOK"]);
    assert_eq!(out.results[0].event_id.as_deref(), Some("order-123"));
    assert_eq!(out.results[1].field.as_deref(), Some("event_time"));
    let generated = out.results[2].event_id.clone().unwrap();
    assert_eq!(generated.len(), 36);

    let batches = wait_events(&w, 2).await;
    let meta = batches
        .iter()
        .find(|(p, _)| *p == "META")
        .unwrap()
        .1
        .clone();
    assert_eq!(meta["pixel"], "1234567890123456");
    assert_eq!(meta["test_event_code"], "TEST12345");
    let data = meta["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "the bad event was not sent, the others were");
    assert_eq!(data[0]["event_id"], "order-123");
    assert_eq!(data[1]["event_id"], generated.as_str());
    assert_eq!(
        data[0]["user_data"]["em"],
        json!([sha256_hex("jane@example.com")])
    );
    assert_eq!(
        data[0]["user_data"]["ph"],
        json!([sha256_hex("16505551212")])
    );
    assert_eq!(data[0]["user_data"]["client_ip_address"], "203.0.113.9");
    let tt = batches
        .iter()
        .find(|(p, _)| *p == "TIKTOK")
        .unwrap()
        .1
        .clone();
    assert_eq!(tt["event_source_id"], "CABCDEF1234567890");
    assert_eq!(tt["test_event_code"], "TEST12345");
    assert_eq!(tt["data"][0]["event_id"], "order-123");
    assert_eq!(
        tt["data"][0]["user"]["email"],
        sha256_hex("jane@example.com")
    );
    assert_eq!(tt["data"][0]["user"]["phone"], sha256_hex("+16505551212"));
    assert_eq!(tt["data"][0]["user"]["ip"], "203.0.113.9");

    // The same event again within 48 hours: acknowledged, not sent.
    let again =
        w.s.capi
            .send_events(from_json(
                json!({"brand_code": "DIS", "events": [purchase(Some("order-123"))]}),
            ))
            .await
            .unwrap();
    assert_eq!(again.results[0].status, "DUPLICATE");
    // A later event is delivered after anything queued before it; once it has arrived, the
    // duplicate's absence proves it was never sent (no fixed wait).
    w.s.capi
        .send_events(from_json(
            json!({"brand_code": "DIS", "events": [purchase(Some("order-124"))]}),
        ))
        .await
        .unwrap();
    let delivered = wait_events(&w, 4).await;
    assert_eq!(delivered.len(), 4);
    let order_123 = delivered
        .iter()
        .filter(|(_, body)| body.to_string().contains("order-123"))
        .count();
    assert_eq!(order_123, 2, "one per destination, never again");

    // Nothing raw was stored.
    use sqlx::Row;
    let rows = sqlx::query("SELECT payload FROM capi_events")
        .fetch_all(w.db.pool())
        .await
        .unwrap();
    for r in rows {
        let p: String = r.try_get("payload").unwrap();
        assert!(
            !p.to_lowercase().contains("jane@example.com") && !p.contains("555-1212"),
            "{p}"
        );
    }
    w.finish().await;
}

#[tokio::test]
async fn rate_limits_are_retried_and_rest_intake_is_for_trackers() {
    let w = world().await;
    {
        let mut st = w.fake.state.lock().unwrap();
        st.events_server_error = 1;
        st.events_rate_limited = 1;
    }
    let tracker = w.rest(Role::Tracker).await;
    let viewer = w.rest(Role::Viewer).await;
    let body = json!({"brand_code": "DIS", "events": [purchase(Some("rest-1"))]});
    assert_eq!(viewer.capi_events(&body).await.0, 403);
    let (status, v) = tracker
        .capi_events(&json!({"brand_code": "DIS", "events": "nope"}))
        .await;
    assert_eq!(status, 422, "{v}");
    let (status, v) = tracker
        .capi_events(&json!({"brand_code": "ZZZ", "events": [purchase(None)]}))
        .await;
    assert_eq!(status, 404, "{v}");
    let v = ok200(tracker.capi_events(&body).await);
    assert_eq!(v["accepted"], 1);
    // Meta answered 500 once and a destination was throttled once; then both got the event
    // exactly once.
    let batches = wait_events(&w, 2).await;
    assert_eq!(batches.len(), 2);
    use sqlx::Row;
    let failed: i64 = sqlx::query("SELECT COUNT(*) AS n FROM capi_batches WHERE status = 'FAILED'")
        .fetch_one(w.db.pool())
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
    let all: Vec<String> = sqlx::query(
        "SELECT destination, status, COALESCE(error, '') AS e FROM capi_batches ORDER BY id",
    )
    .fetch_all(w.db.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| {
        format!(
            "{} {} {}",
            r.get::<String, _>("destination"),
            r.get::<String, _>("status"),
            r.get::<String, _>("e")
        )
    })
    .collect();
    assert!(
        failed >= 2,
        "the 500 and the throttled attempt are recorded: {all:#?}"
    );
    // The body is read as sent: a broken body is refused whole and names where; inside a good
    // one, an event that is not an object is refused by itself, and a field given twice counts
    // with its last value, as any JSON reader keeps it.
    let (status, v) = tracker
        .post_raw(
            "/api/v1/capi/events",
            r#"{"brand_code": "DIS", "events": [{"event_name": "Purchase",}]}"#,
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(v.to_string().contains("line 1"), "says where: {v}");
    let mut twice = purchase(Some("rest-twice")).to_string();
    twice.insert_str(1, r#""event_name": 42, "action_source": "billboard", "#);
    let mut out_of_range = purchase(Some("rest-out-of-range")).to_string();
    out_of_range.insert_str(out_of_range.len() - 1, r#", "opt_out": 1e400"#);
    let (status, v) = tracker
        .post_raw(
            "/api/v1/capi/events",
            &format!(
                r#"{{"brand_code": "DIS", "events": [7, {twice}, "Purchase", {out_of_range}]}}"#
            ),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["accepted"].as_i64(), v["rejected"].as_i64()),
        (Some(1), Some(3)),
        "{v}"
    );
    assert_eq!(v["results"][0]["field"], "event", "{v}");
    // A number no JSON reader takes, inside what would be passed on to Meta.
    assert_eq!(v["results"][3]["field"], "opt_out", "{v}");
    assert_eq!(v["results"][3]["event_id"], "rest-out-of-range", "{v}");
    assert_eq!(v["results"][1]["status"], "ACCEPTED", "{v}");
    assert_eq!(v["results"][1]["event_id"], "rest-twice", "{v}");
    assert_eq!(v["results"][2]["reason"], "must be an object", "{v}");
    w.finish().await;
}

#[tokio::test]
async fn a_throttled_destination_is_not_sent_again_before_it_said() {
    let w = world().await;
    w.fake.state.lock().unwrap().meta_events_throttled = (1, "4");
    let out =
        w.s.capi
            .send_events(from_json(
                json!({"brand_code": "DIS", "events": [purchase(Some("wait-1"))]}),
            ))
            .await
            .unwrap();
    assert_eq!(out.accepted, 1);
    // TikTok gets it at once; Meta said "retry after 4 s". The sweep runs every 500 ms in
    // this world and must not send it sooner.
    let got = wait_events(&w, 2).await;
    assert_eq!(got.len(), 2);
    use sqlx::Row;
    // The batch is recorded after the destination answers, so it may trail the event a little.
    let meta: Vec<(String, String)> = wait_until(
        "Meta's two batches were not recorded",
        Duration::from_secs(15),
        || async {
            let meta: Vec<(String, String)> = sqlx::query(
                "SELECT status, sent_at FROM capi_batches WHERE destination = 'META' ORDER BY id",
            )
            .fetch_all(w.db.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("status"), r.get("sent_at")))
            .collect();
            if meta.len() >= 2 {
                Ok(meta)
            } else {
                Err(format!("{meta:?}"))
            }
        },
    )
    .await;
    assert_eq!(meta.len(), 2, "{meta:?}");
    assert_eq!(meta[0].0, "FAILED");
    assert_eq!(meta[1].0, "SENT");
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
    let waited = at(&meta[1].1) - at(&meta[0].1);
    assert!(
        waited >= chrono::Duration::milliseconds(3000),
        "Meta was sent again after {waited} although it asked for 4 s"
    );
    w.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_event_sent_at_once_is_queued_once() {
    let w = world().await;
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let capi = w.s.capi.clone();
        tasks.push(tokio::spawn(async move {
            capi.send_events(from_json(
                json!({"brand_code": "DIS", "events": [purchase(Some("race-1"))]}),
            ))
            .await
            .unwrap()
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        let out = t.await.unwrap();
        accepted += out.accepted;
        assert_eq!(out.accepted + out.duplicates, 1, "{:?}", out.results);
    }
    assert_eq!(accepted, 1, "racing requests, one event");
    use sqlx::Row;
    let queued: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM capi_events WHERE event_id = 'race-1'")
            .fetch_one(w.db.pool())
            .await
            .unwrap()
            .get("n");
    assert_eq!(queued, 2, "one row per destination");
    // Requests holding the same events in opposite orders, at once: no deadlock, each event
    // queued once, results in each request's own order.
    for round in 0..10 {
        let ids: Vec<String> = (0..4).map(|i| format!("pair-{round}-{i}")).collect();
        let forward: Vec<Value> = ids.iter().map(|id| purchase(Some(id))).collect();
        let backward: Vec<Value> = forward.iter().rev().cloned().collect();
        let (a, b) = tokio::join!(
            w.s.capi
                .send_events(from_json(json!({"brand_code": "DIS", "events": forward}))),
            w.s.capi
                .send_events(from_json(json!({"brand_code": "DIS", "events": backward})))
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.accepted + b.accepted, 4, "round {round}");
        assert_eq!(a.results[0].event_id.as_deref(), Some(ids[0].as_str()));
        assert_eq!(b.results[0].event_id.as_deref(), Some(ids[3].as_str()));
        assert!(a.results.iter().enumerate().all(|(i, r)| r.index == i));
    }
    w.finish().await;
}

/// Requests that come while the writer is busy are written together (`capi::intake`): an
/// event whose key another request of the same write holds is a duplicate (the first request
/// in line keeps it), the same event id of another brand is that brand's own, each request's
/// test event code stays its own, and a request the database refuses fails alone, leaving
/// nothing of itself behind, while the requests written with it are kept. On SQLite the writer
/// is held while the requests come, so they are all in one write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_written_together_dedupe_across_each_other_and_a_refused_one_fails_alone() {
    use sqlx::Row;
    let w = world_without_workers().await;
    w.s.governance
        .create_brand(from_json(json!({"name": "Nature World", "code": "NWS", "family_friendly": true, "currency": "USD"})))
        .await
        .unwrap();
    w.s.governance
        .update_brand(
            &me(),
            from_json(json!({"code": "NWS", "meta_pixel_id": "6543210987654321"})),
        )
        .await
        .unwrap();
    // The database refuses the event "poison" (a trigger), as it would a constraint.
    let refuse: &[&str] = if std::env::var("TEST_DATABASE_URL").is_ok() {
        &[
            "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.event_id = 'poison' THEN RAISE EXCEPTION 'poison refused'; END IF; \
             RETURN NEW; END $$",
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON capi_events FOR EACH ROW \
             EXECUTE FUNCTION refuse_poison()",
        ]
    } else {
        &["CREATE TRIGGER refuse_poison BEFORE INSERT ON capi_events \
           WHEN NEW.event_id = 'poison' BEGIN SELECT RAISE(ABORT, 'poison refused'); END"]
    };
    for sql in refuse {
        sqlx::query(sqlx::AssertSqlSafe(*sql))
            .execute(w.db.pool())
            .await
            .unwrap();
    }
    let stored = |sql: &'static str, like: String| {
        let db = w.db.clone();
        async move {
            sqlx::query(sql)
                .bind(like)
                .fetch_one(db.pool())
                .await
                .unwrap()
                .get::<i64, _>("n")
        }
    };
    const ROWS: &str = "SELECT COUNT(*) AS n FROM capi_events WHERE event_id LIKE $1";
    // Sends the bodies at once, the writer held (on SQLite) until all of them wait for it.
    let at_once = async |bodies: Vec<Value>| {
        let hold = w.db.hold_writer().await;
        let mut tasks = Vec::new();
        for body in bodies {
            let capi = w.s.capi.clone();
            tasks.push(tokio::spawn(async move {
                capi.send_events(from_json(body)).await
            }));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(hold);
        let mut outs = Vec::new();
        for t in tasks {
            outs.push(t.await.unwrap());
        }
        outs
    };
    for round in 0..3 {
        let id = |k: usize| format!("together-{round}-{k}");
        let events = |ks: std::ops::Range<usize>| -> Vec<Value> {
            ks.map(|k| purchase(Some(&id(k)))).collect()
        };
        // 16 requests of 10 events, each sharing 5 with the next; then the first 10 again
        // for the other brand, and again with a test event code.
        let mut bodies: Vec<Value> = (0..16)
            .map(|r| json!({"brand_code": "DIS", "events": events(r * 5..r * 5 + 10)}))
            .collect();
        bodies.push(json!({"brand_code": "NWS", "events": events(0..10)}));
        bodies.push(
            json!({"brand_code": "DIS", "test_event_code": "TEST123", "events": events(200..205)}),
        );
        let outs = at_once(bodies).await;
        let outs: Vec<_> = outs
            .into_iter()
            .enumerate()
            .map(|(r, out)| out.unwrap_or_else(|e| panic!("request {r} of round {round}: {e}")))
            .collect();
        let status = |r: usize, k: usize| outs[r].results[k].status.as_str();
        // Each event shared by two requests is queued for the one that got in line first,
        // and all five it shares with its neighbour go the same way.
        for r in 0..15 {
            let mine: Vec<&str> = (5..10).map(|k| status(r, k)).collect();
            let theirs: Vec<&str> = (0..5).map(|k| status(r + 1, k)).collect();
            let first = if mine[0] == "ACCEPTED" {
                &mine
            } else {
                &theirs
            };
            let second = if mine[0] == "ACCEPTED" {
                &theirs
            } else {
                &mine
            };
            assert!(
                first.iter().all(|s| *s == "ACCEPTED") && second.iter().all(|s| *s == "DUPLICATE"),
                "requests {r} and {}, round {round}: {mine:?} {theirs:?}",
                r + 1
            );
        }
        // Events no other request holds, the other brand's and the test code's are queued.
        for k in 0..5 {
            assert_eq!(status(0, k), "ACCEPTED");
            assert_eq!(status(15, k + 5), "ACCEPTED");
        }
        for r in [16, 17] {
            assert_eq!(
                outs[r].accepted,
                outs[r].results.len(),
                "{:?}",
                outs[r].results
            );
        }
        // 85 distinct events of DIS and 10 of NWS, one row per destination (NWS has Meta
        // only), and 5 with the test code.
        assert_eq!(
            stored(ROWS, format!("together-{round}-%")).await,
            85 * 2 + 10 + 5 * 2
        );
        let brand_rows: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM capi_events e JOIN brands b ON b.id = e.brand_id \
             WHERE b.code = 'NWS' AND e.event_id LIKE $1",
        )
        .bind(format!("together-{round}-%"))
        .fetch_one(w.db.pool())
        .await
        .unwrap()
        .get("n");
        assert_eq!(brand_rows, 10, "the other brand's events are its own");
        let coded: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM capi_events WHERE test_event_code = 'TEST123' \
             AND event_id LIKE $1",
        )
        .bind(format!("together-{round}-%"))
        .fetch_one(w.db.pool())
        .await
        .unwrap()
        .get("n");
        assert_eq!(coded, 10, "the test code is the request's own");

        // A request the database refuses, written together with two good ones.
        let outs = at_once(vec![
            json!({"brand_code": "DIS", "events": events(300..303)}),
            json!({"brand_code": "DIS", "events": [purchase(Some("poison")), purchase(Some(&id(1000)))]}),
            json!({"brand_code": "DIS", "events": events(303..306)}),
        ])
        .await;
        let e = outs[1].as_ref().expect_err("the refused request fails");
        assert!(e.to_string().contains("poison refused"), "{e}");
        for r in [0, 2] {
            let out = outs[r]
                .as_ref()
                .unwrap_or_else(|e| panic!("request {r}: {e}"));
            assert_eq!(out.accepted, 3, "{:?}", out.results);
        }
        assert_eq!(stored(ROWS, format!("together-{round}-30_")).await, 6 * 2);
        assert_eq!(
            stored(ROWS, id(1000)).await,
            0,
            "nothing of the refused request"
        );
    }
    // Nor its keys: the refused request's good event goes in when sent again.
    let again =
        w.s.capi
            .send_events(from_json(
                json!({"brand_code": "DIS", "events": [purchase(Some("together-0-1000"))]}),
            ))
            .await
            .unwrap();
    assert_eq!(again.accepted, 1, "{:?}", again.results);
    w.finish().await;
}

/// One request mixing every case the intake's one round trip decides: new events, an event
/// held from an earlier request, one whose hold has expired, one listed twice, and one whose
/// key is held under another event name only. Each gets its status in the request's order,
/// and exactly the fresh ones are queued, once per destination, in that order.
#[tokio::test]
async fn one_request_mixing_new_held_expired_and_repeated_events() {
    // An id with characters that JSON escapes.
    const ALPHA: &str = "m-\"alpha\"\\é\u{1}x";
    let w = world_without_workers().await;
    let send = |ids: &[(&str, &str)], code: Option<&str>| {
        let events: Vec<Value> = ids
            .iter()
            .map(|(name, id)| {
                let mut e = purchase(Some(id));
                e["event_name"] = json!(name);
                e
            })
            .collect();
        let mut body = json!({"brand_code": "DIS", "events": events});
        if let Some(code) = code {
            body["test_event_code"] = json!(code);
        }
        w.s.capi.send_events(from_json(body))
    };
    use sqlx::Row;
    let pool = w.db.pool();
    let epoch = |id: &'static str| async move {
        sqlx::query(
            "SELECT destination, received_epoch FROM capi_dedupe WHERE event_id = $1 \
             AND event_name = 'Purchase' ORDER BY destination",
        )
        .bind(id)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get::<String, _>("destination"),
                r.get::<i64, _>("received_epoch"),
            )
        })
        .collect::<Vec<_>>()
    };
    let first = send(
        &[
            ("Purchase", "m-held"),
            ("Purchase", "m-expired"),
            ("Purchase", "m-half"),
        ],
        None,
    )
    .await
    .unwrap();
    assert_eq!(first.accepted, 3);
    // m-held was claimed an hour ago (still held), m-expired 49 hours ago (taken over), and
    // m-half is held for Meta only.
    for (id, ago) in [("m-held", 3600), ("m-expired", 49 * 3600)] {
        sqlx::query(
            "UPDATE capi_dedupe SET received_epoch = received_epoch - $1 WHERE event_id = $2",
        )
        .bind(ago)
        .bind(id)
        .execute(w.db.pool())
        .await
        .unwrap();
    }
    sqlx::query("DELETE FROM capi_dedupe WHERE event_id = 'm-half' AND destination = 'TIKTOK'")
        .execute(w.db.pool())
        .await
        .unwrap();
    let held_before = epoch("m-held").await;
    // Listed out of sorted order, so the request's order and the claim order differ.
    let out = send(
        &[
            ("Purchase", "m-zeta"),
            ("Purchase", "m-held"),
            ("Purchase", "m-twice"),
            ("Purchase", "m-expired"),
            ("Lead", "m-held"),
            ("Purchase", "m-twice"),
            ("Purchase", "m-half"),
            ("Purchase", ALPHA),
        ],
        Some("TEST777"),
    )
    .await
    .unwrap();
    let statuses: Vec<&str> = out.results.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(
        statuses,
        [
            "ACCEPTED",
            "DUPLICATE",
            "ACCEPTED",
            "ACCEPTED",
            "ACCEPTED",
            "DUPLICATE",
            "ACCEPTED",
            "ACCEPTED"
        ]
    );
    assert_eq!((out.accepted, out.duplicates), (6, 2));
    assert_eq!(
        epoch("m-held").await,
        held_before,
        "a held key is left as it was"
    );
    let rows = sqlx::query(
        "SELECT destination, event_name, event_id, test_event_code, status FROM capi_events \
         ORDER BY id",
    )
    .fetch_all(w.db.pool())
    .await
    .unwrap();
    let queued: Vec<String> = rows
        .iter()
        .map(|r| {
            assert_eq!(r.get::<String, _>("status"), "QUEUED");
            format!(
                "{} {} {} {}",
                r.get::<Option<String>, _>("test_event_code")
                    .unwrap_or_default(),
                r.get::<String, _>("destination"),
                r.get::<String, _>("event_name"),
                r.get::<String, _>("event_id")
            )
        })
        .collect();
    let mut expected: Vec<String> = Vec::new();
    for (code, name, id) in [
        ("", "Purchase", "m-held"),
        ("", "Purchase", "m-expired"),
        ("", "Purchase", "m-half"),
        ("TEST777", "Purchase", "m-zeta"),
        ("TEST777", "Purchase", "m-twice"),
        ("TEST777", "Purchase", "m-expired"),
        ("TEST777", "Lead", "m-held"),
        ("TEST777", "Purchase", "m-half"),
        ("TEST777", "Purchase", ALPHA),
    ] {
        for dest in ["META", "TIKTOK"] {
            if code == "TEST777" && id == "m-half" && dest == "META" {
                continue;
            }
            expected.push(format!("{code} {dest} {name} {id}"));
        }
    }
    assert_eq!(queued, expected);
    // Every key is held now, m-held's from an hour ago and the others from this request's
    // second.
    let held: i64 = sqlx::query("SELECT COUNT(*) AS n FROM capi_dedupe WHERE received_epoch >= $1")
        .bind(now() - 60)
        .fetch_one(w.db.pool())
        .await
        .unwrap()
        .get("n");
    assert_eq!(
        held, 12,
        "seven keys, two destinations each, but m-held's two"
    );

    // Over 256 events and destinations, with keys held in each part of the query.
    let ids = |range: std::ops::Range<usize>| -> Vec<String> {
        range.map(|i| format!("c-{i:03}")).collect()
    };
    let earlier: Vec<String> = ids(100..150).into_iter().chain(ids(250..260)).collect();
    let named: Vec<(&str, &str)> = earlier.iter().map(|id| ("Purchase", id.as_str())).collect();
    assert_eq!(send(&named, None).await.unwrap().accepted, 60);
    let all = ids(100..300);
    let named: Vec<(&str, &str)> = all.iter().map(|id| ("Purchase", id.as_str())).collect();
    let out = send(&named, None).await.unwrap();
    assert_eq!((out.accepted, out.duplicates), (140, 60));
    for (r, id) in out.results.iter().zip(&all) {
        let held = earlier.contains(id);
        assert_eq!(
            r.status,
            if held { "DUPLICATE" } else { "ACCEPTED" },
            "{id}"
        );
    }
    let queued: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM capi_events WHERE event_id LIKE 'c-%'")
            .fetch_one(w.db.pool())
            .await
            .unwrap()
            .get("n");
    assert_eq!(queued, 400, "each of the 200 events once per destination");
    w.finish().await;
}

#[tokio::test]
async fn big_batches_split_dedupe_expires_and_keys_are_scoped_to_brands() {
    let w = world().await;
    // 2,500 events in three calls: at most 1,000 per request, per destination.
    let mut n = 0;
    for size in [1000, 1000, 500] {
        let events: Vec<Value> = (0..size)
            .map(|i| {
                let mut e = purchase(Some(&format!("bulk-{}", n + i)));
                e["user_data"]["em"] = json!(format!("buyer{}@example.com", n + i));
                e
            })
            .collect();
        n += size;
        let out =
            w.s.capi
                .send_events(from_json(json!({"brand_code": "DIS", "events": events})))
                .await
                .unwrap();
        assert_eq!(out.accepted, size);
    }
    let meta_sent = || -> usize {
        w.fake
            .state
            .lock()
            .unwrap()
            .events
            .iter()
            .filter(|(p, _)| *p == "META")
            .map(|(_, b)| b["data"].as_array().map_or(0, Vec::len))
            .sum()
    };
    wait_until(
        "not every event reached Meta",
        Duration::from_secs(30),
        || async {
            match meta_sent() {
                2500 => Ok(()),
                sent => Err(format!("{sent} of 2,500 sent")),
            }
        },
    )
    .await;
    let meta: Vec<usize> = w
        .fake
        .state
        .lock()
        .unwrap()
        .events
        .iter()
        .filter(|(p, _)| *p == "META")
        .map(|(_, b)| b["data"].as_array().map_or(0, Vec::len))
        .collect();
    assert!(meta.iter().all(|n| *n <= 1000), "{meta:?}");
    assert_eq!(meta.len(), 3, "{meta:?}");

    // Dedupe holds for 48 hours and not after.
    let dup =
        w.s.capi
            .send_events(from_json(
                json!({"brand_code": "DIS", "events": [purchase(Some("bulk-7"))]}),
            ))
            .await
            .unwrap();
    assert_eq!(dup.results[0].status, "DUPLICATE");
    sqlx::query("UPDATE capi_dedupe SET received_epoch = received_epoch - 49 * 3600 WHERE event_id = 'bulk-7'")
        .execute(w.db.pool())
        .await
        .unwrap();
    let later =
        w.s.capi
            .send_events(from_json(
                json!({"brand_code": "DIS", "events": [purchase(Some("bulk-7"))]}),
            ))
            .await
            .unwrap();
    assert_eq!(later.results[0].status, "ACCEPTED");

    // A tracker key scoped to another brand is refused.
    let (other, _) = omnitraffick::auth::create_scoped_key(
        &w.db,
        "site-nws",
        Role::Tracker,
        Some(vec!["NWS".into()]),
    )
    .await
    .unwrap();
    let (status, body) = w
        .server()
        .rest(&other)
        .capi_events(&json!({"brand_code": "DIS", "events": [purchase(None)]}))
        .await;
    assert_eq!(status, 403, "{body}");
    w.finish().await;
}

/// Log lines captured from every test in this binary.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn raw_customer_data_never_reaches_the_logs() {
    let logs = Captured::default();
    let sink = logs.clone();
    // Everything at trace, with the caps the binary applies to the libraries that log what
    // passes through them: the MCP client in the next test (same process) logs what it sends.
    {
        use tracing_subscriber::filter::FilterExt;
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        use tracing_subscriber::{EnvFilter, Layer};
        let _ = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(move || sink.clone())
                    .with_filter(EnvFilter::new("trace").and(omnitraffick::telemetry::log_caps())),
            )
            .try_init();
    }
    let w = world().await;
    let mut bad = purchase(Some("bad-1"));
    bad["user_data"]["em"] = json!("not-an-email jane.doe.raw@example.com");
    let out =
        w.s.capi
            .send_events(from_json(
                json!({"brand_code": "DIS", "events": [purchase(Some("log-1")), bad]}),
            ))
            .await
            .unwrap();
    assert_eq!(out.rejected, 1);
    assert!(
        !serde_json::to_string(&out)
            .unwrap()
            .contains("jane.doe.raw"),
        "errors do not echo values"
    );
    wait_events(&w, 2).await;
    w.finish().await;
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_lowercase();
    assert!(!text.is_empty(), "the subscriber captured nothing");
    for raw in [
        "jane@example.com",
        "jane.doe.raw",
        "650) 555-1212",
        "16505551212",
    ] {
        assert!(
            !text.contains(raw),
            "raw customer data {raw:?} appeared in the logs"
        );
    }
}

/// The same through the real binary at `debug` and `trace`: an MCP client sends raw customer
/// data over stdio and the events are delivered, and neither the raw values nor the platform
/// tokens appear anywhere on stderr. (rmcp logged every request in full at debug.)
#[tokio::test]
async fn raw_customer_data_never_reaches_the_logs_at_debug_or_trace() {
    use rmcp::ServiceExt;
    use rmcp::model::{ClientCapabilities, ClientConfig, Implementation};
    use tokio::io::AsyncReadExt;

    const META_SECRET: &str = "meta-secret-token-7c1d";
    const TIKTOK_SECRET: &str = "tiktok-secret-token-9f2e";
    for level in ["debug", "trace"] {
        let tdb = fresh_db().await;
        let fake = FakePlatforms::start().await;
        let base = fake.base_url();
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_omnitraffick"));
        cmd.args(["serve", "--stdio"])
            .env("DATABASE_URL", &tdb.url)
            .env("OMNITRAFFICK_LOG", level)
            .env("OMNITRAFFICK_META_BASE_URL", &base)
            .env("OMNITRAFFICK_TIKTOK_BASE_URL", &base)
            .env("OMNITRAFFICK_META_ACCESS_TOKEN", META_SECRET)
            .env("OMNITRAFFICK_TIKTOK_ACCESS_TOKEN", TIKTOK_SECRET)
            .env("OMNITRAFFICK_DEPLOY_POLL_MS", "50");
        let (transport, stderr) = rmcp::transport::TokioChildProcess::builder(cmd)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn omnitraffick serve --stdio");
        let mut stderr = stderr.expect("stderr is piped");
        let reader = tokio::spawn(async move {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf).await;
            buf
        });
        let client = Mcp::new(
            ClientConfig::new(
                ClientCapabilities::default(),
                Implementation::new("capi-log-test", "0"),
            )
            .serve(transport)
            .await
            .expect("MCP over stdio"),
        );
        client.ok("create_brand", json!({"name": "Disney", "code": "DIS", "family_friendly": true,
            "currency": "USD", "meta_pixel_id": "1234567890123456", "tiktok_pixel_code": "CABCDEF1234567890"}))
        .await;
        let mut bad = purchase(Some("bad-1"));
        bad["user_data"]["em"] = json!("not-an-email jane.doe.raw@example.com");
        let out = client
            .ok(
                "send_conversion_events",
                json!({"brand_code": "DIS", "events": [purchase(Some(&format!("log-{level}"))), bad]}),
            )
            .await;
        assert_eq!(
            (out["accepted"].as_i64(), out["rejected"].as_i64()),
            (Some(1), Some(1)),
            "{out}"
        );
        wait_until(
            "the events were not delivered",
            Duration::from_secs(60),
            || async {
                match fake.state.lock().unwrap().events.len() {
                    n if n >= 2 => Ok(()),
                    n => Err(format!("{n} batches arrived")),
                }
            },
        )
        .await;
        client.close().await;
        let logs = tokio::time::timeout(Duration::from_secs(60), reader)
            .await
            .expect("the server exits once stdin closes")
            .unwrap();
        let text = String::from_utf8_lossy(&logs).to_lowercase();
        assert!(
            text.contains("conversion events taken in"),
            "the server did not log at debug with OMNITRAFFICK_LOG={level}:\n{}",
            &text[..text.len().min(2000)]
        );
        for raw in [
            "jane@example.com",
            "jane.doe.raw",
            "650) 555-1212",
            "16505551212",
            "203.0.113.9",
            META_SECRET,
            TIKTOK_SECRET,
        ] {
            assert!(
                !text.contains(raw),
                "{raw:?} appeared in the logs at {level}"
            );
        }
    }
}

/// Events (client IP and user agent in clear) and dedupe keys used to be kept for ever.
/// Retention deletes finished events past their time, dedupe keys past theirs (never inside
/// the 48-hour window), and then batches no event points at; queued and recent rows stay.
#[tokio::test]
async fn retention_deletes_finished_events_expired_dedupe_keys_and_their_batches() {
    use omnitraffick::capi::{CapiRetention, RetentionOutcome};
    use sqlx::Row;

    let tdb = fresh_db().await;
    let (db, s) = open(&tdb).await;
    seed_services(&s, &[]).await;
    let brand = s.governance.get_brand("DIS").await.unwrap().id;
    let now = now();
    let day = 86_400;
    let at = |secs_ago: i64| {
        (chrono::Utc::now() - chrono::Duration::seconds(secs_ago))
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string()
    };
    let batch = |sent_secs_ago: i64| {
        let (db, sent_at) = (db.clone(), at(sent_secs_ago));
        async move {
            sqlx::query(
                "INSERT INTO capi_batches (brand_id, destination, events, status, sent_at) \
                 VALUES ($1, 'META', 1, 'SENT', $2) RETURNING id",
            )
            .bind(brand)
            .bind(sent_at)
            .fetch_one(db.pool())
            .await
            .unwrap()
            .get::<i64, _>("id")
        }
    };
    let old_batch = batch(8 * day).await;
    let orphan_batch = batch(8 * day).await;
    let recent_batch = batch(6 * day).await;
    let retry_batch = batch(8 * day).await;
    let event = |id: &'static str, status: &'static str, secs_ago: i64, batch: Option<i64>| {
        let db = db.clone();
        async move {
            sqlx::query(
                "INSERT INTO capi_events (brand_id, destination, event_name, event_id, event_time, payload, status, batch_id, received_at, received_epoch) \
                 VALUES ($1, 'META', 'Purchase', $2, $3, '{\"user_data\": {\"client_ip_address\": \"203.0.113.9\"}}', $4, $5, $6, $7)",
            )
            .bind(brand)
            .bind(id)
            .bind(now - secs_ago)
            .bind(status)
            .bind(batch)
            .bind(at(secs_ago))
            .bind(now - secs_ago)
            .execute(db.pool())
            .await
            .unwrap();
        }
    };
    event("old-sent", "SENT", 8 * day, Some(old_batch)).await;
    event("old-failed", "FAILED", 8 * day, None).await;
    event("old-queued", "QUEUED", 8 * day, Some(retry_batch)).await;
    event("old-sending", "SENDING", 8 * day, None).await;
    event("recent-sent", "SENT", 6 * day, Some(recent_batch)).await;
    for (id, secs_ago) in [("key-old", 49 * 3600), ("key-recent", 47 * 3600)] {
        sqlx::query(
            "INSERT INTO capi_dedupe (brand_id, destination, event_name, event_id, received_epoch) \
             VALUES ($1, 'META', 'Purchase', $2, $3)",
        )
        .bind(brand)
        .bind(id)
        .bind(now - secs_ago)
        .execute(db.pool())
        .await
        .unwrap();
    }
    let remaining = |table: &'static str, column: &'static str| {
        let db = db.clone();
        async move {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT CAST({column} AS TEXT) AS v FROM {table} ORDER BY 1"
            )))
            .fetch_all(db.pool())
            .await
            .unwrap();
            rows.iter()
                .map(|r| r.get::<String, _>("v"))
                .collect::<Vec<_>>()
        }
    };

    // Defaults: 7 days for finished events, 48 hours for dedupe keys.
    let out = s.capi.apply_retention().await.unwrap();
    assert_eq!(
        out,
        RetentionOutcome {
            events: 2,
            dedupe_keys: 1,
            batches: 2
        }
    );
    assert_eq!(
        remaining("capi_events", "event_id").await,
        ["old-queued", "old-sending", "recent-sent"]
    );
    assert_eq!(remaining("capi_dedupe", "event_id").await, ["key-recent"]);
    let mut kept = vec![recent_batch.to_string(), retry_batch.to_string()];
    kept.sort();
    assert_eq!(remaining("capi_batches", "id").await, kept);
    assert!(!kept.contains(&orphan_batch.to_string()));
    assert_eq!(
        s.capi.apply_retention().await.unwrap(),
        RetentionOutcome::default()
    );

    // Shorter settings; a dedupe retention under the 48-hour window is raised to it.
    let opts = AppOptions {
        capi_retention: CapiRetention {
            dedupe_keys: Duration::from_secs(3600),
            finished_events: Duration::from_secs(5 * day as u64),
        },
        deploy: DeploySettings {
            sweep_every: Duration::from_millis(100),
            poll_every: Duration::from_millis(50),
            ..DeploySettings::default()
        },
        ..AppOptions::default()
    };
    let (_db2, s2) = startup::open_with(&tdb.url, opts).await.unwrap();
    // The workers' sweep runs it.
    let workers = Workers::start(&s2);
    // The sweep may also deliver or release the queued and in-flight events (that is its
    // job), so only what retention promises is checked, once both of its steps are seen.
    wait_until(
        "the sweep did not apply retention",
        Duration::from_secs(60),
        || async {
            let events = remaining("capi_events", "event_id").await;
            let batches = remaining("capi_batches", "id").await;
            if !events.contains(&"recent-sent".to_owned())
                && !batches.contains(&recent_batch.to_string())
            {
                Ok(())
            } else {
                Err(format!("events {events:?}, batches {batches:?}"))
            }
        },
    )
    .await;
    workers.stop().await;
    // The dedupe window is never shortened below 48 hours, whatever the setting.
    assert_eq!(remaining("capi_dedupe", "event_id").await, ["key-recent"]);
}

/// Conversion delivery jobs of the job queue, by status (both stores).
async fn delivery_jobs(db: &omnitraffick::store::Db) -> (i64, i64) {
    use sqlx::Row;
    let table = match db.backend() {
        omnitraffick::store::Backend::Sqlite => "Jobs",
        _ => "apalis.jobs",
    };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) AS total, COUNT(CASE WHEN status = 'Pending' THEN 1 END) AS pending \
         FROM {table} WHERE job_type = 'omnitraffick.capi'"
    )))
    .fetch_one(db.pool())
    .await
    .unwrap();
    (row.get("total"), row.get("pending"))
}

/// Each intake asks for its brand's deliveries; while one is waiting (due, not yet taken by
/// a worker) no second one is queued, since the waiting one will read every event committed
/// before it. Once a worker has taken it, the next intake queues a new one.
#[tokio::test]
async fn an_intake_does_not_queue_a_delivery_already_waiting() {
    let mut w = world_without_workers().await;
    for n in 0..3 {
        let out =
            w.s.capi
                .send_events(from_json(json!({
                    "brand_code": "DIS", "events": [purchase(Some(&format!("wait-{n}")))]
                })))
                .await
                .unwrap();
        assert_eq!(out.accepted, 1);
    }
    assert_eq!(
        delivery_jobs(&w.db).await,
        (2, 2),
        "one waiting delivery per destination after three intakes"
    );
    w.start_workers();
    let batches = wait_events(&w, 2).await;
    let sent: Vec<usize> = batches
        .iter()
        .map(|(_, b)| b["data"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(
        sent,
        [3, 3],
        "each destination got the three events at once"
    );
    // Taken and done: the next intake queues new deliveries.
    poll_until(Duration::from_secs(15), || async {
        match delivery_jobs(&w.db).await {
            (_, 0) => Ok(()),
            jobs => Err(format!("still waiting: {jobs:?}")),
        }
    })
    .await
    .unwrap();
    let (before, _) = delivery_jobs(&w.db).await;
    w.s.capi
        .send_events(from_json(
            json!({"brand_code": "DIS", "events": [purchase(Some("after"))]}),
        ))
        .await
        .unwrap();
    assert_eq!(delivery_jobs(&w.db).await.0, before + 2);
    let batches = wait_events(&w, 4).await;
    assert_eq!(
        batches[2..]
            .iter()
            .map(|(_, b)| b["data"][0]["event_id"].clone())
            .collect::<Vec<_>>(),
        [json!("after"), json!("after")]
    );
    w.finish().await;
}
