//! Fix proposals: made by a rule, the model or an assistant, always through the same path
//! (patch a copy, judge the risk on the change, QA it, store it with its audit trail), listed
//! and shown to reviewers.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::patch::{apply_patch, error_key, readable_diff};
use super::risk::classify_risk;
use super::{HealingService, MAX_PROPOSALS_PER_ERROR};
use crate::auth::Principal;
use crate::domain::{ProposalStatus, Risk, Ticket, TicketContext, TicketStatus};
use crate::error::{AppError, AppResult};
use crate::platforms::client::PlatformError;
use crate::qa::Outcome;
use crate::store::{self, AuditEntry, FixProposal, NewProposal};

#[derive(Debug, Serialize, JsonSchema)]
pub struct FixProposalView {
    #[serde(flatten)]
    pub proposal: FixProposal,
    /// The patch as a readable list of changes ("replace /budget/amount: \"5.00\" -> \"20.00\"").
    pub diff: Vec<String>,
    /// Who did what to it, when and why.
    pub audit: Vec<AuditEntry>,
}

#[derive(Debug, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ListFixesInput {
    /// PENDING_REVIEW, APPROVED, REJECTED, APPLIED, QA_FAILED or SUPERSEDED.
    pub status: Option<String>,
    /// Only this ticket's proposals.
    pub ticket_id: Option<i64>,
    /// Page size (1-200, default 50).
    pub limit: Option<i64>,
    /// Continue after this id (the `next_before_id` of the previous page).
    pub before_id: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FixList {
    pub proposals: Vec<FixProposal>,
    /// Pass as before_id for the next page; absent on the last page.
    pub next_before_id: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeFixInput {
    /// A DEPLOY_FAILED (or FIX_PROPOSED) ticket, e.g. 42.
    pub ticket_id: i64,
    /// RFC 6902 JSON Patch on the ticket's payload_config, e.g.
    /// [{"op": "remove", "path": "/targeting/interests/1"}].
    pub patch: Value,
    /// Why this fixes the platform's error.
    pub rationale: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DecisionOutput {
    pub proposal: FixProposal,
    pub ticket_status: TicketStatus,
    pub message: String,
}

/// A proposal before it is QA'd and stored.
#[derive(Clone, Copy)]
pub(super) struct Draft<'a> {
    pub err: &'a PlatformError,
    /// platform:code:subcode of the error it answers.
    pub key: &'a str,
    pub patch: &'a Value,
    pub rationale: &'a str,
    /// RULE:<fixer>, LLM or ASSISTANT:<key name>.
    pub source: &'a str,
    /// What the rule or model says; the risk stored is never lower than the change's own.
    pub declared_risk: Risk,
    /// Interests the platform refused, treated as already gone when judging reach.
    pub refused: &'a [String],
    pub currency: &'a str,
    pub actor: &'a str,
}

impl HealingService {
    /// Apply the patch to a copy, QA it and store the proposal; the ticket goes to
    /// FIX_PROPOSED when the proposal awaits review. Returns (id, status, risk).
    pub(super) async fn create(
        &self,
        ticket: &Ticket,
        d: &Draft<'_>,
    ) -> AppResult<(i64, ProposalStatus, Risk)> {
        let Draft {
            err,
            key,
            patch,
            rationale,
            source,
            declared_risk,
            refused,
            currency,
            actor,
        } = *d;
        let after = apply_patch(&ticket.payload_config, patch)?;
        // Bounded before anything is stored: a patched payload too deep for serde_json to
        // read back would break every listing of the review queue.
        crate::platforms::spec::check_bounds(&after)?;
        let computed = classify_risk(&ticket.payload_config, &after, currency, refused);
        let risk = computed.max(declared_risk);
        let report = self.qa.preview(ticket.id, after.clone()).await?;
        let status = if report.outcome == Outcome::Block {
            ProposalStatus::QaFailed
        } else {
            ProposalStatus::PendingReview
        };
        let report_json =
            serde_json::to_value(&report).map_err(|e| AppError::Internal(e.to_string()))?;
        let err_json = serde_json::to_value(err).map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.governance.db().begin_write().await?;
        let current = self.current_version(&mut tx, ticket.id).await?;
        if current != ticket.version {
            return Err(AppError::conflict(
                Some("ticket_id"),
                format!(
                    "ticket {} changed while the fix was being worked out; propose it again",
                    ticket.id
                ),
            ));
        }
        // Moving the ticket to FIX_PROPOSED bumps its version once; approval checks against it.
        let moves =
            status != ProposalStatus::QaFailed && ticket.status == TicketStatus::DeployFailed;
        let id = store::insert_proposal(
            &mut tx,
            &NewProposal {
                ticket_id: ticket.id,
                ticket_version: current + i64::from(moves),
                error_key: key,
                error: &err_json,
                patch,
                rationale,
                source,
                risk,
                qa_report: Some(&report_json),
                status,
                payload_before: &ticket.payload_config,
                payload_after: &after,
                created_by: actor,
            },
        )
        .await?;
        store::append_audit(
            store::Trail::Fix,
            &mut tx,
            id,
            actor,
            "PROPOSED",
            Some(&format!("{source}, risk {risk}: {rationale}")),
        )
        .await?;
        if status == ProposalStatus::QaFailed {
            store::append_audit(
                store::Trail::Fix,
                &mut tx,
                id,
                actor,
                "QA_FAILED",
                Some(&format!(
                    "{} blocking finding(s); never offered for approval",
                    report.blocking
                )),
            )
            .await?;
        } else if moves {
            crate::tickets::transition(
                &mut tx,
                ticket.id,
                TicketStatus::DeployFailed,
                TicketStatus::FixProposed,
                "FIX_PROPOSED",
                actor,
                Some(&format!("fix proposal {id} ({risk}) awaits review")),
            )
            .await?;
        }
        tx.commit().await?;
        Ok((id, status, risk))
    }

    pub(super) async fn current_version(
        &self,
        c: &mut sqlx::AnyConnection,
        ticket_id: i64,
    ) -> AppResult<i64> {
        store::ticket_version(c, ticket_id)
            .await?
            .ok_or_else(|| AppError::not_found("ticket", ticket_id))
    }

    /// An assistant's own fix: the same QA and review path as a rule's.
    pub async fn propose_fix(
        &self,
        actor: &Principal,
        input: ProposeFixInput,
    ) -> AppResult<FixProposalView> {
        if input.rationale.trim().is_empty() {
            return Err(AppError::validation(
                "rationale",
                "say why the patch fixes the platform's error",
            ));
        }
        self.governance
            .authorize_ticket(actor, input.ticket_id)
            .await?;
        let TicketContext { ticket, brand, .. } =
            self.governance.ticket_context(input.ticket_id).await?;
        if !matches!(
            ticket.status,
            TicketStatus::DeployFailed | TicketStatus::FixProposed
        ) {
            return Err(AppError::InvalidTransition {
                message: format!(
                    "ticket {} is {}; fixes are proposed for DEPLOY_FAILED tickets (edit other tickets with update_ticket)",
                    ticket.id, ticket.status
                ),
            });
        }
        let err = self
            .last_error(ticket.id)
            .await?
            .unwrap_or_else(|| PlatformError {
                message: "no recorded platform error".into(),
                ..PlatformError::empty(ticket.platform)
            });
        let key = error_key(&err);
        let (count, _) = {
            let mut c = self.governance.db().pool().acquire().await?;
            store::proposal_counts(&mut c, ticket.id, &key).await?
        };
        if count >= MAX_PROPOSALS_PER_ERROR {
            return Err(AppError::conflict(
                Some("ticket_id"),
                format!(
                    "ticket {} already has {count} proposals for {key}; a person must review them",
                    ticket.id
                ),
            ));
        }
        let source = format!("ASSISTANT:{}", actor.name);
        let (id, _, _) = self
            .create(
                &ticket,
                &Draft {
                    err: &err,
                    key: &key,
                    patch: &input.patch,
                    rationale: input.rationale.trim(),
                    source: &source,
                    declared_risk: Risk::Safe,
                    refused: &[],
                    currency: &brand.currency,
                    actor: &actor.name,
                },
            )
            .await?;
        self.get(id).await
    }

    /// Proposals the caller may see (a brand-scoped key sees only its brands' tickets').
    pub async fn list(&self, who: &Principal, input: ListFixesInput) -> AppResult<FixList> {
        let status = input
            .status
            .as_deref()
            .map(|s| ProposalStatus::parse("status", s))
            .transpose()?;
        let limit = input.limit.unwrap_or(50).clamp(1, 200);
        let mut c = self.governance.db().pool().acquire().await?;
        let proposals = store::list_proposals(
            &mut c,
            status,
            input.ticket_id,
            input.before_id,
            limit + 1,
            who.brands(),
        )
        .await?;
        let more = proposals.len() as i64 > limit;
        let proposals: Vec<FixProposal> = proposals.into_iter().take(limit as usize).collect();
        Ok(FixList {
            next_before_id: if more {
                proposals.last().map(|p| p.id)
            } else {
                None
            },
            proposals,
        })
    }

    /// Refused unless the caller's key covers the brand of the proposal's ticket.
    pub async fn authorize(&self, who: &Principal, id: i64) -> AppResult<()> {
        if who.brands().is_none() {
            return Ok(());
        }
        let ticket = {
            let mut c = self.governance.db().pool().acquire().await?;
            store::proposal_ticket(&mut c, id).await?
        };
        let ticket = ticket.ok_or_else(|| {
            AppError::not_found("fix proposal", id)
                .with_field("id", "list_fix_proposals shows the ids")
        })?;
        self.governance.authorize_ticket(who, ticket).await
    }

    pub async fn get(&self, id: i64) -> AppResult<FixProposalView> {
        let mut c = self.governance.db().pool().acquire().await?;
        let proposal = store::get_proposal(&mut c, id).await?.ok_or_else(|| {
            AppError::not_found("fix proposal", id)
                .with_field("id", "list_fix_proposals shows the ids")
        })?;
        let audit = store::audit_trail(store::Trail::Fix, &mut c, id).await?;
        Ok(FixProposalView {
            diff: readable_diff(&proposal.payload_before, &proposal.payload_after),
            proposal,
            audit,
        })
    }
}
