//! SQL for guideline documents, their pages and chunks.

use schemars::JsonSchema;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{AnyQuery, fetch_all_as, fetch_optional_as};
use crate::domain::now_text;
use crate::error::AppResult;

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct GuidelineDoc {
    pub id: i64,
    pub brand_code: String,
    /// The file name, e.g. "aurora-toys.pdf".
    pub name: String,
    pub sha256: String,
    pub pages: i64,
    /// 1 for the first ingestion; +1 each time new bytes replace it.
    pub version: i64,
    pub chunks: i64,
    /// omnitraffick://guidelines/{id}: the document's text by page.
    pub uri: String,
    pub created_at: String,
    pub updated_at: String,
}

fn doc_from_row(r: &AnyRow) -> AppResult<GuidelineDoc> {
    let id: i64 = r.try_get("id")?;
    Ok(GuidelineDoc {
        id,
        brand_code: r.try_get("brand_code")?,
        name: r.try_get("name")?,
        sha256: r.try_get("sha256")?,
        pages: r.try_get("pages")?,
        version: r.try_get("version")?,
        chunks: r.try_get("chunks")?,
        uri: format!("omnitraffick://guidelines/{id}"),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const DOC_SELECT: &str = "SELECT d.id, b.code AS brand_code, d.name, d.sha256, d.pages, d.version, \
     d.created_at, d.updated_at, (SELECT COUNT(*) FROM guideline_chunks c WHERE c.document_id = d.id) AS chunks \
     FROM guideline_documents d JOIN brands b ON b.id = d.brand_id";

/// The documents `filter` (a condition on `d`, the document) selects.
fn doc_query(filter: &str) -> AnyQuery<'static> {
    sqlx::query(sqlx::AssertSqlSafe(format!("{DOC_SELECT} WHERE {filter}")))
}

pub async fn list_guideline_docs(
    c: &mut AnyConnection,
    brand_id: Option<i64>,
) -> AppResult<Vec<GuidelineDoc>> {
    let q = doc_query("($1 IS NULL OR d.brand_id = $1) ORDER BY b.code, d.name").bind(brand_id);
    fetch_all_as(c, q, doc_from_row).await
}

pub async fn get_guideline_doc(c: &mut AnyConnection, id: i64) -> AppResult<Option<GuidelineDoc>> {
    fetch_optional_as(c, doc_query("d.id = $1").bind(id), doc_from_row).await
}

pub async fn find_guideline_doc(
    c: &mut AnyConnection,
    brand_id: i64,
    name: &str,
) -> AppResult<Option<GuidelineDoc>> {
    let q = doc_query("d.brand_id = $1 AND d.name = $2");
    fetch_optional_as(c, q.bind(brand_id).bind(name), doc_from_row).await
}

pub async fn find_guideline_by_sha(
    c: &mut AnyConnection,
    brand_id: i64,
    sha256: &str,
) -> AppResult<Option<GuidelineDoc>> {
    let q = doc_query("d.brand_id = $1 AND d.sha256 = $2");
    fetch_optional_as(c, q.bind(brand_id).bind(sha256), doc_from_row).await
}

pub struct NewChunk<'a> {
    pub page: usize,
    pub heading: Option<&'a str>,
    pub text: &'a str,
    pub embedding: Option<&'a [f32]>,
}

/// Insert a document, or replace an existing one's pages and chunks (same transaction).
/// Returns the document id.
#[allow(clippy::too_many_arguments)]
pub async fn store_guideline(
    c: &mut AnyConnection,
    existing: Option<i64>,
    brand_id: i64,
    name: &str,
    sha256: &str,
    pages: &[String],
    chunks: &[NewChunk<'_>],
    embedding_model: Option<&str>,
) -> AppResult<i64> {
    let now = now_text();
    let id = match existing {
        Some(id) => {
            sqlx::query("DELETE FROM guideline_chunks WHERE document_id = $1")
                .bind(id)
                .execute(&mut *c)
                .await?;
            sqlx::query("DELETE FROM guideline_pages WHERE document_id = $1")
                .bind(id)
                .execute(&mut *c)
                .await?;
            sqlx::query(
                "UPDATE guideline_documents SET sha256 = $1, pages = $2, version = version + 1, updated_at = $3 WHERE id = $4",
            )
            .bind(sha256)
            .bind(pages.len() as i64)
            .bind(&now)
            .bind(id)
            .execute(&mut *c)
            .await?;
            id
        }
        None => {
            let row = sqlx::query(
                "INSERT INTO guideline_documents (brand_id, name, sha256, pages, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 1, $5, $5) RETURNING id",
            )
            .bind(brand_id)
            .bind(name)
            .bind(sha256)
            .bind(pages.len() as i64)
            .bind(&now)
            .fetch_one(&mut *c)
            .await?;
            row.try_get("id")?
        }
    };
    for (i, p) in pages.iter().enumerate() {
        sqlx::query("INSERT INTO guideline_pages (document_id, page, text) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(i as i64 + 1)
            .bind(p)
            .execute(&mut *c)
            .await?;
    }
    for (i, ch) in chunks.iter().enumerate() {
        let emb = ch
            .embedding
            .map(|v| serde_json::to_string(v).unwrap_or_default());
        sqlx::query(
            "INSERT INTO guideline_chunks (document_id, ordinal, page, heading, text, embedding, embedding_model) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(i as i64)
        .bind(ch.page as i64)
        .bind(ch.heading)
        .bind(ch.text)
        .bind(emb)
        .bind(ch.embedding.and(embedding_model))
        .execute(&mut *c)
        .await?;
    }
    Ok(id)
}

pub async fn guideline_pages(c: &mut AnyConnection, id: i64) -> AppResult<Vec<String>> {
    let rows = sqlx::query("SELECT text FROM guideline_pages WHERE document_id = $1 ORDER BY page")
        .bind(id)
        .fetch_all(c)
        .await?;
    rows.iter()
        .map(|r| Ok(r.try_get::<String, _>("text")?))
        .collect()
}

/// One searchable guideline chunk, with its brand and document name, as the copilot's
/// retrieval index holds it.
#[derive(Debug, Clone)]
pub struct IndexedChunk {
    pub chunk_id: i64,
    pub brand_id: i64,
    pub document_id: i64,
    pub document: String,
    pub page: usize,
    pub heading: Option<String>,
    pub text: String,
    pub vector: Option<Vec<f32>>,
}

/// What changes whenever a guideline document is added, replaced or removed: the number of
/// documents, their versions and the newest id. The embedded index compares it to the one it was
/// built from, so a document ingested by another process is found without a restart.
pub async fn guideline_generation(c: &mut AnyConnection) -> AppResult<(i64, i64, i64)> {
    // Documents, their versions summed (a replacement bumps its version), the newest id.
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(version), 0) AS BIGINT) AS v, \
         COALESCE(MAX(id), 0) AS m FROM guideline_documents",
    )
    .fetch_one(c)
    .await?;
    Ok((row.try_get("n")?, row.try_get("v")?, row.try_get("m")?))
}

/// Every chunk with its brand and document name, for building the index.
pub async fn all_guideline_chunks(c: &mut AnyConnection) -> AppResult<Vec<IndexedChunk>> {
    guideline_chunks_where(c, None).await
}

/// One document's chunks.
pub async fn guideline_chunks_of(
    c: &mut AnyConnection,
    document_id: i64,
) -> AppResult<Vec<IndexedChunk>> {
    guideline_chunks_where(c, Some(document_id)).await
}

fn chunk_from_row(r: &AnyRow) -> AppResult<IndexedChunk> {
    let emb: Option<String> = r.try_get("embedding")?;
    let page: i64 = r.try_get("page")?;
    Ok(IndexedChunk {
        chunk_id: r.try_get("id")?,
        brand_id: r.try_get("brand_id")?,
        document_id: r.try_get("document_id")?,
        document: r.try_get("name")?,
        page: page.max(1) as usize,
        heading: r.try_get("heading")?,
        text: r.try_get("text")?,
        vector: emb.and_then(|e| serde_json::from_str::<Vec<f32>>(&e).ok()),
    })
}

async fn guideline_chunks_where(
    c: &mut AnyConnection,
    document_id: Option<i64>,
) -> AppResult<Vec<IndexedChunk>> {
    let q = sqlx::query(
        "SELECT c.id, c.document_id, d.brand_id, d.name, c.page, c.heading, c.text, c.embedding \
         FROM guideline_chunks c JOIN guideline_documents d ON d.id = c.document_id \
         WHERE ($1 IS NULL OR c.document_id = $1) ORDER BY c.id",
    );
    fetch_all_as(c, q.bind(document_id), chunk_from_row).await
}
