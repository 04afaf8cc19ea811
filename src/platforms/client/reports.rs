//! Read-back (PLATFORMS.md I): daily metrics of a ticket's campaign and the delivery
//! diagnostics of each of its live objects, through the same credentials, error
//! classification and reads as everything else the clients do.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{
    META_TOKEN, PlatformClients, PlatformError, TIKTOK_TOKEN, google_ads, meta, str_of, tiktok,
    transport_error,
};
use crate::domain::{Channel, Platform};
use crate::platforms::live::{self, DELIVERY_STATE, Level, LiveStatus, ObjectUpdate};

/// At most this many pages per report request; more means the request is too wide.
const MAX_PAGES: usize = 100;
/// TikTok's day-by-day reports span at most 30 days (I2.1).
const TIKTOK_SPAN_DAYS: i64 = 30;

/// One day of one object's metrics, money exact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayMetrics {
    /// The `external_ids` key of the object the row is for (`campaign`).
    pub object: String,
    pub object_id: String,
    /// YYYY-MM-DD in the ad account's time zone.
    pub day: String,
    /// The account currency when the platform states it.
    pub currency: Option<String>,
    /// Millionths of the currency's major unit.
    pub spend_micros: i64,
    pub impressions: i64,
    pub clicks: i64,
    /// Thousandths of a conversion.
    pub conversions_milli: i64,
}

/// What the platform says of one live object's delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The `external_ids` key (`campaign`, `adset`, `ad`, `ad_group_ad`, ...).
    pub object: String,
    pub id: String,
    pub level: Level,
    /// Meta `effective_status`, TikTok `secondary_status`, Google `primary_status` (a
    /// budget's `status`), as the platform spells it.
    pub state: Option<String>,
    /// The diagnostic fields read, under the platform's own names (Meta
    /// `learning_stage_info`, `issues_info`, `ad_review_feedback`; TikTok `operation_status`;
    /// Google `primaryStatusReasons`, `servingStatus`, `biddingStrategySystemStatus`, ...).
    pub fields: Map<String, Value>,
    /// Why the object could not be read, if it could not.
    pub error: Option<String>,
}

/// The diagnostic fields read per platform and level (I1.4, I2.2, I3).
fn diagnostic_fields(platform: Platform, level: Level) -> &'static [&'static str] {
    match (platform, level) {
        (Platform::Meta, Level::Campaign) => &["configured_status", "issues_info"],
        (Platform::Meta, Level::AdSet) => {
            &["configured_status", "learning_stage_info", "issues_info"]
        }
        (Platform::Meta, _) => &["configured_status", "issues_info", "ad_review_feedback"],
        (Platform::Tiktok, _) => &["operation_status"],
        (Platform::GoogleAds, Level::Campaign) => &[
            "status",
            "primaryStatusReasons",
            "servingStatus",
            "biddingStrategySystemStatus",
        ],
        (Platform::GoogleAds, Level::Budget) => {
            &["hasRecommendedBudget", "recommendedBudgetAmountMicros"]
        }
        (Platform::GoogleAds, _) => &["status", "primaryStatusReasons"],
    }
}

/// A decimal in major units ("12.40", 12.4, "1500") as millionths, exact; more than six
/// decimals are rounded half up. None for anything that is not a plain decimal.
pub fn decimal_micros(v: &Value) -> Option<i64> {
    scaled(v, 6)
}

/// A count that may be fractional (Google's attributed conversions) in thousandths.
pub fn decimal_milli(v: &Value) -> Option<i64> {
    scaled(v, 3)
}

fn scaled(v: &Value, digits: u32) -> Option<i64> {
    let text = match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let text = live::canonical_decimal(&text)?;
    let (neg, text) = match text.strip_prefix('-') {
        Some(t) => (true, t.to_owned()),
        None => (false, text),
    };
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let scale = 10i64.checked_pow(digits)?;
    let mut out = int.parse::<i64>().ok()?.checked_mul(scale)?;
    let mut frac_digits = frac.chars();
    let mut unit = scale / 10;
    while unit > 0 {
        let d = frac_digits.next().and_then(|c| c.to_digit(10)).unwrap_or(0);
        out = out.checked_add(i64::from(d) * unit)?;
        unit /= 10;
    }
    if frac_digits.next().and_then(|c| c.to_digit(10)).unwrap_or(0) >= 5 {
        out = out.checked_add(1)?;
    }
    Some(if neg { -out } else { out })
}

fn count(v: Option<&Value>) -> i64 {
    v.and_then(|v| scaled(v, 0)).unwrap_or(0)
}

fn campaign_id(platform: Platform, ids: &Map<String, Value>) -> Result<String, PlatformError> {
    ids.get("campaign")
        .and_then(str_of)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| PlatformError {
            code: Some("NOT_DEPLOYED".into()),
            message: "the ticket has no campaign id in external_ids: nothing is live to read"
                .into(),
            ..PlatformError::empty(platform)
        })
}

/// Days from `from` to `to` (YYYY-MM-DD, inclusive) in windows of at most `span` days.
fn windows(from: &str, to: &str, span: i64) -> Vec<(String, String)> {
    let parse = |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok();
    let (Some(mut a), Some(b)) = (parse(from), parse(to)) else {
        return vec![(from.to_owned(), to.to_owned())];
    };
    let mut out = Vec::new();
    while a <= b {
        let end = (a + chrono::Duration::days(span - 1)).min(b);
        out.push((a.to_string(), end.to_string()));
        a = end + chrono::Duration::days(1);
    }
    out
}

impl PlatformClients {
    /// Daily metrics of the ticket's campaign from `from` to `to` (YYYY-MM-DD, inclusive, in
    /// the account's time zone), every page followed: Meta `GET /{campaign}/insights` with
    /// `time_increment=1`, TikTok `report/integrated/get/` (windows of 30 days), Google
    /// GAQL over `segments.date`.
    pub async fn daily_metrics(
        &self,
        channel: &Channel,
        ids: &Map<String, Value>,
        from: &str,
        to: &str,
    ) -> Result<Vec<DayMetrics>, PlatformError> {
        let id = campaign_id(channel.platform, ids)?;
        let r = match channel.platform {
            Platform::Meta => self.meta_metrics(channel, &id, from, to).await,
            Platform::Tiktok => {
                let mut out = Vec::new();
                for (a, b) in windows(from, to, TIKTOK_SPAN_DAYS) {
                    out.extend(self.tiktok_metrics(channel, &id, &a, &b).await?);
                }
                Ok(out)
            }
            Platform::GoogleAds => self.google_metrics(channel, &id, from, to).await,
        };
        r.map_err(|mut e| {
            e.platform = channel.platform;
            e.object.get_or_insert_with(|| "campaign".into());
            e.after_read()
        })
    }

    /// What the platform says of each live object's delivery (status, learning, review,
    /// issues, budget limits). A read that fails is reported on its object; it does not
    /// hide the others.
    pub async fn delivery(
        &self,
        channel: &Channel,
        ids: &Map<String, Value>,
    ) -> Result<Vec<Delivery>, PlatformError> {
        let platform = channel.platform;
        let mut objects =
            live::plan_status(platform, ids, LiveStatus::Paused).map_err(|e| PlatformError {
                code: Some("NOT_DEPLOYED".into()),
                message: e.to_string(),
                ..PlatformError::empty(platform)
            })?;
        if platform == Platform::GoogleAds
            && let Some(budget) = ids.get("campaign_budget").and_then(str_of)
        {
            objects.push(ObjectUpdate {
                object: "campaign_budget".into(),
                id: budget,
                level: Level::Budget,
                fields: Map::new(),
            });
        }
        let mut out = Vec::new();
        for o in objects {
            // Several TikTok ads are read one by one, so each keeps its own state.
            let split: Vec<String> = if platform == Platform::Tiktok && o.level == Level::Ad {
                o.id.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            } else {
                vec![o.id.clone()]
            };
            for id in split {
                let read = ObjectUpdate {
                    id,
                    fields: diagnostic_fields(platform, o.level)
                        .iter()
                        .map(|f| ((*f).to_owned(), Value::Null))
                        .collect(),
                    ..o.clone()
                };
                out.push(match self.live_read(channel, &read).await {
                    Ok(mut fields) => {
                        let state = fields.remove(DELIVERY_STATE).and_then(|v| str_of(&v));
                        fields.retain(|_, v| !v.is_null());
                        Delivery {
                            object: read.object,
                            id: read.id,
                            level: read.level,
                            state,
                            fields,
                            error: None,
                        }
                    }
                    Err(e) => Delivery {
                        object: read.object,
                        id: read.id,
                        level: read.level,
                        state: None,
                        fields: Map::new(),
                        error: Some(e.to_string()),
                    },
                });
            }
        }
        Ok(out)
    }

    async fn meta_metrics(
        &self,
        channel: &Channel,
        campaign: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<DayMetrics>, PlatformError> {
        let token = self.cfg.require(META_TOKEN, &channel.code)?;
        let url = format!(
            "{}/{}/{}/insights",
            self.cfg.meta_base_url,
            self.cfg.meta_api_version,
            meta::node(campaign)?
        );
        let range = json!({"since": from, "until": to}).to_string();
        let mut after: Option<String> = None;
        let mut out = Vec::new();
        for _ in 0..MAX_PAGES {
            let mut query = vec![
                ("level", "campaign"),
                ("time_increment", "1"),
                ("time_range", range.as_str()),
                (
                    "fields",
                    "campaign_id,spend,impressions,clicks,actions,account_currency,date_start",
                ),
                ("limit", "100"),
                ("access_token", token.expose()),
            ];
            if let Some(a) = after.as_deref() {
                query.push(("after", a));
            }
            let body = meta::get_json(self, &url, &query).await?;
            for row in body
                .get("data")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.push(meta_row(campaign, row)?);
            }
            // Meta gives `paging.next` only when there is another page; follow its cursor
            // (never the URL itself, which carries the token to wherever it points).
            let next = body.pointer("/paging/next").is_some();
            after = body.pointer("/paging/cursors/after").and_then(str_of);
            if !next || after.is_none() {
                return Ok(out);
            }
        }
        Err(too_many_pages(Platform::Meta))
    }

    async fn tiktok_metrics(
        &self,
        channel: &Channel,
        campaign: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<DayMetrics>, PlatformError> {
        let token = self.cfg.require(TIKTOK_TOKEN, &channel.code)?;
        let url = format!(
            "{}/open_api/{}/report/integrated/get/",
            self.cfg.tiktok_base_url, self.cfg.tiktok_api_version
        );
        let filtering = json!([{
            "field_name": "campaign_ids",
            "filter_type": "IN",
            "filter_value": json!([campaign]).to_string(),
        }])
        .to_string();
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            let page_text = page.to_string();
            let resp = self
                .http
                .get(&url)
                .header("Access-Token", token.expose())
                .query(&[
                    ("advertiser_id", channel.account_id.as_str()),
                    ("report_type", "BASIC"),
                    ("service_type", "AUCTION"),
                    ("data_level", "AUCTION_CAMPAIGN"),
                    ("dimensions", r#"["campaign_id","stat_time_day"]"#),
                    (
                        "metrics",
                        r#"["spend","impressions","clicks","conversion","currency"]"#,
                    ),
                    ("filtering", filtering.as_str()),
                    ("start_date", from),
                    ("end_date", to),
                    ("page", page_text.as_str()),
                    ("page_size", "1000"),
                ])
                .send()
                .await
                .map_err(|e| transport_error(Platform::Tiktok, e))?;
            let data = tiktok::envelope(resp, false).await?;
            for row in data
                .get("list")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.push(tiktok_row(campaign, row)?);
            }
            let total = data
                .pointer("/page_info/total_page")
                .and_then(Value::as_u64)
                .unwrap_or(1);
            if page as u64 >= total {
                return Ok(out);
            }
        }
        Err(too_many_pages(Platform::Tiktok))
    }

    async fn google_metrics(
        &self,
        channel: &Channel,
        campaign: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<DayMetrics>, PlatformError> {
        let bad = |what: &str| PlatformError {
            code: Some("BAD_ID".into()),
            message: format!("\"{what}\" is not a Google Ads id or date"),
            ..PlatformError::empty(Platform::GoogleAds)
        };
        let cid: String = channel.account_id.chars().filter(|c| *c != '-').collect();
        if cid.is_empty() || !cid.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad(&channel.account_id));
        }
        if !campaign.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad(campaign));
        }
        for d in [from, to] {
            if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
                return Err(bad(d));
            }
        }
        let query = format!(
            "SELECT campaign.id, segments.date, metrics.cost_micros, metrics.impressions, \
             metrics.clicks, metrics.conversions, customer.currency_code FROM campaign \
             WHERE campaign.id = {campaign} AND segments.date BETWEEN '{from}' AND '{to}' \
             ORDER BY segments.date"
        );
        let path = format!(
            "/{}/customers/{cid}/googleAds:search",
            self.cfg.google_ads_api_version
        );
        let mut token: Option<String> = None;
        let mut out = Vec::new();
        for _ in 0..MAX_PAGES {
            let mut body = json!({ "query": query });
            if let Some(t) = &token {
                body["pageToken"] = json!(t);
            }
            let (_, parsed, _) =
                google_ads::send(google_ads::request(self, channel, &path, &body)?, false).await?;
            for row in parsed
                .get("results")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.push(google_row(campaign, row)?);
            }
            token = parsed.get("nextPageToken").and_then(str_of);
            if token.as_deref().is_none_or(str::is_empty) {
                return Ok(out);
            }
        }
        Err(too_many_pages(Platform::GoogleAds))
    }
}

fn too_many_pages(platform: Platform) -> PlatformError {
    PlatformError {
        code: Some("TOO_MANY_PAGES".into()),
        message: format!("the report has more than {MAX_PAGES} pages; sync a shorter date range"),
        ..PlatformError::empty(platform)
    }
}

fn bad_row(platform: Platform, what: &str, row: &Value) -> PlatformError {
    let shown: String = row.to_string().chars().take(200).collect();
    PlatformError {
        code: Some("BAD_REPORT_ROW".into()),
        message: format!("a report row has no readable {what}: {shown}"),
        ..PlatformError::empty(platform)
    }
}

fn day_of(v: Option<&Value>) -> Option<String> {
    let s = v?.as_str()?;
    let day = s.get(..10)?;
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
    Some(day.to_owned())
}

/// Meta: spend is a decimal string in major units; conversions are the pixel conversions
/// among `actions` (`offsite_conversion.*`), so one event is not counted under several names.
fn meta_row(campaign: &str, row: &Value) -> Result<DayMetrics, PlatformError> {
    let day = day_of(row.get("date_start")).ok_or_else(|| bad_row(Platform::Meta, "date", row))?;
    let spend = match row.get("spend") {
        None => 0,
        Some(v) => decimal_micros(v).ok_or_else(|| bad_row(Platform::Meta, "spend", row))?,
    };
    let conversions = row
        .get("actions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|a| {
            a.get("action_type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.starts_with("offsite_conversion."))
        })
        .filter_map(|a| a.get("value").and_then(decimal_milli))
        .sum();
    Ok(DayMetrics {
        object: "campaign".into(),
        object_id: row
            .get("campaign_id")
            .and_then(str_of)
            .unwrap_or_else(|| campaign.to_owned()),
        day,
        currency: row.get("account_currency").and_then(str_of),
        spend_micros: spend,
        impressions: count(row.get("impressions")),
        clicks: count(row.get("clicks")),
        conversions_milli: conversions,
    })
}

fn tiktok_row(campaign: &str, row: &Value) -> Result<DayMetrics, PlatformError> {
    let dims = row.get("dimensions").unwrap_or(&Value::Null);
    let m = row.get("metrics").unwrap_or(&Value::Null);
    let day =
        day_of(dims.get("stat_time_day")).ok_or_else(|| bad_row(Platform::Tiktok, "date", row))?;
    let spend = match m.get("spend") {
        None => 0,
        Some(v) => decimal_micros(v).ok_or_else(|| bad_row(Platform::Tiktok, "spend", row))?,
    };
    Ok(DayMetrics {
        object: "campaign".into(),
        object_id: dims
            .get("campaign_id")
            .and_then(str_of)
            .unwrap_or_else(|| campaign.to_owned()),
        day,
        currency: m.get("currency").and_then(str_of).filter(|c| !c.is_empty()),
        spend_micros: spend,
        impressions: count(m.get("impressions")),
        clicks: count(m.get("clicks")),
        conversions_milli: m.get("conversion").and_then(decimal_milli).unwrap_or(0),
    })
}

fn google_row(campaign: &str, row: &Value) -> Result<DayMetrics, PlatformError> {
    let day = day_of(row.pointer("/segments/date"))
        .ok_or_else(|| bad_row(Platform::GoogleAds, "date", row))?;
    let spend = match row.pointer("/metrics/costMicros") {
        None => 0,
        Some(v) => scaled(v, 0).ok_or_else(|| bad_row(Platform::GoogleAds, "cost", row))?,
    };
    Ok(DayMetrics {
        object: "campaign".into(),
        object_id: row
            .pointer("/campaign/id")
            .and_then(str_of)
            .unwrap_or_else(|| campaign.to_owned()),
        day,
        currency: row.pointer("/customer/currencyCode").and_then(str_of),
        spend_micros: spend,
        impressions: count(row.pointer("/metrics/impressions")),
        clicks: count(row.pointer("/metrics/clicks")),
        conversions_milli: row
            .pointer("/metrics/conversions")
            .and_then(decimal_milli)
            .unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_become_exact_integers() {
        assert_eq!(decimal_micros(&json!("12.40")), Some(12_400_000));
        assert_eq!(decimal_micros(&json!(12.4)), Some(12_400_000));
        assert_eq!(decimal_micros(&json!("5000")), Some(5_000_000_000));
        assert_eq!(decimal_micros(&json!("0.1234565")), Some(123_457));
        assert_eq!(decimal_micros(&json!("abc")), None);
        assert_eq!(decimal_micros(&json!(null)), None);
        assert_eq!(decimal_milli(&json!(2.5)), Some(2_500));
        assert_eq!(decimal_milli(&json!("3")), Some(3_000));
        assert_eq!(count(Some(&json!("3100"))), 3100);
    }

    #[test]
    fn tiktok_windows_are_thirty_days_at_most() {
        let w = windows("2026-01-01", "2026-03-01", 30);
        assert_eq!(w[0], ("2026-01-01".into(), "2026-01-30".into()));
        assert_eq!(w[1], ("2026-01-31".into(), "2026-03-01".into()));
        assert_eq!(w.len(), 2);
        assert_eq!(windows("2026-01-02", "2026-01-01", 30).len(), 0);
    }

    #[test]
    fn rows_of_each_platform() {
        let m = meta_row(
            "238",
            &json!({"campaign_id": "238", "spend": "12.40", "impressions": "3100", "clicks": "41",
                "actions": [{"action_type": "link_click", "value": "39"},
                            {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "3"}],
                "account_currency": "USD", "date_start": "2026-09-01", "date_stop": "2026-09-01"}),
        )
        .unwrap();
        assert_eq!(
            (m.spend_micros, m.impressions, m.clicks, m.conversions_milli),
            (12_400_000, 3100, 41, 3000)
        );
        let t = tiktok_row(
            "1700",
            &json!({"dimensions": {"campaign_id": "1700", "stat_time_day": "2026-09-01 00:00:00"},
                "metrics": {"spend": "7.05", "impressions": "900", "clicks": "12", "conversion": "2", "currency": "EUR"}}),
        )
        .unwrap();
        assert_eq!(t.day, "2026-09-01");
        assert_eq!(t.currency.as_deref(), Some("EUR"));
        assert_eq!(t.spend_micros, 7_050_000);
        let g = google_row(
            "111",
            &json!({"campaign": {"id": "111"}, "segments": {"date": "2026-09-02"},
                "metrics": {"costMicros": "12400000", "impressions": "3100", "clicks": "41", "conversions": 2.5},
                "customer": {"currencyCode": "USD"}}),
        )
        .unwrap();
        assert_eq!((g.spend_micros, g.conversions_milli), (12_400_000, 2_500));
        assert!(meta_row("1", &json!({"spend": "1"})).is_err());
        assert!(meta_row("1", &json!({"date_start": "2026-09-01", "spend": "1e3"})).is_err());
    }
}
