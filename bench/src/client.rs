//! One raw load-generator client: dials (from a chosen source address), pings, joins with a token,
//! sends signals on command and reports what it receives to a scenario's [`Observer`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::clock;
use crate::opening_handshake;
use crate::frames::{self, Fill, FrameReader, MaskKeys, Opcode, ServerFrame};
use crate::wire::{self, Inbound};

/// Source addresses the connections rotate over (127.0.0.1 ..= 127.0.0.64). One address reaches ~28k
/// connections to one server port on this box, but the kernel's search for a free source port grows
/// with the ports already taken: with a single address, that search was most of the load generator's
/// CPU in a 19k connect storm. Spread over 64 addresses, each holds a few hundred.
pub const SOURCE_ADDRESSES: usize = 64;

/// What a scenario learns from its clients. Called on the client's own task: keep it cheap.
pub trait Observer: Send + Sync + 'static {
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

/// The process's open sockets, kept below its descriptor limit: a client whose socket would pass the
/// limit waits for another client's socket to close, and the wait counts in the scenario's latencies
/// like any other delay of the load generator. Without it, a saturated churn (S5: 15k members plus
/// thousands of joins in flight) failed joins at `socket()` with EMFILE.
pub mod socket_budget {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, OnceLock};

    use tokio::sync::{OwnedSemaphorePermit, Semaphore};

    /// Descriptors left for everything else: REST connections, /proc files, pipes to worker
    /// processes and the server, the runtime's own.
    const RESERVED: usize = 1024;

    /// A number of sockets that may be open at once, and how often a client had to wait for one.
    pub struct Budget {
        sockets: Arc<Semaphore>,
        waits: AtomicU64,
    }

    impl Budget {
        /// A budget of `capacity` sockets.
        pub fn new(capacity: usize) -> Budget {
            Budget { sockets: Arc::new(Semaphore::new(capacity)), waits: AtomicU64::new(0) }
        }

        /// A permit for one socket, waiting while the budget is spent.
        pub async fn open(&self) -> OwnedSemaphorePermit {
            if let Ok(permit) = self.sockets.clone().try_acquire_owned() {
                return permit;
            }
            self.waits.fetch_add(1, Ordering::Relaxed);
            self.sockets.clone().acquire_owned().await.expect("a socket budget is never closed")
        }

        /// Clients that have had to wait for a socket so far.
        pub fn waits(&self) -> u64 {
            self.waits.load(Ordering::Relaxed)
        }
    }

    /// The soft descriptor limit less [`RESERVED`] (less a quarter of it, under a small limit).
    pub fn capacity() -> usize {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: `limit` is a valid out-pointer.
        let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 { limit.rlim_cur as usize } else { 1024 };
        soft - RESERVED.min(soft / 4)
    }

    /// This process's budget, sized by [`capacity`] when first used (after `main` raised the limit).
    fn process() -> &'static Budget {
        static BUDGET: OnceLock<Budget> = OnceLock::new();
        BUDGET.get_or_init(|| Budget::new(capacity()))
    }

    /// A permit for one socket of this process.
    pub async fn open() -> OwnedSemaphorePermit {
        process().open().await
    }

    /// Clients of this process that have had to wait for a socket so far.
    pub fn waits() -> u64 {
        process().waits()
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::time::Duration;

        #[tokio::test]
        async fn a_client_past_the_budget_waits_for_a_socket_to_close() {
            let budget = Budget::new(1);
            let first = budget.open().await;
            assert_eq!(budget.waits(), 0);
            let second = tokio::time::timeout(Duration::from_millis(50), budget.open()).await;
            assert!(second.is_err(), "no second socket while the first is open");
            assert_eq!(budget.waits(), 1);
            drop(first);
            let _reused = tokio::time::timeout(Duration::from_secs(5), budget.open()).await.expect("the closed socket's permit is reused");
        }

        #[test]
        fn the_process_budget_leaves_room_below_the_descriptor_limit() {
            let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0);
            assert!(capacity() < limit.rlim_cur as usize);
            assert!(capacity() >= limit.rlim_cur as usize * 3 / 4);
        }
    }
}

/// Dials and does the opening handshake; the rest of the connection's life speaks raw frames
/// ([`crate::frames`]), starting with the frame bytes that came with the handshake's answer.
async fn dial(config: &ClientConfig) -> Result<(TcpStream, Vec<u8>), String> {
    let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    defer_port_choice(&socket)?;
    socket.bind(SocketAddr::new(config.source, 0)).map_err(|e| format!("bind {}: {e}", config.source))?;
    let mut stream = socket.connect(config.server).await.map_err(|e| format!("connect {}: {e}", config.server))?;
    stream.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
    let session = wire::session_of_token(&config.token).ok_or("token has no sessionId")?;
    let host = config.server.to_string();
    let early_frames = opening_handshake::open(&mut stream, &host, &format!("/openvidu?sessionId={session}"))
        .await
        .map_err(|e| format!("websocket handshake: {e}"))?;
    Ok((stream, early_frames))
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

/// One client's socket after the handshake: raw frames in both directions.
struct Connection {
    stream: TcpStream,
    reader: FrameReader,
    keys: MaskKeys,
}

impl Connection {
    async fn send_text(&mut self, text: &str) -> Result<(), String> {
        self.send(Opcode::Text, text.as_bytes()).await
    }

    /// Sends `texts` as text frames in one write: on loopback each write also runs the server's
    /// receive path on this process's core.
    async fn send_texts(&mut self, texts: &[&str]) -> Result<(), String> {
        let mut burst = Vec::new();
        for text in texts {
            burst.extend_from_slice(&frames::client_frame(Opcode::Text, text.as_bytes(), &mut self.keys));
        }
        self.stream.write_all(&burst).await.map_err(|e| format!("write: {e}"))
    }

    async fn send(&mut self, opcode: Opcode, payload: &[u8]) -> Result<(), String> {
        let frame = frames::client_frame(opcode, payload, &mut self.keys);
        self.stream.write_all(&frame).await.map_err(|e| format!("write: {e}"))
    }

    /// Sends a close frame (code 1000) and drops the connection.
    async fn close(mut self) {
        let _ = self.send(Opcode::Close, &1000u16.to_be_bytes()).await;
    }

    /// Waits until the socket is readable and reads what it holds; `Ended` when the server closed it.
    async fn read(&mut self) -> Result<Fill, String> {
        self.reader.read(&mut self.stream).await.map_err(|e| format!("read: {e}"))
    }

    /// Answers the pings among what was read.
    async fn answer_pings(&mut self, pings: Vec<Vec<u8>>) -> Result<(), String> {
        for payload in pings {
            self.send(Opcode::Pong, &payload).await?;
        }
        Ok(())
    }
}

async fn run(config: ClientConfig, observer: &dyn Observer, mut commands: mpsc::UnboundedReceiver<Command>) -> Result<(), String> {
    // Held until the socket is closed (it is dropped after `conn`, declared later).
    let _socket = socket_budget::open().await;
    let (stream, early_frames) = dial(&config).await?;
    let mut reader = FrameReader::default();
    reader.push(&early_frames);
    let mut conn = Connection { stream, reader, keys: MaskKeys::new(config.index as u64 ^ clock::micros(Instant::now())) };
    let session = wire::session_of_token(&config.token).ok_or("token has no sessionId")?.to_string();
    let interval_ms = config.ping_interval.as_millis() as u64;
    let mut next_id = 2u64;
    conn.send_texts(&[&wire::ping(0, Some(interval_ms)), &wire::join_room(&config.token, &session)]).await?;
    observer.join_sent(config.index, Instant::now());
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + config.ping_interval, config.ping_interval);
    let mut joined = false;
    loop {
        tokio::select! {
            fill = conn.read() => {
                let fill = fill?;
                // Every frame of one read arrived at the same moment.
                let at = Instant::now();
                let mut ping_payloads = Vec::new();
                // The first frame that ends the client stops the drain and is its error.
                let failure = conn.reader.drain(|frame| match frame {
                    ServerFrame::Text(text) => match wire::classify(text) {
                        Ok(Inbound::Error { request_id: Some(wire::JOIN_REQUEST_ID), code, message }) => Some(format!("joinRoom refused: {code} {message}")),
                        Ok(inbound) => {
                            joined |= matches!(inbound, Inbound::Joined { .. });
                            observer.inbound(config.index, at, &inbound);
                            None
                        }
                        Err(e) => Some(e),
                    },
                    ServerFrame::Close(code, reason) => Some(format!("server closed the socket ({} {reason})", code.map(|c| c.to_string()).unwrap_or_default())),
                    ServerFrame::Ping(payload) => {
                        ping_payloads.push(payload.to_vec());
                        None
                    }
                    ServerFrame::Ignored => None,
                })?;
                if let Some(failure) = failure {
                    return Err(failure);
                }
                conn.answer_pings(ping_payloads).await?;
                if fill == Fill::Ended {
                    return Err(format!("socket ended (joined: {joined})"));
                }
            }
            command = commands.recv() => match command {
                Some(Command::Signal(data)) => {
                    conn.send_text(&wire::send_message(next_id, &data)).await.map_err(|e| format!("send sendMessage: {e}"))?;
                    next_id += 1;
                }
                Some(Command::Leave) => {
                    conn.send_text(&wire::leave_room(next_id)).await.map_err(|e| format!("send leaveRoom: {e}"))?;
                    let answered = tokio::time::timeout(LEAVE_ANSWER_WAIT, async {
                        loop {
                            let fill = conn.read().await?;
                            let answer = conn.reader.drain(|frame| match frame {
                                ServerFrame::Text(text) if wire::is_response_to(text, next_id) => Some(()),
                                _ => None,
                            })?;
                            if answer.is_some() {
                                return Ok(());
                            }
                            if fill == Fill::Ended {
                                return Err("socket ended before the leaveRoom answer".to_string());
                            }
                        }
                    })
                    .await;
                    conn.close().await;
                    return answered.map_err(|_| "leaveRoom not answered".to_string())?;
                }
                Some(Command::Close) | None => {
                    conn.close().await;
                    return Ok(());
                }
            },
            _ = pings.tick() => {
                conn.send_text(&wire::ping(next_id, None)).await.map_err(|e| format!("send ping: {e}"))?;
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
