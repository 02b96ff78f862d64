//! Moderator RPCs and server-side evictions: permissions, notification order, socket close.

mod common;

use std::time::Duration;

use common::*;
use otc_server::Role;
use serde_json::json;

#[tokio::test]
async fn moderator_force_disconnect_order_left_then_evicted_then_close() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let mut moderator = join_as(&server, &session, Role::Moderator, "M").await;
    let mut victim = join(&server, &session, "V").await;
    let mut observer = join(&server, &session, "O").await;
    moderator.client.expect("participantJoined").await;
    moderator.client.expect("participantJoined").await;
    victim.client.expect("participantJoined").await;

    let id = moderator
        .client
        .send_request("forceDisconnect", json!({"connectionId": victim.connection_id}))
        .await;
    // Moderator: participantLeft, then its response, then participantEvicted.
    let left = moderator.client.next_message().await;
    assert_eq!(left["method"], "participantLeft");
    assert_eq!(
        left["params"],
        json!({"connectionId": victim.connection_id, "reason": "forceDisconnectByUser"})
    );
    let response = moderator.client.next_message().await;
    assert_eq!(response["id"], id);
    assert!(response.get("result").is_some());
    let evicted = moderator.client.next_message().await;
    assert_eq!(evicted["method"], "participantEvicted");

    // Observer: left, then evicted.
    assert_eq!(
        observer.client.expect("participantLeft").await["reason"],
        "forceDisconnectByUser"
    );
    assert_eq!(
        observer.client.expect("participantEvicted").await["connectionId"],
        victim.connection_id.as_str()
    );

    // Victim: evicted (its own id), then the socket is closed.
    let own = victim.client.expect("participantEvicted").await;
    assert_eq!(
        own,
        json!({"connectionId": victim.connection_id, "reason": "forceDisconnectByUser"})
    );
    assert!(matches!(victim.client.ended().await, Ended::Closed(_) | Ended::Dropped));
    assert!(victim.client.take_pending().is_empty(), "nothing after the eviction");

    // The victim cannot resume.
    let mut retry = RpcClient::connect(&server).await;
    let code = retry
        .error_code(
            "connect",
            json!({"sessionId": victim.rpc_session_id, "reconnect": true}),
        )
        .await;
    assert_eq!(code, 40007);
}

#[tokio::test]
async fn moderator_only_methods_need_the_role() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let mut publisher = join(&server, &session, "P").await;
    let mut other = join(&server, &session, "Q").await;
    publisher.client.expect("participantJoined").await;
    let error = publisher
        .client
        .call("forceDisconnect", json!({"connectionId": other.connection_id}))
        .await
        .unwrap_err();
    assert_eq!(error["code"], 401);
    assert_eq!(
        publisher
            .client
            .error_code("forceUnpublish", json!({"streamId": "str_x"}))
            .await,
        401
    );
    other.client.expect_silence(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn moderator_errors_unknown_connection_and_stream() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let mut moderator = join_as(&server, &session, Role::Moderator, "M").await;
    assert_eq!(
        moderator
            .client
            .error_code("forceDisconnect", json!({"connectionId": "con_missing000"}))
            .await,
        102
    );
    assert_eq!(
        moderator
            .client
            .error_code("forceUnpublish", json!({"streamId": "str_missing"}))
            .await,
        105
    );
    assert_eq!(
        moderator
            .client
            .error_code("forceDisconnect", json!({"connectionId": 3}))
            .await,
        -32602
    );
}

#[tokio::test]
async fn server_force_disconnect_evicts_with_force_disconnect_by_server() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let mut stay = join(&server, &session, "S").await;
    let mut victim = join(&server, &session, "V").await;
    stay.client.expect("participantJoined").await;
    server.force_disconnect(&session, &victim.connection_id).unwrap();
    let left = stay.client.expect("participantLeft").await;
    assert_eq!(
        left,
        json!({"connectionId": victim.connection_id, "reason": "forceDisconnectByServer"})
    );
    assert_eq!(
        stay.client.expect("participantEvicted").await["reason"],
        "forceDisconnectByServer"
    );
    assert_eq!(
        victim.client.expect("participantEvicted").await["reason"],
        "forceDisconnectByServer"
    );
    assert!(matches!(victim.client.ended().await, Ended::Closed(_) | Ended::Dropped));
    assert_eq!(
        server.force_disconnect(&session, &victim.connection_id),
        Err(otc_server::ServerError::ConnectionNotFound)
    );
}

#[tokio::test]
async fn closing_a_session_evicts_everyone_with_session_closed_by_server() {
    let server = start().await;
    let session = server.create_session(Some("to-close")).unwrap();
    let mut a = join(&server, &session, "A").await;
    let mut b = join(&server, &session, "B").await;
    a.client.expect("participantJoined").await;
    let pending = server.create_connection(&session, Default::default()).unwrap();
    server.close_session(&session).unwrap();
    for joined in [&mut a, &mut b] {
        let me = joined.connection_id.clone();
        loop {
            let (method, params) = joined.client.notification().await;
            assert!(
                method == "participantLeft" || method == "participantEvicted",
                "{method}"
            );
            assert_eq!(params["reason"], "sessionClosedByServer");
            if method == "participantEvicted" && params["connectionId"] == me.as_str() {
                break;
            }
        }
        assert!(matches!(joined.client.ended().await, Ended::Closed(_) | Ended::Dropped));
    }
    assert_eq!(
        rest(&server, hyper::Method::GET, "/sessions/to-close", None)
            .await
            .status,
        404
    );
    let mut late = RpcClient::connect(&server).await;
    assert_eq!(late.join(&session, &pending.token, "").await.unwrap_err()["code"], 202);
    assert_eq!(
        server.close_session(&session),
        Err(otc_server::ServerError::SessionNotFound)
    );
}

#[tokio::test]
async fn server_signals_have_no_from_and_a_prefixed_type() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let mut a = join(&server, &session, "A").await;
    let mut b = join(&server, &session, "B").await;
    a.client.expect("participantJoined").await;
    server.send_signal(&session, None, "chat", "to all").unwrap();
    for joined in [&mut a, &mut b] {
        let params = joined.client.expect("sendMessage").await;
        assert_eq!(params, json!({"data": "to all", "type": "signal:chat"}));
    }
    server
        .send_signal(&session, Some(vec![b.connection_id.clone()]), "dm", "only b")
        .unwrap();
    assert_eq!(b.client.expect("sendMessage").await["data"], "only b");
    let unknown = server.send_signal(&session, Some(vec!["con_ghost00000".into()]), "dm", "x");
    assert!(matches!(unknown, Err(otc_server::ServerError::UnknownRecipient(_))));
    a.client.expect_silence(Duration::from_millis(300)).await;
}
