//! The fake platforms' creative upload endpoints (PLATFORMS.md K): Meta `adimages` (base64
//! `bytes`, listed by `name`) and `advideos` (multipart simple upload, or the resumable
//! start/transfer/finish phases) with `GET /{video_id}?fields=status` processing; TikTok
//! multipart `file/image/ad/upload/` and `file/video/ad/upload/` checking the MD5 signature,
//! their `search/` listings and `file/video/ad/info/`; Google `assets:mutate` with base64
//! `imageAsset.data` and GAQL over `asset.name`. Faults for "image" and "video" uploads come
//! from `fail_next` (a lost answer commits the asset first). A video needs
//! `processing_polls` status reads before it is ready.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use super::{FakePlatforms, FakeState, Fault, google_unavailable, meta_error, pause, tiktok};
use omnitraffick::platforms::client::md5_hex;

/// One file a platform holds.
#[derive(Debug, Clone)]
pub struct FakeAsset {
    /// META, TIKTOK or GOOGLE_ADS.
    pub platform: &'static str,
    /// image or video.
    pub kind: &'static str,
    pub id: String,
    pub name: String,
    pub signature: String,
    pub size: usize,
    /// Status reads left before a video is ready.
    pub polls_left: u32,
}

#[derive(Debug, Default)]
pub struct Uploads {
    pub assets: Vec<FakeAsset>,
    /// Status reads a new video needs before it is ready.
    pub processing_polls: u32,
    /// Bytes Meta asks for per resumable chunk (default 1,000).
    pub meta_chunk: usize,
    /// Resumable Meta sessions: id -> (video id, file size, bytes received).
    sessions: HashMap<String, (String, usize, Vec<u8>)>,
    /// Chunks received by Meta's transfer phase.
    pub chunks: u32,
}

impl FakePlatforms {
    /// Files the platform holds, of `kind` ("image" or "video").
    pub fn uploaded(&self, platform: &str, kind: &str) -> Vec<FakeAsset> {
        self.state
            .lock()
            .unwrap()
            .uploads
            .assets
            .iter()
            .filter(|a| a.platform == platform && a.kind == kind)
            .cloned()
            .collect()
    }

    /// Each new video needs this many status reads before it is processed.
    pub fn set_processing_polls(&self, n: u32) {
        self.state.lock().unwrap().uploads.processing_polls = n;
    }

    /// Resumable Meta uploads: bytes asked for per chunk.
    pub fn set_meta_chunk(&self, n: usize) {
        self.state.lock().unwrap().uploads.meta_chunk = n;
    }

    pub fn meta_chunks(&self) -> u32 {
        self.state.lock().unwrap().uploads.chunks
    }
}

/// Parts of a multipart/form-data body by name (file parts keep their bytes).
fn multipart(headers: &HeaderMap, body: &[u8]) -> Option<HashMap<String, Vec<u8>>> {
    let ct = headers.get("content-type")?.to_str().ok()?;
    let boundary = ct.split("boundary=").nth(1)?.trim_matches('"');
    let delim = format!("--{boundary}");
    let d = delim.as_bytes();
    let mut parts = HashMap::new();
    let mut pos = find(body, d, 0)? + d.len();
    loop {
        if body.get(pos..pos + 2) == Some(b"--") {
            break;
        }
        pos += 2; // \r\n
        let next = find(body, d, pos)?;
        let part = &body[pos..next.saturating_sub(2)];
        let split = find(part, b"\r\n\r\n", 0)?;
        let head = String::from_utf8_lossy(&part[..split]).to_string();
        let name = head.split("name=\"").nth(1)?.split('"').next()?.to_owned();
        parts.insert(name, part[split + 4..].to_vec());
        pos = next + d.len();
    }
    Some(parts)
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn text(parts: &HashMap<String, Vec<u8>>, k: &str) -> String {
    parts
        .get(k)
        .map(|v| String::from_utf8_lossy(v).to_string())
        .unwrap_or_default()
}

/// Register an asset; returns its id.
fn add(
    s: &mut FakeState,
    platform: &'static str,
    kind: &'static str,
    name: &str,
    bytes: &[u8],
) -> String {
    let id = match (platform, kind) {
        ("META", "image") => md5_hex(bytes),
        ("TIKTOK", "image") => format!("ad-site-i18n-sg/{}", s.new_id(9_000_000)),
        ("TIKTOK", "video") => format!("v10033g50000{}", s.new_id(7_000_000)),
        _ => s.new_id(5_000_000),
    };
    let polls_left = if kind == "video" {
        s.uploads.processing_polls
    } else {
        0
    };
    s.uploads.assets.push(FakeAsset {
        platform,
        kind,
        id: id.clone(),
        name: name.to_owned(),
        signature: md5_hex(bytes),
        size: bytes.len(),
        polls_left,
    });
    s.count(format!("{} {kind} upload", platform.to_lowercase()));
    id
}

/// Apply a scripted fault to an upload: `Some(response)` answers instead (after committing
/// the asset for a lost answer, via `commit`).
async fn faulted(
    state: &Arc<Mutex<FakeState>>,
    kind: &str,
    commit: impl FnOnce(&mut FakeState),
    server_error: Response,
) -> Option<Response> {
    let (fault, delay) = {
        let mut s = state.lock().unwrap();
        (s.fault_for(kind), s.lose_delay)
    };
    match fault {
        Some(Fault::Lose) => {
            commit(&mut state.lock().unwrap());
            tokio::time::sleep(delay).await;
            Some(server_error)
        }
        Some(Fault::ServerError) => Some(server_error),
        _ => None,
    }
}

fn meta_500() -> Response {
    meta_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"message": "An unknown error occurred", "type": "OAuthException", "code": 1, "is_transient": true}),
        &[],
    )
}

// ---------------------------------------------------------------- Meta

/// `POST act_<id>/adimages` with `bytes` (base64) and `name`.
pub async fn meta_adimages(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path((_version, _act)): Path<(String, String)>,
    axum::extract::Form(form): axum::extract::Form<HashMap<String, String>>,
) -> Response {
    pause(&state).await;
    if !form.contains_key("access_token") {
        return meta_error(
            StatusCode::BAD_REQUEST,
            json!({"message": "An access token is required", "code": 104}),
            &[],
        );
    }
    let Ok(bytes) = base64::engine::general_purpose::STANDARD
        .decode(form.get("bytes").map(String::as_str).unwrap_or_default())
    else {
        return meta_error(
            StatusCode::BAD_REQUEST,
            json!({"message": "(#100) Invalid image bytes", "code": 100}),
            &[],
        );
    };
    let name = form.get("name").cloned().unwrap_or_default();
    let (b, n) = (bytes.clone(), name.clone());
    if let Some(r) = faulted(
        &state,
        "image",
        move |s| {
            add(s, "META", "image", &n, &b);
        },
        meta_500(),
    )
    .await
    {
        return r;
    }
    let hash = add(&mut state.lock().unwrap(), "META", "image", &name, &bytes);
    Json(json!({"images": {"bytes": {"hash": hash, "url": format!("https://scontent.example/{hash}.png")}}}))
        .into_response()
}

/// `GET act_<id>/adimages?name=...`.
pub async fn meta_adimages_list(
    State(state): State<Arc<Mutex<FakeState>>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut s = state.lock().unwrap();
    s.count("meta image list".into());
    let name = q.get("name").cloned();
    let data: Vec<Value> = s
        .uploads
        .assets
        .iter()
        .filter(|a| a.platform == "META" && a.kind == "image")
        .filter(|a| name.as_ref().is_none_or(|n| &a.name == n))
        .map(|a| json!({"hash": a.id, "name": a.name, "status": "ACTIVE"}))
        .collect();
    Json(json!({"data": data})).into_response()
}

/// `POST act_<id>/advideos`: a multipart simple upload or transfer chunk, or a form-encoded
/// start/finish phase.
pub async fn meta_advideos(State(state): State<Arc<Mutex<FakeState>>>, req: Request) -> Response {
    let headers = req.headers().clone();
    let is_multipart = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let fields: HashMap<String, Vec<u8>> = if is_multipart {
        let Ok(body) = Bytes::from_request(req, &()).await else {
            return meta_500();
        };
        match multipart(&headers, &body) {
            Some(p) => p,
            None => {
                return meta_error(
                    StatusCode::BAD_REQUEST,
                    json!({"message": "(#100) malformed multipart body", "code": 100}),
                    &[],
                );
            }
        }
    } else {
        match axum::extract::Form::<HashMap<String, String>>::from_request(req, &()).await {
            Ok(axum::extract::Form(f)) => f.into_iter().map(|(k, v)| (k, v.into_bytes())).collect(),
            Err(_) => return meta_500(),
        }
    };
    if !fields.contains_key("access_token") {
        return meta_error(
            StatusCode::BAD_REQUEST,
            json!({"message": "An access token is required", "code": 104}),
            &[],
        );
    }
    let phase = text(&fields, "upload_phase");
    let mut s = state.lock().unwrap();
    let chunk = if s.uploads.meta_chunk == 0 {
        1000
    } else {
        s.uploads.meta_chunk
    };
    match phase.as_str() {
        "start" => {
            let size: usize = text(&fields, "file_size").parse().unwrap_or(0);
            let session = format!("sess-{}", s.new_id(100));
            let video_id = s.new_id(4_000_000);
            s.uploads
                .sessions
                .insert(session.clone(), (video_id.clone(), size, Vec::new()));
            Json(json!({"upload_session_id": session, "video_id": video_id,
                "start_offset": "0", "end_offset": chunk.min(size).to_string()}))
            .into_response()
        }
        "transfer" => {
            s.uploads.chunks += 1;
            let session = text(&fields, "upload_session_id");
            let offset: usize = text(&fields, "start_offset").parse().unwrap_or(usize::MAX);
            let data = fields.get("video_file_chunk").cloned().unwrap_or_default();
            let Some((_, size, received)) = s.uploads.sessions.get_mut(&session) else {
                return meta_error(
                    StatusCode::BAD_REQUEST,
                    json!({"message": "bad session", "code": 100}),
                    &[],
                );
            };
            if offset != received.len() {
                return meta_error(
                    StatusCode::BAD_REQUEST,
                    json!({"message": "wrong offset", "code": 100}),
                    &[],
                );
            }
            received.extend(data);
            let from = received.len();
            let to = (from + chunk).min(*size);
            Json(json!({"start_offset": from.to_string(), "end_offset": to.to_string()}))
                .into_response()
        }
        "finish" => {
            let session = text(&fields, "upload_session_id");
            let Some((video_id, size, received)) = s.uploads.sessions.remove(&session) else {
                return meta_error(
                    StatusCode::BAD_REQUEST,
                    json!({"message": "bad session", "code": 100}),
                    &[],
                );
            };
            if received.len() != size {
                return meta_error(
                    StatusCode::BAD_REQUEST,
                    json!({"message": "incomplete upload", "code": 100}),
                    &[],
                );
            }
            let title = text(&fields, "title");
            let polls_left = s.uploads.processing_polls;
            s.uploads.assets.push(FakeAsset {
                platform: "META",
                kind: "video",
                id: video_id,
                name: title,
                signature: md5_hex(&received),
                size,
                polls_left,
            });
            s.count("meta video upload".into());
            Json(json!({"success": true})).into_response()
        }
        _ => {
            let source = fields.get("source").cloned().unwrap_or_default();
            let title = text(&fields, "title");
            let id = add(&mut s, "META", "video", &title, &source);
            Json(json!({"id": id})).into_response()
        }
    }
}

/// `GET act_<id>/advideos?fields=id,title`.
pub async fn meta_advideos_list(State(state): State<Arc<Mutex<FakeState>>>) -> Response {
    let s = state.lock().unwrap();
    let data: Vec<Value> = s
        .uploads
        .assets
        .iter()
        .filter(|a| a.platform == "META" && a.kind == "video")
        .map(|a| json!({"id": a.id, "title": a.name}))
        .collect();
    Json(json!({"data": data})).into_response()
}

/// `GET /{video_id}?fields=status,length` for an uploaded video, else `None`.
pub fn meta_video_read(state: &Arc<Mutex<FakeState>>, id: &str) -> Option<Response> {
    let mut s = state.lock().unwrap();
    let a = s
        .uploads
        .assets
        .iter_mut()
        .find(|a| a.platform == "META" && a.kind == "video" && a.id == id)?;
    let status = if a.polls_left > 0 {
        a.polls_left -= 1;
        json!({"video_status": "processing", "processing_progress": 50})
    } else {
        json!({"video_status": "ready", "processing_progress": 100})
    };
    s.count("meta video status".into());
    Some(Json(json!({"id": id, "status": status, "length": 15.0})).into_response())
}

// ---------------------------------------------------------------- TikTok

/// Multipart `file/image/ad/upload/` and `file/video/ad/upload/`.
pub async fn tiktok_upload(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if headers.get("access-token").is_none() {
        return tiktok(40105, "Access token is null, please check.", json!({}));
    }
    let Some(parts) = multipart(&headers, &body) else {
        return tiktok(40002, "multipart body expected", json!({}));
    };
    let (kind, file_field, sig_field): (&'static str, &str, &str) = if kind == "image" {
        ("image", "image_file", "image_signature")
    } else {
        ("video", "video_file", "video_signature")
    };
    let file = parts.get(file_field).cloned().unwrap_or_default();
    if text(&parts, "upload_type") != "UPLOAD_BY_FILE" || text(&parts, "advertiser_id").is_empty() {
        return tiktok(
            40002,
            "upload_type and advertiser_id are required",
            json!({}),
        );
    }
    if text(&parts, sig_field) != md5_hex(&file) {
        return tiktok(
            40002,
            &format!("{sig_field} does not match the file's MD5"),
            json!({}),
        );
    }
    let name = text(&parts, "file_name");
    // File names are unique per advertiser (PLATFORMS.md K3/K4, 🟡).
    if state
        .lock()
        .unwrap()
        .uploads
        .assets
        .iter()
        .any(|a| a.platform == "TIKTOK" && a.kind == kind && a.name == name)
    {
        return tiktok(
            40002,
            "The file name already exists. Please rename it.",
            json!({}),
        );
    }
    let (f, n) = (file.clone(), name.clone());
    if let Some(r) = faulted(
        &state,
        kind,
        move |s| {
            add(s, "TIKTOK", kind, &n, &f);
        },
        tiktok(50000, "System error", json!({})),
    )
    .await
    {
        return r;
    }
    let id = add(&mut state.lock().unwrap(), "TIKTOK", kind, &name, &file);
    if kind == "image" {
        tiktok(
            0,
            "OK",
            json!({"image_id": id, "signature": md5_hex(&file), "size": file.len(), "file_name": name, "format": "png"}),
        )
    } else {
        tiktok(
            0,
            "OK",
            json!([{"video_id": id, "duration": 15.0, "signature": md5_hex(&file), "size": file.len(), "file_name": name, "displayable": false}]),
        )
    }
}

/// `file/image/ad/search/` and `file/video/ad/search/`, 100 per page.
pub async fn tiktok_search(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path(kind): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut s = state.lock().unwrap();
    s.count(format!("tiktok {kind} search"));
    let page: usize = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let id_key = if kind == "image" {
        "image_id"
    } else {
        "video_id"
    };
    let all: Vec<Value> = s
        .uploads
        .assets
        .iter()
        .filter(|a| a.platform == "TIKTOK" && a.kind == kind)
        .map(|a| json!({id_key: a.id, "file_name": a.name, "signature": a.signature, "size": a.size}))
        .collect();
    let total_page = all.len().div_ceil(100).max(1);
    let list: Vec<Value> = all.into_iter().skip((page - 1) * 100).take(100).collect();
    tiktok(
        0,
        "OK",
        json!({"list": list, "page_info": {"page": page, "page_size": 100, "total_page": total_page}}),
    )
}

/// `file/video/ad/info/?video_ids=[...]`: `displayable` once processed.
pub async fn tiktok_video_info(
    State(state): State<Arc<Mutex<FakeState>>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ids: Vec<String> = q
        .get("video_ids")
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default();
    let mut s = state.lock().unwrap();
    s.count("tiktok video info".into());
    let mut list = Vec::new();
    for a in s.uploads.assets.iter_mut() {
        if a.platform == "TIKTOK" && a.kind == "video" && ids.contains(&a.id) {
            let ready = a.polls_left == 0;
            a.polls_left = a.polls_left.saturating_sub(1);
            list.push(json!({"video_id": a.id, "displayable": ready, "duration": 15.0, "file_name": a.name}));
        }
    }
    tiktok(0, "OK", json!({"list": list}))
}

// ---------------------------------------------------------------- Google

/// `assets:mutate` creating an IMAGE asset from base64 `imageAsset.data`.
pub async fn google_asset_create(
    state: &Arc<Mutex<FakeState>>,
    cid: &str,
    body: &Value,
) -> Response {
    let create = &body["operations"][0]["create"];
    let Ok(bytes) = base64::engine::general_purpose::STANDARD
        .decode(create["imageAsset"]["data"].as_str().unwrap_or_default())
    else {
        return super::google_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            400,
            json!({"imageError": "INVALID_IMAGE"}),
            "The image is not valid.",
            json!({}),
        );
    };
    let name = create["name"].as_str().unwrap_or_default().to_owned();
    let (b, n) = (bytes.clone(), name.clone());
    if let Some(r) = faulted(
        state,
        "image",
        move |s| {
            add(s, "GOOGLE_ADS", "image", &n, &b);
        },
        google_unavailable(),
    )
    .await
    {
        return r;
    }
    let id = add(
        &mut state.lock().unwrap(),
        "GOOGLE_ADS",
        "image",
        &name,
        &bytes,
    );
    Json(json!({"results": [{"resourceName": format!("customers/{cid}/assets/{id}")}]}))
        .into_response()
}

/// GAQL `FROM asset WHERE asset.name = '...'`.
pub fn google_asset_search(state: &Arc<Mutex<FakeState>>, cid: &str, query: &str) -> Response {
    let name = query
        .split("asset.name = '")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .unwrap_or_default()
        .to_owned();
    let mut s = state.lock().unwrap();
    s.count("google asset search".into());
    let results: Vec<Value> = s
        .uploads
        .assets
        .iter()
        .filter(|a| a.platform == "GOOGLE_ADS" && a.name == name)
        .map(|a| json!({"asset": {"resourceName": format!("customers/{cid}/assets/{}", a.id)}}))
        .collect();
    Json(json!({"results": results})).into_response()
}
