//! In-process entry points for the fuzzers (`fuzz/`): the JSON-RPC decoder, the WebSocket method
//! dispatcher and the REST body handlers, without sockets. Not a stable API.

use std::sync::Arc;

use axum::response::IntoResponse;

use crate::admin::{self, ConnectionRequest, SessionRequest};
use crate::config::ServerConfig;
use crate::model::Role;
use crate::outbound::{Outbound, SocketLink};
use crate::rest::handlers;
use crate::rpc::{self, Incoming};
use crate::state::ServerState;
use crate::ws::methods::Connection;

/// Decodes one text frame like the socket does. For input that must be refused, returns the
/// encoded error response; for a request, `"request <method>"`; for a client response, `"response"`.
pub fn decode_frame(text: &str) -> String {
    match rpc::parse(text) {
        Incoming::Invalid { id, error } => rpc::error_response(&id, &error).as_str().to_string(),
        Incoming::Request { method, .. } => format!("request {method}"),
        Incoming::Response => "response".to_string(),
    }
}

/// Classifies the first bytes of a connection like the accept loop does: `"opening <head length>"`
/// (a WebSocket opening of `/openvidu`, answered without the HTTP server), `"partial"` (more bytes
/// needed) or `"other"` (for the HTTP server).
pub fn first_request_head(bytes: &[u8]) -> String {
    crate::ws::direct::classify(bytes)
}

fn fixture_hub() -> (Arc<ServerState>, String) {
    let hub = ServerState::new(ServerConfig::default(), "ws://127.0.0.1:4443".to_string());
    let session_id = admin::create_session(&hub, SessionRequest::default())
        .map(|s| s.id.clone())
        .unwrap_or_default();
    (hub, session_id)
}

/// One in-memory socket bound to the method dispatcher, on a server with one fixture session.
pub struct Dispatcher {
    hub: Arc<ServerState>,
    session_id: String,
    connection: Connection,
    sent: crate::outbound::Outlet,
}

impl Default for Dispatcher {
    fn default() -> Self {
        Dispatcher::new()
    }
}

impl Dispatcher {
    /// A fresh server state, fixture session and socket.
    pub fn new() -> Dispatcher {
        let (hub, session_id) = fixture_hub();
        let config = &hub.config;
        let (link, sent, _kill) = SocketLink::new(config.outbound_queue_frames);
        let connection = Connection::new(hub.clone(), link, "127.0.0.1".to_string());
        Dispatcher {
            hub,
            session_id,
            connection,
            sent,
        }
    }

    /// Feeds one text frame; returns the frames the socket would have been sent (`close <code>` for a close).
    pub fn handle_text(&mut self, text: &str) -> Vec<String> {
        self.connection.handle_text(text);
        let mut frames = Vec::new();
        while let Some(item) = self.sent.try_recv() {
            frames.push(match item {
                Outbound::Text(frame) => frame.as_str().to_string(),
                Outbound::Close(code, _) => format!("close {code}"),
                Outbound::CloseReply(code) => format!("close reply {code:?}"),
                Outbound::Pong(_) => "pong".to_string(),
            });
        }
        frames
    }

    /// A fresh MODERATOR token of the fixture session.
    pub fn fixture_token(&self) -> String {
        let request = ConnectionRequest {
            role: Some(Role::Moderator),
            ..ConnectionRequest::default()
        };
        admin::create_connection(&self.hub, &self.session_id, request)
            .map(|(pending, _)| pending.token)
            .unwrap_or_default()
    }

    /// The fixture session's id.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }
}

/// The REST calls that take a JSON body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestCall {
    /// `POST /sessions`.
    CreateSession,
    /// `POST /sessions/{fixture}/connection`.
    CreateConnection,
    /// `POST /tokens`.
    Token,
    /// `POST /signal`.
    Signal,
    /// `PATCH /sessions/{fixture}/connection/{fixture connection}`.
    UpdateConnection,
}

/// Runs one REST call's body size check, body parsing and handler on a fresh server state with a
/// fixture session and pending connection; returns the HTTP status.
pub fn rest_body(call: RestCall, body: &[u8]) -> u16 {
    let (hub, session_id) = fixture_hub();
    if body.len() > hub.config.max_rest_body_bytes {
        return 413;
    }
    let connection_id = admin::create_connection(&hub, &session_id, ConnectionRequest::default())
        .map(|(pending, _)| pending.connection_id)
        .unwrap_or_default();
    let result = match call {
        RestCall::CreateSession => handlers::create_session_sync(&hub, body),
        RestCall::CreateConnection => handlers::create_connection_sync(&hub, &session_id, body),
        RestCall::Token => handlers::create_token_sync(&hub, body),
        RestCall::Signal => handlers::send_signal_sync(&hub, body),
        RestCall::UpdateConnection => handlers::update_connection_sync(&hub, &session_id, &connection_id, body),
    };
    match result {
        Ok(response) => response.status().as_u16(),
        Err(error) => error.into_response().status().as_u16(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_answers_garbage_with_an_error_frame() {
        assert!(decode_frame("{oops").contains("-32700"));
        assert_eq!(
            decode_frame(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            "request ping"
        );
    }

    #[test]
    fn dispatcher_joins_with_the_fixture_token_and_answers_everything() {
        let mut dispatcher = Dispatcher::new();
        let token = dispatcher.fixture_token();
        let join = serde_json::json!({"jsonrpc":"2.0","id":1,"method":"joinRoom",
            "params":{"token": token, "session": dispatcher.session_id(), "metadata": ""}});
        let frames = dispatcher.handle_text(&join.to_string());
        assert_eq!(frames.len(), 1);
        assert!(frames[0].contains("\"result\""));
        let frames = dispatcher.handle_text(r#"{"jsonrpc":"2.0","id":2,"method":"nope"}"#);
        assert!(frames[0].contains("-32601"));
    }

    #[test]
    fn rest_bodies_map_to_statuses() {
        assert_eq!(rest_body(RestCall::CreateSession, b"{}"), 200);
        assert_eq!(rest_body(RestCall::CreateSession, b"{oops"), 400);
        assert_eq!(rest_body(RestCall::UpdateConnection, br#"{"role":"MODERATOR"}"#), 200);
        assert_eq!(rest_body(RestCall::Signal, br#"{"session":"x"}"#), 404);
        assert_eq!(rest_body(RestCall::Token, &vec![b' '; 70 * 1024]), 413);
    }
}
