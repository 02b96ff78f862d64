//! State shared between the [`Session`](super::Session) handle (synchronous reads and checks) and
//! the network task (the only writer of everything but the `Connecting`/`Disconnecting` requests),
//! plus the event sink and the commands the handle sends to the task.

use std::cell::{Cell, RefCell};
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
///
/// Events travel to the receiver in batches: one at a time normally, or, between [`hold`](Self::hold)
/// and [`release`](Self::release), all the events of one batch of frames together, so that the app's
/// event thread is woken once per batch and the channel is touched once per batch, not per event.
pub(crate) struct EventSink {
    sender: mpsc::UnboundedSender<Vec<Event>>,
    /// The events held back since `hold`; `None` when events go out one by one.
    held: RefCell<Option<Vec<Event>>>,
    /// How many events the last released batch had: the next batch starts with that capacity, so a
    /// flood's batches are not regrown (and copied) from empty each time.
    last_batch: Cell<usize>,
}

impl EventSink {
    /// A sink feeding `sender`, sending each event as it comes.
    pub fn new(sender: mpsc::UnboundedSender<Vec<Event>>) -> EventSink {
        EventSink { sender, held: RefCell::new(None), last_batch: Cell::new(0) }
    }

    /// Delivers one event (or holds it back until `release`).
    pub fn emit(&self, event: Event) {
        log::debug!("event: {event:?}");
        if let Some(held) = self.held.borrow_mut().as_mut() {
            held.push(event);
            return;
        }
        let _ = self.sender.send(vec![event]);
    }

    /// Holds back the events emitted from now on until [`release`](Self::release).
    pub fn hold(&self) {
        self.held.borrow_mut().get_or_insert_with(|| Vec::with_capacity(self.last_batch.get()));
    }

    /// Sends the held-back events as one batch, in emission order, and goes back to sending each
    /// event as it comes.
    pub fn release(&self) {
        let held = self.held.borrow_mut().take();
        self.last_batch.set(held.as_ref().map_or(0, Vec::len));
        if let Some(events) = held.filter(|events| !events.is_empty()) {
            let _ = self.sender.send(events);
        }
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
