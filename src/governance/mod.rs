//! The governance service: markets, brands, channels, campaigns, tickets and the taxonomy
//! operations that need the store. MCP and REST call this; it holds the rules.

mod inputs;

pub use inputs::*;

use schemars::JsonSchema;
use serde::Serialize;
use sqlx::AnyConnection;
use std::sync::Arc;

use crate::auth::Principal;
use crate::domain::{
    Brand, Campaign, Channel, Code, CountryCode, Currency, Market, Money, Platform, RequestType,
    Ticket, TicketStatus, TicketView,
};
use crate::error::{AppError, AppResult};
use crate::store::{self, CampaignFilter, Db, NewCampaign, NewTicket, TicketFilter};
use crate::taxonomy::{NameParts, NameValidation, Picklists, TaxonomyConvention};
use crate::tickets;

#[derive(Clone)]
pub struct Governance {
    db: Db,
    convention: Arc<TaxonomyConvention>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MarketList {
    pub markets: Vec<Market>,
}
#[derive(Debug, Serialize, JsonSchema)]
pub struct BrandList {
    pub brands: Vec<Brand>,
}
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChannelList {
    pub channels: Vec<Channel>,
}
#[derive(Debug, Serialize, JsonSchema)]
pub struct CampaignList {
    pub campaigns: Vec<Campaign>,
    /// Pass as `offset` to get the next page; absent on the last page.
    pub next_offset: Option<i64>,
}
#[derive(Debug, Serialize, JsonSchema)]
pub struct TicketList {
    pub tickets: Vec<Ticket>,
    /// Pass as `offset` to get the next page; absent on the last page.
    pub next_offset: Option<i64>,
}

/// A ticket whose name a code change affects.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TicketRename {
    pub ticket_id: i64,
    pub status: TicketStatus,
    pub current_name: String,
    /// The name it would get; equal to current_name for live tickets, which keep theirs.
    pub new_name: String,
}

/// What changing a governed code would do.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RenameImpact {
    pub segment: String,
    pub code: String,
    pub new_code: String,
    /// Campaigns that use the code (their free-text names do not change).
    pub campaign_ids: Vec<i64>,
    /// Tickets not yet sent to a platform: they are renamed.
    pub renamed_tickets: Vec<TicketRename>,
    /// Tickets already queued, deployed or past: they keep their names, since the
    /// platform objects already carry them.
    pub unchanged_live_tickets: Vec<TicketRename>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MarketUpdate {
    pub market: Market,
    /// Present when the code changed.
    pub rename: Option<RenameImpact>,
}
#[derive(Debug, Serialize, JsonSchema)]
pub struct BrandUpdate {
    pub brand: Brand,
    pub rename: Option<RenameImpact>,
}
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChannelUpdate {
    pub channel: Channel,
    pub rename: Option<RenameImpact>,
}
#[derive(Debug, Serialize, JsonSchema)]
pub struct CampaignUpdate {
    pub campaign: Campaign,
    /// Draft tickets renamed because the name or year changed.
    pub renamed_tickets: Vec<TicketRename>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct NamePreview {
    /// The name the platform objects would get.
    pub name: String,
    pub convention: String,
    pub segments: Vec<crate::taxonomy::ParsedSegment>,
}

const DEFAULT_PAGE: i64 = 50;
const MAX_PAGE: i64 = 500;

fn page(limit: Option<i64>, offset: Option<i64>) -> AppResult<(i64, i64)> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::validation(
            "limit",
            format!("must be between 1 and {MAX_PAGE}; got {limit}"),
        ));
    }
    let offset = offset.unwrap_or(0);
    if offset < 0 {
        return Err(AppError::validation(
            "offset",
            format!("must be 0 or more; got {offset}"),
        ));
    }
    Ok((limit, offset))
}

fn next_offset(len: usize, limit: i64, offset: i64) -> Option<i64> {
    (len as i64 == limit).then_some(offset + limit)
}

fn parse_date(field: &str, raw: &str) -> AppResult<String> {
    chrono::NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map(|d| d.format("%Y-%m-%d").to_string())
        .map_err(|_| {
            AppError::validation(
                field,
                format!("\"{raw}\" is not a date; use YYYY-MM-DD, e.g. 2026-03-01"),
            )
        })
}

/// "" clears an optional text field; anything else sets it (trimmed).
fn optional_text(raw: Option<String>, current: Option<String>) -> Option<String> {
    match raw {
        None => current,
        Some(s) if s.trim().is_empty() => None,
        Some(s) => Some(s.trim().to_owned()),
    }
}

fn optional_money(
    field: &str,
    raw: Option<&str>,
    currency: Currency,
    current: Option<i64>,
) -> AppResult<Option<i64>> {
    match raw {
        None => Ok(current),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => {
            let m = Money::parse_major(field, s, currency)?;
            if m.amount_minor == 0 {
                return Err(AppError::validation(
                    field,
                    "must be greater than zero; use \"\" to remove it",
                ));
            }
            Ok(Some(m.amount_minor))
        }
    }
}

fn validate_year(year: i32) -> AppResult<()> {
    if (2000..=2100).contains(&year) {
        Ok(())
    } else {
        Err(AppError::validation(
            "year",
            format!("{year} is not a campaign year; use a four-digit year such as 2026"),
        ))
    }
}

fn validate_account_id(platform: Platform, raw: &str) -> AppResult<String> {
    let s = raw.trim();
    let (digits, example) = match platform {
        Platform::Meta => (
            s.strip_prefix("act_").unwrap_or(s).to_owned(),
            "\"1234567890\" (without act_)",
        ),
        Platform::Tiktok => (s.to_owned(), "\"7012345678901234567\""),
        Platform::GoogleAds => (s.replace('-', ""), "\"123-456-7890\""),
    };
    let ok = !digits.is_empty()
        && digits.len() <= 32
        && digits.chars().all(|c| c.is_ascii_digit())
        && (platform != Platform::GoogleAds || digits.len() == 10);
    if ok {
        Ok(digits)
    } else {
        Err(AppError::validation(
            "account_id",
            format!("\"{raw}\" is not a {platform} account id; use digits such as {example}"),
        ))
    }
}

pub(crate) async fn must_market(
    c: &mut AnyConnection,
    field: &str,
    raw: &str,
) -> AppResult<Market> {
    let code = Code::parse(field, raw)?;
    store::find_market(c, code.as_str()).await?.ok_or_else(|| {
        AppError::not_found("market", code).with_field(field, "list_markets shows the codes")
    })
}

pub(crate) async fn must_brand(c: &mut AnyConnection, field: &str, raw: &str) -> AppResult<Brand> {
    let code = Code::parse(field, raw)?;
    store::find_brand(c, code.as_str()).await?.ok_or_else(|| {
        AppError::not_found("brand", code).with_field(field, "list_brands shows the codes")
    })
}

async fn must_channel(c: &mut AnyConnection, field: &str, raw: &str) -> AppResult<Channel> {
    let code = Code::parse(field, raw)?;
    store::find_channel(c, code.as_str()).await?.ok_or_else(|| {
        AppError::not_found("channel", code).with_field(field, "list_channels shows the codes")
    })
}

async fn must_campaign(c: &mut AnyConnection, id: i64) -> AppResult<Campaign> {
    store::get_campaign(c, id).await?.ok_or_else(|| {
        AppError::not_found("campaign", id)
            .with_field("campaign_id", "list_campaigns shows the ids")
    })
}

async fn must_ticket(c: &mut AnyConnection, id: i64) -> AppResult<Ticket> {
    store::get_ticket(c, id).await?.ok_or_else(|| {
        AppError::not_found("ticket", id).with_field("ticket_id", "list_tickets shows the ids")
    })
}

fn not_archived(what: &str, code: &str, archived: bool, field: &str) -> AppResult<()> {
    if archived {
        Err(AppError::conflict(
            Some(field),
            format!(
                "{what} {code} is archived; pick an active one or restore it with update_{what} {{\"code\": \"{code}\", \"archived\": false}}"
            ),
        ))
    } else {
        Ok(())
    }
}

/// Which governed code a rename touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeKind {
    Brand,
    Market,
    Channel,
}

impl Governance {
    /// Load (or seed) the active naming convention.
    pub async fn new(db: Db) -> AppResult<Self> {
        let mut conn = db.pool().acquire().await?;
        let convention = match store::active_convention(&mut conn).await? {
            Some(def) => serde_json::from_str(&def).map_err(|e| {
                AppError::Internal(format!("stored taxonomy convention is invalid: {e}"))
            })?,
            None => {
                let c = TaxonomyConvention::default();
                let def =
                    serde_json::to_string(&c).map_err(|e| AppError::Internal(e.to_string()))?;
                store::insert_convention(&mut conn, "default", &def).await?;
                c
            }
        };
        Ok(Self {
            db,
            convention: Arc::new(convention),
        })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn convention(&self) -> &TaxonomyConvention {
        &self.convention
    }

    async fn conn(&self) -> AppResult<sqlx::pool::PoolConnection<sqlx::Any>> {
        Ok(self.db.pool().acquire().await?)
    }

    // ------------------------------------------------------------ markets

    pub async fn list_markets(&self, input: ListInput) -> AppResult<MarketList> {
        let mut c = self.conn().await?;
        Ok(MarketList {
            markets: store::list_markets(&mut c, input.include_archived).await?,
        })
    }

    pub async fn create_market(&self, input: CreateMarketInput) -> AppResult<Market> {
        let code = Code::parse("code", &input.code)?;
        let country = CountryCode::parse("country", &input.country)?;
        let region = input.region.trim();
        if region.is_empty() {
            return Err(AppError::validation(
                "region",
                "must not be empty; e.g. \"NA\" or \"EMEA\"",
            ));
        }
        let mut tx = self.db.begin_write().await?;
        let m = store::insert_market(&mut tx, code.as_str(), country.as_str(), region).await?;
        tx.commit().await?;
        Ok(m)
    }

    pub async fn update_market(
        &self,
        actor: &Principal,
        input: UpdateMarketInput,
    ) -> AppResult<MarketUpdate> {
        let mut tx = self.db.begin_write().await?;
        let mut m = must_market(&mut tx, "code", &input.code).await?;
        if let Some(c) = input.country {
            m.country = CountryCode::parse("country", &c)?.as_str().to_owned();
        }
        if let Some(r) = input.region {
            if r.trim().is_empty() {
                return Err(AppError::validation("region", "must not be empty"));
            }
            m.region = r.trim().to_owned();
        }
        if let Some(a) = input.archived {
            m.archived = a;
        }
        let rename = match input.new_code {
            Some(nc) => {
                let nc = Code::parse("new_code", &nc)?;
                let impact = self
                    .rename_in_tx(
                        &mut tx,
                        CodeKind::Market,
                        m.id,
                        &m.code,
                        nc.as_str(),
                        Some(actor),
                    )
                    .await?;
                m.code = nc.as_str().to_owned();
                Some(impact)
            }
            None => None,
        };
        let market = store::update_market(&mut tx, &m).await?;
        tx.commit().await?;
        Ok(MarketUpdate { market, rename })
    }

    pub async fn archive_market(&self, input: CodeInput) -> AppResult<Market> {
        let mut tx = self.db.begin_write().await?;
        let mut m = must_market(&mut tx, "code", &input.code).await?;
        m.archived = true;
        let m = store::update_market(&mut tx, &m).await?;
        tx.commit().await?;
        Ok(m)
    }

    // ------------------------------------------------------------ brands

    pub async fn list_brands(&self, input: ListInput) -> AppResult<BrandList> {
        let mut c = self.conn().await?;
        Ok(BrandList {
            brands: store::list_brands(&mut c, input.include_archived).await?,
        })
    }

    pub async fn get_brand(&self, code: &str) -> AppResult<Brand> {
        let mut c = self.conn().await?;
        must_brand(&mut c, "brand_code", code).await
    }

    pub async fn create_brand(&self, input: CreateBrandInput) -> AppResult<Brand> {
        let code = Code::parse("code", &input.code)?;
        let name = input.name.trim();
        if name.is_empty() {
            return Err(AppError::validation(
                "name",
                "must not be empty; e.g. \"Disney\"",
            ));
        }
        let currency = Currency::parse("currency", &input.currency)?;
        let brand = Brand {
            id: 0,
            code: code.as_str().to_owned(),
            name: name.to_owned(),
            family_friendly: input.family_friendly,
            currency: currency.as_str().to_owned(),
            daily_budget_limit_minor: optional_money(
                "daily_budget_limit",
                input.daily_budget_limit.as_deref(),
                currency,
                None,
            )?,
            lifetime_budget_limit_minor: optional_money(
                "lifetime_budget_limit",
                input.lifetime_budget_limit.as_deref(),
                currency,
                None,
            )?,
            meta_pixel_id: optional_text(
                crate::domain::MetaPixelId::parse_input("meta_pixel_id", input.meta_pixel_id)?,
                None,
            ),
            tiktok_pixel_code: optional_text(
                crate::domain::TiktokPixelCode::parse_input(
                    "tiktok_pixel_code",
                    input.tiktok_pixel_code,
                )?,
                None,
            ),
            archived: false,
            created_at: String::new(),
            updated_at: String::new(),
        };
        let mut tx = self.db.begin_write().await?;
        let b = store::insert_brand(&mut tx, &brand).await?;
        tx.commit().await?;
        Ok(b)
    }

    pub async fn update_brand(
        &self,
        actor: &Principal,
        input: UpdateBrandInput,
    ) -> AppResult<BrandUpdate> {
        let mut tx = self.db.begin_write().await?;
        let mut b = must_brand(&mut tx, "code", &input.code).await?;
        if let Some(n) = input.name {
            if n.trim().is_empty() {
                return Err(AppError::validation("name", "must not be empty"));
            }
            b.name = n.trim().to_owned();
        }
        if let Some(f) = input.family_friendly {
            b.family_friendly = f;
        }
        if let Some(cur) = input.currency {
            let cur = Currency::parse("currency", &cur)?;
            if cur.as_str() != b.currency {
                let used = store::campaigns_using(&mut tx, Some(b.id), None).await?;
                if !used.is_empty() {
                    return Err(AppError::conflict(
                        Some("currency"),
                        format!(
                            "brand {} has {} campaign(s) budgeted in {}; its currency cannot change. Create a new brand for the new currency",
                            b.code,
                            used.len(),
                            b.currency
                        ),
                    ));
                }
                b.currency = cur.as_str().to_owned();
            }
        }
        let currency = Currency::parse("currency", &b.currency)?;
        b.daily_budget_limit_minor = optional_money(
            "daily_budget_limit",
            input.daily_budget_limit.as_deref(),
            currency,
            b.daily_budget_limit_minor,
        )?;
        b.lifetime_budget_limit_minor = optional_money(
            "lifetime_budget_limit",
            input.lifetime_budget_limit.as_deref(),
            currency,
            b.lifetime_budget_limit_minor,
        )?;
        b.meta_pixel_id = optional_text(
            crate::domain::MetaPixelId::parse_input("meta_pixel_id", input.meta_pixel_id)?,
            b.meta_pixel_id,
        );
        b.tiktok_pixel_code = optional_text(
            crate::domain::TiktokPixelCode::parse_input(
                "tiktok_pixel_code",
                input.tiktok_pixel_code,
            )?,
            b.tiktok_pixel_code,
        );
        if let Some(a) = input.archived {
            b.archived = a;
        }
        let rename = match input.new_code {
            Some(nc) => {
                let nc = Code::parse("new_code", &nc)?;
                let impact = self
                    .rename_in_tx(
                        &mut tx,
                        CodeKind::Brand,
                        b.id,
                        &b.code,
                        nc.as_str(),
                        Some(actor),
                    )
                    .await?;
                b.code = nc.as_str().to_owned();
                Some(impact)
            }
            None => None,
        };
        let brand = store::update_brand(&mut tx, &b).await?;
        tx.commit().await?;
        Ok(BrandUpdate { brand, rename })
    }

    pub async fn archive_brand(&self, input: CodeInput) -> AppResult<Brand> {
        let mut tx = self.db.begin_write().await?;
        let mut b = must_brand(&mut tx, "code", &input.code).await?;
        b.archived = true;
        let b = store::update_brand(&mut tx, &b).await?;
        tx.commit().await?;
        Ok(b)
    }

    // ------------------------------------------------------------ channels

    pub async fn list_channels(&self, input: ListInput) -> AppResult<ChannelList> {
        let mut c = self.conn().await?;
        Ok(ChannelList {
            channels: store::list_channels(&mut c, input.include_archived).await?,
        })
    }

    pub async fn create_channel(&self, input: CreateChannelInput) -> AppResult<Channel> {
        let code = Code::parse("code", &input.code)?;
        let platform = Platform::parse("platform", &input.platform)?;
        let account = validate_account_id(platform, &input.account_id)?;
        let mut tx = self.db.begin_write().await?;
        let ch = store::insert_channel(&mut tx, code.as_str(), platform, &account).await?;
        tx.commit().await?;
        Ok(ch)
    }

    pub async fn update_channel(
        &self,
        actor: &Principal,
        input: UpdateChannelInput,
    ) -> AppResult<ChannelUpdate> {
        let mut tx = self.db.begin_write().await?;
        let mut ch = must_channel(&mut tx, "code", &input.code).await?;
        if let Some(a) = input.account_id {
            let live = store::count_references(&mut tx, None, None, Some(ch.id)).await?;
            let account = validate_account_id(ch.platform, &a)?;
            if account != ch.account_id && live > 0 {
                return Err(AppError::conflict(
                    Some("account_id"),
                    format!(
                        "channel {} has {live} open ticket(s) on account {}; cancel or finish them first, or create a new channel for the new account",
                        ch.code, ch.account_id
                    ),
                ));
            }
            ch.account_id = account;
        }
        if let Some(a) = input.archived {
            ch.archived = a;
        }
        let rename = match input.new_code {
            Some(nc) => {
                let nc = Code::parse("new_code", &nc)?;
                let impact = self
                    .rename_in_tx(
                        &mut tx,
                        CodeKind::Channel,
                        ch.id,
                        &ch.code,
                        nc.as_str(),
                        Some(actor),
                    )
                    .await?;
                ch.code = nc.as_str().to_owned();
                Some(impact)
            }
            None => None,
        };
        let channel = store::update_channel(&mut tx, &ch).await?;
        tx.commit().await?;
        Ok(ChannelUpdate { channel, rename })
    }

    pub async fn archive_channel(&self, input: CodeInput) -> AppResult<Channel> {
        let mut tx = self.db.begin_write().await?;
        let mut ch = must_channel(&mut tx, "code", &input.code).await?;
        ch.archived = true;
        let ch = store::update_channel(&mut tx, &ch).await?;
        tx.commit().await?;
        Ok(ch)
    }

    // ------------------------------------------------------------ campaigns

    /// Campaigns the caller may see (a brand-scoped key sees only its brands').
    pub async fn list_campaigns(
        &self,
        who: &Principal,
        input: ListCampaignsInput,
    ) -> AppResult<CampaignList> {
        let (limit, offset) = page(input.limit, input.offset)?;
        let mut c = self.conn().await?;
        let brand_id = match &input.brand_code {
            Some(code) => Some(must_brand(&mut c, "brand_code", code).await?.id),
            None => None,
        };
        let market_id = match &input.market_code {
            Some(code) => Some(must_market(&mut c, "market_code", code).await?.id),
            None => None,
        };
        let filter = CampaignFilter {
            brand_id,
            brands: who.brands(),
            market_id,
            year: input.year,
            include_archived: input.include_archived,
            limit,
            offset,
        };
        let campaigns = store::list_campaigns(&mut c, &filter).await?;
        let next_offset = next_offset(campaigns.len(), limit, offset);
        Ok(CampaignList {
            campaigns,
            next_offset,
        })
    }

    /// Refused unless the caller's key covers the ticket's brand (unknown tickets: not found).
    pub async fn authorize_ticket(&self, who: &Principal, ticket_id: i64) -> AppResult<()> {
        if who.brands().is_none() {
            return Ok(());
        }
        let mut c = self.conn().await?;
        let brand = store::ticket_brand(&mut c, ticket_id)
            .await?
            .ok_or_else(|| {
                AppError::not_found("ticket", ticket_id)
                    .with_field("ticket_id", "list_tickets shows the ids")
            })?;
        who.require_brand(&brand)
    }

    /// Refused unless the caller's key covers the campaign's brand.
    pub async fn authorize_campaign(&self, who: &Principal, campaign_id: i64) -> AppResult<()> {
        if who.brands().is_none() {
            return Ok(());
        }
        let mut c = self.conn().await?;
        let brand = store::campaign_brand(&mut c, campaign_id)
            .await?
            .ok_or_else(|| {
                AppError::not_found("campaign", campaign_id)
                    .with_field("campaign_id", "list_campaigns shows the ids")
            })?;
        who.require_brand(&brand)
    }

    pub async fn get_campaign(&self, id: i64) -> AppResult<Campaign> {
        let mut c = self.conn().await?;
        must_campaign(&mut c, id).await
    }

    pub async fn create_campaign(&self, input: CreateCampaignInput) -> AppResult<Campaign> {
        validate_year(input.year)?;
        let name = input.name.trim();
        if crate::taxonomy::sanitize_free_text(name).is_empty() {
            return Err(AppError::validation(
                "name",
                "needs letters or digits, e.g. \"Moana Launch\"",
            ));
        }
        let mut tx = self.db.begin_write().await?;
        let brand = must_brand(&mut tx, "brand_code", &input.brand_code).await?;
        not_archived("brand", &brand.code, brand.archived, "brand_code")?;
        let market = must_market(&mut tx, "market_code", &input.market_code).await?;
        not_archived("market", &market.code, market.archived, "market_code")?;
        let currency = Currency::parse("currency", &brand.currency)?;
        let daily = optional_money(
            "daily_budget",
            input.daily_budget.as_deref(),
            currency,
            None,
        )?;
        let lifetime = optional_money(
            "lifetime_budget",
            input.lifetime_budget.as_deref(),
            currency,
            None,
        )?;
        let start = input
            .start_date
            .as_deref()
            .map(|d| parse_date("start_date", d))
            .transpose()?;
        let end = input
            .end_date
            .as_deref()
            .map(|d| parse_date("end_date", d))
            .transpose()?;
        check_dates(start.as_deref(), end.as_deref())?;
        // The name must fit the convention on every channel; check with the longest code.
        self.convention.generate(&NameParts {
            brand_code: &brand.code,
            market_code: &market.code,
            channel_code: "CHANNEL",
            year: input.year,
            campaign_name: name,
        })?;
        let id = store::insert_campaign(
            &mut tx,
            &NewCampaign {
                brand_id: brand.id,
                market_id: market.id,
                name,
                year: input.year,
                currency: currency.as_str(),
                daily_budget_minor: daily,
                lifetime_budget_minor: lifetime,
                start_date: start.as_deref(),
                end_date: end.as_deref(),
            },
        )
        .await?;
        let campaign = must_campaign(&mut tx, id).await?;
        tx.commit().await?;
        Ok(campaign)
    }

    pub async fn update_campaign(
        &self,
        actor: &Principal,
        input: UpdateCampaignInput,
    ) -> AppResult<CampaignUpdate> {
        let mut tx = self.db.begin_write().await?;
        let mut k = must_campaign(&mut tx, input.campaign_id).await?;
        let mut rename = false;
        if let Some(n) = input.name {
            if crate::taxonomy::sanitize_free_text(&n).is_empty() {
                return Err(AppError::validation(
                    "name",
                    "needs letters or digits, e.g. \"Moana Launch\"",
                ));
            }
            rename |= n.trim() != k.name;
            k.name = n.trim().to_owned();
        }
        if let Some(y) = input.year {
            validate_year(y)?;
            rename |= y != k.year;
            k.year = y;
        }
        let currency = Currency::parse("currency", &k.currency)?;
        k.daily_budget_minor = optional_money(
            "daily_budget",
            input.daily_budget.as_deref(),
            currency,
            k.daily_budget_minor,
        )?;
        k.lifetime_budget_minor = optional_money(
            "lifetime_budget",
            input.lifetime_budget.as_deref(),
            currency,
            k.lifetime_budget_minor,
        )?;
        k.start_date = match input.start_date {
            None => k.start_date,
            Some(s) if s.trim().is_empty() => None,
            Some(s) => Some(parse_date("start_date", &s)?),
        };
        k.end_date = match input.end_date {
            None => k.end_date,
            Some(s) if s.trim().is_empty() => None,
            Some(s) => Some(parse_date("end_date", &s)?),
        };
        check_dates(k.start_date.as_deref(), k.end_date.as_deref())?;
        if let Some(a) = input.archived {
            k.archived = a;
        }
        store::update_campaign(&mut tx, &k).await?;
        let mut renamed = Vec::new();
        if rename {
            for t in store::tickets_using(&mut tx, None, None, None, Some(k.id)).await? {
                if !t.status.is_pre_deploy() {
                    continue;
                }
                let new_name = self.convention.generate(&NameParts {
                    brand_code: &k.brand_code,
                    market_code: &k.market_code,
                    channel_code: &t.channel_code,
                    year: k.year,
                    campaign_name: &k.name,
                })?;
                if new_name != t.platform_name {
                    self.rename_ticket(&mut tx, &t, &new_name, actor).await?;
                    renamed.push(TicketRename {
                        ticket_id: t.id,
                        status: t.status,
                        current_name: t.platform_name.clone(),
                        new_name,
                    });
                }
            }
        }
        let campaign = must_campaign(&mut tx, k.id).await?;
        tx.commit().await?;
        Ok(CampaignUpdate {
            campaign,
            renamed_tickets: renamed,
        })
    }

    // ------------------------------------------------------------ tickets

    /// Tickets the caller may see (a brand-scoped key sees only its brands').
    pub async fn list_tickets(
        &self,
        who: &Principal,
        input: ListTicketsInput,
    ) -> AppResult<TicketList> {
        let (limit, offset) = page(input.limit, input.offset)?;
        let mut c = self.conn().await?;
        let channel_id = match &input.channel_code {
            Some(code) => Some(must_channel(&mut c, "channel_code", code).await?.id),
            None => None,
        };
        let status = input
            .status
            .as_deref()
            .map(|s| TicketStatus::parse("status", s))
            .transpose()?;
        let filter = TicketFilter {
            campaign_id: input.campaign_id,
            brands: who.brands(),
            channel_id,
            status,
            limit,
            offset,
        };
        let tickets = store::list_tickets(&mut c, &filter).await?;
        let next_offset = next_offset(tickets.len(), limit, offset);
        Ok(TicketList {
            tickets,
            next_offset,
        })
    }

    pub async fn get_ticket(&self, id: i64) -> AppResult<TicketView> {
        let mut c = self.conn().await?;
        let ticket = must_ticket(&mut c, id).await?;
        let history = store::ticket_history(&mut c, id).await?;
        Ok(TicketView { ticket, history })
    }

    pub async fn create_ticket(
        &self,
        actor: &Principal,
        input: CreateTicketInput,
    ) -> AppResult<Ticket> {
        let request_type = match &input.request_type {
            Some(r) => RequestType::parse("request_type", r)?,
            None => RequestType::NewCampaign,
        };
        let payload = input
            .payload_config
            .unwrap_or_else(|| serde_json::json!({}));
        if !payload.is_object() {
            return Err(AppError::validation(
                "payload_config",
                "must be a JSON object, e.g. {\"objective\": \"TRAFFIC\"}",
            ));
        }
        crate::platforms::spec::check_bounds(&payload)?;
        let mut tx = self.db.begin_write().await?;
        let campaign = must_campaign(&mut tx, input.campaign_id).await?;
        if campaign.archived {
            return Err(AppError::conflict(
                Some("campaign_id"),
                format!(
                    "campaign {} is archived; restore it with update_campaign first",
                    campaign.id
                ),
            ));
        }
        let channel = must_channel(&mut tx, "channel_code", &input.channel_code).await?;
        not_archived("channel", &channel.code, channel.archived, "channel_code")?;
        let name = self.convention.generate(&NameParts {
            brand_code: &campaign.brand_code,
            market_code: &campaign.market_code,
            channel_code: &channel.code,
            year: campaign.year,
            campaign_name: &campaign.name,
        })?;
        let (id, created_at) = tickets::create(
            &mut tx,
            &NewTicket {
                campaign_id: campaign.id,
                channel_id: channel.id,
                request_type,
                payload_config: &payload,
                platform_name: &name,
            },
            &actor.name,
        )
        .await?;
        // Built here rather than read back: one round trip less on the hottest write path.
        let ticket = Ticket {
            id,
            campaign_id: campaign.id,
            channel_code: channel.code,
            platform: channel.platform,
            request_type,
            status: TicketStatus::Draft,
            platform_name: name,
            payload_config: payload,
            qa_report: None,
            external_ids: serde_json::json!({}),
            version: 1,
            updated_at: created_at.clone(),
            created_at,
        };
        tx.commit().await?;
        Ok(ticket)
    }

    pub async fn update_ticket(
        &self,
        actor: &Principal,
        input: UpdateTicketInput,
    ) -> AppResult<TicketView> {
        let mut tx = self.db.begin_write().await?;
        let mut t = must_ticket(&mut tx, input.ticket_id).await?;
        if let Some(v) = input.expected_version
            && v != t.version
        {
            return Err(AppError::conflict(
                Some("expected_version"),
                format!(
                    "ticket {} is at version {}, not {v}: someone changed it since you read it; get_ticket and retry",
                    t.id, t.version
                ),
            ));
        }
        let read_version = t.version;
        let before = t.status;
        let edits_content = input.payload_config.is_some()
            || input.channel_code.is_some()
            || input.request_type.is_some();
        let mut notes = Vec::new();
        if edits_content {
            if !t.status.is_editable() {
                return Err(AppError::InvalidTransition {
                    message: format!(
                        "ticket {} is {} and cannot be edited; only DRAFT, QA_FAILED, READY_FOR_API and DEPLOY_FAILED tickets can",
                        t.id, t.status
                    ),
                });
            }
            if let Some(p) = input.payload_config {
                if !p.is_object() {
                    return Err(AppError::validation(
                        "payload_config",
                        "must be a JSON object",
                    ));
                }
                crate::platforms::spec::check_bounds(&p)?;
                t.payload_config = p;
                notes.push("payload_config");
            }
            if let Some(r) = &input.request_type {
                t.request_type = RequestType::parse("request_type", r)?;
                notes.push("request_type");
            }
            if let Some(code) = &input.channel_code {
                let ch = must_channel(&mut tx, "channel_code", code).await?;
                not_archived("channel", &ch.code, ch.archived, "channel_code")?;
                if !t.external_ids.as_object().is_none_or(|o| o.is_empty()) {
                    return Err(AppError::conflict(
                        Some("channel_code"),
                        "objects already exist on the current channel; create a new ticket for the other channel",
                    ));
                }
                let campaign = must_campaign(&mut tx, t.campaign_id).await?;
                t.platform_name = self.convention.generate(&NameParts {
                    brand_code: &campaign.brand_code,
                    market_code: &campaign.market_code,
                    channel_code: &ch.code,
                    year: campaign.year,
                    campaign_name: &campaign.name,
                })?;
                t.channel_code = ch.code.clone();
                t.platform = ch.platform;
                notes.push("channel_code");
            }
            // Any edit invalidates the last QA run.
            t.qa_report = None;
            if t.status != TicketStatus::Draft {
                t.status.check_transition(TicketStatus::Draft)?;
                t.status = TicketStatus::Draft;
            }
        }
        if let Some(s) = &input.status {
            let to = TicketStatus::parse("status", s)?;
            if !matches!(to, TicketStatus::Draft | TicketStatus::Cancelled) {
                let how = match to {
                    TicketStatus::QaFailed | TicketStatus::ReadyForApi => "run_qa sets it",
                    TicketStatus::Queued
                    | TicketStatus::Deploying
                    | TicketStatus::TraffickedSuccess
                    | TicketStatus::DeployFailed => "deploy_ticket and the deploy worker set it",
                    _ => "the fix review sets it",
                };
                return Err(AppError::validation(
                    "status",
                    format!(
                        "{to} cannot be set by hand: {how}. update_ticket accepts DRAFT or CANCELLED"
                    ),
                ));
            }
            if to != t.status {
                t.status.check_transition(to)?;
                t.status = to;
            }
        }
        let reason = input
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        let detail = match (notes.is_empty(), reason) {
            (true, r) => r.map(str::to_owned),
            (false, Some(r)) => Some(format!("edited {}: {r}", notes.join(", "))),
            (false, None) => Some(format!("edited {}", notes.join(", "))),
        };
        if !notes.is_empty() || t.status != before {
            let edit = tickets::Edit {
                event: if notes.is_empty() {
                    "TRANSITION"
                } else {
                    "EDITED"
                },
                actor: &actor.name,
                detail: detail.as_deref(),
            };
            tickets::save_or_conflict(
                &mut tx,
                &t,
                before,
                read_version,
                &edit,
                "the ticket changed while this update ran; get_ticket and retry",
            )
            .await?;
        }
        let ticket = must_ticket(&mut tx, t.id).await?;
        let history = store::ticket_history(&mut tx, t.id).await?;
        tx.commit().await?;
        Ok(TicketView { ticket, history })
    }

    /// A ticket with everything it references, for QA and translation.
    pub async fn ticket_context(
        &self,
        id: i64,
    ) -> AppResult<(Ticket, Campaign, Brand, Market, Channel)> {
        let mut c = self.conn().await?;
        let ticket = must_ticket(&mut c, id).await?;
        let campaign = must_campaign(&mut c, ticket.campaign_id).await?;
        let brand = must_brand(&mut c, "brand_code", &campaign.brand_code).await?;
        let market = must_market(&mut c, "market_code", &campaign.market_code).await?;
        let channel = must_channel(&mut c, "channel_code", &ticket.channel_code).await?;
        Ok((ticket, campaign, brand, market, channel))
    }

    /// Store a QA report and move the ticket to `to`, unless the ticket changed since the
    /// report was computed (then the caller must run QA again).
    pub async fn record_qa(
        &self,
        actor: &str,
        ticket: &Ticket,
        report: serde_json::Value,
        to: TicketStatus,
        detail: &str,
    ) -> AppResult<Ticket> {
        let mut tx = self.db.begin_write().await?;
        let current = must_ticket(&mut tx, ticket.id).await?;
        if current.version != ticket.version {
            return Err(AppError::conflict(
                Some("ticket_id"),
                format!(
                    "ticket {} changed while QA ran (version {} -> {}); run QA again",
                    ticket.id, ticket.version, current.version
                ),
            ));
        }
        let mut updated = current.clone();
        updated.status = to;
        updated.qa_report = Some(report);
        let edit = tickets::Edit {
            event: "QA",
            actor,
            detail: Some(detail),
        };
        tickets::save_or_conflict(
            &mut tx,
            &updated,
            current.status,
            current.version,
            &edit,
            "the ticket changed while QA ran; run QA again",
        )
        .await?;
        let t = must_ticket(&mut tx, current.id).await?;
        tx.commit().await?;
        Ok(t)
    }

    async fn rename_ticket(
        &self,
        c: &mut AnyConnection,
        t: &Ticket,
        new_name: &str,
        actor: &Principal,
    ) -> AppResult<()> {
        let mut renamed = t.clone();
        renamed.platform_name = new_name.to_owned();
        let detail = format!("{} -> {new_name}", t.platform_name);
        let edit = tickets::Edit {
            event: "RENAMED",
            actor: &actor.name,
            detail: Some(&detail),
        };
        if !tickets::save(c, &renamed, t.status, t.version, &edit).await? {
            return Err(AppError::conflict(
                None,
                format!("ticket {} changed during the rename; retry", t.id),
            ));
        }
        Ok(())
    }

    // ------------------------------------------------------------ taxonomy

    pub async fn picklists(&self) -> AppResult<Picklists> {
        let mut c = self.conn().await?;
        Ok(Picklists {
            brand_codes: store::list_brands(&mut c, false)
                .await?
                .into_iter()
                .map(|b| b.code)
                .collect(),
            market_codes: store::list_markets(&mut c, false)
                .await?
                .into_iter()
                .map(|m| m.code)
                .collect(),
            channel_codes: store::list_channels(&mut c, false)
                .await?
                .into_iter()
                .map(|ch| ch.code)
                .collect(),
        })
    }

    pub async fn preview_name(&self, input: PreviewNameInput) -> AppResult<NamePreview> {
        let mut c = self.conn().await?;
        let channel = must_channel(&mut c, "channel_code", &input.channel_code).await?;
        let (brand, market, name, year) = match input.campaign_id {
            Some(id) => {
                let k = must_campaign(&mut c, id).await?;
                (k.brand_code, k.market_code, k.name, k.year)
            }
            None => {
                let missing =
                    |f: &str| AppError::validation(f, "required when campaign_id is not given");
                let b = must_brand(
                    &mut c,
                    "brand_code",
                    input
                        .brand_code
                        .as_deref()
                        .ok_or_else(|| missing("brand_code"))?,
                )
                .await?;
                let m = must_market(
                    &mut c,
                    "market_code",
                    input
                        .market_code
                        .as_deref()
                        .ok_or_else(|| missing("market_code"))?,
                )
                .await?;
                let n = input
                    .campaign_name
                    .ok_or_else(|| missing("campaign_name"))?;
                let y = input.year.ok_or_else(|| missing("year"))?;
                (b.code, m.code, n, y)
            }
        };
        let generated = self
            .convention
            .generate(&NameParts {
                brand_code: &brand,
                market_code: &market,
                channel_code: &channel.code,
                year,
                campaign_name: &name,
            })
            .map_err(|e| match e {
                AppError::Validation { field, message } if field == "name" => {
                    AppError::validation("campaign_name", message)
                }
                other => other,
            })?;
        let segments = self
            .convention
            .parse(&generated)
            .map_err(|i| AppError::Internal(i.problem))?;
        Ok(NamePreview {
            name: generated,
            convention: self.convention.pattern.clone(),
            segments,
        })
    }

    pub async fn validate_name(&self, input: ValidateNameInput) -> AppResult<NameValidation> {
        let picklists = self.picklists().await?;
        Ok(self.convention.validate(input.name.trim(), &picklists))
    }

    pub async fn rename_impact(&self, input: RenameImpactInput) -> AppResult<RenameImpact> {
        let kind = match input.segment.trim().to_ascii_lowercase().as_str() {
            "brand" => CodeKind::Brand,
            "market" => CodeKind::Market,
            "channel" => CodeKind::Channel,
            other => {
                return Err(AppError::validation(
                    "segment",
                    format!(
                        "\"{other}\" is not a governed segment; use \"brand\", \"market\" or \"channel\""
                    ),
                ));
            }
        };
        let new_code = Code::parse("new_code", &input.new_code)?;
        // Run the rename inside a transaction that is always rolled back: the preview and
        // the real rename share one code path, so they cannot disagree.
        let mut tx = self.db.begin_write().await?;
        let id = match kind {
            CodeKind::Brand => must_brand(&mut tx, "code", &input.code).await?.id,
            CodeKind::Market => must_market(&mut tx, "code", &input.code).await?.id,
            CodeKind::Channel => must_channel(&mut tx, "code", &input.code).await?.id,
        };
        let code = Code::parse("code", &input.code)?;
        let impact = self
            .rename_in_tx(&mut tx, kind, id, code.as_str(), new_code.as_str(), None)
            .await?;
        tx.rollback().await?;
        Ok(impact)
    }

    /// Work out (and, with an actor, apply to tickets) the effect of renaming a code.
    async fn rename_in_tx(
        &self,
        c: &mut AnyConnection,
        kind: CodeKind,
        id: i64,
        code: &str,
        new_code: &str,
        apply_as: Option<&Principal>,
    ) -> AppResult<RenameImpact> {
        let (segment, taken) = match kind {
            CodeKind::Brand => ("brand", store::find_brand(c, new_code).await?.is_some()),
            CodeKind::Market => ("market", store::find_market(c, new_code).await?.is_some()),
            CodeKind::Channel => ("channel", store::find_channel(c, new_code).await?.is_some()),
        };
        if taken && new_code != code {
            return Err(AppError::conflict(
                Some("new_code"),
                format!("a {segment} with code \"{new_code}\" already exists; pick another code"),
            ));
        }
        let (b, m, ch) = match kind {
            CodeKind::Brand => (Some(id), None, None),
            CodeKind::Market => (None, Some(id), None),
            CodeKind::Channel => (None, None, Some(id)),
        };
        let campaign_ids = if kind == CodeKind::Channel {
            Vec::new()
        } else {
            store::campaigns_using(c, b, m)
                .await?
                .into_iter()
                .map(|k| k.id)
                .collect()
        };
        let tickets = store::tickets_using(c, b, m, ch, None).await?;
        let mut renamed = Vec::new();
        let mut unchanged = Vec::new();
        for t in tickets {
            let k = must_campaign(c, t.campaign_id).await?;
            let sub = |current: &str, k: CodeKind| {
                if k == kind {
                    new_code.to_owned()
                } else {
                    current.to_owned()
                }
            };
            let new_name = self.convention.generate(&NameParts {
                brand_code: &sub(&k.brand_code, CodeKind::Brand),
                market_code: &sub(&k.market_code, CodeKind::Market),
                channel_code: &sub(&t.channel_code, CodeKind::Channel),
                year: k.year,
                campaign_name: &k.name,
            })?;
            if t.status.is_pre_deploy() {
                if let Some(actor) = apply_as
                    && new_name != t.platform_name
                {
                    self.rename_ticket(c, &t, &new_name, actor).await?;
                }
                renamed.push(TicketRename {
                    ticket_id: t.id,
                    status: t.status,
                    current_name: t.platform_name,
                    new_name,
                });
            } else {
                unchanged.push(TicketRename {
                    ticket_id: t.id,
                    status: t.status,
                    new_name: t.platform_name.clone(),
                    current_name: t.platform_name,
                });
            }
        }
        Ok(RenameImpact {
            segment: segment.into(),
            code: code.into(),
            new_code: new_code.into(),
            campaign_ids,
            renamed_tickets: renamed,
            unchanged_live_tickets: unchanged,
        })
    }
}

fn check_dates(start: Option<&str>, end: Option<&str>) -> AppResult<()> {
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        return Err(AppError::validation(
            "end_date",
            format!("{e} is before start_date {s}"),
        ));
    }
    Ok(())
}
