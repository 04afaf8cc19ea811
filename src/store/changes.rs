//! SQL for changes to live tickets and their audit trail.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::domain::{ChangeKind, ChangeStatus, Risk, now_text};
use crate::error::{AppError, AppResult};

/// A change as stored.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Change {
    pub id: i64,
    pub ticket_id: i64,
    pub kind: ChangeKind,
    pub status: ChangeStatus,
    pub risk: Risk,
    /// The ticket's version when the change was asked for.
    pub ticket_version: i64,
    /// The ticket's payload_config when the change was asked for.
    pub payload_before: Value,
    /// The payload_config the change leads to (the same as before for launch, pause, resume
    /// and end).
    pub payload_after: Value,
    /// Every field that differs: `[{"path", "before", "after"}]`.
    pub diff: Value,
    /// Planned daily spend before and after, in minor units of `currency`.
    pub daily_before_minor: Option<i64>,
    pub daily_after_minor: Option<i64>,
    pub currency: String,
    /// QA of the new spec (edits).
    pub qa_report: Option<Value>,
    pub reason: String,
    /// The change this one undoes.
    pub rollback_of: Option<i64>,
    /// Per object: what the last application did (`WRITTEN`, `ALREADY_HELD`, `FAILED`, `NOT_REACHED`).
    pub results: Value,
    /// Application attempts so far.
    pub attempts: i64,
    /// The last platform error (or why nothing was sent), if any.
    pub last_error: Option<Value>,
    pub requested_by: String,
    pub decided_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip)]
    pub token_hash: Option<String>,
    #[serde(skip)]
    pub token_expires_at: Option<String>,
    #[serde(skip)]
    pub next_attempt_at: Option<String>,
}

fn json(r: &AnyRow, col: &str) -> AppResult<Value> {
    let t: Option<String> = r.try_get(col)?;
    Ok(t.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null))
}

fn from_row(r: &AnyRow) -> AppResult<Change> {
    Ok(Change {
        id: r.try_get("id")?,
        ticket_id: r.try_get("ticket_id")?,
        kind: ChangeKind::parse("kind", &r.try_get::<String, _>("kind")?)?,
        status: ChangeStatus::parse("status", &r.try_get::<String, _>("status")?)?,
        // An unknown stored class reads as the highest, so it can never pass as SAFE.
        risk: Risk::parse("risk", &r.try_get::<String, _>("risk")?).unwrap_or(Risk::SpendIncrease),
        ticket_version: r.try_get("ticket_version")?,
        payload_before: json(r, "payload_before")?,
        payload_after: json(r, "payload_after")?,
        diff: json(r, "diff")?,
        daily_before_minor: r.try_get("daily_before_minor")?,
        daily_after_minor: r.try_get("daily_after_minor")?,
        currency: r.try_get("currency")?,
        qa_report: Some(json(r, "qa_report")?).filter(|v| !v.is_null()),
        reason: r.try_get("reason")?,
        rollback_of: r.try_get("rollback_of")?,
        results: json(r, "results")?,
        attempts: r.try_get("attempts")?,
        last_error: Some(json(r, "last_error")?).filter(|v| !v.is_null()),
        requested_by: r.try_get("requested_by")?,
        decided_by: r.try_get("decided_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        token_hash: r.try_get("token_hash")?,
        token_expires_at: r.try_get("token_expires_at")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
    })
}

pub struct NewChange<'a> {
    pub ticket_id: i64,
    pub kind: ChangeKind,
    pub status: ChangeStatus,
    pub risk: Risk,
    pub ticket_version: i64,
    pub payload_before: &'a Value,
    pub payload_after: &'a Value,
    pub diff: &'a Value,
    pub daily_before_minor: Option<i64>,
    pub daily_after_minor: Option<i64>,
    pub currency: &'a str,
    pub qa_report: Option<&'a Value>,
    pub reason: &'a str,
    pub rollback_of: Option<i64>,
    pub token_hash: Option<&'a str>,
    pub token_expires_at: Option<&'a str>,
    pub requested_by: &'a str,
}

pub async fn insert_change(c: &mut AnyConnection, n: &NewChange<'_>) -> AppResult<i64> {
    let now = now_text();
    let row = sqlx::query(
        "INSERT INTO ticket_changes (ticket_id, kind, status, risk, ticket_version, payload_before, \
         payload_after, diff, daily_before_minor, daily_after_minor, currency, qa_report, reason, \
         rollback_of, token_hash, token_expires_at, requested_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18) \
         RETURNING id",
    )
    .bind(n.ticket_id)
    .bind(n.kind.as_str())
    .bind(n.status.as_str())
    .bind(n.risk.as_str())
    .bind(n.ticket_version)
    .bind(n.payload_before.to_string())
    .bind(n.payload_after.to_string())
    .bind(n.diff.to_string())
    .bind(n.daily_before_minor)
    .bind(n.daily_after_minor)
    .bind(n.currency)
    .bind(n.qa_report.map(|q| q.to_string()))
    .bind(n.reason)
    .bind(n.rollback_of)
    .bind(n.token_hash)
    .bind(n.token_expires_at)
    .bind(n.requested_by)
    .bind(&now)
    .fetch_one(c)
    .await
    .map_err(|e| {
        if super::is_unique_violation(&e) {
            AppError::conflict(
                Some("ticket_id"),
                format!(
                    "ticket {} already has a change in progress (another request won the race); see list_changes",
                    n.ticket_id
                ),
            )
        } else {
            e.into()
        }
    })?;
    Ok(row.try_get("id")?)
}

pub async fn get_change(c: &mut AnyConnection, id: i64) -> AppResult<Option<Change>> {
    let row = sqlx::query("SELECT * FROM ticket_changes WHERE id = $1")
        .bind(id)
        .fetch_optional(c)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Changes, newest first, optionally by status and ticket, within the brands given.
pub async fn list_changes(
    c: &mut AnyConnection,
    status: Option<ChangeStatus>,
    ticket_id: Option<i64>,
    before_id: Option<i64>,
    limit: i64,
    brands: Option<&[String]>,
) -> AppResult<Vec<Change>> {
    let page = super::healing::ReviewPage {
        status: status.map(ChangeStatus::as_str),
        ticket_id,
        before_id,
        limit,
        brands,
    };
    page.fetch(c, "ticket_changes", from_row).await
}

/// The ticket's change still in progress (waiting for a person or a worker), if any.
pub async fn open_change_of(c: &mut AnyConnection, ticket_id: i64) -> AppResult<Option<Change>> {
    let row = sqlx::query(
        "SELECT * FROM ticket_changes WHERE ticket_id = $1 AND status IN \
         ('NEEDS_CONFIRMATION', 'PENDING_REVIEW', 'QUEUED', 'APPLYING') ORDER BY id LIMIT 1",
    )
    .bind(ticket_id)
    .fetch_optional(c)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Move a change from one status to another, recording who decided; false when it was not
/// in `from` (another writer moved it first).
pub async fn move_change(
    c: &mut AnyConnection,
    id: i64,
    from: ChangeStatus,
    to: ChangeStatus,
    decided_by: Option<&str>,
) -> AppResult<bool> {
    let r = sqlx::query(
        "UPDATE ticket_changes SET status = $1, updated_at = $2, decided_by = COALESCE($3, decided_by), \
         token_hash = CASE WHEN $1 = 'NEEDS_CONFIRMATION' THEN token_hash ELSE NULL END \
         WHERE id = $4 AND status = $5",
    )
    .bind(to.as_str())
    .bind(now_text())
    .bind(decided_by)
    .bind(id)
    .bind(from.as_str())
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Record an application attempt's outcome: per-object results, the error if any, and when
/// to try again.
pub async fn record_attempt(
    c: &mut AnyConnection,
    id: i64,
    results: &Value,
    last_error: Option<&Value>,
    next_attempt_at: Option<&str>,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE ticket_changes SET results = $1, last_error = $2, next_attempt_at = $3, \
         attempts = attempts + 1, updated_at = $4 WHERE id = $5",
    )
    .bind(results.to_string())
    .bind(last_error.map(|e| e.to_string()))
    .bind(next_attempt_at)
    .bind(now_text())
    .bind(id)
    .execute(c)
    .await?;
    Ok(())
}

/// Changes a worker should be applying but whose job went missing or whose worker died.
pub async fn stalled_changes(c: &mut AnyConnection, updated_before: &str) -> AppResult<Vec<i64>> {
    let rows = sqlx::query(
        "SELECT id FROM ticket_changes WHERE status IN ('QUEUED', 'APPLYING') AND updated_at < $1 \
         AND (next_attempt_at IS NULL OR next_attempt_at < $1) ORDER BY id LIMIT 100",
    )
    .bind(updated_before)
    .fetch_all(c)
    .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?)
}

/// Take over an APPLYING change whose worker stopped renewing it (`updated_at` still `seen`
/// and older than `stale_before`); false when its worker is alive or another took it first.
pub async fn claim_stale_change(
    c: &mut AnyConnection,
    id: i64,
    seen: &str,
    stale_before: &str,
) -> AppResult<bool> {
    let r = sqlx::query(
        "UPDATE ticket_changes SET updated_at = $1 WHERE id = $2 AND status = 'APPLYING' \
         AND updated_at = $3 AND updated_at < $4",
    )
    .bind(now_text())
    .bind(id)
    .bind(seen)
    .bind(stale_before)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Renew a worker's claim on an APPLYING change (and keep the sweep away).
pub async fn touch_change(c: &mut AnyConnection, id: i64) -> AppResult<()> {
    sqlx::query("UPDATE ticket_changes SET updated_at = $1 WHERE id = $2")
        .bind(now_text())
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}
