//! The server's REST body parsing and handlers in-process (`otc_server::fuzzing::rest_body`): the
//! first byte picks the call, the rest is the body. Never a 5xx.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otc_fuzz::harness_runtime;
use otc_server::fuzzing::{rest_body, RestCall};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let call = match selector % 5 {
        0 => RestCall::CreateSession,
        1 => RestCall::CreateConnection,
        2 => RestCall::Token,
        3 => RestCall::Signal,
        _ => RestCall::UpdateConnection,
    };
    let _context = harness_runtime().enter();
    let status = rest_body(call, body);
    assert!((200..500).contains(&status), "{call:?} answered {status}");
});
