//! The asset registry service: register a file once per brand (by its SHA-256), put it on a
//! channel's platform once (by looking before re-sending whenever an earlier answer was
//! lost), wait for a video's processing with progress, and put a ticket's assets on its
//! channel before a deploy creates the ad.

use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use tokio::sync::mpsc::UnboundedSender;

use super::media::{self, Media};
use super::specs;
use crate::domain::{AssetKind, Brand, Channel, TicketContext, now_text};
use crate::error::{AppError, AppResult};
use crate::platforms::client::{
    ErrorClass, PlatformAsset, PlatformClients, PlatformError, UploadFile, VideoState,
};
use crate::store::{self, AssetRow, AssetUploadRow, Db};

/// How uploads wait and retry.
#[derive(Debug, Clone)]
pub struct AssetSettings {
    /// Between two reads of a video's processing state.
    pub poll_every: Duration,
    /// How long one upload waits for processing before answering PROCESSING (the FB SDK
    /// gives up after 600 s, K2).
    pub max_processing_wait: Duration,
    /// Videos larger than this go to Meta in resumable chunks (K2). Our threshold: Meta's
    /// non-resumable limit is 1 GB, but a chunked upload survives a dropped connection.
    pub video_chunk_bytes: usize,
    /// Tries of one upload after rate limits and transient failures.
    pub upload_attempts: u32,
}

impl Default for AssetSettings {
    fn default() -> Self {
        Self {
            poll_every: Duration::from_secs(5),
            max_processing_wait: Duration::from_secs(600),
            video_chunk_bytes: 20 * 1024 * 1024,
            upload_attempts: 3,
        }
    }
}

/// A step of an upload, for MCP progress notifications and the CLI's bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub step: f64,
    pub total: Option<f64>,
    pub message: String,
}

/// One asset on one channel.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct AssetOnChannel {
    pub channel_code: String,
    pub platform: String,
    /// Meta image hash or video_id, TikTok image_id or video_id, Google asset resource name.
    pub platform_id: Option<String>,
    /// SENDING (answer not yet recorded), UPLOADED, PROCESSING (a video), READY or FAILED.
    pub status: String,
    /// Why it failed, as the platform said.
    pub error: Option<String>,
    pub updated_at: String,
}

/// A registered creative asset.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct AssetView {
    /// Use this in payload_config.creative.image_asset_ids / video_asset_id.
    pub asset_id: String,
    pub brand_code: String,
    /// IMAGE or VIDEO.
    pub kind: AssetKind,
    pub file_name: String,
    pub byte_size: i64,
    /// jpeg, png, gif, webp, mp4, mov ...
    pub format: String,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub duration_ms: Option<i64>,
    /// SHA-256 of the bytes, hex: the same bytes are one asset per brand.
    pub sha256: String,
    pub created_at: String,
    /// Where the asset is on each channel.
    pub channels: Vec<AssetOnChannel>,
}

/// What an upload did.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct UploadOutcome {
    pub asset: AssetView,
    /// True when the brand already had these exact bytes (nothing new was registered).
    pub already_registered: bool,
    /// True when a request went to the platform in this call.
    pub sent_to_platform: bool,
    pub channel_code: String,
    /// The platform's id for the asset on this channel.
    pub platform_id: Option<String>,
    /// READY, or PROCESSING when a video was still processing when the wait ended (call
    /// upload_creative again with the same file to resume waiting; nothing is re-sent).
    pub status: String,
}

/// A brand's assets.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CreativeList {
    pub assets: Vec<AssetView>,
    /// True when there were more than the limit (newest first).
    pub truncated: bool,
}

/// An upload to create.
#[derive(Debug, Clone)]
pub struct UploadRequest {
    pub brand_code: String,
    pub channel_code: String,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// A failure while putting an asset on a channel: our own refusal or the platform's.
#[derive(Debug)]
pub enum PutError {
    App(AppError),
    Platform(PlatformError),
}

impl From<AppError> for PutError {
    fn from(e: AppError) -> Self {
        PutError::App(e)
    }
}

impl From<PutError> for AppError {
    fn from(e: PutError) -> Self {
        match e {
            PutError::App(e) => e,
            PutError::Platform(p) => platform_failure(&p),
        }
    }
}

/// A platform's refusal as the caller sees it: permanent ones name the fix, the rest say
/// that retrying is safe.
fn platform_failure(e: &PlatformError) -> AppError {
    match e.class {
        ErrorClass::Permanent => AppError::validation(
            e.field_path.clone().unwrap_or_else(|| "content".into()),
            format!("{} refused the upload: {e}", e.platform),
        ),
        _ => AppError::Unavailable(format!(
            "{} did not take the upload now ({e}); call upload_creative again with the same file: the registry remembers the attempt and looks the asset up before sending it again",
            e.platform
        )),
    }
}

/// A SENDING claim older than this is taken to belong to a process that died: longer than
/// any single upload request (a 500 MB video on a slow link) should take.
const CLAIM_STALE: Duration = Duration::from_secs(30 * 60);

/// Most assets one list returns.
pub const MAX_LISTED_ASSETS: i64 = 500;

#[derive(Clone)]
pub struct AssetService {
    db: Db,
    clients: PlatformClients,
    settings: AssetSettings,
}

fn send(progress: Option<&UnboundedSender<Progress>>, step: f64, message: String) {
    if let Some(tx) = progress {
        let _ = tx.send(Progress {
            step,
            total: None,
            message,
        });
    }
}

/// A file name safe in multipart headers and within TikTok's 100 characters (K3), with a
/// prefix from the content hash so the platform name identifies the bytes.
fn platform_name(sha256: &str, file_name: &str) -> String {
    let clean: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let prefix = &sha256[..sha256.len().min(16)];
    let mut name = format!("ot-{prefix}-{clean}");
    if name.len() > 100 {
        // Keep the extension: platforms read the format from it.
        let ext = clean
            .rsplit_once('.')
            .map(|(_, e)| e)
            .filter(|e| e.len() <= 8)
            .unwrap_or("");
        name.truncate(99 - ext.len());
        name.push('.');
        name.push_str(ext);
    }
    name
}

fn clean_file_name(raw: &str) -> Result<String, AppError> {
    let name = raw.trim().rsplit(['/', '\\']).next().unwrap_or("").trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(AppError::validation(
            "file_name",
            "give the file's name (1-200 characters, no control characters), e.g. \"moana-1080x1080.png\"",
        ));
    }
    Ok(name.to_owned())
}

fn media_of(a: &AssetRow) -> Media {
    Media {
        kind: AssetKind::parse(&a.kind).unwrap_or(AssetKind::Image),
        format: a.format.clone(),
        width: a.width,
        height: a.height,
        duration_ms: a.duration_ms,
    }
}

fn view(a: AssetRow, uploads: Vec<AssetUploadRow>) -> AssetView {
    AssetView {
        kind: AssetKind::parse(&a.kind).unwrap_or(AssetKind::Image),
        asset_id: a.id,
        brand_code: a.brand_code,
        file_name: a.file_name,
        byte_size: a.byte_size,
        format: a.format,
        width: a.width,
        height: a.height,
        duration_ms: a.duration_ms,
        sha256: a.sha256,
        created_at: a.created_at,
        channels: uploads
            .into_iter()
            .map(|u| AssetOnChannel {
                channel_code: u.channel_code,
                platform: u.platform,
                platform_id: u.platform_id,
                status: u.status,
                error: u.error,
                updated_at: u.updated_at,
            })
            .collect(),
    }
}

impl AssetService {
    pub fn new(db: Db, clients: PlatformClients, settings: AssetSettings) -> Self {
        Self {
            db,
            clients,
            settings,
        }
    }

    pub fn settings(&self) -> &AssetSettings {
        &self.settings
    }

    async fn brand_and_channel(&self, brand: &str, channel: &str) -> AppResult<(Brand, Channel)> {
        let mut c = self.db.pool().acquire().await?;
        let brand = crate::governance::must::<Brand>(&mut c, "brand_code", brand).await?;
        let channel = crate::governance::must::<Channel>(&mut c, "channel_code", channel).await?;
        if brand.archived {
            return Err(AppError::conflict(
                Some("brand_code"),
                format!(
                    "brand {} is archived; unarchive it before uploading",
                    brand.code
                ),
            ));
        }
        if channel.archived {
            return Err(AppError::conflict(
                Some("channel_code"),
                format!(
                    "channel {} is archived; upload to an active channel (list_channels)",
                    channel.code
                ),
            ));
        }
        Ok((brand, channel))
    }

    /// Register `req`'s bytes for the brand (once per content) and put them on the
    /// channel's platform (once), waiting for a video's processing.
    pub async fn upload(
        &self,
        actor: &str,
        req: UploadRequest,
        progress: Option<UnboundedSender<Progress>>,
    ) -> AppResult<UploadOutcome> {
        let file_name = clean_file_name(&req.file_name)?;
        let (brand, channel) = self
            .brand_and_channel(&req.brand_code, &req.channel_code)
            .await?;
        // Everything about the file is checked before the registry or a platform sees it.
        let media = media::inspect("content", &req.bytes)?;
        specs::check_upload_for("content", channel.platform, &media, req.bytes.len())?;
        let sha = hex::encode(sha2::Sha256::digest(&req.bytes));
        send(
            progress.as_ref(),
            1.0,
            format!(
                "{} {} checked for {}",
                media.format.to_ascii_uppercase(),
                media.kind.as_str().to_ascii_lowercase(),
                channel.platform
            ),
        );
        let (asset, already_registered) = {
            let mut tx = self.db.begin_write().await?;
            let found = store::asset_by_hash(&mut tx, &brand.code, &sha).await?;
            let r = match found {
                Some(a) => (a, true),
                None => {
                    let row = AssetRow {
                        id: uuid::Uuid::new_v4().to_string(),
                        brand_code: brand.code.clone(),
                        sha256: sha.clone(),
                        kind: media.kind.as_str().into(),
                        file_name: file_name.clone(),
                        byte_size: req.bytes.len() as i64,
                        format: media.format.clone(),
                        width: media.width,
                        height: media.height,
                        duration_ms: media.duration_ms,
                        created_by: actor.to_owned(),
                        created_at: now_text(),
                    };
                    if store::insert_asset(&mut tx, &row, &req.bytes).await? {
                        (row, false)
                    } else {
                        // Registered by a concurrent upload of the same bytes.
                        let again = store::asset_by_hash(&mut tx, &brand.code, &sha).await?;
                        (
                            again.ok_or_else(|| {
                                AppError::Internal("asset vanished after a unique conflict".into())
                            })?,
                            true,
                        )
                    }
                }
            };
            tx.commit().await?;
            r
        };
        let (row, sent) = self
            .put_on_channel(&asset, &channel, &req.bytes, progress.as_ref())
            .await?;
        let uploads = {
            let mut c = self.db.pool().acquire().await?;
            store::uploads_of(&mut c, &asset.id).await?
        };
        let asset = {
            let mut c = self.db.pool().acquire().await?;
            store::asset_by_id(&mut c, &asset.id)
                .await?
                .unwrap_or(asset)
        };
        Ok(UploadOutcome {
            asset: view(asset, uploads),
            already_registered,
            sent_to_platform: sent,
            channel_code: channel.code,
            platform_id: row.platform_id,
            status: row.status,
        })
    }

    /// A brand's assets, newest first, with where each is on every channel.
    pub async fn list(&self, brand_code: &str, limit: Option<i64>) -> AppResult<CreativeList> {
        let limit = limit.unwrap_or(100).clamp(1, MAX_LISTED_ASSETS);
        let mut c = self.db.pool().acquire().await?;
        let brand = crate::governance::must::<Brand>(&mut c, "brand_code", brand_code).await?;
        let mut rows = store::list_assets(&mut c, &brand.code, limit + 1).await?;
        let truncated = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let mut assets = Vec::with_capacity(rows.len());
        for a in rows {
            let uploads = store::uploads_of(&mut c, &a.id).await?;
            assets.push(view(a, uploads));
        }
        Ok(CreativeList { assets, truncated })
    }

    /// Put every asset the ticket's spec names on its channel, uploading (and waiting for
    /// processing) where it is not there yet. Returns whether anything was put there, so the
    /// caller reloads the context before translating.
    pub async fn ensure_for_ticket(&self, ctx: &TicketContext) -> Result<bool, PutError> {
        let missing: Vec<String> = ctx
            .assets
            .by_id
            .iter()
            .filter(|(_, a)| a.platform_id.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        let mut changed = false;
        for id in missing {
            let (asset, content) = {
                let mut c = self.db.pool().acquire().await.map_err(AppError::from)?;
                let a = store::asset_by_id(&mut c, &id).await?;
                let content = store::asset_content(&mut c, &id).await?;
                match (a, content) {
                    (Some(a), Some(b)) => (a, b),
                    _ => continue,
                }
            };
            let media = media_of(&asset);
            if let Err(specs::Refusal(r)) =
                specs::check_upload(ctx.channel.platform, &media, content.len())
            {
                return Err(PutError::Platform(PlatformError {
                    class: ErrorClass::Permanent,
                    code: Some("ASSET_DOES_NOT_FIT".into()),
                    message: format!("asset {id} cannot go to {}: {r}", ctx.channel.platform),
                    field_path: Some("payload_config.creative".into()),
                    object: Some("asset".into()),
                    ..PlatformError::empty(ctx.channel.platform)
                }));
            }
            let (row, _) = self
                .put_on_channel(&asset, &ctx.channel, &content, None)
                .await
                .map_err(|e| match e {
                    // A video the platform could not process: retrying will not help.
                    PutError::App(a @ AppError::Validation { .. }) => {
                        PutError::Platform(PlatformError {
                            class: ErrorClass::Permanent,
                            code: Some("ASSET_FAILED".into()),
                            message: format!("asset {id}: {a}"),
                            field_path: Some("payload_config.creative".into()),
                            object: Some("asset".into()),
                            ..PlatformError::empty(ctx.channel.platform)
                        })
                    }
                    other => other,
                })?;
            if row.status != "READY" {
                // A video still processing: the ad cannot use it yet, so the deploy retries.
                return Err(PutError::Platform(PlatformError {
                    class: ErrorClass::Transient,
                    code: Some("ASSET_PROCESSING".into()),
                    message: format!(
                        "video asset {id} is still processing on {}; the deploy retries",
                        ctx.channel.code
                    ),
                    object: Some("asset".into()),
                    ..PlatformError::empty(ctx.channel.platform)
                }));
            }
            changed = true;
        }
        Ok(changed)
    }

    async fn record(
        &self,
        asset_id: &str,
        channel: &Channel,
        platform_id: Option<&str>,
        status: &str,
        error: Option<&str>,
    ) -> AppResult<()> {
        let mut tx = self.db.begin_write().await?;
        store::put_upload(
            &mut tx,
            asset_id,
            &channel.code,
            channel.platform.as_str(),
            platform_id,
            status,
            error,
        )
        .await?;
        tx.commit().await
    }

    /// The asset on the channel: what is recorded, else what the platform already has (an
    /// earlier answer was lost), else a new upload; then processing. Returns the row and
    /// whether a request went to the platform.
    async fn put_on_channel(
        &self,
        asset: &AssetRow,
        channel: &Channel,
        content: &[u8],
        progress: Option<&UnboundedSender<Progress>>,
    ) -> Result<(AssetUploadRow, bool), PutError> {
        let existing = {
            let mut c = self.db.pool().acquire().await.map_err(AppError::from)?;
            store::upload_of(&mut c, &asset.id, &channel.code).await?
        };
        let media = media_of(asset);
        let name = platform_name(&asset.sha256, &asset.file_name);
        let file = UploadFile {
            bytes: content,
            name: &name,
            kind: media.kind,
            format: &media.format,
            mime: media.mime(),
            width: media.width,
            height: media.height,
        };
        let mut sent = false;
        let placed: PlatformAsset = match existing {
            Some(u) if u.status == "READY" => return Ok((u, false)),
            Some(AssetUploadRow {
                platform_id: Some(id),
                status,
                ..
            }) if status == "PROCESSING" || status == "UPLOADED" => PlatformAsset {
                id,
                processing: true,
                duration_ms: None,
            },
            other => {
                self.claim(asset, channel).await?;
                // SENDING: a request left and its answer was never recorded.
                let in_doubt = other.as_ref().is_some_and(|u| u.status == "SENDING");
                let found = if in_doubt {
                    self.clients
                        .find_asset(channel, &file)
                        .await
                        .map_err(PutError::Platform)?
                } else {
                    None
                };
                match found {
                    Some(p) => p,
                    None => {
                        sent = true;
                        self.send_upload(asset, channel, &file, progress).await?
                    }
                }
            }
        };
        if let Some(d) = placed.duration_ms {
            let mut tx = self.db.begin_write().await?;
            store::set_duration(&mut tx, &asset.id, d).await?;
            tx.commit().await?;
        }
        if !placed.processing {
            self.record(&asset.id, channel, Some(&placed.id), "READY", None)
                .await?;
        } else {
            self.record(&asset.id, channel, Some(&placed.id), "PROCESSING", None)
                .await?;
            self.wait_processing(asset, channel, &placed.id, progress)
                .await?;
        }
        let mut c = self.db.pool().acquire().await.map_err(AppError::from)?;
        let row = store::upload_of(&mut c, &asset.id, &channel.code)
            .await?
            .ok_or_else(|| AppError::Internal("upload row vanished".into()))?;
        Ok((row, sent))
    }

    /// Take the channel's row for this process's upload, so two callers never send the same
    /// asset at once. A claim older than [`CLAIM_STALE`] belongs to a sender that died.
    async fn claim(&self, asset: &AssetRow, channel: &Channel) -> Result<(), PutError> {
        let stale_before = crate::domain::time_text(
            chrono::Utc::now()
                - chrono::TimeDelta::from_std(CLAIM_STALE).unwrap_or(chrono::TimeDelta::MAX),
        );
        let mut tx = self.db.begin_write().await?;
        let claimed = store::claim_upload(
            &mut tx,
            &asset.id,
            &channel.code,
            channel.platform.as_str(),
            &stale_before,
        )
        .await?;
        tx.commit().await?;
        if claimed {
            Ok(())
        } else {
            Err(PutError::App(AppError::conflict(
                Some("content"),
                format!(
                    "this asset is being uploaded to {} right now by another call; call upload_creative again in a moment: it returns that upload's result without sending the file again",
                    channel.code
                ),
            )))
        }
    }

    /// Send the upload, after rate limits and transient failures again (looking first
    /// whenever the platform may have taken the lost attempt).
    async fn send_upload(
        &self,
        asset: &AssetRow,
        channel: &Channel,
        file: &UploadFile<'_>,
        progress: Option<&UnboundedSender<Progress>>,
    ) -> Result<PlatformAsset, PutError> {
        let attempts = self.settings.upload_attempts.max(1);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            // Written before the request leaves, so a crash or lost answer is looked up.
            self.record(&asset.id, channel, None, "SENDING", None)
                .await?;
            send(
                progress,
                2.0,
                format!(
                    "uploading {} bytes to {} ({})",
                    file.bytes.len(),
                    channel.code,
                    channel.platform
                ),
            );
            let e = match self
                .clients
                .upload_asset(channel, file, self.settings.video_chunk_bytes)
                .await
            {
                Ok(p) => return Ok(p),
                Err(e) => e,
            };
            tracing::warn!(asset = %asset.id, channel = %channel.code, class = ?e.class, error = %e.message, "creative upload failed");
            let retry = e.class != ErrorClass::Permanent && attempt < attempts;
            // The platform may have it: the answer was lost, or TikTok refused a file name
            // it already holds (names are unique per advertiser, K3/K4) because another
            // brand on the same advertiser uploaded the same bytes under the same name.
            let may_hold = e.outcome_unknown
                || (channel.platform == crate::domain::Platform::Tiktok
                    && e.class == ErrorClass::Permanent);
            if may_hold && let Ok(Some(p)) = self.clients.find_asset(channel, file).await {
                return Ok(p);
            }
            if !retry {
                let status = if e.outcome_unknown {
                    "SENDING"
                } else {
                    "FAILED"
                };
                self.record(&asset.id, channel, None, status, Some(&e.to_string()))
                    .await?;
                return Err(PutError::Platform(e));
            }
            let backoff = Duration::from_millis(200u64 << attempt.min(6));
            let wait = e
                .retry_after()
                .unwrap_or(backoff)
                .min(Duration::from_secs(30));
            tokio::time::sleep(wait).await;
        }
    }

    /// Poll a video until the platform has processed it, reporting progress; READY or
    /// FAILED is recorded. Past the wait limit it stays PROCESSING (not an error).
    async fn wait_processing(
        &self,
        asset: &AssetRow,
        channel: &Channel,
        id: &str,
        progress: Option<&UnboundedSender<Progress>>,
    ) -> Result<(), PutError> {
        let started = Instant::now();
        let mut polls = 0u32;
        loop {
            polls += 1;
            let state = crate::platforms::client::with_read_retries(|| {
                self.clients.video_state(channel, id)
            })
            .await
            .map_err(PutError::Platform)?;
            match state {
                VideoState::Ready { duration_ms } => {
                    if let Some(d) = duration_ms {
                        let mut tx = self.db.begin_write().await?;
                        store::set_duration(&mut tx, &asset.id, d).await?;
                        tx.commit().await?;
                    }
                    self.record(&asset.id, channel, Some(id), "READY", None)
                        .await?;
                    send(
                        progress,
                        3.0 + f64::from(polls),
                        format!("ready on {} as {id}", channel.code),
                    );
                    return Ok(());
                }
                VideoState::Failed(why) => {
                    self.record(&asset.id, channel, Some(id), "FAILED", Some(&why))
                        .await?;
                    return Err(PutError::App(AppError::validation(
                        "content",
                        format!(
                            "{} could not process the video: {why}; check the file plays and re-export it (H.264/AAC MP4)",
                            channel.platform
                        ),
                    )));
                }
                VideoState::Processing { percent } => {
                    send(
                        progress,
                        3.0 + f64::from(polls),
                        match percent {
                            Some(p) => format!("processing on {} ({p}%)", channel.code),
                            None => format!("processing on {} (check {polls})", channel.code),
                        },
                    );
                    if started.elapsed() >= self.settings.max_processing_wait {
                        return Ok(());
                    }
                    tokio::time::sleep(self.settings.poll_every).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_names_are_safe_short_and_keep_the_extension() {
        let sha = "ab".repeat(32);
        assert_eq!(
            platform_name(&sha, "moana 1080\"x1080.png"),
            "ot-abababababababab-moana_1080_x1080.png"
        );
        let long = format!("{}.jpeg", "x".repeat(300));
        let n = platform_name(&sha, &long);
        assert_eq!(n.len(), 100);
        assert!(n.ends_with(".jpeg"), "{n}");
        assert_eq!(clean_file_name("/tmp/a/b.png").unwrap(), "b.png");
        assert!(clean_file_name("  ").is_err());
        assert!(clean_file_name("a\nb.png").is_err());
    }
}
