//! [`EmbeddedServer`]: run the server inside a process (tests, demos) and administer it in-process
//! through the same code as the REST API.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::admin::{self, ConnectionRequest, SessionRequest};
use crate::config::ServerConfig;
use crate::http;
use crate::model::{ConnectionOptions, PendingConnection, ServerError};
use crate::state::ServerState;

/// Why the server could not start.
#[derive(Debug)]
pub enum StartError {
    /// Binding the listen address failed.
    Bind(std::io::Error),
    /// The TLS certificate or key is unusable.
    Tls(String),
    /// The public URL is not `http(s)://` or `ws(s)://`.
    PublicUrl(String),
    /// The runtime thread of `start_blocking` could not be created or died.
    Runtime(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Bind(e) => write!(f, "cannot bind: {e}"),
            StartError::Tls(e) => write!(f, "TLS: {e}"),
            StartError::PublicUrl(e) => write!(f, "public URL: {e}"),
            StartError::Runtime(e) => write!(f, "runtime: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

enum Driver {
    /// Runs on the caller's runtime.
    Task(Option<JoinHandle<()>>),
    /// Runs on its own runtime thread.
    Thread {
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
    },
}

/// A running server. Dropping it stops it (without waiting); prefer `shutdown`.
pub struct EmbeddedServer {
    hub: Arc<ServerState>,
    local_addr: SocketAddr,
    tls: bool,
    driver: Driver,
}

/// Turns a public URL into the `ws[s]://host:port` base used in tokens.
pub fn token_base(public_url: &str) -> Result<String, StartError> {
    let trimmed = public_url.trim().trim_end_matches('/');
    let base = if let Some(rest) = trimmed.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = trimmed.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if trimmed.starts_with("wss://") || trimmed.starts_with("ws://") {
        trimmed.to_string()
    } else {
        return Err(StartError::PublicUrl(format!(
            "{public_url:?} must start with http://, https://, ws:// or wss://"
        )));
    };
    if base.contains(['?', '&', '=']) {
        return Err(StartError::PublicUrl("must not contain '?', '&' or '='".into()));
    }
    Ok(base)
}

fn loopback_host(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(v4) if v4.ip().is_unspecified() => format!("127.0.0.1:{}", v4.port()),
        SocketAddr::V6(v6) if v6.ip().is_unspecified() => format!("127.0.0.1:{}", v6.port()),
        other => other.to_string(),
    }
}

/// How many connections may wait in the kernel's accept queue. The OS default (128) overflows in a
/// connect storm, and a dropped SYN is retried only after 1 s, then 3 s: a join storm's tail latency.
const LISTEN_BACKLOG: u32 = 4096;

/// Binds the listening socket with address reuse (a restarted server gets its port back at once) and a
/// deliberate accept backlog.
fn bind_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

impl EmbeddedServer {
    /// Binds, starts serving on the current tokio runtime, and returns once the port is open.
    pub async fn start(config: ServerConfig) -> Result<EmbeddedServer, StartError> {
        let tls = match (&config.tls_cert_pem, &config.tls_key_pem) {
            (Some(cert), Some(key)) => Some(http::tls_acceptor(cert, key).map_err(StartError::Tls)?),
            _ => None,
        };
        let listener = bind_listener(config.listen).map_err(StartError::Bind)?;
        let local_addr = listener.local_addr().map_err(StartError::Bind)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{}", loopback_host(local_addr)));
        let hub = ServerState::new(config, token_base(&public_url)?);
        spawn_idle_sweeper(&hub);
        hub.spawn(crate::outbound::pacer::run_probe(hub.pacer.clone(), hub.live_sockets()));
        let serve = tokio::spawn(http::serve(listener, http::app(hub.clone()), tls.clone(), hub.clone()));
        tracing::info!(%local_addr, tls = tls.is_some(), "server started");
        Ok(EmbeddedServer {
            hub,
            local_addr,
            tls: tls.is_some(),
            driver: Driver::Task(Some(serve)),
        })
    }

    /// Starts the server on its own runtime thread, for callers without a tokio runtime.
    pub fn start_blocking(config: ServerConfig) -> Result<EmbeddedServer, StartError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("otc-server".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(StartError::Runtime(e.to_string())));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match EmbeddedServer::start(config).await {
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                        Ok(server) => {
                            let _ = ready_tx.send(Ok((server.hub.clone(), server.local_addr, server.tls)));
                            let _ = stop_rx.await;
                            server.shutdown().await;
                        }
                    }
                });
            })
            .map_err(|e| StartError::Runtime(e.to_string()))?;
        match ready_rx.recv() {
            Ok(Ok((hub, local_addr, tls))) => Ok(EmbeddedServer {
                hub,
                local_addr,
                tls,
                driver: Driver::Thread {
                    stop: Some(stop_tx),
                    thread: Some(thread),
                },
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(StartError::Runtime("server thread exited during start".into())),
        }
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http[s]://127.0.0.1:PORT`; the REST base is this + `/openvidu/api`.
    pub fn http_url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            loopback_host(self.local_addr)
        )
    }

    /// `ws[s]://127.0.0.1:PORT`; the WebSocket endpoint is this + `/openvidu`.
    pub fn ws_url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "wss" } else { "ws" },
            loopback_host(self.local_addr)
        )
    }

    /// The REST secret.
    pub fn secret(&self) -> &str {
        &self.hub.config.secret
    }

    /// Creates a session (`None` = generated id); same as REST `POST /sessions`.
    pub fn create_session(&self, custom_id: Option<&str>) -> Result<String, ServerError> {
        let request = SessionRequest {
            custom_session_id: custom_id.map(str::to_string),
            ..SessionRequest::default()
        };
        admin::create_session(&self.hub, request).map(|s| s.id.clone())
    }

    /// Creates a pending connection and its token; same as REST `POST /sessions/{id}/connection`.
    pub fn create_connection(
        &self,
        session_id: &str,
        options: ConnectionOptions,
    ) -> Result<PendingConnection, ServerError> {
        let request = ConnectionRequest {
            role: Some(options.role),
            data: Some(options.data),
            ..ConnectionRequest::default()
        };
        admin::create_connection(&self.hub, session_id, request).map(|(pending, _)| pending)
    }

    /// Closes a session (everyone evicted with `sessionClosedByServer`); same as REST `DELETE /sessions/{id}`.
    pub fn close_session(&self, session_id: &str) -> Result<(), ServerError> {
        admin::close_session(&self.hub, session_id)
    }

    /// Evicts a connection (`forceDisconnectByServer`) or invalidates a pending token; same as REST DELETE connection.
    pub fn force_disconnect(&self, session_id: &str, connection_id: &str) -> Result<(), ServerError> {
        admin::delete_connection(&self.hub, session_id, connection_id)
    }

    /// Sends a server signal (no `from`) to everyone or to the listed connections; same as REST `POST /signal`.
    pub fn send_signal(
        &self,
        session_id: &str,
        to: Option<Vec<String>>,
        signal_type: &str,
        data: &str,
    ) -> Result<(), ServerError> {
        admin::send_signal(&self.hub, session_id, to.as_deref(), Some(signal_type), data)
    }

    /// Stops the server: every socket is dropped (clients see the connection die), the port is freed.
    pub async fn shutdown(mut self) {
        self.hub.begin_shutdown();
        match &mut self.driver {
            Driver::Task(serve) => {
                if let Some(serve) = serve.take() {
                    let _ = serve.await;
                }
            }
            Driver::Thread { stop, thread } => {
                if let Some(stop) = stop.take() {
                    let _ = stop.send(());
                }
                if let Some(thread) = thread.take() {
                    let _ = tokio::task::spawn_blocking(move || thread.join()).await;
                }
            }
        }
    }

    /// Blocking variant of [`EmbeddedServer::shutdown`] for non-async callers. For a server started
    /// with `start` (on a runtime), it waits at most a few seconds for the runtime to finish the stop.
    pub fn shutdown_blocking(mut self) {
        self.hub.begin_shutdown();
        match &mut self.driver {
            Driver::Thread { stop, thread } => {
                if let Some(stop) = stop.take() {
                    let _ = stop.send(());
                }
                if let Some(thread) = thread.take() {
                    let _ = thread.join();
                }
            }
            Driver::Task(serve) => {
                if let Some(serve) = serve.take() {
                    let deadline = std::time::Instant::now() + Duration::from_secs(5);
                    while !serve.is_finished() && std::time::Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
            }
        }
    }
}

impl Drop for EmbeddedServer {
    fn drop(&mut self) {
        self.hub.begin_shutdown();
        if let Driver::Thread { stop, .. } = &mut self.driver {
            if let Some(stop) = stop.take() {
                let _ = stop.send(());
            }
        }
    }
}

/// Every few seconds: removes the sessions idle for `session_idle_timeout` and drops the others'
/// broadcasts older than the replay age.
fn spawn_idle_sweeper(hub: &Arc<ServerState>) {
    let idle = hub.config.session_idle_timeout;
    let period = (idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(5));
    let sweeper_hub = hub.clone();
    hub.spawn(async move {
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            for session in admin::list_sessions(&sweeper_hub) {
                if !session.remove_if_idle(&sweeper_hub, idle) {
                    session.forget_expired_broadcasts();
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_become_token_bases() {
        assert_eq!(
            token_base("https://example.org:4443/").unwrap(),
            "wss://example.org:4443"
        );
        assert_eq!(token_base("http://127.0.0.1:5000").unwrap(), "ws://127.0.0.1:5000");
        assert!(token_base("ftp://x").is_err());
        assert!(token_base("http://x?y=1").is_err());
    }
}
