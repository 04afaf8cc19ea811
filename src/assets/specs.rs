//! Each platform's rules for an uploaded file, checked before anything is sent, with a
//! refusal that names the rule. Numbers come from PLATFORMS.md K (marked there ✅ or 🟡);
//! where K states none, the bound is conservative and marked unconfirmed here.

use crate::assets::media::Media;
use crate::domain::{AssetKind, Platform};
use crate::error::AppError;

const MB: usize = 1024 * 1024;

/// Why a file does not fit: the rule and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

/// Check `media` of `len` bytes against `platform`'s upload rules.
pub fn check_upload(platform: Platform, media: &Media, len: usize) -> Result<(), Refusal> {
    match (platform, media.kind) {
        (Platform::Meta, AssetKind::Image) => meta_image(media, len),
        (Platform::Meta, AssetKind::Video) => meta_video(media),
        (Platform::Tiktok, AssetKind::Image) => tiktok_image(media),
        (Platform::Tiktok, AssetKind::Video) => tiktok_video(media),
        (Platform::GoogleAds, AssetKind::Image) => google_image(media, len),
        (Platform::GoogleAds, AssetKind::Video) => Err(Refusal(
            "Google Ads takes videos only as YouTube video assets (youtubeVideoAsset with the video's YouTube id), not as uploaded files (PLATFORMS.md K6); upload the video to YouTube and reference it there".into(),
        )),
    }
}

/// The same check as an input error on `field`.
pub fn check_upload_for(
    field: &str,
    platform: Platform,
    media: &Media,
    len: usize,
) -> Result<(), AppError> {
    check_upload(platform, media, len).map_err(|Refusal(r)| AppError::validation(field, r))
}

fn dims(m: &Media) -> Option<(i64, i64)> {
    Some((m.width?, m.height?)).filter(|(w, h)| *w > 0 && *h > 0)
}

/// Meta feed image (K1, 🟡 M-SPECS): JPG or PNG, at most 30 MB, at least 600 x 600 px,
/// width:height from 4:5 to 1.91:1 with a 3% tolerance.
fn meta_image(m: &Media, len: usize) -> Result<(), Refusal> {
    if !matches!(m.format.as_str(), "jpeg" | "png") {
        return Err(Refusal(format!(
            "Meta feed images must be JPG or PNG; this is {}. Export it as JPG or PNG",
            m.format.to_ascii_uppercase()
        )));
    }
    if len > 30 * MB {
        return Err(Refusal(format!(
            "Meta feed images may be at most 30 MB; this is {len} bytes"
        )));
    }
    let Some((w, h)) = dims(m) else {
        return Err(Refusal("the image's size could not be read".into()));
    };
    if w < 600 || h < 600 {
        return Err(Refusal(format!(
            "Meta feed images must be at least 600 x 600 pixels; this is {w} x {h}. Use 1080 x 1080 (1:1)"
        )));
    }
    let r = w as f64 / h as f64;
    if !(0.8 * 0.97..=1.91 * 1.03).contains(&r) {
        return Err(Refusal(format!(
            "Meta feed images must be between 4:5 and 1.91:1 (width:height, 3% tolerance); this is {w} x {h} ({r:.2}:1). Crop it to 1:1 (1080 x 1080) or 1.91:1 (1200 x 628)"
        )));
    }
    Ok(())
}

/// Meta video (K2): containers from Meta's list (✅), width:height from 9:16 to 16:9 (✅),
/// 1 s to 241 min (🟡 M-SPECS). The 4 GB cap is above this server's own limit.
fn meta_video(m: &Media) -> Result<(), Refusal> {
    if !matches!(m.format.as_str(), "mp4" | "mov" | "m4v" | "avi" | "mpeg") {
        return Err(Refusal(format!(
            "Meta takes mp4, mov, m4v, mpeg/mpg and avi videos among others; {} is not supported here",
            m.format
        )));
    }
    if let Some((w, h)) = dims(m) {
        let r = w as f64 / h as f64;
        if !(9.0 / 16.0 * 0.99..=16.0 / 9.0 * 1.01).contains(&r) {
            return Err(Refusal(format!(
                "Meta video aspect ratio must be between 9:16 and 16:9; this is {w} x {h}"
            )));
        }
    }
    if let Some(d) = m.duration_ms
        && !(1_000..=241 * 60_000).contains(&d)
    {
        return Err(Refusal(format!(
            "Meta feed videos must run 1 second to 241 minutes; this runs {:.1} s",
            d as f64 / 1000.0
        )));
    }
    Ok(())
}

/// TikTok image (K3, 🟡 TT-GO): JPG or PNG, at most 3,686,400 pixels (1440 x 2560). The
/// 50 MB recommendation is above this server's 30 MB image limit. No ratio is stated.
fn tiktok_image(m: &Media) -> Result<(), Refusal> {
    if !matches!(m.format.as_str(), "jpeg" | "png") {
        return Err(Refusal(format!(
            "TikTok images must be JPG, JPEG or PNG; this is {}",
            m.format.to_ascii_uppercase()
        )));
    }
    if let Some((w, h)) = dims(m)
        && w.saturating_mul(h) > 3_686_400
    {
        return Err(Refusal(format!(
            "TikTok images may have at most 3,686,400 pixels (e.g. 1440 x 2560); this is {w} x {h}"
        )));
    }
    Ok(())
}

/// TikTok video (K4, 🟡 TT-GO): mp4, mov, mpeg or avi, at most 500 MB (this server's video
/// limit too), ratio 9:16, 16:9 or 1:1. The 3% tolerance is ours (TikTok states none), and
/// so is not checking duration: K states no TikTok duration limit.
fn tiktok_video(m: &Media) -> Result<(), Refusal> {
    if !matches!(m.format.as_str(), "mp4" | "mov" | "mpeg" | "avi") {
        return Err(Refusal(format!(
            "TikTok videos must be mp4, mov, mpeg or avi; this is {}",
            m.format
        )));
    }
    if let Some((w, h)) = dims(m) {
        let r = w as f64 / h as f64;
        let fits = [9.0 / 16.0, 16.0 / 9.0, 1.0]
            .iter()
            .any(|t| (r / t - 1.0).abs() <= 0.03);
        if !fits {
            return Err(Refusal(format!(
                "TikTok videos must be 9:16, 16:9 or 1:1; this is {w} x {h}. Re-export it at 1080 x 1920 (9:16)"
            )));
        }
    }
    Ok(())
}

/// Google image asset (K5/K7): GIF, JPEG or PNG (✅), at most 5 MB (🟡 MUREO), and a shape a
/// responsive display ad takes (✅ K7): 1.91:1, 1:1 or 4:1 within 1% at its minimum size.
fn google_image(m: &Media, len: usize) -> Result<(), Refusal> {
    if !matches!(m.format.as_str(), "jpeg" | "png" | "gif") {
        return Err(Refusal(format!(
            "Google Ads image assets must be JPEG, PNG or GIF; this is {}",
            m.format.to_ascii_uppercase()
        )));
    }
    if len > 5 * MB {
        return Err(Refusal(format!(
            "Google Ads image assets may be at most 5 MB; this is {len} bytes"
        )));
    }
    let Some((w, h)) = dims(m) else {
        return Err(Refusal("the image's size could not be read".into()));
    };
    if crate::platforms::google_ads::display_image_slot(w, h).is_none() {
        return Err(Refusal(format!(
            "Google Ads display images must be 1.91:1 (at least 600 x 314), 1:1 (at least 300 x 300) or a 4:1 logo (at least 512 x 128), each within 1%; this is {w} x {h}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(format: &str, w: i64, h: i64) -> Media {
        Media {
            kind: AssetKind::Image,
            format: format.into(),
            width: Some(w),
            height: Some(h),
            duration_ms: None,
        }
    }

    #[test]
    fn each_platform_names_its_rule() {
        assert!(check_upload(Platform::Meta, &img("png", 1080, 1080), 1000).is_ok());
        let Refusal(r) = check_upload(Platform::Meta, &img("png", 1800, 600), 1000).unwrap_err();
        assert!(r.contains("4:5 and 1.91:1"), "{r}");
        let Refusal(r) = check_upload(Platform::Meta, &img("gif", 1080, 1080), 1).unwrap_err();
        assert!(r.contains("JPG or PNG"), "{r}");
        let Refusal(r) = check_upload(Platform::Meta, &img("png", 500, 500), 1).unwrap_err();
        assert!(r.contains("600 x 600"), "{r}");
        assert!(check_upload(Platform::GoogleAds, &img("png", 1200, 628), 1).is_ok());
        let Refusal(r) =
            check_upload(Platform::GoogleAds, &img("png", 1200, 628), 6 * MB).unwrap_err();
        assert!(r.contains("5 MB"), "{r}");
        let Refusal(r) = check_upload(Platform::GoogleAds, &img("png", 1000, 700), 1).unwrap_err();
        assert!(r.contains("1.91:1"), "{r}");
        let Refusal(r) = check_upload(Platform::Tiktok, &img("png", 3000, 3000), 1).unwrap_err();
        assert!(r.contains("3,686,400"), "{r}");
        let v = Media {
            kind: AssetKind::Video,
            format: "mp4".into(),
            width: Some(1000),
            height: Some(700),
            duration_ms: Some(5000),
        };
        let Refusal(r) = check_upload(Platform::Tiktok, &v, 1).unwrap_err();
        assert!(r.contains("9:16, 16:9 or 1:1"), "{r}");
        assert!(check_upload(Platform::Meta, &v, 1).is_ok());
        assert!(check_upload(Platform::GoogleAds, &v, 1).is_err());
    }
}
