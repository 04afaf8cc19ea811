//! A fake of the three ad platforms at the HTTP boundary, speaking their real wire formats:
//! Meta Graph (form POSTs, `error` envelope), TikTok v1.3 (`Access-Token`, `code` envelope,
//! errors on HTTP 200) and Google Ads REST (`:mutate`, `googleAds:search`, `google.rpc.Status`
//! errors). It keeps what it "created" so tests can count duplicates, and injects faults:
//! scripted ones for a given object, or random ones for benchmarks. A lost response commits
//! the object and then answers too late for the client.
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
    rng: u64,
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
                "/{version}/{parent}/{edge}",
                post(meta_create).get(meta_list),
            )
            .route("/open_api/v1.3/{kind}/create/", post(tiktok_create))
            .route("/open_api/v1.3/{kind}/get/", get(tiktok_get))
            .route("/open_api/v1.3/event/track/", post(tiktok_events))
            .route("/{version}/customers/{cid}/{op}", post(google))
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
    let mut s = state.lock().unwrap();
    s.count(format!("tiktok {kind} get"));
    let name_key = format!("{kind}_name");
    let id_key = format!("{kind}_id");
    let parent: Option<String> = match kind.as_str() {
        "campaign" => q.get("advertiser_id").cloned(),
        "adgroup" => filtering["campaign_ids"][0].as_str().map(str::to_owned),
        _ => filtering["adgroup_ids"][0].as_str().map(str::to_owned),
    };
    let wanted = filtering[&name_key].as_str().map(str::to_owned);
    let list: Vec<Value> = s
        .objects
        .iter()
        .filter(|o| o.platform == "TIKTOK" && o.kind == kind && o.parent == parent)
        .filter(|o| wanted.is_none() || o.name == wanted)
        .map(|o| json!({ id_key.clone(): o.id, name_key.clone(): o.name }))
        .collect();
    let n = list.len();
    tiktok(
        0,
        "OK",
        json!({"list": list, "page_info": {"page": 1, "page_size": 100, "total_number": n, "total_page": 1}}),
    )
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
    if op == "googleAds:search" {
        let query = body["query"].as_str().unwrap_or_default().to_owned();
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
                json!({ camel(&o.kind): {"resourceName": rn} })
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
    let (results, lose, delay) = {
        let mut s = state.lock().unwrap();
        let mut results = Vec::new();
        for op in &ops {
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
