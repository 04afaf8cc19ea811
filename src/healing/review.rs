//! The review of a proposal: a person (or the SAFE auto-apply policy) approves it, which
//! applies the patch through the tickets writer, re-runs QA and re-queues the deploy; or
//! rejects it, which returns the ticket to DEPLOY_FAILED when nothing else is pending.

use super::{DecisionOutput, HealingService};
use crate::auth::Principal;
use crate::deploy::DeployTicketInput;
use crate::domain::{ProposalStatus, TicketStatus};
use crate::error::{AppError, AppResult};
use crate::qa::RunQaInput;
use crate::store;

impl HealingService {
    /// Apply the patch, re-run QA and re-queue the deploy. Refused (409) if the proposal is
    /// not pending or the ticket changed since it was made.
    pub async fn approve(
        &self,
        actor: &Principal,
        id: i64,
        reason: Option<&str>,
    ) -> AppResult<DecisionOutput> {
        actor.require(crate::auth::Permission::Review)?;
        self.authorize(actor, id).await?;
        let mut tx = self.governance.db().begin_write().await?;
        let p = store::get_proposal(&mut tx, id)
            .await?
            .ok_or_else(|| AppError::not_found("fix proposal", id))?;
        if p.status != ProposalStatus::PendingReview {
            return Err(AppError::conflict(
                Some("id"),
                format!(
                    "proposal {id} is {}; only PENDING_REVIEW proposals can be approved",
                    p.status
                ),
            ));
        }
        let version = self.current_version(&mut tx, p.ticket_id).await?;
        if version != p.ticket_version {
            return Err(AppError::conflict(
                Some("id"),
                format!(
                    "ticket {} changed since proposal {id} was made (version {} -> {version}); ask for a new proposal",
                    p.ticket_id, p.ticket_version
                ),
            ));
        }
        if let Some(why) = &p.damaged {
            return Err(AppError::conflict(
                Some("id"),
                format!(
                    "proposal {id} cannot be approved: its stored record is unreadable ({why}); reject it and propose the fix again"
                ),
            ));
        }
        crate::platforms::spec::check_bounds(&p.payload_after)?;
        if !store::move_proposal(
            &mut tx,
            id,
            ProposalStatus::PendingReview,
            ProposalStatus::Approved,
        )
        .await?
        {
            return Err(AppError::conflict(
                Some("id"),
                format!("proposal {id} was decided concurrently"),
            ));
        }
        store::append_audit(
            store::Trail::Fix,
            &mut tx,
            id,
            &actor.name,
            "APPROVED",
            reason,
        )
        .await?;
        for other in store::supersede_others(&mut tx, p.ticket_id, id).await? {
            store::append_audit(
                store::Trail::Fix,
                &mut tx,
                other,
                &actor.name,
                "SUPERSEDED",
                Some(&format!("proposal {id} was approved")),
            )
            .await?;
        }
        let mut ticket = store::get_ticket(&mut tx, p.ticket_id)
            .await?
            .filter(|t| t.status == TicketStatus::FixProposed && t.version == version)
            .ok_or_else(|| {
                AppError::conflict(
                    Some("id"),
                    format!("ticket {} is no longer awaiting this fix", p.ticket_id),
                )
            })?;
        ticket.payload_config = p.payload_after.clone();
        ticket.qa_report = None;
        ticket.status = TicketStatus::Draft;
        let detail = format!("fix proposal {id} applied");
        let edit = crate::tickets::Edit {
            event: "FIX_APPLIED",
            actor: &actor.name,
            detail: Some(&detail),
        };
        crate::tickets::save_or_conflict(
            &mut tx,
            &ticket,
            TicketStatus::FixProposed,
            version,
            &edit,
            &format!("ticket {} is no longer awaiting this fix", p.ticket_id),
        )
        .await?;
        tx.commit().await?;

        let qa = self
            .qa
            .run_qa(
                actor,
                RunQaInput {
                    ticket_id: p.ticket_id,
                },
            )
            .await?;
        let message = if qa.status == TicketStatus::ReadyForApi {
            let d = self
                .deploy
                .deploy_ticket(
                    actor,
                    DeployTicketInput {
                        ticket_id: p.ticket_id,
                        validate_only: false,
                    },
                )
                .await?;
            let mut tx = self.governance.db().begin_write().await?;
            store::move_proposal(
                &mut tx,
                id,
                ProposalStatus::Approved,
                ProposalStatus::Applied,
            )
            .await?;
            store::append_audit(
                store::Trail::Fix,
                &mut tx,
                id,
                &actor.name,
                "APPLIED",
                Some(&format!(
                    "QA passed; deploy run {} queued",
                    d.run_id.unwrap_or_default()
                )),
            )
            .await?;
            tx.commit().await?;
            format!(
                "applied; QA passed and the deploy is queued (run {})",
                d.run_id.unwrap_or_default()
            )
        } else {
            let mut tx = self.governance.db().begin_write().await?;
            store::append_audit(
                store::Trail::Fix,
                &mut tx,
                id,
                &actor.name,
                "QA_FAILED",
                Some("QA failed after applying; the ticket is QA_FAILED"),
            )
            .await?;
            tx.commit().await?;
            "applied, but QA no longer passes (rules changed since the proposal); the ticket is QA_FAILED".into()
        };
        let view = self.get(id).await?;
        let ticket_status = self.governance.get_ticket(p.ticket_id).await?.ticket.status;
        Ok(DecisionOutput {
            proposal: view.proposal,
            ticket_status,
            message,
        })
    }

    pub async fn reject(
        &self,
        actor: &Principal,
        id: i64,
        reason: &str,
    ) -> AppResult<DecisionOutput> {
        actor.require(crate::auth::Permission::Review)?;
        self.authorize(actor, id).await?;
        if reason.trim().is_empty() {
            return Err(AppError::validation(
                "reason",
                "say why the proposal is rejected",
            ));
        }
        let mut tx = self.governance.db().begin_write().await?;
        let p = store::get_proposal(&mut tx, id)
            .await?
            .ok_or_else(|| AppError::not_found("fix proposal", id))?;
        if !store::move_proposal(
            &mut tx,
            id,
            ProposalStatus::PendingReview,
            ProposalStatus::Rejected,
        )
        .await?
        {
            return Err(AppError::conflict(
                Some("id"),
                format!(
                    "proposal {id} is {}; only PENDING_REVIEW proposals can be rejected",
                    p.status
                ),
            ));
        }
        store::append_audit(
            store::Trail::Fix,
            &mut tx,
            id,
            &actor.name,
            "REJECTED",
            Some(reason.trim()),
        )
        .await?;
        let pending = store::list_proposals(
            &mut tx,
            Some(ProposalStatus::PendingReview),
            Some(p.ticket_id),
            None,
            1,
            None,
        )
        .await?;
        if pending.is_empty() {
            crate::tickets::transition(
                &mut tx,
                p.ticket_id,
                TicketStatus::FixProposed,
                TicketStatus::DeployFailed,
                "FIX_REJECTED",
                &actor.name,
                Some(reason.trim()),
            )
            .await?;
        }
        tx.commit().await?;
        let view = self.get(id).await?;
        let ticket_status = self.governance.get_ticket(p.ticket_id).await?.ticket.status;
        Ok(DecisionOutput {
            proposal: view.proposal,
            ticket_status,
            message: "rejected".into(),
        })
    }
}
