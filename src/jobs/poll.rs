//! How an idle worker is woken to look for due jobs.

use std::time::Duration;

use apalis::prelude::{PollSnapshot, PollStrategy};

/// Wakes a worker every `every` to look for due jobs.
///
/// apalis's own interval strategy re-arms its timer without polling it, so when the timer
/// fires during a poll that finds no job, nothing is left to wake the worker and it stops
/// fetching for good. This one polls the new timer at once, so a waker is always registered.
pub(super) struct Tick {
    every: Duration,
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl Tick {
    pub(super) fn new(every: Duration) -> Self {
        Self {
            every,
            sleep: Box::pin(tokio::time::sleep(every)),
        }
    }
}

impl PollStrategy for Tick {
    fn poll_drive(
        &mut self,
        cx: &mut std::task::Context<'_>,
        _: &PollSnapshot,
    ) -> std::task::Poll<Option<()>> {
        let mut fired = false;
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
        let mut tick = Tick::new(Duration::from_millis(20));
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
}
