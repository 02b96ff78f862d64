//! A connection's first request, as the accept loop routes it: a WebSocket opening of `/openvidu`
//! becomes a socket at once, anything else is served over HTTP, and neither loses a byte the client
//! sent early or in pieces. Spoken over raw TCP, so the pieces are exactly what the test writes.

mod common;

use std::time::Duration;

use base64::Engine;
use common::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const OPENING: &str = "GET /openvidu?sessionId=x HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
const PING: &str = r#"{"jsonrpc":"2.0","method":"ping","params":{"interval":5000},"id":1}"#;

/// A masked client text frame (payload under 126 bytes).
fn text_frame(payload: &str) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

async fn connect(server: &otc_server::EmbeddedServer) -> TcpStream {
    TcpStream::connect(server.local_addr()).await.expect("connects")
}

/// Reads until `\r\n\r\n`: the response head, and whatever came after it in the same reads.
async fn read_head(socket: &mut TcpStream) -> (String, Vec<u8>) {
    let mut read = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = read.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = read.split_off(end + 4);
            return (String::from_utf8(read).expect("an ASCII head"), rest);
        }
        let n = tokio::time::timeout(WAIT, socket.read(&mut chunk)).await.expect("an answer in time").expect("read");
        assert!(n > 0, "the server closed before answering: {:?}", String::from_utf8_lossy(&read));
        read.extend_from_slice(&chunk[..n]);
    }
}

/// Reads one unmasked server text frame (payload under 64 KiB), starting with `early` bytes.
async fn read_text_frame(socket: &mut TcpStream, mut early: Vec<u8>) -> Value {
    while early.len() < 4 {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(WAIT, socket.read(&mut chunk)).await.expect("a frame in time").expect("read");
        assert!(n > 0, "the server closed instead of answering");
        early.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(early[0], 0x81, "a final text frame");
    let (len, start) = match early[1] {
        126 => (u16::from_be_bytes([early[2], early[3]]) as usize, 4),
        len => (len as usize, 2),
    };
    let mut frame = early.split_off(start);
    while frame.len() < len {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(WAIT, socket.read(&mut chunk)).await.expect("the rest in time").expect("read");
        assert!(n > 0, "the server closed mid-frame");
        frame.extend_from_slice(&chunk[..n]);
    }
    serde_json::from_slice(&frame[..len]).expect("JSON-RPC")
}

fn assert_switched(head: &str) {
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("\r\nupgrade: websocket\r\n"), "{head}");
    assert!(lower.contains("\r\nconnection: upgrade\r\n"), "{head}");
    assert!(head.contains(&format!(": {ACCEPT}\r\n")), "{head}");
}

#[tokio::test]
async fn an_opening_sent_in_pieces_is_answered_and_the_socket_works() {
    let server = start().await;
    let mut socket = connect(&server).await;
    for piece in OPENING.as_bytes().chunks(17) {
        socket.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (head, early) = read_head(&mut socket).await;
    assert_switched(&head);
    socket.write_all(&text_frame(PING)).await.unwrap();
    let answer = read_text_frame(&mut socket, early).await;
    assert_eq!(answer["id"], 1);
    assert_eq!(answer["result"]["value"], "pong");
}

#[tokio::test]
async fn a_frame_sent_together_with_the_opening_is_not_lost() {
    let server = start().await;
    let mut socket = connect(&server).await;
    let mut both = OPENING.as_bytes().to_vec();
    both.extend(text_frame(PING));
    socket.write_all(&both).await.unwrap();
    let (head, early) = read_head(&mut socket).await;
    assert_switched(&head);
    let answer = read_text_frame(&mut socket, early).await;
    assert_eq!(answer["result"]["value"], "pong");
}

#[tokio::test]
async fn a_refused_opening_still_gets_the_named_refusal() {
    let server = start().await;
    let mut socket = connect(&server).await;
    socket.write_all(OPENING.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8").as_bytes()).await.unwrap();
    let (head, _) = read_head(&mut socket).await;
    assert!(head.starts_with("HTTP/1.1 426 "), "{head}");
    assert!(head.to_ascii_lowercase().contains("\r\nsec-websocket-version: 13\r\n"), "{head}");
}

#[tokio::test]
async fn a_rest_request_in_pieces_is_served_and_an_opening_after_it_on_the_same_connection_upgrades() {
    let server = start().await;
    let mut socket = connect(&server).await;
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!("OPENVIDUAPP:{}", server.secret()));
    let body = r#"{"customSessionId":"pieces"}"#;
    let request = format!(
        "POST /openvidu/api/sessions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {credentials}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    for piece in request.as_bytes().chunks(23) {
        socket.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (head, mut rest) = read_head(&mut socket).await;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    let length: usize = head
        .lines()
        .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length: ").map(|v| v.trim().parse().unwrap()))
        .expect("a sized answer");
    while rest.len() < length {
        let mut chunk = [0u8; 4096];
        let n = socket.read(&mut chunk).await.unwrap();
        assert!(n > 0);
        rest.extend_from_slice(&chunk[..n]);
    }
    let session: Value = serde_json::from_slice(&rest[..length]).unwrap();
    assert_eq!(session["id"], "pieces");

    socket.write_all(OPENING.as_bytes()).await.unwrap();
    let (head, early) = read_head(&mut socket).await;
    assert_switched(&head);
    socket.write_all(&text_frame(PING)).await.unwrap();
    assert_eq!(read_text_frame(&mut socket, early).await["result"]["value"], "pong");
}
