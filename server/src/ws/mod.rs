//! The `/openvidu` WebSocket endpoint: the opening handshake, then one task per socket.

pub(crate) mod direct;
pub(crate) mod encode;
mod handshake;
pub(crate) mod methods;
mod socket;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use hyper_util::rt::TokioIo;

use crate::state::ServerState;
use handshake::Refusal;

/// Remote address of the HTTP connection, inserted by the accept loop.
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub SocketAddr);

/// Upgrades `/openvidu` (query string, Origin and other headers ignored); a request that is not a
/// WebSocket handshake gets a 4xx naming what is missing. A connection's first request never gets
/// here when it is a valid opening ([`direct`] answers it); a later one on a kept-alive connection does.
pub async fn upgrade(State(hub): State<Arc<ServerState>>, peer: Option<Extension<PeerAddr>>, mut request: Request) -> Response {
    let accept = match handshake::accept_key(request.method() == axum::http::Method::GET, request.headers()) {
        Ok(accept) => accept,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(on_upgrade) = request.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return Refusal::NotUpgradable.into_response();
    };
    let ip = peer.map(|Extension(PeerAddr(addr))| addr.ip().to_string()).unwrap_or_default();
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => socket::run(hub, TokioIo::new(upgraded), ip).await,
            Err(error) => tracing::debug!(%error, "WebSocket upgrade failed"),
        }
    });
    handshake::switching_protocols(&accept)
}
