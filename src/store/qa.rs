//! SQL for QA rules and the brand-safety interest blocklist.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{fetch_all_as, get_bool, update_else_insert};
use crate::domain::now_text;
use crate::error::AppResult;

#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct QaRuleRecord {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    /// Only tickets of this brand; null for all.
    pub brand_code: Option<String>,
    /// Only tickets in this market; null for all.
    pub market_code: Option<String>,
    /// Only tickets on this platform (META, TIKTOK, GOOGLE_ADS); null for all.
    pub platform: Option<String>,
    /// CEL expression that is true when the rule is violated.
    pub expression: String,
    /// BLOCK or WARN.
    pub severity: String,
    pub message: String,
    pub field_path: Option<String>,
    pub enabled: bool,
    /// Why the server disabled the rule (it ran past its time budget); saving the rule again
    /// clears this and applies `enabled` as given.
    pub disabled_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn qa_rule_from_row(r: &AnyRow) -> AppResult<QaRuleRecord> {
    Ok(QaRuleRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        brand_code: r.try_get("brand_code")?,
        market_code: r.try_get("market_code")?,
        platform: r.try_get("platform")?,
        expression: r.try_get("expression")?,
        severity: r.try_get("severity")?,
        message: r.try_get("message")?,
        field_path: r.try_get("field_path")?,
        enabled: get_bool(r, "enabled")?,
        disabled_reason: r.try_get("disabled_reason")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn list_qa_rules(c: &mut AnyConnection) -> AppResult<Vec<QaRuleRecord>> {
    let q = sqlx::query("SELECT * FROM qa_rules ORDER BY name");
    fetch_all_as(c, q, qa_rule_from_row).await
}

/// Insert or replace (by name) a rule. Returns whether it was created.
pub async fn upsert_qa_rule(c: &mut AnyConnection, r: &QaRuleRecord) -> AppResult<bool> {
    let now = now_text();
    // Both statements take the same parameters in the same order.
    let bind = |sql: &'static str| {
        sqlx::query(sql)
            .bind(&r.name)
            .bind(&r.description)
            .bind(&r.brand_code)
            .bind(&r.market_code)
            .bind(&r.platform)
            .bind(&r.expression)
            .bind(&r.severity)
            .bind(&r.message)
            .bind(&r.field_path)
            .bind(r.enabled)
            .bind(&now)
    };
    update_else_insert(
        c,
        bind(
            "UPDATE qa_rules SET description = $2, brand_code = $3, market_code = $4, platform = $5, \
             expression = $6, severity = $7, message = $8, field_path = $9, enabled = $10, \
             updated_at = $11, disabled_reason = NULL WHERE name = $1",
        ),
        bind(
            "INSERT INTO qa_rules (name, description, brand_code, market_code, platform, expression, \
             severity, message, field_path, enabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
        ),
    )
    .await
}

/// Disable a rule the server found too costly, with the reason, unless it was changed since
/// (another expression) or is already disabled for a reason. Returns whether it was disabled.
pub async fn disable_qa_rule(
    c: &mut AnyConnection,
    name: &str,
    expression: &str,
    reason: &str,
) -> AppResult<bool> {
    let done = sqlx::query(
        "UPDATE qa_rules SET enabled = $1, disabled_reason = $2, updated_at = $3 \
         WHERE name = $4 AND expression = $5 AND disabled_reason IS NULL",
    )
    .bind(false)
    .bind(reason)
    .bind(now_text())
    .bind(name)
    .bind(expression)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct BlockedInterest {
    pub platform: String,
    pub interest_id: String,
    /// ALCOHOL, ADULT or GAMBLING.
    pub category: String,
    pub name: String,
}

fn blocked_interest_from_row(r: &AnyRow) -> AppResult<BlockedInterest> {
    Ok(BlockedInterest {
        platform: r.try_get("platform")?,
        interest_id: r.try_get("interest_id")?,
        category: r.try_get("category")?,
        name: r.try_get("name")?,
    })
}

pub async fn list_blocked_interests(c: &mut AnyConnection) -> AppResult<Vec<BlockedInterest>> {
    let q = sqlx::query(
        "SELECT platform, interest_id, category, name FROM blocked_interests \
         ORDER BY platform, interest_id",
    );
    fetch_all_as(c, q, blocked_interest_from_row).await
}

/// Insert or replace a blocked interest. Returns whether it was created.
pub async fn upsert_blocked_interest(
    c: &mut AnyConnection,
    b: &BlockedInterest,
) -> AppResult<bool> {
    let bind = |sql: &'static str| {
        sqlx::query(sql)
            .bind(&b.platform)
            .bind(&b.interest_id)
            .bind(&b.category)
            .bind(&b.name)
    };
    update_else_insert(
        c,
        bind(
            "UPDATE blocked_interests SET category = $3, name = $4 \
             WHERE platform = $1 AND interest_id = $2",
        ),
        bind(
            "INSERT INTO blocked_interests (platform, interest_id, category, name, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(now_text()),
    )
    .await
}

/// Remove a blocked interest. Returns whether one was removed.
pub async fn delete_blocked_interest(
    c: &mut AnyConnection,
    platform: &str,
    interest_id: &str,
) -> AppResult<bool> {
    let r = sqlx::query("DELETE FROM blocked_interests WHERE platform = $1 AND interest_id = $2")
        .bind(platform)
        .bind(interest_id)
        .execute(c)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// A budget cap for one brand in one market, in minor units of the brand's currency.
#[derive(Debug, Clone)]
pub struct MarketBudgetCapRow {
    pub brand_id: i64,
    pub brand_code: String,
    pub currency: String,
    pub market_id: i64,
    pub market_code: String,
    pub daily_limit_minor: Option<i64>,
    pub lifetime_limit_minor: Option<i64>,
    pub updated_at: String,
}

fn market_budget_cap_from_row(r: &AnyRow) -> AppResult<MarketBudgetCapRow> {
    Ok(MarketBudgetCapRow {
        brand_id: r.try_get("brand_id")?,
        brand_code: r.try_get("brand_code")?,
        currency: r.try_get("currency")?,
        market_id: r.try_get("market_id")?,
        market_code: r.try_get("market_code")?,
        daily_limit_minor: r.try_get("daily_limit_minor")?,
        lifetime_limit_minor: r.try_get("lifetime_limit_minor")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn list_market_budget_caps(c: &mut AnyConnection) -> AppResult<Vec<MarketBudgetCapRow>> {
    let q = sqlx::query(
        "SELECT k.brand_id, b.code AS brand_code, b.currency, k.market_id, m.code AS market_code, \
         k.daily_limit_minor, k.lifetime_limit_minor, k.updated_at \
         FROM market_budget_caps k JOIN brands b ON b.id = k.brand_id JOIN markets m ON m.id = k.market_id \
         ORDER BY b.code, m.code",
    );
    fetch_all_as(c, q, market_budget_cap_from_row).await
}

/// Set (insert or replace) the cap of a brand in a market. Returns whether it was created, and
/// the time written.
pub async fn upsert_market_budget_cap(
    c: &mut AnyConnection,
    brand_id: i64,
    market_id: i64,
    daily_limit_minor: Option<i64>,
    lifetime_limit_minor: Option<i64>,
) -> AppResult<(bool, String)> {
    let now = now_text();
    let bind = |sql: &'static str| {
        sqlx::query(sql)
            .bind(brand_id)
            .bind(market_id)
            .bind(daily_limit_minor)
            .bind(lifetime_limit_minor)
            .bind(&now)
    };
    let created = update_else_insert(
        c,
        bind(
            "UPDATE market_budget_caps SET daily_limit_minor = $3, lifetime_limit_minor = $4, \
             updated_at = $5 WHERE brand_id = $1 AND market_id = $2",
        ),
        bind(
            "INSERT INTO market_budget_caps (brand_id, market_id, daily_limit_minor, \
             lifetime_limit_minor, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        ),
    )
    .await?;
    Ok((created, now))
}

pub async fn delete_market_budget_cap(
    c: &mut AnyConnection,
    brand_id: i64,
    market_id: i64,
) -> AppResult<bool> {
    let r = sqlx::query("DELETE FROM market_budget_caps WHERE brand_id = $1 AND market_id = $2")
        .bind(brand_id)
        .bind(market_id)
        .execute(c)
        .await?;
    Ok(r.rows_affected() > 0)
}
