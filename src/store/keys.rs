//! API keys: only the SHA-256 of a key is stored.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::fetch_all_as;
use crate::domain::now_text;
use crate::error::AppResult;

#[derive(Debug, Clone, serde::Serialize)]
pub struct ApiKeyRecord {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub key_prefix: String,
    pub created_at: String,
    pub revoked: bool,
    pub last_used_at: Option<String>,
    /// The stored brand scope as written (a JSON list of codes); None for every brand.
    pub brand_scope: Option<String>,
}

pub async fn insert_key(
    c: &mut AnyConnection,
    name: &str,
    role: &str,
    key_hash: &str,
    key_prefix: &str,
    brand_scope: Option<&[String]>,
) -> AppResult<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO api_keys (name, role, key_hash, key_prefix, created_at, brand_scope) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(name)
    .bind(role)
    .bind(key_hash)
    .bind(key_prefix)
    .bind(now_text())
    .bind(brand_scope.map(|b| serde_json::to_string(b).unwrap_or_default()))
    .fetch_one(c)
    .await?;
    Ok(id)
}

/// The live (not revoked) key with this hash: (id, name, role, stored brand scope text).
pub async fn find_live_key(
    c: &mut AnyConnection,
    key_hash: &str,
) -> AppResult<Option<(i64, String, String, Option<String>)>> {
    let row = sqlx::query(
        "SELECT id, name, role, brand_scope FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
    )
    .bind(key_hash)
    .fetch_optional(c)
    .await?;
    row.map(|r| {
        Ok((
            r.try_get("id")?,
            r.try_get("name")?,
            r.try_get("role")?,
            r.try_get("brand_scope")?,
        ))
    })
    .transpose()
}

pub async fn touch_key(c: &mut AnyConnection, id: i64) -> AppResult<()> {
    sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
        .bind(now_text())
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

fn key_from_row(r: &AnyRow) -> AppResult<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        role: r.try_get("role")?,
        key_prefix: r.try_get("key_prefix")?,
        created_at: r.try_get("created_at")?,
        revoked: r.try_get::<Option<String>, _>("revoked_at")?.is_some(),
        last_used_at: r.try_get("last_used_at")?,
        brand_scope: r.try_get("brand_scope")?,
    })
}

pub async fn list_keys(c: &mut AnyConnection) -> AppResult<Vec<ApiKeyRecord>> {
    let q = sqlx::query("SELECT * FROM api_keys ORDER BY id");
    fetch_all_as(c, q, key_from_row).await
}

/// Revoke by id; returns whether a live key was revoked.
pub async fn revoke_key(c: &mut AnyConnection, id: i64) -> AppResult<bool> {
    let done =
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now_text())
            .bind(id)
            .execute(c)
            .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn count_live_keys(c: &mut AnyConnection) -> AppResult<i64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL")
        .fetch_one(c)
        .await?;
    Ok(n)
}
