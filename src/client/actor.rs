//! The network task of one session: waits for `connect`, runs the connect attempt, then hands over
//! to the connected loop (`live.rs`) and the resume logic (`resume.rs`). It is the only writer of the
//! roster and of every state except the ones the handle requests (`Connecting`, `Disconnecting`).

use std::future::Future;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls_pki_types::CertificateDer;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::{timeout, timeout_at, Instant};

use super::jsonrpc::{parse_frame, Incoming, Requests, RpcError};
use super::notify::{Effect, Notifier};
use super::shared::{Command, EventSink, OutgoingSignal, Shared};
use super::token::TokenUrl;
use super::transport::{dial, Link, LinkRead};
use super::types::{Capabilities, ClientError, Connection, DisconnectReason, ErrorCode, Event, SessionState, Settings};
use super::wire::{self, JoinResult};
use super::tls;

/// What an outstanding request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestKind {
    Ping,
    JoinRoom,
    LeaveRoom,
    Resume,
    Signal,
    ForceDisconnect,
    ForceUnpublish,
}

/// A notification received before the response it follows, kept to apply right after it.
pub(crate) type EarlyNotification = (String, Value);

/// The result of waiting for something while watching the command queue.
pub(crate) enum Interrupted<T> {
    /// The awaited thing finished.
    Done(T),
    /// `disconnect` was called.
    Disconnect,
    /// Every `Session` handle is gone: end quietly.
    HandleDropped,
}

/// Awaits `work` while taking commands: `Disconnect` and a closed queue interrupt, anything else
/// goes to `other`.
pub(crate) async fn watching_commands<F: Future>(
    commands: &mut mpsc::UnboundedReceiver<Command>,
    work: F,
    mut other: impl FnMut(Command),
) -> Interrupted<F::Output> {
    tokio::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => return Interrupted::Done(out),
            cmd = commands.recv() => match cmd {
                None => return Interrupted::HandleDropped,
                Some(Command::Disconnect) => return Interrupted::Disconnect,
                Some(cmd) => other(cmd),
            },
        }
    }
}

/// Whether the task goes on after a connection ended.
pub(crate) enum Flow {
    Idle,
    Exit,
}

/// One joined connection: everything needed to serve it and to resume it.
pub(crate) struct Joined {
    pub token: TokenUrl,
    pub tls: Option<Arc<ClientConfig>>,
    pub own: Arc<Connection>,
    pub rpc_session_id: String,
    pub link: Link,
    pub next_ping: Instant,
    /// Signals sent while reconnecting, flushed on resume.
    pub queued: Vec<OutgoingSignal>,
    /// Notifications applied on this RPC session so far (all its sockets), presented on resume.
    pub received: u64,
}

/// The network task's state.
pub(crate) struct Actor {
    pub shared: Arc<Shared>,
    pub events: EventSink,
    pub commands: mpsc::UnboundedReceiver<Command>,
    pub settings: Settings,
    pub rpc: Requests<RequestKind>,
    /// `disconnect` arrived while a step could not act on it; the connected loop leaves first thing.
    pub disconnect_requested: bool,
}

/// Maps a `joinRoom` error to the code the app sees.
pub(crate) fn join_error(e: &RpcError) -> ClientError {
    let code = match e.code {
        401 => ErrorCode::AuthorizationFailure,
        202 => ErrorCode::InvalidSession,
        _ if e.message.to_ascii_lowercase().contains("limit") => ErrorCode::ConnectionLimitExceeded,
        _ => ErrorCode::ConnectionFailed,
    };
    ClientError::new(code, format!("joinRoom refused: {e}"))
}

/// Dials, sends the first ping and `joinRoom`, and waits for the `joinRoom` answer.
async fn join(
    rpc: &mut Requests<RequestKind>,
    settings: &Settings,
    token: &TokenUrl,
    tls: Option<Arc<ClientConfig>>,
) -> Result<(Link, JoinResult, Vec<EarlyNotification>, Instant), ClientError> {
    let mut link = dial(token, false, tls).await?;
    let opened_at = Instant::now();
    let interval = wire::first_ping_params(settings.ping_interval);
    link.send_text(rpc.start("ping", Some(&interval), RequestKind::Ping, settings.ping_timeout));
    let platform = wire::platform_description();
    let params = wire::JoinRoomParams {
        token: &token.full,
        session: &token.session_id,
        platform: &platform,
        sdk_version: wire::SDK_VERSION,
        metadata: &settings.client_data,
        secret: &token.secret,
        recorder: token.recorder,
        stt: false,
    };
    link.send_text(rpc.start("joinRoom", Some(&params), RequestKind::JoinRoom, settings.request_timeout));
    let mut early = Vec::new();
    let answer = timeout(settings.request_timeout, wait_for_join(rpc, &mut link, &mut early)).await;
    let joined = match answer {
        Ok(Ok(result)) => wire::parse_join_result(&result, &settings.client_data)
            .map_err(|e| ClientError::new(ErrorCode::ConnectionFailed, format!("unusable joinRoom result: {e}")))?,
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            let secs = settings.request_timeout.as_secs_f64();
            return Err(ClientError::new(ErrorCode::TimedOut, format!("joinRoom got no answer in {secs} s")));
        }
    };
    Ok((link, joined, early, opened_at))
}

/// Reads frames until the `joinRoom` answer; notifications met on the way are kept in `early`.
async fn wait_for_join(rpc: &mut Requests<RequestKind>, link: &mut Link, early: &mut Vec<EarlyNotification>) -> Result<Value, ClientError> {
    loop {
        let text = match link.next_text().await {
            LinkRead::Text(text) => text,
            LinkRead::Closed(why) => {
                return Err(ClientError::new(ErrorCode::ConnectionFailed, format!("socket lost while joining: {why}")))
            }
        };
        match parse_frame(&text) {
            Ok(Incoming::Response { id, outcome }) => match (rpc.complete(id), outcome) {
                (Some(RequestKind::JoinRoom), Ok(result)) => return Ok(result),
                (Some(RequestKind::JoinRoom), Err(e)) => return Err(join_error(&e)),
                (Some(RequestKind::Ping), Err(e)) => log::warn!("ping refused while joining: {e}"),
                (Some(_), _) => {}
                (None, _) => log::warn!("protocol error: response to unknown request id {id}"),
            },
            Ok(Incoming::Notification { method, params }) => early.push((method, params)),
            Ok(Incoming::ServerRequest { method }) => log::warn!("protocol error: unexpected server request {method}"),
            Err(e) => log::warn!("protocol error: {e}"),
        }
    }
}

impl Actor {
    /// A task for a session with these settings.
    pub fn new(shared: Arc<Shared>, events: EventSink, commands: mpsc::UnboundedReceiver<Command>, settings: Settings) -> Actor {
        Actor { shared, events, commands, settings, rpc: Requests::new(), disconnect_requested: false }
    }

    /// Runs until every `Session` handle is dropped.
    pub async fn run(mut self) {
        while let Some(cmd) = self.commands.recv().await {
            match cmd {
                Command::Connect { token, extra_roots } => {
                    if let Flow::Exit = self.connect_and_serve(token, extra_roots).await {
                        return;
                    }
                }
                stale => log::debug!("ignoring {stale:?}: not connected"),
            }
        }
    }

    /// A connect attempt failed: back to `Idle`, one `Error`, no `Disconnected`.
    fn fail_connect(&mut self, error: ClientError) -> Flow {
        self.rpc.take_all();
        self.shared.set_state(SessionState::Idle);
        self.events.emit(Event::Error(error));
        Flow::Idle
    }

    async fn connect_and_serve(&mut self, token: TokenUrl, extra_roots: Vec<CertificateDer<'static>>) -> Flow {
        // A new connect is a new JSON-RPC client in the browser: ids start again at 0 (they keep
        // counting across the resumes of this connection).
        self.rpc = Requests::new();
        let tls = if token.secure {
            // Reading the system's CA certificates is file I/O: off the runtime's thread.
            let config = tokio::task::spawn_blocking(move || tls::client_config(&extra_roots)).await;
            match config {
                Ok(Ok(config)) => Some(config),
                Ok(Err(e)) => return self.fail_connect(e),
                Err(e) => return self.fail_connect(ClientError::new(ErrorCode::Internal, format!("TLS configuration task failed: {e}"))),
            }
        } else {
            None
        };
        let deadline = Instant::now() + self.settings.connect_timeout;
        let attempt = timeout_at(deadline, join(&mut self.rpc, &self.settings, &token, tls.clone()));
        let outcome = watching_commands(&mut self.commands, attempt, |cmd| log::debug!("ignoring {cmd:?} while connecting")).await;
        let (link, joined, early, opened_at) = match outcome {
            Interrupted::HandleDropped => return Flow::Exit,
            Interrupted::Disconnect => {
                return self.fail_connect(ClientError::new(ErrorCode::ConnectionFailed, "connect aborted by disconnect"))
            }
            Interrupted::Done(Err(_elapsed)) => {
                let secs = self.settings.connect_timeout.as_secs_f64();
                return self.fail_connect(ClientError::new(ErrorCode::TimedOut, format!("connect timed out after {secs} s")));
            }
            Interrupted::Done(Ok(Err(e))) => return self.fail_connect(e),
            Interrupted::Done(Ok(Ok(done))) => done,
        };
        let mut j = Joined {
            token,
            tls,
            own: joined.own.clone(),
            rpc_session_id: joined.rpc_session_id.clone(),
            link,
            next_ping: opened_at + self.settings.ping_interval,
            queued: Vec::new(),
            received: 0,
        };
        self.announce_join(joined);
        if let Some(reason) = self.apply_notifications(&mut j, early) {
            return self.end_connection(&mut j, reason, 4102);
        }
        self.serve(&mut j).await
    }

    /// Publishes the join: roster first, then `Connected`, `ConnectionCreated`s, `StreamReceived`s.
    fn announce_join(&self, joined: JoinResult) {
        {
            let mut view = self.shared.lock();
            view.own = Some(joined.own.clone());
            view.capabilities = Capabilities::of(joined.role);
            view.roster = super::roster::Roster::new();
            for p in &joined.participants {
                if p.connection.id() != joined.own.id() {
                    view.roster.add_connection(p.connection.clone());
                    for s in &p.streams {
                        view.roster.add_stream(s.clone());
                    }
                }
            }
            if view.state == SessionState::Connecting {
                view.state = SessionState::Connected;
            }
        }
        self.events.emit(Event::Connected { own: joined.own.clone() });
        let others: Vec<_> = joined.participants.into_iter().filter(|p| p.connection.id() != joined.own.id()).collect();
        if !self.settings.connection_events_suppressed {
            for p in &others {
                self.events.emit(Event::ConnectionCreated(p.connection.clone()));
            }
        }
        for s in others.into_iter().flat_map(|p| p.streams) {
            self.events.emit(Event::StreamReceived(s));
        }
    }

    /// Applies notifications in order (counting them); returns the reason if one of them evicted us.
    pub(crate) fn apply_notifications(&self, j: &mut Joined, notifications: Vec<EarlyNotification>) -> Option<DisconnectReason> {
        for (method, params) in notifications {
            j.received += 1;
            if let Effect::Evicted(reason) = self.notifier(j).apply(&method, &params) {
                return Some(reason);
            }
        }
        None
    }

    /// The notification applier for this connection.
    pub(crate) fn notifier<'a>(&'a self, j: &'a Joined) -> Notifier<'a> {
        Notifier {
            shared: &self.shared,
            events: &self.events,
            own: &j.own,
            connection_events_suppressed: self.settings.connection_events_suppressed,
        }
    }

    /// Ends a joined connection: closes the socket with `close_code`, fails queued signals, clears
    /// the roster and emits the one `Disconnected`, last.
    pub(crate) fn end_connection(&mut self, j: &mut Joined, reason: DisconnectReason, close_code: u16) -> Flow {
        j.link.close(close_code, "Connection closed by client");
        self.rpc.take_all();
        for signal in j.queued.drain(..) {
            self.events.emit(Event::Error(ClientError::new(
                ErrorCode::NotConnected,
                format!("signal {:?} not sent: the session ended while reconnecting", signal.kind),
            )));
        }
        {
            let mut view = self.shared.lock();
            view.clear_connection();
            view.state = SessionState::Disconnected;
        }
        self.events.emit(Event::Disconnected(reason));
        Flow::Idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(code: i64, message: &str) -> ErrorCode {
        join_error(&RpcError { code, message: message.into() }).code
    }

    #[test]
    fn join_errors_map_to_upstream_codes() {
        assert_eq!(code_of(401, "Token not valid"), ErrorCode::AuthorizationFailure);
        assert_eq!(code_of(202, "Session not found"), ErrorCode::InvalidSession);
        assert_eq!(code_of(500, "Connection LIMIT exceeded"), ErrorCode::ConnectionLimitExceeded);
        assert_eq!(code_of(-32601, "Method not found"), ErrorCode::ConnectionFailed);
        let e = join_error(&RpcError { code: 401, message: "Token not valid".into() });
        assert!(e.message.contains("Token not valid") && e.message.contains("401"), "{e}");
    }
}
