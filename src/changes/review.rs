//! Deciding a change: the person confirms or declines it; ops approve or reject it.

use super::{ChangeDecision, ChangeService, ChangeView, token_hash};
use crate::auth::Principal;
use crate::domain::{ChangeStatus, now_text};
use crate::error::{AppError, AppResult};
use crate::store;

impl ChangeService {
    /// The person said yes: with the token from the request, or through the client's own
    /// confirmation dialog (`token: None`, MCP elicitation).
    pub async fn confirm(
        &self,
        who: &Principal,
        change_id: i64,
        token: Option<&str>,
    ) -> AppResult<ChangeView> {
        let change = self.get_change(change_id).await?;
        if change.status != ChangeStatus::NeedsConfirmation {
            return Err(AppError::Conflict {
                field: Some("change_id".into()),
                message: format!(
                    "change {change_id} is {}, not NEEDS_CONFIRMATION; nothing to confirm",
                    change.status
                ),
            });
        }
        if let Some(token) = token {
            let expired = change
                .token_expires_at
                .as_deref()
                .is_none_or(|at| at < now_text().as_str());
            let matches = change
                .token_hash
                .as_deref()
                .is_some_and(|h| h == token_hash(token.trim()));
            if !matches {
                return Err(AppError::validation(
                    "token",
                    "does not match this change's confirmation token; use the token the change request returned",
                ));
            }
            if expired {
                return Err(AppError::validation(
                    "token",
                    "has expired; ask for the change again to get a new one",
                ));
            }
        }
        let mut tx = self.governance.db().begin_write().await?;
        if !store::move_change(
            &mut tx,
            change_id,
            ChangeStatus::NeedsConfirmation,
            ChangeStatus::Queued,
            Some(&who.name),
        )
        .await?
        {
            return Err(AppError::Conflict {
                field: Some("change_id".into()),
                message: format!("change {change_id} was decided by someone else first"),
            });
        }
        let how = if token.is_some() {
            "with the confirmation token"
        } else {
            "in the client's confirmation dialog"
        };
        store::append_audit(
            store::Trail::Change,
            &mut tx,
            change_id,
            &who.name,
            "CONFIRMED",
            Some(how),
        )
        .await?;
        tx.commit().await?;
        self.push(change_id).await;
        self.view(change_id).await
    }

    /// The person said no (or closed the dialog): nothing is sent.
    pub async fn decline(
        &self,
        who: &Principal,
        change_id: i64,
        why: &str,
    ) -> AppResult<ChangeView> {
        let mut tx = self.governance.db().begin_write().await?;
        if store::move_change(
            &mut tx,
            change_id,
            ChangeStatus::NeedsConfirmation,
            ChangeStatus::Cancelled,
            Some(&who.name),
        )
        .await?
        {
            store::append_audit(
                store::Trail::Change,
                &mut tx,
                change_id,
                &who.name,
                "DECLINED",
                Some(why),
            )
            .await?;
        }
        tx.commit().await?;
        self.view(change_id).await
    }

    /// Ops approve a change waiting for review; it is queued.
    pub async fn approve(
        &self,
        who: &Principal,
        change_id: i64,
        reason: Option<&str>,
    ) -> AppResult<ChangeDecision> {
        self.decide(who, change_id, true, reason).await
    }

    /// Ops reject a change waiting for review; nothing is sent.
    pub async fn reject(
        &self,
        who: &Principal,
        change_id: i64,
        reason: Option<&str>,
    ) -> AppResult<ChangeDecision> {
        let Some(reason) = reason.map(str::trim).filter(|r| !r.is_empty()) else {
            return Err(AppError::validation(
                "reason",
                "is required to reject a change, e.g. {\"reason\": \"budget not approved this quarter\"}",
            ));
        };
        self.decide(who, change_id, false, Some(reason)).await
    }

    async fn decide(
        &self,
        who: &Principal,
        change_id: i64,
        approve: bool,
        reason: Option<&str>,
    ) -> AppResult<ChangeDecision> {
        who.require(crate::auth::Permission::Review)?;
        let change = self.get_change(change_id).await?;
        self.governance
            .authorize_ticket(who, change.ticket_id)
            .await?;
        // Review is a second person: whoever asked for the change cannot approve it.
        if approve && change.requested_by == who.name {
            return Err(AppError::Forbidden(format!(
                "change {change_id} was requested with the key \"{}\"; another ops or admin key must approve it",
                who.name
            )));
        }
        if change.status != ChangeStatus::PendingReview {
            return Err(AppError::Conflict {
                field: Some("id".into()),
                message: format!(
                    "change {change_id} is {}, not PENDING_REVIEW; only a change waiting for review can be approved or rejected",
                    change.status
                ),
            });
        }
        let to = if approve {
            ChangeStatus::Queued
        } else {
            ChangeStatus::Rejected
        };
        let mut tx = self.governance.db().begin_write().await?;
        if !store::move_change(
            &mut tx,
            change_id,
            ChangeStatus::PendingReview,
            to,
            Some(&who.name),
        )
        .await?
        {
            return Err(AppError::Conflict {
                field: Some("id".into()),
                message: format!("change {change_id} was decided by someone else first"),
            });
        }
        let action = if approve { "APPROVED" } else { "REJECTED" };
        store::append_audit(
            store::Trail::Change,
            &mut tx,
            change_id,
            &who.name,
            action,
            reason,
        )
        .await?;
        tx.commit().await?;
        let message = if approve {
            self.push(change_id).await;
            format!("approved; change {change_id} is queued and a worker applies it")
        } else {
            format!("rejected; change {change_id} was not sent to the platform")
        };
        Ok(ChangeDecision {
            change_id,
            status: to,
            message,
        })
    }
}
