//! How an idle worker is woken to look for due jobs: at once when this process queues one
//! (or when a job it queued for later falls due), and on a timer for jobs queued by other
//! processes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apalis::prelude::{PollSnapshot, PollStrategy};
use futures::task::AtomicWaker;

/// A doorbell for one queue's workers in this process. apalis fetches only when its worker
/// is polled, and after an empty fetch nothing polls it until the strategy wakes it, so
/// without this a job pushed here would wait for the next tick.
#[derive(Default)]
pub(super) struct Wake {
    rung: AtomicBool,
    waker: AtomicWaker,
}

impl Wake {
    /// Wake the queue's worker now.
    pub(super) fn ring(&self) {
        self.rung.store(true, Ordering::SeqCst);
        self.waker.wake();
    }

    /// Wake the queue's worker when a job pushed now with `delay` becomes fetchable. apalis
    /// stores the due time in whole seconds, rounded down, and fetches a job once that second
    /// has begun: so the job is fetchable at most `delay` from now, often sooner.
    pub(super) fn ring_after(self: &Arc<Self>, delay: Duration) {
        let wait = fetchable_in(SystemTime::now(), delay);
        if wait.is_zero() {
            self.ring();
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            me.ring();
        });
    }

    fn take(&self) -> bool {
        self.rung.swap(false, Ordering::SeqCst)
    }
}

/// How long until a job pushed at `now` with `delay` is fetchable: until the start of the
/// second apalis stores (`now + delay` rounded down), plus a few milliseconds for clocks.
fn fetchable_in(now: SystemTime, delay: Duration) -> Duration {
    let Ok(due) = (now + delay).duration_since(UNIX_EPOCH) else {
        return Duration::ZERO;
    };
    let due = UNIX_EPOCH + Duration::from_secs(due.as_secs());
    match due.duration_since(now) {
        Ok(d) if !d.is_zero() => d + Duration::from_millis(5),
        _ => Duration::ZERO,
    }
}

/// The doorbells of this process's queues, by queue name.
#[derive(Default, Clone)]
pub(super) struct Doorbells(Arc<Mutex<HashMap<&'static str, Arc<Wake>>>>);

impl Doorbells {
    pub(super) fn get(&self, queue: &'static str) -> Arc<Wake> {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(queue).or_default().clone()
    }
}

/// Wakes a worker every `every` to look for due jobs, and whenever its [`Wake`] rings.
///
/// apalis's own interval strategy re-arms its timer without polling it, so when the timer
/// fires during a poll that finds no job, nothing is left to wake the worker and it stops
/// fetching for good. This one polls the new timer at once, so a waker is always registered.
pub(super) struct Tick {
    every: Duration,
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
    wake: Arc<Wake>,
}

impl Tick {
    pub(super) fn new(every: Duration, wake: Arc<Wake>) -> Self {
        Self {
            every,
            sleep: Box::pin(tokio::time::sleep(every)),
            wake,
        }
    }
}

impl PollStrategy for Tick {
    fn poll_drive(
        &mut self,
        cx: &mut std::task::Context<'_>,
        _: &PollSnapshot,
    ) -> std::task::Poll<Option<()>> {
        // Registered before the flag is read, so a ring in between is not missed.
        self.wake.waker.register(cx.waker());
        let mut fired = self.wake.take();
        while self.sleep.as_mut().poll(cx).is_ready() {
            fired = true;
            let next = tokio::time::Instant::now() + self.every;
            self.sleep.as_mut().reset(next);
        }
        if fired {
            std::task::Poll::Ready(Some(()))
        } else {
            std::task::Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Wake, Waker};

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// After the timer fires, the worker must still be woken at the next tick (apalis's own
    /// interval strategy leaves no waker behind, and the worker stops fetching).
    #[tokio::test]
    async fn the_poll_timer_keeps_waking_the_worker_after_it_fires() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut tick = Tick::new(Duration::from_millis(20), Arc::new(super::Wake::default()));
        let snap = PollSnapshot::default();
        assert!(tick.poll_drive(&mut cx, &snap).is_pending());
        for round in 0..3 {
            count.0.store(0, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(60)).await;
            assert!(
                count.0.load(Ordering::SeqCst) > 0,
                "round {round}: the worker was not woken"
            );
            assert!(tick.poll_drive(&mut cx, &snap).is_ready());
        }
    }

    /// A job pushed in this process wakes the worker at once, long before the next tick, and
    /// one pushed for later wakes it when it falls due.
    #[tokio::test]
    async fn a_push_in_this_process_wakes_the_worker_before_the_tick() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let bells = Doorbells::default();
        let wake = bells.get("q");
        let mut tick = Tick::new(Duration::from_secs(3600), bells.get("q"));
        let snap = PollSnapshot::default();
        assert!(tick.poll_drive(&mut cx, &snap).is_pending());
        wake.ring();
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "the ring woke nobody");
        assert!(tick.poll_drive(&mut cx, &snap).is_ready());
        assert!(
            tick.poll_drive(&mut cx, &snap).is_pending(),
            "one ring, one wake"
        );
        // Another queue's bell is another bell.
        bells.get("other").ring();
        assert!(tick.poll_drive(&mut cx, &snap).is_pending());

        wake.ring_after(Duration::from_millis(1500));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while count.0.load(Ordering::SeqCst) < 2 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the delayed ring never came"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(tick.poll_drive(&mut cx, &snap).is_ready());
    }

    #[test]
    fn a_delayed_job_is_fetchable_from_the_start_of_its_second() {
        let at = |ms: u64| UNIX_EPOCH + Duration::from_millis(ms);
        // Due at 10.3 s: apalis stores 10 s, fetchable now.
        assert_eq!(
            fetchable_in(at(10_100), Duration::from_millis(200)),
            Duration::ZERO
        );
        // Due at 11.2 s: stored as 11 s, fetchable in 0.9 s (plus the margin).
        assert_eq!(
            fetchable_in(at(10_300), Duration::from_millis(900)),
            Duration::from_millis(705)
        );
        assert_eq!(
            fetchable_in(at(10_300), Duration::from_millis(1900)),
            Duration::from_millis(1705)
        );
    }
}
