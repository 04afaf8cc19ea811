//! Lookups, so an assistant stops guessing platform ids: the ad accounts, pages or
//! identities and pixels a channel's credential reaches, interest and location search, and
//! the platform's audience estimate for a ticket's targeting.
//!
//! Every answer goes through the platform clients (credentials per channel, rate limits,
//! retries) and is cached in the store for a short while (default 10 minutes) under the
//! channel, the kind of lookup and the normalised query; an expired answer is replaced. The
//! cache holds the platform's answer only: the brand checks (currency and time zone flags,
//! the brand-safety verdict of each interest) are made when the answer is served, so a change
//! to a brand or to the blocked-interest list applies at once.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::{Brand, Channel, Platform, now_text, text_in};
use crate::error::{AppError, AppResult};
use crate::governance::Governance;
use crate::platforms::ApiVersions;
use crate::platforms::client::{
    AdAccount, ErrorClass, InterestOption, LocationOption, LookupList, PageOrIdentity, PixelInfo,
    PlatformClients, PlatformError, ReachEstimate,
};
use crate::qa::{QaService, blocks_interest};
use crate::store::{self, CachedLookup};

/// How lookups are cached.
#[derive(Debug, Clone)]
pub struct LookupSettings {
    /// How long a platform answer is served from the store (zero: never cached).
    pub cache_ttl: Duration,
}

impl Default for LookupSettings {
    fn default() -> Self {
        Self {
            cache_ttl: Duration::from_secs(600),
        }
    }
}

/// Search words: 1 to 100 characters.
pub const MAX_QUERY_CHARS: usize = 100;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelLookupInput {
    /// The channel whose credential and ad account are used, e.g. "META" (list_channels
    /// shows the codes).
    pub channel_code: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdAccountsInput {
    /// The channel whose credential is used, e.g. "META" (list_channels shows the codes).
    pub channel_code: String,
    /// Check each account's currency against this brand's. When left out, the brand is
    /// taken from the channel's tickets if they all belong to one brand.
    #[serde(default)]
    pub brand_code: Option<String>,
    /// Check each account's time zone against this market's country, e.g. "US". When left
    /// out, the market is taken from the channel's tickets if they all run in one market.
    #[serde(default)]
    pub market_code: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InterestSearchInput {
    /// The channel whose platform is searched, e.g. "META" (list_channels shows the codes).
    pub channel_code: String,
    /// Words to search for, 1 to 100 characters, e.g. "yoga".
    pub query: String,
    /// Mark each interest with this brand's brand-safety verdict (BLOCKED for a
    /// family-friendly brand when QA would block it). Without it the verdict is NOT_CHECKED.
    #[serde(default)]
    pub brand_code: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationSearchInput {
    /// The channel whose platform is searched, e.g. "TIKTOK" (list_channels shows the codes).
    pub channel_code: String,
    /// A place name, 1 to 100 characters, e.g. "Paris".
    pub query: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EstimateReachInput {
    /// The ticket whose targeting is estimated (list_tickets shows the ids).
    pub ticket_id: i64,
}

/// Where an answer came from.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Freshness {
    /// True when served from the store rather than read from the platform now.
    pub from_cache: bool,
    /// When the platform was read (RFC 3339, UTC).
    pub read_at: String,
    /// When the cached answer stops being served.
    pub expires_at: String,
}

/// Something about an ad account the person should know before using it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AccountFlag {
    /// CURRENCY_MISMATCH, CURRENCY_UNKNOWN, TIME_ZONE_UNKNOWN or TIME_ZONE_OUTSIDE_MARKET.
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CheckedAccount {
    #[serde(flatten)]
    pub account: AdAccount,
    /// True for the account the channel is set up with (its account_id).
    pub is_channel_account: bool,
    pub flags: Vec<AccountFlag>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AdAccountsOutput {
    pub channel_code: String,
    pub platform: Platform,
    /// The brand the currencies were checked against, if any.
    pub brand_code: Option<String>,
    /// How the brand was chosen: GIVEN, or FROM_TICKETS (every ticket on the channel is
    /// for this brand).
    pub brand_source: Option<&'static str>,
    pub accounts: Vec<CheckedAccount>,
    /// Accounts with at least one flag.
    pub flagged: usize,
    pub truncated: bool,
    pub note: Option<String>,
    #[serde(flatten)]
    pub freshness: Freshness,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PagesOutput {
    pub channel_code: String,
    pub platform: Platform,
    /// Meta pages (use the id as object_story_spec.page_id) or TikTok identities (use
    /// identity_id with its identity_type).
    pub pages: Vec<PageOrIdentity>,
    pub truncated: bool,
    /// Where the platform has none (Google Ads), said plainly.
    pub note: Option<String>,
    #[serde(flatten)]
    pub freshness: Freshness,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PixelsOutput {
    pub channel_code: String,
    pub platform: Platform,
    pub pixels: Vec<PixelInfo>,
    pub truncated: bool,
    pub note: Option<String>,
    #[serde(flatten)]
    pub freshness: Freshness,
}

/// The brand-safety verdict on one interest, as QA would give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SafetyVerdict {
    /// QA allows this brand to target it.
    Allowed,
    /// QA blocks it for this brand: do not use it.
    Blocked,
    /// No brand_code was given.
    NotChecked,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CheckedInterest {
    #[serde(flatten)]
    pub interest: InterestOption,
    pub brand_safety: SafetyVerdict,
    /// Why, when it is or could be blocked.
    pub brand_safety_note: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct InterestsOutput {
    pub channel_code: String,
    pub platform: Platform,
    /// The query as searched (trimmed, lower case).
    pub query: String,
    pub brand_code: Option<String>,
    pub interests: Vec<CheckedInterest>,
    /// How many are BLOCKED for the brand.
    pub blocked: usize,
    pub truncated: bool,
    pub note: Option<String>,
    #[serde(flatten)]
    pub freshness: Freshness,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LocationsOutput {
    pub channel_code: String,
    pub platform: Platform,
    pub query: String,
    /// Ids for payload_config.targeting.regions (Meta geo keys, TikTok location ids,
    /// Google geo target constants).
    pub locations: Vec<LocationOption>,
    pub truncated: bool,
    pub note: Option<String>,
    #[serde(flatten)]
    pub freshness: Freshness,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReachOutput {
    pub ticket_id: i64,
    pub channel_code: String,
    pub platform: Platform,
    #[serde(flatten)]
    pub estimate: ReachEstimate,
    /// The ticket's targeting (payload_config.targeting) that was translated and sent.
    pub targeting: Value,
    #[serde(flatten)]
    pub freshness: Freshness,
}

#[derive(Clone)]
pub struct LookupService {
    governance: Governance,
    clients: PlatformClients,
    qa: QaService,
    versions: ApiVersions,
    settings: LookupSettings,
}

/// Trimmed, inner whitespace collapsed, lower case; 1 to 100 characters.
pub fn normalise_query(raw: &str) -> AppResult<String> {
    let q = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    let n = q.chars().count();
    if n == 0 || n > MAX_QUERY_CHARS {
        return Err(AppError::validation(
            "query",
            format!(
                "must be 1 to {MAX_QUERY_CHARS} characters (got {n}); give a few words, e.g. \"yoga\" or \"Paris\""
            ),
        ));
    }
    Ok(q.to_lowercase())
}

fn upper(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

/// An account id as a channel's account_id holds it: no "act_", no dashes.
fn bare_account(id: &str) -> String {
    id.trim()
        .trim_start_matches("act_")
        .chars()
        .filter(|c| *c != '-')
        .collect()
}

/// A platform failure, as a caller can act on it. Never carries a credential.
fn lookup_error(e: PlatformError) -> AppError {
    match e.class {
        ErrorClass::RateLimited => AppError::Unavailable(format!(
            "{e}; the platform is throttling lookups{}: try again later",
            e.retry_after()
                .map(|d| format!(" (it asked for {} s)", d.as_secs().max(1)))
                .unwrap_or_default()
        )),
        ErrorClass::Transient => AppError::Unavailable(format!("{e}; try again")),
        // Our own refusals, before anything was sent: their messages say what to fix.
        ErrorClass::Permanent if e.code.as_deref() == Some("NO_TARGETING") => {
            AppError::validation("ticket_id", e.message)
        }
        ErrorClass::Permanent
            if matches!(e.code.as_deref(), Some("MISSING_CREDENTIAL" | "BAD_ID")) =>
        {
            AppError::conflict(Some("channel_code"), e.message)
        }
        ErrorClass::Permanent => AppError::conflict(
            Some("channel_code"),
            format!(
                "the platform refused the lookup: {e}. Check the channel's account_id (update_channel) and its credential"
            ),
        ),
    }
}

impl LookupService {
    pub fn new(
        governance: Governance,
        clients: PlatformClients,
        qa: QaService,
        versions: ApiVersions,
        settings: LookupSettings,
    ) -> Self {
        Self {
            governance,
            clients,
            qa,
            versions,
            settings,
        }
    }

    /// The channel by code (case does not matter: "meta" is META).
    async fn channel(&self, code: &str) -> AppResult<Channel> {
        let mut c = self.governance.db().pool().acquire().await?;
        crate::governance::must::<Channel>(&mut c, "channel_code", &upper(code)).await
    }

    /// The brand by code (case does not matter).
    async fn brand(&self, code: &str) -> AppResult<Brand> {
        self.governance.get_brand(&upper(code)).await
    }

    /// The cached answer for (channel, kind, query key) while fresh, else `read` it from
    /// the platform and keep it for the TTL.
    async fn cached<T, F, Fut>(
        &self,
        channel: &Channel,
        kind: &str,
        query_key: &str,
        read: F,
    ) -> AppResult<(T, Freshness)>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, PlatformError>>,
    {
        let ttl = self.settings.cache_ttl;
        if !ttl.is_zero() {
            let mut c = self.governance.db().pool().acquire().await?;
            let hit = store::get_cached_lookup(&mut c, &channel.code, kind, query_key).await?;
            drop(c);
            if let Some(row) = hit
                && row.expires_at > now_text()
                && row.account_id == channel.account_id
                && let Ok(v) = serde_json::from_str::<T>(&row.body)
            {
                return Ok((
                    v,
                    Freshness {
                        from_cache: true,
                        read_at: row.read_at,
                        expires_at: row.expires_at,
                    },
                ));
            }
        }
        let value = read().await.map_err(lookup_error)?;
        let read_at = now_text();
        let expires_at = text_in(ttl);
        if !ttl.is_zero() {
            let row = CachedLookup {
                channel_code: channel.code.clone(),
                kind: kind.to_owned(),
                query_key: query_key.to_owned(),
                account_id: channel.account_id.clone(),
                body: serde_json::to_string(&value)
                    .map_err(|e| AppError::Internal(format!("lookup cache: {e}")))?,
                read_at: read_at.clone(),
                expires_at: expires_at.clone(),
            };
            // The answer is good whether or not it could be kept.
            if let Err(e) = self.keep(&row, &read_at).await {
                tracing::warn!(error = %e, kind, "lookup answer not cached");
            }
        }
        Ok((
            value,
            Freshness {
                from_cache: false,
                read_at,
                expires_at,
            },
        ))
    }

    async fn keep(&self, row: &CachedLookup, now: &str) -> AppResult<()> {
        let mut tx = self.governance.db().begin_write().await?;
        store::put_cached_lookup(&mut tx, row, now).await?;
        tx.commit().await
    }

    /// The brand to check accounts against: the one given, else (when `may_deduce`) the
    /// only brand with tickets on the channel.
    async fn brand_for(
        &self,
        channel: &Channel,
        given: Option<&str>,
        may_deduce: bool,
    ) -> AppResult<Option<(Brand, &'static str)>> {
        if let Some(code) = given {
            return Ok(Some((self.brand(code).await?, "GIVEN")));
        }
        if !may_deduce {
            return Ok(None);
        }
        let mut c = self.governance.db().pool().acquire().await?;
        let brands = store::brands_on_channel(&mut c, channel.id).await?;
        drop(c);
        match brands.as_slice() {
            [only] => Ok(Some((
                self.governance.get_brand(only).await?,
                "FROM_TICKETS",
            ))),
            _ => Ok(None),
        }
    }

    /// The market (code, country) to check time zones against: the one given, else (when
    /// `may_deduce`) the only market with tickets on the channel.
    async fn market_for(
        &self,
        channel: &Channel,
        given: Option<&str>,
        may_deduce: bool,
    ) -> AppResult<Option<(String, String)>> {
        let mut c = self.governance.db().pool().acquire().await?;
        if let Some(code) = given {
            let code = code.trim().to_ascii_uppercase();
            let m = crate::store::find_market(&mut c, &code)
                .await?
                .ok_or_else(|| {
                    AppError::not_found("market", &code)
                        .with_field("market_code", "list_markets shows the codes")
                })?;
            return Ok(Some((m.code, m.country)));
        }
        if !may_deduce {
            return Ok(None);
        }
        let markets = store::market_countries_on_channel(&mut c, channel.id).await?;
        Ok(match markets.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        })
    }

    /// The ad accounts the channel's credential reaches, each flagged where its currency
    /// differs from the brand's or its time zone is unknown. Without `brand_code` the brand
    /// is deduced from the channel's tickets only when `may_deduce` (a caller whose key
    /// covers every brand: a brand-scoped key must not learn other brands that way).
    pub async fn ad_accounts(
        &self,
        input: AdAccountsInput,
        may_deduce: bool,
    ) -> AppResult<AdAccountsOutput> {
        let channel = self.channel(&input.channel_code).await?;
        let brand = self
            .brand_for(&channel, input.brand_code.as_deref(), may_deduce)
            .await?;
        let market = self
            .market_for(&channel, input.market_code.as_deref(), may_deduce)
            .await?;
        let (list, freshness) = self
            .cached(&channel, "ad_accounts", "", || {
                self.clients.ad_accounts(&channel)
            })
            .await?;
        let mine = bare_account(&channel.account_id);
        let accounts: Vec<CheckedAccount> = list
            .items
            .into_iter()
            .map(|account| {
                let mut flags = account_flags(&account, brand.as_ref().map(|(b, _)| b));
                flags.extend(market_flag(&account, market.as_ref()));
                CheckedAccount {
                    is_channel_account: bare_account(&account.id) == mine,
                    account,
                    flags,
                }
            })
            .collect();
        let mut note = list.note;
        if !list.truncated && !accounts.iter().any(|a| a.is_channel_account) {
            let missing = format!(
                "the channel's account_id {} is not among the accounts this credential reaches: check it with update_channel, or the credential",
                channel.account_id
            );
            note = Some(match note {
                Some(n) => format!("{n}; {missing}"),
                None => missing,
            });
        }
        Ok(AdAccountsOutput {
            channel_code: channel.code,
            platform: channel.platform,
            flagged: accounts.iter().filter(|a| !a.flags.is_empty()).count(),
            brand_source: brand.as_ref().map(|(_, s)| *s),
            brand_code: brand.map(|(b, _)| b.code),
            accounts,
            truncated: list.truncated,
            note,
            freshness,
        })
    }

    /// Meta pages or TikTok identities; Google Ads has none and says so.
    pub async fn pages(&self, input: ChannelLookupInput) -> AppResult<PagesOutput> {
        let channel = self.channel(&input.channel_code).await?;
        let (list, freshness): (LookupList<PageOrIdentity>, _) = self
            .cached(&channel, "pages", "", || self.clients.pages(&channel))
            .await?;
        Ok(PagesOutput {
            channel_code: channel.code,
            platform: channel.platform,
            pages: list.items,
            truncated: list.truncated,
            note: list.note,
            freshness,
        })
    }

    /// Pixels (Meta, TikTok) or conversion actions (Google Ads).
    pub async fn pixels(&self, input: ChannelLookupInput) -> AppResult<PixelsOutput> {
        let channel = self.channel(&input.channel_code).await?;
        let (list, freshness): (LookupList<PixelInfo>, _) = self
            .cached(&channel, "pixels", "", || self.clients.pixels(&channel))
            .await?;
        Ok(PixelsOutput {
            channel_code: channel.code,
            platform: channel.platform,
            pixels: list.items,
            truncated: list.truncated,
            note: list.note,
            freshness,
        })
    }

    /// Interests matching the query, each with the brand-safety verdict QA would give.
    pub async fn search_interests(&self, input: InterestSearchInput) -> AppResult<InterestsOutput> {
        let query = normalise_query(&input.query)?;
        let channel = self.channel(&input.channel_code).await?;
        let brand = match input.brand_code.as_deref() {
            Some(code) => Some(self.brand(code).await?),
            None => None,
        };
        let (list, freshness): (LookupList<InterestOption>, _) = self
            .cached(&channel, "interests", &query, || {
                self.clients.search_interests(&channel, &query)
            })
            .await?;
        let blocked_list = self.qa.blocked_interests().await?;
        let interests: Vec<CheckedInterest> = list
            .items
            .into_iter()
            .map(|i| check_interest(i, brand.as_ref(), channel.platform, &blocked_list))
            .collect();
        Ok(InterestsOutput {
            channel_code: channel.code,
            platform: channel.platform,
            query,
            brand_code: brand.map(|b| b.code),
            blocked: interests
                .iter()
                .filter(|i| i.brand_safety == SafetyVerdict::Blocked)
                .count(),
            interests,
            truncated: list.truncated,
            note: list.note,
            freshness,
        })
    }

    /// Locations matching the query.
    pub async fn search_locations(&self, input: LocationSearchInput) -> AppResult<LocationsOutput> {
        let query = normalise_query(&input.query)?;
        let channel = self.channel(&input.channel_code).await?;
        let (list, freshness): (LookupList<LocationOption>, _) = self
            .cached(&channel, "locations", &query, || {
                self.clients.search_locations(&channel, &query)
            })
            .await?;
        Ok(LocationsOutput {
            channel_code: channel.code,
            platform: channel.platform,
            query,
            locations: list.items,
            truncated: list.truncated,
            note: list.note,
            freshness,
        })
    }

    /// The platform's audience estimate for the ticket's translated targeting; where the
    /// platform offers none (Google Ads) the answer says so without asking it.
    pub async fn estimate_reach(&self, input: EstimateReachInput) -> AppResult<ReachOutput> {
        let ctx = self.governance.ticket_context(input.ticket_id).await?;
        let payloads = ctx.translate(&self.versions)?;
        let channel = ctx.channel.clone();
        let targeting = ctx
            .ticket
            .payload_config
            .get("targeting")
            .cloned()
            .unwrap_or(Value::Null);
        // The key is what the estimate depends on: the translated bodies that carry the
        // targeting (and the objective), whatever ticket they came from.
        let sent: Vec<&Value> = ["campaign", "adset", "adgroup"]
            .iter()
            .filter_map(|o| payloads.body(o))
            .collect();
        let key = hex::encode(Sha256::digest(
            serde_json::to_string(&sent).unwrap_or_default().as_bytes(),
        ));
        let (estimate, freshness) = if channel.platform == Platform::GoogleAds {
            let now = now_text();
            (
                self.clients
                    .estimate_reach(&channel, &payloads)
                    .await
                    .map_err(lookup_error)?,
                Freshness {
                    from_cache: false,
                    read_at: now.clone(),
                    expires_at: now,
                },
            )
        } else {
            self.cached(&channel, "reach", &key, || {
                self.clients.estimate_reach(&channel, &payloads)
            })
            .await?
        };
        Ok(ReachOutput {
            ticket_id: input.ticket_id,
            channel_code: channel.code,
            platform: channel.platform,
            estimate,
            targeting,
            freshness,
        })
    }
}

/// The flags of one account against the brand (when known).
fn account_flags(a: &AdAccount, brand: Option<&Brand>) -> Vec<AccountFlag> {
    let mut out = Vec::new();
    if let Some(b) = brand {
        match a.currency.as_deref() {
            Some(c) if !c.eq_ignore_ascii_case(&b.currency) => out.push(AccountFlag {
                code: "CURRENCY_MISMATCH",
                message: format!(
                    "account {} bills in {c} but brand {} budgets in {}: budgets would be sent as {} amounts; use an account in {} for this brand",
                    a.id,
                    b.code,
                    b.currency,
                    b.currency,
                    b.currency
                ),
            }),
            None => out.push(AccountFlag {
                code: "CURRENCY_UNKNOWN",
                message: format!(
                    "the platform did not say which currency account {} bills in; check it in the platform before trafficking brand {} ({}) to it",
                    a.id, b.code, b.currency
                ),
            }),
            _ => {}
        }
    }
    if a.time_zone.as_deref().is_none_or(|t| t.trim().is_empty()) {
        out.push(AccountFlag {
            code: "TIME_ZONE_UNKNOWN",
            message: format!(
                "the platform did not say which time zone account {} runs in: schedules and daily reports would be read in a zone we cannot state; check it in the platform",
                a.id
            ),
        });
    }
    out
}

/// An account whose time zone lies in an area its market's country is not in.
fn market_flag(a: &AdAccount, market: Option<&(String, String)>) -> Option<AccountFlag> {
    let (code, country) = market?;
    let zone = a.time_zone.as_deref()?;
    if super::zones::zone_fits_country(zone, country)? {
        return None;
    }
    Some(AccountFlag {
        code: "TIME_ZONE_OUTSIDE_MARKET",
        message: format!(
            "account {} runs in {zone}, which is not a time zone of market {code} ({country}): schedules, day parting and daily reports would be cut at another midnight than the market's; use an account set up in the market's time zone, or check the market",
            a.id
        ),
    })
}

/// The verdict QA's brand-safety rule would give this interest for this brand.
fn check_interest(
    interest: InterestOption,
    brand: Option<&Brand>,
    platform: Platform,
    blocked: &HashSet<(Platform, String)>,
) -> CheckedInterest {
    let listed = blocks_interest(blocked, true, platform, &interest.id);
    let (verdict, note) = match brand {
        Some(b) if blocks_interest(blocked, b.family_friendly, platform, &interest.id) => (
            SafetyVerdict::Blocked,
            Some(format!(
                "blocked for family-friendly brand {}: QA (brand_safety.blocked_interests) would refuse a ticket targeting it",
                b.code
            )),
        ),
        Some(b) if listed => (
            SafetyVerdict::Allowed,
            Some(format!(
                "on the blocked-interest list, which applies to family-friendly brands only; {} is not family-friendly, so QA allows it",
                b.code
            )),
        ),
        Some(_) => (SafetyVerdict::Allowed, None),
        None => (
            SafetyVerdict::NotChecked,
            listed.then(|| {
                "on the blocked-interest list: QA blocks it for family-friendly brands; give brand_code for the verdict".to_owned()
            }),
        ),
    };
    CheckedInterest {
        interest,
        brand_safety: verdict,
        brand_safety_note: note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brand(family_friendly: bool) -> Brand {
        Brand {
            id: 1,
            code: "DIS".into(),
            name: "Disney".into(),
            family_friendly,
            currency: "USD".into(),
            daily_budget_limit_minor: None,
            lifetime_budget_limit_minor: None,
            change_review_daily_minor: None,
            change_review_percent: None,
            meta_pixel_id: None,
            tiktok_pixel_code: None,
            archived: false,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    fn interest(id: &str) -> InterestOption {
        InterestOption {
            id: id.into(),
            name: "x".into(),
            path: vec![],
            audience_size_lower_bound: None,
            audience_size_upper_bound: None,
            kind: None,
        }
    }

    #[test]
    fn queries_are_normalised_and_bounded() {
        assert_eq!(normalise_query("  Yoga   Mats ").unwrap(), "yoga mats");
        for bad in ["", "   ", &"x".repeat(101)] {
            let e = normalise_query(bad).unwrap_err();
            assert_eq!(e.field(), Some("query"), "{e}");
        }
        assert!(normalise_query(&"é".repeat(100)).is_ok());
    }

    #[test]
    fn verdicts_follow_the_qa_rule() {
        let blocked: HashSet<(Platform, String)> =
            [(Platform::Meta, "6003".to_owned())].into_iter().collect();
        let v = |b: Option<&Brand>, id: &str, p: Platform| {
            check_interest(interest(id), b, p, &blocked).brand_safety
        };
        let ff = brand(true);
        let adult = brand(false);
        assert_eq!(v(Some(&ff), "6003", Platform::Meta), SafetyVerdict::Blocked);
        assert_eq!(
            v(Some(&ff), "6003", Platform::Tiktok),
            SafetyVerdict::Allowed
        );
        assert_eq!(
            v(Some(&adult), "6003", Platform::Meta),
            SafetyVerdict::Allowed
        );
        assert_eq!(v(Some(&ff), "7000", Platform::Meta), SafetyVerdict::Allowed);
        assert_eq!(v(None, "6003", Platform::Meta), SafetyVerdict::NotChecked);
    }

    #[test]
    fn accounts_are_flagged_for_currency_and_time_zone() {
        let a = AdAccount {
            id: "1".into(),
            name: "EU".into(),
            status: "ACTIVE".into(),
            platform_status: "1".into(),
            currency: Some("EUR".into()),
            time_zone: None,
            error: None,
        };
        let flags = account_flags(&a, Some(&brand(true)));
        let codes: Vec<&str> = flags.iter().map(|f| f.code).collect();
        assert_eq!(codes, ["CURRENCY_MISMATCH", "TIME_ZONE_UNKNOWN"]);
        assert!(flags[0].message.contains("EUR") && flags[0].message.contains("USD"));
        assert_eq!(account_flags(&a, None).len(), 1);
    }
}
