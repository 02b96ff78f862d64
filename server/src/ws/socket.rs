//! Life of one socket: read frames, dispatch them, watch pings, and on loss hand the participant
//! to the resume grace.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::StreamExt;
use tokio::time::{sleep_until, Instant};

use super::methods::Connection;
use crate::outbound::{killed, run_writer, SocketLink, WriterPacing};
use crate::state::ServerState;

/// How long to wait for a 1009 close frame to go out before dropping the socket.
const OVERSIZE_CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Runs the socket until it closes, is killed, times out or the server stops.
pub async fn run(hub: Arc<ServerState>, socket: WebSocket, ip: String) {
    let _live = hub.track_socket();
    let (sink, mut stream) = socket.split();
    let (link, queue, mut kill) = SocketLink::new(hub.config.outbound_queue_frames);
    let pacing = WriterPacing { coalesce: hub.config.write_coalesce, close_linger: hub.config.close_grace };
    let mut writer = tokio::spawn(run_writer(sink, queue, link.kill_switch(), pacing));
    let mut writer_done = false;
    let mut shutdown = hub.shutdown_signal();
    let mut conn = Connection::new(hub.clone(), link.clone(), ip);
    let mut reading = true;
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
                Some(Ok(Message::Close(_))) => {}
                Some(Ok(_)) => {} // binary frames are ignored; ping/pong are answered by the library
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
    link.kill();
    if !writer_done {
        let _ = writer.await;
    }
    tracing::debug!(socket = link.id(), "socket closed");
}

fn is_too_big(error: axum::Error) -> bool {
    matches!(
        error.into_inner().downcast_ref::<tungstenite::Error>(),
        Some(tungstenite::Error::Capacity(_))
    )
}
