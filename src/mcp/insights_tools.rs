//! Read-back tools: sync metrics and delivery from the platforms, read insights with exact
//! money, and pacing with the platforms' reasons.

use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{OmniMcp, Parameters, ToolError};
use crate::auth::{Permission, Principal};
use crate::insights::*;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketOrCampaign {
    /// Exactly one of ticket_id or campaign_id.
    pub ticket_id: Option<i64>,
    pub campaign_id: Option<i64>,
}

impl OmniMcp {
    /// The caller, if allowed to read the ticket, campaign or brand named.
    async fn authorize_scope(
        &self,
        ctx: &RequestContext<RoleServer>,
        p: Permission,
        ticket_id: Option<i64>,
        campaign_id: Option<i64>,
        brand_code: Option<&str>,
    ) -> Result<Principal, ToolError> {
        Scope::of(ticket_id, campaign_id, brand_code.map(str::to_owned))?;
        match (ticket_id, campaign_id, brand_code) {
            (Some(t), _, _) => self.authorize_ticket(ctx, p, t).await,
            (_, Some(c), _) => self.authorize_campaign(ctx, p, c).await,
            (_, _, Some(b)) => self.authorize_brand(ctx, p, &b.trim().to_ascii_uppercase()),
            _ => Ok(self.authorize(ctx, p)?),
        }
    }

    /// Pacing of a ticket or campaign, for the tool and the pacing resource.
    pub(super) async fn pacing_for(
        &self,
        ctx: &RequestContext<RoleServer>,
        ticket_id: Option<i64>,
        campaign_id: Option<i64>,
    ) -> Result<PacingOutput, ToolError> {
        self.authorize_scope(ctx, Permission::Read, ticket_id, campaign_id, None)
            .await?;
        Ok(self
            .services
            .insights
            .pacing(ticket_id, campaign_id)
            .await?)
    }
}

#[tool_router(router = insights_tools, vis = "pub(super)")]
impl OmniMcp {
    #[tool(
        description = "Read a deployed ticket's (or every deployed ticket of a campaign's) daily metrics and delivery state from the platform now: Meta insights and effective_status/learning/issues, TikTok report and secondary status, Google Ads GAQL and primary_status_reasons. A re-sync replaces days, it never adds them twice; a failure keeps the last good data. A worker also syncs every live ticket on a schedule (hourly by default). Trafficker, ops or admin.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn sync_insights(
        &self,
        Parameters(input): Parameters<TicketOrCampaign>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<SyncOutput>, ToolError> {
        let who = self
            .authorize_scope(
                &ctx,
                Permission::Read,
                input.ticket_id,
                input.campaign_id,
                None,
            )
            .await?;
        // Reading the platforms spends their rate limits: not for viewers and planners.
        if !(who.role.allows(Permission::Traffic) || who.role.allows(Permission::Review)) {
            return Err(crate::error::AppError::Forbidden(format!(
                "the {} role cannot sync from the platforms; a trafficker, ops or admin key can (get_insights reads what was synced)",
                who.role.as_str()
            ))
            .into());
        }
        Ok(Json(
            self.services
                .insights
                .sync(input.ticket_id, input.campaign_id)
                .await?,
        ))
    }

    #[tool(
        description = "Spend, impressions, clicks, CTR, CPC, CPM and conversions of a campaign, ticket or brand (exactly one of campaign_id, ticket_id, brand_code) from `from` to `to` (YYYY-MM-DD; default the last 30 days), normalised across Meta, TikTok and Google Ads, money exact in the brand's currency. breakdown: day (default), platform or ticket; groups are paged (limit, offset). Says how fresh the data is (last sync) and lists spend reported in another currency apart, never converted. Any role but tracker.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_insights(
        &self,
        Parameters(input): Parameters<InsightsInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<InsightsOutput>, ToolError> {
        self.authorize_scope(
            &ctx,
            Permission::Read,
            input.ticket_id,
            input.campaign_id,
            input.brand_code.as_deref(),
        )
        .await?;
        Ok(Json(self.services.insights.insights(input).await?))
    }

    #[tool(
        description = "Budget pacing of a ticket or campaign (exactly one of ticket_id or campaign_id): planned spend to date (daily budget x time live, or a lifetime budget prorated over the schedule), actual spend, pace %, projected spend at the end, a verdict (ON_TRACK, UNDER, OVER, NOT_STARTED, ENDED) and the reasons, ranked, each naming the object and the platform field it comes from (paused or not launched, disapproved, learning limited, budget or bid constrained, schedule, no data yet) with a suggested tool. Based on the last sync (sync_insights refreshes it). Any role but tracker.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_pacing(
        &self,
        Parameters(input): Parameters<TicketOrCampaign>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<PacingOutput>, ToolError> {
        Ok(Json(
            self.pacing_for(&ctx, input.ticket_id, input.campaign_id)
                .await?,
        ))
    }
}
