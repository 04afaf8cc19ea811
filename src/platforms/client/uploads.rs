//! Creative uploads (PLATFORMS.md K) through the same credentials and error classification
//! as everything else: Meta `adimages` (base64 `bytes`) and `advideos` (simple, or chunked
//! start/transfer/finish for large files, on graph-video), TikTok `file/image/ad/upload/` and
//! `file/video/ad/upload/` (multipart with the MD5 signature TikTok checks), Google Ads image
//! assets through `assets:mutate`. Each upload carries a name derived from the content, so an
//! upload whose answer was lost can be found again ([`PlatformClients::find_asset`]) instead
//! of being sent twice.
#![allow(clippy::result_large_err)]

use std::time::Duration;

use base64::Engine;
use md5::Digest;
use serde_json::{Value, json};

use super::{
    ErrorClass, META_TOKEN, PlatformClients, PlatformError, TIKTOK_TOKEN, google_ads, meta, str_of,
    tiktok, transport_error,
};
use crate::domain::{AssetKind, Channel, Platform};

/// One file to upload.
#[derive(Debug, Clone, Copy)]
pub struct UploadFile<'a> {
    pub bytes: &'a [u8],
    /// The name the platform keeps it under, unique per content (see the module docs).
    pub name: &'a str,
    pub kind: AssetKind,
    /// jpeg, png, gif, mp4, mov ...
    pub format: &'a str,
    pub mime: &'a str,
    pub width: Option<i64>,
    pub height: Option<i64>,
}

/// What the platform holds for an uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformAsset {
    /// Meta image hash or video_id, TikTok image_id or video_id, Google asset resource name.
    pub id: String,
    /// A video the platform is still processing: poll [`PlatformClients::video_state`].
    pub processing: bool,
    /// The duration the platform measured, when it says.
    pub duration_ms: Option<i64>,
}

/// Where a video's processing stands.
#[derive(Debug, Clone, PartialEq)]
pub enum VideoState {
    Processing {
        /// 0-100 when the platform reports it.
        percent: Option<u8>,
    },
    Ready {
        duration_ms: Option<i64>,
    },
    Failed(String),
}

/// Chunks of a resumable Meta upload that fail transiently are resent this many times.
const CHUNK_ATTEMPTS: u32 = 4;
/// Pages of a platform's media library read when looking for a lost upload.
const LOOKUP_PAGES: u32 = 10;

/// MD5 of the bytes as lowercase hex: TikTok's `image_signature` / `video_signature`.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(md5::Md5::digest(bytes))
}

impl PlatformClients {
    /// Upload `file` to the channel's platform. Videos larger than `chunk_bytes` go to Meta
    /// in resumable chunks of that size.
    pub async fn upload_asset(
        &self,
        channel: &Channel,
        file: &UploadFile<'_>,
        chunk_bytes: usize,
    ) -> Result<PlatformAsset, PlatformError> {
        let r = match (channel.platform, file.kind) {
            (Platform::Meta, AssetKind::Image) => self.meta_image(channel, file).await,
            (Platform::Meta, AssetKind::Video) if file.bytes.len() > chunk_bytes => {
                self.meta_video_chunked(channel, file).await
            }
            (Platform::Meta, AssetKind::Video) => self.meta_video_simple(channel, file).await,
            (Platform::Tiktok, kind) => self.tiktok_upload(channel, file, kind).await,
            (Platform::GoogleAds, AssetKind::Image) => self.google_image(channel, file).await,
            (Platform::GoogleAds, AssetKind::Video) => Err(PlatformError {
                code: Some("UNSUPPORTED_MEDIA".into()),
                message: "Google Ads takes videos only as YouTube video assets (PLATFORMS.md K6), not uploaded files".into(),
                ..PlatformError::empty(Platform::GoogleAds)
            }),
        };
        r.map_err(|mut e| {
            e.platform = channel.platform;
            e.object.get_or_insert_with(|| "asset".into());
            e
        })
    }

    /// Look for an upload of `file` that the platform may have committed although its
    /// answer was lost: by the content-derived name (Meta images, Google), or by name or
    /// MD5 signature in the library (TikTok, Meta videos).
    pub async fn find_asset(
        &self,
        channel: &Channel,
        file: &UploadFile<'_>,
    ) -> Result<Option<PlatformAsset>, PlatformError> {
        let r = match (channel.platform, file.kind) {
            (Platform::Meta, AssetKind::Image) => self.meta_find_image(channel, file).await,
            (Platform::Meta, AssetKind::Video) => self.meta_find_video(channel, file).await,
            (Platform::Tiktok, kind) => self.tiktok_find(channel, file, kind).await,
            (Platform::GoogleAds, AssetKind::Image) => self.google_find_image(channel, file).await,
            (Platform::GoogleAds, AssetKind::Video) => Ok(None),
        };
        r.map_err(|mut e| {
            e.platform = channel.platform;
            e.object.get_or_insert_with(|| "asset".into());
            e.after_read()
        })
    }

    /// Where an uploaded video's processing stands: Meta `status.video_status`, TikTok
    /// `file/video/ad/info/`.
    pub async fn video_state(
        &self,
        channel: &Channel,
        id: &str,
    ) -> Result<VideoState, PlatformError> {
        let r = match channel.platform {
            Platform::Meta => self.meta_video_state(channel, id).await,
            Platform::Tiktok => self.tiktok_video_state(channel, id).await,
            Platform::GoogleAds => Ok(VideoState::Ready { duration_ms: None }),
        };
        r.map_err(|mut e| {
            e.platform = channel.platform;
            e.object.get_or_insert_with(|| "asset".into());
            e.after_read()
        })
    }

    fn meta_url(&self, path: &str) -> String {
        format!(
            "{}/{}{path}",
            self.cfg.meta_base_url, self.cfg.meta_api_version
        )
    }

    /// Video uploads go to graph-video.facebook.com (K2); any other base (a proxy, a test
    /// server) is used as configured.
    fn meta_video_url(&self, path: &str) -> String {
        let base = self
            .cfg
            .meta_base_url
            .replace("://graph.facebook.com", "://graph-video.facebook.com");
        format!("{base}/{}{path}", self.cfg.meta_api_version)
    }

    fn meta_account(channel: &Channel) -> Result<String, PlatformError> {
        let id = channel.account_id.trim().trim_start_matches("act_");
        meta::node(id)
            .map(|n| format!("act_{n}"))
            .map_err(|_| bad_account(Platform::Meta, channel, "a Meta ad account id"))
    }

    /// `POST act_<id>/adimages` with `bytes` (base64) and `name` → `images.<key>.hash`.
    async fn meta_image(
        &self,
        channel: &Channel,
        file: &UploadFile<'_>,
    ) -> Result<PlatformAsset, PlatformError> {
        let token = self.cfg.require(META_TOKEN, &channel.code)?;
        let act = Self::meta_account(channel)?;
        let fields = vec![
            (
                "bytes".to_owned(),
                base64::engine::general_purpose::STANDARD.encode(file.bytes),
            ),
            ("name".to_owned(), file.name.to_owned()),
            ("access_token".to_owned(), token.expose().to_owned()),
        ];
        let url = self.meta_url(&format!("/{act}/adimages"));
        let (status, _, body) = meta::post_form(self.http.post(url).form(&fields)).await?;
        // The key under `images` is the file name for multipart uploads; for `bytes` it is
        // unconfirmed (K1), so take the only entry whatever its key.
        let hash = body
            .get("images")
            .and_then(Value::as_object)
            .and_then(|m| m.values().find_map(|v| v.get("hash").and_then(str_of)));
        match hash {
            Some(id) => Ok(PlatformAsset {
                id,
                processing: false,
                duration_ms: None,
            }),
            None => Err(PlatformError::created_without_id(
                Platform::Meta,
                Some(status),
                format!("adimages answered without an image hash: {body}"),
            )),
        }
    }

    /// `GET act_<id>/adimages?name=<name>` (K1 lists `name` as a filter).
    async fn meta_find_image(
        &self,
        channel: &Channel,
        file: &UploadFile<'_>,
    ) -> Result<Option<PlatformAsset>, PlatformError> {
        let token = self.cfg.require(META_TOKEN, &channel.code)?;
        let act = Self::meta_account(channel)?;
        let body = meta::get_json(
            self,
            &self.meta_url(&format!("/{act}/adimages")),
            &[
                ("fields", "hash,name,status"),
                ("name", file.name),
                ("access_token", token.expose()),
            ],
        )
        .await?;
        Ok(body
            .get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|o| o.get("status").and_then(Value::as_str) != Some("DELETED"))
            .find(|o| o.get("name").and_then(Value::as_str) == Some(file.name))
            .and_then(|o| o.get("hash"))
            .and_then(str_of)
            .map(|id| PlatformAsset {
                id,
                processing: false,
                duration_ms: None,
            }))
    }

    /// Non-resumable upload: multipart `source` with `title` (K2).
    async fn meta_video_simple(
        &self,
        channel: &Channel,
        file: &UploadFile<'_>,
    ) -> Result<PlatformAsset, PlatformError> {
        let token = self.cfg.require(META_TOKEN, &channel.code)?;
        let act = Self::meta_account(channel)?;
        let (ct, body) = Multipart::new()
            .text("access_token", token.expose())
            .text("title", file.name)
            .file("source", file.name, file.mime, file.bytes)
            .finish();
        let url = self.meta_video_url(&format!("/{act}/advideos"));
        let rb = self.http.post(url).header("content-type", ct).body(body);
        let (status, _, answer) = meta::post_form(rb).await?;
        match answer.get("id").and_then(str_of) {
            Some(id) => Ok(PlatformAsset {
                id,
                processing: true,
                duration_ms: None,
            }),
            None => Err(PlatformError::created_without_id(
                Platform::Meta,
                Some(status),
                format!("advideos answered without a video id: {answer}"),
            )),
        }
    }

    /// Resumable upload (K2): start (session, video id, first offsets), transfer each chunk
    /// Meta asks for until the offsets meet, finish with the title.
    async fn meta_video_chunked(
        &self,
        channel: &Channel,
        file: &UploadFile<'_>,
    ) -> Result<PlatformAsset, PlatformError> {
        let token = self.cfg.require(META_TOKEN, &channel.code)?;
        let act = Self::meta_account(channel)?;
        let url = self.meta_video_url(&format!("/{act}/advideos"));
        let size = file.bytes.len().to_string();
        let start = [
            ("upload_phase", "start"),
            ("file_size", size.as_str()),
            ("access_token", token.expose()),
        ];
        let (status, _, started) = meta::post_form(self.http.post(&url).form(&start)).await?;
        let session = started.get("upload_session_id").and_then(str_of);
        let video_id = started.get("video_id").and_then(str_of);
        let (Some(session), Some(video_id)) = (session, video_id) else {
            return Err(PlatformError::created_without_id(
                Platform::Meta,
                Some(status),
                format!("upload_phase=start answered without a session or video id: {started}"),
            ));
        };
        let offsets = |v: &Value| -> Option<(usize, usize)> {
            let n = |k: &str| v.get(k).and_then(str_of)?.parse::<usize>().ok();
            Some((n("start_offset")?, n("end_offset")?))
        };
        let bad_offsets = |v: &Value| PlatformError {
            class: ErrorClass::Permanent,
            code: Some("BAD_OFFSETS".into()),
            message: format!("Meta answered offsets outside the file: {v}"),
            ..PlatformError::empty(Platform::Meta)
        };
        let (mut from, mut to) = offsets(&started).ok_or_else(|| bad_offsets(&started))?;
        let mut failures = 0u32;
        while from < to {
            // Meta decides each chunk's range; one outside the file is refused, not sent.
            let chunk = file
                .bytes
                .get(from..to)
                .ok_or_else(|| bad_offsets(&started))?;
            let offset = from.to_string();
            let (ct, body) = Multipart::new()
                .text("access_token", token.expose())
                .text("upload_phase", "transfer")
                .text("upload_session_id", &session)
                .text("start_offset", &offset)
                .file(
                    "video_file_chunk",
                    file.name,
                    "application/octet-stream",
                    chunk,
                )
                .finish();
            let sent =
                meta::post_form(self.http.post(&url).header("content-type", ct).body(body)).await;
            match sent {
                Ok((_, _, next)) => {
                    (from, to) = offsets(&next).ok_or_else(|| bad_offsets(&next))?;
                    failures = 0;
                }
                Err(e) if failures + 1 < CHUNK_ATTEMPTS => {
                    failures += 1;
                    // Subcode 1363037: Meta says which chunk it wants next (K2).
                    let wanted = e
                        .body
                        .as_ref()
                        .and_then(|b| b.pointer("/error/error_data"))
                        .and_then(|d| match d {
                            Value::String(s) => serde_json::from_str::<Value>(s).ok(),
                            other => Some(other.clone()),
                        })
                        .and_then(|d| offsets(&d));
                    match (e.subcode.as_deref(), wanted) {
                        (Some("1363037"), Some(o)) => (from, to) = o,
                        _ if e.class != ErrorClass::Permanent => {
                            tokio::time::sleep(Duration::from_secs(1)).await
                        }
                        _ => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let finish = [
            ("upload_phase", "finish"),
            ("upload_session_id", session.as_str()),
            ("title", file.name),
            ("access_token", token.expose()),
        ];
        meta::post_form(self.http.post(&url).form(&finish)).await?;
        Ok(PlatformAsset {
            id: video_id,
            processing: true,
            duration_ms: None,
        })
    }

    /// `GET act_<id>/advideos?fields=id,title`, newest first, matched on the title we gave.
    /// Unconfirmed (PLATFORMS.md K2 does not list this edge's fields): if Meta does not
    /// return `title`, nothing is found and the upload is sent again.
    async fn meta_find_video(
        &self,
        channel: &Channel,
        file: &UploadFile<'_>,
    ) -> Result<Option<PlatformAsset>, PlatformError> {
        let token = self.cfg.require(META_TOKEN, &channel.code)?;
        let act = Self::meta_account(channel)?;
        let body = meta::get_json(
            self,
            &self.meta_url(&format!("/{act}/advideos")),
            &[
                ("fields", "id,title"),
                ("limit", "100"),
                ("access_token", token.expose()),
            ],
        )
        .await?;
        Ok(body
            .get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|o| o.get("title").and_then(Value::as_str) == Some(file.name))
            .and_then(|o| o.get("id"))
            .and_then(str_of)
            .map(|id| PlatformAsset {
                id,
                processing: true,
                duration_ms: None,
            }))
    }

    /// `GET /<video_id>?fields=status,length`: `status.video_status` is `processing` until
    /// `ready`; anything else is a failure, as the SDK treats it (K2).
    async fn meta_video_state(
        &self,
        channel: &Channel,
        id: &str,
    ) -> Result<VideoState, PlatformError> {
        let token = self.cfg.require(META_TOKEN, &channel.code)?;
        let node = meta::node(id)?;
        let body = meta::get_json(
            self,
            &self.meta_url(&format!("/{node}")),
            &[
                ("fields", "status,length"),
                ("access_token", token.expose()),
            ],
        )
        .await?;
        let status = body.get("status").cloned().unwrap_or(Value::Null);
        let percent = status
            .get("processing_progress")
            .and_then(Value::as_u64)
            .map(|p| p.min(100) as u8);
        let duration_ms = body
            .get("length")
            .and_then(|v| v.as_f64().or_else(|| str_of(v)?.parse().ok()))
            .map(|s| (s * 1000.0) as i64);
        Ok(match status.get("video_status").and_then(Value::as_str) {
            Some("ready") => VideoState::Ready { duration_ms },
            Some("processing") | Some("uploading") | None => VideoState::Processing { percent },
            Some(other) => {
                let why = status
                    .pointer("/processing_phase/errors/0/message")
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given");
                VideoState::Failed(format!("Meta video status is {other}: {why}"))
            }
        })
    }

    fn tiktok_url(&self, endpoint: &str) -> String {
        format!(
            "{}/open_api/{}/{endpoint}",
            self.cfg.tiktok_base_url, self.cfg.tiktok_api_version
        )
    }

    /// Multipart `file/image/ad/upload/` (`image_file` + `image_signature`) or
    /// `file/video/ad/upload/` (`video_file` + `video_signature`), MD5 signatures (K3, K4).
    async fn tiktok_upload(
        &self,
        channel: &Channel,
        file: &UploadFile<'_>,
        kind: AssetKind,
    ) -> Result<PlatformAsset, PlatformError> {
        let token = self.cfg.require(TIKTOK_TOKEN, &channel.code)?;
        let (endpoint, file_field, signature_field) = match kind {
            AssetKind::Image => ("file/image/ad/upload/", "image_file", "image_signature"),
            AssetKind::Video => ("file/video/ad/upload/", "video_file", "video_signature"),
        };
        let (ct, body) = Multipart::new()
            .text("advertiser_id", channel.account_id.trim())
            .text("upload_type", "UPLOAD_BY_FILE")
            .text(signature_field, &md5_hex(file.bytes))
            .text("file_name", file.name)
            .file(file_field, file.name, file.mime, file.bytes)
            .finish();
        let resp = self
            .http
            .post(self.tiktok_url(endpoint))
            .header("Access-Token", token.expose())
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error(Platform::Tiktok, e))?;
        let data = tiktok::envelope(resp, true).await?;
        // Video uploads answer a list of videos (K4); image uploads one object (K3).
        let item = match &data {
            Value::Array(a) => a.first().cloned().unwrap_or(Value::Null),
            other => other.clone(),
        };
        let id_key = if kind == AssetKind::Image {
            "image_id"
        } else {
            "video_id"
        };
        match item.get(id_key).and_then(str_of) {
            Some(id) => Ok(PlatformAsset {
                id,
                processing: kind == AssetKind::Video,
                duration_ms: seconds_ms(item.get("duration")),
            }),
            None => Err(PlatformError::created_without_id(
                Platform::Tiktok,
                None,
                format!("upload answered code 0 without {id_key}: {data}"),
            )),
        }
    }

    /// Page through `file/image/ad/search/` or `file/video/ad/search/` for our name or the
    /// MD5 signature. The video search is in TT-SDK (K4); the image search and both lists'
    /// item fields (`file_name`, `signature`) are from practitioner code (🟡).
    async fn tiktok_find(
        &self,
        channel: &Channel,
        file: &UploadFile<'_>,
        kind: AssetKind,
    ) -> Result<Option<PlatformAsset>, PlatformError> {
        let token = self.cfg.require(TIKTOK_TOKEN, &channel.code)?;
        let (endpoint, id_key) = match kind {
            AssetKind::Image => ("file/image/ad/search/", "image_id"),
            AssetKind::Video => ("file/video/ad/search/", "video_id"),
        };
        let signature = md5_hex(file.bytes);
        for page in 1..=LOOKUP_PAGES {
            let page_text = page.to_string();
            let resp = self
                .http
                .get(self.tiktok_url(endpoint))
                .header("Access-Token", token.expose())
                .query(&[
                    ("advertiser_id", channel.account_id.trim()),
                    ("page", page_text.as_str()),
                    ("page_size", "100"),
                ])
                .send()
                .await
                .map_err(|e| transport_error(Platform::Tiktok, e).after_read())?;
            let data = tiktok::envelope(resp, false).await?;
            let list = data.get("list").and_then(Value::as_array);
            let found = list.into_iter().flatten().find(|o| {
                o.get("file_name").and_then(Value::as_str) == Some(file.name)
                    || o.get("signature").and_then(Value::as_str) == Some(signature.as_str())
            });
            if let Some(o) = found
                && let Some(id) = o.get(id_key).and_then(str_of)
            {
                return Ok(Some(PlatformAsset {
                    id,
                    processing: kind == AssetKind::Video,
                    duration_ms: seconds_ms(o.get("duration")),
                }));
            }
            let total = data
                .pointer("/page_info/total_page")
                .and_then(Value::as_u64)
                .unwrap_or(1);
            if u64::from(page) >= total || list.is_none_or(|l| l.is_empty()) {
                break;
            }
        }
        Ok(None)
    }

    /// `GET file/video/ad/info/?video_ids=[id]`. TikTok has no explicit processing state
    /// (K4): a video counts as processed once the info lists it as `displayable` (🟡, our
    /// reading of TT-GO's fields); until then it is processing.
    async fn tiktok_video_state(
        &self,
        channel: &Channel,
        id: &str,
    ) -> Result<VideoState, PlatformError> {
        let token = self.cfg.require(TIKTOK_TOKEN, &channel.code)?;
        let ids = json!([id]).to_string();
        let resp = self
            .http
            .get(self.tiktok_url("file/video/ad/info/"))
            .header("Access-Token", token.expose())
            .query(&[
                ("advertiser_id", channel.account_id.trim()),
                ("video_ids", ids.as_str()),
            ])
            .send()
            .await
            .map_err(|e| transport_error(Platform::Tiktok, e).after_read())?;
        let data = tiktok::envelope(resp, false).await?;
        let item = data
            .get("list")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|o| o.get("video_id").and_then(str_of).as_deref() == Some(id));
        Ok(match item {
            Some(o) if o.get("displayable").and_then(Value::as_bool) == Some(true) => {
                VideoState::Ready {
                    duration_ms: seconds_ms(o.get("duration")),
                }
            }
            _ => VideoState::Processing { percent: None },
        })
    }

    fn google_customer(channel: &Channel) -> Result<String, PlatformError> {
        let cid = channel.account_id.trim().replace('-', "");
        if cid.is_empty() || !cid.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad_account(
                Platform::GoogleAds,
                channel,
                "a Google Ads customer id",
            ));
        }
        Ok(cid)
    }

    /// `assets:mutate` creating an IMAGE asset with base64 `data` (K5).
    async fn google_image(
        &self,
        channel: &Channel,
        file: &UploadFile<'_>,
    ) -> Result<PlatformAsset, PlatformError> {
        let cid = Self::google_customer(channel)?;
        let mime = match file.format {
            "png" => "IMAGE_PNG",
            "gif" => "IMAGE_GIF",
            _ => "IMAGE_JPEG",
        };
        let mut image = json!({
            "data": base64::engine::general_purpose::STANDARD.encode(file.bytes),
            "fileSize": file.bytes.len().to_string(),
            "mimeType": mime,
        });
        if let (Some(w), Some(h)) = (file.width, file.height) {
            image["fullSize"] =
                json!({"widthPixels": w.to_string(), "heightPixels": h.to_string()});
        }
        let body = json!({"operations": [{"create": {
            "name": file.name, "type": "IMAGE", "imageAsset": image,
        }}]});
        let path = format!(
            "/{}/customers/{cid}/assets:mutate",
            self.cfg.google_ads_api_version
        );
        let (status, parsed, _) =
            google_ads::send(google_ads::request(self, channel, &path, &body)?, true).await?;
        match parsed
            .pointer("/results/0/resourceName")
            .and_then(Value::as_str)
        {
            Some(rn) => Ok(PlatformAsset {
                id: rn.to_owned(),
                processing: false,
                duration_ms: None,
            }),
            None => Err(PlatformError::created_without_id(
                Platform::GoogleAds,
                Some(status),
                format!("assets:mutate answered without a resource name: {parsed}"),
            )),
        }
    }

    /// GAQL `asset.name = <name>` among IMAGE assets.
    async fn google_find_image(
        &self,
        channel: &Channel,
        file: &UploadFile<'_>,
    ) -> Result<Option<PlatformAsset>, PlatformError> {
        let cid = Self::google_customer(channel)?;
        let query = format!(
            "SELECT asset.resource_name FROM asset WHERE asset.name = {} AND asset.type = 'IMAGE'",
            google_ads::gaql_string(file.name)
        );
        let path = format!(
            "/{}/customers/{cid}/googleAds:search",
            self.cfg.google_ads_api_version
        );
        let (_, parsed, _) = google_ads::send(
            google_ads::request(self, channel, &path, &json!({ "query": query }))?,
            false,
        )
        .await?;
        Ok(parsed
            .pointer("/results/0/asset/resourceName")
            .and_then(Value::as_str)
            .map(|rn| PlatformAsset {
                id: rn.to_owned(),
                processing: false,
                duration_ms: None,
            }))
    }
}

/// Seconds (a number or a decimal string) as milliseconds.
fn seconds_ms(v: Option<&Value>) -> Option<i64> {
    let v = v?;
    let s = v
        .as_f64()
        .or_else(|| str_of(v)?.trim().parse::<f64>().ok())?;
    (s.is_finite() && s >= 0.0).then(|| (s * 1000.0).round() as i64)
}

fn bad_account(platform: Platform, channel: &Channel, what: &str) -> PlatformError {
    PlatformError {
        code: Some("BAD_ID".into()),
        message: format!(
            "channel {} has account_id \"{}\", which is not {what}; fix it with update_channel",
            channel.code, channel.account_id
        ),
        field_path: Some("account_id".into()),
        ..PlatformError::empty(platform)
    }
}

/// A `multipart/form-data` body. reqwest's multipart feature would pull another dependency
/// tree for what is a few lines of framing; names and file names here are our own
/// (sanitised), so no escaping is needed beyond dropping quotes and line breaks.
struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

impl Multipart {
    fn new() -> Self {
        Self {
            boundary: format!("omnitraffick{}", uuid::Uuid::new_v4().simple()),
            body: Vec::new(),
        }
    }

    fn clean(s: &str) -> String {
        s.chars()
            .filter(|c| !matches!(c, '"' | '\r' | '\n' | '\\'))
            .collect()
    }

    fn text(mut self, name: &str, value: &str) -> Self {
        let head = format!(
            "--{}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n",
            self.boundary,
            Self::clean(name)
        );
        self.body.extend_from_slice(head.as_bytes());
        self.body.extend_from_slice(value.as_bytes());
        self.body.extend_from_slice(b"\r\n");
        self
    }

    fn file(mut self, name: &str, file_name: &str, mime: &str, bytes: &[u8]) -> Self {
        let head = format!(
            "--{}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
            self.boundary,
            Self::clean(name),
            Self::clean(file_name),
            Self::clean(mime)
        );
        self.body.reserve(head.len() + bytes.len() + 64);
        self.body.extend_from_slice(head.as_bytes());
        self.body.extend_from_slice(bytes);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// The Content-Type header and the body.
    fn finish(mut self) -> (String, Vec<u8>) {
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        (
            format!("multipart/form-data; boundary={}", self.boundary),
            self.body,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_signature_is_lowercase_hex() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn multipart_frames_every_part() {
        let (ct, body) = Multipart::new()
            .text("a", "1")
            .file("f", "x\"y.png", "image/png", b"\x89PNG")
            .finish();
        let boundary = ct.split("boundary=").nth(1).unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.contains("name=\"f\"; filename=\"xy.png\""));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
    }

    #[test]
    fn durations_in_seconds_become_milliseconds() {
        assert_eq!(seconds_ms(Some(&json!(12.5))), Some(12_500));
        assert_eq!(seconds_ms(Some(&json!("3"))), Some(3_000));
        assert_eq!(seconds_ms(Some(&json!(-1))), None);
        assert_eq!(seconds_ms(Some(&json!("x"))), None);
    }
}
