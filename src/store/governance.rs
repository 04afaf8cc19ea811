//! SQL for governance data: markets, brands, channels, campaigns, naming conventions.
//! Functions take a connection so callers decide the transaction (the ticket watch's reads,
//! which never run in one, take the `Db`).

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{AnyQuery, RowMap, fetch_all_as, fetch_optional_as, get_bool, is_unique_violation};
use crate::domain::{Brand, Campaign, Channel, Market, Platform, now_text};
use crate::error::{AppError, AppResult};

pub(super) fn json_col(row: &AnyRow, col: &str) -> AppResult<serde_json::Value> {
    let text: String = row.try_get(col)?;
    serde_json::from_str(&text)
        .map_err(|e| AppError::Internal(format!("column {col} holds invalid JSON: {e}")))
}

pub(super) fn opt_json_col(row: &AnyRow, col: &str) -> AppResult<Option<serde_json::Value>> {
    let text: Option<String> = row.try_get(col)?;
    text.map(|t| {
        serde_json::from_str(&t)
            .map_err(|e| AppError::Internal(format!("column {col} holds invalid JSON: {e}")))
    })
    .transpose()
}

// ---------------------------------------------------------------- markets, brands, channels
//
// The governed reference tables: each row has a unique code and may be archived.

/// The rows of a reference table, by code, without the archived ones unless asked.
async fn list_coded<T>(
    c: &mut AnyConnection,
    table: &'static str,
    include_archived: bool,
    map: RowMap<T>,
) -> AppResult<Vec<T>> {
    let sql = format!("SELECT * FROM {table} WHERE ($1 OR archived_at IS NULL) ORDER BY code");
    fetch_all_as(
        c,
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(include_archived),
        map,
    )
    .await
}

/// The row of a reference table with this code.
async fn find_coded<T>(
    c: &mut AnyConnection,
    table: &'static str,
    code: &str,
    map: RowMap<T>,
) -> AppResult<Option<T>> {
    let sql = format!("SELECT * FROM {table} WHERE code = $1");
    fetch_optional_as(c, sqlx::query(sqlx::AssertSqlSafe(sql)).bind(code), map).await
}

/// Whether a row read from a reference table is archived.
fn is_archived(r: &AnyRow) -> AppResult<bool> {
    Ok(r.try_get::<Option<String>, _>("archived_at")?.is_some())
}

fn market_from_row(r: &AnyRow) -> AppResult<Market> {
    Ok(Market {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        country: r.try_get("country")?,
        region: r.try_get("region")?,
        archived: is_archived(r)?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn list_markets(c: &mut AnyConnection, include_archived: bool) -> AppResult<Vec<Market>> {
    list_coded(c, "markets", include_archived, market_from_row).await
}

pub async fn find_market(c: &mut AnyConnection, code: &str) -> AppResult<Option<Market>> {
    find_coded(c, "markets", code, market_from_row).await
}

pub async fn insert_market(
    c: &mut AnyConnection,
    code: &str,
    country: &str,
    region: &str,
) -> AppResult<Market> {
    let now = now_text();
    let row = sqlx::query(
        "INSERT INTO markets (code, country, region, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING *",
    )
    .bind(code)
    .bind(country)
    .bind(region)
    .bind(&now)
    .fetch_one(c)
    .await
    .map_err(|e| duplicate("market", "code", code, e))?;
    market_from_row(&row)
}

pub async fn update_market(c: &mut AnyConnection, m: &Market) -> AppResult<Market> {
    let row = sqlx::query(
        "UPDATE markets SET code = $1, country = $2, region = $3, archived_at = $4, updated_at = $5 \
         WHERE id = $6 RETURNING *",
    )
    .bind(&m.code)
    .bind(&m.country)
    .bind(&m.region)
    .bind(archived_at(m.archived))
    .bind(now_text())
    .bind(m.id)
    .fetch_one(c)
    .await
    .map_err(|e| duplicate("market", "new_code", &m.code, e))?;
    market_from_row(&row)
}

// ---------------------------------------------------------------- brands

fn brand_from_row(r: &AnyRow) -> AppResult<Brand> {
    Ok(Brand {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        family_friendly: get_bool(r, "family_friendly")?,
        currency: r.try_get("currency")?,
        daily_budget_limit_minor: r.try_get("daily_budget_limit_minor")?,
        lifetime_budget_limit_minor: r.try_get("lifetime_budget_limit_minor")?,
        change_review_daily_minor: r.try_get("change_review_daily_minor")?,
        change_review_percent: r.try_get("change_review_percent")?,
        meta_pixel_id: r.try_get("meta_pixel_id")?,
        tiktok_pixel_code: r.try_get("tiktok_pixel_code")?,
        archived: is_archived(r)?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn list_brands(c: &mut AnyConnection, include_archived: bool) -> AppResult<Vec<Brand>> {
    list_coded(c, "brands", include_archived, brand_from_row).await
}

pub async fn find_brand(c: &mut AnyConnection, code: &str) -> AppResult<Option<Brand>> {
    find_coded(c, "brands", code, brand_from_row).await
}

pub async fn insert_brand(c: &mut AnyConnection, b: &Brand) -> AppResult<Brand> {
    let now = now_text();
    let row = sqlx::query(
        "INSERT INTO brands (code, name, family_friendly, currency, daily_budget_limit_minor, \
         lifetime_budget_limit_minor, meta_pixel_id, tiktok_pixel_code, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING *",
    )
    .bind(&b.code)
    .bind(&b.name)
    .bind(b.family_friendly)
    .bind(&b.currency)
    .bind(b.daily_budget_limit_minor)
    .bind(b.lifetime_budget_limit_minor)
    .bind(&b.meta_pixel_id)
    .bind(&b.tiktok_pixel_code)
    .bind(&now)
    .fetch_one(c)
    .await
    .map_err(|e| duplicate("brand", "code", &b.code, e))?;
    brand_from_row(&row)
}

pub async fn update_brand(c: &mut AnyConnection, b: &Brand) -> AppResult<Brand> {
    let row = sqlx::query(
        "UPDATE brands SET code = $1, name = $2, family_friendly = $3, currency = $4, \
         daily_budget_limit_minor = $5, lifetime_budget_limit_minor = $6, meta_pixel_id = $7, \
         tiktok_pixel_code = $8, archived_at = $9, updated_at = $10, change_review_daily_minor = $12, \
         change_review_percent = $13 WHERE id = $11 RETURNING *",
    )
    .bind(&b.code)
    .bind(&b.name)
    .bind(b.family_friendly)
    .bind(&b.currency)
    .bind(b.daily_budget_limit_minor)
    .bind(b.lifetime_budget_limit_minor)
    .bind(&b.meta_pixel_id)
    .bind(&b.tiktok_pixel_code)
    .bind(archived_at(b.archived))
    .bind(now_text())
    .bind(b.id)
    .bind(b.change_review_daily_minor)
    .bind(b.change_review_percent)
    .fetch_one(c)
    .await
    .map_err(|e| duplicate("brand", "new_code", &b.code, e))?;
    brand_from_row(&row)
}

// ---------------------------------------------------------------- channels

fn channel_from_row(r: &AnyRow) -> AppResult<Channel> {
    let platform: String = r.try_get("platform")?;
    Ok(Channel {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        platform: Platform::parse("platform", &platform)?,
        account_id: r.try_get("account_id")?,
        archived: is_archived(r)?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn list_channels(
    c: &mut AnyConnection,
    include_archived: bool,
) -> AppResult<Vec<Channel>> {
    list_coded(c, "channels", include_archived, channel_from_row).await
}

pub async fn find_channel(c: &mut AnyConnection, code: &str) -> AppResult<Option<Channel>> {
    find_coded(c, "channels", code, channel_from_row).await
}

pub async fn insert_channel(
    c: &mut AnyConnection,
    code: &str,
    platform: Platform,
    account_id: &str,
) -> AppResult<Channel> {
    let now = now_text();
    let row = sqlx::query(
        "INSERT INTO channels (code, platform, account_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING *",
    )
    .bind(code)
    .bind(platform.as_str())
    .bind(account_id)
    .bind(&now)
    .fetch_one(c)
    .await
    .map_err(|e| duplicate("channel", "code", code, e))?;
    channel_from_row(&row)
}

pub async fn update_channel(c: &mut AnyConnection, ch: &Channel) -> AppResult<Channel> {
    let row = sqlx::query(
        "UPDATE channels SET code = $1, platform = $2, account_id = $3, archived_at = $4, \
         updated_at = $5 WHERE id = $6 RETURNING *",
    )
    .bind(&ch.code)
    .bind(ch.platform.as_str())
    .bind(&ch.account_id)
    .bind(archived_at(ch.archived))
    .bind(now_text())
    .bind(ch.id)
    .fetch_one(c)
    .await
    .map_err(|e| duplicate("channel", "new_code", &ch.code, e))?;
    channel_from_row(&row)
}

// ---------------------------------------------------------------- campaigns

const CAMPAIGN_SELECT: &str = "SELECT c.*, b.code AS brand_code, m.code AS market_code \
     FROM campaigns c JOIN brands b ON b.id = c.brand_id JOIN markets m ON m.id = c.market_id";

fn campaign_from_row(r: &AnyRow) -> AppResult<Campaign> {
    Ok(Campaign {
        id: r.try_get("id")?,
        brand_code: r.try_get("brand_code")?,
        market_code: r.try_get("market_code")?,
        name: r.try_get("name")?,
        year: r.try_get::<i64, _>("year")? as i32,
        currency: r.try_get("currency")?,
        daily_budget_minor: r.try_get("daily_budget_minor")?,
        lifetime_budget_minor: r.try_get("lifetime_budget_minor")?,
        start_date: r.try_get("start_date")?,
        end_date: r.try_get("end_date")?,
        archived: is_archived(r)?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

#[derive(Debug, Default)]
pub struct CampaignFilter<'a> {
    pub brand_id: Option<i64>,
    /// A scoped key's brand codes: only their campaigns.
    pub brands: Option<&'a [String]>,
    pub market_id: Option<i64>,
    pub year: Option<i32>,
    pub include_archived: bool,
    pub limit: i64,
    pub offset: i64,
}

pub async fn list_campaigns(
    c: &mut AnyConnection,
    f: &CampaignFilter<'_>,
) -> AppResult<Vec<Campaign>> {
    let sql = format!(
        "{CAMPAIGN_SELECT} WHERE ($1 IS NULL OR c.brand_id = $1) AND ($2 IS NULL OR c.market_id = $2) \
         AND ($3 IS NULL OR c.year = $3) AND ($4 OR c.archived_at IS NULL) {} \
         ORDER BY c.id LIMIT $5 OFFSET $6",
        brand_scope_clause("b.code", f.brands, 7)
    );
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(f.brand_id)
        .bind(f.market_id)
        .bind(f.year.map(i64::from))
        .bind(f.include_archived)
        .bind(f.limit)
        .bind(f.offset);
    fetch_all_as(c, bind_brand_scope(q, f.brands), campaign_from_row).await
}

pub async fn get_campaign(c: &mut AnyConnection, id: i64) -> AppResult<Option<Campaign>> {
    let sql = format!("{CAMPAIGN_SELECT} WHERE c.id = $1");
    let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
    fetch_optional_as(c, q, campaign_from_row).await
}

/// A campaign and, by code, the channel a new ticket of it would go to, in one round trip
/// (creating a ticket is the busiest write, and this read happens inside it when the process
/// does not remember them or they changed: `governance::parents`). `None` when
/// the campaign does not exist; the channel is `None` when no channel has that code.
pub async fn campaign_with_channel(
    c: &mut AnyConnection,
    campaign_id: i64,
    channel_code: &str,
) -> AppResult<Option<(Campaign, Option<Channel>)>> {
    let sql = "SELECT c.*, b.code AS brand_code, m.code AS market_code, ch.id AS ch_id, \
         ch.code AS ch_code, ch.platform AS ch_platform, ch.account_id AS ch_account_id, \
         ch.archived_at AS ch_archived_at, ch.created_at AS ch_created_at, \
         ch.updated_at AS ch_updated_at \
         FROM campaigns c JOIN brands b ON b.id = c.brand_id JOIN markets m ON m.id = c.market_id \
         LEFT JOIN channels ch ON ch.code = $2 WHERE c.id = $1";
    let Some(row) = sqlx::query(sql)
        .bind(campaign_id)
        .bind(channel_code.to_owned())
        .fetch_optional(c)
        .await?
    else {
        return Ok(None);
    };
    let campaign = campaign_from_row(&row)?;
    let channel = match row.try_get::<Option<i64>, _>("ch_id")? {
        None => None,
        Some(id) => {
            let platform: String = row.try_get("ch_platform")?;
            Some(Channel {
                id,
                code: row.try_get("ch_code")?,
                platform: Platform::parse("platform", &platform)?,
                account_id: row.try_get("ch_account_id")?,
                archived: row
                    .try_get::<Option<String>, _>("ch_archived_at")?
                    .is_some(),
                created_at: row.try_get("ch_created_at")?,
                updated_at: row.try_get("ch_updated_at")?,
            })
        }
    };
    Ok(Some((campaign, channel)))
}

pub struct NewCampaign<'a> {
    pub brand_id: i64,
    pub market_id: i64,
    pub name: &'a str,
    pub year: i32,
    pub currency: &'a str,
    pub daily_budget_minor: Option<i64>,
    pub lifetime_budget_minor: Option<i64>,
    pub start_date: Option<&'a str>,
    pub end_date: Option<&'a str>,
}

pub async fn insert_campaign(c: &mut AnyConnection, n: &NewCampaign<'_>) -> AppResult<i64> {
    let now = now_text();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO campaigns (brand_id, market_id, name, year, currency, daily_budget_minor, \
         lifetime_budget_minor, start_date, end_date, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
    )
    .bind(n.brand_id)
    .bind(n.market_id)
    .bind(n.name)
    .bind(i64::from(n.year))
    .bind(n.currency)
    .bind(n.daily_budget_minor)
    .bind(n.lifetime_budget_minor)
    .bind(n.start_date)
    .bind(n.end_date)
    .bind(&now)
    .fetch_one(c)
    .await?;
    Ok(id)
}

pub async fn update_campaign(c: &mut AnyConnection, k: &Campaign) -> AppResult<()> {
    sqlx::query(
        "UPDATE campaigns SET name = $1, year = $2, daily_budget_minor = $3, \
         lifetime_budget_minor = $4, start_date = $5, end_date = $6, archived_at = $7, \
         updated_at = $8 WHERE id = $9",
    )
    .bind(&k.name)
    .bind(i64::from(k.year))
    .bind(k.daily_budget_minor)
    .bind(k.lifetime_budget_minor)
    .bind(&k.start_date)
    .bind(&k.end_date)
    .bind(archived_at(k.archived))
    .bind(now_text())
    .bind(k.id)
    .execute(c)
    .await?;
    Ok(())
}

/// Campaigns that use a brand or market (by id), for rename impact.
pub async fn campaigns_using(
    c: &mut AnyConnection,
    brand_id: Option<i64>,
    market_id: Option<i64>,
) -> AppResult<Vec<Campaign>> {
    let sql = format!(
        "{CAMPAIGN_SELECT} WHERE ($1 IS NULL OR c.brand_id = $1) AND ($2 IS NULL OR c.market_id = $2) ORDER BY c.id"
    );
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(brand_id)
        .bind(market_id);
    fetch_all_as(c, q, campaign_from_row).await
}

/// How many non-archived campaigns or tickets reference a brand, market or channel.
pub async fn count_references(
    c: &mut AnyConnection,
    brand_id: Option<i64>,
    market_id: Option<i64>,
    channel_id: Option<i64>,
) -> AppResult<i64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM tickets t JOIN campaigns c ON c.id = t.campaign_id \
         WHERE t.status NOT IN ('CANCELLED', 'TRAFFICKED_SUCCESS') \
         AND ($1 IS NULL OR c.brand_id = $1) AND ($2 IS NULL OR c.market_id = $2) \
         AND ($3 IS NULL OR t.channel_id = $3)",
    )
    .bind(brand_id)
    .bind(market_id)
    .bind(channel_id)
    .fetch_one(c)
    .await?;
    Ok(n)
}

// ---------------------------------------------------------------- taxonomy conventions

pub async fn active_convention(c: &mut AnyConnection) -> AppResult<Option<String>> {
    let def: Option<String> = sqlx::query_scalar(
        "SELECT definition FROM taxonomy_conventions WHERE active = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(true)
    .fetch_optional(c)
    .await?;
    Ok(def)
}

pub async fn insert_convention(
    c: &mut AnyConnection,
    name: &str,
    definition: &str,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO taxonomy_conventions (name, definition, active, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(name)
    .bind(definition)
    .bind(true)
    .bind(now_text())
    .execute(c)
    .await?;
    Ok(())
}

// ---------------------------------------------------------------- helpers

fn archived_at(archived: bool) -> Option<String> {
    archived.then(now_text)
}

fn duplicate(entity: &str, field: &str, code: &str, e: sqlx::Error) -> AppError {
    if is_unique_violation(&e) {
        AppError::conflict(
            Some(field),
            format!(
                "a {entity} with code \"{code}\" already exists; pick another code or update the existing {entity}"
            ),
        )
    } else {
        e.into()
    }
}

/// `AND <column> IN ($first, $first+1, ...)` for a key's brand scope (bind the codes in order
/// after the query's other parameters); nothing for an unscoped key.
pub fn brand_scope_clause(column: &str, brands: Option<&[String]>, first: usize) -> String {
    match brands {
        None => String::new(),
        Some([]) => "AND FALSE".into(),
        Some(codes) => {
            let params: Vec<String> = (first..first + codes.len())
                .map(|i| format!("${i}"))
                .collect();
            format!("AND {column} IN ({})", params.join(", "))
        }
    }
}

/// Bind a key's brand codes, in order, for [`brand_scope_clause`].
pub(crate) fn bind_brand_scope<'q>(
    mut q: AnyQuery<'q>,
    brands: Option<&'q [String]>,
) -> AnyQuery<'q> {
    for b in brands.unwrap_or_default() {
        q = q.bind(b.as_str());
    }
    q
}

/// The brand code of a campaign.
pub async fn campaign_brand(c: &mut AnyConnection, campaign_id: i64) -> AppResult<Option<String>> {
    let code = sqlx::query_scalar(
        "SELECT b.code AS code FROM campaigns c JOIN brands b ON b.id = c.brand_id WHERE c.id = $1",
    )
    .bind(campaign_id)
    .fetch_optional(c)
    .await?;
    Ok(code)
}
