//! Markets, brands and channels: the governed codes every name is built from.

use super::{
    BrandList, BrandUpdate, ChannelList, ChannelUpdate, CodeInput, CodedRecord, CreateBrandInput,
    CreateChannelInput, CreateMarketInput, Governance, ListInput, MarketList, MarketUpdate,
    RenameImpact, UpdateBrandInput, UpdateChannelInput, UpdateMarketInput, must, optional_budgets,
};
use crate::auth::Principal;
use crate::domain::{Brand, Channel, Code, CountryCode, Currency, Market, Platform};
use crate::error::{AppError, AppResult};
use crate::store::{self, WriteTx};

/// "" clears an optional text field; anything else sets it (trimmed).
fn optional_text(raw: Option<String>, current: Option<String>) -> Option<String> {
    match raw {
        None => current,
        Some(s) if s.trim().is_empty() => None,
        Some(s) => Some(s.trim().to_owned()),
    }
}

/// A brand's Meta pixel id and TikTok pixel code after an input that may set (validated) or
/// clear ("") each.
fn pixels(
    meta: Option<String>,
    tiktok: Option<String>,
    current: (Option<String>, Option<String>),
) -> AppResult<(Option<String>, Option<String>)> {
    Ok((
        optional_text(
            crate::domain::MetaPixelId::parse_input("meta_pixel_id", meta)?,
            current.0,
        ),
        optional_text(
            crate::domain::TiktokPixelCode::parse_input("tiktok_pixel_code", tiktok)?,
            current.1,
        ),
    ))
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

impl Governance {
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
        let mut m = must::<Market>(&mut tx, "code", &input.code).await?;
        if let Some(c) = input.country {
            m.country = CountryCode::parse("country", &c)?.as_str().to_owned();
        }
        if let Some(r) = input.region {
            if r.trim().is_empty() {
                return Err(AppError::validation("region", "must not be empty"));
            }
            m.region = r.trim().to_owned();
        }
        let (market, rename) = self
            .finish_update(tx, m, input.archived, input.new_code, actor)
            .await?;
        Ok(MarketUpdate { market, rename })
    }

    pub async fn archive_market(&self, input: CodeInput) -> AppResult<Market> {
        self.archive(input).await
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
        must::<Brand>(&mut c, "brand_code", code).await
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
        let (daily_budget_limit_minor, lifetime_budget_limit_minor) = optional_budgets(
            "budget_limit",
            currency,
            input.daily_budget_limit.as_deref(),
            input.lifetime_budget_limit.as_deref(),
            (None, None),
        )?;
        let (meta_pixel_id, tiktok_pixel_code) =
            pixels(input.meta_pixel_id, input.tiktok_pixel_code, (None, None))?;
        let brand = Brand {
            id: 0,
            code: code.as_str().to_owned(),
            name: name.to_owned(),
            family_friendly: input.family_friendly,
            currency: currency.as_str().to_owned(),
            daily_budget_limit_minor,
            lifetime_budget_limit_minor,
            change_review_daily_minor: None,
            change_review_percent: None,
            meta_pixel_id,
            tiktok_pixel_code,
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
        let mut b = must::<Brand>(&mut tx, "code", &input.code).await?;
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
        (b.daily_budget_limit_minor, b.lifetime_budget_limit_minor) = optional_budgets(
            "budget_limit",
            Currency::parse("currency", &b.currency)?,
            input.daily_budget_limit.as_deref(),
            input.lifetime_budget_limit.as_deref(),
            (b.daily_budget_limit_minor, b.lifetime_budget_limit_minor),
        )?;
        if let Some(raw) = input.change_review_daily_amount.as_deref() {
            b.change_review_daily_minor = super::optional_money(
                "change_review_daily_amount",
                Some(raw),
                Currency::parse("currency", &b.currency)?,
                b.change_review_daily_minor,
            )?;
        }
        if let Some(p) = input.change_review_percent.filter(|p| *p != -1) {
            if !(0..=1000).contains(&p) {
                return Err(AppError::validation(
                    "change_review_percent",
                    format!(
                        "{p} is out of range; use 0 to 1000 (percent of the current daily spend), or -1 for the default"
                    ),
                ));
            }
            b.change_review_percent = Some(p);
        }
        if input.change_review_percent == Some(-1) {
            b.change_review_percent = None;
        }
        (b.meta_pixel_id, b.tiktok_pixel_code) = pixels(
            input.meta_pixel_id,
            input.tiktok_pixel_code,
            (b.meta_pixel_id, b.tiktok_pixel_code),
        )?;
        let (brand, rename) = self
            .finish_update(tx, b, input.archived, input.new_code, actor)
            .await?;
        Ok(BrandUpdate { brand, rename })
    }

    pub async fn archive_brand(&self, input: CodeInput) -> AppResult<Brand> {
        self.archive(input).await
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
        let mut ch = must::<Channel>(&mut tx, "code", &input.code).await?;
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
        let (channel, rename) = self
            .finish_update(tx, ch, input.archived, input.new_code, actor)
            .await?;
        Ok(ChannelUpdate { channel, rename })
    }

    pub async fn archive_channel(&self, input: CodeInput) -> AppResult<Channel> {
        self.archive(input).await
    }

    /// Archive the record with the input's code.
    async fn archive<T: CodedRecord>(&self, input: CodeInput) -> AppResult<T> {
        let mut tx = self.db.begin_write().await?;
        let mut record = must::<T>(&mut tx, "code", &input.code).await?;
        *record.archived_mut() = true;
        let record = T::save(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// The end of every update of a market, brand or channel: apply the input's `archived`
    /// and `new_code` (renaming the tickets that carry the code), store the record and commit.
    async fn finish_update<T: CodedRecord>(
        &self,
        mut tx: WriteTx,
        mut record: T,
        archived: Option<bool>,
        new_code: Option<String>,
        actor: &Principal,
    ) -> AppResult<(T, Option<RenameImpact>)> {
        if let Some(a) = archived {
            *record.archived_mut() = a;
        }
        let rename = match new_code {
            None => None,
            Some(nc) => {
                let nc = Code::parse("new_code", &nc)?;
                let id = record.id();
                let code = record.code_mut();
                let impact = self
                    .rename_in_tx(&mut tx, T::KIND, id, code, nc.as_str(), Some(actor))
                    .await?;
                *code = nc.as_str().to_owned();
                Some(impact)
            }
        };
        let record = T::save(&mut tx, &record).await?;
        tx.commit().await?;
        Ok((record, rename))
    }
}
