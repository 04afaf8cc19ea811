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
}
