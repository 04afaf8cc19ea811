//! SQL for the lookup cache: one platform answer per channel, lookup kind and normalised
//! query, kept until it expires.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::fetch_optional_as;
use crate::error::AppResult;

/// A cached platform answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedLookup {
    pub channel_code: String,
    pub kind: String,
    pub query_key: String,
    /// The channel's account id when the answer was read.
    pub account_id: String,
    /// The answer as JSON text.
    pub body: String,
    /// RFC 3339 (`time_text`).
    pub read_at: String,
    pub expires_at: String,
}

fn cached_from_row(r: &AnyRow) -> AppResult<CachedLookup> {
    Ok(CachedLookup {
        channel_code: r.try_get("channel_code")?,
        kind: r.try_get("kind")?,
        query_key: r.try_get("query_key")?,
        account_id: r.try_get("account_id")?,
        body: r.try_get("body")?,
        read_at: r.try_get("read_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}

/// The cached answer for this key, expired or not (the caller decides).
pub async fn get_cached_lookup(
    c: &mut AnyConnection,
    channel_code: &str,
    kind: &str,
    query_key: &str,
) -> AppResult<Option<CachedLookup>> {
    let q = sqlx::query(
        "SELECT channel_code, kind, query_key, account_id, body, read_at, expires_at \
         FROM lookup_cache WHERE channel_code = $1 AND kind = $2 AND query_key = $3",
    )
    .bind(channel_code)
    .bind(kind)
    .bind(query_key);
    fetch_optional_as(c, q, cached_from_row).await
}

/// Store an answer, replacing the one under the same key (two concurrent misses both
/// write; the last one wins), and drop rows that expired before `now`.
pub async fn put_cached_lookup(
    c: &mut AnyConnection,
    row: &CachedLookup,
    now: &str,
) -> AppResult<()> {
    sqlx::query("DELETE FROM lookup_cache WHERE expires_at < $1")
        .bind(now)
        .execute(&mut *c)
        .await?;
    sqlx::query(
        "INSERT INTO lookup_cache (channel_code, kind, query_key, account_id, body, read_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (channel_code, kind, query_key) DO UPDATE SET \
         account_id = excluded.account_id, body = excluded.body, read_at = excluded.read_at, \
         expires_at = excluded.expires_at",
    )
    .bind(&row.channel_code)
    .bind(&row.kind)
    .bind(&row.query_key)
    .bind(&row.account_id)
    .bind(&row.body)
    .bind(&row.read_at)
    .bind(&row.expires_at)
    .execute(c)
    .await?;
    Ok(())
}

/// The brand codes of the campaigns that have tickets on this channel (at most a few).
pub async fn brands_on_channel(c: &mut AnyConnection, channel_id: i64) -> AppResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT DISTINCT b.code AS code FROM tickets t \
         JOIN campaigns c ON c.id = t.campaign_id JOIN brands b ON b.id = c.brand_id \
         WHERE t.channel_id = $1 ORDER BY b.code LIMIT 5",
    )
    .bind(channel_id)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| Ok(r.try_get::<String, _>("code")?))
        .collect()
}

/// The ISO countries of the markets whose campaigns have tickets on the channel (at most 5).
pub async fn market_countries_on_channel(
    c: &mut AnyConnection,
    channel_id: i64,
) -> AppResult<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT DISTINCT m.code AS code, m.country AS country FROM tickets t \
         JOIN campaigns c ON c.id = t.campaign_id JOIN markets m ON m.id = c.market_id \
         WHERE t.channel_id = $1 ORDER BY m.code LIMIT 5",
    )
    .bind(channel_id)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<String, _>("code")?,
                r.try_get::<String, _>("country")?,
            ))
        })
        .collect()
}
