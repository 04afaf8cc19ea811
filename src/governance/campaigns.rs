//! Campaigns: the brand, market, year and name every ticket's platform name comes from.

use super::{
    CampaignList, CampaignUpdate, CreateCampaignInput, Governance, ListCampaignsInput,
    TicketRename, UpdateCampaignInput, must, must_campaign, next_offset, not_archived,
    optional_budgets, page,
};
use crate::auth::Principal;
use crate::domain::{Brand, Campaign, Currency, Market};
use crate::error::{AppError, AppResult};
use crate::store::{self, CampaignFilter, NewCampaign};
use crate::taxonomy::NameParts;

/// "" clears an optional date; a date sets it.
fn optional_date(
    field: &str,
    raw: Option<String>,
    current: Option<String>,
) -> AppResult<Option<String>> {
    match raw {
        None => Ok(current),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => Ok(Some(parse_date(field, &s)?)),
    }
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

impl Governance {
    /// Campaigns the caller may see (a brand-scoped key sees only its brands').
    pub async fn list_campaigns(
        &self,
        who: &Principal,
        input: ListCampaignsInput,
    ) -> AppResult<CampaignList> {
        let (limit, offset) = page(input.limit, input.offset)?;
        let mut c = self.conn().await?;
        let brand_id = match &input.brand_code {
            Some(code) => Some(must::<Brand>(&mut c, "brand_code", code).await?.id),
            None => None,
        };
        let market_id = match &input.market_code {
            Some(code) => Some(must::<Market>(&mut c, "market_code", code).await?.id),
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
        let brand = must::<Brand>(&mut tx, "brand_code", &input.brand_code).await?;
        not_archived("brand", &brand.code, brand.archived, "brand_code")?;
        let market = must::<Market>(&mut tx, "market_code", &input.market_code).await?;
        not_archived("market", &market.code, market.archived, "market_code")?;
        let currency = Currency::parse("currency", &brand.currency)?;
        let (daily, lifetime) = optional_budgets(
            "budget",
            currency,
            input.daily_budget.as_deref(),
            input.lifetime_budget.as_deref(),
            (None, None),
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
        (k.daily_budget_minor, k.lifetime_budget_minor) = optional_budgets(
            "budget",
            Currency::parse("currency", &k.currency)?,
            input.daily_budget.as_deref(),
            input.lifetime_budget.as_deref(),
            (k.daily_budget_minor, k.lifetime_budget_minor),
        )?;
        k.start_date = optional_date("start_date", input.start_date, k.start_date)?;
        k.end_date = optional_date("end_date", input.end_date, k.end_date)?;
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
}
