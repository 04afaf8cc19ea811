//! Creative assets: one asset per brand and content, one platform upload per channel (even
//! after a lost answer), videos waited for with progress, files refused with the platform's
//! rule before anything is sent, and specs that name assets translating to each platform's
//! ids and deploying with on-demand uploads.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, ProgressNotificationParam};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use base64::Engine;
use common::fake_platforms::Fault;
use common::world::World;
use common::*;
use omnitraffick::assets::media::{minimal_mp4, png_header};
use omnitraffick::assets::{UploadOutcome, UploadRequest};
use omnitraffick::auth::Role;
use omnitraffick::error::AppError;

async fn world() -> World {
    World::build()
        .options(|o| {
            o.assets.poll_every = Duration::from_millis(20);
            o.assets.video_chunk_bytes = 2_000;
        })
        .start()
        .await
}

async fn upload(
    w: &World,
    channel: &str,
    name: &str,
    bytes: Vec<u8>,
) -> Result<UploadOutcome, AppError> {
    w.s.assets
        .upload(
            "tester",
            UploadRequest {
                brand_code: "DIS".into(),
                channel_code: channel.into(),
                file_name: name.into(),
                bytes,
            },
            None,
        )
        .await
}

/// Every upload the fake saw, on any platform.
fn upload_calls(w: &World) -> u64 {
    [
        "meta image upload",
        "meta video upload",
        "tiktok image upload",
        "tiktok video upload",
        "google_ads image upload",
    ]
    .iter()
    .map(|k| w.fake.calls(k))
    .sum()
}

#[tokio::test]
async fn the_same_bytes_uploaded_twice_are_one_asset_and_one_platform_call() {
    let w = world().await;
    let png = png_header(1080, 1080);
    let first = upload(&w, "META", "moana.png", png.clone())
        .await
        .expect("upload");
    assert!(
        !first.already_registered && first.sent_to_platform,
        "{first:?}"
    );
    assert_eq!(first.status, "READY");
    assert_eq!(first.asset.width, Some(1080));
    assert_eq!(first.asset.format, "png");
    let again = upload(&w, "META", "moana-copy.png", png.clone())
        .await
        .expect("again");
    assert!(
        again.already_registered && !again.sent_to_platform,
        "{again:?}"
    );
    assert_eq!(again.asset.asset_id, first.asset.asset_id);
    assert_eq!(again.platform_id, first.platform_id);
    assert_eq!(w.fake.uploaded("META", "image").len(), 1);
    assert_eq!(w.fake.calls("meta image upload"), 1);
    // The same asset on another platform: one more upload, still one asset.
    let google = upload(&w, "GADS", "moana.png", png).await.expect("google");
    assert_eq!(google.asset.asset_id, first.asset.asset_id);
    assert!(
        google
            .platform_id
            .as_deref()
            .unwrap_or_default()
            .starts_with("customers/1234567890/assets/"),
        "{google:?}"
    );
    let list = w.s.assets.list("DIS", None).await.expect("list");
    assert_eq!(list.assets.len(), 1);
    assert_eq!(list.assets[0].channels.len(), 2, "{:?}", list.assets[0]);
    assert!(list.assets[0].channels.iter().all(|c| c.status == "READY"));
}

#[tokio::test]
async fn an_upload_whose_answer_was_lost_is_found_not_sent_twice() {
    let w = world().await;
    for (channel, platform, dims) in [
        ("GADS", "GOOGLE_ADS", (1200, 628)),
        ("META", "META", (1080, 1080)),
        ("TIKTOK", "TIKTOK", (720, 1280)),
    ] {
        w.fake.fail_next("image", Fault::Lose);
        let out = upload(&w, channel, "lost.png", png_header(dims.0, dims.1))
            .await
            .unwrap_or_else(|e| panic!("{channel}: {e}"));
        assert_eq!(out.status, "READY", "{channel}: {out:?}");
        let held = w.fake.uploaded(platform, "image");
        assert_eq!(held.len(), 1, "{channel}: {held:?}");
        let id = out.platform_id.expect("platform id");
        assert!(
            id.ends_with(&held[0].id),
            "{channel}: {id} vs {:?}",
            held[0]
        );
    }
    assert!(w.fake.calls("google asset search") >= 1);
    assert!(w.fake.calls("meta image list") >= 1);
    assert!(w.fake.calls("tiktok image search") >= 1);
}

#[tokio::test]
async fn a_transient_failure_is_retried_once_the_platform_has_nothing() {
    let w = world().await;
    w.fake.fail_next("image", Fault::ServerError);
    let out = upload(&w, "META", "retry.png", png_header(1080, 1080))
        .await
        .expect("upload after a 500");
    assert_eq!(out.status, "READY");
    assert_eq!(w.fake.uploaded("META", "image").len(), 1);
}

#[tokio::test]
async fn a_corrupt_image_is_refused_before_any_platform_call() {
    let w = world().await;
    let mut corrupt = png_header(1080, 1080);
    corrupt.truncate(14);
    let e = upload(&w, "META", "broken.png", corrupt).await.unwrap_err();
    assert_eq!(e.field(), Some("content"), "{e}");
    assert!(e.to_string().contains("corrupt"), "{e}");
    let e = upload(&w, "TIKTOK", "notes.txt", b"just some text".to_vec())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("neither an image"), "{e}");
    assert_eq!(upload_calls(&w), 0);
    assert!(
        w.s.assets
            .list("DIS", None)
            .await
            .expect("list")
            .assets
            .is_empty()
    );
}

#[tokio::test]
async fn an_oversized_or_wrong_ratio_file_is_refused_with_the_platform_rule() {
    let w = world().await;
    let e = upload(&w, "META", "banner.png", png_header(1800, 600))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("between 4:5 and 1.91:1"), "{e}");
    let mut big = png_header(1200, 628);
    big.resize(6 * 1024 * 1024, 0);
    let e = upload(&w, "GADS", "big.png", big).await.unwrap_err();
    assert!(e.to_string().contains("at most 5 MB"), "{e}");
    let e = upload(&w, "GADS", "odd.png", png_header(1000, 700))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("1.91:1 (at least 600 x 314)"), "{e}");
    let e = upload(&w, "TIKTOK", "wide.mp4", minimal_mp4(1000, 700, 10_000, 0))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("9:16, 16:9 or 1:1"), "{e}");
    let e = upload(&w, "GADS", "clip.mp4", minimal_mp4(1080, 1920, 10_000, 0))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("YouTube"), "{e}");
    assert_eq!(upload_calls(&w), 0);
    assert!(
        w.s.assets
            .list("DIS", None)
            .await
            .expect("list")
            .assets
            .is_empty()
    );
}

#[tokio::test]
async fn a_large_meta_video_goes_in_chunks_and_is_waited_for() {
    let w = world().await;
    w.fake.set_processing_polls(2);
    w.fake.set_meta_chunk(1_000);
    let video = minimal_mp4(1080, 1920, 15_000, 4_500);
    let out = upload(&w, "META", "moana.mp4", video)
        .await
        .expect("upload");
    assert_eq!(out.status, "READY", "{out:?}");
    assert_eq!(out.asset.duration_ms, Some(15_000));
    assert_eq!(
        (out.asset.width, out.asset.height),
        (Some(1080), Some(1920))
    );
    assert!(w.fake.meta_chunks() >= 5, "{} chunks", w.fake.meta_chunks());
    let held = w.fake.uploaded("META", "video");
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].size, 4_500);
    assert_eq!(w.fake.calls("meta video status"), 3);
}

/// Progress notifications seen: (progress, message).
type Seen = Arc<Mutex<Vec<(f64, Option<String>)>>>;

/// Records the progress notifications an MCP client receives.
#[derive(Clone, Default)]
struct Watcher(Seen);

impl ClientHandler for Watcher {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: rmcp::service::NotificationContext<RoleClient>,
    ) {
        self.0
            .lock()
            .expect("lock")
            .push((params.progress, params.message));
    }

    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("omnitraffick-asset-tests", "0.1.0"),
        )
    }
}

/// MCP over HTTP in front of this world's own services (so uploads reach the fake).
async fn serve(w: &World) -> (String, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let opts = omnitraffick::http::HttpOptions::loopback(addr);
    let stop = CancellationToken::new();
    let app = omnitraffick::http::router(w.s.clone(), w.db.clone(), &opts, stop.child_token());
    let token = stop.clone();
    tokio::spawn(async move { omnitraffick::http::serve_on(listener, app, &opts, token).await });
    (format!("http://{addr}/mcp"), stop)
}

#[tokio::test]
async fn a_video_that_takes_several_polls_reports_progress_over_mcp() {
    let w = world().await;
    w.fake.set_processing_polls(3);
    let (url, stop) = serve(&w).await;
    let key = key(&w.db, Role::Trafficker).await;
    let watcher = Watcher::default();
    let seen = watcher.0.clone();
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url).auth_header(key),
    );
    let client = watcher.serve(transport).await.expect("connect");
    let video = minimal_mp4(1080, 1920, 12_000, 3_000);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&video);
    let mut params = rmcp::model::CallToolRequestParams::new("upload_creative").with_arguments(
        json!({"brand_code": "DIS", "channel_code": "TIKTOK", "file_name": "moana-9x16.mp4", "content_base64": b64})
            .as_object()
            .cloned()
            .expect("args"),
    );
    params.meta = Some(rmcp::model::RequestMetaObject::with_progress_token(
        rmcp::model::ProgressToken(rmcp::model::NumberOrString::Number(3)),
    ));
    let result = client.call_tool(params).await.expect("upload_creative");
    assert_ne!(result.is_error, Some(true), "{result:?}");
    let out = result.structured_content.expect("structured");
    assert_eq!(out["status"], "READY", "{out}");
    assert_eq!(out["asset"]["kind"], "VIDEO");
    assert_eq!(out["asset"]["duration_ms"], 12_000);
    let id = out["platform_id"].as_str().expect("video id").to_owned();
    assert!(id.starts_with("v10033g50000"), "{id}");
    assert_eq!(w.fake.calls("tiktok video info"), 4);
    let notes = world::wait_until("progress notifications", Duration::from_secs(5), || {
        let p = seen.lock().expect("lock").clone();
        async move {
            let processing = p
                .iter()
                .filter(|(_, m)| m.as_deref().is_some_and(|m| m.contains("processing")))
                .count();
            let ready = p
                .iter()
                .any(|(_, m)| m.as_deref().is_some_and(|m| m.contains("ready")));
            if processing >= 3 && ready {
                Ok(p)
            } else {
                Err(format!("{p:?}"))
            }
        }
    })
    .await;
    let steps: Vec<f64> = notes.iter().map(|(s, _)| *s).collect();
    assert!(steps.windows(2).all(|p| p[0] <= p[1]), "{steps:?}");
    // Listing shows it; bad base64 and a second identical upload are handled.
    let listed = call(&client, "list_creatives", json!({"brand_code": "DIS"}))
        .await
        .ok();
    assert_eq!(
        listed["assets"].as_array().expect("assets").len(),
        1,
        "{listed}"
    );
    let e = call(
        &client,
        "upload_creative",
        json!({"brand_code": "DIS", "channel_code": "TIKTOK", "file_name": "x.png", "content_base64": "not base64!!"}),
    )
    .await
    .err();
    assert_eq!(e["field"], "content_base64", "{e}");
    let again = call(
        &client,
        "upload_creative",
        json!({"brand_code": "DIS", "channel_code": "TIKTOK", "file_name": "moana-9x16.mp4", "content_base64": b64}),
    )
    .await
    .ok();
    assert_eq!(again["sent_to_platform"], false, "{again}");
    assert_eq!(w.fake.uploaded("TIKTOK", "video").len(), 1);
    client.cancel().await.expect("close");
    stop.cancel();
}

#[tokio::test]
async fn a_viewer_cannot_upload_and_http_cannot_read_server_paths() {
    let w = World::build().server().start().await;
    let viewer = key(&w.server().db, Role::Viewer).await;
    let client = Mcp::http(w.server(), Some(&viewer)).await;
    let b64 = base64::engine::general_purpose::STANDARD.encode(png_header(1080, 1080));
    let e = client
        .err(
            "upload_creative",
            json!({"brand_code": "DIS", "channel_code": "META", "file_name": "a.png", "content_base64": b64}),
        )
        .await;
    assert_eq!(e["code"], "FORBIDDEN", "{e}");
    let listed = client
        .ok("list_creatives", json!({"brand_code": "DIS"}))
        .await;
    assert!(listed["assets"].as_array().expect("assets").is_empty());
    let trafficker = key(&w.server().db, Role::Trafficker).await;
    let client = Mcp::http(w.server(), Some(&trafficker)).await;
    let e = client
        .err(
            "upload_creative",
            json!({"brand_code": "DIS", "channel_code": "META", "path": "/etc/passwd"}),
        )
        .await;
    assert_eq!(e["code"], "FORBIDDEN", "{e}");
    assert!(
        e["message"].as_str().unwrap_or_default().contains("stdio"),
        "{e}"
    );
    assert_eq!(upload_calls(&w), 0);
    w.finish().await;
}

fn spec(creative: Value, overrides: Value, placements: Value) -> Value {
    let mut c = json!({"headline": "Moana is back", "body": "Sail with Moana this March.",
        "link_url": "https://example.com/moana", "call_to_action": "LEARN_MORE"});
    if let (Some(c), Some(extra)) = (c.as_object_mut(), creative.as_object()) {
        c.extend(extra.clone());
    }
    json!({
        "objective": "TRAFFIC",
        "budget": {"amount": "19.99", "period": "DAILY"},
        "schedule": {"start_time": "2027-03-01T00:00:00-05:00", "end_time": "2027-03-31T23:59:59-05:00"},
        "targeting": {"countries": ["US"], "age_min": 18, "age_max": 34, "placements": placements},
        "creative": c,
        "overrides": overrides,
    })
}

fn meta_page() -> Value {
    json!({"meta": {"creative": {"object_story_spec": {"page_id": "1122334455"}}}})
}

async fn preview(w: &World, ticket: i64) -> Value {
    serde_json::to_value(w.s.qa.preview_payloads(ticket).await.expect("preview")).expect("json")
}

#[tokio::test]
async fn a_spec_with_asset_ids_translates_to_each_platform_id_and_deploys_uploading_on_demand() {
    let mut w = world().await;
    let square = upload(&w, "META", "square.png", png_header(1080, 1080))
        .await
        .expect("square");
    let wide = upload(&w, "GADS", "wide.png", png_header(1200, 628))
        .await
        .expect("wide");
    let sq_id = square.asset.asset_id.clone();
    let wide_id = wide.asset.asset_id.clone();
    upload(&w, "GADS", "square.png", png_header(1080, 1080))
        .await
        .expect("square on google");
    let video = upload(
        &w,
        "META",
        "clip.mp4",
        minimal_mp4(1080, 1920, 15_000, 1_500),
    )
    .await
    .expect("video on meta");
    let video_id = video.asset.asset_id.clone();

    // Meta: the image hash.
    let meta = w
        .ready_ticket(
            "META",
            "Asset Meta",
            spec(json!({"image_asset_ids": [sq_id]}), meta_page(), json!([])),
        )
        .await;
    let p = preview(&w, meta).await;
    let creative = &p["requests"][2]["body"];
    assert_eq!(
        creative["object_story_spec"]["link_data"]["image_hash"],
        json!(square.platform_id.clone().expect("hash")),
        "{creative}"
    );
    // Meta with a video: video_data with the video id and the image as thumbnail.
    let meta_video = w
        .ready_ticket(
            "META",
            "Asset Meta Video",
            spec(
                json!({"video_asset_id": video_id, "image_asset_ids": [sq_id]}),
                meta_page(),
                json!([]),
            ),
        )
        .await;
    let p = preview(&w, meta_video).await;
    let vd = &p["requests"][2]["body"]["object_story_spec"]["video_data"];
    assert_eq!(
        vd["video_id"],
        json!(video.platform_id.clone().expect("video id")),
        "{p}"
    );
    assert_eq!(
        vd["image_hash"],
        json!(square.platform_id.clone().expect("hash"))
    );

    // Google: images sorted into the display ad's fields by shape.
    let google = w
        .ready_ticket(
            "GADS",
            "Asset Google",
            spec(
                json!({"image_asset_ids": [wide_id, sq_id]}),
                json!({}),
                json!(["DISPLAY_NETWORK"]),
            ),
        )
        .await;
    let p = preview(&w, google).await;
    let rda = &p["requests"]
        .as_array()
        .expect("requests")
        .last()
        .expect("ad")["body"]["operations"][0]["create"]["ad"]["responsiveDisplayAd"];
    assert_eq!(
        rda["marketingImages"][0]["asset"],
        json!(wide.platform_id.clone().expect("rn")),
        "{rda}"
    );
    assert!(
        rda["squareMarketingImages"][0]["asset"]
            .as_str()
            .unwrap_or_default()
            .starts_with("customers/1234567890/assets/"),
        "{rda}"
    );

    // TikTok: the video is not on TikTok yet; the preview says where it goes, the deploy
    // uploads it (waiting for processing) and the ad carries its video_id.
    w.fake.set_processing_polls(1);
    let tiktok = w
        .ready_ticket(
            "TIKTOK",
            "Asset TikTok",
            spec(json!({"video_asset_id": video_id}), json!({}), json!([])),
        )
        .await;
    let p = preview(&w, tiktok).await;
    assert_eq!(
        p["requests"][2]["body"]["creatives"][0]["video_id"],
        json!(format!("{{{{asset:{video_id}}}}}")),
        "{p}"
    );
    // An unknown asset is a QA block at its field path.
    let unknown = common::world::draft_ticket(
        &w.s,
        "META",
        "Asset Unknown",
        spec(
            json!({"image_asset_ids": ["no-such-asset"]}),
            meta_page(),
            json!([]),
        ),
    )
    .await;
    let qa =
        w.s.qa
            .run_qa(
                &common::world::me(),
                from_json(json!({"ticket_id": unknown})),
            )
            .await
            .expect("qa");
    let report = serde_json::to_value(&qa.report).expect("report");
    let text = report.to_string();
    assert!(
        text.contains("payload_config.creative.image_asset_ids[0]"),
        "{text}"
    );
    assert!(text.contains("no creative asset"), "{text}");
    // Raw ids in overrides still win.
    let raw = w
        .ready_ticket(
            "META",
            "Asset Raw",
            spec(
                json!({"image_asset_ids": [sq_id]}),
                json!({"meta": {"creative": {"object_story_spec": {"page_id": "1122334455", "link_data": {"image_hash": "rawhash123"}}}}}),
                json!([]),
            ),
        )
        .await;
    let p = preview(&w, raw).await;
    assert_eq!(
        p["requests"][2]["body"]["object_story_spec"]["link_data"]["image_hash"],
        "rawhash123"
    );

    w.start_workers();
    for t in [meta, tiktok] {
        w.queue_deploy(t).await;
        w.wait_status(t, "TRAFFICKED_SUCCESS").await;
    }
    let on_tiktok = w.fake.uploaded("TIKTOK", "video");
    assert_eq!(on_tiktok.len(), 1, "{on_tiktok:?}");
    let ads = w.fake.objects("ad");
    let tiktok_ad = ads
        .iter()
        .find(|o| o.platform == "TIKTOK")
        .expect("tiktok ad");
    assert_eq!(
        tiktok_ad.body["creatives"][0]["video_id"],
        json!(on_tiktok[0].id),
        "{:?}",
        tiktok_ad.body
    );
    let meta_creative = w
        .fake
        .objects("creative")
        .into_iter()
        .find(|o| o.platform == "META")
        .expect("meta creative");
    assert_eq!(
        meta_creative.body["object_story_spec"]["link_data"]["image_hash"],
        json!(square.platform_id.expect("hash"))
    );
    let listed = w.s.assets.list("DIS", None).await.expect("list");
    let v = listed
        .assets
        .iter()
        .find(|a| a.asset_id == video_id)
        .expect("video listed");
    assert!(
        v.channels
            .iter()
            .any(|c| c.channel_code == "TIKTOK" && c.status == "READY"),
        "{v:?}"
    );
    w.finish().await;
}

#[tokio::test]
async fn a_live_edit_may_name_an_asset_only_once_it_is_on_the_channel() {
    let mut w = world().await;
    w.start_workers();
    let first = upload(&w, "META", "first.png", png_header(1080, 1080))
        .await
        .expect("first");
    let t = w
        .ready_ticket(
            "META",
            "Asset Live",
            spec(
                json!({"image_asset_ids": [first.asset.asset_id]}),
                meta_page(),
                json!([]),
            ),
        )
        .await;
    w.queue_deploy(t).await;
    w.wait_status(t, "TRAFFICKED_SUCCESS").await;
    // Registered for the brand, but only on Google: a live Meta edit cannot use it yet.
    let other = upload(&w, "GADS", "second.png", png_header(1200, 1200))
        .await
        .expect("second");
    let after = spec(
        json!({"image_asset_ids": [other.asset.asset_id]}),
        meta_page(),
        json!([]),
    );
    let who = common::world::me();
    let e =
        w.s.changes
            .request(
                &who,
                t,
                omnitraffick::domain::ChangeKind::Edit,
                Some(after.clone()),
                "new image",
                None,
            )
            .await
            .unwrap_err();
    assert!(e.to_string().contains("not on channel META yet"), "{e}");
    // Once uploaded to Meta, the same edit is planned (and waits for confirmation).
    upload(&w, "META", "second.png", png_header(1200, 1200))
        .await
        .expect("on meta");
    let out =
        w.s.changes
            .request(
                &who,
                t,
                omnitraffick::domain::ChangeKind::Edit,
                Some(after),
                "new image",
                None,
            )
            .await
            .expect("edit planned");
    let out = serde_json::to_value(&out).expect("json");
    assert_ne!(out["change"]["status"], "FAILED", "{out}");
    w.finish().await;
}

#[tokio::test]
async fn over_stdio_a_server_path_is_read_and_checked() {
    let tdb = fresh_db().await;
    let (db, s) = open(&tdb).await;
    seed_services(&s, &[META]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("broken.png");
    std::fs::write(&broken, &png_header(1080, 1080)[..14]).expect("write");
    let client = Mcp::stdio(&tdb).await;
    let e = client
        .err(
            "upload_creative",
            json!({"brand_code": "DIS", "channel_code": "META", "path": broken.display().to_string()}),
        )
        .await;
    assert_eq!(e["field"], "content", "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or_default()
            .contains("corrupt"),
        "{e}"
    );
    let e = client
        .err(
            "upload_creative",
            json!({"brand_code": "DIS", "channel_code": "META", "path": dir.path().join("missing.png").display().to_string()}),
        )
        .await;
    assert_eq!(e["field"], "path", "{e}");
    client.close().await;
    db.close().await;
}

#[test]
fn the_upload_command_explains_itself() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_omnitraffick"))
        .args(["upload", "--help"])
        .output()
        .expect("run omnitraffick upload --help");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for want in [
        "--brand",
        "--channel",
        "image_asset_ids",
        "refused with the rule",
    ] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
}

#[tokio::test]
async fn the_same_file_from_another_brand_on_the_same_tiktok_advertiser_is_found_not_refused() {
    let w = world().await;
    w.s.governance
        .create_brand(from_json(json!(
            {"name": "Pixar", "code": "PIX", "family_friendly": true, "currency": "USD"}
        )))
        .await
        .expect("brand");
    let png = png_header(720, 1280);
    let dis = upload(&w, "TIKTOK", "cover.png", png.clone())
        .await
        .expect("DIS");
    let pix =
        w.s.assets
            .upload(
                "tester",
                UploadRequest {
                    brand_code: "PIX".into(),
                    channel_code: "TIKTOK".into(),
                    file_name: "cover.png".into(),
                    bytes: png,
                },
                None,
            )
            .await
            .expect("PIX finds the image TikTok already holds");
    assert_ne!(
        pix.asset.asset_id, dis.asset.asset_id,
        "one asset per brand"
    );
    assert_eq!(pix.platform_id, dis.platform_id);
    assert_eq!(w.fake.uploaded("TIKTOK", "image").len(), 1);
}

#[tokio::test]
async fn two_concurrent_uploads_of_the_same_file_send_it_once() {
    let w = world().await;
    w.fake.set_random(
        common::fake_platforms::RandomFaults::default(),
        Duration::from_millis(250),
    );
    let png = png_header(1080, 1080);
    let (a, b) = tokio::join!(
        upload(&w, "META", "a.png", png.clone()),
        upload(&w, "META", "b.png", png.clone())
    );
    let ok: Vec<&UploadOutcome> = [&a, &b]
        .into_iter()
        .filter_map(|r| r.as_ref().ok())
        .collect();
    assert!(!ok.is_empty(), "{a:?} {b:?}");
    for r in [&a, &b] {
        if let Err(e) = r {
            assert_eq!(e.code(), "CONFLICT", "{e}");
            assert!(e.to_string().contains("call upload_creative again"), "{e}");
        }
    }
    assert_eq!(w.fake.uploaded("META", "image").len(), 1);
    // Called again, the one that was turned away gets the result without a new upload.
    let again = upload(&w, "META", "b.png", png).await.expect("again");
    assert_eq!(again.status, "READY");
    assert_eq!(w.fake.uploaded("META", "image").len(), 1);
}
