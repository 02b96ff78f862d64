//! The accept loop's reading of a connection's first bytes (`otc_server::fuzzing::first_request_head`):
//! any input is classified without a panic, and an opening is an opening of its head alone: the
//! head's bytes by themselves are the same opening, and no shorter prefix of them is one.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let verdict = otc_server::fuzzing::first_request_head(data);
    let Some(len) = verdict.strip_prefix("opening ") else {
        assert!(verdict == "other" || verdict == "partial", "{verdict}");
        return;
    };
    let len: usize = len.parse().expect("a head length");
    assert!(len <= data.len(), "the head fits in the input");
    assert_eq!(otc_server::fuzzing::first_request_head(&data[..len]), verdict, "the head alone is the same opening");
    for cut in [0, len / 2, len.saturating_sub(1)] {
        if cut < len {
            assert_ne!(otc_server::fuzzing::first_request_head(&data[..cut]).split(' ').next(), Some("opening"), "a prefix of {cut}");
        }
    }
});
