//! The durable job queue: apalis on the same SQLite file (embedded default) or on PostgreSQL
//! (schema `apalis`), so several `omnitraffick worker` processes can share it.
//!
//! This layer knows nothing of what a job does. Each area defines its jobs (a type with a
//! queue name, see [`Job`]) and registers a handler and its periodic chores on [`Workers`]:
//! deploy runs (`deploy::jobs`), conversion deliveries (`capi::jobs`) and the self-healing
//! that hears of failed deploys (`healing::jobs`). Every apalis quirk we work around lives
//! here: the poll timer ([`poll::Tick`]), the shutdown drain ([`workers::Drain`]), one task
//! per worker, apalis's own migration table, and a busy handler on its SQLite connections
//! that retries every millisecond (`store::busy`) rather than in SQLite's growing sleeps.

mod poll;
mod workers;

use std::str::FromStr;
use std::time::Duration;

use apalis::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{AppError, AppResult};
use crate::store::{Backend, Db, normalize_database_url};

pub use workers::Workers;

/// A kind of job: what travels through the queue, and the queue it travels on.
///
/// The name is stored with each job, so renaming it strands the jobs already queued.
pub trait Job: Serialize + DeserializeOwned + Clone + Send + Sync + Unpin + 'static {
    const QUEUE: &'static str;
}

/// How the queue polls and notices dead workers.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// How often an idle worker polls for due jobs.
    pub poll_every: Duration,
    /// How often a worker tells apalis it is alive; after three missed beats its jobs go
    /// back to the queue.
    pub heartbeat: Duration,
}

/// Attempts apalis makes at a job whose handler returns an error.
const MAX_ATTEMPTS: usize = 25;

#[derive(Clone)]
enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// A handle to push jobs; cheap to clone.
#[derive(Clone)]
pub struct JobQueue {
    pool: Pool,
    /// The application's store: on SQLite a push holds its writer (`Db::hold_writer`).
    db: Db,
    settings: QueueSettings,
    /// Wakes this process's workers of a queue when a job is pushed to it here.
    bells: poll::Doorbells,
}

fn queue_err(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("job queue: {e}"))
}

fn sqlite_config(s: &QueueSettings, queue: &str) -> apalis_sqlite::Config {
    apalis_sqlite::Config::default()
        .queue(queue)
        .heartbeat_interval(s.heartbeat)
        .missed_heartbeats(3)
}

fn postgres_config(s: &QueueSettings, queue: &str) -> apalis_postgres::Config {
    apalis_postgres::Config::default()
        .queue(queue)
        .heartbeat_interval(s.heartbeat)
        .missed_heartbeats(3)
}

impl JobQueue {
    /// Open the queue in the same database as `db`, creating apalis's tables if needed.
    pub async fn open(database_url: &str, db: &Db, settings: QueueSettings) -> AppResult<Self> {
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
                    // No busy timeout: `after_connect` below installs a busy handler in its
                    // place, which waits up to 10 s in 1 ms steps.
                    // As on the store's connections: the store's checkpointer copies the WAL
                    // back soon after commits; a commit does it only past the backstop.
                    .pragma("wal_autocheckpoint", crate::store::WAL_AUTOCHECKPOINT_PAGES);
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(4)
                    // apalis fetches, acknowledges and keeps workers alive through these
                    // connections: wait for another process's lock in short steps.
                    .after_connect(|conn, _meta| {
                        Box::pin(crate::store::busy::retry_soon_when_busy(conn))
                    })
                    .connect_with(opts)
                    .await
                    .map_err(queue_err)?;
                // apalis keeps its own migration history, apart from ours (both default to
                // `_sqlx_migrations`, and each refuses the other's rows).
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
        Ok(Self {
            pool,
            db: db.clone(),
            settings,
            bells: poll::Doorbells::default(),
        })
    }

    /// Queue `job`, due now or after `delay` (apalis schedules in whole seconds). This
    /// process's workers of the queue are woken when it is due, without waiting for their
    /// poll; other processes' workers find it at their next poll.
    pub async fn push<J: Job>(&self, job: J, delay: Option<Duration>) -> AppResult<()> {
        self.insert(job, delay).await?;
        let bell = self.bells.get(J::QUEUE);
        match delay {
            Some(d) => bell.ring_after(d),
            None => bell.ring(),
        }
        Ok(())
    }

    /// Queue `job`, due now, unless the same job is already waiting: due, and not yet taken
    /// by a worker. A worker reads what the job is about only after it takes the job, so the
    /// waiting one sees everything committed before this call; queuing a second would only
    /// add a write (on SQLite one more commit behind the writer) and a run with nothing to
    /// do. For jobs a caller asks for after every write of its own, such as a brand's
    /// conversion delivery after each intake. This process's workers are woken either way.
    pub async fn push_unless_waiting<J: Job>(&self, job: J) -> AppResult<()> {
        // What apalis stores as the job (its JSON codec), to compare with.
        let args = serde_json::to_vec(&job).map_err(queue_err)?;
        let waiting = match &self.pool {
            Pool::Sqlite(p) => sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM (SELECT 1 FROM Jobs WHERE job_type = ?1 AND status = 'Pending' \
                 AND lock_by IS NULL AND run_at <= ?2 AND job = ?3 LIMIT 1)",
            )
            .bind(J::QUEUE)
            .bind(chrono::Utc::now().timestamp())
            .bind(&args)
            .fetch_one(p)
            .await
            .map_err(queue_err)?,
            Pool::Postgres(p) => sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM (SELECT 1 FROM apalis.jobs WHERE job_type = $1 AND status = 'Pending' \
                 AND lock_by IS NULL AND run_at <= now() AND job = $2 LIMIT 1) w",
            )
            .bind(J::QUEUE)
            .bind(&args)
            .fetch_one(p)
            .await
            .map_err(queue_err)?,
        };
        if waiting > 0 {
            self.bells.get(J::QUEUE).ring();
            return Ok(());
        }
        self.push(job, None).await
    }

    async fn insert<J: Job>(&self, job: J, delay: Option<Duration>) -> AppResult<()> {
        let mut b = TaskBuilder::new(job).max_attempts(MAX_ATTEMPTS);
        if let Some(d) = delay {
            b = b.run_after(d);
        }
        let task = b.build();
        match &self.pool {
            Pool::Sqlite(p) => {
                let _writer = self.db.hold_writer().await;
                apalis_sqlite::SqliteStorage::<J>::new(p)
                    .with_config(sqlite_config(&self.settings, J::QUEUE))
                    .push_task(task)
                    .await
                    .map_err(queue_err)
            }
            Pool::Postgres(p) => apalis_postgres::PostgresStorage::<J>::new(p)
                .with_config(postgres_config(&self.settings, J::QUEUE))
                .push_task(task)
                .await
                .map_err(queue_err),
        }
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
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
