//! Keepalive watchdog, resume within the grace (with the backlog), and eviction after it.

mod common;

use std::time::Duration;

use common::*;
use otc_server::ServerConfig;
use serde_json::json;

/// Time for the server to notice a dropped loopback socket (it sees EOF at once; this is slack).
const NOTICE: Duration = Duration::from_millis(500);

async fn resume(
    server: &otc_server::EmbeddedServer,
    rpc_session_id: &str,
) -> (RpcClient, Result<serde_json::Value, serde_json::Value>) {
    let mut client = RpcClient::connect(server).await;
    let result = client
        .call("connect", json!({"sessionId": rpc_session_id, "reconnect": true}))
        .await;
    (client, result)
}

#[tokio::test]
async fn resume_within_grace_delivers_the_backlog_in_order_and_nobody_sees_a_leave() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let mut alice = join(&server, &session, "A").await;
    let bob = join(&server, &session, "B").await;
    alice.client.expect("participantJoined").await;
    let (bob_id, bob_rpc) = (bob.connection_id.clone(), bob.rpc_session_id.clone());
    bob.client.drop_socket();
    tokio::time::sleep(NOTICE).await;

    // While Bob is away: Carol joins, Alice signals everyone, Carol leaves.
    let mut carol = join(&server, &session, "C").await;
    assert_eq!(
        alice.client.expect("participantJoined").await["id"],
        carol.connection_id.as_str()
    );
    let message = json!({"data": "while you were away", "type": "signal:chat"}).to_string();
    alice
        .client
        .call("sendMessage", json!({"message": message}))
        .await
        .unwrap();
    alice.client.expect("sendMessage").await;
    carol.client.expect("sendMessage").await;
    carol.client.call("leaveRoom", json!({})).await.unwrap();
    alice.client.expect("participantLeft").await;

    let (mut bob, result) = resume(&server, &bob_rpc).await;
    let result = result.expect("resumed");
    assert_eq!(result["value"], "reconnection successful");
    assert_eq!(result["sessionId"], bob_rpc.as_str());
    let joined = bob.expect("participantJoined").await;
    assert_eq!(joined["id"], carol.connection_id.as_str());
    let signal = bob.expect("sendMessage").await;
    assert_eq!(
        (signal["data"].clone(), signal["from"].clone()),
        (json!("while you were away"), json!(alice.connection_id))
    );
    let left = bob.expect("participantLeft").await;
    assert_eq!(
        left,
        json!({"connectionId": carol.connection_id, "reason": "disconnect"})
    );

    // Live traffic flows again, and after the grace Alice still has not seen Bob leave.
    let message = json!({"to": [bob_id], "data": "welcome back"}).to_string();
    alice
        .client
        .call("sendMessage", json!({"message": message}))
        .await
        .unwrap();
    assert_eq!(bob.expect("sendMessage").await["data"], "welcome back");
    bob.ping(Some(5000)).await;
    alice
        .client
        .expect_silence(server_grace() + Duration::from_secs(1))
        .await;
}

fn server_grace() -> Duration {
    test_config().reconnect_grace
}

#[tokio::test]
async fn connect_may_arrive_before_the_old_socket_closes() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let mut alice = join(&server, &session, "A").await;
    let mut old = join(&server, &session, "B").await;
    alice.client.expect("participantJoined").await;

    let (mut fresh, result) = resume(&server, &old.rpc_session_id).await;
    result.expect("resume while the old socket is still open");
    assert_eq!(
        old.client.ended().await,
        Ended::Dropped,
        "the superseded socket is dropped"
    );

    let message = json!({"to": [old.connection_id], "data": "on the new socket"}).to_string();
    alice
        .client
        .call("sendMessage", json!({"message": message}))
        .await
        .unwrap();
    assert_eq!(fresh.expect("sendMessage").await["data"], "on the new socket");
    alice
        .client
        .expect_silence(server_grace() + Duration::from_secs(1))
        .await;
}

#[tokio::test]
async fn after_the_grace_the_participant_is_evicted_with_network_disconnect() {
    let server = start_with(ServerConfig {
        reconnect_grace: Duration::from_millis(500),
        ..test_config()
    })
    .await;
    let session = server.create_session(None).unwrap();
    let mut alice = join(&server, &session, "A").await;
    let bob = join(&server, &session, "B").await;
    alice.client.expect("participantJoined").await;
    let (bob_id, bob_rpc) = (bob.connection_id.clone(), bob.rpc_session_id.clone());
    bob.client.close_with(4104).await;

    let left = alice.client.expect("participantLeft").await;
    assert_eq!(left, json!({"connectionId": bob_id, "reason": "networkDisconnect"}));
    assert_eq!(
        alice.client.expect("participantEvicted").await["reason"],
        "networkDisconnect"
    );
    let (_, result) = resume(&server, &bob_rpc).await;
    assert_eq!(
        result.unwrap_err(),
        json!({"code": 40007, "message": "reconnection error"})
    );
}

#[tokio::test]
async fn the_watchdog_closes_a_socket_that_stops_pinging() {
    let server = start_with(ServerConfig {
        reconnect_grace: Duration::from_millis(300),
        ..test_config()
    })
    .await;
    let session = server.create_session(None).unwrap();
    let mut alice = join(&server, &session, "A").await;
    let mut silent = join(&server, &session, "S").await;
    alice.client.expect("participantJoined").await;
    // 3 x 200 ms without a ping closes the socket; Alice keeps pinging and stays.
    silent.client.ping(Some(200)).await;
    alice.client.ping(Some(200)).await;
    let pinger = tokio::spawn(async move {
        loop {
            alice.client.ping(None).await;
            if let Some(message) = alice
                .client
                .take_pending()
                .into_iter()
                .find(|m| m["method"] == "participantLeft")
            {
                return (alice, message);
            }
            if let Some(message) = alice.client.try_next_message(Duration::from_millis(100)).await {
                if message["method"] == "participantLeft" {
                    return (alice, message);
                }
            }
        }
    });
    assert_eq!(silent.client.ended().await, Ended::Dropped);
    let (_alice, left) = tokio::time::timeout(WAIT, pinger)
        .await
        .expect("eviction in time")
        .unwrap();
    assert_eq!(
        left["params"],
        json!({"connectionId": silent.connection_id, "reason": "networkDisconnect"})
    );
}

#[tokio::test]
async fn without_an_interval_the_default_watchdog_applies() {
    let server = start_with(ServerConfig {
        default_ping_interval: Duration::from_millis(200),
        ..test_config()
    })
    .await;
    let mut client = RpcClient::connect(&server).await;
    client.ping(None).await;
    assert_eq!(
        client.ended().await,
        Ended::Dropped,
        "closed after 3 x the default interval"
    );
}

#[tokio::test]
async fn a_backlog_overflow_evicts_at_once() {
    let server = start_with(ServerConfig {
        backlog_frames: 3,
        reconnect_grace: Duration::from_secs(60),
        ..test_config()
    })
    .await;
    let session = server.create_session(None).unwrap();
    let mut alice = join(&server, &session, "A").await;
    let bob = join(&server, &session, "B").await;
    alice.client.expect("participantJoined").await;
    let bob_id = bob.connection_id.clone();
    bob.client.drop_socket();
    tokio::time::sleep(NOTICE).await;
    for n in 0..5 {
        let message = json!({"to": [bob_id], "data": format!("n{n}")}).to_string();
        let _ = alice.client.call("sendMessage", json!({"message": message})).await;
    }
    let left = alice.client.expect("participantLeft").await;
    assert_eq!(left, json!({"connectionId": bob_id, "reason": "networkDisconnect"}));
}

async fn signal_to(sender: &mut RpcClient, to: &str, data: &str) {
    let message = json!({"to": [to], "data": data, "type": "signal:chat"}).to_string();
    sender.call("sendMessage", json!({"message": message})).await.unwrap();
}

async fn resume_with_count(server: &otc_server::EmbeddedServer, rpc_session_id: &str, received: u64) -> RpcClient {
    let mut client = RpcClient::connect(server).await;
    let result = client
        .call(
            "connect",
            json!({"sessionId": rpc_session_id, "reconnect": true, "received": received}),
        )
        .await
        .expect("resumed");
    assert_eq!(result["value"], "reconnection successful");
    client
}

#[tokio::test]
async fn resume_with_a_received_count_replays_exactly_the_missed_notifications() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let mut alice = join(&server, &session, "A").await;
    let mut bob = join(&server, &session, "B").await;
    alice.client.expect("participantJoined").await;
    // Bob's notifications on this RPC session are numbered from 1.
    for n in 1..=3 {
        signal_to(&mut alice.client, &bob.connection_id, &format!("s{n}")).await;
        assert_eq!(bob.client.expect("sendMessage").await["data"], format!("s{n}"));
    }
    // Pretend s2 and s3 were lost in the network: Bob says he received 1.
    let mut fresh = resume_with_count(&server, &bob.rpc_session_id, 1).await;
    assert_eq!(fresh.expect("sendMessage").await["data"], "s2");
    assert_eq!(fresh.expect("sendMessage").await["data"], "s3");
    assert_eq!(bob.client.ended().await, Ended::Dropped, "the old socket is replaced");
    signal_to(&mut alice.client, &bob.connection_id, "s4").await;
    assert_eq!(
        fresh.expect("sendMessage").await["data"],
        "s4",
        "live again, nothing repeated"
    );
    fresh.expect_silence(std::time::Duration::from_millis(200)).await;

    // A second resume counts across resumes: 4 received means nothing is missing.
    let mut third = resume_with_count(&server, &bob.rpc_session_id, 4).await;
    third.expect_silence(std::time::Duration::from_millis(300)).await;
    alice.client.expect_silence(std::time::Duration::from_millis(10)).await;
}

async fn signal_everyone(sender: &mut RpcClient, data: &str) {
    let message = json!({"data": data, "type": "signal:chat"}).to_string();
    sender.call("sendMessage", json!({"message": message})).await.unwrap();
}

/// A participant's count runs over the session's broadcasts (kept once per session) and what was
/// sent to it alone (kept per participant), interleaved as they were sent.
#[tokio::test]
async fn a_resume_count_spans_broadcasts_and_private_notifications_interleaved() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let mut alice = join(&server, &session, "A").await;
    signal_everyone(&mut alice.client, "before Bob").await;
    assert_eq!(alice.client.expect("sendMessage").await["data"], "before Bob");
    let mut bob = join(&server, &session, "B").await;
    alice.client.expect("participantJoined").await;
    let sent = ["b1", "p1", "b2", "p2", "p3", "b3"];
    for data in sent {
        if data.starts_with('b') {
            signal_everyone(&mut alice.client, data).await;
            assert_eq!(alice.client.expect("sendMessage").await["data"], data);
        } else {
            signal_to(&mut alice.client, &bob.connection_id, data).await;
        }
        assert_eq!(bob.client.expect("sendMessage").await["data"], data);
    }
    // Bob says he got b1 and p1: the rest comes back in the order it was sent, nothing before his join.
    let mut fresh = resume_with_count(&server, &bob.rpc_session_id, 2).await;
    for data in &sent[2..] {
        assert_eq!(fresh.expect("sendMessage").await["data"], *data);
    }
    fresh.expect_silence(std::time::Duration::from_millis(200)).await;
    // Live again: the next broadcast is number 7, and a resume at 7 replays nothing.
    signal_everyone(&mut alice.client, "b4").await;
    assert_eq!(fresh.expect("sendMessage").await["data"], "b4");
    let mut third = resume_with_count(&server, &bob.rpc_session_id, 7).await;
    third.expect_silence(std::time::Duration::from_millis(300)).await;
}

#[tokio::test]
async fn notifications_stuck_in_a_silently_dead_socket_are_replayed_once() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let mut alice = join(&server, &session, "A").await;
    let bob = join(&server, &session, "B").await;
    let mut carol = join(&server, &session, "C").await;
    alice.client.expect("participantJoined").await;
    alice.client.expect("participantJoined").await;
    let (bob_id, bob_rpc) = (bob.connection_id.clone(), bob.rpc_session_id.clone());
    // Bob received exactly one notification (Carol's join), then his socket goes silent: whatever the
    // server writes now never reaches him, and the server has not noticed anything.
    let mut stalled = bob.client;
    assert_eq!(
        stalled.expect("participantJoined").await["id"],
        carol.connection_id.as_str()
    );
    signal_to(&mut alice.client, &bob_id, "during the cut").await;
    carol.client.call("leaveRoom", json!({})).await.unwrap();
    alice.client.expect("participantLeft").await;

    let mut fresh = resume_with_count(&server, &bob_rpc, 1).await;
    assert_eq!(fresh.expect("sendMessage").await["data"], "during the cut");
    assert_eq!(
        fresh.expect("participantLeft").await["connectionId"],
        carol.connection_id.as_str()
    );
    fresh.expect_silence(std::time::Duration::from_millis(300)).await;
    alice
        .client
        .expect_silence(server_grace() + Duration::from_secs(1))
        .await;
    drop(stalled);
}

#[tokio::test]
async fn a_count_older_than_the_ring_replays_everything_kept() {
    let server = start_with(ServerConfig {
        backlog_frames: 2,
        ..test_config()
    })
    .await;
    let session = server.create_session(None).unwrap();
    let mut alice = join(&server, &session, "A").await;
    let bob = join(&server, &session, "B").await;
    alice.client.expect("participantJoined").await;
    for n in 1..=4 {
        signal_to(&mut alice.client, &bob.connection_id, &format!("s{n}")).await;
    }
    let mut fresh = resume_with_count(&server, &bob.rpc_session_id, 0).await;
    assert_eq!(fresh.expect("sendMessage").await["data"], "s3");
    assert_eq!(fresh.expect("sendMessage").await["data"], "s4");
    fresh.expect_silence(std::time::Duration::from_millis(200)).await;
    let code = fresh
        .error_code("connect", json!({"sessionId": bob.rpc_session_id, "received": "many"}))
        .await;
    assert_eq!(code, -32602);
}
