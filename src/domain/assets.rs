//! Creative assets as a ticket's translation sees them: for every asset id its spec names,
//! what the registry knows of it and its id on the ticket's channel, if it is there yet.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// IMAGE or VIDEO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AssetKind {
    Image,
    Video,
}

impl AssetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AssetKind::Image => "IMAGE",
            AssetKind::Video => "VIDEO",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "IMAGE" => Some(AssetKind::Image),
            "VIDEO" => Some(AssetKind::Video),
            _ => None,
        }
    }
}

/// One registered asset, as far as translation and QA need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedAsset {
    pub kind: AssetKind,
    /// jpeg, png, gif, webp, mp4, mov ...
    pub format: String,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub duration_ms: Option<i64>,
    /// Its id on the ticket's channel (Meta image hash or video_id, TikTok image_id or
    /// video_id, Google asset resource name) once uploaded and usable there.
    pub platform_id: Option<String>,
}

/// The assets a ticket's spec names, by asset id. An id the brand has no asset for is
/// absent: translation and QA say so.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedAssets {
    pub by_id: BTreeMap<String, ResolvedAsset>,
}

static NONE: ResolvedAssets = ResolvedAssets {
    by_id: BTreeMap::new(),
};

impl ResolvedAssets {
    /// No assets: for callers that build a translation input by hand.
    pub fn none() -> &'static ResolvedAssets {
        &NONE
    }

    pub fn get(&self, id: &str) -> Option<&ResolvedAsset> {
        self.by_id.get(id.trim())
    }
}

/// Placeholder a translator writes where an asset's platform id goes while the asset is not
/// yet on the channel; the deploy worker uploads it and fills it in before the request
/// leaves (preview_payloads shows it as is).
pub fn asset_placeholder(asset_id: &str) -> String {
    format!("{{{{asset:{}}}}}", asset_id.trim())
}
