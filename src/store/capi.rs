//! SQL for the Conversions API relay: intake (dedupe keys and queued events), delivery
//! (claiming queued events, recording batches, settling events) and retention.

use sqlx::{AnyConnection, Row};

use crate::domain::now_text;
use crate::error::AppResult;

// ---------------------------------------------------------------- intake

/// Claim the dedupe key (brand, destination, event name, event id) for an event received at
/// `received_epoch`, with one upsert. True when the event is fresh: the key is new, or its
/// last claim was at or before `expired_at_or_before` and is taken over. False for a
/// duplicate. A concurrent claim of the same key waits on this one and then sees a duplicate.
pub async fn claim_capi_dedupe_key(
    c: &mut AnyConnection,
    brand_id: i64,
    destination: &str,
    event_name: &str,
    event_id: &str,
    received_epoch: i64,
    expired_at_or_before: i64,
) -> AppResult<bool> {
    Ok(sqlx::query(
        "INSERT INTO capi_dedupe (brand_id, destination, event_name, event_id, received_epoch) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (brand_id, destination, event_name, event_id) DO UPDATE \
         SET received_epoch = excluded.received_epoch \
         WHERE capi_dedupe.received_epoch <= $6 RETURNING 1 AS fresh",
    )
    .bind(brand_id)
    .bind(destination)
    .bind(event_name)
    .bind(event_id)
    .bind(received_epoch)
    .bind(expired_at_or_before)
    .fetch_optional(c)
    .await?
    .is_some())
}

/// Rows per multi-row statement of the intake: well under SQLite's and PostgreSQL's limits
/// on bound parameters (9 per queued event).
const INTAKE_ROWS_PER_STATEMENT: usize = 200;

/// Parameter placeholders for a statement built here, written in the order they are bound.
/// SQLite gets anonymous `?`: sqlx looks up the name of every parameter of a statement, and
/// SQLite finds a name by walking its list of names, so with `$n` a statement of a few
/// hundred parameters spends most of its time binding them (a tenth of the intake's CPU).
/// PostgreSQL gets `$1`, `$2`, ...
struct Params {
    sqlite: bool,
    n: usize,
}

impl Params {
    fn new(c: &AnyConnection) -> Self {
        Self {
            sqlite: !super::is_postgres(c),
            n: 0,
        }
    }

    /// The next placeholder, appended to `sql`.
    fn next(&mut self, sql: &mut String) {
        use std::fmt::Write;
        self.n += 1;
        if self.sqlite {
            sql.push('?');
        } else {
            let _ = write!(sql, "${}", self.n);
        }
    }

    /// `(p, p, ...)` of `k` placeholders, after a comma unless `first`.
    fn row(&mut self, sql: &mut String, k: usize, first: bool) {
        if !first {
            sql.push_str(", ");
        }
        sql.push('(');
        for i in 0..k {
            if i > 0 {
                sql.push_str(", ");
            }
            self.next(sql);
        }
        sql.push(')');
    }
}

/// A dedupe key of one brand: (destination, event name, event id).
pub type CapiDedupeKey<'a> = (&'a str, &'a str, &'a str);

/// `claim_capi_dedupe_key` for many keys of one brand, in a few multi-row upserts: the keys
/// that are fresh. Keys are claimed in the order given (give them in one order, e.g. sorted,
/// so two requests cannot deadlock on PostgreSQL). A key given twice is claimed once; its
/// later occurrences are duplicates, as a second upsert of it would find.
pub async fn claim_capi_dedupe_keys(
    c: &mut AnyConnection,
    brand_id: i64,
    keys: &[CapiDedupeKey<'_>],
    received_epoch: i64,
    expired_at_or_before: i64,
) -> AppResult<std::collections::HashSet<(String, String, String)>> {
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<CapiDedupeKey<'_>> = keys.iter().copied().filter(|k| seen.insert(*k)).collect();
    let mut fresh = std::collections::HashSet::new();
    for chunk in unique.chunks(INTAKE_ROWS_PER_STATEMENT) {
        let mut params = Params::new(c);
        let mut sql = String::from(
            "INSERT INTO capi_dedupe (brand_id, destination, event_name, event_id, received_epoch) VALUES ",
        );
        for i in 0..chunk.len() {
            params.row(&mut sql, 5, i == 0);
        }
        sql.push_str(
            " ON CONFLICT (brand_id, destination, event_name, event_id) DO UPDATE \
             SET received_epoch = excluded.received_epoch \
             WHERE capi_dedupe.received_epoch <= ",
        );
        params.next(&mut sql);
        sql.push_str(" RETURNING destination, event_name, event_id");
        // Built from placeholders alone; every value is bound, in the order written.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (destination, name, id) in chunk {
            q = q
                .bind(brand_id)
                .bind(*destination)
                .bind(*name)
                .bind(*id)
                .bind(received_epoch);
        }
        q = q.bind(expired_at_or_before);
        for row in q.fetch_all(&mut *c).await? {
            fresh.insert((
                row.try_get::<String, _>("destination")?,
                row.try_get::<String, _>("event_name")?,
                row.try_get::<String, _>("event_id")?,
            ));
        }
    }
    Ok(fresh)
}

/// `queue_capi_event` for many events, in a few multi-row inserts, in the order given (ids
/// follow it).
pub async fn queue_capi_events(
    c: &mut AnyConnection,
    events: &[NewCapiEvent<'_>],
) -> AppResult<()> {
    let received_at = now_text();
    for chunk in events.chunks(INTAKE_ROWS_PER_STATEMENT) {
        let mut params = Params::new(c);
        let mut sql = String::from(
            "INSERT INTO capi_events (brand_id, destination, event_name, event_id, event_time, payload, test_event_code, received_epoch, received_at, status) VALUES ",
        );
        for i in 0..chunk.len() {
            params.row(&mut sql, 9, i == 0);
            // The row's last value, after its placeholders.
            sql.insert_str(sql.len() - 1, ", 'QUEUED'");
        }
        // Built from placeholders alone; every value is bound, in the order written.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in chunk {
            q = q
                .bind(e.brand_id)
                .bind(e.destination)
                .bind(e.event_name)
                .bind(e.event_id)
                .bind(e.event_time)
                .bind(e.payload)
                .bind(e.test_event_code)
                .bind(e.received_epoch)
                .bind(received_at.as_str());
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

/// An event to queue for one destination, already shaped for it.
pub struct NewCapiEvent<'a> {
    pub brand_id: i64,
    pub destination: &'a str,
    pub event_name: &'a str,
    pub event_id: &'a str,
    pub event_time: i64,
    /// The JSON the destination receives.
    pub payload: &'a str,
    pub test_event_code: Option<&'a str>,
    pub received_epoch: i64,
}

/// Queue an event for delivery (status QUEUED).
pub async fn queue_capi_event(c: &mut AnyConnection, e: &NewCapiEvent<'_>) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO capi_events (brand_id, destination, event_name, event_id, event_time, payload, test_event_code, status, received_at, received_epoch) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'QUEUED', $8, $9)",
    )
    .bind(e.brand_id)
    .bind(e.destination)
    .bind(e.event_name)
    .bind(e.event_id)
    .bind(e.event_time)
    .bind(e.payload)
    .bind(e.test_event_code)
    .bind(now_text())
    .bind(e.received_epoch)
    .execute(c)
    .await?;
    Ok(())
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
