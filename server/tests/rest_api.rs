//! REST API under /openvidu/api, as openvidu-node-client calls it.

mod common;

use std::time::Duration;

use common::*;
use hyper::Method;
use otc_server::ServerConfig;
use serde_json::json;

#[tokio::test]
async fn every_call_needs_basic_auth_with_the_secret() {
    let server = start().await;
    for secret in [None, Some("wrong-secret"), Some("")] {
        let reply = rest_with_auth(&server, Method::GET, "/sessions", None, secret).await;
        assert_eq!(reply.status, 401, "{secret:?}");
        let reply = rest_with_auth(&server, Method::POST, "/sessions", Some("{}"), secret).await;
        assert_eq!(reply.status, 401);
    }
    assert_eq!(server.create_session(None).map(|_| ()), Ok(()));
    assert_eq!(
        rest(&server, Method::GET, "/sessions", None).await.body["numberOfElements"],
        1
    );
}

#[tokio::test]
async fn create_get_list_and_duplicate_sessions() {
    let server = start().await;
    let body = json!({"mediaMode": "ROUTED", "recordingMode": "MANUAL", "customSessionId": "", "forcedVideoCodec": null,
                      "allowTranscoding": null, "defaultRecordingProperties": null, "mediaNode": null});
    let created = rest(&server, Method::POST, "/sessions", Some(&body.to_string())).await;
    assert_eq!(created.status, 200);
    let generated = created.body["id"].as_str().unwrap().to_string();
    assert!(generated.starts_with("ses_") && generated.len() == 14);
    assert_eq!(created.body["sessionId"], generated.as_str());
    assert_eq!(created.body["object"], "session");
    assert_eq!(created.body["forcedVideoCodec"], "MEDIA_SERVER_PREFERRED");

    let custom = rest(
        &server,
        Method::POST,
        "/sessions",
        Some(r#"{"customSessionId":"room-42"}"#),
    )
    .await;
    assert_eq!(
        (custom.status.as_u16(), custom.body["id"].clone()),
        (200, json!("room-42"))
    );
    let duplicate = rest(
        &server,
        Method::POST,
        "/sessions",
        Some(r#"{"customSessionId":"room-42"}"#),
    )
    .await;
    assert_eq!(duplicate.status, 409);

    let fetched = rest(&server, Method::GET, "/sessions/room-42?pendingConnections=true", None).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body["sessionId"], "room-42");
    assert_eq!(fetched.body["customSessionId"], "room-42");
    assert_eq!(
        fetched.body["connections"],
        json!({"numberOfElements": 0, "content": []})
    );
    let list = rest(&server, Method::GET, "/sessions?pendingConnections=true", None).await;
    assert_eq!(list.body["numberOfElements"], 2);
    assert_eq!(rest(&server, Method::GET, "/sessions/nope", None).await.status, 404);
}

#[tokio::test]
async fn bad_bodies_are_rejected_and_change_nothing() {
    let server = start_with(ServerConfig {
        max_rest_body_bytes: 2048,
        ..test_config()
    })
    .await;
    for body in [
        "{oops",
        "[1,2]",
        r#"{"customSessionId":5}"#,
        r#"{"customSessionId":"a b"}"#,
        r#"{"mediaMode":"WEIRD"}"#,
    ] {
        let reply = rest(&server, Method::POST, "/sessions", Some(body)).await;
        assert_eq!(reply.status, 400, "{body}");
    }
    let huge = format!(r#"{{"customSessionId":"x","pad":"{}"}}"#, "p".repeat(4096));
    assert_eq!(rest(&server, Method::POST, "/sessions", Some(&huge)).await.status, 413);
    assert_eq!(
        rest(&server, Method::GET, "/sessions", None).await.body["numberOfElements"],
        0
    );

    let session = server.create_session(Some("s1")).unwrap();
    for body in [
        "nope",
        r#"{"role":"KING"}"#,
        r#"{"data":1}"#,
        r#"{"record":"yes"}"#,
        r#"{"type":"IPCAM"}"#,
    ] {
        let reply = rest(
            &server,
            Method::POST,
            &format!("/sessions/{session}/connection"),
            Some(body),
        )
        .await;
        assert_eq!(reply.status, 400, "{body}");
    }
    let listed = rest(&server, Method::GET, &format!("/sessions/{session}/connection"), None).await;
    assert_eq!(listed.body["numberOfElements"], 0);
}

#[tokio::test]
async fn connections_are_created_pending_listed_fetched_and_activated_by_join() {
    let server = start().await;
    let session = server.create_session(Some("conn-life")).unwrap();
    let body = json!({"type": "WEBRTC", "data": "srv", "record": null, "role": "MODERATOR", "kurentoOptions": null,
                      "rtspUri": null, "adaptativeBitrate": null, "onlyPlayWithSubscribers": null, "networkCache": null,
                      "customIceServers": []});
    let created = rest(
        &server,
        Method::POST,
        "/sessions/conn-life/connection",
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(created.status, 200);
    let c = &created.body;
    let connection_id = c["connectionId"].as_str().unwrap().to_string();
    assert!(connection_id.starts_with("con_"));
    assert_eq!(
        (c["status"].clone(), c["role"].clone(), c["serverData"].clone()),
        (json!("pending"), json!("MODERATOR"), json!("srv"))
    );
    assert_eq!(c["record"], true, "null record means the default");
    let token = c["token"].as_str().unwrap().to_string();
    assert_eq!(
        token,
        format!(
            "{}?sessionId=conn-life&token={}",
            server.ws_url(),
            token.rsplit('=').next().unwrap()
        )
    );
    assert!(token.rsplit('=').next().unwrap().starts_with("tok_"));

    let without_pending = rest(&server, Method::GET, "/sessions/conn-life", None).await;
    assert_eq!(without_pending.body["connections"]["numberOfElements"], 0);
    let with_pending = rest(
        &server,
        Method::GET,
        "/sessions/conn-life?pendingConnections=true",
        None,
    )
    .await;
    assert_eq!(
        with_pending.body["connections"]["content"][0]["connectionId"],
        connection_id.as_str()
    );

    let mut client = RpcClient::connect(&server).await;
    client.join(&session, &token, "client-meta").await.unwrap();
    let fetched = rest(
        &server,
        Method::GET,
        &format!("/sessions/conn-life/connection/{connection_id}"),
        None,
    )
    .await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body["status"], "active");
    assert_eq!(fetched.body["clientData"], "client-meta");
    assert_eq!(fetched.body["platform"], "rust-test");
    assert_eq!(fetched.body["publishers"], json!([]));
    let listed = rest(&server, Method::GET, "/sessions/conn-life/connection", None).await;
    assert_eq!(listed.body["numberOfElements"], 1);
    let session_view = rest(&server, Method::GET, "/sessions/conn-life", None).await;
    assert_eq!(session_view.body["connections"]["content"][0]["status"], "active");

    assert_eq!(
        rest(&server, Method::GET, "/sessions/conn-life/connection/con_nope", None)
            .await
            .status,
        404
    );
    assert_eq!(
        rest(&server, Method::GET, "/sessions/missing/connection", None)
            .await
            .status,
        400
    );
    assert_eq!(
        rest(&server, Method::POST, "/sessions/missing/connection", Some("{}"))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn deleting_a_pending_connection_invalidates_its_token() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let pending = server.create_connection(&session, Default::default()).unwrap();
    let path = format!("/sessions/{session}/connection/{}", pending.connection_id);
    assert_eq!(rest(&server, Method::DELETE, &path, None).await.status, 204);
    assert_eq!(rest(&server, Method::DELETE, &path, None).await.status, 404);
    let mut client = RpcClient::connect(&server).await;
    assert_eq!(
        client.join(&session, &pending.token, "").await.unwrap_err()["code"],
        401
    );
}

#[tokio::test]
async fn deleting_an_active_connection_evicts_with_force_disconnect_by_server() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let mut stay = join(&server, &session, "S").await;
    let mut victim = join(&server, &session, "V").await;
    stay.client.expect("participantJoined").await;
    let path = format!("/sessions/{session}/connection/{}", victim.connection_id);
    assert_eq!(rest(&server, Method::DELETE, &path, None).await.status, 204);
    assert_eq!(
        stay.client.expect("participantLeft").await["reason"],
        "forceDisconnectByServer"
    );
    assert_eq!(
        victim.client.expect("participantEvicted").await["reason"],
        "forceDisconnectByServer"
    );
    assert_eq!(
        rest(&server, Method::DELETE, "/sessions/missing/connection/con_x", None)
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn deleting_a_session_evicts_everyone_and_removes_it() {
    let server = start().await;
    let session = server.create_session(Some("rest-close")).unwrap();
    let mut a = join(&server, &session, "A").await;
    assert_eq!(
        rest(&server, Method::DELETE, "/sessions/rest-close", None).await.status,
        204
    );
    let evicted = a.client.expect("participantEvicted").await;
    assert_eq!(
        evicted,
        json!({"connectionId": a.connection_id, "reason": "sessionClosedByServer"})
    );
    assert_eq!(
        rest(&server, Method::GET, "/sessions/rest-close", None).await.status,
        404
    );
    assert_eq!(
        rest(&server, Method::DELETE, "/sessions/rest-close", None).await.status,
        404
    );
}

#[tokio::test]
async fn stream_deletion_finds_no_stream() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    assert_eq!(
        rest(
            &server,
            Method::DELETE,
            &format!("/sessions/{session}/stream/str_x"),
            None
        )
        .await
        .status,
        404
    );
    assert_eq!(
        rest(&server, Method::DELETE, "/sessions/missing/stream/str_x", None)
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn tokens_endpoint_creates_a_usable_token() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let body = json!({"session": session, "role": "SUBSCRIBER", "data": "d", "kurentoOptions": null});
    let reply = rest(&server, Method::POST, "/tokens", Some(&body.to_string())).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["id"], reply.body["token"]);
    assert_eq!(
        (reply.body["role"].clone(), reply.body["data"].clone()),
        (json!("SUBSCRIBER"), json!("d"))
    );
    let mut client = RpcClient::connect(&server).await;
    let joined = client
        .join(&session, reply.body["token"].as_str().unwrap(), "")
        .await
        .unwrap();
    assert_eq!(joined["id"], reply.body["connectionId"]);
    assert_eq!(joined["role"], "SUBSCRIBER");
    assert_eq!(
        rest(&server, Method::POST, "/tokens", Some(r#"{"session":"missing"}"#))
            .await
            .status,
        404
    );
    assert_eq!(rest(&server, Method::POST, "/tokens", Some("{}")).await.status, 400);
}

#[tokio::test]
async fn signal_endpoint_delivers_without_from() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let mut a = join(&server, &session, "A").await;
    let mut b = join(&server, &session, "B").await;
    a.client.expect("participantJoined").await;
    let body = json!({"session": session, "to": [b.connection_id], "type": "news", "data": "from the server"});
    assert_eq!(
        rest(&server, Method::POST, "/signal", Some(&body.to_string()))
            .await
            .status,
        200
    );
    assert_eq!(
        b.client.expect("sendMessage").await,
        json!({"data": "from the server", "type": "signal:news"})
    );
    let all = json!({"session": session, "to": null, "type": null, "data": "all"});
    assert_eq!(
        rest(&server, Method::POST, "/signal", Some(&all.to_string()))
            .await
            .status,
        200
    );
    assert_eq!(a.client.expect("sendMessage").await["type"], "signal:signal");
    assert_eq!(b.client.expect("sendMessage").await["data"], "all");

    let unknown = json!({"session": session, "to": ["con_ghost00000"], "data": "x"});
    assert_eq!(
        rest(&server, Method::POST, "/signal", Some(&unknown.to_string()))
            .await
            .status,
        406
    );
    assert_eq!(
        rest(&server, Method::POST, "/signal", Some(r#"{"session":"missing"}"#))
            .await
            .status,
        404
    );
    assert_eq!(
        rest(&server, Method::POST, "/signal", Some(r#"{"data":"no session"}"#))
            .await
            .status,
        400
    );
    assert_eq!(
        rest(&server, Method::POST, "/signal", Some(r#"{"session":1}"#))
            .await
            .status,
        400
    );
    let empty = server.create_session(None).unwrap();
    server.create_connection(&empty, Default::default()).unwrap();
    let nobody = json!({"session": empty, "data": "lost"});
    assert_eq!(
        rest(&server, Method::POST, "/signal", Some(&nobody.to_string()))
            .await
            .status,
        406,
        "nobody connected"
    );
    a.client.expect_silence(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn patching_a_connection_changes_its_role() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let mut promoted = join(&server, &session, "P").await;
    let mut other = join(&server, &session, "O").await;
    promoted.client.expect("participantJoined").await;
    let path = format!("/sessions/{session}/connection/{}", promoted.connection_id);
    assert_eq!(
        rest(&server, Method::PATCH, &path, Some(r#"{"role":"EMPEROR"}"#))
            .await
            .status,
        400
    );
    let patched = rest(
        &server,
        Method::PATCH,
        &path,
        Some(r#"{"role":"MODERATOR","record":false}"#),
    )
    .await;
    assert_eq!(patched.status, 200);
    assert_eq!(
        (patched.body["role"].clone(), patched.body["record"].clone()),
        (json!("MODERATOR"), json!(false))
    );
    // The connection is told about each change (values as strings, as openvidu-browser expects).
    let role = promoted.client.expect("connectionPropertyChanged").await;
    assert_eq!(
        (role["property"].clone(), role["newValue"].clone()),
        (json!("role"), json!("MODERATOR"))
    );
    let record = promoted.client.expect("connectionPropertyChanged").await;
    assert_eq!(
        (record["property"].clone(), record["newValue"].clone()),
        (json!("record"), json!("false"))
    );
    other.client.expect_silence(Duration::from_millis(200)).await;
    // Re-applying the same values announces nothing.
    assert_eq!(
        rest(&server, Method::PATCH, &path, Some(r#"{"role":"MODERATOR"}"#))
            .await
            .status,
        200
    );
    promoted
        .client
        .call("forceDisconnect", json!({"connectionId": other.connection_id}))
        .await
        .unwrap();
    assert_eq!(
        other.client.expect("participantEvicted").await["reason"],
        "forceDisconnectByUser"
    );
    let missing = format!("/sessions/{session}/connection/con_nobody0000");
    assert_eq!(
        rest(&server, Method::PATCH, &missing, Some(r#"{"record":true}"#))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn sessions_nobody_joins_are_removed_after_the_idle_time() {
    let server = start_with(ServerConfig {
        session_idle_timeout: Duration::from_millis(300),
        ..test_config()
    })
    .await;
    let session = server.create_session(Some("idle")).unwrap();
    server.create_connection(&session, Default::default()).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if rest(&server, Method::GET, "/sessions/idle", None).await.status == 404 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "idle session never removed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn cors_preflight_is_allowed_for_any_origin() {
    let server = start().await;
    let client: hyper_util::client::legacy::Client<_, http_body_util::Full<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let request = hyper::Request::builder()
        .method(Method::OPTIONS)
        .uri(format!("{}/openvidu/api/sessions", server.http_url()))
        .header("Origin", "http://app.example")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "authorization,content-type")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert!(response.status().is_success());
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], "http://app.example");
    assert!(headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("authorization"));
}
