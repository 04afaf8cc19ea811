//! The fake platforms' reporting endpoints (PLATFORMS.md I): Meta `GET /{id}/insights`,
//! TikTok `report/integrated/get/` and Google Ads GAQL over `segments.date`, each in its own
//! wire format, paged in small pages so clients must follow them, with faults for reads of
//! "insights" (`fail_next_read("insights", ...)`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{
    FakePlatforms, FakeState, Fault, google_quota, google_unavailable, meta_error, meta_throttled,
    pause, tiktok,
};

/// One day of a campaign's delivery, as the platform would report it.
#[derive(Debug, Clone)]
pub struct Day {
    /// Decimal in major units ("12.40").
    pub spend: String,
    pub impressions: u64,
    pub clicks: u64,
    /// Decimal ("3", or "2.5" on Google).
    pub conversions: String,
    pub currency: String,
}

#[derive(Debug, Default)]
pub struct Reports {
    /// (campaign id, YYYY-MM-DD) -> the day.
    pub days: BTreeMap<(String, String), Day>,
    /// Rows per page the fake answers at most (small, so paging is exercised).
    pub page_size: usize,
}

impl FakePlatforms {
    /// Record a day of delivery for a campaign id (any platform).
    /// `row` is (spend as a major-unit decimal, impressions, clicks, conversions, currency).
    pub fn set_day(&self, campaign_id: &str, day: &str, row: (&str, u64, u64, &str, &str)) {
        let (spend, impressions, clicks, conversions, currency) = row;
        let mut s = self.state.lock().unwrap();
        s.reports.days.insert(
            (campaign_id.to_owned(), day.to_owned()),
            Day {
                spend: spend.to_owned(),
                impressions,
                clicks,
                conversions: conversions.to_owned(),
                currency: currency.to_owned(),
            },
        );
    }
}

fn page_size(s: &FakeState) -> usize {
    if s.reports.page_size == 0 {
        2
    } else {
        s.reports.page_size
    }
}

fn days_of<'a>(
    s: &'a FakeState,
    campaign: &str,
    from: &str,
    to: &str,
) -> Vec<(&'a String, &'a Day)> {
    s.reports
        .days
        .iter()
        .filter(|((c, d), _)| c == campaign && d.as_str() >= from && d.as_str() <= to)
        .map(|((_, d), day)| (d, day))
        .collect()
}

/// `GET /{version}/{campaign}/insights?level=campaign&time_increment=1&time_range=...`
pub(super) fn meta_insights(
    state: &Arc<Mutex<FakeState>>,
    campaign: &str,
    q: &HashMap<String, String>,
) -> Response {
    let mut s = state.lock().unwrap();
    s.count("meta insights read".into());
    match s.fault_for("read insights") {
        Some(Fault::RateLimit { retry_after_secs }) => {
            return meta_throttled(80000, retry_after_secs);
        }
        Some(Fault::ServerError | Fault::Lose | Fault::AppliedServerError) => {
            return meta_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"message": "An unexpected error has occurred. Please retry your request later.", "type": "OAuthException", "code": 2, "is_transient": true}),
                &[],
            );
        }
        Some(Fault::Reject) => {
            return meta_error(
                StatusCode::BAD_REQUEST,
                json!({"message": "Please reduce the amount of data you're asking for, then retry your request", "type": "OAuthException", "code": 100, "error_subcode": 1487534}),
                &[],
            );
        }
        None => {}
    }
    if q.get("time_increment").map(String::as_str) != Some("1")
        || q.get("level").map(String::as_str) != Some("campaign")
    {
        return meta_error(
            StatusCode::BAD_REQUEST,
            json!({"message": "(#100) time_increment=1 and level=campaign expected by this fake", "type": "OAuthException", "code": 100}),
            &[],
        );
    }
    let range: Value = q
        .get("time_range")
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or(Value::Null);
    let (Some(from), Some(to)) = (range["since"].as_str(), range["until"].as_str()) else {
        return meta_error(
            StatusCode::BAD_REQUEST,
            json!({"message": "(#100) time_range must be {since, until}", "type": "OAuthException", "code": 100}),
            &[],
        );
    };
    let all = days_of(&s, campaign, from, to);
    let start: usize = q
        .get("after")
        .and_then(|a| a.strip_prefix("cursor-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let size = page_size(&s).min(q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(25));
    let data: Vec<Value> = all
        .iter()
        .skip(start)
        .take(size)
        .map(|(d, day)| {
            json!({
                "campaign_id": campaign, "spend": day.spend, "impressions": day.impressions.to_string(),
                "clicks": day.clicks.to_string(), "account_currency": day.currency,
                "actions": [
                    {"action_type": "link_click", "value": day.clicks.to_string()},
                    {"action_type": "offsite_conversion.fb_pixel_purchase", "value": day.conversions},
                    {"action_type": "omni_purchase", "value": day.conversions},
                ],
                "date_start": d, "date_stop": d,
            })
        })
        .collect();
    let end = start + data.len();
    let mut paging =
        json!({"cursors": {"before": format!("cursor-{start}"), "after": format!("cursor-{end}")}});
    if end < all.len() {
        paging["next"] = json!(format!(
            "https://graph.facebook.com/v25.0/{campaign}/insights?after=cursor-{end}&access_token=SECRET"
        ));
    }
    Json(json!({"data": data, "paging": paging})).into_response()
}

/// `GET /open_api/v1.3/report/integrated/get/`
pub(super) async fn tiktok_report(
    State(state): State<Arc<Mutex<FakeState>>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    pause(&state).await;
    if headers.get("access-token").is_none() {
        return tiktok(40105, "Access token is null, please check.", json!({}));
    }
    let mut s = state.lock().unwrap();
    s.count("tiktok insights read".into());
    match s.fault_for("read insights") {
        Some(Fault::RateLimit { .. }) => {
            return tiktok(
                40100,
                "Requests made too frequently, please try again later.",
                json!({}),
            );
        }
        Some(Fault::ServerError | Fault::Lose | Fault::AppliedServerError) => {
            return tiktok(50000, "System error, please try again later.", json!({}));
        }
        Some(Fault::Reject) => return tiktok(40002, "Invalid parameter: metrics", json!({})),
        None => {}
    }
    for p in [
        "advertiser_id",
        "report_type",
        "data_level",
        "dimensions",
        "metrics",
        "start_date",
        "end_date",
    ] {
        if !q.contains_key(p) {
            return tiktok(
                40002,
                &format!("{p}: Missing data for required field."),
                json!({}),
            );
        }
    }
    let (from, to) = (q["start_date"].clone(), q["end_date"].clone());
    let span = chrono::NaiveDate::parse_from_str(&to, "%Y-%m-%d")
        .ok()
        .zip(chrono::NaiveDate::parse_from_str(&from, "%Y-%m-%d").ok())
        .map(|(t, f)| (t - f).num_days());
    if span.is_none_or(|d| !(0..30).contains(&d)) {
        return tiktok(
            40002,
            "The time span cannot exceed 30 days when stat_time_day is a dimension.",
            json!({}),
        );
    }
    let filtering: Value = q
        .get("filtering")
        .and_then(|f| serde_json::from_str(f).ok())
        .unwrap_or(Value::Null);
    let ids: Vec<String> = filtering
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["field_name"] == "campaign_ids")
        .filter_map(|f| {
            f["filter_value"]
                .as_str()
                .and_then(|v| serde_json::from_str::<Vec<String>>(v).ok())
        })
        .flatten()
        .collect();
    let Some(campaign) = ids.first() else {
        return tiktok(
            40002,
            "filtering: campaign_ids expected by this fake",
            json!({}),
        );
    };
    let all = days_of(&s, campaign, &from, &to);
    let size = page_size(&s).min(
        q.get("page_size")
            .and_then(|p| p.parse().ok())
            .unwrap_or(10),
    );
    let page: usize = q
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let list: Vec<Value> = all
        .iter()
        .skip((page - 1) * size)
        .take(size)
        .map(|(d, day)| {
            json!({
                "dimensions": {"campaign_id": campaign, "stat_time_day": format!("{d} 00:00:00")},
                "metrics": {"spend": day.spend, "impressions": day.impressions.to_string(), "clicks": day.clicks.to_string(), "conversion": day.conversions, "currency": day.currency},
            })
        })
        .collect();
    let total_page = all.len().div_ceil(size).max(1);
    tiktok(
        0,
        "OK",
        json!({"list": list, "page_info": {"page": page, "page_size": size, "total_number": all.len(), "total_page": total_page}}),
    )
}

/// `googleAds:search` with `segments.date BETWEEN 'a' AND 'b'`, paged by `pageToken`.
pub(super) fn google_report(state: &Arc<Mutex<FakeState>>, query: &str, body: &Value) -> Response {
    let mut s = state.lock().unwrap();
    s.count("google insights read".into());
    match s.fault_for("read insights") {
        Some(Fault::RateLimit { retry_after_secs }) => return google_quota(retry_after_secs),
        Some(Fault::ServerError | Fault::Lose | Fault::AppliedServerError) => {
            return google_unavailable();
        }
        _ => {}
    }
    if body.get("pageSize").is_some() {
        return super::google_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            400,
            json!({"requestError": "PAGE_SIZE_NOT_SUPPORTED"}),
            "Setting the page size is not supported.",
            json!({}),
        );
    }
    let campaign = query
        .split("campaign.id = ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_default()
        .to_owned();
    let between = query.split("BETWEEN '").nth(1).unwrap_or_default();
    let from = between.split('\'').next().unwrap_or_default().to_owned();
    let to = between
        .split("AND '")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .unwrap_or_default()
        .to_owned();
    let all = days_of(&s, &campaign, &from, &to);
    let start: usize = body["pageToken"]
        .as_str()
        .and_then(|t| t.strip_prefix("page-"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let size = page_size(&s);
    let results: Vec<Value> = all
        .iter()
        .skip(start)
        .take(size)
        .map(|(d, day)| {
            let micros = omnitraffick::platforms::client::decimal_micros(&json!(day.spend)).unwrap_or(0);
            let conv: f64 = day.conversions.parse().unwrap_or(0.0);
            json!({
                "campaign": {"resourceName": format!("customers/1/campaigns/{campaign}"), "id": campaign},
                "metrics": {"costMicros": micros.to_string(), "impressions": day.impressions.to_string(), "clicks": day.clicks.to_string(), "conversions": conv},
                "segments": {"date": d},
                "customer": {"resourceName": "customers/1", "currencyCode": day.currency},
            })
        })
        .collect();
    let end = start + results.len();
    let mut out = json!({"results": results, "fieldMask": "campaign.id,segments.date,metrics.costMicros,metrics.impressions,metrics.clicks,metrics.conversions,customer.currencyCode"});
    if end < all.len() {
        out["nextPageToken"] = json!(format!("page-{end}"));
    }
    Json(out).into_response()
}
