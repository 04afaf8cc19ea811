//! What the governance service returns: lists, updates and what a rename would do.

use schemars::JsonSchema;
use serde::Serialize;

use crate::domain::{Brand, Campaign, Channel, Market, Ticket, TicketStatus};

#[derive(Debug, Serialize, JsonSchema)]
pub struct MarketList {
    pub markets: Vec<Market>,
}
#[derive(Debug, Serialize, JsonSchema)]
pub struct BrandList {
    pub brands: Vec<Brand>,
}
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChannelList {
    pub channels: Vec<Channel>,
}
#[derive(Debug, Serialize, JsonSchema)]
pub struct CampaignList {
    pub campaigns: Vec<Campaign>,
    /// Pass as `offset` to get the next page; absent on the last page.
    pub next_offset: Option<i64>,
}
#[derive(Debug, Serialize, JsonSchema)]
pub struct TicketList {
    pub tickets: Vec<Ticket>,
    /// Pass as `offset` to get the next page; absent on the last page.
    pub next_offset: Option<i64>,
}

/// One column of the console's board.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BoardColumn {
    /// draft, qa_failed, ready, deploying, live, failed or fix_proposed.
    pub id: &'static str,
    pub title: &'static str,
    /// The ticket states the column holds.
    pub statuses: Vec<&'static str>,
}

/// The trafficking board: tickets by column, newest first, cancelled ones left out.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Board {
    pub columns: Vec<BoardColumn>,
    pub cards: Vec<crate::store::BoardCard>,
    /// More tickets match than the board shows (the newest 500 are shown); narrow the filters.
    pub truncated: bool,
    /// The newest ticket history id when the board was read: pass it as `Last-Event-ID` to
    /// `/api/v1/events` to get every change after it.
    pub last_event_id: i64,
}

/// A ticket whose name a code change affects.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TicketRename {
    pub ticket_id: i64,
    pub status: TicketStatus,
    pub current_name: String,
    /// The name it would get; equal to current_name for live tickets, which keep theirs.
    pub new_name: String,
}

/// What changing a governed code would do.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RenameImpact {
    pub segment: String,
    pub code: String,
    pub new_code: String,
    /// Campaigns that use the code (their free-text names do not change).
    pub campaign_ids: Vec<i64>,
    /// Tickets not yet sent to a platform: they are renamed.
    pub renamed_tickets: Vec<TicketRename>,
    /// Tickets already queued, deployed or past: they keep their names, since the
    /// platform objects already carry them.
    pub unchanged_live_tickets: Vec<TicketRename>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MarketUpdate {
    pub market: Market,
    /// Present when the code changed.
    pub rename: Option<RenameImpact>,
}
#[derive(Debug, Serialize, JsonSchema)]
pub struct BrandUpdate {
    pub brand: Brand,
    pub rename: Option<RenameImpact>,
}
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChannelUpdate {
    pub channel: Channel,
    pub rename: Option<RenameImpact>,
}
#[derive(Debug, Serialize, JsonSchema)]
pub struct CampaignUpdate {
    pub campaign: Campaign,
    /// Draft tickets renamed because the name or year changed.
    pub renamed_tickets: Vec<TicketRename>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct NamePreview {
    /// The name the platform objects would get.
    pub name: String,
    pub convention: String,
    pub segments: Vec<crate::taxonomy::ParsedSegment>,
}
