//! A stand-in OpenVidu server for S6 that replays a recorded-shape stream to one native client.
//!
//! S6 measures the native client's cost, not the server's (that is S1's and S3's job). Reaching a 10k
//! roster on the real server takes a 10k join storm (50M notifications) first, and the real server's
//! rate caps what the client can be shown to apply. So this player speaks exactly the protocol of
//! spec/wire-protocol.md on a socket of its own, with frames of the very shape otc-server emits
//! (same keys, same key order; the test below checks them against frames captured from a real
//! otc-server): it answers `ping` and `leaveRoom`, answers `joinRoom` with a `value` of K existing
//! participants, then, on command, writes a burst of P `participantJoined` notifications (an S1 stream)
//! or of S `sendMessage` signals (an S3 stream). Every frame is encoded before the client connects and a
//! burst is written through a large write buffer, so the player costs little; it runs on a thread of its
//! own (pinned to another core than the client when the machine has one).

use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// The OpenVidu version otc-server announces (a full semver, as the clients require).
const SERVER_VERSION: &str = "2.32.2";
/// `createdAt` of the first scripted participant (ms since the epoch); the others follow, 1 ms apart.
const FIRST_CREATED_AT: i64 = 1_700_000_000_000;
/// Signal type on the wire (the client strips `signal:`).
const SIGNAL_TYPE: &str = "signal:bench";
/// The player's write buffer: a burst leaves in chunks of about this size.
const WRITE_CHUNK_BYTES: usize = 256 * 1024;

/// What the player plays: the session, the roster the `joinRoom` answer lists, and the bursts.
#[derive(Clone, Debug)]
pub struct Script {
    /// Session id (in the token and the `joinRoom` answer).
    pub session_id: String,
    /// K: participants already in the session, listed in the `joinRoom` answer's `value`.
    pub roster: usize,
    /// P: `participantJoined` notifications of the joins burst.
    pub joins: usize,
    /// S: `sendMessage` notifications of the signals burst (sent by roster members).
    pub signals: usize,
}

/// One of the scripted bursts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Burst {
    /// P `participantJoined` notifications, participants K..K+P.
    Joins,
    /// S `sendMessage` notifications from the roster's members.
    Signals,
}

/// When a burst left the player.
#[derive(Clone, Copy, Debug)]
pub struct BurstTimes {
    /// Just before the first frame of the burst was handed to the socket.
    pub first_sent: Instant,
    /// When the last byte of the burst was written to the socket.
    pub last_written: Instant,
}

/// The metadata of scripted participant `index`: what an openvidu-browser app typically sends as
/// clientData (a small JSON object), no server data.
fn metadata(index: usize) -> String {
    format!("{{\"clientData\":\"member {index}\"}}")
}

/// The connection id of scripted participant `index` (`con_` + 10 alphanumerics, as the server's).
fn connection_id(index: usize) -> String {
    format!("con_{index:010}")
}

/// `{id, createdAt, metadata}` of one participant, encoded as otc-server encodes it (`wire::remote_entry_json`).
fn entry_json(index: usize) -> String {
    json!({"id": connection_id(index), "createdAt": FIRST_CREATED_AT + index as i64, "metadata": metadata(index)}).to_string()
}

/// `participantJoined` as otc-server sends it (`wire::participant_joined`).
fn participant_joined(index: usize) -> String {
    format!("{{\"method\":\"participantJoined\",\"params\":{},\"jsonrpc\":\"2.0\"}}", entry_json(index))
}

/// A `sendMessage` signal as otc-server relays it (`wire::signal`: a JSON-RPC notification).
fn signal(from: &str, data: &str) -> String {
    json!({"method": "sendMessage", "params": {"data": data, "type": SIGNAL_TYPE, "from": from}, "jsonrpc": "2.0"}).to_string()
}

/// A success response as otc-server sends it (`rpc::response`: `sessionId` added to the result).
fn response(id: &Value, mut result: Value, rpc_session_id: &str) -> String {
    if let Value::Object(map) = &mut result {
        map.insert("sessionId".into(), Value::String(rpc_session_id.to_string()));
    }
    json!({"id": id, "result": result, "jsonrpc": "2.0"}).to_string()
}

/// An error response as otc-server sends it (`rpc::error_response`).
fn error_response(id: &Value, code: i64, message: &str) -> String {
    json!({"id": id, "error": {"code": code, "message": message}, "jsonrpc": "2.0"}).to_string()
}

/// Every frame of a script, encoded ahead of time.
struct Encoded {
    session_id: String,
    /// The index of the client's own (scripted) participant, after every other one.
    own_index: usize,
    /// The entries of the `joinRoom` answer's `value`, comma-separated, without the brackets.
    roster_entries: String,
    joins: Vec<Message>,
    signals: Vec<Message>,
}

impl Encoded {
    fn new(script: &Script) -> Encoded {
        let roster_entries = (0..script.roster).map(entry_json).collect::<Vec<_>>().join(",");
        let joins = (script.roster..script.roster + script.joins).map(|i| Message::text(participant_joined(i))).collect();
        let senders: Vec<String> = (0..script.roster.max(1)).map(connection_id).collect();
        let signals = (0..script.signals)
            .map(|i| Message::text(signal(&senders[i % senders.len()], &format!("signal {i} of the S6 stream"))))
            .collect();
        let own_index = script.roster + script.joins;
        Encoded { session_id: script.session_id.clone(), own_index, roster_entries, joins, signals }
    }

    /// The `joinRoom` answer as otc-server builds it (`wire::join_response`): `value` first, then the
    /// other fields in serde_json's (sorted) order, `jsonrpc` last.
    fn join_answer(&self, request_id: &Value, rpc_session_id: &str) -> String {
        let own_index = self.own_index;
        let head = json!({
            "id": connection_id(own_index),
            "createdAt": FIRST_CREATED_AT + own_index as i64,
            "metadata": metadata(own_index),
            "session": self.session_id,
            "sessionId": rpc_session_id,
            "version": SERVER_VERSION,
            "role": "PUBLISHER",
            "record": true,
            "mediaServer": "kurento",
            "videoSimulcast": false,
            "customIceServers": [],
        })
        .to_string();
        format!("{{\"id\":{request_id},\"result\":{{\"value\":[{}],{},\"jsonrpc\":\"2.0\"}}", self.roster_entries, &head[1..])
    }

    /// The frames of a burst. They stay allocated for the player's whole life (a played frame is a
    /// reference-counted clone), so that the process's heap changes during a burst are the client's.
    fn frames(&self, burst: Burst) -> &[Message] {
        match burst {
            Burst::Joins => &self.joins,
            Burst::Signals => &self.signals,
        }
    }
}

/// Orders from the bench to the player thread.
enum Command {
    Play(Burst, oneshot::Sender<Result<BurstTimes, String>>),
}

/// A running player: one listening socket served by its own thread. Dropping it stops the thread.
pub struct StreamPlayer {
    addr: SocketAddr,
    session_id: String,
    commands: Option<mpsc::UnboundedSender<Command>>,
    thread: Option<JoinHandle<()>>,
}

impl StreamPlayer {
    /// Encodes every frame of `script`, binds 127.0.0.1 on a free port and starts serving on a new
    /// thread, pinned to `cpu` when given.
    pub fn start(script: &Script, cpu: Option<usize>) -> Result<StreamPlayer, String> {
        let encoded = Encoded::new(script);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("player bind: {e}"))?;
        listener.set_nonblocking(true).map_err(|e| format!("player listener: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("player address: {e}"))?;
        let (commands, orders) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("s6-player".into())
            .spawn(move || {
                if let Some(cpu) = cpu {
                    if let Err(e) = crate::system::pin_self_to(cpu) {
                        eprintln!("S6 player: not pinned: {e}");
                    }
                }
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        eprintln!("S6 player: runtime: {e}");
                        return;
                    }
                };
                runtime.block_on(serve(listener, encoded, orders));
            })
            .map_err(|e| format!("player thread: {e}"))?;
        Ok(StreamPlayer { addr, session_id: script.session_id.clone(), commands: Some(commands), thread: Some(thread) })
    }

    /// A token for the player (its single-use check is not played: any token is accepted).
    pub fn token(&self) -> String {
        format!("ws://{}?sessionId={}&token=tok_S6streamplayer00", self.addr, self.session_id)
    }

    /// Plays `burst` to the connected client; returns once it is written.
    pub async fn play(&self, burst: Burst) -> Result<BurstTimes, String> {
        let (reply, answer) = oneshot::channel();
        let commands = self.commands.as_ref().ok_or("player stopped")?;
        commands.send(Command::Play(burst, reply)).map_err(|_| "player thread ended".to_string())?;
        answer.await.map_err(|_| "player thread ended".to_string())?
    }
}

impl Drop for StreamPlayer {
    fn drop(&mut self) {
        // Closing the command channel ends the serving loop (and any connection it serves).
        self.commands = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves connections one after the other until the command channel closes.
async fn serve(listener: std::net::TcpListener, encoded: Encoded, mut orders: mpsc::UnboundedReceiver<Command>) {
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("S6 player: listener: {e}");
            return;
        }
    };
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    if let Err(e) = serve_connection(tcp, &encoded, &mut orders).await {
                        match e {
                            Ended::Stopped => return,
                            Ended::Failed(message) => eprintln!("S6 player: {message}"),
                            Ended::Closed => {}
                        }
                    }
                }
                Err(e) => eprintln!("S6 player: accept: {e}"),
            },
            order = orders.recv() => match order {
                Some(Command::Play(_, reply)) => {
                    let _ = reply.send(Err("no client is connected to the player".into()));
                }
                None => return,
            },
        }
    }
}

/// Why a served connection ended.
enum Ended {
    /// The client closed the socket.
    Closed,
    /// The bench dropped the player.
    Stopped,
    /// A socket error.
    Failed(String),
}

async fn serve_connection(tcp: TcpStream, encoded: &Encoded, orders: &mut mpsc::UnboundedReceiver<Command>) -> Result<(), Ended> {
    tcp.set_nodelay(true).map_err(|e| Ended::Failed(format!("nodelay: {e}")))?;
    let config = WebSocketConfig::default().write_buffer_size(WRITE_CHUNK_BYTES).max_write_buffer_size(4 * WRITE_CHUNK_BYTES);
    let mut ws = tokio_tungstenite::accept_async_with_config(tcp, Some(config))
        .await
        .map_err(|e| Ended::Failed(format!("handshake: {e}")))?;
    // otc-server's RPC session ids are opaque strings chosen at a socket's first message.
    let rpc_session_id = "rpc_S6player0";
    loop {
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    if let Some(answer) = answer(text.as_str(), encoded, rpc_session_id) {
                        ws.send(Message::text(answer)).await.map_err(|e| Ended::Failed(format!("send: {e}")))?;
                    }
                }
                Some(Ok(Message::Close(_))) | None => return Err(Ended::Closed),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(Ended::Failed(format!("read: {e}"))),
            },
            order = orders.recv() => match order {
                Some(Command::Play(burst, reply)) => {
                    let outcome = play(&mut ws, encoded.frames(burst)).await;
                    let failed = outcome.as_ref().err().cloned();
                    let _ = reply.send(outcome);
                    if let Some(message) = failed {
                        return Err(Ended::Failed(message));
                    }
                }
                None => return Err(Ended::Stopped),
            },
        }
    }
}

/// The answer to one client frame (`None` for notifications and frames that are not requests).
fn answer(text: &str, encoded: &Encoded, rpc_session_id: &str) -> Option<String> {
    let request: Value = serde_json::from_str(text).ok()?;
    let id = request.get("id")?;
    let method = request.get("method").and_then(Value::as_str).unwrap_or("");
    Some(match method {
        "ping" => response(id, json!({"value": "pong"}), rpc_session_id),
        "joinRoom" => encoded.join_answer(id, rpc_session_id),
        "leaveRoom" => response(id, json!({}), rpc_session_id),
        other => error_response(id, -32601, &format!("method not found: {other}")),
    })
}

/// Writes a burst through the write buffer (chunks of `WRITE_CHUNK_BYTES`) and flushes it.
async fn play(ws: &mut WebSocketStream<TcpStream>, frames: &[Message]) -> Result<BurstTimes, String> {
    if frames.is_empty() {
        return Err("empty burst".into());
    }
    let first_sent = Instant::now();
    for frame in frames {
        ws.feed(frame.clone()).await.map_err(|e| format!("burst: {e}"))?;
    }
    ws.flush().await.map_err(|e| format!("burst flush: {e}"))?;
    Ok(BurstTimes { first_sent, last_written: Instant::now() })
}

#[cfg(test)]
mod tests {
    //! The player's frames must have the shape of otc-server's: the same frames are captured from a
    //! real otc-server (embedded) and from the player, and compared key by key, in order.

    use super::*;
    use otc_server::{ConnectionOptions, EmbeddedServer, ServerConfig};
    use std::time::Duration;

    type Socket = WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

    /// The JSON text with every string value replaced by `"s"` and every number by `0`; keys, key order,
    /// nesting, booleans and nulls kept. Two frames of the same shape have the same skeleton.
    fn skeleton(json: &str) -> String {
        let chars: Vec<char> = json.chars().collect();
        let mut out = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '"' {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
                let next = chars[i..].iter().find(|c| !c.is_whitespace());
                if next == Some(&':') {
                    out.extend(&chars[start..i]);
                } else {
                    out.push_str("\"s\"");
                }
            } else if c == '-' || c.is_ascii_digit() {
                while i < chars.len() && (chars[i] == '-' || chars[i] == '+' || chars[i] == '.' || chars[i] == 'e' || chars[i] == 'E' || chars[i].is_ascii_digit()) {
                    i += 1;
                }
                out.push('0');
            } else {
                if !c.is_whitespace() {
                    out.push(c);
                }
                i += 1;
            }
        }
        out
    }

    async fn dial(addr: SocketAddr, session: &str) -> Socket {
        let url = format!("ws://{addr}/openvidu?sessionId={session}");
        tokio_tungstenite::connect_async(url).await.expect("dial").0
    }

    async fn next_text(ws: &mut Socket) -> String {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a frame within 5 s");
            if let Some(Ok(Message::Text(text))) = frame {
                return text.to_string();
            }
            assert!(matches!(frame, Some(Ok(_))), "socket ended: {frame:?}");
        }
    }

    async fn request(ws: &mut Socket, frame: String) -> String {
        ws.send(Message::text(frame)).await.expect("send");
        next_text(ws).await
    }

    /// Frames a client sees: pong, a `joinRoom` answer listing one participant, a `participantJoined`,
    /// a signal from another participant, the `leaveRoom` answer.
    #[derive(Debug)]
    struct Capture {
        pong: String,
        join_answer: String,
        participant_joined: String,
        signal: String,
        leave_answer: String,
    }

    async fn capture_from_server() -> Capture {
        let server = EmbeddedServer::start(ServerConfig::default()).await.expect("server starts");
        let session = server.create_session(Some("shape_check")).expect("session");
        let token = || server.create_connection(&session, ConnectionOptions::default()).expect("token").token;
        let (first_token, second_token, third_token) = (token(), token(), token());
        let addr = server.local_addr();
        let mut first = dial(addr, &session).await;
        request(&mut first, crate::wire::ping(0, Some(5000))).await;
        request(&mut first, crate::wire::join_room(&first_token, &session)).await;
        let mut second = dial(addr, &session).await;
        let pong = request(&mut second, crate::wire::ping(0, Some(5000))).await;
        let join_answer = request(&mut second, crate::wire::join_room(&second_token, &session)).await;
        let mut third = dial(addr, &session).await;
        request(&mut third, crate::wire::ping(0, Some(5000))).await;
        request(&mut third, crate::wire::join_room(&third_token, &session)).await;
        let participant_joined = next_text(&mut second).await;
        first.send(Message::text(crate::wire::send_message(2, "hello"))).await.expect("signal");
        let signal = next_text(&mut second).await;
        let leave_answer = request(&mut second, json!({"jsonrpc":"2.0","method":"leaveRoom","id":3,"params":{}}).to_string()).await;
        server.shutdown().await;
        Capture { pong, join_answer, participant_joined, signal, leave_answer }
    }

    async fn capture_from_player() -> Capture {
        let script = Script { session_id: "shape_check".into(), roster: 1, joins: 1, signals: 1 };
        let player = StreamPlayer::start(&script, None).expect("player starts");
        let mut ws = dial(player.addr, &script.session_id).await;
        let pong = request(&mut ws, crate::wire::ping(0, Some(5000))).await;
        let join_answer = request(&mut ws, crate::wire::join_room(&player.token(), &script.session_id)).await;
        player.play(Burst::Joins).await.expect("joins burst");
        let participant_joined = next_text(&mut ws).await;
        player.play(Burst::Signals).await.expect("signals burst");
        let signal = next_text(&mut ws).await;
        let leave_answer = request(&mut ws, json!({"jsonrpc":"2.0","method":"leaveRoom","id":3,"params":{}}).to_string()).await;
        let _ = ws.close(None).await;
        Capture { pong, join_answer, participant_joined, signal, leave_answer }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_servers_participant_left_takes_the_load_generators_layout_path() {
        let server = EmbeddedServer::start(ServerConfig::default()).await.expect("server starts");
        let session = server.create_session(Some("left_shape")).expect("session");
        let token = || server.create_connection(&session, ConnectionOptions::default()).expect("token").token;
        let (staying_token, leaving_token) = (token(), token());
        let mut staying = dial(server.local_addr(), &session).await;
        request(&mut staying, crate::wire::join_room(&staying_token, &session)).await;
        let mut leaving = dial(server.local_addr(), &session).await;
        let answer = request(&mut leaving, crate::wire::join_room(&leaving_token, &session)).await;
        let Ok(crate::wire::Inbound::Joined { own_id: leaving_id, .. }) = crate::wire::classify(&answer) else {
            panic!("not a joinRoom answer: {answer}");
        };
        let leaving_id = leaving_id.to_string();
        request(&mut leaving, crate::wire::leave_room(2)).await;

        let mut left = next_text(&mut staying).await;
        while left.contains("participantJoined") {
            left = next_text(&mut staying).await;
        }

        let read = crate::wire::classify_participant_left_fast(&left);
        assert_eq!(read, Some(crate::wire::Inbound::ParticipantLeft(leaving_id.into())), "{left}");
        server.shutdown().await;
    }

    #[test]
    fn skeleton_keeps_keys_and_hides_values() {
        assert_eq!(skeleton(r#"{"a":"x\"y","b":[1,-2.5e3],"c":true}"#), r#"{"a":"s","b":[0,0],"c":true}"#);
        assert_ne!(skeleton(r#"{"a":1,"b":2}"#), skeleton(r#"{"b":1,"a":2}"#));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn player_frames_have_the_shape_of_otc_server_frames() {
        let real = capture_from_server().await;
        let played = capture_from_player().await;
        let pairs = [
            ("pong", &real.pong, &played.pong),
            ("joinRoom answer", &real.join_answer, &played.join_answer),
            ("participantJoined", &real.participant_joined, &played.participant_joined),
            ("sendMessage", &real.signal, &played.signal),
            ("leaveRoom answer", &real.leave_answer, &played.leave_answer),
        ];
        for (what, real, played) in pairs {
            assert_eq!(skeleton(played), skeleton(real), "{what}: player sent {played}\n otc-server sent {real}");
        }
        // The joinRoom answer lists one participant, with the entry shape of participantJoined's params.
        assert!(real.join_answer.contains("\"value\":[{"), "{}", real.join_answer);
        // The load generator reads these without serde; a layout change would quietly cost it that.
        let hot = [("joinRoom answer", &real.join_answer), ("participantJoined", &real.participant_joined), ("sendMessage", &real.signal)];
        for (what, text) in hot {
            assert!(crate::wire::read_by_fast_path(text), "{what} misses the load generator's fast path: {text}");
        }
        let joined = crate::wire::classify_participant_joined_fast(&real.participant_joined);
        assert!(joined.is_some(), "participantJoined misses the storm's layout path: {}", real.participant_joined);
    }
}
