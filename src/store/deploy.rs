//! SQL for deploy runs (one per deploy of a ticket, with its lease) and deploy attempts
//! (every request sent to a platform, written before it leaves). Also the counts behind
//! `/metrics`, which read from the pool (no transaction).

use schemars::JsonSchema;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Db, GroupCount, group_counts, is_unique_violation};
use crate::domain::{TicketStatus, now_text};
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DeployRun {
    pub id: i64,
    pub ticket_id: i64,
    /// QUEUED, RUNNING, WAITING (a retry is scheduled), SUCCEEDED, FAILED or CANCELLED.
    pub state: String,
    /// Attempts so far: each take-up by a worker, and each retry a worker made in place.
    pub attempts: i64,
    /// When the next try is due (QUEUED and WAITING).
    pub next_attempt_at: Option<String>,
    /// The worker holding it while RUNNING.
    pub lease_owner: Option<String>,
    pub lease_until: Option<String>,
    /// The last platform error, parsed (platform, class, code, subcode, message, field, trace id).
    pub last_error: Option<serde_json::Value>,
    pub requested_by: String,
    pub created_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
}

fn run_from_row(r: &AnyRow) -> AppResult<DeployRun> {
    let err: Option<String> = r.try_get("last_error")?;
    Ok(DeployRun {
        id: r.try_get("id")?,
        ticket_id: r.try_get("ticket_id")?,
        state: r.try_get("state")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        lease_owner: r.try_get("lease_owner")?,
        lease_until: r.try_get("lease_until")?,
        last_error: err.and_then(|e| serde_json::from_str(&e).ok()),
        requested_by: r.try_get("requested_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

/// Create a QUEUED run; refused when the ticket already has an unfinished one.
pub async fn insert_run(
    c: &mut AnyConnection,
    ticket_id: i64,
    requested_by: &str,
) -> AppResult<i64> {
    let now = now_text();
    let row = sqlx::query(
        "INSERT INTO deploy_runs (ticket_id, state, attempts, next_attempt_at, requested_by, created_at, updated_at) \
         VALUES ($1, 'QUEUED', 0, $2, $3, $2, $2) RETURNING id",
    )
    .bind(ticket_id)
    .bind(&now)
    .bind(requested_by)
    .fetch_one(c)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            AppError::conflict(
                Some("ticket_id"),
                format!("ticket {ticket_id} already has a deploy in progress; see get_deploy_status"),
            )
        } else {
            e.into()
        }
    })?;
    Ok(row.try_get("id")?)
}

pub async fn get_run(c: &mut AnyConnection, id: i64) -> AppResult<Option<DeployRun>> {
    let row = sqlx::query("SELECT * FROM deploy_runs WHERE id = $1")
        .bind(id)
        .fetch_optional(c)
        .await?;
    row.as_ref().map(run_from_row).transpose()
}

pub async fn latest_run(c: &mut AnyConnection, ticket_id: i64) -> AppResult<Option<DeployRun>> {
    let row =
        sqlx::query("SELECT * FROM deploy_runs WHERE ticket_id = $1 ORDER BY id DESC LIMIT 1")
            .bind(ticket_id)
            .fetch_optional(c)
            .await?;
    row.as_ref().map(run_from_row).transpose()
}

/// Take a run for `worker` until `lease_until`, counting one attempt: it must be QUEUED or
/// WAITING and due, or RUNNING under an expired lease (its worker died). Then move its
/// ticket from QUEUED to DEPLOYING with its history row (`DEPLOY_STARTED`; a resumed run
/// finds the ticket DEPLOYING already and leaves it). The run as claimed, or `None` and
/// nothing written when someone else has it or it is finished. One round trip, so it must be made
/// through `Db::begin_write_one`.
/// - SQLite: one query inside the savepoint `ot_one`, each statement after the claim
///   writing only if the one before it did (`changes()`).
/// - PostgreSQL: one statement of data-modifying `WITH`s.
pub async fn claim_run_and_start(
    c: &mut AnyConnection,
    id: i64,
    worker: &str,
    lease_until: &str,
) -> AppResult<Option<DeployRun>> {
    // The claim itself, the same on both: parameters worker, lease end, now, run.
    macro_rules! claim {
        () => {
            "UPDATE deploy_runs SET state = 'RUNNING', lease_owner = $1, lease_until = $2, \
             attempts = attempts + 1, updated_at = $3 \
             WHERE id = $4 AND ((state IN ('QUEUED', 'WAITING') AND (next_attempt_at IS NULL OR next_attempt_at <= $3)) \
             OR (state = 'RUNNING' AND lease_until < $3)) RETURNING *"
        };
    }
    const SQLITE: &str = concat!(
        "SAVEPOINT ot_one; ",
        claim!(),
        "; UPDATE tickets SET status = 'DEPLOYING', version = version + 1, updated_at = $3 \
         WHERE changes() = 1 AND id = (SELECT ticket_id FROM deploy_runs WHERE id = $4) AND status = 'QUEUED'; \
         INSERT INTO ticket_history (ticket_id, event, from_status, to_status, actor, detail, at) \
         SELECT ticket_id, 'DEPLOY_STARTED', 'QUEUED', 'DEPLOYING', $1, \
         'deploy run ' || id || ', attempt ' || attempts || ' by ' || $1, $3 \
         FROM deploy_runs WHERE id = $4 AND changes() = 1; \
         RELEASE ot_one"
    );
    const POSTGRES: &str = concat!(
        "WITH run AS (",
        claim!(),
        "), started AS (UPDATE tickets SET status = 'DEPLOYING', version = version + 1, updated_at = $3 \
         WHERE id = (SELECT ticket_id FROM run) AND status = 'QUEUED' RETURNING id), \
         noted AS (INSERT INTO ticket_history (ticket_id, event, from_status, to_status, actor, detail, at) \
         SELECT started.id, 'DEPLOY_STARTED', 'QUEUED', 'DEPLOYING', $1, \
         'deploy run ' || run.id || ', attempt ' || run.attempts || ' by ' || $1, $3 \
         FROM started, run) \
         SELECT * FROM run"
    );
    TicketStatus::Queued.check_transition(TicketStatus::Deploying)?;
    let sql = dialect(c, SQLITE, POSTGRES);
    let rows = sqlx::query(sql)
        .bind(worker)
        .bind(lease_until)
        .bind(now_text())
        .bind(id)
        // `fetch_all`: see `insert_tickets`.
        .fetch_all(c)
        .await?;
    rows.first().map(run_from_row).transpose()
}

/// Extend the lease; false when it was lost (expired and taken, or the run ended).
pub async fn renew_lease(
    c: &mut AnyConnection,
    id: i64,
    worker: &str,
    lease_until: &str,
) -> AppResult<bool> {
    let r = sqlx::query(
        "UPDATE deploy_runs SET lease_until = $1 WHERE id = $2 AND state = 'RUNNING' AND lease_owner = $3",
    )
    .bind(lease_until)
    .bind(id)
    .bind(worker)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// End or park a run held by `worker`: SUCCEEDED, FAILED, or WAITING until `next_attempt_at`.
pub async fn release_run(
    c: &mut AnyConnection,
    id: i64,
    worker: &str,
    state: &str,
    next_attempt_at: Option<&str>,
    last_error: Option<&serde_json::Value>,
) -> AppResult<bool> {
    let now = now_text();
    let finished = matches!(state, "SUCCEEDED" | "FAILED").then(|| now.clone());
    let r = sqlx::query(
        "UPDATE deploy_runs SET state = $1, next_attempt_at = $2, last_error = COALESCE($3, last_error), \
         lease_owner = NULL, lease_until = NULL, updated_at = $4, finished_at = $5 \
         WHERE id = $6 AND state = 'RUNNING' AND lease_owner = $7",
    )
    .bind(state)
    .bind(next_attempt_at)
    .bind(last_error.map(|e| e.to_string()))
    .bind(&now)
    .bind(finished)
    .bind(id)
    .bind(worker)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// That `worker` retries its run itself at `next_attempt_at`, keeping the lease: one more
/// attempt counted, the error kept, and `detail` in the ticket's history
/// ([`close_and_retry_in_place`]).
pub struct RetryInPlace<'a> {
    pub run_id: i64,
    pub ticket_id: i64,
    pub worker: &'a str,
    pub next_attempt_at: &'a str,
    pub last_error: &'a serde_json::Value,
    pub detail: &'a str,
}

/// Take back the count of a retry planned in place that was not made (the worker is
/// shutting down): the next take-up counts it.
pub async fn uncount_attempt(c: &mut AnyConnection, id: i64) -> AppResult<()> {
    sqlx::query("UPDATE deploy_runs SET attempts = attempts - 1 WHERE id = $1 AND attempts > 0")
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

/// Cancel a run no worker holds. Returns false when it is running or finished.
pub async fn cancel_run(c: &mut AnyConnection, id: i64) -> AppResult<bool> {
    let now = now_text();
    let r = sqlx::query(
        "UPDATE deploy_runs SET state = 'CANCELLED', lease_owner = NULL, lease_until = NULL, \
         updated_at = $1, finished_at = $1 WHERE id = $2 AND state IN ('QUEUED', 'WAITING')",
    )
    .bind(&now)
    .bind(id)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Runs whose worker vanished (RUNNING, lease expired) or whose queue job may be lost
/// (QUEUED/WAITING and overdue since before `overdue_before`).
pub async fn orphaned_runs(
    c: &mut AnyConnection,
    overdue_before: &str,
) -> AppResult<Vec<(i64, i64)>> {
    let rows = sqlx::query(
        "SELECT id, ticket_id FROM deploy_runs WHERE (state = 'RUNNING' AND lease_until < $1) \
         OR (state IN ('QUEUED', 'WAITING') AND next_attempt_at < $2) ORDER BY id LIMIT 500",
    )
    .bind(now_text())
    .bind(overdue_before)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("ticket_id")?)))
        .collect()
}

/// Note that a waiting run was queued again now, so the sweep leaves it alone for a while.
pub async fn touch_waiting_run(c: &mut AnyConnection, id: i64) -> AppResult<()> {
    sqlx::query(
        "UPDATE deploy_runs SET next_attempt_at = $1 WHERE id = $2 AND state IN ('QUEUED', 'WAITING') \
         AND next_attempt_at < $1",
    )
    .bind(now_text())
    .bind(id)
    .execute(c)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DeployAttempt {
    pub id: i64,
    pub run_id: i64,
    /// Which take-up of the run it belongs to (1 = first).
    pub attempt: i64,
    /// campaign, adset, ad, ... (the platform object).
    pub object: String,
    /// CREATE, LOOKUP (searching for an object a lost answer may have created) or VALIDATE.
    pub action: String,
    /// IN_FLIGHT, CREATED, FOUND, NOT_FOUND, RATE_LIMITED, TRANSIENT, UNKNOWN (sent, no
    /// answer), PERMANENT.
    pub outcome: String,
    pub external_id: Option<String>,
    pub http_status: Option<i64>,
    pub error: Option<serde_json::Value>,
    pub latency_ms: Option<i64>,
    pub worker: String,
    pub started_at: String,
    pub finished_at: Option<String>,
}

fn attempt_from_row(r: &AnyRow) -> AppResult<DeployAttempt> {
    let err: Option<String> = r.try_get("error")?;
    Ok(DeployAttempt {
        id: r.try_get("id")?,
        run_id: r.try_get("run_id")?,
        attempt: r.try_get("attempt")?,
        object: r.try_get("object")?,
        action: r.try_get("action")?,
        outcome: r.try_get("outcome")?,
        external_id: r.try_get("external_id")?,
        http_status: r.try_get("http_status")?,
        error: err.and_then(|e| serde_json::from_str(&e).ok()),
        latency_ms: r.try_get("latency_ms")?,
        worker: r.try_get("worker")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

pub struct NewAttempt<'a> {
    pub run_id: i64,
    pub ticket_id: i64,
    pub attempt: i64,
    pub object: &'a str,
    pub action: &'a str,
    pub worker: &'a str,
}

/// How an attempt ended, written by the next write of its run ([`close_and_open_attempt`],
/// [`close_and_retry_in_place`]).
pub struct AttemptEnd<'a> {
    pub id: i64,
    pub outcome: &'a str,
    pub external_id: Option<&'a str>,
    pub http_status: Option<u16>,
    pub error: Option<&'a serde_json::Value>,
    pub latency_ms: i64,
    /// The object whose id (`external_id`) goes into the ticket's external ids.
    pub object: Option<&'a str>,
}

/// The start of a deploy's write of one round trip (made through `Db::begin_write_one`):
/// the previous attempt's end, if any, and its object's id written into the ticket (as
/// [`put_external_id`] does), whoever holds the lease now. Parameters `$1` to `$11`, bound
/// by [`bind_end`]; what follows numbers its own from `$12`.
/// - SQLite: statements in one query inside the savepoint `ot_one`, which the writer rolls
///   back to if one fails midway; the rest ends with `RELEASE ot_one`.
/// - PostgreSQL: data-modifying `WITH`s of one statement, atomic by itself. The ticket's row
///   is locked by its update, which merges the id into the ids it has then.
macro_rules! end_sqlite {
    () => {
        "SAVEPOINT ot_one; \
         UPDATE deploy_attempts SET outcome = $6, external_id = $7, http_status = $8, error = $9, \
         latency_ms = $10, finished_at = $4 WHERE id = $5; \
         UPDATE tickets SET external_ids = json_patch(external_ids, json_object($11, $7)), \
         version = version + 1, updated_at = $4 WHERE id = $2 AND $11 IS NOT NULL AND $7 IS NOT NULL; "
    };
}
macro_rules! end_postgres {
    () => {
        concat!(
            closed_postgres!(),
            ", ids AS (UPDATE tickets SET external_ids = ",
            merged_ids_postgres!(),
            ", version = version + 1, updated_at = $4 \
             WHERE id = $2 AND $11 IS NOT NULL AND $7 IS NOT NULL RETURNING id) "
        )
    };
}
/// The attempt's end alone (the first `WITH` of [`end_postgres`]), for a statement that
/// changes the ticket's row itself: one statement must not update a row twice.
macro_rules! closed_postgres {
    () => {
        "WITH closed AS (UPDATE deploy_attempts SET outcome = $6, external_id = $7, \
         http_status = $8, error = $9, latency_ms = $10, finished_at = $4 WHERE id = $5 RETURNING id)"
    };
}
/// The ticket's external ids with the attempt's object id merged in.
macro_rules! merged_ids_postgres {
    () => {
        "CAST(CAST(external_ids AS JSONB) || jsonb_build_object($11, $7) AS TEXT)"
    };
}

/// The statement for the connection's database.
fn dialect(c: &AnyConnection, sqlite: &'static str, postgres: &'static str) -> &'static str {
    if super::is_postgres(c) {
        postgres
    } else {
        sqlite
    }
}

/// Open the next attempt (outcome IN_FLIGHT) only while `$3` holds the run's lease:
/// parameters as [`bind_end`]'s, then `$12` to `$14` (attempt, object, action).
macro_rules! open_attempt {
    () => {
        "INSERT INTO deploy_attempts (run_id, ticket_id, attempt, object, action, \
         outcome, worker, started_at) SELECT $1, $2, $12, $13, $14, 'IN_FLIGHT', $3, $4 \
         WHERE EXISTS (SELECT 1 FROM deploy_runs WHERE id = $1 AND state = 'RUNNING' \
         AND lease_owner = $3 AND lease_until > $4) RETURNING id"
    };
}

type IdQuery<'q> = sqlx::query::QueryAs<'q, sqlx::Any, (i64,), sqlx::any::AnyArguments>;

/// Bind `$1` to `$11` of [`end_sqlite`]/[`end_postgres`]: the run, its ticket, the worker,
/// now, and the attempt's end (all null without one).
fn bind_end<'q>(
    sql: &'static str,
    run_id: i64,
    ticket_id: i64,
    worker: &'q str,
    end: Option<&AttemptEnd<'q>>,
) -> IdQuery<'q> {
    // The id goes into the ticket only with its object (a failure has neither).
    let object = end.and_then(|e| e.external_id.and(e.object));
    sqlx::query_as::<_, (i64,)>(sql)
        .bind(run_id)
        .bind(ticket_id)
        .bind(worker)
        .bind(now_text())
        .bind(end.map(|e| e.id))
        .bind(end.map(|e| e.outcome))
        .bind(end.and_then(|e| e.external_id))
        .bind(end.and_then(|e| e.http_status).map(i64::from))
        .bind(end.and_then(|e| e.error).map(|e| e.to_string()))
        .bind(end.map(|e| e.latency_ms))
        .bind(object)
}

/// The previous attempt's end, if any (see [`end_sqlite`]), then record that the next
/// request is about to leave (outcome IN_FLIGHT) if `a.worker` still holds the run's lease:
/// its id, else `None` and no attempt opened. One round trip, so it must be made through
/// `Db::begin_write_one`. This is the write before every request a deploy sends.
pub async fn close_and_open_attempt(
    c: &mut AnyConnection,
    end: Option<&AttemptEnd<'_>>,
    a: &NewAttempt<'_>,
) -> AppResult<Option<i64>> {
    const SQLITE: &str = concat!(end_sqlite!(), open_attempt!(), "; RELEASE ot_one");
    const POSTGRES: &str = concat!(end_postgres!(), open_attempt!());
    let sql = dialect(c, SQLITE, POSTGRES);
    let rows = bind_end(sql, a.run_id, a.ticket_id, a.worker, end)
        .bind(a.attempt)
        .bind(a.object)
        .bind(a.action)
        // `fetch_all`: sqlx's Any driver on SQLite stops after the first statement's
        // outcome with `fetch_optional` (see `insert_tickets`).
        .fetch_all(c)
        .await?;
    Ok(rows.first().map(|(id,)| *id))
}

/// The previous attempt's end, if any (see [`end_sqlite`]), then what a
/// [`RetryInPlace`] records, with the ticket's history row for it (`DEPLOY_RETRY`, `detail`, the ticket
/// staying DEPLOYING): false, and neither written, when the lease was lost. One round trip,
/// so it must be made through `Db::begin_write_one`.
pub async fn close_and_retry_in_place(
    c: &mut AnyConnection,
    end: Option<&AttemptEnd<'_>>,
    r: &RetryInPlace<'_>,
) -> AppResult<bool> {
    // The retry counted on the run, while `$3` holds its lease.
    macro_rules! retry {
        () => {
            "UPDATE deploy_runs SET attempts = attempts + 1, next_attempt_at = $12, \
             last_error = $13, updated_at = $4 WHERE id = $1 AND state = 'RUNNING' \
             AND lease_owner = $3 AND lease_until > $4"
        };
    }
    macro_rules! noted {
        () => {
            "INSERT INTO ticket_history (ticket_id, event, from_status, to_status, actor, detail, at) \
             SELECT $2, 'DEPLOY_RETRY', 'DEPLOYING', 'DEPLOYING', $3, $14, $4"
        };
    }
    const SQLITE: &str = concat!(
        end_sqlite!(),
        retry!(),
        "; ",
        noted!(),
        " WHERE changes() = 1 RETURNING id; RELEASE ot_one"
    );
    const POSTGRES: &str = concat!(
        end_postgres!(),
        ", run AS (",
        retry!(),
        " RETURNING id) ",
        noted!(),
        " FROM run RETURNING id"
    );
    let sql = dialect(c, SQLITE, POSTGRES);
    let rows = bind_end(sql, r.run_id, r.ticket_id, r.worker, end)
        .bind(r.next_attempt_at)
        .bind(r.last_error.to_string())
        .bind(r.detail)
        .fetch_all(c)
        .await?;
    Ok(!rows.is_empty())
}

/// The previous attempt's end, if any (the last object's id into the ticket, see
/// [`end_sqlite`]), then the run SUCCEEDED if `worker` still holds it, and its ticket from
/// DEPLOYING to TRAFFICKED_SUCCESS with its history row (`DEPLOYED`, `detail`). False, with
/// only the attempt's end written, when the lease was lost. One round trip, so it must be
/// made through `Db::begin_write_one`.
///
/// On PostgreSQL the ticket's row is changed by one update (its id and its status): one
/// statement must not update a row twice.
pub async fn close_and_finish_run(
    c: &mut AnyConnection,
    end: Option<&AttemptEnd<'_>>,
    run_id: i64,
    ticket_id: i64,
    worker: &str,
    detail: &str,
) -> AppResult<bool> {
    // The run ended, while `$3` holds it.
    macro_rules! succeeded {
        () => {
            "UPDATE deploy_runs SET state = 'SUCCEEDED', next_attempt_at = NULL, lease_owner = NULL, \
             lease_until = NULL, updated_at = $4, finished_at = $4 \
             WHERE id = $1 AND state = 'RUNNING' AND lease_owner = $3 RETURNING id"
        };
    }
    macro_rules! noted {
        () => {
            "INSERT INTO ticket_history (ticket_id, event, from_status, to_status, actor, detail, at) \
             SELECT $2, 'DEPLOYED', 'DEPLOYING', 'TRAFFICKED_SUCCESS', $3, $12, $4"
        };
    }
    const SQLITE: &str = concat!(
        end_sqlite!(),
        succeeded!(),
        "; UPDATE tickets SET status = 'TRAFFICKED_SUCCESS', version = version + 1, updated_at = $4 \
         WHERE changes() = 1 AND id = $2 AND status = 'DEPLOYING'; ",
        noted!(),
        " WHERE changes() = 1; RELEASE ot_one"
    );
    const POSTGRES: &str = concat!(
        closed_postgres!(),
        ", run AS (",
        succeeded!(),
        "), was AS (SELECT status FROM tickets WHERE id = $2), \
         ticket AS (UPDATE tickets SET \
         external_ids = CASE WHEN $11 IS NOT NULL AND $7 IS NOT NULL THEN ",
        merged_ids_postgres!(),
        " ELSE external_ids END, \
         status = CASE WHEN EXISTS (SELECT 1 FROM run) AND status = 'DEPLOYING' \
         THEN 'TRAFFICKED_SUCCESS' ELSE status END, \
         version = version + 1, updated_at = $4 \
         WHERE id = $2 AND (($11 IS NOT NULL AND $7 IS NOT NULL) \
         OR (EXISTS (SELECT 1 FROM run) AND status = 'DEPLOYING')) RETURNING status), \
         noted AS (",
        noted!(),
        " FROM ticket, was WHERE ticket.status = 'TRAFFICKED_SUCCESS' AND was.status = 'DEPLOYING') \
         SELECT id FROM run"
    );
    TicketStatus::Deploying.check_transition(TicketStatus::TraffickedSuccess)?;
    let sql = dialect(c, SQLITE, POSTGRES);
    let rows = bind_end(sql, run_id, ticket_id, worker, end)
        .bind(detail)
        .fetch_all(c)
        .await?;
    Ok(!rows.is_empty())
}

pub async fn close_attempt(
    c: &mut AnyConnection,
    id: i64,
    outcome: &str,
    external_id: Option<&str>,
    http_status: Option<u16>,
    error: Option<&serde_json::Value>,
    latency_ms: i64,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE deploy_attempts SET outcome = $1, external_id = $2, http_status = $3, error = $4, \
         latency_ms = $5, finished_at = $6 WHERE id = $7",
    )
    .bind(outcome)
    .bind(external_id)
    .bind(http_status.map(i64::from))
    .bind(error.map(|e| e.to_string()))
    .bind(latency_ms)
    .bind(now_text())
    .bind(id)
    .execute(c)
    .await?;
    Ok(())
}

/// The ticket's objects an earlier create of which may have reached the platform without us
/// learning the id (still IN_FLIGHT because the worker died, or no answer came back).
pub async fn uncertain_creates(
    c: &mut AnyConnection,
    ticket_id: i64,
) -> AppResult<std::collections::HashSet<String>> {
    let rows = sqlx::query(
        "SELECT DISTINCT object FROM deploy_attempts WHERE ticket_id = $1 AND action = 'CREATE' \
         AND outcome IN ('IN_FLIGHT', 'UNKNOWN')",
    )
    .bind(ticket_id)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>("object").map_err(Into::into))
        .collect()
}

/// Whether any create for this ticket reached (or may have reached) a platform.
pub async fn any_create_sent(c: &mut AnyConnection, ticket_id: i64) -> AppResult<bool> {
    let row = sqlx::query(
        "SELECT 1 AS s FROM deploy_attempts WHERE ticket_id = $1 AND action = 'CREATE' \
         AND outcome IN ('IN_FLIGHT', 'UNKNOWN', 'CREATED') LIMIT 1",
    )
    .bind(ticket_id)
    .fetch_optional(c)
    .await?;
    Ok(row.is_some())
}

pub async fn list_attempts(
    c: &mut AnyConnection,
    ticket_id: i64,
    limit: i64,
) -> AppResult<Vec<DeployAttempt>> {
    let rows =
        sqlx::query("SELECT * FROM deploy_attempts WHERE ticket_id = $1 ORDER BY id DESC LIMIT $2")
            .bind(ticket_id)
            .bind(limit)
            .fetch_all(c)
            .await?;
    let mut v = rows
        .iter()
        .map(attempt_from_row)
        .collect::<AppResult<Vec<_>>>()?;
    v.reverse();
    Ok(v)
}

pub async fn count_attempts(c: &mut AnyConnection, ticket_id: i64) -> AppResult<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM deploy_attempts WHERE ticket_id = $1")
        .bind(ticket_id)
        .fetch_one(c)
        .await?;
    Ok(row.try_get("n")?)
}

/// Set a ticket's status if it is still `from`; false when it is not. Only `tickets` calls
/// this: it checks the state machine and writes the history row.
pub async fn set_ticket_status(
    c: &mut AnyConnection,
    ticket_id: i64,
    from: TicketStatus,
    to: TicketStatus,
) -> AppResult<bool> {
    let r = sqlx::query(
        "UPDATE tickets SET status = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND status = $4",
    )
    .bind(to.as_str())
    .bind(now_text())
    .bind(ticket_id)
    .bind(from.as_str())
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Write one external id into the ticket the moment it exists.
pub async fn put_external_id(
    c: &mut AnyConnection,
    ticket_id: i64,
    object: &str,
    external_id: &str,
) -> AppResult<()> {
    // On PostgreSQL the row is locked until the write: two writers (a worker whose lease
    // lapsed mid-request and the one that took over) must not drop each other's id.
    let sql = if super::is_postgres(c) {
        "SELECT external_ids FROM tickets WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT external_ids FROM tickets WHERE id = $1"
    };
    let row = sqlx::query(sql).bind(ticket_id).fetch_one(&mut *c).await?;
    let text: String = row.try_get("external_ids")?;
    let mut ids: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).unwrap_or_default();
    ids.insert(object.to_owned(), external_id.into());
    sqlx::query(
        "UPDATE tickets SET external_ids = $1, version = version + 1, updated_at = $2 WHERE id = $3",
    )
    .bind(serde_json::Value::Object(ids).to_string())
    .bind(now_text())
    .bind(ticket_id)
    .execute(c)
    .await?;
    Ok(())
}

/// Deploy runs counted by state.
pub async fn deploy_runs_by_state(db: &Db) -> AppResult<Vec<GroupCount>> {
    group_counts(
        db,
        "SELECT state AS k, COUNT(*) AS n FROM deploy_runs GROUP BY state",
    )
    .await
}

/// Platform requests counted by outcome.
pub async fn deploy_attempts_by_outcome(db: &Db) -> AppResult<Vec<GroupCount>> {
    group_counts(
        db,
        "SELECT outcome AS k, COUNT(*) AS n FROM deploy_attempts GROUP BY outcome",
    )
    .await
}
