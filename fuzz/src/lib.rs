//! Shared harness of the server fuzz targets: one real `EmbeddedServer` per fuzz process, reached
//! over real sockets (WebSocket frames, HTTP requests), exactly as a hostile client would.
//!
//! Inputs may hold placeholders that are replaced by live values before sending, so the fuzzer
//! reaches the code behind a successful `joinRoom` and behind existing sessions:
//! `$TOKEN` (an unused moderator token), `$SES` (the session id), `$CON` (the joined own
//! connection id), `$OTHER` (another joined participant's id), `$PENDING` (a pending connection id).
//!
//! A panic anywhere in the process (server tasks included) aborts it under libFuzzer, which reports
//! the input as a crash. Besides that the harness treats as a crash: a REST 5xx answer, and a socket
//! that stays open but no longer answers a `ping` within `ANSWER_TIMEOUT`.

use std::sync::OnceLock;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use otc_server::{ConnectionOptions, EmbeddedServer, Role, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

/// How long the server may take to answer one request before the harness calls it stuck.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// The secret of the fuzzed server.
pub const SECRET: &str = "fuzz-secret";

/// The server and a client runtime, started once per process.
pub struct Harness {
    /// The server under test (runs on its own runtime thread).
    pub server: EmbeddedServer,
    /// The runtime the hostile client side runs on.
    pub runtime: Runtime,
}

/// The process-wide harness.
pub fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let config = ServerConfig { secret: SECRET.into(), reconnect_grace: Duration::from_millis(200), ..ServerConfig::default() };
        let server = EmbeddedServer::start_blocking(config).expect("the embedded server starts");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a client runtime");
        Harness { server, runtime }
    })
}

/// A client-side runtime for targets that need no server (built once per process).
pub fn harness_runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a client runtime"))
}

/// Live ids an input's placeholders are replaced with.
pub struct Fixture {
    /// Session id.
    pub session_id: String,
    /// Unused moderator token.
    pub token: String,
    /// Connection id of `token`.
    pub own_id: String,
    /// Another participant, joined over its own socket (kept open while the input runs).
    pub other_id: String,
    /// A pending (never joined) connection id.
    pub pending_id: String,
}

impl Fixture {
    /// Replaces the placeholders in `text`.
    pub fn fill(&self, text: &str) -> String {
        text.replace("$TOKEN", &self.token)
            .replace("$SES", &self.session_id)
            .replace("$CON", &self.own_id)
            .replace("$OTHER", &self.other_id)
            .replace("$PENDING", &self.pending_id)
    }
}

/// A fresh session with a moderator token, another joined participant and a pending connection.
/// Returns the fixture and the other participant's socket (drop it to leave).
pub async fn fixture(server: &EmbeddedServer) -> (Fixture, WsClient) {
    let session_id = server.create_session(None).expect("create session");
    let own = server
        .create_connection(&session_id, ConnectionOptions { role: Role::Moderator, data: "fuzz".into() })
        .expect("create connection");
    let other = server.create_connection(&session_id, ConnectionOptions::default()).expect("create connection");
    let pending = server.create_connection(&session_id, ConnectionOptions::default()).expect("create connection");
    let mut other_socket = WsClient::open(server).await.expect("other participant's socket");
    let join = join_room_frame(0, &other.token, &session_id);
    other_socket.send(&join).await.expect("other participant joins");
    let fixture = Fixture {
        session_id,
        token: own.token,
        own_id: own.connection_id,
        other_id: other.connection_id,
        pending_id: pending.connection_id,
    };
    (fixture, other_socket)
}

/// A `joinRoom` request frame as openvidu-browser sends it.
pub fn join_room_frame(id: u64, token: &str, session_id: &str) -> String {
    serde_json::json!({
        "jsonrpc": "2.0", "method": "joinRoom", "id": id,
        "params": {"token": token, "session": session_id, "platform": "fuzz", "sdkVersion": "2.32.2",
                   "metadata": "{\"clientData\":\"fuzz\"}", "secret": "", "recorder": false, "stt": false}
    })
    .to_string()
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// A raw WebSocket to the server's `/openvidu` endpoint.
pub struct WsClient {
    socket: Socket,
}

/// How a socket ended up after an input.
#[derive(Debug, PartialEq, Eq)]
pub enum Liveness {
    /// It answered the probe `ping`.
    Answered,
    /// The server closed it (a close frame or EOF): allowed (eviction, oversize frame, ...).
    ClosedByServer,
}

impl WsClient {
    /// Dials `ws://.../openvidu`.
    pub async fn open(server: &EmbeddedServer) -> Result<WsClient, String> {
        let url = format!("{}/openvidu?sessionId=fuzz", server.ws_url());
        let (socket, _) = tokio_tungstenite::connect_async(url).await.map_err(|e| e.to_string())?;
        Ok(WsClient { socket })
    }

    /// Sends one text frame.
    pub async fn send(&mut self, text: &str) -> Result<(), String> {
        self.socket.send(Message::text(text)).await.map_err(|e| e.to_string())
    }

    /// Sends one binary frame.
    pub async fn send_binary(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.socket.send(Message::binary(bytes.to_vec())).await.map_err(|e| e.to_string())
    }

    /// Sends a `ping` with an id no input uses and waits for its answer (skipping every other frame).
    /// Panics (= a crash for libFuzzer) when the socket stays open but nothing answers in time.
    pub async fn probe(&mut self) -> Liveness {
        const PROBE_ID: u64 = 4_000_000_123;
        let frame = format!(r#"{{"jsonrpc":"2.0","method":"ping","id":{PROBE_ID}}}"#);
        if self.send(&frame).await.is_err() {
            return Liveness::ClosedByServer;
        }
        let wait = async {
            while let Some(message) = self.socket.next().await {
                let Ok(message) = message else { return Liveness::ClosedByServer };
                match message {
                    Message::Text(text) => {
                        let value: serde_json::Value = serde_json::from_str(&text).expect("the server sends JSON");
                        if value.get("id").and_then(serde_json::Value::as_u64) == Some(PROBE_ID) {
                            return Liveness::Answered;
                        }
                    }
                    Message::Close(_) => return Liveness::ClosedByServer,
                    _ => {}
                }
            }
            Liveness::ClosedByServer
        };
        match timeout(ANSWER_TIMEOUT, wait).await {
            Ok(liveness) => liveness,
            Err(_) => panic!("the server left an open socket unanswered for {ANSWER_TIMEOUT:?}"),
        }
    }
}

/// Splits an input into frames: one per line (a line may not hold a newline; JSON escapes it).
pub fn frames(input: &str) -> impl Iterator<Item = &str> {
    input.split('\n').filter(|line| !line.is_empty())
}

/// One HTTP/1.1 request over a fresh TCP connection; returns the status code.
pub async fn http_request(server: &EmbeddedServer, method: &str, path: &str, authorization: &str, body: &[u8]) -> Result<u16, String> {
    let mut stream = TcpStream::connect(server.local_addr()).await.map_err(|e| e.to_string())?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {authorization}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.map_err(|e| e.to_string())?;
    stream.write_all(body).await.map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.map_err(|e| e.to_string())?;
    let status_line = response.split(|b| *b == b'\r').next().unwrap_or_default();
    let status = std::str::from_utf8(status_line)
        .ok()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no HTTP status line in {:?}", String::from_utf8_lossy(&response)))?;
    Ok(status)
}

/// `Basic base64("OPENVIDUAPP:" + SECRET)`.
pub fn basic_auth() -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("OPENVIDUAPP:{SECRET}")))
}
