//! otc-bench-floor: the "floor" baseline of spec/benchmarks.md. The same WebSocket stack as
//! otc-server (axum 0.8 ws on tokio) answering just enough JSON-RPC for the load generator:
//! `ping` -> pong, `joinRoom` -> `participantJoined` to the others then the answer,
//! `sendMessage` -> delivered to everyone. No tokens, no timers, no resume: what the stack costs.
//!
//! Usage: `otc-bench-floor [--listen 127.0.0.1:0]`; first stdout line
//! `otc-bench-floor listening on http://HOST:PORT`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// The same allocator as the `otc-server` binary.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// One joined socket.
struct Member {
    id: String,
    created_at: u64,
    outbox: mpsc::UnboundedSender<Utf8Bytes>,
}

/// Rooms by session id.
#[derive(Default)]
struct Rooms {
    rooms: Mutex<HashMap<String, Vec<Member>>>,
}

type Shared = Arc<Rooms>;

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn listen_address() -> Result<SocketAddr, String> {
    let mut args = std::env::args().skip(1);
    let mut listen = "127.0.0.1:0".to_string();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().ok_or("--listen needs an address")?,
            other => return Err(format!("unknown argument {other:?}; usage: otc-bench-floor [--listen HOST:PORT]")),
        }
    }
    listen.parse().map_err(|e| format!("--listen {listen:?}: {e}"))
}

fn main() -> std::process::ExitCode {
    // The same process setup as the otc-server binary, so both servers under test start alike.
    if let Err(e) = otc_server::process::prepare_descriptors() {
        eprintln!("otc-bench-floor: open-file limit or descriptor table: {e}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("otc-bench-floor: tokio runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("otc-bench-floor: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve() -> Result<(), String> {
    let addr = listen_address()?;
    let listener = listen(addr).map_err(|e| format!("bind {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    println!("otc-bench-floor listening on http://{local}");
    let app = Router::new().route("/openvidu", get(upgrade)).with_state(Shared::default());
    axum::serve(listener, app).await.map_err(|e| format!("serve: {e}"))
}

/// Same accept backlog as otc-server (4096), so both face a connect storm alike.
fn listen(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

async fn upgrade(ws: WebSocketUpgrade, State(rooms): State<Shared>) -> Response {
    ws.read_buffer_size(1024).write_buffer_size(4096).on_upgrade(move |socket| connection(socket, rooms))
}

/// Per socket: a writer task that coalesces queued frames into one flush, and this reader loop.
async fn connection(socket: WebSocket, rooms: Shared) {
    let (mut sink, mut stream) = socket.split();
    let (outbox, mut queued) = mpsc::unbounded_channel::<Utf8Bytes>();
    let writer = tokio::spawn(async move {
        while let Some(first) = queued.recv().await {
            if sink.feed(Message::Text(first)).await.is_err() {
                return;
            }
            while let Ok(next) = queued.try_recv() {
                if sink.feed(Message::Text(next)).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    let rpc_session = format!("rpc_{:p}", &outbox);
    let mut joined: Option<(String, String)> = None;
    while let Some(Ok(message)) = stream.next().await {
        let Message::Text(text) = message else { continue };
        let Ok(request) = serde_json::from_str::<Value>(text.as_str()) else { continue };
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        let method = request.get("method").and_then(Value::as_str).unwrap_or_default();
        let params = request.get("params").cloned().unwrap_or(Value::Null);
        let reply = match method {
            "ping" => json!({"jsonrpc":"2.0","id":id,"result":{"value":"pong","sessionId":rpc_session}}),
            "joinRoom" => match join(&rooms, &params, &outbox, &rpc_session) {
                Ok((session, own, result)) => {
                    joined = Some((session, own));
                    json!({"jsonrpc":"2.0","id":id,"result":result})
                }
                Err(message) => json!({"jsonrpc":"2.0","id":id,"error":{"code":401,"message":message}}),
            },
            "sendMessage" => match &joined {
                Some((session, own)) => {
                    broadcast(&rooms, session, own, &params);
                    json!({"jsonrpc":"2.0","id":id,"result":{"sessionId":rpc_session}})
                }
                None => json!({"jsonrpc":"2.0","id":id,"error":{"code":803,"message":"join first"}}),
            },
            _ => json!({"jsonrpc":"2.0","id":id,"error":{"code":-32601,"message":"method not found"}}),
        };
        if outbox.send(Utf8Bytes::from(reply.to_string())).is_err() {
            break;
        }
    }
    if let Some((session, own)) = joined {
        leave(&rooms, &session, &own);
    }
    drop(outbox);
    let _ = writer.await;
}

/// Adds the socket to its room: `participantJoined` to the others first, then the result object.
fn join(rooms: &Rooms, params: &Value, outbox: &mpsc::UnboundedSender<Utf8Bytes>, rpc_session: &str) -> Result<(String, String, Value), String> {
    let token = params.get("token").and_then(Value::as_str).ok_or("no token")?;
    let query = |name: &str| token.split_once('?').and_then(|(_, q)| q.split('&').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')));
    let session = query("sessionId").ok_or("token without sessionId")?.to_string();
    let own = query("token").ok_or("token without token value")?.to_string();
    let created_at = now_ms();
    let mut all = rooms.rooms.lock().unwrap_or_else(|p| p.into_inner());
    let members = all.entry(session.clone()).or_default();
    let notice = Utf8Bytes::from(json!({"jsonrpc":"2.0","method":"participantJoined","params":{"id":own,"createdAt":created_at,"metadata":""}}).to_string());
    let mut value = Vec::with_capacity(members.len());
    for member in members.iter() {
        let _ = member.outbox.send(notice.clone());
        value.push(json!({"id":member.id,"createdAt":member.created_at,"metadata":""}));
    }
    members.push(Member { id: own.clone(), created_at, outbox: outbox.clone() });
    let result = json!({"id":own,"createdAt":created_at,"metadata":"","value":value,"session":session,
        "sessionId":rpc_session,"version":"2.32.2","role":"PUBLISHER","record":false,"mediaServer":"kurento","videoSimulcast":false});
    Ok((session, own, result))
}

/// Delivers a signal to every member of the room, the sender included.
fn broadcast(rooms: &Rooms, session: &str, from: &str, params: &Value) {
    let message = params.get("message").and_then(Value::as_str).and_then(|m| serde_json::from_str::<Value>(m).ok());
    let Some(message) = message else { return };
    let data = message.get("data").and_then(Value::as_str).unwrap_or_default();
    let kind = message.get("type").and_then(Value::as_str).unwrap_or("signal");
    let notice = Utf8Bytes::from(json!({"jsonrpc":"2.0","method":"sendMessage","params":{"data":data,"type":kind,"from":from}}).to_string());
    let all = rooms.rooms.lock().unwrap_or_else(|p| p.into_inner());
    for member in all.get(session).into_iter().flatten() {
        let _ = member.outbox.send(notice.clone());
    }
}

/// Removes a member and tells the others.
fn leave(rooms: &Rooms, session: &str, own: &str) {
    let mut all = rooms.rooms.lock().unwrap_or_else(|p| p.into_inner());
    let Some(members) = all.get_mut(session) else { return };
    members.retain(|m| m.id != own);
    let notice = Utf8Bytes::from(json!({"jsonrpc":"2.0","method":"participantLeft","params":{"connectionId":own,"reason":"disconnect"}}).to_string());
    for member in members.iter() {
        let _ = member.outbox.send(notice.clone());
    }
    if members.is_empty() {
        all.remove(session);
    }
}
