//! Bounded resources: oversized frames, clients that stop reading, binary frames.

mod common;

use std::time::Duration;

use common::*;
use otc_server::ServerConfig;
use serde_json::json;

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
    let server = start().await;
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

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_and_the_others_carry_on() {
    let server = start_with(ServerConfig {
        outbound_queue_frames: 16,
        ..test_config()
    })
    .await;
    let session = server.create_session(None).unwrap();
    let mut sender = join(&server, &session, "Sender").await;
    let mut watcher = join(&server, &session, "Watcher").await;
    let slow = join(&server, &session, "Slow").await; // never read from again
    sender.client.expect("participantJoined").await;
    sender.client.expect("participantJoined").await;
    watcher.client.expect("participantJoined").await;

    let chunk = "z".repeat(32 * 1024);
    let message = json!({"to": [slow.connection_id], "data": chunk, "type": "signal:bulk"}).to_string();
    let mut evicted = false;
    // Kernel socket buffers absorb some megabytes first; then the bounded queue overflows.
    for _ in 0..4000 {
        let _ = sender.client.call("sendMessage", json!({"message": message})).await;
        if sender
            .client
            .take_pending()
            .iter()
            .any(|m| m["method"] == "participantLeft" && m["params"]["connectionId"] == slow.connection_id.as_str())
        {
            evicted = true;
            break;
        }
    }
    assert!(evicted, "the slow reader was never disconnected");
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

#[tokio::test]
async fn a_client_that_keeps_reading_is_not_disconnected_under_the_same_load() {
    let server = start_with(ServerConfig {
        outbound_queue_frames: 16,
        ..test_config()
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
