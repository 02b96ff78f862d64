//! A hostile server, end to end: a real `Session` dials a real WebSocket server that answers the
//! client's `joinRoom` with the input's frames (one per line; first byte: bit 0 = connection events
//! suppressed, bit 1 = also send each frame as a binary frame) and then closes the socket. Whatever it
//! sends, the client must not panic, must not hang, and must end in exactly one of: an `Error` with no
//! `Connected`, or `Connected` ... `Disconnected` (last).
#![no_main]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use libfuzzer_sys::fuzz_target;
use otc_fuzz::harness_runtime;
use otc_session::client::{Event, Session, Settings};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// Generous bound for the client to settle once the server has closed the socket.
const SETTLE: Duration = Duration::from_secs(20);

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let frames: Vec<String> = String::from_utf8_lossy(rest).split('\n').filter(|l| !l.is_empty()).map(str::to_string).collect();
    harness_runtime().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let port = listener.local_addr().expect("bound").port();
        let hostile = tokio::spawn(async move {
            let Ok((tcp, _)) = listener.accept().await else { return };
            drop(listener); // redials are refused
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else { return };
            // Wait for the client's joinRoom (the first ping comes before it).
            while let Some(Ok(message)) = ws.next().await {
                if matches!(&message, Message::Text(t) if t.contains("\"joinRoom\"")) {
                    break;
                }
            }
            for frame in frames {
                if ws.send(Message::text(frame.clone())).await.is_err() {
                    return;
                }
                if flags & 2 == 2 && ws.send(Message::binary(frame.into_bytes())).await.is_err() {
                    return;
                }
            }
            let _ = ws.close(None).await;
        });
        let settings = Settings {
            connection_events_suppressed: flags & 1 == 1,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(5),
            reconnection_window: Duration::from_millis(50),
            redial_max_interval: Duration::from_millis(20),
            ..Settings::default()
        };
        let (session, mut rx) = Session::new(None, settings);
        session.connect(&format!("ws://127.0.0.1:{port}?sessionId=ses_fuzz&token=tok_fuzzfuzzfuzzfuzz")).expect("a valid token");
        let mut connected = 0;
        let outcome = tokio::time::timeout(SETTLE, async {
            while let Some(event) = rx.recv().await {
                match event {
                    Event::Connected { .. } => connected += 1,
                    Event::Error(e) if connected == 0 => return format!("failed: {e}"),
                    Event::Disconnected(reason) => return format!("disconnected: {reason:?}"),
                    Event::ConnectionCreated(_) | Event::ConnectionDropped { .. } => {
                        assert!(flags & 1 == 0, "connection events are suppressed");
                        assert_eq!(connected, 1, "connection events only while connected");
                    }
                    _ => assert_eq!(connected, 1, "session events only while connected"),
                }
            }
            panic!("the event stream ended without Error or Disconnected");
        })
        .await
        .unwrap_or_else(|_| panic!("the client did not settle within {SETTLE:?} after the server closed"));
        assert!(connected <= 1, "at most one Connected ({outcome})");
        drop(session);
        let _ = hostile.await;
    });
});
