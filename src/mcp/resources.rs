//! Resources: tickets by id and the active taxonomy convention.

use rmcp::ErrorData as McpError;
use rmcp::RoleServer;
use rmcp::model::*;
use rmcp::service::RequestContext;

use super::OmniMcp;
use crate::auth::Permission;
use crate::error::AppError;
use crate::governance::ListTicketsInput;

pub const CONVENTION_URI: &str = "omnitraffick://taxonomy/convention";
pub const TICKET_PREFIX: &str = "omnitraffick://tickets/";
pub const GUIDELINE_PREFIX: &str = "omnitraffick://guidelines/";
pub const CAMPAIGN_PREFIX: &str = "omnitraffick://campaigns/";
pub const PACING_SUFFIX: &str = "/pacing";

pub fn templates() -> Vec<ResourceTemplate> {
    vec![
        ResourceTemplate::new(format!("{TICKET_PREFIX}{{id}}"), "ticket")
            .with_title("Trafficking ticket")
            .with_description("A ticket with its status, taxonomy name, payload config, QA report, external ids and history.")
            .with_mime_type("application/json")
            ,
        ResourceTemplate::new(format!("{GUIDELINE_PREFIX}{{id}}"), "guideline")
            .with_title("Brand guideline document")
            .with_description("An ingested guideline document: brand, file, version and its text page by page.")
            .with_mime_type("application/json"),
        ResourceTemplate::new(format!("{CAMPAIGN_PREFIX}{{id}}{PACING_SUFFIX}"), "campaign-pacing")
            .with_title("Campaign pacing")
            .with_description("Budget pacing of a campaign's deployed tickets as of the last sync: planned and actual spend, pace, projection, verdict and the platforms' reasons (as get_pacing).")
            .with_mime_type("application/json"),
    ]
}

fn to_mcp(e: AppError) -> McpError {
    match e {
        AppError::NotFound { .. } => McpError::resource_not_found(e.to_string(), None),
        AppError::Forbidden(_) | AppError::Unauthorized(_) => {
            McpError::invalid_request(e.to_string(), None)
        }
        AppError::Internal(detail) => {
            tracing::error!(error = %detail, "resource read failed");
            McpError::internal_error("internal error; see the server log", None)
        }
        other => McpError::invalid_params(other.to_string(), None),
    }
}

fn json_contents(
    uri: &str,
    value: &impl serde::Serialize,
) -> Result<ReadResourceResponse, McpError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| McpError::internal_error(e.to_string(), None))?;
    Ok(ReadResourceResult::new(vec![
        ResourceContents::text(text, uri.to_owned()).with_mime_type("application/json"),
    ])
    .into())
}

impl OmniMcp {
    pub(super) async fn resource_list(
        &self,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let who = self
            .principal(ctx)
            .and_then(|p| p.require(Permission::Read).map(|_| p))
            .map_err(to_mcp)?;
        let mut resources = vec![
            Resource::new(CONVENTION_URI, "taxonomy-convention")
                .with_title("Campaign naming convention")
                .with_description("The active naming convention: pattern, separator, segments and maximum length.")
                .with_mime_type("application/json")
                ,
        ];
        let recent = self
            .services
            .governance
            .list_tickets(
                &who,
                ListTicketsInput {
                    limit: Some(100),
                    ..Default::default()
                },
            )
            .await
            .map_err(to_mcp)?;
        for t in recent.tickets {
            resources.push(
                Resource::new(
                    format!("{TICKET_PREFIX}{}", t.id),
                    format!("ticket-{}", t.id),
                )
                .with_title(format!(
                    "Ticket {}: {} ({})",
                    t.id, t.platform_name, t.status
                ))
                .with_mime_type("application/json"),
            );
        }
        let docs = self
            .services
            .copilot
            .list(crate::copilot::ListGuidelinesInput { brand_code: None })
            .await
            .map_err(to_mcp)?;
        for d in docs.documents {
            if who.require_brand(&d.brand_code).is_err() {
                continue;
            }
            resources.push(
                Resource::new(d.uri.clone(), format!("guideline-{}", d.id))
                    .with_title(format!(
                        "{} guideline {} (v{})",
                        d.brand_code, d.name, d.version
                    ))
                    .with_mime_type("application/json"),
            );
        }
        Ok(ListResourcesResult::with_all_items(resources))
    }

    pub(super) async fn resource_read(
        &self,
        uri: &str,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let who = self
            .principal(ctx)
            .and_then(|p| p.require(Permission::Read).map(|_| p))
            .map_err(to_mcp)?;
        if uri == CONVENTION_URI {
            return json_contents(uri, self.services.governance.convention());
        }
        if let Some(id) = uri.strip_prefix(TICKET_PREFIX) {
            let id: i64 = id.parse().map_err(|_| {
                McpError::invalid_params(
                    format!("\"{id}\" is not a ticket id; use omnitraffick://tickets/42"),
                    None,
                )
            })?;
            let view = self
                .services
                .governance
                .get_ticket_for(&who, id)
                .await
                .map_err(to_mcp)?;
            return json_contents(uri, &view);
        }
        if let Some(id) = uri.strip_prefix(GUIDELINE_PREFIX) {
            let id: i64 = id.parse().map_err(|_| {
                McpError::invalid_params(
                    format!("\"{id}\" is not a guideline document id; list_guidelines shows them"),
                    None,
                )
            })?;
            let (doc, pages) = self
                .services
                .copilot
                .document_text(id)
                .await
                .map_err(to_mcp)?;
            who.require_brand(&doc.brand_code).map_err(to_mcp)?;
            let pages: Vec<serde_json::Value> = pages
                .into_iter()
                .enumerate()
                .map(|(i, text)| serde_json::json!({"page": i + 1, "text": text}))
                .collect();
            return json_contents(uri, &serde_json::json!({"document": doc, "pages": pages}));
        }
        if let Some(id) = uri
            .strip_prefix(CAMPAIGN_PREFIX)
            .and_then(|r| r.strip_suffix(PACING_SUFFIX))
        {
            let id: i64 = id.parse().map_err(|_| {
                McpError::invalid_params(
                    format!("\"{id}\" is not a campaign id; use omnitraffick://campaigns/7/pacing"),
                    None,
                )
            })?;
            let pacing = self
                .pacing_for(ctx, None, Some(id))
                .await
                .map_err(|e| to_mcp(e.0))?;
            return json_contents(uri, &pacing);
        }
        Err(McpError::resource_not_found(
            format!(
                "no resource {uri}; resources are {CONVENTION_URI}, {TICKET_PREFIX}{{id}}, {GUIDELINE_PREFIX}{{id}} and {CAMPAIGN_PREFIX}{{id}}{PACING_SUFFIX}"
            ),
            None,
        ))
    }
}
