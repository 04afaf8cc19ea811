//! Plain domain types and rules, no I/O. A value of one of these types is valid by
//! construction: every constructor that takes outside input checks it.

mod codes;
mod context;
mod currency;
mod entities;
mod proposal;
mod status;

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
