//! Qdrant as the vector store, over its REST API (`QDRANT_URL`, optional `QDRANT_API_KEY`):
//! one collection with a named dense vector ("dense", cosine) and a sparse vector ("sparse",
//! IDF modifier, hashed term counts) per chunk; payload brand/document/page/heading/text;
//! hybrid queries prefetch both and fuse with RRF, filtered by brand.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::index::{IndexedChunk, bounded_query, coverage, query_terms, tokens};
use super::vector::{Hit, VectorStore};
use crate::error::{AppError, AppResult};
use crate::platforms::client::Secret;

#[derive(Clone)]
pub struct QdrantStore {
    http: reqwest::Client,
    url: String,
    api_key: Option<Secret>,
    collection: String,
    /// Set once the collection is known to exist (with or without a dense vector).
    ready: std::sync::Arc<Mutex<Option<bool>>>,
}

fn qerr(what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("Qdrant {what}: {e}"))
}

/// Hashed term counts: the sparse vector Qdrant weighs with IDF.
fn sparse(text: &str) -> (Vec<u32>, Vec<f32>) {
    let mut counts: HashMap<u32, f32> = HashMap::new();
    for t in tokens(text) {
        let mut h: u32 = 2166136261;
        for b in t.bytes() {
            h ^= u32::from(b);
            h = h.wrapping_mul(16777619);
        }
        *counts.entry(h).or_default() += 1.0;
    }
    let mut v: Vec<(u32, f32)> = counts.into_iter().collect();
    v.sort_by_key(|(i, _)| *i);
    v.into_iter().unzip()
}

fn chunk_text(c: &IndexedChunk) -> String {
    match &c.heading {
        Some(h) => format!("{h} {}", c.text),
        None => c.text.clone(),
    }
}

impl QdrantStore {
    pub fn new(url: &str, api_key: Option<Secret>, collection: &str) -> AppResult<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| qerr("client", e))?;
        Ok(Self {
            http,
            url: url.trim_end_matches('/').to_owned(),
            api_key,
            collection: collection.to_owned(),
            ready: Default::default(),
        })
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let rb = self.http.request(
            method,
            format!("{}/collections/{}{path}", self.url, self.collection),
        );
        match &self.api_key {
            Some(k) => rb.header("api-key", k.expose()),
            None => rb,
        }
    }

    async fn send(&self, rb: reqwest::RequestBuilder, what: &str) -> AppResult<Value> {
        let resp = rb.send().await.map_err(|e| qerr(what, e.without_url()))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let msg = body["status"]["error"].as_str().unwrap_or("no detail");
            return Err(qerr(what, format!("HTTP {status}: {msg}")));
        }
        Ok(body)
    }

    /// Create the collection on first use; `dense` is the embedding size, if any.
    async fn ensure(&self, dense: Option<usize>) -> AppResult<bool> {
        let mut ready = self.ready.lock().await;
        if let Some(has_dense) = *ready {
            return Ok(has_dense);
        }
        let existing = self
            .req(reqwest::Method::GET, "")
            .send()
            .await
            .map_err(|e| qerr("collection lookup", e.without_url()))?;
        let has_dense = if existing.status().is_success() {
            let info: Value = existing.json().await.unwrap_or(Value::Null);
            info["result"]["config"]["params"]["vectors"]["dense"].is_object()
        } else {
            let vectors = match dense {
                Some(size) => json!({"dense": {"size": size, "distance": "Cosine"}}),
                None => json!({}),
            };
            self.send(
                self.req(reqwest::Method::PUT, "").json(&json!({
                    "vectors": vectors,
                    "sparse_vectors": {"sparse": {"modifier": "idf"}}
                })),
                "collection create",
            )
            .await?;
            for (field, schema) in [("brand_id", "integer"), ("document_id", "integer")] {
                self.send(
                    self.req(reqwest::Method::PUT, "/index?wait=true")
                        .json(&json!({"field_name": field, "field_schema": schema})),
                    "payload index",
                )
                .await?;
            }
            dense.is_some()
        };
        *ready = Some(has_dense);
        Ok(has_dense)
    }
}

fn brand_filter(brand_id: i64) -> Value {
    json!({"must": [{"key": "brand_id", "match": {"value": brand_id}}]})
}

impl VectorStore for QdrantStore {
    fn name(&self) -> &'static str {
        "qdrant"
    }

    async fn index_document(&self, document_id: i64, chunks: &[IndexedChunk]) -> AppResult<()> {
        let dense = chunks.iter().find_map(|c| c.vector.as_ref().map(Vec::len));
        let has_dense = self.ensure(dense).await?;
        // Replace: drop the document's earlier points first.
        self.send(
            self.req(reqwest::Method::POST, "/points/delete?wait=true")
                .json(&json!({
                    "filter": {"must": [{"key": "document_id", "match": {"value": document_id}}]}
                })),
            "delete",
        )
        .await?;
        for batch in chunks.chunks(128) {
            let points: Vec<Value> = batch
                .iter()
                .map(|c| {
                    let (indices, values) = sparse(&chunk_text(c));
                    let mut vector = json!({"sparse": {"indices": indices, "values": values}});
                    if has_dense && let Some(v) = &c.vector {
                        vector["dense"] = json!(v);
                    }
                    json!({
                        "id": c.chunk_id,
                        "vector": vector,
                        "payload": {
                            "brand_id": c.brand_id,
                            "document_id": c.document_id,
                            "document": c.document,
                            "page": c.page,
                            "heading": c.heading,
                            "text": c.text,
                        }
                    })
                })
                .collect();
            self.send(
                self.req(reqwest::Method::PUT, "/points?wait=true")
                    .json(&json!({ "points": points })),
                "upsert",
            )
            .await?;
        }
        Ok(())
    }

    async fn search(
        &self,
        brand_id: i64,
        query: &str,
        qvec: Option<&[f32]>,
        k: usize,
    ) -> AppResult<Vec<Hit>> {
        let has_dense = self.ensure(qvec.map(<[f32]>::len)).await?;
        let (indices, values) = sparse(bounded_query(query));
        let terms = query_terms(query);
        let filter = brand_filter(brand_id);
        let sparse_q = json!({"indices": indices, "values": values});
        let body = match qvec.filter(|_| has_dense) {
            Some(v) => json!({
                "prefetch": [
                    {"query": sparse_q, "using": "sparse", "filter": filter, "limit": 50},
                    {"query": v, "using": "dense", "filter": filter, "limit": 50}
                ],
                "query": {"fusion": "rrf"},
                "filter": filter,
                "limit": k,
                "with_payload": true
            }),
            None => json!({
                "query": sparse_q, "using": "sparse", "filter": filter,
                "limit": k, "with_payload": true
            }),
        };
        let out = self
            .send(
                self.req(reqwest::Method::POST, "/points/query").json(&body),
                "query",
            )
            .await?;
        let points = out["result"]["points"]
            .as_array()
            .or_else(|| out["result"].as_array())
            .cloned()
            .unwrap_or_default();
        Ok(points
            .iter()
            .filter_map(|p| {
                let pl = &p["payload"];
                let chunk = IndexedChunk {
                    chunk_id: p["id"].as_i64()?,
                    brand_id: pl["brand_id"].as_i64()?,
                    document_id: pl["document_id"].as_i64().unwrap_or_default(),
                    document: pl["document"].as_str()?.to_owned(),
                    page: pl["page"].as_u64()? as usize,
                    heading: pl["heading"].as_str().map(str::to_owned),
                    text: pl["text"].as_str()?.to_owned(),
                    vector: None,
                };
                let relevance = coverage(&terms, chunk.heading.as_deref(), &chunk.text);
                Some(Hit {
                    score: p["score"].as_f64().unwrap_or(0.0),
                    relevance,
                    chunk,
                })
            })
            .collect())
    }
}
