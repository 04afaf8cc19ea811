//! TikTok Marketing API v1.3: JSON with an `Access-Token` header and a `code`/`message`
//! envelope where HTTP 200 can still carry an error. TikTok has no validate-only mode.
#![allow(clippy::result_large_err)]

use serde_json::{Map, Value, json};

use super::{
    Created, EVENTS_TIMEOUT, ErrorClass, EventsSent, PlatformClients, PlatformError, TIKTOK_TOKEN,
    json_body, non_json, not_found, retry_after_header, str_of, transport_error, unsupported,
};
use crate::domain::{Channel, Platform};
use crate::platforms::PlatformRequest;
use crate::platforms::live::{DELIVERY_STATE, Level, ObjectUpdate, canonical_number};

pub(super) async fn create(
    c: &PlatformClients,
    channel: &Channel,
    req: &PlatformRequest,
) -> Result<Created, PlatformError> {
    let token = c.cfg.require(TIKTOK_TOKEN, &channel.code)?;
    let url = format!("{}{}", c.cfg.tiktok_base_url, req.path);
    let resp = c
        .http
        .post(url)
        .header("Access-Token", token.expose())
        .json(&req.body)
        .send()
        .await
        .map_err(|e| transport_error(Platform::Tiktok, e))?;
    let (status, body) = checked(resp, true).await?;
    let data = body.get("data").cloned().unwrap_or(Value::Null);
    let id = match req.object.as_str() {
        "campaign" => data.get("campaign_id").and_then(str_of),
        "adgroup" => data.get("adgroup_id").and_then(str_of),
        // One ad per creative: keep them all, in order ("id1,id2"), as live edits expect.
        "ad" => data
            .get("ad_ids")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(str_of).collect::<Vec<_>>().join(","))
            .filter(|ids| !ids.is_empty())
            .or_else(|| data.get("ad_id").and_then(str_of)),
        _ => None,
    };
    match id {
        Some(id) => Ok(Created {
            id: Some(id),
            trace_id: body.get("request_id").and_then(str_of),
            http_status: status,
        }),
        None => Err(PlatformError::created_without_id(
            Platform::Tiktok,
            None,
            format!("create answered code 0 without an id: {data}"),
        )),
    }
}

/// Events API 2.0: `POST /open_api/v1.3/event/track/` with the pixel as `event_source_id`;
/// the token may be set per brand.
pub(super) async fn send_events(
    c: &PlatformClients,
    brand_code: &str,
    pixel: &str,
    data: &[Value],
    test_event_code: Option<&str>,
) -> Result<EventsSent, PlatformError> {
    let token = c.cfg.require(TIKTOK_TOKEN, brand_code)?;
    let mut body = json!({"event_source": "web", "event_source_id": pixel, "data": data});
    if let Some(code) = test_event_code {
        body["test_event_code"] = Value::String(code.to_owned());
    }
    let resp = c
        .http
        .post(format!(
            "{}/open_api/v1.3/event/track/",
            c.cfg.tiktok_base_url
        ))
        .timeout(EVENTS_TIMEOUT)
        .header("Access-Token", token.expose())
        .json(&body)
        .send()
        .await
        .map_err(|e| transport_error(Platform::Tiktok, e))?;
    let (_, answer) = checked(resp, false).await?;
    Ok(EventsSent {
        events_received: Some(data.len() as i64),
        trace_id: answer.get("request_id").and_then(str_of),
    })
}

/// Check the envelope; return `data` on code 0.
pub(super) async fn envelope(
    resp: reqwest::Response,
    is_create: bool,
) -> Result<Value, PlatformError> {
    let (_, body) = checked(resp, is_create).await?;
    Ok(body.get("data").cloned().unwrap_or(Value::Null))
}

/// The whole body on code 0; otherwise the classified error (HTTP 200 can carry one).
async fn checked(resp: reqwest::Response, is_create: bool) -> Result<(u16, Value), PlatformError> {
    let (status, headers, body) = json_body(resp).await;
    let body = body.map_err(|t| non_json(Platform::Tiktok, status, &headers, t))?;
    let code = body.get("code").and_then(Value::as_i64);
    if code == Some(0) && (200..300).contains(&status) {
        return Ok((status, body));
    }
    let class = match code {
        _ if status == 429 => ErrorClass::RateLimited,
        Some(40100) => ErrorClass::RateLimited,
        // 5xxxx: TikTok's internal and system errors.
        Some(c) if (50000..60000).contains(&c) => ErrorClass::Transient,
        _ if status >= 500 => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    };
    Err(PlatformError {
        class,
        http_status: Some(status),
        code: code.map(|c| c.to_string()),
        message: body
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("TikTok returned an error without a message")
            .to_owned(),
        trace_id: body.get("request_id").and_then(str_of),
        retry_after_ms: retry_after_header(&headers),
        outcome_unknown: is_create && class == ErrorClass::Transient,
        body: Some(body),
        ..PlatformError::empty(Platform::Tiktok)
    })
}

pub(super) async fn find(
    c: &PlatformClients,
    channel: &Channel,
    req: &PlatformRequest,
    ids: &Map<String, Value>,
) -> Result<Option<String>, PlatformError> {
    let parent = |k: &str| ids.get(k).and_then(Value::as_str).map(str::to_owned);
    let (endpoint, name_key, id_key, filtering) = match req.object.as_str() {
        "campaign" => {
            let name = req.body.get("campaign_name").and_then(Value::as_str);
            (
                "campaign/get/",
                "campaign_name",
                "campaign_id",
                json!({"campaign_name": name}),
            )
        }
        "adgroup" => {
            let Some(p) = parent("campaign") else {
                return Ok(None);
            };
            (
                "adgroup/get/",
                "adgroup_name",
                "adgroup_id",
                json!({"campaign_ids": [p]}),
            )
        }
        "ad" => {
            let Some(p) = parent("adgroup") else {
                return Ok(None);
            };
            ("ad/get/", "ad_name", "ad_id", json!({"adgroup_ids": [p]}))
        }
        _ => return Ok(None),
    };
    let name = req
        .body
        .get(name_key)
        .or_else(|| {
            req.body
                .get("creatives")
                .and_then(|c| c.get(0))
                .and_then(|c| c.get(name_key))
        })
        .and_then(Value::as_str);
    let Some(name) = name else {
        return Ok(None);
    };
    let advertiser = req
        .body
        .get("advertiser_id")
        .and_then(str_of)
        .unwrap_or_else(|| channel.account_id.clone());
    let token = c.cfg.require(TIKTOK_TOKEN, &channel.code)?;
    // "/open_api/v1.3/campaign/create/" -> "/open_api/v1.3"
    let prefix = req.path.split('/').take(3).collect::<Vec<_>>().join("/");
    let url = format!("{}{prefix}/{endpoint}", c.cfg.tiktok_base_url);
    let resp = c
        .http
        .get(url)
        .header("Access-Token", token.expose())
        .query(&[
            ("advertiser_id", advertiser.as_str()),
            ("filtering", filtering.to_string().as_str()),
            ("page_size", "100"),
        ])
        .send()
        .await
        .map_err(|e| transport_error(Platform::Tiktok, e).after_read())?;
    let data = envelope(resp, false).await?;
    let mut rows = data
        .get("list")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    if req.object == "ad" {
        // The ads one create made: one per creative, each named by its creative.
        let names: Vec<&str> = req
            .body
            .get("creatives")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.get(name_key).and_then(Value::as_str))
            .chain(std::iter::once(name))
            .collect();
        let ids: Vec<String> = rows
            .filter(|o| {
                o.get(name_key)
                    .and_then(Value::as_str)
                    .is_some_and(|n| names.contains(&n))
            })
            .filter_map(|o| o.get(id_key).and_then(str_of))
            .collect();
        return Ok((!ids.is_empty()).then(|| ids.join(",")));
    }
    Ok(rows
        .find(|o| o.get(name_key).and_then(Value::as_str) == Some(name))
        .and_then(|o| o.get(id_key))
        .and_then(str_of))
}

/// Money fields: decimal numbers in the account currency's major units (H2.1).
const MONEY: &[&str] = &[
    "budget",
    "bid_price",
    "conversion_bid_price",
    "deep_cpa_bid",
    "roas_bid",
];

/// The TikTok object kind for a level: campaign, adgroup, ad.
fn kind(update: &ObjectUpdate) -> Result<&'static str, PlatformError> {
    match update.level {
        Level::Campaign => Ok("campaign"),
        Level::AdSet => Ok("adgroup"),
        Level::Ad => Ok("ad"),
        Level::Budget => Err(unsupported(Platform::Tiktok, update, "level")),
    }
}

/// Stored ids: one, or several joined by commas (an ad made of several creatives).
fn ids(update: &ObjectUpdate) -> Vec<String> {
    update
        .id
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The rows of `GET /open_api/{v}/{kind}/get/` for `ids`, in their order, with `fields`
/// (H2.2); an id the platform does not return is a not-found error on `update`. A read
/// changes nothing, so its failure never leaves an outcome in doubt.
pub(super) async fn get_by_ids(
    c: &PlatformClients,
    channel: &Channel,
    update: &ObjectUpdate,
    kind: &str,
    ids: &[String],
    fields: Vec<String>,
) -> Result<Vec<Value>, PlatformError> {
    let filtering = json!({ format!("{kind}_ids"): ids });
    let list = get_list(c, channel, kind, &filtering, fields).await?;
    let id_key = format!("{kind}_id");
    ids.iter()
        .map(|id| {
            list.iter()
                .find(|r| r.get(&id_key).and_then(str_of).as_deref() == Some(id.as_str()))
                .cloned()
                .ok_or_else(|| not_found(Platform::Tiktok, update))
        })
        .collect()
}

/// The rows of `GET /open_api/{v}/{kind}/get/` with this `filtering` (first 100; deleted
/// objects are left out by TikTok's default `primary_status` filter, H2.2).
pub(super) async fn get_list(
    c: &PlatformClients,
    channel: &Channel,
    kind: &str,
    filtering: &Value,
    fields: Vec<String>,
) -> Result<Vec<Value>, PlatformError> {
    let token = c.cfg.require(TIKTOK_TOKEN, &channel.code)?;
    let url = format!(
        "{}/open_api/{}/{kind}/get/",
        c.cfg.tiktok_base_url, c.cfg.tiktok_api_version
    );
    let resp = c
        .http
        .get(url)
        .header("Access-Token", token.expose())
        .query(&[
            ("advertiser_id", channel.account_id.as_str()),
            ("filtering", filtering.to_string().as_str()),
            ("fields", Value::from(fields).to_string().as_str()),
            ("page_size", "100"),
        ])
        .send()
        .await
        .map_err(|e| transport_error(Platform::Tiktok, e).after_read())?;
    let data = envelope(resp, false)
        .await
        .map_err(PlatformError::after_read)?;
    Ok(data
        .get("list")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

/// `GET /open_api/{v}/{kind}/get/` filtered by id (H2.2).
pub(super) async fn read_live(
    c: &PlatformClients,
    channel: &Channel,
    update: &ObjectUpdate,
) -> Result<Map<String, Value>, PlatformError> {
    let kind = kind(update)?;
    let ids = ids(update);
    let id_key = format!("{kind}_id");
    let mut fields: Vec<String> = vec![
        id_key.clone(),
        "operation_status".into(),
        "secondary_status".into(),
    ];
    for k in update.fields.keys() {
        if !fields.contains(k) {
            fields.push(k.clone());
        }
    }
    let rows = get_by_ids(c, channel, update, kind, &ids, fields).await?;
    // Several ads read as one object: a field has a value only when they all agree.
    let common = |k: &str| -> Value {
        let mut vals = rows
            .iter()
            .map(|r| r.get(k).cloned().unwrap_or(Value::Null));
        let first = vals.next().unwrap_or(Value::Null);
        if vals.all(|v| v == first) {
            first
        } else {
            Value::Null
        }
    };
    let mut out = Map::new();
    for k in update.fields.keys() {
        let v = common(k);
        let v = if MONEY.contains(&k.as_str()) {
            canonical_number(&v).unwrap_or(v)
        } else {
            v
        };
        out.insert(k.clone(), v);
    }
    out.insert(DELIVERY_STATE.into(), common("secondary_status"));
    Ok(out)
}

/// Status through `{kind}/status/update/`, everything else through `campaign/update/` or
/// `adgroup/update/` (H2.1). An ad takes only status here.
pub(super) async fn write_live(
    c: &PlatformClients,
    channel: &Channel,
    update: &ObjectUpdate,
) -> Result<(), PlatformError> {
    let kind = kind(update)?;
    let token = c.cfg.require(TIKTOK_TOKEN, &channel.code)?;
    let prefix = format!(
        "{}/open_api/{}",
        c.cfg.tiktok_base_url, c.cfg.tiktok_api_version
    );
    let mut rest = update.fields.clone();
    if let Some(op) = rest.remove("operation_status") {
        let body = json!({
            "advertiser_id": channel.account_id,
            format!("{kind}_ids"): ids(update),
            "operation_status": op,
        });
        let resp = c
            .http
            .post(format!("{prefix}/{kind}/status/update/"))
            .header("Access-Token", token.expose())
            .json(&body)
            .send()
            .await
            .map_err(|e| transport_error(Platform::Tiktok, e))?;
        let data = envelope(resp, true).await?;
        refused_in_error_list(&data, "operation_status")?;
    }
    if rest.is_empty() {
        return Ok(());
    }
    if kind == "ad" {
        let field = rest.keys().next().cloned().unwrap_or_default();
        return Err(unsupported(Platform::Tiktok, update, &field));
    }
    let written = rest.keys().cloned().collect::<Vec<_>>().join(",");
    let mut body = rest;
    body.insert(
        "advertiser_id".into(),
        Value::from(channel.account_id.clone()),
    );
    body.insert(format!("{kind}_id"), Value::from(update.id.clone()));
    let resp = c
        .http
        .post(format!("{prefix}/{kind}/update/"))
        .header("Access-Token", token.expose())
        .json(&body)
        .send()
        .await
        .map_err(|e| transport_error(Platform::Tiktok, e))?;
    let data = envelope(resp, true).await?;
    refused_in_error_list(&data, &written)
}

/// TikTok can answer code 0 and still refuse objects: `data.error_list` holds one entry per
/// refused object (`{"<kind>_id": ..., "error_message": ...}`, H2.1). Any entry makes the
/// write a failure of this object, naming the refused ids and TikTok's reasons; the objects
/// not listed were written, which the next read shows.
pub(super) fn refused_in_error_list(data: &Value, field: &str) -> Result<(), PlatformError> {
    let Some(list) = data
        .get("error_list")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
    else {
        return Ok(());
    };
    let refused: Vec<String> = list
        .iter()
        .map(|e| {
            let id = e.as_object().and_then(|o| {
                o.iter()
                    .find(|(k, _)| k.ends_with("_id"))
                    .and_then(|(k, v)| str_of(v).map(|id| format!("{k} {id}")))
            });
            let why = e
                .get("error_message")
                .or_else(|| e.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("refused without a reason");
            match id {
                Some(id) => format!("{id}: {why}"),
                None => why.to_owned(),
            }
        })
        .collect();
    Err(PlatformError {
        class: ErrorClass::Permanent,
        code: Some("ERROR_LIST".into()),
        message: format!("TikTok answered OK but refused {}", refused.join("; ")),
        field_path: (!field.is_empty()).then(|| field.to_owned()),
        body: Some(data.clone()),
        ..PlatformError::empty(Platform::Tiktok)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::client::PlatformConfig;
    use axum::{Json, Router, routing::post};
    use std::time::Duration;

    /// `ad/create/` makes one ad per creative: every id is kept, in order.
    #[tokio::test]
    async fn a_create_with_several_creatives_keeps_every_ad_id() {
        let app = Router::new().route(
            "/open_api/v1.3/ad/create/",
            post(|| async {
                Json(json!({"code": 0, "message": "OK", "request_id": "r1",
                    "data": {"ad_ids": ["1800000000000000001", "1800000000000000002"]}}))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let mut cfg = PlatformConfig::new(&base, &base, &base, "v25.0", Duration::from_secs(5));
        cfg.set_credential(TIKTOK_TOKEN, "tt-token");
        let clients = PlatformClients::new(cfg).expect("clients");
        let channel = Channel {
            id: 1,
            code: "TIKTOK".into(),
            platform: Platform::Tiktok,
            account_id: "7001".into(),
            archived: false,
            created_at: String::new(),
            updated_at: String::new(),
        };
        let req = PlatformRequest {
            object: "ad".into(),
            method: "POST".into(),
            path: "/open_api/v1.3/ad/create/".into(),
            body: json!({"adgroup_id": "9", "creatives": [{"ad_name": "a"}, {"ad_name": "b"}]}),
        };
        let created = create(&clients, &channel, &req).await.expect("created");
        assert_eq!(
            created.id.as_deref(),
            Some("1800000000000000001,1800000000000000002")
        );
    }
}
