//! Self-healing: when a platform refuses a ticket, diagnose the recorded error, propose a
//! JSON Patch on the ticket's payload_config, prove it passes QA, and let a person approve or
//! reject it. Only SAFE proposals may be applied without a person (`auto_apply = safe`);
//! anything that spends more or reaches wider always waits. The same error coming back after
//! an applied fix escalates instead of looping, and a ticket gets at most three proposals per
//! error. Failed deploys reach it as `DeployFailed` jobs on the job queue (`register_jobs`).

pub mod fixers;
mod llm_fixer;
mod patch;
mod proposals;
mod review;
mod risk;

pub use patch::apply_patch;
pub use proposals::{DecisionOutput, FixList, FixProposalView, ListFixesInput, ProposeFixInput};
pub use risk::classify_risk;

use crate::auth::Principal;
use crate::deploy::DeployService;
use crate::domain::{ProposalStatus, Risk, TicketContext, TicketStatus};
use crate::error::AppResult;
use crate::governance::Governance;
use crate::platforms::client::PlatformError;
use crate::qa::QaService;
use crate::store;
use patch::error_key;
use proposals::Draft;

/// `healing.auto_apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoApply {
    /// Every proposal waits for a person (default).
    #[default]
    None,
    /// SAFE proposals that pass QA are applied and re-deployed at once.
    Safe,
}

const MAX_PROPOSALS_PER_ERROR: i64 = 3;

#[derive(Clone)]
pub struct HealingService {
    governance: Governance,
    qa: QaService,
    deploy: DeployService,
    auto_apply: AutoApply,
    llm: Option<crate::llm::Llm>,
}

/// What happened after a deploy failure.
#[derive(Debug, Clone, PartialEq)]
pub enum HealOutcome {
    Proposed {
        id: i64,
        status: ProposalStatus,
        risk: Risk,
    },
    AutoApplied {
        id: i64,
    },
    NoFix(String),
    Escalated(String),
}

impl HealingService {
    pub fn new(
        governance: Governance,
        qa: QaService,
        deploy: DeployService,
        auto_apply: AutoApply,
        llm: Option<crate::llm::Llm>,
    ) -> Self {
        Self {
            governance,
            qa,
            deploy,
            auto_apply,
            llm: llm.filter(|l| l.chat_model().is_some()),
        }
    }

    /// The last error recorded for a failed ticket.
    async fn last_error(&self, ticket_id: i64) -> AppResult<Option<PlatformError>> {
        let mut c = self.governance.db().pool().acquire().await?;
        Ok(store::latest_run(&mut c, ticket_id)
            .await?
            .and_then(|r| r.last_error)
            .and_then(|e| serde_json::from_value::<PlatformError>(e).ok()))
    }

    /// Hand failed deploys that healing never heard of (the process died between marking the
    /// run failed and announcing it) to healing, as the announcement would have. Returns how
    /// many.
    pub async fn sweep_unheard_failures(
        &self,
        jobs: &crate::jobs::JobQueue,
        older_than: std::time::Duration,
    ) -> AppResult<usize> {
        let before = crate::domain::text_ago(older_than);
        let missed = {
            let mut c = self.governance.db().pool().acquire().await?;
            store::unhealed_failures(&mut c, &before).await?
        };
        for (ticket_id, run_id) in &missed {
            tracing::warn!(
                ticket_id,
                "a failed deploy never reached self-healing; announcing it again"
            );
            jobs.push(
                crate::deploy::jobs::DeployFailed {
                    ticket_id: *ticket_id,
                    run_id: *run_id,
                },
                None,
            )
            .await?;
        }
        Ok(missed.len())
    }

    /// Hear of every deploy that fails for good, on whichever worker takes the event, and
    /// sweep for failures whose announcement was lost (every `sweep_every`).
    pub fn register_jobs(
        &self,
        workers: &mut crate::jobs::Workers,
        sweep_every: std::time::Duration,
    ) {
        let healing = self.clone();
        let jobs = workers.queue().clone();
        workers.every("healing sweep", sweep_every, sweep_every, move || {
            let (h, jobs) = (healing.clone(), jobs.clone());
            async move {
                h.sweep_unheard_failures(&jobs, sweep_every * 4)
                    .await
                    .map(|_| ())
            }
        });
        let healing = self.clone();
        workers.handle(2, move |event: crate::deploy::jobs::DeployFailed| {
            let h = healing.clone();
            async move {
                let ticket_id = event.ticket_id;
                // A failure here is logged, not retried: a retry would only repeat it, and
                // the ticket stays DEPLOY_FAILED for a person to look at.
                match h.on_deploy_failed(ticket_id).await {
                    Ok(outcome) => tracing::info!(ticket_id, ?outcome, "self-healing ran"),
                    Err(e) => {
                        tracing::error!(ticket_id, error = %e, "self-healing failed");
                        // A note on the ticket: a person sees it, and the sweep does not run
                        // healing again and again for the same failure.
                        if let Err(n) = h.note(ticket_id, "HEALING_FAILED", &e.to_string()).await {
                            tracing::warn!(ticket_id, error = %n, "could not note the healing failure");
                        }
                    }
                }
                Ok(())
            }
        });
    }

    /// Diagnose a DEPLOY_FAILED ticket and propose a rule-based fix, if one applies.
    pub async fn on_deploy_failed(&self, ticket_id: i64) -> AppResult<HealOutcome> {
        let TicketContext {
            ticket,
            brand,
            market,
            ..
        } = self.governance.ticket_context(ticket_id).await?;
        if ticket.status != TicketStatus::DeployFailed {
            return Ok(HealOutcome::NoFix(format!(
                "ticket is {}, not DEPLOY_FAILED",
                ticket.status
            )));
        }
        let Some(err) = self.last_error(ticket_id).await? else {
            let why = "no recorded platform error";
            self.note(ticket_id, "NO_AUTOMATIC_FIX", why).await?;
            return Ok(HealOutcome::NoFix(why.into()));
        };
        let key = error_key(&err);
        let (count, applied) = {
            let mut c = self.governance.db().pool().acquire().await?;
            store::proposal_counts(&mut c, ticket_id, &key).await?
        };
        if applied > 0 || count >= MAX_PROPOSALS_PER_ERROR {
            let why = if applied > 0 {
                format!(
                    "the same error ({key}) came back after an applied fix; a person must look at it"
                )
            } else {
                format!("{count} proposals were already made for {key}; a person must look at it")
            };
            self.note(ticket_id, "HEALING_ESCALATED", &why).await?;
            return Ok(HealOutcome::Escalated(why));
        }
        let cx = fixers::FixContext {
            payload: &ticket.payload_config,
            market_country: &market.country,
            currency: &brand.currency,
            platform_name: &ticket.platform_name,
            ticket_id,
        };
        let (patch, rationale, source, declared, refused) = match fixers::propose(&err, &cx) {
            Some(fix) => (
                fix.patch,
                fix.rationale,
                format!("RULE:{}", fix.fixer),
                fix.risk,
                fix.refused_interests,
            ),
            None => match self.llm_fix(&ticket, &err).await {
                Some(Ok((patch, rationale))) => {
                    (patch, rationale, "LLM".to_owned(), Risk::Safe, Vec::new())
                }
                Some(Err(why)) => {
                    let why = format!(
                        "no rule fixes {key}, and the language model's answer was unusable ({why}); nothing was applied"
                    );
                    self.note(ticket_id, "LLM_FIX_UNUSABLE", &why).await?;
                    return Ok(HealOutcome::NoFix(why));
                }
                None => {
                    let why = format!(
                        "no rule fixes {key} ({}); fix the ticket by hand or propose_fix",
                        err.message
                    );
                    self.note(ticket_id, "NO_AUTOMATIC_FIX", &why).await?;
                    return Ok(HealOutcome::NoFix(why));
                }
            },
        };
        // A patch that does not even apply is an unusable answer, not a proposal.
        if let Err(e) = apply_patch(&ticket.payload_config, &patch) {
            let why = format!("the proposed patch does not apply ({e}); nothing was applied");
            self.note(ticket_id, "LLM_FIX_UNUSABLE", &why).await?;
            return Ok(HealOutcome::NoFix(why));
        }
        let (id, status, risk) = self
            .create(
                &ticket,
                &Draft {
                    err: &err,
                    key: &key,
                    patch: &patch,
                    rationale: &rationale,
                    source: &source,
                    declared_risk: declared,
                    refused: &refused,
                    currency: &brand.currency,
                    actor: "auto-heal",
                },
            )
            .await?;
        if status == ProposalStatus::PendingReview
            && risk == Risk::Safe
            && self.auto_apply == AutoApply::Safe
        {
            let who = Principal {
                name: "auto-heal".into(),
                role: crate::auth::Role::Ops,
                brand_scope: None,
            };
            self.approve(&who, id, Some("auto_apply = safe")).await?;
            return Ok(HealOutcome::AutoApplied { id });
        }
        Ok(HealOutcome::Proposed { id, status, risk })
    }

    async fn note(&self, ticket_id: i64, event: &str, detail: &str) -> AppResult<()> {
        let mut tx = self.governance.db().begin_write().await?;
        crate::tickets::note(
            &mut tx,
            ticket_id,
            TicketStatus::DeployFailed,
            event,
            "auto-heal",
            detail,
        )
        .await?;
        tx.commit().await
    }
}
