//! The client's token parser: any string is refused with an error or parsed into something dialable.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(token) = otc_session::fuzzing::parse_token(text) {
        assert_ne!(token.port, 0, "a parsed token never dials port 0");
        assert!(!token.host.is_empty(), "a parsed token has a host");
        assert!(!token.session_id.is_empty(), "a parsed token has a session id");
        let scheme = if token.secure { "wss://" } else { "ws://" };
        assert!(token.endpoint.starts_with(scheme), "endpoint {} keeps the scheme", token.endpoint);
        assert!(token.endpoint.contains("/openvidu?sessionId="), "endpoint {} is the /openvidu path", token.endpoint);
    }
});
