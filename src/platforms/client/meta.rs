//! Meta Graph API: form-encoded POSTs to `/{version}/act_{id}/<edge>` with `access_token`,
//! the `error` envelope, throttling codes and usage headers.
#![allow(clippy::result_large_err)]

use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};

use super::{
    Created, EVENTS_TIMEOUT, ErrorClass, EventsSent, META_TOKEN, PlatformClients, PlatformError,
    json_body, non_json, not_found, retry_after_header, str_of, transport_error,
};
use crate::domain::{Channel, Platform};
use crate::platforms::PlatformRequest;
use crate::platforms::live::{DELIVERY_STATE, ObjectUpdate};

/// Graph API params are form fields; nested values are JSON-encoded, as the SDKs send them.
fn form_fields(body: &Value) -> Vec<(String, String)> {
    body.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    let s = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), s)
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(super) async fn create(
    c: &PlatformClients,
    channel: &Channel,
    req: &PlatformRequest,
    validate_only: bool,
) -> Result<Created, PlatformError> {
    let token = c.cfg.require(META_TOKEN, &channel.code)?;
    let url = format!(
        "{}/{}{}",
        c.cfg.meta_base_url, c.cfg.meta_api_version, req.path
    );
    let mut fields = form_fields(&req.body);
    if validate_only {
        fields.push((
            "execution_options".into(),
            json!(["validate_only"]).to_string(),
        ));
    }
    fields.push(("access_token".into(), token.expose().to_owned()));
    let (status, headers, body) = post_form(c.http.post(url).form(&fields)).await?;
    let id = body.get("id").and_then(str_of);
    if id.is_none() && !validate_only {
        return Err(PlatformError::created_without_id(
            Platform::Meta,
            Some(status),
            format!("create answered without an id: {body}"),
        ));
    }
    Ok(Created {
        http_status: status,
        id: if validate_only { None } else { id },
        trace_id: headers
            .get("x-fb-trace-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    })
}

/// Send a Graph form POST; the JSON answer, or the parsed and classified `error`.
pub(super) async fn post_form(
    rb: reqwest::RequestBuilder,
) -> Result<(u16, HeaderMap, Value), PlatformError> {
    let resp = rb
        .send()
        .await
        .map_err(|e| transport_error(Platform::Meta, e))?;
    let (status, headers, body) = json_body(resp).await;
    let body = body.map_err(|t| non_json(Platform::Meta, status, &headers, t))?;
    if let Some(err) = body.get("error") {
        return Err(classify(status, &headers, err, &body));
    }
    if !(200..300).contains(&status) {
        return Err(non_json(Platform::Meta, status, &headers, body.to_string()));
    }
    Ok((status, headers, body))
}

/// Conversions API: `POST /{version}/{pixel}/events` with form fields `data`,
/// `access_token` and `test_event_code`; the token may be set per brand.
pub(super) async fn send_events(
    c: &PlatformClients,
    brand_code: &str,
    pixel: &str,
    data: &[Value],
    test_event_code: Option<&str>,
) -> Result<EventsSent, PlatformError> {
    let token = c.cfg.require(META_TOKEN, brand_code)?;
    let url = format!(
        "{}/{}/{pixel}/events",
        c.cfg.meta_base_url, c.cfg.meta_api_version
    );
    let mut fields = vec![
        ("data".to_owned(), Value::Array(data.to_vec()).to_string()),
        ("access_token".to_owned(), token.expose().to_owned()),
    ];
    if let Some(code) = test_event_code {
        fields.push(("test_event_code".into(), code.to_owned()));
    }
    let (_, _, body) = post_form(c.http.post(url).timeout(EVENTS_TIMEOUT).form(&fields)).await?;
    Ok(EventsSent {
        events_received: body.get("events_received").and_then(Value::as_i64),
        trace_id: body.get("fbtrace_id").and_then(str_of),
    })
}

/// The edge listing this object's siblings, under its parent.
fn list_edge(req: &PlatformRequest, ids: &Map<String, Value>) -> Option<String> {
    let act = req.path.split('/').find(|s| s.starts_with("act_"))?;
    let parent = |k: &str| ids.get(k).and_then(Value::as_str).map(str::to_owned);
    match req.object.as_str() {
        "campaign" => Some(format!("/{act}/campaigns")),
        "adset" => parent("campaign").map(|p| format!("/{p}/adsets")),
        "creative" => Some(format!("/{act}/adcreatives")),
        "ad" => parent("adset").map(|p| format!("/{p}/ads")),
        _ => None,
    }
}

pub(super) async fn find(
    c: &PlatformClients,
    channel: &Channel,
    req: &PlatformRequest,
    ids: &Map<String, Value>,
) -> Result<Option<String>, PlatformError> {
    let Some(name) = req.body.get("name").and_then(Value::as_str) else {
        return Ok(None);
    };
    let Some(edge) = list_edge(req, ids) else {
        return Ok(None);
    };
    let token = c.cfg.require(META_TOKEN, &channel.code)?;
    let url = format!("{}/{}{edge}", c.cfg.meta_base_url, c.cfg.meta_api_version);
    let filtering = json!([{"field": "name", "operator": "EQUAL", "value": name}]).to_string();
    let resp = c
        .http
        .get(url)
        .query(&[
            ("fields", "id,name"),
            ("filtering", filtering.as_str()),
            ("limit", "50"),
            ("access_token", token.expose()),
        ])
        .send()
        .await
        .map_err(|e| transport_error(Platform::Meta, e).after_read())?;
    let (status, headers, body) = json_body(resp).await;
    let body = body.map_err(|t| non_json(Platform::Meta, status, &headers, t))?;
    if let Some(err) = body.get("error") {
        return Err(classify(status, &headers, err, &body).after_read());
    }
    Ok(body
        .get("data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|o| o.get("name").and_then(Value::as_str) == Some(name))
        .and_then(|o| o.get("id"))
        .and_then(str_of))
}

/// Meta money fields: unsigned integers in minor units on write, but budgets read back as
/// strings (H1.3). Read values are turned back into integers.
const MONEY: &[&str] = &[
    "daily_budget",
    "lifetime_budget",
    "spend_cap",
    "budget_remaining",
    "bid_amount",
    "daily_spend_cap",
    "lifetime_spend_cap",
];

/// `GET /{version}/{id}?fields=...,effective_status`.
pub(super) async fn read_live(
    c: &PlatformClients,
    channel: &Channel,
    update: &ObjectUpdate,
) -> Result<Map<String, Value>, PlatformError> {
    let token = c.cfg.require(META_TOKEN, &channel.code)?;
    let url = format!(
        "{}/{}/{}",
        c.cfg.meta_base_url,
        c.cfg.meta_api_version,
        node(&update.id)?
    );
    let mut fields: Vec<&str> = update.fields.keys().map(String::as_str).collect();
    fields.extend(["id", "effective_status"]);
    let fields = fields.join(",");
    let resp = c
        .http
        .get(url)
        .query(&[
            ("fields", fields.as_str()),
            ("access_token", token.expose()),
        ])
        .send()
        .await
        .map_err(|e| transport_error(Platform::Meta, e))?;
    let (status, headers, body) = json_body(resp).await;
    let body = body.map_err(|t| non_json(Platform::Meta, status, &headers, t))?;
    if let Some(err) = body.get("error") {
        // Code 100 subcode 33: "Object with ID ... does not exist".
        if err.get("error_subcode").and_then(Value::as_i64) == Some(33) {
            return Err(not_found(Platform::Meta, update));
        }
        return Err(classify(status, &headers, err, &body));
    }
    if !(200..300).contains(&status) {
        return Err(non_json(Platform::Meta, status, &headers, body.to_string()));
    }
    let mut out = Map::new();
    for k in update.fields.keys() {
        let v = body.get(k).cloned().unwrap_or(Value::Null);
        let v = match (MONEY.contains(&k.as_str()), &v) {
            (true, Value::String(s)) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or(v.clone()),
            _ => v,
        };
        out.insert(k.clone(), v);
    }
    out.insert(
        DELIVERY_STATE.into(),
        body.get("effective_status").cloned().unwrap_or(Value::Null),
    );
    Ok(out)
}

/// `POST /{version}/{id}` with only the fields to change (H1.1).
pub(super) async fn write_live(
    c: &PlatformClients,
    channel: &Channel,
    update: &ObjectUpdate,
) -> Result<(), PlatformError> {
    let token = c.cfg.require(META_TOKEN, &channel.code)?;
    let url = format!(
        "{}/{}/{}",
        c.cfg.meta_base_url,
        c.cfg.meta_api_version,
        node(&update.id)?
    );
    let mut fields = form_fields(&Value::Object(update.fields.clone()));
    fields.push(("access_token".into(), token.expose().to_owned()));
    let (status, _, body) = post_form(c.http.post(url).form(&fields)).await?;
    if body.get("success").and_then(Value::as_bool) == Some(false) {
        return Err(PlatformError {
            class: ErrorClass::Transient,
            http_status: Some(status),
            message: format!("update answered success=false: {body}"),
            outcome_unknown: true,
            ..PlatformError::empty(Platform::Meta)
        });
    }
    Ok(())
}

/// `GET url?query` on the Graph API: the JSON answer, or the classified error. A read, so
/// its failure never leaves an outcome in doubt. The token travels in `query`; `url` is never
/// one the platform handed back (`paging.next` carries the token to wherever it points).
pub(super) async fn get_json(
    c: &PlatformClients,
    url: &str,
    query: &[(&str, &str)],
) -> Result<Value, PlatformError> {
    let resp = c
        .http
        .get(url)
        .query(query)
        .send()
        .await
        .map_err(|e| transport_error(Platform::Meta, e).after_read())?;
    let (status, headers, body) = json_body(resp).await;
    let body = body.map_err(|t| non_json(Platform::Meta, status, &headers, t).after_read())?;
    if let Some(err) = body.get("error") {
        return Err(classify(status, &headers, err, &body).after_read());
    }
    if !(200..300).contains(&status) {
        return Err(non_json(Platform::Meta, status, &headers, body.to_string()).after_read());
    }
    Ok(body)
}

/// A Graph node id: digits only, so it cannot reach another path.
pub(super) fn node(id: &str) -> Result<&str, PlatformError> {
    let id = id.trim();
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()) {
        Ok(id)
    } else {
        Err(PlatformError {
            message: format!("\"{id}\" is not a Meta object id"),
            code: Some("BAD_ID".into()),
            ..PlatformError::empty(Platform::Meta)
        })
    }
}

/// Throttling codes: app (4), user (17), pages (32), app temporary (341), ad account (613),
/// and the business-use-case range 80000-80014.
fn is_throttle(code: i64) -> bool {
    matches!(code, 4 | 17 | 32 | 341 | 613) || (80000..=80014).contains(&code)
}

/// Seconds to wait from the usage headers: BUC `estimated_time_to_regain_access` (minutes)
/// or the ad-account `reset_time_duration` (seconds).
fn usage_wait_ms(headers: &HeaderMap) -> Option<u64> {
    let parse = |name: &str| -> Option<Value> {
        serde_json::from_str(headers.get(name)?.to_str().ok()?).ok()
    };
    let mut best: Option<u64> = None;
    if let Some(Value::Object(buc)) = parse("x-business-use-case-usage") {
        for entries in buc.values() {
            for e in entries.as_array().into_iter().flatten() {
                if let Some(min) = e
                    .get("estimated_time_to_regain_access")
                    .and_then(Value::as_u64)
                    && min > 0
                {
                    best = Some(best.unwrap_or(0).max(min * 60_000));
                }
            }
        }
    }
    if let Some(acc) = parse("x-ad-account-usage")
        && let Some(s) = acc.get("reset_time_duration").and_then(Value::as_u64)
        && s > 0
    {
        best = Some(best.unwrap_or(0).max(s * 1000));
    }
    best
}

/// Parse and classify a Graph `error` object.
pub(super) fn classify(
    status: u16,
    headers: &HeaderMap,
    err: &Value,
    body: &Value,
) -> PlatformError {
    let code = err.get("code").and_then(Value::as_i64);
    let subcode = err.get("error_subcode").and_then(Value::as_i64);
    let transient_flag = err.get("is_transient").and_then(Value::as_bool) == Some(true);
    let class = match code {
        _ if status == 429 => ErrorClass::RateLimited,
        Some(c) if is_throttle(c) => ErrorClass::RateLimited,
        _ if transient_flag => ErrorClass::Transient,
        Some(1 | 2) => ErrorClass::Transient,
        Some(c) if c < 0 => ErrorClass::Transient,
        _ if status >= 500 => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    };
    // error_data is sometimes a JSON-encoded string, sometimes an object.
    let error_data = match err.get("error_data") {
        Some(Value::String(s)) => serde_json::from_str::<Value>(s).ok(),
        Some(v @ Value::Object(_)) => Some(v.clone()),
        _ => None,
    };
    let blame = error_data
        .as_ref()
        .and_then(|d| d.get("blame_field_specs"))
        .and_then(Value::as_array)
        .map(|specs| {
            specs
                .iter()
                .map(|s| match s {
                    Value::Array(parts) => parts
                        .iter()
                        .filter_map(str_of)
                        .collect::<Vec<_>>()
                        .join("."),
                    other => str_of(other).unwrap_or_default(),
                })
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|s| !s.is_empty());
    let retry_after_ms = if class == ErrorClass::RateLimited {
        retry_after_header(headers).or_else(|| usage_wait_ms(headers))
    } else {
        retry_after_header(headers)
    };
    PlatformError {
        class,
        http_status: Some(status),
        code: code.map(|c| c.to_string()),
        subcode: subcode.map(|c| c.to_string()),
        message: err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("Meta returned an error without a message")
            .to_owned(),
        user_title: err
            .get("error_user_title")
            .and_then(Value::as_str)
            .map(str::to_owned),
        user_message: err
            .get("error_user_msg")
            .and_then(Value::as_str)
            .map(str::to_owned),
        field_path: blame,
        trace_id: err.get("fbtrace_id").and_then(str_of),
        retry_after_ms,
        outcome_unknown: class == ErrorClass::Transient,
        body: Some(body.clone()),
        ..PlatformError::empty(Platform::Meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn err(v: Value) -> Value {
        v
    }

    #[test]
    fn throttling_codes_and_usage_headers_give_the_wait() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-business-use-case-usage",
            HeaderValue::from_static(
                r#"{"1234567890":[{"type":"ads_management","call_count":100,"total_cputime":20,"total_time":20,"estimated_time_to_regain_access":7}]}"#,
            ),
        );
        let e = err(
            json!({"message": "(#80004) There have been too many calls to this ad-account.", "type": "OAuthException", "code": 80004, "error_subcode": 2446079, "fbtrace_id": "Abuc"}),
        );
        let p = classify(400, &h, &e, &json!({"error": e}));
        assert_eq!(p.class, ErrorClass::RateLimited);
        assert_eq!(p.retry_after_ms, Some(7 * 60_000));
        assert_eq!(p.code.as_deref(), Some("80004"));

        let mut h = HeaderMap::new();
        h.insert(
            "x-ad-account-usage",
            HeaderValue::from_static(r#"{"acc_id_util_pct":100,"reset_time_duration":120}"#),
        );
        let e = json!({"message": "(#613) Calls to this api have exceeded the rate limit.", "code": 613, "error_subcode": 1487742});
        let p = classify(400, &h, &e, &e);
        assert_eq!(p.class, ErrorClass::RateLimited);
        assert_eq!(p.retry_after_ms, Some(120_000));

        // No header: the caller backs off on its own.
        let e = json!({"message": "(#4) Application request limit reached", "code": 4});
        assert_eq!(
            classify(400, &HeaderMap::new(), &e, &e).retry_after_ms,
            None
        );
    }

    #[test]
    fn transient_and_permanent_errors_with_blame_fields() {
        let e = json!({"message": "An unknown error occurred", "code": 1, "is_transient": true});
        let p = classify(500, &HeaderMap::new(), &e, &e);
        assert_eq!(p.class, ErrorClass::Transient);
        assert!(p.outcome_unknown);

        // error_data as a JSON-encoded string, and as an object.
        for data in [
            json!("{\"blame_field_specs\":[[\"targeting\",\"flexible_spec\"]]}"),
            json!({"blame_field_specs": [["targeting", "flexible_spec"]]}),
        ] {
            let e = json!({"message": "Invalid parameter", "type": "OAuthException", "code": 100,
                "error_subcode": 1487694, "is_transient": false, "error_user_title": "Invalid interest",
                "error_user_msg": "Interest 6003 is no longer available.", "error_data": data, "fbtrace_id": "Aabc"});
            let p = classify(400, &HeaderMap::new(), &e, &e);
            assert_eq!(p.class, ErrorClass::Permanent);
            assert_eq!(p.subcode.as_deref(), Some("1487694"));
            assert_eq!(p.field_path.as_deref(), Some("targeting.flexible_spec"));
            assert_eq!(p.trace_id.as_deref(), Some("Aabc"));
            assert_eq!(p.user_title.as_deref(), Some("Invalid interest"));
            assert!(!p.outcome_unknown);
        }
        let e = json!({"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190});
        assert_eq!(
            classify(400, &HeaderMap::new(), &e, &e).class,
            ErrorClass::Permanent
        );
    }
}
