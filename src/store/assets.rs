//! SQL for the creative asset registry: one row per brand and content hash, and one row per
//! asset and channel with the platform's id and where the upload stands.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{fetch_all_as, fetch_optional_as, update_else_insert};
use crate::domain::now_text;
use crate::error::{AppError, AppResult};

/// An asset as registered (without its bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetRow {
    pub id: String,
    pub brand_code: String,
    pub sha256: String,
    /// IMAGE or VIDEO.
    pub kind: String,
    pub file_name: String,
    pub byte_size: i64,
    pub format: String,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub duration_ms: Option<i64>,
    pub created_by: String,
    pub created_at: String,
}

/// One asset on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetUploadRow {
    pub asset_id: String,
    pub channel_code: String,
    pub platform: String,
    pub platform_id: Option<String>,
    /// SENDING, UPLOADED, PROCESSING, READY or FAILED.
    pub status: String,
    pub error: Option<String>,
    pub updated_at: String,
}

/// The columns every asset read selects (sqlx takes only static SQL, so a macro).
macro_rules! asset_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, brand_code, sha256, kind, file_name, byte_size, format, width, height, \
             duration_ms, created_by, created_at FROM assets ",
            $rest
        )
    };
}

fn asset_from_row(r: &AnyRow) -> AppResult<AssetRow> {
    Ok(AssetRow {
        id: r.try_get("id")?,
        brand_code: r.try_get("brand_code")?,
        sha256: r.try_get("sha256")?,
        kind: r.try_get("kind")?,
        file_name: r.try_get("file_name")?,
        byte_size: r.try_get("byte_size")?,
        format: r.try_get("format")?,
        width: r.try_get("width")?,
        height: r.try_get("height")?,
        duration_ms: r.try_get("duration_ms")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

fn upload_from_row(r: &AnyRow) -> AppResult<AssetUploadRow> {
    Ok(AssetUploadRow {
        asset_id: r.try_get("asset_id")?,
        channel_code: r.try_get("channel_code")?,
        platform: r.try_get("platform")?,
        platform_id: r.try_get("platform_id")?,
        status: r.try_get("status")?,
        error: r.try_get("error")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// The brand's asset with this content hash, if registered.
pub async fn asset_by_hash(
    c: &mut AnyConnection,
    brand_code: &str,
    sha256: &str,
) -> AppResult<Option<AssetRow>> {
    fetch_optional_as(
        c,
        sqlx::query(asset_select!("WHERE brand_code = $1 AND sha256 = $2"))
            .bind(brand_code)
            .bind(sha256),
        asset_from_row,
    )
    .await
}

pub async fn asset_by_id(c: &mut AnyConnection, id: &str) -> AppResult<Option<AssetRow>> {
    fetch_optional_as(
        c,
        sqlx::query(asset_select!("WHERE id = $1")).bind(id),
        asset_from_row,
    )
    .await
}

/// The stored bytes of an asset.
pub async fn asset_content(c: &mut AnyConnection, id: &str) -> AppResult<Option<Vec<u8>>> {
    let row = sqlx::query("SELECT content FROM assets WHERE id = $1")
        .bind(id)
        .fetch_optional(c)
        .await?;
    row.map(|r| r.try_get::<Vec<u8>, _>("content").map_err(AppError::from))
        .transpose()
}

/// Register an asset. Returns `false` (and writes nothing) when the brand already has these
/// bytes, also when a concurrent upload registered them first.
pub async fn insert_asset(c: &mut AnyConnection, a: &AssetRow, content: &[u8]) -> AppResult<bool> {
    let r = sqlx::query(
        "INSERT INTO assets (id, brand_code, sha256, kind, file_name, byte_size, format, width, \
         height, duration_ms, content, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING",
    )
    .bind(&a.id)
    .bind(&a.brand_code)
    .bind(&a.sha256)
    .bind(&a.kind)
    .bind(&a.file_name)
    .bind(a.byte_size)
    .bind(&a.format)
    .bind(a.width)
    .bind(a.height)
    .bind(a.duration_ms)
    .bind(content)
    .bind(&a.created_by)
    .bind(&a.created_at)
    .execute(c)
    .await?;
    // A concurrent upload of the same bytes registered it first. ON CONFLICT rather than
    // catching the unique violation: on PostgreSQL that error aborts the transaction, and
    // the caller goes on to read the winner's row in it.
    Ok(r.rows_affected() == 1)
}

/// Record a platform-reported duration (a video whose container we did not read).
pub async fn set_duration(c: &mut AnyConnection, id: &str, duration_ms: i64) -> AppResult<()> {
    sqlx::query("UPDATE assets SET duration_ms = $1 WHERE id = $2 AND duration_ms IS NULL")
        .bind(duration_ms)
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

/// A brand's assets, newest first, at most `limit`.
pub async fn list_assets(
    c: &mut AnyConnection,
    brand_code: &str,
    limit: i64,
) -> AppResult<Vec<AssetRow>> {
    fetch_all_as(
        c,
        sqlx::query(asset_select!(
            "WHERE brand_code = $1 ORDER BY created_at DESC, id LIMIT $2"
        ))
        .bind(brand_code)
        .bind(limit),
        asset_from_row,
    )
    .await
}

/// Every channel an asset is on (or was tried on).
pub async fn uploads_of(c: &mut AnyConnection, asset_id: &str) -> AppResult<Vec<AssetUploadRow>> {
    fetch_all_as(
        c,
        sqlx::query(
            "SELECT asset_id, channel_code, platform, platform_id, status, error, updated_at \
             FROM asset_uploads WHERE asset_id = $1 ORDER BY channel_code",
        )
        .bind(asset_id),
        upload_from_row,
    )
    .await
}

pub async fn upload_of(
    c: &mut AnyConnection,
    asset_id: &str,
    channel_code: &str,
) -> AppResult<Option<AssetUploadRow>> {
    fetch_optional_as(
        c,
        sqlx::query(
            "SELECT asset_id, channel_code, platform, platform_id, status, error, updated_at \
             FROM asset_uploads WHERE asset_id = $1 AND channel_code = $2",
        )
        .bind(asset_id)
        .bind(channel_code),
        upload_from_row,
    )
    .await
}

/// Write where an asset stands on a channel (insert or replace).
pub async fn put_upload(
    c: &mut AnyConnection,
    asset_id: &str,
    channel_code: &str,
    platform: &str,
    platform_id: Option<&str>,
    status: &str,
    error: Option<&str>,
) -> AppResult<()> {
    let now = now_text();
    update_else_insert(
        c,
        sqlx::query(
            "UPDATE asset_uploads SET platform = $1, platform_id = $2, status = $3, error = $4, \
             updated_at = $5 WHERE asset_id = $6 AND channel_code = $7",
        )
        .bind(platform)
        .bind(platform_id)
        .bind(status)
        .bind(error)
        .bind(now.clone())
        .bind(asset_id)
        .bind(channel_code),
        sqlx::query(
            "INSERT INTO asset_uploads (platform, platform_id, status, error, updated_at, \
             asset_id, channel_code) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(platform)
        .bind(platform_id)
        .bind(status)
        .bind(error)
        .bind(now)
        .bind(asset_id)
        .bind(channel_code),
    )
    .await?;
    Ok(())
}

/// What translation needs of the assets `ids` names for a brand and channel. An id the brand
/// has no asset for is left out (translation and QA say so). A platform id is given only
/// once the asset is usable there (READY).
pub async fn resolve_assets(
    c: &mut AnyConnection,
    brand_code: &str,
    channel_code: &str,
    ids: &[String],
) -> AppResult<crate::domain::ResolvedAssets> {
    use crate::domain::{AssetKind, ResolvedAsset};
    let mut out = crate::domain::ResolvedAssets::default();
    for id in ids {
        let Some(a) = asset_by_id(&mut *c, id).await? else {
            continue;
        };
        if a.brand_code != brand_code {
            continue;
        }
        let Some(kind) = AssetKind::parse(&a.kind) else {
            continue;
        };
        let platform_id = upload_of(&mut *c, id, channel_code)
            .await?
            .filter(|u| u.status == "READY")
            .and_then(|u| u.platform_id);
        out.by_id.insert(
            id.clone(),
            ResolvedAsset {
                kind,
                format: a.format,
                width: a.width,
                height: a.height,
                duration_ms: a.duration_ms,
                platform_id,
            },
        );
    }
    Ok(out)
}

/// Claim the right to send `asset_id` to a channel: the row becomes SENDING with no error.
/// Refused (`false`) while another sender holds a claim newer than `stale_before` (a
/// SENDING row without an error is a request in flight; one with an error is an attempt
/// that gave up with its outcome unknown, and may be claimed again). Atomic on both
/// backends: a conditional update, else an insert that loses a race as a unique conflict.
pub async fn claim_upload(
    c: &mut AnyConnection,
    asset_id: &str,
    channel_code: &str,
    platform: &str,
    stale_before: &str,
) -> AppResult<bool> {
    let now = now_text();
    let updated = sqlx::query(
        "UPDATE asset_uploads SET platform = $1, platform_id = NULL, status = 'SENDING', \
         error = NULL, updated_at = $2 WHERE asset_id = $3 AND channel_code = $4 \
         AND NOT (status = 'SENDING' AND error IS NULL AND updated_at > $5)",
    )
    .bind(platform)
    .bind(now.clone())
    .bind(asset_id)
    .bind(channel_code)
    .bind(stale_before)
    .execute(&mut *c)
    .await?;
    if updated.rows_affected() == 1 {
        return Ok(true);
    }
    let exists =
        sqlx::query("SELECT 1 FROM asset_uploads WHERE asset_id = $1 AND channel_code = $2")
            .bind(asset_id)
            .bind(channel_code)
            .fetch_optional(&mut *c)
            .await?
            .is_some();
    if exists {
        return Ok(false);
    }
    let inserted = sqlx::query(
        "INSERT INTO asset_uploads (asset_id, channel_code, platform, platform_id, status, \
         error, updated_at) VALUES ($1, $2, $3, NULL, 'SENDING', NULL, $4) ON CONFLICT DO NOTHING",
    )
    .bind(asset_id)
    .bind(channel_code)
    .bind(platform)
    .bind(now)
    .execute(&mut *c)
    .await?;
    // Lost to a concurrent claim (without aborting a PostgreSQL transaction).
    Ok(inserted.rows_affected() == 1)
}
