//! QA, payload, deploy, self-healing and conversion tools. Descriptions are what an
//! assistant reads to decide what to call and with which arguments.

use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};

use super::{OmniMcp, Parameters, ToolError};
use crate::auth::Permission;
use crate::governance::*;
use crate::platforms::TranslatedPayloads;
use crate::qa::*;

#[tool_router(router = qa_tools, vis = "pub(super)")]
impl OmniMcp {
    #[tool(
        description = "Run pre-flight QA on a ticket: taxonomy, brand safety, budget caps, payload schemas, platform minimums and admin CEL rules, on the translated platform payloads. Stores the report and moves the ticket to READY_FOR_API (no blocking finding) or QA_FAILED (every finding listed with its rule, message and field path). Only DRAFT, QA_FAILED and READY_FOR_API tickets. Trafficker or admin.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn run_qa(
        &self,
        Parameters(input): Parameters<RunQaInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<RunQaOutput>, ToolError> {
        let who = self
            .authorize_ticket(&ctx, Permission::Traffic, input.ticket_id)
            .await?;
        Ok(Json(self.services.qa.run_qa(&who, input).await?))
    }

    #[tool(
        description = "List the QA rules: the built-in ones, the admin CEL rules (expression, scope, severity) and the interests blocked for family-friendly brands.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_qa_rules(
        &self,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<QaRuleList>, ToolError> {
        self.authorize(&ctx, Permission::Read)?;
        Ok(Json(self.services.qa.list_rules().await?))
    }

    #[tool(
        description = "Create or replace (by name) an admin QA rule written in CEL. The expression is TRUE WHEN VIOLATED. Example: {\"name\": \"dis_no_under_13\", \"brand_code\": \"DIS\", \"expression\": \"spec.targeting.age_min < 13\", \"severity\": \"BLOCK\", \"message\": \"Disney campaigns may not target under-13s; set targeting.age_min to 13 or more\", \"field_path\": \"payload_config.targeting.age_min\"}. A rule that does not compile is refused with the compiler's message. Admin only.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn upsert_qa_rule(
        &self,
        Parameters(input): Parameters<UpsertQaRuleInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<UpsertQaRuleOutput>, ToolError> {
        self.authorize_shared(&ctx, Permission::Govern, "change QA rules")?;
        Ok(Json(self.services.qa.upsert_rule(input).await?))
    }

    #[tool(
        description = "Block an interest for family-friendly brands, or change its category/name. Admin only. Example: {\"platform\": \"META\", \"interest_id\": \"6003139266461\", \"category\": \"ALCOHOL\", \"name\": \"Alcoholic beverages\"}. Takes effect on the next run_qa; list_qa_rules shows the list.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn upsert_blocked_interest(
        &self,
        Parameters(input): Parameters<UpsertBlockedInterestInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<UpsertBlockedInterestOutput>, ToolError> {
        self.authorize_shared(&ctx, Permission::Govern, "change the blocked-interest list")?;
        Ok(Json(self.services.qa.upsert_blocked_interest(input).await?))
    }

    #[tool(
        description = "Unblock an interest for family-friendly brands. Admin only. Example: {\"platform\": \"TIKTOK\", \"interest_id\": \"100002\"}. removed is false when it was not blocked.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn remove_blocked_interest(
        &self,
        Parameters(input): Parameters<RemoveBlockedInterestInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Removed>, ToolError> {
        self.authorize_shared(&ctx, Permission::Govern, "change the blocked-interest list")?;
        Ok(Json(self.services.qa.remove_blocked_interest(input).await?))
    }

    #[tool(
        description = "List budget caps: the global defaults and every brand-and-market cap. A ticket's budget is checked against its brand's cap in the campaign's market, else the brand's own cap (list_brands), else the default.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_budget_caps(
        &self,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<BudgetCapList>, ToolError> {
        self.authorize(&ctx, Permission::Read)?;
        Ok(Json(self.services.qa.list_budget_caps().await?))
    }

    #[tool(
        description = "Set a brand's budget caps in one market, in the brand's currency; they win over the brand's own caps. Admin only. Example: {\"brand_code\": \"DIS\", \"market_code\": \"JP\", \"daily_budget_limit\": \"2000000\", \"lifetime_budget_limit\": \"50000000\"}. A period left out falls back to the brand's cap.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn set_market_budget_cap(
        &self,
        Parameters(input): Parameters<SetMarketBudgetCapInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<SetMarketBudgetCapOutput>, ToolError> {
        self.authorize_brand(&ctx, Permission::Govern, &input.brand_code)?;
        Ok(Json(self.services.qa.set_market_budget_cap(input).await?))
    }

    #[tool(
        description = "Remove a brand's caps in one market, so its own caps (or the defaults) apply there again. Admin only. Example: {\"brand_code\": \"DIS\", \"market_code\": \"JP\"}.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn remove_market_budget_cap(
        &self,
        Parameters(input): Parameters<RemoveMarketBudgetCapInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Removed>, ToolError> {
        self.authorize_brand(&ctx, Permission::Govern, &input.brand_code)?;
        Ok(Json(
            self.services.qa.remove_market_budget_cap(input).await?,
        ))
    }

    #[tool(
        description = "Show the exact request bodies the ticket would send to its platform, in order (e.g. Meta campaign, adset, creative, ad), with money converted to the platform's units. Changes nothing. Ids of objects created earlier in the deploy appear as {{campaign.id}} placeholders.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn preview_payloads(
        &self,
        Parameters(input): Parameters<TicketIdInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<TranslatedPayloads>, ToolError> {
        self.authorize_ticket(&ctx, Permission::Read, input.ticket_id)
            .await?;
        Ok(Json(
            self.services.qa.preview_payloads(input.ticket_id).await?,
        ))
    }
}

#[tool_router(router = deploy_tools, vis = "pub(super)")]
impl OmniMcp {
    #[tool(
        description = "Deploy a READY_FOR_API ticket to its platform. Re-runs pre-flight QA, then queues a durable job and moves the ticket to QUEUED; a worker creates the objects in order (campaign, then ad set / ad group, then ad), all PAUSED, writes each platform id back as it appears, retries rate limits and transient errors, and ends in TRAFFICKED_SUCCESS or DEPLOY_FAILED with the parsed platform error. Never creates an object twice. Example: {\"ticket_id\": 42}. With {\"ticket_id\": 42, \"validate_only\": true} the platform only checks the requests (Meta and Google Ads; TikTok has no such mode) and nothing changes. Trafficker or admin.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn deploy_ticket(
        &self,
        Parameters(input): Parameters<crate::deploy::DeployTicketInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<crate::deploy::DeployTicketOutput>, ToolError> {
        let who = self
            .authorize_ticket(&ctx, Permission::Traffic, input.ticket_id)
            .await?;
        Ok(Json(self.services.deploy.deploy_ticket(&who, input).await?))
    }

    #[tool(
        description = "Where a ticket's deploy stands: ticket status, the deploy run (state QUEUED/RUNNING/WAITING/SUCCEEDED/FAILED/CANCELLED, take-ups), the next retry time, the last platform error (platform, class, code, subcode, message, field, trace id), the platform ids stored so far, and every request sent (time, object, outcome, latency). Example: {\"ticket_id\": 42}.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_deploy_status(
        &self,
        Parameters(input): Parameters<crate::deploy::DeployTicketIdInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<crate::deploy::DeployStatus>, ToolError> {
        self.authorize_ticket(&ctx, Permission::Read, input.ticket_id)
            .await?;
        Ok(Json(self.services.deploy.status(input.ticket_id).await?))
    }

    #[tool(
        description = "Cancel a queued deploy before anything exists on the platform; the ticket goes back to READY_FOR_API. Refused once the first object was created (or may have been): then the deploy finishes or fails, and its objects are PAUSED. Example: {\"ticket_id\": 42}. Trafficker or admin.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn cancel_deploy(
        &self,
        Parameters(input): Parameters<crate::deploy::DeployTicketIdInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<crate::deploy::CancelDeployOutput>, ToolError> {
        let who = self
            .authorize_ticket(&ctx, Permission::Traffic, input.ticket_id)
            .await?;
        Ok(Json(
            self.services.deploy.cancel(&who, input.ticket_id).await?,
        ))
    }
}

#[tool_router(router = healing_tools, vis = "pub(super)")]
impl OmniMcp {
    #[tool(
        description = "List fix proposals for tickets the platform refused, newest first: status (PENDING_REVIEW, APPROVED, REJECTED, APPLIED, QA_FAILED, SUPERSEDED), risk (SAFE, SPEND_INCREASE, TARGETING_WIDENING, CREATIVE_CHANGE), patch, rationale. Example: {\"status\": \"PENDING_REVIEW\"} or {\"ticket_id\": 42}. Paged with limit and before_id.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_fix_proposals(
        &self,
        Parameters(input): Parameters<crate::healing::ListFixesInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<crate::healing::FixList>, ToolError> {
        let who = self.authorize(&ctx, Permission::Read)?;
        Ok(Json(self.services.healing.list(&who, input).await?))
    }

    #[tool(
        description = "One fix proposal with the payload before and after, a readable diff, the QA report of the patched ticket and its audit trail. Example: {\"id\": 7}. Approval and rejection are for people (ops or admin) over the REST API, never for assistants.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_fix_proposal(
        &self,
        Parameters(input): Parameters<FixIdInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<crate::healing::FixProposalView>, ToolError> {
        let who = self.authorize(&ctx, Permission::Read)?;
        self.services.healing.authorize(&who, input.id).await?;
        Ok(Json(self.services.healing.get(input.id).await?))
    }

    #[tool(
        description = "Propose a fix for a DEPLOY_FAILED ticket as an RFC 6902 JSON Patch on its payload_config. It goes through exactly the same path as the automatic fixers: applied to a copy, QA'd (a proposal that fails QA is kept as QA_FAILED and never offered), classed by risk from the actual change, and left for a person (ops or admin) to approve. Example: {\"ticket_id\": 42, \"patch\": [{\"op\": \"remove\", \"path\": \"/targeting/interests/1\"}], \"rationale\": \"Meta says interest 6003 is deprecated (100/1487694)\"}. Trafficker or admin.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn propose_fix(
        &self,
        Parameters(input): Parameters<crate::healing::ProposeFixInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<crate::healing::FixProposalView>, ToolError> {
        let who = self.authorize(&ctx, Permission::Traffic)?;
        Ok(Json(self.services.healing.propose_fix(&who, input).await?))
    }
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct FixIdInput {
    /// The proposal id, e.g. 7.
    pub id: i64,
}

#[tool_router(router = capi_tools, vis = "pub(super)")]
impl OmniMcp {
    #[tool(
        description = "Send conversion events (Meta server-event shape) for a brand to Meta CAPI and, when the brand has a TikTok pixel, the TikTok Events API. Each event is validated (event_time in seconds, not future, not older than 7 days; valid action_source; website events need event_source_url and client_user_agent; ISO currency; some customer information); bad events are refused with the field and reason and the rest are sent. Customer data may be raw or already hashed: it is normalised and SHA-256 hashed before storage or sending, raw values are never kept. event_id is kept or generated and returned so the browser pixel can reuse it; the same (event_name, event_id) within 48 hours is acknowledged as DUPLICATE and not sent again. Delivery is queued in batches of up to 1,000. Example: {\"brand_code\": \"AUR\", \"events\": [{\"event_name\": \"Purchase\", \"event_time\": 1764000000, \"event_id\": \"order-123\", \"action_source\": \"website\", \"event_source_url\": \"https://shop.example/done\", \"user_data\": {\"em\": \"jane@example.com\", \"client_user_agent\": \"Mozilla/5.0\"}, \"custom_data\": {\"currency\": \"USD\", \"value\": 19.99}}]}. Tracker or admin.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn send_conversion_events(
        &self,
        Parameters(input): Parameters<crate::capi::SendEventsInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<crate::capi::SendEventsOutput>, ToolError> {
        let who = self.authorize(&ctx, Permission::Track)?;
        who.require_brand(&input.brand_code)?;
        Ok(Json(self.services.capi.send_events(input).await?))
    }

    #[tool(
        description = "The browser side of conversion deduplication for a brand: the Meta pixel base code with fbq('track', event, params, {eventID}) and the TikTok pixel equivalent with event_id, showing how the browser and the server send one shared event id. Needs the brand's meta_pixel_id and/or tiktok_pixel_code (update_brand). Example: {\"brand_code\": \"AUR\", \"event_name\": \"Purchase\"}.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn pixel_snippet(
        &self,
        Parameters(input): Parameters<crate::capi::PixelSnippetInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<crate::capi::PixelSnippet>, ToolError> {
        self.authorize_brand(&ctx, Permission::Read, &input.brand_code)?;
        let brand = self
            .services
            .governance
            .get_brand(&input.brand_code)
            .await?;
        Ok(Json(crate::capi::pixel_snippet(&brand, &input.event_name)?))
    }
}
