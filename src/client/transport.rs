//! Dialing (TCP + optional TLS + WebSocket) and the [`Link`]: one open socket with a writer task,
//! so that sending never blocks the protocol task, even on a socket that stopped draining.

use std::sync::Arc;

use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use rustls::ClientConfig;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{timeout, Duration};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message, Utf8Bytes};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use rustls_pki_types::ServerName;

use super::token::TokenUrl;
use super::types::{ClientError, ErrorCode};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long one queued frame may take to be written before the writer gives up on the socket.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the writer waits for the closing handshake to be written.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// One open WebSocket. Reading is done by the owner; writing by a background task fed by a queue.
pub(crate) struct Link {
    reader: SplitStream<Socket>,
    writer: mpsc::UnboundedSender<Message>,
}

/// What reading from a link produced.
#[derive(Debug)]
pub(crate) enum LinkRead {
    /// A text frame (the socket's own buffer, not a copy).
    Text(Utf8Bytes),
    /// The socket closed or failed; the text says how.
    Closed(String),
}

impl Link {
    /// Queues a text frame. Returns false when the writer has already stopped (the socket is dead).
    pub fn send_text(&self, text: String) -> bool {
        if text.contains(r#""method":"joinRoom""#) {
            log::trace!("-> joinRoom (not logged: it carries the token)");
        } else {
            log::trace!("-> {text}");
        }
        self.writer.send(Message::text(text)).is_ok()
    }

    /// Waits for the next text frame (binary frames are ignored). Cancel-safe.
    pub async fn next_text(&mut self) -> LinkRead {
        loop {
            match self.reader.next().await {
                Some(Ok(Message::Text(text))) => {
                    log::trace!("<- {}", text.as_str());
                    return LinkRead::Text(text);
                }
                Some(Ok(Message::Binary(_))) => log::debug!("ignoring a binary frame"),
                Some(Ok(Message::Close(frame))) => {
                    let how = frame.map(|f| format!("closed by the server ({} {})", u16::from(f.code), f.reason));
                    return LinkRead::Closed(how.unwrap_or_else(|| "closed by the server".into()));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return LinkRead::Closed(format!("read error: {e}")),
                None => return LinkRead::Closed("socket ended".into()),
            }
        }
    }

    /// Starts the closing handshake with this code and drops the socket (the writer finishes it in
    /// the background, bounded by a short timeout).
    pub fn close(&self, code: u16, reason: &str) {
        let frame = CloseFrame { code: CloseCode::from(code), reason: reason.to_string().into() };
        let _ = self.writer.send(Message::Close(Some(frame)));
    }
}

async fn write_frames(mut sink: futures_util::stream::SplitSink<Socket, Message>, mut queue: mpsc::UnboundedReceiver<Message>) {
    while let Some(message) = queue.recv().await {
        let closing = matches!(message, Message::Close(_));
        let limit = if closing { CLOSE_TIMEOUT } else { WRITE_TIMEOUT };
        match timeout(limit, sink.send(message)).await {
            Ok(Ok(())) if !closing => {}
            Ok(Ok(())) => break,
            Ok(Err(e)) => {
                log::debug!("socket write failed: {e}");
                break;
            }
            Err(_) => {
                log::debug!("socket write timed out");
                break;
            }
        }
    }
}

/// Classifies a TCP connect error: refused is `ConnectionRefused`, anything else `ConnectionFailed`.
fn tcp_error(addr: &str, e: std::io::Error) -> ClientError {
    if e.kind() == std::io::ErrorKind::ConnectionRefused {
        ClientError::new(ErrorCode::ConnectionRefused, format!("{addr} refused the connection"))
    } else {
        ClientError::new(ErrorCode::ConnectionFailed, format!("cannot reach {addr}: {e}"))
    }
}

fn handshake_error(e: tungstenite::Error) -> ClientError {
    let message = match e {
        tungstenite::Error::Http(response) => format!("WebSocket upgrade refused with HTTP {}", response.status()),
        other => format!("WebSocket handshake failed: {other}"),
    };
    ClientError::new(ErrorCode::ConnectionFailed, message)
}

/// The largest message (and frame) the client accepts. Server frames are small JSON-RPC objects (a signal
/// carries at most 8 KiB of data; a 10k-member `joinRoom` answer is about 1 MiB), so anything larger is
/// a broken or hostile server: the read fails and the link counts as lost instead of buffering up to
/// the WebSocket library's default of 64 MiB.
pub(crate) const MAX_INBOUND_MESSAGE_BYTES: usize = 4 << 20;

/// Buffers sized for one signaling socket: small frames, but a join storm or a signal flood arrives as
/// thousands of frames per second, so reads are large (one `recv` takes many buffered frames at once).
fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(128 << 10)
        .write_buffer_size(16 << 10)
        .max_message_size(Some(MAX_INBOUND_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_INBOUND_MESSAGE_BYTES))
}

/// The TLS handshake with `host` (its name is what the certificate must match). Done here rather than
/// by tokio-tungstenite, whose TLS path also builds a default configuration of its own when given
/// none: that would link rustls's whole default provider, private-key loading included, into the
/// library for nothing.
async fn tls_handshake(host: &str, tcp: TcpStream, config: Arc<ClientConfig>) -> Result<TlsStream<TcpStream>, ClientError> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| ClientError::new(ErrorCode::ConnectionFailed, format!("{host} is not a valid TLS server name")))?;
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| ClientError::new(ErrorCode::ConnectionFailed, format!("WebSocket handshake failed: TLS error: {e}")))
}

/// Opens the WebSocket of `token` (`/openvidu?sessionId=..`, plus `&reconnect=true` when
/// `reconnect`). `tls` is required for `wss://` tokens. The caller bounds the time it takes.
pub(crate) async fn dial(token: &TokenUrl, reconnect: bool, tls: Option<Arc<ClientConfig>>) -> Result<Link, ClientError> {
    let addr = format!("{}:{}", token.host, token.port_or_default());
    let tcp = TcpStream::connect(&addr).await.map_err(|e| tcp_error(&addr, e))?;
    if let Err(e) = tcp.set_nodelay(true) {
        log::debug!("set_nodelay: {e}");
    }
    let stream = match (token.secure, tls) {
        (false, _) => MaybeTlsStream::Plain(tcp),
        (true, Some(config)) => MaybeTlsStream::Rustls(tls_handshake(&token.host, tcp, config).await?),
        (true, None) => return Err(ClientError::new(ErrorCode::Internal, "wss:// dial without a TLS configuration")),
    };
    let url = token.endpoint(reconnect);
    log::debug!("dialing {url}");
    let (socket, _response) = tokio_tungstenite::client_async_with_config(url, stream, Some(socket_config()))
        .await
        .map_err(handshake_error)?;
    let (sink, reader) = socket.split();
    let (writer, queue) = mpsc::unbounded_channel();
    tokio::spawn(write_frames(sink, queue));
    Ok(Link { reader, writer })
}
