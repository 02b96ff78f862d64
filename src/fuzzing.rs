//! Entry points for the fuzzers in `fuzz/` (hidden from the docs; not a stable API).
//!
//! Each function drives one piece of the client's input handling exactly as the network task does,
//! without a socket: the token parser, and the frames a (possibly hostile) server sends. They never
//! panic on any input; a panic here is a bug the fuzzers report.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::client::jsonrpc::{parse_frame, Incoming};
use crate::client::notify::{Effect, Notifier};
use crate::client::shared::{EventSink, Shared};
use crate::client::token::TokenUrl;
use crate::client::wire;
use crate::client::{Connection, Event};

/// What a parsed token tells the client (a copy of the private parse result).
#[derive(Debug, PartialEq, Eq)]
pub struct ParsedToken {
    /// `wss://` (true) or `ws://`.
    pub secure: bool,
    /// Host name or IPv4 address.
    pub host: String,
    /// The port that will be dialed.
    pub port: u16,
    /// The `sessionId` query value.
    pub session_id: String,
    /// The WebSocket URL of the first dial.
    pub endpoint: String,
}

/// Parses `text` as a token the way `Session::connect` does; `None` when the client would refuse it.
pub fn parse_token(text: &str) -> Option<ParsedToken> {
    let token = TokenUrl::parse(text).ok()?;
    Some(ParsedToken {
        secure: token.secure,
        host: token.host.clone(),
        port: token.port_or_default(),
        session_id: token.session_id.clone(),
        endpoint: token.endpoint(false),
    })
}

/// What replaying a server's frames did to a client.
#[derive(Debug, Default)]
pub struct Replay {
    /// Whether the first frame was a usable `joinRoom` answer (else a default own connection was used).
    pub joined: bool,
    /// The own connection id in use.
    pub own_id: String,
    /// Events the app would have received, in order.
    pub events: Vec<Event>,
    /// Whether a `participantEvicted` for the own id ended the session.
    pub evicted: bool,
    /// Connection ids left in the roster at the end.
    pub roster_ids: Vec<String>,
    /// Frames rejected by the framing layer.
    pub rejected_frames: usize,
}

/// Replays `frames` as a server would send them to a client that has just sent `joinRoom` (request id 1):
/// a response to id 1 with a result is taken as the join answer (as `actor::join` does), notifications are
/// applied to the roster and turned into events (as `live::on_frame` does), everything else is dropped.
pub fn replay_server_frames<'a>(frames: impl IntoIterator<Item = &'a str>, connection_events_suppressed: bool) -> Replay {
    let shared = Shared::new(None);
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let events = EventSink::new(sender);
    let mut replay = Replay::default();
    let mut own = Arc::new(wire::connection_from_id("con_fuzz_own", &Arc::from("ses_fuzz")));
    for text in frames {
        let incoming = match parse_frame(text) {
            Ok(incoming) => incoming,
            Err(_) => {
                replay.rejected_frames += 1;
                continue;
            }
        };
        match incoming {
            Incoming::Response { id: 1, outcome: Ok(result) } if !replay.joined => {
                if let Some(joined_own) = announce_join(&shared, &events, &result, connection_events_suppressed) {
                    own = joined_own;
                    replay.joined = true;
                }
            }
            Incoming::Notification { method, params } => {
                let notifier = Notifier { shared: &shared, events: &events, own: &own, connection_events_suppressed };
                if let Effect::Evicted(reason) = notifier.apply(&method, &params) {
                    events.emit(Event::Disconnected(reason));
                    replay.evicted = true;
                    break;
                }
            }
            Incoming::Response { .. } | Incoming::ServerRequest { .. } => {}
        }
    }
    replay.own_id = own.id().to_string();
    replay.roster_ids = shared.lock().roster.connections().iter().map(|c| c.id().to_string()).collect();
    while let Ok(batch) = receiver.try_recv() {
        replay.events.extend(batch);
    }
    replay
}

/// Applies a `joinRoom` result the way the network task does; `None` when the client would refuse it.
fn announce_join(shared: &Shared, events: &EventSink, result: &Value, suppressed: bool) -> Option<Arc<Connection>> {
    let joined = wire::parse_join_result(result, "").ok()?;
    let mut view = shared.lock();
    view.own = Some(joined.own.clone());
    events.emit(Event::Connected { own: joined.own.clone() });
    for p in joined.participants.iter().filter(|p| p.connection.id() != joined.own.id()) {
        if view.roster.add_connection(p.connection.clone()) && !suppressed {
            events.emit(Event::ConnectionCreated(p.connection.clone()));
        }
        for s in &p.streams {
            if view.roster.add_stream(s.clone()) {
                events.emit(Event::StreamReceived(s.clone()));
            }
        }
    }
    Some(joined.own)
}
