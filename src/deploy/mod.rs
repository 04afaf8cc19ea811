//! The deploy pipeline: `deploy_ticket` re-runs QA and queues a job; workers (in `serve` or
//! `omnitraffick worker`) create the platform objects in order with retries, write every id
//! back as it appears, and never create an object twice. See `runner` for the per-run logic
//! and `jobs` for how runs travel through the job queue.

pub mod jobs;
pub mod runner;

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::auth::Principal;
use crate::domain::{Platform, TicketContext, TicketStatus};
use crate::error::{AppError, AppResult};
use crate::governance::Governance;
use crate::jobs::{JobQueue, QueueSettings, Workers};
use crate::platforms::ApiVersions;
use crate::platforms::client::{PlatformClients, PlatformError, fill_placeholders};
use crate::qa::{Outcome, QaService, RunQaInput};
use crate::store::{self, DeployAttempt, DeployRun};

pub use runner::{Deployer, RunOutcome};

/// Retry and lease policy.
#[derive(Debug, Clone)]
pub struct DeploySettings {
    /// Take-ups of one run before it fails for good (rate limits and transient errors).
    pub max_attempts: i64,
    /// First back-off; doubled each time, with jitter, up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Longest wait honoured when a platform says how long to wait.
    pub max_rate_limit_wait: Duration,
    /// A retry due within this wait is made by the same worker, which keeps the run (and
    /// its lease) meanwhile; a longer wait gives the run back to the queue. Zero sends every
    /// retry through the queue.
    pub retry_in_place_max: Duration,
    /// How long a worker owns a run without renewing it; a dead worker's run is taken over
    /// after this.
    pub lease: Duration,
    /// How often workers look for runs whose worker died or whose queue job went missing.
    pub sweep_every: Duration,
    /// How often an idle worker polls the queue.
    pub poll_every: Duration,
    /// Runs a worker process deploys at once.
    pub concurrency: usize,
}

impl DeploySettings {
    /// How the job queue polls and notices a dead worker: apalis re-queues a silent worker's
    /// jobs after three missed heartbeats, tied to the deploy lease so both notice a dead
    /// worker at about the same time.
    pub fn queue_settings(&self) -> QueueSettings {
        QueueSettings {
            poll_every: self.poll_every,
            heartbeat: (self.lease / 3).max(Duration::from_millis(200)),
        }
    }
}

impl Default for DeploySettings {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(300),
            max_rate_limit_wait: Duration::from_secs(3600),
            retry_in_place_max: Duration::from_secs(5),
            lease: Duration::from_secs(60),
            sweep_every: Duration::from_secs(15),
            poll_every: Duration::from_millis(500),
            concurrency: 8,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployTicketInput {
    /// The ticket to deploy; it must be READY_FOR_API (run_qa first).
    pub ticket_id: i64,
    /// Ask the platform to check the requests without creating anything (Meta and Google
    /// Ads; TikTok has no such mode). The ticket does not change. Default false.
    #[serde(default)]
    pub validate_only: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployTicketIdInput {
    /// The ticket id, e.g. 42.
    pub ticket_id: i64,
}

/// One request checked in validate-only mode.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ValidatedRequest {
    pub object: String,
    /// VALID, INVALID, or SKIPPED (it needs the id of an object that does not exist yet).
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<PlatformError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DeployTicketOutput {
    pub ticket_id: i64,
    /// QUEUED when a deploy was queued; unchanged for validate-only.
    pub status: TicketStatus,
    /// The deploy run created (absent for validate-only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<i64>,
    pub validate_only: bool,
    /// Validate-only: what the platform said about each request, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub validation: Vec<ValidatedRequest>,
    /// What happens next, in words.
    pub message: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DeployStatus {
    pub ticket_id: i64,
    pub ticket_status: TicketStatus,
    /// The latest deploy run, if any: state, take-ups, next retry time, last error.
    pub run: Option<DeployRun>,
    /// Platform ids written back so far, by object (campaign, adset, ...).
    pub external_ids: Value,
    /// When the next retry is due, if one is scheduled.
    pub next_retry_at: Option<String>,
    /// The last error, parsed: platform, class, code, subcode, message, field, trace id.
    pub last_error: Option<Value>,
    /// Total requests sent for this ticket (all runs).
    pub attempt_count: i64,
    /// The most recent requests (up to 50), oldest first.
    pub attempts: Vec<DeployAttempt>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CancelDeployOutput {
    pub ticket_id: i64,
    pub status: TicketStatus,
    pub message: String,
}

/// The deploy service behind the MCP tools.
#[derive(Clone)]
pub struct DeployService {
    governance: Governance,
    qa: QaService,
    clients: PlatformClients,
    versions: ApiVersions,
    queue: JobQueue,
    settings: DeploySettings,
    /// Puts a ticket's creative assets on its channel before the ad is created.
    assets: Option<crate::assets::AssetService>,
}

impl DeployService {
    pub fn new(
        governance: Governance,
        qa: QaService,
        clients: PlatformClients,
        versions: ApiVersions,
        queue: JobQueue,
        settings: DeploySettings,
    ) -> Self {
        Self {
            governance,
            qa,
            clients,
            versions,
            queue,
            settings,
            assets: None,
        }
    }

    /// Upload the creative assets a ticket names to its channel on demand, in the worker.
    pub fn with_assets(mut self, assets: crate::assets::AssetService) -> Self {
        self.assets = Some(assets);
        self
    }

    pub fn clients(&self) -> &PlatformClients {
        &self.clients
    }

    /// A worker's deployer, named `worker`.
    pub fn deployer(&self, worker: String) -> Deployer {
        Deployer::new(
            self.governance.db().clone(),
            self.governance.clone(),
            self.clients.clone(),
            self.versions.clone(),
            self.settings.clone(),
            worker,
        )
        .with_assets(self.assets.clone())
    }

    /// Register this process's deploy workers, named `worker`, and their sweep.
    pub fn register_jobs(&self, workers: &mut Workers, worker: &str) {
        jobs::register(
            workers,
            self.deployer(worker.to_owned())
                .with_stopping(workers.draining()),
            self.governance.db().clone(),
            self.settings.concurrency,
            self.settings.sweep_every,
        );
    }

    pub async fn deploy_ticket(
        &self,
        actor: &Principal,
        input: DeployTicketInput,
    ) -> AppResult<DeployTicketOutput> {
        let view = self.governance.get_ticket(input.ticket_id).await?;
        let ticket = view.ticket;
        if ticket.status != TicketStatus::ReadyForApi {
            let hint = match ticket.status {
                TicketStatus::Draft | TicketStatus::QaFailed => {
                    "run run_qa and fix what it reports first"
                }
                TicketStatus::Queued | TicketStatus::Deploying => {
                    "it is already being deployed; see get_deploy_status"
                }
                TicketStatus::TraffickedSuccess => {
                    "its objects already exist (paused); launch it with launch_ticket"
                }
                TicketStatus::Live | TicketStatus::Paused => {
                    "it is already on the platform; change it with change_ticket, pause_ticket or resume_ticket"
                }
                TicketStatus::DeployFailed | TicketStatus::FixProposed => {
                    "fix it (update_ticket or a fix proposal) and run run_qa again"
                }
                _ => "it can no longer be deployed",
            };
            return Err(AppError::InvalidTransition {
                message: format!(
                    "ticket {} is {}; only READY_FOR_API tickets can be deployed: {hint}",
                    ticket.id, ticket.status
                ),
            });
        }
        // A ticket stored before change request types were refused must not build a new
        // campaign that nobody asked for.
        if let Some(hint) = ticket.request_type.instead() {
            return Err(AppError::validation(
                "ticket_id",
                format!(
                    "ticket {} asks for a {}, not a new campaign, so deploying it would create a campaign nobody asked for; {hint}",
                    ticket.id,
                    ticket.request_type.as_str()
                ),
            ));
        }
        if input.validate_only {
            return self.validate_only(ticket.id).await;
        }
        // QA again: rules, caps or blocklists may have changed since it passed.
        let qa = self
            .qa
            .run_qa(
                actor,
                RunQaInput {
                    ticket_id: ticket.id,
                },
            )
            .await?;
        if qa.report.outcome == Outcome::Block {
            let findings: Vec<String> = qa
                .report
                .results
                .iter()
                .filter(|r| r.outcome == Outcome::Block)
                .map(|r| match &r.path {
                    Some(p) => format!("{}: {} ({p})", r.rule_id, r.message),
                    None => format!("{}: {}", r.rule_id, r.message),
                })
                .collect();
            return Err(AppError::conflict(
                Some("ticket_id"),
                format!(
                    "pre-flight QA no longer passes, so nothing was queued; the ticket is now QA_FAILED. {}",
                    findings.join("; ")
                ),
            ));
        }
        let db = self.governance.db();
        let mut tx = db.begin_write().await?;
        let run_id = store::insert_run(&mut tx, ticket.id, &actor.name).await?;
        let moved = crate::tickets::transition(
            &mut tx,
            ticket.id,
            TicketStatus::ReadyForApi,
            TicketStatus::Queued,
            "DEPLOY_QUEUED",
            &actor.name,
            Some(&format!("deploy run {run_id}")),
        )
        .await?;
        if !moved {
            tx.rollback().await?;
            return Err(AppError::conflict(
                Some("ticket_id"),
                "the ticket changed while it was being queued; check it and try again",
            ));
        }
        tx.commit().await?;
        // If this push fails the run stays QUEUED and the workers' sweep queues it again.
        if let Err(e) = self.queue.push(jobs::DeployJob { run_id }, None).await {
            tracing::warn!(run_id, error = %e, "queue push failed; the sweep will retry it");
        }
        Ok(DeployTicketOutput {
            ticket_id: ticket.id,
            status: TicketStatus::Queued,
            run_id: Some(run_id),
            validate_only: false,
            validation: Vec::new(),
            message: format!(
                "queued as deploy run {run_id}; a worker creates the objects PAUSED in order. Follow it with get_deploy_status or subscribe to omnitraffick://tickets/{}",
                ticket.id
            ),
        })
    }

    async fn validate_only(&self, ticket_id: i64) -> AppResult<DeployTicketOutput> {
        let ctx = self.governance.ticket_context(ticket_id).await?;
        let TicketContext {
            ticket, channel, ..
        } = &ctx;
        if !PlatformClients::supports_validate_only(channel.platform) {
            return Err(AppError::validation(
                "validate_only",
                "TikTok's Marketing API has no validate-only mode, so nothing can be checked without creating it; run_qa's schema checks are the closest. Deploy without validate_only (objects are created disabled).",
            ));
        }
        let payloads = ctx.translate(&self.versions)?;
        let ids: Map<String, Value> = ticket.external_ids.as_object().cloned().unwrap_or_default();
        let mut out = Vec::new();
        for req in &payloads.requests {
            let body = match fill_placeholders(&req.body, &ids) {
                Ok(b) => b,
                Err(missing) => {
                    out.push(ValidatedRequest {
                        object: req.object.clone(),
                        outcome: "SKIPPED".into(),
                        error: None,
                        note: Some(format!(
                            "needs the id of the {missing}, which does not exist until a real deploy creates it; {} cannot validate it alone",
                            platform_name(channel.platform)
                        )),
                    });
                    continue;
                }
            };
            let filled = crate::platforms::PlatformRequest {
                body,
                ..req.clone()
            };
            match self.clients.create(channel, &filled, true).await {
                Ok(_) => out.push(ValidatedRequest {
                    object: req.object.clone(),
                    outcome: "VALID".into(),
                    error: None,
                    note: None,
                }),
                Err(e) => out.push(ValidatedRequest {
                    object: req.object.clone(),
                    outcome: "INVALID".into(),
                    error: Some(e),
                    note: None,
                }),
            }
        }
        let invalid = out.iter().filter(|v| v.outcome == "INVALID").count();
        let valid = out.iter().filter(|v| v.outcome == "VALID").count();
        Ok(DeployTicketOutput {
            ticket_id,
            status: ticket.status,
            run_id: None,
            validate_only: true,
            message: format!(
                "{valid} request(s) valid, {invalid} invalid, {} skipped; nothing was created and the ticket did not change",
                out.len() - valid - invalid
            ),
            validation: out,
        })
    }

    pub async fn status(&self, ticket_id: i64) -> AppResult<DeployStatus> {
        // The run, its attempts and the ticket in one snapshot. Read apart, a deploy finishing
        // between the reads showed a TRAFFICKED_SUCCESS ticket beside its run still QUEUED with
        // no attempts (on PostgreSQL, where each statement otherwise sees its own snapshot; a
        // SQLite read transaction keeps one).
        let db = self.governance.db();
        let mut tx = store::begin_detached(db.pool()).await?;
        if db.backend() == store::Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        let run = store::latest_run(&mut tx, ticket_id).await?;
        let attempts = store::list_attempts(&mut tx, ticket_id, 50).await?;
        let attempt_count = store::count_attempts(&mut tx, ticket_id).await?;
        let ticket = crate::governance::must_ticket(&mut tx, ticket_id).await?;
        tx.rollback().await?;
        Ok(DeployStatus {
            ticket_id,
            ticket_status: ticket.status,
            next_retry_at: run
                .as_ref()
                .filter(|r| {
                    // A worker retrying in place keeps the run RUNNING until the retry.
                    r.state == "WAITING"
                        || (r.state == "RUNNING"
                            && r.next_attempt_at
                                .as_deref()
                                .is_some_and(|at| at > crate::domain::now_text().as_str()))
                })
                .and_then(|r| r.next_attempt_at.clone()),
            last_error: run.as_ref().and_then(|r| r.last_error.clone()),
            run,
            external_ids: ticket.external_ids,
            attempt_count,
            attempts,
        })
    }

    pub async fn cancel(&self, actor: &Principal, ticket_id: i64) -> AppResult<CancelDeployOutput> {
        let view = self.governance.get_ticket(ticket_id).await?;
        let has_objects = view
            .ticket
            .external_ids
            .as_object()
            .is_some_and(|o| !o.is_empty());
        let db = self.governance.db();
        let mut tx = db.begin_write().await?;
        let run = store::latest_run(&mut tx, ticket_id).await?;
        let Some(run) =
            run.filter(|r| matches!(r.state.as_str(), "QUEUED" | "WAITING" | "RUNNING"))
        else {
            return Err(AppError::InvalidTransition {
                message: format!(
                    "ticket {ticket_id} has no deploy in progress (it is {}); nothing to cancel",
                    view.ticket.status
                ),
            });
        };
        let sent = store::any_create_sent(&mut tx, ticket_id).await?;
        if has_objects || sent {
            return Err(AppError::conflict(
                Some("ticket_id"),
                format!(
                    "ticket {ticket_id} already has objects on the platform (or a create in flight), so the deploy can no longer be cancelled; it will finish or fail, and objects are PAUSED"
                ),
            ));
        }
        if !store::cancel_run(&mut tx, run.id).await? {
            return Err(AppError::conflict(
                Some("ticket_id"),
                "a worker is deploying this ticket right now; try again in a moment or let it finish",
            ));
        }
        let moved = crate::tickets::transition(
            &mut tx,
            ticket_id,
            TicketStatus::Queued,
            TicketStatus::ReadyForApi,
            "DEPLOY_CANCELLED",
            &actor.name,
            Some(&format!(
                "deploy run {} cancelled before anything was created",
                run.id
            )),
        )
        .await?;
        if !moved {
            return Err(AppError::conflict(
                Some("ticket_id"),
                "the ticket changed while cancelling; check get_deploy_status",
            ));
        }
        tx.commit().await?;
        Ok(CancelDeployOutput {
            ticket_id,
            status: TicketStatus::ReadyForApi,
            message: format!(
                "deploy run {} cancelled; nothing was created. The ticket is READY_FOR_API again.",
                run.id
            ),
        })
    }
}

fn platform_name(p: Platform) -> &'static str {
    match p {
        Platform::Meta => "Meta",
        Platform::Tiktok => "TikTok",
        Platform::GoogleAds => "Google Ads",
    }
}
