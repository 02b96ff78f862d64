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

/// Source addresses the connections rotate over (127.0.0.1 ..= 127.0.0.64). One address reaches ~28k
/// connections to one server port on this box, but the kernel's search for a free source port grows
/// with the ports already taken: with a single address, that search was most of the load generator's
/// CPU in a 19k connect storm. Spread over 64 addresses, each holds a few hundred.
pub const SOURCE_ADDRESSES: usize = 64;

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
    /// Close the socket and stop (to the server, a lost connection: it keeps the participant for
    /// its resume grace).
    Close,
    /// Leave the session (`leaveRoom`), wait for the answer, then close and stop: what an app does.
    Leave,
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

/// Source address of the `global_index`-th connection: 127.0.0.1, .2, ... .64, then .1 again.
pub fn source_address(global_index: usize) -> IpAddr {
    let host = 1 + global_index % SOURCE_ADDRESSES;
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, host as u8))
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
    defer_port_choice(&socket)?;
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

/// Sets `IP_BIND_ADDRESS_NO_PORT`: binding a source address with port 0 then leaves the port to
/// `connect`, which picks it by the full 4-tuple. Without it, `bind` searches the address's whole
/// port range for each socket: past a few thousand connections that search was what capped the
/// load generator's connect rate (~1000/s, all of it kernel time).
fn defer_port_choice(socket: &TcpSocket) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a valid socket fd and a pointer/length pair describing one c_int that outlives the call.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(format!("IP_BIND_ADDRESS_NO_PORT: {}", std::io::Error::last_os_error()));
    }
    Ok(())
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
                Some(Command::Leave) => {
                    ws.send(Message::text(wire::leave_room(next_id))).await.map_err(|e| format!("send leaveRoom: {e}"))?;
                    let answered = tokio::time::timeout(LEAVE_ANSWER_WAIT, async {
                        while let Some(Ok(frame)) = ws.next().await {
                            if let Message::Text(text) = frame {
                                if wire::is_response_to(text.as_str(), next_id) {
                                    return;
                                }
                            }
                        }
                    })
                    .await;
                    let _ = ws.close(None).await;
                    return answered.map_err(|_| "leaveRoom not answered".to_string());
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

/// How long a leaving client waits for the `leaveRoom` answer before closing anyway.
const LEAVE_ANSWER_WAIT: Duration = Duration::from_secs(10);

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
    fn source_addresses_rotate() {
        assert_eq!(source_address(0), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(source_address(1), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
        assert_eq!(source_address(SOURCE_ADDRESSES - 1), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 64)));
        assert_eq!(source_address(SOURCE_ADDRESSES), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)));
    }
}
