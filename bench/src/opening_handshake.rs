//! The load generator's side of the WebSocket opening handshake (RFC 6455 section 4.1): one request
//! written, the `101` answer read and checked, and whatever followed it handed back as frame bytes.
//!
//! tungstenite's client handshake built an `http::Request`, parsed the answer into a `HeaderMap`,
//! and set up a whole WebSocket (its 128 KiB read buffer included) that the load generator dropped
//! at once, since it speaks raw frames ([`crate::frames`]): that was ~7% of the load generator's
//! core in S2, where it is the busier side. The server side is untouched.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// Longest answer head accepted.
const MAX_ANSWER_HEAD: usize = 8 * 1024;

/// Most headers read from the answer.
const MAX_ANSWER_HEADERS: usize = 32;

/// Opens the WebSocket at `path_and_query` (e.g. `/openvidu?sessionId=s`) on `stream`, connected to
/// `host` (`ip:port`). Returns the bytes the server sent after its answer (the start of its first
/// frames, usually none); any answer but a well-formed `101` for this request is an error.
pub async fn open(stream: &mut TcpStream, host: &str, path_and_query: &str) -> Result<Vec<u8>, String> {
    let key = generate_key();
    stream
        .write_all(request(host, path_and_query, &key).as_bytes())
        .await
        .map_err(|e| format!("write the handshake: {e}"))?;
    let mut received = Vec::with_capacity(512);
    loop {
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await.map_err(|e| format!("read the handshake answer: {e}"))?;
        if n == 0 {
            return Err("the server closed the socket before answering the handshake".to_string());
        }
        received.extend_from_slice(&chunk[..n]);
        if let Some(head_len) = check_answer(&received, &key)? {
            return Ok(received.split_off(head_len));
        }
        if received.len() > MAX_ANSWER_HEAD {
            return Err(format!("handshake answer head over {MAX_ANSWER_HEAD} bytes"));
        }
    }
}

/// The opening request, with the headers RFC 6455 section 4.1 requires.
fn request(host: &str, path_and_query: &str, key: &str) -> String {
    format!(
        "GET {path_and_query} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
    )
}

/// `Ok(Some(head length))` when `received` starts with a complete `101` answer that accepts `key`,
/// `Ok(None)` while the head is incomplete, and an error for any other answer.
fn check_answer(received: &[u8], key: &str) -> Result<Option<usize>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_ANSWER_HEADERS];
    let mut answer = httparse::Response::new(&mut headers);
    let head_len = match answer.parse(received) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("unparsable handshake answer: {e}")),
    };
    if answer.code != Some(101) {
        return Err(format!("handshake refused: {} {}", answer.code.unwrap_or(0), answer.reason.unwrap_or("")));
    }
    let header = |name: &str| answer.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value);
    if !header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case(b"websocket")) {
        return Err("handshake answer without `Upgrade: websocket`".to_string());
    }
    let connection_upgrades = header("connection").is_some_and(|v| {
        v.split(|b| *b == b',').any(|token| token.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
    });
    if !connection_upgrades {
        return Err("handshake answer without `Connection: upgrade`".to_string());
    }
    if header("sec-websocket-accept") != Some(derive_accept_key(key.as_bytes()).as_bytes()) {
        return Err("handshake answer with a wrong `Sec-WebSocket-Accept`".to_string());
    }
    Ok(Some(head_len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::{client_frame, FrameReader, MaskKeys, Opcode, ServerFrame};
    use tokio::net::TcpListener;

    /// RFC 6455 section 1.3's sample key and its answer.
    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    fn answer_101(accept: &str) -> String {
        format!("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {accept}\r\n\r\n")
    }

    #[test]
    fn the_request_names_the_path_host_and_key() {
        let text = request("127.0.0.1:4443", "/openvidu?sessionId=s1", KEY);
        assert!(text.starts_with("GET /openvidu?sessionId=s1 HTTP/1.1\r\n"), "{text}");
        assert!(text.contains("\r\nHost: 127.0.0.1:4443\r\n"), "{text}");
        assert!(text.contains("\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"), "{text}");
        assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\n"), "{text}");
    }

    #[test]
    fn a_101_with_the_right_accept_is_taken_and_what_follows_it_is_left() {
        let mut bytes = answer_101(ACCEPT).into_bytes();
        let head = bytes.len();
        bytes.extend_from_slice(b"\x81\x02hi");
        assert_eq!(check_answer(&bytes, KEY), Ok(Some(head)));
    }

    #[test]
    fn an_incomplete_head_waits_for_more() {
        let bytes = answer_101(ACCEPT).into_bytes();
        for cut in [0, 10, bytes.len() - 1] {
            assert_eq!(check_answer(&bytes[..cut], KEY), Ok(None), "cut at {cut}");
        }
    }

    #[test]
    fn every_other_answer_is_an_error_that_says_why() {
        let cases = [
            ("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n".to_string(), "400 Bad Request"),
            (answer_101("AAAAAAAAAAAAAAAAAAAAAAAAAAA="), "Sec-WebSocket-Accept"),
            (answer_101(ACCEPT).replace("upgrade: websocket\r\n", ""), "Upgrade"),
            (answer_101(ACCEPT).replace("connection: Upgrade\r\n", "connection: keep-alive\r\n"), "Connection"),
            ("HTTP/1.1 101\r\nbad header line\r\n\r\n".to_string(), "unparsable"),
        ];
        for (answer, why) in cases {
            let error = check_answer(answer.as_bytes(), KEY).expect_err(&answer);
            assert!(error.contains(why), "{error} (expected {why})");
        }
    }

    /// An embedded otc-server (kept alive by the caller), its `ip:port`, and a TCP socket to it.
    async fn socket_to_real_server() -> (otc_server::EmbeddedServer, String, TcpStream) {
        let server = otc_server::EmbeddedServer::start(otc_server::ServerConfig::default()).await.expect("server starts");
        let host = server.local_addr().to_string();
        let stream = TcpStream::connect(&host).await.expect("connect");
        (server, host, stream)
    }

    #[tokio::test]
    async fn opens_a_socket_on_the_real_server_that_then_answers_a_ping() {
        let (_server, host, mut stream) = socket_to_real_server().await;

        let rest = open(&mut stream, &host, "/openvidu?sessionId=handshake").await.expect("handshake");

        assert!(rest.is_empty(), "the server sends nothing before the first request");
        let ping = crate::wire::ping(0, Some(5000));
        stream.write_all(&client_frame(Opcode::Text, ping.as_bytes(), &mut MaskKeys::new(7))).await.expect("send ping");
        let mut reader = FrameReader::default();
        let mut answer = None;
        while answer.is_none() {
            reader.read(&mut stream).await.expect("read");
            answer = reader
                .drain(|frame| match frame {
                    ServerFrame::Text(text) => Some(text.to_string()),
                    _ => None,
                })
                .expect("frames");
        }
        let answer = answer.unwrap_or_default();
        assert!(answer.contains("\"pong\""), "{answer}");
    }

    #[tokio::test]
    async fn a_refusal_from_the_real_server_is_an_error() {
        let (_server, host, mut stream) = socket_to_real_server().await;

        let error = open(&mut stream, &host, "/no-such-endpoint").await.expect_err("not a WebSocket endpoint");

        assert!(error.contains("404"), "{error}");
    }

    #[tokio::test]
    async fn frame_bytes_sent_with_the_answer_are_handed_back() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let host = listener.local_addr().expect("addr").to_string();
        let serve = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut request = vec![0u8; 4096];
            let mut len = 0;
            while !request[..len].ends_with(b"\r\n\r\n") {
                len += socket.read(&mut request[len..]).await.expect("read request");
            }
            let text = String::from_utf8_lossy(&request[..len]).to_string();
            let key = text.lines().find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ")).expect("key").to_string();
            let mut answer = answer_101(&derive_accept_key(key.as_bytes())).into_bytes();
            answer.extend_from_slice(b"\x81\x02hi");
            // Two writes, split inside the head, so the client must read twice.
            socket.write_all(&answer[..20]).await.expect("write");
            socket.flush().await.expect("flush");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            socket.write_all(&answer[20..]).await.expect("write");
            socket
        });
        let mut stream = TcpStream::connect(&host).await.expect("connect");

        let rest = open(&mut stream, &host, "/openvidu").await.expect("handshake");

        assert_eq!(rest, b"\x81\x02hi");
        drop(serve.await);
    }
}
