//! The brand-guideline copilot: ingest PDFs into page-aware chunks, retrieve them (lexical
//! always, dense when an embedding endpoint is configured, fused by reciprocal rank), answer
//! with citations (`[document p.N]`), and review tickets against the rules.
//!
//! Retrieved text is data. It goes to the model inside a fenced block with an instruction
//! never to follow it, no tools are ever offered to the model, and nothing the model says is
//! executed: the copilot only returns text.

mod answer;
pub mod chunk;
pub mod extract;
pub mod index;
pub mod qdrant;
mod review;
mod samples;
pub mod vector;

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::error::{AppError, AppResult};
use crate::governance::Governance;
use crate::llm::{Llm, prompts};
use crate::store::{self, GuidelineDoc, NewChunk};
use vector::{Store, VectorStore};

pub use review::{Finding, ReviewOutput, ReviewTicketInput};
pub use samples::SAMPLES;

/// Limits and sizes of ingestion.
#[derive(Debug, Clone)]
pub struct CopilotSettings {
    pub max_pdf_bytes: usize,
    pub pdf_time_limit: Duration,
    pub chunk_chars: usize,
    pub chunk_overlap: usize,
}

impl Default for CopilotSettings {
    fn default() -> Self {
        Self {
            max_pdf_bytes: 25 * 1024 * 1024,
            pdf_time_limit: Duration::from_secs(30),
            chunk_chars: 700,
            chunk_overlap: 120,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestGuidelineInput {
    /// Brand the guideline belongs to, e.g. "AUR".
    pub brand_code: String,
    /// File name to store it under, e.g. "aurora-toys.pdf". Ingesting new bytes under the
    /// same name replaces the old version. Defaults to the file name of `path`.
    pub file_name: Option<String>,
    /// The PDF, base64-encoded (standard alphabet). Give this or `path`.
    pub content_base64: Option<String>,
    /// A PDF on the server's own disk, e.g. "/data/guidelines/aurora-toys.pdf". Only for the
    /// local operator (stdio); over HTTP send `content_base64`.
    pub path: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct IngestOutcome {
    /// INGESTED (new), REPLACED (new version of a document) or UNCHANGED (identical bytes).
    pub status: String,
    pub document: GuidelineDoc,
    /// Whether chunks carry embeddings (dense retrieval).
    pub embedded: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListGuidelinesInput {
    /// Only this brand's documents, e.g. "AUR".
    pub brand_code: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct GuidelineList {
    pub documents: Vec<GuidelineDoc>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchGuidelinesInput {
    /// Brand whose guidelines to search, e.g. "AUR".
    pub brand_code: String,
    /// What to look for, e.g. "minimum age for TikTok".
    pub query: String,
    /// How many passages (1-20, default 5).
    pub limit: Option<usize>,
}

/// A retrieved passage.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Passage {
    pub document: String,
    pub page: usize,
    pub heading: Option<String>,
    pub text: String,
    /// Fused rank score (higher is better).
    pub score: f64,
    /// The label answers cite, e.g. "aurora-toys.pdf p.3".
    pub citation: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchOutput {
    /// "hybrid" (lexical + dense) or "lexical".
    pub retrieval: String,
    /// Why retrieval is lexical only, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub passages: Vec<Passage>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AskCopilotInput {
    /// Brand whose guidelines answer, e.g. "AUR".
    pub brand_code: String,
    /// The question, e.g. "Can we target 12-year-olds on TikTok?".
    pub question: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ChatMessage {
    /// "user" or "assistant".
    pub role: String,
    pub content: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatInput {
    pub brand_code: String,
    /// The conversation so far; the last message must be the user's question.
    pub messages: Vec<ChatMessage>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Answer {
    pub answer: String,
    /// False when the guidelines do not cover the question.
    pub found: bool,
    /// "llm" (a grounded answer from the model) or "extractive" (the best passages, quoted).
    pub mode: String,
    pub retrieval: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The passages the answer rests on.
    pub citations: Vec<Passage>,
}

const NOT_COVERED: &str = "The guidelines do not say.";

/// How much of the previous user message a chat adds to retrieval: its end, which holds a
/// typical earlier question whole and is what a follow-up usually refers to. The whole of it
/// could be a pasted document.
const PREVIOUS_MESSAGE_TAIL_CHARS: usize = 300;

#[derive(Clone)]
pub struct CopilotService {
    governance: Governance,
    llm: Option<Llm>,
    settings: CopilotSettings,
    store: Store,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn citation(doc: &str, page: usize) -> String {
    format!("{doc} p.{page}")
}

impl CopilotService {
    /// With `qdrant` (URL, key, collection) retrieval runs in Qdrant; otherwise in the
    /// embedded index, rebuilt from the SQL store now.
    pub async fn new(
        governance: Governance,
        llm: Option<Llm>,
        settings: CopilotSettings,
        qdrant: Option<(String, Option<crate::platforms::client::Secret>, String)>,
    ) -> AppResult<Self> {
        let store = match qdrant {
            Some((url, key, collection)) => {
                Store::Qdrant(qdrant::QdrantStore::new(&url, key, &collection)?)
            }
            None => Store::Embedded(vector::EmbeddedStore::open(governance.db().clone()).await?),
        };
        Ok(Self {
            governance,
            llm,
            settings,
            store,
        })
    }

    /// "embedded" or "qdrant".
    pub fn store_name(&self) -> &'static str {
        self.store.name()
    }

    /// Whether dense retrieval is possible for the brand.
    fn has_vectors(&self, brand_id: i64) -> bool {
        match &self.store {
            Store::Embedded(e) => e.snapshot().has_vectors(brand_id),
            // Qdrant holds a dense vector whenever chunks were embedded at ingestion.
            Store::Qdrant(_) => self
                .llm
                .as_ref()
                .is_some_and(|l| l.embedding_model().is_some()),
        }
    }

    /// Create the bundled sample brands that do not exist yet; returns the codes created.
    pub async fn ensure_sample_brands(&self) -> AppResult<Vec<String>> {
        let mut created = Vec::new();
        for s in SAMPLES {
            match self.governance.get_brand(s.brand_code).await {
                Ok(_) => {}
                Err(AppError::NotFound { .. }) => {
                    let input = serde_json::from_value(serde_json::json!({
                        "name": s.brand_name,
                        "code": s.brand_code,
                        "family_friendly": s.family_friendly,
                        "currency": s.currency,
                    }))
                    .map_err(|e| AppError::Internal(e.to_string()))?;
                    self.governance.create_brand(input).await?;
                    created.push(s.brand_code.to_owned());
                }
                Err(e) => return Err(e),
            }
        }
        Ok(created)
    }

    pub fn settings(&self) -> &CopilotSettings {
        &self.settings
    }

    /// Ingest one PDF for a brand. Identical bytes are a no-op; new bytes under an existing
    /// name replace its chunks in one transaction. On any error nothing is written.
    pub async fn ingest(
        &self,
        brand_code: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> AppResult<IngestOutcome> {
        let brand = self.governance.get_brand(brand_code).await?;
        let name = file_name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(file_name)
            .trim()
            .to_owned();
        if name.is_empty() || name.len() > 200 {
            return Err(AppError::validation(
                "file_name",
                "give the file's name, e.g. \"aurora-toys.pdf\" (at most 200 characters)",
            ));
        }
        let sha = sha256_hex(&bytes);
        {
            let mut c = self.governance.db().pool().acquire().await?;
            if let Some(doc) = store::find_guideline_by_sha(&mut c, brand.id, &sha).await? {
                return Ok(IngestOutcome {
                    status: "UNCHANGED".into(),
                    embedded: self.has_vectors(brand.id),
                    document: doc,
                });
            }
        }
        let pages = extract::pages(
            bytes,
            self.settings.max_pdf_bytes,
            self.settings.pdf_time_limit,
        )
        .await
        .map_err(|e| AppError::validation("file", format!("{name}: {e}")))?;
        self.store_pages(&brand, &name, &sha, pages).await
    }

    /// Keep text written by OmniTraffick itself (a finished campaign's results) as a
    /// retrievable document of the brand, cited by `name`. The same text again is a no-op;
    /// new text under the same name replaces the old.
    pub async fn remember(
        &self,
        brand_code: &str,
        name: &str,
        pages: Vec<String>,
    ) -> AppResult<IngestOutcome> {
        let brand = self.governance.get_brand(brand_code).await?;
        let sha = sha256_hex(pages.join("\u{c}").as_bytes());
        {
            let mut c = self.governance.db().pool().acquire().await?;
            if let Some(doc) = store::find_guideline_by_sha(&mut c, brand.id, &sha).await? {
                return Ok(IngestOutcome {
                    status: "UNCHANGED".into(),
                    embedded: self.has_vectors(brand.id),
                    document: doc,
                });
            }
        }
        self.store_pages(&brand, name, &sha, pages).await
    }

    /// Chunk, embed (when configured) and store a document's pages, replacing an older
    /// version of the same name; nothing is kept on any error.
    async fn store_pages(
        &self,
        brand: &crate::domain::Brand,
        name: &str,
        sha: &str,
        pages: Vec<String>,
    ) -> AppResult<IngestOutcome> {
        let name = name.to_owned();
        let chunks = chunk::chunk_pages(
            &pages,
            self.settings.chunk_chars,
            self.settings.chunk_overlap,
        );
        let embeddings = match self.llm.as_ref().filter(|l| l.embedding_model().is_some()) {
            Some(llm) => {
                let texts: Vec<String> = chunks
                    .iter()
                    .map(|c| match &c.heading {
                        Some(h) => format!("{h}\n{}", c.text),
                        None => c.text.clone(),
                    })
                    .collect();
                Some(llm.embed(&texts).await.map_err(|e| {
                    AppError::conflict(
                        Some("file"),
                        format!("{name}: nothing was stored because the embedding endpoint failed ({e}); retry, or unset OMNITRAFFICK_EMBEDDING_MODEL to ingest for lexical search only"),
                    )
                })?)
            }
            None => None,
        };
        let new_chunks: Vec<NewChunk<'_>> = chunks
            .iter()
            .enumerate()
            .map(|(i, c)| NewChunk {
                page: c.page,
                heading: c.heading.as_deref(),
                text: &c.text,
                embedding: embeddings.as_ref().map(|e| e[i].as_slice()),
            })
            .collect();
        let mut tx = self.governance.db().begin_write().await?;
        let existing = store::find_guideline_doc(&mut tx, brand.id, &name).await?;
        let id = store::store_guideline(
            &mut tx,
            existing.as_ref().map(|d| d.id),
            brand.id,
            &name,
            sha,
            &pages,
            &new_chunks,
            self.llm.as_ref().and_then(|l| l.embedding_model()),
        )
        .await?;
        let doc = store::get_guideline_doc(&mut tx, id)
            .await?
            .ok_or_else(|| AppError::Internal("document vanished after saving".into()))?;
        match &self.store {
            // An external store is written before the commit: if it fails, nothing is kept.
            Store::Qdrant(q) => {
                let chunks = store::guideline_chunks_of(&mut tx, id).await?;
                q.index_document(id, &chunks).await.map_err(|e| {
                    AppError::conflict(
                        Some("file"),
                        format!("{name}: nothing was stored because the vector store failed ({e}); retry when Qdrant is reachable"),
                    )
                })?;
                tx.commit().await?;
            }
            Store::Embedded(e) => {
                tx.commit().await?;
                e.rebuild().await?;
            }
        }
        Ok(IngestOutcome {
            status: if existing.is_some() {
                "REPLACED"
            } else {
                "INGESTED"
            }
            .into(),
            document: doc,
            embedded: embeddings.is_some(),
        })
    }

    pub async fn list(&self, input: ListGuidelinesInput) -> AppResult<GuidelineList> {
        let brand_id = match &input.brand_code {
            Some(b) => Some(self.governance.get_brand(b).await?.id),
            None => None,
        };
        let mut c = self.governance.db().pool().acquire().await?;
        Ok(GuidelineList {
            documents: store::list_guideline_docs(&mut c, brand_id).await?,
        })
    }

    /// A document's text, page by page, for the guidelines resource.
    pub async fn document_text(&self, id: i64) -> AppResult<(GuidelineDoc, Vec<String>)> {
        let mut c = self.governance.db().pool().acquire().await?;
        let doc = store::get_guideline_doc(&mut c, id)
            .await?
            .ok_or_else(|| AppError::not_found("guideline document", id))?;
        let pages = store::guideline_pages(&mut c, id).await?;
        Ok((doc, pages))
    }

    /// Retrieve passages; lexical always, dense when embeddings exist for the brand.
    pub async fn search(&self, input: SearchGuidelinesInput) -> AppResult<SearchOutput> {
        let query = required_text(
            "query",
            &input.query,
            "say what to look for, e.g. \"minimum age\"",
            2,
        )?;
        let brand = self.governance.get_brand(&input.brand_code).await?;
        let limit = input.limit.unwrap_or(5).clamp(1, 20);
        let (hits, retrieval, note) = self.retrieve(brand.id, query, limit).await;
        Ok(SearchOutput {
            retrieval,
            note,
            passages: hits.into_iter().map(|(p, _)| p).collect(),
        })
    }

    /// Passages with their term coverage, the retrieval mode and a note when degraded. Only
    /// the query's first MAX_QUERY_CHARS characters are embedded and searched (and at most
    /// MAX_QUERY_TERMS distinct terms of them scored).
    async fn retrieve(
        &self,
        brand_id: i64,
        query: &str,
        k: usize,
    ) -> (Vec<(Passage, f32)>, String, Option<String>) {
        let query = index::bounded_query(query);
        // Before `has_vectors` reads the snapshot: documents another process ingested (with
        // embeddings) count from the first question after.
        if let Store::Embedded(e) = &self.store {
            e.refresh_if_changed().await;
        }
        let mut note = None;
        let qvec = match self.llm.as_ref().filter(|l| l.embedding_model().is_some()) {
            None => {
                note = Some(
                    "no embedding endpoint is configured, so retrieval is lexical only (BM25)"
                        .to_owned(),
                );
                None
            }
            Some(_) if !self.has_vectors(brand_id) => {
                note = Some("this brand's documents were ingested without embeddings, so retrieval is lexical only; re-ingest them to add dense retrieval".to_owned());
                None
            }
            Some(llm) => match llm.embed(&[query.to_owned()]).await {
                Ok(mut v) => v.pop(),
                Err(e) => {
                    tracing::warn!(error = %e, "query embedding failed; lexical retrieval only");
                    note = Some(
                        "the embedding endpoint failed, so this answer used lexical retrieval only"
                            .to_owned(),
                    );
                    None
                }
            },
        };
        let retrieval = if qvec.is_some() { "hybrid" } else { "lexical" }.to_owned();
        let hits = match self.store.search(brand_id, query, qvec.as_deref(), k).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, store = self.store.name(), "guideline search failed");
                note = Some(format!(
                    "the {} vector store failed, so no passages could be retrieved",
                    self.store.name()
                ));
                Vec::new()
            }
        };
        let hits = hits
            .into_iter()
            .map(|h| {
                let c = h.chunk;
                (
                    Passage {
                        citation: citation(&c.document, c.page),
                        document: c.document,
                        page: c.page,
                        heading: c.heading,
                        text: c.text,
                        score: h.score,
                    },
                    h.relevance,
                )
            })
            .collect();
        (hits, retrieval, note)
    }
}

/// A text input, trimmed: refused when empty (`hint` says what to write) or longer than
/// `max_thousands` thousand bytes.
fn required_text<'a>(
    field: &str,
    raw: &'a str,
    hint: &str,
    max_thousands: usize,
) -> AppResult<&'a str> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(AppError::validation(field, hint));
    }
    if text.len() > max_thousands * 1000 {
        return Err(AppError::validation(
            field,
            format!("keep it under {max_thousands},000 characters"),
        ));
    }
    Ok(text)
}
