//! Life of one socket: read frames, dispatch them, watch pings, and on loss hand the participant
//! to the resume grace.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf, ReadHalf};
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::Message;

use super::methods::Connection;
use crate::outbound::{killed, run_writer, SocketLink, WriterPacing};
use crate::state::ServerState;

/// How long to wait for a 1009 close frame to go out before dropping the socket.
const OVERSIZE_CLOSE_WAIT: Duration = Duration::from_secs(2);

/// How long to wait for the answer to the peer's close frame to go out before dropping the socket.
const CLOSE_REPLY_WAIT: Duration = Duration::from_secs(1);

/// Runs the socket until it closes, is killed, times out or the server stops.
pub async fn run<S>(hub: Arc<ServerState>, io: S, ip: String)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let _live = hub.track_socket();
    let (reader, sink) = tokio::io::split(io);
    let config = WebSocketConfig::default()
        .read_buffer_size(hub.config.ws_read_buffer_bytes)
        .max_message_size(Some(hub.config.max_ws_message_bytes))
        .max_frame_size(Some(hub.config.max_ws_message_bytes));
    let mut stream = WebSocketStream::from_raw_socket(ReadOnly(reader), Role::Server, Some(config)).await;
    let (link, queue, mut kill) = SocketLink::new(hub.config.outbound_queue_frames);
    let pacing = WriterPacing { pacer: hub.pacer.clone(), lag_bound: hub.config.outbound_queue_frames, close_linger: hub.config.close_grace };
    let mut writer = tokio::spawn(run_writer(sink, queue, link.cut_handle(), pacing));
    let mut writer_done = false;
    let mut shutdown = hub.shutdown_signal();
    let mut conn = Connection::new(hub.clone(), link.clone(), ip);
    let mut reading = true;
    let mut peer_closed = false;
    tracing::debug!(socket = link.id(), "socket opened");

    loop {
        let deadline = conn.deadline();
        tokio::select! {
            biased;
            _ = killed(&mut kill) => break,
            _ = crate::outbound::killed(&mut shutdown) => break,
            _ = &mut writer, if !writer_done => {
                // The close frame went out (or writing failed): give the peer the close grace.
                writer_done = true;
                if !reading {
                    break;
                }
                conn.close_by(Instant::now() + hub.config.close_grace);
            }
            _ = sleep_until(deadline) => {
                if !conn.deadline_is_close() {
                    tracing::info!(socket = link.id(), "ping watchdog expired: closing socket");
                    break;
                }
                if writer_done || !reading {
                    tracing::debug!(socket = link.id(), "client did not complete the close in time");
                    break;
                }
                // After leaveRoom the client did not close: close it ourselves, politely.
                tracing::debug!(socket = link.id(), "client did not close after leaving: closing");
                link.close(1000, "left");
                conn.close_at(Instant::now() + hub.config.close_grace);
            }
            next = stream.next(), if reading => match next {
                None => break,
                Some(Ok(Message::Text(text))) => conn.handle_text(text.as_str()),
                Some(Ok(Message::Ping(payload))) => link.pong(payload),
                Some(Ok(Message::Close(frame))) => {
                    link.reply_to_close(frame.map(|f| u16::from(f.code)));
                    peer_closed = true;
                    break;
                }
                Some(Ok(_)) => {} // binary and pong frames are ignored
                Some(Err(error)) => {
                    if is_too_big(error) {
                        tracing::warn!(socket = link.id(), "message over the size limit: closing with 1009");
                        link.close(1009, "message too big");
                        reading = false;
                        conn.close_by(Instant::now() + OVERSIZE_CLOSE_WAIT);
                    } else {
                        break;
                    }
                }
            },
        }
    }
    conn.socket_gone();
    if peer_closed && !writer_done {
        writer_done = tokio::time::timeout(CLOSE_REPLY_WAIT, &mut writer).await.is_ok();
    }
    link.kill();
    if !writer_done {
        // A writer blocked on a peer that stopped reading stops here.
        writer.abort();
        let _ = writer.await;
    }
    tracing::debug!(socket = link.id(), "socket closed");
}

fn is_too_big(error: tungstenite::Error) -> bool {
    matches!(error, tungstenite::Error::Capacity(_))
}

/// The read half of the connection, as tungstenite wants it (a full duplex stream). Everything
/// tungstenite would write on its own (the automatic pong and close answers) is dropped here: the
/// socket loop sends those answers itself, through the socket's one ordered writer.
struct ReadOnly<S>(ReadHalf<S>);

impl<S: AsyncRead> AsyncRead for ReadOnly<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S> AsyncWrite for ReadOnly<S> {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
