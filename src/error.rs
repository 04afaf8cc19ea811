//! The domain error every service returns. Each edge maps it once: MCP turns it into a tool
//! error (`isError: true`) with a structured body, HTTP into a status code and the JSON error
//! shape. Messages are written for the person (or model) who has to fix the input.

use serde::Serialize;

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    /// Input that can never be right as given: wrong format, out of range, missing.
    #[error("{field}: {message}")]
    Validation { field: String, message: String },

    /// A referenced thing does not exist.
    #[error("{entity} {key} not found{}", hint_suffix(.hint))]
    NotFound {
        entity: &'static str,
        key: String,
        /// The input field that carried the reference.
        field: Option<String>,
        hint: Option<String>,
    },

    /// Valid input that collides with existing state (duplicate code, archived reference,
    /// referenced row that cannot be removed, stale edit).
    #[error("{message}")]
    Conflict {
        field: Option<String>,
        message: String,
    },

    /// A ticket state change the state machine does not allow.
    #[error("{message}")]
    InvalidTransition { message: String },

    /// Authenticated, but the role may not do this.
    #[error("{0}")]
    Forbidden(String),

    /// No valid credentials.
    #[error("{0}")]
    Unauthorized(String),

    /// The server will not take this on now (a limit is reached, it took too long); the
    /// message says which limit and what to do.
    #[error("{0}")]
    Unavailable(String),

    /// Something broke on our side. The text is logged, never shown to callers.
    #[error("internal error: {0}")]
    Internal(String),
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!(": {h}")).unwrap_or_default()
}

/// The stable, serialisable shape of an error, shared by MCP tool errors and REST responses.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ErrorBody {
    /// Machine-readable class: VALIDATION, NOT_FOUND, CONFLICT, INVALID_TRANSITION,
    /// FORBIDDEN, UNAUTHORIZED, UNAVAILABLE, INTERNAL.
    pub code: &'static str,
    /// What went wrong and how to fix it.
    pub message: String,
    /// The input field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl AppError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn not_found(entity: &'static str, key: impl std::fmt::Display) -> Self {
        Self::NotFound {
            entity,
            key: key.to_string(),
            field: None,
            hint: None,
        }
    }

    /// Attach the input field and a hint on how to find valid values.
    pub fn with_field(self, field_name: impl Into<String>, hint_text: impl Into<String>) -> Self {
        match self {
            Self::NotFound { entity, key, .. } => Self::NotFound {
                entity,
                key,
                field: Some(field_name.into()),
                hint: Some(hint_text.into()),
            },
            other => other,
        }
    }

    pub fn conflict(field: Option<&str>, message: impl Into<String>) -> Self {
        Self::Conflict {
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation { .. } => "VALIDATION",
            Self::NotFound { .. } => "NOT_FOUND",
            Self::Conflict { .. } => "CONFLICT",
            Self::InvalidTransition { .. } => "INVALID_TRANSITION",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::Unauthorized(_) => "UNAUTHORIZED",
            Self::Unavailable(_) => "UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Validation { field, .. } => Some(field),
            Self::NotFound { field, .. } | Self::Conflict { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// The body callers see. Internal errors are replaced by a generic text.
    pub fn body(&self) -> ErrorBody {
        let message = match self {
            Self::Internal(_) => {
                "internal error; the server log has the details (retrying may help)".to_owned()
            }
            other => other.to_string(),
        };
        ErrorBody {
            code: self.code(),
            message,
            field: self.field().map(str::to_owned),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(format!("database: {e}"))
    }
}

impl From<sqlx::migrate::MigrateError> for AppError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self::Internal(format!("migration: {e}"))
    }
}

pub type AppResult<T> = Result<T, AppError>;
