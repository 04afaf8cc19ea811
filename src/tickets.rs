//! The one writer of tickets. Every change to a ticket (created, edited, renamed, QA'd, moved
//! through the state machine, an external id written back) is made here, inside the caller's
//! write transaction, and every change of status, payload or name leaves its history row in
//! that same transaction (a creation writes both in one round trip, which needs no transaction
//! of its own: `Db::begin_write_one`). Resource subscribers are notified from that history
//! (`mcp::subscriptions`), so a change made here by any process is seen; nothing else in the
//! crate updates the `tickets` table.

use sqlx::AnyConnection;

use crate::domain::{Ticket, TicketStatus};
use crate::error::{AppError, AppResult};
use crate::store::{self, Inserted, NewTicket};

/// Insert DRAFT tickets, each with its CREATED history row, in one round trip (so it needs
/// no transaction of its own: `Db::begin_write_one`, which it must be made through), at most
/// `store::MAX_TICKETS_PER_INSERT` at a time: see [`store::insert_tickets`].
pub async fn create(c: &mut AnyConnection, news: &[NewTicket<'_>]) -> AppResult<Inserted> {
    store::insert_tickets(c, news).await
}

/// [`create`] for one ticket: its id and creation time, `None` (nothing written) when its
/// campaign or channel is no longer as its `parents` say, or the database's refusal.
pub async fn create_one(
    c: &mut AnyConnection,
    new: NewTicket<'_>,
) -> AppResult<Option<(i64, String)>> {
    match create(c, &[new]).await? {
        Inserted::Written(ids, at) => Ok(ids.into_iter().next().flatten().map(|id| (id, at))),
        Inserted::Refused(e) => Err(e),
    }
}

/// Move a ticket from `from` to `to` through the state machine and record why. Returns false
/// (and writes nothing) when the ticket is no longer in `from`: another writer moved it first.
pub async fn transition(
    c: &mut AnyConnection,
    ticket_id: i64,
    from: TicketStatus,
    to: TicketStatus,
    event: &str,
    actor: &str,
    detail: Option<&str>,
) -> AppResult<bool> {
    from.check_transition(to)?;
    if !store::set_ticket_status(c, ticket_id, from, to).await? {
        return Ok(false);
    }
    store::append_history(c, ticket_id, event, Some(from), to, actor, detail).await?;
    Ok(true)
}

/// What an edit of a whole ticket is, for its history row.
pub struct Edit<'a> {
    pub event: &'a str,
    pub actor: &'a str,
    pub detail: Option<&'a str>,
}

/// Write an edited ticket (payload, channel, request type, name, QA report, status) if it is
/// still at `read_version` and the status change, if any, is one the state machine allows.
/// `stored` is the status it had when read. Returns false when another writer changed it first.
pub async fn save(
    c: &mut AnyConnection,
    t: &Ticket,
    stored: TicketStatus,
    read_version: i64,
    edit: &Edit<'_>,
) -> AppResult<bool> {
    if stored != t.status {
        stored.check_transition(t.status)?;
    }
    if !store::update_ticket_row(c, t, read_version).await? {
        return Ok(false);
    }
    store::append_history(
        c,
        t.id,
        edit.event,
        Some(stored),
        t.status,
        edit.actor,
        edit.detail,
    )
    .await?;
    Ok(true)
}

/// The same, for callers that treat a concurrent change as a conflict to report.
pub async fn save_or_conflict(
    c: &mut AnyConnection,
    t: &Ticket,
    stored: TicketStatus,
    read_version: i64,
    edit: &Edit<'_>,
    message: &str,
) -> AppResult<()> {
    if save(c, t, stored, read_version, edit).await? {
        Ok(())
    } else {
        Err(AppError::conflict(Some("ticket_id"), message))
    }
}

/// A history row without a change (a note from healing, say), at the ticket's status.
pub async fn note(
    c: &mut AnyConnection,
    ticket_id: i64,
    status: TicketStatus,
    event: &str,
    actor: &str,
    detail: &str,
) -> AppResult<()> {
    store::append_history(
        c,
        ticket_id,
        event,
        Some(status),
        status,
        actor,
        Some(detail),
    )
    .await
}

/// Write back the platform id of one object the moment it exists, so a retry resumes there.
pub async fn put_external_id(
    c: &mut AnyConnection,
    ticket_id: i64,
    object: &str,
    external_id: &str,
) -> AppResult<()> {
    store::put_external_id(c, ticket_id, object, external_id).await
}

/// Take a deploy run for `worker` and move its ticket from QUEUED to DEPLOYING with its
/// history row, in one round trip (`Db::begin_write_one`): see
/// [`store::claim_run_and_start`]. `None`, nothing written, when the run is not to be taken.
pub async fn claim_deploy_run(
    c: &mut AnyConnection,
    run_id: i64,
    worker: &str,
    lease_until: &str,
) -> AppResult<Option<store::DeployRun>> {
    store::claim_run_and_start(c, run_id, worker, lease_until).await
}

/// Before a deploy's request leaves: end the previous attempt (its object's id written back
/// into the ticket, as [`put_external_id`] does) and open this one, in one round trip
/// (`Db::begin_write_one`): see [`store::close_and_open_attempt`]. `None` when the run is no
/// longer the worker's (the previous attempt is ended all the same).
pub async fn close_and_open_attempt(
    c: &mut AnyConnection,
    end: Option<&store::AttemptEnd<'_>>,
    next: &store::NewAttempt<'_>,
) -> AppResult<Option<i64>> {
    store::close_and_open_attempt(c, end, next).await
}

/// A deploy's retry within its take-up: end the previous attempt (as in
/// [`close_and_open_attempt`]), count the retry on its run and note it in the ticket's
/// history (`DEPLOY_RETRY`, the ticket staying DEPLOYING), in one round trip
/// (`Db::begin_write_one`): see [`store::close_and_retry_in_place`]. False, with only the
/// attempt's end written, when the run is no longer the worker's.
pub async fn close_and_retry_in_place(
    c: &mut AnyConnection,
    end: Option<&store::AttemptEnd<'_>>,
    retry: &store::RetryInPlace<'_>,
) -> AppResult<bool> {
    store::close_and_retry_in_place(c, end, retry).await
}

/// A deploy's success: end the last attempt (its object's id into the ticket), release the
/// run SUCCEEDED and move the ticket from DEPLOYING to TRAFFICKED_SUCCESS with its history row
/// (`DEPLOYED`), in one round trip (`Db::begin_write_one`): see
/// [`store::close_and_finish_run`]. False, with only the attempt's end written, when the run
/// is no longer the worker's.
pub async fn close_and_finish_deploy(
    c: &mut AnyConnection,
    end: Option<&store::AttemptEnd<'_>>,
    run_id: i64,
    ticket_id: i64,
    worker: &str,
    detail: &str,
) -> AppResult<bool> {
    store::close_and_finish_run(c, end, run_id, ticket_id, worker, detail).await
}

/// Record what the platform last reported of the ticket's live objects. Not a change of the
/// ticket itself, so no history row and no version bump.
pub async fn record_live_state(
    c: &mut AnyConnection,
    ticket_id: i64,
    state: &serde_json::Value,
) -> AppResult<()> {
    store::set_live_state(c, ticket_id, state).await
}
