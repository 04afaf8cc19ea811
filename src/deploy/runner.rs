//! One worker's handling of one deploy run: take the lease, create the platform objects in
//! order, write each id back the moment it exists, and end in success, a scheduled retry or
//! a failure. Safe to run twice: a resumed run skips stored ids and looks up any object
//! whose create may have been applied without an answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::DeploySettings;
use crate::domain::{Channel, Platform, TicketContext, TicketStatus};
use crate::error::{AppError, AppResult};
use crate::governance::Governance;
use crate::platforms::ApiVersions;
use crate::platforms::client::{ErrorClass, PlatformClients, PlatformError, fill_placeholders};
use crate::store::{self, Db, NewAttempt};

/// What became of a run after one take-up.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    /// Every object exists; the ticket is TRAFFICKED_SUCCESS.
    Succeeded,
    /// A permanent error, or retries ran out; the ticket is DEPLOY_FAILED.
    Failed,
    /// A retry is scheduled after this delay; the ticket is back in QUEUED.
    RetryIn(Duration),
    /// Nothing to do: another worker holds it, it is not due yet, or it already ended.
    Skipped,
    /// The lease was lost mid-run (this worker was too slow); the new holder carries on.
    LeaseLost,
}

#[derive(Clone)]
pub struct Deployer {
    db: Db,
    governance: Governance,
    clients: PlatformClients,
    versions: ApiVersions,
    settings: DeploySettings,
    worker: String,
    assets: Option<crate::assets::AssetService>,
    /// Cancelled when this process's workers drain for shutdown: a retry is then handed back
    /// to the queue instead of waited for here.
    stopping: tokio_util::sync::CancellationToken,
}

fn to_json(e: &PlatformError) -> Value {
    serde_json::to_value(e).unwrap_or(Value::Null)
}

/// The close of an attempt whose answer is in, not written yet: it goes into the run's next
/// write transaction (the next attempt's opening, a retry, or the run's end), so a request
/// costs one commit instead of two. Only CPU work happens in between; a worker that dies
/// there leaves the attempt IN_FLIGHT, and the next one looks the object up before creating.
struct Close {
    attempt_id: i64,
    outcome: &'static str,
    external_id: Option<String>,
    http_status: Option<u16>,
    error: Option<Value>,
    ms: i64,
    /// The object whose id goes into the ticket (with `external_id`).
    object: Option<String>,
}

impl Close {
    fn as_end(&self) -> store::AttemptEnd<'_> {
        store::AttemptEnd {
            id: self.attempt_id,
            outcome: self.outcome,
            external_id: self.external_id.as_deref(),
            http_status: self.http_status,
            error: self.error.as_ref(),
            latency_ms: self.ms,
            object: self.object.as_deref(),
        }
    }

    fn answered(
        attempt_id: i64,
        outcome: &'static str,
        external_id: Option<String>,
        http_status: Option<u16>,
        object: &str,
        ms: i64,
    ) -> Self {
        Self {
            attempt_id,
            outcome,
            external_id,
            http_status,
            error: None,
            ms,
            object: Some(object.to_owned()),
        }
    }

    /// An attempt the platform (or the network) failed.
    fn failed(attempt_id: i64, e: &PlatformError, ms: i64) -> Self {
        Self {
            attempt_id,
            outcome: outcome_name(e),
            external_id: None,
            http_status: e.http_status,
            error: Some(to_json(e)),
            ms,
            object: None,
        }
    }
}

/// One take-up of a run: the run as claimed (its attempt count kept current) and the close
/// waiting to be written.
struct Take {
    run: store::DeployRun,
    pending: Option<Close>,
}

fn outcome_name(e: &PlatformError) -> &'static str {
    if e.outcome_unknown {
        return "UNKNOWN";
    }
    match e.class {
        ErrorClass::RateLimited => "RATE_LIMITED",
        ErrorClass::Transient => "TRANSIENT",
        ErrorClass::Permanent => "PERMANENT",
    }
}

/// Why processing stopped early.
enum Stop {
    Platform(PlatformError),
    /// Shutting down during a retry's wait: back to the queue, due after this (the retry
    /// was counted when planned; the count is taken back, as the next take-up counts it).
    HandBack(PlatformError, Duration),
    LeaseLost,
    Internal(AppError),
}

impl From<AppError> for Stop {
    fn from(e: AppError) -> Self {
        Stop::Internal(e)
    }
}

impl Deployer {
    pub fn new(
        db: Db,
        governance: Governance,
        clients: PlatformClients,
        versions: ApiVersions,
        settings: DeploySettings,
        worker: String,
    ) -> Self {
        Self {
            db,
            governance,
            clients,
            versions,
            settings,
            worker,
            assets: None,
            stopping: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// Hand retries back to the queue once `stopping` is cancelled.
    pub fn with_stopping(mut self, stopping: tokio_util::sync::CancellationToken) -> Self {
        self.stopping = stopping;
        self
    }

    /// Upload a ticket's creative assets to its channel before creating its objects.
    pub fn with_assets(mut self, assets: Option<crate::assets::AssetService>) -> Self {
        self.assets = assets;
        self
    }

    pub fn worker_id(&self) -> &str {
        &self.worker
    }

    /// Back-off before take-up `attempt` (1-based): exponential with full jitter in [d/2, d].
    pub fn backoff(&self, attempt: i64) -> Duration {
        let exp = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(20);
        let base = self.settings.backoff_base.as_millis() as u64;
        let d = base
            .saturating_mul(1u64 << exp)
            .min(self.settings.backoff_max.as_millis() as u64)
            .max(1);
        Duration::from_millis(rand::random_range(d / 2..=d))
    }

    /// Handle one delivery of run `run_id`.
    pub async fn process(&self, run_id: i64) -> AppResult<RunOutcome> {
        let lease = self.settings.lease;
        // One round trip (`Db::begin_write_one`), as `open` is.
        let claimed = {
            let mut tx = self.db.begin_write_one().await?;
            let run = crate::tickets::claim_deploy_run(
                &mut tx,
                run_id,
                &self.worker,
                &crate::domain::text_in(lease),
            )
            .await?;
            tx.commit().await?;
            run
        };
        let Some(run) = claimed else {
            return Ok(RunOutcome::Skipped);
        };

        // Keep the lease alive while we work; note if it is lost.
        let lost = Arc::new(AtomicBool::new(false));
        // Stopped between renewals, never in the middle of one: a write cut short (its
        // `COMMIT` under way, say) leaves its connection for the next writer to sort out.
        let stop_heartbeat = tokio_util::sync::CancellationToken::new();
        {
            let db = self.db.clone();
            let worker = self.worker.clone();
            let lost = lost.clone();
            let stop = stop_heartbeat.clone();
            tokio::spawn(async move {
                let every = (lease / 3).max(Duration::from_millis(50));
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(every) => {}
                    }
                    let renewed = async {
                        // One statement (`Db::begin_write_one`).
                        let mut tx = db.begin_write_one().await?;
                        let ok = store::renew_lease(
                            &mut tx,
                            run_id,
                            &worker,
                            &crate::domain::text_in(lease),
                        )
                        .await?;
                        tx.commit().await?;
                        AppResult::Ok(ok)
                    }
                    .await;
                    match renewed {
                        Ok(true) => {}
                        Ok(false) => {
                            lost.store(true, Ordering::SeqCst);
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(run_id, error = %e, "could not renew the deploy lease")
                        }
                    }
                }
            });
        }
        // Stopped with this future too (a cancelled job must not keep renewing a lease).
        let heartbeat = stop_heartbeat.drop_guard();
        let mut take = Take { run, pending: None };
        let result = self.create_objects(&mut take, &lost).await;
        drop(heartbeat);

        match result {
            Ok(()) => self.finish_success(&mut take).await,
            Err(Stop::LeaseLost) => {
                self.flush(&mut take).await?;
                Ok(RunOutcome::LeaseLost)
            }
            Err(Stop::Platform(e)) => self.after_error(&mut take, e, None).await,
            Err(Stop::HandBack(e, delay)) => self.after_error(&mut take, e, Some(delay)).await,
            Err(Stop::Internal(e)) => {
                // Our own failure (database, bad stored data): retry like a transient error.
                let run_id = take.run.id;
                tracing::error!(run_id, error = %e, "deploy run failed internally");
                let platform = match self.governance.ticket_context(take.run.ticket_id).await {
                    Ok(ctx) => ctx.channel.platform,
                    Err(_) => Platform::Meta,
                };
                let pe = PlatformError {
                    class: ErrorClass::Transient,
                    message: "internal error while deploying (nothing was wrong with the platform's answer); see the server log".into(),
                    code: Some("INTERNAL".into()),
                    ..PlatformError::empty(platform)
                };
                self.after_error(&mut take, pe, None).await
            }
        }
    }

    async fn create_objects(&self, take: &mut Take, lost: &AtomicBool) -> Result<(), Stop> {
        let ticket_id = take.run.ticket_id;
        let mut ctx = self.governance.ticket_context(ticket_id).await?;
        // Assets the spec names that are not on the channel yet are uploaded first (and a
        // video waited for), so the translation below carries their platform ids.
        if let Some(assets) = &self.assets
            && assets.ensure_for_ticket(&ctx).await.map_err(|e| match e {
                crate::assets::PutError::Platform(p) => Stop::Platform(p),
                crate::assets::PutError::App(a) => Stop::Internal(a),
            })?
        {
            ctx = self.governance.ticket_context(ticket_id).await?;
        }
        let TicketContext {
            ticket, channel, ..
        } = &ctx;
        // QA passed on this payload, so a failure here means it changed or a rule did.
        let payloads = ctx.translate(&self.versions).map_err(|e| {
            Stop::Platform(PlatformError {
                class: ErrorClass::Permanent,
                code: Some("PAYLOAD_INVALID".into()),
                message: e.to_string(),
                field_path: e.field().map(str::to_owned),
                ..PlatformError::empty(channel.platform)
            })
        })?;
        let mut ids: Map<String, Value> =
            ticket.external_ids.as_object().cloned().unwrap_or_default();
        // Objects whose create may have been applied without an answer: looked up before
        // they are created again. Kept up to date below as this take-up's answers come in.
        let mut uncertain = {
            let mut c = self.db.pool().acquire().await.map_err(AppError::from)?;
            store::uncertain_creates(&mut c, ticket_id).await?
        };
        for req in &payloads.requests {
            if ids.contains_key(&req.object) {
                continue;
            }
            let filled = crate::platforms::PlatformRequest {
                body: fill_placeholders(&req.body, &ids).map_err(|missing| {
                    Stop::Internal(AppError::Internal(format!(
                        "{} needs the id of {missing}, which was not created first",
                        req.object
                    )))
                })?,
                path: match fill_placeholders(&Value::String(req.path.clone()), &ids) {
                    Ok(Value::String(p)) => p,
                    _ => req.path.clone(),
                },
                ..req.clone()
            };
            // Attempts at this object: a short wait after a retryable error is sat out here,
            // lease held, rather than through the queue (see `retry_here`). The back-off grows
            // with this object's failures in a row: an answer in between shows the platform
            // is serving again.
            let mut failures = 0;
            let id = loop {
                if lost.load(Ordering::SeqCst) {
                    return Err(Stop::LeaseLost);
                }
                let tried = match uncertain.contains(&req.object) {
                    true => match self.lookup(take, channel, &filled, &ids).await {
                        Ok(Some(id)) => Ok(id),
                        Ok(None) => self.create(take, channel, &filled, &mut uncertain).await,
                        Err(e) => Err(e),
                    },
                    false => self.create(take, channel, &filled, &mut uncertain).await,
                };
                let e = match tried {
                    Ok(id) => break id,
                    Err(Stop::Platform(e)) => e,
                    Err(stop) => return Err(stop),
                };
                failures += 1;
                let Some(delay) = self.retry_here(take, &e, failures).await? else {
                    return Err(Stop::Platform(e));
                };
                // A shutdown during the wait hands the run back to the queue, due when this
                // retry was (`after_error`; the retry is counted once, by that take-up).
                let due = Instant::now() + delay;
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = self.stopping.cancelled() => {
                        let left = due.saturating_duration_since(Instant::now());
                        return Err(Stop::HandBack(e, left));
                    }
                }
            };
            ids.insert(req.object.clone(), Value::String(id));
        }
        Ok(())
    }

    fn attempt<'a>(&'a self, take: &Take, object: &'a str, action: &'a str) -> NewAttempt<'a> {
        NewAttempt {
            run_id: take.run.id,
            ticket_id: take.run.ticket_id,
            attempt: take.run.attempts,
            object,
            action,
            worker: &self.worker,
        }
    }

    /// Write the close waiting in `take`, if any, into `tx`. It stays waiting until `tx`
    /// commits (see `commit`): if the transaction fails, the next one writes it again.
    async fn write_pending(take: &Take, tx: &mut sqlx::AnyConnection) -> AppResult<()> {
        let Some(c) = &take.pending else {
            return Ok(());
        };
        store::close_attempt(
            tx,
            c.attempt_id,
            c.outcome,
            c.external_id.as_deref(),
            c.http_status,
            c.error.as_ref(),
            c.ms,
        )
        .await?;
        // Written even if our lease lapsed meanwhile: the object exists either way.
        if let (Some(object), Some(id)) = (&c.object, &c.external_id) {
            crate::tickets::put_external_id(tx, take.run.ticket_id, object, id).await?;
        }
        Ok(())
    }

    /// Commit a transaction that wrote the waiting close: it is written now.
    async fn commit(take: &mut Take, tx: store::WriteTx) -> AppResult<()> {
        tx.commit().await?;
        take.pending = None;
        Ok(())
    }

    /// Write the waiting close on its own, before a return that writes nothing else.
    async fn flush(&self, take: &mut Take) -> AppResult<()> {
        if take.pending.is_none() {
            return Ok(());
        }
        let mut tx = self.db.begin_write().await?;
        Self::write_pending(take, &mut tx).await?;
        Self::commit(take, tx).await
    }

    /// Record that a request is about to leave (with the waiting close of the previous one),
    /// written before it leaves: if we die now, the next worker knows to look. Fails with
    /// `LeaseLost` (the close still written) when the run is no longer ours.
    ///
    /// One round trip (`Db::begin_write_one`), as this is the write before every request: if
    /// it fails, nothing of it stays and the close is still waiting.
    async fn open(&self, take: &mut Take, object: &str, action: &str) -> Result<i64, Stop> {
        let mut tx = self.db.begin_write_one().await?;
        let end = take.pending.as_ref().map(Close::as_end);
        let id = crate::tickets::close_and_open_attempt(
            &mut tx,
            end.as_ref(),
            &self.attempt(take, object, action),
        )
        .await?;
        Self::commit(take, tx).await?;
        id.ok_or(Stop::LeaseLost)
    }

    /// Look for an object whose create may have been applied. Its close is left waiting.
    async fn lookup(
        &self,
        take: &mut Take,
        channel: &Channel,
        req: &crate::platforms::PlatformRequest,
        ids: &Map<String, Value>,
    ) -> Result<Option<String>, Stop> {
        let attempt_id = self.open(take, &req.object, "LOOKUP").await?;
        let started = Instant::now();
        let found = self.clients.find_existing(channel, req, ids).await;
        let ms = started.elapsed().as_millis() as i64;
        let (close, result) = match found {
            Ok(Some(id)) => (
                Close::answered(attempt_id, "FOUND", Some(id.clone()), None, &req.object, ms),
                Ok(Some(id)),
            ),
            Ok(None) => (
                Close::answered(attempt_id, "NOT_FOUND", None, None, &req.object, ms),
                Ok(None),
            ),
            Err(e) => (Close::failed(attempt_id, &e, ms), Err(Stop::Platform(e))),
        };
        take.pending = Some(close);
        result
    }

    /// Create one object. Its close is left waiting; a create whose outcome is unknown
    /// joins `uncertain`.
    async fn create(
        &self,
        take: &mut Take,
        channel: &Channel,
        req: &crate::platforms::PlatformRequest,
        uncertain: &mut std::collections::HashSet<String>,
    ) -> Result<String, Stop> {
        let attempt_id = self.open(take, &req.object, "CREATE").await?;
        let started = Instant::now();
        let created = self.clients.create(channel, req, false).await;
        let ms = started.elapsed().as_millis() as i64;
        match created {
            Ok(c) => {
                let id = c.id.unwrap_or_default();
                take.pending = Some(Close::answered(
                    attempt_id,
                    "CREATED",
                    Some(id.clone()),
                    Some(c.http_status),
                    &req.object,
                    ms,
                ));
                Ok(id)
            }
            Err(e) => {
                if e.outcome_unknown {
                    uncertain.insert(req.object.clone());
                }
                take.pending = Some(Close::failed(attempt_id, &e, ms));
                Err(Stop::Platform(e))
            }
        }
    }

    async fn finish_success(&self, take: &mut Take) -> AppResult<RunOutcome> {
        let run = &take.run;
        let (run_id, ticket_id) = (run.id, run.ticket_id);
        // One round trip (`Db::begin_write_one`), as `open` is. Without the lease, the last
        // answer is kept all the same.
        let mut tx = self.db.begin_write_one().await?;
        let end = take.pending.as_ref().map(Close::as_end);
        let released = crate::tickets::close_and_finish_deploy(
            &mut tx,
            end.as_ref(),
            run_id,
            ticket_id,
            &self.worker,
            "every platform object exists (PAUSED); ids stored",
        )
        .await?;
        Self::commit(take, tx).await?;
        if !released {
            return Ok(RunOutcome::LeaseLost);
        }
        Ok(RunOutcome::Succeeded)
    }

    /// The wait after `e`: what a rate limit says (within `max_rate_limit_wait`), else the
    /// back-off for the `nth` failure.
    fn retry_delay(&self, nth: i64, e: &PlatformError) -> Duration {
        match (e.class, e.retry_after()) {
            (ErrorClass::RateLimited, Some(d)) => d.min(self.settings.max_rate_limit_wait),
            _ => self.backoff(nth),
        }
    }

    /// Whether to retry within this take-up after the `failures`-th failure in a row of one
    /// request: the error is worth retrying, attempts remain and the wait (backing off with
    /// `failures`) is at most `retry_in_place_max`. If so, counts the attempt, notes it in the
    /// ticket's history (the ticket stays DEPLOYING) and returns the wait.
    async fn retry_here(
        &self,
        take: &mut Take,
        e: &PlatformError,
        failures: i64,
    ) -> Result<Option<Duration>, Stop> {
        let attempts = take.run.attempts;
        if e.class == ErrorClass::Permanent
            || attempts >= self.settings.max_attempts
            || self.stopping.is_cancelled()
        {
            return Ok(None);
        }
        let delay = self.retry_delay(failures, e);
        if delay > self.settings.retry_in_place_max {
            return Ok(None);
        }
        let (run_id, ticket_id) = (take.run.id, take.run.ticket_id);
        let at = crate::domain::text_in(delay);
        let detail = format!(
            "deploy run {run_id}, attempt {} at {at} by {} after: {e}",
            attempts + 1,
            self.worker
        );
        // One round trip (`Db::begin_write_one`), as `open` is.
        let mut tx = self.db.begin_write_one().await?;
        let end = take.pending.as_ref().map(Close::as_end);
        let retry = store::RetryInPlace {
            run_id,
            ticket_id,
            worker: &self.worker,
            next_attempt_at: &at,
            last_error: &to_json(e),
            detail: &detail,
        };
        let kept = crate::tickets::close_and_retry_in_place(&mut tx, end.as_ref(), &retry).await?;
        Self::commit(take, tx).await?;
        if !kept {
            return Err(Stop::LeaseLost);
        }
        take.run.attempts += 1;
        Ok(Some(delay))
    }

    /// End the take-up after `e`: back to the queue (after `hand_back`, if given: a retry
    /// already counted) or failed for good.
    async fn after_error(
        &self,
        take: &mut Take,
        e: PlatformError,
        hand_back: Option<Duration>,
    ) -> AppResult<RunOutcome> {
        let (run_id, ticket_id, attempts) = (take.run.id, take.run.ticket_id, take.run.attempts);
        let retryable = e.class != ErrorClass::Permanent;
        let exhausted = attempts >= self.settings.max_attempts;
        let json = to_json(&e);
        let mut tx = self.db.begin_write().await?;
        Self::write_pending(take, &mut tx).await?;
        if hand_back.is_some() || (retryable && !exhausted) {
            if hand_back.is_some() {
                store::uncount_attempt(&mut tx, run_id).await?;
            }
            let delay = hand_back.unwrap_or_else(|| self.retry_delay(attempts, &e));
            let at = crate::domain::text_in(delay);
            if !store::release_run(
                &mut tx,
                run_id,
                &self.worker,
                "WAITING",
                Some(&at),
                Some(&json),
            )
            .await?
            {
                Self::commit(take, tx).await?;
                return Ok(RunOutcome::LeaseLost);
            }
            let detail = format!("retry at {at} after: {e}");
            crate::tickets::transition(
                &mut tx,
                ticket_id,
                TicketStatus::Deploying,
                TicketStatus::Queued,
                "RETRY_SCHEDULED",
                &self.worker,
                Some(&detail),
            )
            .await?;
            Self::commit(take, tx).await?;
            return Ok(RunOutcome::RetryIn(delay));
        }
        let mut json = json;
        if retryable && let Some(o) = json.as_object_mut() {
            o.insert("gave_up_after_attempts".into(), Value::from(attempts));
        }
        if !store::release_run(&mut tx, run_id, &self.worker, "FAILED", None, Some(&json)).await? {
            Self::commit(take, tx).await?;
            return Ok(RunOutcome::LeaseLost);
        }
        let detail = if retryable {
            format!("gave up after {attempts} attempts: {e}")
        } else {
            e.to_string()
        };
        crate::tickets::transition(
            &mut tx,
            ticket_id,
            TicketStatus::Deploying,
            TicketStatus::DeployFailed,
            "DEPLOY_FAILED",
            &self.worker,
            Some(&detail),
        )
        .await?;
        Self::commit(take, tx).await?;
        Ok(RunOutcome::Failed)
    }
}
