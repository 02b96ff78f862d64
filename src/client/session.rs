//! The session handle. SKELETON: signatures agreed between the client core and the C layer;
//! the client-core work replaces every body.

use std::sync::Arc;

use super::types::*;

/// A handle to one session. Cheap to clone; every method is thread-safe and non-blocking
/// (none waits on the network: results arrive as [`Event`]s). Dropping the last clone ends the
/// session's network task without emitting further events.
#[derive(Clone)]
pub struct Session {
    _private: Arc<()>,
}

/// The receiving end of a session's events. `recv` for async code, `blocking_recv` for a plain
/// thread (the C layer's dispatcher). Returns `None` once the session handle is dropped and the
/// network task has ended.
pub struct EventReceiver {
    rx: tokio::sync::mpsc::UnboundedReceiver<Event>,
}

impl EventReceiver {
    /// Waits for the next event.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }

    /// Waits for the next event, blocking the current (non-runtime) thread.
    pub fn blocking_recv(&mut self) -> Option<Event> {
        self.rx.blocking_recv()
    }
}

impl Session {
    /// Creates a session in state `Idle`. `session_id` is the id the app expects (checked against the
    /// token's `sessionId` on connect when given).
    pub fn new(session_id: Option<String>, settings: Settings) -> (Session, EventReceiver) {
        unimplemented!("client core")
    }

    /// Starts connecting with a token URL (`ws[s]://host[:port]?sessionId=..&token=..`). Returns at once;
    /// the outcome arrives as `Event::Connected` or `Event::Error` (then state is `Idle` again).
    /// Errors now: `InvalidParameter` for a token that does not parse, `IllegalState` unless `Idle`/`Disconnected`.
    pub fn connect(&self, token: &str) -> Result<(), ClientError> {
        unimplemented!("client core")
    }

    /// Leaves the session (`leaveRoom`). `Event::Disconnected(ClientDisconnected)` follows.
    /// While connecting: aborts the attempt (an `Error` event, no `Disconnected`).
    /// Errors now: `NotConnected` when idle or already disconnected.
    pub fn disconnect(&self) -> Result<(), ClientError> {
        unimplemented!("client core")
    }

    /// Sends a signal to everyone (`to` = None, the sender included, as upstream) or to one connection.
    /// Checks limits first (data <= 8192 bytes, type <= 128 chars of `[A-Za-z0-9-_~.]`, empty type allowed).
    /// While reconnecting: queued when `retry_after_reconnect`, else `NotConnected` at once.
    /// Server-side failures arrive as `Event::Error(SignalFailed)`.
    pub fn send_signal(&self, to: Option<&str>, kind: &str, data: &str, options: SignalOptions) -> Result<(), ClientError> {
        unimplemented!("client core")
    }

    /// Asks the server to force a connection out. `UnableToForceDisconnect` at once without the moderator
    /// role; a refusal by the server arrives as `Event::Error(UnableToForceDisconnect)`.
    pub fn force_disconnect(&self, connection_id: &str) -> Result<(), ClientError> {
        unimplemented!("client core")
    }

    /// Asks the server to force a stream to unpublish. `ForceUnpublishOrInvalidStream` at once without the
    /// moderator role; a refusal by the server arrives as `Event::Error(ForceUnpublishOrInvalidStream)`.
    pub fn force_unpublish(&self, stream_id: &str) -> Result<(), ClientError> {
        unimplemented!("client core")
    }

    /// The current lifecycle state.
    pub fn state(&self) -> SessionState {
        unimplemented!("client core")
    }

    /// The session id: the one given to `new`, else the token's, else `None` before the first connect.
    pub fn session_id(&self) -> Option<String> {
        unimplemented!("client core")
    }

    /// The own connection while connected (or reconnecting).
    pub fn own_connection(&self) -> Option<Arc<Connection>> {
        unimplemented!("client core")
    }

    /// What the own role allows (all false when not connected).
    pub fn capabilities(&self) -> Capabilities {
        unimplemented!("client core")
    }

    /// A snapshot of the other clients in the session, in join order (own connection excluded).
    pub fn roster(&self) -> Vec<Arc<Connection>> {
        unimplemented!("client core")
    }

    /// A snapshot of the streams published by other clients.
    pub fn streams(&self) -> Vec<Arc<Stream>> {
        unimplemented!("client core")
    }
}
