//! A ticket together with everything it references, as one value instead of five.

use super::{Brand, Campaign, Channel, Market, ResolvedAssets, Ticket};

/// A ticket with its campaign, the campaign's brand and market, and the ticket's channel:
/// what QA checks and the translators read. Owned, so it can move to the blocking thread QA
/// runs on; `Governance::ticket_context` loads it, and `translate` (next to the translators,
/// in `platforms`) turns it into the requests it would send.
#[derive(Debug, Clone)]
pub struct TicketContext {
    pub ticket: Ticket,
    pub campaign: Campaign,
    pub brand: Brand,
    pub market: Market,
    pub channel: Channel,
    /// The creative assets the spec names, with their ids on this channel.
    pub assets: ResolvedAssets,
}

/// The same five, borrowed: what QA rules take, so a check can run on parts it does not own.
#[derive(Debug, Clone, Copy)]
pub struct TicketContextRef<'a> {
    pub ticket: &'a Ticket,
    pub campaign: &'a Campaign,
    pub brand: &'a Brand,
    pub market: &'a Market,
    pub channel: &'a Channel,
    /// The creative assets the spec names ([`ResolvedAssets::none`] when there are none).
    pub assets: &'a ResolvedAssets,
}

impl TicketContext {
    pub fn view(&self) -> TicketContextRef<'_> {
        TicketContextRef {
            ticket: &self.ticket,
            campaign: &self.campaign,
            brand: &self.brand,
            market: &self.market,
            channel: &self.channel,
            assets: &self.assets,
        }
    }
}
