//! Applying a queued change on the job queue: every object read before it is written (fields
//! already at their target are skipped), in the order the plan gives, with retries for rate
//! limits and transient errors as in deploy. A refusal leaves a per-object report: what was
//! written, what already held, what failed, what was not reached.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::ChangeService;
use crate::domain::{ChangeKind, ChangeStatus};
use crate::error::AppResult;
use crate::jobs::{Job, Workers};
use crate::platforms::client::ErrorClass;
use crate::platforms::live::{self, Applied, LiveStatus, ObjectUpdate};
use crate::store;

/// Apply change `change_id`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeJob {
    pub change_id: i64,
}

impl Job for ChangeJob {
    const QUEUE: &'static str = "omnitraffick.change";
}

/// Who the worker writes history as.
const ACTOR: &str = "change-worker";

pub(super) fn register(service: &ChangeService, workers: &mut Workers) {
    let s = service.clone();
    workers.handle(2, move |job: ChangeJob| {
        let s = s.clone();
        async move { s.apply(job.change_id).await }
    });
    let s = service.clone();
    let every = service.settings.sweep_every;
    workers.every("change sweep", every, every, move || {
        let s = s.clone();
        async move { s.sweep(every).await }
    });
}

fn backoff(attempt: i64, base: Duration, max: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.clamp(0, 16) as u32);
    exp.min(max)
}

impl ChangeService {
    /// What the change asks of each live object, in order.
    fn plan(
        &self,
        change: &crate::store::Change,
        ctx: &crate::domain::TicketContext,
    ) -> crate::error::AppResult<Vec<ObjectUpdate>> {
        let ids = ctx
            .ticket
            .external_ids
            .as_object()
            .cloned()
            .unwrap_or_default();
        let platform = ctx.channel.platform;
        match change.kind {
            ChangeKind::Launch | ChangeKind::Resume => {
                live::plan_status(platform, &ids, LiveStatus::Active)
            }
            ChangeKind::Pause | ChangeKind::End => {
                live::plan_status(platform, &ids, LiveStatus::Paused)
            }
            ChangeKind::Edit => {
                let before = Self::translate(ctx, &change.payload_before, &self.versions)?;
                let after = Self::translate(ctx, &change.payload_after, &self.versions)?;
                live::plan_edit(platform, &before, &after, &ids)
            }
        }
    }

    /// One application attempt of a queued change.
    pub(super) async fn apply(&self, change_id: i64) -> AppResult<()> {
        let db = self.governance.db().clone();
        let change = {
            let mut c = db.pool().acquire().await?;
            store::get_change(&mut c, change_id).await?
        };
        let Some(change) = change else {
            return Ok(());
        };
        match change.status {
            ChangeStatus::Queued => {
                let mut tx = db.begin_write().await?;
                let took = store::move_change(
                    &mut tx,
                    change_id,
                    ChangeStatus::Queued,
                    ChangeStatus::Applying,
                    None,
                )
                .await?;
                if took {
                    store::append_audit(
                        store::Trail::Change,
                        &mut tx,
                        change_id,
                        ACTOR,
                        "APPLYING",
                        None,
                    )
                    .await?;
                }
                tx.commit().await?;
                if !took {
                    return Ok(());
                }
            }
            // A worker died mid-way, or this is a retry: every write is read first, so
            // going through the plan again is safe, once another worker is not at it.
            ChangeStatus::Applying => {
                let mut tx = db.begin_write().await?;
                let took = store::claim_change(&mut tx, change_id, &change.updated_at).await?;
                tx.commit().await?;
                if !took {
                    return Ok(());
                }
            }
            _ => return Ok(()),
        }
        if let Some(at) = change.next_attempt_at.as_deref()
            && let Ok(at) = chrono::DateTime::parse_from_rfc3339(at)
        {
            let wait = (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
                .to_std()
                .unwrap_or_default();
            if wait > Duration::from_secs(5) {
                self.jobs.push(ChangeJob { change_id }, Some(wait)).await?;
                return Ok(());
            }
            tokio::time::sleep(wait).await;
        }
        let ctx = self.governance.ticket_context(change.ticket_id).await?;
        if ctx.ticket.version != change.ticket_version {
            let why = format!(
                "the ticket changed (version {} to {}) after the change was asked for; nothing was sent. Ask for the change again",
                change.ticket_version, ctx.ticket.version
            );
            return self
                .finish(
                    &change,
                    ChangeStatus::Failed,
                    &json!([]),
                    Some(&json!({"message": why})),
                )
                .await;
        }
        let plan = match self.plan(&change, &ctx) {
            Ok(p) => p,
            Err(e) => {
                let err = json!({"message": e.to_string()});
                return self
                    .finish(&change, ChangeStatus::Failed, &json!([]), Some(&err))
                    .await;
            }
        };
        let mut results: Vec<Value> = Vec::with_capacity(plan.len());
        for (i, update) in plan.iter().enumerate() {
            let entry = |outcome: &str, extra: Value| {
                let mut v = json!({
                    "object": update.object,
                    "id": update.id,
                    "fields": update.fields,
                    "outcome": outcome,
                });
                if let (Some(o), Value::Object(x)) = (v.as_object_mut(), extra) {
                    o.extend(x);
                }
                v
            };
            match self.clients.apply_update(&ctx.channel, update).await {
                Ok(Applied::Written { fields }) => {
                    results.push(entry("WRITTEN", json!({"written": fields})))
                }
                Ok(Applied::AlreadyHeld) => results.push(entry("ALREADY_HELD", json!({}))),
                Err(e) => {
                    let error = serde_json::to_value(&e).unwrap_or(Value::Null);
                    results.push(entry("FAILED", json!({"error": error})));
                    for rest in &plan[i + 1..] {
                        results.push(json!({
                            "object": rest.object, "id": rest.id, "fields": rest.fields,
                            "outcome": "NOT_REACHED",
                        }));
                    }
                    let retryable = e.class != ErrorClass::Permanent;
                    if retryable && change.attempts + 1 < self.settings.max_attempts {
                        let wait = e
                            .retry_after()
                            .map(|w| w.min(self.settings.max_rate_limit_wait))
                            .unwrap_or_else(|| {
                                backoff(
                                    change.attempts,
                                    self.settings.backoff_base,
                                    self.settings.backoff_max,
                                )
                            });
                        let at = (chrono::Utc::now()
                            + chrono::Duration::from_std(wait).unwrap_or_default())
                        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                        .to_string();
                        let mut tx = db.begin_write().await?;
                        store::record_attempt(
                            &mut tx,
                            change_id,
                            &Value::Array(results),
                            Some(&error),
                            Some(&at),
                        )
                        .await?;
                        store::append_audit(
                            store::Trail::Change,
                            &mut tx,
                            change_id,
                            ACTOR,
                            "RETRY",
                            Some(&format!(
                                "{} on {} {}: {}; again in {} s",
                                e.platform.as_str(),
                                update.object,
                                update.id,
                                e.message,
                                wait.as_secs()
                            )),
                        )
                        .await?;
                        tx.commit().await?;
                        self.jobs.push(ChangeJob { change_id }, Some(wait)).await?;
                        return Ok(());
                    }
                    return self
                        .finish(
                            &change,
                            ChangeStatus::Failed,
                            &Value::Array(results),
                            Some(&error),
                        )
                        .await;
                }
            }
        }
        self.record_live_state(&ctx, &plan).await;
        self.finish(&change, ChangeStatus::Applied, &Value::Array(results), None)
            .await
    }

    /// Read back each object's delivery state and keep it on the ticket (`get_ticket` shows
    /// it). A read that fails leaves that object's state unknown; it never fails the change.
    async fn record_live_state(&self, ctx: &crate::domain::TicketContext, plan: &[ObjectUpdate]) {
        let mut objects = Vec::with_capacity(plan.len());
        for u in plan {
            let state = match self.clients.read_object(&ctx.channel, u).await {
                Ok(m) => m.get(live::DELIVERY_STATE).cloned().unwrap_or(Value::Null),
                Err(e) => {
                    tracing::warn!(object = %u.object, error = %e.message, "could not read back a live object's state");
                    Value::Null
                }
            };
            objects.push(json!({"object": u.object, "id": u.id, "delivery_state": state}));
        }
        let state = json!({"read_at": crate::domain::now_text(), "objects": objects});
        let write = async {
            let mut tx = self.governance.db().begin_write().await?;
            crate::tickets::record_live_state(&mut tx, ctx.ticket.id, &state).await?;
            tx.commit().await
        };
        if let Err(e) = write.await {
            tracing::warn!(ticket_id = ctx.ticket.id, error = %e, "could not record the live state");
        }
    }

    /// Record the outcome; an applied change moves the ticket (or its spec) through the
    /// tickets writer.
    async fn finish(
        &self,
        change: &crate::store::Change,
        to: ChangeStatus,
        results: &Value,
        error: Option<&Value>,
    ) -> AppResult<()> {
        if to == ChangeStatus::Applied {
            self.settle_ticket(change, ACTOR).await?;
        }
        let mut tx = self.governance.db().begin_write().await?;
        store::record_attempt(&mut tx, change.id, results, error, None).await?;
        store::move_change(&mut tx, change.id, ChangeStatus::Applying, to, None).await?;
        let summary = results
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|o| {
                        format!(
                            "{} {}: {}",
                            o["object"].as_str().unwrap_or("?"),
                            o["id"].as_str().unwrap_or("?"),
                            o["outcome"].as_str().unwrap_or("?")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        let detail = match error.and_then(|e| e["message"].as_str()) {
            Some(m) if summary.is_empty() => m.to_owned(),
            Some(m) => format!("{m} ({summary})"),
            None => summary,
        };
        store::append_audit(
            store::Trail::Change,
            &mut tx,
            change.id,
            ACTOR,
            to.as_str(),
            Some(&detail),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(change_id = change.id, ticket_id = change.ticket_id, status = %to, "change settled");
        Ok(())
    }

    /// Re-queue changes whose job went missing or whose worker died.
    async fn sweep(&self, every: Duration) -> AppResult<()> {
        let before = (chrono::Utc::now()
            - chrono::Duration::from_std(every * 4).unwrap_or(chrono::Duration::seconds(60)))
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
        let db = self.governance.db();
        let stalled = {
            let mut c = db.pool().acquire().await?;
            store::stalled_changes(&mut c, &before).await?
        };
        for id in stalled {
            tracing::warn!(
                change_id = id,
                "re-queueing a change whose worker or job went missing"
            );
            let mut tx = db.begin_write().await?;
            store::touch_change(&mut tx, id).await?;
            tx.commit().await?;
            self.jobs.push(ChangeJob { change_id: id }, None).await?;
        }
        Ok(())
    }
}
