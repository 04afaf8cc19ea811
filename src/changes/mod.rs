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
mod review;
pub mod spend;
mod types;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::deploy::DeploySettings;
use crate::domain::{ChangeKind, ChangeStatus, Currency, Risk, TicketContext};
use crate::error::{AppError, AppResult};
use crate::governance::Governance;
use crate::jobs::{JobQueue, Workers};
use crate::platforms::client::PlatformClients;
use crate::platforms::live::{self, LiveStatus};
use crate::platforms::{ApiVersions, TranslatedPayloads};
use crate::qa::QaService;
use crate::store::{self, Change, NewChange};
use crate::tickets;

pub use apply::ChangeJob;
use spend::ReviewLimits;
pub use types::*;

/// How long a confirmation token works.
const TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

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

/// Apply the `external_ids` the results of an applied change carry: a string sets the key,
/// null drops it (no such object is left, e.g. the last criterion was removed).
fn merge_external_ids(ids: &mut Value, results: &Value) {
    if !ids.is_object() {
        *ids = json!({});
    }
    let Some(ids) = ids.as_object_mut() else {
        return;
    };
    for r in results.as_array().into_iter().flatten() {
        for (k, v) in r["external_ids"].as_object().into_iter().flatten() {
            match v {
                Value::String(s) => {
                    ids.insert(k.clone(), Value::String(s.clone()));
                }
                Value::Null => {
                    ids.remove(k);
                }
                _ => {}
            }
        }
    }
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
        let currency = Currency::parse("currency", &ctx.brand.currency)?;
        let before = t.payload_config.clone();
        let after = after.unwrap_or_else(|| before.clone());
        let mut qa_report = None;
        // A new spec must parse, differ and pass QA.
        if kind == ChangeKind::Edit {
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
        }
        // Prove the platform can make the change before anyone is asked to confirm it.
        let with_assets = self
            .governance
            .with_assets_of(ctx.clone(), &[&before, &after])
            .await?;
        self.plan(&with_assets, kind, &before, &after)?;
        let strategy = |v: &Value| {
            v.pointer("/bidding/strategy")
                .and_then(Value::as_str)
                .unwrap_or("LOWEST_COST")
                .to_owned()
        };
        let risk = match kind {
            // Another bidding strategy spends the budget differently (a cap lifted, a target
            // dropped) and restarts learning: never SAFE, whatever happens to the bid amount.
            ChangeKind::Edit if strategy(&before) != strategy(&after) => Risk::SpendIncrease,
            ChangeKind::Edit => {
                crate::healing::classify_risk(&before, &after, &ctx.brand.currency, &[])
            }
            ChangeKind::Launch | ChangeKind::Resume => Risk::SpendIncrease,
            ChangeKind::Pause | ChangeKind::End => Risk::Safe,
        };
        let (daily_before, daily_after) =
            spend::daily_before_after(kind, &before, &after, currency);
        let db = self.governance.db();
        let limits = ReviewLimits::of((
            ctx.brand.change_review_daily_minor,
            ctx.brand.change_review_percent,
        ));
        let review = limits.needs_review(risk, daily_before, daily_after, currency);
        let (status, token) = if risk == Risk::Safe {
            (ChangeStatus::Queued, None)
        } else if review.is_some() {
            (ChangeStatus::PendingReview, None)
        } else {
            (ChangeStatus::NeedsConfirmation, Some(new_token()))
        };
        let hash = token.as_deref().map(token_hash);
        let expires = token.as_ref().map(|_| crate::domain::text_in(TOKEN_TTL));
        let diff = field_diff(&before, &after);
        let mut tx = db.begin_write().await?;
        // An unconfirmed change is superseded by a newer one, and so is one waiting for review
        // when the newer one stops spending (pause, end: an emergency must not wait for ops).
        // Anything further along blocks.
        if let Some(open) = store::open_change_of(&mut tx, ticket_id).await? {
            let stops = matches!(kind, ChangeKind::Pause | ChangeKind::End);
            let supersede = open.status == ChangeStatus::NeedsConfirmation
                || (stops && open.status == ChangeStatus::PendingReview);
            let conflict = |open: &Change| AppError::Conflict {
                field: Some("ticket_id".into()),
                message: format!(
                    "change {} to ticket {ticket_id} is {}; wait for it (get_change) before asking for another",
                    open.id, open.status
                ),
            };
            if !supersede {
                return Err(conflict(&open));
            }
            if !store::move_change(&mut tx, open.id, open.status, ChangeStatus::Cancelled, None)
                .await?
            {
                // Confirmed or decided meanwhile.
                return Err(conflict(&open));
            }
            store::append_audit(
                store::Trail::Change,
                &mut tx,
                open.id,
                &who.name,
                "CANCELLED",
                Some(&format!(
                    "superseded by a newer {kind} before it was {}",
                    if open.status == ChangeStatus::PendingReview {
                        "reviewed"
                    } else {
                        "confirmed"
                    }
                )),
            )
            .await?;
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
        store::append_audit(
            store::Trail::Change,
            &mut tx,
            id,
            &who.name,
            "REQUESTED",
            Some(reason),
        )
        .await?;
        let (action, detail) = match status {
            ChangeStatus::Queued => ("QUEUED", format!("{risk}: applied without confirmation")),
            ChangeStatus::PendingReview => ("SENT_TO_REVIEW", review.clone().unwrap_or_default()),
            _ => (
                "CONFIRMATION_ASKED",
                format!("{risk}: the person must confirm"),
            ),
        };
        store::append_audit(
            store::Trail::Change,
            &mut tx,
            id,
            &who.name,
            action,
            Some(&detail),
        )
        .await?;
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
                "{risk}: change {id} needs the person's confirmation. Show them the ticket, account, platform and the before/after, and call confirm_change with the token only if they say yes; it works once, for {} minutes",
                TOKEN_TTL.as_secs() / 60
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
        // Only the ticket's latest applied change: rolling back an older one would also undo
        // every change made after it.
        let latest = {
            let mut c = self.governance.db().pool().acquire().await?;
            store::list_changes(
                &mut c,
                Some(ChangeStatus::Applied),
                Some(change.ticket_id),
                None,
                1,
                None,
            )
            .await?
        };
        if latest.first().map(|c| c.id) != Some(change_id) {
            return Err(AppError::Conflict {
                field: Some("change_id".into()),
                message: format!(
                    "change {change_id} is not the ticket's latest applied change, and rolling it back would also undo the later ones; roll back the latest first, or ask for the spec you want with change_ticket"
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
            store::audit_trail(store::Trail::Change, &mut c, id).await?
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

    /// What a change of `kind` from spec `before` to `after` asks of each live object, in
    /// order. Run when the change is asked for (so a change the platform cannot make is
    /// refused before anyone confirms it) and again when it is applied.
    fn plan(
        &self,
        ctx: &TicketContext,
        kind: ChangeKind,
        before: &Value,
        after: &Value,
    ) -> AppResult<Vec<live::ObjectUpdate>> {
        let ids = ctx
            .ticket
            .external_ids
            .as_object()
            .cloned()
            .unwrap_or_default();
        let platform = ctx.channel.platform;
        match kind {
            ChangeKind::Launch | ChangeKind::Resume => {
                live::plan_status(platform, &ids, LiveStatus::Active)
            }
            ChangeKind::Pause | ChangeKind::End => {
                live::plan_status(platform, &ids, LiveStatus::Paused)
            }
            ChangeKind::Edit => {
                let b = Self::translate(ctx, before, &self.versions)?;
                let a = Self::translate(ctx, after, &self.versions)?;
                // A live edit does not upload: an asset must be on the channel already.
                if let Some(id) = ctx
                    .assets
                    .by_id
                    .iter()
                    .find(|(_, r)| r.platform_id.is_none())
                    .map(|(id, _)| id)
                    .filter(|id| {
                        let ph = crate::domain::assets::asset_placeholder(id);
                        a.requests.iter().any(|r| r.body.to_string().contains(&ph))
                    })
                {
                    return Err(AppError::validation(
                        "payload_config.creative",
                        format!(
                            "asset {id} is not on channel {} yet (or a video is still processing); upload it there with upload_creative first: a live edit does not upload",
                            ctx.channel.code
                        ),
                    ));
                }
                live::plan_edit(platform, &b, &a, &ids)
            }
        }
    }

    /// A ticket moves (and its spec changes) only when a change is applied, through the
    /// tickets writer, with its history row, in the caller's transaction. An edit that
    /// replaced platform objects (results carrying `external_ids`) also records their new ids,
    /// so later changes and rollbacks address them. False (nothing written) when the ticket is
    /// no longer at the version the change was built on.
    async fn settle_ticket(
        &self,
        c: &mut sqlx::AnyConnection,
        change: &Change,
        results: &Value,
        actor: &str,
    ) -> AppResult<bool> {
        let ctx = self.governance.ticket_context(change.ticket_id).await?;
        if ctx.ticket.version != change.ticket_version {
            return Ok(false);
        }
        let detail = format!("change {}: {}", change.id, change.kind);
        match change.kind.ticket_move().1 {
            Some(to) if to != ctx.ticket.status => {
                tickets::transition(
                    c,
                    change.ticket_id,
                    ctx.ticket.status,
                    to,
                    "CHANGE_APPLIED",
                    actor,
                    Some(&detail),
                )
                .await
            }
            Some(_) => Ok(true),
            None => {
                let mut t = ctx.ticket.clone();
                t.payload_config = change.payload_after.clone();
                merge_external_ids(&mut t.external_ids, results);
                tickets::save(
                    c,
                    &t,
                    ctx.ticket.status,
                    change.ticket_version,
                    &tickets::Edit {
                        event: "CHANGE_APPLIED",
                        actor,
                        detail: Some(&detail),
                    },
                )
                .await
            }
        }
    }
}
