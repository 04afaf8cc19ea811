//! Read-back: daily metrics and delivery states of every deployed ticket, synced on a
//! schedule and on demand; insights for assistants with exact money; pacing with the
//! platforms' reasons.
//!
//! A sync reads the ticket's campaign day by day (Meta insights, TikTok integrated report,
//! Google GAQL) and each live object's delivery diagnostics, then replaces the stored days
//! of the window and the delivery in one transaction: a re-sync never adds a day twice, and
//! a failed sync keeps the last good data (its error is kept beside it).

pub mod audit;
mod memory;
pub mod pacing;
mod query;

use std::time::Duration;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::{Currency, TicketContext, TicketStatus};
use crate::error::{AppError, AppResult};
use crate::governance::Governance;
use crate::jobs::{Job, JobQueue, Workers};
use crate::platforms::client::{ErrorClass, PlatformClients, PlatformError};
use crate::store::{self, DailyMetric};

pub use memory::results_document_name;
pub use query::*;

/// How the read-back runs.
#[derive(Debug, Clone)]
pub struct InsightsSettings {
    /// How often every deployed ticket is synced (default hourly).
    pub every: Duration,
    /// How many days back a sync reads (older days stay as last read).
    pub lookback_days: i64,
    /// Attempts of a queued sync that meets rate limits or platform outages.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt.
    pub retry_base: Duration,
}

impl Default for InsightsSettings {
    fn default() -> Self {
        Self {
            every: Duration::from_secs(3600),
            lookback_days: 90,
            max_attempts: 5,
            retry_base: Duration::from_secs(30),
        }
    }
}

/// A queued sync of one ticket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InsightsJob {
    pub ticket_id: i64,
    #[serde(default)]
    pub attempt: u32,
}

impl Job for InsightsJob {
    const QUEUE: &'static str = "omnitraffick::insights";
}

#[derive(Clone)]
pub struct InsightsService {
    governance: Governance,
    clients: PlatformClients,
    jobs: JobQueue,
    settings: InsightsSettings,
    /// Where a finished campaign's results are remembered (see `memory`).
    copilot: Option<crate::copilot::CopilotService>,
}

/// What one ticket's sync did.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SyncOutcome {
    pub ticket_id: i64,
    /// SYNCED, FAILED (kept with the last good data) or RETRY_QUEUED (rate limit or outage:
    /// a worker tries again).
    pub status: String,
    /// The days read (YYYY-MM-DD, account time zone).
    pub from: Option<String>,
    pub to: Option<String>,
    pub days: usize,
    /// Live objects whose delivery state was read.
    pub objects: usize,
    pub error: Option<String>,
}

/// The tickets a sync covers and what happened to each.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SyncOutput {
    pub synced: usize,
    pub failed: usize,
    pub tickets: Vec<SyncOutcome>,
    /// Tickets in scope that have nothing live to read (not deployed).
    pub skipped: Vec<String>,
}

/// An error a platform gave, in what may be stored and shown (no secrets are ever in it).
fn error_json(e: &PlatformError) -> Value {
    json!({
        "platform": e.platform.as_str(),
        "class": format!("{:?}", e.class),
        "code": e.code,
        "message": e.message,
        "object": e.object,
        "at": crate::domain::now_text(),
    })
}

/// The statuses whose tickets have live objects to read.
pub const DEPLOYED: &[TicketStatus] = &[
    TicketStatus::TraffickedSuccess,
    TicketStatus::Live,
    TicketStatus::Paused,
    TicketStatus::Ended,
];

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl InsightsService {
    pub fn new(
        governance: Governance,
        clients: PlatformClients,
        jobs: JobQueue,
        settings: InsightsSettings,
        copilot: Option<crate::copilot::CopilotService>,
    ) -> Self {
        Self {
            governance,
            clients,
            jobs,
            settings,
            copilot,
        }
    }

    /// The sync job, and the scheduled chore that queues a sync of every deployed ticket.
    pub fn register_jobs(&self, workers: &mut Workers) {
        let me = self.clone();
        workers.handle::<InsightsJob, _, _>(1, move |job| {
            let me = me.clone();
            async move { me.run_job(job).await }
        });
        let me = self.clone();
        let every = self.settings.every;
        workers.every(
            "insights sync",
            Duration::from_secs(5).min(every),
            every,
            move || {
                let me = me.clone();
                async move { me.queue_due().await.map(|_| ()) }
            },
        );
    }

    /// Queue a sync of every deployed ticket not attempted in the last half period (several
    /// processes running the chore queue each ticket about once). Returns how many.
    pub async fn queue_due(&self) -> AppResult<usize> {
        let ended_since = crate::domain::text_ago(Duration::from_secs(7 * 86_400));
        let recent = crate::domain::text_ago(self.settings.every / 2);
        let mut c = self.governance.db().pool().acquire().await?;
        let ids = store::tickets_to_sync(&mut c, &ended_since).await?;
        let mut queued = 0;
        for id in ids {
            if let Some(s) = store::sync_state(&mut c, id).await?
                && s.attempted_at > recent
            {
                continue;
            }
            self.jobs
                .push(
                    InsightsJob {
                        ticket_id: id,
                        attempt: 0,
                    },
                    None,
                )
                .await?;
            queued += 1;
        }
        Ok(queued)
    }

    async fn run_job(&self, job: InsightsJob) -> AppResult<()> {
        let out = match self.sync_ticket(job.ticket_id).await {
            Ok(o) => o,
            // A ticket that went away or is not deployed any more: nothing to retry.
            Err(e) => {
                tracing::info!(ticket_id = job.ticket_id, error = %e, "insights sync skipped");
                return Ok(());
            }
        };
        if out.status == "RETRY_QUEUED" && job.attempt + 1 < self.settings.max_attempts {
            let wait = self.settings.retry_base * 2u32.saturating_pow(job.attempt);
            self.jobs
                .push(
                    InsightsJob {
                        ticket_id: job.ticket_id,
                        attempt: job.attempt + 1,
                    },
                    Some(wait),
                )
                .await?;
        }
        Ok(())
    }

    /// Sync one ticket now. Not deployed: a validation error. A platform failure is recorded
    /// (the last good data stays) and answered as FAILED or RETRY_QUEUED, not as an error.
    pub async fn sync_ticket(&self, ticket_id: i64) -> AppResult<SyncOutcome> {
        let ctx = self.governance.ticket_context(ticket_id).await?;
        let ids = ctx
            .ticket
            .external_ids
            .as_object()
            .cloned()
            .unwrap_or_default();
        if !DEPLOYED.contains(&ctx.ticket.status) || !ids.contains_key("campaign") {
            return Err(AppError::validation(
                "ticket_id",
                format!(
                    "ticket {ticket_id} is {} with nothing live on the platform; only deployed tickets (TRAFFICKED_SUCCESS, LIVE, PAUSED, ENDED) have insights",
                    ctx.ticket.status
                ),
            ));
        }
        let (from, to) = self.window(&ctx);
        let mut outcome = SyncOutcome {
            ticket_id,
            status: "SYNCED".into(),
            from: Some(from.clone()),
            to: Some(to.clone()),
            days: 0,
            objects: 0,
            error: None,
        };
        let read = async {
            let metrics = if from <= to {
                self.clients
                    .daily_metrics(&ctx.channel, &ids, &from, &to)
                    .await?
            } else {
                Vec::new()
            };
            let delivery = self.clients.delivery(&ctx.channel, &ids).await?;
            Ok::<_, PlatformError>((metrics, delivery))
        };
        let read = match read.await {
            Ok((metrics, delivery)) => self.guard(&ctx, &from, &to, metrics, delivery).await?,
            Err(e) => Err(e),
        };
        let (metrics, delivery) = match read {
            Ok(r) => r,
            Err(e) => {
                let mut tx = self.governance.db().begin_write().await?;
                store::record_sync_failed(&mut tx, ticket_id, &error_json(&e)).await?;
                tx.commit().await?;
                tracing::warn!(ticket_id, error = %e, "insights sync failed");
                outcome.status = match e.class {
                    ErrorClass::RateLimited | ErrorClass::Transient => "RETRY_QUEUED",
                    _ => "FAILED",
                }
                .into();
                outcome.error = Some(e.to_string());
                return Ok(outcome);
            }
        };
        let rows: Vec<DailyMetric> = metrics
            .iter()
            .map(|m| DailyMetric {
                ticket_id,
                platform: ctx.channel.platform.as_str().to_owned(),
                object: m.object.clone(),
                object_id: m.object_id.clone(),
                day: m.day.clone(),
                currency: m
                    .currency
                    .clone()
                    .unwrap_or_else(|| ctx.brand.currency.clone()),
                spend_micros: m.spend_micros,
                impressions: m.impressions,
                clicks: m.clicks,
                conversions_milli: m.conversions_milli,
            })
            .collect();
        let campaign_id = ids
            .get("campaign")
            .and_then(|v| match v {
                Value::String(s) => Some(s.trim().to_owned()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .unwrap_or_default();
        let delivery_json = json!({
            "read_at": crate::domain::now_text(),
            "objects": delivery,
        });
        let mut tx = self.governance.db().begin_write().await?;
        if from <= to {
            store::replace_daily(
                &mut tx,
                ticket_id,
                "campaign",
                &campaign_id,
                (&from, &to),
                &rows,
            )
            .await?;
        }
        store::record_sync_ok(&mut tx, ticket_id, &delivery_json).await?;
        tx.commit().await?;
        outcome.days = rows.len();
        outcome.objects = delivery.len();
        if ctx.ticket.status == TicketStatus::Ended {
            // The metrics are safe; a failure to write the summary is retried next sync.
            if let Err(e) = self.remember_campaign(ctx.campaign.id).await {
                tracing::warn!(campaign_id = ctx.campaign.id, error = %e, "could not keep the campaign's results for the copilot");
            }
        }
        Ok(outcome)
    }

    /// Check a platform's answer against what is stored before it replaces anything:
    /// - an empty report for days that had spend (the campaign was deleted on the platform,
    ///   or a reporting gap) is refused, so stored figures are never wiped by silence;
    /// - an object that could not be read keeps its last known delivery (marked with the
    ///   error), so one throttled read does not erase a disapproval from the pacing reasons.
    async fn guard(
        &self,
        ctx: &TicketContext,
        from: &str,
        to: &str,
        metrics: Vec<crate::platforms::client::DayMetrics>,
        mut delivery: Vec<crate::platforms::client::Delivery>,
    ) -> AppResult<
        Result<
            (
                Vec<crate::platforms::client::DayMetrics>,
                Vec<crate::platforms::client::Delivery>,
            ),
            PlatformError,
        >,
    > {
        let id = ctx.ticket.id;
        let mut c = self.governance.db().pool().acquire().await?;
        if metrics.is_empty() && from <= to {
            let stored =
                store::daily_metrics(&mut c, &store::MetricScope::Tickets(&[id]), (from, to))
                    .await?;
            if stored.iter().any(|r| r.spend_micros != 0) {
                return Ok(Err(PlatformError {
                    class: ErrorClass::Permanent,
                    code: Some("EMPTY_REPORT".into()),
                    object: Some("campaign".into()),
                    message: format!(
                        "the platform reported no delivery from {from} to {to}, where {} day(s) with spend are stored (was the campaign deleted on the platform?); the stored figures were kept",
                        stored.iter().filter(|r| r.spend_micros != 0).count()
                    ),
                    ..PlatformError::empty(ctx.channel.platform)
                }));
            }
        }
        if delivery.iter().any(|d| d.error.is_some()) {
            let before: Vec<crate::platforms::client::Delivery> = store::sync_state(&mut c, id)
                .await?
                .and_then(|s| s.delivery)
                .and_then(|d| d.get("objects").cloned())
                .and_then(|o| serde_json::from_value(o).ok())
                .unwrap_or_default();
            for d in delivery.iter_mut().filter(|d| d.error.is_some()) {
                if let Some(old) = before
                    .iter()
                    .find(|o| o.object == d.object && o.id == d.id && o.error.is_none())
                {
                    d.state = old.state.clone();
                    d.fields = old.fields.clone();
                }
            }
        }
        Ok(Ok((metrics, delivery)))
    }

    /// The days a sync reads: from the schedule's start (or the ticket's creation) but at
    /// most `lookback_days` back, to today or the schedule's end, whichever is first. Dates
    /// are the account's; the UTC date is close enough to bound the window.
    fn window(&self, ctx: &TicketContext) -> (String, String) {
        let today = Utc::now().date_naive();
        let spec = crate::platforms::spec::CampaignSpec::parse(&ctx.ticket.payload_config).ok();
        let schedule = spec.and_then(|s| s.schedule);
        let start = schedule
            .as_ref()
            .and_then(|s| s.start_time.get(..10).map(str::to_owned))
            .or_else(|| ctx.ticket.created_at.get(..10).map(str::to_owned))
            .and_then(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
            .unwrap_or(today);
        let end = schedule
            .as_ref()
            .and_then(|s| s.end_time.as_deref())
            .and_then(|e| e.get(..10))
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .map_or(today, |e| e.min(today));
        let earliest = today - chrono::Duration::days(self.settings.lookback_days);
        (start.max(earliest).to_string(), end.to_string())
    }

    /// Sync a ticket, or every deployed ticket of a campaign, now.
    pub async fn sync(
        &self,
        ticket_id: Option<i64>,
        campaign_id: Option<i64>,
    ) -> AppResult<SyncOutput> {
        let tickets = self.scope_tickets(ticket_id, campaign_id).await?;
        let mut out = SyncOutput {
            synced: 0,
            failed: 0,
            tickets: Vec::new(),
            skipped: Vec::new(),
        };
        for t in tickets {
            if !DEPLOYED.contains(&t.status) {
                if ticket_id.is_some() {
                    // Asked for this one: say why plainly.
                    self.sync_ticket(t.id).await?;
                }
                out.skipped.push(format!(
                    "ticket {} is {}: nothing live to read",
                    t.id, t.status
                ));
                continue;
            }
            let o = self.sync_ticket(t.id).await?;
            if o.status == "SYNCED" {
                out.synced += 1;
            } else {
                out.failed += 1;
                if o.status == "RETRY_QUEUED" {
                    self.jobs
                        .push(
                            InsightsJob {
                                ticket_id: t.id,
                                attempt: 1,
                            },
                            Some(self.settings.retry_base),
                        )
                        .await?;
                }
            }
            out.tickets.push(o);
        }
        Ok(out)
    }

    /// The tickets of exactly one of a ticket or a campaign (bounded).
    async fn scope_tickets(
        &self,
        ticket_id: Option<i64>,
        campaign_id: Option<i64>,
    ) -> AppResult<Vec<crate::domain::Ticket>> {
        match (ticket_id, campaign_id) {
            (Some(id), None) => Ok(vec![self.governance.get_ticket(id).await?.ticket]),
            (None, Some(cid)) => {
                self.governance.get_campaign(cid).await?;
                let mut c = self.governance.db().pool().acquire().await?;
                let filter = store::TicketFilter {
                    campaign_id: Some(cid),
                    limit: MAX_TICKETS,
                    ..Default::default()
                };
                store::list_tickets(&mut c, &filter).await
            }
            _ => Err(AppError::validation(
                "ticket_id",
                "give exactly one of ticket_id or campaign_id",
            )),
        }
    }
}

/// Most tickets one campaign-wide sync or pacing answer covers.
pub const MAX_TICKETS: i64 = 200;

fn currency_of(code: &str) -> AppResult<Currency> {
    Currency::parse("currency", code)
}
