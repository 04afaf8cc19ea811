//! The governance service's ticket operations. Every write goes through `crate::tickets`,
//! the one writer of the tickets table.

use std::sync::Arc;

use sqlx::AnyConnection;

use super::{
    CreateTicketInput, Governance, ListTicketsInput, TicketList, UpdateTicketInput, batch,
    campaign_missing, missing, must, must_campaign, must_ticket, next_offset, not_archived, page,
};
use crate::auth::Principal;
use crate::domain::{
    Brand, Channel, Code, Market, RequestType, Ticket, TicketContext, TicketStatus, TicketView,
};
use crate::error::{AppError, AppResult};
use crate::store::{self, NewTicket, TicketFilter, TicketParents};
use crate::taxonomy::NameParts;
use crate::tickets;

impl Governance {
    /// Refused unless the caller's key covers the ticket's brand (unknown tickets: not found).
    pub async fn authorize_ticket(&self, who: &Principal, ticket_id: i64) -> AppResult<()> {
        if who.brands().is_none() {
            return Ok(());
        }
        let mut c = self.conn().await?;
        let brand = store::ticket_brand(&mut c, ticket_id)
            .await?
            .ok_or_else(|| {
                AppError::not_found("ticket", ticket_id)
                    .with_field("ticket_id", "list_tickets shows the ids")
            })?;
        who.require_brand(&brand)
    }

    /// A ticket with its history, refused unless the caller's key covers its brand.
    pub async fn get_ticket_for(&self, who: &Principal, id: i64) -> AppResult<TicketView> {
        self.authorize_ticket(who, id).await?;
        self.get_ticket(id).await
    }

    /// Refused unless the caller's key covers the campaign's brand.
    pub async fn authorize_campaign(&self, who: &Principal, campaign_id: i64) -> AppResult<()> {
        if who.brands().is_none() {
            return Ok(());
        }
        let mut c = self.conn().await?;
        let brand = store::campaign_brand(&mut c, campaign_id)
            .await?
            .ok_or_else(|| {
                AppError::not_found("campaign", campaign_id)
                    .with_field("campaign_id", "list_campaigns shows the ids")
            })?;
        who.require_brand(&brand)
    }

    /// Tickets the caller may see (a brand-scoped key sees only its brands').
    pub async fn list_tickets(
        &self,
        who: &Principal,
        input: ListTicketsInput,
    ) -> AppResult<TicketList> {
        let (limit, offset) = page(input.limit, input.offset)?;
        let mut c = self.conn().await?;
        let channel_id = match &input.channel_code {
            Some(code) => Some(must::<Channel>(&mut c, "channel_code", code).await?.id),
            None => None,
        };
        let status = input
            .status
            .as_deref()
            .map(|s| TicketStatus::parse("status", s))
            .transpose()?;
        let filter = TicketFilter {
            campaign_id: input.campaign_id,
            brands: who.brands(),
            channel_id,
            status,
            limit,
            offset,
        };
        let tickets = store::list_tickets(&mut c, &filter).await?;
        let next_offset = next_offset(tickets.len(), limit, offset);
        Ok(TicketList {
            tickets,
            next_offset,
        })
    }

    /// The board: the newest tickets the caller may see, by column, optionally only one
    /// brand's, market's or channel's (codes; an unknown code is an error naming it).
    pub async fn board(
        &self,
        who: &Principal,
        brand: Option<&str>,
        market: Option<&str>,
        channel: Option<&str>,
    ) -> AppResult<super::Board> {
        const SHOWN: i64 = 500;
        let mut c = self.conn().await?;
        // The history id first: a change after it reaches the event stream, never neither.
        let last_event_id = store::latest_ticket_history_id(self.db()).await?;
        // The key's scope first: a scoped key learns nothing about other brands' codes.
        let brand = match brand {
            Some(b) => {
                who.require_brand(Code::parse("brand", b)?.as_str())?;
                Some(must::<Brand>(&mut c, "brand", b).await?.code)
            }
            None => None,
        };
        let market = match market {
            Some(m) => Some(must::<Market>(&mut c, "market", m).await?.code),
            None => None,
        };
        let channel = match channel {
            Some(ch) => Some(must::<Channel>(&mut c, "channel", ch).await?.code),
            None => None,
        };
        let filter = store::BoardFilter {
            brands: who.brands(),
            brand: brand.as_deref(),
            market: market.as_deref(),
            channel: channel.as_deref(),
            limit: SHOWN + 1,
        };
        let mut cards = store::board_cards(&mut c, &filter).await?;
        let truncated = cards.len() as i64 > SHOWN;
        cards.truncate(SHOWN as usize);
        let columns = TicketStatus::board_columns()
            .into_iter()
            .map(|(id, title, statuses)| super::BoardColumn {
                id,
                title,
                statuses,
            })
            .collect();
        Ok(super::Board {
            columns,
            cards,
            truncated,
            last_event_id,
        })
    }

    pub async fn get_ticket(&self, id: i64) -> AppResult<TicketView> {
        let mut c = self.conn().await?;
        let ticket = must_ticket(&mut c, id).await?;
        let history = store::ticket_history(&mut c, id).await?;
        Ok(TicketView { ticket, history })
    }

    pub async fn create_ticket(
        &self,
        actor: &Principal,
        input: CreateTicketInput,
    ) -> AppResult<Ticket> {
        let request_type = match &input.request_type {
            Some(r) => RequestType::parse_for_ticket("request_type", r)?,
            None => RequestType::NewCampaign,
        };
        let payload = input
            .payload_config
            .unwrap_or_else(|| serde_json::json!({}));
        if !payload.is_object() {
            return Err(AppError::validation(
                "payload_config",
                "must be a JSON object, e.g. {\"objective\": \"TRAFFIC\"}",
            ));
        }
        crate::platforms::spec::check_bounds(&payload)?;
        let channel_code = Code::parse("channel_code", &input.channel_code)?;
        let payload_text = payload.to_string();
        // As a rule nothing is read first: the campaign and channel facts are remembered
        // (`parents`) and the insert checks them again. Tickets asked for together are
        // written in one round trip (`batch`).
        let mut read_again = false;
        if let Some(parents) = self.parents.get(input.campaign_id, channel_code.as_str()) {
            let name = self.name_of(&parents)?;
            let wanted = batch::Wanted {
                parents: parents.clone(),
                request_type,
                payload_config: payload_text.clone(),
                platform_name: name.clone(),
                actor: actor.name.clone(),
            };
            if let Some((id, at)) = self.batch.create(wanted).await? {
                return Ok(new_ticket(&parents, id, at, name, request_type, payload));
            }
            // The campaign or channel changed since its facts were read: read them again
            // (which names what is now wrong with them, if anything) and try once more.
            self.parents
                .forget(input.campaign_id, channel_code.as_str());
            read_again = true;
        }
        // One round trip writes the ticket with its history row, after the read. Nothing can
        // fail after it: on PostgreSQL no BEGIN and COMMIT.
        let mut tx = self.db.begin_write_one().await?;
        let mut parents = self
            .read_parents(&mut tx, input.campaign_id, &channel_code)
            .await?;
        let (id, created_at, name) = loop {
            let name = self.name_of(&parents)?;
            let new = NewTicket {
                parents: &parents,
                request_type,
                payload_config: &payload_text,
                platform_name: &name,
                actor: &actor.name,
            };
            if let Some((id, at)) = tickets::create_one(&mut tx, new).await? {
                break (id, at, name);
            }
            self.parents
                .forget(input.campaign_id, channel_code.as_str());
            if read_again {
                return Err(AppError::conflict(
                    Some("campaign_id"),
                    format!(
                        "campaign {} or channel {channel_code} changed while the ticket was being created; try again",
                        input.campaign_id
                    ),
                ));
            }
            read_again = true;
            parents = self
                .read_parents(&mut tx, input.campaign_id, &channel_code)
                .await?;
        };
        tx.commit().await?;
        Ok(new_ticket(
            &parents,
            id,
            created_at,
            name,
            request_type,
            payload,
        ))
    }

    fn name_of(&self, parents: &TicketParents) -> AppResult<String> {
        self.convention.generate(&NameParts {
            brand_code: &parents.brand_code,
            market_code: &parents.market_code,
            channel_code: &parents.channel_code,
            year: parents.year,
            campaign_name: &parents.campaign_name,
        })
    }

    /// Read what a new ticket of this campaign on this channel takes from them, refusing an
    /// unknown or archived campaign or channel, and remember it.
    async fn read_parents(
        &self,
        c: &mut AnyConnection,
        campaign_id: i64,
        channel_code: &Code,
    ) -> AppResult<Arc<TicketParents>> {
        let (campaign, channel) =
            store::campaign_with_channel(c, campaign_id, channel_code.as_str())
                .await?
                .ok_or_else(|| campaign_missing(campaign_id))?;
        if campaign.archived {
            return Err(AppError::conflict(
                Some("campaign_id"),
                format!(
                    "campaign {} is archived; restore it with update_campaign first",
                    campaign.id
                ),
            ));
        }
        let channel = channel.ok_or_else(|| missing::<Channel>("channel_code", channel_code))?;
        not_archived("channel", &channel.code, channel.archived, "channel_code")?;
        Ok(self.parents.remember(TicketParents {
            campaign_id: campaign.id,
            brand_code: campaign.brand_code,
            market_code: campaign.market_code,
            campaign_name: campaign.name,
            year: campaign.year,
            channel_id: channel.id,
            channel_code: channel.code,
            platform: channel.platform,
        }))
    }

    pub async fn update_ticket(
        &self,
        actor: &Principal,
        input: UpdateTicketInput,
    ) -> AppResult<TicketView> {
        let mut tx = self.db.begin_write().await?;
        let mut t = must_ticket(&mut tx, input.ticket_id).await?;
        if let Some(v) = input.expected_version
            && v != t.version
        {
            return Err(AppError::conflict(
                Some("expected_version"),
                format!(
                    "ticket {} is at version {}, not {v}: someone changed it since you read it; get_ticket and retry",
                    t.id, t.version
                ),
            ));
        }
        let read_version = t.version;
        let before = t.status;
        let edits_content = input.payload_config.is_some()
            || input.channel_code.is_some()
            || input.request_type.is_some();
        let mut notes = Vec::new();
        if edits_content {
            if !t.status.is_editable() {
                return Err(AppError::InvalidTransition {
                    message: format!(
                        "ticket {} is {} and cannot be edited; only DRAFT, QA_FAILED, READY_FOR_API and DEPLOY_FAILED tickets can",
                        t.id, t.status
                    ),
                });
            }
            if let Some(p) = input.payload_config {
                if !p.is_object() {
                    return Err(AppError::validation(
                        "payload_config",
                        "must be a JSON object",
                    ));
                }
                crate::platforms::spec::check_bounds(&p)?;
                t.payload_config = p;
                notes.push("payload_config");
            }
            if let Some(r) = &input.request_type {
                t.request_type = RequestType::parse_for_ticket("request_type", r)?;
                notes.push("request_type");
            }
            if let Some(code) = &input.channel_code {
                let ch = must::<Channel>(&mut tx, "channel_code", code).await?;
                not_archived("channel", &ch.code, ch.archived, "channel_code")?;
                if !t.external_ids.as_object().is_none_or(|o| o.is_empty()) {
                    return Err(AppError::conflict(
                        Some("channel_code"),
                        "objects already exist on the current channel; create a new ticket for the other channel",
                    ));
                }
                let campaign = must_campaign(&mut tx, t.campaign_id).await?;
                t.platform_name = self.convention.generate(&NameParts {
                    brand_code: &campaign.brand_code,
                    market_code: &campaign.market_code,
                    channel_code: &ch.code,
                    year: campaign.year,
                    campaign_name: &campaign.name,
                })?;
                t.channel_code = ch.code.clone();
                t.platform = ch.platform;
                notes.push("channel_code");
            }
            // Any edit invalidates the last QA run.
            t.qa_report = None;
            if t.status != TicketStatus::Draft {
                t.status.check_transition(TicketStatus::Draft)?;
                t.status = TicketStatus::Draft;
            }
        }
        if let Some(s) = &input.status {
            let to = TicketStatus::parse("status", s)?;
            if !matches!(to, TicketStatus::Draft | TicketStatus::Cancelled) {
                let how = match to {
                    TicketStatus::QaFailed | TicketStatus::ReadyForApi => "run_qa sets it",
                    TicketStatus::Queued
                    | TicketStatus::Deploying
                    | TicketStatus::TraffickedSuccess
                    | TicketStatus::DeployFailed => "deploy_ticket and the deploy worker set it",
                    _ => "the fix review sets it",
                };
                return Err(AppError::validation(
                    "status",
                    format!(
                        "{to} cannot be set by hand: {how}. update_ticket accepts DRAFT or CANCELLED"
                    ),
                ));
            }
            if to != t.status {
                t.status.check_transition(to)?;
                t.status = to;
            }
        }
        let reason = input
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        let detail = match (notes.is_empty(), reason) {
            (true, r) => r.map(str::to_owned),
            (false, Some(r)) => Some(format!("edited {}: {r}", notes.join(", "))),
            (false, None) => Some(format!("edited {}", notes.join(", "))),
        };
        if !notes.is_empty() || t.status != before {
            let edit = tickets::Edit {
                event: if notes.is_empty() {
                    "TRANSITION"
                } else {
                    "EDITED"
                },
                actor: &actor.name,
                detail: detail.as_deref(),
            };
            tickets::save_or_conflict(
                &mut tx,
                &t,
                before,
                read_version,
                &edit,
                "the ticket changed while this update ran; get_ticket and retry",
            )
            .await?;
        }
        let ticket = must_ticket(&mut tx, t.id).await?;
        let history = store::ticket_history(&mut tx, t.id).await?;
        tx.commit().await?;
        Ok(TicketView { ticket, history })
    }

    /// A ticket with everything it references, for QA and translation.
    pub async fn ticket_context(&self, id: i64) -> AppResult<TicketContext> {
        let mut c = self.conn().await?;
        let ticket = must_ticket(&mut c, id).await?;
        let campaign = must_campaign(&mut c, ticket.campaign_id).await?;
        let brand = must::<Brand>(&mut c, "brand_code", &campaign.brand_code).await?;
        let market = must::<Market>(&mut c, "market_code", &campaign.market_code).await?;
        let channel = must::<Channel>(&mut c, "channel_code", &ticket.channel_code).await?;
        let assets = store::resolve_assets(
            &mut c,
            &brand.code,
            &channel.code,
            &crate::platforms::spec::asset_ids(&ticket.payload_config),
        )
        .await?;
        Ok(TicketContext {
            ticket,
            campaign,
            brand,
            market,
            channel,
            assets,
        })
    }

    /// `ctx` with the creative assets named by `payloads` (specs other than the ticket's
    /// own: an edit being previewed or applied) resolved too.
    pub async fn with_assets_of(
        &self,
        mut ctx: TicketContext,
        payloads: &[&serde_json::Value],
    ) -> AppResult<TicketContext> {
        let ids: Vec<String> = payloads
            .iter()
            .flat_map(|p| crate::platforms::spec::asset_ids(p))
            .filter(|id| !ctx.assets.by_id.contains_key(id))
            .collect();
        if ids.is_empty() {
            return Ok(ctx);
        }
        let mut c = self.conn().await?;
        let more = store::resolve_assets(&mut c, &ctx.brand.code, &ctx.channel.code, &ids).await?;
        ctx.assets.by_id.extend(more.by_id);
        Ok(ctx)
    }

    /// Store a QA report and move the ticket to `to`, unless the ticket changed since the
    /// report was computed (then the caller must run QA again).
    pub async fn record_qa(
        &self,
        actor: &str,
        ticket: &Ticket,
        report: serde_json::Value,
        to: TicketStatus,
        detail: &str,
    ) -> AppResult<Ticket> {
        let mut tx = self.db.begin_write().await?;
        let current = must_ticket(&mut tx, ticket.id).await?;
        if current.version != ticket.version {
            return Err(AppError::conflict(
                Some("ticket_id"),
                format!(
                    "ticket {} changed while QA ran (version {} -> {}); run QA again",
                    ticket.id, ticket.version, current.version
                ),
            ));
        }
        let mut updated = current.clone();
        updated.status = to;
        updated.qa_report = Some(report);
        let edit = tickets::Edit {
            event: "QA",
            actor,
            detail: Some(detail),
        };
        tickets::save_or_conflict(
            &mut tx,
            &updated,
            current.status,
            current.version,
            &edit,
            "the ticket changed while QA ran; run QA again",
        )
        .await?;
        let t = must_ticket(&mut tx, current.id).await?;
        tx.commit().await?;
        Ok(t)
    }

    pub(super) async fn rename_ticket(
        &self,
        c: &mut AnyConnection,
        t: &Ticket,
        new_name: &str,
        actor: &Principal,
    ) -> AppResult<()> {
        let mut renamed = t.clone();
        renamed.platform_name = new_name.to_owned();
        let detail = format!("{} -> {new_name}", t.platform_name);
        let edit = tickets::Edit {
            event: "RENAMED",
            actor: &actor.name,
            detail: Some(&detail),
        };
        if !tickets::save(c, &renamed, t.status, t.version, &edit).await? {
            return Err(AppError::conflict(
                None,
                format!("ticket {} changed during the rename; retry", t.id),
            ));
        }
        Ok(())
    }
}

/// A ticket just created, built here rather than read back: one round trip less on the
/// hottest write path.
fn new_ticket(
    parents: &TicketParents,
    id: i64,
    created_at: String,
    platform_name: String,
    request_type: RequestType,
    payload_config: serde_json::Value,
) -> Ticket {
    Ticket {
        id,
        campaign_id: parents.campaign_id,
        channel_code: parents.channel_code.clone(),
        platform: parents.platform,
        request_type,
        status: TicketStatus::Draft,
        platform_name,
        payload_config,
        qa_report: None,
        external_ids: serde_json::json!({}),
        live_state: None,
        version: 1,
        updated_at: created_at.clone(),
        created_at,
    }
}
