//! Changes to live campaigns: launch, pause, resume, end, or a new payload_config for a
//! deployed ticket, each a record with its before and after, risk, QA report and audit trail.
//!
//! The gate: a SAFE change (pause, end, spending less) is queued at once. Anything else waits
//! for the person behind the assistant (MCP elicitation, else a one-time token for
//! `confirm_change`); a spend increase above the brand's threshold waits for ops on the REST
//! review queue. Nothing that raises spend or widens reach is applied without a person, and
//! no MCP tool approves. A worker applies queued changes (`apply`), reading each object
//! before writing it, so a retry or a lost answer never writes twice.

mod apply;
pub mod spend;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::deploy::DeploySettings;
use crate::domain::{ChangeKind, ChangeStatus, Currency, Risk, TicketContext, now_text};
use crate::error::{AppError, AppResult};
use crate::governance::Governance;
use crate::jobs::{JobQueue, Workers};
use crate::platforms::client::PlatformClients;
use crate::platforms::live::{self, LiveStatus};
use crate::platforms::{ApiVersions, TranslatedPayloads};
use crate::qa::QaService;
use crate::store::{self, Change, ChangeAudit, NewChange};
use crate::tickets;

pub use apply::ChangeJob;
use spend::ReviewLimits;

/// How long a confirmation token works.
const TOKEN_TTL_MINUTES: i64 = 15;

/// A change with what a person needs to judge it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ChangeView {
    #[serde(flatten)]
    pub change: Change,
    /// The ticket's taxonomy name, platform and ad account.
    pub ticket_name: String,
    pub platform: String,
    pub account_id: String,
    /// Daily spend before and after in the brand's currency, e.g. "50.00".
    pub daily_before: Option<String>,
    pub daily_after: Option<String>,
    pub audit: Vec<ChangeAudit>,
}

/// What asking for a change gives back.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ChangeOutput {
    pub change: ChangeView,
    /// For NEEDS_CONFIRMATION: show the person the change, and pass this to `confirm_change`
    /// only if they say yes. Works once, for 15 minutes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmation_token: Option<String>,
    pub message: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketIdInput {
    pub ticket_id: i64,
    /// Why, for the audit trail.
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeTicketInput {
    pub ticket_id: i64,
    /// The full new spec (same shape as create_ticket's payload_config); the change is the
    /// difference from the live one.
    pub payload_config: Value,
    /// Why, for the audit trail and the reviewer.
    pub reason: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmChangeInput {
    pub change_id: i64,
    /// The token `change_ticket` (or launch/resume) returned.
    pub token: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeIdInput {
    pub change_id: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackChangeInput {
    pub change_id: i64,
    pub reason: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListChangesInput {
    pub ticket_id: Option<i64>,
    /// NEEDS_CONFIRMATION, PENDING_REVIEW, QUEUED, APPLYING, APPLIED, FAILED, REJECTED or CANCELLED.
    pub status: Option<String>,
    /// At most 200; default 50.
    pub limit: Option<i64>,
    /// For the next page: the `next_before_id` of the previous one.
    pub before_id: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ChangeList {
    pub changes: Vec<Change>,
    pub next_before_id: Option<i64>,
}

/// What ops decided.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChangeDecision {
    pub change_id: i64,
    pub status: ChangeStatus,
    pub message: String,
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    use base64::Engine;
    let bytes: [u8; 24] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `[{"path", "before", "after"}]` of every leaf that differs.
fn field_diff(before: &Value, after: &Value) -> Value {
    let ops = json_patch::diff(before, after).0;
    Value::Array(
        ops.iter()
            .filter_map(|op| {
                let path = match op {
                    json_patch::PatchOperation::Add(a) => a.path.to_string(),
                    json_patch::PatchOperation::Remove(r) => r.path.to_string(),
                    json_patch::PatchOperation::Replace(r) => r.path.to_string(),
                    _ => return None,
                };
                Some(json!({
                    "path": format!("payload_config{}", path.replace('/', ".")),
                    "before": before.pointer(&path).cloned().unwrap_or(Value::Null),
                    "after": after.pointer(&path).cloned().unwrap_or(Value::Null),
                }))
            })
            .collect(),
    )
}

#[derive(Clone)]
pub struct ChangeService {
    governance: Governance,
    qa: QaService,
    clients: PlatformClients,
    versions: ApiVersions,
    jobs: JobQueue,
    settings: DeploySettings,
}

impl ChangeService {
    pub fn new(
        governance: Governance,
        qa: QaService,
        clients: PlatformClients,
        versions: ApiVersions,
        jobs: JobQueue,
        settings: DeploySettings,
    ) -> Self {
        Self {
            governance,
            qa,
            clients,
            versions,
            jobs,
            settings,
        }
    }

    /// Register the workers that apply queued changes, and their sweep.
    pub fn register_jobs(&self, workers: &mut Workers) {
        apply::register(self, workers);
    }

    fn translate(
        ctx: &TicketContext,
        payload: &Value,
        versions: &ApiVersions,
    ) -> AppResult<TranslatedPayloads> {
        let mut c = ctx.clone();
        c.ticket.payload_config = payload.clone();
        c.translate(versions)
    }

    /// Ask for a change; it is queued, or waits for the person or for ops (see the module).
    pub async fn request(
        &self,
        who: &Principal,
        ticket_id: i64,
        kind: ChangeKind,
        after: Option<Value>,
        reason: &str,
        rollback_of: Option<i64>,
    ) -> AppResult<ChangeOutput> {
        let ctx = self.governance.ticket_context(ticket_id).await?;
        let t = &ctx.ticket;
        let (from, _) = kind.ticket_move();
        if !from.contains(&t.status) {
            let want: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
            return Err(AppError::InvalidTransition {
                message: format!(
                    "ticket {ticket_id} is {}; a {kind} needs it to be {}",
                    t.status,
                    want.join(" or ")
                ),
            });
        }
        let ids = t.external_ids.as_object().cloned().unwrap_or_default();
        let currency = Currency::parse("currency", &ctx.brand.currency)?;
        let before = t.payload_config.clone();
        let after = after.unwrap_or_else(|| before.clone());
        let mut qa_report = None;
        // Prove the platform can make the change before anyone is asked to confirm it.
        match kind {
            ChangeKind::Edit => {
                crate::platforms::spec::CampaignSpec::parse(&after)?;
                if after == before {
                    return Err(AppError::validation(
                        "payload_config",
                        "is the same as the ticket's current spec; nothing to change",
                    ));
                }
                let report = self.qa.preview(ticket_id, after.clone()).await?;
                if report.blocking > 0 {
                    let findings: Vec<String> = report
                        .results
                        .iter()
                        .filter(|r| r.outcome == crate::qa::Outcome::Block)
                        .map(|r| format!("{} ({})", r.message, r.path.as_deref().unwrap_or("-")))
                        .collect();
                    return Err(AppError::validation(
                        "payload_config",
                        format!("the new spec fails pre-flight QA: {}", findings.join("; ")),
                    ));
                }
                qa_report = Some(serde_json::to_value(&report).unwrap_or(Value::Null));
                let b = Self::translate(&ctx, &before, &self.versions)?;
                let a = Self::translate(&ctx, &after, &self.versions)?;
                live::plan_edit(ctx.channel.platform, &b, &a, &ids)?;
            }
            _ => {
                live::plan_status(ctx.channel.platform, &ids, LiveStatus::Paused)?;
            }
        }
        let risk = match kind {
            ChangeKind::Edit => {
                crate::healing::classify_risk(&before, &after, &ctx.brand.currency, &[])
            }
            ChangeKind::Launch | ChangeKind::Resume => Risk::SpendIncrease,
            ChangeKind::Pause | ChangeKind::End => Risk::Safe,
        };
        let (daily_before, daily_after) =
            spend::daily_before_after(kind, &before, &after, currency);
        let db = self.governance.db();
        let limits = {
            let mut c = db.pool().acquire().await?;
            ReviewLimits::of(store::change_review_limits(&mut c, ctx.brand.id).await?)
        };
        let review = limits.needs_review(risk, daily_before, daily_after, currency);
        let (status, token) = if risk == Risk::Safe {
            (ChangeStatus::Queued, None)
        } else if review.is_some() {
            (ChangeStatus::PendingReview, None)
        } else {
            (ChangeStatus::NeedsConfirmation, Some(new_token()))
        };
        let hash = token.as_deref().map(token_hash);
        let expires = token.as_ref().map(|_| {
            (chrono::Utc::now() + chrono::Duration::minutes(TOKEN_TTL_MINUTES))
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string()
        });
        let diff = field_diff(&before, &after);
        let mut tx = db.begin_write().await?;
        // An unconfirmed change is superseded by a newer one; anything further along blocks.
        if let Some(open) = store::open_change_of(&mut tx, ticket_id).await? {
            if open.status == ChangeStatus::NeedsConfirmation {
                store::move_change(
                    &mut tx,
                    open.id,
                    ChangeStatus::NeedsConfirmation,
                    ChangeStatus::Cancelled,
                    None,
                )
                .await?;
                store::add_change_audit(
                    &mut tx,
                    open.id,
                    &who.name,
                    "CANCELLED",
                    Some("superseded by a newer change before it was confirmed"),
                )
                .await?;
            } else {
                return Err(AppError::Conflict {
                    field: Some("ticket_id".into()),
                    message: format!(
                        "change {} to ticket {ticket_id} is {}; wait for it (get_change) before asking for another",
                        open.id, open.status
                    ),
                });
            }
        }
        let id = store::insert_change(
            &mut tx,
            &NewChange {
                ticket_id,
                kind,
                status,
                risk,
                ticket_version: t.version,
                payload_before: &before,
                payload_after: &after,
                diff: &diff,
                daily_before_minor: daily_before,
                daily_after_minor: daily_after,
                currency: currency.as_str(),
                qa_report: qa_report.as_ref(),
                reason,
                rollback_of,
                token_hash: hash.as_deref(),
                token_expires_at: expires.as_deref(),
                requested_by: &who.name,
            },
        )
        .await?;
        store::add_change_audit(&mut tx, id, &who.name, "REQUESTED", Some(reason)).await?;
        let (action, detail) = match status {
            ChangeStatus::Queued => ("QUEUED", format!("{risk}: applied without confirmation")),
            ChangeStatus::PendingReview => ("SENT_TO_REVIEW", review.clone().unwrap_or_default()),
            _ => (
                "CONFIRMATION_ASKED",
                format!("{risk}: the person must confirm"),
            ),
        };
        store::add_change_audit(&mut tx, id, &who.name, action, Some(&detail)).await?;
        tx.commit().await?;
        if status == ChangeStatus::Queued {
            self.push(id).await;
        }
        let message = match status {
            ChangeStatus::Queued => format!(
                "{risk}: change {id} is queued and applied at once; follow it with get_change"
            ),
            ChangeStatus::PendingReview => format!(
                "change {id} waits for ops review ({}); ops approve or reject it over the REST review queue, an assistant cannot",
                review.unwrap_or_default()
            ),
            _ => format!(
                "{risk}: change {id} needs the person's confirmation. Show them the ticket, account, platform and the before/after, and call confirm_change with the token only if they say yes; it works once, for {TOKEN_TTL_MINUTES} minutes"
            ),
        };
        Ok(ChangeOutput {
            change: self.view(id).await?,
            confirmation_token: token,
            message,
        })
    }

    /// Queue the change's application; a failed push is picked up by the sweep.
    async fn push(&self, id: i64) {
        if let Err(e) = self.jobs.push(ChangeJob { change_id: id }, None).await {
            tracing::warn!(change_id = id, error = %e, "could not queue a change; the sweep retries it");
        }
    }

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
        store::add_change_audit(&mut tx, change_id, &who.name, "CONFIRMED", Some(how)).await?;
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
            store::add_change_audit(&mut tx, change_id, &who.name, "DECLINED", Some(why)).await?;
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
        self.authorize(who, change_id).await?;
        let change = self.get_change(change_id).await?;
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
        store::add_change_audit(&mut tx, change_id, &who.name, action, reason).await?;
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

    /// A new change back to the before values of an applied one, through the same gate.
    pub async fn rollback(
        &self,
        who: &Principal,
        change_id: i64,
        reason: Option<&str>,
    ) -> AppResult<ChangeOutput> {
        let change = self.get_change(change_id).await?;
        if change.status != ChangeStatus::Applied {
            return Err(AppError::Conflict {
                field: Some("change_id".into()),
                message: format!(
                    "change {change_id} is {}; only an APPLIED change can be rolled back",
                    change.status
                ),
            });
        }
        let (kind, after) = match change.kind {
            ChangeKind::Edit => (ChangeKind::Edit, Some(change.payload_before.clone())),
            ChangeKind::Launch | ChangeKind::Resume => (ChangeKind::Pause, None),
            ChangeKind::Pause => (ChangeKind::Resume, None),
            ChangeKind::End => {
                return Err(AppError::Conflict {
                    field: Some("change_id".into()),
                    message: "an ended ticket stays ended; traffic a new ticket instead".into(),
                });
            }
        };
        let why = reason
            .map(str::to_owned)
            .unwrap_or_else(|| format!("rollback of change {change_id}"));
        self.request(who, change.ticket_id, kind, after, &why, Some(change_id))
            .await
    }

    async fn get_change(&self, id: i64) -> AppResult<Change> {
        let mut c = self.governance.db().pool().acquire().await?;
        store::get_change(&mut c, id).await?.ok_or_else(|| {
            AppError::not_found("change", id)
                .with_field("change_id", "list_changes shows the changes")
        })
    }

    /// Refuse a caller whose brand scope does not cover the change's ticket.
    pub async fn authorize(&self, who: &Principal, change_id: i64) -> AppResult<()> {
        let change = self.get_change(change_id).await?;
        self.governance
            .authorize_ticket(who, change.ticket_id)
            .await
    }

    /// The change with its ticket, money in the brand's currency, and audit trail.
    pub async fn view(&self, id: i64) -> AppResult<ChangeView> {
        let change = self.get_change(id).await?;
        let ctx = self.governance.ticket_context(change.ticket_id).await?;
        let audit = {
            let mut c = self.governance.db().pool().acquire().await?;
            store::change_audit(&mut c, id).await?
        };
        let money = |m: Option<i64>| -> Option<String> {
            let currency = Currency::parse("currency", &change.currency).ok()?;
            Some(
                crate::domain::Money {
                    amount_minor: m?,
                    currency,
                }
                .to_major_string(),
            )
        };
        Ok(ChangeView {
            daily_before: money(change.daily_before_minor),
            daily_after: money(change.daily_after_minor),
            ticket_name: ctx.ticket.platform_name.clone(),
            platform: ctx.channel.platform.as_str().to_owned(),
            account_id: ctx.channel.account_id.clone(),
            change,
            audit,
        })
    }

    pub async fn list(&self, who: &Principal, input: ListChangesInput) -> AppResult<ChangeList> {
        let status = input
            .status
            .as_deref()
            .map(|s| ChangeStatus::parse("status", s))
            .transpose()?;
        let limit = input.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(AppError::validation("limit", "must be between 1 and 200"));
        }
        let mut c = self.governance.db().pool().acquire().await?;
        let changes = store::list_changes(
            &mut c,
            status,
            input.ticket_id,
            input.before_id,
            limit,
            who.brand_scope.as_deref(),
        )
        .await?;
        let next_before_id = (changes.len() as i64 == limit)
            .then(|| changes.last().map(|c| c.id))
            .flatten();
        Ok(ChangeList {
            changes,
            next_before_id,
        })
    }

    /// A ticket moves (and its spec changes) only when a change is applied, through the
    /// tickets writer, with its history row.
    async fn settle_ticket(&self, change: &Change, actor: &str) -> AppResult<()> {
        let ctx = self.governance.ticket_context(change.ticket_id).await?;
        let detail = format!("change {}: {}", change.id, change.kind);
        let mut tx = self.governance.db().begin_write().await?;
        let moved = match change.kind.ticket_move().1 {
            Some(to) if to != ctx.ticket.status => {
                tickets::transition(
                    &mut tx,
                    change.ticket_id,
                    ctx.ticket.status,
                    to,
                    "CHANGE_APPLIED",
                    actor,
                    Some(&detail),
                )
                .await?
            }
            Some(_) => true,
            None => {
                let mut t = ctx.ticket.clone();
                t.payload_config = change.payload_after.clone();
                tickets::save(
                    &mut tx,
                    &t,
                    ctx.ticket.status,
                    ctx.ticket.version,
                    &tickets::Edit {
                        event: "CHANGE_APPLIED",
                        actor,
                        detail: Some(&detail),
                    },
                )
                .await?
            }
        };
        if !moved {
            return Err(AppError::Conflict {
                field: None,
                message: format!(
                    "ticket {} changed while change {} was applied",
                    change.ticket_id, change.id
                ),
            });
        }
        tx.commit().await?;
        Ok(())
    }
}
