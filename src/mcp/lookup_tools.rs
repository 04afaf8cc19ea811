//! Lookup tools: the platform ids an assistant needs (ad accounts, pages or identities,
//! pixels, interests, locations) and the audience estimate for a ticket, so nothing is
//! guessed. They change nothing anywhere; answers are cached for a few minutes.

use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};

use super::{OmniMcp, Parameters, ToolError};
use crate::assets::lookups::*;
use crate::auth::Permission;

#[tool_router(router = lookup_tools, vis = "pub(super)")]
impl OmniMcp {
    #[tool(
        description = "List the ad accounts the channel's platform credential reaches (Meta ad accounts, TikTok advertisers, Google Ads customers): id (what a channel's account_id takes), name, status, currency and time zone as the platform reports them, and which one the channel uses. Accounts are flagged CURRENCY_MISMATCH when they bill in another currency than the brand (brand_code, or the brand of the channel's tickets when they all share one and the key covers every brand) and TIME_ZONE_UNKNOWN when the platform gives no time zone: do not traffic a brand to a flagged account without asking the person. At most 200 accounts. Answers are cached for a few minutes (from_cache, read_at). Any role but tracker.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn list_ad_accounts(
        &self,
        Parameters(input): Parameters<AdAccountsInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<AdAccountsOutput>, ToolError> {
        let who = match input.brand_code.as_deref() {
            Some(b) => {
                self.authorize_brand(&ctx, Permission::Read, &b.trim().to_ascii_uppercase())?
            }
            None => self.authorize(&ctx, Permission::Read)?,
        };
        // A brand-scoped key must not learn another brand from the channel's tickets.
        let may_deduce = who.brands().is_none();
        Ok(Json(
            self.services.lookups.ad_accounts(input, may_deduce).await?,
        ))
    }

    #[tool(
        description = "List what an ad can speak as on the channel's platform: Meta pages the credential manages (use the id as overrides.meta.creative.object_story_spec.page_id) or TikTok identities of the channel's advertiser (identity_id with its kind as identity_type). Google Ads has none and the answer says so in note. At most 200. Cached for a few minutes (from_cache, read_at). Any role but tracker.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn list_pages(
        &self,
        Parameters(input): Parameters<ChannelLookupInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<PagesOutput>, ToolError> {
        self.authorize(&ctx, Permission::Read)?;
        Ok(Json(self.services.lookups.pages(input).await?))
    }

    #[tool(
        description = "List the pixels of the channel's ad account (Meta pixel ids for promoted_object.pixel_id; TikTok pixel_id and pixel_code) or, on Google Ads, its conversion actions (Google has no pixels; note says so). At most 200. Cached for a few minutes (from_cache, read_at). Any role but tracker.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn list_pixels(
        &self,
        Parameters(input): Parameters<ChannelLookupInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<PixelsOutput>, ToolError> {
        self.authorize(&ctx, Permission::Read)?;
        Ok(Json(self.services.lookups.pixels(input).await?))
    }

    #[tool(
        description = "Search the channel's platform for interests to target (Meta interests with audience size bounds, TikTok interest categories, Google Ads affinity and in-market audiences): platform id (for payload_config.targeting.interests[].id), name, path and audience size where the platform gives one. Give brand_code and each interest carries brand_safety: BLOCKED means QA would refuse a ticket of that brand targeting it (family-friendly brands may not target blocked adult, alcohol or gambling interests) - never use a BLOCKED interest; ALLOWED; or NOT_CHECKED without brand_code. query: 1 to 100 characters. At most 50 results. Cached for a few minutes (from_cache, read_at). Any role but tracker; a key limited to some brands may only name those.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn search_interests(
        &self,
        Parameters(input): Parameters<InterestSearchInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<InterestsOutput>, ToolError> {
        match input.brand_code.as_deref() {
            Some(b) => {
                self.authorize_brand(&ctx, Permission::Read, &b.trim().to_ascii_uppercase())?
            }
            None => self.authorize(&ctx, Permission::Read)?,
        };
        Ok(Json(self.services.lookups.search_interests(input).await?))
    }

    #[tool(
        description = "Search the channel's platform for locations by name: Meta geo keys, TikTok location ids or Google Ads geo target constants, with kind (country, region, city ...), country code and parent, for payload_config.targeting.regions. query: 1 to 100 characters, e.g. \"Paris\". At most 50 results. Cached for a few minutes (from_cache, read_at). Any role but tracker.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn search_locations(
        &self,
        Parameters(input): Parameters<LocationSearchInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<LocationsOutput>, ToolError> {
        self.authorize(&ctx, Permission::Read)?;
        Ok(Json(self.services.lookups.search_locations(input).await?))
    }

    #[tool(
        description = "Estimate the audience of a ticket's targeting: the ticket is translated exactly as for a deploy and its targeting sent to the platform's estimator (Meta delivery_estimate: monthly active people bounds and daily active people; TikTok audience size: user_count bounds). Google Ads offers no such estimate: offered is false and note says so. Nothing is created. Cached for a few minutes per targeting (from_cache, read_at). Any role but tracker, for a ticket of a brand the key covers.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    async fn estimate_reach(
        &self,
        Parameters(input): Parameters<EstimateReachInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ReachOutput>, ToolError> {
        self.authorize_ticket(&ctx, Permission::Read, input.ticket_id)
            .await?;
        Ok(Json(self.services.lookups.estimate_reach(input).await?))
    }
}
