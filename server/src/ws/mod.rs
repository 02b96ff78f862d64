//! The `/openvidu` WebSocket endpoint: upgrade with deliberate buffer sizes, then one task per socket.

pub(crate) mod methods;
mod socket;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{State, WebSocketUpgrade};
use axum::response::Response;
use axum::Extension;

use crate::state::ServerState;

/// Remote address of the HTTP connection, inserted by the accept loop.
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub SocketAddr);

/// Upgrades `/openvidu` (query string, Origin and headers ignored).
pub async fn upgrade(
    State(hub): State<Arc<ServerState>>,
    peer: Option<Extension<PeerAddr>>,
    ws: WebSocketUpgrade,
) -> Response {
    let config = &hub.config;
    let ip = peer
        .map(|Extension(PeerAddr(addr))| addr.ip().to_string())
        .unwrap_or_default();
    ws.read_buffer_size(config.ws_read_buffer_bytes)
        .write_buffer_size(config.ws_write_buffer_bytes)
        .max_message_size(config.max_ws_message_bytes)
        .max_frame_size(config.max_ws_message_bytes)
        .on_upgrade(move |socket| socket::run(hub, socket, ip))
}
