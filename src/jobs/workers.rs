//! Running the registered handlers and chores until told to stop, without losing or stalling
//! work on the way out.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use futures::future::BoxFuture;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::poll::Tick;
use super::{Job, JobQueue, Pool, postgres_config, queue_err, sqlite_config};
use crate::error::AppResult;

/// When a job taken during a drain is offered again.
const DRAIN_REQUEUE: Duration = Duration::from_secs(1);

type Handler<J> = Arc<dyn Fn(J) -> BoxFuture<'static, AppResult<()>> + Send + Sync>;
type Chore = Arc<dyn Fn() -> BoxFuture<'static, AppResult<()>> + Send + Sync>;
type Start =
    Box<dyn FnOnce(&Pool, CancellationToken) -> JoinHandle<Result<(), WorkerError>> + Send>;

/// How a worker shuts down without losing or stalling work.
///
/// apalis stops a worker while a fetch may be half done, and on SQLite that leaves its write
/// transaction open until the worker exits, which would block the very writes an in-flight
/// job needs to finish. So [`Workers::run`] first drains: jobs taken from then on are pushed
/// back for the next worker, the in-flight ones (all on `tracker`) finish, and only then are
/// the apalis workers told to stop.
#[derive(Clone)]
struct Drain {
    draining: CancellationToken,
    tracker: TaskTracker,
}

impl Drain {
    /// Run a job: `work` normally, `put_back` (re-queue it) once draining. Either runs on the
    /// tracker, so it finishes even if the queue drops the job's future; `run` waits for the
    /// tracker.
    async fn run(
        &self,
        work: BoxFuture<'static, AppResult<()>>,
        put_back: BoxFuture<'static, AppResult<()>>,
    ) -> Result<(), BoxDynError> {
        let draining = self.draining.clone();
        let task = self.tracker.spawn(async move {
            if draining.is_cancelled() {
                put_back.await
            } else {
                work.await
            }
        });
        match task.await {
            Ok(r) => r.map_err(Into::into),
            Err(e) => Err(queue_err(format!("a job's task failed: {e}")).into()),
        }
    }
}

/// What one apalis worker hands each of its jobs.
struct Slot<J> {
    handler: Handler<J>,
    queue: JobQueue,
    drain: Drain,
}

impl<J> Clone for Slot<J> {
    fn clone(&self) -> Self {
        Self {
            handler: self.handler.clone(),
            queue: self.queue.clone(),
            drain: self.drain.clone(),
        }
    }
}

async fn dispatch<J: Job>(job: J, slot: Data<Slot<J>>) -> Result<(), BoxDynError> {
    let put_back = {
        let queue = slot.queue.clone();
        let job = job.clone();
        Box::pin(async move { queue.push(job, Some(DRAIN_REQUEUE)).await })
    };
    // The handler is called inside the work, so nothing of it runs when the job is put back.
    let handler = slot.handler.clone();
    let work = Box::pin(async move { handler(job).await });
    slot.drain.run(work, put_back).await
}

/// Resolves once `token` is cancelled, in the shape apalis wants for a stop signal.
async fn cancelled(token: CancellationToken) -> Result<(), std::io::Error> {
    token.cancelled().await;
    Ok(())
}

/// One process's workers: a handler per kind of job, and periodic chores (sweeps, retention).
pub struct Workers {
    queue: JobQueue,
    name: String,
    drain: Drain,
    starts: Vec<Start>,
    chores: Vec<(&'static str, Duration, Duration, Chore)>,
}

impl Workers {
    /// Workers named `name` (unique per process, see [`super::worker_name`]) on `queue`.
    pub fn new(queue: JobQueue, name: &str) -> Self {
        Self {
            queue,
            name: name.to_owned(),
            drain: Drain {
                draining: CancellationToken::new(),
                tracker: TaskTracker::new(),
            },
            starts: Vec::new(),
            chores: Vec::new(),
        }
    }

    pub fn queue(&self) -> &JobQueue {
        &self.queue
    }

    /// Cancelled when these workers start draining for shutdown: a job that was going to
    /// wait (a retry's back-off, say) should hand its work back to the queue instead.
    pub fn draining(&self) -> CancellationToken {
        self.drain.draining.clone()
    }

    /// Run `handler` for every job of kind `J`, at most `concurrency` at once. An error is
    /// logged by apalis and the job retried, up to its attempts.
    pub fn handle<J, F, Fut>(&mut self, concurrency: usize, handler: F) -> &mut Self
    where
        J: Job,
        F: Fn(J) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = AppResult<()>> + Send + 'static,
    {
        let slot = Slot::<J> {
            handler: Arc::new(move |job| Box::pin(handler(job))),
            queue: self.queue.clone(),
            drain: self.drain.clone(),
        };
        let name = format!("{}-{}", self.name, J::QUEUE);
        let settings = self.queue.settings.clone();
        let bell = self.queue.bells.get(J::QUEUE);
        // Each worker gets its own task: an apalis backend fetches whenever it is polled, so
        // two workers polled together (one `join!`) wake each other into a busy loop of
        // fetches that keeps the SQLite write lock hot.
        self.starts.push(Box::new(move |pool, stop| match pool {
            Pool::Sqlite(p) => tokio::spawn(
                WorkerBuilder::new(name)
                    .backend(
                        apalis_sqlite::SqliteStorage::<J>::new(p)
                            .with_config(sqlite_config(&settings, J::QUEUE))
                            .poll_with_strategy(Tick::new(settings.poll_every, bell)),
                    )
                    .data(slot)
                    .concurrency(concurrency)
                    .build(dispatch::<J>)
                    .run_until(cancelled(stop)),
            ),
            Pool::Postgres(p) => tokio::spawn(
                WorkerBuilder::new(name)
                    .backend(
                        apalis_postgres::PostgresStorage::<J>::new(p)
                            .with_config(postgres_config(&settings, J::QUEUE))
                            .poll_with_strategy(Tick::new(settings.poll_every, bell)),
                    )
                    .data(slot)
                    .concurrency(concurrency)
                    .build(dispatch::<J>)
                    .run_until(cancelled(stop)),
            ),
        }));
        self
    }

    /// Run `chore` every `every`, first after `first`; a failure is logged and tried again
    /// next time.
    pub fn every<F, Fut>(
        &mut self,
        what: &'static str,
        first: Duration,
        every: Duration,
        chore: F,
    ) -> &mut Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = AppResult<()>> + Send + 'static,
    {
        self.chores
            .push((what, first, every, Arc::new(move || Box::pin(chore()))));
        self
    }

    /// Run until `stop` is cancelled; in-flight jobs finish first.
    pub async fn run(self, stop: CancellationToken) -> AppResult<()> {
        let Self {
            queue,
            name,
            drain,
            starts,
            chores,
        } = self;
        // The apalis workers are told to stop only once the drain is over (see `Drain`).
        let queue_stop = CancellationToken::new();
        let drainer = {
            let drain = drain.clone();
            let stop = stop.clone();
            let queue_stop = queue_stop.clone();
            tokio::spawn(async move {
                stop.cancelled().await;
                drain.draining.cancel();
                drain.tracker.close();
                if !drain.tracker.is_empty() {
                    tracing::info!(
                        jobs = drain.tracker.len(),
                        "stopping: letting in-flight jobs finish"
                    );
                }
                drain.tracker.wait().await;
                queue_stop.cancel();
            })
        };
        let chore_tasks: Vec<_> = chores
            .into_iter()
            .map(|(what, first, every, chore)| {
                let stop = stop.clone();
                tokio::spawn(async move {
                    let mut wait = first;
                    loop {
                        tokio::select! {
                            _ = stop.cancelled() => break,
                            _ = tokio::time::sleep(wait) => {}
                        }
                        wait = every;
                        if let Err(e) = chore().await {
                            tracing::warn!(error = %e, chore = what, "a periodic job failed");
                        }
                    }
                })
            })
            .collect();
        tracing::info!(worker = %name, queues = starts.len(), "workers started");
        let handles: Vec<_> = starts
            .into_iter()
            .map(|start| start(&queue.pool, queue_stop.clone()))
            .collect();
        // A panicked worker task is an error too, not an early return that would skip the
        // drain and leave the chores running.
        let mut result = Ok(());
        for h in handles {
            let r = match h.await {
                Ok(r) => r.map_err(queue_err),
                Err(e) => Err(queue_err(e)),
            };
            if result.is_ok() {
                result = r;
            }
        }
        for t in chore_tasks {
            t.abort();
        }
        // A worker that failed on its own ends the drain too; anything it left running finishes.
        drainer.abort();
        drain.tracker.close();
        drain.tracker.wait().await;
        tracing::info!(worker = %name, "workers stopped");
        result
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::jobs::QueueSettings;
    use crate::store::Db;

    #[derive(Debug, Clone, Serialize, Deserialize)]
    struct Ping {
        n: u32,
    }

    impl Job for Ping {
        const QUEUE: &'static str = "test.ping";
    }

    async fn queue(dir: &tempfile::TempDir) -> JobQueue {
        let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
        let db = Db::connect(&url).await.expect("db");
        let settings = QueueSettings {
            poll_every: Duration::from_millis(20),
            heartbeat: Duration::from_millis(200),
        };
        JobQueue::open(&url, &db, settings).await.expect("queue")
    }

    async fn until(what: &str, ok: impl Fn() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !ok() {
            assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Every pushed job reaches its handler once, and chores run on their schedule.
    #[tokio::test]
    async fn jobs_reach_their_handler_and_chores_repeat() {
        let dir = tempfile::tempdir().expect("tempdir");
        let q = queue(&dir).await;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let chores = Arc::new(AtomicUsize::new(0));
        let mut w = Workers::new(q.clone(), "test");
        let s = seen.clone();
        w.handle(2, move |p: Ping| {
            let s = s.clone();
            async move {
                s.lock().expect("lock").push(p.n);
                Ok(())
            }
        });
        let c = chores.clone();
        w.every(
            "count",
            Duration::ZERO,
            Duration::from_millis(30),
            move || {
                c.fetch_add(1, Ordering::SeqCst);
                async { Ok(()) }
            },
        );
        let stop = CancellationToken::new();
        let running = tokio::spawn(w.run(stop.clone()));
        for n in 0..3 {
            q.push(Ping { n }, None).await.expect("push");
        }
        until("three jobs handled", || {
            seen.lock().expect("lock").len() == 3
        })
        .await;
        until("the chore ran twice", || chores.load(Ordering::SeqCst) >= 2).await;
        stop.cancel();
        running.await.expect("join").expect("workers");
        let mut got = seen.lock().expect("lock").clone();
        got.sort();
        assert_eq!(got, vec![0, 1, 2], "each job once");
    }

    /// Stopping lets the job in flight finish before `run` returns, and a job taken once the
    /// drain began is put back for the next worker instead of being run or lost.
    #[tokio::test]
    async fn stopping_finishes_jobs_in_flight_and_puts_back_late_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let q = queue(&dir).await;
        let started = Arc::new(AtomicBool::new(false));
        let finished = Arc::new(AtomicBool::new(false));
        let mut w = Workers::new(q.clone(), "first");
        let (s, f) = (started.clone(), finished.clone());
        w.handle(1, move |_: Ping| {
            let (s, f) = (s.clone(), f.clone());
            async move {
                s.store(true, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(300)).await;
                f.store(true, Ordering::SeqCst);
                Ok(())
            }
        });
        let stop = CancellationToken::new();
        let running = tokio::spawn(w.run(stop.clone()));
        q.push(Ping { n: 1 }, None).await.expect("push");
        until("the job started", || started.load(Ordering::SeqCst)).await;
        stop.cancel();
        running.await.expect("join").expect("workers");
        assert!(
            finished.load(Ordering::SeqCst),
            "run returned before the job in flight finished"
        );

        // A drain in progress: the job taken now is re-queued, and a later worker runs it.
        let ran = Arc::new(AtomicUsize::new(0));
        let drain = Drain {
            draining: CancellationToken::new(),
            tracker: TaskTracker::new(),
        };
        drain.draining.cancel();
        let slot = Slot::<Ping> {
            handler: {
                let r = ran.clone();
                Arc::new(move |_| {
                    r.fetch_add(1, Ordering::SeqCst);
                    Box::pin(async { Ok(()) })
                })
            },
            queue: q.clone(),
            drain,
        };
        dispatch(Ping { n: 2 }, Data::new(slot))
            .await
            .expect("put back");
        assert_eq!(ran.load(Ordering::SeqCst), 0, "ran during the drain");
        let mut next = Workers::new(q.clone(), "second");
        let r = ran.clone();
        next.handle(1, move |p: Ping| {
            let r = r.clone();
            async move {
                assert_eq!(p.n, 2);
                r.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        });
        let stop = CancellationToken::new();
        let running = tokio::spawn(next.run(stop.clone()));
        until("the put-back job ran on the next worker", || {
            ran.load(Ordering::SeqCst) == 1
        })
        .await;
        stop.cancel();
        running.await.expect("join").expect("workers");
    }
}
