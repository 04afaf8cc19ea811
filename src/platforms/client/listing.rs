//! Listing the campaigns of an ad account, for the live audit: Meta
//! `GET /{version}/act_{id}/campaigns` (cursor paging), TikTok `campaign/get/` (page numbers
//! from `page_info`), Google Ads `googleAds:search` (`nextPageToken`). Same credentials and
//! error classification as the rest of the clients; a throttled or failed page is retried a
//! few times (waiting as the platform asks, within a bound), and the listing stops at
//! [`MAX_LISTED`] campaigns, saying so.
#![allow(clippy::result_large_err)]

use std::future::Future;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};

use super::{
    ErrorClass, GOOGLE_ACCESS_TOKEN, GOOGLE_DEVELOPER_TOKEN, GOOGLE_LOGIN_CUSTOMER_ID, META_TOKEN,
    PlatformClients, PlatformError, TIKTOK_TOKEN, json_body, non_json, str_of, transport_error,
};
use crate::domain::{Channel, Platform};

/// At most this many campaigns are listed per account; the rest is reported as left off.
pub const MAX_LISTED: usize = 5_000;

/// Page sizes asked for (a platform may answer with fewer).
const META_PAGE: usize = 500;
const TIKTOK_PAGE: usize = 1_000;
/// A page answered with nothing new stops the listing after this many pages, so a platform
/// that keeps handing back a cursor cannot keep us looping.
const MAX_PAGES: usize = 200;

/// Attempts for one read, and the longest wait between two that we accept inside a request.
const READ_ATTEMPTS: u32 = 3;
const MAX_READ_WAIT: Duration = Duration::from_secs(10);

/// One campaign in an ad account, as the platform lists it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ListedCampaign {
    /// The platform's campaign id.
    pub id: String,
    pub name: String,
    /// The platform's own status: Meta `status` (ACTIVE, PAUSED, ...), TikTok
    /// `operation_status` (ENABLE, DISABLE), Google `campaign.status` (ENABLED, PAUSED).
    pub status: String,
    /// Meta `effective_status`, TikTok `secondary_status` when the platform gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_state: Option<String>,
}

/// The campaigns of one account, up to [`MAX_LISTED`].
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignListing {
    pub campaigns: Vec<ListedCampaign>,
    /// True when the account holds more campaigns than were listed.
    pub truncated: bool,
}

/// Run a read, again after a rate limit or a transient failure (up to [`READ_ATTEMPTS`]
/// times), waiting what the platform asked for (at most [`MAX_READ_WAIT`]), else 500 ms
/// doubling. A read changes nothing, so retrying it is always safe.
pub(crate) async fn with_read_retries<T, F, Fut>(mut read: F) -> Result<T, PlatformError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, PlatformError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match read().await {
            Err(e) if e.class != ErrorClass::Permanent && attempt < READ_ATTEMPTS => {
                let backoff = Duration::from_millis(500u64 << (attempt - 1));
                let wait = e.retry_after().unwrap_or(backoff);
                if wait > MAX_READ_WAIT {
                    return Err(e);
                }
                tracing::debug!(platform = %e.platform, class = ?e.class, wait_ms = wait.as_millis() as u64, "retrying a platform read");
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
    }
}

pub(super) fn bad_account(platform: Platform, channel: &Channel, what: &str) -> PlatformError {
    PlatformError {
        code: Some("BAD_ID".into()),
        message: format!(
            "channel {} has account_id \"{}\", which is not {what}; fix it with update_channel",
            channel.code, channel.account_id
        ),
        field_path: Some("account_id".into()),
        ..PlatformError::empty(platform)
    }
}

/// Keeps the listing within [`MAX_LISTED`] and pages within [`MAX_PAGES`].
struct Collector {
    out: Vec<ListedCampaign>,
    truncated: bool,
    pages: usize,
}

impl Collector {
    fn new() -> Self {
        Self {
            out: Vec::new(),
            truncated: false,
            pages: 0,
        }
    }

    /// Add a page; false when the listing must stop (full, or too many pages).
    fn page(&mut self, rows: Vec<ListedCampaign>, more: bool) -> bool {
        self.pages += 1;
        for r in rows {
            if self.out.len() >= MAX_LISTED {
                self.truncated = true;
                return false;
            }
            self.out.push(r);
        }
        if more && (self.out.len() >= MAX_LISTED || self.pages >= MAX_PAGES) {
            self.truncated = true;
            return false;
        }
        more
    }

    fn done(self) -> CampaignListing {
        CampaignListing {
            campaigns: self.out,
            truncated: self.truncated,
        }
    }
}

impl PlatformClients {
    /// The campaigns in the channel's ad account that are not deleted/removed, with their
    /// status, up to [`MAX_LISTED`]. Credentials come from the channel as for deploys.
    pub async fn list_campaigns(
        &self,
        channel: &Channel,
    ) -> Result<CampaignListing, PlatformError> {
        let r = match channel.platform {
            Platform::Meta => self.meta_campaigns(channel).await,
            Platform::Tiktok => self.tiktok_campaigns(channel).await,
            Platform::GoogleAds => self.google_campaigns(channel).await,
        };
        r.map_err(|mut e| {
            e.platform = channel.platform;
            e.object.get_or_insert_with(|| "campaign".into());
            e.after_read()
        })
    }

    /// `GET /{version}/act_{id}/campaigns?fields=id,name,status,effective_status&limit=..`,
    /// then the `after` cursor while `paging.next` is there. We send the cursor ourselves
    /// rather than follow `paging.next`: that URL carries the token and could name any host.
    async fn meta_campaigns(&self, channel: &Channel) -> Result<CampaignListing, PlatformError> {
        let token = self.cfg.require(META_TOKEN, &channel.code)?;
        let act = channel.account_id.trim();
        let act = act.strip_prefix("act_").unwrap_or(act);
        if act.is_empty() || !act.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad_account(
                Platform::Meta,
                channel,
                "a Meta ad account id (digits)",
            ));
        }
        let url = format!(
            "{}/{}/act_{act}/campaigns",
            self.cfg.meta_base_url, self.cfg.meta_api_version
        );
        let limit = META_PAGE.to_string();
        let mut all = Collector::new();
        let mut after: Option<String> = None;
        loop {
            let body = with_read_retries(|| async {
                let mut q: Vec<(&str, &str)> = vec![
                    ("fields", "id,name,status,effective_status"),
                    ("limit", limit.as_str()),
                    ("access_token", token.expose()),
                ];
                if let Some(a) = &after {
                    q.push(("after", a.as_str()));
                }
                super::meta::get_json(self, &url, &q).await
            })
            .await?;
            let rows = body
                .get("data")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|o| {
                    let status = o.get("status").and_then(str_of).unwrap_or_default();
                    // Deleted and archived campaigns are not live.
                    if matches!(status.as_str(), "DELETED" | "ARCHIVED") {
                        return None;
                    }
                    Some(ListedCampaign {
                        id: o.get("id").and_then(str_of)?,
                        name: o.get("name").and_then(str_of).unwrap_or_default(),
                        status,
                        delivery_state: o.get("effective_status").and_then(str_of),
                    })
                })
                .collect();
            let next = body
                .get("paging")
                .filter(|p| p.get("next").is_some_and(|n| !n.is_null()))
                .and_then(|p| p.pointer("/cursors/after"))
                .and_then(str_of)
                .filter(|a| !a.is_empty() && Some(a) != after.as_ref());
            if !all.page(rows, next.is_some()) {
                break;
            }
            after = next;
        }
        Ok(all.done())
    }

    /// `GET /open_api/{v}/campaign/get/?advertiser_id=..&page=..&page_size=..`, pages up to
    /// `page_info.total_page`.
    async fn tiktok_campaigns(&self, channel: &Channel) -> Result<CampaignListing, PlatformError> {
        let token = self.cfg.require(TIKTOK_TOKEN, &channel.code)?;
        let advertiser = channel.account_id.trim();
        if advertiser.is_empty() || !advertiser.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad_account(
                Platform::Tiktok,
                channel,
                "a TikTok advertiser id (digits)",
            ));
        }
        let url = format!(
            "{}/open_api/{}/campaign/get/",
            self.cfg.tiktok_base_url, self.cfg.tiktok_api_version
        );
        let fields = json!([
            "campaign_id",
            "campaign_name",
            "operation_status",
            "secondary_status"
        ])
        .to_string();
        let page_size = TIKTOK_PAGE.to_string();
        let mut all = Collector::new();
        let mut page: u64 = 1;
        loop {
            let page_text = page.to_string();
            let data = with_read_retries(|| async {
                let resp = self
                    .http
                    .get(&url)
                    .header("Access-Token", token.expose())
                    .query(&[
                        ("advertiser_id", advertiser),
                        ("fields", fields.as_str()),
                        ("page", page_text.as_str()),
                        ("page_size", page_size.as_str()),
                    ])
                    .send()
                    .await
                    .map_err(|e| transport_error(Platform::Tiktok, e).after_read())?;
                super::tiktok::envelope(resp, false)
                    .await
                    .map_err(PlatformError::after_read)
            })
            .await?;
            let rows = data
                .get("list")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|o| {
                    let status = o
                        .get("operation_status")
                        .and_then(str_of)
                        .unwrap_or_default();
                    let secondary = o.get("secondary_status").and_then(str_of);
                    if status == "DELETE"
                        || secondary
                            .as_deref()
                            .is_some_and(|s| s.ends_with("_STATUS_DELETE"))
                    {
                        return None;
                    }
                    Some(ListedCampaign {
                        id: o.get("campaign_id").and_then(str_of)?,
                        name: o.get("campaign_name").and_then(str_of).unwrap_or_default(),
                        status,
                        delivery_state: secondary,
                    })
                })
                .collect();
            let total_pages = data
                .pointer("/page_info/total_page")
                .and_then(Value::as_u64)
                .unwrap_or(page);
            if !all.page(rows, page < total_pages) {
                break;
            }
            page += 1;
        }
        Ok(all.done())
    }

    /// `POST /{v}/customers/{cid}/googleAds:search` with the GAQL campaign list, following
    /// `nextPageToken`.
    async fn google_campaigns(&self, channel: &Channel) -> Result<CampaignListing, PlatformError> {
        let dev = self.cfg.require(GOOGLE_DEVELOPER_TOKEN, &channel.code)?;
        let access = self.cfg.require(GOOGLE_ACCESS_TOKEN, &channel.code)?;
        let login = self.cfg.credential(GOOGLE_LOGIN_CUSTOMER_ID, &channel.code);
        let cid: String = channel
            .account_id
            .chars()
            .filter(|c| *c != '-')
            .collect::<String>()
            .trim()
            .to_owned();
        if cid.is_empty() || !cid.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad_account(
                Platform::GoogleAds,
                channel,
                "a Google Ads customer id (digits, dashes allowed)",
            ));
        }
        let url = format!(
            "{}/{}/customers/{cid}/googleAds:search",
            self.cfg.google_ads_base_url, self.cfg.google_ads_api_version
        );
        let query = "SELECT campaign.id, campaign.name, campaign.status FROM campaign WHERE campaign.status != 'REMOVED'";
        let mut all = Collector::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({ "query": query });
            if let Some(t) = &token {
                body["pageToken"] = Value::String(t.clone());
            }
            let parsed = with_read_retries(|| async {
                let mut rb = self
                    .http
                    .post(&url)
                    .header("developer-token", dev.expose())
                    .bearer_auth(access.expose())
                    .json(&body);
                if let Some(l) = login {
                    rb = rb.header("login-customer-id", l.expose().replace('-', ""));
                }
                let resp = rb
                    .send()
                    .await
                    .map_err(|e| transport_error(Platform::GoogleAds, e).after_read())?;
                let (status, headers, parsed) = json_body(resp).await;
                let parsed = parsed
                    .map_err(|t| non_json(Platform::GoogleAds, status, &headers, t).after_read())?;
                if let Some(err) = parsed.get("error") {
                    let mut e = super::google_ads::classify(status, err, &parsed, false);
                    e.retry_after_ms = e
                        .retry_after_ms
                        .or_else(|| super::retry_after_header(&headers));
                    return Err(e);
                }
                if !(200..300).contains(&status) {
                    let text = parsed.to_string();
                    return Err(non_json(Platform::GoogleAds, status, &headers, text).after_read());
                }
                Ok(parsed)
            })
            .await?;
            let rows = parsed
                .get("results")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|r| {
                    let c = r.get("campaign")?;
                    let id = c.get("id").and_then(str_of).or_else(|| {
                        c.get("resourceName")
                            .and_then(Value::as_str)
                            .and_then(|rn| rn.rsplit('/').next())
                            .map(str::to_owned)
                    })?;
                    Some(ListedCampaign {
                        id,
                        name: c.get("name").and_then(str_of).unwrap_or_default(),
                        status: c.get("status").and_then(str_of).unwrap_or_default(),
                        delivery_state: None,
                    })
                })
                .collect();
            let next = parsed
                .get("nextPageToken")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty() && Some(*t) != token.as_deref())
                .map(str::to_owned);
            if !all.page(rows, next.is_some()) {
                break;
            }
            token = next;
        }
        Ok(all.done())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: usize) -> ListedCampaign {
        ListedCampaign {
            id: i.to_string(),
            name: format!("c{i}"),
            status: "ACTIVE".into(),
            delivery_state: None,
        }
    }

    #[test]
    fn listing_stops_at_the_bound_and_says_so() {
        let mut c = Collector::new();
        assert!(c.page((0..3).map(row).collect(), true));
        assert!(!c.page((3..6).map(row).collect(), false));
        let done = c.done();
        assert_eq!(done.campaigns.len(), 6);
        assert!(!done.truncated);

        let mut c = Collector::new();
        let mut more = true;
        let mut i = 0;
        while more {
            more = c.page((i..i + 1_000).map(row).collect(), true);
            i += 1_000;
        }
        let done = c.done();
        assert_eq!(done.campaigns.len(), MAX_LISTED);
        assert!(done.truncated);
    }
}
