//! Limits on open MCP sessions, per key and in total.
//!
//! rmcp's session manager creates a session without being told who asked for it, so the edge
//! reserves a slot for the caller before an `initialize` reaches rmcp (and refuses it there
//! when none is left), and puts a ticket for the reservation in the request's extensions.
//! rmcp copies the request parts into the `initialize` message it hands to
//! [`SessionManager::initialize_session`], where [`LimitedSessions`] turns the reservation into
//! the new session's slot. Every way a session ends (DELETE /mcp, the idle timeout, the
//! handler stopping, shutdown) reaches `close_session`, which frees the slot.
//!
//! It also refuses a request whose JSON-RPC id is still taken in its session by a request
//! not yet answered ([`RunningRequests`]). The specification forbids reusing an id within a
//! session; rmcp routes each answer to the HTTP request by that id, so a second request with
//! it took the first one's answer and left the first one waiting forever.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures::{Stream, StreamExt};
use rmcp::model::{
    ClientJsonRpcMessage, ErrorData, GetExtensions, RequestId, ServerJsonRpcMessage,
};
use rmcp::transport::streamable_http_server::session::{EventStore, ServerSseMessage};
use rmcp::transport::streamable_http_server::{RestoreOutcome, SessionId, SessionManager};

/// How many sessions may be open, and how many are.
pub struct SessionLimits {
    per_key: usize,
    total: usize,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    next_ticket: u64,
    /// Reserved by an `initialize` whose session does not exist yet, by ticket.
    reserved: HashMap<u64, String>,
    /// Open sessions and the key each belongs to.
    open: HashMap<SessionId, String>,
    /// Reserved and open, per key.
    per_key: HashMap<String, usize>,
    total: usize,
}

impl Counts {
    fn free(&mut self, key: &str) {
        self.total = self.total.saturating_sub(1);
        if let Some(n) = self.per_key.get_mut(key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_key.remove(key);
            }
        }
    }
}

/// Why a session was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The key already holds this many sessions.
    PerKey(usize),
    /// The server already holds this many sessions.
    Total(usize),
}

/// Carried in the request's extensions from the edge to [`LimitedSessions`].
#[derive(Debug, Clone, Copy)]
pub struct SessionTicket(u64);

/// A reserved slot. Dropping it frees the slot unless a session took it over.
pub struct Reservation {
    limits: Arc<SessionLimits>,
    ticket: SessionTicket,
}

impl Reservation {
    pub fn ticket(&self) -> SessionTicket {
        self.ticket
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut c = self.limits.lock();
        if let Some(key) = c.reserved.remove(&self.ticket.0) {
            c.free(&key);
        }
    }
}

impl SessionLimits {
    pub fn new(per_key: usize, total: usize) -> Arc<Self> {
        Arc::new(Self {
            per_key: per_key.max(1),
            total: total.max(1),
            counts: Mutex::new(Counts::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // The counts stay consistent even if a holder panicked: every change is one step.
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserve a slot for `key`, or say which limit is reached.
    pub fn reserve(self: &Arc<Self>, key: &str) -> Result<Reservation, Refusal> {
        let mut c = self.lock();
        if c.per_key.get(key).copied().unwrap_or(0) >= self.per_key {
            return Err(Refusal::PerKey(self.per_key));
        }
        if c.total >= self.total {
            return Err(Refusal::Total(self.total));
        }
        c.next_ticket += 1;
        let ticket = c.next_ticket;
        c.reserved.insert(ticket, key.to_owned());
        *c.per_key.entry(key.to_owned()).or_default() += 1;
        c.total += 1;
        Ok(Reservation {
            limits: self.clone(),
            ticket: SessionTicket(ticket),
        })
    }

    /// The session `id` was created for `ticket`: the slot is now the session's.
    fn bind(&self, ticket: SessionTicket, id: &SessionId) {
        let mut c = self.lock();
        if let Some(key) = c.reserved.remove(&ticket.0) {
            c.open.insert(id.clone(), key);
        }
    }

    /// The session `id` ended (a second call for the same id does nothing).
    fn release(&self, id: &SessionId) {
        let mut c = self.lock();
        if let Some(key) = c.open.remove(id) {
            c.free(&key);
        }
    }

    /// Open sessions in all (reservations included).
    pub fn open(&self) -> usize {
        self.lock().total
    }
}

/// The ticket the edge put on an `initialize` request, if any.
fn ticket_of(message: &ClientJsonRpcMessage) -> Option<SessionTicket> {
    let ClientJsonRpcMessage::Request(req) = message else {
        return None;
    };
    req.request
        .extensions()
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<SessionTicket>())
        .copied()
}

/// The JSON-RPC ids of each session's requests that have not been answered yet.
#[derive(Default, Clone)]
pub(crate) struct RunningRequests {
    ids: Arc<Mutex<HashMap<SessionId, SessionIds>>>,
}

/// Most ids of requests left unanswered (their client went away) that a session keeps taken;
/// past it the oldest is freed, so a long session with many dropped calls stays small.
const MAX_ABANDONED: usize = 256;

#[derive(Default)]
struct SessionIds {
    taken: HashSet<RequestId>,
    /// Taken by requests whose client went away before the answer, oldest first.
    abandoned: std::collections::VecDeque<RequestId>,
}

/// A request's id, held as running until its answer has gone out. A request whose client
/// went away before its answer keeps the id until the session ends: rmcp may still be
/// running it, and would route its late answer to a new request that reused the id.
pub(crate) struct Running {
    requests: RunningRequests,
    session: SessionId,
    id: RequestId,
    answered: bool,
}

impl Running {
    /// Whether `message` is this request's answer (its result or its error).
    fn is_answer(&self, message: &ServerJsonRpcMessage) -> bool {
        match message {
            ServerJsonRpcMessage::Response(r) => r.id == self.id,
            ServerJsonRpcMessage::Error(e) => e.id.as_ref() == Some(&self.id),
            _ => false,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut ids = self.requests.lock();
        let Some(session) = ids.get_mut(&self.session) else {
            return;
        };
        if self.answered {
            session.taken.remove(&self.id);
        } else {
            session.abandoned.push_back(self.id.clone());
            if session.abandoned.len() > MAX_ABANDONED
                && let Some(oldest) = session.abandoned.pop_front()
            {
                session.taken.remove(&oldest);
            }
        }
        if session.taken.is_empty() {
            ids.remove(&self.session);
        }
    }
}

impl RunningRequests {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, SessionIds>> {
        // Each change is one insert or remove: consistent even after a holder panicked.
        self.ids.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Take `id` in `session`, or `None` when a request not yet answered has it.
    fn start(&self, session: &SessionId, id: &RequestId) -> Option<Running> {
        let fresh = self
            .lock()
            .entry(session.clone())
            .or_default()
            .taken
            .insert(id.clone());
        fresh.then(|| Running {
            requests: self.clone(),
            session: session.clone(),
            id: id.clone(),
            answered: false,
        })
    }

    fn forget_session(&self, session: &SessionId) {
        self.lock().remove(session);
    }

    /// Ids taken in all sessions (running requests, and those left unanswered).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().values().map(|s| s.taken.len()).sum()
    }
}

/// The answer to a request whose id a request of its session not yet answered has.
fn id_in_use(id: RequestId) -> ServerSseMessage {
    let error = ErrorData::invalid_request(
        format!(
            "request id {id} is already used by a request of this session that has not been \
             answered yet; give every request of a session its own id"
        ),
        None,
    );
    ServerSseMessage::from_message(ServerJsonRpcMessage::error(error, Some(id)))
}

/// A session manager that keeps [`SessionLimits`] up to date around another one, and
/// refuses a request id still taken in its session.
pub struct LimitedSessions<M> {
    inner: M,
    limits: Arc<SessionLimits>,
    running: RunningRequests,
}

impl<M> LimitedSessions<M> {
    pub fn new(inner: M, limits: Arc<SessionLimits>) -> Self {
        Self {
            inner,
            limits,
            running: RunningRequests::default(),
        }
    }
}

impl<M: SessionManager> SessionManager for LimitedSessions<M> {
    type Error = M::Error;
    type Transport = M::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        self.inner.create_session().await
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        if let Some(ticket) = ticket_of(&message) {
            self.limits.bind(ticket, id);
        }
        self.inner.initialize_session(id, message).await
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.inner.has_session(id).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        let closed = self.inner.close_session(id).await;
        // The session is gone from the inner manager either way.
        self.limits.release(id);
        self.running.forget_session(id);
        closed
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let running = match &message {
            ClientJsonRpcMessage::Request(req) => match self.running.start(id, &req.id) {
                Some(running) => Some(running),
                None => {
                    let refused =
                        futures::stream::once(std::future::ready(id_in_use(req.id.clone())));
                    return Ok(futures::future::Either::Left(refused));
                }
            },
            _ => None,
        };
        let answers = match self.inner.create_stream(id, message).await {
            Ok(answers) => answers,
            Err(e) => {
                // Never started: the id is free again.
                if let Some(mut r) = running {
                    r.answered = true;
                }
                return Err(e);
            }
        };
        // Held until the answer has passed (see `Running`).
        let mut running = running;
        Ok(futures::future::Either::Right(answers.map(move |m| {
            if let (Some(r), Some(message)) = (running.as_mut(), m.message.as_deref()) {
                r.answered |= r.is_answer(message);
            }
            m
        })))
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.inner.accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.create_standalone_stream(id).await
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.resume(id, last_event_id).await
    }

    async fn restore_session(
        &self,
        id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        self.inner.restore_session(id).await
    }

    fn event_store(&self) -> Option<Arc<dyn EventStore>> {
        self.inner.event_store()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_id_is_held_per_session_until_its_answer_has_gone_out() {
        let answered = |mut r: Running| r.answered = true;
        let running = RunningRequests::default();
        let (s1, s2): (SessionId, SessionId) = ("s-1".to_owned().into(), "s-2".to_owned().into());
        let five = RequestId::Number(5);
        let held = running.start(&s1, &five).expect("a fresh id");
        assert!(running.start(&s1, &five).is_none(), "in use in its session");
        // Another session, or another id in the same one, is not affected.
        let other = running.start(&s2, &five).expect("another session");
        let text = running
            .start(&s1, &RequestId::String("5".into()))
            .expect("another id");
        assert_eq!(running.len(), 3);
        answered(held);
        let again = running.start(&s1, &five).expect("free once answered");
        // The client went away before the answer: the id stays taken in its session.
        drop(again);
        assert!(
            running.start(&s1, &five).is_none(),
            "unanswered, still held"
        );
        // A session that ends forgets its ids; a guard dropped after that changes nothing.
        running.forget_session(&s1);
        answered(text);
        assert_eq!(running.len(), 1);
        answered(other);
        assert_eq!(running.len(), 0);

        // A session keeps at most MAX_ABANDONED unanswered ids; past it the oldest is freed.
        for n in 0..=MAX_ABANDONED as i64 {
            drop(running.start(&s2, &RequestId::Number(n)).expect("fresh"));
        }
        assert_eq!(running.len(), MAX_ABANDONED);
        let zero = running.start(&s2, &RequestId::Number(0));
        assert!(zero.is_some(), "the oldest was freed");
        assert!(
            running.start(&s2, &RequestId::Number(1)).is_none(),
            "still held"
        );
        answered(zero.expect("checked"));
    }

    #[test]
    fn slots_are_counted_per_key_and_in_total_and_freed_once() {
        let limits = SessionLimits::new(2, 3);
        let a1 = limits.reserve("a").unwrap();
        let a2 = limits.reserve("a").unwrap();
        assert_eq!(limits.reserve("a").err(), Some(Refusal::PerKey(2)));
        let b1 = limits.reserve("b").unwrap();
        assert_eq!(limits.reserve("c").err(), Some(Refusal::Total(3)));

        // A reservation that never became a session frees its slot when dropped.
        drop(a2);
        assert_eq!(limits.open(), 2);
        // One that did keeps it until the session closes, however often that is reported.
        let id: SessionId = "s-1".to_owned().into();
        limits.bind(a1.ticket(), &id);
        drop(a1);
        assert_eq!(limits.open(), 2);
        limits.release(&id);
        limits.release(&id);
        assert_eq!(limits.open(), 1);
        drop(b1);
        assert_eq!(limits.open(), 0);
        assert!(limits.reserve("a").is_ok());
    }
}
