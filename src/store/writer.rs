//! Group commit for the embedded SQLite store.
//!
//! SQLite has one writer per file, so every write transaction of this process goes through
//! one dedicated connection, one at a time. Committing each of them on its own costs a WAL
//! append and a lock cycle per request, and handing the connection from task to task costs
//! more. Instead, writers that arrive while another one holds the connection join one outer
//! transaction (`BEGIN IMMEDIATE`): each runs inside its own `SAVEPOINT`, so a writer that
//! fails or rolls back undoes only its own statements, and the outer transaction is committed
//! once for the whole group when nobody else is waiting (or the group reaches
//! [`MAX_GROUP`]). A writer's `commit` returns only after that real `COMMIT`: nothing is
//! acknowledged before it is in the database file's WAL. If the group's `COMMIT` fails,
//! every member of the group gets the error.
//!
//! The dedicated connection also keeps its page cache: it is the only writer in this process,
//! so the pages it wrote stay valid between transactions instead of being read again.
//!
//! Every statement is a round trip to the connection's thread, and the connection is held
//! for all of them, so the bookkeeping goes in the same round trips where it can: a group
//! starts with `BEGIN IMMEDIATE; SAVEPOINT`, a writer hands over to the next with
//! `RELEASE; SAVEPOINT`, and the last one ends the group with `RELEASE; COMMIT`.
//!
//! A write of one round trip needs no savepoint of the group's ([`GroupWriter::begin_bare`]):
//! one statement SQLite undoes by itself if it fails, leaving the transaction open, and
//! several statements run in one round trip inside a savepoint of their own (`ot_one`,
//! released by their last statement, rolled back to by the writer if one fails midway). Such
//! a writer joins the group as it stands, and when another writer is waiting it hands over
//! without a round trip. That is `create_ticket`: one round trip on the writer for all the
//! tickets asked for while it was busy (`governance::batch`; their campaigns are as a rule
//! not read: `governance::parents`). A group savepoint a bare writer worked in holds kept
//! work ([`Savepoint::Kept`]), so the next writer that needs a savepoint releases it first.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::AnyConnection;
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc, oneshot};

use crate::error::{AppError, AppResult};

/// Most writers committed by one `COMMIT`; a longer queue is committed in several groups so
/// the first writers of a long burst are not kept waiting for the last.
pub(crate) const MAX_GROUP: usize = 64;

/// How long a writer whose work is released but not yet committed waits before it commits
/// the group itself (normally the last writer of the group commits it long before).
const FLUSH_AFTER: Duration = Duration::from_millis(2);

/// The savepoint each writer runs in, and the statements around it.
const BEGIN_GROUP: &str = "BEGIN IMMEDIATE; SAVEPOINT ot_write";
const BEGIN_BARE: &str = "BEGIN IMMEDIATE";

/// A bare writer's write of several statements runs them in one round trip inside the
/// savepoint `ot_one`, from its first statement to its last (`SAVEPOINT ot_one; …; RELEASE
/// ot_one`, as `store::insert_tickets` does). If one fails midway, this undoes the others.
const UNDO_ONE_WRITE: &str = "ROLLBACK TO ot_one; RELEASE ot_one";
const SAVEPOINT: &str = "SAVEPOINT ot_write";
const HAND_OVER: &str = "RELEASE ot_write; SAVEPOINT ot_write";
const UNDO: &str = "ROLLBACK TO ot_write; RELEASE ot_write";
const RELEASE_AND_COMMIT: &str = "RELEASE ot_write; COMMIT";
const COMMIT: &str = "COMMIT";

type Outcome = Result<(), String>;

/// Where the writers' savepoint stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Savepoint {
    None,
    /// Opened for the next writer, nothing done in it yet.
    Fresh,
    /// A writer is working in it (or was dropped midway where no runtime could undo it).
    InUse,
    /// Open, holding work that is kept (a bare writer's): released, never rolled back to.
    Kept,
}

pub(crate) struct State {
    conn: AnyConnection,
    /// The group's transaction is open.
    open: bool,
    savepoint: Savepoint,
    /// Writers whose work is released into the open transaction, waiting for its `COMMIT`.
    members: Vec<oneshot::Sender<Outcome>>,
    /// A bare writer was dropped where no runtime could end it: the next writer does.
    bare_ended: bool,
    /// A writer was dropped while its opening round trip was under way (`Some(open)`: whether
    /// the group's transaction was open then), so whether the statements ran is unknown: the
    /// next writer puts the connection back in a known state (`clear_left_work`).
    opening: Option<bool>,
    /// Asks the checkpointer to copy the WAL back after a commit (the commit itself does
    /// only past the backstop, `store::WAL_AUTOCHECKPOINT_PAGES`).
    checkpoint: mpsc::Sender<()>,
}

impl State {
    /// Ask for a checkpoint: after each group's `COMMIT`, and after a write made beside this
    /// connection (a push to the job queue under `Db::hold_writer`). The queue's other writes
    /// (claims, acks, heartbeats) are small; the next kick or the backstop covers them.
    pub(crate) fn kick_checkpoint(&self) {
        // Full: a checkpoint is already due, which will cover this write too.
        let _ = self.checkpoint.try_send(());
    }
}

/// The one writer connection and the writers queued for it.
#[derive(Clone)]
pub(crate) struct GroupWriter {
    state: Arc<Mutex<State>>,
    /// Writers waiting for the connection: while there are any, a finished writer leaves the
    /// transaction open for them to join.
    waiting: Arc<AtomicUsize>,
}

/// A writer's hold on the connection, inside its savepoint (a bare writer's: in the group's
/// transaction as it stands).
pub(crate) struct Slot {
    guard: Option<OwnedMutexGuard<State>>,
    writer: GroupWriter,
    /// From [`GroupWriter::begin_bare`]: no savepoint of its own.
    bare: bool,
}

/// Counts a writer as waiting until it has the connection (or gave up waiting).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Run one or more statements without parameters in one round trip.
async fn run(conn: &mut AnyConnection, sql: &'static str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sql).execute(conn).await.map(|_| ())
}

/// Open the group's transaction, waiting here while another process holds the write lock.
///
/// The writer's connection has no busy timeout (`store::SQLITE_WRITER_PRAGMAS`): SQLite's own
/// busy handler sleeps in growing steps (see `store::busy`), and with two deploy workers each
/// one's writer thread slept about 40% of the time. Here `BEGIN IMMEDIATE` is tried again
/// every millisecond, for as long as the store's other connections wait (`busy::WAIT`).
/// Only `BEGIN IMMEDIATE` waits for the lock: in WAL mode the statements after it, and the
/// `COMMIT` (whose automatic checkpoint is passive), need no lock another process could hold.
async fn begin_group(conn: &mut AnyConnection, sql: &'static str) -> Result<(), sqlx::Error> {
    let deadline = tokio::time::Instant::now() + super::busy::WAIT;
    loop {
        match run(conn, sql).await {
            Err(e) if is_busy(&e) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(super::busy::RETRY_EVERY).await;
            }
            other => return other,
        }
    }
}

/// SQLite's `SQLITE_BUSY` (5), with any extended code (`SQLITE_BUSY_RECOVERY` …).
fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => d
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| c & 0xff == 5),
        _ => false,
    }
}

impl GroupWriter {
    pub(crate) fn new(conn: AnyConnection, checkpoint: mpsc::Sender<()>) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                conn,
                open: false,
                savepoint: Savepoint::None,
                members: Vec::new(),
                bare_ended: false,
                opening: None,
                checkpoint,
            })),
            waiting: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn others_waiting(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) > 0
    }

    /// Take the connection and open this writer's savepoint (and the group's transaction if
    /// none is open).
    pub(crate) async fn begin(&self) -> AppResult<Slot> {
        let mut guard = self.take().await;
        let st = &mut *guard;
        if !(st.open && st.savepoint == Savepoint::Fresh) {
            st.opening = Some(st.open);
        }
        let opened = match (st.open, st.savepoint) {
            (true, Savepoint::Fresh) => Ok(()),
            (true, Savepoint::Kept) => run(&mut st.conn, HAND_OVER).await,
            (true, _) => run(&mut st.conn, SAVEPOINT).await,
            (false, _) => match begin_group(&mut st.conn, BEGIN_GROUP).await {
                Ok(()) => {
                    st.open = true;
                    Ok(())
                }
                Err(e) => {
                    // BEGIN may have worked and the SAVEPOINT not; leave nothing open.
                    let _ = run(&mut st.conn, "ROLLBACK").await;
                    Err(e)
                }
            },
        };
        st.opening = None;
        if let Err(e) = opened {
            st.savepoint = Savepoint::None;
            self.release(guard).await;
            return Err(e.into());
        }
        st.savepoint = Savepoint::InUse;
        Ok(Slot {
            guard: Some(guard),
            writer: self.clone(),
            bare: false,
        })
    }

    /// Take the connection for a write of one round trip, in no savepoint of the group's: the
    /// group's transaction is opened if none is, and nothing else is run. A failed statement
    /// is undone by SQLite alone, a batch that failed midway by `end_after_bare`; a write
    /// that has run stays in the group, so `rollback` does not undo it (as with
    /// `Db::begin_write_one` on PostgreSQL), it commits the group at once.
    pub(crate) async fn begin_bare(&self) -> AppResult<Slot> {
        let mut guard = self.take().await;
        let st = &mut *guard;
        if !st.open {
            st.opening = Some(false);
            let begun = begin_group(&mut st.conn, BEGIN_BARE).await;
            st.opening = None;
            if let Err(e) = begun {
                let _ = run(&mut st.conn, "ROLLBACK").await;
                st.savepoint = Savepoint::None;
                self.release(guard).await;
                return Err(e.into());
            }
            st.open = true;
            st.savepoint = Savepoint::None;
        } else if st.savepoint == Savepoint::Fresh {
            // Its statement lands in the savepoint opened for the next writer: keep it there.
            st.savepoint = Savepoint::Kept;
        }
        Ok(Slot {
            guard: Some(guard),
            writer: self.clone(),
            bare: true,
        })
    }

    /// Hold the writer with no transaction open, for a write this process makes through
    /// another connection (the job queue's): it then waits here, in process, instead of on
    /// SQLite's busy handler, which sleeps in steps of milliseconds.
    pub(crate) async fn exclusive(&self) -> OwnedMutexGuard<State> {
        let mut guard = self.take().await;
        if guard.open {
            end_group(&mut guard).await;
        }
        guard
    }

    /// Wait for the connection (counted as waiting meanwhile, so a finishing writer leaves
    /// its group open for this one), and undo a savepoint a dropped writer left behind.
    async fn take(&self) -> OwnedMutexGuard<State> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut guard = {
            let _waiting = Waiting(&self.waiting);
            self.state.clone().lock_owned().await
        };
        clear_left_work(&mut guard).await;
        guard
    }

    /// Give the connection back with no writer's work in progress: end the group now unless
    /// it has members and another writer is about to join it.
    async fn release(&self, mut guard: OwnedMutexGuard<State>) {
        let st = &mut *guard;
        if st.open
            && (st.members.is_empty() || st.members.len() >= MAX_GROUP || !self.others_waiting())
        {
            end_group(st).await;
        }
    }

    /// Wait until the group this writer joined is committed; commit it if nobody else does.
    async fn committed(&self, mut rx: oneshot::Receiver<Outcome>) -> AppResult<()> {
        loop {
            match tokio::time::timeout(FLUSH_AFTER, &mut rx).await {
                Ok(Ok(outcome)) => return outcome_of(outcome),
                Ok(Err(_)) => {
                    return Err(AppError::Internal(
                        "the database writer stopped before the write was committed".into(),
                    ));
                }
                Err(_) => {
                    let mut guard = self.state.clone().lock_owned().await;
                    let st = &mut *guard;
                    clear_left_work(st).await;
                    if st.open && !st.members.is_empty() {
                        end_group(st).await;
                    }
                }
            }
        }
    }
}

/// End what a dropped writer left behind: an opening whose outcome is unknown, a bare
/// writer's half-run batch (then the group), or an ordinary writer's savepoint.
async fn clear_left_work(st: &mut State) {
    // SQLite ran the opening or not (sqlx runs a statement sent to the connection's thread
    // even when its caller is gone). Either way this leaves it as it was before.
    match st.opening.take() {
        // No group was open: roll back the one that may have begun (no member's work is in
        // it), as the writer that failed to begin one does.
        Some(false) => {
            let _ = run(&mut st.conn, "ROLLBACK").await;
            st.open = false;
            st.savepoint = Savepoint::None;
        }
        // In the open group, `SAVEPOINT ot_write` (after the savepoint of kept work was
        // released, if there was one) or not: one `RELEASE ot_write` keeps whatever work
        // either left, and leaves no savepoint; with none to release it fails, harmlessly.
        Some(true) => {
            let _ = run(&mut st.conn, "RELEASE ot_write").await;
            st.savepoint = Savepoint::None;
        }
        None => {}
    }
    if st.bare_ended {
        st.bare_ended = false;
        end_after_bare(st).await;
    }
    if st.savepoint == Savepoint::InUse {
        undo(st).await;
    }
}

fn outcome_of(outcome: Outcome) -> AppResult<()> {
    outcome.map_err(|e| AppError::Internal(format!("the database could not commit the write: {e}")))
}

/// Undo the work in the savepoint. If even that fails, the whole group is abandoned.
async fn undo(st: &mut State) {
    if let Err(e) = run(&mut st.conn, UNDO).await {
        abandon_group(st, e).await;
    }
    st.savepoint = Savepoint::None;
}

/// Commit the open transaction (releasing an open savepoint with it) and tell every
/// member how it went.
async fn end_group(st: &mut State) {
    let sql = match st.savepoint {
        Savepoint::None => COMMIT,
        Savepoint::Fresh | Savepoint::InUse | Savepoint::Kept => RELEASE_AND_COMMIT,
    };
    match run(&mut st.conn, sql).await {
        Ok(()) => {
            st.open = false;
            st.savepoint = Savepoint::None;
            for member in st.members.drain(..) {
                let _ = member.send(Ok(()));
            }
            st.kick_checkpoint();
        }
        Err(e) => abandon_group(st, e).await,
    }
}

/// Roll the whole transaction back after a failure and tell every member.
async fn abandon_group(st: &mut State, e: sqlx::Error) {
    let _ = run(&mut st.conn, "ROLLBACK").await;
    tracing::error!(error = %e, writers = st.members.len(), "group commit failed");
    let failure = Err(e.to_string());
    st.open = false;
    st.savepoint = Savepoint::None;
    for member in st.members.drain(..) {
        let _ = member.send(failure.clone());
    }
}

impl Slot {
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        match self.guard.as_mut() {
            Some(g) => &mut g.conn,
            // A slot loses its guard only in commit and rollback, which consume it.
            None => unreachable!("write slot used after it ended"),
        }
    }

    pub(crate) fn conn_ref(&self) -> &AnyConnection {
        match self.guard.as_ref() {
            Some(g) => &g.conn,
            None => unreachable!("write slot used after it ended"),
        }
    }

    /// Keep this writer's work: release its savepoint into the group and return once the
    /// group is committed. When another writer is waiting, the group stays open for it and
    /// the savepoint is opened for it in the same round trip.
    pub(crate) async fn commit(mut self) -> AppResult<()> {
        let Some(mut guard) = self.guard.take() else {
            return Ok(());
        };
        let st = &mut *guard;
        let (tx, rx) = oneshot::channel();
        if self.writer.others_waiting() && st.members.len() + 1 < MAX_GROUP {
            if self.bare {
                // Nothing to release: the next writer goes on in the group as it stands.
                st.members.push(tx);
                drop(guard);
                return self.writer.committed(rx).await;
            }
            if let Err(e) = run(&mut st.conn, HAND_OVER).await {
                abandon_group(st, e).await;
                drop(guard);
                return outcome_of(Err("the group's savepoint could not be released".into()));
            }
            st.savepoint = Savepoint::Fresh;
            st.members.push(tx);
            drop(guard);
        } else {
            st.members.push(tx);
            end_group(st).await;
            drop(guard);
        }
        self.writer.committed(rx).await
    }

    /// Undo this writer's work; the rest of the group is not affected. A bare writer's
    /// statement, if it ran, stays (see [`GroupWriter::begin_bare`]).
    pub(crate) async fn rollback(mut self) -> AppResult<()> {
        if let Some(mut guard) = self.guard.take() {
            if self.bare {
                end_after_bare(&mut guard).await;
            } else {
                undo(&mut guard).await;
                self.writer.release(guard).await;
            }
        }
        Ok(())
    }
}

/// A bare writer ended without commit (an error, as a rule): undo its write if it was
/// several statements and one failed midway, then commit the group now.
/// - A write of several statements made through a bare writer runs them in one round trip
///   inside the savepoint `ot_one`, released by its last statement ([`UNDO_ONE_WRITE`]). If
///   one fails, the savepoint is still open here and is rolled back to; when none is open,
///   that statement fails harmlessly.
/// - Some failures (`SQLITE_FULL`, `SQLITE_IOERR` …) make SQLite roll the whole transaction
///   back. Then the `COMMIT` fails and every member hears of it, rather than later writers
///   running outside any transaction and hearing of it only at the group's end.
async fn end_after_bare(st: &mut State) {
    let _ = run(&mut st.conn, UNDO_ONE_WRITE).await;
    if st.open {
        end_group(st).await;
    }
}

impl Drop for Slot {
    /// A writer dropped without commit or rollback (an error returned midway): undo its
    /// savepoint (a bare writer: its half-run batch, then commit the group) and give the
    /// connection back, on the runtime, since that takes statements.
    fn drop(&mut self) {
        let Some(guard) = self.guard.take() else {
            return;
        };
        let writer = self.writer.clone();
        let bare = self.bare;
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    let mut guard = guard;
                    if bare {
                        end_after_bare(&mut guard).await;
                    } else {
                        undo(&mut guard).await;
                        writer.release(guard).await;
                    }
                });
            }
            // No runtime (the process is ending): the next writer undoes the savepoint (it
            // stays `InUse`), or a bare writer's half-run batch.
            Err(_) => {
                let mut guard = guard;
                if bare {
                    guard.bare_ended = true;
                }
                drop(guard);
            }
        }
    }
}
