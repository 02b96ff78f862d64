//! The server's JSON-RPC decoder in-process (`otc_server::fuzzing::decode_frame`): any text is either
//! a request/response or refused with a valid JSON-RPC 2.0 error frame (an error, no result).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let decoded = otc_server::fuzzing::decode_frame(text);
    if decoded.starts_with("request ") || decoded == "response" {
        return;
    }
    let frame: serde_json::Value = serde_json::from_str(&decoded).expect("an error frame is JSON");
    assert_eq!(frame["jsonrpc"], "2.0", "{decoded}");
    assert!(frame.get("result").is_none(), "an error frame has no result: {decoded}");
    assert!(frame["error"]["code"].is_i64(), "error.code is an integer: {decoded}");
    assert!(frame["error"]["message"].is_string(), "error.message is a string: {decoded}");
});
