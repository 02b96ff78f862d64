//! Shared server state: the concurrent session map, the RPC-session index used by `connect`,
//! the configuration and the shutdown signal that every background task obeys.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use tokio::sync::watch;

use crate::config::ServerConfig;
use crate::model::LeaveReason;
use crate::outbound::pacer::Pacer;
use crate::participant::Participant;
use crate::session::Session;

/// State shared by the WebSocket handlers, the REST handlers and the embedding API.
pub struct ServerState {
    /// Configuration.
    pub config: ServerConfig,
    /// `ws[s]://host:port` used to build tokens.
    pub token_base: String,
    /// Sessions by id.
    pub sessions: DashMap<String, Arc<Session>>,
    /// Joined participants by RPC session id (for `connect`).
    pub rpc_sessions: DashMap<String, Arc<Participant>>,
    /// The pacing of broadcast writes, shared by every socket's writer.
    pub pacer: Arc<Pacer>,
    /// Sessions registered or being registered (bounded by `config.max_sessions`).
    session_slots: AtomicUsize,
    shutdown: watch::Sender<bool>,
    sockets: watch::Sender<usize>,
}

/// Counts a live WebSocket for as long as it exists.
pub struct SocketGuard(Arc<ServerState>);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.0.sockets.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl ServerState {
    /// New empty state.
    pub fn new(config: ServerConfig, token_base: String) -> Arc<ServerState> {
        let (shutdown, _) = watch::channel(false);
        let (sockets, _) = watch::channel(0);
        Arc::new(ServerState {
            pacer: Pacer::new(config.write_coalesce, config.write_coalesce_max),
            config,
            token_base,
            sessions: DashMap::new(),
            rpc_sessions: DashMap::new(),
            session_slots: AtomicUsize::new(0),
            shutdown,
            sockets,
        })
    }

    /// The session with that id (the map guard is released before returning).
    pub fn session(&self, id: &str) -> Option<Arc<Session>> {
        self.sessions.get(id).map(|s| s.value().clone())
    }

    /// Removes exactly this session object from the map (not a newer one with the same id).
    pub fn unregister(&self, session: &Session) {
        let removed = self
            .sessions
            .remove_if(&session.id, |_, s| std::ptr::eq(s.as_ref(), session));
        if removed.is_some() {
            self.release_session_slot();
        }
    }

    /// Reserves room for one more session; false when `config.max_sessions` are already held.
    pub fn reserve_session_slot(&self) -> bool {
        let max = self.config.max_sessions;
        self.session_slots
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1))
            .is_ok()
    }

    /// Gives back a slot taken by [`ServerState::reserve_session_slot`].
    pub fn release_session_slot(&self) {
        let _ = self
            .session_slots
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// Evicts, in a task, participants whose queues overflowed (`networkDisconnect`).
    pub fn evict_overflowed(self: &ServerState, session_id: &str, connection_ids: Vec<String>) {
        if connection_ids.is_empty() {
            return;
        }
        let Some(session) = self.session(session_id) else {
            return;
        };
        for connection_id in connection_ids {
            tracing::warn!(session = %session_id, connection = %connection_id, "queue overflow: evicting");
            let _ = session.evict(self, &connection_id, LeaveReason::NetworkDisconnect, None);
        }
    }

    /// Registers a live WebSocket until the guard is dropped.
    pub fn track_socket(self: &Arc<Self>) -> SocketGuard {
        self.sockets.send_modify(|n| *n += 1);
        SocketGuard(self.clone())
    }

    /// The number of live WebSockets.
    pub fn live_sockets(&self) -> watch::Receiver<usize> {
        self.sockets.subscribe()
    }

    /// A receiver that turns true when the server shuts down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Starts the shutdown: every task spawned with [`ServerState::spawn`] and every socket stops.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Spawns a background task that is dropped when the server shuts down.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mut shutdown = self.shutdown_signal();
        tokio::spawn(async move {
            tokio::select! {
                _ = crate::outbound::killed(&mut shutdown) => {}
                _ = task => {}
            }
        });
    }
}
