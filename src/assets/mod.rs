//! Creative assets: a registry of a brand's images and videos (one row per content hash),
//! uploads to each channel's platform with the platform's own spec checked first, and the
//! resolution of a spec's asset ids into each platform's ids.

pub mod lookups;
pub mod media;
pub mod registry;
pub mod specs;
pub mod zones;

pub use registry::{
    AssetOnChannel, AssetService, AssetSettings, AssetView, CreativeList, Progress, PutError,
    UploadOutcome, UploadRequest,
};
