//! New tickets whose campaign and channel facts are remembered (`parents`) are written
//! together: the tickets asked for while the writer was busy go in one round trip
//! (`store::insert_tickets`), on SQLite one batch in the writer's group, on PostgreSQL one
//! statement. Each caller is answered once its ticket is committed, with its own id.
//!
//! The first caller to find nothing waiting starts a task that waits for the writer, then
//! takes every ticket waiting by then; callers that come later wait for it (or for the next
//! task). The task runs on its own, so a caller that goes away (a client that hung up) does
//! not leave the others waiting; its ticket is not written if it went before the task took
//! it. If the database refuses the insert (a constraint, a trigger), nothing of it was
//! written and each ticket is tried again alone, so the refused one fails only its own
//! caller; any other failure (the database gone, say) is every caller's answer.

use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, oneshot};

use crate::domain::RequestType;
use crate::error::{AppError, AppResult};
use crate::store::{Db, Inserted, MAX_TICKETS_PER_INSERT, NewTicket, TicketParents};
use crate::tickets;

/// A ticket's id and creation time, or `None` when its campaign or channel is no longer as
/// its `parents` said (nothing written for it).
pub(super) type Created = AppResult<Option<(i64, String)>>;

/// One ticket asked for.
pub(super) struct Wanted {
    pub parents: Arc<TicketParents>,
    pub request_type: RequestType,
    pub payload_config: String,
    pub platform_name: String,
    pub actor: String,
}

struct Waiting {
    wanted: Wanted,
    answer: oneshot::Sender<Created>,
}

/// The answer when the task writing a ticket ended before it answered.
const STOPPED: &str =
    "the ticket writer stopped before answering (the server may be shutting down); try again";

/// Inserts under way at once. On SQLite they queue at the one writer anyway. On PostgreSQL,
/// whose pool would give each insert a connection of its own at once, this is what lets
/// tickets gather: while these run, the next ones wait and then go together.
const UNDER_WAY: usize = 4;

pub(super) struct TicketBatcher {
    db: Db,
    waiting: Mutex<Vec<Waiting>>,
    under_way: Semaphore,
}

impl TicketBatcher {
    pub(super) fn new(db: Db) -> Self {
        Self {
            db,
            waiting: Mutex::new(Vec::new()),
            under_way: Semaphore::new(UNDER_WAY),
        }
    }

    /// Write `wanted` with whatever else is waiting; returns once it is committed.
    pub(super) async fn create(self: &Arc<Self>, wanted: Wanted) -> Created {
        let (answer, answered) = oneshot::channel();
        let first = {
            let mut waiting = self.lock();
            waiting.push(Waiting { wanted, answer });
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
        // Should this task end before it takes the waiting tickets (the runtime shutting
        // down), they are let go (their callers told), so the next caller starts a new task.
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
            let n = waiting.len().min(MAX_TICKETS_PER_INSERT);
            let batch = waiting.drain(..n).collect();
            if !waiting.is_empty() {
                // More than one insert takes: the rest is the next task's.
                drop(waiting);
                self.start();
            }
            batch
        };
        // A caller that went away meanwhile (a client that hung up, a timeout) is not
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
        let news: Vec<NewTicket<'_>> = batch.iter().map(|w| new_ticket(&w.wanted)).collect();
        let written = tickets::create(&mut tx, &news).await;
        drop(news);
        match written {
            Ok(Inserted::Written(ids, at)) => match tx.commit().await {
                Ok(()) => {
                    for (w, id) in batch.into_iter().zip(ids) {
                        let _ = w.answer.send(Ok(id.map(|id| (id, at.clone()))));
                    }
                }
                Err(e) => answer_all(batch, &e),
            },
            Ok(Inserted::Refused(_)) if batch.len() > 1 => {
                // The database refused one of them, and nothing was written: each one alone,
                // so that only the refused one's caller is told.
                drop(tx);
                for w in batch {
                    let alone = self.write_alone(&w.wanted).await;
                    let _ = w.answer.send(alone);
                }
            }
            Ok(Inserted::Refused(e)) | Err(e) => {
                drop(tx);
                answer_all(batch, &e);
            }
        }
    }

    async fn write_alone(&self, wanted: &Wanted) -> Created {
        let mut tx = self.db.begin_write_one().await?;
        let created = tickets::create_one(&mut tx, new_ticket(wanted)).await?;
        tx.commit().await?;
        Ok(created)
    }
}

/// A task's turn: lets the waiting tickets go if it ends before taking them.
struct Turn<'a> {
    batcher: &'a TicketBatcher,
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

fn new_ticket(w: &Wanted) -> NewTicket<'_> {
    NewTicket {
        parents: &w.parents,
        request_type: w.request_type,
        payload_config: &w.payload_config,
        platform_name: &w.platform_name,
        actor: &w.actor,
    }
}
