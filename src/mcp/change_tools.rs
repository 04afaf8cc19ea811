//! Live-campaign tools: launch, pause, resume and change deployed tickets behind the risk
//! gate, confirm, follow and roll back changes. No tool approves: ops do that over REST.

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::{ElicitationError, RequestContext};
use rmcp::{Json, Peer, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{OmniMcp, Parameters, ToolError};
use crate::auth::{Permission, Principal};
use crate::changes::*;
use crate::domain::{ChangeKind, ChangeStatus, TicketStatus};

/// What the person is asked in the client's confirmation dialog.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
pub struct ConfirmAnswer {
    /// true to apply the change, false to drop it.
    pub confirm: bool,
}
rmcp::elicit_safe!(ConfirmAnswer);

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseTicketInput {
    pub ticket_id: i64,
    /// Why, for the audit trail.
    pub reason: Option<String>,
    /// true to end the ticket for good (its objects stay paused; it takes no more changes).
    #[serde(default)]
    pub end: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LaunchCampaignInput {
    pub campaign_id: i64,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LaunchCampaignOutput {
    /// One entry per ticket that could be launched.
    pub launched: Vec<ChangeOutput>,
    /// Tickets left alone, with why (not deployed, already live, …).
    pub skipped: Vec<String>,
}

/// Ask the person through the client when it can show a dialog; otherwise (or when the
/// client fails) the change stays NEEDS_CONFIRMATION with its token.
async fn gate(
    s: &OmniMcp,
    who: &Principal,
    peer: &Peer<RoleServer>,
    mut out: ChangeOutput,
) -> Result<ChangeOutput, ToolError> {
    if out.change.change.status != ChangeStatus::NeedsConfirmation {
        return Ok(out);
    }
    let v = &out.change;
    let c = &v.change;
    let money = match (&v.daily_before, &v.daily_after) {
        (Some(b), Some(a)) => format!("{b} {cur} a day -> {a} {cur} a day", cur = c.currency),
        _ => "spend change could not be computed".into(),
    };
    let fields: Vec<String> = c
        .diff
        .as_array()
        .map(|d| {
            d.iter()
                .map(|f| {
                    format!(
                        "{}: {} -> {}",
                        f["path"].as_str().unwrap_or("?"),
                        f["before"],
                        f["after"]
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let message = format!(
        "Confirm {kind} of \"{name}\" on {platform} (account {account}).\nRisk: {risk}. Spend: {money}.{fields}\nReason: {reason}",
        kind = c.kind,
        name = v.ticket_name,
        platform = v.platform,
        account = v.account_id,
        risk = c.risk,
        fields = if fields.is_empty() {
            String::new()
        } else {
            format!("\nChanges: {}", fields.join("; "))
        },
        reason = c.reason,
    );
    let id = c.id;
    let answer = peer
        .elicit_with_timeout::<ConfirmAnswer>(message, Some(std::time::Duration::from_secs(300)))
        .await;
    let changes = &s.services.changes;
    match answer {
        Ok(Some(ConfirmAnswer { confirm: true })) => {
            out.change = changes.confirm(who, id, None).await?;
            out.confirmation_token = None;
            out.message =
                format!("confirmed by the person; change {id} is queued and a worker applies it");
        }
        Ok(Some(ConfirmAnswer { confirm: false })) | Err(ElicitationError::UserDeclined) => {
            out.change = changes
                .decline(who, id, "the person declined in the client")
                .await?;
            out.confirmation_token = None;
            out.message =
                format!("the person declined; change {id} is cancelled and nothing was sent");
        }
        Err(ElicitationError::UserCancelled) => {
            out.change = changes
                .decline(who, id, "the person closed the confirmation dialog")
                .await?;
            out.confirmation_token = None;
            out.message =
                format!("the person cancelled; change {id} is cancelled and nothing was sent");
        }
        // No dialog in this client (or it failed): the token path stands.
        Ok(None) | Err(_) => {}
    }
    Ok(out)
}

#[tool_router(router = change_tools, vis = "pub(super)")]
impl OmniMcp {
    async fn change(
        &self,
        ctx: &RequestContext<RoleServer>,
        ticket_id: i64,
        kind: ChangeKind,
        after: Option<serde_json::Value>,
        reason: Option<String>,
    ) -> Result<ChangeOutput, ToolError> {
        let who = self
            .authorize_ticket(ctx, Permission::Traffic, ticket_id)
            .await?;
        let reason = reason.unwrap_or_else(|| format!("{kind} asked through MCP"));
        let out = self
            .services
            .changes
            .request(&who, ticket_id, kind, after, &reason, None)
            .await?;
        gate(self, &who, &ctx.peer, out).await
    }

    #[tool(
        description = "Launch a deployed ticket: its platform objects (created PAUSED) go ACTIVE and start spending. Only TRAFFICKED_SUCCESS tickets. Spend increases always need the person: the client asks them in a dialog when it can, otherwise the answer is NEEDS_CONFIRMATION with a confirmation_token to pass to confirm_change after showing them the change; above the brand's threshold it waits for ops review. Trafficker or admin.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn launch_ticket(
        &self,
        Parameters(input): Parameters<TicketIdInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ChangeOutput>, ToolError> {
        Ok(Json(
            self.change(
                &ctx,
                input.ticket_id,
                ChangeKind::Launch,
                None,
                input.reason,
            )
            .await?,
        ))
    }

    #[tool(
        description = "Pause a LIVE ticket's platform objects at once (SAFE: no confirmation). With end: true the ticket ends for good (from TRAFFICKED_SUCCESS, LIVE or PAUSED). Trafficker or admin.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn pause_ticket(
        &self,
        Parameters(input): Parameters<PauseTicketInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ChangeOutput>, ToolError> {
        let kind = if input.end {
            ChangeKind::End
        } else {
            ChangeKind::Pause
        };
        Ok(Json(
            self.change(&ctx, input.ticket_id, kind, None, input.reason)
                .await?,
        ))
    }

    #[tool(
        description = "Resume a PAUSED ticket: its objects go ACTIVE again. A spend increase: confirmed by the person (dialog or confirmation_token for confirm_change), or ops review above the brand's threshold. Trafficker or admin.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn resume_ticket(
        &self,
        Parameters(input): Parameters<TicketIdInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ChangeOutput>, ToolError> {
        Ok(Json(
            self.change(
                &ctx,
                input.ticket_id,
                ChangeKind::Resume,
                None,
                input.reason,
            )
            .await?,
        ))
    }

    #[tool(
        description = "Change a deployed ticket (TRAFFICKED_SUCCESS, LIVE or PAUSED): pass the FULL new payload_config (same shape as create_ticket; start from get_ticket's) and a reason. The change is the difference: its risk is computed from it (SAFE: budget down, end earlier; SPEND_INCREASE; TARGETING_WIDENING; CREATIVE_CHANGE), the new spec must pass QA, and the platform must allow the edit on a live object (a refusal names the field). SAFE applies at once; anything else needs the person (dialog or confirmation_token for confirm_change); spend increases above the brand's threshold wait for ops review. Example: {\"ticket_id\": 7, \"payload_config\": {...budget.amount \"75.00\"...}, \"reason\": \"strong CTR, raise budget\"}. Trafficker or admin.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn change_ticket(
        &self,
        Parameters(input): Parameters<ChangeTicketInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ChangeOutput>, ToolError> {
        Ok(Json(
            self.change(
                &ctx,
                input.ticket_id,
                ChangeKind::Edit,
                Some(input.payload_config),
                Some(input.reason),
            )
            .await?,
        ))
    }

    #[tool(
        description = "Confirm a NEEDS_CONFIRMATION change with the one-time token it came with. Call this ONLY after the person has seen the change (ticket, account, platform, before/after money) and said yes; the token works once, for 15 minutes. Trafficker or admin.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn confirm_change(
        &self,
        Parameters(input): Parameters<ConfirmChangeInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ChangeView>, ToolError> {
        let who = self
            .authorize_change(&ctx, Permission::Traffic, input.change_id)
            .await?;
        Ok(Json(
            self.services
                .changes
                .confirm(&who, input.change_id, Some(&input.token))
                .await?,
        ))
    }

    #[tool(
        description = "List changes to live tickets, newest first: by ticket_id and/or status (NEEDS_CONFIRMATION, PENDING_REVIEW, QUEUED, APPLYING, APPLIED, FAILED, REJECTED, CANCELLED); paged with limit and before_id.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_changes(
        &self,
        Parameters(input): Parameters<ListChangesInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ChangeList>, ToolError> {
        let who = self.authorize(&ctx, Permission::Read)?;
        Ok(Json(self.services.changes.list(&who, input).await?))
    }

    #[tool(
        description = "One change: kind, status, risk, before/after spec and field diff, daily spend before/after in the brand's currency, QA report, per-object results of the application (WRITTEN, ALREADY_HELD, FAILED with the platform error, NOT_REACHED) and the audit trail.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_change(
        &self,
        Parameters(input): Parameters<ChangeIdInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ChangeView>, ToolError> {
        self.authorize_change(&ctx, Permission::Read, input.change_id)
            .await?;
        Ok(Json(self.services.changes.view(input.change_id).await?))
    }

    #[tool(
        description = "Roll back an APPLIED change: a new change back to its before values (an edit's old spec; a launch or resume is paused, a pause resumed), through the same risk gate. Trafficker or admin.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn rollback_change(
        &self,
        Parameters(input): Parameters<RollbackChangeInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ChangeOutput>, ToolError> {
        let who = self
            .authorize_change(&ctx, Permission::Traffic, input.change_id)
            .await?;
        let out = self
            .services
            .changes
            .rollback(&who, input.change_id, input.reason.as_deref())
            .await?;
        Ok(Json(gate(self, &who, &ctx.peer, out).await?))
    }

    #[tool(
        description = "Launch every TRAFFICKED_SUCCESS ticket of a campaign, each through the same gate as launch_ticket (one confirmation per ticket), reporting progress per ticket. Tickets not yet deployed or already live are listed as skipped. Trafficker or admin.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn launch_campaign(
        &self,
        Parameters(input): Parameters<LaunchCampaignInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<LaunchCampaignOutput>, ToolError> {
        let who = self
            .authorize_campaign(&ctx, Permission::Traffic, input.campaign_id)
            .await?;
        let tickets = self
            .services
            .governance
            .list_tickets(
                &who,
                crate::governance::ListTicketsInput {
                    campaign_id: Some(input.campaign_id),
                    channel_code: None,
                    status: None,
                    limit: Some(500),
                    offset: None,
                },
            )
            .await?
            .tickets;
        let progress: Option<ProgressToken> = ctx.meta.get_progress_token();
        let total = tickets.len();
        let mut out = LaunchCampaignOutput {
            launched: Vec::new(),
            skipped: Vec::new(),
        };
        for (i, t) in tickets.iter().enumerate() {
            if t.status != TicketStatus::TraffickedSuccess {
                out.skipped.push(format!(
                    "ticket {} is {}; only TRAFFICKED_SUCCESS tickets launch",
                    t.id, t.status
                ));
            } else {
                let reason = input
                    .reason
                    .clone()
                    .or_else(|| Some(format!("launch of campaign {}", input.campaign_id)));
                match self
                    .change(&ctx, t.id, ChangeKind::Launch, None, reason)
                    .await
                {
                    Ok(c) => out.launched.push(c),
                    Err(ToolError(e)) => out.skipped.push(format!("ticket {}: {e}", t.id)),
                }
            }
            if let Some(token) = &progress {
                let note = ProgressNotificationParam::new(token.clone(), (i + 1) as f64)
                    .with_total(total as f64)
                    .with_message(format!("ticket {} of {total} (id {})", i + 1, t.id));
                let _ = ctx.peer.notify_progress(note).await;
            }
        }
        Ok(Json(out))
    }
}
