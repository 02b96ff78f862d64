//! HTTP(S) front: the axum app, TLS setup, and the accept loop that stops on shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;
use tower_http::cors::CorsLayer;

use crate::state::ServerState;
use crate::ws::{self, PeerAddr};

/// Longest a TLS handshake may take.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a client may take to send request headers (slow-loris guard).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest shutdown waits for sockets to finish closing.
const SOCKET_DRAIN_TIMEOUT: Duration = Duration::from_secs(3);

/// The whole application: WebSocket at `/openvidu`, REST at `/openvidu/api`, CORS for any origin.
pub fn app(hub: Arc<ServerState>) -> Router {
    Router::new()
        .route("/openvidu", get(ws::upgrade))
        .nest("/openvidu/api", crate::rest::router(hub.clone()))
        .layer(CorsLayer::very_permissive())
        .with_state(hub)
}

/// Builds a TLS acceptor (ring provider) from PEM certificate chain and key.
pub fn tls_acceptor(cert_pem: &[u8], key_pem: &[u8]) -> Result<TlsAcceptor, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("invalid certificate PEM: {e}"))?;
    if certs.is_empty() {
        return Err("no certificate found in the certificate PEM".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| format!("invalid private key PEM: {e}"))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate and key do not fit: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts connections until shutdown, then stops every connection, waits for sockets to close
/// and drops the listener (freeing the port).
pub async fn serve(listener: TcpListener, app: Router, tls: Option<TlsAcceptor>, hub: Arc<ServerState>) {
    let mut shutdown = hub.shutdown_signal();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = crate::outbound::killed(&mut shutdown) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(serve_connection(stream, peer, app.clone(), tls.clone(), hub.clone()));
                    // A finished task's memory stays with the set until it is taken out: take them
                    // all now, not one per turn of this loop, which a busy server runs seldom.
                    while connections.try_join_next().is_some() {}
                }
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    connections.shutdown().await;
    let mut sockets = hub.live_sockets();
    let _ = tokio::time::timeout(SOCKET_DRAIN_TIMEOUT, sockets.wait_for(|n| *n == 0)).await;
    tracing::info!("server stopped");
}

/// One accepted connection, until its first request is dealt with (a WebSocket opening) or its
/// HTTP connection ends.
///
/// Every accepted connection holds this task's memory until then, and under churn thousands wait
/// at once: the large states (the TLS stream, the HTTP connection) are boxed and taken only by the
/// connections that need them, so a plain WebSocket opening waits in under a kibibyte, not the
/// ~7 KiB their states made it (bench S5: the server's RSS swung with the connections waiting).
async fn serve_connection(stream: TcpStream, peer: SocketAddr, app: Router, tls: Option<TlsAcceptor>, hub: Arc<ServerState>) {
    let _ = stream.set_nodelay(true);
    match tls {
        None => serve_first_request(stream, peer, app, hub).await,
        Some(acceptor) => Box::pin(serve_tls(stream, peer, app, acceptor, hub)).await,
    }
}

async fn serve_tls(stream: TcpStream, peer: SocketAddr, app: Router, acceptor: TlsAcceptor, hub: Arc<ServerState>) {
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls_stream)) => serve_first_request(tls_stream, peer, app, hub).await,
        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
    }
}

/// A WebSocket opening becomes a socket at once ([`ws::direct`]); any other request is served over HTTP.
async fn serve_first_request<I>(io: I, peer: SocketAddr, app: Router, hub: Arc<ServerState>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    match ws::direct::first_request(io, &hub, peer.ip().to_string(), HEADER_READ_TIMEOUT).await {
        ws::direct::First::Http(io) => Box::pin(serve_http(TokioIo::new(io), peer, app)).await,
        ws::direct::First::Upgraded => {}
        ws::direct::First::Gone => tracing::debug!(%peer, "connection closed before a complete request"),
    }
}

async fn serve_http<I>(io: TokioIo<I>, peer: SocketAddr, app: Router)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(PeerAddr(peer));
        let mut router = app.clone();
        async move { tower_service::Service::call(&mut router, request).await }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    if let Err(error) = builder.serve_connection(io, service).with_upgrades().await {
        tracing::debug!(%peer, %error, "HTTP connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connection_waiting_for_its_first_request_holds_a_small_task() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (stream, peer) = listener.accept().await.unwrap();
        let hub = ServerState::new(crate::config::ServerConfig::default(), "http://127.0.0.1:1".into());
        let task = serve_connection(stream, peer, app(hub.clone()), None, hub);
        // A debug build, 2026-12-07: 768 bytes; 1,344 with the HTTP connection's state unboxed,
        // 6,872 with the TLS stream's, 7,344 with both.
        let size = std::mem::size_of_val(&task);
        assert!(size <= 1024, "the accept loop's task for one connection is {size} bytes");
    }
}
