//! SQL for the Conversions API relay's retention. Events hold the client IP and user agent in
//! clear, so finished ones are deleted after a while; dedupe keys are deleted once they can no
//! longer match; batches once no event points at them. Each call deletes at most `limit`
//! rows, so a caller can keep every write transaction short.

use sqlx::AnyConnection;

use crate::error::AppResult;

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
