//! The OpenAI-compatible client (async-openai) for embeddings and chat completions, and the
//! prompt templates in `prompts/`. Configured by base URL, models and key; absent when no
//! endpoint is configured, and then everything falls back to lexical retrieval and
//! extractive answers.

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestUserMessage, CreateChatCompletionRequestArgs,
};
use async_openai::types::embeddings::{CreateEmbeddingRequest, EmbeddingInput};

use crate::error::{AppError, AppResult};

/// Where the OpenAI-compatible endpoint is.
#[derive(Clone)]
pub struct LlmConfig {
    pub base_url: String,
    pub api_key: crate::platforms::client::Secret,
    /// Embedding model; `None` disables dense retrieval.
    pub embedding_model: Option<String>,
    /// Chat model; `None` means extractive answers.
    pub chat_model: Option<String>,
}

impl std::fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmConfig")
            .field("base_url", &self.base_url)
            .field("embedding_model", &self.embedding_model)
            .field("chat_model", &self.chat_model)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub struct Llm {
    client: Client<OpenAIConfig>,
    cfg: LlmConfig,
}

/// The prompt templates, compiled in from `prompts/` so the binary runs from anywhere.
pub mod prompts {
    pub const COPILOT_ANSWER: &str = include_str!("../../prompts/copilot_answer.md");
    pub const TICKET_REVIEW: &str = include_str!("../../prompts/ticket_review.md");
    pub const FIX_PROPOSAL: &str = include_str!("../../prompts/fix_proposal.md");

    /// Fill `{{name}}` slots.
    pub fn render(template: &str, vars: &[(&str, &str)]) -> String {
        let mut out = template.to_owned();
        for (k, v) in vars {
            out = out.replace(&format!("{{{{{k}}}}}"), v);
        }
        out
    }
}

fn llm_err(what: &str, e: impl std::fmt::Display) -> AppError {
    // The key is never part of async-openai's error text; the URL may be, and is not secret.
    AppError::Internal(format!("{what}: {e}"))
}

impl Llm {
    pub fn new(cfg: LlmConfig, timeout: std::time::Duration) -> AppResult<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| llm_err("HTTP client", e))?;
        let config = OpenAIConfig::new()
            .with_api_base(cfg.base_url.trim_end_matches('/'))
            .with_api_key(cfg.api_key.expose());
        Ok(Self {
            client: Client::with_config(config).with_http_client(http),
            cfg,
        })
    }

    pub fn embedding_model(&self) -> Option<&str> {
        self.cfg.embedding_model.as_deref()
    }

    pub fn chat_model(&self) -> Option<&str> {
        self.cfg.chat_model.as_deref()
    }

    /// Embed texts in batches; vectors come back in input order, L2-normalised.
    pub async fn embed(&self, texts: &[String]) -> AppResult<Vec<Vec<f32>>> {
        let Some(model) = &self.cfg.embedding_model else {
            return Err(AppError::Internal("no embedding model configured".into()));
        };
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(64) {
            let req = CreateEmbeddingRequest {
                model: model.clone(),
                input: EmbeddingInput::StringArray(batch.to_vec()),
                encoding_format: None,
                user: None,
                dimensions: None,
            };
            let resp = self
                .client
                .embeddings()
                .create(req)
                .await
                .map_err(|e| llm_err("embedding endpoint", e))?;
            let mut data = resp.data;
            data.sort_by_key(|d| d.index);
            if data.len() != batch.len() {
                return Err(llm_err(
                    "embedding endpoint",
                    format!("returned {} vectors for {} inputs", data.len(), batch.len()),
                ));
            }
            out.extend(data.into_iter().map(|d| normalise(d.embedding)));
        }
        Ok(out)
    }

    /// One chat completion with a system and a user message; no tools are offered, so the
    /// model can only answer with text.
    pub async fn chat(&self, system: &str, user: &str) -> AppResult<String> {
        let Some(model) = &self.cfg.chat_model else {
            return Err(AppError::Internal("no chat model configured".into()));
        };
        let req = CreateChatCompletionRequestArgs::default()
            .model(model.clone())
            .messages(vec![
                ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage {
                    content: system.into(),
                    name: None,
                }),
                ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage {
                    content: user.into(),
                    name: None,
                }),
            ])
            .temperature(0.0)
            .build()
            .map_err(|e| llm_err("chat request", e))?;
        let resp = self
            .client
            .chat()
            .create(req)
            .await
            .map_err(|e| llm_err("chat endpoint", e))?;
        resp.choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| llm_err("chat endpoint", "answered without text"))
    }
}

/// Scale to unit length so a dot product is the cosine similarity.
pub fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 && n.is_finite() {
        for x in &mut v {
            *x /= n;
        }
    }
    v
}
