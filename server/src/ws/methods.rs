//! Per-socket JSON-RPC state and method handlers.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::time::Instant;

use crate::admin;
use crate::ids;
use crate::model::{LeaveReason, Role, ServerError};
use crate::outbound::SocketLink;
use crate::participant::{Delivery, Participant};
use crate::rate::TokenBucket;
use crate::rpc::{self, codes, Incoming, RpcError};
use crate::session::{JoinRequest, Reply};
use crate::state::ServerState;

/// Media methods: this server carries no media and says so.
const MEDIA_METHODS: &[&str] = &[
    "publishVideo",
    "receiveVideoFrom",
    "prepareReceiveVideoFrom",
    "unsubscribeFromVideo",
    "onIceCandidate",
    "reconnectStream",
    "applyFilter",
    "removeFilter",
    "execFilterMethod",
    "addFilterEventListener",
    "removeFilterEventListener",
    "videoData",
    "streamPropertyChanged",
];

/// Methods that need a joined participant.
const SESSION_METHODS: &[&str] = &[
    "leaveRoom",
    "sendMessage",
    "forceDisconnect",
    "forceUnpublish",
    "unpublishVideo",
];

/// What a handler produced: a result to send, or nothing because it already answered in order.
enum Outcome {
    Result(Value),
    Answered,
}

type HandlerResult = Result<Outcome, RpcError>;

/// State of one socket's RPC session.
pub struct Connection {
    hub: Arc<ServerState>,
    link: SocketLink,
    ip: String,
    rpc_session_id: Option<String>,
    participant: Option<Arc<Participant>>,
    ping_interval: Option<Duration>,
    last_ping: Instant,
    close_deadline: Option<Instant>,
    /// `sendMessage` rate limit of this connection (owned by its socket task: no shared lock).
    signal_rate: TokenBucket,
}

impl Connection {
    /// A fresh socket (no RPC session yet).
    pub fn new(hub: Arc<ServerState>, link: SocketLink, ip: String) -> Connection {
        let signal_rate = TokenBucket::new(
            hub.config.signal_rate_per_second,
            hub.config.signal_burst,
            std::time::Instant::now(),
        );
        Connection {
            hub,
            link,
            ip,
            rpc_session_id: None,
            participant: None,
            ping_interval: None,
            last_ping: Instant::now(),
            close_deadline: None,
            signal_rate,
        }
    }

    /// How long this socket may stay without a ping.
    fn watchdog(&self) -> Duration {
        let interval = self.ping_interval.unwrap_or(self.hub.config.default_ping_interval);
        interval * self.hub.config.ping_timeout_factor.max(1)
    }

    /// The earlier of the ping watchdog and the close deadline.
    pub fn deadline(&self) -> Instant {
        let watchdog = self.last_ping + self.watchdog();
        match self.close_deadline {
            Some(close) if close < watchdog => close,
            _ => watchdog,
        }
    }

    /// True when the current deadline is the close deadline (not the watchdog).
    pub fn deadline_is_close(&self) -> bool {
        self.close_deadline.is_some_and(|close| close <= self.deadline())
    }

    /// Closes the socket at `deadline` at the latest (keeps an earlier one).
    pub fn close_by(&mut self, deadline: Instant) {
        self.close_deadline = Some(self.close_deadline.map_or(deadline, |d| d.min(deadline)));
    }

    /// Moves the close deadline to `deadline`, even later than the current one.
    pub fn close_at(&mut self, deadline: Instant) {
        self.close_deadline = Some(deadline);
    }

    /// The socket is gone: a joined participant enters the resume grace.
    pub fn socket_gone(&mut self) {
        let Some(participant) = self.participant.take() else {
            return;
        };
        let Some(session) = self.hub.session(&participant.session_id) else {
            return; // the session is gone, and the participant with it
        };
        let Some(generation) = session.detach(&participant, self.link.id()) else {
            return;
        };
        tracing::info!(session = %participant.session_id, connection = %participant.connection_id,
            "socket lost: waiting for resume");
        let hub = self.hub.clone();
        let grace = hub.config.reconnect_grace;
        self.hub.spawn(async move {
            tokio::time::sleep(grace).await;
            if let Some(session) = hub.session(&participant.session_id) {
                session.evict_if_still_detached(&hub, &participant.connection_id, generation);
            }
        });
    }

    /// Handles one text frame; every request gets exactly one answer.
    pub fn handle_text(&mut self, text: &str) {
        match rpc::parse(text) {
            Incoming::Invalid { id, error } => {
                self.link.send(rpc::error_response(&id, &error));
            }
            Incoming::Response => {}
            Incoming::Request { id, method, params } => {
                let rpc_id = self.rpc_session_id.get_or_insert_with(ids::new_rpc_session_id).clone();
                let request_id = id.clone().unwrap_or(Value::Null);
                let outcome = self.dispatch(&request_id, &method, &params);
                if id.is_none() {
                    return; // a client notification: nothing to answer
                }
                match outcome {
                    Ok(Outcome::Answered) => {}
                    Ok(Outcome::Result(result)) => {
                        let rpc_id = self.rpc_session_id.clone().unwrap_or(rpc_id);
                        self.link.send(rpc::response(&request_id, result, Some(&rpc_id)));
                    }
                    Err(error) => {
                        tracing::debug!(method = %method, code = error.code, "request failed");
                        self.link.send(rpc::error_response(&request_id, &error));
                    }
                }
            }
        }
    }

    fn dispatch(&mut self, id: &Value, method: &str, params: &Map<String, Value>) -> HandlerResult {
        match method {
            "ping" => return self.ping(params),
            "connect" => return self.resume(id, params),
            "joinRoom" => return self.join(id, params),
            _ => {}
        }
        let known = SESSION_METHODS.contains(&method) || MEDIA_METHODS.contains(&method);
        if !known {
            return Err(RpcError::new(
                codes::METHOD_NOT_FOUND,
                format!("method not found: {method}"),
            ));
        }
        let Some(me) = self.live_participant() else {
            return Err(RpcError::new(
                codes::NOT_JOINED,
                "not joined to a session: call joinRoom first",
            ));
        };
        match method {
            "leaveRoom" => self.leave(id, &me),
            "sendMessage" => self.send_message(id, &me, params),
            "forceDisconnect" => self.force_disconnect(id, &me, params),
            "forceUnpublish" => {
                require_moderator(&me)?;
                string_param(params, "streamId")?;
                Err(RpcError::new(codes::STREAM_NOT_FOUND, "no such stream"))
            }
            "unpublishVideo" => Err(RpcError::new(
                codes::STREAM_NOT_FOUND,
                "no such stream: nothing is published",
            )),
            _ => Err(RpcError::new(
                codes::MEDIA_NOT_SUPPORTED,
                format!("{method}: media is not supported by this server (signaling only)"),
            )),
        }
    }

    fn live_participant(&mut self) -> Option<Arc<Participant>> {
        if self.participant.as_ref().is_some_and(|p| p.has_ended()) {
            self.participant = None;
        }
        self.participant.clone()
    }

    fn current_rpc_id(&self) -> String {
        self.rpc_session_id.clone().unwrap_or_default()
    }

    fn ping(&mut self, params: &Map<String, Value>) -> HandlerResult {
        match params.get("interval") {
            None | Some(Value::Null) => {}
            Some(value) => {
                let millis = value
                    .as_u64()
                    .ok_or_else(|| RpcError::invalid_params("interval must be a number"))?;
                if millis > 0 {
                    self.ping_interval = Some(Duration::from_millis(millis));
                }
            }
        }
        self.last_ping = Instant::now();
        if let Some(me) = self.live_participant() {
            let age = self.watchdog() + self.hub.config.reconnect_grace;
            me.prune_replay(age);
            if age > self.hub.config.default_replay_age() {
                if let Some(session) = self.hub.session(&me.session_id) {
                    session.keep_replayable_for(age);
                }
            }
        }
        Ok(Outcome::Result(json!({"value": "pong"})))
    }

    fn join(&mut self, id: &Value, params: &Map<String, Value>) -> HandlerResult {
        let token = string_param(params, "token")?;
        let session_id = string_param(params, "session")?;
        let client_data = optional_string_param(params, "metadata")?;
        let platform = optional_string_param(params, "platform")?;
        if self.live_participant().is_some() {
            return Err(RpcError::new(
                codes::INVALID_REQUEST,
                "this socket already joined a session",
            ));
        }
        let Some(session) = self.hub.session(session_id) else {
            return Err(RpcError::new(
                codes::SESSION_NOT_FOUND,
                format!("session {session_id} not found"),
            ));
        };
        let rpc_id = self.current_rpc_id();
        let participant = session.join(
            &self.hub,
            JoinRequest {
                token,
                client_data,
                platform,
                rpc_session_id: &rpc_id,
                socket: &self.link,
                ip: self.ip.clone(),
                request_id: id,
            },
        )?;
        self.participant = Some(participant);
        self.close_deadline = None;
        Ok(Outcome::Answered)
    }

    fn leave(&mut self, id: &Value, me: &Arc<Participant>) -> HandlerResult {
        let frame = rpc::response(id, json!({}), Some(&self.current_rpc_id()));
        let session = self.hub.session(&me.session_id).ok_or_else(not_joined)?;
        session
            .leave(
                &self.hub,
                me,
                Some(Reply {
                    socket: &self.link,
                    frame,
                }),
            )
            .map_err(|_| not_joined())?;
        self.participant = None;
        self.close_by(Instant::now() + self.hub.config.close_grace);
        Ok(Outcome::Answered)
    }

    fn send_message(&mut self, id: &Value, me: &Arc<Participant>, params: &Map<String, Value>) -> HandlerResult {
        if !self.signal_rate.try_take(std::time::Instant::now()) {
            tracing::debug!(connection = %me.connection_id, "signal refused: rate limit");
            return Err(RpcError::new(
                codes::SIGNAL_RATE_LIMITED,
                format!(
                    "signal rate limit exceeded: at most {} signals per second (burst {})",
                    self.hub.config.signal_rate_per_second, self.hub.config.signal_burst
                ),
            ));
        }
        let message = string_param(params, "message")?;
        let signal = parse_signal(message)?;
        admin::check_signal_size(&self.hub, &signal.signal_type, &signal.data)
            .map_err(|error| RpcError::new(codes::SIGNAL_TOO_LARGE, error.to_string()))?;
        let frame = rpc::response(id, json!({}), Some(&self.current_rpc_id()));
        let session = self.hub.session(&me.session_id).ok_or_else(not_joined)?;
        session
            .signal(
                &self.hub,
                Some(&me.connection_id),
                signal.to.as_deref(),
                &signal.signal_type,
                &signal.data,
                Some(Reply {
                    socket: &self.link,
                    frame,
                }),
            )
            .map_err(|error| match error {
                ServerError::UnknownRecipient(who) => {
                    RpcError::new(codes::UNKNOWN_RECIPIENT, format!("unknown recipient: {who}"))
                }
                _ => not_joined(),
            })?;
        Ok(Outcome::Answered)
    }

    fn force_disconnect(&mut self, id: &Value, me: &Arc<Participant>, params: &Map<String, Value>) -> HandlerResult {
        require_moderator(me)?;
        let target = string_param(params, "connectionId")?;
        let frame = rpc::response(id, json!({}), Some(&self.current_rpc_id()));
        let session = self.hub.session(&me.session_id).ok_or_else(not_joined)?;
        session
            .evict(
                &self.hub,
                target,
                LeaveReason::ForceDisconnectByUser,
                Some(Reply {
                    socket: &self.link,
                    frame,
                }),
            )
            .map_err(|_| RpcError::new(codes::CONNECTION_NOT_FOUND, format!("connection {target} not found")))?;
        Ok(Outcome::Answered)
    }

    fn resume(&mut self, id: &Value, params: &Map<String, Value>) -> HandlerResult {
        let wanted = string_param(params, "sessionId")?;
        // Extension: how many notifications the client received on this RPC session (replay the rest).
        let received = match params.get("received") {
            None | Some(Value::Null) => None,
            Some(value) => Some(
                value
                    .as_u64()
                    .ok_or_else(|| RpcError::invalid_params("received must be a count"))?,
            ),
        };
        if let Some(me) = self.live_participant() {
            if me.rpc_session_id == wanted {
                return Ok(Outcome::Result(json!({"value": "reconnection successful"})));
            }
            return Err(RpcError::new(
                codes::INVALID_REQUEST,
                "this socket already belongs to another participant",
            ));
        }
        let reconnection_error = || RpcError::new(codes::RECONNECTION_ERROR, "reconnection error");
        let participant = self
            .hub
            .rpc_sessions
            .get(wanted)
            .map(|p| p.value().clone())
            .ok_or_else(reconnection_error)?;
        let frame = rpc::response(id, json!({"value": "reconnection successful"}), Some(wanted));
        let session = self.hub.session(&participant.session_id).ok_or_else(reconnection_error)?;
        match session.resume(&participant, self.link.clone(), frame, received) {
            None => Err(reconnection_error()),
            Some(delivery) => {
                tracing::info!(session = %participant.session_id, connection = %participant.connection_id, "resumed");
                self.rpc_session_id = Some(wanted.to_string());
                self.participant = Some(participant.clone());
                self.close_deadline = None;
                if delivery == Delivery::Overflow {
                    self.hub
                        .evict_overflowed(&participant.session_id, vec![participant.connection_id.clone()]);
                }
                Ok(Outcome::Answered)
            }
        }
    }
}

/// The inner `sendMessage.message` JSON.
struct Signal {
    to: Option<Vec<String>>,
    data: String,
    signal_type: String,
}

fn parse_signal(message: &str) -> Result<Signal, RpcError> {
    let unparsable = |why: &str| RpcError::new(codes::MESSAGE_UNPARSABLE, format!("unparsable message: {why}"));
    let Ok(Value::Object(inner)) = serde_json::from_str::<Value>(message) else {
        return Err(unparsable("not a JSON object"));
    };
    let to = match inner.get("to") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| unparsable("`to` must hold strings"))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => return Err(unparsable("`to` must be an array")),
    };
    let data = match inner.get("data") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let signal_type = match inner.get("type") {
        None | Some(Value::Null) => "signal:signal".to_string(),
        Some(Value::String(s)) if s.is_empty() => "signal:signal".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(unparsable("`type` must be a string")),
    };
    Ok(Signal { to, data, signal_type })
}

fn not_joined() -> RpcError {
    RpcError::new(codes::NOT_JOINED, "not joined to a session")
}

fn require_moderator(me: &Participant) -> Result<(), RpcError> {
    if me.profile().role == Role::Moderator {
        Ok(())
    } else {
        Err(RpcError::new(codes::NOT_AUTHORIZED, "the MODERATOR role is required"))
    }
}

fn string_param<'a>(params: &'a Map<String, Value>, name: &str) -> Result<&'a str, RpcError> {
    params
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params(&format!("{name} must be a string")))
}

fn optional_string_param(params: &Map<String, Value>, name: &str) -> Result<String, RpcError> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(RpcError::invalid_params(&format!("{name} must be a string"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_with_defaults() {
        let s = parse_signal(r#"{"to":[],"data":"hi","type":"signal:chat"}"#).unwrap();
        assert_eq!(s.to.as_deref(), Some(&[][..]));
        assert_eq!((s.data.as_str(), s.signal_type.as_str()), ("hi", "signal:chat"));
        let s = parse_signal("{}").unwrap();
        assert!(s.to.is_none());
        assert_eq!(s.signal_type, "signal:signal");
        assert_eq!(
            parse_signal("nope").err().map(|e| e.code),
            Some(codes::MESSAGE_UNPARSABLE)
        );
        assert_eq!(
            parse_signal(r#"{"to":[1]}"#).err().map(|e| e.code),
            Some(codes::MESSAGE_UNPARSABLE)
        );
    }
}
