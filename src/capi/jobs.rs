//! Conversion-event deliveries on the job queue, and the chores that keep them moving: a
//! sweep that re-queues deliveries whose job went missing (and releases events a dead worker
//! was sending), and retention.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::CapiService;
use super::service::DeliveryOutcome;
use crate::error::AppResult;
use crate::jobs::{Job, Workers};
use crate::store;

/// Deliver a brand's queued conversion events to one destination (META or TIKTOK).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CapiJob {
    pub brand_id: i64,
    pub destination: String,
}

impl CapiJob {
    pub fn new(brand_id: i64, destination: &str) -> Self {
        Self {
            brand_id,
            destination: destination.to_owned(),
        }
    }
}

impl Job for CapiJob {
    const QUEUE: &'static str = "omnitraffick.capi";
}

/// How often a worker deletes conversion data past retention (first at start).
const RETENTION_EVERY: Duration = Duration::from_secs(600);

/// A SENDING claim older than this belongs to a worker that died mid-send.
const STALE_CLAIM_SECS: i64 = 60;

/// Register deliveries, their sweep (every `sweep_every`) and retention on `workers`.
pub fn register(capi: &CapiService, workers: &mut Workers, sweep_every: Duration) {
    let c = capi.clone();
    workers.handle(2, move |job: CapiJob| deliver(job, c.clone()));
    let c = capi.clone();
    workers.every("conversion sweep", sweep_every, sweep_every, move || {
        let c = c.clone();
        async move { sweep(&c).await }
    });
    let c = capi.clone();
    workers.every(
        "conversion retention",
        Duration::ZERO,
        RETENTION_EVERY,
        move || {
            let c = c.clone();
            async move { c.apply_retention().await.map(|_| ()) }
        },
    );
}

async fn deliver(job: CapiJob, capi: CapiService) -> AppResult<()> {
    // Every batch now; a retry is a new job after the wait.
    for _ in 0..1000 {
        match capi.deliver(job.brand_id, &job.destination).await? {
            DeliveryOutcome::Done => break,
            DeliveryOutcome::Again(d) if d.is_zero() => continue,
            DeliveryOutcome::Again(d) => {
                capi.queue().push(job, Some(d)).await?;
                break;
            }
        }
    }
    Ok(())
}

/// Release the events of a worker that died while sending, and queue deliveries for due
/// events whose job went missing.
async fn sweep(capi: &CapiService) -> AppResult<()> {
    let db = capi.db();
    let mut tx = db.begin_write().await?;
    store::release_stale_capi_claims(&mut tx, chrono::Utc::now().timestamp() - STALE_CLAIM_SECS)
        .await?;
    tx.commit().await?;
    let now = chrono::Utc::now().timestamp();
    let pending = {
        let mut c = db.pool().acquire().await?;
        store::due_capi_destinations(&mut c, now - 2, now).await?
    };
    for p in pending {
        capi.queue()
            .push(CapiJob::new(p.brand_id, &p.destination), None)
            .await?;
    }
    Ok(())
}
