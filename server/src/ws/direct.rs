//! The first request on a new connection, read by the accept loop itself: a WebSocket opening of
//! `/openvidu` is answered here and the connection becomes a socket at once; anything else (REST,
//! a refused or unusual handshake) goes to the HTTP server with the bytes read put back.
//!
//! Every join opens a socket, so the HTTP server's work for an opening (its request parsing,
//! routing and response encoding, the upgrade hand-over to a second task, and a boxed connection
//! under every later read and write) was paid once per join; under churn (bench S5) that was a
//! few per cent of the server's core. The checks are the same ones the HTTP route makes
//! ([`super::handshake`]), and a request this path does not take is served exactly as before.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::handshake;
use crate::rewind::Rewind;
use crate::state::ServerState;

/// The most request-head bytes read here; a longer head goes to the HTTP server (which allows more).
const MAX_HEAD_BYTES: usize = 8 << 10;
/// Headers parsed here; a request with more goes to the HTTP server.
const MAX_HEADERS: usize = 32;
/// The WebSocket endpoint.
const ENDPOINT: &str = "/openvidu";

/// What the accept loop does with a new connection.
pub enum First<I> {
    /// It was a WebSocket opening: it has been answered and the socket is running.
    Upgraded,
    /// Serve it over HTTP (the bytes read so far are put back in front).
    Http(Rewind<I>),
    /// It closed, failed or sent no complete head in time: nothing to serve.
    Gone,
}

/// What one request head asks for.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    /// A WebSocket opening of the endpoint: answer with this `Sec-WebSocket-Accept`; the head was
    /// this many bytes.
    Opening { accept: String, len: usize },
    /// Anything else, complete or not: the HTTP server decides.
    Other,
    /// Not all there yet.
    Partial,
}

/// Reads the connection's first request head (for at most `head_timeout`) and, when it opens a
/// WebSocket on the endpoint, answers it and starts the socket (`ip`: the peer's address).
pub async fn first_request<I>(mut io: I, hub: &Arc<ServerState>, ip: String, head_timeout: Duration) -> First<I>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut read = BytesMut::with_capacity(1024);
    let head = tokio::time::timeout(head_timeout, async {
        loop {
            match io.read_buf(&mut read).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
            match parse(&read) {
                Head::Partial if read.len() < MAX_HEAD_BYTES => continue,
                Head::Partial => return Some(Head::Other),
                head => return Some(head),
            }
        }
    })
    .await;
    match head {
        Ok(Some(Head::Opening { accept, len })) => {
            if io.write_all(&handshake::switching_protocols_head(&accept)).await.is_err() {
                return First::Gone;
            }
            // Bytes after the head (a client may send its first frame without waiting for the
            // answer) are copied out, so that the head's buffer is freed now, not with the socket.
            let early = Bytes::copy_from_slice(&read[len..]);
            drop(read);
            tokio::spawn(super::socket::run(hub.clone(), Rewind::new(io, early), ip));
            First::Upgraded
        }
        Ok(Some(_)) => First::Http(Rewind::new(io, read.freeze())),
        Ok(None) if !read.is_empty() => First::Http(Rewind::new(io, read.freeze())),
        Ok(None) | Err(_) => First::Gone,
    }
}

/// Classifies the bytes read so far.
fn parse(read: &[u8]) -> Head {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let len = match request.parse(read) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Head::Partial,
        Err(_) => return Head::Other,
    };
    let path = request.path.unwrap_or_default();
    let endpoint = path.split_once('?').map_or(path, |(endpoint, _query)| endpoint);
    if endpoint != ENDPOINT || request.version != Some(1) {
        return Head::Other;
    }
    match handshake::accept_key(request.method == Some("GET"), request.headers as &[httparse::Header<'_>]) {
        Ok(accept) => Head::Opening { accept, len },
        Err(_) => Head::Other,
    }
}

/// [`parse`]'s verdict as text, for the fuzzers ([`crate::fuzzing::first_request_head`]).
pub(crate) fn classify(read: &[u8]) -> String {
    match parse(read) {
        Head::Opening { len, .. } => format!("opening {len}"),
        Head::Other => "other".to_string(),
        Head::Partial => "partial".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENING: &str = "GET /openvidu?sessionId=ses_a HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

    #[test]
    fn an_opening_of_the_endpoint_is_answered_here() {
        let head = parse(OPENING.as_bytes());
        assert_eq!(head, Head::Opening { accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into(), len: OPENING.len() });
    }

    #[test]
    fn a_head_cut_anywhere_is_partial() {
        for cut in 0..OPENING.len() {
            assert_eq!(parse(&OPENING.as_bytes()[..cut]), Head::Partial, "cut at {cut}");
        }
    }

    #[test]
    fn everything_else_goes_to_the_http_server() {
        let cases = [
            OPENING.replace("GET /openvidu?", "GET /openvidu/api/sessions?"),
            OPENING.replace("GET /openvidu?", "GET /openviduX?"),
            OPENING.replace("GET ", "POST "),
            OPENING.replace("HTTP/1.1", "HTTP/1.0"),
            OPENING.replace("Upgrade: websocket\r\n", ""),
            OPENING.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"),
            OPENING.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""),
            "POST /openvidu/api/sessions HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}".to_string(),
            "\x16\x03\x01 not http at all\r\n\r\n".to_string(),
        ];
        for case in &cases {
            assert_eq!(parse(case.as_bytes()), Head::Other, "{case:?}");
        }
    }
}
