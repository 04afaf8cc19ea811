//! What a file is, read from its own bytes (never from its name): an image's format and
//! pixel size from its header (the `imagesize` crate), a video's container and, for MP4 and
//! MOV, its duration and frame size from the `moov` box. Hostile input never panics: every
//! read is bounds-checked and anything unreadable is a refusal naming the field.

use crate::domain::AssetKind;
use crate::error::AppError;

/// Largest image accepted: Meta's 30 MB feed image limit (PLATFORMS.md K1) is the largest
/// any of the three platforms states for images.
pub const MAX_IMAGE_BYTES: usize = 30 * 1024 * 1024;
/// Largest video accepted: TikTok's 500 MB (K4). Meta takes more, but the whole file is held
/// in memory and in the registry, so this server stops here.
pub const MAX_VIDEO_BYTES: usize = 500 * 1024 * 1024;

/// A file's media facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub kind: AssetKind,
    /// jpeg, png, gif, webp, mp4, mov, m4v, avi, mpeg.
    pub format: String,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub duration_ms: Option<i64>,
}

impl Media {
    /// MIME type for multipart uploads.
    pub fn mime(&self) -> &'static str {
        match self.format.as_str() {
            "jpeg" => "image/jpeg",
            "png" => "image/png",
            "gif" => "image/gif",
            "webp" => "image/webp",
            "mp4" => "video/mp4",
            "mov" => "video/quicktime",
            "m4v" => "video/x-m4v",
            "avi" => "video/x-msvideo",
            "mpeg" => "video/mpeg",
            _ => "application/octet-stream",
        }
    }
}

/// Read what `bytes` is. `field` names the input in errors.
pub fn inspect(field: &str, bytes: &[u8]) -> Result<Media, AppError> {
    if bytes.is_empty() {
        return Err(AppError::validation(
            field,
            "is empty; send the file's bytes",
        ));
    }
    if let Some(format) = image_format(bytes) {
        if bytes.len() > MAX_IMAGE_BYTES {
            return Err(too_large(field, bytes.len(), MAX_IMAGE_BYTES, "an image"));
        }
        let size = imagesize::blob_size(bytes).map_err(|_| {
            AppError::validation(
                field,
                format!(
                    "looks like a {} image but its header cannot be read (the file is corrupt or cut short); export it again and upload the whole file",
                    format.to_ascii_uppercase()
                ),
            )
        })?;
        if size.width == 0 || size.height == 0 {
            return Err(AppError::validation(
                field,
                format!(
                    "is a {} image of {}x{} pixels, which no platform accepts; export it again",
                    format.to_ascii_uppercase(),
                    size.width,
                    size.height
                ),
            ));
        }
        return Ok(Media {
            kind: AssetKind::Image,
            format: format.into(),
            width: Some(size.width as i64),
            height: Some(size.height as i64),
            duration_ms: None,
        });
    }
    if let Some(format) = video_format(bytes) {
        if bytes.len() > MAX_VIDEO_BYTES {
            return Err(too_large(field, bytes.len(), MAX_VIDEO_BYTES, "a video"));
        }
        let facts = if matches!(format, "mp4" | "mov" | "m4v") {
            mp4_facts(bytes)
        } else {
            Mp4Facts::default()
        };
        return Ok(Media {
            kind: AssetKind::Video,
            format: format.into(),
            width: facts.width,
            height: facts.height,
            duration_ms: facts.duration_ms,
        });
    }
    Err(AppError::validation(
        field,
        "is neither an image (JPEG, PNG, GIF, WebP) nor a video (MP4, MOV, M4V, AVI, MPEG) by its content; check that the file is not corrupt and is one of these formats",
    ))
}

fn too_large(field: &str, len: usize, max: usize, what: &str) -> AppError {
    AppError::validation(
        field,
        format!(
            "is {len} bytes; {what} may be at most {max} bytes ({} MB) on this server",
            max / (1024 * 1024)
        ),
    )
}

/// The image format by its magic bytes.
fn image_format(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("jpeg")
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        Some("gif")
    } else if b.len() >= 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some("webp")
    } else {
        None
    }
}

/// The video container by its magic bytes.
fn video_format(b: &[u8]) -> Option<&'static str> {
    if b.len() >= 12 && &b[4..8] == b"ftyp" {
        return Some(match &b[8..12] {
            b"qt  " => "mov",
            b"M4V " | b"M4VH" | b"M4VP" => "m4v",
            _ => "mp4",
        });
    }
    // QuickTime files without ftyp start with a moov, mdat, wide or free atom.
    if b.len() >= 8 && matches!(&b[4..8], b"moov" | b"mdat" | b"wide" | b"free") {
        return Some("mov");
    }
    if b.len() >= 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"AVI " {
        return Some("avi");
    }
    if b.starts_with(&[0, 0, 1, 0xBA]) || b.starts_with(&[0, 0, 1, 0xB3]) {
        return Some("mpeg");
    }
    None
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Mp4Facts {
    width: Option<i64>,
    height: Option<i64>,
    duration_ms: Option<i64>,
}

/// Boxes directly inside `b`: (type, body). Stops at the first malformed box.
fn boxes(b: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        let head = b.get(pos..pos.checked_add(8)?)?;
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as u64;
        let kind = [head[4], head[5], head[6], head[7]];
        let (header, size) = match size32 {
            // 64-bit size follows the type.
            1 => {
                let ext = b.get(pos + 8..pos + 16)?;
                let mut s = [0u8; 8];
                s.copy_from_slice(ext);
                (16u64, u64::from_be_bytes(s))
            }
            // The box runs to the end of its parent.
            0 => (8u64, (b.len() - pos) as u64),
            s => (8u64, s),
        };
        if size < header {
            return None;
        }
        let end = pos.checked_add(usize::try_from(size).ok()?)?;
        let body = b.get(pos + header as usize..end)?;
        pos = end;
        Some((kind, body))
    })
}

fn be_u32(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as u64)
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at + 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_be_bytes(a))
}

/// Duration from `moov/mvhd` and the frame size from the first `moov/trak/tkhd` with a
/// non-zero size. Cheap: only box headers and two small boxes are read.
fn mp4_facts(b: &[u8]) -> Mp4Facts {
    let mut out = Mp4Facts::default();
    let Some((_, moov)) = boxes(b).find(|(k, _)| k == b"moov") else {
        return out;
    };
    for (kind, body) in boxes(moov) {
        match &kind {
            b"mvhd" => {
                let version = body.first().copied().unwrap_or(0);
                let (scale, duration) = if version == 1 {
                    (be_u32(body, 20), be_u64(body, 24))
                } else {
                    (be_u32(body, 12), be_u32(body, 16))
                };
                if let (Some(s), Some(d)) = (scale, duration)
                    && s > 0
                {
                    out.duration_ms = i64::try_from(d.saturating_mul(1000) / s).ok();
                }
            }
            b"trak" if out.width.is_none() => {
                if let Some((_, tkhd)) = boxes(body).find(|(k, _)| k == b"tkhd") {
                    let version = tkhd.first().copied().unwrap_or(0);
                    // Width and height are 16.16 fixed point at the end of the box.
                    let at = if version == 1 { 88 } else { 76 };
                    if let (Some(w), Some(h)) = (be_u32(tkhd, at), be_u32(tkhd, at + 4))
                        && w >> 16 > 0
                        && h >> 16 > 0
                    {
                        out.width = Some((w >> 16) as i64);
                        out.height = Some((h >> 16) as i64);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Build a minimal MP4 (ftyp + moov with mvhd and one video trak): for tests and examples.
pub fn minimal_mp4(width: u32, height: u32, duration_ms: u32, pad_to: usize) -> Vec<u8> {
    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }
    let mut mvhd = vec![0u8; 100];
    mvhd[12..16].copy_from_slice(&1000u32.to_be_bytes());
    mvhd[16..20].copy_from_slice(&duration_ms.to_be_bytes());
    let mut tkhd = vec![0u8; 84];
    tkhd[76..80].copy_from_slice(&(width << 16).to_be_bytes());
    tkhd[80..84].copy_from_slice(&(height << 16).to_be_bytes());
    let trak = bx(b"trak", &bx(b"tkhd", &tkhd));
    let mut moov_body = bx(b"mvhd", &mvhd);
    moov_body.extend(trak);
    let mut out = bx(b"ftyp", b"isom\0\0\x02\0isomiso2avc1mp41");
    out.extend(bx(b"moov", &moov_body));
    if out.len() + 8 < pad_to {
        out.extend(bx(b"mdat", &vec![0u8; pad_to - out.len() - 8]));
    }
    out
}

/// A PNG header (signature + IHDR) of `width` x `height`: enough for every header reader,
/// for tests and examples.
pub fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend_from_slice(&13u32.to_be_bytes());
    v.extend_from_slice(b"IHDR");
    v.extend_from_slice(&width.to_be_bytes());
    v.extend_from_slice(&height.to_be_bytes());
    v.extend_from_slice(&[8, 6, 0, 0, 0]);
    // CRC is not checked by header readers; zero keeps the helper dependency-free.
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(b"IEND");
    v.extend_from_slice(&[0xAE, 0x42, 0x60, 0x82]);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_read_from_their_header() {
        let m = inspect("f", &png_header(1080, 1080)).unwrap();
        assert_eq!(m.kind, AssetKind::Image);
        assert_eq!(m.format, "png");
        assert_eq!((m.width, m.height), (Some(1080), Some(1080)));
        // A PNG cut inside its header is refused, not guessed.
        let e = inspect("f", &png_header(10, 10)[..14]).unwrap_err();
        assert!(e.to_string().contains("corrupt"), "{e}");
        let e = inspect("f", b"hello world").unwrap_err();
        assert!(e.to_string().contains("neither an image"), "{e}");
        // A JPEG marker with garbage after it.
        let e = inspect("f", &[0xFF, 0xD8, 0xFF, 0x00, 0x01]).unwrap_err();
        assert!(e.to_string().contains("corrupt"), "{e}");
    }

    #[test]
    fn mp4_duration_and_size_come_from_moov() {
        let v = minimal_mp4(1080, 1920, 15_000, 4096);
        let m = inspect("f", &v).unwrap();
        assert_eq!(m.kind, AssetKind::Video);
        assert_eq!(m.format, "mp4");
        assert_eq!(m.duration_ms, Some(15_000));
        assert_eq!((m.width, m.height), (Some(1080), Some(1920)));
        assert!(v.len() >= 4096);
    }

    #[test]
    fn hostile_boxes_never_panic() {
        // Sizes that point past the end, zero, one with a short extension, huge.
        for bad in [
            b"\0\0\0\x08ftypisom\xff\xff\xff\xffmoov".to_vec(),
            b"\0\0\0\x10ftypisom\0\0\0\0\0\0\0\x01moov\0\0".to_vec(),
            b"\0\0\0\x0cftypqt  \0\0\0\0moov".to_vec(),
            b"\0\0\0\x0cftypisom\0\0\0\x03moov".to_vec(),
        ] {
            let _ = inspect("f", &bad);
        }
    }
}
