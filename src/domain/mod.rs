//! Plain domain types and rules, no I/O. A value of one of these types is valid by
//! construction: every constructor that takes outside input checks it.

pub mod assets;
mod change;
mod codes;
mod context;
mod currency;
mod entities;
mod proposal;
mod status;

pub use assets::{AssetKind, ResolvedAsset, ResolvedAssets};
pub use change::{ChangeKind, ChangeStatus};
pub use codes::{Code, CountryCode, MetaPixelId, TiktokPixelCode};
pub use context::{TicketContext, TicketContextRef};
pub use currency::{Currency, Money};
pub use entities::{
    Brand, Campaign, Channel, HistoryEntry, Market, Platform, RequestType, Ticket, TicketView,
};
pub use proposal::{ProposalStatus, Risk};
pub use status::TicketStatus;

/// A time as fixed-width RFC 3339 UTC text (microseconds), which sorts correctly as text:
/// how the store keeps every timestamp.
pub fn time_text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The current time as [`time_text`].
pub fn now_text() -> String {
    time_text(chrono::Utc::now())
}

/// `d` from now as [`time_text`] (a due time, an expiry).
pub fn text_in(d: std::time::Duration) -> String {
    let d = chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX);
    time_text(
        chrono::Utc::now()
            .checked_add_signed(d)
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC),
    )
}

/// `d` ago as [`time_text`] (a staleness or retention cut-off).
pub fn text_ago(d: std::time::Duration) -> String {
    let d = chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX);
    time_text(
        chrono::Utc::now()
            .checked_sub_signed(d)
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC),
    )
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
