//! The session handle: synchronous checks and reads over the shared view, commands to the
//! session's network task (spawned on the library runtime at the first `connect`).

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::actor::Actor;
use super::runtime::runtime;
use super::shared::{Command, EventSink, OutgoingSignal, Shared};
use super::token::TokenUrl;
use super::types::*;
use super::{signal, tls};

/// A handle to one session. Cheap to clone; every method is thread-safe and non-blocking
/// (none waits on the network: results arrive as [`Event`]s). Dropping the last clone ends the
/// session's network task without emitting further events.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    /// The session id given to `new`, checked against each token.
    expected_session_id: Option<String>,
    settings: Settings,
    /// The network task until it is spawned (at the first `connect`).
    unstarted: Mutex<Option<Actor>>,
}

/// The receiving end of a session's events. `recv` for async code, `blocking_recv` for a plain
/// thread (the C layer's dispatcher). Returns `None` once the session handle is dropped and the
/// network task has ended.
pub struct EventReceiver {
    /// Batches of events, in order (see `EventSink`).
    rx: tokio::sync::mpsc::UnboundedReceiver<Vec<Event>>,
    /// The rest of the batch being handed out.
    pending: std::vec::IntoIter<Event>,
}

impl EventReceiver {
    /// Waits for the next event.
    pub async fn recv(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.next() {
                return Some(event);
            }
            self.pending = self.rx.recv().await?.into_iter();
        }
    }

    /// Waits for the next event, blocking the current (non-runtime) thread.
    pub fn blocking_recv(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.next() {
                return Some(event);
            }
            self.pending = self.rx.blocking_recv()?.into_iter();
        }
    }

    /// The next event when one has already arrived; never waits.
    pub fn try_recv(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.next() {
                return Some(event);
            }
            self.pending = self.rx.try_recv().ok()?.into_iter();
        }
    }
}

impl Session {
    /// Creates a session in state `Idle`. `session_id` is the id the app expects (checked against the
    /// token's `sessionId` on connect when given).
    pub fn new(session_id: Option<String>, settings: Settings) -> (Session, EventReceiver) {
        let shared = Shared::new(session_id.clone());
        let (event_tx, event_rx) = mpsc::unbounded_channel();
        let (command_tx, command_rx) = mpsc::unbounded_channel();
        let actor = Actor::new(shared.clone(), EventSink::new(event_tx), command_rx, settings.clone());
        let inner = Inner {
            shared,
            commands: command_tx,
            expected_session_id: session_id,
            settings,
            unstarted: Mutex::new(Some(actor)),
        };
        (Session { inner: Arc::new(inner) }, EventReceiver { rx: event_rx, pending: Vec::new().into_iter() })
    }

    fn start_task(&self) -> Result<(), ClientError> {
        let mut unstarted = self.inner.unstarted.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(actor) = unstarted.take() {
            match runtime() {
                Ok(rt) => {
                    rt.spawn(actor.run());
                }
                Err(e) => {
                    *unstarted = Some(actor);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    fn send(&self, command: Command) -> Result<(), ClientError> {
        self.inner
            .commands
            .send(command)
            .map_err(|_| ClientError::new(ErrorCode::Internal, "the session's network task has stopped"))
    }

    /// Starts connecting with a token URL (`ws[s]://host[:port]?sessionId=..&token=..`). Returns at once;
    /// the outcome arrives as `Event::Connected` or `Event::Error` (then state is `Idle` again).
    /// Errors now: `InvalidParameter` for a token that does not parse, `IllegalState` unless `Idle`/`Disconnected`.
    pub fn connect(&self, token: &str) -> Result<(), ClientError> {
        let token = TokenUrl::parse(token)?;
        if let Some(expected) = &self.inner.expected_session_id {
            if *expected != token.session_id {
                return Err(ClientError::new(
                    ErrorCode::InvalidParameter,
                    format!("the token is for session {:?}, this session is {expected:?}", token.session_id),
                ));
            }
        }
        let extra_roots = match &self.inner.settings.extra_ca_pem {
            Some(pem) => tls::parse_extra_roots(pem)?,
            None => Vec::new(),
        };
        self.start_task()?;
        let mut view = self.inner.shared.lock();
        if !matches!(view.state, SessionState::Idle | SessionState::Disconnected) {
            return Err(ClientError::new(ErrorCode::IllegalState, format!("connect called while {:?}", view.state)));
        }
        let session_id = token.session_id.clone();
        self.send(Command::Connect { token, extra_roots })?;
        view.state = SessionState::Connecting;
        view.session_id = Some(self.inner.expected_session_id.clone().unwrap_or(session_id));
        Ok(())
    }

    /// Leaves the session (`leaveRoom`). `Event::Disconnected(ClientDisconnected)` follows.
    /// While connecting: aborts the attempt (an `Error` event, no `Disconnected`).
    /// Errors now: `NotConnected` when idle or already disconnected.
    pub fn disconnect(&self) -> Result<(), ClientError> {
        let mut view = self.inner.shared.lock();
        match view.state {
            SessionState::Idle | SessionState::Disconnected => {
                Err(ClientError::new(ErrorCode::NotConnected, "disconnect called while not connected"))
            }
            SessionState::Disconnecting => Ok(()),
            SessionState::Connecting | SessionState::Connected | SessionState::Reconnecting => {
                self.send(Command::Disconnect)?;
                view.state = SessionState::Disconnecting;
                Ok(())
            }
        }
    }

    /// Sends a signal to everyone (`to` = None, the sender included, as upstream) or to one connection.
    /// Checks limits first (data <= 8192 bytes, type <= 128 chars of `[A-Za-z0-9-_~.]`, empty type allowed).
    /// While reconnecting: queued when `retry_after_reconnect`, else `NotConnected` at once.
    /// Server-side failures arrive as `Event::Error(SignalFailed)`.
    pub fn send_signal(&self, to: Option<&str>, kind: &str, data: &str, options: SignalOptions) -> Result<(), ClientError> {
        signal::validate(kind, data)?;
        if to.is_some_and(str::is_empty) {
            return Err(ClientError::new(ErrorCode::InvalidParameter, "empty recipient connection id"));
        }
        let view = self.inner.shared.lock();
        match view.state {
            SessionState::Connected => {}
            SessionState::Reconnecting if options.retry_after_reconnect => {}
            state => return Err(ClientError::new(ErrorCode::NotConnected, format!("cannot signal while {state:?}"))),
        }
        let to = to.map(|id| vec![id.to_string()]).unwrap_or_default();
        self.send(Command::Signal(OutgoingSignal { to, kind: kind.to_string(), data: data.to_string() }))
    }

    fn moderation_check(&self, id: &str, allowed: fn(&Capabilities) -> bool, refused: ErrorCode, what: &str) -> Result<(), ClientError> {
        if id.is_empty() {
            return Err(ClientError::new(ErrorCode::InvalidParameter, format!("{what}: empty id")));
        }
        let view = self.inner.shared.lock();
        if view.state != SessionState::Connected {
            return Err(ClientError::new(ErrorCode::NotConnected, format!("{what} while {:?}", view.state)));
        }
        if !allowed(&view.capabilities) {
            return Err(ClientError::new(refused, format!("{what} needs the MODERATOR role")));
        }
        Ok(())
    }

    /// Asks the server to force a connection out. `UnableToForceDisconnect` at once without the moderator
    /// role; a refusal by the server arrives as `Event::Error(UnableToForceDisconnect)`.
    pub fn force_disconnect(&self, connection_id: &str) -> Result<(), ClientError> {
        self.moderation_check(connection_id, |c| c.force_disconnect, ErrorCode::UnableToForceDisconnect, "forceDisconnect")?;
        self.send(Command::ForceDisconnect(connection_id.to_string()))
    }

    /// Asks the server to force a stream to unpublish. `ForceUnpublishOrInvalidStream` at once without the
    /// moderator role; a refusal by the server arrives as `Event::Error(ForceUnpublishOrInvalidStream)`.
    pub fn force_unpublish(&self, stream_id: &str) -> Result<(), ClientError> {
        self.moderation_check(stream_id, |c| c.force_unpublish, ErrorCode::ForceUnpublishOrInvalidStream, "forceUnpublish")?;
        self.send(Command::ForceUnpublish(stream_id.to_string()))
    }

    /// The current lifecycle state.
    pub fn state(&self) -> SessionState {
        self.inner.shared.lock().state
    }

    /// The session id: the one given to `new`, else the token's, else `None` before the first connect.
    pub fn session_id(&self) -> Option<String> {
        self.inner.shared.lock().session_id.clone()
    }

    /// The own connection while connected (or reconnecting).
    pub fn own_connection(&self) -> Option<Arc<Connection>> {
        self.inner.shared.lock().own.clone()
    }

    /// What the own role allows (all false when not connected).
    pub fn capabilities(&self) -> Capabilities {
        self.inner.shared.lock().capabilities
    }

    /// A snapshot of the other clients in the session, in join order (own connection excluded).
    pub fn roster(&self) -> Vec<Arc<Connection>> {
        self.inner.shared.lock().roster.connections()
    }

    /// A snapshot of the streams published by other clients.
    pub fn streams(&self) -> Vec<Arc<Stream>> {
        self.inner.shared.lock().roster.streams()
    }
}
