//! State shared between the [`Session`](super::Session) handle (synchronous reads and checks) and
//! the network task (the only writer of everything but the `Connecting`/`Disconnecting` requests),
//! plus the event sink and the commands the handle sends to the task.

use std::sync::{Arc, Mutex, MutexGuard};

use rustls_pki_types::CertificateDer;
use tokio::sync::mpsc;

use super::roster::Roster;
use super::token::TokenUrl;
use super::types::{Capabilities, Connection, Event, SessionState};

/// What the handle can read synchronously. Held only for short, non-blocking sections.
pub(crate) struct View {
    pub state: SessionState,
    pub session_id: Option<String>,
    pub own: Option<Arc<Connection>>,
    pub capabilities: Capabilities,
    pub roster: Roster,
}

impl View {
    /// Forgets the connection-specific parts (own connection, role, roster).
    pub fn clear_connection(&mut self) {
        self.own = None;
        self.capabilities = Capabilities::default();
        self.roster = Roster::new();
    }
}

/// The lock around [`View`].
pub(crate) struct Shared {
    view: Mutex<View>,
}

impl Shared {
    /// A fresh, idle view.
    pub fn new(session_id: Option<String>) -> Arc<Shared> {
        Arc::new(Shared {
            view: Mutex::new(View {
                state: SessionState::Idle,
                session_id,
                own: None,
                capabilities: Capabilities::default(),
                roster: Roster::new(),
            }),
        })
    }

    /// Locks the view. A poisoned lock is recovered: the view holds no invariant a panic could break.
    pub fn lock(&self) -> MutexGuard<'_, View> {
        self.view.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sets the state unless `disconnect` was requested meanwhile (that request wins; its command
    /// is already queued for the task).
    pub fn set_state_unless_disconnecting(&self, state: SessionState) {
        let mut view = self.lock();
        if view.state != SessionState::Disconnecting {
            view.state = state;
        }
    }

    /// Sets the state.
    pub fn set_state(&self, state: SessionState) {
        self.lock().state = state;
    }
}

/// Sends events to the app; a dropped receiver is not an error.
#[derive(Clone)]
pub(crate) struct EventSink(pub mpsc::UnboundedSender<Event>);

impl EventSink {
    /// Delivers one event.
    pub fn emit(&self, event: Event) {
        log::debug!("event: {event:?}");
        let _ = self.0.send(event);
    }

    /// Passes on an event already logged by the sink that held it back.
    pub fn forward(&self, event: Event) {
        let _ = self.0.send(event);
    }
}

/// A sink whose events are held back until the owner forwards them (see `live.rs`, frame batches).
pub(crate) struct HeldEvents {
    /// Where held-back events are emitted.
    pub sink: EventSink,
    /// Where the owner takes them from.
    pub staged: mpsc::UnboundedReceiver<Event>,
}

impl HeldEvents {
    /// An empty holding sink.
    pub fn new() -> HeldEvents {
        let (sender, staged) = mpsc::unbounded_channel();
        HeldEvents { sink: EventSink(sender), staged }
    }
}

/// A signal on its way out.
#[derive(Debug)]
pub(crate) struct OutgoingSignal {
    /// Connection ids; empty = everyone.
    pub to: Vec<String>,
    /// The type without the `signal:` prefix.
    pub kind: String,
    pub data: String,
}

/// Requests from the handle to the network task.
#[derive(Debug)]
pub(crate) enum Command {
    /// Connect with this token; `extra_roots` are the app's extra CA certificates (already parsed).
    Connect { token: TokenUrl, extra_roots: Vec<CertificateDer<'static>> },
    /// Leave (or abort the connect attempt, or the resume).
    Disconnect,
    /// Send a signal (queued while reconnecting).
    Signal(OutgoingSignal),
    /// `forceDisconnect` of this connection id.
    ForceDisconnect(String),
    /// `forceUnpublish` of this stream id.
    ForceUnpublish(String),
}
