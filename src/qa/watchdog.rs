//! QA off the async threads. A ticket's check runs on a blocking thread, in one piece (one
//! thread hop per check, not per rule, so QA stays fast), and tells the caller which CEL rule
//! it starts. The caller stops waiting for a rule that runs past its time budget: the rule is
//! reported, and the check runs again without it. The overrunning evaluation cannot be
//! killed and finishes on its own thread, unobserved; the service disables the rule so later
//! runs do not start it again.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{Checked, QaEngine, RuleClock};
use crate::domain::TicketContext;
use crate::error::{AppError, AppResult};

/// `QaEngine::check` on a blocking thread, each CEL rule held to `budget`.
pub(super) async fn check(
    engine: Arc<QaEngine>,
    subject: Arc<TicketContext>,
    budget: Duration,
) -> AppResult<Checked> {
    // Rules cut off so far; each attempt skips them, so there are at most as many attempts
    // as rules.
    let mut overran: Vec<usize> = Vec::new();
    loop {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
        let (engine, subject, skip) = (engine.clone(), subject.clone(), overran.clone());
        let mut job = tokio::task::spawn_blocking(move || {
            let starting = |rule: usize| tx.send(rule).is_ok();
            let clock = RuleClock {
                budget,
                overran: &skip,
                starting: &starting,
            };
            engine.check_timed(&subject.view(), &clock)
        });
        let mut running: Option<(usize, Instant)> = None;
        loop {
            let deadline = running.map(|(_, since)| since + budget);
            tokio::select! {
                // Progress first: a rule that finished in time is not judged by a deadline
                // that passed while its successor's start was queued.
                biased;
                done = &mut job => {
                    return done.map_err(|e| AppError::Internal(format!("QA check failed: {e}")));
                }
                Some(rule) = rx.recv() => running = Some((rule, Instant::now())),
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    if let Some((rule, _)) = running {
                        overran.push(rule);
                    }
                    break;
                }
            }
        }
    }
}
