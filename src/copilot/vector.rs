//! Where retrieval happens, behind one trait: the embedded store (an in-process BM25 +
//! exact dense index rebuilt from the SQL store) or Qdrant (a collection with a dense and a
//! sparse vector per chunk, fused by Qdrant with reciprocal rank). The SQL store stays the
//! source of truth either way.

use std::future::Future;
use std::sync::{Arc, RwLock};

use super::index::{Index, IndexedChunk};
use crate::error::{AppError, AppResult};
use crate::store::{self, Db};

/// One retrieved chunk.
#[derive(Debug, Clone)]
pub struct Hit {
    pub chunk: IndexedChunk,
    /// The fused score (higher is better).
    pub score: f64,
    /// How well it matches: the share of query terms it contains, or its cosine similarity,
    /// whichever is higher (0..1). Used to tell "not covered" from a weak match.
    pub relevance: f32,
}

pub trait VectorStore: Send + Sync {
    /// "embedded" or "qdrant".
    fn name(&self) -> &'static str;

    /// Make a document's chunks searchable, replacing its earlier version.
    fn index_document(
        &self,
        document_id: i64,
        chunks: &[IndexedChunk],
    ) -> impl Future<Output = AppResult<()>> + Send;

    /// Lexical always; dense too when `qvec` is given; filtered by brand.
    fn search(
        &self,
        brand_id: i64,
        query: &str,
        qvec: Option<&[f32]>,
        k: usize,
    ) -> impl Future<Output = AppResult<Vec<Hit>>> + Send;
}

/// The embedded default: an immutable index snapshot, rebuilt from the SQL store.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Db,
    /// The snapshot and the store's guideline generation it was built from, swapped together.
    index: Arc<RwLock<(Arc<Index>, Option<Generation>)>>,
    /// One rebuild at a time: searches that find the index stale wait for it, not redo it.
    rebuilding: Arc<tokio::sync::Mutex<()>>,
}

type Generation = (i64, i64, i64);

impl EmbeddedStore {
    pub async fn open(db: Db) -> AppResult<Self> {
        let s = Self {
            db,
            index: Arc::new(RwLock::new((Arc::new(Index::default()), None))),
            rebuilding: Arc::new(tokio::sync::Mutex::new(())),
        };
        s.rebuild().await?;
        Ok(s)
    }

    /// Reload everything from the store (at start, and after each ingestion).
    pub async fn rebuild(&self) -> AppResult<usize> {
        let _one = self.rebuilding.lock().await;
        self.rebuild_locked().await
    }

    async fn rebuild_locked(&self) -> AppResult<usize> {
        let mut c = self.db.pool().acquire().await?;
        // Read before the chunks: a change in between only causes one more rebuild.
        let generation = store::guideline_generation(&mut c).await?;
        let chunks = store::all_guideline_chunks(&mut c).await?;
        drop(c);
        let idx = tokio::task::spawn_blocking(move || Index::build(chunks))
            .await
            .map_err(|e| AppError::Internal(format!("index build: {e}")))?;
        let n = idx.len();
        if let Ok(mut w) = self.index.write() {
            *w = (Arc::new(idx), Some(generation));
        }
        Ok(n)
    }

    fn built_from(&self) -> Option<Generation> {
        self.index
            .read()
            .map(|g| g.1)
            .unwrap_or_else(|p| p.into_inner().1)
    }

    /// Rebuild when another process (`omnitraffick ingest`, another server) changed the
    /// guidelines since the snapshot was built: one small read per retrieval. If the store
    /// cannot be read, the search goes on with the snapshot it has.
    pub async fn refresh_if_changed(&self) {
        let now = async {
            let mut c = self.db.pool().acquire().await?;
            store::guideline_generation(&mut c).await
        }
        .await;
        let now = match now {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!(error = %e, "could not check the guidelines for changes; searching the index as it is");
                return;
            }
        };
        if self.built_from() == Some(now) {
            return;
        }
        let _one = self.rebuilding.lock().await;
        // Another search may have rebuilt it while this one waited.
        if self.built_from() == Some(now) {
            return;
        }
        tracing::info!("guidelines changed in the store; rebuilding the search index");
        if let Err(e) = self.rebuild_locked().await {
            tracing::warn!(error = %e, "could not rebuild the guideline index; searching the index as it is");
        }
    }

    pub fn snapshot(&self) -> Arc<Index> {
        self.index
            .read()
            .map(|g| g.0.clone())
            .unwrap_or_else(|p| p.into_inner().0.clone())
    }
}

impl VectorStore for EmbeddedStore {
    fn name(&self) -> &'static str {
        "embedded"
    }

    async fn index_document(&self, _document_id: i64, _chunks: &[IndexedChunk]) -> AppResult<()> {
        self.rebuild().await.map(|_| ())
    }

    async fn search(
        &self,
        brand_id: i64,
        query: &str,
        qvec: Option<&[f32]>,
        k: usize,
    ) -> AppResult<Vec<Hit>> {
        // The caller (`CopilotService::retrieve`) has checked for changes by other processes.
        let idx = self.snapshot();
        let query = query.to_owned();
        let qvec = qvec.map(<[f32]>::to_vec);
        // Scoring every chunk (and every vector) is CPU work: keep it off the async threads.
        tokio::task::spawn_blocking(move || {
            idx.search(brand_id, &query, qvec.as_deref(), k)
                .into_iter()
                .map(|s| Hit {
                    chunk: idx.chunks[s.idx].clone(),
                    score: s.score,
                    relevance: s.coverage.max(s.dense.unwrap_or(0.0)),
                })
                .collect()
        })
        .await
        .map_err(|e| AppError::Internal(format!("guideline search: {e}")))
    }
}

/// The store in use.
#[derive(Clone)]
pub enum Store {
    Embedded(EmbeddedStore),
    Qdrant(super::qdrant::QdrantStore),
}

impl VectorStore for Store {
    fn name(&self) -> &'static str {
        match self {
            Store::Embedded(s) => s.name(),
            Store::Qdrant(s) => s.name(),
        }
    }

    async fn index_document(&self, document_id: i64, chunks: &[IndexedChunk]) -> AppResult<()> {
        match self {
            Store::Embedded(s) => s.index_document(document_id, chunks).await,
            Store::Qdrant(s) => s.index_document(document_id, chunks).await,
        }
    }

    async fn search(
        &self,
        brand_id: i64,
        query: &str,
        qvec: Option<&[f32]>,
        k: usize,
    ) -> AppResult<Vec<Hit>> {
        match self {
            Store::Embedded(s) => s.search(brand_id, query, qvec, k).await,
            Store::Qdrant(s) => s.search(brand_id, query, qvec, k).await,
        }
    }
}
