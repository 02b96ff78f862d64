//! A hostile server: arbitrary frames (one per line) fed to the client as if read from its socket,
//! starting right after it sent `joinRoom` (id 1). The client must never panic and must keep its
//! invariants whatever the server says.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otc_session::client::Event;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let replay = otc_session::fuzzing::replay_server_frames(text.split('\n'), flags & 1 == 1);
    assert!(!replay.roster_ids.contains(&replay.own_id), "the own connection never enters the roster");
    let disconnects = replay.events.iter().filter(|e| matches!(e, Event::Disconnected(_))).count();
    assert!(disconnects <= 1, "at most one Disconnected");
    if replay.evicted {
        assert!(matches!(replay.events.last(), Some(Event::Disconnected(_))), "Disconnected is the last event");
    }
    for event in &replay.events {
        if let Event::ConnectionCreated(c) | Event::ConnectionDropped { connection: c, .. } = event {
            assert_ne!(c.id(), replay.own_id, "no connection event for the own connection");
            assert!(flags & 1 == 0, "connection events are suppressed");
        }
    }
});
