use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::AppError;

/// A governed code (market, brand, channel): 1 to 16 upper-case ASCII letters or digits.
/// Codes appear inside campaign names, so they may not contain separators.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(transparent)]
pub struct Code(String);

impl Code {
    pub const MAX_LEN: usize = 16;

    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(AppError::validation(
                field,
                "must not be empty; use 1 to 16 upper-case letters or digits, e.g. \"US\"",
            ));
        }
        if trimmed.len() > Self::MAX_LEN {
            return Err(AppError::validation(
                field,
                format!(
                    "\"{trimmed}\" is {} characters long; use at most {} upper-case letters or digits",
                    trimmed.len(),
                    Self::MAX_LEN
                ),
            ));
        }
        if !trimmed
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            let suggestion: String = trimmed
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_uppercase())
                .collect();
            let hint = if suggestion.is_empty() {
                String::new()
            } else {
                format!(" (did you mean \"{suggestion}\"?)")
            };
            return Err(AppError::validation(
                field,
                format!(
                    "\"{trimmed}\" may contain only upper-case letters A-Z and digits 0-9{hint}"
                ),
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// ISO 3166-1 alpha-2 country code, upper case ("US", "GB").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CountryCode(String);

impl CountryCode {
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        let up = raw.trim().to_ascii_uppercase();
        if up.len() != 2 || !up.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(AppError::validation(
                field,
                format!(
                    "\"{raw}\" is not an ISO 3166-1 alpha-2 country code; use two letters such as \"US\" or \"GB\""
                ),
            ));
        }
        Ok(Self(up))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Meta pixel (dataset) id: 5 to 20 digits. It is written into the browser snippet and
/// the CAPI URL, so nothing else may get in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaPixelId(String);

impl MetaPixelId {
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        let id = raw.trim();
        if (5..=20).contains(&id.len()) && id.chars().all(|c| c.is_ascii_digit()) {
            return Ok(Self(id.to_owned()));
        }
        Err(AppError::validation(
            field,
            "a Meta pixel (dataset) id is 5 to 20 digits, e.g. \"1234567890123456\" (Events Manager shows it)",
        ))
    }

    /// An optional input as create_brand and update_brand take it: absent stays absent,
    /// blank (remove the pixel) stays blank, anything else must parse.
    pub fn parse_input(field: &str, raw: Option<String>) -> Result<Option<String>, AppError> {
        parse_optional(raw, |r| Self::parse(field, r).map(|p| p.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A TikTok pixel code: 12 to 32 upper-case letters and digits (TikTok's are 20, e.g.
/// "C4ABCDEFGH1234567890").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TiktokPixelCode(String);

impl TiktokPixelCode {
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        let code = raw.trim();
        if (12..=32).contains(&code.len())
            && code
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            return Ok(Self(code.to_owned()));
        }
        Err(AppError::validation(
            field,
            "a TikTok pixel code is 12 to 32 upper-case letters and digits, e.g. \"C4ABCDEFGH1234567890\" (Events Manager shows it)",
        ))
    }

    /// As [`MetaPixelId::parse_input`].
    pub fn parse_input(field: &str, raw: Option<String>) -> Result<Option<String>, AppError> {
        parse_optional(raw, |r| Self::parse(field, r).map(|p| p.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn parse_optional(
    raw: Option<String>,
    parse: impl FnOnce(&str) -> Result<String, AppError>,
) -> Result<Option<String>, AppError> {
    match raw {
        Some(r) if !r.trim().is_empty() => parse(&r).map(Some),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_accept_upper_alnum_only() {
        assert_eq!(Code::parse("code", " DIS ").unwrap().as_str(), "DIS");
        assert!(Code::parse("code", "US2").is_ok());
        let err = Code::parse("code", "dis-x").unwrap_err().to_string();
        assert!(err.contains("did you mean \"DISX\""), "{err}");
        assert!(Code::parse("code", "").is_err());
        assert!(Code::parse("code", "ABCDEFGHIJKLMNOPQ").is_err());
        assert!(Code::parse("code", "A_B").is_err());
    }

    #[test]
    fn country_codes_are_normalised() {
        assert_eq!(CountryCode::parse("country", "us").unwrap().as_str(), "US");
        assert!(CountryCode::parse("country", "USA").is_err());
        assert!(CountryCode::parse("country", "U1").is_err());
    }

    #[test]
    fn pixel_ids_are_digits_and_pixel_codes_upper_alnum() {
        assert_eq!(
            MetaPixelId::parse("p", " 1234567890123456 ")
                .unwrap()
                .as_str(),
            "1234567890123456"
        );
        for bad in ["1234", "123456789012345678901", "12a45", "1</script>", ""] {
            let e = MetaPixelId::parse("meta_pixel_id", bad).unwrap_err();
            assert_eq!(e.field(), Some("meta_pixel_id"), "{bad}");
        }
        assert!(TiktokPixelCode::parse("p", "C4ABCDEFGH12345678").is_ok());
        for bad in [
            "c4abcdefgh12345678",
            "C4ABC",
            "C4AB<!--CDEFGH",
            "C4ABCDEFGH 12345678",
        ] {
            let e = TiktokPixelCode::parse("tiktok_pixel_code", bad).unwrap_err();
            assert_eq!(e.field(), Some("tiktok_pixel_code"), "{bad}");
        }
        // Absent keeps, blank removes, anything else is checked.
        assert_eq!(MetaPixelId::parse_input("p", None).unwrap(), None);
        assert_eq!(
            MetaPixelId::parse_input("p", Some(" ".into())).unwrap(),
            Some(" ".into())
        );
        assert!(TiktokPixelCode::parse_input("p", Some("x".into())).is_err());
    }
}
