//! Resource subscriptions for `omnitraffick://tickets/{id}`: clients subscribe (legacy
//! `resources/subscribe`, or `subscriptions/listen` on the 2026-07-28 protocol) and get
//! `notifications/resources/updated` whenever the ticket changes. Changes are read from the
//! append-only ticket history, so a status change made by a worker in another process is
//! seen too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::service::SubscriptionSink;
use rmcp::{Peer, RoleServer};

use crate::store::{self, Db};

const PREFIX: &str = "omnitraffick://tickets/";

/// History entries a slow event-stream listener may fall behind by before it is told to
/// reload instead.
const FEED_CAPACITY: usize = 4096;

/// The ticket id in a subscribable URI.
pub fn ticket_of(uri: &str) -> Option<i64> {
    uri.strip_prefix(PREFIX)?.parse().ok()
}

#[derive(Clone)]
enum Sink {
    /// `resources/subscribe`, from the MCP session with this id.
    Legacy(u64, Peer<RoleServer>),
    Listen(SubscriptionSink),
}

struct Sub {
    key: u64,
    uri: String,
    sink: Sink,
}

/// One per process; every MCP session registers here.
#[derive(Clone)]
pub struct TicketWatch {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    /// Every history entry the poll reads, for the console's event stream.
    feed: tokio::sync::broadcast::Sender<Arc<store::TicketChange>>,
    every: Duration,
    subs: Mutex<HashMap<i64, Vec<Sub>>>,
    next_key: AtomicU64,
    started: std::sync::Once,
}

impl TicketWatch {
    pub fn new(db: Db, every: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                feed: tokio::sync::broadcast::channel(FEED_CAPACITY).0,
                every,
                subs: Mutex::new(HashMap::new()),
                next_key: AtomicU64::new(1),
                started: std::sync::Once::new(),
            }),
        }
    }

    fn add(&self, ticket: i64, uri: &str, sink: Sink) -> u64 {
        self.start();
        let key = self.inner.next_key.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut subs) = self.inner.subs.lock() {
            subs.entry(ticket).or_default().push(Sub {
                key,
                uri: uri.to_owned(),
                sink,
            });
        }
        key
    }

    /// Legacy `resources/subscribe` from session `session`.
    pub fn subscribe_legacy(&self, ticket: i64, uri: &str, session: u64, peer: Peer<RoleServer>) {
        // The same session subscribing twice gets one notification, not two.
        self.unsubscribe_legacy(ticket, session);
        self.add(ticket, uri, Sink::Legacy(session, peer));
    }

    pub fn unsubscribe_legacy(&self, ticket: i64, session: u64) {
        if let Ok(mut subs) = self.inner.subs.lock()
            && let Some(list) = subs.get_mut(&ticket)
        {
            list.retain(|s| !matches!(&s.sink, Sink::Legacy(id, _) if *id == session));
        }
    }

    /// A `subscriptions/listen` stream; returns keys to drop when it ends.
    pub fn listen(&self, uris: &[String], sink: SubscriptionSink) -> Vec<(i64, u64)> {
        uris.iter()
            .filter_map(|u| ticket_of(u).map(|t| (t, u)))
            .map(|(t, u)| (t, self.add(t, u, Sink::Listen(sink.clone()))))
            .collect()
    }

    pub fn drop_keys(&self, keys: &[(i64, u64)]) {
        if let Ok(mut subs) = self.inner.subs.lock() {
            for (t, k) in keys {
                if let Some(list) = subs.get_mut(t) {
                    list.retain(|s| s.key != *k);
                }
            }
        }
    }

    /// Every ticket history entry from now on, as the poll reads it (the console's live
    /// board). A listener that falls more than 4,096 entries behind gets `Lagged`.
    pub fn feed(&self) -> tokio::sync::broadcast::Receiver<Arc<store::TicketChange>> {
        self.start();
        self.inner.feed.subscribe()
    }

    /// Start reading the history now (idempotent). The HTTP server does so at start, so an
    /// event stream's first read of the newest id is never ahead of what the feed will carry.
    pub fn start(&self) {
        let inner = self.inner.clone();
        self.inner.started.call_once(move || {
            tokio::spawn(async move { poll(inner).await });
        });
    }
}

async fn poll(inner: Arc<Inner>) {
    let mut last: i64 = match store::latest_ticket_history_id(&inner.db).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "ticket watch could not start; no resource updates will be sent");
            return;
        }
    };
    loop {
        tokio::time::sleep(inner.every).await;
        let rows = match store::ticket_changes_after(&inner.db, last).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "ticket watch poll failed");
                continue;
            }
        };
        let mut changed: Vec<i64> = Vec::new();
        for r in rows {
            last = last.max(r.history_id);
            if !changed.contains(&r.ticket_id) {
                changed.push(r.ticket_id);
            }
            // No listener is not an error.
            let _ = inner.feed.send(Arc::new(r));
        }
        for t in changed {
            let targets: Vec<(u64, String, Sink)> = match inner.subs.lock() {
                Ok(subs) => subs
                    .get(&t)
                    .map(|l| {
                        l.iter()
                            .map(|s| (s.key, s.uri.clone(), s.sink.clone()))
                            .collect()
                    })
                    .unwrap_or_default(),
                Err(_) => continue,
            };
            let mut dead = Vec::new();
            for (key, uri, sink) in targets {
                let sent = match &sink {
                    Sink::Legacy(_, peer) => peer
                        .notify_resource_updated(
                            rmcp::model::ResourceUpdatedNotificationParam::new(uri.clone()),
                        )
                        .await
                        .is_ok(),
                    Sink::Listen(s) => s.notify_resource_updated(uri.clone()).await.is_ok(),
                };
                if !sent {
                    dead.push((t, key));
                }
            }
            if !dead.is_empty()
                && let Ok(mut subs) = inner.subs.lock()
            {
                for (t, k) in dead {
                    if let Some(list) = subs.get_mut(&t) {
                        list.retain(|s| s.key != k);
                    }
                }
            }
        }
    }
}
