//! Test support for the client tests: a scripted WebSocket peer that speaks the server side of the
//! protocol frame by frame (for framing, ordering and hostile-input tests that need exact control),
//! and event helpers with generous timeouts.
#![allow(dead_code)]

pub mod proxy;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use otc_session::client::{Event, EventReceiver};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Generous bound for anything a test waits for.
pub const WAIT: Duration = Duration::from_secs(20);

/// Waits for the next event (panics after [`WAIT`] or when the stream ends).
pub async fn next_event(rx: &mut EventReceiver) -> Event {
    match tokio::time::timeout(WAIT, rx.recv()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("event stream ended"),
        Err(_) => panic!("no event within {WAIT:?}"),
    }
}

/// Skips events until one matches `pred`; returns it.
pub async fn wait_for(rx: &mut EventReceiver, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(event)) if pred(&event) => return event,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("event stream ended while waiting for {what}"),
            Err(_) => panic!("no {what} within {WAIT:?}"),
        }
    }
}

/// Asserts that no event arrives within `quiet`.
pub async fn expect_no_event(rx: &mut EventReceiver, quiet: Duration) {
    if let Ok(Some(event)) = tokio::time::timeout(quiet, rx.recv()).await {
        panic!("unexpected event {event:?}");
    }
}

/// A listening scripted server on 127.0.0.1.
pub struct ScriptedServer {
    listener: TcpListener,
    pub port: u16,
}

/// One accepted WebSocket, seen from the server side.
pub struct Peer {
    ws: WebSocketStream<TcpStream>,
    /// The request path and query the client dialed (`/openvidu?sessionId=..`).
    pub path: String,
}

impl ScriptedServer {
    /// Listens on an ephemeral loopback port.
    pub async fn start() -> ScriptedServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        ScriptedServer { listener, port }
    }

    /// A token for this server. The path part is deliberately odd: clients must ignore it.
    pub fn token(&self, session: &str) -> String {
        format!("ws://127.0.0.1:{}/ignored/path?sessionId={session}&token=tok_TEST", self.port)
    }

    /// Accepts the next TCP connection without answering its WebSocket upgrade (a dial stuck in a
    /// dead network). Keep the returned stream alive to keep the dial stuck.
    pub async fn accept_and_stall(&self) -> TcpStream {
        tokio::time::timeout(WAIT, self.listener.accept()).await.expect("no dial").unwrap().0
    }

    /// Accepts the next WebSocket.
    #[allow(clippy::result_large_err)] // the callback's error type is tungstenite's
    pub async fn accept(&self) -> Peer {
        let (tcp, _) = tokio::time::timeout(WAIT, self.listener.accept()).await.expect("no dial").unwrap();
        let path = Arc::new(Mutex::new(String::new()));
        let seen = path.clone();
        let ws = tokio_tungstenite::accept_hdr_async(tcp, move |req: &Request, resp: Response| {
            *seen.lock().unwrap() = req.uri().to_string();
            Ok(resp)
        })
        .await
        .unwrap();
        let path = path.lock().unwrap().clone();
        Peer { ws, path }
    }
}

impl Peer {
    /// The next text frame as raw text.
    pub async fn recv_text(&mut self) -> String {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next()).await.expect("no frame from the client");
            match msg {
                Some(Ok(Message::Text(t))) => return t.as_str().to_string(),
                Some(Ok(Message::Close(_))) | None => panic!("client closed the socket"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("read error: {e}"),
            }
        }
    }

    /// The next frame as JSON.
    pub async fn recv(&mut self) -> Value {
        serde_json::from_str(&self.recv_text().await).unwrap()
    }

    /// The next frame that is not a ping; pings met on the way are answered with pong.
    pub async fn recv_non_ping(&mut self) -> Value {
        loop {
            let frame = self.recv().await;
            if frame["method"] == "ping" {
                let id = frame["id"].clone();
                self.send(json!({"id": id, "result": {"value": "pong", "sessionId": "rpc-1"}, "jsonrpc": "2.0"})).await;
                continue;
            }
            return frame;
        }
    }

    /// Sends a JSON frame.
    pub async fn send(&mut self, v: Value) {
        self.send_text(v.to_string()).await;
    }

    /// Sends a raw text frame.
    pub async fn send_text(&mut self, text: String) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// Sends a raw text frame that the client may refuse half-way (the write error is returned).
    pub async fn try_send_text(&mut self, text: String) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        self.ws.send(Message::text(text)).await
    }

    /// Answers request `id` with `result`.
    pub async fn reply(&mut self, id: &Value, result: Value) {
        self.send(json!({"id": id, "result": result, "jsonrpc": "2.0"})).await;
    }

    /// Answers request `id` with an error.
    pub async fn reply_error(&mut self, id: &Value, code: i64, message: &str) {
        self.send(json!({"id": id, "error": {"code": code, "message": message}, "jsonrpc": "2.0"})).await;
    }

    /// Sends a notification.
    pub async fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"method": method, "params": params, "jsonrpc": "2.0"})).await;
    }

    /// Waits until the client closes the socket; returns the close code, if any.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await.expect("client did not close") {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Drops the TCP connection without a closing handshake.
    pub fn drop_abruptly(self) {
        drop(self);
    }

    /// Answers the opening ping and `joinRoom` with a standard result; returns the joinRoom frame.
    pub async fn accept_join(&mut self, own_id: &str, value: Value) -> Value {
        let join = self.recv_non_ping().await;
        assert_eq!(join["method"], "joinRoom");
        let id = join["id"].clone();
        self.reply(&id, join_result(own_id, "PUBLISHER", value)).await;
        join
    }
}

/// A `joinRoom` result as the server sends it.
pub fn join_result(own_id: &str, role: &str, value: Value) -> Value {
    json!({
        "id": own_id, "createdAt": 1700000000123_i64, "metadata": "", "value": value,
        "session": "ses_T", "sessionId": "rpc-1", "version": "2.32.2", "role": role,
        "record": true, "mediaServer": "kurento", "videoSimulcast": false
    })
}
