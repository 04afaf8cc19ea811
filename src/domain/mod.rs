//! Plain domain types and rules, no I/O. A value of one of these types is valid by
//! construction: every constructor that takes outside input checks it.

mod change;
mod codes;
mod context;
mod currency;
mod entities;
mod proposal;
mod status;

pub use change::{ChangeKind, ChangeStatus};
pub use codes::{Code, CountryCode, MetaPixelId, TiktokPixelCode};
pub use context::{TicketContext, TicketContextRef};
pub use currency::{Currency, Money};
pub use entities::{
    Brand, Campaign, Channel, HistoryEntry, Market, Platform, RequestType, Ticket, TicketView,
};
pub use proposal::{ProposalStatus, Risk};
pub use status::TicketStatus;

/// Current time as fixed-width RFC 3339 UTC text (microseconds), which sorts correctly as text.
pub fn now_text() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// One of a fixed set of named values (`all`, named by `name`), matched without regard to
/// case or surrounding spaces; otherwise a VALIDATION error on `field` that lists them.
pub(crate) fn parse_named<T: Copy>(
    field: &str,
    raw: &str,
    all: &[T],
    name: fn(T) -> &'static str,
    what: &str,
) -> Result<T, crate::error::AppError> {
    all.iter()
        .copied()
        .find(|v| name(*v).eq_ignore_ascii_case(raw.trim()))
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|v| name(*v)).collect();
            crate::error::AppError::validation(
                field,
                format!(
                    "\"{}\" is not {what}; use one of {}",
                    raw.trim(),
                    names.join(", ")
                ),
            )
        })
}
