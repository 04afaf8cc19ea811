//! Placeholder until the translator lands in this same change; it refuses plainly.

use super::{TranslatedPayloads, TranslationInput, Translator};
use crate::domain::Platform;
use crate::error::AppError;

pub struct TiktokTranslator {
    #[allow(dead_code)]
    version: String,
}

impl TiktokTranslator {
    pub fn new(version: &str) -> Self {
        Self {
            version: version.to_owned(),
        }
    }
}

impl Translator for TiktokTranslator {
    fn platform(&self) -> Platform {
        Platform::Tiktok
    }

    fn translate(&self, _input: &TranslationInput<'_>) -> Result<TranslatedPayloads, AppError> {
        Err(AppError::validation(
            "channel_code",
            "this platform's translator is not built yet",
        ))
    }
}
