//! HTTP clients for the ad platforms, speaking each one's real wire format at a configurable
//! base URL, and the classification of their errors into rate-limited, transient and
//! permanent. Tokens are held in [`Secret`] and never reach logs, errors or tool output.

// A parsed platform error is large (it carries every field ops need) but rare: boxing it would
// only add noise to every signature.
#![allow(clippy::result_large_err)]

mod creative;
mod events;
mod google_ads;
mod google_live;
mod listing;
mod lookups;
mod meta;
mod placeholders;
mod reports;
mod tiktok;
mod uploads;

use events::EVENTS_TIMEOUT;
pub use events::EventsSent;
pub(crate) use listing::with_read_retries;
pub use listing::{CampaignListing, ListedCampaign, MAX_LISTED};
pub use lookups::{
    AdAccount, GOOGLE_NO_PAGES, GOOGLE_NO_REACH, InterestOption, LocationOption, LookupList,
    MAX_LIST_ITEMS, MAX_SEARCH_RESULTS, PageOrIdentity, PixelInfo, ReachEstimate,
};
pub use placeholders::fill_placeholders;
pub use reports::{DayMetrics, Delivery, decimal_micros};
pub use uploads::{PlatformAsset, UploadFile, VideoState, md5_hex};

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use reqwest::header::HeaderMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::PlatformRequest;
use super::live::ObjectUpdate;
use crate::domain::{Channel, Platform};

/// A credential. Debug and Display print a mask, never the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where the platforms are and how to authenticate. Per-channel credentials win over the
/// global ones: `OMNITRAFFICK_META_ACCESS_TOKEN_<CHANNEL_CODE>` beats
/// `OMNITRAFFICK_META_ACCESS_TOKEN`, and likewise for every credential variable.
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    pub meta_base_url: String,
    pub tiktok_base_url: String,
    pub google_ads_base_url: String,
    pub meta_api_version: String,
    /// TikTok version in paths (`/open_api/{v}/...`) for calls not built by a translator.
    pub tiktok_api_version: String,
    /// Google Ads version in paths (`/{v}/customers/...`) for calls not built by a translator.
    pub google_ads_api_version: String,
    pub timeout: Duration,
    /// Credential variables by name (global and per-channel), read once at start.
    credentials: HashMap<String, Secret>,
}

pub const META_TOKEN: &str = "OMNITRAFFICK_META_ACCESS_TOKEN";
pub const TIKTOK_TOKEN: &str = "OMNITRAFFICK_TIKTOK_ACCESS_TOKEN";
pub const GOOGLE_DEVELOPER_TOKEN: &str = "OMNITRAFFICK_GOOGLE_ADS_DEVELOPER_TOKEN";
pub const GOOGLE_ACCESS_TOKEN: &str = "OMNITRAFFICK_GOOGLE_ADS_ACCESS_TOKEN";
pub const GOOGLE_LOGIN_CUSTOMER_ID: &str = "OMNITRAFFICK_GOOGLE_ADS_LOGIN_CUSTOMER_ID";
/// The TikTok app's id and secret: only `oauth2/advertiser/get/` (listing every advertiser
/// that authorised the app) needs them.
pub const TIKTOK_APP_ID: &str = "OMNITRAFFICK_TIKTOK_APP_ID";
pub const TIKTOK_APP_SECRET: &str = "OMNITRAFFICK_TIKTOK_APP_SECRET";
const CREDENTIAL_VARS: [&str; 7] = [
    META_TOKEN,
    TIKTOK_TOKEN,
    GOOGLE_DEVELOPER_TOKEN,
    GOOGLE_ACCESS_TOKEN,
    GOOGLE_LOGIN_CUSTOMER_ID,
    TIKTOK_APP_ID,
    TIKTOK_APP_SECRET,
];

impl PlatformConfig {
    pub fn new(
        meta_base_url: &str,
        tiktok_base_url: &str,
        google_ads_base_url: &str,
        meta_api_version: &str,
        timeout: Duration,
    ) -> Self {
        Self {
            meta_base_url: meta_base_url.trim_end_matches('/').to_owned(),
            tiktok_base_url: tiktok_base_url.trim_end_matches('/').to_owned(),
            google_ads_base_url: google_ads_base_url.trim_end_matches('/').to_owned(),
            meta_api_version: meta_api_version.to_owned(),
            tiktok_api_version: super::ApiVersions::default().tiktok,
            google_ads_api_version: super::ApiVersions::default().google_ads,
            timeout,
            credentials: HashMap::new(),
        }
    }

    /// Take every credential variable (global or `_<CHANNEL_CODE>`-suffixed) from `vars`.
    pub fn with_credentials_from(
        mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        for (k, v) in vars {
            if CREDENTIAL_VARS.iter().any(|p| k.starts_with(p)) && !v.trim().is_empty() {
                self.credentials.insert(k, Secret::new(v.trim()));
            }
        }
        self
    }

    /// Set one credential (tests, embedding).
    pub fn set_credential(&mut self, var: &str, value: &str) {
        self.credentials
            .insert(var.to_owned(), Secret::new(value.to_owned()));
    }

    /// The channel's own credential, else the global one.
    pub fn credential(&self, var: &str, channel_code: &str) -> Option<&Secret> {
        self.credentials
            .get(&format!("{var}_{channel_code}"))
            .or_else(|| self.credentials.get(var))
    }

    /// The credential for a channel (deploys) or a brand (conversion events), by its code.
    fn require(&self, var: &str, code: &str) -> Result<&Secret, PlatformError> {
        let platform = if var.contains("TIKTOK") {
            Platform::Tiktok
        } else if var.contains("GOOGLE") {
            Platform::GoogleAds
        } else {
            Platform::Meta
        };
        self.credential(var, code).ok_or_else(|| PlatformError {
            class: ErrorClass::Permanent,
            message: format!(
                "no credential for {code}: set {var} (or {var}_{code} for {code} only)"
            ),
            code: Some("MISSING_CREDENTIAL".into()),
            field_path: Some(var.to_owned()),
            ..PlatformError::empty(platform)
        })
    }
}

/// How a platform failure should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorClass {
    /// The platform asked us to slow down: wait as it says, else back off.
    RateLimited,
    /// Worth retrying with backoff: 5xx, timeouts, resets, Meta `is_transient`.
    Transient,
    /// The request itself is wrong (validation, permissions): retrying will not help.
    Permanent,
}

/// A platform error, parsed. Never carries a credential.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct PlatformError {
    pub class: ErrorClass,
    pub platform: Platform,
    /// The object whose request failed (campaign, adset, ...), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Meta `code`, TikTok `code`, Google error category (e.g. "campaignError").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Meta `error_subcode`, Google error value (e.g. "DUPLICATE_CAMPAIGN_NAME").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subcode: Option<String>,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_message: Option<String>,
    /// The field the platform blames (Meta `blame_field_specs`, Google field path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_path: Option<String>,
    /// Meta `fbtrace_id`, TikTok `request_id`, Google `requestId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// How long the platform asked us to wait, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// True when the request may have been applied even though no answer came back
    /// (a timeout or reset after sending): the object must be looked up before re-creating.
    #[serde(default)]
    pub outcome_unknown: bool,
    /// The platform's error body, for diagnosis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

impl PlatformError {
    /// A create the platform accepted but answered without the new object's id: it may exist,
    /// so the outcome is unknown (a retry looks for it first).
    fn created_without_id(platform: Platform, http_status: Option<u16>, message: String) -> Self {
        Self {
            class: ErrorClass::Transient,
            http_status,
            message,
            outcome_unknown: true,
            ..Self::empty(platform)
        }
    }

    /// The same error from a read: a failed read changed nothing, so its outcome is known.
    fn after_read(mut self) -> Self {
        self.outcome_unknown = false;
        self
    }

    pub fn empty(platform: Platform) -> Self {
        Self {
            class: ErrorClass::Permanent,
            platform,
            object: None,
            http_status: None,
            code: None,
            subcode: None,
            message: String::new(),
            user_title: None,
            user_message: None,
            field_path: None,
            trace_id: None,
            retry_after_ms: None,
            outcome_unknown: false,
            body: None,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after_ms.map(Duration::from_millis)
    }
}

impl fmt::Display for PlatformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.platform, self.class)?;
        if let Some(c) = &self.code {
            write!(f, " code {c}")?;
        }
        if let Some(s) = &self.subcode {
            write!(f, "/{s}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(p) = &self.field_path {
            write!(f, " (field {p})")?;
        }
        Ok(())
    }
}

/// What a create returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    /// The new object's id; `None` for a validate-only call.
    pub id: Option<String>,
    pub trace_id: Option<String>,
    /// The HTTP status of the answer.
    pub http_status: u16,
}

/// A transport failure: a timeout or a reset after the request left may have been applied.
fn transport_error(platform: Platform, e: reqwest::Error) -> PlatformError {
    let not_sent = e.is_connect() || e.is_builder();
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    };
    // without_url: query strings may carry an access token.
    let detail = e.without_url().to_string();
    PlatformError {
        class: ErrorClass::Transient,
        message: format!("{what}: {detail}"),
        outcome_unknown: !not_sent,
        ..PlatformError::empty(platform)
    }
}

/// `Retry-After` in seconds or as an HTTP date.
fn retry_after_header(headers: &HeaderMap) -> Option<u64> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(secs.saturating_mul(1000));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let ms = (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds();
    Some(ms.max(0) as u64)
}

/// The platform clients. Cheap to clone; share one.
#[derive(Clone)]
pub struct PlatformClients {
    http: reqwest::Client,
    cfg: std::sync::Arc<PlatformConfig>,
}

impl PlatformClients {
    pub fn new(cfg: PlatformConfig) -> Result<Self, crate::error::AppError> {
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("omnitraffick/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| crate::error::AppError::Internal(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            cfg: std::sync::Arc::new(cfg),
        })
    }

    pub fn config(&self) -> &PlatformConfig {
        &self.cfg
    }

    /// Whether the platform can check a request without creating anything.
    pub fn supports_validate_only(platform: Platform) -> bool {
        !matches!(platform, Platform::Tiktok)
    }

    /// Send one create request (placeholders already filled). With `validate_only` the
    /// platform checks it without creating anything.
    pub async fn create(
        &self,
        channel: &Channel,
        req: &PlatformRequest,
        validate_only: bool,
    ) -> Result<Created, PlatformError> {
        let r = match channel.platform {
            Platform::Meta => meta::create(self, channel, req, validate_only).await,
            Platform::Tiktok => tiktok::create(self, channel, req).await,
            Platform::GoogleAds => google_ads::create(self, channel, req, validate_only).await,
        };
        r.map_err(|mut e| {
            e.platform = channel.platform;
            e.object.get_or_insert_with(|| req.object.clone());
            e
        })
    }

    /// Look for an object this ticket may already have created (a create whose answer was
    /// lost): by its name under its parent, or for unnamed objects by their parent.
    pub async fn find_existing(
        &self,
        channel: &Channel,
        req: &PlatformRequest,
        ids: &Map<String, Value>,
    ) -> Result<Option<String>, PlatformError> {
        let r = match channel.platform {
            Platform::Meta => meta::find(self, channel, req, ids).await,
            Platform::Tiktok => tiktok::find(self, channel, req, ids).await,
            Platform::GoogleAds => google_ads::find(self, channel, req, ids).await,
        };
        r.map_err(|mut e| {
            e.platform = channel.platform;
            e.object.get_or_insert_with(|| req.object.clone());
            e
        })
    }
}

impl PlatformClients {
    /// The live values of `update.fields`' keys (normalised to the wire format the
    /// translators write) plus the delivery state under [`crate::platforms::live::DELIVERY_STATE`].
    pub(crate) async fn live_read(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
    ) -> Result<Map<String, Value>, PlatformError> {
        let r = match channel.platform {
            Platform::Meta => meta::read_live(self, channel, update).await,
            Platform::Tiktok => tiktok::read_live(self, channel, update).await,
            Platform::GoogleAds => google_ads::read_live(self, channel, update).await,
        };
        r.map_err(|mut e| {
            // A read changes nothing, whatever happened to it.
            e.outcome_unknown = false;
            tag(e, channel, update)
        })
    }

    /// Write exactly `update.fields` to the live object.
    pub(crate) async fn live_write(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
    ) -> Result<(), PlatformError> {
        let r = match channel.platform {
            Platform::Meta => meta::write_live(self, channel, update).await,
            Platform::Tiktok => tiktok::write_live(self, channel, update).await,
            Platform::GoogleAds => google_ads::write_live(self, channel, update).await,
        };
        r.map_err(|e| tag(e, channel, update))
    }
}

fn tag(mut e: PlatformError, channel: &Channel, update: &ObjectUpdate) -> PlatformError {
    e.platform = channel.platform;
    e.object.get_or_insert_with(|| update.object.clone());
    e
}

/// A live object that is not (or no longer) on the platform.
fn not_found(platform: Platform, update: &ObjectUpdate) -> PlatformError {
    PlatformError {
        class: ErrorClass::Permanent,
        code: Some("NOT_FOUND".into()),
        message: format!(
            "{} {} was not found on {platform}: it was deleted or belongs to another account",
            update.object, update.id
        ),
        ..PlatformError::empty(platform)
    }
}

/// A field this platform cannot write on this level of object.
fn unsupported(platform: Platform, update: &ObjectUpdate, field: &str) -> PlatformError {
    PlatformError {
        class: ErrorClass::Permanent,
        code: Some("UNSUPPORTED_LIVE_FIELD".into()),
        message: format!(
            "{field} cannot be changed on a live {} through this client",
            update.object
        ),
        field_path: Some(field.to_owned()),
        ..PlatformError::empty(platform)
    }
}

/// Read a response body as JSON; anything else becomes `Value::Null` with the text kept short.
async fn json_body(resp: reqwest::Response) -> (u16, HeaderMap, Result<Value, String>) {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = match resp.bytes().await {
        Ok(b) => serde_json::from_slice::<Value>(&b).map_err(|_| {
            let text = String::from_utf8_lossy(&b);
            text.chars().take(200).collect::<String>()
        }),
        Err(e) => Err(format!("body could not be read: {}", e.without_url())),
    };
    (status, headers, body)
}

/// A non-JSON answer: classify by status only.
fn non_json(platform: Platform, status: u16, headers: &HeaderMap, text: String) -> PlatformError {
    let class = match status {
        429 => ErrorClass::RateLimited,
        s if s >= 500 => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    };
    PlatformError {
        class,
        http_status: Some(status),
        message: format!("HTTP {status} with a body that is not JSON: {text}"),
        retry_after_ms: retry_after_header(headers),
        // A 5xx on a create may or may not have been applied.
        outcome_unknown: class == ErrorClass::Transient,
        ..PlatformError::empty(platform)
    }
}

fn str_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_fill_from_stored_ids_or_name_the_missing_one() {
        let ids: Map<String, Value> = [("campaign".to_owned(), json!("120"))]
            .into_iter()
            .collect();
        let v = json!({"campaign_id": "{{campaign.id}}", "x": ["customers/1/campaigns/{{campaign.id}}"], "n": 3});
        assert_eq!(
            fill_placeholders(&v, &ids),
            Ok(json!({"campaign_id": "120", "x": ["customers/1/campaigns/120"], "n": 3}))
        );
        assert_eq!(
            fill_placeholders(&json!({"adset_id": "{{adset.id}}"}), &ids),
            Err("adset".to_owned())
        );
    }

    #[test]
    fn secrets_never_print_and_channel_credentials_win() {
        let cfg = PlatformConfig::new(
            "http://a",
            "http://b",
            "http://c",
            "v25.0",
            Duration::from_secs(1),
        )
        .with_credentials_from([
            (META_TOKEN.to_owned(), "global-token".to_owned()),
            (format!("{META_TOKEN}_META_UK"), "uk-token".to_owned()),
            ("PATH".to_owned(), "/usr/bin".to_owned()),
        ]);
        assert_eq!(
            cfg.credential(META_TOKEN, "META_UK").map(Secret::expose),
            Some("uk-token")
        );
        assert_eq!(
            cfg.credential(META_TOKEN, "META_US").map(Secret::expose),
            Some("global-token")
        );
        assert!(cfg.credential("PATH", "X").is_none());
        let shown = format!("{cfg:?}");
        assert!(
            !shown.contains("global-token") && !shown.contains("uk-token"),
            "{shown}"
        );
        let missing = cfg.require(TIKTOK_TOKEN, "TT").unwrap_err();
        assert!(
            missing
                .message
                .contains("OMNITRAFFICK_TIKTOK_ACCESS_TOKEN_TT")
        );
    }

    #[test]
    fn retry_after_header_in_seconds_or_as_a_date() {
        let mut h = HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "12".parse().unwrap());
        assert_eq!(retry_after_header(&h), Some(12_000));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        h.insert(reqwest::header::RETRY_AFTER, later.parse().unwrap());
        let ms = retry_after_header(&h).unwrap();
        assert!((25_000..=30_000).contains(&ms), "{ms}");
    }
}
