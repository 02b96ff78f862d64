//! Resume after a network loss: redial `/openvidu?sessionId=..&reconnect=true` with backoff and
//! jitter (first try immediate) until the reconnection window ends, then `connect{sessionId,
//! reconnect:true}` presents the old RPC session. Any result resumes; an error ends the session.

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::time::{sleep_until, timeout, Duration, Instant};

use super::actor::{watching_commands, Actor, EarlyNotification, Interrupted, Joined, RequestKind};
use super::jsonrpc::{parse_frame, Incoming, Requests, RpcError};
use super::live::{CLOSE_BY_CLIENT, CLOSE_RECONNECTION_FAULT};
use super::shared::{Command, OutgoingSignal};
use super::transport::{dial, Link, LinkRead};
use super::types::{ClientError, DisconnectReason, ErrorCode, Event, SessionState, Settings};
use super::wire::ResumeParams;

/// First backoff step after the immediate retry; doubles up to `redial_max_interval`.
const BACKOFF_BASE: Duration = Duration::from_millis(250);

/// How a resume ended.
pub(crate) enum ResumeEnd {
    /// Same connection, new socket.
    Resumed,
    /// The session is over: (reason, close code for the socket).
    Ended(DisconnectReason, u16),
    /// Every handle is gone.
    HandleDropped,
}

/// One redial's outcome when the socket opened and the server answered `connect`.
enum Redial {
    Accepted(Link, Vec<EarlyNotification>),
    Refused(Link, RpcError),
}

/// The wait before retry number `retry` (1 = the first retry after the immediate attempt):
/// exponential from 250 ms, capped, with up to 50 % jitter taken off.
pub(crate) fn backoff(retry: u32, cap: Duration) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << retry.saturating_sub(1).min(16));
    let capped = exp.min(cap);
    capped.mul_f64(0.5 + 0.5 * fastrand::f64())
}

/// Sends `connect{sessionId, reconnect:true}` on a freshly dialed socket and waits for its answer.
async fn present_session(
    rpc: &mut Requests<RequestKind>,
    settings: &Settings,
    mut link: Link,
    rpc_session_id: &str,
    received: u64,
) -> Result<Redial, ClientError> {
    let params = ResumeParams { session_id: rpc_session_id, reconnect: true, received };
    link.send_text(rpc.start("connect", Some(&params), RequestKind::Resume, settings.request_timeout));
    let mut early = Vec::new();
    loop {
        let text = match link.next_text().await {
            LinkRead::Text(text) => text,
            LinkRead::Closed(why) => {
                return Err(ClientError::new(ErrorCode::ConnectionFailed, format!("socket lost while resuming: {why}")))
            }
        };
        match parse_frame(&text) {
            Ok(Incoming::Response { id, outcome }) => match (rpc.complete(id), outcome) {
                (Some(RequestKind::Resume), Ok(_)) => return Ok(Redial::Accepted(link, early)),
                (Some(RequestKind::Resume), Err(e)) => return Ok(Redial::Refused(link, e)),
                _ => log::debug!("ignoring response {id} while resuming"),
            },
            Ok(Incoming::Notification { method, params }) => early.push((method, params)),
            Ok(Incoming::ServerRequest { method }) => log::warn!("protocol error: unexpected server request {method}"),
            Err(e) => log::warn!("protocol error: {e}"),
        }
    }
}

impl Actor {
    /// Queues signals sent while reconnecting; other commands fail at once.
    fn while_reconnecting(events: &super::shared::EventSink, queued: &mut Vec<OutgoingSignal>, cmd: Command) {
        match cmd {
            Command::Signal(signal) => queued.push(signal),
            Command::ForceDisconnect(_) => events.emit(Event::Error(ClientError::new(
                ErrorCode::UnableToForceDisconnect,
                "forceDisconnect not sent: the session is reconnecting",
            ))),
            Command::ForceUnpublish(_) => events.emit(Event::Error(ClientError::new(
                ErrorCode::ForceUnpublishOrInvalidStream,
                "forceUnpublish not sent: the session is reconnecting",
            ))),
            other => log::debug!("ignoring {other:?} while reconnecting"),
        }
    }

    /// Runs the resume loop for `j`: a dial starts at once and then one after each backoff step,
    /// whether or not the earlier ones are still pending (a dial stuck in a dead network must not hold
    /// up the next one; each gives up after `connect_timeout`, so about `connect_timeout /
    /// redial_max_interval` are pending at most). The first socket that opens presents the RPC
    /// session. On success `j.link` is the new socket and `Reconnected` was emitted.
    pub(crate) async fn resume(&mut self, j: &mut Joined) -> ResumeEnd {
        let window_end = Instant::now() + self.settings.reconnection_window;
        let mut dials = FuturesUnordered::new();
        let mut started: u32 = 0;
        let mut next_dial = Instant::now();
        loop {
            let link = tokio::select! {
                _ = sleep_until(window_end) => {
                    log::warn!("reconnection window of {:?} ran out", self.settings.reconnection_window);
                    return ResumeEnd::Ended(DisconnectReason::NetworkLost, CLOSE_BY_CLIENT);
                }
                cmd = self.commands.recv() => match cmd {
                    None => return ResumeEnd::HandleDropped,
                    Some(Command::Disconnect) => return ResumeEnd::Ended(DisconnectReason::ClientDisconnected, CLOSE_BY_CLIENT),
                    Some(other) => {
                        Self::while_reconnecting(&self.events, &mut j.queued, other);
                        continue;
                    }
                },
                _ = sleep_until(next_dial) => {
                    started += 1;
                    let (token, tls) = (j.token.clone(), j.tls.clone());
                    let limit = self.settings.connect_timeout;
                    let attempt = started;
                    dials.push(async move { (attempt, timeout(limit, dial(&token, true, tls)).await) });
                    next_dial = Instant::now() + backoff(started, self.settings.redial_max_interval);
                    continue;
                }
                Some((attempt, dialed)) = dials.next(), if !dials.is_empty() => match dialed {
                    Ok(Ok(link)) => link,
                    Ok(Err(e)) => {
                        log::info!("redial #{attempt} failed: {e}");
                        continue;
                    }
                    Err(_) => {
                        log::info!("redial #{attempt} timed out");
                        continue;
                    }
                },
            };
            let left = window_end.saturating_duration_since(Instant::now());
            let handshake = timeout(
                left.min(self.settings.request_timeout),
                present_session(&mut self.rpc, &self.settings, link, &j.rpc_session_id, j.received),
            );
            // Moved into the closure as `&mut`: the sink is Send but not Sync.
            let events = &mut self.events;
            let queued = &mut j.queued;
            let outcome = watching_commands(&mut self.commands, handshake, move |cmd| Self::while_reconnecting(events, queued, cmd)).await;
            match outcome {
                Interrupted::Disconnect => return ResumeEnd::Ended(DisconnectReason::ClientDisconnected, CLOSE_BY_CLIENT),
                Interrupted::HandleDropped => return ResumeEnd::HandleDropped,
                Interrupted::Done(Err(_)) => log::info!("no answer to connect in time"),
                Interrupted::Done(Ok(Err(e))) => log::info!("resume handshake failed: {e}"),
                Interrupted::Done(Ok(Ok(Redial::Refused(link, e)))) => {
                    log::warn!("server refused the resume: {e}");
                    j.link = link;
                    return ResumeEnd::Ended(DisconnectReason::NetworkLost, CLOSE_RECONNECTION_FAULT);
                }
                Interrupted::Done(Ok(Ok(Redial::Accepted(link, early)))) => {
                    drop(dials);
                    j.link = link;
                    match self.after_accepted(j, early).await {
                        Barrier::Passed => return ResumeEnd::Resumed,
                        Barrier::Ended(end) => return end,
                        Barrier::SocketLost => {
                            log::info!("socket lost right after the resume was accepted");
                            dials = FuturesUnordered::new();
                        }
                    }
                }
            }
            self.rpc.take_all();
        }
    }

    /// After `connect` was accepted: sends the first ping (with the interval) and waits for its pong,
    /// applying the notifications the server replays meanwhile (the outage's backlog comes right after
    /// the `connect` response, so the pong marks its end). Then `Reconnected`, then the queued signals.
    async fn after_accepted(&mut self, j: &mut Joined, mut replayed: Vec<EarlyNotification>) -> Barrier {
        let ping_id = self.rpc.next_id();
        self.send_ping(j, true);
        j.next_ping = Instant::now() + self.settings.ping_interval;
        let rpc = &mut self.rpc;
        let link = &mut j.link;
        let backlog = &mut replayed;
        let pong = async {
            loop {
                let text = match link.next_text().await {
                    LinkRead::Text(text) => text,
                    LinkRead::Closed(why) => return Err(why),
                };
                match parse_frame(&text) {
                    Ok(Incoming::Response { id, outcome }) => {
                        rpc.complete(id);
                        if id == ping_id {
                            if let Err(e) = outcome {
                                log::warn!("first ping after the resume refused: {e}");
                            }
                            return Ok(());
                        }
                    }
                    Ok(Incoming::Notification { method, params }) => backlog.push((method, params)),
                    Ok(Incoming::ServerRequest { method }) => log::warn!("protocol error: unexpected server request {method}"),
                    Err(e) => log::warn!("protocol error: {e}"),
                }
            }
        };
        let bounded = timeout(self.settings.ping_timeout, pong);
        // Moved into the closure as `&mut`: the sink is Send but not Sync.
        let events = &mut self.events;
        let queued = &mut j.queued;
        let mut socket_lost = false;
        match watching_commands(&mut self.commands, bounded, move |cmd| Self::while_reconnecting(events, queued, cmd)).await {
            Interrupted::HandleDropped => return Barrier::Ended(ResumeEnd::HandleDropped),
            Interrupted::Disconnect => self.disconnect_requested = true,
            Interrupted::Done(Ok(Ok(()))) => {}
            Interrupted::Done(Ok(Err(why))) => {
                log::info!("{why}");
                socket_lost = true;
            }
            // The ping stays pending: if it is never answered, the connected loop starts a new resume.
            Interrupted::Done(Err(_)) => log::info!("no pong right after the resume; continuing"),
        }
        if let Some(reason) = self.apply_notifications(j, replayed) {
            return Barrier::Ended(ResumeEnd::Ended(reason, CLOSE_BY_CLIENT));
        }
        if socket_lost {
            return Barrier::SocketLost;
        }
        self.shared.set_state_unless_disconnecting(SessionState::Connected);
        self.events.emit(Event::Reconnected);
        for signal in std::mem::take(&mut j.queued) {
            self.send_signal(j, &signal);
        }
        Barrier::Passed
    }
}

/// How the wait after an accepted resume ended.
enum Barrier {
    /// Resumed: `Reconnected` was emitted.
    Passed,
    /// The session is over (or every handle is gone).
    Ended(ResumeEnd),
    /// The new socket died before the pong: keep trying within the window.
    SocketLost,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        let cap = Duration::from_secs(3);
        for retry in 1..40 {
            let d = backoff(retry, cap);
            assert!(d <= cap, "retry {retry}: {d:?}");
            let ideal = BACKOFF_BASE.saturating_mul(1u32 << (retry - 1).min(16)).min(cap);
            assert!(d >= ideal / 2, "retry {retry}: {d:?} below half of {ideal:?}");
        }
        assert!(backoff(1, cap) <= BACKOFF_BASE);
    }
}
