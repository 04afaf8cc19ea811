//! Google Ads REST: `:mutate` operations with `developer-token`, an OAuth bearer and optional
//! `login-customer-id`; `google.rpc.Status` errors carrying a `GoogleAdsFailure`.
#![allow(clippy::result_large_err)]

use serde_json::{Map, Value, json};

use super::{
    Created, ErrorClass, GOOGLE_ACCESS_TOKEN, GOOGLE_DEVELOPER_TOKEN, GOOGLE_LOGIN_CUSTOMER_ID,
    PlatformClients, PlatformError, json_body, non_json, not_found, retry_after_header, str_of,
    transport_error,
};
use crate::domain::{Channel, Platform};
use crate::platforms::PlatformRequest;
use crate::platforms::live::{
    DELIVERY_STATE, GOOGLE_STRATEGY_TYPE, Level, ObjectUpdate, camel_to_snake,
    google_member_of_strategy,
};

pub(super) fn request(
    c: &PlatformClients,
    channel: &Channel,
    path: &str,
    body: &Value,
) -> Result<reqwest::RequestBuilder, PlatformError> {
    let dev = c.cfg.require(GOOGLE_DEVELOPER_TOKEN, &channel.code)?;
    let access = c.cfg.require(GOOGLE_ACCESS_TOKEN, &channel.code)?;
    let mut rb = c
        .http
        .post(format!("{}{path}", c.cfg.google_ads_base_url))
        .header("developer-token", dev.expose())
        .bearer_auth(access.expose())
        .json(body);
    if let Some(login) = c.cfg.credential(GOOGLE_LOGIN_CUSTOMER_ID, &channel.code) {
        rb = rb.header("login-customer-id", login.expose().replace('-', ""));
    }
    Ok(rb)
}

/// "customers/1/campaigns/22" -> "22"; criteria ids keep their "~" part.
pub(super) fn id_of(resource_name: &str) -> String {
    resource_name
        .rsplit('/')
        .next()
        .unwrap_or(resource_name)
        .to_owned()
}

pub(super) async fn create(
    c: &PlatformClients,
    channel: &Channel,
    req: &PlatformRequest,
    validate_only: bool,
) -> Result<Created, PlatformError> {
    let mut body = req.body.clone();
    if validate_only && let Some(o) = body.as_object_mut() {
        o.insert("validateOnly".into(), Value::Bool(true));
    }
    let (status, parsed, request_id) = send(request(c, channel, &req.path, &body)?, true).await?;
    if validate_only {
        return Ok(Created {
            id: None,
            trace_id: request_id,
            http_status: status,
        });
    }
    let ids: Vec<String> = parsed
        .get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("resourceName").and_then(Value::as_str))
        .map(id_of)
        .collect();
    if ids.is_empty() {
        return Err(PlatformError::created_without_id(
            Platform::GoogleAds,
            Some(status),
            format!("mutate answered without resource names: {parsed}"),
        ));
    }
    Ok(Created {
        id: Some(ids.join(",")),
        trace_id: request_id,
        http_status: status,
    })
}

pub(super) fn gaql_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

pub(super) async fn find(
    c: &PlatformClients,
    channel: &Channel,
    req: &PlatformRequest,
    ids: &Map<String, Value>,
) -> Result<Option<String>, PlatformError> {
    let create = req
        .body
        .get("operations")
        .and_then(|o| o.get(0))
        .and_then(|o| o.get("create"));
    let name = create
        .and_then(|c| c.get("name"))
        .and_then(Value::as_str)
        .map(gaql_string);
    let id = |k: &str| {
        ids.get(k)
            .and_then(Value::as_str)
            .filter(|v| v.chars().all(|c| c.is_ascii_digit()))
            .map(str::to_owned)
    };
    let query = match (req.object.as_str(), name) {
        ("campaign_budget", Some(n)) => format!(
            "SELECT campaign_budget.resource_name FROM campaign_budget WHERE campaign_budget.name = {n} AND campaign_budget.status != 'REMOVED'"
        ),
        ("campaign", Some(n)) => format!(
            "SELECT campaign.resource_name FROM campaign WHERE campaign.name = {n} AND campaign.status != 'REMOVED'"
        ),
        ("ad_group", Some(n)) => match id("campaign") {
            Some(cid) => format!(
                "SELECT ad_group.resource_name FROM ad_group WHERE ad_group.name = {n} AND campaign.id = {cid} AND ad_group.status != 'REMOVED'"
            ),
            None => return Ok(None),
        },
        // Unnamed objects: anything already under the parent was made by this ticket.
        ("campaign_criterion", _) => match id("campaign") {
            Some(cid) => format!(
                "SELECT campaign_criterion.resource_name FROM campaign_criterion WHERE campaign.id = {cid}"
            ),
            None => return Ok(None),
        },
        ("ad_group_criterion", _) => match id("ad_group") {
            Some(gid) => format!(
                "SELECT ad_group_criterion.resource_name FROM ad_group_criterion WHERE ad_group.id = {gid}"
            ),
            None => return Ok(None),
        },
        ("ad_group_ad", _) => match id("ad_group") {
            Some(gid) => format!(
                "SELECT ad_group_ad.resource_name FROM ad_group_ad WHERE ad_group.id = {gid} AND ad_group_ad.status != 'REMOVED'"
            ),
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    // "/v25/customers/123/campaigns:mutate" -> "/v25/customers/123/googleAds:search"
    let Some((base, _)) = req.path.rsplit_once('/') else {
        return Ok(None);
    };
    let path = format!("{base}/googleAds:search");
    let (_, parsed, _) = send(
        request(c, channel, &path, &json!({ "query": query }))?,
        false,
    )
    .await?;
    // Each result row holds the selected resource: {"campaign": {"resourceName": "..."}}.
    let found: Vec<String> = parsed
        .get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|row| {
            row.as_object()?
                .values()
                .find_map(|v| v.get("resourceName").and_then(Value::as_str))
                .map(id_of)
        })
        .collect();
    Ok((!found.is_empty()).then(|| found.join(",")))
}

/// (GAQL resource, REST collection) of a level.
fn resource(level: Level) -> (&'static str, &'static str) {
    match level {
        Level::Budget => ("campaign_budget", "campaignBudgets"),
        Level::Campaign => ("campaign", "campaigns"),
        Level::AdSet => ("ad_group", "adGroups"),
        Level::Ad => ("ad_group_ad", "adGroupAds"),
    }
}

/// "campaign_budget" -> "campaignBudget": the key of a search result row.
pub(super) fn row_key(res: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for ch in res.chars() {
        if ch == '_' {
            up = true;
        } else if up {
            out.push(ch.to_ascii_uppercase());
            up = false;
        } else {
            out.push(ch);
        }
    }
    out
}

/// `customers/{cid}/{collection}/{id}`, checking the parts cannot leave that path.
fn live_resource_name(
    channel: &Channel,
    update: &ObjectUpdate,
) -> Result<(String, String), PlatformError> {
    let cid: String = channel.account_id.chars().filter(|c| *c != '-').collect();
    let id = update.id.trim();
    let ok_id = !id.is_empty() && id.chars().all(|c| c.is_ascii_digit() || c == '~');
    if cid.is_empty() || !cid.chars().all(|c| c.is_ascii_digit()) || !ok_id {
        return Err(PlatformError {
            code: Some("BAD_ID".into()),
            message: format!(
                "\"{id}\" under customer \"{}\" is not a Google Ads resource id",
                channel.account_id
            ),
            ..PlatformError::empty(Platform::GoogleAds)
        });
    }
    let (_, collection) = resource(update.level);
    Ok((cid.clone(), format!("customers/{cid}/{collection}/{id}")))
}

/// Send one request; the HTTP status, the JSON answer and Google's request id, or the
/// classified error.
pub(super) async fn send(
    rb: reqwest::RequestBuilder,
    is_write: bool,
) -> Result<(u16, Value, Option<String>), PlatformError> {
    // A read changes nothing, so its failure never leaves an outcome in doubt.
    let read = |e: PlatformError| if is_write { e } else { e.after_read() };
    let resp = rb
        .send()
        .await
        .map_err(|e| read(transport_error(Platform::GoogleAds, e)))?;
    let (status, headers, parsed) = json_body(resp).await;
    let request_id = headers
        .get("request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let parsed = parsed.map_err(|t| read(non_json(Platform::GoogleAds, status, &headers, t)))?;
    if let Some(err) = parsed.get("error") {
        let mut e = classify(status, err, &parsed, is_write);
        e.trace_id = e.trace_id.or(request_id.clone());
        e.retry_after_ms = e.retry_after_ms.or_else(|| retry_after_header(&headers));
        return Err(e);
    }
    if !(200..300).contains(&status) {
        let body = parsed.to_string();
        return Err(read(non_json(Platform::GoogleAds, status, &headers, body)));
    }
    Ok((status, parsed, request_id))
}

/// GAQL read of the fields (lowerCamelCase paths, selected in snake_case) and the delivery
/// state (`primary_status`; a budget's `status`), by resource name (H3.2).
pub(super) async fn read_live(
    c: &PlatformClients,
    channel: &Channel,
    update: &ObjectUpdate,
) -> Result<Map<String, Value>, PlatformError> {
    let (cid, rn) = live_resource_name(channel, update)?;
    let (res, _) = resource(update.level);
    let delivery = if update.level == Level::Budget {
        "status"
    } else {
        "primary_status"
    };
    let mut select = vec![format!("{res}.resource_name"), format!("{res}.{delivery}")];
    for k in update.fields.keys() {
        let f = format!("{res}.{}", camel_to_snake(k));
        if !select.contains(&f) {
            select.push(f);
        }
    }
    let query = format!(
        "SELECT {} FROM {res} WHERE {res}.resource_name = {}",
        select.join(", "),
        gaql_string(&rn)
    );
    let path = format!(
        "/{}/customers/{cid}/googleAds:search",
        c.cfg.google_ads_api_version
    );
    let (_, parsed, _) = send(
        request(c, channel, &path, &json!({ "query": query }))?,
        false,
    )
    .await?;
    let key = row_key(res);
    let Some(row) = parsed
        .get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get(&key))
        .find(|r| r.get("resourceName").and_then(Value::as_str) == Some(rn.as_str()))
    else {
        return Err(not_found(Platform::GoogleAds, update));
    };
    let at = |path: &str| -> Value {
        path.split('.')
            .try_fold(row, |v, seg| v.get(seg))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let mut out = Map::new();
    for k in update.fields.keys() {
        let v = at(k);
        // int64 travels as a JSON string; keep micros as strings whatever came back.
        let v = match (&v, k.ends_with("Micros")) {
            (Value::Number(n), true) => Value::String(n.to_string()),
            _ => v,
        };
        out.insert(k.clone(), v);
    }
    let delivery_key = if update.level == Level::Budget {
        "status"
    } else {
        "primaryStatus"
    };
    out.insert(DELIVERY_STATE.into(), at(delivery_key));
    Ok(out)
}

/// `{collection}:mutate` with one `update` and an `updateMask` naming exactly the fields
/// (H3.1). A null value clears the field: named in the mask, absent from the object.
pub(super) async fn write_live(
    c: &PlatformClients,
    channel: &Channel,
    update: &ObjectUpdate,
) -> Result<(), PlatformError> {
    let (cid, rn) = live_resource_name(channel, update)?;
    let (_, collection) = resource(update.level);
    let mut object = json!({ "resourceName": rn });
    let mut mask: Vec<String> = update
        .fields
        .keys()
        .filter(|k| k.as_str() != GOOGLE_STRATEGY_TYPE)
        .cloned()
        .collect();
    // A strategy switch whose setting fields already read as wanted (unset): name the new
    // member's selecting leaf so the mask still moves the campaign to it. Google keeps one
    // bidding strategy (a oneof), so setting the new member clears the old one; the old
    // member is not named in the mask (its path with no value would select it again, and the
    // member itself is refused as a field with subfields).
    if let Some(t) = update
        .fields
        .get(GOOGLE_STRATEGY_TYPE)
        .and_then(Value::as_str)
    {
        let (member, leaf) = google_member_of_strategy(t).ok_or_else(|| PlatformError {
            code: Some("BAD_STRATEGY".into()),
            message: format!("{t} is not a bidding strategy a live edit switches to"),
            field_path: Some(GOOGLE_STRATEGY_TYPE.into()),
            ..PlatformError::empty(Platform::GoogleAds)
        })?;
        if !mask.iter().any(|p| p.starts_with(&format!("{member}."))) {
            mask.push(format!("{member}.{leaf}"));
        }
    }
    for (path, v) in &update.fields {
        if v.is_null() || path == GOOGLE_STRATEGY_TYPE {
            continue;
        }
        let mut at = &mut object;
        let segs: Vec<&str> = path.split('.').collect();
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
    let body = json!({"operations": [{"update": object, "updateMask": mask.join(",")}]});
    let path = format!(
        "/{}/customers/{cid}/{collection}:mutate",
        c.cfg.google_ads_api_version
    );
    let (status, parsed, _) = send(request(c, channel, &path, &body)?, true).await?;
    let answered = parsed
        .get("results")
        .and_then(Value::as_array)
        .is_some_and(|r| !r.is_empty());
    if !answered {
        return Err(PlatformError {
            class: ErrorClass::Transient,
            http_status: Some(status),
            message: format!("mutate answered without results: {parsed}"),
            outcome_unknown: true,
            ..PlatformError::empty(Platform::GoogleAds)
        });
    }
    Ok(())
}

/// "30s" or "1.5s" (protobuf Duration JSON) -> milliseconds.
fn duration_ms(v: &Value) -> Option<u64> {
    let s = v.as_str()?.strip_suffix('s')?;
    let secs: f64 = s.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then_some((secs * 1000.0) as u64)
}

/// Parse and classify a `google.rpc.Status` error.
pub(super) fn classify(status: u16, err: &Value, body: &Value, is_create: bool) -> PlatformError {
    let rpc_status = err.get("status").and_then(Value::as_str).unwrap_or("");
    let failure = err
        .get("details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|d| d.get("errors").is_some());
    let first = failure.and_then(|f| f.get("errors")).and_then(|e| e.get(0));
    let (category, value) = first
        .and_then(|e| e.get("errorCode"))
        .and_then(Value::as_object)
        .and_then(|m| m.iter().next())
        .map(|(k, v)| (Some(k.clone()), str_of(v)))
        .unwrap_or((None, None));
    let field_path = first
        .and_then(|e| e.get("location"))
        .and_then(|l| l.get("fieldPathElements"))
        .and_then(Value::as_array)
        .map(|els| {
            els.iter()
                .filter_map(|el| {
                    let name = el.get("fieldName").and_then(Value::as_str)?;
                    Some(match el.get("index").and_then(Value::as_i64) {
                        Some(i) => format!("{name}[{i}]"),
                        None => name.to_owned(),
                    })
                })
                .collect::<Vec<_>>()
                .join(".")
        })
        .filter(|s| !s.is_empty());
    let retry_delay = first
        .and_then(|e| e.get("details"))
        .and_then(|d| d.get("quotaErrorDetails"))
        .and_then(|q| q.get("retryDelay"))
        .and_then(duration_ms);
    let internal_retryable = category.as_deref() == Some("internalError")
        && matches!(
            value.as_deref(),
            Some("INTERNAL_ERROR" | "TRANSIENT_ERROR" | "DEADLINE_EXCEEDED")
        );
    let class = if status == 429
        || rpc_status == "RESOURCE_EXHAUSTED"
        || category.as_deref() == Some("quotaError")
    {
        ErrorClass::RateLimited
    } else if status >= 500
        || internal_retryable
        || matches!(
            rpc_status,
            "UNAVAILABLE" | "INTERNAL" | "DEADLINE_EXCEEDED" | "UNKNOWN"
        )
    {
        ErrorClass::Transient
    } else {
        ErrorClass::Permanent
    };
    let message = first
        .and_then(|e| e.get("message"))
        .or_else(|| err.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("Google Ads returned an error without a message")
        .to_owned();
    PlatformError {
        class,
        http_status: Some(status),
        code: category.or_else(|| (!rpc_status.is_empty()).then(|| rpc_status.to_owned())),
        subcode: value,
        message,
        field_path,
        trace_id: failure.and_then(|f| f.get("requestId")).and_then(str_of),
        retry_after_ms: retry_delay,
        outcome_unknown: is_create && class == ErrorClass::Transient,
        body: Some(body.clone()),
        ..PlatformError::empty(Platform::GoogleAds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_errors_carry_the_retry_delay() {
        let body = json!({"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.ads.googleads.v25.errors.GoogleAdsFailure",
              "errors": [{"errorCode": {"quotaError": "RESOURCE_EXHAUSTED"}, "message": "Too many requests.",
                          "details": {"quotaErrorDetails": {"rateScope": "DEVELOPER", "rateName": "Number of operations for basic access", "retryDelay": "37.5s"}}}],
              "requestId": "q1"}]}});
        let p = classify(429, &body["error"], &body, true);
        assert_eq!(p.class, ErrorClass::RateLimited);
        assert_eq!(p.retry_after_ms, Some(37_500));
        assert_eq!(p.code.as_deref(), Some("quotaError"));
        assert_eq!(p.trace_id.as_deref(), Some("q1"));
        assert!(!p.outcome_unknown);
    }

    #[test]
    fn field_paths_and_classes() {
        let body = json!({"error": {"code": 400, "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.ads.googleads.v25.errors.GoogleAdsFailure",
              "errors": [{"errorCode": {"campaignError": "DUPLICATE_CAMPAIGN_NAME"}, "message": "A campaign with this name already exists.",
                          "trigger": {"stringValue": "DIS_US_GADS_2027_Moana"},
                          "location": {"fieldPathElements": [{"fieldName": "operations", "index": 0}, {"fieldName": "create"}, {"fieldName": "name"}]}}],
              "requestId": "r2"}]}});
        let p = classify(400, &body["error"], &body, true);
        assert_eq!(p.class, ErrorClass::Permanent);
        assert_eq!(p.subcode.as_deref(), Some("DUPLICATE_CAMPAIGN_NAME"));
        assert_eq!(p.field_path.as_deref(), Some("operations[0].create.name"));

        let body = json!({"error": {"code": 503, "message": "The service is currently unavailable.", "status": "UNAVAILABLE"}});
        let p = classify(503, &body["error"], &body, true);
        assert_eq!(p.class, ErrorClass::Transient);
        assert!(p.outcome_unknown);
        assert_eq!(p.code.as_deref(), Some("UNAVAILABLE"));
    }
}
