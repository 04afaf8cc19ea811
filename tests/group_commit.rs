//! Group commit on the write path (`store::Db::begin_write`): many writers at once, some of
//! which fail midway, roll back or are dropped, must leave exactly the committed writes, and
//! a write is visible to other connections as soon as its commit returns. Runs on SQLite
//! (where writers share one transaction) and, with TEST_DATABASE_URL, on PostgreSQL.

mod common;

use std::sync::Arc;

use omnitraffick::error::AppError;
use omnitraffick::store::Db;

async fn scratch(db: &Db) {
    sqlx::query("CREATE TABLE scratch (id BIGINT PRIMARY KEY, note TEXT NOT NULL UNIQUE)")
        .execute(db.pool())
        .await
        .expect("create scratch table");
}

async fn rows(db: &Db) -> Vec<i64> {
    sqlx::query_scalar::<_, i64>("SELECT id FROM scratch ORDER BY id")
        .fetch_all(db.pool())
        .await
        .expect("read scratch")
}

async fn insert(c: &mut sqlx::AnyConnection, id: i64, note: &str) -> Result<(), AppError> {
    sqlx::query("INSERT INTO scratch (id, note) VALUES ($1, $2)")
        .bind(id)
        .bind(note.to_owned())
        .execute(c)
        .await?;
    Ok(())
}

/// The scratch table with row 0 ("row 0") in it, so a writer that inserts that note again
/// fails midway.
async fn scratch_with_row_0(db: &Db) {
    scratch(db).await;
    let mut tx = db.begin_write().await.expect("begin");
    insert(&mut tx, 0, "row 0").await.expect("seed row");
    tx.commit().await.expect("commit seed");
}

/// After a storm of writers: dropped writers are undone on the runtime, and a last write
/// waits behind them; then the table holds exactly `expected` (sorted) and that last row.
async fn exactly_these_after_a_last_write(db: &Db, mut expected: Vec<i64>) {
    let mut tx = db.begin_write().await.expect("begin after the storm");
    insert(&mut tx, 10_000, "last").await.expect("last insert");
    tx.commit().await.expect("last commit");
    expected.push(10_000);
    assert_eq!(rows(db).await, expected);
}

/// One writer: inserts its row, then by its number commits, fails on a duplicate (and is
/// dropped by `?`), rolls back, or is dropped without a word.
async fn writer(db: Db, i: i64) -> Result<bool, AppError> {
    let mut tx = db.begin_write().await?;
    insert(&mut tx, i, &format!("row {i}")).await?;
    match i % 4 {
        0 => {
            tx.commit().await?;
            // Visible to another connection as soon as the commit returned.
            let seen: Option<i64> = sqlx::query_scalar("SELECT id FROM scratch WHERE id = $1")
                .bind(i)
                .fetch_optional(db.pool())
                .await?;
            assert_eq!(seen, Some(i), "row {i} committed but not visible");
            Ok(true)
        }
        1 => {
            // A second insert breaks the unique note: the error drops the transaction midway.
            insert(&mut tx, i + 1_000_000, "row 0").await?;
            tx.commit().await?;
            Ok(true)
        }
        2 => {
            tx.rollback().await?;
            Ok(false)
        }
        _ => {
            drop(tx);
            Ok(false)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_keep_exactly_what_they_committed() {
    let test_db = common::fresh_db().await;
    let (db, _services) = common::open(&test_db).await;
    scratch_with_row_0(&db).await;

    let db = Arc::new(db);
    let mut handles = Vec::new();
    for i in 1..=400_i64 {
        let db = (*db).clone();
        handles.push(tokio::spawn(async move { writer(db, i).await }));
    }
    let mut expected = vec![0_i64];
    for (i, h) in (1..=400_i64).zip(handles) {
        match h.await.expect("writer task") {
            Ok(true) => expected.push(i),
            Ok(false) => {}
            Err(e) => assert_eq!(i % 4, 1, "writer {i} failed unexpectedly: {e}"),
        }
    }
    assert_eq!(
        expected.len(),
        101,
        "the committing writers and the seed row"
    );
    exactly_these_after_a_last_write(&db, expected).await;
}

#[tokio::test]
async fn a_lone_writer_commits_at_once_and_a_failed_one_leaves_nothing() {
    let test_db = common::fresh_db().await;
    let (db, _services) = common::open(&test_db).await;
    scratch(&db).await;
    let mut tx = db.begin_write().await.expect("begin");
    insert(&mut tx, 1, "one").await.expect("insert");
    tx.commit().await.expect("commit");
    assert_eq!(rows(&db).await, vec![1]);

    let mut tx = db.begin_write().await.expect("begin");
    insert(&mut tx, 2, "two").await.expect("insert");
    let err = insert(&mut tx, 3, "one").await.expect_err("duplicate note");
    assert!(err.to_string().to_lowercase().contains("unique"), "{err}");
    tx.rollback().await.expect("rollback");
    assert_eq!(rows(&db).await, vec![1], "the failed writer left nothing");

    // The writer connection is usable again after the failure.
    let mut tx = db.begin_write().await.expect("begin");
    insert(&mut tx, 4, "four").await.expect("insert");
    tx.commit().await.expect("commit");
    assert_eq!(rows(&db).await, vec![1, 4]);
}

/// `begin_write_one`, for a write of one statement: committed and visible once `commit`
/// returns, a failing statement leaves nothing, and the statement stays even if the writer
/// then rolls back (no transaction on PostgreSQL, no savepoint of its own on SQLite).
#[tokio::test]
async fn a_one_statement_write_commits_with_its_statement() {
    let test_db = common::fresh_db().await;
    let (db, _services) = common::open(&test_db).await;
    scratch(&db).await;
    let mut tx = db.begin_write_one().await.expect("begin");
    insert(&mut tx, 1, "one").await.expect("insert");
    tx.commit().await.expect("commit");
    assert_eq!(rows(&db).await, vec![1]);

    let mut tx = db.begin_write_one().await.expect("begin");
    let err = insert(&mut tx, 2, "one").await.expect_err("duplicate note");
    assert!(err.to_string().to_lowercase().contains("unique"), "{err}");
    drop(tx);
    assert_eq!(
        rows(&db).await,
        vec![1],
        "the failed statement left nothing"
    );

    let mut tx = db.begin_write_one().await.expect("begin");
    insert(&mut tx, 3, "three").await.expect("insert");
    tx.rollback().await.expect("rollback");
    assert_eq!(rows(&db).await, vec![1, 3], "a rollback undoes nothing");
}

/// A write of several statements made through `begin_write_one`, in one round trip: on
/// SQLite inside the savepoint `ot_one` its last statement releases (PostgreSQL runs a
/// batch of statements as one implicit transaction).
fn several_statements(postgres: bool, id: i64, second_note: &str) -> String {
    let inserts = format!(
        "INSERT INTO scratch (id, note) VALUES ({id}, 'row {id}'); \
         INSERT INTO scratch (id, note) VALUES ({}, '{second_note}')",
        id + 1_000_000
    );
    if postgres {
        inserts
    } else {
        format!("SAVEPOINT ot_one; {inserts}; RELEASE ot_one")
    }
}

/// A one-round-trip writer (`begin_write_one`), by its number: commits, fails midway through
/// a write of several statements (the first one must be undone too), or writes and rolls
/// back (which undoes nothing: the statement stays).
async fn one_round_trip_writer(db: Db, i: i64, postgres: bool) -> Result<bool, AppError> {
    let mut tx = db.begin_write_one().await?;
    match i % 3 {
        0 => {
            insert(&mut tx, i, &format!("row {i}")).await?;
            tx.commit().await?;
            Ok(true)
        }
        1 => {
            let sql = several_statements(postgres, i, "row 0");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        }
        _ => {
            insert(&mut tx, i, &format!("row {i}")).await?;
            tx.rollback().await?;
            Ok(true)
        }
    }
}

/// One-round-trip writers (`begin_write_one`: no savepoint of the group's on SQLite) in the
/// same groups as ordinary writers that commit, fail, roll back or are dropped: exactly the
/// committed writes stay. An ordinary writer rolling back after a one-round-trip writer in
/// the same group must not take that writer's row with it, and a one-round-trip write of
/// several statements that fails midway leaves none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_round_trip_writers_share_groups_and_keep_exactly_theirs() {
    let test_db = common::fresh_db().await;
    let postgres = test_db.url.starts_with("postgres");
    let (db, _services) = common::open(&test_db).await;
    scratch_with_row_0(&db).await;

    let mut handles = Vec::new();
    for i in 1..=300_i64 {
        let db2 = db.clone();
        handles.push((i, tokio::spawn(async move { writer(db2, i).await })));
        let one = 1_000 + i;
        let db2 = db.clone();
        handles.push((
            one,
            tokio::spawn(async move { one_round_trip_writer(db2, one, postgres).await }),
        ));
    }
    let mut expected = vec![0_i64];
    for (i, h) in handles {
        match h.await.expect("writer task") {
            Ok(true) => expected.push(i),
            Ok(false) => {}
            Err(e) => {
                let fails = if i > 1_000 { i % 3 == 1 } else { i % 4 == 1 };
                assert!(fails, "writer {i} failed unexpectedly: {e}");
            }
        }
    }
    expected.sort();
    assert_eq!(
        expected.len(),
        1 + 75 + 200,
        "seed, ordinary and one-round-trip commits"
    );
    exactly_these_after_a_last_write(&db, expected).await;
}

/// `serve` opens the PostgreSQL pool's connections at start and keeps them open, so the
/// first burst does not wait for connection set-up; other commands open them as needed.
#[tokio::test]
async fn a_server_pool_opens_its_connections_up_front() {
    let test_db = common::fresh_db().await;
    let kept = Db::connect_with(&test_db.url, true).await.expect("connect");
    let lazy = Db::connect_with(&test_db.url, false)
        .await
        .expect("connect");
    if test_db.url.starts_with("postgres") {
        let max = kept.pool().options().get_max_connections();
        assert_eq!(kept.pool().size(), max);
        assert_eq!(kept.pool().options().get_min_connections(), max);
        assert_eq!(
            lazy.pool().size(),
            1,
            "only the connection that tested the server"
        );
    } else {
        // SQLite's few connections are local files; nothing is kept open ahead.
        assert_eq!(kept.pool().size(), lazy.pool().size());
    }
    kept.close().await;
    lazy.close().await;
}

/// SQLite's automatic checkpoint ran on the commit path (whichever commit found 1,000 pages
/// in the WAL); the store's checkpointer now copies the WAL back beside the writer soon after
/// commits, and the automatic one is only a backstop at 2,000 pages (32 MB at the 16 KiB pages
/// of a new file). After writes with pauses the WAL file stays small (the backstop alone would
/// let it reach 32 MB); under unbroken writes, where the background checkpoint never finds the
/// writer idle and the WAL could not start over, the backstop keeps it near 32 MB (it would
/// grow with every write).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_wal_is_checkpointed_beside_the_writer() {
    let test_db = common::fresh_db().await;
    let (db, _services) = common::open(&test_db).await;
    if db.backend() != omnitraffick::store::Backend::Sqlite {
        return; // PostgreSQL has no WAL file of ours to watch.
    }
    sqlx::query("CREATE TABLE blobs (id BIGINT PRIMARY KEY, body TEXT NOT NULL)")
        .execute(db.pool())
        .await
        .expect("create blobs");
    let body = "x".repeat(100_000);
    let wal_path = format!("{}-wal", test_db.url);
    let wal = || std::fs::metadata(&wal_path).expect("the WAL file").len();
    let mut id = 0_i64;
    let mut commit_1mb = async || {
        let mut tx = db.begin_write().await.expect("begin");
        for _ in 0..10 {
            id += 1;
            sqlx::query("INSERT INTO blobs (id, body) VALUES ($1, $2)")
                .bind(id)
                .bind(format!("{id} {body}"))
                .execute(&mut *tx)
                .await
                .expect("insert");
        }
        tx.commit().await.expect("commit");
    };
    for _ in 0..20 {
        commit_1mb().await;
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let after_pauses = wal();
    // The backstop in bytes, as the connections have it, at this file's page size: unbroken
    // writes of two and a half times that must have let the WAL start over.
    let pragma = async |name: &'static str| -> u64 {
        let v: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("PRAGMA {name}")))
            .fetch_one(db.pool())
            .await
            .expect(name);
        v as u64
    };
    let backstop = pragma("wal_autocheckpoint").await * pragma("page_size").await;
    let unbroken_mb = (backstop * 5 / 2).div_ceil(1_000_000);
    for _ in 0..unbroken_mb {
        commit_1mb().await;
    }
    let unbroken = wal();
    assert!(
        after_pauses < 6_000_000,
        "the WAL holds {after_pauses} bytes after 20 MB of commits with pauses: the background checkpoint did not keep up"
    );
    assert!(
        unbroken < 2 * backstop,
        "the WAL holds {unbroken} bytes after {unbroken_mb} MB of unbroken commits: it never started over"
    );
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM blobs")
        .fetch_one(db.pool())
        .await
        .expect("count");
    assert_eq!(
        count,
        200 + 10 * unbroken_mb as i64,
        "every commit is there"
    );
}

/// A job for the queue test below.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Ping {
    n: i64,
}

impl omnitraffick::jobs::Job for Ping {
    const QUEUE: &'static str = "test.busy";
}

/// Another process holding SQLite's write lock (a worker, say): the store's writer (which has
/// no busy timeout of its own and waits for the lock itself) and the job queue's connections
/// (whose busy handler retries every millisecond) wait for it, then commit; nothing fails
/// with "database is locked" and nothing is written twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_wait_for_another_process_holding_the_lock_then_commit() {
    use sqlx::Connection;
    let test_db = common::fresh_db().await;
    let (db, services) = common::open(&test_db).await;
    if db.backend() != omnitraffick::store::Backend::Sqlite {
        return; // PostgreSQL locks rows, not the file.
    }
    scratch(&db).await;
    let mut other = sqlx::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new().filename(&test_db.url),
    )
    .await
    .expect("a second connection, as another process would have");
    sqlx::raw_sql("BEGIN IMMEDIATE; INSERT INTO scratch (id, note) VALUES (1, 'other')")
        .execute(&mut other)
        .await
        .expect("the other process takes the write lock");

    let write = tokio::spawn({
        let db = db.clone();
        async move {
            let mut tx = db.begin_write().await?;
            insert(&mut tx, 2, "ours").await?;
            tx.commit().await
        }
    });
    let push = tokio::spawn({
        let jobs = services.jobs.clone();
        async move { jobs.push(Ping { n: 7 }, None).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !write.is_finished() && !push.is_finished(),
        "neither may finish while the other process holds the lock"
    );
    sqlx::raw_sql("COMMIT")
        .execute(&mut other)
        .await
        .expect("the other process commits");

    write
        .await
        .expect("the write's task")
        .expect("our write commits once the lock is free");
    push.await
        .expect("the push's task")
        .expect("the push is queued once the lock is free");
    assert_eq!(rows(&db).await, vec![1, 2]);
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM Jobs WHERE job_type = 'test.busy'")
        .fetch_one(db.pool())
        .await
        .expect("count the queued jobs");
    assert_eq!(queued, 1);
}

/// A `begin_write` abandoned midway (its request dropped, its task aborted, as a deploy's
/// lease heartbeat is when the deploy ends) must not leave its connection inside a
/// transaction: a later write of one statement there (`begin_write_one`, which commits by
/// itself) would stay uncommitted, unseen by every other connection and holding its locks.
/// sqlx 0.9's PostgreSQL `begin` does leave it so when dropped after sending `BEGIN`.
#[tokio::test]
async fn an_abandoned_begin_leaves_no_transaction_open_for_later_writes() {
    let test_db = common::fresh_db().await;
    let (db, _services) = common::open(&test_db).await;
    scratch(&db).await;
    for i in 0..40 {
        // Another writer at the same time, so the abandoned begin sometimes finds the group
        // open (and opens only its savepoint) and sometimes opens the group itself.
        let beside = {
            let db = db.clone();
            tokio::spawn(async move {
                let mut tx = db.begin_write_one().await?;
                insert(&mut tx, 1_000 + i, &format!("beside {i}")).await?;
                tx.commit().await
            })
        };
        {
            // Polled a few times (1 to 4: the connection taken, `BEGIN` sent), then dropped.
            let mut begin = Box::pin(db.begin_write());
            for _ in 0..=(i % 4) {
                if futures::poll!(&mut begin).is_ready() {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        let mut tx = db.begin_write_one().await.expect("begin");
        insert(&mut tx, i, &format!("row {i}"))
            .await
            .expect("insert");
        tx.commit().await.expect("commit");
        beside.await.expect("joined").expect("the write beside");
    }
    // Read through connections of their own: each write is committed.
    let other = Db::connect(&test_db.url).await.expect("another pool");
    let expected: Vec<i64> = (0..40).chain(1_000..1_040).collect();
    assert_eq!(rows(&other).await, expected);
}
