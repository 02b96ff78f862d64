//! The server's JSON-RPC dispatch, end to end: arbitrary frames (one per line, placeholders filled,
//! see `otc_fuzz`) sent over a real WebSocket to a real `EmbeddedServer`, after an optional real
//! `joinRoom` (first byte, bit 0) and with binary frames mixed in (bit 1). After the input the socket
//! must still answer a `ping` or have been closed by the server; the server must then still accept
//! a new socket.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otc_fuzz::{fixture, frames, harness, join_room_frame, Liveness, WsClient};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let input = String::from_utf8_lossy(rest);
    let h = harness();
    h.runtime.block_on(async {
        let (fx, other) = fixture(&h.server).await;
        let mut socket = WsClient::open(&h.server).await.expect("the server accepts a socket");
        if flags & 1 == 1 {
            let _ = socket.send(&join_room_frame(0, &fx.token, &fx.session_id)).await;
        }
        for frame in frames(&input) {
            if socket.send(&fx.fill(frame)).await.is_err() {
                break;
            }
            if flags & 2 == 2 {
                let _ = socket.send_binary(frame.as_bytes()).await;
            }
        }
        if socket.probe().await == Liveness::ClosedByServer {
            let mut fresh = WsClient::open(&h.server).await.expect("the server still accepts sockets");
            assert_eq!(fresh.probe().await, Liveness::Answered, "a fresh socket is answered");
        }
        drop(other);
        let _ = h.server.close_session(&fx.session_id);
    });
});
