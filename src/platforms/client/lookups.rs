//! Lookups (PLATFORMS.md J): the ad accounts, pages or identities and pixels a channel's
//! credential reaches, interest and location search, and the platform's audience estimate
//! for a translated ticket. Same credentials, error classification and read retries as every
//! other call; results are bounded ([`MAX_SEARCH_RESULTS`], [`MAX_LIST_ITEMS`]) with paging
//! followed up to the bound, and a bound reached is said (`truncated`).
//!
//! Facts marked ❓ below are not confirmed by PLATFORMS.md; they are read defensively (an
//! absent field is `None`, never a crash) so a different real answer degrades, not breaks.
#![allow(clippy::result_large_err)]

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::listing::{bad_account, with_read_retries};
use super::{
    GOOGLE_ACCESS_TOKEN, GOOGLE_DEVELOPER_TOKEN, GOOGLE_LOGIN_CUSTOMER_ID, META_TOKEN,
    PlatformClients, PlatformError, TIKTOK_APP_ID, TIKTOK_APP_SECRET, TIKTOK_TOKEN, str_of,
    transport_error,
};
use crate::domain::{Channel, Platform};
use crate::platforms::TranslatedPayloads;

/// At most this many results per interest or location search.
pub const MAX_SEARCH_RESULTS: usize = 50;
/// At most this many ad accounts, pages or pixels per listing.
pub const MAX_LIST_ITEMS: usize = 200;
/// A platform that keeps handing back a cursor cannot keep us looping.
const MAX_PAGES: usize = 20;
/// Page size asked for (a platform may answer with fewer).
const PAGE: usize = 50;

/// An ad account the channel's credential reaches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AdAccount {
    /// What a channel's `account_id` takes: Meta ad account id without "act_", TikTok
    /// advertiser id, Google Ads customer id (digits).
    pub id: String,
    pub name: String,
    /// Normalised: ACTIVE, DISABLED, PENDING_REVIEW, ... (UNKNOWN when not said).
    pub status: String,
    /// The status as the platform spells it (Meta `account_status` number, TikTok
    /// `status`, Google `customer.status`).
    pub platform_status: String,
    /// ISO 4217, as the platform reports it.
    pub currency: Option<String>,
    /// IANA time zone name (e.g. America/Los_Angeles), as the platform reports it.
    pub time_zone: Option<String>,
    /// Why this account's details could not be read, if they could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A Meta Page or a TikTok identity an ad can speak as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PageOrIdentity {
    /// Meta page id (`object_story_spec.page_id`); TikTok `identity_id`.
    pub id: String,
    pub name: String,
    /// PAGE (Meta); TikTok `identity_type` (CUSTOMIZED_USER, AUTH_CODE, TT_USER, BC_AUTH_TT),
    /// which goes beside `identity_id` in the ad.
    pub kind: String,
    /// Meta page category; TikTok `user_name`.
    pub detail: Option<String>,
}

/// A pixel (Meta, TikTok) or conversion action (Google Ads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PixelInfo {
    /// Meta pixel id (`promoted_object.pixel_id`); TikTok numeric `pixel_id`; Google
    /// conversion action id.
    pub id: String,
    pub name: String,
    /// TikTok `pixel_code` (the Events API `event_source_id`).
    pub code: Option<String>,
    /// Meta: AVAILABLE or UNAVAILABLE (`is_unavailable`); Google conversion action status.
    pub status: Option<String>,
    /// Meta `last_fired_time`; TikTok `pixel_category`; Google conversion action type.
    pub detail: Option<String>,
}

/// An interest (Meta), interest category (TikTok) or user interest (Google Ads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InterestOption {
    /// The id for `payload_config.targeting.interests[].id` on this platform.
    pub id: String,
    pub name: String,
    /// Where it sits in the platform's taxonomy, outermost first.
    pub path: Vec<String>,
    /// Audience size bounds (people), when the platform gives them (Meta only).
    pub audience_size_lower_bound: Option<i64>,
    pub audience_size_upper_bound: Option<i64>,
    /// Meta `topic`; TikTok level; Google `taxonomy_type` (AFFINITY, IN_MARKET).
    pub kind: Option<String>,
}

/// A location the platform targets by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LocationOption {
    /// Meta geo `key` (for `targeting.regions` or cities); TikTok `location_id` (for
    /// `targeting.regions`); Google geo target constant id.
    pub id: String,
    pub name: String,
    /// Meta `type` (country, region, city, zip ...); TikTok `level`; Google `targetType`.
    pub kind: Option<String>,
    pub country_code: Option<String>,
    /// Meta `region`; TikTok `parent_id`; Google `canonicalName`.
    pub parent: Option<String>,
}

/// A bounded list of lookup results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LookupList<T> {
    pub items: Vec<T>,
    /// True when the platform had more than were kept.
    pub truncated: bool,
    /// What the platform offers here when it is less than asked (e.g. Google has no pages).
    pub note: Option<String>,
}

impl<T> LookupList<T> {
    fn of(items: Vec<T>, truncated: bool) -> Self {
        Self {
            items,
            truncated,
            note: None,
        }
    }

    fn none(note: &str) -> Self {
        Self {
            items: Vec::new(),
            truncated: false,
            note: Some(note.to_owned()),
        }
    }
}

/// The platform's audience estimate for a ticket's targeting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReachEstimate {
    /// False where the platform offers no estimate (Google Ads); `note` says so.
    pub offered: bool,
    /// People (Meta monthly active lower/upper bound; TikTok `user_count` ends).
    pub users_lower_bound: Option<i64>,
    pub users_upper_bound: Option<i64>,
    /// Meta `estimate_dau` (daily active people).
    pub daily_active_users: Option<i64>,
    /// Meta `estimate_ready`: false means the numbers are still being computed.
    pub ready: Option<bool>,
    /// The endpoint asked (e.g. "act_{id}/delivery_estimate").
    pub source: Option<String>,
    pub note: Option<String>,
}

/// Google Ads answers for pages and reach, said plainly.
pub const GOOGLE_NO_PAGES: &str = "Google Ads has no pages or identities: a Google ad carries its own business name and logo assets, so there is nothing to pick here";
pub const GOOGLE_NO_REACH: &str = "Google Ads offers no audience-size estimate for this targeting through its API (Keyword Planner forecasts search volume and ReachPlanService forecasts YouTube reach; neither is used here), so none is given";

/// An integer count that may come as a number or a decimal string ("512000000").
fn int_of(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(str_of).filter(|s| !s.trim().is_empty())
}

/// Items whose name contains `query`, case-insensitively (TikTok lists whole taxonomies).
fn matches(name: &str, query: &str) -> bool {
    name.to_lowercase().contains(&query.to_lowercase())
}

/// Meta `account_status` (J1.3): 101 is the SDK's `temporarily_unavailable`, often
/// documented as closed (❓).
fn meta_account_status(code: Option<i64>) -> String {
    match code {
        Some(1) => "ACTIVE".into(),
        Some(2) => "DISABLED".into(),
        Some(3) => "UNSETTLED".into(),
        Some(7) => "PENDING_REVIEW".into(),
        Some(9) => "IN_GRACE_PERIOD".into(),
        Some(100) => "PENDING_CLOSURE".into(),
        Some(101) => "TEMPORARILY_UNAVAILABLE".into(),
        Some(n) => format!("UNKNOWN_{n}"),
        None => "UNKNOWN".into(),
    }
}

/// TikTok `status` (🟡 STATUS_ENABLE, STATUS_LIMIT, STATUS_DISABLE ...).
fn tiktok_account_status(s: &str) -> String {
    match s {
        "STATUS_ENABLE" => "ACTIVE".into(),
        "STATUS_DISABLE" => "DISABLED".into(),
        "STATUS_LIMIT" => "LIMITED".into(),
        s if s.contains("PENDING") || s.contains("CONFIRM") => "PENDING_REVIEW".into(),
        "" => "UNKNOWN".into(),
        other => other.trim_start_matches("STATUS_").to_owned(),
    }
}

/// Google `customer.status` (ENABLED, CANCELED, SUSPENDED, CLOSED).
fn google_account_status(s: &str) -> String {
    match s {
        "ENABLED" => "ACTIVE".into(),
        "" => "UNKNOWN".into(),
        other => other.to_owned(),
    }
}

/// Keeps a listing within its bound.
struct Bounded<T> {
    out: Vec<T>,
    bound: usize,
    truncated: bool,
}

impl<T> Bounded<T> {
    fn new(bound: usize) -> Self {
        Self {
            out: Vec::new(),
            bound,
            truncated: false,
        }
    }

    /// Add a page; false when the listing must stop (full, or too many pages).
    fn page(&mut self, rows: impl IntoIterator<Item = T>, more: bool, pages: usize) -> bool {
        for r in rows {
            if self.out.len() >= self.bound {
                self.truncated = true;
                return false;
            }
            self.out.push(r);
        }
        if more && (self.out.len() >= self.bound || pages >= MAX_PAGES) {
            self.truncated = true;
            return false;
        }
        more
    }

    fn done(self) -> LookupList<T> {
        LookupList::of(self.out, self.truncated)
    }
}

fn meta_account(channel: &Channel) -> Result<String, PlatformError> {
    let act = channel.account_id.trim();
    let act = act.strip_prefix("act_").unwrap_or(act);
    if act.is_empty() || !act.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad_account(
            Platform::Meta,
            channel,
            "a Meta ad account id (digits)",
        ));
    }
    Ok(act.to_owned())
}

fn tiktok_advertiser(channel: &Channel) -> Result<String, PlatformError> {
    let a = channel.account_id.trim();
    if a.is_empty() || !a.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad_account(
            Platform::Tiktok,
            channel,
            "a TikTok advertiser id (digits)",
        ));
    }
    Ok(a.to_owned())
}

fn google_customer(channel: &Channel) -> Result<String, PlatformError> {
    let cid: String = channel
        .account_id
        .trim()
        .chars()
        .filter(|c| *c != '-')
        .collect();
    if cid.is_empty() || !cid.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad_account(
            Platform::GoogleAds,
            channel,
            "a Google Ads customer id (digits, dashes allowed)",
        ));
    }
    Ok(cid)
}

/// GAQL text for a user's search words: only letters, digits, spaces and a few signs are
/// kept, so the words can neither close the string nor act as LIKE wildcards (GAQL's
/// escaping rules for LIKE are not confirmed ❓).
fn gaql_words(q: &str) -> String {
    q.chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '&' | '.'))
        .collect::<String>()
        .trim()
        .to_owned()
}

impl PlatformClients {
    /// The ad accounts the channel's credential reaches, with name, status, currency and
    /// time zone, up to [`MAX_LIST_ITEMS`].
    pub async fn ad_accounts(
        &self,
        channel: &Channel,
    ) -> Result<LookupList<AdAccount>, PlatformError> {
        let r = match channel.platform {
            Platform::Meta => self.meta_ad_accounts(channel).await,
            Platform::Tiktok => self.tiktok_ad_accounts(channel).await,
            Platform::GoogleAds => self.google_ad_accounts(channel).await,
        };
        r.map_err(|e| read_error(e, channel, "ad account"))
    }

    /// Meta pages the credential manages; TikTok identities of the channel's advertiser;
    /// Google Ads has none (said in `note`).
    pub async fn pages(
        &self,
        channel: &Channel,
    ) -> Result<LookupList<PageOrIdentity>, PlatformError> {
        let r = match channel.platform {
            Platform::Meta => self.meta_pages(channel).await,
            Platform::Tiktok => self.tiktok_identities(channel).await,
            Platform::GoogleAds => Ok(LookupList::none(GOOGLE_NO_PAGES)),
        };
        r.map_err(|e| read_error(e, channel, "page"))
    }

    /// Meta pixels of the ad account; TikTok pixels of the advertiser; Google Ads conversion
    /// actions of the customer.
    pub async fn pixels(&self, channel: &Channel) -> Result<LookupList<PixelInfo>, PlatformError> {
        let r = match channel.platform {
            Platform::Meta => self.meta_pixels(channel).await,
            Platform::Tiktok => self.tiktok_pixels(channel).await,
            Platform::GoogleAds => self.google_conversion_actions(channel).await,
        };
        r.map_err(|e| read_error(e, channel, "pixel"))
    }

    /// Interests matching `query`, up to [`MAX_SEARCH_RESULTS`].
    pub async fn search_interests(
        &self,
        channel: &Channel,
        query: &str,
    ) -> Result<LookupList<InterestOption>, PlatformError> {
        let r = match channel.platform {
            Platform::Meta => self.meta_interests(channel, query).await,
            Platform::Tiktok => self.tiktok_interests(channel, query).await,
            Platform::GoogleAds => self.google_interests(channel, query).await,
        };
        r.map_err(|e| read_error(e, channel, "interest"))
    }

    /// Locations matching `query`, up to [`MAX_SEARCH_RESULTS`].
    pub async fn search_locations(
        &self,
        channel: &Channel,
        query: &str,
    ) -> Result<LookupList<LocationOption>, PlatformError> {
        let r = match channel.platform {
            Platform::Meta => self.meta_locations(channel, query).await,
            Platform::Tiktok => self.tiktok_locations(channel, query).await,
            Platform::GoogleAds => self.google_locations(channel, query).await,
        };
        r.map_err(|e| read_error(e, channel, "location"))
    }

    /// The platform's audience estimate for the targeting in `payloads` (a translated
    /// ticket): Meta delivery estimate, TikTok audience size; Google Ads offers none.
    pub async fn estimate_reach(
        &self,
        channel: &Channel,
        payloads: &TranslatedPayloads,
    ) -> Result<ReachEstimate, PlatformError> {
        let r = match channel.platform {
            Platform::Meta => self.meta_reach(channel, payloads).await,
            Platform::Tiktok => self.tiktok_reach(channel, payloads).await,
            Platform::GoogleAds => Ok(ReachEstimate {
                offered: false,
                users_lower_bound: None,
                users_upper_bound: None,
                daily_active_users: None,
                ready: None,
                source: None,
                note: Some(GOOGLE_NO_REACH.into()),
            }),
        };
        r.map_err(|e| read_error(e, channel, "reach estimate"))
    }

    // ------------------------------------------------------------------ Meta

    /// `GET /{version}{path}` with `access_token`, retried as reads are.
    async fn meta_get(
        &self,
        channel: &Channel,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, PlatformError> {
        let token = self.cfg.require(META_TOKEN, &channel.code)?;
        let url = format!(
            "{}/{}{path}",
            self.cfg.meta_base_url, self.cfg.meta_api_version
        );
        with_read_retries(|| async {
            let mut q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            q.push(("access_token", token.expose()));
            super::meta::get_json(self, &url, &q).await
        })
        .await
    }

    /// Every page of a Graph edge up to `bound` rows, by sending the `after` cursor
    /// ourselves: `paging.next` carries the token and could name any host.
    async fn meta_paged<T>(
        &self,
        channel: &Channel,
        path: &str,
        query: &[(&str, String)],
        bound: usize,
        map: impl Fn(&Value) -> Option<T>,
    ) -> Result<LookupList<T>, PlatformError> {
        let mut all = Bounded::new(bound);
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut q = query.to_vec();
            q.push(("limit", PAGE.min(bound).to_string()));
            if let Some(a) = &after {
                q.push(("after", a.clone()));
            }
            let body = self.meta_get(channel, path, &q).await?;
            pages += 1;
            let rows: Vec<T> = body
                .get("data")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(&map)
                .collect();
            let next = body
                .get("paging")
                .filter(|p| p.get("next").is_some_and(|n| !n.is_null()))
                .and_then(|p| p.pointer("/cursors/after"))
                .and_then(str_of)
                .filter(|a| !a.is_empty() && Some(a) != after.as_ref());
            if !all.page(rows, next.is_some(), pages) {
                break;
            }
            after = next;
        }
        Ok(all.done())
    }

    /// `GET /me/adaccounts?fields=id,account_id,name,account_status,currency,timezone_name`
    /// (J1.3 ✅).
    async fn meta_ad_accounts(
        &self,
        channel: &Channel,
    ) -> Result<LookupList<AdAccount>, PlatformError> {
        let fields = "id,account_id,name,account_status,currency,timezone_name";
        self.meta_paged(
            channel,
            "/me/adaccounts",
            &[("fields", fields.into())],
            MAX_LIST_ITEMS,
            |o| {
                let id = text(o.get("account_id")).or_else(|| {
                    text(o.get("id")).map(|i| i.trim_start_matches("act_").to_owned())
                })?;
                let code = int_of(o.get("account_status"));
                Some(AdAccount {
                    id,
                    name: text(o.get("name")).unwrap_or_default(),
                    status: meta_account_status(code),
                    platform_status: code.map(|c| c.to_string()).unwrap_or_default(),
                    currency: text(o.get("currency")),
                    time_zone: text(o.get("timezone_name")),
                    error: None,
                })
            },
        )
        .await
    }

    /// `GET /me/accounts?fields=id,name,category` (J1.3 ✅). `access_token` is deliberately
    /// not asked for: Meta would answer each page's own token.
    async fn meta_pages(
        &self,
        channel: &Channel,
    ) -> Result<LookupList<PageOrIdentity>, PlatformError> {
        self.meta_paged(
            channel,
            "/me/accounts",
            &[("fields", "id,name,category".into())],
            MAX_LIST_ITEMS,
            |o| {
                Some(PageOrIdentity {
                    id: text(o.get("id"))?,
                    name: text(o.get("name")).unwrap_or_default(),
                    kind: "PAGE".into(),
                    detail: text(o.get("category")),
                })
            },
        )
        .await
    }

    /// `GET /act_{id}/adspixels?fields=id,name,last_fired_time,is_unavailable` (J1.3 ✅).
    async fn meta_pixels(&self, channel: &Channel) -> Result<LookupList<PixelInfo>, PlatformError> {
        let act = meta_account(channel)?;
        self.meta_paged(
            channel,
            &format!("/act_{act}/adspixels"),
            &[("fields", "id,name,last_fired_time,is_unavailable".into())],
            MAX_LIST_ITEMS,
            |o| {
                let unavailable = o.get("is_unavailable").and_then(Value::as_bool);
                Some(PixelInfo {
                    id: text(o.get("id"))?,
                    name: text(o.get("name")).unwrap_or_default(),
                    code: None,
                    status: unavailable
                        .map(|u| if u { "UNAVAILABLE" } else { "AVAILABLE" }.to_owned()),
                    detail: text(o.get("last_fired_time")).map(|t| format!("last fired {t}")),
                })
            },
        )
        .await
    }

    /// `GET /search?type=adinterest&q=..` (J1.1 ✅); response fields `path`, `topic` and
    /// the audience bounds are 🟡 (recorded responses), read defensively.
    async fn meta_interests(
        &self,
        channel: &Channel,
        query: &str,
    ) -> Result<LookupList<InterestOption>, PlatformError> {
        self.meta_paged(
            channel,
            "/search",
            &[("type", "adinterest".into()), ("q", query.into())],
            MAX_SEARCH_RESULTS,
            |o| {
                Some(InterestOption {
                    id: text(o.get("id"))?,
                    name: text(o.get("name")).unwrap_or_default(),
                    path: o
                        .get("path")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(str_of)
                        .collect(),
                    audience_size_lower_bound: int_of(o.get("audience_size_lower_bound")),
                    audience_size_upper_bound: int_of(o.get("audience_size_upper_bound")),
                    kind: text(o.get("topic")),
                })
            },
        )
        .await
    }

    /// `GET /search?type=adgeolocation&q=..` (J1.1; the type ✅, the response fields 🟡).
    async fn meta_locations(
        &self,
        channel: &Channel,
        query: &str,
    ) -> Result<LookupList<LocationOption>, PlatformError> {
        self.meta_paged(
            channel,
            "/search",
            &[("type", "adgeolocation".into()), ("q", query.into())],
            MAX_SEARCH_RESULTS,
            |o| {
                Some(LocationOption {
                    id: text(o.get("key"))?,
                    name: text(o.get("name")).unwrap_or_default(),
                    kind: text(o.get("type")),
                    country_code: text(o.get("country_code")),
                    parent: text(o.get("region")),
                })
            },
        )
        .await
    }

    /// `GET /act_{id}/delivery_estimate?targeting_spec=..&optimization_goal=..` (J1.2 ✅;
    /// the `{"data": [...]}` wrapper is 🟡, so a bare object is read too).
    async fn meta_reach(
        &self,
        channel: &Channel,
        payloads: &TranslatedPayloads,
    ) -> Result<ReachEstimate, PlatformError> {
        let act = meta_account(channel)?;
        let adset = payloads.body("adset").ok_or_else(|| missing("adset"))?;
        let targeting = adset
            .get("targeting")
            .ok_or_else(|| missing("adset.targeting"))?;
        let mut q = vec![("targeting_spec", targeting.to_string())];
        if let Some(goal) = adset.get("optimization_goal").and_then(str_of) {
            q.push(("optimization_goal", goal));
        }
        let body = self
            .meta_get(channel, &format!("/act_{act}/delivery_estimate"), &q)
            .await?;
        let e = body
            .get("data")
            .and_then(Value::as_array)
            .and_then(|d| d.first())
            .unwrap_or(&body);
        Ok(ReachEstimate {
            offered: true,
            users_lower_bound: int_of(e.get("estimate_mau_lower_bound")),
            users_upper_bound: int_of(e.get("estimate_mau_upper_bound")),
            daily_active_users: int_of(e.get("estimate_dau")),
            ready: e.get("estimate_ready").and_then(Value::as_bool),
            source: Some(format!("act_{act}/delivery_estimate")),
            note: None,
        })
    }

    // ------------------------------------------------------------------ TikTok

    /// `GET /open_api/{v}/{path}` with `Access-Token`; `data` of a code-0 answer.
    async fn tiktok_get(
        &self,
        channel: &Channel,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Value, PlatformError> {
        let token = self.cfg.require(TIKTOK_TOKEN, &channel.code)?;
        let url = format!(
            "{}/open_api/{}/{path}",
            self.cfg.tiktok_base_url, self.cfg.tiktok_api_version
        );
        with_read_retries(|| async {
            let resp = self
                .http
                .get(&url)
                .header("Access-Token", token.expose())
                .query(query)
                .send()
                .await
                .map_err(|e| transport_error(Platform::Tiktok, e).after_read())?;
            super::tiktok::envelope(resp, false)
                .await
                .map_err(PlatformError::after_read)
        })
        .await
    }

    /// Every page (`page`, `page_size`, `page_info.total_page`) up to `bound` rows; the rows
    /// are under the first of `keys` present in `data`.
    async fn tiktok_paged<T>(
        &self,
        channel: &Channel,
        path: &str,
        query: &[(&str, String)],
        keys: &[&str],
        map: impl Fn(&Value) -> Option<T>,
    ) -> Result<LookupList<T>, PlatformError> {
        let mut all = Bounded::new(MAX_LIST_ITEMS);
        let mut page: usize = 1;
        loop {
            let mut q = query.to_vec();
            q.push(("page", page.to_string()));
            q.push(("page_size", PAGE.to_string()));
            let data = self.tiktok_get(channel, path, &q).await?;
            let rows: Vec<T> = keys
                .iter()
                .find_map(|k| data.get(*k).and_then(Value::as_array))
                .into_iter()
                .flatten()
                .filter_map(&map)
                .collect();
            let total = data
                .pointer("/page_info/total_page")
                .and_then(Value::as_u64)
                .unwrap_or(1) as usize;
            if !all.page(rows, page < total, page) {
                break;
            }
            page += 1;
        }
        Ok(all.done())
    }

    /// `oauth2/advertiser/get/?app_id=..&secret=..` (J2 ✅) when the app's id and secret are
    /// configured, else the channel's own advertiser; then `advertiser/info/` (params ✅,
    /// fields 🟡) for name, status, currency and time zone.
    async fn tiktok_ad_accounts(
        &self,
        channel: &Channel,
    ) -> Result<LookupList<AdAccount>, PlatformError> {
        let app = (
            self.cfg.credential(TIKTOK_APP_ID, &channel.code),
            self.cfg.credential(TIKTOK_APP_SECRET, &channel.code),
        );
        let (ids, truncated, note) = match app {
            (Some(app_id), Some(secret)) => {
                let data = self
                    .tiktok_get(
                        channel,
                        "oauth2/advertiser/get/",
                        &[
                            ("app_id", app_id.expose().to_owned()),
                            ("secret", secret.expose().to_owned()),
                        ],
                    )
                    .await?;
                // The answer's `list[] {advertiser_id, advertiser_name}` shape is ❓.
                let all: Vec<String> = data
                    .get("list")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|o| text(o.get("advertiser_id")))
                    .collect();
                let truncated = all.len() > MAX_LIST_ITEMS;
                (
                    all.into_iter().take(MAX_LIST_ITEMS).collect::<Vec<_>>(),
                    truncated,
                    None,
                )
            }
            _ => (
                vec![tiktok_advertiser(channel)?],
                false,
                Some(format!(
                    "only the channel's own advertiser is shown: set {TIKTOK_APP_ID} and {TIKTOK_APP_SECRET} (or their _{} forms) to list every advertiser that authorised the app",
                    channel.code
                )),
            ),
        };
        let fields = json!([
            "advertiser_id",
            "name",
            "status",
            "currency",
            "timezone",
            "display_timezone"
        ])
        .to_string();
        let mut out = Vec::new();
        // Up to 100 advertisers per info call (❓ the limit is not confirmed).
        for chunk in ids.chunks(100) {
            let data = self
                .tiktok_get(
                    channel,
                    "advertiser/info/",
                    &[
                        ("advertiser_ids", json!(chunk).to_string()),
                        ("fields", fields.clone()),
                    ],
                )
                .await?;
            let rows = data
                .get("list")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for id in chunk {
                let row = rows
                    .iter()
                    .find(|r| text(r.get("advertiser_id")).as_deref() == Some(id.as_str()));
                out.push(match row {
                    Some(r) => {
                        let status = text(r.get("status")).unwrap_or_default();
                        AdAccount {
                            id: id.clone(),
                            name: text(r.get("name")).unwrap_or_default(),
                            status: tiktok_account_status(&status),
                            platform_status: status,
                            currency: text(r.get("currency")),
                            // `timezone` is the IANA name; `display_timezone` a label.
                            time_zone: text(r.get("timezone")),
                            error: None,
                        }
                    }
                    None => AdAccount {
                        id: id.clone(),
                        name: String::new(),
                        status: "UNKNOWN".into(),
                        platform_status: String::new(),
                        currency: None,
                        time_zone: None,
                        error: Some("advertiser/info/ did not describe this advertiser".into()),
                    },
                });
            }
        }
        Ok(LookupList {
            items: out,
            truncated,
            note,
        })
    }

    /// `identity/get/?advertiser_id=..` paged (params ✅; the items 🟡 and their key
    /// `identity_list` ❓, `list` read too).
    async fn tiktok_identities(
        &self,
        channel: &Channel,
    ) -> Result<LookupList<PageOrIdentity>, PlatformError> {
        let advertiser = tiktok_advertiser(channel)?;
        self.tiktok_paged(
            channel,
            "identity/get/",
            &[("advertiser_id", advertiser)],
            &["identity_list", "list"],
            |o| {
                Some(PageOrIdentity {
                    id: text(o.get("identity_id"))?,
                    name: text(o.get("display_name")).unwrap_or_default(),
                    kind: text(o.get("identity_type")).unwrap_or_default(),
                    detail: text(o.get("user_name")),
                })
            },
        )
        .await
    }

    /// `pixel/list/?advertiser_id=..` paged (params ✅; items 🟡 under `pixels` ❓, `list`
    /// read too).
    async fn tiktok_pixels(
        &self,
        channel: &Channel,
    ) -> Result<LookupList<PixelInfo>, PlatformError> {
        let advertiser = tiktok_advertiser(channel)?;
        self.tiktok_paged(
            channel,
            "pixel/list/",
            &[("advertiser_id", advertiser)],
            &["pixels", "list"],
            |o| {
                Some(PixelInfo {
                    id: text(o.get("pixel_id"))?,
                    name: text(o.get("pixel_name")).unwrap_or_default(),
                    code: text(o.get("pixel_code")),
                    status: None,
                    detail: text(o.get("pixel_category")),
                })
            },
        )
        .await
    }

    /// `tool/interest_category/?advertiser_id=..&version=2&language=en` (params ✅,
    /// response 🟡): TikTok lists its whole taxonomy, so the names are matched here and each
    /// match gets its path from the parents that list it in `sub_category_ids`. TikTok gives
    /// no audience size per category.
    async fn tiktok_interests(
        &self,
        channel: &Channel,
        query: &str,
    ) -> Result<LookupList<InterestOption>, PlatformError> {
        let advertiser = tiktok_advertiser(channel)?;
        let data = self
            .tiktok_get(
                channel,
                "tool/interest_category/",
                &[
                    ("advertiser_id", advertiser),
                    ("version", "2".into()),
                    ("language", "en".into()),
                ],
            )
            .await?;
        let all: Vec<&Value> = data
            .get("interest_categories")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        let id_of = |o: &Value| text(o.get("interest_category_id"));
        let name_of = |o: &Value| text(o.get("interest_category_name")).unwrap_or_default();
        let parent_of = |id: &str| {
            all.iter().copied().find(|p| {
                p.get("sub_category_ids")
                    .and_then(Value::as_array)
                    .is_some_and(|subs| subs.iter().any(|s| str_of(s).as_deref() == Some(id)))
            })
        };
        let mut hits = Bounded::new(MAX_SEARCH_RESULTS);
        let found = all.iter().filter_map(|o| {
            let id = id_of(o)?;
            let name = name_of(o);
            if !matches(&name, query) {
                return None;
            }
            let mut path = Vec::new();
            let mut at = id.clone();
            // Parents, outermost first; a cycle in the answer stops after a few levels.
            for _ in 0..6 {
                match parent_of(&at) {
                    Some(p) => {
                        path.insert(0, name_of(p));
                        match id_of(p) {
                            Some(pid) => at = pid,
                            None => break,
                        }
                    }
                    None => break,
                }
            }
            path.push(name.clone());
            Some(InterestOption {
                id,
                name,
                path,
                audience_size_lower_bound: None,
                audience_size_upper_bound: None,
                kind: int_of(o.get("level")).map(|l| format!("level {l}")),
            })
        });
        hits.page(found, false, 1);
        Ok(hits.done())
    }

    /// `tool/region/?advertiser_id=..&placements=["PLACEMENT_TIKTOK"]&objective_type=TRAFFIC
    /// &level_range=ALL` (params ✅, response 🟡), matched by name here. Which regions TikTok
    /// lists depends on placement and objective; these are the ones the translators use most.
    async fn tiktok_locations(
        &self,
        channel: &Channel,
        query: &str,
    ) -> Result<LookupList<LocationOption>, PlatformError> {
        let advertiser = tiktok_advertiser(channel)?;
        let data = self
            .tiktok_get(
                channel,
                "tool/region/",
                &[
                    ("advertiser_id", advertiser),
                    ("placements", json!(["PLACEMENT_TIKTOK"]).to_string()),
                    ("objective_type", "TRAFFIC".into()),
                    ("level_range", "ALL".into()),
                ],
            )
            .await?;
        let mut hits = Bounded::new(MAX_SEARCH_RESULTS);
        let found = data
            .get("region_info")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|o| {
                let name = text(o.get("name"))?;
                if !matches(&name, query) {
                    return None;
                }
                Some(LocationOption {
                    id: text(o.get("location_id"))?,
                    name,
                    kind: text(o.get("level")),
                    country_code: text(o.get("country_code"))
                        .or_else(|| text(o.get("region_code"))),
                    parent: text(o.get("parent_id")),
                })
            });
        hits.page(found, false, 1);
        Ok(hits.done())
    }

    /// `POST ad/audience_size/estimate/` (the path ✅ in TikTok's own spec text; the body
    /// mirroring the ad group's targeting and the `user_count` answer are 🟡).
    async fn tiktok_reach(
        &self,
        channel: &Channel,
        payloads: &TranslatedPayloads,
    ) -> Result<ReachEstimate, PlatformError> {
        let advertiser = tiktok_advertiser(channel)?;
        let adgroup = payloads.body("adgroup").ok_or_else(|| missing("adgroup"))?;
        let mut body = json!({ "advertiser_id": advertiser });
        if let Some(o) = payloads
            .body("campaign")
            .and_then(|c| c.get("objective_type"))
        {
            body["objective_type"] = o.clone();
        }
        for k in [
            "optimization_goal",
            "placement_type",
            "placements",
            "location_ids",
            "age_groups",
            "gender",
            "interest_category_ids",
            "languages",
            "operating_systems",
        ] {
            if let Some(v) = adgroup.get(k) {
                body[k] = v.clone();
            }
        }
        let token = self.cfg.require(TIKTOK_TOKEN, &channel.code)?;
        let url = format!(
            "{}/open_api/{}/ad/audience_size/estimate/",
            self.cfg.tiktok_base_url, self.cfg.tiktok_api_version
        );
        let data = with_read_retries(|| async {
            let resp = self
                .http
                .post(&url)
                .header("Access-Token", token.expose())
                .json(&body)
                .send()
                .await
                .map_err(|e| transport_error(Platform::Tiktok, e).after_read())?;
            super::tiktok::envelope(resp, false)
                .await
                .map_err(PlatformError::after_read)
        })
        .await?;
        Ok(ReachEstimate {
            offered: true,
            users_lower_bound: int_of(data.pointer("/user_count/lower_end")),
            users_upper_bound: int_of(data.pointer("/user_count/upper_end")),
            daily_active_users: None,
            ready: None,
            source: Some("ad/audience_size/estimate/".into()),
            note: text(data.get("user_count_stage")).map(|s| format!("user_count_stage {s}")),
        })
    }

    // ------------------------------------------------------------------ Google Ads

    /// A Google Ads REST call (GET without a body, POST with one), retried as reads are.
    async fn google_call(
        &self,
        channel: &Channel,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, PlatformError> {
        let dev = self.cfg.require(GOOGLE_DEVELOPER_TOKEN, &channel.code)?;
        let access = self.cfg.require(GOOGLE_ACCESS_TOKEN, &channel.code)?;
        let login = self.cfg.credential(GOOGLE_LOGIN_CUSTOMER_ID, &channel.code);
        let url = format!("{}{path}", self.cfg.google_ads_base_url);
        with_read_retries(|| async {
            let mut rb = match body {
                Some(b) => self.http.post(&url).json(b),
                None => self.http.get(&url),
            };
            rb = rb
                .header("developer-token", dev.expose())
                .bearer_auth(access.expose());
            if let Some(l) = login {
                rb = rb.header("login-customer-id", l.expose().replace('-', ""));
            }
            super::google_ads::send(rb, false)
                .await
                .map(|(_, v, _)| v)
                .map_err(PlatformError::after_read)
        })
        .await
    }

    /// `googleAds:search` on `cid`, following `nextPageToken` up to `bound` rows.
    async fn google_search<T>(
        &self,
        channel: &Channel,
        cid: &str,
        query: &str,
        bound: usize,
        map: impl Fn(&Value) -> Option<T>,
    ) -> Result<LookupList<T>, PlatformError> {
        let path = format!(
            "/{}/customers/{cid}/googleAds:search",
            self.cfg.google_ads_api_version
        );
        let mut all = Bounded::new(bound);
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut body = json!({ "query": query });
            if let Some(t) = &token {
                body["pageToken"] = Value::String(t.clone());
            }
            let parsed = self.google_call(channel, &path, Some(&body)).await?;
            pages += 1;
            let rows: Vec<T> = parsed
                .get("results")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(&map)
                .collect();
            let next = parsed
                .get("nextPageToken")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty() && Some(*t) != token.as_deref())
                .map(str::to_owned);
            if !all.page(rows, next.is_some(), pages) {
                break;
            }
            token = next;
        }
        Ok(all.done())
    }

    /// `GET customers:listAccessibleCustomers` (J3 ✅; only accounts the OAuth user reaches
    /// directly 🟡), then the GAQL customer query per account (fields ✅). An account whose
    /// details cannot be read (one reached only through a manager, say) is listed with the
    /// reason instead of failing the listing.
    async fn google_ad_accounts(
        &self,
        channel: &Channel,
    ) -> Result<LookupList<AdAccount>, PlatformError> {
        let path = format!(
            "/{}/customers:listAccessibleCustomers",
            self.cfg.google_ads_api_version
        );
        let listed = self.google_call(channel, &path, None).await?;
        let ids: Vec<String> = listed
            .get("resourceNames")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter_map(|rn| rn.strip_prefix("customers/"))
            .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()))
            .map(str::to_owned)
            .collect();
        let truncated = ids.len() > MAX_LIST_ITEMS;
        let query = "SELECT customer.id, customer.descriptive_name, customer.currency_code, customer.time_zone, customer.status FROM customer";
        let mut out = Vec::new();
        for id in ids.into_iter().take(MAX_LIST_ITEMS) {
            let read = self
                .google_search(channel, &id, query, 1, |r| r.get("customer").cloned())
                .await;
            out.push(match read {
                Ok(list) => {
                    let c = list.items.into_iter().next().unwrap_or(Value::Null);
                    let status = text(c.get("status")).unwrap_or_default();
                    AdAccount {
                        id: id.clone(),
                        name: text(c.get("descriptiveName")).unwrap_or_default(),
                        status: google_account_status(&status),
                        platform_status: status,
                        currency: text(c.get("currencyCode")),
                        time_zone: text(c.get("timeZone")),
                        error: None,
                    }
                }
                Err(e) => AdAccount {
                    id,
                    name: String::new(),
                    status: "UNKNOWN".into(),
                    platform_status: String::new(),
                    currency: None,
                    time_zone: None,
                    error: Some(e.to_string()),
                },
            });
        }
        Ok(LookupList::of(out, truncated))
    }

    /// Conversion actions by GAQL: Google Ads has no pixels; its tag reports to these. The
    /// `conversion_action` fields queried are ❓ (not in PLATFORMS.md).
    async fn google_conversion_actions(
        &self,
        channel: &Channel,
    ) -> Result<LookupList<PixelInfo>, PlatformError> {
        let cid = google_customer(channel)?;
        let query = "SELECT conversion_action.id, conversion_action.name, conversion_action.status, conversion_action.type FROM conversion_action WHERE conversion_action.status != 'REMOVED'";
        let mut list = self
            .google_search(channel, &cid, query, MAX_LIST_ITEMS, |r| {
                let a = r.get("conversionAction")?;
                Some(PixelInfo {
                    id: text(a.get("id"))?,
                    name: text(a.get("name")).unwrap_or_default(),
                    code: None,
                    status: text(a.get("status")),
                    detail: text(a.get("type")),
                })
            })
            .await?;
        list.note = Some(
            "Google Ads has no pixels: these are the customer's conversion actions, which its tag reports to".into(),
        );
        Ok(list)
    }

    /// GAQL over `user_interest` (fields ✅; filtering by name with LIKE ❓, the query in J3
    /// was not run), affinity and in-market audiences. Google gives no size per interest.
    async fn google_interests(
        &self,
        channel: &Channel,
        query: &str,
    ) -> Result<LookupList<InterestOption>, PlatformError> {
        let cid = google_customer(channel)?;
        let words = gaql_words(query);
        let gaql = format!(
            "SELECT user_interest.user_interest_id, user_interest.name, user_interest.taxonomy_type, user_interest.user_interest_parent FROM user_interest WHERE user_interest.taxonomy_type IN ('AFFINITY', 'IN_MARKET') AND user_interest.name LIKE '%{words}%'"
        );
        self.google_search(channel, &cid, &gaql, MAX_SEARCH_RESULTS, |r| {
            let u = r.get("userInterest")?;
            let kind = text(u.get("taxonomyType"));
            Some(InterestOption {
                id: text(u.get("userInterestId"))?,
                name: text(u.get("name")).unwrap_or_default(),
                path: kind.iter().cloned().collect(),
                audience_size_lower_bound: None,
                audience_size_upper_bound: None,
                kind,
            })
        })
        .await
    }

    /// `POST geoTargetConstants:suggest` with `locationNames` (J3 ✅). `countryCode` is left
    /// out to search everywhere (its being optional is ❓).
    async fn google_locations(
        &self,
        channel: &Channel,
        query: &str,
    ) -> Result<LookupList<LocationOption>, PlatformError> {
        let path = format!(
            "/{}/geoTargetConstants:suggest",
            self.cfg.google_ads_api_version
        );
        let body = json!({"locale": "en", "locationNames": {"names": [query]}});
        let parsed = self.google_call(channel, &path, Some(&body)).await?;
        let mut hits = Bounded::new(MAX_SEARCH_RESULTS);
        let found = parsed
            .get("geoTargetConstantSuggestions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| {
                let g = s.get("geoTargetConstant")?;
                let id = text(g.get("id")).or_else(|| {
                    text(g.get("resourceName"))
                        .and_then(|rn| rn.rsplit('/').next().map(str::to_owned))
                })?;
                Some(LocationOption {
                    id,
                    name: text(g.get("name")).unwrap_or_default(),
                    kind: text(g.get("targetType")),
                    country_code: text(g.get("countryCode")),
                    parent: text(g.get("canonicalName")),
                })
            });
        hits.page(found, false, 1);
        Ok(hits.done())
    }
}

/// A translated ticket without the object the estimate reads.
fn missing(what: &str) -> PlatformError {
    PlatformError {
        code: Some("NO_TARGETING".into()),
        message: format!(
            "the translated ticket has no {what}: nothing to estimate (preview_payloads shows what the ticket translates to)"
        ),
        ..PlatformError::empty(Platform::Meta)
    }
}

fn read_error(mut e: PlatformError, channel: &Channel, what: &str) -> PlatformError {
    e.platform = channel.platform;
    e.object.get_or_insert_with(|| what.to_owned());
    e.after_read()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_normalised_and_counts_read_from_numbers_or_strings() {
        assert_eq!(meta_account_status(Some(1)), "ACTIVE");
        assert_eq!(meta_account_status(Some(8)), "UNKNOWN_8");
        assert_eq!(tiktok_account_status("STATUS_ENABLE"), "ACTIVE");
        assert_eq!(google_account_status("SUSPENDED"), "SUSPENDED");
        assert_eq!(int_of(Some(&json!("512000000"))), Some(512_000_000));
        assert_eq!(int_of(Some(&json!(12))), Some(12));
        assert_eq!(int_of(Some(&json!("1.5e3"))), None);
        assert_eq!(gaql_words("yoga' OR 1=1 --%_"), "yoga OR 11 --");
    }

    #[test]
    fn a_bounded_listing_stops_and_says_so() {
        let mut b = Bounded::new(3);
        assert!(b.page([1, 2], true, 1));
        assert!(!b.page([3, 4], true, 2));
        let done = b.done();
        assert_eq!(done.items, vec![1, 2, 3]);
        assert!(done.truncated);
        let mut b = Bounded::new(3);
        assert!(!b.page([1, 2, 3], false, 1));
        assert!(!b.done().truncated);
    }
}
