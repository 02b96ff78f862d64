//! Test helpers: a real WebSocket JSON-RPC client and a real HTTP client against `EmbeddedServer`.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::Duration;

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use otc_server::{ConnectionOptions, EmbeddedServer, Role, ServerConfig};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Generous wait for anything that should happen.
pub const WAIT: Duration = Duration::from_secs(10);

/// Timers short enough for tests, long enough for a slow machine.
pub fn test_config() -> ServerConfig {
    ServerConfig {
        secret: "test-secret".into(),
        reconnect_grace: Duration::from_secs(3),
        close_grace: Duration::from_secs(2),
        ..ServerConfig::default()
    }
}

/// Starts a server with the test configuration.
pub async fn start() -> EmbeddedServer {
    start_with(test_config()).await
}

/// Starts a server with a given configuration.
pub async fn start_with(config: ServerConfig) -> EmbeddedServer {
    EmbeddedServer::start(config).await.expect("server starts")
}

/// How a socket ended, as seen by the client.
#[derive(Debug, PartialEq)]
pub enum Ended {
    /// A close frame with this code.
    Closed(Option<u16>),
    /// The connection dropped (EOF or reset) without a close frame.
    Dropped,
}

/// A JSON-RPC client speaking the openvidu-browser dialect.
pub struct RpcClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Notifications received while waiting for responses, in order.
    pending: VecDeque<Value>,
}

impl RpcClient {
    /// Opens `/openvidu?sessionId=...` like the browser's first dial.
    pub async fn connect(server: &EmbeddedServer) -> RpcClient {
        let url = format!("{}/openvidu?sessionId=x", server.ws_url());
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect in time")
            .expect("websocket connects");
        RpcClient {
            ws,
            next_id: 0,
            pending: VecDeque::new(),
        }
    }

    /// Sends a raw text frame.
    pub async fn send_raw(&mut self, text: &str) {
        self.ws.send(Message::text(text.to_string())).await.expect("send");
    }

    /// Sends a binary frame.
    pub async fn send_binary(&mut self, data: &[u8]) {
        self.ws.send(Message::binary(data.to_vec())).await.expect("send");
    }

    /// Sends a request and returns its id.
    pub async fn send_request(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let frame = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send_raw(&frame.to_string()).await;
        id
    }

    /// Next JSON message from the socket (panics on timeout or close).
    pub async fn next_message(&mut self) -> Value {
        self.try_next_message(WAIT).await.expect("a message arrives")
    }

    /// Next JSON message, or `None` on timeout/close.
    pub async fn try_next_message(&mut self, wait: Duration) -> Option<Value> {
        loop {
            let next = tokio::time::timeout(wait, self.ws.next()).await.ok()??;
            match next.ok()? {
                Message::Text(text) => return Some(serde_json::from_str(text.as_str()).expect("server sends JSON")),
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Next text frame as it came (no JSON parsing), or `None` on timeout, close or error.
    pub async fn next_text(&mut self, wait: Duration) -> Option<String> {
        loop {
            let next = tokio::time::timeout(wait, self.ws.next()).await.ok()??;
            match next.ok()? {
                Message::Text(text) => return Some(text.as_str().to_string()),
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Waits for the response to `id`, keeping notifications for later.
    pub async fn response(&mut self, id: u64) -> Value {
        loop {
            let message = self.next_message().await;
            if message.get("id") == Some(&json!(id)) {
                return message;
            }
            assert!(message.get("id").is_none(), "unexpected response {message}");
            self.pending.push_back(message);
        }
    }

    /// Calls a method; `Ok(result)` or `Err(error)`.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        let id = self.send_request(method, params).await;
        let response = self.response(id).await;
        assert_eq!(response["jsonrpc"], "2.0");
        match (response.get("result"), response.get("error")) {
            (Some(result), None) => Ok(result.clone()),
            (None, Some(error)) => Err(error.clone()),
            _ => panic!("response must have exactly one of result/error: {response}"),
        }
    }

    /// Calls a method that must fail and returns the error code.
    pub async fn error_code(&mut self, method: &str, params: Value) -> i64 {
        let error = self.call(method, params).await.expect_err("the call fails");
        error["code"].as_i64().expect("numeric code")
    }

    /// Next notification (kept ones first), as `(method, params)`.
    pub async fn notification(&mut self) -> (String, Value) {
        let message = match self.pending.pop_front() {
            Some(m) => m,
            None => self.next_message().await,
        };
        assert!(message.get("id").is_none(), "expected a notification, got {message}");
        (
            message["method"].as_str().expect("method").to_string(),
            message["params"].clone(),
        )
    }

    /// Next notification, which must be `method`; returns its params.
    pub async fn expect(&mut self, method: &str) -> Value {
        let (got, params) = self.notification().await;
        assert_eq!(got, method, "unexpected notification {got} {params}");
        params
    }

    /// Asserts that nothing arrives for `quiet`.
    pub async fn expect_silence(&mut self, quiet: Duration) {
        assert!(self.pending.is_empty(), "unexpected notifications {:?}", self.pending);
        if let Ok(Some(Ok(message))) = tokio::time::timeout(quiet, self.ws.next()).await {
            panic!("unexpected message {message:?}");
        }
    }

    /// Reads until the socket ends; reports how.
    pub async fn ended(&mut self) -> Ended {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("socket ends in time")
            {
                None => return Ended::Dropped,
                Some(Err(_)) => return Ended::Dropped,
                Some(Ok(Message::Close(frame))) => return Ended::Closed(frame.map(|f| u16::from(f.code))),
                Some(Ok(Message::Text(text))) => {
                    self.pending
                        .push_back(serde_json::from_str(text.as_str()).expect("JSON"));
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Kept notifications not consumed yet.
    pub fn take_pending(&mut self) -> Vec<Value> {
        self.pending.drain(..).collect()
    }

    /// Sends `ping` with an interval (first ping of a socket).
    pub async fn ping(&mut self, interval_ms: Option<u64>) -> Value {
        let params = match interval_ms {
            Some(ms) => json!({"interval": ms}),
            None => json!({}),
        };
        self.call("ping", params).await.expect("pong")
    }

    /// Joins with a token; returns the result.
    pub async fn join(&mut self, session_id: &str, token: &str, metadata: &str) -> Result<Value, Value> {
        self.call(
            "joinRoom",
            json!({"token": token, "session": session_id, "platform": "rust-test", "sdkVersion": "2.32.2",
                   "metadata": metadata, "secret": "", "recorder": false, "stt": false}),
        )
        .await
    }

    /// Closes the socket abruptly (drops TCP without a close frame).
    pub fn drop_socket(self) {
        drop(self);
    }

    /// Sends a WebSocket ping and returns the payload of the pong that answers it (`None`: no pong
    /// in time, or the socket ended).
    pub async fn ws_ping(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        self.ws.send(Message::Ping(payload.to_vec().into())).await.ok()?;
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await.ok()?? {
                Ok(Message::Pong(answer)) => return Some(answer.to_vec()),
                Ok(Message::Text(text)) => self.pending.push_back(serde_json::from_str(text.as_str()).expect("JSON")),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// Sends a close frame with `code` and returns how the server answered: the code of its close
    /// frame (`Ended::Closed`), or `Ended::Dropped` if it dropped the connection without one.
    pub async fn close_and_read_answer(&mut self, code: u16) -> Ended {
        let frame = tokio_tungstenite::tungstenite::protocol::CloseFrame { code: CloseCode::from(code), reason: "".into() };
        self.ws.send(Message::Close(Some(frame))).await.expect("send close");
        self.ended().await
    }

    /// Closes the socket like the browser's resume does (code 4104).
    pub async fn close_with(mut self, code: u16) {
        let frame = tokio_tungstenite::tungstenite::protocol::CloseFrame {
            code: CloseCode::from(code),
            reason: "".into(),
        };
        let _ = self.ws.close(Some(frame)).await;
    }
}

/// A joined participant: its client, connection id and RPC session id.
pub struct Joined {
    pub client: RpcClient,
    pub connection_id: String,
    pub rpc_session_id: String,
    pub result: Value,
}

/// Creates a token with `role` and joins with it.
pub async fn join_as(server: &EmbeddedServer, session_id: &str, role: Role, metadata: &str) -> Joined {
    let pending = server
        .create_connection(
            session_id,
            ConnectionOptions {
                role,
                data: String::new(),
            },
        )
        .expect("connection created");
    let mut client = RpcClient::connect(server).await;
    client.ping(Some(5000)).await;
    let result = client
        .join(session_id, &pending.token, metadata)
        .await
        .expect("join succeeds");
    assert_eq!(result["id"], pending.connection_id);
    Joined {
        connection_id: pending.connection_id,
        rpc_session_id: result["sessionId"].as_str().expect("rpc session id").to_string(),
        client,
        result,
    }
}

/// Joins as a PUBLISHER.
pub async fn join(server: &EmbeddedServer, session_id: &str, metadata: &str) -> Joined {
    join_as(server, session_id, Role::Publisher, metadata).await
}

/// A REST answer.
pub struct RestReply {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
}

/// Calls the REST API with Basic auth (`auth` = false sends none).
pub async fn rest(server: &EmbeddedServer, method: Method, path: &str, body: Option<&str>) -> RestReply {
    rest_with_auth(server, method, path, body, Some(server.secret())).await
}

/// Calls the REST API with a chosen secret (or no auth header at all).
pub async fn rest_with_auth(
    server: &EmbeddedServer,
    method: Method,
    path: &str,
    body: Option<&str>,
    secret: Option<&str>,
) -> RestReply {
    let client: HttpClient<_, Full<bytes::Bytes>> =
        HttpClient::builder(TokioExecutor::new()).build(hyper_util::client::legacy::connect::HttpConnector::new());
    let uri = format!("{}/openvidu/api{}", server.http_url(), path);
    let mut request = Request::builder().method(method.clone()).uri(uri);
    if let Some(secret) = secret {
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!("OPENVIDUAPP:{secret}"));
        request = request.header("Authorization", format!("Basic {credentials}"));
    }
    // openvidu-node-client sends GET/DELETE as form-urlencoded with no body.
    let content_type = if body.is_some() {
        "application/json"
    } else {
        "application/x-www-form-urlencoded"
    };
    let request = request
        .header("Content-Type", content_type)
        .body(Full::new(bytes::Bytes::from(body.unwrap_or("").to_string())))
        .expect("request");
    let response = tokio::time::timeout(WAIT, client.request(request))
        .await
        .expect("REST in time")
        .expect("REST call");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    let text = String::from_utf8_lossy(&bytes).to_string();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    RestReply { status, body, text }
}
