//! The connected loop: frames in, commands out, keepalive pings and request deadlines; plus the
//! leave handshake. A lost socket hands over to `resume.rs`.

use futures_util::FutureExt;
use serde_json::json;
use tokio::time::{sleep_until, timeout, Duration, Instant};

use super::actor::{watching_commands, Actor, Flow, Interrupted, Joined, RequestKind};
use super::hot::parse_hot;
use super::jsonrpc::{parse_frame, Incoming, NO_PARAMS};
use super::notify::{Effect, StagedJoins};
use super::resume::ResumeEnd;
use super::shared::{Command, OutgoingSignal};
use super::signal::wire_type;
use super::transport::LinkRead;
use super::types::{ClientError, DisconnectReason, ErrorCode, Event, SessionState};
use super::wire;

/// Close code the browser uses when it closes the socket itself.
pub(crate) const CLOSE_BY_CLIENT: u16 = 4102;
/// Close code of a socket abandoned for a redial.
pub(crate) const CLOSE_FOR_RECONNECTION: u16 = 4104;
/// Close code after the server refused the resume.
pub(crate) const CLOSE_RECONNECTION_FAULT: u16 = 4101;

/// How many already-buffered frames one turn of the connected loop applies before it looks at
/// commands and timers again (about 1 ms of work in a join storm). Their events reach the app's
/// thread together, so this also sets how often that thread is woken during a flood.
const FRAMES_PER_BATCH: usize = 1024;

/// What one batch of frames carries from frame to frame.
#[derive(Default)]
struct Batch {
    /// Joins not yet in the roster.
    staged: StagedJoins,
    /// Where the fast path unescapes a join's metadata.
    scratch: String,
}

/// Why the connected loop stopped.
pub(crate) enum LinkEnd {
    /// Socket closed, read error, or a failed ping: try to resume.
    Lost(String),
    /// The own connection was evicted.
    Evicted(DisconnectReason),
    /// `disconnect` completed its leave handshake.
    Left,
    /// Every handle is gone.
    HandleDropped,
}

impl Actor {
    /// Serves a joined connection until it ends for good.
    pub(crate) async fn serve(&mut self, j: &mut Joined) -> Flow {
        loop {
            match self.serve_link(j).await {
                LinkEnd::Left => return self.end_connection(j, DisconnectReason::ClientDisconnected, CLOSE_BY_CLIENT),
                LinkEnd::Evicted(reason) => return self.end_connection(j, reason, CLOSE_BY_CLIENT),
                LinkEnd::HandleDropped => {
                    j.link.close(CLOSE_BY_CLIENT, "Connection closed by client");
                    return Flow::Exit;
                }
                LinkEnd::Lost(why) => {
                    let disconnecting = self.shared.lock().state == SessionState::Disconnecting;
                    if disconnecting {
                        log::info!("connection lost ({why}) while disconnecting");
                        return self.end_connection(j, DisconnectReason::ClientDisconnected, CLOSE_BY_CLIENT);
                    }
                    log::warn!("connection lost ({why}): resuming");
                    self.shared.set_state_unless_disconnecting(SessionState::Reconnecting);
                    self.events.emit(Event::ReconnectionStarted);
                    self.fail_pending_requests("the connection was lost before the server answered");
                    j.link.close(CLOSE_FOR_RECONNECTION, "Connection closed for reconnection");
                    match self.resume(j).await {
                        ResumeEnd::Resumed => continue,
                        ResumeEnd::Ended(reason, code) => return self.end_connection(j, reason, code),
                        ResumeEnd::HandleDropped => return Flow::Exit,
                    }
                }
            }
        }
    }

    async fn serve_link(&mut self, j: &mut Joined) -> LinkEnd {
        if std::mem::take(&mut self.disconnect_requested) {
            return self.leave(j).await;
        }
        // Both timers are armed once and re-armed only when their deadline moves: building two
        // fresh timers per frame cost more than applying the frame.
        let ping_timer = sleep_until(j.next_ping);
        tokio::pin!(ping_timer);
        let mut armed_deadline = self.rpc.next_deadline();
        let request_timer = sleep_until(armed_deadline.unwrap_or_else(Instant::now));
        tokio::pin!(request_timer);
        loop {
            let deadline = self.rpc.next_deadline();
            if deadline != armed_deadline {
                if let Some(at) = deadline {
                    request_timer.as_mut().reset(at);
                }
                armed_deadline = deadline;
            }
            if ping_timer.deadline() != j.next_ping {
                ping_timer.as_mut().reset(j.next_ping);
            }
            tokio::select! {
                read = j.link.next_text() => match read {
                    LinkRead::Closed(why) => return LinkEnd::Lost(why),
                    LinkRead::Text(text) => {
                        if let Some(end) = self.on_frame_batch(j, &text) {
                            return end;
                        }
                    }
                },
                cmd = self.commands.recv() => match cmd {
                    None => return LinkEnd::HandleDropped,
                    Some(Command::Disconnect) => return self.leave(j).await,
                    Some(cmd) => self.on_command(j, cmd),
                },
                _ = &mut ping_timer => {
                    self.send_ping(j, false);
                    let now = Instant::now();
                    j.next_ping += self.settings.ping_interval;
                    if j.next_ping <= now {
                        j.next_ping = now + self.settings.ping_interval;
                    }
                },
                _ = &mut request_timer, if armed_deadline.is_some() => {
                    // Forces a re-arm on the next turn even when the earliest deadline is unchanged
                    // (a completed timer does not fire again).
                    armed_deadline = None;
                    if let Some(end) = self.on_deadlines() {
                        return end;
                    }
                },
            }
        }
    }

    /// Applies `first` and then every further frame the socket has already buffered (at most
    /// [`FRAMES_PER_BATCH`]), holding their events back and handing them to the app together: the
    /// app's event thread is woken once per batch instead of once per event. Event order is unchanged.
    fn on_frame_batch(&mut self, j: &mut Joined, first: &str) -> Option<LinkEnd> {
        self.events.hold();
        let mut batch = Batch::default();
        let mut end = self.on_frame(j, first, &mut batch);
        let mut applied = 1;
        while end.is_none() && applied < FRAMES_PER_BATCH {
            match j.link.next_text().now_or_never() {
                None => break,
                Some(LinkRead::Closed(why)) => end = Some(LinkEnd::Lost(why)),
                Some(LinkRead::Text(text)) => end = self.on_frame(j, &text, &mut batch),
            }
            applied += 1;
        }
        self.notifier(j).apply_staged(&mut batch.staged);
        self.events.release();
        end
    }

    /// Sends a keepalive ping; the first one of a socket carries the interval.
    pub(crate) fn send_ping(&mut self, j: &Joined, with_interval: bool) {
        let frame = if with_interval {
            let params = wire::first_ping_params(self.settings.ping_interval);
            self.rpc.start("ping", Some(&params), RequestKind::Ping, self.settings.ping_timeout)
        } else {
            self.rpc.start("ping", NO_PARAMS, RequestKind::Ping, self.settings.ping_timeout)
        };
        j.link.send_text(frame);
    }

    /// Applies one frame. Joins from the fast path wait in the batch's staged joins; every other frame
    /// first applies them, so the roster and the events keep the order of the frames.
    fn on_frame(&mut self, j: &mut Joined, text: &str, batch: &mut Batch) -> Option<LinkEnd> {
        if let Some(notification) = parse_hot(text, &mut batch.scratch) {
            j.received += 1;
            self.notifier(j).apply_hot(notification, &mut batch.staged);
            return None;
        }
        self.notifier(j).apply_staged(&mut batch.staged);
        match parse_frame(text) {
            Err(e) => log::warn!("protocol error: {e}"),
            Ok(Incoming::ServerRequest { method }) => log::warn!("protocol error: unexpected server request {method}"),
            Ok(Incoming::Notification { method, params }) => {
                j.received += 1;
                if let Effect::Evicted(reason) = self.notifier(j).apply(&method, &params) {
                    return Some(LinkEnd::Evicted(reason));
                }
            }
            Ok(Incoming::Response { id, outcome }) => {
                let Some(kind) = self.rpc.complete(id) else {
                    log::debug!("response to unknown or expired request id {id}");
                    return None;
                };
                let Err(e) = outcome else { return None };
                match kind {
                    RequestKind::Ping => return Some(LinkEnd::Lost(format!("ping refused: {e}"))),
                    RequestKind::Signal => self.emit_error(ErrorCode::SignalFailed, format!("signal refused by the server: {e}")),
                    RequestKind::ForceDisconnect => {
                        self.emit_error(ErrorCode::UnableToForceDisconnect, format!("forceDisconnect refused by the server: {e}"))
                    }
                    RequestKind::ForceUnpublish => self.emit_error(
                        ErrorCode::ForceUnpublishOrInvalidStream,
                        format!("forceUnpublish refused by the server: {e}"),
                    ),
                    RequestKind::JoinRoom | RequestKind::LeaveRoom | RequestKind::Resume => {
                        log::debug!("late error for {kind:?}: {e}")
                    }
                }
            }
        }
        None
    }

    fn emit_error(&self, code: ErrorCode, message: String) {
        self.events.emit(Event::Error(ClientError::new(code, message)));
    }

    /// Handles expired requests: a ping means the socket is lost, others become `TimedOut` errors.
    fn on_deadlines(&mut self) -> Option<LinkEnd> {
        let mut lost = None;
        for kind in self.rpc.take_expired(Instant::now()) {
            match kind {
                RequestKind::Ping => lost = Some(LinkEnd::Lost("ping unanswered".into())),
                RequestKind::Signal => self.emit_error(ErrorCode::TimedOut, "the server did not confirm a signal in time".into()),
                RequestKind::ForceDisconnect => self.emit_error(ErrorCode::TimedOut, "forceDisconnect got no answer in time".into()),
                RequestKind::ForceUnpublish => self.emit_error(ErrorCode::TimedOut, "forceUnpublish got no answer in time".into()),
                RequestKind::JoinRoom | RequestKind::LeaveRoom | RequestKind::Resume => {}
            }
        }
        lost
    }

    /// Fails every outstanding request with an error event (the socket they were sent on is gone).
    pub(crate) fn fail_pending_requests(&mut self, why: &str) {
        for kind in self.rpc.take_all() {
            match kind {
                RequestKind::Signal => self.emit_error(ErrorCode::SignalFailed, format!("signal not confirmed: {why}")),
                RequestKind::ForceDisconnect => self.emit_error(ErrorCode::UnableToForceDisconnect, format!("forceDisconnect: {why}")),
                RequestKind::ForceUnpublish => {
                    self.emit_error(ErrorCode::ForceUnpublishOrInvalidStream, format!("forceUnpublish: {why}"))
                }
                RequestKind::Ping | RequestKind::JoinRoom | RequestKind::LeaveRoom | RequestKind::Resume => {}
            }
        }
    }

    fn on_command(&mut self, j: &Joined, cmd: Command) {
        let timeout = self.settings.request_timeout;
        let frame = match cmd {
            Command::Signal(signal) => return self.send_signal(j, &signal),
            Command::ForceDisconnect(id) => {
                self.rpc.start("forceDisconnect", Some(&json!({ "connectionId": id })), RequestKind::ForceDisconnect, timeout)
            }
            Command::ForceUnpublish(id) => {
                self.rpc.start("forceUnpublish", Some(&json!({ "streamId": id })), RequestKind::ForceUnpublish, timeout)
            }
            Command::Connect { .. } | Command::Disconnect => {
                log::debug!("ignoring {cmd:?} while connected");
                return;
            }
        };
        j.link.send_text(frame);
    }

    /// Sends one signal as `sendMessage`.
    pub(crate) fn send_signal(&mut self, j: &Joined, signal: &OutgoingSignal) {
        let params = wire::send_message_params(&signal.to, &signal.data, &wire_type(&signal.kind));
        let frame = self.rpc.start("sendMessage", Some(&params), RequestKind::Signal, self.settings.request_timeout);
        j.link.send_text(frame);
    }

    /// `leaveRoom`, then waits (bounded by the request timeout) for its answer or the socket's end.
    async fn leave(&mut self, j: &mut Joined) -> LinkEnd {
        let frame = self.rpc.start("leaveRoom", Some(&json!({})), RequestKind::LeaveRoom, self.settings.request_timeout);
        j.link.send_text(frame);
        let rpc = &mut self.rpc;
        let link = &mut j.link;
        let answered = async {
            loop {
                match link.next_text().await {
                    LinkRead::Closed(_) => return,
                    LinkRead::Text(text) => {
                        if let Ok(Incoming::Response { id, .. }) = parse_frame(&text) {
                            if rpc.complete(id) == Some(RequestKind::LeaveRoom) {
                                return;
                            }
                        }
                    }
                }
            }
        };
        let bounded = timeout(self.settings.request_timeout.min(Duration::from_secs(10)), answered);
        match watching_commands(&mut self.commands, bounded, |cmd| log::debug!("ignoring {cmd:?} while leaving")).await {
            Interrupted::HandleDropped => LinkEnd::HandleDropped,
            Interrupted::Done(Err(_)) => {
                log::warn!("leaveRoom got no answer in time; closing anyway");
                LinkEnd::Left
            }
            Interrupted::Done(Ok(())) | Interrupted::Disconnect => LinkEnd::Left,
        }
    }
}
