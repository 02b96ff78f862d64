//! Bounded resources: oversized frames and signals, connections per session, sessions per server,
//! signal rate, clients that stop reading, binary frames.

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use hyper::{Method, StatusCode};
use otc_server::{ConnectionOptions, EmbeddedServer, Role, ServerConfig, ServerError};
use serde_json::json;

/// The test configuration with signal size and rate limits out of the way (for bulk-data tests).
fn bulk_signals_config() -> ServerConfig {
    ServerConfig {
        max_signal_data_bytes: 64 * 1024,
        signal_rate_per_second: 1_000_000,
        signal_burst: 1_000_000,
        ..test_config()
    }
}

#[tokio::test]
async fn a_frame_over_the_limit_closes_that_socket_with_1009_only() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let mut a = join(&server, &session, "A").await;
    let mut big = join(&server, &session, "Big").await;
    a.client.expect("participantJoined").await;
    let oversized = json!({"jsonrpc": "2.0", "id": 99, "method": "sendMessage",
                           "params": {"message": "x".repeat(70 * 1024)}});
    big.client.send_raw(&oversized.to_string()).await;
    assert_eq!(big.client.ended().await, Ended::Closed(Some(1009)));
    assert!(
        big.client.take_pending().is_empty(),
        "the oversized request was not processed"
    );

    // Everyone else is unaffected.
    let message = json!({"data": "fine"}).to_string();
    a.client.call("sendMessage", json!({"message": message})).await.unwrap();
    assert_eq!(a.client.expect("sendMessage").await["data"], "fine");
}

#[tokio::test]
async fn a_message_just_under_the_limit_is_accepted() {
    let server = start_with(bulk_signals_config()).await;
    let session = server.create_session(None).unwrap();
    let mut a = join(&server, &session, "A").await;
    let message = json!({"data": "y".repeat(60 * 1024)}).to_string();
    a.client.call("sendMessage", json!({"message": message})).await.unwrap();
    assert_eq!(
        a.client.expect("sendMessage").await["data"].as_str().unwrap().len(),
        60 * 1024
    );
}

#[tokio::test]
async fn binary_frames_are_ignored() {
    let server = start().await;
    let mut client = RpcClient::connect(&server).await;
    client.send_binary(&[1, 2, 3]).await;
    assert_eq!(client.ping(Some(5000)).await["value"], "pong");
}

/// A server whose sockets queue at most 16 frames, and a session of three: a sender, a watcher and
/// a member that never reads again (the last one).
async fn sender_watcher_and_slow_reader() -> (EmbeddedServer, Joined, Joined, Joined) {
    let server = start_with(ServerConfig {
        outbound_queue_frames: 16,
        ..bulk_signals_config()
    })
    .await;
    let session = server.create_session(None).unwrap();
    let mut sender = join(&server, &session, "Sender").await;
    let mut watcher = join(&server, &session, "Watcher").await;
    let slow = join(&server, &session, "Slow").await;
    sender.client.expect("participantJoined").await;
    sender.client.expect("participantJoined").await;
    watcher.client.expect("participantJoined").await;
    (server, sender, watcher, slow)
}

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_and_the_others_carry_on() {
    let (_server, mut sender, mut watcher, slow) = sender_watcher_and_slow_reader().await;

    let chunk = "z".repeat(32 * 1024);
    let message = json!({"to": [slow.connection_id], "data": chunk, "type": "signal:bulk"}).to_string();
    // Kernel socket buffers absorb some megabytes first; then the bounded queue overflows.
    assert!(
        signal_until_left(&mut sender.client, &message, &slow.connection_id).await,
        "the slow reader was never disconnected"
    );
    let left = watcher.client.expect("participantLeft").await;
    assert_eq!(
        left,
        json!({"connectionId": slow.connection_id, "reason": "networkDisconnect"})
    );

    // The session still works for the others.
    let message = json!({"to": [watcher.connection_id], "data": "all good"}).to_string();
    sender
        .client
        .call("sendMessage", json!({"message": message}))
        .await
        .unwrap();
    assert_eq!(
        watcher.client.expect("participantEvicted").await["connectionId"],
        slow.connection_id.as_str()
    );
    assert_eq!(watcher.client.expect("sendMessage").await["data"], "all good");
    drop(slow);
}

/// Broadcasts reach the members through the session's feed, not through each socket's queue: a
/// member that stops reading is cut when its writer lags the feed by more than the queue bound.
#[tokio::test]
async fn a_client_that_stops_reading_broadcasts_is_disconnected_and_the_others_carry_on() {
    let (_server, mut sender, mut watcher, slow) = sender_watcher_and_slow_reader().await;

    // The watcher keeps reading (so that only the slow one lags) until the last signal.
    let watcher_id = watcher.connection_id.clone();
    let watching = tokio::spawn(async move {
        let mut seen = Vec::new();
        loop {
            let (method, params) = watcher.client.notification().await;
            if method == "sendMessage" && params["data"] == "all good" {
                return seen;
            }
            if method != "sendMessage" {
                seen.push((method, params));
            }
        }
    });
    let message = json!({"data": "z".repeat(32 * 1024), "type": "signal:bulk"}).to_string();
    // Kernel socket buffers absorb some megabytes first; then the slow socket's writer stops
    // taking from the feed, and its lag grows past the bound.
    assert!(
        signal_until_left(&mut sender.client, &message, &slow.connection_id).await,
        "the slow reader was never disconnected"
    );

    // The session still works for the others, and the watcher saw the slow one go.
    let message = json!({"to": [watcher_id], "data": "all good"}).to_string();
    sender
        .client
        .call("sendMessage", json!({"message": message}))
        .await
        .unwrap();
    let seen = tokio::time::timeout(WAIT, watching).await.expect("the watcher got everything").unwrap();
    let slow_id = json!(slow.connection_id);
    assert_eq!(
        seen,
        [
            ("participantLeft".to_string(), json!({"connectionId": slow_id, "reason": "networkDisconnect"})),
            ("participantEvicted".to_string(), json!({"connectionId": slow_id, "reason": "networkDisconnect"})),
        ]
    );
    drop(slow);
}

#[tokio::test]
async fn a_client_that_keeps_reading_is_not_disconnected_under_the_same_load() {
    let server = start_with(ServerConfig {
        outbound_queue_frames: 16,
        ..bulk_signals_config()
    })
    .await;
    let session = server.create_session(None).unwrap();
    let mut sender = join(&server, &session, "Sender").await;
    let reader = join(&server, &session, "Reader").await;
    sender.client.expect("participantJoined").await;
    const COUNT: usize = 300;
    let reader_id = reader.connection_id.clone();
    let mut reader_client = reader.client;
    let reading = tokio::spawn(async move {
        let mut received = 0;
        while received < COUNT {
            let (method, _) = reader_client.notification().await;
            assert_eq!(method, "sendMessage");
            received += 1;
        }
        received
    });
    let message = json!({"to": [reader_id], "data": "z".repeat(32 * 1024)}).to_string();
    for _ in 0..COUNT {
        sender
            .client
            .call("sendMessage", json!({"message": message}))
            .await
            .unwrap();
    }
    assert_eq!(tokio::time::timeout(WAIT, reading).await.unwrap().unwrap(), COUNT);
    sender.client.expect_silence(Duration::from_millis(200)).await;
}

/// Sends the `sendMessage` `message` (at most 4000 times) until `sender` is told that `slow` left;
/// returns whether it was.
async fn signal_until_left(sender: &mut RpcClient, message: &str, slow: &str) -> bool {
    for _ in 0..4000 {
        let _ = sender.call("sendMessage", json!({"message": message})).await;
        if sender
            .take_pending()
            .iter()
            .any(|m| m["method"] == "participantLeft" && m["params"]["connectionId"] == slow)
        {
            return true;
        }
    }
    false
}

/// A small-limits server for the limit tests below.
fn small_limits(config: ServerConfig) -> ServerConfig {
    ServerConfig {
        max_signal_data_bytes: 100,
        max_signal_type_chars: 20,
        ..config
    }
}

fn signal_body(signal_type: &str, data: &str) -> String {
    json!({"type": signal_type, "data": data}).to_string()
}

#[tokio::test]
async fn a_signal_over_the_size_limits_is_refused_with_602_and_nobody_receives_it() {
    let server = start_with(small_limits(test_config())).await;
    let session = server.create_session(None).unwrap();
    let mut alice = join(&server, &session, "Alice").await;
    let mut bob = join(&server, &session, "Bob").await;
    alice.client.expect("participantJoined").await;

    // Data: 100 bytes pass, 101 do not (bytes, not characters: "é" is two bytes).
    let refused = alice
        .client
        .call("sendMessage", json!({"message": signal_body("signal:chat", &"d".repeat(101))}))
        .await
        .unwrap_err();
    assert_eq!(refused["code"], 602);
    let text = refused["message"].as_str().unwrap();
    assert!(text.contains("signal too large") && text.contains("data is 101 bytes") && text.contains("100"), "{text}");
    let refused = alice
        .client
        .call("sendMessage", json!({"message": signal_body("signal:chat", &"é".repeat(51))}))
        .await
        .unwrap_err();
    assert_eq!(refused["code"], 602);

    // Type: 20 characters pass, 21 do not; the `signal:` prefix clients add on the wire is not counted.
    let long_type = format!("signal:{}", "t".repeat(21));
    let refused = alice
        .client
        .call("sendMessage", json!({"message": signal_body(&long_type, "x")}))
        .await
        .unwrap_err();
    assert_eq!(refused["code"], 602);
    assert!(refused["message"].as_str().unwrap().contains("type is 21 characters"), "{refused}");

    // Nothing of the refused ones arrived; signals exactly at the limits do.
    let at_limit_type = format!("signal:{}", "t".repeat(20));
    alice
        .client
        .call("sendMessage", json!({"message": signal_body(&at_limit_type, &"d".repeat(100))}))
        .await
        .unwrap();
    let got = bob.client.expect("sendMessage").await;
    assert_eq!((got["type"].as_str().unwrap(), got["data"].as_str().unwrap().len()), (at_limit_type.as_str(), 100));
    let got = alice.client.expect("sendMessage").await;
    assert_eq!(got["type"], at_limit_type.as_str());
    bob.client.expect_silence(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_rest_signal_over_the_size_limits_is_a_400_and_nobody_receives_it() {
    let server = start_with(small_limits(test_config())).await;
    let session = server.create_session(None).unwrap();
    let mut alice = join(&server, &session, "Alice").await;

    let too_much_data = json!({"session": session, "type": "chat", "data": "d".repeat(101)}).to_string();
    let reply = rest(&server, Method::POST, "/signal", Some(&too_much_data)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.text.contains("signal too large"), "{}", reply.text);
    // 21 characters (the limit is 20; the `signal:` prefix added on the wire does not count).
    let too_long_type = json!({"session": session, "type": "t".repeat(21), "data": "x"}).to_string();
    let reply = rest(&server, Method::POST, "/signal", Some(&too_long_type)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        server.send_signal(&session, None, "chat", &"d".repeat(101)),
        Err(ServerError::SignalTooLarge("data is 101 bytes, the limit is 100".into()))
    );

    let fine = json!({"session": session, "type": "t".repeat(20), "data": "fine"}).to_string();
    assert_eq!(rest(&server, Method::POST, "/signal", Some(&fine)).await.status, StatusCode::OK);
    assert_eq!(alice.client.expect("sendMessage").await["data"], "fine");
    alice.client.expect_silence(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn new_connections_beyond_the_session_limit_are_a_409_until_one_goes() {
    let server = start_with(ServerConfig {
        max_connections_per_session: 2,
        ..test_config()
    })
    .await;
    let session = server.create_session(None).unwrap();
    let mut alice = join(&server, &session, "Alice").await; // one joined
    let pending = server
        .create_connection(&session, ConnectionOptions::default())
        .unwrap(); // one pending
    let path = format!("/sessions/{session}/connection");

    let reply = rest(&server, Method::POST, &path, Some("{}")).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(reply.text.contains("connection limit exceeded"), "{}", reply.text);
    let reply = rest(&server, Method::POST, "/tokens", Some(&json!({"session": session}).to_string())).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(
        server.create_connection(&session, ConnectionOptions::default()).err(),
        Some(ServerError::ConnectionLimitExceeded)
    );
    // Nothing changed: still one active and one pending connection.
    let listed = rest(&server, Method::GET, &path, None).await;
    assert_eq!(listed.body["numberOfElements"], 2);

    // The pending token still joins (joined connections count as well, so no join is ever refused here).
    let mut bob = RpcClient::connect(&server).await;
    bob.ping(Some(5000)).await;
    bob.join(&session, &pending.token, "Bob").await.unwrap();
    assert_eq!(alice.client.expect("participantJoined").await["id"], pending.connection_id.as_str());
    assert_eq!(rest(&server, Method::POST, &path, Some("{}")).await.status, StatusCode::CONFLICT);

    // Once a connection goes, there is room again.
    bob.call("leaveRoom", json!({})).await.unwrap();
    alice.client.expect("participantLeft").await;
    assert_eq!(rest(&server, Method::POST, &path, Some("{}")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn new_sessions_beyond_the_server_limit_are_a_429_until_one_goes() {
    let server = start_with(ServerConfig {
        max_sessions: 2,
        ..test_config()
    })
    .await;
    let first = server.create_session(Some("first")).unwrap();
    let reply = rest(&server, Method::POST, "/sessions", Some(r#"{"customSessionId":"second"}"#)).await;
    assert_eq!(reply.status, StatusCode::OK);

    let reply = rest(&server, Method::POST, "/sessions", Some(r#"{"customSessionId":"third"}"#)).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(reply.text.contains("session limit reached"), "{}", reply.text);
    assert_eq!(server.create_session(None), Err(ServerError::SessionLimitReached));
    // Nothing changed.
    assert_eq!(rest(&server, Method::GET, "/sessions", None).await.body["numberOfElements"], 2);
    assert_eq!(rest(&server, Method::GET, "/sessions/third", None).await.status, StatusCode::NOT_FOUND);
    // An existing id is still a 409 (the slot check does not hide it) when there is room...
    server.close_session(&first).unwrap();
    let reply = rest(&server, Method::POST, "/sessions", Some(r#"{"customSessionId":"second"}"#)).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    // ...and the freed slot is usable once, not leaked by that refusal.
    let reply = rest(&server, Method::POST, "/sessions", Some(r#"{"customSessionId":"third"}"#)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(server.create_session(None), Err(ServerError::SessionLimitReached));
}

#[tokio::test]
async fn signals_faster_than_the_rate_are_refused_with_603_and_not_delivered() {
    let server = start_with(ServerConfig {
        signal_rate_per_second: 1,
        signal_burst: 3,
        ..test_config()
    })
    .await;
    let session = server.create_session(None).unwrap();
    let mut alice = join(&server, &session, "Alice").await;
    let mut bob = join(&server, &session, "Bob").await;
    alice.client.expect("participantJoined").await;
    let to_bob = |n: u32| json!({"message": json!({"to": [bob.connection_id], "data": n.to_string()}).to_string()});

    // Ten quick calls: the burst of three passes; at one token per second, most of the rest cannot.
    let mut accepted = Vec::new();
    let mut refusals = Vec::new();
    for n in 0..10 {
        match alice.client.call("sendMessage", to_bob(n)).await {
            Ok(_) => accepted.push(n.to_string()),
            Err(error) => refusals.push(error),
        }
    }
    assert_eq!(accepted[..3], ["0", "1", "2"]);
    assert!(!refusals.is_empty(), "nothing was refused");
    for refused in &refusals {
        assert_eq!(refused["code"], 603);
        assert!(
            refused["message"].as_str().unwrap().contains("signal rate limit exceeded"),
            "{refused}"
        );
    }
    // Bob got exactly the accepted ones, in order, and nothing else.
    for data in &accepted {
        assert_eq!(bob.client.expect("sendMessage").await["data"], data.as_str());
    }
    bob.client.expect_silence(Duration::from_millis(200)).await;

    // Each connection has its own bucket: Bob is not limited by Alice's sending.
    let to_alice = json!({"message": json!({"to": [alice.connection_id], "data": "from bob"}).to_string()});
    bob.client.call("sendMessage", to_alice).await.unwrap();
    assert_eq!(alice.client.expect("sendMessage").await["data"], "from bob");

    // The rate refills: after a while Alice may send again.
    let mut delivered = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if alice.client.call("sendMessage", to_bob(99)).await.is_ok() {
            delivered = true;
            break;
        }
    }
    assert!(delivered, "the bucket never refilled");
    assert_eq!(bob.client.expect("sendMessage").await["data"], "99");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_while_a_thousand_others_in_its_session_carry_on() {
    const MEMBERS: usize = 1000;
    const JOINING_AT_ONCE: usize = 16;
    const MARKER: &str = "broadcast-after-the-cut";
    let server = start_with(ServerConfig {
        outbound_queue_frames: 64,
        ..bulk_signals_config()
    })
    .await;
    let session = server.create_session(None).unwrap();
    let mut sender = join_as(&server, &session, Role::Moderator, "Sender").await;

    // 1000 members join, at most 16 at a time; each keeps reading from the moment it joined.
    let readers: Vec<_> = futures_util::stream::iter(0..MEMBERS)
        .map(|n| {
            let server = &server;
            let session = &session;
            async move {
                let token = server
                    .create_connection(session, ConnectionOptions::default())
                    .expect("connection created")
                    .token;
                let mut client = RpcClient::connect(server).await;
                client.ping(Some(60_000)).await;
                let params = json!({"token": token, "session": session, "platform": "rust-test",
                                    "sdkVersion": "2.32.2", "metadata": format!("member-{n}"),
                                    "secret": "", "recorder": false, "stt": false});
                client.send_request("joinRoom", params).await;
                // The join response (not parsed: it lists every earlier member).
                let answer = client.next_text(WAIT).await.expect("joinRoom answered");
                assert!(answer.contains("\"result\"") && !answer.contains("\"error\":{"), "join failed: {answer}");
                let reader = tokio::spawn(async move {
                    loop {
                        match client.next_text(WAIT * 3).await {
                            Some(text) if text.contains(MARKER) => return Ok(()),
                            Some(_) => continue,
                            None => return Err(format!("member-{n} lost its socket or stalled")),
                        }
                    }
                });
                (n, reader)
            }
        })
        .buffer_unordered(JOINING_AT_ONCE)
        .collect()
        .await;

    let slow = join(&server, &session, "Slow").await; // never read from again
    let chunk = "z".repeat(32 * 1024);
    let message = json!({"to": [slow.connection_id], "data": chunk}).to_string();
    // Kernel socket buffers absorb some megabytes first; then the bounded queue overflows.
    assert!(
        signal_until_left(&mut sender.client, &message, &slow.connection_id).await,
        "the slow reader was never disconnected"
    );

    let broadcast = json!({"data": MARKER}).to_string();
    sender.client.call("sendMessage", json!({"message": broadcast})).await.unwrap();
    let mut unaffected = 0;
    for (n, reader) in readers {
        tokio::time::timeout(WAIT * 4, reader)
            .await
            .unwrap_or_else(|_| panic!("member-{n} received the broadcast in time"))
            .expect("reader task")
            .expect("member received the broadcast");
        unaffected += 1;
    }
    assert_eq!(unaffected, MEMBERS);
    drop(slow);
}
