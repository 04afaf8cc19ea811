//! PLACEHOLDER interface while the platform half is built on branch live-platforms; replaced
//! on merge.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::TranslatedPayloads;
use super::client::{PlatformClients, PlatformError};
use crate::domain::{Channel, Platform};
use crate::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Level {
    Campaign,
    AdSet,
    Ad,
    Budget,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectUpdate {
    pub object: String,
    pub id: String,
    pub level: Level,
    pub fields: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveStatus {
    Active,
    Paused,
}

pub fn plan_status(
    _platform: Platform,
    _external_ids: &Map<String, Value>,
    _to: LiveStatus,
) -> Result<Vec<ObjectUpdate>, AppError> {
    Err(AppError::Internal("not built".into()))
}

pub fn plan_edit(
    _platform: Platform,
    _before: &TranslatedPayloads,
    _after: &TranslatedPayloads,
    _external_ids: &Map<String, Value>,
) -> Result<Vec<ObjectUpdate>, AppError> {
    Err(AppError::Internal("not built".into()))
}

#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    Written { fields: Vec<String> },
    AlreadyHeld,
}

impl PlatformClients {
    pub async fn read_object(
        &self,
        channel: &Channel,
        _update: &ObjectUpdate,
    ) -> Result<Map<String, Value>, PlatformError> {
        Err(PlatformError::empty(channel.platform))
    }

    pub async fn apply_update(
        &self,
        channel: &Channel,
        _update: &ObjectUpdate,
    ) -> Result<Applied, PlatformError> {
        Err(PlatformError::empty(channel.platform))
    }
}
