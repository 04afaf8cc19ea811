//! Placeholder until the translator lands in this same change; it refuses plainly.

use super::{TranslatedPayloads, TranslationInput, Translator};
use crate::domain::Platform;
use crate::error::AppError;

pub struct GoogleAdsTranslator {
    #[allow(dead_code)]
    version: String,
}

impl GoogleAdsTranslator {
    pub fn new(version: &str) -> Self {
        Self {
            version: version.to_owned(),
        }
    }
}

impl Translator for GoogleAdsTranslator {
    fn platform(&self) -> Platform {
        Platform::GoogleAds
    }

    fn translate(&self, _input: &TranslationInput<'_>) -> Result<TranslatedPayloads, AppError> {
        Err(AppError::validation(
            "channel_code",
            "this platform's translator is not built yet",
        ))
    }
}
