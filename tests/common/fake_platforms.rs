//! A fake of the three ad platforms at the HTTP boundary, speaking their real wire formats:
//! Meta Graph (form POSTs, `error` envelope), TikTok v1.3 (`Access-Token`, `code` envelope,
//! errors on HTTP 200) and Google Ads REST (`:mutate`, `googleAds:search`, `google.rpc.Status`
//! errors). It keeps what it "created" so tests can count duplicates, and injects faults:
//! scripted ones for a given object, or random ones for benchmarks. A lost response commits
//! the object and then answers too late for the client.
//!
//! Live objects: it serves reads and updates of what it created (Meta `GET`/`POST
//! /{version}/{id}`; TikTok `*/get/`, `*/status/update/`, `campaign/update/`,
//! `adgroup/update/`; Google `googleAds:search` by resource name and `:mutate` with an
//! `update` and its `updateMask`), counts applied writes per object id, and takes faults for
//! reads and updates separately from creates (`fail_next_read`, `fail_next_update`).
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

#[path = "fake_reports.rs"]
mod reports;
#[path = "fake_uploads.rs"]
mod uploads;

#[path = "fake_lookups.rs"]
mod lookups;
#[allow(unused_imports)]
pub use lookups::{TIKTOK_APP_ID, TIKTOK_APP_SECRET};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Throttled: Meta HTTP 429 + Retry-After, TikTok code 40100, Google RESOURCE_EXHAUSTED.
    RateLimit { retry_after_secs: u64 },
    /// 5xx (or TikTok code 50000) without creating anything.
    ServerError,
    /// Creates the object, then answers after `lose_delay` (the client has given up).
    Lose,
    /// A permanent validation error (Meta 100/1885621, TikTok 40002, Google fieldError).
    Reject,
    /// Applies an update, then answers 5xx: the client cannot tell it happened.
    AppliedServerError,
}

#[derive(Debug, Clone)]
pub struct Obj {
    pub platform: &'static str,
    pub kind: String,
    pub id: String,
    pub name: Option<String>,
    pub parent: Option<String>,
    pub body: Value,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct RandomFaults {
    pub rate_limit: f64,
    pub server_error: f64,
    pub lose: f64,
}

#[derive(Default)]
pub struct FakeState {
    pub objects: Vec<Obj>,
    next_id: u64,
    scripted: VecDeque<(String, Fault)>,
    pub random: RandomFaults,
    pub latency: Duration,
    pub lose_delay: Duration,
    /// Requests seen, by "platform kind action".
    pub calls: HashMap<String, u64>,
    /// Auth headers/params seen (to check they were sent).
    pub tokens_seen: Vec<String>,
    /// Replaces the platform's error body for `Fault::Reject` (Meta: the `error` object;
    /// TikTok: the whole envelope).
    pub reject_with: Option<Value>,
    /// Conversion-event batches received: (platform, body with `data` parsed).
    pub events: Vec<(&'static str, Value)>,
    /// Answer the next N event batches with a rate limit.
    pub events_rate_limited: u32,
    /// Answer the next N Meta event batches with HTTP 500.
    pub events_server_error: u32,
    /// Throttle the next N Meta event batches (only Meta) with this Retry-After, in seconds.
    pub meta_events_throttled: (u32, &'static str),
    /// Applied updates per object id (a status update of several ids counts once for each).
    pub writes: HashMap<String, u64>,
    /// Meta: budget changes per ad set; the fifth is throttled (at most 4 per hour, A5).
    pub meta_budget_changes: HashMap<String, u32>,
    /// Daily delivery the reporting endpoints answer with (see `fake_reports.rs`).
    pub reports: reports::Reports,
    /// Creative uploads the platforms hold (see `fake_uploads.rs`).
    pub uploads: uploads::Uploads,
    rng: u64,
    /// TikTok: object ids whose updates are refused inside a code-0 answer (`data.error_list`).
    pub tiktok_error_list: Vec<String>,
}

impl FakeState {
    fn roll(&mut self) -> f64 {
        // xorshift: deterministic, good enough for fault injection.
        let mut x = self.rng.max(1);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x % 1_000_000) as f64 / 1_000_000.0
    }

    fn fault_for(&mut self, kind: &str) -> Option<Fault> {
        if let Some(pos) = self
            .scripted
            .iter()
            .position(|(k, _)| k == kind || k == "*")
        {
            return self.scripted.remove(pos).map(|(_, f)| f);
        }
        let r = self.random;
        if r.rate_limit + r.server_error + r.lose <= 0.0 {
            return None;
        }
        let x = self.roll();
        if x < r.rate_limit {
            Some(Fault::RateLimit {
                retry_after_secs: 0,
            })
        } else if x < r.rate_limit + r.server_error {
            Some(Fault::ServerError)
        } else if x < r.rate_limit + r.server_error + r.lose {
            Some(Fault::Lose)
        } else {
            None
        }
    }

    fn new_id(&mut self, base: u64) -> String {
        self.next_id += 1;
        (base + self.next_id).to_string()
    }

    fn count(&mut self, key: String) {
        *self.calls.entry(key).or_default() += 1;
    }
}

#[derive(Clone)]
pub struct FakePlatforms {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<FakeState>>,
}

impl FakePlatforms {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(FakeState {
            lose_delay: Duration::from_millis(1500),
            rng: 0x9E37_79B9_7F4A_7C15,
            ..Default::default()
        }));
        let app = Router::new()
            .route(
                "/{version}/{parent}/adimages",
                post(uploads::meta_adimages).get(uploads::meta_adimages_list),
            )
            .route(
                "/{version}/{parent}/advideos",
                post(uploads::meta_advideos).get(uploads::meta_advideos_list),
            )
            .route(
                "/open_api/v1.3/file/{kind}/ad/upload/",
                post(uploads::tiktok_upload),
            )
            .route(
                "/open_api/v1.3/file/{kind}/ad/search/",
                get(uploads::tiktok_search),
            )
            .route(
                "/open_api/v1.3/file/{kind}/ad/info/",
                get(uploads::tiktok_video_info),
            )
            .route(
                "/{version}/{parent}/{edge}",
                post(meta_create).get(meta_list),
            )
            .route("/{version}/{id}", get(meta_read).post(meta_update))
            .route("/open_api/v1.3/{kind}/create/", post(tiktok_create))
            .route("/open_api/v1.3/{kind}/get/", get(tiktok_get))
            .route(
                "/open_api/v1.3/{kind}/status/update/",
                post(tiktok_status_update),
            )
            .route("/open_api/v1.3/{kind}/update/", post(tiktok_update))
            .route("/open_api/v1.3/event/track/", post(tiktok_events))
            .route(
                "/open_api/v1.3/report/integrated/get/",
                get(reports::tiktok_report),
            )
            .route("/{version}/customers/{cid}/{op}", post(google))
            .route(
                "/open_api/v1.3/oauth2/advertiser/get/",
                get(lookups::tiktok_advertisers),
            )
            .route(
                "/open_api/v1.3/advertiser/info/",
                get(lookups::tiktok_advertiser_info),
            )
            .route(
                "/open_api/v1.3/identity/get/",
                get(lookups::tiktok_identities),
            )
            .route("/open_api/v1.3/pixel/list/", get(lookups::tiktok_pixels))
            .route(
                "/open_api/v1.3/tool/interest_category/",
                get(lookups::tiktok_interest_categories),
            )
            .route("/open_api/v1.3/tool/region/", get(lookups::tiktok_regions))
            .route(
                "/open_api/v1.3/ad/audience_size/estimate/",
                post(lookups::tiktok_audience_size),
            )
            .route(
                "/{version}/customers:listAccessibleCustomers",
                get(lookups::google_accessible_customers),
            )
            .route(
                "/{version}/geoTargetConstants:suggest",
                post(lookups::google_geo_suggest),
            )
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake platforms");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next create of `kind` ("campaign", "adset", ...; "*" for any) meets `fault`.
    pub fn fail_next(&self, kind: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .scripted
            .push_back((kind.to_owned(), fault));
    }

    /// The next update (Meta `POST /{id}`, TikTok `*/update/`, Google `update` operation) of an
    /// object of `kind` meets `fault`.
    pub fn fail_next_update(&self, kind: &str, fault: Fault) {
        self.fail_next(&format!("update {kind}"), fault);
    }

    /// The next read (Meta `GET /{id}`, TikTok `*/get/`, Google search) of `kind` meets `fault`.
    pub fn fail_next_read(&self, kind: &str, fault: Fault) {
        self.fail_next(&format!("read {kind}"), fault);
    }

    /// Applied updates of the object with this id.
    pub fn writes(&self, id: &str) -> u64 {
        self.state
            .lock()
            .unwrap()
            .writes
            .get(id)
            .copied()
            .unwrap_or(0)
    }

    /// The object with this id, as it stands now.
    pub fn object(&self, id: &str) -> Option<Obj> {
        self.state
            .lock()
            .unwrap()
            .objects
            .iter()
            .find(|o| o.id == id)
            .cloned()
    }

    /// Set fields of a stored object directly (as if changed in the platform's UI).
    pub fn set_field(&self, id: &str, field: &str, value: Value) {
        let mut s = self.state.lock().unwrap();
        if let Some(o) = s.objects.iter_mut().find(|o| o.id == id) {
            o.body[field] = value;
        }
    }

    pub fn set_random(&self, faults: RandomFaults, latency: Duration) {
        let mut s = self.state.lock().unwrap();
        s.random = faults;
        s.latency = latency;
    }

    pub fn reject_with(&self, body: Value) {
        self.state.lock().unwrap().reject_with = Some(body);
    }

    pub fn set_lose_delay(&self, d: Duration) {
        self.state.lock().unwrap().lose_delay = d;
    }

    pub fn objects(&self, kind: &str) -> Vec<Obj> {
        self.state
            .lock()
            .unwrap()
            .objects
            .iter()
            .filter(|o| o.kind == kind)
            .cloned()
            .collect()
    }

    pub fn calls(&self, key: &str) -> u64 {
        self.state
            .lock()
            .unwrap()
            .calls
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    /// Names created more than once for the same kind under the same parent.
    pub fn duplicates(&self) -> usize {
        let s = self.state.lock().unwrap();
        let mut seen: HashMap<(String, Option<String>, Option<String>), usize> = HashMap::new();
        for o in &s.objects {
            if o.name.is_some() {
                *seen
                    .entry((o.kind.clone(), o.name.clone(), o.parent.clone()))
                    .or_default() += 1;
            }
        }
        seen.values().filter(|n| **n > 1).map(|n| n - 1).sum()
    }
}

type Shared = State<Arc<Mutex<FakeState>>>;

async fn pause(state: &Arc<Mutex<FakeState>>) {
    let latency = state.lock().unwrap().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
}

// ---------------------------------------------------------------- Meta

fn meta_kind(edge: &str) -> Option<&'static str> {
    match edge {
        "campaigns" => Some("campaign"),
        "adsets" => Some("adset"),
        "adcreatives" => Some("creative"),
        "ads" => Some("ad"),
        _ => None,
    }
}

fn meta_error(status: StatusCode, error: Value, headers: &[(&str, String)]) -> Response {
    let mut resp = (status, Json(json!({ "error": error }))).into_response();
    for (k, v) in headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            axum::http::HeaderValue::from_str(v),
        ) {
            resp.headers_mut().insert(name, value);
        }
    }
    resp
}

async fn meta_create(
    State(state): Shared,
    Path((_version, parent, edge)): Path<(String, String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    pause(&state).await;
    if edge == "events" {
        return meta_events(&state, &parent, &form);
    }
    let Some(kind) = meta_kind(&edge) else {
        return meta_error(
            StatusCode::BAD_REQUEST,
            json!({"message": "Unknown path components", "type": "OAuthException", "code": 2500}),
            &[],
        );
    };
    let Some(token) = form.get("access_token").cloned() else {
        return meta_error(
            StatusCode::BAD_REQUEST,
            json!({"message": "An access token is required to request this resource.", "type": "OAuthException", "code": 104, "fbtrace_id": "AtokenMissing"}),
            &[],
        );
    };
    let validate_only = form
        .get("execution_options")
        .is_some_and(|v| v.contains("validate_only"));
    let fault = {
        let mut s = state.lock().unwrap();
        s.tokens_seen.push(token);
        s.count(format!("meta {kind} create"));
        if validate_only {
            None
        } else {
            s.fault_for(kind)
        }
    };
    match fault {
        Some(Fault::RateLimit { retry_after_secs }) => {
            return meta_error(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"message": "(#17) User request limit reached", "type": "OAuthException", "code": 17, "error_subcode": 2446079, "is_transient": true, "fbtrace_id": "ArateLimit17"}),
                &[("retry-after", retry_after_secs.to_string())],
            );
        }
        Some(Fault::ServerError) => {
            return meta_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"message": "An unexpected error has occurred. Please retry your request later.", "type": "OAuthException", "code": 2, "is_transient": true, "fbtrace_id": "Aunavailable2"}),
                &[],
            );
        }
        Some(Fault::Reject) if state.lock().unwrap().reject_with.is_some() => {
            let body = state
                .lock()
                .unwrap()
                .reject_with
                .clone()
                .unwrap_or_default();
            return meta_error(StatusCode::BAD_REQUEST, body, &[]);
        }
        Some(Fault::Reject) => {
            return meta_error(
                StatusCode::BAD_REQUEST,
                json!({"message": "Invalid parameter", "type": "OAuthException", "code": 100, "error_subcode": 1885621, "is_transient": false,
                       "error_user_title": "Can't Set Ad Set Budget When Campaign Budget Is Set",
                       "error_user_msg": "Your campaign already has a budget, so you can't set a budget for the ad set.",
                       "error_data": "{\"blame_field_specs\":[[\"daily_budget\"]]}", "fbtrace_id": "AbudgetClash"}),
                &[],
            );
        }
        _ => {}
    }
    if validate_only {
        return Json(json!({"success": true})).into_response();
    }
    let parent_id = match kind {
        "adset" => form.get("campaign_id").cloned(),
        "ad" => form.get("adset_id").cloned(),
        _ => Some(parent.clone()),
    };
    let body: Value = form
        .iter()
        .filter(|(k, _)| k.as_str() != "access_token")
        .map(|(k, v)| {
            (
                k.clone(),
                serde_json::from_str(v).unwrap_or(Value::String(v.clone())),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    let (id, lose, delay) = {
        let mut s = state.lock().unwrap();
        let id = s.new_id(120_000_000_000_000);
        s.objects.push(Obj {
            platform: "META",
            kind: kind.to_owned(),
            id: id.clone(),
            name: form.get("name").cloned(),
            parent: parent_id,
            body,
        });
        (id, fault == Some(Fault::Lose), s.lose_delay)
    };
    if lose {
        tokio::time::sleep(delay).await;
    }
    Json(json!({ "id": id })).into_response()
}

/// Meta CAPI: `POST /{version}/{pixel}/events` with form fields data, access_token, test_event_code.
fn meta_events(
    state: &Arc<Mutex<FakeState>>,
    pixel: &str,
    form: &HashMap<String, String>,
) -> Response {
    let mut s = state.lock().unwrap();
    if !form.contains_key("access_token") {
        return meta_error(
            StatusCode::BAD_REQUEST,
            json!({"message": "An access token is required.", "type": "OAuthException", "code": 104}),
            &[],
        );
    }
    if s.events_server_error > 0 {
        s.events_server_error -= 1;
        return meta_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"message": "An unexpected error has occurred. Please retry your request later.", "type": "OAuthException", "code": 2, "is_transient": true, "fbtrace_id": "Acapi500"}),
            &[],
        );
    }
    let throttle_for = if s.meta_events_throttled.0 > 0 {
        s.meta_events_throttled.0 -= 1;
        Some(s.meta_events_throttled.1)
    } else if s.events_rate_limited > 0 {
        s.events_rate_limited -= 1;
        Some("0")
    } else {
        None
    };
    if let Some(retry_after) = throttle_for {
        return meta_error(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"message": "(#4) Application request limit reached", "type": "OAuthException", "code": 4, "is_transient": true, "fbtrace_id": "Acapi429"}),
            &[("retry-after", retry_after.into())],
        );
    }
    let data: Value = form
        .get("data")
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or(Value::Null);
    let Some(list) = data.as_array() else {
        return meta_error(
            StatusCode::BAD_REQUEST,
            json!({"message": "(#100) The parameter data is required", "type": "OAuthException", "code": 100, "fbtrace_id": "Anodata"}),
            &[],
        );
    };
    let n = list.len();
    s.events.push((
        "META",
        json!({"pixel": pixel, "data": data, "test_event_code": form.get("test_event_code")}),
    ));
    Json(json!({"events_received": n, "messages": [], "fbtrace_id": "Acapiok"})).into_response()
}

/// TikTok Events API 2.0: `POST /open_api/v1.3/event/track/`.
async fn tiktok_events(
    State(state): Shared,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if headers.get("access-token").is_none() {
        return tiktok(40105, "Access token is null, please check.", json!({}));
    }
    let mut s = state.lock().unwrap();
    if s.events_rate_limited > 0 {
        s.events_rate_limited -= 1;
        return tiktok(
            40100,
            "Too many requests. Please retry in some time.",
            json!({}),
        );
    }
    s.events.push(("TIKTOK", body));
    tiktok(0, "OK", json!({}))
}

async fn meta_list(
    State(state): Shared,
    Path((_version, parent, edge)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    pause(&state).await;
    if let Some(r) = lookups::meta_edge(&state, &parent, &edge, &q) {
        return r;
    }
    if edge == "insights" && q.contains_key("access_token") {
        return reports::meta_insights(&state, &parent, &q);
    }
    let Some(kind) = meta_kind(&edge) else {
        return meta_error(
            StatusCode::BAD_REQUEST,
            json!({"message": "Unknown path components", "type": "OAuthException", "code": 2500}),
            &[],
        );
    };
    if !q.contains_key("access_token") {
        return meta_error(
            StatusCode::BAD_REQUEST,
            json!({"message": "An access token is required to request this resource.", "type": "OAuthException", "code": 104}),
            &[],
        );
    }
    if edge == "campaigns" && !q.contains_key("filtering") {
        return meta_campaign_page(&state, &parent, &q);
    }
    let wanted: Option<String> = q
        .get("filtering")
        .and_then(|f| serde_json::from_str::<Value>(f).ok())
        .and_then(|f| {
            f.as_array()?
                .iter()
                .find(|c| c["field"] == "name" && c["operator"] == "EQUAL")
                .and_then(|c| c["value"].as_str().map(str::to_owned))
        });
    let mut s = state.lock().unwrap();
    s.count(format!("meta {kind} list"));
    let data: Vec<Value> = s
        .objects
        .iter()
        .filter(|o| {
            o.platform == "META" && o.kind == kind && o.parent.as_deref() == Some(parent.as_str())
        })
        .filter(|o| wanted.is_none() || o.name == wanted)
        .map(|o| json!({"id": o.id, "name": o.name}))
        .collect();
    Json(json!({"data": data, "paging": {"cursors": {"before": "MAZDZD", "after": "MAZDZD"}}}))
        .into_response()
}

// ---------------------------------------------------------------- Meta live objects

/// Meta money fields: integers on write, budgets read back as strings (H1.3).
const META_STRING_MONEY: &[&str] = &[
    "daily_budget",
    "lifetime_budget",
    "spend_cap",
    "budget_remaining",
];

/// The account's time zone: Meta answers datetimes in it, whatever offset was sent.
fn meta_account_time(v: &Value) -> Value {
    let Some(s) = v.as_str() else {
        return v.clone();
    };
    match chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z") {
        Ok(t) => {
            let la = chrono::FixedOffset::west_opt(7 * 3600).expect("offset");
            json!(
                t.with_timezone(&la)
                    .format("%Y-%m-%dT%H:%M:%S%z")
                    .to_string()
            )
        }
        Err(_) => v.clone(),
    }
}

fn meta_no_object(id: &str) -> Response {
    meta_error(
        StatusCode::BAD_REQUEST,
        json!({"message": format!("Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."),
               "type": "GraphMethodException", "code": 100, "error_subcode": 33, "fbtrace_id": "AnoObject33"}),
        &[],
    )
}

fn meta_status_of(s: &FakeState, id: Option<&str>) -> String {
    id.and_then(|id| s.objects.iter().find(|o| o.id == id))
        .and_then(|o| o.body["status"].as_str())
        .unwrap_or("ACTIVE")
        .to_owned()
}

/// effective_status: the object's own status, else a paused parent (H1.4).
fn meta_effective(s: &FakeState, o: &Obj) -> String {
    // Set by a test (review, billing): what Meta decided, whatever the configured status.
    if let Some(forced) = o.body["effective_status"].as_str() {
        return forced.to_owned();
    }
    let own = o.body["status"].as_str().unwrap_or("ACTIVE");
    if own != "ACTIVE" {
        return own.to_owned();
    }
    let parent = s.objects.iter().find(|p| Some(&p.id) == o.parent.as_ref());
    match o.kind.as_str() {
        "adset" if meta_status_of(s, o.parent.as_deref()) == "PAUSED" => "CAMPAIGN_PAUSED".into(),
        "ad" => {
            if meta_status_of(s, o.parent.as_deref()) == "PAUSED" {
                "ADSET_PAUSED".into()
            } else if meta_status_of(s, parent.and_then(|p| p.parent.as_deref())) == "PAUSED" {
                "CAMPAIGN_PAUSED".into()
            } else {
                "ACTIVE".into()
            }
        }
        _ => "ACTIVE".into(),
    }
}

/// Meta throttling for writes: code 80004 (ads management BUC) on HTTP 400, with the usage
/// headers that say how long to wait.
fn meta_throttled(code: i64, wait_secs: u64) -> Response {
    let minutes = wait_secs.div_ceil(60);
    let message = if code == 17 {
        "(#17) User request limit reached".to_owned()
    } else {
        format!(
            "({code}) There have been too many calls to this ad-account. Wait a bit and try again."
        )
    };
    meta_error(
        StatusCode::BAD_REQUEST,
        json!({"message": message, "type": "OAuthException", "code": code, "error_subcode": 2446079, "is_transient": true, "fbtrace_id": "AbucThrottle"}),
        &[
            (
                "x-business-use-case-usage",
                json!({"1234567890": [{"type": "ads_management", "call_count": 100, "total_cputime": 31, "total_time": 45, "estimated_time_to_regain_access": minutes, "ads_api_access_tier": "standard_access"}]}).to_string(),
            ),
            (
                "x-ad-account-usage",
                json!({"acc_id_util_pct": 100, "reset_time_duration": wait_secs, "ads_api_access_tier": "standard_access"}).to_string(),
            ),
        ],
    )
}

/// `GET /{version}/{id}?fields=...`.
async fn meta_read(
    State(state): Shared,
    Path((_version, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    pause(&state).await;
    if let Some(r) = lookups::meta_search(&state, &id, &q) {
        return r;
    }
    if !q.contains_key("access_token") {
        return meta_error(
            StatusCode::BAD_REQUEST,
            json!({"message": "An access token is required to request this resource.", "type": "OAuthException", "code": 104}),
            &[],
        );
    }
    if let Some(r) = uploads::meta_video_read(&state, &id) {
        return r;
    }
    let mut s = state.lock().unwrap();
    let Some(o) = s
        .objects
        .iter()
        .find(|o| o.platform == "META" && o.id == id)
        .cloned()
    else {
        return meta_no_object(&id);
    };
    s.count(format!("meta {} read", o.kind));
    match s.fault_for(&format!("read {}", o.kind)) {
        Some(Fault::RateLimit { retry_after_secs }) => {
            return meta_throttled(80004, retry_after_secs);
        }
        Some(Fault::ServerError | Fault::Lose | Fault::AppliedServerError) => {
            return meta_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"message": "An unexpected error has occurred. Please retry your request later.", "type": "OAuthException", "code": 2, "is_transient": true}),
                &[],
            );
        }
        _ => {}
    }
    let effective = meta_effective(&s, &o);
    let mut out = serde_json::Map::new();
    out.insert("id".into(), json!(o.id));
    for f in q.get("fields").map(String::as_str).unwrap_or("").split(',') {
        // `creative{id}`: the field with a sub-selection.
        let f = f.trim().split('{').next().unwrap_or_default();
        let v = match f {
            "" | "id" => continue,
            // An ad's creative reads back as the creative node's id.
            "creative" if o.kind == "ad" => match o.body["creative"]["creative_id"].as_str() {
                Some(id) => json!({ "id": id }),
                None => Value::Null,
            },
            "effective_status" => json!(effective),
            "configured_status" => o.body["status"].clone(),
            "budget_remaining" => o.body["daily_budget"].clone(),
            _ => o.body.get(f).cloned().unwrap_or(Value::Null),
        };
        // Unset fields are left out of the answer.
        if v.is_null() {
            continue;
        }
        let v = match (META_STRING_MONEY.contains(&f), &v) {
            (true, Value::Number(n)) => json!(n.to_string()),
            _ if f.ends_with("_time") => meta_account_time(&v),
            _ => v,
        };
        out.insert(f.to_owned(), v);
    }
    Json(Value::Object(out)).into_response()
}

/// `POST /{version}/{id}`: change the fields sent, answer `{"success": true}`.
async fn meta_update(
    State(state): Shared,
    Path((_version, id)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    pause(&state).await;
    let Some(token) = form.get("access_token").cloned() else {
        return meta_error(
            StatusCode::BAD_REQUEST,
            json!({"message": "An access token is required to request this resource.", "type": "OAuthException", "code": 104}),
            &[],
        );
    };
    let (kind, fault, budget_blocked, delay) = {
        let mut s = state.lock().unwrap();
        s.tokens_seen.push(token);
        let Some(kind) = s
            .objects
            .iter()
            .find(|o| o.platform == "META" && o.id == id)
            .map(|o| o.kind.clone())
        else {
            return meta_no_object(&id);
        };
        s.count(format!("meta {kind} update"));
        let fault = s.fault_for(&format!("update {kind}"));
        let budget_change = kind == "adset"
            && (form.contains_key("daily_budget") || form.contains_key("lifetime_budget"));
        let blocked = budget_change
            && fault.is_none()
            && s.meta_budget_changes.get(&id).copied().unwrap_or(0) >= 4;
        (kind, fault, blocked, s.lose_delay)
    };
    if budget_blocked {
        // At most 4 budget changes per ad set per hour; then blocked for the hour (A5).
        return meta_throttled(17, 3600);
    }
    match fault {
        Some(Fault::RateLimit { retry_after_secs }) => {
            return meta_throttled(80004, retry_after_secs);
        }
        Some(Fault::ServerError) => {
            return meta_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"message": "An unexpected error has occurred. Please retry your request later.", "type": "OAuthException", "code": 2, "is_transient": true, "fbtrace_id": "Aunavailable2"}),
                &[],
            );
        }
        Some(Fault::Reject) => {
            let field = form
                .keys()
                .find(|k| k.as_str() != "access_token")
                .cloned()
                .unwrap_or_default();
            let body = state.lock().unwrap().reject_with.clone().unwrap_or_else(|| {
                json!({"message": "Invalid parameter", "type": "OAuthException", "code": 100, "error_subcode": 1815198, "is_transient": false,
                       "error_user_title": "Field can't be edited", "error_user_msg": format!("{field} can't be changed once the {kind} is published."),
                       "error_data": json!({"blame_field_specs": [[field]]}).to_string(), "fbtrace_id": "AimmutableField"})
            });
            return meta_error(StatusCode::BAD_REQUEST, body, &[]);
        }
        _ => {}
    }
    {
        let mut s = state.lock().unwrap();
        if kind == "adset"
            && (form.contains_key("daily_budget") || form.contains_key("lifetime_budget"))
        {
            *s.meta_budget_changes.entry(id.clone()).or_default() += 1;
        }
        if let Some(o) = s.objects.iter_mut().find(|o| o.id == id) {
            for (k, v) in form.iter().filter(|(k, _)| k.as_str() != "access_token") {
                // Targeting and every other field: the value sent replaces the old one.
                o.body[k.as_str()] = serde_json::from_str(v).unwrap_or(Value::String(v.clone()));
            }
        }
        *s.writes.entry(id.clone()).or_default() += 1;
    }
    match fault {
        Some(Fault::Lose) => {
            tokio::time::sleep(delay).await;
        }
        Some(Fault::AppliedServerError) => {
            return meta_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"message": "An unknown error occurred", "type": "OAuthException", "code": 1, "is_transient": true, "fbtrace_id": "AappliedThen500"}),
                &[],
            );
        }
        _ => {}
    }
    Json(json!({"success": true})).into_response()
}

// ---------------------------------------------------------------- TikTok

fn tiktok(code: i64, message: &str, data: Value) -> Response {
    Json(json!({"code": code, "message": message, "request_id": "20261125123456ABCDEF", "data": data})).into_response()
}

async fn tiktok_create(
    State(state): Shared,
    Path(kind): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    pause(&state).await;
    let Some(token) = headers.get("access-token").and_then(|v| v.to_str().ok()) else {
        return tiktok(40105, "Access token is null, please check.", json!({}));
    };
    let fault = {
        let mut s = state.lock().unwrap();
        s.tokens_seen.push(token.to_owned());
        s.count(format!("tiktok {kind} create"));
        s.fault_for(&kind)
    };
    match fault {
        Some(Fault::RateLimit { .. }) => {
            return tiktok(
                40100,
                "Too many requests. Please retry in some time.",
                json!({}),
            );
        }
        Some(Fault::ServerError) => {
            return tiktok(50000, "System error, please try again later.", json!({}));
        }
        Some(Fault::Reject) => {
            return tiktok(
                40002,
                "budget: Budget is too low. The minimum daily budget is 20.00 USD.",
                json!({}),
            );
        }
        _ => {}
    }
    let (name, parent) = match kind.as_str() {
        "campaign" => (
            body["campaign_name"].as_str(),
            body["advertiser_id"].as_str(),
        ),
        "adgroup" => (body["adgroup_name"].as_str(), body["campaign_id"].as_str()),
        _ => (
            body["creatives"][0]["ad_name"]
                .as_str()
                .or(body["ad_name"].as_str()),
            body["adgroup_id"].as_str(),
        ),
    };
    let (id, lose, delay) = {
        let mut s = state.lock().unwrap();
        let id = s.new_id(1_800_000_000_000_000_000);
        s.objects.push(Obj {
            platform: "TIKTOK",
            kind: kind.clone(),
            id: id.clone(),
            name: name.map(str::to_owned),
            parent: parent.map(str::to_owned),
            body: body.clone(),
        });
        (id, fault == Some(Fault::Lose), s.lose_delay)
    };
    if lose {
        tokio::time::sleep(delay).await;
    }
    let data = match kind.as_str() {
        "campaign" => json!({"campaign_id": id}),
        "adgroup" => json!({"adgroup_id": id}),
        _ => json!({"ad_ids": [id]}),
    };
    tiktok(0, "OK", data)
}

async fn tiktok_get(
    State(state): Shared,
    Path(kind): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    pause(&state).await;
    if headers.get("access-token").is_none() {
        return tiktok(40105, "Access token is null, please check.", json!({}));
    }
    let filtering: Value = q
        .get("filtering")
        .and_then(|f| serde_json::from_str(f).ok())
        .unwrap_or(Value::Null);
    if kind == "campaign" && q.contains_key("page") {
        return tiktok_campaign_page(&state, &q);
    }
    let wanted_fields: Option<Vec<String>> =
        q.get("fields").and_then(|f| serde_json::from_str(f).ok());
    let mut s = state.lock().unwrap();
    s.count(format!("tiktok {kind} get"));
    match s.fault_for(&format!("read {kind}")) {
        Some(Fault::RateLimit { .. }) => {
            return tiktok(
                40100,
                "Too many requests. Please retry in some time.",
                json!({}),
            );
        }
        Some(Fault::ServerError | Fault::Lose | Fault::AppliedServerError) => {
            return tiktok(50000, "System error, please try again later.", json!({}));
        }
        _ => {}
    }
    let name_key = format!("{kind}_name");
    let id_key = format!("{kind}_id");
    // By id (`campaign_ids`, `adgroup_ids`, `ad_ids`), else by parent and name.
    let by_id: Option<Vec<String>> = filtering[format!("{kind}_ids")].as_array().map(|a| {
        a.iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    });
    let parent: Option<String> = match kind.as_str() {
        "campaign" => q.get("advertiser_id").cloned(),
        "adgroup" => filtering["campaign_ids"][0].as_str().map(str::to_owned),
        _ => filtering["adgroup_ids"][0].as_str().map(str::to_owned),
    };
    let wanted = filtering[&name_key].as_str().map(str::to_owned);
    let list: Vec<Value> = s
        .objects
        .iter()
        .filter(|o| o.platform == "TIKTOK" && o.kind == kind)
        .filter(|o| match &by_id {
            Some(ids) => ids.contains(&o.id),
            None => o.parent == parent && (wanted.is_none() || o.name == wanted),
        })
        .map(|o| tiktok_row(&s, o, &id_key, &name_key, wanted_fields.as_deref()))
        .collect();
    let n = list.len();
    tiktok(
        0,
        "OK",
        json!({"list": list, "page_info": {"page": 1, "page_size": 100, "total_number": n, "total_page": 1}}),
    )
}

const TIKTOK_MONEY: &[&str] = &["budget", "bid_price", "conversion_bid_price"];

fn tiktok_status(s: &FakeState, id: Option<&str>) -> String {
    id.and_then(|id| s.objects.iter().find(|o| o.id == id))
        .and_then(|o| o.body["operation_status"].as_str())
        .unwrap_or("ENABLE")
        .to_owned()
}

/// secondary_status: the object's own status, else a disabled parent (H2.2; values 🟡 TT-GO).
fn tiktok_secondary(s: &FakeState, o: &Obj) -> String {
    if let Some(forced) = o.body["secondary_status"].as_str() {
        return forced.to_owned();
    }
    let own = o.body["operation_status"].as_str().unwrap_or("ENABLE");
    let prefix = match o.kind.as_str() {
        "campaign" => "CAMPAIGN",
        "adgroup" => "ADGROUP",
        _ => "AD",
    };
    if own != "ENABLE" {
        return format!("{prefix}_STATUS_{own}");
    }
    let parent = s.objects.iter().find(|p| Some(&p.id) == o.parent.as_ref());
    match o.kind.as_str() {
        "campaign" => "CAMPAIGN_STATUS_ENABLE".into(),
        "adgroup" if tiktok_status(s, o.parent.as_deref()) != "ENABLE" => {
            "ADGROUP_STATUS_CAMPAIGN_DISABLE".into()
        }
        "adgroup" => "ADGROUP_STATUS_DELIVERY_OK".into(),
        _ if tiktok_status(s, o.parent.as_deref()) != "ENABLE" => {
            "AD_STATUS_ADGROUP_DISABLE".into()
        }
        _ if tiktok_status(s, parent.and_then(|p| p.parent.as_deref())) != "ENABLE" => {
            "AD_STATUS_CAMPAIGN_DISABLE".into()
        }
        _ => "AD_STATUS_DELIVERY_OK".into(),
    }
}

/// One `list` entry: the requested fields (all when none were asked for). Money comes back
/// as a float, so whole amounts read as `80.0`.
fn tiktok_row(
    s: &FakeState,
    o: &Obj,
    id_key: &str,
    name_key: &str,
    fields: Option<&[String]>,
) -> Value {
    let mut all = o.body.as_object().cloned().unwrap_or_default();
    // An ad reads back as one row carrying its creative's fields (one ad per creative).
    if o.kind == "ad"
        && let Some(c) = o.body["creatives"][0].as_object()
    {
        for (k, v) in c {
            all.entry(k.clone()).or_insert(v.clone());
        }
    }
    all.insert(id_key.to_owned(), json!(o.id));
    all.insert(name_key.to_owned(), json!(o.name));
    all.entry("operation_status").or_insert(json!("ENABLE"));
    all.insert("secondary_status".into(), json!(tiktok_secondary(s, o)));
    for k in TIKTOK_MONEY {
        if let Some(Value::Number(n)) = all.get(*k)
            && !n.to_string().contains('.')
            && let Some(f) = n.as_f64().and_then(serde_json::Number::from_f64)
        {
            all.insert((*k).to_owned(), Value::Number(f));
        }
    }
    match fields {
        Some(fields) => fields
            .iter()
            .filter_map(|f| all.get(f).map(|v| (f.clone(), v.clone())))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        None => Value::Object(all),
    }
}

/// A TikTok write fault: Some(response) to answer now without applying.
fn tiktok_write_fault(fault: Option<Fault>) -> Option<Response> {
    match fault {
        Some(Fault::RateLimit { .. }) => Some(tiktok(
            40100,
            "Too many requests. Please retry in some time.",
            json!({}),
        )),
        Some(Fault::ServerError) => Some(tiktok(
            50000,
            "System error, please try again later.",
            json!({}),
        )),
        Some(Fault::Reject) => Some(tiktok(
            40002,
            "budget: Budget is too low. The minimum daily budget is 20.00 USD.",
            json!({}),
        )),
        _ => None,
    }
}

/// After applying: answer late (lost) or with HTTP 503 (applied, but the client cannot know).
async fn tiktok_after_write(fault: Option<Fault>, delay: Duration, ok: Response) -> Response {
    match fault {
        Some(Fault::Lose) => {
            tokio::time::sleep(delay).await;
            ok
        }
        Some(Fault::AppliedServerError) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"code": 50000, "message": "System error, please try again later.", "request_id": "20261125123456ABCDEF", "data": {}})),
        )
            .into_response(),
        _ => ok,
    }
}

/// `POST /open_api/v1.3/{kind}/status/update/` with `{kind}_ids` and `operation_status`.
async fn tiktok_status_update(
    State(state): Shared,
    Path(kind): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    pause(&state).await;
    let Some(token) = headers.get("access-token").and_then(|v| v.to_str().ok()) else {
        return tiktok(40105, "Access token is null, please check.", json!({}));
    };
    let op = body["operation_status"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if !matches!(op.as_str(), "ENABLE" | "DISABLE" | "DELETE") {
        return tiktok(
            40002,
            "operation_status: must be one of ENABLE, DISABLE, DELETE.",
            json!({}),
        );
    }
    let ids: Vec<String> = body[format!("{kind}_ids")]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let (fault, delay, ids, error_list) = {
        let mut s = state.lock().unwrap();
        s.tokens_seen.push(token.to_owned());
        s.count(format!("tiktok {kind} status"));
        if ids.is_empty() || ids.len() > 20 {
            return tiktok(
                40002,
                &format!("{kind}_ids: must hold 1 to 20 ids."),
                json!({}),
            );
        }
        for id in &ids {
            if !s
                .objects
                .iter()
                .any(|o| o.platform == "TIKTOK" && o.kind == kind && &o.id == id)
            {
                return tiktok(
                    40002,
                    &format!("{kind}_ids: {id} does not exist."),
                    json!({}),
                );
            }
        }
        let fault = s.fault_for(&format!("update {kind}"));
        if let Some(r) = tiktok_write_fault(fault) {
            return r;
        }
        let (ids, error_list) = tiktok_split_refused(&s, &kind, &ids);
        for id in &ids {
            if let Some(o) = s.objects.iter_mut().find(|o| &o.id == id) {
                o.body["operation_status"] = json!(op);
            }
            *s.writes.entry(id.clone()).or_default() += 1;
        }
        (fault, s.lose_delay, ids, error_list)
    };
    let mut data = json!({ format!("{kind}_ids"): ids, "status": op });
    if !error_list.is_empty() {
        data["error_list"] = json!(error_list);
    }
    let ok = tiktok(0, "OK", data);
    tiktok_after_write(fault, delay, ok).await
}

/// `POST /open_api/v1.3/{campaign|adgroup}/update/` with `{kind}_id` and the fields to change.
async fn tiktok_update(
    State(state): Shared,
    Path(kind): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    pause(&state).await;
    let Some(token) = headers.get("access-token").and_then(|v| v.to_str().ok()) else {
        return tiktok(40105, "Access token is null, please check.", json!({}));
    };
    if kind == "ad" {
        return tiktok_ad_update(&state, token, &body).await;
    }
    if kind != "campaign" && kind != "adgroup" {
        return tiktok(40002, "creatives: this field is required.", json!({}));
    }
    let id = body[format!("{kind}_id")]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (fault, delay) = {
        let mut s = state.lock().unwrap();
        s.tokens_seen.push(token.to_owned());
        s.count(format!("tiktok {kind} update"));
        let Some(current) = s
            .objects
            .iter()
            .find(|o| o.platform == "TIKTOK" && o.kind == kind && o.id == id)
            .map(|o| o.body.clone())
        else {
            return tiktok(
                40002,
                &format!("{kind}_id: {id} does not exist."),
                json!({}),
            );
        };
        if let Some(m) = body.get("budget_mode")
            && current.get("budget_mode") != Some(m)
        {
            return tiktok(
                40002,
                "budget_mode: The budget mode cannot be modified after creation.",
                json!({}),
            );
        }
        if body.get("operation_status").is_some() {
            return tiktok(
                40002,
                "operation_status: use the status/update endpoint to change status.",
                json!({}),
            );
        }
        let fault = s.fault_for(&format!("update {kind}"));
        if let Some(r) = tiktok_write_fault(fault) {
            return r;
        }
        let (_, error_list) = tiktok_split_refused(&s, &kind, std::slice::from_ref(&id));
        if !error_list.is_empty() {
            return tiktok(0, "OK", json!({ "error_list": error_list }));
        }
        if let Some(o) = s.objects.iter_mut().find(|o| o.id == id) {
            for (k, v) in body.as_object().into_iter().flatten() {
                if k != "advertiser_id" && k != &format!("{kind}_id") {
                    o.body[k.as_str()] = v.clone();
                }
            }
        }
        *s.writes.entry(id.clone()).or_default() += 1;
        (fault, s.lose_delay)
    };
    let ok = tiktok(0, "OK", json!({ format!("{kind}_id"): id }));
    tiktok_after_write(fault, delay, ok).await
}

/// `ad/update/`: `adgroup_id` and `creatives`, each naming the `ad_id` whose creative it
/// replaces. One write per ad.
async fn tiktok_ad_update(state: &Arc<Mutex<FakeState>>, token: &str, body: &Value) -> Response {
    let Some(creatives) = body["creatives"].as_array().filter(|c| !c.is_empty()) else {
        return tiktok(40002, "creatives: this field is required.", json!({}));
    };
    let adgroup = body["adgroup_id"].as_str().unwrap_or_default().to_owned();
    let (fault, delay, ids) = {
        let mut s = state.lock().unwrap();
        s.tokens_seen.push(token.to_owned());
        s.count("tiktok ad update".into());
        let mut ids = Vec::new();
        for c in creatives {
            let id = c["ad_id"].as_str().unwrap_or_default().to_owned();
            let known = s.objects.iter().any(|o| {
                o.platform == "TIKTOK"
                    && o.kind == "ad"
                    && o.id == id
                    && o.parent.as_deref() == Some(adgroup.as_str())
            });
            if !known {
                return tiktok(
                    40002,
                    &format!("ad_id: {id} does not exist in ad group {adgroup}."),
                    json!({}),
                );
            }
            ids.push(id);
        }
        let fault = s.fault_for("update ad");
        if let Some(r) = tiktok_write_fault(fault) {
            return r;
        }
        for (c, id) in creatives.iter().zip(&ids) {
            let mut c = c.clone();
            if let Some(m) = c.as_object_mut() {
                m.remove("ad_id");
            }
            if let Some(o) = s.objects.iter_mut().find(|o| &o.id == id) {
                o.body["creatives"] = json!([c]);
            }
            *s.writes.entry(id.clone()).or_default() += 1;
        }
        (fault, s.lose_delay, ids)
    };
    let ok = tiktok(0, "OK", json!({ "ad_ids": ids }));
    tiktok_after_write(fault, delay, ok).await
}

// ---------------------------------------------------------------- Google Ads

fn google_error(
    status: StatusCode,
    rpc: &str,
    code: i64,
    error_code: Value,
    message: &str,
    extra: Value,
) -> Response {
    let mut err = json!({"errorCode": error_code, "message": message});
    if let (Some(o), Some(x)) = (err.as_object_mut(), extra.as_object()) {
        for (k, v) in x {
            o.insert(k.clone(), v.clone());
        }
    }
    (
        status,
        Json(
            json!({"error": {"code": code, "message": message, "status": rpc, "details": [{
            "@type": "type.googleapis.com/google.ads.googleads.v25.errors.GoogleAdsFailure",
            "errors": [err], "requestId": "gReq_7f3a9c"}]}}),
        ),
    )
        .into_response()
}

fn google_resource(op: &str) -> Option<(&'static str, &'static str)> {
    Some(match op {
        "campaignBudgets:mutate" => ("campaign_budget", "campaignBudgets"),
        "campaigns:mutate" => ("campaign", "campaigns"),
        "campaignCriteria:mutate" => ("campaign_criterion", "campaignCriteria"),
        "adGroups:mutate" => ("ad_group", "adGroups"),
        "adGroupCriteria:mutate" => ("ad_group_criterion", "adGroupCriteria"),
        "adGroupAds:mutate" => ("ad_group_ad", "adGroupAds"),
        _ => return None,
    })
}

fn last_id(resource: Option<&str>) -> Option<String> {
    resource
        .and_then(|r| r.rsplit('/').next())
        .map(str::to_owned)
}

async fn google(
    State(state): Shared,
    Path((_version, cid, op)): Path<(String, String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    pause(&state).await;
    let dev = headers.get("developer-token").and_then(|v| v.to_str().ok());
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let (Some(dev), Some(bearer)) = (dev, bearer) else {
        return google_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            401,
            json!({"authenticationError": "OAUTH_TOKEN_HEADER_INVALID"}),
            "Request is missing required authentication credential.",
            json!({}),
        );
    };
    {
        let mut s = state.lock().unwrap();
        s.tokens_seen.push(dev.to_owned());
        s.tokens_seen.push(bearer.to_owned());
    }
    if op == "assets:mutate" {
        return uploads::google_asset_create(&state, &cid, &body).await;
    }
    if op == "googleAds:search" {
        let query = body["query"].as_str().unwrap_or_default().to_owned();
        if query.contains(" FROM asset ") {
            return uploads::google_asset_search(&state, &cid, &query);
        }
        if query.contains("segments.date") {
            return reports::google_report(&state, &query, &body);
        }
        if let Some(r) = lookups::google_search(&state, &cid, &query, &body) {
            return r;
        }
        if query.contains("resource_name = '") {
            return google_read(&state, &cid, &query);
        }
        if query.starts_with("SELECT campaign.id, campaign.name") {
            return google_campaign_page(&state, &cid, &body);
        }
        let mut s = state.lock().unwrap();
        s.count("google search".into());
        // Understands the queries the client sends: by name, or by parent id.
        let name = query
            .split("name = '")
            .nth(1)
            .and_then(|r| r.split('\'').next())
            .map(str::to_owned);
        let parent = query.split(".id = ").nth(1).map(|r| {
            r.chars()
                .take_while(|c| c.is_ascii_digit())
                .collect::<String>()
        });
        let kind = query
            .split("FROM ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_default()
            .to_owned();
        let results: Vec<Value> = s
            .objects
            .iter()
            .filter(|o| o.platform == "GOOGLE_ADS" && o.kind == kind)
            .filter(|o| name.is_none() || o.name == name)
            .filter(|o| parent.is_none() || o.parent == parent)
            .map(|o| {
                let rn = format!("customers/{cid}/{}/{}", google_collection(&o.kind), o.id);
                json!({ camel(&o.kind): google_row(o, &rn, &query) })
            })
            .collect();
        return Json(json!({"results": results, "fieldMask": format!("{kind}.resourceName")}))
            .into_response();
    }
    let Some((kind, collection)) = google_resource(&op) else {
        return google_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            404,
            json!({"requestError": "RESOURCE_NOT_FOUND"}),
            "Unknown method.",
            json!({}),
        );
    };
    if body["operations"][0].get("update").is_some() {
        return google_update(&state, &cid, kind, &body).await;
    }
    let validate_only = body["validateOnly"].as_bool() == Some(true);
    let fault = {
        let mut s = state.lock().unwrap();
        s.count(format!("google {kind} mutate"));
        if validate_only {
            None
        } else {
            s.fault_for(kind)
        }
    };
    match fault {
        Some(Fault::RateLimit { retry_after_secs }) => {
            return google_error(
                StatusCode::TOO_MANY_REQUESTS,
                "RESOURCE_EXHAUSTED",
                429,
                json!({"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"}),
                "Too many requests. Retry in the suggested time.",
                json!({"details": {"quotaErrorDetails": {"rateScope": "ACCOUNT", "rateName": "Requests per account", "retryDelay": format!("{retry_after_secs}s")}}}),
            );
        }
        Some(Fault::ServerError) => {
            return google_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                503,
                json!({"internalError": "TRANSIENT_ERROR"}),
                "The service is currently unavailable.",
                json!({}),
            );
        }
        Some(Fault::Reject) => {
            return google_error(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                400,
                json!({"campaignBudgetError": "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT"}),
                "The budget amount must be a multiple of the currency's minimum unit.",
                json!({"trigger": {"int64Value": "19990001"}, "location": {"fieldPathElements": [{"fieldName": "operations", "index": 0}, {"fieldName": "create"}, {"fieldName": "amount_micros"}]}}),
            );
        }
        _ => {}
    }
    let ops = body["operations"].as_array().cloned().unwrap_or_default();
    if validate_only {
        return Json(json!({})).into_response();
    }
    if let Some(refused) = google_check_removes(&state, &cid, kind, &ops) {
        return refused;
    }
    let (results, lose, delay) = {
        let mut s = state.lock().unwrap();
        let mut results = Vec::new();
        for op in &ops {
            if let Some(rn) = op["remove"].as_str() {
                results.push(google_remove(&mut s, &cid, kind, rn));
                continue;
            }
            let create = &op["create"];
            let parent = match kind {
                "campaign" | "campaign_budget" => None,
                "campaign_criterion" | "ad_group" => last_id(create["campaign"].as_str()),
                _ => last_id(create["adGroup"].as_str()),
            };
            let id = s.new_id(22_000_000_000);
            let id = if kind.ends_with("criterion") || kind == "ad_group_ad" {
                format!("{}~{id}", parent.clone().unwrap_or_default())
            } else {
                id
            };
            results.push(json!({"resourceName": format!("customers/{cid}/{collection}/{id}")}));
            s.objects.push(Obj {
                platform: "GOOGLE_ADS",
                kind: kind.to_owned(),
                id,
                name: create["name"].as_str().map(str::to_owned),
                parent,
                body: create.clone(),
            });
        }
        (results, fault == Some(Fault::Lose), s.lose_delay)
    };
    if lose {
        tokio::time::sleep(delay).await;
    }
    Json(json!({ "results": results })).into_response()
}

/// "network_settings.target_search_network" -> "networkSettings.targetSearchNetwork".
fn snake_to_camel_path(path: &str) -> String {
    path.split('.').map(camel).collect::<Vec<_>>().join(".")
}

fn google_quota(retry_after_secs: u64) -> Response {
    google_error(
        StatusCode::TOO_MANY_REQUESTS,
        "RESOURCE_EXHAUSTED",
        429,
        json!({"quotaError": "RESOURCE_TEMPORARILY_EXHAUSTED"}),
        "Too many requests. Retry in the suggested time.",
        json!({"details": {"quotaErrorDetails": {"rateScope": "ACCOUNT", "rateName": "Requests per account", "retryDelay": format!("{retry_after_secs}s")}}}),
    )
}

fn google_unavailable() -> Response {
    google_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "UNAVAILABLE",
        503,
        json!({"internalError": "TRANSIENT_ERROR"}),
        "The service is currently unavailable.",
        json!({}),
    )
}

/// `primary_status` of a stored resource (a budget has `status` instead).
fn google_primary(o: &Obj) -> String {
    if let Some(forced) = o.body["primaryStatus"].as_str() {
        return forced.to_owned();
    }
    match o.body["status"].as_str() {
        Some("PAUSED") => "PAUSED",
        Some("REMOVED") => "REMOVED",
        _ => "ELIGIBLE",
    }
    .to_owned()
}

/// `SELECT kind.a, kind.b_c FROM kind WHERE kind.resource_name = '...'`: one row with the
/// selected fields, camelCase and nested as REST answers them; unset fields are left out.
fn google_read(state: &Arc<Mutex<FakeState>>, cid: &str, query: &str) -> Response {
    let kind = query
        .split("FROM ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_default()
        .to_owned();
    let rn = query
        .split("resource_name = '")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .unwrap_or_default()
        .to_owned();
    let selected: Vec<String> = query
        .trim_start_matches("SELECT ")
        .split(" FROM ")
        .next()
        .unwrap_or_default()
        .split(',')
        .map(|f| f.trim().to_owned())
        .collect();
    let mut s = state.lock().unwrap();
    s.count(format!("google {kind} read"));
    match s.fault_for(&format!("read {kind}")) {
        Some(Fault::RateLimit { retry_after_secs }) => return google_quota(retry_after_secs),
        Some(Fault::ServerError | Fault::Lose | Fault::AppliedServerError) => {
            return google_unavailable();
        }
        _ => {}
    }
    let found = s.objects.iter().find(|o| {
        o.platform == "GOOGLE_ADS"
            && o.kind == kind
            && format!("customers/{cid}/{}/{}", google_collection(&o.kind), o.id) == rn
    });
    let Some(o) = found else {
        return Json(json!({"results": [], "fieldMask": selected.join(",")})).into_response();
    };
    let row = google_row(o, &rn, query);
    Json(json!({"results": [{ camel(&kind): row }], "fieldMask": selected.join(",")}))
        .into_response()
}

/// Fields Google does not let a mutate change.
const GOOGLE_IMMUTABLE: &[&str] = &[
    "period",
    "advertisingChannelType",
    "type",
    "campaign",
    "adGroup",
    "ad",
];

/// `:mutate` with `update` + `updateMask`: only the masked paths change; a masked path left
/// out of the object is cleared.
async fn google_update(
    state: &Arc<Mutex<FakeState>>,
    cid: &str,
    kind: &str,
    body: &Value,
) -> Response {
    let op = &body["operations"][0];
    let update = &op["update"];
    let rn = update["resourceName"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mask: Vec<String> = op["updateMask"]
        .as_str()
        .unwrap_or_default()
        .split(',')
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    let location = |field: &str| json!({"location": {"fieldPathElements": [{"fieldName": "operations", "index": 0}, {"fieldName": "update"}, {"fieldName": field}]}});
    if mask.is_empty() {
        return google_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            400,
            json!({"requestError": "REQUIRED_FIELD_MISSING"}),
            "The update mask is required.",
            location("update_mask"),
        );
    }
    for p in &mask {
        // REST masks are lowerCamelCase; a snake_case path names no field.
        if p.contains('_') {
            return google_error(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                400,
                json!({"fieldMaskError": "FIELD_NOT_FOUND"}),
                &format!("The field mask contained an invalid field: '{p}'."),
                location("update_mask"),
            );
        }
        let top = p.split('.').next().unwrap_or_default();
        if GOOGLE_IMMUTABLE.contains(&top) {
            return google_error(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                400,
                json!({"fieldError": "IMMUTABLE_FIELD"}),
                "The field cannot be modified by update.",
                location(top),
            );
        }
    }
    let (fault, delay) = {
        let mut s = state.lock().unwrap();
        s.count(format!("google {kind} update"));
        let Some(pos) = s.objects.iter().position(|o| {
            o.platform == "GOOGLE_ADS"
                && o.kind == kind
                && format!("customers/{cid}/{}/{}", google_collection(&o.kind), o.id) == rn
        }) else {
            return google_error(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                400,
                json!({"mutateError": "RESOURCE_NOT_FOUND"}),
                "The requested resource was not found.",
                location("resource_name"),
            );
        };
        let fault = s.fault_for(&format!("update {kind}"));
        match fault {
            Some(Fault::RateLimit { retry_after_secs }) => return google_quota(retry_after_secs),
            Some(Fault::ServerError) => return google_unavailable(),
            Some(Fault::Reject) => {
                return google_error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_ARGUMENT",
                    400,
                    json!({"campaignError": "CANNOT_SET_DATE_TO_PAST"}),
                    "The date cannot be set in the past.",
                    location("end_date_time"),
                );
            }
            _ => {}
        }
        let id = s.objects[pos].id.clone();
        let target = &mut s.objects[pos].body;
        for p in &mask {
            let segs: Vec<&str> = p.split('.').collect();
            let value = segs.iter().try_fold(update, |v, seg| v.get(*seg)).cloned();
            let mut at = &mut *target;
            for seg in &segs[..segs.len() - 1] {
                if !at.get(*seg).is_some_and(Value::is_object) {
                    at[*seg] = json!({});
                }
                at = &mut at[*seg];
            }
            let last = segs[segs.len() - 1];
            match value {
                Some(v) => at[last] = v,
                None => {
                    if let Some(o) = at.as_object_mut() {
                        o.remove(last);
                    }
                }
            }
        }
        google_keep_one_strategy(target, &mask);
        *s.writes.entry(id).or_default() += 1;
        (fault, s.lose_delay)
    };
    match fault {
        Some(Fault::Lose) => tokio::time::sleep(delay).await,
        Some(Fault::AppliedServerError) => return google_unavailable(),
        _ => {}
    }
    Json(json!({"results": [{"resourceName": rn}]})).into_response()
}

fn google_collection(kind: &str) -> &'static str {
    match kind {
        "campaign_budget" => "campaignBudgets",
        "campaign" => "campaigns",
        "campaign_criterion" => "campaignCriteria",
        "ad_group" => "adGroups",
        "ad_group_criterion" => "adGroupCriteria",
        _ => "adGroupAds",
    }
}

fn camel(kind: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in kind.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.push(c.to_ascii_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------- account listing (audit_live)
//
// Campaign lists of a whole account, paged as each platform pages them, two campaigns a page
// (so a handful of campaigns spans several pages). `add_campaign` puts a campaign in an
// account as if someone made it in the platform's UI; `fail_next_read("list campaign", ..)`
// throttles or fails the next page.

/// Campaigns per page in the fake's account listings.
const LIST_PAGE: usize = 2;

impl FakePlatforms {
    /// A campaign made outside OmniTraffick, in `account` (Meta "act_<id>", TikTok advertiser
    /// id; ignored for Google, which keeps one account per fake). Returns its id.
    pub fn add_campaign(
        &self,
        platform: &'static str,
        account: &str,
        name: &str,
        status: &str,
    ) -> String {
        let mut s = self.state.lock().unwrap();
        let (id, body, parent) = match platform {
            "META" => (
                s.new_id(120_000_000_000_000),
                json!({"name": name, "status": status}),
                Some(account.to_owned()),
            ),
            "TIKTOK" => (
                s.new_id(1_800_000_000_000_000_000),
                json!({"campaign_name": name, "operation_status": status}),
                Some(account.to_owned()),
            ),
            _ => (
                s.new_id(22_000_000_000),
                json!({"name": name, "status": status}),
                None,
            ),
        };
        s.objects.push(Obj {
            platform,
            kind: "campaign".into(),
            id: id.clone(),
            name: Some(name.to_owned()),
            parent,
            body,
        });
        id
    }
}

/// The fault scripted for the next listing page, as `fail_next_read("list campaign", ..)`.
fn list_fault(state: &Arc<Mutex<FakeState>>, platform: &str) -> Option<Fault> {
    let mut s = state.lock().unwrap();
    s.count(format!("{platform} campaign list page"));
    s.fault_for("read list campaign")
}

/// Meta `GET /{version}/act_<id>/campaigns?fields=..&limit=..&after=..`: `paging.cursors`,
/// and `paging.next` only when another page follows.
fn meta_campaign_page(
    state: &Arc<Mutex<FakeState>>,
    parent: &str,
    q: &HashMap<String, String>,
) -> Response {
    match list_fault(state, "meta") {
        Some(Fault::RateLimit { retry_after_secs }) => {
            return meta_throttled(80004, retry_after_secs);
        }
        Some(Fault::ServerError | Fault::Lose | Fault::AppliedServerError) => {
            return meta_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"message": "An unexpected error has occurred. Please retry your request later.", "type": "OAuthException", "code": 2, "is_transient": true}),
                &[],
            );
        }
        _ => {}
    }
    let s = state.lock().unwrap();
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .clamp(1, LIST_PAGE);
    let start = q
        .get("after")
        .and_then(|a| a.strip_prefix("cursor-"))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    let all: Vec<&Obj> = s
        .objects
        .iter()
        .filter(|o| {
            o.platform == "META" && o.kind == "campaign" && o.parent.as_deref() == Some(parent)
        })
        .collect();
    let data: Vec<Value> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|o| json!({"id": o.id, "name": o.name, "status": o.body["status"].as_str().unwrap_or("ACTIVE"), "effective_status": meta_effective(&s, o)}))
        .collect();
    let end = start + data.len();
    let mut paging =
        json!({"cursors": {"before": format!("cursor-{start}"), "after": format!("cursor-{end}")}});
    if end < all.len() {
        paging["next"] = json!(format!(
            "https://graph.facebook.com/v25.0/{parent}/campaigns?after=cursor-{end}&access_token=REDACTED"
        ));
    }
    Json(json!({"data": data, "paging": paging})).into_response()
}

/// TikTok `GET /open_api/v1.3/campaign/get/?advertiser_id=..&page=..&page_size=..`.
fn tiktok_campaign_page(state: &Arc<Mutex<FakeState>>, q: &HashMap<String, String>) -> Response {
    match list_fault(state, "tiktok") {
        Some(Fault::RateLimit { .. }) => {
            return tiktok(
                40100,
                "Too many requests. Please retry in some time.",
                json!({}),
            );
        }
        Some(Fault::ServerError | Fault::Lose | Fault::AppliedServerError) => {
            return tiktok(50000, "System error, please try again later.", json!({}));
        }
        _ => {}
    }
    let s = state.lock().unwrap();
    let advertiser = q.get("advertiser_id").cloned();
    let page = q
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let size = q
        .get("page_size")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(10)
        .clamp(1, LIST_PAGE);
    let all: Vec<&Obj> = s
        .objects
        .iter()
        .filter(|o| o.platform == "TIKTOK" && o.kind == "campaign" && o.parent == advertiser)
        .collect();
    let list: Vec<Value> = all
        .iter()
        .skip((page - 1) * size)
        .take(size)
        .map(|o| json!({"campaign_id": o.id, "campaign_name": o.name, "operation_status": o.body["operation_status"].as_str().unwrap_or("ENABLE"), "secondary_status": tiktok_secondary(&s, o)}))
        .collect();
    let total_page = all.len().div_ceil(size).max(1);
    tiktok(
        0,
        "OK",
        json!({"list": list, "page_info": {"page": page, "page_size": size, "total_number": all.len(), "total_page": total_page}}),
    )
}

/// Google `googleAds:search` with the campaign list query, `pageToken` in, `nextPageToken` out.
fn google_campaign_page(state: &Arc<Mutex<FakeState>>, cid: &str, body: &Value) -> Response {
    match list_fault(state, "google") {
        Some(Fault::RateLimit { retry_after_secs }) => return google_quota(retry_after_secs),
        Some(Fault::ServerError | Fault::Lose | Fault::AppliedServerError) => {
            return google_unavailable();
        }
        _ => {}
    }
    let s = state.lock().unwrap();
    let start = body["pageToken"]
        .as_str()
        .and_then(|t| t.strip_prefix("page-"))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    let all: Vec<&Obj> = s
        .objects
        .iter()
        .filter(|o| {
            o.platform == "GOOGLE_ADS" && o.kind == "campaign" && o.body["status"] != "REMOVED"
        })
        .collect();
    let results: Vec<Value> = all
        .iter()
        .skip(start)
        .take(LIST_PAGE)
        .map(|o| json!({"campaign": {"resourceName": format!("customers/{cid}/campaigns/{}", o.id), "id": o.id, "name": o.name, "status": o.body["status"].as_str().unwrap_or("ENABLED")}}))
        .collect();
    let end = start + results.len();
    let mut out =
        json!({"results": results, "fieldMask": "campaign.id,campaign.name,campaign.status"});
    if end < all.len() {
        out["nextPageToken"] = json!(format!("page-{end}"));
    }
    Json(out).into_response()
}

// ---------------------------------------------------------------- Live replacements
// (Google criteria removed and created, ads created in an ad group and found by content,
// bidding-strategy switches; TikTok per-object refusals in `data.error_list`.)

impl FakePlatforms {
    /// TikTok updates of this object answer code 0 but list it in `data.error_list`, unapplied.
    pub fn refuse_in_error_list(&self, id: &str) {
        self.state
            .lock()
            .unwrap()
            .tiktok_error_list
            .push(id.to_owned());
    }

    /// The live Google objects of `kind` under this parent id.
    pub fn children(&self, kind: &str, parent: &str) -> Vec<Obj> {
        self.objects(kind)
            .into_iter()
            .filter(|o| o.parent.as_deref() == Some(parent))
            .collect()
    }
}

/// (ids applied, error_list entries) of a TikTok write to `ids`.
fn tiktok_split_refused(s: &FakeState, kind: &str, ids: &[String]) -> (Vec<String>, Vec<Value>) {
    let (refused, ok): (Vec<String>, Vec<String>) = ids
        .iter()
        .cloned()
        .partition(|id| s.tiktok_error_list.contains(id));
    let error_list = refused
        .iter()
        .map(|id| json!({ format!("{kind}_id"): id, "error_message": "The ad group is being reviewed and cannot be modified." }))
        .collect();
    (ok, error_list)
}

/// A search row: the resource name and every field the query selects that the object has,
/// camelCase and nested as REST answers them (unset fields left out); for reads by resource
/// name and for listings by parent or name.
fn google_row(o: &Obj, rn: &str, query: &str) -> Value {
    let kind = o.kind.as_str();
    let mut row = json!({"resourceName": rn});
    let selected = query
        .trim_start_matches("SELECT ")
        .split(" FROM ")
        .next()
        .unwrap_or_default()
        .split(',')
        .map(str::trim);
    for f in selected {
        let Some(path) = f.strip_prefix(&format!("{kind}.")) else {
            continue;
        };
        let camel_path = snake_to_camel_path(path);
        let v = match path {
            "resource_name" => continue,
            "primary_status" => json!(google_primary(o)),
            "bidding_strategy_type" => google_strategy_type(&o.body),
            "status" if o.body.get("status").is_none() => json!("ENABLED"),
            _ => camel_path
                .split('.')
                .try_fold(&o.body, |v, seg| v.get(seg))
                .cloned()
                .unwrap_or(Value::Null),
        };
        if v.is_null() {
            continue;
        }
        let mut at = &mut row;
        let segs: Vec<&str> = camel_path.split('.').collect();
        for (i, seg) in segs.iter().enumerate() {
            if i + 1 == segs.len() {
                at[*seg] = v.clone();
            } else {
                if !at.get(*seg).is_some_and(Value::is_object) {
                    at[*seg] = json!({});
                }
                at = &mut at[*seg];
            }
        }
    }
    row
}

/// A mutate's `remove` operations must name existing objects of the collection; otherwise
/// the whole request is refused (all-or-nothing, as without `partialFailure`).
fn google_check_removes(
    state: &Arc<Mutex<FakeState>>,
    cid: &str,
    kind: &str,
    ops: &[Value],
) -> Option<Response> {
    let s = state.lock().unwrap();
    for (i, op) in ops.iter().enumerate() {
        let Some(rn) = op["remove"].as_str() else {
            continue;
        };
        let known = s.objects.iter().any(|o| {
            o.platform == "GOOGLE_ADS"
                && o.kind == kind
                && format!("customers/{cid}/{}/{}", google_collection(&o.kind), o.id) == rn
        });
        if !known {
            return Some(google_error(
                StatusCode::BAD_REQUEST,
                "INVALID_ARGUMENT",
                400,
                json!({"mutateError": "RESOURCE_NOT_FOUND"}),
                "The requested resource was not found.",
                json!({"location": {"fieldPathElements": [{"fieldName": "operations", "index": i}, {"fieldName": "remove"}]}}),
            ));
        }
    }
    None
}

/// Remove one object (checked by `google_check_removes`); counts as a write of it.
fn google_remove(s: &mut FakeState, cid: &str, kind: &str, rn: &str) -> Value {
    let pos = s.objects.iter().position(|o| {
        o.platform == "GOOGLE_ADS"
            && o.kind == kind
            && format!("customers/{cid}/{}/{}", google_collection(&o.kind), o.id) == rn
    });
    if let Some(pos) = pos {
        let o = s.objects.remove(pos);
        *s.writes.entry(o.id).or_default() += 1;
    }
    json!({ "resourceName": rn })
}

/// The campaign bidding-strategy oneof members.
const GOOGLE_STRATEGIES: &[(&str, &str)] = &[
    ("manualCpc", "MANUAL_CPC"),
    ("maximizeConversions", "MAXIMIZE_CONVERSIONS"),
    ("maximizeConversionValue", "MAXIMIZE_CONVERSION_VALUE"),
    ("targetCpa", "TARGET_CPA"),
    ("targetRoas", "TARGET_ROAS"),
    ("targetSpend", "TARGET_SPEND"),
];

/// `campaign.bidding_strategy_type`, from the member the campaign holds.
fn google_strategy_type(body: &Value) -> Value {
    GOOGLE_STRATEGIES
        .iter()
        .find(|(m, _)| body.get(*m).is_some())
        .map_or(Value::Null, |(_, t)| json!(t))
}

/// A oneof: once an update sets one strategy member, the others are gone.
fn google_keep_one_strategy(target: &mut Value, mask: &[String]) {
    let set = GOOGLE_STRATEGIES
        .iter()
        .find(|(m, _)| mask.iter().any(|p| p.split('.').next() == Some(*m)));
    if let (Some((keep, _)), Some(o)) = (set, target.as_object_mut()) {
        for (m, _) in GOOGLE_STRATEGIES {
            if m != keep {
                o.remove(*m);
            }
        }
    }
}
