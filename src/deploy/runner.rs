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
}

fn to_json(e: &PlatformError) -> Value {
    serde_json::to_value(e).unwrap_or(Value::Null)
}

/// Close an attempt the platform (or the network) failed.
async fn close_failed(
    tx: &mut sqlx::AnyConnection,
    attempt_id: i64,
    e: &PlatformError,
    ms: i64,
) -> AppResult<()> {
    store::close_attempt(
        tx,
        attempt_id,
        outcome_name(e),
        None,
        e.http_status,
        Some(&to_json(e)),
        ms,
    )
    .await
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

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Why processing stopped early.
enum Stop {
    Platform(PlatformError),
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
        }
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
        let claimed = {
            let mut tx = self.db.begin_write().await?;
            let ok = store::claim_run(
                &mut tx,
                run_id,
                &self.worker,
                &crate::domain::text_in(lease),
            )
            .await?;
            if ok {
                let run = store::get_run(&mut tx, run_id)
                    .await?
                    .ok_or_else(|| AppError::Internal(format!("run {run_id} vanished")))?;
                let detail = format!(
                    "deploy run {run_id}, take-up {} by {}",
                    run.attempts, self.worker
                );
                // A resumed run (its worker died) finds the ticket already DEPLOYING.
                crate::tickets::transition(
                    &mut tx,
                    run.ticket_id,
                    TicketStatus::Queued,
                    TicketStatus::Deploying,
                    "DEPLOY_STARTED",
                    &self.worker,
                    Some(&detail),
                )
                .await?;
                tx.commit().await?;
                Some(run)
            } else {
                tx.rollback().await?;
                None
            }
        };
        let Some(run) = claimed else {
            return Ok(RunOutcome::Skipped);
        };

        // Keep the lease alive while we work; note if it is lost.
        let lost = Arc::new(AtomicBool::new(false));
        let heartbeat = {
            let db = self.db.clone();
            let worker = self.worker.clone();
            let lost = lost.clone();
            tokio::spawn(async move {
                let every = (lease / 3).max(Duration::from_millis(50));
                loop {
                    tokio::time::sleep(every).await;
                    let renewed = async {
                        let mut tx = db.begin_write().await?;
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
            })
        };
        // Dropped with this future too (a cancelled job must not keep renewing a lease).
        let heartbeat = AbortOnDrop(heartbeat);
        let result = self.create_objects(&run, &lost).await;
        drop(heartbeat);

        match result {
            Ok(()) => self.finish_success(&run).await,
            Err(Stop::LeaseLost) => Ok(RunOutcome::LeaseLost),
            Err(Stop::Platform(e)) => self.after_error(&run, e).await,
            Err(Stop::Internal(e)) => {
                // Our own failure (database, bad stored data): retry like a transient error.
                tracing::error!(run_id, error = %e, "deploy run failed internally");
                let platform = match self.governance.ticket_context(run.ticket_id).await {
                    Ok(ctx) => ctx.channel.platform,
                    Err(_) => Platform::Meta,
                };
                let pe = PlatformError {
                    class: ErrorClass::Transient,
                    message: "internal error while deploying (nothing was wrong with the platform's answer); see the server log".into(),
                    code: Some("INTERNAL".into()),
                    ..PlatformError::empty(platform)
                };
                self.after_error(&run, pe).await
            }
        }
    }

    async fn create_objects(&self, run: &store::DeployRun, lost: &AtomicBool) -> Result<(), Stop> {
        let mut ctx = self.governance.ticket_context(run.ticket_id).await?;
        // Assets the spec names that are not on the channel yet are uploaded first (and a
        // video waited for), so the translation below carries their platform ids.
        if let Some(assets) = &self.assets
            && assets.ensure_for_ticket(&ctx).await.map_err(|e| match e {
                crate::assets::PutError::Platform(p) => Stop::Platform(p),
                crate::assets::PutError::App(a) => Stop::Internal(a),
            })?
        {
            ctx = self.governance.ticket_context(run.ticket_id).await?;
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
        for req in &payloads.requests {
            if ids.contains_key(&req.object) {
                continue;
            }
            if lost.load(Ordering::SeqCst) {
                return Err(Stop::LeaseLost);
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
            // A create that may have been applied without an answer: look before creating.
            let uncertain = {
                let mut c = self.db.pool().acquire().await.map_err(AppError::from)?;
                store::create_outcome_uncertain(&mut c, run.ticket_id, &req.object).await?
            };
            if uncertain && let Some(id) = self.lookup(run, channel, &filled, &ids).await? {
                ids.insert(req.object.clone(), Value::String(id));
                continue;
            }
            let id = self.create(run, channel, &filled).await?;
            ids.insert(req.object.clone(), Value::String(id));
        }
        Ok(())
    }

    fn attempt<'a>(
        &'a self,
        run: &store::DeployRun,
        object: &'a str,
        action: &'a str,
    ) -> NewAttempt<'a> {
        NewAttempt {
            run_id: run.id,
            ticket_id: run.ticket_id,
            attempt: run.attempts,
            object,
            action,
            worker: &self.worker,
        }
    }

    async fn lookup(
        &self,
        run: &store::DeployRun,
        channel: &Channel,
        req: &crate::platforms::PlatformRequest,
        ids: &Map<String, Value>,
    ) -> Result<Option<String>, Stop> {
        let attempt_id = {
            let mut tx = self.db.begin_write().await?;
            let id =
                store::open_attempt(&mut tx, &self.attempt(run, &req.object, "LOOKUP")).await?;
            tx.commit().await?;
            id
        };
        let started = Instant::now();
        let found = self.clients.find_existing(channel, req, ids).await;
        let ms = started.elapsed().as_millis() as i64;
        let mut tx = self.db.begin_write().await?;
        if !store::holds_lease(&mut tx, run.id, &self.worker).await? {
            tx.rollback().await?;
            return Err(Stop::LeaseLost);
        }
        let result = match found {
            Ok(Some(id)) => {
                store::close_attempt(&mut tx, attempt_id, "FOUND", Some(&id), None, None, ms)
                    .await?;
                crate::tickets::put_external_id(&mut tx, run.ticket_id, &req.object, &id).await?;
                Ok(Some(id))
            }
            Ok(None) => {
                store::close_attempt(&mut tx, attempt_id, "NOT_FOUND", None, None, None, ms)
                    .await?;
                Ok(None)
            }
            Err(e) => {
                close_failed(&mut tx, attempt_id, &e, ms).await?;
                Err(Stop::Platform(e))
            }
        };
        tx.commit().await?;
        result
    }

    async fn create(
        &self,
        run: &store::DeployRun,
        channel: &Channel,
        req: &crate::platforms::PlatformRequest,
    ) -> Result<String, Stop> {
        // Written before the request leaves: if we die now, the next worker knows to look.
        let attempt_id = {
            let mut tx = self.db.begin_write().await?;
            if !store::holds_lease(&mut tx, run.id, &self.worker).await? {
                tx.rollback().await?;
                return Err(Stop::LeaseLost);
            }
            let id =
                store::open_attempt(&mut tx, &self.attempt(run, &req.object, "CREATE")).await?;
            tx.commit().await?;
            id
        };
        let started = Instant::now();
        let created = self.clients.create(channel, req, false).await;
        let ms = started.elapsed().as_millis() as i64;
        let mut tx = self.db.begin_write().await?;
        let result = match created {
            Ok(c) => {
                let id = c.id.unwrap_or_default();
                store::close_attempt(
                    &mut tx,
                    attempt_id,
                    "CREATED",
                    Some(&id),
                    Some(c.http_status),
                    None,
                    ms,
                )
                .await?;
                // Written even if our lease lapsed meanwhile: the object exists either way.
                crate::tickets::put_external_id(&mut tx, run.ticket_id, &req.object, &id).await?;
                Ok(id)
            }
            Err(e) => {
                close_failed(&mut tx, attempt_id, &e, ms).await?;
                Err(Stop::Platform(e))
            }
        };
        tx.commit().await?;
        result
    }

    async fn finish_success(&self, run: &store::DeployRun) -> AppResult<RunOutcome> {
        let mut tx = self.db.begin_write().await?;
        if !store::release_run(&mut tx, run.id, &self.worker, "SUCCEEDED", None, None).await? {
            tx.rollback().await?;
            return Ok(RunOutcome::LeaseLost);
        }
        crate::tickets::transition(
            &mut tx,
            run.ticket_id,
            TicketStatus::Deploying,
            TicketStatus::TraffickedSuccess,
            "DEPLOYED",
            &self.worker,
            Some("every platform object exists (PAUSED); ids stored"),
        )
        .await?;
        tx.commit().await?;
        Ok(RunOutcome::Succeeded)
    }

    async fn after_error(&self, run: &store::DeployRun, e: PlatformError) -> AppResult<RunOutcome> {
        let retryable = e.class != ErrorClass::Permanent;
        let exhausted = run.attempts >= self.settings.max_attempts;
        let json = to_json(&e);
        let mut tx = self.db.begin_write().await?;
        if retryable && !exhausted {
            let delay = match (e.class, e.retry_after()) {
                (ErrorClass::RateLimited, Some(d)) => d.min(self.settings.max_rate_limit_wait),
                _ => self.backoff(run.attempts),
            };
            let at = crate::domain::text_in(delay);
            if !store::release_run(
                &mut tx,
                run.id,
                &self.worker,
                "WAITING",
                Some(&at),
                Some(&json),
            )
            .await?
            {
                tx.rollback().await?;
                return Ok(RunOutcome::LeaseLost);
            }
            let detail = format!("retry at {at} after: {e}");
            crate::tickets::transition(
                &mut tx,
                run.ticket_id,
                TicketStatus::Deploying,
                TicketStatus::Queued,
                "RETRY_SCHEDULED",
                &self.worker,
                Some(&detail),
            )
            .await?;
            tx.commit().await?;
            return Ok(RunOutcome::RetryIn(delay));
        }
        let mut json = json;
        if retryable && let Some(o) = json.as_object_mut() {
            o.insert("gave_up_after_attempts".into(), Value::from(run.attempts));
        }
        if !store::release_run(&mut tx, run.id, &self.worker, "FAILED", None, Some(&json)).await? {
            tx.rollback().await?;
            return Ok(RunOutcome::LeaseLost);
        }
        let detail = if retryable {
            format!("gave up after {} attempts: {e}", run.attempts)
        } else {
            e.to_string()
        };
        crate::tickets::transition(
            &mut tx,
            run.ticket_id,
            TicketStatus::Deploying,
            TicketStatus::DeployFailed,
            "DEPLOY_FAILED",
            &self.worker,
            Some(&detail),
        )
        .await?;
        tx.commit().await?;
        Ok(RunOutcome::Failed)
    }
}
