//! Creative asset tools: upload an image or video to a channel's platform through the
//! brand's asset registry, and list the brand's assets.

use base64::Engine;
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::copilot_tools::read_local_file;
use super::{OmniMcp, Parameters, ToolError};
use crate::assets::media::{MAX_IMAGE_BYTES, MAX_VIDEO_BYTES};
use crate::assets::{CreativeList, Progress, UploadOutcome, UploadRequest};
use crate::auth::Permission;
use crate::error::AppError;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadCreativeInput {
    /// Brand the asset belongs to, e.g. "DIS".
    pub brand_code: String,
    /// Channel whose platform receives it, e.g. "META_US", "TIKTOK_US", "GADS_US".
    pub channel_code: String,
    /// The file's name, e.g. "moana-1080x1080.png". Defaults to the file name of `path`.
    pub file_name: Option<String>,
    /// The file, base64-encoded (standard alphabet). Give this or `path`. Over HTTP the
    /// request must fit the server's body limit (OMNITRAFFICK_MAX_BODY_BYTES, 1 MiB by
    /// default: about 750 KB of file); larger files go through stdio `path` or the CLI.
    pub content_base64: Option<String>,
    /// A file on the server's own disk, e.g. "/data/creatives/moana.mp4". Only for the local
    /// operator (stdio); over HTTP send `content_base64`.
    pub path: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListCreativesInput {
    /// Brand whose assets to list, e.g. "DIS".
    pub brand_code: String,
    /// At most this many, newest first (default 100, at most 500).
    pub limit: Option<i64>,
}

fn decode(b64: &str) -> Result<Vec<u8>, AppError> {
    // Bound the work before decoding: base64 is 4 characters per 3 bytes.
    if b64.len() / 4 * 3 > MAX_VIDEO_BYTES + 3 {
        return Err(AppError::validation(
            "content_base64",
            format!("decodes to more than {MAX_VIDEO_BYTES} bytes, the video limit"),
        ));
    }
    let clean: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean.as_bytes())
        .map_err(|e| {
            AppError::validation(
                "content_base64",
                format!("is not valid base64 ({e}); send the file's bytes base64-encoded"),
            )
        })
}

#[tool_router(router = asset_tools, vis = "pub(super)")]
impl OmniMcp {
    #[tool(
        description = "Upload an image or video to a channel's ad platform and register it for the brand: Meta adimages (image hash) or advideos (video_id; chunked for large files), TikTok file/image/ad/upload (image_id) or file/video/ad/upload (video_id), Google Ads image assets (asset resource name; Google takes no uploaded video). The file is checked first against the platform's rules (format, size, minimum pixels, aspect ratio, duration) and a corrupt or unfitting file is refused with the rule, before anything is sent. The same bytes for the same brand are one asset: uploading them again sends nothing and returns the existing asset; a lost answer is looked up on the platform, never uploaded twice. Videos are waited for until processed, with progress notifications (PROCESSING is returned if that takes longer than the wait; call again to resume). Use the returned asset_id in payload_config.creative.image_asset_ids or video_asset_id. Example: {\"brand_code\": \"DIS\", \"channel_code\": \"META_US\", \"file_name\": \"moana-1080.png\", \"content_base64\": \"iVBORw0KGgo...\"}. Images up to 30 MB, videos up to 500 MB (stdio path); over HTTP the server's body limit applies. Trafficker or admin.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn upload_creative(
        &self,
        Parameters(input): Parameters<UploadCreativeInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<UploadOutcome>, ToolError> {
        let who = self.authorize_brand(&ctx, Permission::Traffic, &input.brand_code)?;
        let (bytes, default_name) = match (&input.content_base64, &input.path) {
            (Some(b64), None) => (decode(b64)?, None),
            (None, Some(path)) => {
                // Decided by the transport, never by the caller: only the operator at this
                // machine's terminal (stdio) may have the server read its own files.
                if !self.is_stdio() {
                    return Err(AppError::Forbidden(
                        "path is only accepted over stdio, from the operator at the server's terminal; over HTTP send the file as content_base64".into(),
                    )
                    .into());
                }
                let bytes = read_local_file(
                    path,
                    MAX_VIDEO_BYTES,
                    "an image or video",
                    "500 MB for videos, 30 MB for images",
                )
                .await?;
                (bytes, Some(path.clone()))
            }
            _ => {
                return Err(AppError::validation(
                    "content_base64",
                    format!(
                        "give exactly one of content_base64 (the file, base64; images up to {} MB) or path (a file on the server, stdio only)",
                        MAX_IMAGE_BYTES / (1024 * 1024)
                    ),
                )
                .into());
            }
        };
        let file_name = input.file_name.clone().or(default_name).ok_or_else(|| {
            AppError::validation("file_name", "give the file's name, e.g. \"moana-1080.png\"")
        })?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
        let token: Option<ProgressToken> = ctx.meta.get_progress_token();
        let work = self.services.assets.upload(
            &who.name,
            UploadRequest {
                brand_code: input.brand_code.clone(),
                channel_code: input.channel_code.clone(),
                file_name,
                bytes,
            },
            Some(tx),
        );
        tokio::pin!(work);
        let notify = |p: Progress| {
            let peer = ctx.peer.clone();
            let token = token.clone();
            async move {
                if let Some(token) = token {
                    let mut note =
                        ProgressNotificationParam::new(token, p.step).with_message(p.message);
                    if let Some(t) = p.total {
                        note = note.with_total(t);
                    }
                    let _ = peer.notify_progress(note).await;
                }
            }
        };
        let result = loop {
            tokio::select! {
                r = &mut work => break r,
                Some(p) = rx.recv() => notify(p).await,
            }
        };
        while let Ok(p) = rx.try_recv() {
            notify(p).await;
        }
        Ok(Json(result?))
    }

    #[tool(
        description = "List a brand's registered creative assets (images and videos), newest first: asset_id, kind, format, pixel size, duration, SHA-256, and on each channel the platform's id (Meta image hash or video_id, TikTok image_id or video_id, Google asset resource name) with its status (READY, PROCESSING, FAILED with the platform's reason). Use an asset_id in payload_config.creative.image_asset_ids or video_asset_id. Any role but tracker.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_creatives(
        &self,
        Parameters(input): Parameters<ListCreativesInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<CreativeList>, ToolError> {
        self.authorize_brand(&ctx, Permission::Read, &input.brand_code)?;
        Ok(Json(
            self.services
                .assets
                .list(&input.brand_code, input.limit)
                .await?,
        ))
    }
}
