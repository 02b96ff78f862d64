//! The server's REST body parsing, end to end over real HTTP: the first byte picks the call (and
//! whether to send the right credentials), the rest is the body (placeholders filled, see
//! `otc_fuzz`). Any 5xx answer or a missing status line is a crash; without credentials the answer
//! must be 401 whatever the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otc_fuzz::{basic_auth, fixture, harness, http_request};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let h = harness();
    h.runtime.block_on(async {
        let (fx, other) = fixture(&h.server).await;
        let body = match std::str::from_utf8(body) {
            Ok(text) => fx.fill(text).into_bytes(),
            Err(_) => body.to_vec(),
        };
        let ses = &fx.session_id;
        let (method, path) = match selector % 8 {
            0 => ("POST", "/openvidu/api/sessions".to_string()),
            1 => ("POST", format!("/openvidu/api/sessions/{ses}/connection")),
            2 => ("POST", "/openvidu/api/tokens".to_string()),
            3 => ("POST", "/openvidu/api/signal".to_string()),
            4 => ("PATCH", format!("/openvidu/api/sessions/{ses}/connection/{}", fx.other_id)),
            5 => ("PATCH", format!("/openvidu/api/sessions/{ses}/connection/{}", fx.pending_id)),
            6 => ("GET", format!("/openvidu/api/sessions/{ses}?pendingConnections=true")),
            _ => ("DELETE", format!("/openvidu/api/sessions/{ses}/connection/{}", fx.other_id)),
        };
        let authorized = selector & 0x80 == 0;
        let authorization = if authorized { basic_auth() } else { "Basic T1BFTlZJRFVBUFA6d3Jvbmc=".to_string() };
        let status = http_request(&h.server, method, &path, &authorization, &body).await.expect("an HTTP answer");
        assert!(status < 500, "{method} {path} answered {status}");
        if !authorized {
            assert_eq!(status, 401, "{method} {path} without credentials");
        }
        drop(other);
        let _ = h.server.close_session(ses);
    });
});
