// Logging (logging/setLevel, notifications/message) is deprecated by the newest MCP revision
// but still part of the revisions clients negotiate today, and the spec of this server.
#![allow(deprecated)]

//! The MCP server: one handler type served over stdio and Streamable HTTP. Tools only parse,
//! authorise and call the area services; the rules live there.

mod asset_tools;
mod audit_tools;
mod change_tools;
mod copilot_tools;
mod insights_tools;
mod lookup_tools;
mod params;
mod prompts;
mod resources;
pub mod subscriptions;
mod tools;
mod trafficking_tools;

pub use params::Parameters;

use rmcp::handler::server::router::{prompt::PromptRouter, tool::ToolRouter};
use rmcp::handler::server::tool::{IntoCallToolResult, ToolCallContext};
use rmcp::model::*;
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tracing::Instrument;

use crate::auth::{Permission, Principal};
use crate::error::AppError;
use crate::startup::AppServices;

/// The tool and prompt routers every session shares.
type Routers = (Arc<ToolRouter<OmniMcp>>, Arc<PromptRouter<OmniMcp>>);

/// Distinguishes MCP sessions (one handler per session).
static NEXT_SESSION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

#[derive(Clone)]
pub struct OmniMcp {
    services: AppServices,
    /// Set for stdio (the local operator); None means "take it from the HTTP request".
    fixed_principal: Option<Principal>,
    /// Built once per process and shared by every session (`routers`): building them means
    /// building every tool's JSON schema, which cost each session about 40 KB (1,000 sessions:
    /// 197 MB of RSS, now 157 MB) and the time to build them.
    tool_router: Arc<ToolRouter<Self>>,
    prompt_router: Arc<PromptRouter<Self>>,
    /// The level the client asked for with logging/setLevel; below it nothing is sent.
    log_level: Arc<Mutex<Option<LoggingLevel>>>,
    session: u64,
}

/// A tool failure as the caller sees it: `isError: true` and a JSON body
/// `{"error": {"code", "message", "field"?}}` in the text content.
#[derive(Debug)]
pub struct ToolError(pub AppError);

impl From<AppError> for ToolError {
    fn from(e: AppError) -> Self {
        Self(e)
    }
}

impl IntoCallToolResult for ToolError {
    fn into_call_tool_result(self) -> Result<CallToolResponse, McpError> {
        if let AppError::Internal(detail) = &self.0 {
            tracing::error!(error = %detail, "tool failed with an internal error");
        }
        let body = serde_json::json!({ "error": self.0.body() });
        Ok(CallToolResult::error(vec![ContentBlock::text(body.to_string())]).into())
    }
}

fn level_rank(l: LoggingLevel) -> u8 {
    match l {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

impl OmniMcp {
    /// A handler for stdio: every call runs as the local operator.
    pub fn for_stdio(services: AppServices) -> Self {
        Self::new(services, Some(Principal::local_operator()))
    }

    /// A handler for HTTP: the caller comes from the authenticated request.
    pub fn for_http(services: AppServices) -> Self {
        Self::new(services, None)
    }

    fn new(services: AppServices, fixed_principal: Option<Principal>) -> Self {
        let (tool_router, prompt_router) = Self::routers();
        Self {
            services,
            fixed_principal,
            tool_router,
            prompt_router,
            log_level: Arc::new(Mutex::new(None)),
            session: NEXT_SESSION.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// The tool and prompt routers, built on first use. They hold the tools' descriptions,
    /// schemas and handlers, and nothing of a session.
    fn routers() -> Routers {
        static ROUTERS: std::sync::OnceLock<Routers> = std::sync::OnceLock::new();
        let (tools, prompts) = ROUTERS.get_or_init(|| {
            let tools = Self::governance_tools()
                + Self::taxonomy_tools()
                + Self::qa_tools()
                + Self::deploy_tools()
                + Self::copilot_tools()
                + Self::healing_tools()
                + Self::capi_tools()
                + Self::change_tools()
                + Self::insights_tools()
                + Self::audit_tools()
                + Self::lookup_tools()
                + Self::asset_tools();
            (Arc::new(tools), Arc::new(Self::prompts()))
        });
        (tools.clone(), prompts.clone())
    }

    /// Serving stdio: the caller is the operator at this machine's terminal.
    fn is_stdio(&self) -> bool {
        self.fixed_principal.is_some()
    }

    pub fn tool_names(&self) -> Vec<String> {
        self.tool_router
            .list_all()
            .into_iter()
            .map(|t| t.name.to_string())
            .collect()
    }

    /// Who is calling: the fixed principal (stdio) or the one the HTTP layer authenticated.
    fn principal(&self, ctx: &RequestContext<RoleServer>) -> Result<Principal, AppError> {
        if let Some(p) = &self.fixed_principal {
            return Ok(p.clone());
        }
        ctx.extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Principal>())
            .cloned()
            .ok_or_else(|| AppError::Unauthorized("no authenticated caller on this request".into()))
    }

    /// The caller, if allowed to do `p`.
    fn authorize(
        &self,
        ctx: &RequestContext<RoleServer>,
        p: Permission,
    ) -> Result<Principal, ToolError> {
        let principal = self.principal(ctx)?;
        principal.require(p)?;
        Ok(principal)
    }

    /// The caller, if allowed to do `p` to this ticket (its key covers the ticket's brand).
    async fn authorize_ticket(
        &self,
        ctx: &RequestContext<RoleServer>,
        p: Permission,
        ticket_id: i64,
    ) -> Result<Principal, ToolError> {
        let who = self.authorize(ctx, p)?;
        self.services
            .governance
            .authorize_ticket(&who, ticket_id)
            .await?;
        Ok(who)
    }

    /// The caller, if allowed to do `p` to this change (to its ticket).
    async fn authorize_change(
        &self,
        ctx: &RequestContext<RoleServer>,
        p: Permission,
        change_id: i64,
    ) -> Result<Principal, ToolError> {
        let who = self.authorize(ctx, p)?;
        self.services.changes.authorize(&who, change_id).await?;
        Ok(who)
    }

    /// The caller, if allowed to do `p` to this campaign.
    async fn authorize_campaign(
        &self,
        ctx: &RequestContext<RoleServer>,
        p: Permission,
        campaign_id: i64,
    ) -> Result<Principal, ToolError> {
        let who = self.authorize(ctx, p)?;
        self.services
            .governance
            .authorize_campaign(&who, campaign_id)
            .await?;
        Ok(who)
    }

    /// The caller, if allowed to do `p` for this brand.
    fn authorize_brand(
        &self,
        ctx: &RequestContext<RoleServer>,
        p: Permission,
        brand_code: &str,
    ) -> Result<Principal, ToolError> {
        let who = self.authorize(ctx, p)?;
        who.require_brand(brand_code)?;
        Ok(who)
    }

    /// The caller, if allowed to do `p` to data every brand shares (a scoped key may not).
    fn authorize_shared(
        &self,
        ctx: &RequestContext<RoleServer>,
        p: Permission,
        what: &str,
    ) -> Result<Principal, ToolError> {
        let who = self.authorize(ctx, p)?;
        who.require_unscoped(what)?;
        Ok(who)
    }

    async fn notify_log(
        &self,
        peer: &rmcp::Peer<RoleServer>,
        level: LoggingLevel,
        data: serde_json::Value,
    ) {
        let wanted = self.log_level.lock().ok().and_then(|l| *l);
        let Some(min) = wanted else { return };
        if level_rank(level) < level_rank(min) {
            return;
        }
        let param = LoggingMessageNotificationParam::new(level, data).with_logger("omnitraffick");
        if let Err(e) = peer.notify_logging_message(param).await {
            tracing::debug!(error = %e, "could not send a log notification");
        }
    }
}

fn is_input_error(e: &McpError) -> bool {
    e.code == ErrorCode::INVALID_PARAMS
        && e.data
            .as_ref()
            .is_some_and(|d| d.get(params::INPUT_ERROR_MARKER).is_some())
}

impl ServerHandler for OmniMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_resources_subscribe()
                .enable_prompts()
                .enable_logging()
                .build(),
        )
        .with_server_info(Implementation::new("omnitraffick", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "OmniTraffick traffics ad campaigns to Meta, TikTok and Google Ads under strict governance. \
             Workflow: list_brands / list_markets / list_channels to find governed codes; create_campaign \
             (brand_code, market_code, name, year); preview_name to see the taxonomy name; create_ticket \
             (campaign_id, channel_code, payload_config). Names follow [BrandCode]_[Market]_[Channel]_[Year]_[CampaignName]. \
             Errors come back as tool errors whose JSON names the field and how to fix it. \
             The traffic_campaign prompt walks through the whole flow.",
        )
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let tool = request.name.to_string();
        let caller = self
            .principal(&context)
            .map(|p| p.name)
            .unwrap_or_else(|_| "unauthenticated".into());
        let span = tracing::info_span!("tool_call", tool = %tool, caller = %caller);
        let peer = context.peer.clone();
        let started = Instant::now();
        let ctx = ToolCallContext::new(self, request, context);
        let result = match self.tool_router.call(ctx).instrument(span.clone()).await {
            Err(e) if is_input_error(&e) => {
                let field = e.data.as_ref().and_then(|d| {
                    d[params::INPUT_ERROR_MARKER]["field"]
                        .as_str()
                        .map(str::to_owned)
                });
                let body = serde_json::json!({ "error": {
                    "code": "VALIDATION",
                    "message": format!("{}; check the tool's input schema", e.message),
                    "field": field,
                }});
                Ok(CallToolResult::error(vec![ContentBlock::text(body.to_string())]).into())
            }
            other => other,
        };
        let millis = started.elapsed().as_secs_f64() * 1000.0;
        let outcome = match &result {
            Ok(CallToolResponse::Complete(r)) if r.is_error == Some(true) => "tool_error",
            Ok(_) => "ok",
            Err(_) => "protocol_error",
        };
        span.in_scope(|| tracing::info!(outcome, duration_ms = millis, "tool call finished"));
        // Only names the router knows become labels: any other text a caller sends would be
        // a new series on /metrics for good.
        let label = if self.tool_router.has_route(&tool) {
            tool.as_str()
        } else {
            "unknown"
        };
        crate::telemetry::metrics::record_tool_call(label, outcome, millis / 1000.0);
        let level = if outcome == "ok" {
            LoggingLevel::Info
        } else {
            LoggingLevel::Warning
        };
        self.notify_log(
            &peer,
            level,
            serde_json::json!({ "tool": tool, "outcome": outcome, "duration_ms": millis }),
        )
        .await;
        result
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.tool_router.list_all()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tool_router.get(name).cloned()
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        if let Ok(mut l) = self.log_level.lock() {
            *l = Some(request.level);
        }
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(ListPromptsResult::with_all_items(
            self.prompt_router.list_all(),
        ))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let ctx = rmcp::handler::server::prompt::PromptContext::new(
            self,
            request.name,
            request.arguments,
            context,
        );
        self.prompt_router.get_prompt(ctx).await
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let who = self
            .principal(&context)
            .and_then(|p| p.require(Permission::Read).map(|_| p))
            .map_err(|e| McpError::invalid_request(e.to_string(), None))?;
        let ticket = subscriptions::ticket_of(&request.uri).ok_or_else(|| {
            McpError::invalid_params(
                format!(
                    "{} cannot be subscribed to; subscribe to omnitraffick://tickets/{{id}}",
                    request.uri
                ),
                None,
            )
        })?;
        self.services
            .governance
            .authorize_ticket(&who, ticket)
            .await
            .map_err(|e| McpError::invalid_request(e.to_string(), None))?;
        self.services
            .governance
            .get_ticket(ticket)
            .await
            .map_err(|e| McpError::resource_not_found(e.to_string(), None))?;
        self.services.watch.subscribe_legacy(
            ticket,
            &request.uri,
            self.session,
            context.peer.clone(),
        );
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        if let Some(ticket) = subscriptions::ticket_of(&request.uri) {
            self.services.watch.unsubscribe_legacy(ticket, self.session);
        }
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let uris: Vec<String> = requested
            .resource_subscriptions
            .iter()
            .flatten()
            .filter(|u| subscriptions::ticket_of(u).is_some())
            .cloned()
            .collect();
        Some(
            SubscriptionFilter::builder()
                .resource_subscriptions(uris)
                .build(),
        )
    }

    async fn listen(&self, context: rmcp::service::SubscriptionContext) -> Result<(), McpError> {
        let who = match self
            .principal(context.request_context())
            .and_then(|p| p.require(Permission::Read).map(|_| p))
        {
            Ok(p) => p,
            Err(e) => return Err(McpError::invalid_request(e.to_string(), None)),
        };
        let mut uris = Vec::new();
        for uri in context
            .accepted()
            .resource_subscriptions
            .clone()
            .unwrap_or_default()
        {
            // A scoped key hears only about its brands' tickets.
            let allowed = match subscriptions::ticket_of(&uri) {
                Some(t) => self
                    .services
                    .governance
                    .authorize_ticket(&who, t)
                    .await
                    .is_ok(),
                None => false,
            };
            if allowed {
                uris.push(uri);
            }
        }
        let keys = self.services.watch.listen(&uris, context.sink().clone());
        context.cancelled().await;
        self.services.watch.drop_keys(&keys);
        Ok(())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        self.resource_list(&context).await
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(
            resources::templates(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        self.resource_read(&request.uri, &context).await
    }
}
