//! Governance and taxonomy tools. Descriptions are what an assistant reads to decide what to
//! call and with which arguments.

use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};

use super::{OmniMcp, Parameters, ToolError};
use crate::auth::Permission;
use crate::domain::{Brand, Campaign, Channel, Market, Ticket, TicketView};
use crate::governance::*;
use crate::taxonomy::NameValidation;

#[tool_router(router = governance_tools, vis = "pub(super)")]
impl OmniMcp {
    #[tool(
        description = "List markets (where campaigns run), ordered by code. Use the codes as market_code elsewhere.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_markets(
        &self,
        Parameters(input): Parameters<ListInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<MarketList>, ToolError> {
        self.authorize(&ctx, Permission::Read)?;
        Ok(Json(self.services.governance.list_markets(input).await?))
    }

    #[tool(
        description = "Create a market. Admin only. Example: {\"code\": \"US\", \"country\": \"US\", \"region\": \"NA\"}. Codes are 1-16 upper-case letters/digits and must be unique.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_market(
        &self,
        Parameters(input): Parameters<CreateMarketInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Market>, ToolError> {
        self.authorize_shared(&ctx, Permission::Govern, "create markets")?;
        Ok(Json(self.services.governance.create_market(input).await?))
    }

    #[tool(
        description = "Change a market's country or region, restore it (archived: false), or rename its code (new_code). A rename renames draft tickets; deployed tickets keep their names. Admin only.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn update_market(
        &self,
        Parameters(input): Parameters<UpdateMarketInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<MarketUpdate>, ToolError> {
        let who = self.authorize_shared(&ctx, Permission::Govern, "change markets")?;
        Ok(Json(
            self.services.governance.update_market(&who, input).await?,
        ))
    }

    #[tool(
        description = "Archive a market: it stays for history but new campaigns cannot use it. Markets are never deleted. Reversible with update_market {archived: false}. Admin only.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn archive_market(
        &self,
        Parameters(input): Parameters<CodeInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Market>, ToolError> {
        self.authorize_shared(&ctx, Permission::Govern, "archive markets")?;
        Ok(Json(self.services.governance.archive_market(input).await?))
    }

    #[tool(
        description = "List brands with their codes, currency, family-friendly flag and budget caps.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_brands(
        &self,
        Parameters(input): Parameters<ListInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<BrandList>, ToolError> {
        self.authorize(&ctx, Permission::Read)?;
        Ok(Json(self.services.governance.list_brands(input).await?))
    }

    #[tool(
        description = "Create a brand. Admin only. Example: {\"name\": \"Disney\", \"code\": \"DIS\", \"family_friendly\": true, \"currency\": \"USD\"}.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_brand(
        &self,
        Parameters(input): Parameters<CreateBrandInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Brand>, ToolError> {
        self.authorize_shared(&ctx, Permission::Govern, "create brands")?;
        Ok(Json(self.services.governance.create_brand(input).await?))
    }

    #[tool(
        description = "Change a brand: name, family_friendly, budget caps, pixel ids, currency (only without campaigns), archived, or its code (new_code; renames draft tickets). Admin only.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn update_brand(
        &self,
        Parameters(input): Parameters<UpdateBrandInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<BrandUpdate>, ToolError> {
        let who = self.authorize_brand(&ctx, Permission::Govern, &input.code)?;
        Ok(Json(
            self.services.governance.update_brand(&who, input).await?,
        ))
    }

    #[tool(
        description = "Archive a brand: kept for history, unusable for new campaigns. Reversible with update_brand {archived: false}. Admin only.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn archive_brand(
        &self,
        Parameters(input): Parameters<CodeInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Brand>, ToolError> {
        self.authorize_brand(&ctx, Permission::Govern, &input.code)?;
        Ok(Json(self.services.governance.archive_brand(input).await?))
    }

    #[tool(
        description = "List channels: each is one ad account on META, TIKTOK or GOOGLE_ADS. Use the codes as channel_code.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_channels(
        &self,
        Parameters(input): Parameters<ListInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ChannelList>, ToolError> {
        self.authorize(&ctx, Permission::Read)?;
        Ok(Json(self.services.governance.list_channels(input).await?))
    }

    #[tool(
        description = "Create a channel. Admin only. Example: {\"code\": \"META\", \"platform\": \"META\", \"account_id\": \"1234567890\"}.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_channel(
        &self,
        Parameters(input): Parameters<CreateChannelInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Channel>, ToolError> {
        self.authorize_shared(&ctx, Permission::Govern, "create channels")?;
        Ok(Json(self.services.governance.create_channel(input).await?))
    }

    #[tool(
        description = "Change a channel's account id (only without open tickets), restore it (archived: false), or rename its code (new_code; renames draft tickets). Admin only.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn update_channel(
        &self,
        Parameters(input): Parameters<UpdateChannelInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ChannelUpdate>, ToolError> {
        let who = self.authorize_shared(&ctx, Permission::Govern, "change channels")?;
        Ok(Json(
            self.services.governance.update_channel(&who, input).await?,
        ))
    }

    #[tool(
        description = "Archive a channel: kept for history, unusable for new tickets. Reversible with update_channel {archived: false}. Admin only.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn archive_channel(
        &self,
        Parameters(input): Parameters<CodeInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Channel>, ToolError> {
        self.authorize_shared(&ctx, Permission::Govern, "archive channels")?;
        Ok(Json(self.services.governance.archive_channel(input).await?))
    }

    #[tool(
        description = "List campaigns, optionally filtered by brand_code, market_code and year; paged with limit/offset (next_offset gives the next page).",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_campaigns(
        &self,
        Parameters(input): Parameters<ListCampaignsInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<CampaignList>, ToolError> {
        let who = self.authorize(&ctx, Permission::Read)?;
        Ok(Json(
            self.services.governance.list_campaigns(&who, input).await?,
        ))
    }

    #[tool(
        description = "Get one campaign by id.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_campaign(
        &self,
        Parameters(input): Parameters<CampaignIdInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Campaign>, ToolError> {
        self.authorize_campaign(&ctx, Permission::Read, input.campaign_id)
            .await?;
        Ok(Json(
            self.services
                .governance
                .get_campaign(input.campaign_id)
                .await?,
        ))
    }

    #[tool(
        description = "Create a campaign for a brand in a market. Example: {\"brand_code\": \"DIS\", \"market_code\": \"US\", \"name\": \"Moana Launch!\", \"year\": 2026, \"daily_budget\": \"1500.00\"}. Budgets are decimal strings in the brand's currency. Trafficker or admin.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_campaign(
        &self,
        Parameters(input): Parameters<CreateCampaignInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Campaign>, ToolError> {
        self.authorize_brand(&ctx, Permission::Traffic, &input.brand_code)?;
        Ok(Json(self.services.governance.create_campaign(input).await?))
    }

    #[tool(
        description = "Change a campaign's name, year, budgets, dates or archived flag. A new name or year renames its draft tickets. Trafficker or admin.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn update_campaign(
        &self,
        Parameters(input): Parameters<UpdateCampaignInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<CampaignUpdate>, ToolError> {
        let who = self
            .authorize_campaign(&ctx, Permission::Traffic, input.campaign_id)
            .await?;
        Ok(Json(
            self.services
                .governance
                .update_campaign(&who, input)
                .await?,
        ))
    }

    #[tool(
        description = "List tickets, optionally by campaign_id, channel_code or status (DRAFT, QA_FAILED, READY_FOR_API, QUEUED, DEPLOYING, TRAFFICKED_SUCCESS, DEPLOY_FAILED, FIX_PROPOSED, CANCELLED); paged.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_tickets(
        &self,
        Parameters(input): Parameters<ListTicketsInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<TicketList>, ToolError> {
        let who = self.authorize(&ctx, Permission::Read)?;
        Ok(Json(
            self.services.governance.list_tickets(&who, input).await?,
        ))
    }

    #[tool(
        description = "Get one ticket with its taxonomy name, status, payload config, QA report, external ids, version and full history.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_ticket(
        &self,
        Parameters(input): Parameters<TicketIdInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<TicketView>, ToolError> {
        self.authorize_ticket(&ctx, Permission::Read, input.ticket_id)
            .await?;
        Ok(Json(
            self.services.governance.get_ticket(input.ticket_id).await?,
        ))
    }

    #[tool(
        description = "Create a trafficking ticket: one campaign on one channel. Its platform name is generated from the taxonomy and stored. Starts in DRAFT. Example: {\"campaign_id\": 1, \"channel_code\": \"META\", \"request_type\": \"NEW_CAMPAIGN\", \"payload_config\": {\"objective\": \"TRAFFIC\"}}. Trafficker or admin.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_ticket(
        &self,
        Parameters(input): Parameters<CreateTicketInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Ticket>, ToolError> {
        let who = self
            .authorize_campaign(&ctx, Permission::Traffic, input.campaign_id)
            .await?;
        Ok(Json(
            self.services.governance.create_ticket(&who, input).await?,
        ))
    }

    #[tool(
        description = "Edit a ticket (payload_config, channel_code, request_type) or set its status to DRAFT or CANCELLED. Any edit sends it back to DRAFT so QA runs again; only DRAFT, QA_FAILED, READY_FOR_API and DEPLOY_FAILED tickets can be edited. Pass expected_version to refuse the edit if someone changed the ticket since you read it. Trafficker or admin.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn update_ticket(
        &self,
        Parameters(input): Parameters<UpdateTicketInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<TicketView>, ToolError> {
        let who = self
            .authorize_ticket(&ctx, Permission::Traffic, input.ticket_id)
            .await?;
        Ok(Json(
            self.services.governance.update_ticket(&who, input).await?,
        ))
    }
}

#[tool_router(router = taxonomy_tools, vis = "pub(super)")]
impl OmniMcp {
    #[tool(
        description = "Preview the taxonomy name a ticket would get, from a campaign_id plus channel_code, or from brand_code, market_code, campaign_name, year and channel_code. Example result: DIS_US_META_2026_MoanaLaunch.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn preview_name(
        &self,
        Parameters(input): Parameters<PreviewNameInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<NamePreview>, ToolError> {
        self.authorize(&ctx, Permission::Read)?;
        Ok(Json(self.services.governance.preview_name(input).await?))
    }

    #[tool(
        description = "Check a campaign name against the naming convention and the governed codes. Returns each segment, the problems (which segment, why) and a suggested corrected name when one can be derived.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn validate_name(
        &self,
        Parameters(input): Parameters<ValidateNameInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<NameValidation>, ToolError> {
        self.authorize(&ctx, Permission::Read)?;
        Ok(Json(self.services.governance.validate_name(input).await?))
    }

    #[tool(
        description = "Show what renaming a brand, market or channel code would change, without changing anything: the campaigns using it, the draft tickets that would be renamed (old and new names), and the live tickets that keep their names.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn rename_impact(
        &self,
        Parameters(input): Parameters<RenameImpactInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<RenameImpact>, ToolError> {
        // It lists every brand's tickets that use the code, so it is for unscoped keys.
        self.authorize_shared(&ctx, Permission::Read, "preview renames of shared codes")?;
        Ok(Json(self.services.governance.rename_impact(input).await?))
    }
}
