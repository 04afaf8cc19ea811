//! Intakes of conversion events are written together: the requests' events that came while
//! the writer was busy go in one round trip (`store::take_in_capi_events`), on SQLite one
//! query in the writer's group, on PostgreSQL one statement. Each request is answered once
//! its events are committed, with whether each was queued or a duplicate.
//!
//! Why: on SQLite every write waits its turn at the one writer, and a turn costs hand-overs
//! between the request's task and the writer's thread on top of the write itself. With 16
//! senders of 100 events each, those hand-overs left the writer idle about a third of the
//! time while requests queued for it. Taking every waiting request in one turn pays them once.
//!
//! As with new tickets (`governance::batch`): the first request to find nothing waiting
//! starts a task that waits for the writer, then takes every request waiting by then (up to
//! `store::MAX_INTAKE_ROWS` events); requests that come later wait for it or start the next
//! one. A request that went away before its task took it is not written. If the database
//! refuses the write (a constraint, a trigger), nothing of it was written and each request is
//! tried again alone, so a refusal fails only the request it belongs to; any other failure
//! (the database gone, say) is every request's answer.
//!
//! An event whose dedupe key an earlier request of the same turn holds is a duplicate without
//! asking the database: the earlier one claims the key, or it was held already.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, oneshot};

use crate::error::{AppError, AppResult};
use crate::store::{self, CapiIntake, Db, MAX_INTAKE_ROWS, NewCapiEvent};

/// A request's events, each for one destination, in the request's order (an event listed
/// again is a duplicate of the first).
pub(super) struct Intake {
    pub brand_id: i64,
    pub test_event_code: Option<String>,
    pub events: Vec<Event>,
}

/// An event as one destination receives it.
pub(super) struct Event {
    pub destination: &'static str,
    pub event_name: String,
    pub event_id: String,
    pub event_time: i64,
    /// The JSON the destination receives.
    pub payload: String,
}

/// For each event of an intake, whether it was fresh and queued (or a duplicate).
type TakenIn = AppResult<Vec<bool>>;

/// What one round trip did: for each intake, whether each of its events was queued; or the
/// database refused it, and nothing of it was written.
enum Written {
    Each(Vec<Vec<bool>>),
    Refused(AppError),
}

struct Waiting {
    intake: Intake,
    answer: oneshot::Sender<TakenIn>,
}

/// The answer when the task writing an intake ended before it answered.
const STOPPED: &str = "the conversion event writer stopped before answering (the server may be shutting down); try again";

/// Writes under way at once. On SQLite they queue at the one writer anyway. On PostgreSQL,
/// whose pool would give each write a connection of its own at once, this is what lets
/// requests gather: while these run, the next ones wait and then go together.
const UNDER_WAY: usize = 4;

pub(super) struct IntakeBatcher {
    db: Db,
    /// Seconds a dedupe key holds.
    dedupe_secs: i64,
    waiting: Mutex<Vec<Waiting>>,
    under_way: Semaphore,
}

impl IntakeBatcher {
    pub(super) fn new(db: Db, dedupe_secs: i64) -> Self {
        Self {
            db,
            dedupe_secs,
            waiting: Mutex::new(Vec::new()),
            under_way: Semaphore::new(UNDER_WAY),
        }
    }

    /// Write `intake` with whatever else is waiting; returns once it is committed.
    pub(super) async fn take_in(self: &Arc<Self>, intake: Intake) -> TakenIn {
        if intake.events.is_empty() {
            return Ok(Vec::new());
        }
        let (answer, answered) = oneshot::channel();
        let first = {
            let mut waiting = self.lock();
            waiting.push(Waiting { intake, answer });
            waiting.len() == 1
        };
        if first {
            self.start();
        }
        answered
            .await
            .map_err(|_| AppError::Unavailable(STOPPED.into()))?
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Waiting>> {
        // Nothing panics while holding it; a poisoned lock still holds a sound list.
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Start a task that writes what is waiting when it gets the writer.
    fn start(self: &Arc<Self>) {
        let me = self.clone();
        tokio::spawn(async move { me.write_waiting().await });
    }

    async fn write_waiting(self: Arc<Self>) {
        // Should this task end before it takes the waiting requests (the runtime shutting
        // down), they are let go (their callers told), so the next request starts a task.
        let mut turn = Turn {
            batcher: &self,
            took: false,
        };
        // Never closed, so this always gets a permit.
        let _under_way = self.under_way.acquire().await;
        let tx = self.db.begin_write_one().await;
        // Taken only now, with the writer: what came meanwhile goes in the same round trip.
        let batch: Vec<Waiting> = {
            let mut waiting = self.lock();
            turn.took = true;
            let mut rows = 0;
            let n = waiting
                .iter()
                .take_while(|w| {
                    rows += w.intake.events.len();
                    rows <= MAX_INTAKE_ROWS
                })
                .count()
                .max(1)
                .min(waiting.len());
            let batch = waiting.drain(..n).collect();
            if !waiting.is_empty() {
                // More than one write takes: the rest is the next task's.
                drop(waiting);
                self.start();
            }
            batch
        };
        // A request that went away meanwhile (a client that hung up, a timeout) is not
        // written for; one that goes away later may still be.
        let batch: Vec<Waiting> = batch
            .into_iter()
            .filter(|w| !w.answer.is_closed())
            .collect();
        if batch.is_empty() {
            return;
        }
        let mut tx = match tx {
            Ok(tx) => tx,
            Err(e) => return answer_all(batch, &e),
        };
        let intakes: Vec<&Intake> = batch.iter().map(|w| &w.intake).collect();
        match self.write(&mut tx, &intakes).await {
            Ok(Written::Each(each)) => match tx.commit().await {
                Ok(()) => {
                    for (w, fresh) in batch.into_iter().zip(each) {
                        let _ = w.answer.send(Ok(fresh));
                    }
                }
                Err(e) => answer_all(batch, &e),
            },
            Ok(Written::Refused(e)) if batch.len() > 1 => {
                // The database refused the write, and nothing of it was written: each
                // request alone, so that only the refused one's caller is told.
                tracing::warn!(error = %e, requests = batch.len(), "conversion events written together were refused; writing each request alone");
                drop(tx);
                for w in batch {
                    let alone = self.write_alone(&w.intake).await;
                    let _ = w.answer.send(alone);
                }
            }
            // Anything else (the database gone, say) is every request's answer.
            Ok(Written::Refused(e)) | Err(e) => {
                drop(tx);
                answer_all(batch, &e);
            }
        }
    }

    async fn write_alone(&self, intake: &Intake) -> TakenIn {
        let mut tx = self.db.begin_write_one().await?;
        match self.write(&mut tx, &[intake]).await? {
            Written::Each(mut each) => {
                tx.commit().await?;
                Ok(each.pop().unwrap_or_default())
            }
            Written::Refused(e) => Err(e),
        }
    }

    /// One round trip for the intakes, in their order: for each, whether each of its events
    /// was queued, or the database's refusal (then nothing was written).
    async fn write(&self, tx: &mut store::WriteTx, intakes: &[&Intake]) -> AppResult<Written> {
        // One event per dedupe key: the first request's. `owner` says whose each is.
        let mut keys = HashSet::new();
        let mut events = Vec::new();
        let mut owner = Vec::new();
        let mut each: Vec<Vec<bool>> = intakes
            .iter()
            .map(|i| vec![false; i.events.len()])
            .collect();
        for (r, intake) in intakes.iter().enumerate() {
            for (k, e) in intake.events.iter().enumerate() {
                let key = (
                    intake.brand_id,
                    e.destination,
                    e.event_name.as_str(),
                    e.event_id.as_str(),
                );
                if keys.insert(key) {
                    events.push(NewCapiEvent {
                        brand_id: intake.brand_id,
                        test_event_code: intake.test_event_code.as_deref(),
                        destination: e.destination,
                        event_name: &e.event_name,
                        event_id: &e.event_id,
                        event_time: e.event_time,
                        payload: &e.payload,
                    });
                    owner.push((r, k));
                }
            }
        }
        drop(keys);
        let now = chrono::Utc::now().timestamp();
        let fresh = match store::take_in_capi_events(
            tx,
            &CapiIntake {
                received_epoch: now,
                expired_at_or_before: now - self.dedupe_secs,
                events: &events,
            },
        )
        .await?
        {
            store::TakenIn::Queued(fresh) => fresh,
            store::TakenIn::Refused(e) => return Ok(Written::Refused(e)),
        };
        for ((r, k), queued) in owner.into_iter().zip(fresh) {
            each[r][k] = queued;
        }
        Ok(Written::Each(each))
    }
}

/// A task's turn: lets the waiting requests go if it ends before taking them.
struct Turn<'a> {
    batcher: &'a IntakeBatcher,
    took: bool,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if !self.took {
            self.batcher.lock().clear();
        }
    }
}

fn answer_all(batch: Vec<Waiting>, e: &AppError) {
    for w in batch {
        let _ = w.answer.send(Err(e.clone()));
    }
}
