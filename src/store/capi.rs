//! SQL for the Conversions API relay: intake (dedupe keys and queued events), delivery
//! (claiming queued events, recording batches, settling events) and retention.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::domain::now_text;
use crate::error::{AppError, AppResult};

// ---------------------------------------------------------------- intake

/// Rows per statement of the intake on SQLite (a power of two): seven parameters each in the
/// insert, four in the claim, well under SQLite's limit.
const INTAKE_ROWS_PER_STATEMENT: usize = 256;

/// Events per intake on PostgreSQL: seven parameters each and three shared, under its limit
/// of 65,535 in one statement. One request brings at most 1,000 events for two destinations;
/// intakes that gather while the writer is busy take at most [`MAX_INTAKE_ROWS`] together.
const MAX_INTAKE_POSTGRES: usize = 9_000;

/// Events queued by one round trip at most when several requests' events go together
/// (`capi::intake`): a request's own events (at most 2,000) always go in one.
pub const MAX_INTAKE_ROWS: usize = 4_096;

/// An event to queue for one destination, already shaped for it.
pub struct NewCapiEvent<'a> {
    pub brand_id: i64,
    /// Events Manager test code; the event then shows in Test Events only.
    pub test_event_code: Option<&'a str>,
    pub destination: &'a str,
    pub event_name: &'a str,
    pub event_id: &'a str,
    pub event_time: i64,
    /// The JSON the destination receives.
    pub payload: &'a str,
}

/// Events of one or several requests, all received at `received_epoch`.
pub struct CapiIntake<'a> {
    pub received_epoch: i64,
    /// A dedupe key last claimed at or before this is taken over: its window has passed.
    pub expired_at_or_before: i64,
    /// One event per dedupe key (brand, destination, event name, event id), in the order to
    /// queue them (their ids follow it).
    pub events: &'a [NewCapiEvent<'a>],
}

/// What [`take_in_capi_events`] did.
#[derive(Debug)]
pub enum TakenIn {
    /// For each event given, whether it was fresh and queued (the others are duplicates).
    Queued(Vec<bool>),
    /// The database refused the write (a constraint, a trigger): nothing of it was written.
    Refused(AppError),
}

/// Take events in, in one round trip: claim each event's dedupe key and queue
/// the events whose key was fresh (new, or last claimed at or before
/// `expired_at_or_before`). Returns, for each event given, whether it was fresh and queued;
/// the others are duplicates. Make it through [`super::Db::begin_write_one`].
/// - PostgreSQL: one statement. The keys are claimed with one upsert, in (brand, event name,
///   event id, destination) order (bytes) whatever order the events come in, so two intakes
///   holding the same events cannot deadlock; a concurrent claim of the same key waits on
///   this one and then sees a duplicate. The events whose key it returns are queued.
/// - SQLite: one query inside the savepoint `ot_one`. First the events whose key nobody
///   holds are queued, then the keys are claimed. Both statements see the same keys:
///   nothing else writes between them (the write lock), and the first does not write keys.
///   After each insert of events, one row tells how many it queued, and only when that is
///   not all of them, which (as JSON): their ids are consecutive, the last ones given out.
///   A row per event would stall the writer: sqlx's SQLite worker hands rows to the caller
///   through a channel of 50, and waits when it is full until the caller's task runs.
///
/// Each statement's rows are padded with rows of NULLs, which write nothing, to a power of
/// two: a few statement texts for all request sizes, each prepared once per connection.
pub async fn take_in_capi_events(
    c: &mut AnyConnection,
    intake: &CapiIntake<'_>,
) -> AppResult<TakenIn> {
    let events = intake.events;
    let mut fresh = vec![false; events.len()];
    if events.is_empty() {
        return Ok(TakenIn::Queued(fresh));
    }
    let mut keys = std::collections::HashMap::with_capacity(events.len());
    for (i, e) in events.iter().enumerate() {
        if keys
            .insert((e.brand_id, e.destination, e.event_name, e.event_id), i)
            .is_some()
        {
            return Err(AppError::Internal(
                "the intake was given one dedupe key twice; give each key's first event only"
                    .into(),
            ));
        }
    }
    let postgres = super::is_postgres(c);
    if postgres && events.len() > MAX_INTAKE_POSTGRES {
        return Err(AppError::Internal(format!(
            "{} events at once; PostgreSQL's one statement takes at most {MAX_INTAKE_POSTGRES}",
            events.len()
        )));
    }
    let received_at = now_text();
    let sql = if postgres {
        take_in_sql_postgres(events.len())
    } else {
        take_in_sql_sqlite(events.len())
    };
    // Built from placeholders and literals alone; every value is bound, in the order written.
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    if postgres {
        q = bind_events(q, intake, &received_at, events);
    } else {
        for chunk in events.chunks(INTAKE_ROWS_PER_STATEMENT) {
            q = bind_events(q, intake, &received_at, chunk).bind(chunk.len() as i64);
        }
        for chunk in events.chunks(INTAKE_ROWS_PER_STATEMENT) {
            q = q.bind(intake.received_epoch);
            for e in chunk {
                q = q
                    .bind(e.brand_id)
                    .bind(e.destination)
                    .bind(e.event_name)
                    .bind(e.event_id);
            }
            q = q.bind(intake.expired_at_or_before);
        }
    }
    let rows = match q.fetch_all(&mut *c).await {
        Ok(rows) => rows,
        Err(e @ sqlx::Error::Database(_)) => return Ok(TakenIn::Refused(e.into())),
        Err(e) => return Err(e.into()),
    };
    // The write has run (on PostgreSQL it is committed): nothing may fail from here on. An
    // answer that cannot be read reports its events as queued, which they are or were
    // already, rather than failing a request whose events were taken in.
    let read = if postgres {
        fresh_from_keys(&rows, &keys, &mut fresh)
    } else {
        fresh_from_counts(&rows, &keys, &mut fresh)
    };
    if let Err(e) = read {
        tracing::error!(error = %e, events = events.len(), "the intake's answer could not be read; its events are reported as accepted");
        fresh.fill(true);
    }
    Ok(TakenIn::Queued(fresh))
}

type IntakeQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// The values an insert of events shares (received epoch and time, expiry), then seven per
/// event.
fn bind_events<'q>(
    mut q: IntakeQuery<'q>,
    intake: &CapiIntake<'q>,
    received_at: &'q str,
    events: &'q [NewCapiEvent<'q>],
) -> IntakeQuery<'q> {
    q = q
        .bind(intake.received_epoch)
        .bind(received_at)
        .bind(intake.expired_at_or_before);
    for e in events {
        q = q
            .bind(e.brand_id)
            .bind(e.test_event_code)
            .bind(e.destination)
            .bind(e.event_name)
            .bind(e.event_id)
            .bind(e.event_time)
            .bind(e.payload);
    }
    q
}

/// A dedupe key and the event given for it: (brand, destination, event name, event id).
type Keys<'a> = std::collections::HashMap<(i64, &'a str, &'a str, &'a str), usize>;

/// PostgreSQL's answer: the keys claimed, whose events were queued.
fn fresh_from_keys(rows: &[AnyRow], keys: &Keys<'_>, fresh: &mut [bool]) -> Result<(), String> {
    for row in rows {
        let key = (
            row.try_get::<i64, _>("brand_id"),
            row.try_get::<&str, _>("destination"),
            row.try_get::<&str, _>("event_name"),
            row.try_get::<&str, _>("event_id"),
        );
        let (Ok(b), Ok(d), Ok(n), Ok(i)) = key else {
            return Err("a claimed key is not a number and three texts".into());
        };
        match keys.get(&(b, d, n, i)) {
            Some(&at) => fresh[at] = true,
            None => return Err("a claimed key is not one given".into()),
        }
    }
    Ok(())
}

/// SQLite's answer: per insert, how many events it queued and, when not all, which.
fn fresh_from_counts(rows: &[AnyRow], keys: &Keys<'_>, fresh: &mut [bool]) -> Result<(), String> {
    let inserts = fresh.len().div_ceil(INTAKE_ROWS_PER_STATEMENT);
    if rows.len() != inserts {
        return Err(format!("{} counts for {inserts} inserts", rows.len()));
    }
    for (k, row) in rows.iter().enumerate() {
        let at = k * INTAKE_ROWS_PER_STATEMENT;
        let len = (fresh.len() - at).min(INTAKE_ROWS_PER_STATEMENT);
        let n = row.try_get::<i64, _>("n").map_err(|e| e.to_string())?;
        if n == len as i64 {
            fresh[at..at + len].fill(true);
            continue;
        }
        let text = row
            .try_get::<&str, _>("queued")
            .map_err(|e| e.to_string())?;
        let queued: Vec<(i64, String, String, String)> =
            serde_json::from_str(text).map_err(|e| format!("queued keys: {e}"))?;
        if queued.len() as i64 != n {
            return Err(format!("{} queued keys for a count of {n}", queued.len()));
        }
        for (brand, destination, name, id) in &queued {
            match keys.get(&(*brand, destination.as_str(), name.as_str(), id.as_str())) {
                Some(&i) if (at..at + len).contains(&i) => fresh[i] = true,
                _ => return Err("a queued key is not one given to its insert".into()),
            }
        }
    }
    Ok(())
}

/// `VALUES` rows of `k` anonymous placeholders for `n` events, padded to `to` rows with rows
/// of `k` NULLs; with `place`, each row ends with its place (a literal).
fn padded_rows(sql: &mut String, n: usize, to: usize, k: usize, place: bool) {
    use std::fmt::Write;
    for i in 0..to.max(n) {
        sql.push_str(if i == 0 { "(" } else { ", (" });
        for j in 0..k {
            sql.push_str(match (j, i < n) {
                (0, true) => "?",
                (_, true) => ", ?",
                (0, false) => "NULL",
                _ => ", NULL",
            });
        }
        if place {
            let _ = write!(sql, ", {i}");
        }
        sql.push(')');
    }
}

/// The intake's query on SQLite for `n` events (anonymous `?`: sqlx looks up the name of
/// every parameter of a statement, and SQLite finds a name by walking its list of names, so
/// with `$n` a statement of a few hundred parameters spends most of its time binding them).
/// The values shared by the rows come in once per statement, through `s`.
fn take_in_sql_sqlite(n: usize) -> String {
    let chunks = || {
        (0..n)
            .step_by(INTAKE_ROWS_PER_STATEMENT)
            .map(move |at| (n - at).min(INTAKE_ROWS_PER_STATEMENT))
    };
    // Past one chunk, every chunk is padded to a full one: a few texts for the intakes of
    // several requests (whose sizes add up to anything), each prepared once per connection.
    let pad = |rows: usize| {
        if n > INTAKE_ROWS_PER_STATEMENT {
            INTAKE_ROWS_PER_STATEMENT
        } else {
            rows.next_power_of_two()
        }
    };
    let mut sql = String::from("SAVEPOINT ot_one; ");
    for rows in chunks() {
        sql.push_str(
            "WITH s(e, a, x) AS (VALUES (?, ?, ?)) \
             INSERT INTO capi_events (brand_id, destination, event_name, event_id, event_time, \
             payload, test_event_code, received_epoch, received_at, status) \
             SELECT v.column1, v.column3, v.column4, v.column5, v.column6, v.column7, \
             v.column2, s.e, s.a, 'QUEUED' FROM s, (VALUES ",
        );
        padded_rows(&mut sql, rows, pad(rows), 7, true);
        sql.push_str(
            ") AS v WHERE v.column1 IS NOT NULL AND NOT EXISTS (SELECT 1 FROM capi_dedupe d \
             WHERE d.brand_id = v.column1 AND d.destination = v.column3 \
             AND d.event_name = v.column4 AND d.event_id = v.column5 AND d.received_epoch > s.x) \
             ORDER BY v.column8; \
             SELECT changes() AS n, CASE WHEN changes() < ? THEN (SELECT \
             json_group_array(json_array(brand_id, destination, event_name, event_id)) \
             FROM capi_events WHERE id > last_insert_rowid() - changes() \
             AND id <= last_insert_rowid()) END AS queued; ",
        );
    }
    for rows in chunks() {
        sql.push_str(
            "WITH s(e) AS (VALUES (?)) \
             INSERT INTO capi_dedupe (brand_id, destination, event_name, event_id, received_epoch) \
             SELECT v.column1, v.column2, v.column3, v.column4, s.e FROM s, (VALUES ",
        );
        padded_rows(&mut sql, rows, pad(rows), 4, false);
        sql.push_str(
            ") AS v WHERE v.column1 IS NOT NULL \
             ON CONFLICT (brand_id, destination, event_name, event_id) DO UPDATE \
             SET received_epoch = excluded.received_epoch \
             WHERE capi_dedupe.received_epoch <= ?; ",
        );
    }
    sql.push_str("RELEASE ot_one");
    sql
}

/// The intake's statement on PostgreSQL for `n` events: `$1` received epoch, `$2` received
/// at, `$3` expired at or before, then seven per event. Each row carries its place (`o`, a
/// literal), which orders the queued events.
fn take_in_sql_postgres(n: usize) -> String {
    use std::fmt::Write;
    let mut sql = String::from(
        "WITH v (o, brand_id, test_event_code, destination, event_name, event_id, event_time, \
         payload) AS (VALUES ",
    );
    for i in 0..n.next_power_of_two() {
        if i > 0 {
            sql.push_str(", ");
        }
        if i < n {
            let p = 4 + i * 7;
            let _ = write!(sql, "({i}");
            for k in 0..7 {
                let _ = write!(sql, ", ${}", p + k);
            }
            sql.push(')');
        } else {
            let _ = write!(sql, "({i}, NULL, NULL, NULL, NULL, NULL, NULL, NULL)");
        }
    }
    sql.push_str(
        "), claimed AS (INSERT INTO capi_dedupe (brand_id, destination, event_name, event_id, \
         received_epoch) SELECT brand_id, destination, event_name, event_id, $1 FROM v \
         WHERE destination IS NOT NULL ORDER BY brand_id, event_name COLLATE \"C\", \
         event_id COLLATE \"C\", destination COLLATE \"C\" \
         ON CONFLICT (brand_id, destination, event_name, event_id) DO UPDATE \
         SET received_epoch = excluded.received_epoch \
         WHERE capi_dedupe.received_epoch <= $3 \
         RETURNING brand_id, destination, event_name, event_id), \
         queued AS (INSERT INTO capi_events (brand_id, destination, event_name, event_id, \
         event_time, payload, test_event_code, received_epoch, received_at, status) \
         SELECT v.brand_id, v.destination, v.event_name, v.event_id, v.event_time, v.payload, \
         v.test_event_code, $1, $2, 'QUEUED' FROM v JOIN claimed c ON c.brand_id = v.brand_id \
         AND c.destination = v.destination AND c.event_name = v.event_name \
         AND c.event_id = v.event_id ORDER BY v.o) \
         SELECT brand_id, destination, event_name, event_id FROM claimed",
    );
    sql
}

// ---------------------------------------------------------------- delivery

/// What delivery needs to know about a brand: its code and its pixels.
#[derive(Debug, Clone)]
pub struct BrandPixels {
    pub code: String,
    pub meta_pixel_id: Option<String>,
    pub tiktok_pixel_code: Option<String>,
}

/// The brand's code and pixels; an error when there is no brand with this id.
pub async fn brand_pixels(c: &mut AnyConnection, brand_id: i64) -> AppResult<BrandPixels> {
    let row =
        sqlx::query("SELECT code, meta_pixel_id, tiktok_pixel_code FROM brands WHERE id = $1")
            .bind(brand_id)
            .fetch_one(c)
            .await?;
    Ok(BrandPixels {
        code: row.try_get("code")?,
        meta_pixel_id: row.try_get("meta_pixel_id")?,
        tiktok_pixel_code: row.try_get("tiktok_pixel_code")?,
    })
}

/// The next batch to send to a destination, picked by its oldest due event.
#[derive(Debug, Clone)]
pub struct NextCapiBatch {
    /// The batch takes only events with this test event code (None = live events).
    pub test_event_code: Option<String>,
}

/// The next batch for the brand and destination: events still QUEUED whose retry time (if
/// any) is at or before `now_epoch`. None when nothing is due.
pub async fn next_capi_batch(
    c: &mut AnyConnection,
    brand_id: i64,
    destination: &str,
    now_epoch: i64,
) -> AppResult<Option<NextCapiBatch>> {
    let row = sqlx::query(
        "SELECT test_event_code FROM capi_events WHERE brand_id = $1 AND destination = $2 AND status = 'QUEUED' \
         AND (next_attempt_epoch IS NULL OR next_attempt_epoch <= $3) ORDER BY id LIMIT 1",
    )
    .bind(brand_id)
    .bind(destination)
    .bind(now_epoch)
    .fetch_optional(c)
    .await?;
    row.map(|r| {
        Ok(NextCapiBatch {
            test_event_code: r.try_get("test_event_code")?,
        })
    })
    .transpose()
}

/// A queued event, as delivery reads it.
#[derive(Debug, Clone)]
pub struct QueuedCapiEvent {
    pub id: i64,
    /// The JSON the destination receives.
    pub payload: String,
    /// Failed sends so far.
    pub attempts: i64,
}

/// Up to `limit` due QUEUED events for the brand and destination with this test event code
/// ("" = live events), oldest first.
pub async fn due_capi_events(
    c: &mut AnyConnection,
    brand_id: i64,
    destination: &str,
    test_event_code: Option<&str>,
    now_epoch: i64,
    limit: i64,
) -> AppResult<Vec<QueuedCapiEvent>> {
    let rows = sqlx::query(
        "SELECT id, payload, attempts FROM capi_events WHERE brand_id = $1 AND destination = $2 AND status = 'QUEUED' \
         AND COALESCE(test_event_code, '') = $3 AND (next_attempt_epoch IS NULL OR next_attempt_epoch <= $5) ORDER BY id LIMIT $4",
    )
    .bind(brand_id)
    .bind(destination)
    .bind(test_event_code.unwrap_or_default())
    .bind(limit)
    .bind(now_epoch)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(QueuedCapiEvent {
                id: r.try_get("id")?,
                payload: r.try_get("payload")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect()
}

/// Mark a QUEUED event SENDING, claimed at `claimed_epoch`. False when it is no longer
/// QUEUED (another worker claimed it first).
pub async fn claim_capi_event(
    c: &mut AnyConnection,
    id: i64,
    claimed_epoch: i64,
) -> AppResult<bool> {
    let done = sqlx::query(
        "UPDATE capi_events SET status = 'SENDING', claimed_epoch = $2 WHERE id = $1 AND status = 'QUEUED'",
    )
    .bind(id)
    .bind(claimed_epoch)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One request sent to a destination, for the audit trail.
pub struct NewCapiBatch<'a> {
    pub brand_id: i64,
    pub destination: &'a str,
    /// How many events it carried.
    pub events: i64,
    /// SENT or FAILED.
    pub status: &'a str,
    /// What the destination said it took in, when it says.
    pub events_received: Option<i64>,
    pub trace_id: Option<&'a str>,
    pub error: Option<&'a str>,
    pub latency_ms: i64,
}

/// Record a batch, sent now. Returns its id.
pub async fn record_capi_batch(c: &mut AnyConnection, b: &NewCapiBatch<'_>) -> AppResult<i64> {
    let row = sqlx::query(
        "INSERT INTO capi_batches (brand_id, destination, events, status, events_received, trace_id, error, latency_ms, sent_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(b.brand_id)
    .bind(b.destination)
    .bind(b.events)
    .bind(b.status)
    .bind(b.events_received)
    .bind(b.trace_id)
    .bind(b.error)
    .bind(b.latency_ms)
    .bind(now_text())
    .fetch_one(c)
    .await?;
    Ok(row.try_get("id")?)
}

/// Put a claimed event back in the queue after a failed send, counting the attempt, noting
/// the error, and not due before `next_attempt_epoch`.
pub async fn retry_capi_event_later(
    c: &mut AnyConnection,
    id: i64,
    error: &str,
    next_attempt_epoch: i64,
) -> AppResult<()> {
    sqlx::query("UPDATE capi_events SET status = 'QUEUED', attempts = attempts + 1, error = $1, next_attempt_epoch = $3 WHERE id = $2")
        .bind(error)
        .bind(id)
        .bind(next_attempt_epoch)
        .execute(c)
        .await?;
    Ok(())
}

/// Settle a claimed event: SENT or FAILED, with the batch it went in and the error, if any.
pub async fn finish_capi_event(
    c: &mut AnyConnection,
    id: i64,
    status: &str,
    batch_id: Option<i64>,
    error: Option<&str>,
) -> AppResult<()> {
    sqlx::query("UPDATE capi_events SET status = $1, batch_id = $2, error = $3 WHERE id = $4")
        .bind(status)
        .bind(batch_id)
        .bind(error)
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- the sweep

/// Put events back in the queue that have been SENDING since before `claimed_before` (Unix
/// seconds): their worker died while sending.
pub async fn release_stale_capi_claims(
    c: &mut AnyConnection,
    claimed_before: i64,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE capi_events SET status = 'QUEUED' WHERE status = 'SENDING' AND claimed_epoch < $1",
    )
    .bind(claimed_before)
    .execute(c)
    .await?;
    Ok(())
}

/// A brand and destination with events to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapiDestination {
    pub brand_id: i64,
    pub destination: String,
}

/// Every brand and destination with QUEUED events received before `received_before` that are
/// due at `now_epoch`.
pub async fn due_capi_destinations(
    c: &mut AnyConnection,
    received_before: i64,
    now_epoch: i64,
) -> AppResult<Vec<CapiDestination>> {
    let rows = sqlx::query(
        "SELECT DISTINCT brand_id, destination FROM capi_events WHERE status = 'QUEUED' AND received_epoch < $1 \
         AND (next_attempt_epoch IS NULL OR next_attempt_epoch <= $2)",
    )
    .bind(received_before)
    .bind(now_epoch)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CapiDestination {
                brand_id: r.try_get("brand_id")?,
                destination: r.try_get("destination")?,
            })
        })
        .collect()
}

// ---------------------------------------------------------------- retention
//
// Events hold the client IP and user agent in clear, so finished ones are deleted after a
// while; dedupe keys are deleted once they can no longer match; batches once no event points
// at them. Each call deletes at most `limit` rows, so a caller can keep every write
// transaction short.

/// Delete up to `limit` finished (SENT or FAILED) events received before `before_epoch`
/// (Unix seconds). Queued and in-flight events are never touched. Returns how many went.
pub async fn delete_finished_capi_events(
    c: &mut AnyConnection,
    before_epoch: i64,
    limit: i64,
) -> AppResult<u64> {
    let done = sqlx::query(
        "DELETE FROM capi_events WHERE id IN (SELECT id FROM capi_events \
         WHERE status IN ('SENT', 'FAILED') AND received_epoch < $1 LIMIT $2)",
    )
    .bind(before_epoch)
    .bind(limit)
    .execute(c)
    .await?;
    Ok(done.rows_affected())
}

/// Delete up to `limit` dedupe keys last claimed before `before_epoch`.
pub async fn delete_expired_capi_dedupe(
    c: &mut AnyConnection,
    before_epoch: i64,
    limit: i64,
) -> AppResult<u64> {
    let done = sqlx::query(
        "DELETE FROM capi_dedupe WHERE (brand_id, destination, event_name, event_id) IN \
         (SELECT brand_id, destination, event_name, event_id FROM capi_dedupe \
          WHERE received_epoch < $1 LIMIT $2)",
    )
    .bind(before_epoch)
    .bind(limit)
    .execute(c)
    .await?;
    Ok(done.rows_affected())
}

/// Delete up to `limit` batches sent before `sent_before` (RFC 3339 text) that no remaining
/// event belongs to, so a batch's event count never refers to deleted events for long.
pub async fn delete_unreferenced_capi_batches(
    c: &mut AnyConnection,
    sent_before: &str,
    limit: i64,
) -> AppResult<u64> {
    let done = sqlx::query(
        "DELETE FROM capi_batches WHERE id IN (SELECT b.id FROM capi_batches b \
         WHERE b.sent_at < $1 AND NOT EXISTS (SELECT 1 FROM capi_events e WHERE e.batch_id = b.id) \
         LIMIT $2)",
    )
    .bind(sent_before)
    .bind(limit)
    .execute(c)
    .await?;
    Ok(done.rows_affected())
}
