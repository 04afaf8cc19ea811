//! Deploy runs on the job queue. A job only names a run; the run row (see `store::deploy`) is
//! the source of truth: its lease makes sure one worker at a time deploys a ticket, and its
//! state says whether a delivery has anything to do, so a duplicate or late job does no harm:
//! one that finds the run held by another worker comes back when that lease lapses (and so
//! lives, at one take-up per lease, until the run ends).
//! Retries are new jobs scheduled when the platform (or the back-off) says. A run that fails
//! for good is announced as a [`DeployFailed`] job, for whoever listens (self-healing).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Deployer, RunOutcome};
use crate::error::AppResult;
use crate::jobs::{Job, JobQueue, Workers};
use crate::store::{self, Db};

/// Deliver run `run_id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployJob {
    pub run_id: i64,
}

impl Job for DeployJob {
    const QUEUE: &'static str = "omnitraffick.deploy";
}

/// A deploy run failed for good: its ticket is DEPLOY_FAILED.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployFailed {
    pub ticket_id: i64,
    pub run_id: i64,
}

impl Job for DeployFailed {
    const QUEUE: &'static str = "omnitraffick.deploy_failed";
}

/// What every deploy job needs.
#[derive(Clone)]
struct Ctx {
    deployer: Deployer,
    queue: JobQueue,
    db: Db,
}

/// Register deploy runs and their sweep on `workers`.
pub(super) fn register(
    workers: &mut Workers,
    deployer: Deployer,
    db: Db,
    concurrency: usize,
    sweep_every: Duration,
) {
    let ctx = Ctx {
        deployer,
        queue: workers.queue().clone(),
        db,
    };
    let c = ctx.clone();
    workers.handle(concurrency, move |job: DeployJob| {
        process_job(job, c.clone())
    });
    workers.every("deploy sweep", sweep_every, sweep_every, move || {
        let ctx = ctx.clone();
        async move { sweep(&ctx, sweep_every).await.map(|_| ()) }
    });
}

/// When a run can next be taken, if it has not ended.
enum Next {
    /// Waiting (QUEUED or WAITING): due in this long (zero when already due).
    Due(Duration),
    /// Held by a worker (RUNNING): its lease lapses in this long (zero when it has).
    Leased(Duration),
}

async fn next_take(db: &Db, run_id: i64) -> AppResult<Option<Next>> {
    let run = {
        let mut c = db.pool().acquire().await?;
        store::get_run(&mut c, run_id).await?
    };
    let Some(run) = run else {
        return Ok(None);
    };
    let left = |at: Option<String>| {
        at.and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .and_then(|t| {
                (t.with_timezone(&chrono::Utc) - chrono::Utc::now())
                    .to_std()
                    .ok()
            })
            .unwrap_or_default()
    };
    Ok(match run.state.as_str() {
        "QUEUED" | "WAITING" => Some(Next::Due(left(run.next_attempt_at))),
        "RUNNING" => Some(Next::Leased(left(run.lease_until))),
        _ => None,
    })
}

/// How long until the run is due, if it is waiting and not due yet; a millisecond past it,
/// so a wait never ends a hair before the run is due.
async fn due_in(db: &Db, run_id: i64) -> AppResult<Option<Duration>> {
    Ok(match next_take(db, run_id).await? {
        Some(Next::Due(d)) if !d.is_zero() => Some(d + Duration::from_millis(1)),
        _ => None,
    })
}

/// The delay to queue a job with so that it is handed out only after `left` from now: apalis
/// keeps a job's due time in whole seconds, rounded down, and hands the job out once that
/// second has begun, so a job for a time within the current second would be fetched at once
/// (and skipped again, over and over, until the lease lapsed). Rounded up to the next second.
fn not_before(left: Duration) -> Duration {
    let now = chrono::Utc::now();
    let at = now + chrono::Duration::from_std(left).unwrap_or(chrono::Duration::MAX);
    let second = at.timestamp().saturating_add(1);
    let start = chrono::DateTime::from_timestamp(second, 0).unwrap_or(at);
    (start - now).to_std().unwrap_or(left)
}

async fn process_job(job: DeployJob, ctx: Ctx) -> AppResult<()> {
    let run_id = job.run_id;
    // The queue schedules in whole seconds; wait out a short remainder here, re-queue a long one.
    if let Some(wait) = due_in(&ctx.db, run_id).await? {
        if wait > Duration::from_secs(5) {
            ctx.queue.push(job, Some(wait)).await?;
            return Ok(());
        }
        tokio::time::sleep(wait).await;
    }
    let outcome = ctx.deployer.process(run_id).await?;
    tracing::debug!(
        run_id,
        worker = ctx.deployer.worker_id(),
        ?outcome,
        "deploy job handled"
    );
    match outcome {
        RunOutcome::RetryIn(delay) => ctx.queue.push(job, Some(delay)).await?,
        RunOutcome::Failed => {
            let ticket = {
                let mut c = ctx.db.pool().acquire().await?;
                store::get_run(&mut c, run_id).await?.map(|r| r.ticket_id)
            };
            if let Some(ticket_id) = ticket {
                ctx.queue
                    .push(DeployFailed { ticket_id, run_id }, None)
                    .await?;
            }
        }
        // Not taken because it was not due yet (a clock edge): keep it in the queue. When
        // another worker holds it, come back when its lease lapses: if that worker died, the
        // run is taken over then, rather than at the next sweep (a job of a worker killed
        // mid-deploy is handed to another by apalis while the dead worker's lease still
        // holds). If it ended, there is nothing to keep.
        RunOutcome::Skipped => match next_take(&ctx.db, run_id).await? {
            Some(Next::Due(d)) => {
                let wait = (d + Duration::from_millis(1)).max(Duration::from_millis(100));
                ctx.queue.push(job, Some(wait)).await?;
            }
            Some(Next::Leased(d)) => ctx.queue.push(job, Some(not_before(d))).await?,
            None => {}
        },
        _ => {}
    }
    Ok(())
}

/// Re-queue runs whose worker died (lease expired) or whose job went missing (overdue).
async fn sweep(ctx: &Ctx, sweep_every: Duration) -> AppResult<usize> {
    let overdue = crate::domain::text_ago(sweep_every * 4);
    let runs = {
        let mut c = ctx.db.pool().acquire().await?;
        store::orphaned_runs(&mut c, &overdue).await?
    };
    for (run_id, ticket_id) in &runs {
        tracing::warn!(
            run_id,
            ticket_id,
            "re-queueing a deploy whose worker or job went missing"
        );
        ctx.queue.push(DeployJob { run_id: *run_id }, None).await?;
        let mut tx = ctx.db.begin_write().await?;
        store::touch_waiting_run(&mut tx, *run_id).await?;
        tx.commit().await?;
    }
    Ok(runs.len())
}
