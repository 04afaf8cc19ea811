//! The relational store: one code path over SQLite (embedded default) and PostgreSQL,
//! chosen by the database URL at run time. Queries use `$N` placeholders, which both
//! dialects accept; JSON is stored as text and timestamps as fixed-width RFC 3339 text.

mod assets;
mod audit;
pub(crate) mod busy;
mod capi;
mod changes;
mod deploy;
mod governance;
mod guidelines;
mod healing;
mod insights;
mod keys;
mod lookup_cache;
mod qa;
mod tickets;
mod writer;

pub use assets::*;
pub use audit::*;
pub use capi::*;
pub use changes::*;
pub use deploy::*;
pub use governance::*;
pub use guidelines::*;
pub use healing::*;
pub use insights::*;
pub use keys::*;
pub use lookup_cache::*;
pub use qa::*;
pub use tickets::*;

use sqlx::any::{AnyArguments, AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Row, Transaction};
use std::str::FromStr;
use std::time::Duration;

use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer per file: this process's writes go through one connection,
    /// queued in process (much faster than SQLite's busy handler, which sleeps in steps of
    /// milliseconds) and committed in groups (`writer.rs`).
    sqlite_writer: Option<writer::GroupWriter>,
}

/// A write transaction. On SQLite it is a savepoint in the writer's group transaction and
/// holds the writer connection until it ends; `commit` returns once the group is committed.
/// One from [`Db::begin_write_one`] is for writes of one round trip: no transaction on
/// PostgreSQL (the statement commits on its own), no group savepoint on SQLite (the write
/// stays in the group), so `rollback` does not undo a write that has run.
pub struct WriteTx {
    inner: WriteInner,
}

/// The SQLite writer held by [`Db::hold_writer`], released when dropped.
pub struct WriterHold {
    guard: tokio::sync::OwnedMutexGuard<writer::State>,
}

impl Drop for WriterHold {
    /// What was written meanwhile is in the WAL too: it needs a checkpoint as well.
    fn drop(&mut self) {
        self.guard.kick_checkpoint();
    }
}

enum WriteInner {
    Sqlite(writer::Slot),
    Postgres(Transaction<'static, Any>),
    /// [`Db::begin_write_one`] on PostgreSQL: no transaction, the statement commits itself.
    PostgresOne(PoolConnection<Any>),
}

impl WriteTx {
    pub async fn commit(self) -> AppResult<()> {
        match self.inner {
            WriteInner::Sqlite(slot) => slot.commit().await,
            WriteInner::Postgres(tx) => Ok(tx.commit().await?),
            WriteInner::PostgresOne(_) => Ok(()),
        }
    }

    pub async fn rollback(self) -> AppResult<()> {
        match self.inner {
            WriteInner::Sqlite(slot) => slot.rollback().await,
            WriteInner::Postgres(tx) => Ok(tx.rollback().await?),
            // Its one statement committed itself (`Db::begin_write_one`).
            WriteInner::PostgresOne(_) => Ok(()),
        }
    }
}

impl std::ops::Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match &self.inner {
            WriteInner::Sqlite(slot) => slot.conn_ref(),
            WriteInner::Postgres(tx) => tx,
            WriteInner::PostgresOne(c) => c,
        }
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.inner {
            WriteInner::Sqlite(slot) => slot.conn(),
            WriteInner::Postgres(tx) => tx,
            WriteInner::PostgresOne(c) => c,
        }
    }
}

/// Begin a transaction on `pool` in a task of its own, so a caller dropped midway (a request
/// hung up, a task aborted) cannot leave the connection inside a transaction. sqlx 0.9's
/// PostgreSQL `begin`, dropped after sending `BEGIN`, returns the connection to the pool still
/// in the server's transaction: its guard rolls back only a nested level
/// (`PgTransactionManager::start_rollback` does nothing at depth 0). Every later statement
/// there then runs inside that transaction, and a write that commits by itself
/// ([`Db::begin_write_one`]) never commits. Finished in its task, a begin whose caller is gone
/// is dropped there as a transaction and rolled back like any other.
pub(crate) async fn begin_detached(pool: &AnyPool) -> AppResult<Transaction<'static, Any>> {
    let pool = pool.clone();
    tokio::spawn(async move { pool.begin().await })
        .await
        .map_err(|e| AppError::Internal(format!("beginning a transaction: {e}")))?
        .map_err(Into::into)
}

/// Whether a connection is to PostgreSQL (else SQLite), for the few statements that differ.
pub(crate) fn is_postgres(c: &AnyConnection) -> bool {
    c.backend_name().eq_ignore_ascii_case("postgresql")
}

/// Connections in a PostgreSQL pool.
const PG_POOL: u32 = 16;

/// The checkpoint backstop, in pages (32 MB of WAL at the 16 KiB pages of a file made by this
/// build, 8 MB in one made with SQLite's default 4 KiB): one literal for `SQLITE_PRAGMAS` and
/// the job queue's connection options.
macro_rules! wal_autocheckpoint_pages {
    () => {
        "2000"
    };
}

/// How long a connection waits for another process's lock, in milliseconds: one literal for
/// `SQLITE_PRAGMAS` and the writer's fallback outside WAL mode; `busy::WAIT` says the same.
macro_rules! busy_timeout_ms {
    () => {
        "10000"
    };
}

/// SQLite's own wait for a lock, as every connection but the writer has it.
const SQLITE_BUSY_TIMEOUT: &str = concat!("PRAGMA busy_timeout = ", busy_timeout_ms!(), ";");

/// The backstop in `SQLITE_PRAGMAS`, for connections configured by option (the job queue's).
pub(crate) const WAL_AUTOCHECKPOINT_PAGES: &str = wal_autocheckpoint_pages!();

/// Settings of every SQLite connection. `synchronous = NORMAL` in WAL mode: a commit is in
/// the WAL (in the operating system's hands) when it returns, so it survives the process
/// being killed; the WAL is synced to disk at checkpoints, so a power cut may lose the last
/// commits before one. `mmap_size` lets readers use the file's pages in place.
/// Pages of 16 KiB rather than SQLite's default 4 KiB, for a file this creates (a file keeps
/// the page size it was made with: `page_size` comes first, before WAL mode is set, and does
/// nothing to an existing file). A CAPI event's row is about 1.1 KB, so a 4 KiB page held
/// three, and each commit wrote every page it touched whole, two `pwrite` calls each: with
/// 16 KiB pages an intake of 100 events writes a third of the WAL frames, and the intake
/// took 48,000-57,000 events/s against 44,000-47,000 (`benches/capi.rs`, alternated).
/// WAL checkpoints: SQLite's default makes the commit that finds 1,000 pages in the WAL copy
/// them back into the database file, on the write path (a sixth of the writer's time under
/// load). Here [`checkpointer`] copies them beside the writer soon after commits, and the
/// automatic checkpoint stays only as a backstop at `WAL_AUTOCHECKPOINT_PAGES`: under
/// unbroken writes the background checkpoint never finds the writer idle, and the WAL file
/// only starts over after a checkpoint that ran with no write open, which the backstop (run
/// by the committing connection itself, with little left to copy) provides.
const SQLITE_PRAGMAS: &str = concat!(
    "PRAGMA page_size = 16384; ",
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; ",
    "PRAGMA busy_timeout = ",
    busy_timeout_ms!(),
    "; PRAGMA mmap_size = 268435456; PRAGMA wal_autocheckpoint = ",
    wal_autocheckpoint_pages!(),
    ";"
);

/// Settings of the writer's connection only, on top of `SQLITE_PRAGMAS`. Every writer runs
/// in a savepoint (`writer`), and SQLite keeps the original of each page a savepoint changes
/// in a sub-journal, which spills to a temporary file past 64 KiB (a CAPI intake of 100 events
/// passes that; the writes were a tenth of the writer's time): `temp_store = MEMORY` keeps it
/// in memory, where it is dropped at the savepoint's release. A larger page cache (16 MiB
/// rather than 2 MiB) keeps the pages of the tables and indexes it appends to. No busy
/// timeout: the writer waits for another process's write lock itself (`writer::begin_group`).
const SQLITE_WRITER_PRAGMAS: &str =
    "PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16384; PRAGMA busy_timeout = 0;";

/// How long after a commit the checkpointer waits, so one checkpoint covers a burst.
const CHECKPOINT_AFTER: Duration = Duration::from_millis(100);

/// Copy committed WAL pages back into the database file after commits, on a reader
/// connection and in `PASSIVE` mode (it never waits on or blocks a writer), instead of on
/// the commit path. Each kick on the channel asks for one checkpoint; kicks that arrive
/// meanwhile are folded into the next. Ends when every sender is gone (the `Db` was dropped)
/// or the pool is closed.
fn checkpointer(pool: AnyPool) -> tokio::sync::mpsc::Sender<()> {
    let (kick, mut kicks) = tokio::sync::mpsc::channel::<()>(1);
    tokio::spawn(async move {
        while kicks.recv().await.is_some() {
            tokio::time::sleep(CHECKPOINT_AFTER).await;
            match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await
            {
                Ok(_) => {}
                Err(sqlx::Error::PoolClosed) => break,
                // Another process checkpointing at the same moment, or a disk error the
                // next write will report to its caller; the next kick tries again.
                Err(e) => tracing::debug!(error = %e, "WAL checkpoint did not run"),
            }
        }
    });
    kick
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Turn what a user typed into a URL sqlx understands: a bare path means a SQLite file,
/// and a SQLite file is created when missing.
pub fn normalize_database_url(raw: &str) -> AppResult<(String, Backend)> {
    let raw = raw.trim();
    if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
        return Ok((raw.to_owned(), Backend::Postgres));
    }
    let url = if raw.starts_with("sqlite:") {
        raw.to_owned()
    } else if raw.contains("://") {
        return Err(AppError::validation(
            "DATABASE_URL",
            format!(
                "unsupported database URL scheme in \"{}\"; use a SQLite file path (omnitraffick.db), sqlite://PATH or postgres://USER:PASSWORD@HOST/DB",
                raw.split("://").next().unwrap_or_default()
            ),
        ));
    } else {
        format!("sqlite://{raw}")
    };
    let url = if url.contains("mode=") || url.contains(":memory:") {
        url
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    };
    Ok((url, Backend::Sqlite))
}

impl Db {
    pub async fn connect(raw_url: &str) -> AppResult<Self> {
        Self::connect_with(raw_url, false).await
    }

    /// As [`Db::connect`]; with `keep_open`, a PostgreSQL pool opens all its connections at
    /// once and keeps them open (re-opened in the background as they expire), for a server:
    /// each new connection costs a TLS handshake and a SCRAM login, and a burst of calls
    /// right after start waited for 16 of them (p99 60-90 ms in the first seconds, against
    /// 12-18 ms after). Short commands and tests open connections as they need them.
    pub async fn connect_with(raw_url: &str, keep_open: bool) -> AppResult<Self> {
        sqlx::any::install_default_drivers();
        let (url, backend) = normalize_database_url(raw_url)?;
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|e| AppError::validation("DATABASE_URL", format!("cannot be parsed: {e}")))?;
        let pool_options = match backend {
            Backend::Sqlite => AnyPoolOptions::new()
                // One SQLite file has one writer at a time; a few readers beside it are enough.
                .max_connections(4)
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        sqlx::raw_sql(SQLITE_PRAGMAS).execute(conn).await?;
                        Ok(())
                    })
                }),
            Backend::Postgres => AnyPoolOptions::new()
                .max_connections(PG_POOL)
                .min_connections(if keep_open { PG_POOL } else { 0 }),
        };
        let pool = pool_options
            .acquire_timeout(Duration::from_secs(15))
            .connect_with(options.clone())
            .await
            .map_err(|e| connect_error(raw_url, backend, e))?;
        let sqlite_writer = match backend {
            Backend::Sqlite => {
                let mut conn = options
                    .connect()
                    .await
                    .map_err(|e| connect_error(raw_url, backend, e))?;
                sqlx::raw_sql(SQLITE_PRAGMAS).execute(&mut conn).await?;
                sqlx::raw_sql(SQLITE_WRITER_PRAGMAS)
                    .execute(&mut conn)
                    .await?;
                // Only in WAL mode is `BEGIN IMMEDIATE` the writer's one wait for a lock; where
                // the file could not be put in WAL mode (a file system without shared memory,
                // say), a `COMMIT` waits for readers too, so SQLite's own wait stays on.
                let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                    .fetch_one(&mut conn)
                    .await?;
                if !mode.eq_ignore_ascii_case("wal") {
                    tracing::warn!(journal_mode = %mode, "the SQLite file is not in WAL mode; writes wait on SQLite's busy timeout");
                    sqlx::raw_sql(SQLITE_BUSY_TIMEOUT)
                        .execute(&mut conn)
                        .await?;
                }
                Some(writer::GroupWriter::new(conn, checkpointer(pool.clone())))
            }
            Backend::Postgres => None,
        };
        Ok(Self {
            pool,
            backend,
            sqlite_writer,
        })
    }

    /// Apply pending migrations for this backend.
    pub async fn migrate(&self) -> AppResult<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begin a transaction that will write. On SQLite it joins the writer's group
    /// transaction, which takes the write lock up front (`BEGIN IMMEDIATE`) so writers of
    /// other processes queue on the busy timeout instead of deadlocking when two try to
    /// upgrade a read lock.
    pub async fn begin_write(&self) -> AppResult<WriteTx> {
        let inner = match &self.sqlite_writer {
            Some(writer) => WriteInner::Sqlite(writer.begin().await?),
            None => WriteInner::Postgres(begin_detached(&self.pool).await?),
        };
        Ok(WriteTx { inner })
    }

    /// Begin a write made of one round trip, after reads that need no snapshot shared with
    /// it. Nothing may fail after the write: it stays even if `rollback` is called.
    /// - On SQLite it joins the writer's group without a savepoint of the group's
    ///   (`GroupWriter::begin_bare`): SQLite undoes a failing statement by itself, and several
    ///   statements go in one round trip inside `SAVEPOINT ot_one; …; RELEASE ot_one`, which
    ///   the writer rolls back to if one fails midway (`store::insert_tickets`). It hands over
    ///   to the next writer without a round trip. The reads run under the write lock, as in
    ///   [`Db::begin_write`], and `commit` returns once the group is committed.
    /// - On PostgreSQL there is no transaction at all: the statement commits on its own,
    ///   which saves the `BEGIN` and `COMMIT` round trips. That gives up nothing there: at
    ///   READ COMMITTED the reads of a transaction see what others committed up to each
    ///   statement anyway, and one statement is atomic by itself.
    pub async fn begin_write_one(&self) -> AppResult<WriteTx> {
        let inner = match &self.sqlite_writer {
            Some(writer) => WriteInner::Sqlite(writer.begin_bare().await?),
            None => WriteInner::PostgresOne(self.pool.acquire().await?),
        };
        Ok(WriteTx { inner })
    }

    /// On SQLite, hold the writer (no transaction open) while this process writes through a
    /// connection of its own, such as the job queue's, so that write does not wait on the
    /// file lock behind a group of writers. `None` on PostgreSQL, where nothing needs it.
    pub async fn hold_writer(&self) -> Option<WriterHold> {
        match &self.sqlite_writer {
            Some(w) => Some(WriterHold {
                guard: w.exclusive().await,
            }),
            None => None,
        }
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> AppResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn connect_error(raw_url: &str, backend: Backend, e: sqlx::Error) -> AppError {
    // Never echo a URL that may carry a password.
    let what = match backend {
        Backend::Sqlite => format!("the SQLite database at {raw_url}"),
        Backend::Postgres => "the PostgreSQL database in DATABASE_URL".to_owned(),
    };
    AppError::Internal(format!("cannot open {what}: {e}"))
}

/// Read a boolean column stored as BOOLEAN (PostgreSQL) or INTEGER (SQLite).
pub(crate) fn get_bool(row: &AnyRow, col: &str) -> AppResult<bool> {
    match row.try_get::<bool, _>(col) {
        Ok(b) => Ok(b),
        Err(_) => Ok(row.try_get::<i64, _>(col)? != 0),
    }
}

/// A query with its parameters bound, ready to run.
pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, Any, AnyArguments>;

/// A function that reads one row into a value.
pub(crate) type RowMap<T> = fn(&AnyRow) -> AppResult<T>;

/// Run a query and read every row it returns with `map`.
pub(crate) async fn fetch_all_as<T>(
    c: &mut AnyConnection,
    q: AnyQuery<'_>,
    map: RowMap<T>,
) -> AppResult<Vec<T>> {
    q.fetch_all(c).await?.iter().map(map).collect()
}

/// Run a query and read the row it returns, if any, with `map`.
pub(crate) async fn fetch_optional_as<T>(
    c: &mut AnyConnection,
    q: AnyQuery<'_>,
    map: RowMap<T>,
) -> AppResult<Option<T>> {
    q.fetch_optional(c).await?.as_ref().map(map).transpose()
}

/// Insert or replace one row: run `update`, and `insert` when the update changed no row.
/// Returns whether the row was inserted.
pub(crate) async fn update_else_insert(
    c: &mut AnyConnection,
    update: AnyQuery<'_>,
    insert: AnyQuery<'_>,
) -> AppResult<bool> {
    if update.execute(&mut *c).await?.rows_affected() == 1 {
        return Ok(false);
    }
    insert.execute(c).await?;
    Ok(true)
}

/// How many rows share one value of a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCount {
    pub key: String,
    pub count: i64,
}

/// Run a query of the shape `SELECT column AS k, COUNT(*) AS n ... GROUP BY column`. A row
/// that cannot be read is left out rather than failing the whole count.
async fn group_counts(db: &Db, sql: &'static str) -> AppResult<Vec<GroupCount>> {
    let rows = sqlx::query(sql).fetch_all(db.pool()).await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(GroupCount {
                key: r.try_get::<String, _>("k").ok()?,
                count: r.try_get::<i64, _>("n").ok()?,
            })
        })
        .collect())
}

/// Whether an error is a unique-constraint violation.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}
