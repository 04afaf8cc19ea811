//! Admin-edited QA data: the interests blocked for family-friendly brands and per brand-and-market
//! budget caps.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DEFAULT_DAILY_LIMIT_MAJOR, DEFAULT_LIFETIME_LIMIT_MAJOR, QaService};
use crate::domain::{Brand, Currency, Market, Money, Platform};
use crate::error::{AppError, AppResult};
use crate::governance::must;
use crate::store::{self, BlockedInterest, MarketBudgetCapRow};

const CATEGORIES: [&str; 3] = ["ALCOHOL", "ADULT", "GAMBLING"];

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpsertBlockedInterestInput {
    /// META, TIKTOK or GOOGLE_ADS.
    pub platform: String,
    /// The platform's own interest (Meta) or interest-category (TikTok) id, e.g. "6003139266461".
    pub interest_id: String,
    /// ALCOHOL, ADULT or GAMBLING.
    pub category: String,
    /// Human-readable name, e.g. "Alcoholic beverages".
    pub name: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveBlockedInterestInput {
    /// META, TIKTOK or GOOGLE_ADS.
    pub platform: String,
    /// The interest id to unblock, e.g. "6003139266461".
    pub interest_id: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UpsertBlockedInterestOutput {
    /// True when the interest was not blocked before.
    pub created: bool,
    pub interest: BlockedInterest,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Removed {
    /// False when there was nothing to remove (nothing changed).
    pub removed: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetMarketBudgetCapInput {
    /// Brand code, e.g. "DIS".
    pub brand_code: String,
    /// Market code, e.g. "JP".
    pub market_code: String,
    /// Daily cap in this market as a decimal string in the brand's currency, e.g. "20000.00".
    /// Omit (or "") to fall back to the brand's cap, else the global 100,000.
    pub daily_budget_limit: Option<String>,
    /// Lifetime cap in this market, e.g. "250000.00". Omit (or "") to fall back to the
    /// brand's cap, else the global 1,000,000.
    pub lifetime_budget_limit: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveMarketBudgetCapInput {
    /// Brand code, e.g. "DIS".
    pub brand_code: String,
    /// Market code, e.g. "JP".
    pub market_code: String,
}

/// A cap for one brand in one market, as major-unit decimal strings in the brand's currency.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MarketBudgetCap {
    pub brand_code: String,
    pub market_code: String,
    /// The brand's currency, which the caps are in.
    pub currency: String,
    /// Null: the brand's own daily cap (or the global default) applies.
    pub daily_budget_limit: Option<String>,
    /// Null: the brand's own lifetime cap (or the global default) applies.
    pub lifetime_budget_limit: Option<String>,
    pub updated_at: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SetMarketBudgetCapOutput {
    pub created: bool,
    pub cap: MarketBudgetCap,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct BudgetCapList {
    /// Global caps in major units of each brand's currency, used when neither the brand nor
    /// the brand-and-market pair sets one.
    pub default_daily_budget_limit: i64,
    pub default_lifetime_budget_limit: i64,
    /// Brand-and-market caps; these win over the brand's own caps.
    pub market_caps: Vec<MarketBudgetCap>,
}

fn cap_view(r: MarketBudgetCapRow) -> MarketBudgetCap {
    let major = |minor: Option<i64>| {
        let currency = Currency::parse("currency", &r.currency).ok()?;
        minor.map(|amount_minor| {
            Money {
                amount_minor,
                currency,
            }
            .to_major_string()
        })
    };
    MarketBudgetCap {
        daily_budget_limit: major(r.daily_limit_minor),
        lifetime_budget_limit: major(r.lifetime_limit_minor),
        brand_code: r.brand_code,
        market_code: r.market_code,
        currency: r.currency,
        updated_at: r.updated_at,
    }
}

fn cap_amount(field: &str, raw: Option<&str>, currency: Currency) -> AppResult<Option<i64>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => {
            let m = Money::parse_major(field, s, currency)?;
            if m.amount_minor <= 0 {
                return Err(AppError::validation(
                    field,
                    "must be greater than zero; omit it to fall back to the brand's cap",
                ));
            }
            Ok(Some(m.amount_minor))
        }
    }
}

impl QaService {
    pub async fn upsert_blocked_interest(
        &self,
        input: UpsertBlockedInterestInput,
    ) -> AppResult<UpsertBlockedInterestOutput> {
        let platform = Platform::parse("platform", &input.platform)?;
        let interest_id = input.interest_id.trim();
        if interest_id.is_empty() || interest_id.len() > 64 {
            return Err(AppError::validation(
                "interest_id",
                "give the platform's interest id, e.g. \"6003139266461\"",
            ));
        }
        let category = input.category.trim().to_ascii_uppercase();
        if !CATEGORIES.contains(&category.as_str()) {
            return Err(AppError::validation(
                "category",
                format!(
                    "\"{}\" is not a category; use ALCOHOL, ADULT or GAMBLING",
                    input.category
                ),
            ));
        }
        let name = input.name.trim();
        if name.is_empty() {
            return Err(AppError::validation(
                "name",
                "give the interest's name, e.g. \"Alcoholic beverages\"",
            ));
        }
        let interest = BlockedInterest {
            platform: platform.as_str().to_owned(),
            interest_id: interest_id.to_owned(),
            category,
            name: name.to_owned(),
        };
        let mut tx = self.governance.db().begin_write().await?;
        let created = store::upsert_blocked_interest(&mut tx, &interest).await?;
        tx.commit().await?;
        Ok(UpsertBlockedInterestOutput { created, interest })
    }

    pub async fn remove_blocked_interest(
        &self,
        input: RemoveBlockedInterestInput,
    ) -> AppResult<Removed> {
        let platform = Platform::parse("platform", &input.platform)?;
        let mut tx = self.governance.db().begin_write().await?;
        let removed =
            store::delete_blocked_interest(&mut tx, platform.as_str(), input.interest_id.trim())
                .await?;
        tx.commit().await?;
        Ok(Removed { removed })
    }

    pub async fn list_budget_caps(&self) -> AppResult<BudgetCapList> {
        let mut conn = self.governance.db().pool().acquire().await?;
        Ok(BudgetCapList {
            default_daily_budget_limit: DEFAULT_DAILY_LIMIT_MAJOR,
            default_lifetime_budget_limit: DEFAULT_LIFETIME_LIMIT_MAJOR,
            market_caps: store::list_market_budget_caps(&mut conn)
                .await?
                .into_iter()
                .map(cap_view)
                .collect(),
        })
    }

    pub async fn set_market_budget_cap(
        &self,
        input: SetMarketBudgetCapInput,
    ) -> AppResult<SetMarketBudgetCapOutput> {
        let mut tx = self.governance.db().begin_write().await?;
        let brand = must::<Brand>(&mut tx, "brand_code", &input.brand_code).await?;
        let market = must::<Market>(&mut tx, "market_code", &input.market_code).await?;
        let currency = Currency::parse("currency", &brand.currency)?;
        let daily = cap_amount(
            "daily_budget_limit",
            input.daily_budget_limit.as_deref(),
            currency,
        )?;
        let lifetime = cap_amount(
            "lifetime_budget_limit",
            input.lifetime_budget_limit.as_deref(),
            currency,
        )?;
        if daily.is_none() && lifetime.is_none() {
            return Err(AppError::validation(
                "daily_budget_limit",
                "give daily_budget_limit, lifetime_budget_limit or both; to drop the market's caps use remove_market_budget_cap",
            ));
        }
        let (created, updated_at) =
            store::upsert_market_budget_cap(&mut tx, brand.id, market.id, daily, lifetime).await?;
        tx.commit().await?;
        let row = MarketBudgetCapRow {
            brand_id: brand.id,
            brand_code: brand.code,
            currency: brand.currency,
            market_id: market.id,
            market_code: market.code,
            daily_limit_minor: daily,
            lifetime_limit_minor: lifetime,
            updated_at,
        };
        Ok(SetMarketBudgetCapOutput {
            created,
            cap: cap_view(row),
        })
    }

    pub async fn remove_market_budget_cap(
        &self,
        input: RemoveMarketBudgetCapInput,
    ) -> AppResult<Removed> {
        let mut tx = self.governance.db().begin_write().await?;
        let brand = must::<Brand>(&mut tx, "brand_code", &input.brand_code).await?;
        let market = must::<Market>(&mut tx, "market_code", &input.market_code).await?;
        let removed = store::delete_market_budget_cap(&mut tx, brand.id, market.id).await?;
        tx.commit().await?;
        Ok(Removed { removed })
    }
}
