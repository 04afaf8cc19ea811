//! Live governance: `audit_live` compares what runs in the ad accounts with what OmniTraffick
//! trafficked. It changes nothing on any platform.

use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};

use super::{OmniMcp, Parameters, ToolError};
use crate::auth::Permission;
use crate::insights::audit::{AuditLiveInput, AuditReport};

#[tool_router(router = audit_tools, vis = "pub(super)")]
impl OmniMcp {
    #[tool(
        description = "Audit what is live in the ad accounts against what OmniTraffick trafficked. Give exactly one of channel_code (that channel's whole ad account; needs a key for every brand) or campaign_id (the campaign's deployed tickets and the accounts they run in). Reports, counts first: campaign names in the account that break the naming taxonomy (which segment is wrong and the suggested name); campaigns OmniTraffick did not create (foreign: id, name, status); and drift, where a deployed ticket's live objects no longer hold what OmniTraffick last set (status from the ticket's LIVE/PAUSED/ENDED state, budget, end date and targeting from its payload_config), per field with expected and actual platform values. New drift is written to the ticket's history (subscribers of omnitraffick://tickets/{id} are notified); the same drift is not written twice. Nothing is changed on any platform: to put a drifted value back use change_ticket or pause_ticket. Lists are capped at 200 entries each with a count of the rest; at most 5,000 campaigns are listed per account. Ops or admin.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn audit_live(
        &self,
        Parameters(input): Parameters<AuditLiveInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<AuditReport>, ToolError> {
        let who = self.authorize(&ctx, Permission::Review)?;
        let audit = &self.services.audit;
        audit.authorize(&who, &input).await?;
        Ok(Json(audit.audit(&who, input).await?))
    }
}
