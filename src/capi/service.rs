//! Intake and delivery of conversion events. Intake validates each event (bad ones are
//! refused locally with the reason, so one bad event never fails a whole batch), hashes its
//! customer data, dedupes on (brand, destination, event_name, event_id) within 48 hours, stores only
//! what will be sent, and queues delivery. Delivery sends batches of at most 1,000 events per
//! destination, records each batch, and retries rate limits and transient errors.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::raw::Object;
use super::{given_event_id, intake, normalize, validate_event};
use crate::domain::Platform;
use crate::error::{AppError, AppResult};
use crate::governance::Governance;
use crate::platforms::client::{ErrorClass, PlatformClients};
use crate::store;

const DEDUPE_SECS: i64 = 48 * 3600;
const BATCH: i64 = 1000;
const MAX_ATTEMPTS: i64 = 8;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendEventsInput {
    /// Brand whose pixels receive the events, e.g. "AUR" (needs meta_pixel_id and/or
    /// tiktok_pixel_code).
    pub brand_code: String,
    /// Server events in Meta's shape: event_name, event_time (Unix seconds), event_id
    /// (optional; generated and returned when absent), action_source, event_source_url,
    /// user_data (raw or already hashed: em, ph, fn, ln, ge, db, ct, st, zp, country,
    /// external_id; in clear: client_ip_address, client_user_agent, fbc, fbp), custom_data.
    /// Example: [{"event_name": "Purchase", "event_time": 1764000000, "action_source":
    /// "website", "event_source_url": "https://shop.example/done", "user_data": {"em":
    /// "jane@example.com", "client_user_agent": "Mozilla/5.0"}, "custom_data": {"currency":
    /// "USD", "value": 19.99}}]. At most 1,000 per call.
    #[schemars(with = "Vec<serde_json::Map<String, Value>>")]
    pub events: Vec<Box<RawValue>>,
    /// Events Manager test code; the events then show in Test Events only.
    pub test_event_code: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EventResult {
    pub index: usize,
    /// The id to reuse in the browser pixel (given, or generated).
    pub event_id: Option<String>,
    /// ACCEPTED (queued for delivery), DUPLICATE (already received within 48 hours; not
    /// sent again) or REJECTED (see field and reason).
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SendEventsOutput {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: usize,
    /// META and/or TIKTOK.
    pub destinations: Vec<String>,
    pub results: Vec<EventResult>,
}

/// What a delivery run did.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    /// Nothing left queued.
    Done,
    /// More to send (another batch, or a retry after this delay).
    Again(Duration),
}

/// How long conversion data is kept. Events hold the client IP and user agent in clear.
#[derive(Debug, Clone, PartialEq)]
pub struct CapiRetention {
    /// Dedupe keys; never less than the 48-hour dedupe window, or duplicates would get through.
    pub dedupe_keys: Duration,
    /// Sent and failed events (queued ones are kept until they are sent or fail), and the
    /// batches they were sent in.
    pub finished_events: Duration,
}

impl Default for CapiRetention {
    /// 48 hours for dedupe keys, 7 days for finished events.
    fn default() -> Self {
        Self {
            dedupe_keys: Duration::from_secs(DEDUPE_SECS as u64),
            finished_events: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// What one retention run deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionOutcome {
    pub events: u64,
    pub dedupe_keys: u64,
    pub batches: u64,
}

/// Rows deleted per write transaction, so SQLite's single writer is never held for long.
const RETENTION_CHUNK: i64 = 5000;

#[derive(Clone)]
pub struct CapiService {
    governance: Governance,
    intake: std::sync::Arc<intake::IntakeBatcher>,
    clients: PlatformClients,
    queue: crate::jobs::JobQueue,
    retention: CapiRetention,
}

/// TikTok's event from the prepared event and the caller's (checked) event, with `user`
/// hashed by TikTok's own rules from the raw input (a phone is hashed in E.164 with its "+",
/// which Meta's hash cannot give).
fn tiktok_event(prep: &super::PreparedEvent, raw: &RawValue) -> Value {
    // Both were read without error when the event was checked.
    let event = Object::parse(raw).ok().flatten().unwrap_or_default();
    let part = |k: &str| {
        event
            .get(k)
            .and_then(|v| Object::parse(v).ok().flatten())
            .unwrap_or_default()
    };
    let user = normalize::tiktok_user(&part("user_data")).unwrap_or_default();
    let custom = part("custom_data");
    let mut props = json!({});
    for (from, to) in [
        ("value", "value"),
        ("currency", "currency"),
        ("content_ids", "content_ids"),
        ("order_id", "order_id"),
    ] {
        if let Some(v) = custom
            .get(from)
            .and_then(|v| serde_json::from_str(v.get()).ok())
        {
            props[to] = v;
        }
    }
    let url = event
        .get("event_source_url")
        .and_then(|v| serde_json::from_str(v.get()).ok())
        .unwrap_or(Value::Null);
    json!({
        "event": prep.event_name,
        "event_time": prep.event_time,
        "event_id": prep.event_id,
        "user": user,
        "properties": props,
        "page": {"url": url},
    })
}

impl CapiService {
    pub fn new(
        governance: Governance,
        clients: PlatformClients,
        queue: crate::jobs::JobQueue,
        retention: CapiRetention,
    ) -> Self {
        Self {
            intake: std::sync::Arc::new(intake::IntakeBatcher::new(
                governance.db().clone(),
                DEDUPE_SECS,
            )),
            governance,
            clients,
            queue,
            retention,
        }
    }

    /// Delete what is past retention: finished events, expired dedupe keys, and batches no
    /// event points at any more. Workers run this from their sweep; it is safe to run from
    /// several processes at once.
    pub async fn apply_retention(&self) -> AppResult<RetentionOutcome> {
        let now = chrono::Utc::now();
        let dedupe_secs = (self.retention.dedupe_keys.as_secs() as i64).max(DEDUPE_SECS);
        let event_secs = self.retention.finished_events.as_secs() as i64;
        let dedupe_before = now.timestamp() - dedupe_secs;
        let events_before = now.timestamp() - event_secs;
        let batches_before = crate::domain::text_ago(self.retention.finished_events);
        let db = self.governance.db();
        let mut out = RetentionOutcome::default();
        // Events first, so their batches are unreferenced when the batches' turn comes.
        for step in 0..3 {
            loop {
                let mut tx = db.begin_write().await?;
                let n = match step {
                    0 => {
                        store::delete_finished_capi_events(&mut tx, events_before, RETENTION_CHUNK)
                            .await?
                    }
                    1 => {
                        store::delete_expired_capi_dedupe(&mut tx, dedupe_before, RETENTION_CHUNK)
                            .await?
                    }
                    _ => {
                        store::delete_unreferenced_capi_batches(
                            &mut tx,
                            &batches_before,
                            RETENTION_CHUNK,
                        )
                        .await?
                    }
                };
                tx.commit().await?;
                *[&mut out.events, &mut out.dedupe_keys, &mut out.batches][step] += n;
                if n < RETENTION_CHUNK as u64 {
                    break;
                }
            }
        }
        if out != RetentionOutcome::default() {
            tracing::info!(
                events = out.events,
                dedupe_keys = out.dedupe_keys,
                batches = out.batches,
                "deleted conversion data past retention"
            );
        }
        Ok(out)
    }

    pub fn queue(&self) -> &crate::jobs::JobQueue {
        &self.queue
    }

    pub fn db(&self) -> &crate::store::Db {
        self.governance.db()
    }

    pub async fn send_events(&self, input: SendEventsInput) -> AppResult<SendEventsOutput> {
        let brand = self.governance.get_brand(&input.brand_code).await?;
        let mut destinations: Vec<(Platform, String)> = Vec::new();
        if let Some(p) = &brand.meta_pixel_id {
            destinations.push((Platform::Meta, p.clone()));
        }
        if let Some(p) = &brand.tiktok_pixel_code {
            destinations.push((Platform::Tiktok, p.clone()));
        }
        if destinations.is_empty() {
            return Err(AppError::validation(
                "brand_code",
                format!(
                    "brand {} has no meta_pixel_id or tiktok_pixel_code; set them with update_brand",
                    brand.code
                ),
            ));
        }
        if input.events.is_empty() || input.events.len() > 1000 {
            return Err(AppError::validation(
                "events",
                "send 1 to 1,000 events per call",
            ));
        }
        let test_code = input
            .test_event_code
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        let now = chrono::Utc::now().timestamp();
        let mut results = Vec::new();
        // Validate and hash everything before the write transaction opens.
        let mut prepared = Vec::new();
        for (index, ev) in input.events.iter().enumerate() {
            match validate_event(ev, now) {
                Ok(prep) => prepared.push((index, prep)),
                Err((field, reason)) => results.push(EventResult {
                    index,
                    event_id: given_event_id(ev),
                    status: "REJECTED".into(),
                    field: Some(field),
                    reason: Some(reason),
                }),
            }
        }
        // Each event as each destination receives it, also before the write: a duplicate's
        // payload is made for nothing, but the writer is held for less. Meta's text is moved
        // out of the prepared event (each destination appears once). In the request's order
        // (batches keep it): the intake keeps the first event of each dedupe key and answers
        // an event listed again, in this request or an earlier one, as a duplicate. `owners`
        // says whose each is.
        let mut events = Vec::with_capacity(prepared.len() * destinations.len());
        let mut owners = Vec::with_capacity(events.capacity());
        for (p, (index, prep)) in prepared.iter_mut().enumerate() {
            for (dest, _) in &destinations {
                let payload = match dest {
                    Platform::Tiktok => tiktok_event(prep, &input.events[*index]).to_string(),
                    _ => std::mem::take(&mut prep.meta),
                };
                events.push(intake::Event {
                    destination: dest.as_str(),
                    event_name: prep.event_name.clone(),
                    event_id: prep.event_id.clone(),
                    event_time: prep.event_time,
                    payload,
                });
                owners.push(p);
            }
        }
        // Written with the other requests' events that wait for the writer meanwhile, in one
        // round trip (`intake`): the keys claimed and the fresh events queued. No write when
        // every event was refused.
        let fresh = self
            .intake
            .take_in(intake::Intake {
                brand_id: brand.id,
                test_event_code: test_code.map(str::to_owned),
                events,
            })
            .await?;
        // Accepted when any of its destinations took it.
        let mut accepted = vec![false; prepared.len()];
        for (&p, queued) in owners.iter().zip(fresh) {
            accepted[p] |= queued;
        }
        for (p, (index, prep)) in prepared.into_iter().enumerate() {
            let queued = accepted[p];
            results.push(EventResult {
                index,
                event_id: Some(prep.event_id),
                status: if queued { "ACCEPTED" } else { "DUPLICATE" }.into(),
                field: None,
                reason: None,
            });
        }
        results.sort_by_key(|r| r.index);
        for (dest, _) in &destinations {
            if let Err(e) = self
                .queue
                .push_unless_waiting(super::jobs::CapiJob::new(brand.id, dest.as_str()))
                .await
            {
                tracing::warn!(error = %e, "could not queue conversion delivery; the sweep retries it");
            }
        }
        let count = |s: &str| results.iter().filter(|r| r.status == s).count();
        tracing::debug!(
            brand = %brand.code,
            accepted = count("ACCEPTED"),
            duplicates = count("DUPLICATE"),
            rejected = count("REJECTED"),
            "conversion events taken in"
        );
        Ok(SendEventsOutput {
            accepted: count("ACCEPTED"),
            duplicates: count("DUPLICATE"),
            rejected: count("REJECTED"),
            destinations: destinations
                .iter()
                .map(|(d, _)| d.as_str().to_owned())
                .collect(),
            results,
        })
    }

    /// Send one batch of a brand's queued events to one destination.
    pub async fn deliver(&self, brand_id: i64, destination: &str) -> AppResult<DeliveryOutcome> {
        let platform = Platform::parse("destination", destination)?;
        let now_epoch = chrono::Utc::now().timestamp();
        let mut c = self.governance.db().pool().acquire().await?;
        let brand = store::brand_pixels(&mut c, brand_id).await?;
        let brand_code = brand.code;
        let pixel = match platform {
            Platform::Meta => brand.meta_pixel_id,
            _ => brand.tiktok_pixel_code,
        };
        let Some(next) = store::next_capi_batch(&mut c, brand_id, destination, now_epoch).await?
        else {
            return Ok(DeliveryOutcome::Done);
        };
        let code = next.test_event_code;
        let rows = store::due_capi_events(
            &mut c,
            brand_id,
            destination,
            code.as_deref(),
            now_epoch,
            BATCH,
        )
        .await?;
        drop(c);
        // Claim the rows so a second worker never sends the same events at once.
        let mut claimed = Vec::new();
        let mut data = Vec::new();
        let mut attempts = 0i64;
        let mut tx = self.governance.db().begin_write().await?;
        for r in &rows {
            if store::claim_capi_event(&mut tx, r.id, chrono::Utc::now().timestamp()).await? {
                claimed.push(r.id);
                data.push(serde_json::from_str::<Value>(&r.payload).unwrap_or(Value::Null));
                attempts = attempts.max(r.attempts);
            }
        }
        tx.commit().await?;
        let ids = claimed;
        if ids.is_empty() {
            return Ok(DeliveryOutcome::Done);
        }
        let Some(pixel) = pixel else {
            self.finish(&ids, "FAILED", None, Some("the brand's pixel was removed"))
                .await?;
            return Ok(DeliveryOutcome::Again(Duration::ZERO));
        };
        let started = std::time::Instant::now();
        let sent = self
            .clients
            .send_events(platform, &brand_code, &pixel, &data, code.as_deref())
            .await;
        let ms = started.elapsed().as_millis() as i64;
        let mut tx = self.governance.db().begin_write().await?;
        let (status, received, trace, error) = match &sent {
            Ok(s) => ("SENT", s.events_received, s.trace_id.clone(), None),
            Err(e) => (
                "FAILED",
                None,
                e.trace_id.clone(),
                Some(serde_json::to_string(e).unwrap_or_default()),
            ),
        };
        let batch = store::record_capi_batch(
            &mut tx,
            &store::NewCapiBatch {
                brand_id,
                destination,
                events: ids.len() as i64,
                status,
                events_received: received,
                trace_id: trace.as_deref(),
                error: error.as_deref(),
                latency_ms: ms,
            },
        )
        .await?;
        tx.commit().await?;
        match sent {
            Ok(_) => {
                self.finish(&ids, "SENT", Some(batch), None).await?;
                Ok(DeliveryOutcome::Again(Duration::ZERO))
            }
            Err(e) if e.class != ErrorClass::Permanent && attempts + 1 < MAX_ATTEMPTS => {
                let backoff = Duration::from_millis((200u64 << attempts.clamp(0, 10)).min(300_000));
                let wait = e
                    .retry_after()
                    .unwrap_or(backoff)
                    .min(Duration::from_secs(3600));
                // Whole seconds, stored, so no other path (the sweep, another job) sends
                // them sooner than the destination asked.
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                let due = chrono::Utc::now().timestamp() + secs as i64;
                let mut tx = self.governance.db().begin_write().await?;
                let reason = e.to_string();
                for id in &ids {
                    store::retry_capi_event_later(&mut tx, *id, &reason, due).await?;
                }
                tx.commit().await?;
                Ok(DeliveryOutcome::Again(Duration::from_secs(secs)))
            }
            Err(e) => {
                self.finish(&ids, "FAILED", Some(batch), Some(&e.to_string()))
                    .await?;
                Ok(DeliveryOutcome::Again(Duration::ZERO))
            }
        }
    }

    async fn finish(
        &self,
        ids: &[i64],
        status: &str,
        batch: Option<i64>,
        error: Option<&str>,
    ) -> AppResult<()> {
        let mut tx = self.governance.db().begin_write().await?;
        for id in ids {
            store::finish_capi_event(&mut tx, *id, status, batch, error).await?;
        }
        tx.commit().await
    }
}
