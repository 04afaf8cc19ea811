//! The durable deploy queue: apalis on the same SQLite file (embedded default) or on
//! PostgreSQL (schema `apalis`), so several `omnitraffick worker` processes can share it.
//!
//! A job only names a deploy run. The run row (see `store::deploy`) is the source of truth:
//! its lease makes sure one worker at a time deploys a ticket, and its state says whether a
//! delivery has anything to do, so a duplicate or late job is harmless. Retries are new jobs
//! scheduled when the platform (or the back-off) says.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{DeploySettings, Deployer, RunOutcome};
use crate::error::{AppError, AppResult};
use crate::store::{self, Backend, Db, normalize_database_url};

const QUEUE: &str = "omnitraffick.deploy";
const CAPI_QUEUE: &str = "omnitraffick.capi";

/// Deliver a brand's queued conversion events to one destination (META or TIKTOK).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CapiJob {
    pub brand_id: i64,
    pub destination: String,
}

/// What travels through the queue: the run to work on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployJob {
    pub run_id: i64,
}

#[derive(Clone)]
enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// A handle to push deploy jobs; cheap to clone.
#[derive(Clone)]
pub struct DeployQueue {
    pool: Pool,
    settings: DeploySettings,
}

fn queue_err(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("deploy queue: {e}"))
}

fn sqlite_config_for(s: &DeploySettings, queue: &str) -> apalis_sqlite::Config {
    apalis_sqlite::Config::default()
        .queue(queue)
        .heartbeat_interval(heartbeat(s))
        .missed_heartbeats(3)
}

fn postgres_config_for(s: &DeploySettings, queue: &str) -> apalis_postgres::Config {
    apalis_postgres::Config::default()
        .queue(queue)
        .heartbeat_interval(heartbeat(s))
        .missed_heartbeats(3)
}

/// apalis re-queues a silent worker's jobs after three missed heartbeats; tie that to the
/// deploy lease so both notice a dead worker at about the same time.
fn heartbeat(s: &DeploySettings) -> Duration {
    (s.lease / 3).max(Duration::from_millis(200))
}

/// Push one task onto `$queue` of either backend (their storages are distinct types).
macro_rules! push_to {
    ($q:expr, $job:ty, $value:expr, $queue:expr, $delay:expr) => {{
        let mut b = TaskBuilder::new($value).max_attempts(25);
        if let Some(d) = $delay {
            b = b.run_after(d);
        }
        let task = b.build();
        match &$q.pool {
            Pool::Sqlite(p) => apalis_sqlite::SqliteStorage::<$job>::new(p)
                .with_config(sqlite_config_for(&$q.settings, $queue))
                .push_task(task)
                .await
                .map_err(queue_err),
            Pool::Postgres(p) => apalis_postgres::PostgresStorage::<$job>::new(p)
                .with_config(postgres_config_for(&$q.settings, $queue))
                .push_task(task)
                .await
                .map_err(queue_err),
        }
    }};
}

/// Wakes a worker every `every` to look for due jobs.
///
/// apalis's own interval strategy re-arms its timer without polling it, so when the timer
/// fires during a poll that finds no job, nothing is left to wake the worker and it stops
/// fetching for good. This one polls the new timer at once, so a waker is always registered.
struct Tick {
    every: Duration,
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl Tick {
    fn new(every: Duration) -> Self {
        Self {
            every,
            sleep: Box::pin(tokio::time::sleep(every)),
        }
    }
}

impl PollStrategy for Tick {
    fn poll_drive(
        &mut self,
        cx: &mut std::task::Context<'_>,
        _: &PollSnapshot,
    ) -> std::task::Poll<Option<()>> {
        let mut fired = false;
        while self.sleep.as_mut().poll(cx).is_ready() {
            fired = true;
            let next = tokio::time::Instant::now() + self.every;
            self.sleep.as_mut().reset(next);
        }
        if fired {
            std::task::Poll::Ready(Some(()))
        } else {
            std::task::Poll::Pending
        }
    }
}

/// The deploy worker and, when the relay is on, the conversion-events worker, on one backend
/// (`$module::$storage` is `apalis_sqlite::SqliteStorage` or `apalis_postgres::PostgresStorage`).
macro_rules! run_both {
    ($module:ident :: $storage:ident, $config:ident, $pool:expr, $settings:expr, $ctx:expr, $capi:expr, $names:expr, $signals:expr) => {{
        let (name, capi_name) = $names;
        let (signal, capi_signal) = $signals;
        // Each worker gets its own task: an apalis backend fetches whenever it is polled, so
        // two workers polled together (one `join!`) wake each other into a busy loop of
        // fetches that keeps the SQLite write lock hot.
        let deploys = tokio::spawn(
            WorkerBuilder::new(name)
                .backend(
                    $module::$storage::<DeployJob>::new($pool)
                        .with_config($config($settings, QUEUE))
                        .poll_with_strategy(Tick::new($settings.poll_every)),
                )
                .data($ctx.clone())
                .concurrency($settings.concurrency)
                .build(handle)
                .run_until(signal),
        );
        let events = match $capi {
            Some(c) => Some(tokio::spawn(
                WorkerBuilder::new(capi_name)
                    .backend(
                        $module::$storage::<CapiJob>::new($pool)
                            .with_config($config($settings, CAPI_QUEUE))
                            .poll_with_strategy(Tick::new($settings.poll_every)),
                    )
                    .data(CapiCtx {
                        capi: c.clone(),
                        shutdown: $ctx.shutdown.clone(),
                    })
                    .concurrency(2)
                    .build(handle_capi)
                    .run_until(capi_signal),
            )),
            None => None,
        };
        // A panicked worker task is an error too, not an early return that would skip the
        // drain and leave the sweeper running.
        let joined = |r: Result<Result<(), WorkerError>, tokio::task::JoinError>| match r {
            Ok(r) => r.map_err(queue_err),
            Err(e) => Err(queue_err(e)),
        };
        let a = joined(deploys.await);
        let b = match events {
            Some(e) => joined(e.await),
            None => Ok(()),
        };
        a.and(b)
    }};
}

impl DeployQueue {
    /// Open the queue in the same database as `db`, creating apalis's tables if needed.
    pub async fn open(database_url: &str, db: &Db, settings: DeploySettings) -> AppResult<Self> {
        let (url, backend) = normalize_database_url(database_url)?;
        debug_assert_eq!(backend, db.backend());
        let pool = match backend {
            Backend::Sqlite => {
                let opts = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
                    .map_err(|e| {
                        AppError::validation("DATABASE_URL", format!("cannot be parsed: {e}"))
                    })?
                    .create_if_missing(true)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10));
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(opts)
                    .await
                    .map_err(queue_err)?;
                // apalis keeps its own migration history, apart from ours.
                let mut m = apalis_sqlite::SqliteStorage::<()>::migrations();
                m.dangerous_set_table_name("_apalis_migrations");
                m.run(&pool).await.map_err(queue_err)?;
                Pool::Sqlite(pool)
            }
            Backend::Postgres => {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(8)
                    .connect(&url)
                    .await
                    .map_err(queue_err)?;
                apalis_postgres::PostgresStorage::setup(&pool)
                    .await
                    .map_err(queue_err)?;
                Pool::Postgres(pool)
            }
        };
        Ok(Self { pool, settings })
    }

    pub fn settings(&self) -> &DeploySettings {
        &self.settings
    }

    /// Queue a delivery of run `run_id`, now or after `delay`.
    pub async fn push(&self, run_id: i64, delay: Option<Duration>) -> AppResult<()> {
        push_to!(self, DeployJob, DeployJob { run_id }, QUEUE, delay)
    }

    /// Queue a delivery of a brand's conversion events to `destination`.
    pub async fn push_capi(
        &self,
        brand_id: i64,
        destination: &str,
        delay: Option<Duration>,
    ) -> AppResult<()> {
        let job = CapiJob {
            brand_id,
            destination: destination.to_owned(),
        };
        push_to!(self, CapiJob, job, CAPI_QUEUE, delay)
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

/// Shared by every job a worker runs.
#[derive(Clone)]
struct Ctx {
    deployer: Deployer,
    queue: DeployQueue,
    db: Db,
    on_failure: Option<super::FailureHook>,
    capi: Option<crate::capi::CapiService>,
    shutdown: Drain,
}

/// How long until the run is due, if it is waiting.
async fn due_in(db: &Db, run_id: i64) -> AppResult<Option<Duration>> {
    let mut c = db.pool().acquire().await?;
    let Some(run) = store::get_run(&mut c, run_id).await? else {
        return Ok(None);
    };
    if !matches!(run.state.as_str(), "QUEUED" | "WAITING") {
        return Ok(None);
    }
    let Some(at) = run.next_attempt_at else {
        return Ok(None);
    };
    let Ok(at) = chrono::DateTime::parse_from_rfc3339(&at) else {
        return Ok(None);
    };
    // Rounded up, so a wait never ends a hair before the run is due.
    let us = (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .num_microseconds()
        .unwrap_or(i64::MAX);
    Ok((us > 0).then(|| Duration::from_micros(us as u64) + Duration::from_millis(1)))
}

/// Whether the run still waits for a worker (QUEUED or WAITING).
async fn pending(db: &Db, run_id: i64) -> AppResult<bool> {
    let mut c = db.pool().acquire().await?;
    Ok(store::get_run(&mut c, run_id)
        .await?
        .is_some_and(|r| matches!(r.state.as_str(), "QUEUED" | "WAITING")))
}

/// What the conversion-events worker needs: the relay, and the shutdown state it shares
/// with the deploy worker.
#[derive(Clone)]
struct CapiCtx {
    capi: crate::capi::CapiService,
    shutdown: Drain,
}

async fn handle_capi(job: CapiJob, ctx: Data<CapiCtx>) -> Result<(), BoxDynError> {
    let queue = ctx.capi.queue().clone();
    let put_back = {
        let job = job.clone();
        async move {
            queue
                .push_capi(job.brand_id, &job.destination, Some(DRAIN_REQUEUE))
                .await
        }
    };
    ctx.shutdown
        .run(deliver_capi(job, ctx.capi.clone()), put_back)
        .await
}

/// How a worker shuts down without losing or stalling work.
///
/// apalis stops a worker while a fetch may be half done, and on SQLite that leaves its write
/// transaction open until the worker exits, which would block the very writes an in-flight
/// deploy needs to finish. So `run_workers` first drains: jobs taken from then on are pushed
/// back for the next worker, the in-flight ones (all on `tracker`) finish, and only then are
/// the apalis workers told to stop.
#[derive(Clone)]
struct Drain {
    draining: CancellationToken,
    tracker: TaskTracker,
}

/// How often a worker deletes conversion data past retention.
const RETENTION_EVERY: Duration = Duration::from_secs(600);

/// When a job taken during a drain is offered again.
const DRAIN_REQUEUE: Duration = Duration::from_secs(1);

impl Drain {
    /// Run a job: `work` normally, `put_back` (re-queue it) once draining. Either runs on the
    /// tracker, so it finishes even if the queue drops the job's future; `run_workers` waits
    /// for the tracker.
    async fn run(
        &self,
        work: impl Future<Output = AppResult<()>> + Send + 'static,
        put_back: impl Future<Output = AppResult<()>> + Send + 'static,
    ) -> Result<(), BoxDynError> {
        let draining = self.draining.clone();
        let task = self.tracker.spawn(async move {
            if draining.is_cancelled() {
                put_back.await
            } else {
                work.await
            }
        });
        match task.await {
            Ok(r) => r.map_err(Into::into),
            Err(e) => Err(queue_err(format!("a job's task failed: {e}")).into()),
        }
    }
}

/// Resolves once `token` is cancelled, in the shape apalis wants for a stop signal.
async fn cancelled(token: CancellationToken) -> Result<(), std::io::Error> {
    token.cancelled().await;
    Ok(())
}

async fn deliver_capi(job: CapiJob, capi: crate::capi::CapiService) -> AppResult<()> {
    // Every batch now; a retry is a new job after the wait.
    for _ in 0..1000 {
        match capi.deliver(job.brand_id, &job.destination).await? {
            crate::capi::service::DeliveryOutcome::Done => break,
            crate::capi::service::DeliveryOutcome::Again(d) if d.is_zero() => continue,
            crate::capi::service::DeliveryOutcome::Again(d) => {
                capi.queue()
                    .push_capi(job.brand_id, &job.destination, Some(d))
                    .await?;
                break;
            }
        }
    }
    Ok(())
}

async fn handle(job: DeployJob, ctx: Data<Arc<Ctx>>) -> Result<(), BoxDynError> {
    let queue = ctx.queue.clone();
    let run_id = job.run_id;
    let put_back = async move { queue.push(run_id, Some(DRAIN_REQUEUE)).await };
    ctx.shutdown
        .run(process_job(job, (*ctx).clone()), put_back)
        .await
}

async fn process_job(job: DeployJob, ctx: Arc<Ctx>) -> AppResult<()> {
    // The queue schedules in whole seconds; wait out a short remainder here, re-queue a long one.
    if let Some(wait) = due_in(&ctx.db, job.run_id).await? {
        if wait > Duration::from_secs(5) {
            ctx.queue.push(job.run_id, Some(wait)).await?;
            return Ok(());
        }
        tokio::time::sleep(wait).await;
    }
    let outcome = ctx.deployer.process(job.run_id).await?;
    tracing::debug!(
        run_id = job.run_id,
        worker = ctx.deployer.worker_id(),
        ?outcome,
        "deploy job handled"
    );
    match outcome {
        RunOutcome::RetryIn(delay) => ctx.queue.push(job.run_id, Some(delay)).await?,
        RunOutcome::Failed => {
            if let Some(hook) = &ctx.on_failure {
                let ticket = {
                    let mut c = ctx.db.pool().acquire().await?;
                    store::get_run(&mut c, job.run_id)
                        .await?
                        .map(|r| r.ticket_id)
                };
                if let Some(t) = ticket {
                    hook(t).await;
                }
            }
        }
        // Not taken because it was not due yet (a clock edge): keep it in the queue. When
        // another worker holds it, or it ended, there is nothing to keep.
        RunOutcome::Skipped => {
            if let Some(wait) = due_in(&ctx.db, job.run_id).await? {
                ctx.queue.push(job.run_id, Some(wait)).await?;
            } else if pending(&ctx.db, job.run_id).await? {
                ctx.queue
                    .push(job.run_id, Some(Duration::from_millis(100)))
                    .await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Re-queue runs whose worker died (lease expired) or whose job went missing (overdue).
async fn sweep(ctx: &Ctx) -> AppResult<usize> {
    let overdue = chrono::Utc::now()
        - chrono::Duration::from_std(ctx.queue.settings.sweep_every * 4)
            .unwrap_or(chrono::Duration::seconds(60));
    let overdue = overdue.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
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
        ctx.queue.push(*run_id, None).await?;
        let mut tx = ctx.db.begin_write().await?;
        store::touch_waiting_run(&mut tx, *run_id).await?;
        tx.commit().await?;
    }
    // Conversion events whose delivery job went missing.
    if ctx.capi.is_some() {
        // A worker that died while sending leaves SENDING rows: release them.
        let mut tx = ctx.db.begin_write().await?;
        store::release_stale_capi_claims(&mut tx, chrono::Utc::now().timestamp() - 60).await?;
        tx.commit().await?;
        let now = chrono::Utc::now().timestamp();
        let pending = {
            let mut c = ctx.db.pool().acquire().await?;
            store::due_capi_destinations(&mut c, now - 2, now).await?
        };
        for p in pending {
            ctx.queue
                .push_capi(p.brand_id, &p.destination, None)
                .await?;
        }
    }
    Ok(runs.len())
}

/// Run deploy workers until `stop` is cancelled; in-flight jobs finish first.
pub async fn run_workers(
    deployer: Deployer,
    queue: DeployQueue,
    db: Db,
    on_failure: Option<super::FailureHook>,
    capi: Option<crate::capi::CapiService>,
    stop: CancellationToken,
) -> AppResult<()> {
    let settings = queue.settings.clone();
    let ctx = Arc::new(Ctx {
        deployer: deployer.clone(),
        queue: queue.clone(),
        db,
        on_failure,
        capi: capi.clone(),
        shutdown: Drain {
            draining: CancellationToken::new(),
            tracker: TaskTracker::new(),
        },
    });
    // Told to stop only once the drain is over (see `Drain`).
    let queue_stop = CancellationToken::new();
    let drainer = {
        let ctx = ctx.clone();
        let stop = stop.clone();
        let queue_stop = queue_stop.clone();
        tokio::spawn(async move {
            stop.cancelled().await;
            ctx.shutdown.draining.cancel();
            ctx.shutdown.tracker.close();
            if !ctx.shutdown.tracker.is_empty() {
                tracing::info!(
                    jobs = ctx.shutdown.tracker.len(),
                    "stopping: letting in-flight jobs finish"
                );
            }
            ctx.shutdown.tracker.wait().await;
            queue_stop.cancel();
        })
    };
    let sweeper = {
        let ctx = ctx.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            // Conversion data past retention goes on the first sweep, then every so often.
            let mut retention_due = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(ctx.queue.settings.sweep_every) => {}
                }
                if let Err(e) = sweep(&ctx).await {
                    tracing::warn!(error = %e, "deploy sweep failed");
                }
                if let Some(capi) = &ctx.capi
                    && tokio::time::Instant::now() >= retention_due
                {
                    retention_due = tokio::time::Instant::now() + RETENTION_EVERY;
                    if let Err(e) = capi.apply_retention().await {
                        tracing::warn!(error = %e, "conversion data retention failed");
                    }
                }
            }
        })
    };
    let name = deployer.worker_id().to_owned();
    tracing::info!(worker = %name, concurrency = settings.concurrency, "deploy worker started");
    let capi_name = format!("{name}-capi");
    let names = (name.as_str(), capi_name.as_str());
    let signals = (cancelled(queue_stop.clone()), cancelled(queue_stop));
    let result = match &queue.pool {
        Pool::Sqlite(p) => run_both!(
            apalis_sqlite::SqliteStorage,
            sqlite_config_for,
            p,
            &settings,
            ctx.clone(),
            &capi,
            names,
            signals
        ),
        Pool::Postgres(p) => run_both!(
            apalis_postgres::PostgresStorage,
            postgres_config_for,
            p,
            &settings,
            ctx.clone(),
            &capi,
            names,
            signals
        ),
    };
    sweeper.abort();
    // A worker that failed on its own ends the drain too; anything it left running finishes.
    drainer.abort();
    ctx.shutdown.tracker.close();
    ctx.shutdown.tracker.wait().await;
    tracing::info!(worker = %name, "deploy worker stopped");
    result
}

/// A worker name unique across processes and restarts.
pub fn worker_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    format!(
        "{host}-{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Wake, Waker};

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// After the timer fires, the worker must still be woken at the next tick (apalis's own
    /// interval strategy leaves no waker behind, and the worker stops fetching).
    #[tokio::test]
    async fn the_poll_timer_keeps_waking_the_worker_after_it_fires() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut tick = Tick::new(Duration::from_millis(20));
        let snap = PollSnapshot::default();
        assert!(tick.poll_drive(&mut cx, &snap).is_pending());
        for round in 0..3 {
            count.0.store(0, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(60)).await;
            assert!(
                count.0.load(Ordering::SeqCst) > 0,
                "round {round}: the worker was not woken"
            );
            assert!(tick.poll_drive(&mut cx, &snap).is_ready());
        }
    }
}
