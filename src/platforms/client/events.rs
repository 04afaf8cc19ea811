//! Conversion events: the server-side batches sent to Meta CAPI and the TikTok Events API.

use std::time::Duration;

use serde_json::Value;

use super::{PlatformClients, PlatformError, meta, tiktok};
use crate::domain::Platform;

/// What a conversion-events destination answered.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsSent {
    pub events_received: Option<i64>,
    pub trace_id: Option<String>,
}

impl PlatformClients {
    /// Send a batch of server events: Meta CAPI (`POST /{version}/{pixel}/events`, form field
    /// `data`) or TikTok Events API 2.0 (`POST /open_api/v1.3/event/track/`). Credentials are
    /// the platform's, overridable per brand with a `_<BRAND_CODE>` suffix. 1.5 s timeout.
    pub async fn send_events(
        &self,
        platform: Platform,
        brand_code: &str,
        pixel: &str,
        data: &[Value],
        test_event_code: Option<&str>,
    ) -> Result<EventsSent, PlatformError> {
        match platform {
            Platform::Meta => {
                meta::send_events(self, brand_code, pixel, data, test_event_code).await
            }
            Platform::Tiktok => {
                tiktok::send_events(self, brand_code, pixel, data, test_event_code).await
            }
            Platform::GoogleAds => Err(PlatformError {
                message: "Google Ads is not a conversion-events destination here".into(),
                ..PlatformError::empty(Platform::GoogleAds)
            }),
        }
    }
}

/// Meta's suggested request timeout for conversion events.
pub(super) const EVENTS_TIMEOUT: Duration = Duration::from_millis(1500);
