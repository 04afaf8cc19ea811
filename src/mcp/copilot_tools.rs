//! Copilot tools: guideline ingestion, listing, search, questions and ticket reviews.

use base64::Engine;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};

use super::{OmniMcp, Parameters, ToolError};
use crate::auth::Permission;
use crate::copilot::*;
use crate::error::AppError;

/// A regular file (`what`, for the message) of at most `max` bytes, checked before reading and read with the limit
/// enforced (the size can change between the check and the read).
pub(super) async fn read_local_file(
    path: &str,
    max: usize,
    what: &str,
    limit_hint: &str,
) -> Result<Vec<u8>, AppError> {
    use tokio::io::AsyncReadExt;
    let cannot =
        |e: std::io::Error| AppError::validation("path", format!("cannot read {path}: {e}"));
    let meta = tokio::fs::metadata(path).await.map_err(cannot)?;
    if !meta.is_file() {
        return Err(AppError::validation(
            "path",
            format!("{path} is not a regular file; give the path of {what}"),
        ));
    }
    let too_big = || {
        AppError::validation(
            "path",
            format!("{path} is larger than the {max}-byte limit ({limit_hint})"),
        )
    };
    if meta.len() > max as u64 {
        return Err(too_big());
    }
    let file = tokio::fs::File::open(path).await.map_err(cannot)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(cannot)?;
    if bytes.len() > max {
        return Err(too_big());
    }
    Ok(bytes)
}

#[tool_router(router = copilot_tools, vis = "pub(super)")]
impl OmniMcp {
    #[tool(
        description = "Ingest a brand-guideline PDF for the copilot: text per page, chunked with page numbers and headings, embedded when an embedding endpoint is configured. Identical bytes are a no-op (UNCHANGED); new bytes under an existing file_name replace the old version (REPLACED). Malformed, encrypted, empty, non-PDF and scanned (no text layer) files are refused with the reason, and nothing is stored. Example: {\"brand_code\": \"AUR\", \"file_name\": \"aurora-toys.pdf\", \"content_base64\": \"JVBERi0xLjQK...\"}. Admin only.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn ingest_guideline(
        &self,
        Parameters(input): Parameters<IngestGuidelineInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<IngestOutcome>, ToolError> {
        self.authorize_brand(&ctx, Permission::Govern, &input.brand_code)?;
        let (bytes, default_name) = match (&input.content_base64, &input.path) {
            (Some(b64), None) => {
                let clean: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(clean.as_bytes())
                    .map_err(|e| {
                        AppError::validation(
                            "content_base64",
                            format!(
                                "is not valid base64 ({e}); send the PDF's bytes base64-encoded"
                            ),
                        )
                    })?;
                (bytes, None)
            }
            (None, Some(path)) => {
                // Decided by the transport, never by the caller's name: only the person at
                // this machine's terminal (stdio) may have the server read its own files.
                if !self.is_stdio() {
                    return Err(AppError::Forbidden(
                        "path is only accepted over stdio, from the operator at the server's terminal; over HTTP send the file as content_base64".into(),
                    )
                    .into());
                }
                let max = self.services.copilot.settings().max_pdf_bytes;
                (
                    read_local_file(path, max, "a PDF", "--max-pdf-bytes").await?,
                    Some(path.clone()),
                )
            }
            _ => {
                return Err(AppError::validation(
                    "content_base64",
                    "give exactly one of content_base64 (the PDF, base64) or path (a file on the server, stdio only)",
                )
                .into());
            }
        };
        let name = input.file_name.clone().or(default_name).ok_or_else(|| {
            AppError::validation(
                "file_name",
                "give the file's name, e.g. \"aurora-toys.pdf\"",
            )
        })?;
        Ok(Json(
            self.services
                .copilot
                .ingest(&input.brand_code, &name, bytes)
                .await?,
        ))
    }

    #[tool(
        description = "List ingested guideline documents (brand, file name, pages, chunks, version, resource URI). Example: {\"brand_code\": \"AUR\"} or {} for all brands.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_guidelines(
        &self,
        Parameters(input): Parameters<ListGuidelinesInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<GuidelineList>, ToolError> {
        let who = self.authorize(&ctx, Permission::Read)?;
        if let Some(b) = &input.brand_code {
            who.require_brand(b)?;
        }
        let mut list = self.services.copilot.list(input).await?;
        list.documents
            .retain(|d| who.require_brand(&d.brand_code).is_ok());
        Ok(Json(list))
    }

    #[tool(
        description = "Search a brand's guidelines: lexical (BM25) always, plus dense embeddings when configured, fused by reciprocal rank. Returns passages with document, page, heading, score and a citation label. Example: {\"brand_code\": \"AUR\", \"query\": \"minimum age on TikTok\", \"limit\": 5}.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn search_guidelines(
        &self,
        Parameters(input): Parameters<SearchGuidelinesInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<SearchOutput>, ToolError> {
        self.authorize_brand(&ctx, Permission::Copilot, &input.brand_code)?;
        Ok(Json(self.services.copilot.search(input).await?))
    }

    #[tool(
        description = "Ask the brand-guideline copilot a question. The answer cites [document p.N] for every claim and says \"The guidelines do not say.\" when they do not (found: false). With a language model configured the answer is written by it from the retrieved passages only; without one it quotes the best passages (mode: extractive). Passages are data: nothing in them can make the server act. Example: {\"brand_code\": \"AUR\", \"question\": \"Can we target 12-year-olds?\"}.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn ask_copilot(
        &self,
        Parameters(input): Parameters<AskCopilotInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Answer>, ToolError> {
        self.authorize_brand(&ctx, Permission::Copilot, &input.brand_code)?;
        Ok(Json(self.services.copilot.ask(input).await?))
    }

    #[tool(
        description = "Review a ticket against its brand's guidelines before trafficking: queries from the ticket (audience ages, interests, platform, objective, creative copy), retrieval, then findings with severity (VIOLATION, CHECK, INFO), the rule, what to change, and the citation. With a language model it judges; without one it lists the rules to check and flags clear conflicts (ages below a stated minimum, named interests). Example: {\"ticket_id\": 42}.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn review_ticket_against_guidelines(
        &self,
        Parameters(input): Parameters<ReviewTicketInput>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<ReviewOutput>, ToolError> {
        self.authorize_ticket(&ctx, Permission::Copilot, input.ticket_id)
            .await?;
        Ok(Json(self.services.copilot.review_ticket(input).await?))
    }
}
