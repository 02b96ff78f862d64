//! One raw load-generator client: dials (from a chosen source address), pings, joins with a token,
//! sends signals on command and reports what it receives to a scenario's [`Observer`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::wire::{self, Inbound};

/// Connections per source address before the next one (127.0.0.2, .3, ...) is used: one address
/// reaches ~28k connections on this box.
pub const CONNECTIONS_PER_SOURCE_ADDRESS: usize = 25_000;

/// What a scenario learns from its clients. Called on the client's own task: keep it cheap.
pub trait Observer: Send + Sync + 'static {
    /// The client starts dialing.
    fn dialing(&self, _client: usize, _at: Instant) {}
    /// The client has sent `joinRoom`.
    fn join_sent(&self, _client: usize, _at: Instant) {}
    /// A frame arrived.
    fn inbound(&self, client: usize, at: Instant, frame: &Inbound<'_>);
    /// The client stopped: `Ok` when told to, `Err` with the reason otherwise (before or after joining).
    fn ended(&self, _client: usize, _outcome: &Result<(), String>) {}
}

/// Orders for a running client.
#[derive(Debug)]
pub enum Command {
    /// Send a broadcast signal with this data.
    Signal(String),
    /// Close the socket and stop.
    Close,
}

/// How one client connects.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Index of the client in its scenario (passed back to the observer).
    pub index: usize,
    /// The WebSocket server to dial (the token's host is ignored, like a proxy would).
    pub server: SocketAddr,
    /// Source address to bind before dialing.
    pub source: IpAddr,
    /// Token URL for `joinRoom`.
    pub token: String,
    /// Keepalive interval (sent in the first ping).
    pub ping_interval: Duration,
}

/// Source address of the `global_index`-th connection: 127.0.0.1, then .2, .3, ... every
/// [`CONNECTIONS_PER_SOURCE_ADDRESS`] connections.
pub fn source_address(global_index: usize) -> IpAddr {
    let host = 1 + global_index / CONNECTIONS_PER_SOURCE_ADDRESS;
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, host.min(254) as u8))
}

/// A running client: its command channel and task.
pub struct ClientHandle {
    /// Orders for the client.
    pub commands: mpsc::UnboundedSender<Command>,
    /// The client's task.
    pub task: JoinHandle<()>,
}

/// Starts a client on the current runtime.
pub fn spawn(config: ClientConfig, observer: Arc<dyn Observer>) -> ClientHandle {
    let (commands, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let index = config.index;
        let outcome = run(config, observer.as_ref(), rx).await;
        observer.ended(index, &outcome);
    });
    ClientHandle { commands, task }
}

/// Small buffers: an idle connection should cost the load generator little memory.
fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0).max_write_buffer_size(1 << 20)
}

async fn dial(config: &ClientConfig) -> Result<WebSocketStream<TcpStream>, String> {
    let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    socket.bind(SocketAddr::new(config.source, 0)).map_err(|e| format!("bind {}: {e}", config.source))?;
    let stream = socket.connect(config.server).await.map_err(|e| format!("connect {}: {e}", config.server))?;
    stream.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
    let session = wire::session_of_token(&config.token).ok_or("token has no sessionId")?;
    let url = format!("ws://{}/openvidu?sessionId={session}", config.server);
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(websocket_config()))
        .await
        .map_err(|e| format!("websocket handshake: {e}"))?;
    Ok(ws)
}

async fn run(config: ClientConfig, observer: &dyn Observer, mut commands: mpsc::UnboundedReceiver<Command>) -> Result<(), String> {
    observer.dialing(config.index, Instant::now());
    let mut ws = dial(&config).await?;
    let session = wire::session_of_token(&config.token).ok_or("token has no sessionId")?.to_string();
    let interval_ms = config.ping_interval.as_millis() as u64;
    let mut next_id = 2u64;
    ws.send(Message::text(wire::ping(0, Some(interval_ms)))).await.map_err(|e| format!("send ping: {e}"))?;
    ws.send(Message::text(wire::join_room(&config.token, &session))).await.map_err(|e| format!("send joinRoom: {e}"))?;
    observer.join_sent(config.index, Instant::now());
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + config.ping_interval, config.ping_interval);
    let mut joined = false;
    loop {
        tokio::select! {
            frame = ws.next() => {
                let at = Instant::now();
                match frame {
                    Some(Ok(Message::Text(text))) => {
                        let inbound = wire::classify(text.as_str())?;
                        if let Inbound::Error { request_id: Some(wire::JOIN_REQUEST_ID), code, message } = &inbound {
                            return Err(format!("joinRoom refused: {code} {message}"));
                        }
                        joined |= matches!(inbound, Inbound::Joined { .. });
                        observer.inbound(config.index, at, &inbound);
                    }
                    Some(Ok(Message::Close(frame))) => {
                        return Err(format!("server closed the socket ({})", frame.map(|f| format!("{} {}", f.code, f.reason)).unwrap_or_default()));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(format!("read: {e}")),
                    None => return Err(format!("socket ended (joined: {joined})")),
                }
            }
            command = commands.recv() => match command {
                Some(Command::Signal(data)) => {
                    let frame = wire::send_message(next_id, &data);
                    next_id += 1;
                    ws.send(Message::text(frame)).await.map_err(|e| format!("send sendMessage: {e}"))?;
                }
                Some(Command::Close) | None => {
                    let _ = ws.close(None).await;
                    return Ok(());
                }
            },
            _ = pings.tick() => {
                ws.send(Message::text(wire::ping(next_id, None))).await.map_err(|e| format!("send ping: {e}"))?;
                next_id += 1;
            }
        }
    }
}

/// Closes every client and waits (bounded) for their tasks to end.
pub async fn close_all(clients: Vec<ClientHandle>) {
    for client in &clients {
        let _ = client.commands.send(Command::Close);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    for client in clients {
        let abort = client.task.abort_handle();
        if tokio::time::timeout_at(deadline, client.task).await.is_err() {
            abort.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_addresses_rotate_every_block() {
        assert_eq!(source_address(0), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(source_address(CONNECTIONS_PER_SOURCE_ADDRESS - 1), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(source_address(CONNECTIONS_PER_SOURCE_ADDRESS), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    }
}
