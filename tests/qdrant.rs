//! The copilot on Qdrant: against a real Qdrant server when QDRANT_URL is set (REST, e.g.
//! http://localhost:6333), otherwise against a small stand-in of its REST API (and the run
//! says the real-server check was skipped). Each run uses a fresh collection.

mod common;

use std::time::Duration;

use serde_json::json;

use common::fake_openai::FakeOpenAi;
use common::from_json as from;
use common::*;
use omnitraffick::copilot::SAMPLES;
use omnitraffick::llm::LlmConfig;
use omnitraffick::platforms::client::Secret;
use omnitraffick::startup::{self, AppOptions};

async fn qdrant() -> String {
    match std::env::var("QDRANT_URL") {
        Ok(u) if !u.trim().is_empty() => u,
        _ => {
            eprintln!(
                "SKIPPED against a real Qdrant: QDRANT_URL is not set; using the REST stand-in"
            );
            common::fake_qdrant::start().await.0
        }
    }
}

#[tokio::test]
async fn qdrant_store_hybrid_search_with_brand_filter_and_replacement() {
    let url = qdrant().await;
    let tdb = fresh_db().await;
    let fake = FakeOpenAi::start().await;
    let collection = format!("omnitraffick_test_{}", uuid::Uuid::new_v4().simple());
    let opts = AppOptions {
        llm: Some(LlmConfig {
            base_url: fake.url.clone(),
            api_key: Secret::new("sk-test"),
            embedding_model: Some("text-embedding-3-small".into()),
            chat_model: None,
        }),
        llm_timeout: Duration::from_secs(5),
        qdrant: Some((
            url,
            std::env::var("QDRANT_API_KEY").ok().map(Secret::new),
            collection,
        )),
        ..AppOptions::default()
    };
    let (_db, s) = startup::open_with(&tdb.url, opts).await.expect("open");
    assert_eq!(s.copilot.store_name(), "qdrant");
    s.copilot.ensure_sample_brands().await.unwrap();
    for smp in SAMPLES {
        let out = s
            .copilot
            .ingest(smp.brand_code, smp.file_name, smp.bytes.to_vec())
            .await
            .unwrap();
        assert!(out.embedded);
    }
    let r = s
        .copilot
        .search(from(
            json!({"brand_code": "AUR", "query": "Are kids under 13 ever in scope for targeting?"}),
        ))
        .await
        .unwrap();
    assert_eq!(r.retrieval, "hybrid");
    assert!(r.passages.iter().all(|p| p.document == "aurora-toys.pdf"));
    assert!(
        r.passages.iter().take(3).any(|p| p.page == 4),
        "{:?}",
        r.passages
    );
    // A new version replaces the old points.
    let two = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/pdfs/two-pages.pdf"
    ))
    .unwrap();
    let out = s
        .copilot
        .ingest("AUR", "aurora-toys.pdf", two)
        .await
        .unwrap();
    assert_eq!(out.status, "REPLACED");
    let r = s
        .copilot
        .search(from(
            json!({"brand_code": "AUR", "query": "target users under 13", "limit": 20}),
        ))
        .await
        .unwrap();
    assert!(
        r.passages.iter().all(|p| !p.text.contains("under 13")),
        "{:?}",
        r.passages
    );
}
