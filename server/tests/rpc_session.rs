//! WebSocket JSON-RPC: join, roster, signals, leave, and the request-level error codes.

mod common;

use std::time::Duration;

use common::*;
use otc_server::Role;
use serde_json::json;

#[tokio::test]
async fn ping_is_answered_before_join_with_an_rpc_session_id() {
    let server = start().await;
    let mut client = RpcClient::connect(&server).await;
    let pong = client.ping(Some(5000)).await;
    assert_eq!(pong["value"], "pong");
    assert!(pong["sessionId"].as_str().is_some_and(|s| !s.is_empty()));
    let again = client.ping(None).await;
    assert_eq!(again["sessionId"], pong["sessionId"], "one RPC session per socket");
}

#[tokio::test]
async fn join_result_has_the_fields_the_browser_needs() {
    let server = start().await;
    let session = server.create_session(Some("join-fields")).unwrap();
    let alice = join(&server, &session, "{\"clientData\":\"Alice\"}").await;
    let r = &alice.result;
    assert_eq!(r["session"], "join-fields");
    assert_eq!(r["version"], "2.32.2");
    assert_eq!(r["role"], "PUBLISHER");
    assert_eq!(r["value"], json!([]));
    assert_eq!(r["metadata"], "{\"clientData\":\"Alice\"}");
    assert!(r.get("life").is_none(), "never send life");

    let pending = server
        .create_connection(
            &session,
            otc_server::ConnectionOptions {
                role: Role::Subscriber,
                data: "srv".into(),
            },
        )
        .unwrap();
    let mut bob = RpcClient::connect(&server).await;
    let result = bob.join(&session, &pending.token, "Bob").await.unwrap();
    assert_eq!(result["metadata"], "Bob%/%srv", "clientData %/% serverData");
    assert_eq!(result["role"], "SUBSCRIBER");
    let others = result["value"].as_array().unwrap();
    assert_eq!(others.len(), 1);
    assert_eq!(others[0]["id"], alice.connection_id.as_str());
    assert_eq!(others[0]["metadata"], "{\"clientData\":\"Alice\"}");
    assert!(others[0].get("role").is_none() && others[0].get("streams").is_none());
}

#[tokio::test]
async fn others_learn_of_a_join_before_anything_the_joiner_does() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let mut alice = join(&server, &session, "Alice").await;
    let mut bob = join(&server, &session, "Bob").await;
    // Bob signals Alice right after his join response: Alice must have seen him join first.
    let message = json!({"to": [alice.connection_id], "data": "hi", "type": "signal:chat"}).to_string();
    bob.client
        .call("sendMessage", json!({"message": message}))
        .await
        .unwrap();
    let joined = alice.client.expect("participantJoined").await;
    assert_eq!(joined["id"], bob.connection_id.as_str());
    assert_eq!(joined["metadata"], "Bob");
    assert!(joined.get("role").is_none());
    let signal = alice.client.expect("sendMessage").await;
    assert_eq!(signal["from"], bob.connection_id.as_str());
    bob.client.expect_silence(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn signal_without_recipients_reaches_everyone_including_the_sender() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let mut alice = join(&server, &session, "A").await;
    let mut bob = join(&server, &session, "B").await;
    alice.client.expect("participantJoined").await;
    let message = json!({"to": [], "data": "hello", "type": "signal:chat"}).to_string();
    // The notification to the sender comes before its response.
    let id = alice
        .client
        .send_request("sendMessage", json!({"message": message}))
        .await;
    let first = alice.client.next_message().await;
    assert_eq!(first["method"], "sendMessage");
    assert_eq!(
        first["params"],
        json!({"data": "hello", "type": "signal:chat", "from": alice.connection_id})
    );
    assert_eq!(
        alice.client.response(id).await["result"]["sessionId"],
        alice.rpc_session_id.as_str()
    );
    let at_bob = bob.client.expect("sendMessage").await;
    assert_eq!(at_bob["from"], alice.connection_id.as_str());
    assert_eq!(at_bob["data"], "hello");
}

#[tokio::test]
async fn signal_to_a_list_reaches_only_those() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let mut a = join(&server, &session, "A").await;
    let mut b = join(&server, &session, "B").await;
    let mut c = join(&server, &session, "C").await;
    a.client.expect("participantJoined").await;
    a.client.expect("participantJoined").await;
    b.client.expect("participantJoined").await;
    let message = json!({"to": [c.connection_id], "data": "secret", "type": "signal:dm"}).to_string();
    a.client.call("sendMessage", json!({"message": message})).await.unwrap();
    let got = c.client.expect("sendMessage").await;
    assert_eq!(got["data"], "secret");
    assert_eq!(got["type"], "signal:dm");
    a.client.expect_silence(Duration::from_millis(300)).await;
    b.client.expect_silence(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn signal_to_an_unknown_recipient_is_601_and_nobody_receives_it() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let mut a = join(&server, &session, "A").await;
    let mut b = join(&server, &session, "B").await;
    a.client.expect("participantJoined").await;
    let message = json!({"to": [b.connection_id, "con_nobody1234"], "data": "x", "type": "signal:t"}).to_string();
    assert_eq!(
        a.client.error_code("sendMessage", json!({"message": message})).await,
        601
    );
    assert_eq!(
        a.client.error_code("sendMessage", json!({"message": "not json"})).await,
        600
    );
    assert_eq!(a.client.error_code("sendMessage", json!({"message": 7})).await, -32602);
    b.client.expect_silence(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn leave_room_notifies_the_others_and_the_last_leave_removes_the_session() {
    let server = start().await;
    let session = server.create_session(Some("leave-room")).unwrap();
    let mut a = join(&server, &session, "A").await;
    let mut b = join(&server, &session, "B").await;
    a.client.expect("participantJoined").await;
    assert_eq!(
        b.client.call("leaveRoom", json!({})).await.unwrap()["sessionId"],
        b.rpc_session_id.as_str()
    );
    let left = a.client.expect("participantLeft").await;
    assert_eq!(left, json!({"connectionId": b.connection_id, "reason": "disconnect"}));
    // After leaving, session methods are refused again.
    assert_eq!(b.client.error_code("sendMessage", json!({"message": "{}"})).await, 803);
    // The server closes the socket after the close grace if the client does not.
    assert!(matches!(b.client.ended().await, Ended::Closed(_) | Ended::Dropped));

    a.client.call("leaveRoom", json!({})).await.unwrap();
    let reply = rest(&server, hyper::Method::GET, "/sessions/leave-room", None).await;
    assert_eq!(
        reply.status, 404,
        "the session is removed when its last participant leaves"
    );
}

#[tokio::test]
async fn methods_before_join_are_803_and_unknown_methods_are_32601() {
    let server = start().await;
    let mut client = RpcClient::connect(&server).await;
    for method in [
        "sendMessage",
        "leaveRoom",
        "forceDisconnect",
        "forceUnpublish",
        "publishVideo",
    ] {
        assert_eq!(client.error_code(method, json!({})).await, 803, "{method}");
    }
    assert_eq!(client.error_code("noSuchMethod", json!({})).await, -32601);
    assert_eq!(
        client
            .error_code("connect", json!({"sessionId": "unknown", "reconnect": true}))
            .await,
        40007
    );
}

#[tokio::test]
async fn media_methods_get_a_clear_error() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let mut a = join(&server, &session, "A").await;
    for method in [
        "publishVideo",
        "receiveVideoFrom",
        "onIceCandidate",
        "prepareReceiveVideoFrom",
        "videoData",
    ] {
        let error = a.client.call(method, json!({})).await.expect_err("media is refused");
        assert_eq!(error["code"], 501, "{method}");
        assert!(error["message"].as_str().unwrap().contains("media is not supported"));
    }
    assert_eq!(a.client.error_code("unpublishVideo", json!({})).await, 105);
    assert_eq!(a.client.error_code("nonsense", json!({})).await, -32601);
}

#[tokio::test]
async fn join_errors_unknown_session_reused_token_and_bad_params() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let pending = server.create_connection(&session, Default::default()).unwrap();
    let mut client = RpcClient::connect(&server).await;
    assert_eq!(
        client.join("ses_nope", &pending.token, "").await.unwrap_err()["code"],
        202
    );
    assert_eq!(
        client
            .join(&session, "ws://x?sessionId=y&token=tok_wrong", "")
            .await
            .unwrap_err()["code"],
        401
    );
    assert_eq!(
        client
            .error_code("joinRoom", json!({"token": 5, "session": session}))
            .await,
        -32602
    );
    client
        .join(&session, &pending.token, "")
        .await
        .expect("the token still works after the failures");

    let mut thief = RpcClient::connect(&server).await;
    let error = thief.join(&session, &pending.token, "").await.unwrap_err();
    assert_eq!(error["code"], 401, "tokens are single use");
}

#[tokio::test]
async fn malformed_frames_get_json_rpc_errors_and_change_nothing() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let mut a = join(&server, &session, "A").await;
    let mut b = join(&server, &session, "B").await;
    a.client.expect("participantJoined").await;

    b.client.send_raw("{not json").await;
    let reply = b.client.next_message().await;
    assert_eq!(reply["error"]["code"], -32700);
    assert_eq!(reply["id"], serde_json::Value::Null);
    b.client.send_raw(r#"{"jsonrpc":"1.0","id":77,"method":"ping"}"#).await;
    let reply = b.client.next_message().await;
    assert_eq!(
        (reply["id"].clone(), reply["error"]["code"].clone()),
        (json!(77), json!(-32600))
    );
    b.client
        .send_raw(r#"{"jsonrpc":"2.0","id":78,"method":"ping","params":[1]}"#)
        .await;
    assert_eq!(b.client.next_message().await["error"]["code"], -32602);
    assert_eq!(b.client.error_code("ping", json!({"interval": "soon"})).await, -32602);
    assert_eq!(b.client.error_code("forceDisconnect", json!({})).await, 401);

    // Nobody else noticed anything and the session still works.
    a.client.expect_silence(Duration::from_millis(200)).await;
    let message = json!({"data": "still here"}).to_string();
    b.client.call("sendMessage", json!({"message": message})).await.unwrap();
    assert_eq!(a.client.expect("sendMessage").await["data"], "still here");
}

#[tokio::test]
async fn tokens_are_matched_by_their_token_value_whatever_the_host() {
    let server = start().await;
    let session = server.create_session(Some("any-host")).unwrap();
    let secret_of = |token: &str| token.rsplit("token=").next().unwrap().to_string();

    // Host, port, scheme and path rewritten (a fault proxy in front of the server): accepted.
    let pending = server.create_connection(&session, Default::default()).unwrap();
    let rewritten = format!(
        "wss://proxy.invalid:1/some/path?sessionId=any-host&token={}",
        secret_of(&pending.token)
    );
    let mut client = RpcClient::connect(&server).await;
    assert_eq!(
        client.join(&session, &rewritten, "").await.unwrap()["id"],
        pending.connection_id.as_str()
    );

    // The bare tok_ value: accepted.
    let pending = server.create_connection(&session, Default::default()).unwrap();
    let mut bare = RpcClient::connect(&server).await;
    assert_eq!(
        bare.join(&session, &secret_of(&pending.token), "").await.unwrap()["id"],
        pending.connection_id.as_str()
    );

    // A sessionId that does not match the token's session: refused, and the token stays unused.
    let pending = server.create_connection(&session, Default::default()).unwrap();
    let other = server.create_session(Some("other-room")).unwrap();
    let mismatched = format!("ws://127.0.0.1:1?sessionId={other}&token={}", secret_of(&pending.token));
    let mut wrong = RpcClient::connect(&server).await;
    assert_eq!(wrong.join(&session, &mismatched, "").await.unwrap_err()["code"], 401);
    assert_eq!(
        wrong.join(&other, &mismatched, "").await.unwrap_err()["code"],
        401,
        "not a token of that session"
    );
    assert_eq!(
        wrong.join(&session, &pending.token, "").await.unwrap()["id"],
        pending.connection_id.as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_joins_give_everyone_every_other_participant_exactly_once() {
    const MEMBERS: usize = 30;
    let server = std::sync::Arc::new(start().await);
    let session = server.create_session(None).unwrap();
    let mut tasks = Vec::new();
    for n in 0..MEMBERS {
        let (server, session) = (server.clone(), session.clone());
        tasks.push(tokio::spawn(
            async move { join(&server, &session, &format!("m{n}")).await },
        ));
    }
    let mut members = Vec::new();
    for task in tasks {
        members.push(task.await.unwrap());
    }
    let all: std::collections::BTreeSet<String> = members.iter().map(|m| m.connection_id.clone()).collect();
    assert_eq!(all.len(), MEMBERS);
    for member in &mut members {
        let mut seen: Vec<String> = member.result["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect();
        while seen.len() < MEMBERS - 1 {
            seen.push(
                member.client.expect("participantJoined").await["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        let unique: std::collections::BTreeSet<String> = seen.iter().cloned().collect();
        assert_eq!(unique.len(), seen.len(), "nobody is announced twice");
        assert!(!unique.contains(&member.connection_id), "nobody sees itself as remote");
        assert_eq!(unique.len() + 1, all.len());
        member.client.expect_silence(Duration::from_millis(50)).await;
    }
}
