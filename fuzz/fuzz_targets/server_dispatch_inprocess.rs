//! The server's WebSocket method dispatcher in-process (`otc_server::fuzzing::Dispatcher`): lines as
//! client frames (first byte, bit 0: join first with a fresh moderator token; `$TOKEN` and `$SES` are
//! filled with live values). Every frame the server sends back is JSON-RPC 2.0, and every response
//! carries exactly one of `result` / `error`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otc_fuzz::{harness_runtime, join_room_frame};
use otc_server::fuzzing::Dispatcher;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let input = String::from_utf8_lossy(rest);
    let _context = harness_runtime().enter();
    let mut dispatcher = Dispatcher::new();
    let mut sent = Vec::new();
    if flags & 1 == 1 {
        let token = dispatcher.fixture_token();
        sent.extend(dispatcher.handle_text(&join_room_frame(0, &token, dispatcher.session_id())));
    }
    for line in input.split('\n').filter(|l| !l.is_empty()) {
        let line = line.replace("$TOKEN", &dispatcher.fixture_token()).replace("$SES", dispatcher.session_id());
        sent.extend(dispatcher.handle_text(&line));
    }
    for frame in sent {
        if frame.starts_with("close ") {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(&frame).expect("the server sends JSON");
        assert_eq!(value["jsonrpc"], "2.0", "{frame}");
        if value.get("id").is_some() {
            let has_result = value.get("result").is_some();
            let has_error = value.get("error").is_some();
            assert!(has_result != has_error, "a response has exactly one of result/error: {frame}");
        } else {
            assert!(value["method"].is_string(), "a notification has a method: {frame}");
        }
    }
});
