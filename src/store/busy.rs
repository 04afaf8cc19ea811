//! Waiting for another process's SQLite write lock in short steps.
//!
//! SQLite's own busy handler (what `busy_timeout` installs) sleeps in growing steps, 1, 2, 5,
//! 10, 15, 20, 25 … up to 100 ms, on the connection's thread. Once two processes write to one
//! file (the server and a worker, or two workers), a connection kept waiting a few
//! milliseconds goes on sleeping long after the lock is free: in the deploy benchmark each
//! worker's job-queue connections slept about a third of the time, and the jobs they fetch and
//! acknowledge waited with them. The handler here tries again every millisecond, for as long
//! as the store's `busy_timeout` ([`WAIT`]).
//!
//! The store's own writer is an `AnyConnection`, which gives no access to the SQLite handle;
//! it waits in the same steps in Rust instead (`writer::begin_group`).

use std::os::raw::{c_int, c_void};
use std::time::Duration;

use libsqlite3_sys::sqlite3_busy_handler;

/// How long a busy connection waits in all before it gives up with `SQLITE_BUSY` (the store's
/// `busy_timeout`), how often it tries the lock again meanwhile, and so how many tries.
pub(crate) const WAIT: Duration = Duration::from_secs(10);
pub(crate) const RETRY_EVERY: Duration = Duration::from_millis(1);
const TRIES: c_int = (WAIT.as_millis() / RETRY_EVERY.as_millis()) as c_int;

/// Called by SQLite, on the connection's thread, each time a lock it needs is held by another
/// connection; `tries` counts the calls for this wait. Returning 0 gives up.
extern "C" fn retry_soon(_: *mut c_void, tries: c_int) -> c_int {
    if tries >= TRIES {
        return 0;
    }
    std::thread::sleep(RETRY_EVERY);
    1
}

/// Replace the connection's busy handler with [`retry_soon`].
pub(crate) async fn retry_soon_when_busy(
    conn: &mut sqlx::SqliteConnection,
) -> Result<(), sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: `db` is the open connection's handle, held locked (no other thread uses it) for
    // the call; `retry_soon` never unwinds, touches no connection and needs no argument.
    let rc = unsafe { sqlite3_busy_handler(db, Some(retry_soon), std::ptr::null_mut()) };
    if rc != 0 {
        return Err(sqlx::Error::Protocol(format!(
            "SQLite refused the busy handler (code {rc})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_wait_is_the_stores_busy_timeout() {
        assert_eq!(
            super::super::SQLITE_BUSY_TIMEOUT,
            format!("PRAGMA busy_timeout = {};", super::WAIT.as_millis())
        );
    }
}
