//! Applying a queued change on the job queue: every object read before it is written (fields
//! already at their target are skipped), in the order the plan gives, with retries for rate
//! limits and transient errors as in deploy. A refusal leaves a per-object report: what was
//! written, what already held, what failed, what was not reached.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::ChangeService;
use crate::domain::ChangeStatus;
use crate::error::AppResult;
use crate::jobs::{Job, Workers};
use crate::platforms::client::ErrorClass;
use crate::platforms::live::{self, Applied, ObjectUpdate};
use crate::store;
use crate::tickets;

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

/// How long until `at` (RFC 3339), if it is in the future.
fn due_in(at: Option<&str>) -> Option<Duration> {
    let at = chrono::DateTime::parse_from_rfc3339(at?).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

fn backoff(attempt: i64, base: Duration, max: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.clamp(0, 16) as u32);
    exp.min(max)
}

impl ChangeService {
    /// Take a due change for this worker: a QUEUED one (the status move decides between
    /// workers), or an APPLYING one whose worker stopped renewing it (it died).
    async fn take(&self, change_id: i64) -> AppResult<Option<crate::store::Change>> {
        let db = self.governance.db();
        let change = {
            let mut c = db.pool().acquire().await?;
            store::get_change(&mut c, change_id).await?
        };
        let Some(change) = change else {
            return Ok(None);
        };
        // Not due yet (the queue schedules in whole seconds): wait out a short remainder
        // before taking it, re-queue a long one.
        if change.status == ChangeStatus::Queued
            && let Some(wait) = due_in(change.next_attempt_at.as_deref())
        {
            if wait > Duration::from_secs(5) {
                self.jobs.push(ChangeJob { change_id }, Some(wait)).await?;
                return Ok(None);
            }
            tokio::time::sleep(wait).await;
        }
        let mut tx = db.begin_write().await?;
        let took = match change.status {
            ChangeStatus::Queued => {
                store::move_change(
                    &mut tx,
                    change_id,
                    ChangeStatus::Queued,
                    ChangeStatus::Applying,
                    None,
                )
                .await?
            }
            ChangeStatus::Applying => {
                let stale = crate::domain::text_ago(self.settings.lease);
                store::claim_stale_change(&mut tx, change_id, &change.updated_at, &stale).await?
            }
            _ => false,
        };
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
        Ok(took.then_some(change))
    }

    /// One application attempt of a queued change. Whatever goes wrong once the change is
    /// taken is recorded on it: it is tried again, or fails with the reason, never left hanging.
    pub(super) async fn apply(&self, change_id: i64) -> AppResult<()> {
        let Some(change) = self.take(change_id).await? else {
            return Ok(());
        };
        if let Err(e) = self.attempt(&change).await {
            self.attempt_failed(&change, &json!({"message": e.to_string()}), None, None)
                .await?;
        }
        Ok(())
    }

    async fn attempt(&self, change: &crate::store::Change) -> AppResult<()> {
        let change_id = change.id;
        let ctx = self.governance.ticket_context(change.ticket_id).await?;
        if ctx.ticket.version != change.ticket_version {
            let written = change
                .results
                .as_array()
                .is_some_and(|r| r.iter().any(|o| o["outcome"] == "WRITTEN"));
            let why = if change.attempts == 0 && !written {
                format!(
                    "the ticket changed (version {} to {}) after the change was asked for; nothing was sent. Ask for the change again",
                    change.ticket_version, ctx.ticket.version
                )
            } else {
                format!(
                    "the ticket changed (version {} to {}) while this change was being applied; the results show what the platform already holds. Check the ticket and ask again",
                    change.ticket_version, ctx.ticket.version
                )
            };
            return self
                .finish(
                    change,
                    ChangeStatus::Failed,
                    &change.results,
                    Some(&json!({"message": why})),
                )
                .await;
        }
        let ctx = self
            .governance
            .with_assets_of(ctx, &[&change.payload_before, &change.payload_after])
            .await?;
        let plan = match self.plan(
            &ctx,
            change.kind,
            &change.payload_before,
            &change.payload_after,
        ) {
            Ok(p) => p,
            Err(e) => {
                let err = json!({"message": e.to_string()});
                return self
                    .finish(change, ChangeStatus::Failed, &json!([]), Some(&err))
                    .await;
            }
        };
        let mut results: Vec<Value> = Vec::with_capacity(plan.len());
        for (i, update) in plan.iter().enumerate() {
            // Renew the claim, so no other worker takes this change as abandoned.
            {
                let mut tx = self.governance.db().begin_write().await?;
                store::touch_change(&mut tx, change_id).await?;
                tx.commit().await?;
            }
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
            // Objects replaced rather than changed (a Google ad or criteria, a Meta creative)
            // hand back their new ids: kept on the result, and on the ticket when it settles.
            let new_ids = |ids: serde_json::Map<String, Value>| {
                if ids.is_empty() {
                    json!({})
                } else {
                    json!({ "external_ids": ids })
                }
            };
            match self
                .clients
                .apply_update_with_ids(&ctx.channel, update)
                .await
            {
                Ok((Applied::Written { fields }, ids)) => {
                    let mut extra = new_ids(ids);
                    extra["written"] = json!(fields);
                    results.push(entry("WRITTEN", extra))
                }
                Ok((Applied::AlreadyHeld, ids)) => {
                    results.push(entry("ALREADY_HELD", new_ids(ids)))
                }
                Err(e) => {
                    let error = serde_json::to_value(&e).unwrap_or(Value::Null);
                    results.push(entry("FAILED", json!({"error": error})));
                    for rest in &plan[i + 1..] {
                        results.push(json!({
                            "object": rest.object, "id": rest.id, "fields": rest.fields,
                            "outcome": "NOT_REACHED",
                        }));
                    }
                    let results = Value::Array(results);
                    if e.class == ErrorClass::Permanent {
                        return self
                            .finish(change, ChangeStatus::Failed, &results, Some(&error))
                            .await;
                    }
                    let wait = e
                        .retry_after()
                        .map(|w| w.min(self.settings.max_rate_limit_wait));
                    let what = format!(
                        "{} on {} {}: {}",
                        e.platform.as_str(),
                        update.object,
                        update.id,
                        e.message
                    );
                    return self
                        .attempt_failed(change, &error, Some(&results), wait.map(|w| (w, what)))
                        .await;
                }
            }
        }
        // Read back the objects as they now are: a replaced one under its new id.
        let now: Vec<ObjectUpdate> = plan
            .iter()
            .zip(&results)
            .map(|(u, r)| match r["external_ids"][&u.object].as_str() {
                Some(id) => ObjectUpdate {
                    id: id.to_owned(),
                    ..u.clone()
                },
                None => u.clone(),
            })
            .collect();
        self.record_live_state(&ctx, &now).await;
        self.finish(change, ChangeStatus::Applied, &Value::Array(results), None)
            .await
    }

    /// A retryable failure: queue the change again after the platform's wait (or a back-off),
    /// or fail it for good once its attempts are spent.
    async fn attempt_failed(
        &self,
        change: &crate::store::Change,
        error: &Value,
        results: Option<&Value>,
        wait: Option<(Duration, String)>,
    ) -> AppResult<()> {
        let results = results.unwrap_or(&change.results);
        if change.attempts + 1 >= self.settings.max_attempts {
            return self
                .finish(change, ChangeStatus::Failed, results, Some(error))
                .await;
        }
        let (wait, what) = wait.unwrap_or_else(|| {
            (
                backoff(
                    change.attempts,
                    self.settings.backoff_base,
                    self.settings.backoff_max,
                ),
                error["message"].as_str().unwrap_or("failed").to_owned(),
            )
        });
        let at = crate::domain::text_in(wait);
        let mut tx = self.governance.db().begin_write().await?;
        if !store::move_change(
            &mut tx,
            change.id,
            ChangeStatus::Applying,
            ChangeStatus::Queued,
            None,
        )
        .await?
        {
            return Ok(());
        }
        store::record_attempt(&mut tx, change.id, results, Some(error), Some(&at)).await?;
        let detail = format!("{what}; again in {} s", wait.as_secs());
        store::append_audit(
            store::Trail::Change,
            &mut tx,
            change.id,
            ACTOR,
            "RETRY",
            Some(&detail),
        )
        .await?;
        tx.commit().await?;
        self.jobs
            .push(
                ChangeJob {
                    change_id: change.id,
                },
                Some(wait),
            )
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

    /// Record the outcome and, for an applied change, move the ticket (or replace its spec)
    /// through the tickets writer, all in one transaction. A ticket that changed meanwhile
    /// fails the change instead, with what the platform was written.
    async fn finish(
        &self,
        change: &crate::store::Change,
        to: ChangeStatus,
        results: &Value,
        error: Option<&Value>,
    ) -> AppResult<()> {
        let mut tx = self.governance.db().begin_write().await?;
        if !store::move_change(&mut tx, change.id, ChangeStatus::Applying, to, None).await? {
            // Another worker settled it.
            return Ok(());
        }
        if to == ChangeStatus::Applied
            && !self.settle_ticket(&mut tx, change, results, ACTOR).await?
        {
            drop(tx);
            let why = json!({"message": "the platform holds the new values, but the ticket changed meanwhile and was not updated; check it and reconcile"});
            return Box::pin(self.finish(change, ChangeStatus::Failed, results, Some(&why))).await;
        }
        store::record_attempt(&mut tx, change.id, results, error, None).await?;
        if to == ChangeStatus::Failed {
            // Objects a failed change already replaced (a new Google ad, new criteria, a new
            // Meta creative, TikTok ads) keep their ids on the ticket, so a later launch,
            // pause or change addresses what delivers, not what it replaced. (An applied
            // change records them with its spec in `settle_ticket`.)
            for r in results.as_array().into_iter().flatten() {
                for (object, id) in r["external_ids"].as_object().into_iter().flatten() {
                    let id = id.as_str().unwrap_or("");
                    tickets::put_external_id(&mut tx, change.ticket_id, object, id).await?;
                }
            }
        }
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
        let before = crate::domain::text_ago(every * 4);
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
