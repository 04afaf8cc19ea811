//! Lookups against the fake platforms: ad accounts, pages or identities and pixels on each
//! platform (every page followed, currencies and time zones flagged), interest search with
//! the brand-safety verdict QA would give, location search, reach estimates (and Google
//! saying it has none), the cache and its TTL, throttling, and the MCP tools with their
//! refusals. No credential reaches an answer or the database.

mod common;

use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use sqlx::Row;
use tokio_util::sync::CancellationToken;

use common::fake_platforms::{Fault, TIKTOK_APP_ID, TIKTOK_APP_SECRET};
use common::world::{
    GOOGLE_ACCESS, GOOGLE_DEV, META_TOKEN, TIKTOK_TOKEN, World, draft_ticket, me, wait_until,
};
use common::*;
use omnitraffick::assets::lookups::*;
use omnitraffick::auth::{self, Role};
use omnitraffick::domain::TicketStatus;
use omnitraffick::http::{self, HttpOptions};
use omnitraffick::platforms::client;

/// A world whose TikTok app may list its advertisers, with the given cache TTL.
async fn world(ttl: Duration) -> World {
    World::build()
        .options(move |o| {
            o.platforms
                .set_credential(client::TIKTOK_APP_ID, TIKTOK_APP_ID);
            o.platforms
                .set_credential(client::TIKTOK_APP_SECRET, TIKTOK_APP_SECRET);
            o.lookups.cache_ttl = ttl;
        })
        .start()
        .await
}

fn channel(code: &str) -> ChannelLookupInput {
    ChannelLookupInput {
        channel_code: code.into(),
    }
}

fn interests(channel: &str, query: &str, brand: Option<&str>) -> InterestSearchInput {
    InterestSearchInput {
        channel_code: channel.into(),
        query: query.into(),
        brand_code: brand.map(str::to_owned),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("serializes")
}

/// No platform credential anywhere in `v`.
fn no_secrets(v: &Value) {
    let text = v.to_string();
    for secret in [
        META_TOKEN,
        TIKTOK_TOKEN,
        GOOGLE_DEV,
        GOOGLE_ACCESS,
        TIKTOK_APP_SECRET,
        "EAAPageToken",
        "LEAKED-IF-FOLLOWED",
    ] {
        assert!(!text.contains(secret), "{secret} leaked into {text}");
    }
}

/// A campaign spec targeting the US, as the translators need it on every platform.
fn spec() -> Value {
    json!({
        "objective": "TRAFFIC",
        "budget": {"amount": "50.00", "period": "DAILY"},
        "schedule": {"start_time": "2027-03-01T00:00:00+00:00", "end_time": "2027-03-31T00:00:00+00:00"},
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

/// Accounts on each platform, every page followed; a EUR account is flagged for the USD
/// brand, an account without a time zone is flagged, the channel's own account is marked.
#[tokio::test]
async fn ad_accounts_on_each_platform_are_paged_and_flagged() {
    let w = world(Duration::from_secs(600)).await;
    let s = &w.s.lookups;

    let meta = s
        .ad_accounts(
            AdAccountsInput {
                channel_code: "meta".into(),
                brand_code: Some("DIS".into()),
                market_code: Some("us".into()),
            },
            true,
        )
        .await
        .expect("meta accounts");
    assert_eq!(meta.accounts.len(), 3, "{meta:?}");
    assert_eq!(w.fake.calls("meta adaccounts lookup"), 2, "two pages");
    assert!(!meta.truncated && !meta.freshness.from_cache);
    assert_eq!(meta.brand_code.as_deref(), Some("DIS"));
    let v = to_json(&meta);
    no_secrets(&v);
    let by_id = |id: &str| {
        v["accounts"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["id"] == id))
            .cloned()
            .unwrap_or_else(|| panic!("{id} in {v}"))
    };
    let us = by_id("1234567890");
    assert_eq!(us["is_channel_account"], true);
    assert_eq!(us["currency"], "USD");
    assert_eq!(us["time_zone"], "America/Los_Angeles");
    assert_eq!(us["flags"], json!([]));
    let eu = by_id("2233445566");
    assert_eq!(eu["flags"][0]["code"], "CURRENCY_MISMATCH", "{eu}");
    // Europe/Paris cannot be a US market's time zone.
    assert_eq!(eu["flags"][1]["code"], "TIME_ZONE_OUTSIDE_MARKET", "{eu}");
    let tz = eu["flags"][1]["message"].as_str().unwrap_or_default();
    assert!(tz.contains("Europe/Paris") && tz.contains("US"), "{tz}");
    let msg = eu["flags"][0]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("EUR") && msg.contains("USD"), "{msg}");
    let legacy = by_id("3344556677");
    assert_eq!(legacy["status"], "TEMPORARILY_UNAVAILABLE");
    assert_eq!(legacy["flags"][0]["code"], "TIME_ZONE_UNKNOWN", "{legacy}");
    assert_eq!(meta.flagged, 2);

    // TikTok: the advertisers that authorised the app, then their details. No brand given
    // and no tickets on the channel: no currency check, and the answer says which brand.
    let tt = s
        .ad_accounts(
            AdAccountsInput {
                channel_code: "TIKTOK".into(),
                brand_code: None,
                market_code: None,
            },
            true,
        )
        .await
        .expect("tiktok accounts");
    assert_eq!(tt.accounts.len(), 2, "{tt:?}");
    assert_eq!(tt.brand_code, None);
    assert!(tt.accounts.iter().all(|a| a.flags.is_empty()), "{tt:?}");
    assert_eq!(tt.accounts[0].account.status, "ACTIVE");
    assert_eq!(tt.accounts[1].account.currency.as_deref(), Some("EUR"));
    // Once every ticket on the channel is DIS's, DIS is checked without being named (the
    // cached answer is checked again: flags are never cached).
    draft_ticket(&w.s, "TIKTOK", "Tt Lookup", spec()).await;
    let tt = s
        .ad_accounts(
            AdAccountsInput {
                channel_code: "TIKTOK".into(),
                brand_code: None,
                market_code: None,
            },
            true,
        )
        .await
        .expect("tiktok accounts");
    assert!(tt.freshness.from_cache);
    assert_eq!(tt.brand_source, Some("FROM_TICKETS"));
    assert_eq!(tt.flagged, 1, "{tt:?}");
    no_secrets(&to_json(&tt));

    let g = s
        .ad_accounts(
            AdAccountsInput {
                channel_code: "GADS".into(),
                brand_code: Some("DIS".into()),
                market_code: None,
            },
            true,
        )
        .await
        .expect("google accounts");
    assert_eq!(g.accounts.len(), 2, "{g:?}");
    assert!(
        g.accounts[0].is_channel_account,
        "123-456-7890 is 1234567890"
    );
    assert_eq!(
        g.accounts[0].account.time_zone.as_deref(),
        Some("America/New_York")
    );
    assert_eq!(g.accounts[1].flags[0].code, "CURRENCY_MISMATCH");
    no_secrets(&to_json(&g));

    // Unknown channel and brand: NOT_FOUND naming the field and how to list them.
    let e = s
        .ad_accounts(
            AdAccountsInput {
                channel_code: "NOPE".into(),
                brand_code: None,
                market_code: None,
            },
            true,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "NOT_FOUND");
    assert_eq!(e.field(), Some("channel_code"));
    assert!(e.to_string().contains("list_channels"), "{e}");
    let e = s
        .ad_accounts(
            AdAccountsInput {
                channel_code: "META".into(),
                brand_code: Some("ZZZ".into()),
                market_code: None,
            },
            true,
        )
        .await
        .unwrap_err();
    assert_eq!(e.field(), Some("brand_code"), "{e}");
    w.finish().await;
}

/// Pages or identities and pixels: every page followed, no page token in the answer,
/// Google saying plainly it has no pages and that its "pixels" are conversion actions.
#[tokio::test]
async fn pages_and_pixels_on_each_platform() {
    let w = world(Duration::from_secs(600)).await;
    let s = &w.s.lookups;

    let p = s.pages(channel("META")).await.expect("meta pages");
    assert_eq!(p.pages.len(), 3);
    assert_eq!(p.pages[0].id, "1122334455");
    assert_eq!(p.pages[0].kind, "PAGE");
    assert_eq!(w.fake.calls("meta accounts lookup"), 2);
    no_secrets(&to_json(&p));

    let p = s.pages(channel("TIKTOK")).await.expect("tiktok identities");
    assert_eq!(p.pages.len(), 3);
    assert_eq!(p.pages[1].kind, "TT_USER");
    assert_eq!(p.pages[1].detail.as_deref(), Some("disney"));
    assert_eq!(w.fake.calls("tiktok identity lookup"), 2);

    let p = s.pages(channel("GADS")).await.expect("google pages");
    assert!(p.pages.is_empty());
    assert!(
        p.note.as_deref().unwrap_or_default().contains("no pages"),
        "{p:?}"
    );

    let px = s.pixels(channel("META")).await.expect("meta pixels");
    assert_eq!(px.pixels[0].id, "998877665544");
    assert_eq!(px.pixels[0].status.as_deref(), Some("AVAILABLE"));
    let px = s.pixels(channel("TIKTOK")).await.expect("tiktok pixels");
    assert_eq!(px.pixels.len(), 3);
    assert_eq!(px.pixels[2].code.as_deref(), Some("C9PIXEL3ABCDEF"));
    assert_eq!(w.fake.calls("tiktok pixel lookup"), 2);
    let px = s.pixels(channel("GADS")).await.expect("google conversions");
    assert_eq!(px.pixels.len(), 3, "two pages of conversion actions");
    assert_eq!(w.fake.calls("google conversion_action lookup"), 2);
    assert!(
        px.note
            .as_deref()
            .unwrap_or_default()
            .contains("conversion actions")
    );

    // What is cached is the platform's answer, never a credential.
    let rows = sqlx::query("SELECT body FROM lookup_cache")
        .fetch_all(w.db.pool())
        .await
        .expect("cache rows");
    assert!(rows.len() >= 6, "{} rows", rows.len());
    for r in rows {
        let body: String = r.try_get("body").expect("body");
        no_secrets(&Value::String(body));
    }
    w.finish().await;
}

/// Interests carry QA's brand-safety verdict: blocked for the family-friendly brand DIS,
/// allowed with a note for a brand that is not, not checked without a brand; a ticket
/// targeting the blocked one indeed fails QA. An identical search is served from the cache
/// (the platform is not asked) until the TTL passes, and the verdict follows the
/// blocked-interest list at once even on a cached answer.
#[tokio::test]
async fn interest_search_marks_blocked_interests_and_is_cached_for_the_ttl() {
    let w = world(Duration::from_secs(2)).await;
    let s = &w.s.lookups;
    w.s.governance
        .create_brand(from_json(json!(
            {"name": "Brewery", "code": "BRW", "family_friendly": false, "currency": "USD"}
        )))
        .await
        .expect("brand");

    let first = s
        .search_interests(interests("META", "Yoga", Some("DIS")))
        .await
        .expect("search");
    assert_eq!(first.interests.len(), 4, "{first:?}");
    assert_eq!(w.fake.calls("meta adinterest search"), 2, "two pages");
    assert!(!first.freshness.from_cache);
    assert_eq!(first.blocked, 0, "nothing blocked yet");
    let yoga = &first.interests[0];
    assert_eq!(yoga.interest.id, "6003306084421");
    assert_eq!(yoga.interest.audience_size_lower_bound, Some(512_000_000));
    assert_eq!(yoga.interest.audience_size_upper_bound, Some(602_000_000));
    assert_eq!(
        yoga.interest.path,
        ["Interests", "Fitness and wellness", "Yoga"]
    );
    // A size sent as a string is read as the same integer.
    assert_eq!(
        first.interests[2].interest.audience_size_upper_bound,
        Some(3_600_000)
    );

    w.s.qa
        .upsert_blocked_interest(from_json(json!({"platform": "META", "interest_id": "6003012345678", "category": "ALCOHOL", "name": "Beer yoga"})))
        .await
        .expect("block");
    let again = s
        .search_interests(interests("META", "  yoga ", Some("dis")))
        .await
        .expect("search");
    assert!(again.freshness.from_cache, "same normalised query");
    assert_eq!(again.freshness.read_at, first.freshness.read_at);
    assert_eq!(w.fake.calls("meta adinterest search"), 2, "not asked again");
    assert_eq!(again.blocked, 1);
    let beer = again
        .interests
        .iter()
        .find(|i| i.interest.id == "6003012345678")
        .expect("beer yoga");
    assert_eq!(beer.brand_safety, SafetyVerdict::Blocked);
    assert!(
        beer.brand_safety_note
            .as_deref()
            .unwrap_or_default()
            .contains("DIS")
    );
    assert!(
        again
            .interests
            .iter()
            .filter(|i| i.interest.id != "6003012345678")
            .all(|i| i.brand_safety == SafetyVerdict::Allowed)
    );
    let v = to_json(&again);
    assert_eq!(v["interests"][1]["brand_safety"], "BLOCKED", "{v}");

    // QA gives the same verdict on a ticket that targets it.
    let mut bad = spec();
    bad["targeting"]["interests"] = json!([{"id": "6003012345678", "name": "Beer yoga"}]);
    let t = draft_ticket(&w.s, "META", "Beer Yoga", bad).await;
    let qa =
        w.s.qa
            .run_qa(&me(), from_json(json!({"ticket_id": t})))
            .await
            .expect("qa");
    assert_eq!(qa.status, TicketStatus::QaFailed);

    let brewery = s
        .search_interests(interests("META", "yoga", Some("BRW")))
        .await
        .expect("search");
    let beer = &brewery.interests[1];
    assert_eq!(beer.brand_safety, SafetyVerdict::Allowed);
    assert!(
        beer.brand_safety_note
            .as_deref()
            .unwrap_or_default()
            .contains("not family-friendly")
    );
    let unchecked = s
        .search_interests(interests("META", "yoga", None))
        .await
        .expect("search");
    assert!(
        unchecked
            .interests
            .iter()
            .all(|i| i.brand_safety == SafetyVerdict::NotChecked)
    );
    assert!(unchecked.interests[1].brand_safety_note.is_some());

    // After the TTL the platform is asked again and the row replaced.
    let before = w.fake.calls("meta adinterest search");
    let refreshed = wait_until(
        "the cached search expires",
        Duration::from_secs(10),
        || async {
            let out = s
                .search_interests(interests("META", "yoga", Some("DIS")))
                .await
                .map_err(|e| e.to_string())?;
            if out.freshness.from_cache {
                Err(format!("still cached until {}", out.freshness.expires_at))
            } else {
                Ok(out)
            }
        },
    )
    .await;
    assert_eq!(refreshed.blocked, 1);
    assert_eq!(w.fake.calls("meta adinterest search"), before + 2);
    let n: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM lookup_cache WHERE channel_code = 'META' AND kind = 'interests'",
    )
    .fetch_one(w.db.pool())
    .await
    .expect("count")
    .try_get("n")
    .expect("n");
    assert_eq!(n, 1, "the expired row was replaced");

    // TikTok categories (matched by name, with their parents) and Google audiences.
    w.s.qa
        .upsert_blocked_interest(from_json(json!({"platform": "TIKTOK", "interest_id": "24100000000", "category": "ALCOHOL", "name": "Alcoholic Beverages"})))
        .await
        .expect("block");
    let tt = s
        .search_interests(interests("TIKTOK", "alcohol", Some("DIS")))
        .await
        .expect("tiktok");
    assert_eq!(tt.interests.len(), 1, "{tt:?}");
    assert_eq!(
        tt.interests[0].interest.path,
        ["Food & Beverage", "Alcoholic Beverages"]
    );
    assert_eq!(tt.interests[0].brand_safety, SafetyVerdict::Blocked);
    let g = s
        .search_interests(interests("GADS", "yoga", Some("DIS")))
        .await
        .expect("google");
    assert_eq!(g.interests.len(), 2, "{g:?}");
    assert_eq!(g.interests[1].interest.kind.as_deref(), Some("IN_MARKET"));

    // Bounds on the query.
    for q in ["", "   ", &"x".repeat(101)] {
        let e = s
            .search_interests(interests("META", q, None))
            .await
            .unwrap_err();
        assert_eq!(e.field(), Some("query"), "{e}");
    }
    w.finish().await;
}

/// Locations on each platform; a throttled search is retried once and answers; a platform
/// that keeps throttling is reported as such, not as a crash.
#[tokio::test]
async fn location_search_on_each_platform_and_throttling() {
    let w = world(Duration::from_secs(600)).await;
    let s = &w.s.lookups;
    let q = |c: &str, q: &str| LocationSearchInput {
        channel_code: c.into(),
        query: q.into(),
    };

    w.fake.fail_next_read(
        "lookup",
        Fault::RateLimit {
            retry_after_secs: 0,
        },
    );
    let meta = s.search_locations(q("META", "Paris")).await.expect("meta");
    assert_eq!(meta.locations.len(), 2, "{meta:?}");
    assert_eq!(meta.locations[0].id, "2988507");
    assert_eq!(meta.locations[0].kind.as_deref(), Some("city"));
    assert_eq!(meta.locations[1].parent.as_deref(), Some("Texas"));
    assert_eq!(
        w.fake.calls("meta adgeolocation search"),
        2,
        "throttled once, then answered"
    );

    let tt = s.search_locations(q("TIKTOK", "paris")).await.expect("tt");
    assert_eq!(tt.locations.len(), 1, "{tt:?}");
    assert_eq!(tt.locations[0].id, "2988507");
    assert_eq!(tt.locations[0].kind.as_deref(), Some("CITY"));
    assert_eq!(tt.locations[0].parent.as_deref(), Some("3012874"));

    let g = s
        .search_locations(q("GADS", "Paris"))
        .await
        .expect("google");
    assert_eq!(g.locations.len(), 2);
    assert_eq!(g.locations[0].id, "1006094");
    assert_eq!(g.locations[0].country_code.as_deref(), Some("FR"));

    for _ in 0..3 {
        w.fake.fail_next_read(
            "lookup",
            Fault::RateLimit {
                retry_after_secs: 0,
            },
        );
    }
    let e = s.search_locations(q("TIKTOK", "ile")).await.unwrap_err();
    assert_eq!(e.code(), "UNAVAILABLE", "{e}");
    assert!(e.to_string().contains("throttling"), "{e}");
    w.finish().await;
}

/// The ticket is translated and its targeting sent: Meta's delivery estimate, TikTok's
/// audience size (cached per targeting); Google says plainly it offers none.
#[tokio::test]
async fn reach_estimates_per_platform() {
    let w = world(Duration::from_secs(600)).await;
    let s = &w.s.lookups;
    let meta_t = draft_ticket(&w.s, "META", "Meta Reach", spec()).await;
    let tt_t = draft_ticket(&w.s, "TIKTOK", "Tt Reach", spec()).await;
    let g_t = draft_ticket(&w.s, "GADS", "Gads Reach", spec()).await;

    let m = s
        .estimate_reach(EstimateReachInput { ticket_id: meta_t })
        .await
        .expect("meta");
    assert!(m.estimate.offered);
    assert_eq!(m.estimate.users_lower_bound, Some(98_400_000));
    assert_eq!(m.estimate.users_upper_bound, Some(115_800_000));
    assert_eq!(m.estimate.daily_active_users, Some(21_000_000));
    assert_eq!(m.estimate.ready, Some(true));
    assert_eq!(m.targeting["countries"], json!(["US"]));
    let again = s
        .estimate_reach(EstimateReachInput { ticket_id: meta_t })
        .await
        .expect("meta");
    assert!(again.freshness.from_cache);
    assert_eq!(w.fake.calls("meta delivery_estimate lookup"), 1);

    let t = s
        .estimate_reach(EstimateReachInput { ticket_id: tt_t })
        .await
        .expect("tiktok");
    assert!(t.estimate.offered);
    assert_eq!(t.estimate.users_lower_bound, Some(41_000_000));
    assert_eq!(t.estimate.users_upper_bound, Some(50_100_000));

    let g = s
        .estimate_reach(EstimateReachInput { ticket_id: g_t })
        .await
        .expect("google");
    assert!(!g.estimate.offered);
    assert_eq!(g.estimate.users_lower_bound, None);
    assert!(
        g.estimate
            .note
            .as_deref()
            .unwrap_or_default()
            .contains("no audience-size estimate"),
        "{g:?}"
    );

    let e = s
        .estimate_reach(EstimateReachInput { ticket_id: 424242 })
        .await
        .unwrap_err();
    assert_eq!(e.field(), Some("ticket_id"));
    w.finish().await;
}

/// An MCP server on `w`'s own services (so it talks to the fake platforms).
async fn serve(w: &World) -> (String, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let opts = HttpOptions::loopback(addr);
    let stop = CancellationToken::new();
    let app = http::router(w.s.clone(), w.db.clone(), &opts, stop.child_token());
    let token = stop.clone();
    tokio::spawn(async move { http::serve_on(listener, app, &opts, token).await });
    (format!("http://{addr}/mcp"), stop)
}

async fn client(url: &str, key: &str) -> Mcp {
    let config =
        StreamableHttpClientTransportConfig::with_uri(url.to_owned()).auth_header(key.to_owned());
    let info = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("lookup-tests", "0.1.0"),
    );
    Mcp::new(
        info.serve(StreamableHttpClientTransport::from_config(config))
            .await
            .expect("MCP client connects"),
    )
}

/// Over MCP: a viewer may look up; an unknown channel is NOT_FOUND naming channel_code; a
/// bad query names query; a key limited to another brand may not search with DIS's code;
/// estimate_reach on Google says none is offered; the tools are read-only.
#[tokio::test]
async fn over_mcp_viewers_look_up_and_brand_scope_is_respected() {
    let w = world(Duration::from_secs(600)).await;
    w.s.governance
        .create_brand(from_json(json!(
            {"name": "Pixar", "code": "PIX", "family_friendly": true, "currency": "USD"}
        )))
        .await
        .expect("brand");
    let g_t = draft_ticket(&w.s, "GADS", "Gads Mcp", spec()).await;
    let (url, stop) = serve(&w).await;
    let viewer = client(&url, &key(&w.db, Role::Viewer).await).await;

    let tools = viewer.list_all_tools().await.expect("tools");
    for name in [
        "list_ad_accounts",
        "list_pages",
        "list_pixels",
        "search_interests",
        "search_locations",
        "estimate_reach",
    ] {
        let t = tools
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("{name} listed"));
        assert_eq!(
            t.annotations.as_ref().and_then(|a| a.read_only_hint),
            Some(true),
            "{name}"
        );
        assert!(t.output_schema.is_some(), "{name} has structured output");
    }

    let out = viewer
        .ok(
            "list_ad_accounts",
            json!({"channel_code": "META", "brand_code": "DIS"}),
        )
        .await;
    assert_eq!(out["flagged"], 2, "{out}");
    assert_eq!(out["from_cache"], false);
    assert!(out["read_at"].as_str().is_some());
    no_secrets(&out);
    let out = viewer
        .ok(
            "search_interests",
            json!({"channel_code": "META", "query": "yoga", "brand_code": "DIS"}),
        )
        .await;
    assert_eq!(out["interests"][0]["brand_safety"], "ALLOWED", "{out}");
    let out = viewer
        .ok(
            "search_locations",
            json!({"channel_code": "GADS", "query": "Paris"}),
        )
        .await;
    assert_eq!(out["locations"][0]["id"], "1006094", "{out}");
    viewer
        .ok("list_pages", json!({"channel_code": "TIKTOK"}))
        .await;
    viewer
        .ok("list_pixels", json!({"channel_code": "META"}))
        .await;

    let e = viewer
        .err("list_pages", json!({"channel_code": "SNAPCHAT"}))
        .await;
    assert_eq!(e["code"], "NOT_FOUND", "{e}");
    assert_eq!(e["field"], "channel_code", "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or_default()
            .contains("list_channels")
    );
    let e = viewer
        .err(
            "search_locations",
            json!({"channel_code": "META", "query": "x".repeat(101)}),
        )
        .await;
    assert_eq!(e["code"], "VALIDATION", "{e}");
    assert_eq!(e["field"], "query", "{e}");

    let reach = viewer.ok("estimate_reach", json!({"ticket_id": g_t})).await;
    assert_eq!(reach["offered"], false, "{reach}");
    assert!(
        reach["note"]
            .as_str()
            .unwrap_or_default()
            .contains("Google")
    );

    let (pix, _) =
        auth::create_scoped_key(&w.db, "viewer-pix", Role::Viewer, Some(vec!["PIX".into()]))
            .await
            .expect("scoped key");
    let pix = client(&url, &pix).await;
    let e = pix
        .err(
            "search_interests",
            json!({"channel_code": "META", "query": "yoga", "brand_code": "DIS"}),
        )
        .await;
    assert_eq!(e["code"], "FORBIDDEN", "{e}");
    let ok = pix
        .ok(
            "search_interests",
            json!({"channel_code": "META", "query": "yoga", "brand_code": "PIX"}),
        )
        .await;
    assert_eq!(ok["brand_code"], "PIX");
    let e = pix.err("estimate_reach", json!({"ticket_id": g_t})).await;
    assert_eq!(e["code"], "FORBIDDEN", "a DIS ticket: {e}");
    // Every ticket on GADS is DIS's: an unscoped key gets DIS checked without naming it,
    // a key limited to PIX is not told which brand the channel's tickets belong to.
    let all = viewer
        .ok("list_ad_accounts", json!({"channel_code": "GADS"}))
        .await;
    assert_eq!(all["brand_code"], "DIS", "{all}");
    assert_eq!(all["brand_source"], "FROM_TICKETS", "{all}");
    let scoped = pix
        .ok("list_ad_accounts", json!({"channel_code": "GADS"}))
        .await;
    assert_eq!(scoped["brand_code"], Value::Null, "{scoped}");
    let e = viewer
        .err(
            "list_ad_accounts",
            json!({"channel_code": "GADS", "market_code": "ZZ"}),
        )
        .await;
    assert_eq!(e["code"], "NOT_FOUND", "{e}");
    assert_eq!(e["field"], "market_code", "{e}");

    let tracker = client(&url, &key(&w.db, Role::Tracker).await).await;
    let e = tracker
        .err("list_ad_accounts", json!({"channel_code": "META"}))
        .await;
    assert_eq!(e["code"], "FORBIDDEN", "{e}");

    viewer.close().await;
    pix.close().await;
    tracker.close().await;
    stop.cancel();
    w.finish().await;
}

/// Without the TikTok app's id and secret only the channel's own advertiser can be listed,
/// and the answer says which variables would list them all.
#[tokio::test]
async fn tiktok_without_app_credentials_lists_the_channels_own_advertiser() {
    let w = World::build().start().await;
    let out =
        w.s.lookups
            .ad_accounts(
                AdAccountsInput {
                    channel_code: "TIKTOK".into(),
                    brand_code: Some("DIS".into()),
                    market_code: None,
                },
                true,
            )
            .await
            .expect("accounts");
    assert_eq!(out.accounts.len(), 1, "{out:?}");
    assert!(out.accounts[0].is_channel_account);
    assert_eq!(out.accounts[0].account.name, "Disney US TikTok");
    assert!(out.accounts[0].flags.is_empty(), "USD account, USD brand");
    let note = out.note.unwrap_or_default();
    assert!(note.contains("OMNITRAFFICK_TIKTOK_APP_ID"), "{note}");
    assert_eq!(w.fake.calls("tiktok advertiser lookup"), 0);
    w.finish().await;
}
