//! The fake platforms' lookup endpoints (PLATFORMS.md J), each in its own wire format:
//! Meta `me/adaccounts`, `me/accounts`, `act_<id>/adspixels`, `act_<id>/delivery_estimate`
//! and `search?type=adinterest|adgeolocation` (cursor paging, two rows a page); TikTok
//! `oauth2/advertiser/get/`, `advertiser/info/`, `identity/get/` and `pixel/list/` (page
//! numbers, two rows a page), `tool/interest_category/`, `tool/region/` and
//! `ad/audience_size/estimate/`; Google `customers:listAccessibleCustomers`, GAQL over
//! `customer`, `conversion_action` (page tokens) and `user_interest`, and
//! `geoTargetConstants:suggest`. Each request is counted ("meta adinterest search", ...);
//! `fail_next_read("lookup", fault)` throttles or breaks the next lookup on any platform.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{
    FakeState, Fault, google_error, google_quota, google_unavailable, meta_error, meta_throttled,
    pause, tiktok,
};

/// Rows per page on the paged lookups (small, so clients must follow the pages).
const PAGE: usize = 2;

pub const TIKTOK_APP_ID: &str = "7300000000000000001";
pub const TIKTOK_APP_SECRET: &str = "tt-app-secret-0f9e8d";

type Shared = State<Arc<Mutex<FakeState>>>;

/// Count the request and take the fault scripted for the next lookup, if any.
fn lookup_fault(state: &Arc<Mutex<FakeState>>, key: &str) -> Option<Fault> {
    let mut s = state.lock().unwrap();
    s.count(key.to_owned());
    s.fault_for("read lookup")
}

fn meta_fault(f: Option<Fault>) -> Option<Response> {
    match f? {
        Fault::RateLimit { retry_after_secs } => Some(meta_throttled(80004, retry_after_secs)),
        Fault::Reject => Some(meta_error(
            StatusCode::BAD_REQUEST,
            json!({"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100, "fbtrace_id": "AlookupReject"}),
            &[],
        )),
        _ => Some(meta_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"message": "An unexpected error has occurred. Please retry your request later.", "type": "OAuthException", "code": 2, "is_transient": true}),
            &[],
        )),
    }
}

fn tiktok_fault(f: Option<Fault>) -> Option<Response> {
    match f? {
        Fault::RateLimit { .. } => Some(tiktok(
            40100,
            "Too many requests. Please retry in some time.",
            json!({}),
        )),
        Fault::Reject => Some(tiktok(40002, "Invalid parameter", json!({}))),
        _ => Some(tiktok(
            50000,
            "System error, please try again later.",
            json!({}),
        )),
    }
}

fn google_fault(f: Option<Fault>) -> Option<Response> {
    match f? {
        Fault::RateLimit { retry_after_secs } => Some(google_quota(retry_after_secs)),
        _ => Some(google_unavailable()),
    }
}

/// One page of `rows` after the `after` cursor ("cursor-N"), with `paging.next` only when
/// another page follows; its URL carries a token the client must never follow.
fn meta_page(rows: Vec<Value>, q: &HashMap<String, String>, edge: &str) -> Response {
    let start = q
        .get("after")
        .and_then(|a| a.strip_prefix("cursor-"))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    let data: Vec<Value> = rows.iter().skip(start).take(PAGE).cloned().collect();
    let end = start + data.len();
    let mut paging =
        json!({"cursors": {"before": format!("cursor-{start}"), "after": format!("cursor-{end}")}});
    if end < rows.len() {
        paging["next"] = json!(format!(
            "https://graph.facebook.com/v25.0/{edge}?after=cursor-{end}&access_token=LEAKED-IF-FOLLOWED"
        ));
    }
    Json(json!({"data": data, "paging": paging})).into_response()
}

fn fields(q: &HashMap<String, String>) -> Vec<String> {
    q.get("fields")
        .map(|f| f.split(',').map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Meta `GET /{version}/{parent}/{edge}` for the lookup edges; None for any other edge.
pub(super) fn meta_edge(
    state: &Arc<Mutex<FakeState>>,
    parent: &str,
    edge: &str,
    q: &HashMap<String, String>,
) -> Option<Response> {
    let known = matches!((parent, edge), ("me", "adaccounts") | ("me", "accounts"))
        || (parent.starts_with("act_") && matches!(edge, "adspixels" | "delivery_estimate"));
    if !known {
        return None;
    }
    if !q.contains_key("access_token") {
        return Some(meta_error(
            StatusCode::BAD_REQUEST,
            json!({"message": "An access token is required to request this resource.", "type": "OAuthException", "code": 104}),
            &[],
        ));
    }
    if let Some(r) = meta_fault(lookup_fault(state, &format!("meta {edge} lookup"))) {
        return Some(r);
    }
    Some(match edge {
        "adaccounts" => meta_page(
            vec![
                json!({"id": "act_1234567890", "account_id": "1234567890", "name": "Disney US", "account_status": 1, "currency": "USD", "timezone_name": "America/Los_Angeles"}),
                json!({"id": "act_2233445566", "account_id": "2233445566", "name": "Disney France", "account_status": 1, "currency": "EUR", "timezone_name": "Europe/Paris"}),
                json!({"id": "act_3344556677", "account_id": "3344556677", "name": "Disney Legacy", "account_status": 101, "currency": "USD"}),
            ],
            q,
            "me/adaccounts",
        ),
        "accounts" => {
            // Meta answers each page's own token when `access_token` is among the fields.
            let with_token = fields(q).iter().any(|f| f == "access_token");
            let page = |id: &str, name: &str, category: &str| {
                let mut p = json!({"id": id, "name": name, "category": category, "tasks": ["ADVERTISE", "ANALYZE"]});
                if with_token {
                    p["access_token"] = json!(format!("EAAPageToken{id}"));
                }
                p
            };
            meta_page(
                vec![
                    page("1122334455", "Disney", "Media/news company"),
                    page("1122334466", "Moana", "Movie"),
                    page("1122334477", "Disney Parks", "Theme park"),
                ],
                q,
                "me/accounts",
            )
        }
        "adspixels" => meta_page(
            vec![
                json!({"id": "998877665544", "name": "Disney US pixel", "last_fired_time": "2026-11-20T10:00:00+0000", "is_unavailable": false}),
            ],
            q,
            &format!("{parent}/adspixels"),
        ),
        _ => meta_delivery_estimate(q),
    })
}

/// `GET act_<id>/delivery_estimate?targeting_spec=..`: a location is required (subcode
/// 1885364, J1.2); the estimate grows with the number of countries.
fn meta_delivery_estimate(q: &HashMap<String, String>) -> Response {
    let spec: Value = q
        .get("targeting_spec")
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null);
    let countries = spec
        .pointer("/geo_locations/countries")
        .and_then(Value::as_array)
        .map(Vec::len)
        .unwrap_or(0);
    if countries == 0 && spec.pointer("/geo_locations/regions").is_none() {
        return meta_error(
            StatusCode::BAD_REQUEST,
            json!({"message": "Invalid parameter", "type": "OAuthException", "code": 100, "error_subcode": 1885364, "error_user_title": "Missing Target Audience Location", "error_user_msg": "Your audience is missing a location."}),
            &[],
        );
    }
    let n = countries.max(1) as i64;
    Json(json!({"data": [{
        "daily_outcomes_curve": [{"spend": 0, "reach": 0, "impressions": 0, "actions": 0}],
        "estimate_dau": 21_000_000 * n,
        "estimate_mau_lower_bound": 98_400_000 * n,
        "estimate_mau_upper_bound": 115_800_000 * n,
        "estimate_ready": true,
        "targeting_optimization_types": []
    }]}))
    .into_response()
}

const META_INTERESTS: &[(&str, &str, i64, i64, &str, &str)] = &[
    (
        "6003306084421",
        "Yoga",
        512_000_000,
        602_000_000,
        "Fitness and wellness",
        "Interests|Fitness and wellness|Yoga",
    ),
    (
        "6003012345678",
        "Beer yoga",
        1_200_000,
        1_400_000,
        "Food and drink",
        "Interests|Food and drink|Alcoholic beverages|Beer yoga",
    ),
    (
        "6003159867235",
        "Yoga Journal",
        3_100_000,
        3_600_000,
        "News and entertainment",
        "Interests|Entertainment|Publications|Yoga Journal",
    ),
    (
        "6002985584323",
        "Hot yoga",
        9_800_000,
        11_500_000,
        "Fitness and wellness",
        "Interests|Fitness and wellness|Hot yoga",
    ),
    (
        "6003107902433",
        "Movies",
        1_300_000_000,
        1_500_000_000,
        "Entertainment",
        "Interests|Entertainment|Movies",
    ),
];

/// `GET /{version}/search?type=adinterest|adgeolocation&q=..`; None for other ids.
pub(super) fn meta_search(
    state: &Arc<Mutex<FakeState>>,
    id: &str,
    q: &HashMap<String, String>,
) -> Option<Response> {
    if id != "search" {
        return None;
    }
    if !q.contains_key("access_token") {
        return Some(meta_error(
            StatusCode::BAD_REQUEST,
            json!({"message": "An access token is required to request this resource.", "type": "OAuthException", "code": 104}),
            &[],
        ));
    }
    let kind = q.get("type").cloned().unwrap_or_default();
    let words = q.get("q").cloned().unwrap_or_default().to_lowercase();
    if let Some(r) = meta_fault(lookup_fault(state, &format!("meta {kind} search"))) {
        return Some(r);
    }
    let rows: Vec<Value> = match kind.as_str() {
        "adinterest" => META_INTERESTS
            .iter()
            .filter(|(_, name, ..)| name.to_lowercase().contains(&words))
            .map(|(id, name, lo, hi, topic, path)| {
                // Sizes come as numbers; one as a string, as recorded answers sometimes do.
                let hi = if *id == "6003159867235" {
                    json!(hi.to_string())
                } else {
                    json!(hi)
                };
                json!({"id": id, "name": name, "audience_size_lower_bound": lo, "audience_size_upper_bound": hi,
                       "path": path.split('|').collect::<Vec<_>>(), "topic": topic})
            })
            .collect(),
        "adgeolocation" => [
            json!({"key": "2988507", "name": "Paris", "type": "city", "country_code": "FR", "country_name": "France", "region": "Ile-de-France", "region_id": 1024, "supports_region": true, "supports_city": true}),
            json!({"key": "2490299", "name": "Paris", "type": "city", "country_code": "US", "country_name": "United States", "region": "Texas", "region_id": 3886, "supports_region": true, "supports_city": true}),
            json!({"key": "1024", "name": "Ile-de-France", "type": "region", "country_code": "FR", "country_name": "France", "supports_region": true, "supports_city": true}),
        ]
        .into_iter()
        .filter(|r| {
            r["name"]
                .as_str()
                .is_some_and(|n| n.to_lowercase().contains(&words))
        })
        .collect(),
        other => {
            return Some(meta_error(
                StatusCode::BAD_REQUEST,
                json!({"message": format!("(#100) Invalid search type {other}"), "type": "OAuthException", "code": 100}),
                &[],
            ));
        }
    };
    Some(meta_page(rows, q, "search"))
}

// ---------------------------------------------------------------- TikTok

fn tiktok_token(headers: &HeaderMap) -> Option<Response> {
    headers
        .get("access-token")
        .is_none()
        .then(|| tiktok(40105, "Access token is null, please check.", json!({})))
}

/// A page of `rows` by `page` and `page_size` (at most [`PAGE`]), with `page_info`.
fn tiktok_page(rows: Vec<Value>, q: &HashMap<String, String>, key: &str) -> Response {
    let page = q
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let total_page = rows.len().div_ceil(PAGE).max(1);
    let list: Vec<Value> = rows
        .into_iter()
        .skip((page - 1) * PAGE)
        .take(PAGE)
        .collect();
    let mut data = json!({"page_info": {"page": page, "page_size": PAGE, "total_number": 0, "total_page": total_page}});
    data[key] = Value::Array(list);
    tiktok(0, "OK", data)
}

const ADVERTISERS: &[(&str, &str, &str, &str)] = &[
    (
        "7012345678901234567",
        "Disney US TikTok",
        "USD",
        "America/New_York",
    ),
    (
        "7012345678901234999",
        "Disney DACH TikTok",
        "EUR",
        "Europe/Berlin",
    ),
];

/// `GET /open_api/v1.3/oauth2/advertiser/get/?app_id=..&secret=..`
pub(super) async fn tiktok_advertisers(
    State(state): Shared,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    pause(&state).await;
    if let Some(r) = tiktok_token(&headers) {
        return r;
    }
    if q.get("app_id").map(String::as_str) != Some(TIKTOK_APP_ID)
        || q.get("secret").map(String::as_str) != Some(TIKTOK_APP_SECRET)
    {
        return tiktok(40001, "app_id or secret is invalid", json!({}));
    }
    if let Some(r) = tiktok_fault(lookup_fault(&state, "tiktok advertiser lookup")) {
        return r;
    }
    let list: Vec<Value> = ADVERTISERS
        .iter()
        .map(|(id, name, ..)| json!({"advertiser_id": id, "advertiser_name": name}))
        .collect();
    tiktok(0, "OK", json!({ "list": list }))
}

/// `GET /open_api/v1.3/advertiser/info/?advertiser_ids=[..]&fields=[..]`
pub(super) async fn tiktok_advertiser_info(
    State(state): Shared,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    pause(&state).await;
    if let Some(r) = tiktok_token(&headers) {
        return r;
    }
    if let Some(r) = tiktok_fault(lookup_fault(&state, "tiktok advertiser info")) {
        return r;
    }
    let Some(ids) = q
        .get("advertiser_ids")
        .and_then(|i| serde_json::from_str::<Vec<String>>(i).ok())
    else {
        return tiktok(
            40002,
            "advertiser_ids: Field must be a JSON array of strings",
            json!({}),
        );
    };
    let list: Vec<Value> = ADVERTISERS
        .iter()
        .filter(|(id, ..)| ids.iter().any(|i| i == id))
        .map(|(id, name, currency, tz)| {
            json!({"advertiser_id": id, "name": name, "status": "STATUS_ENABLE", "currency": currency,
                   "timezone": tz, "display_timezone": "Eastern Time", "company": "Disney", "country": "US", "role": "ROLE_ADVERTISER"})
        })
        .collect();
    tiktok(0, "OK", json!({ "list": list }))
}

/// `GET /open_api/v1.3/identity/get/?advertiser_id=..&page=..`
pub(super) async fn tiktok_identities(
    State(state): Shared,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    pause(&state).await;
    if let Some(r) = tiktok_token(&headers) {
        return r;
    }
    if let Some(r) = tiktok_fault(lookup_fault(&state, "tiktok identity lookup")) {
        return r;
    }
    let rows = vec![
        json!({"identity_id": "7d1e2f30-aaaa-4bbb-8ccc-000000000001", "identity_type": "CUSTOMIZED_USER", "display_name": "Disney", "profile_image": "https://p16.example/disney.png", "available_status": "AVAILABLE"}),
        json!({"identity_id": "6890123456789012345", "identity_type": "TT_USER", "display_name": "Disney Official", "user_name": "disney", "available_status": "AVAILABLE"}),
        json!({"identity_id": "6890123456789012399", "identity_type": "BC_AUTH_TT", "display_name": "Moana", "user_name": "moana", "available_status": "AVAILABLE"}),
    ];
    tiktok_page(rows, &q, "identity_list")
}

/// `GET /open_api/v1.3/pixel/list/?advertiser_id=..&page=..`
pub(super) async fn tiktok_pixels(
    State(state): Shared,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    pause(&state).await;
    if let Some(r) = tiktok_token(&headers) {
        return r;
    }
    if let Some(r) = tiktok_fault(lookup_fault(&state, "tiktok pixel lookup")) {
        return r;
    }
    let rows = (1..=3)
        .map(|n| json!({"pixel_id": format!("71234567890123{n}"), "pixel_code": format!("C9PIXEL{n}ABCDEF"), "pixel_name": format!("Disney pixel {n}"), "pixel_category": "ONLINE_SHOP", "create_time": "2026-01-05 10:00:00", "events": []}))
        .collect();
    tiktok_page(rows, &q, "pixels")
}

/// `GET /open_api/v1.3/tool/interest_category/?advertiser_id=..&version=2`: the whole tree.
pub(super) async fn tiktok_interest_categories(
    State(state): Shared,
    headers: HeaderMap,
) -> Response {
    pause(&state).await;
    if let Some(r) = tiktok_token(&headers) {
        return r;
    }
    if let Some(r) = tiktok_fault(lookup_fault(&state, "tiktok interest lookup")) {
        return r;
    }
    tiktok(
        0,
        "OK",
        json!({"interest_categories": [
            {"interest_category_id": "15000000000", "interest_category_name": "Sports & Outdoors", "level": 1, "sub_category_ids": ["15100000000"], "placements": ["PLACEMENT_TIKTOK"], "special_industries": []},
            {"interest_category_id": "15100000000", "interest_category_name": "Yoga & Pilates", "level": 2, "sub_category_ids": [], "placements": ["PLACEMENT_TIKTOK"], "special_industries": []},
            {"interest_category_id": "24000000000", "interest_category_name": "Food & Beverage", "level": 1, "sub_category_ids": ["24100000000"], "placements": ["PLACEMENT_TIKTOK"], "special_industries": []},
            {"interest_category_id": "24100000000", "interest_category_name": "Alcoholic Beverages", "level": 2, "sub_category_ids": [], "placements": ["PLACEMENT_TIKTOK"], "special_industries": []}
        ]}),
    )
}

/// `GET /open_api/v1.3/tool/region/?advertiser_id=..&placements=..&objective_type=..`
pub(super) async fn tiktok_regions(
    State(state): Shared,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    pause(&state).await;
    if let Some(r) = tiktok_token(&headers) {
        return r;
    }
    if !q.contains_key("objective_type") || !q.contains_key("placements") {
        return tiktok(
            40002,
            "objective_type and placements are required",
            json!({}),
        );
    }
    if let Some(r) = tiktok_fault(lookup_fault(&state, "tiktok region lookup")) {
        return r;
    }
    tiktok(
        0,
        "OK",
        json!({"region_info": [
            {"location_id": "3017382", "name": "France", "parent_id": "0", "region_code": "FR", "country_code": "FR", "level": "COUNTRY", "area_type": "ADMIN", "next_level_ids": ["3012874"], "support_below_18": false},
            {"location_id": "3012874", "name": "Ile-de-France", "parent_id": "3017382", "region_code": "FR-IDF", "country_code": "FR", "level": "PROVINCE", "area_type": "ADMIN", "next_level_ids": ["2988507"], "support_below_18": false},
            {"location_id": "2988507", "name": "Paris", "parent_id": "3012874", "region_code": "FR-75", "country_code": "FR", "level": "CITY", "area_type": "ADMIN", "next_level_ids": [], "support_below_18": false}
        ]}),
    )
}

/// `POST /open_api/v1.3/ad/audience_size/estimate/`
pub(super) async fn tiktok_audience_size(
    State(state): Shared,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    pause(&state).await;
    if let Some(r) = tiktok_token(&headers) {
        return r;
    }
    if let Some(r) = tiktok_fault(lookup_fault(&state, "tiktok audience size")) {
        return r;
    }
    if body["advertiser_id"].as_str().is_none() || body["location_ids"].as_array().is_none() {
        return tiktok(
            40002,
            "advertiser_id and location_ids are required",
            json!({}),
        );
    }
    tiktok(
        0,
        "OK",
        json!({"user_count": {"lower_end": 41_000_000, "upper_end": 50_100_000}, "user_count_stage": "STAGE_THREE"}),
    )
}

// ---------------------------------------------------------------- Google

fn google_auth(state: &Arc<Mutex<FakeState>>, headers: &HeaderMap) -> Option<Response> {
    let dev = headers.get("developer-token").and_then(|v| v.to_str().ok());
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match (dev, bearer) {
        (Some(d), Some(b)) => {
            let mut s = state.lock().unwrap();
            s.tokens_seen.push(d.to_owned());
            s.tokens_seen.push(b.to_owned());
            None
        }
        _ => Some(google_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            401,
            json!({"authenticationError": "OAUTH_TOKEN_HEADER_INVALID"}),
            "Request is missing required authentication credential.",
            json!({}),
        )),
    }
}

/// `GET /{version}/customers:listAccessibleCustomers`
pub(super) async fn google_accessible_customers(
    State(state): Shared,
    headers: HeaderMap,
) -> Response {
    pause(&state).await;
    if let Some(r) = google_auth(&state, &headers) {
        return r;
    }
    if let Some(r) = google_fault(lookup_fault(&state, "google customers lookup")) {
        return r;
    }
    Json(json!({"resourceNames": ["customers/1234567890", "customers/9876543210"]})).into_response()
}

/// `POST /{version}/geoTargetConstants:suggest`
pub(super) async fn google_geo_suggest(
    State(state): Shared,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    pause(&state).await;
    if let Some(r) = google_auth(&state, &headers) {
        return r;
    }
    if let Some(r) = google_fault(lookup_fault(&state, "google geo lookup")) {
        return r;
    }
    let Some(name) = body
        .pointer("/locationNames/names/0")
        .and_then(Value::as_str)
        .map(str::to_lowercase)
    else {
        return google_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            400,
            json!({"requestError": "REQUIRED_FIELD_MISSING"}),
            "locationNames or geoTargets is required.",
            json!({}),
        );
    };
    let all = [
        (
            "1006094",
            "Paris",
            "FR",
            "City",
            "Paris,Ile-de-France,France",
        ),
        (
            "1026339",
            "Paris",
            "US",
            "City",
            "Paris,Texas,United States",
        ),
    ];
    let suggestions: Vec<Value> = all
        .iter()
        .filter(|(_, n, ..)| n.to_lowercase().contains(&name))
        .map(|(id, n, cc, t, canonical)| {
            json!({"geoTargetConstant": {"resourceName": format!("geoTargetConstants/{id}"), "id": id, "name": n,
                   "countryCode": cc, "targetType": t, "status": "ENABLED", "canonicalName": canonical},
                   "locale": "en", "reach": "11800000", "searchTerm": name})
        })
        .collect();
    Json(json!({ "geoTargetConstantSuggestions": suggestions })).into_response()
}

/// GAQL over `customer`, `conversion_action` and `user_interest`; None for other queries.
pub(super) fn google_search(
    state: &Arc<Mutex<FakeState>>,
    cid: &str,
    query: &str,
    body: &Value,
) -> Option<Response> {
    let from = query.split(" FROM ").nth(1)?.split_whitespace().next()?;
    if !matches!(from, "customer" | "conversion_action" | "user_interest") {
        return None;
    }
    if let Some(r) = google_fault(lookup_fault(state, &format!("google {from} lookup"))) {
        return Some(r);
    }
    Some(match from {
        "customer" => {
            let (name, currency, tz) = match cid {
                "1234567890" => ("Disney US Search", "USD", "America/New_York"),
                "9876543210" => ("Disney UK Search", "GBP", "Europe/London"),
                _ => {
                    return Some(google_error(
                        StatusCode::FORBIDDEN,
                        "PERMISSION_DENIED",
                        403,
                        json!({"authorizationError": "USER_PERMISSION_DENIED"}),
                        "User doesn't have permission to access customer.",
                        json!({}),
                    ));
                }
            };
            Json(json!({"results": [{"customer": {"resourceName": format!("customers/{cid}"), "id": cid,
                "descriptiveName": name, "currencyCode": currency, "timeZone": tz, "status": "ENABLED"}}],
                "fieldMask": "customer.id,customer.descriptiveName,customer.currencyCode,customer.timeZone,customer.status"}))
            .into_response()
        }
        "conversion_action" => {
            let rows: Vec<Value> = (1..=3)
                .map(|n| json!({"conversionAction": {"resourceName": format!("customers/{cid}/conversionActions/55500{n}"),
                    "id": format!("55500{n}"), "name": format!("Ticket purchase {n}"), "status": "ENABLED", "type": "WEBPAGE"}}))
                .collect();
            let start = body["pageToken"]
                .as_str()
                .and_then(|t| t.strip_prefix("page-"))
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0);
            let page: Vec<Value> = rows.iter().skip(start).take(PAGE).cloned().collect();
            let end = start + page.len();
            let mut out = json!({ "results": page });
            if end < rows.len() {
                out["nextPageToken"] = json!(format!("page-{end}"));
            }
            Json(out).into_response()
        }
        _ => {
            let words = query
                .split("LIKE '%")
                .nth(1)
                .and_then(|r| r.split("%'").next())
                .unwrap_or_default()
                .to_lowercase();
            let rows: Vec<Value> = [
                ("92931", "Yoga Enthusiasts", "AFFINITY"),
                ("80511", "Yoga Classes", "IN_MARKET"),
                ("80123", "Beer & Wine Lovers", "AFFINITY"),
            ]
            .iter()
            .filter(|(_, n, _)| n.to_lowercase().contains(&words))
            .map(|(id, n, t)| json!({"userInterest": {"resourceName": format!("customers/{cid}/userInterests/{id}"),
                "userInterestId": id, "name": n, "taxonomyType": t, "launchedToAll": true}}))
            .collect();
            Json(json!({ "results": rows })).into_response()
        }
    })
}
