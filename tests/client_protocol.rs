//! The protocol client against a scripted server that plays the server side frame by frame:
//! exact frames and their order, connect ordering, notifications, hostile input, error codes of
//! failed connects, disconnect (also while connecting), and the resume handshake.

mod client_support;

use std::time::Duration;

use client_support::*;
use otc_session::client::*;
use serde_json::{json, Value};

fn settings() -> Settings {
    Settings { client_data: "Alice".into(), ..Settings::default() }
}

fn bob() -> Value {
    json!({"id": "con_bob", "createdAt": 1, "metadata": "Bob%/%srv-bob"})
}

fn carol_publishing() -> Value {
    json!({"id": "con_carol", "createdAt": 2, "metadata": "Carol",
           "streams": [{"id": "str_carol", "createdAt": 3, "hasAudio": true, "hasVideo": true, "typeOfVideo": "CAMERA"}]})
}

/// Connects a session to `server` with a roster of `value`; returns the peer after `Connected` and
/// the `ConnectionCreated`s of `value` were received.
async fn connected(server: &ScriptedServer, settings: Settings, role: &str, value: Value) -> (Session, EventReceiver, Peer) {
    let (session, mut rx) = Session::new(None, settings);
    session.connect(&server.token("ses_T")).unwrap();
    let mut peer = server.accept().await;
    let join = peer.recv_non_ping().await;
    assert_eq!(join["method"], "joinRoom");
    peer.reply(&join["id"], join_result("con_me", role, value.clone())).await;
    assert!(matches!(next_event(&mut rx).await, Event::Connected { .. }));
    for _ in value.as_array().unwrap() {
        assert!(matches!(next_event(&mut rx).await, Event::ConnectionCreated(_)));
    }
    (session, rx, peer)
}

#[tokio::test]
async fn connect_sends_the_browser_frames_then_reports_roster_in_order() {
    let server = ScriptedServer::start().await;
    let (session, mut rx) = Session::new(None, settings());
    let token = server.token("ses_T");
    session.connect(&token).unwrap();
    assert_eq!(session.state(), SessionState::Connecting);
    assert_eq!(session.session_id().as_deref(), Some("ses_T"));

    let mut peer = server.accept().await;
    assert_eq!(peer.path, "/openvidu?sessionId=ses_T", "the token path is ignored");
    assert_eq!(peer.recv_text().await, r#"{"jsonrpc":"2.0","method":"ping","params":{"interval":5000},"id":0}"#);
    let join = peer.recv_text().await;
    let platform = serde_json::from_str::<Value>(&join).unwrap()["params"]["platform"].as_str().unwrap().to_string();
    assert_eq!(
        join,
        format!(
            r#"{{"jsonrpc":"2.0","method":"joinRoom","params":{{"token":"{token}","session":"ses_T","platform":"{platform}","sdkVersion":"2.32.2","metadata":"Alice","secret":"","recorder":false,"stt":false}},"id":1}}"#
        )
    );
    peer.reply(&json!(0), json!({"value": "pong"})).await;
    peer.reply(&json!(1), join_result("con_me", "PUBLISHER", json!([bob(), carol_publishing()]))).await;

    match next_event(&mut rx).await {
        Event::Connected { own } => assert_eq!(own.id(), "con_me"),
        other => panic!("expected Connected, got {other:?}"),
    }
    let created: Vec<String> = [next_event(&mut rx).await, next_event(&mut rx).await]
        .into_iter()
        .map(|e| match e {
            Event::ConnectionCreated(c) => c.id().to_string(),
            other => panic!("expected ConnectionCreated, got {other:?}"),
        })
        .collect();
    assert_eq!(created, ["con_bob", "con_carol"]);
    match next_event(&mut rx).await {
        Event::StreamReceived(s) => {
            assert_eq!((s.id.as_str(), s.connection.id(), s.video_type.as_str()), ("str_carol", "con_carol", "CAMERA"))
        }
        other => panic!("expected StreamReceived, got {other:?}"),
    }
    assert_eq!(session.state(), SessionState::Connected);
    assert_eq!(session.own_connection().unwrap().id(), "con_me");
    let roster: Vec<String> = session.roster().iter().map(|c| c.id().to_string()).collect();
    assert_eq!(roster, ["con_bob", "con_carol"]);
    let b = &session.roster()[0];
    assert_eq!((b.client_data(), b.server_data(), b.session_id()), ("Bob", "srv-bob", "ses_T"));
    assert_eq!(session.streams().len(), 1);
    assert_eq!(session.capabilities(), Capabilities { publish: true, subscribe: true, force_disconnect: false, force_unpublish: false });
    assert_eq!(session.connect(&token).unwrap_err().code, ErrorCode::IllegalState);
}

#[tokio::test]
async fn hostile_frames_are_logged_and_ignored() {
    let server = ScriptedServer::start().await;
    let (session, mut rx) = Session::new(None, settings());
    session.connect(&server.token("ses_T")).unwrap();
    let mut peer = server.accept().await;
    let join = peer.recv_non_ping().await;
    for junk in [
        "not json",
        "[]",
        r#"{"id":1,"result":{}}"#,
        r#"{"jsonrpc":"2.0","id":"x","result":{}}"#,
        r#"{"jsonrpc":"2.0","id":999,"result":{}}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"both"}}"#,
        r#"{"jsonrpc":"2.0","method":"participantJoined","params":42}"#,
        r#"{"jsonrpc":"2.0","method":7}"#,
    ] {
        peer.send_text(junk.to_string()).await;
    }
    peer.reply(&join["id"], join_result("con_me", "PUBLISHER", json!([bob()]))).await;
    assert!(matches!(next_event(&mut rx).await, Event::Connected { .. }));
    assert!(matches!(next_event(&mut rx).await, Event::ConnectionCreated(c) if c.id() == "con_bob"));

    peer.notify("participantLeft", json!({"reason": "disconnect"})).await;
    peer.notify("participantJoined", json!({"id": "con_me", "createdAt": 1, "metadata": ""})).await;
    peer.notify("participantJoined", bob()).await;
    peer.notify("participantPublished", json!({"id": "con_bob", "streams": "nope"})).await;
    peer.notify("sendMessage", json!({"type": "signal:x", "data": "d", "from": "con_ghost"})).await;
    peer.notify("participantJoined", json!({"id": "con_dave", "createdAt": 4, "metadata": "Dave"})).await;

    match next_event(&mut rx).await {
        Event::SignalReceived { kind, data, from } => {
            assert_eq!((kind.as_str(), data.as_str()), ("x", "d"));
            assert_eq!(from.expect("a sender built from the id").id(), "con_ghost");
        }
        other => panic!("expected the signal from an unknown sender, got {other:?}"),
    }
    assert!(matches!(next_event(&mut rx).await, Event::ConnectionCreated(c) if c.id() == "con_dave"));
    assert_eq!(session.state(), SessionState::Connected);
    assert_eq!(session.roster().len(), 2, "own id and duplicate joins are not added");
}

#[tokio::test]
async fn join_errors_become_error_events_with_upstream_codes_and_no_disconnected() {
    let server = ScriptedServer::start().await;
    let (session, mut rx) = Session::new(None, settings());
    let cases = [
        (401, "Token not valid", ErrorCode::AuthorizationFailure),
        (202, "Session ses_T not found", ErrorCode::InvalidSession),
        (10007, "Connection limit reached", ErrorCode::ConnectionLimitExceeded),
        (999, "Something else", ErrorCode::ConnectionFailed),
    ];
    for (code, message, expected) in cases {
        session.connect(&server.token("ses_T")).unwrap();
        let mut peer = server.accept().await;
        let join = peer.recv_non_ping().await;
        peer.reply_error(&join["id"], code, message).await;
        match next_event(&mut rx).await {
            Event::Error(e) => assert_eq!(e.code, expected, "{code} {message}: {e}"),
            other => panic!("expected Error, got {other:?}"),
        }
        assert_eq!(session.state(), SessionState::Idle);
        assert!(session.own_connection().is_none());
    }
    expect_no_event(&mut rx, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_refused_port_is_connection_refused() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (session, mut rx) = Session::new(None, settings());
    session.connect(&format!("ws://127.0.0.1:{port}?sessionId=s&token=t")).unwrap();
    match next_event(&mut rx).await {
        Event::Error(e) => assert_eq!(e.code, ErrorCode::ConnectionRefused, "{e}"),
        other => panic!("expected Error, got {other:?}"),
    }
    assert_eq!(session.state(), SessionState::Idle);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = ScriptedServer::start().await;
    let (session, mut rx) = Session::new(None, Settings { connect_timeout: Duration::from_millis(700), ..settings() });
    session.connect(&server.token("ses_T")).unwrap();
    let mut peer = server.accept().await;
    let _join = peer.recv_non_ping().await;
    match next_event(&mut rx).await {
        Event::Error(e) => assert_eq!(e.code, ErrorCode::TimedOut, "{e}"),
        other => panic!("expected Error, got {other:?}"),
    }
    assert_eq!(session.state(), SessionState::Idle);
}

#[tokio::test]
async fn disconnect_while_connecting_aborts_with_an_error_and_no_disconnected() {
    let server = ScriptedServer::start().await;
    let (session, mut rx) = Session::new(None, settings());
    session.connect(&server.token("ses_T")).unwrap();
    let mut peer = server.accept().await;
    let _join = peer.recv_non_ping().await;
    session.disconnect().unwrap();
    match next_event(&mut rx).await {
        Event::Error(e) => {
            assert_eq!(e.code, ErrorCode::ConnectionFailed);
            assert_eq!(e.message, "connect aborted by disconnect");
        }
        other => panic!("expected Error, got {other:?}"),
    }
    assert_eq!(session.state(), SessionState::Idle);
    expect_no_event(&mut rx, Duration::from_millis(300)).await;
    assert_eq!(session.disconnect().unwrap_err().code, ErrorCode::NotConnected);
}

#[tokio::test]
async fn disconnect_leaves_the_room_closes_and_reports_disconnected_last() {
    let server = ScriptedServer::start().await;
    let (session, mut rx, mut peer) = connected(&server, settings(), "PUBLISHER", json!([bob()])).await;
    session.disconnect().unwrap();
    assert_eq!(session.state(), SessionState::Disconnecting);
    let leave = peer.recv_non_ping().await;
    assert_eq!(leave["method"], "leaveRoom");
    assert_eq!(leave["params"], json!({}));
    peer.reply(&leave["id"], json!({"sessionId": "rpc-1"})).await;
    assert_eq!(peer.closed().await, Some(4102));
    assert!(matches!(next_event(&mut rx).await, Event::Disconnected(DisconnectReason::ClientDisconnected)));
    assert_eq!(session.state(), SessionState::Disconnected);
    assert!(session.roster().is_empty());
    assert!(session.own_connection().is_none());
    assert_eq!(session.disconnect().unwrap_err().code, ErrorCode::NotConnected);
    expect_no_event(&mut rx, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn signals_are_framed_like_the_browser_and_server_refusals_are_error_events() {
    let server = ScriptedServer::start().await;
    let (session, rx) = Session::new(None, settings());
    let options = SignalOptions::default();
    assert_eq!(session.send_signal(None, "chat", "x", options).unwrap_err().code, ErrorCode::NotConnected);
    drop(rx);
    let (session, mut rx, mut peer) = connected(&server, settings(), "PUBLISHER", json!([bob()])).await;

    session.send_signal(None, "chat", "hi \"all\"", options).unwrap();
    let frame = peer.recv_non_ping().await;
    assert_eq!(frame["method"], "sendMessage");
    assert_eq!(frame["params"]["message"], r#"{"to":[],"data":"hi \"all\"","type":"signal:chat"}"#);
    peer.reply(&frame["id"], json!({"sessionId": "rpc-1"})).await;

    assert_eq!(session.send_signal(None, "chat", &"x".repeat(8193), options).unwrap_err().code, ErrorCode::SignalDataTooLong);
    assert_eq!(session.send_signal(None, &"t".repeat(129), "", options).unwrap_err().code, ErrorCode::SignalTypeTooLong);
    assert_eq!(session.send_signal(None, "bad type", "", options).unwrap_err().code, ErrorCode::InvalidSignalType);
    assert_eq!(session.send_signal(Some(""), "chat", "", options).unwrap_err().code, ErrorCode::InvalidParameter);

    session.send_signal(Some("con_nobody"), "", "", options).unwrap();
    let frame = peer.recv_non_ping().await;
    assert_eq!(
        frame["params"]["message"],
        r#"{"to":["con_nobody"],"data":"","type":"signal:signal"}"#,
        "the rejected signals sent nothing"
    );
    peer.reply_error(&frame["id"], 601, "Signal to not found").await;
    match next_event(&mut rx).await {
        Event::Error(e) => assert_eq!(e.code, ErrorCode::SignalFailed, "{e}"),
        other => panic!("expected Error, got {other:?}"),
    }

    peer.notify("sendMessage", json!({"type": "signal:chat", "data": "from bob", "from": "con_bob"})).await;
    peer.notify("sendMessage", json!({"type": "signal:news", "data": "from server"})).await;
    match next_event(&mut rx).await {
        Event::SignalReceived { kind, data, from } => {
            assert_eq!((kind.as_str(), data.as_str()), ("chat", "from bob"));
            assert_eq!(from.unwrap().client_data(), "Bob", "the sender is the roster entry");
        }
        other => panic!("expected SignalReceived, got {other:?}"),
    }
    match next_event(&mut rx).await {
        Event::SignalReceived { kind, from, .. } => assert_eq!((kind.as_str(), from), ("news", None)),
        other => panic!("expected SignalReceived, got {other:?}"),
    }
}

#[tokio::test]
async fn moderation_needs_the_role_locally_and_maps_server_refusals() {
    let server = ScriptedServer::start().await;
    let (publisher, _rx, _peer) = connected(&server, settings(), "PUBLISHER", json!([bob()])).await;
    assert_eq!(publisher.force_disconnect("con_bob").unwrap_err().code, ErrorCode::UnableToForceDisconnect);
    assert_eq!(publisher.force_unpublish("str_x").unwrap_err().code, ErrorCode::ForceUnpublishOrInvalidStream);

    let (moderator, mut rx, mut peer) = connected(&server, settings(), "MODERATOR", json!([bob()])).await;
    assert!(moderator.capabilities().force_disconnect && moderator.capabilities().force_unpublish);
    assert_eq!(moderator.force_disconnect("").unwrap_err().code, ErrorCode::InvalidParameter);
    moderator.force_disconnect("con_ghost").unwrap();
    let frame = peer.recv_non_ping().await;
    assert_eq!((frame["method"].clone(), frame["params"].clone()), (json!("forceDisconnect"), json!({"connectionId": "con_ghost"})));
    peer.reply_error(&frame["id"], 102, "Connection not found").await;
    match next_event(&mut rx).await {
        Event::Error(e) => assert_eq!(e.code, ErrorCode::UnableToForceDisconnect, "{e}"),
        other => panic!("expected Error, got {other:?}"),
    }
    moderator.force_unpublish("str_ghost").unwrap();
    let frame = peer.recv_non_ping().await;
    assert_eq!((frame["method"].clone(), frame["params"].clone()), (json!("forceUnpublish"), json!({"streamId": "str_ghost"})));
    peer.reply_error(&frame["id"], 105, "Stream not found").await;
    match next_event(&mut rx).await {
        Event::Error(e) => assert_eq!(e.code, ErrorCode::ForceUnpublishOrInvalidStream, "{e}"),
        other => panic!("expected Error, got {other:?}"),
    }
}

#[tokio::test]
async fn participants_leaving_and_own_eviction_follow_the_browser_order() {
    let server = ScriptedServer::start().await;
    let (session, mut rx, mut peer) = connected(&server, settings(), "PUBLISHER", json!([bob(), carol_publishing()])).await;
    assert!(matches!(next_event(&mut rx).await, Event::StreamReceived(_)));

    peer.notify("participantLeft", json!({"connectionId": "con_carol", "reason": "forceDisconnectByUser"})).await;
    match next_event(&mut rx).await {
        Event::StreamDropped { stream, reason } => assert_eq!((stream.id.as_str(), reason.as_str()), ("str_carol", "forceDisconnectByUser")),
        other => panic!("expected StreamDropped, got {other:?}"),
    }
    match next_event(&mut rx).await {
        Event::ConnectionDropped { connection, reason } => {
            assert_eq!(connection.id(), "con_carol");
            assert_eq!(reason, DisconnectReason::ForceDisconnectedByModerator);
        }
        other => panic!("expected ConnectionDropped, got {other:?}"),
    }
    peer.notify("participantPublished", json!({"id": "con_bob", "createdAt": 1, "metadata": "Bob",
        "streams": [{"id": "str_bob", "hasAudio": true, "hasVideo": false, "typeOfVideo": "SCREEN"}]})).await;
    assert!(matches!(next_event(&mut rx).await, Event::StreamReceived(s) if s.id == "str_bob" && s.connection.id() == "con_bob"));
    peer.notify("participantUnpublished", json!({"connectionId": "con_bob", "reason": "unpublish"})).await;
    assert!(matches!(next_event(&mut rx).await, Event::StreamDropped { stream, reason } if stream.id == "str_bob" && reason == "unpublish"));

    peer.notify("participantEvicted", json!({"connectionId": "con_bob", "reason": "forceDisconnectByUser"})).await;
    peer.notify("participantEvicted", json!({"connectionId": "con_me", "reason": "sessionClosedByServer"})).await;
    assert!(matches!(next_event(&mut rx).await, Event::Disconnected(DisconnectReason::SessionClosed)));
    peer.drop_abruptly();
    expect_no_event(&mut rx, Duration::from_millis(500)).await;
    assert_eq!(session.state(), SessionState::Disconnected);
}

#[tokio::test]
async fn suppressed_connection_events_hide_joins_and_leaves_only() {
    let server = ScriptedServer::start().await;
    let quiet = Settings { connection_events_suppressed: true, ..settings() };
    let (session, mut rx) = Session::new(None, quiet);
    session.connect(&server.token("ses_T")).unwrap();
    let mut peer = server.accept().await;
    peer.accept_join("con_me", json!([bob()])).await;
    assert!(matches!(next_event(&mut rx).await, Event::Connected { .. }));
    peer.notify("participantJoined", json!({"id": "con_dave", "createdAt": 4, "metadata": ""})).await;
    peer.notify("participantLeft", json!({"connectionId": "con_bob", "reason": "disconnect"})).await;
    peer.notify("sendMessage", json!({"type": "signal:t", "data": "d", "from": "con_dave"})).await;
    assert!(matches!(next_event(&mut rx).await, Event::SignalReceived { from: Some(c), .. } if c.id() == "con_dave"));
    let roster: Vec<String> = session.roster().iter().map(|c| c.id().to_string()).collect();
    assert_eq!(roster, ["con_dave"], "the roster is still kept");
}

#[tokio::test]
async fn dropping_every_handle_ends_the_task_quietly_and_closes_the_socket() {
    let server = ScriptedServer::start().await;
    let (session, mut rx, mut peer) = connected(&server, settings(), "PUBLISHER", json!([])).await;
    let clone = session.clone();
    drop(session);
    expect_no_event(&mut rx, Duration::from_millis(200)).await;
    drop(clone);
    assert!(tokio::time::timeout(WAIT, rx.recv()).await.unwrap().is_none(), "no event, then the stream ends");
    peer.closed().await;
}

#[tokio::test]
async fn resume_redials_with_reconnect_presents_the_rpc_session_and_reconciles() {
    let server = ScriptedServer::start().await;
    let (session, mut rx, mut peer) = connected(&server, settings(), "PUBLISHER", json!([bob(), carol_publishing()])).await;
    assert!(matches!(next_event(&mut rx).await, Event::StreamReceived(_)));
    peer.notify("sendMessage", json!({"type": "signal:hi", "data": "", "from": "con_bob"})).await;
    assert!(matches!(next_event(&mut rx).await, Event::SignalReceived { .. }));
    session.send_signal(None, "before", "", SignalOptions::default()).unwrap();
    let before = peer.recv_non_ping().await;
    let before_id = before["id"].as_u64().unwrap();
    peer.drop_abruptly();

    assert!(matches!(next_event(&mut rx).await, Event::ReconnectionStarted));
    assert!(matches!(next_event(&mut rx).await, Event::Error(e) if e.code == ErrorCode::SignalFailed), "pending requests fail");
    assert_eq!(session.state(), SessionState::Reconnecting);
    session.send_signal(None, "queued", "q", SignalOptions::default()).unwrap();
    let no_retry = SignalOptions { retry_after_reconnect: false };
    assert_eq!(session.send_signal(None, "x", "", no_retry).unwrap_err().code, ErrorCode::NotConnected);

    let mut peer = server.accept().await;
    assert_eq!(peer.path, "/openvidu?sessionId=ses_T&reconnect=true");
    let connect = peer.recv_text().await;
    let parsed: Value = serde_json::from_str(&connect).unwrap();
    let connect_id = parsed["id"].as_u64().unwrap();
    assert!(connect_id > before_id, "request ids keep counting across reconnections");
    assert_eq!(
        connect,
        format!(r#"{{"jsonrpc":"2.0","method":"connect","params":{{"sessionId":"rpc-1","reconnect":true,"received":1}},"id":{connect_id}}}"#),
        "the browser's params, plus how many notifications were applied (one signal)"
    );
    peer.reply(&json!(connect_id), json!({"value": "reconnection successful", "sessionId": "rpc-1"})).await;
    // The server replays the outage's backlog right after the connect response.
    peer.notify("participantLeft", json!({"connectionId": "con_bob", "reason": "networkDisconnect"})).await;
    peer.notify("participantJoined", json!({"id": "con_carol", "createdAt": 2, "metadata": "Carol"})).await;
    peer.notify("participantJoined", json!({"id": "con_dave", "createdAt": 5, "metadata": "Dave"})).await;

    // The first ping after the resume carries the interval; its pong marks the end of the backlog.
    let ping = peer.recv().await;
    assert_eq!((ping["method"].clone(), ping["params"].clone()), (json!("ping"), json!({"interval": 5000})));
    peer.reply(&ping["id"], json!({"value": "pong"})).await;

    assert!(matches!(next_event(&mut rx).await,
        Event::ConnectionDropped { connection, reason } if connection.id() == "con_bob" && reason == DisconnectReason::NetworkLost));
    assert!(matches!(next_event(&mut rx).await, Event::ConnectionCreated(c) if c.id() == "con_dave"), "no duplicate for carol");
    assert!(matches!(next_event(&mut rx).await, Event::Reconnected), "the outage's changes come before Reconnected");
    assert_eq!(session.state(), SessionState::Connected);
    let flushed = peer.recv_non_ping().await;
    assert_eq!(flushed["params"]["message"], r#"{"to":[],"data":"q","type":"signal:queued"}"#);
    let roster: Vec<String> = session.roster().iter().map(|c| c.id().to_string()).collect();
    assert_eq!(roster, ["con_carol", "con_dave"]);
    assert_eq!(session.own_connection().unwrap().id(), "con_me");
}

#[tokio::test]
async fn a_refused_resume_ends_with_network_lost() {
    let server = ScriptedServer::start().await;
    let (session, mut rx, peer) = connected(&server, settings(), "PUBLISHER", json!([])).await;
    peer.drop_abruptly();
    assert!(matches!(next_event(&mut rx).await, Event::ReconnectionStarted));
    let mut peer = server.accept().await;
    let connect = peer.recv().await;
    assert_eq!(connect["method"], "connect");
    peer.reply_error(&connect["id"], 40007, "reconnection error").await;
    assert!(matches!(next_event(&mut rx).await, Event::Disconnected(DisconnectReason::NetworkLost)));
    assert_eq!(peer.closed().await, Some(4101));
    assert_eq!(session.state(), SessionState::Disconnected);
}

#[tokio::test]
async fn a_silent_server_is_caught_by_the_ping_timeout_and_the_window_ends_the_session() {
    let server = ScriptedServer::start().await;
    let fast = Settings {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(400),
        reconnection_window: Duration::from_millis(1500),
        connect_timeout: Duration::from_millis(500),
        ..settings()
    };
    let (session, mut rx) = Session::new(None, fast);
    session.connect(&server.token("ses_T")).unwrap();
    let mut peer = server.accept().await;
    peer.accept_join("con_me", json!([])).await;
    assert!(matches!(next_event(&mut rx).await, Event::Connected { .. }));
    // The server keeps the socket open (no FIN) but answers nothing, and never accepts a redial.
    assert!(matches!(next_event(&mut rx).await, Event::ReconnectionStarted));
    session.send_signal(None, "queued", "", SignalOptions::default()).unwrap();
    match next_event(&mut rx).await {
        Event::Error(e) => assert_eq!(e.code, ErrorCode::NotConnected, "the queued signal fails when the session ends"),
        other => panic!("expected Error, got {other:?}"),
    }
    assert!(matches!(next_event(&mut rx).await, Event::Disconnected(DisconnectReason::NetworkLost)));
    assert_eq!(session.state(), SessionState::Disconnected);
    drop(peer);
}

#[tokio::test]
async fn keepalive_pings_repeat_without_params_and_each_gets_a_new_id() {
    let server = ScriptedServer::start().await;
    let (session, mut rx) = Session::new(None, Settings { ping_interval: Duration::from_millis(200), ..settings() });
    session.connect(&server.token("ses_T")).unwrap();
    let mut peer = server.accept().await;
    assert_eq!(peer.recv_text().await, r#"{"jsonrpc":"2.0","method":"ping","params":{"interval":200},"id":0}"#);
    peer.reply(&json!(0), json!({"value": "pong"})).await;
    let join = peer.recv().await;
    peer.reply(&join["id"], join_result("con_me", "PUBLISHER", json!([]))).await;
    assert!(matches!(next_event(&mut rx).await, Event::Connected { .. }));
    let mut last_id = 1;
    for _ in 0..3 {
        let ping = peer.recv_text().await;
        let parsed: Value = serde_json::from_str(&ping).unwrap();
        let id = parsed["id"].as_u64().unwrap();
        assert!(id > last_id, "ids grow: {ping}");
        assert_eq!(ping, format!(r#"{{"jsonrpc":"2.0","method":"ping","id":{id}}}"#));
        peer.reply(&json!(id), json!({"value": "pong"})).await;
        last_id = id;
    }
    expect_no_event(&mut rx, Duration::from_millis(300)).await;
    assert_eq!(session.state(), SessionState::Connected, "answered pings keep the session up");
}

#[tokio::test]
async fn an_unanswered_request_times_out_as_an_error_event_and_the_session_stays_up() {
    let server = ScriptedServer::start().await;
    let quick = Settings { request_timeout: Duration::from_millis(400), ..settings() };
    let (session, mut rx, mut peer) = connected(&server, quick, "MODERATOR", json!([])).await;
    session.send_signal(None, "chat", "unanswered", SignalOptions::default()).unwrap();
    assert_eq!(peer.recv_non_ping().await["method"], "sendMessage");
    match next_event(&mut rx).await {
        Event::Error(e) => assert_eq!(e.code, ErrorCode::TimedOut, "{e}"),
        other => panic!("expected Error, got {other:?}"),
    }
    session.force_disconnect("con_x").unwrap();
    let frame = peer.recv_non_ping().await;
    peer.reply(&frame["id"], json!({})).await;
    expect_no_event(&mut rx, Duration::from_millis(800)).await;
    assert_eq!(session.state(), SessionState::Connected);
}

#[tokio::test]
async fn a_new_connect_starts_request_ids_at_zero_again() {
    let server = ScriptedServer::start().await;
    let (session, mut rx) = Session::new(None, settings());
    session.connect(&server.token("ses_T")).unwrap();
    let mut peer = server.accept().await;
    let join = peer.recv_non_ping().await;
    peer.reply_error(&join["id"], 401, "Token not valid").await;
    assert!(matches!(next_event(&mut rx).await, Event::Error(_)));

    session.connect(&server.token("ses_T")).unwrap();
    let mut peer = server.accept().await;
    assert_eq!(peer.recv().await["id"], 0, "the opening ping of a new connect has id 0");
    assert_eq!(peer.recv().await["id"], 1);
}

#[tokio::test]
async fn a_redial_stuck_in_a_dead_network_does_not_hold_up_the_next_one() {
    let server = ScriptedServer::start().await;
    let patient = Settings {
        connect_timeout: Duration::from_secs(120),
        redial_max_interval: Duration::from_millis(500),
        ..settings()
    };
    let (session, mut rx, peer) = connected(&server, patient, "PUBLISHER", json!([])).await;
    peer.drop_abruptly();
    assert!(matches!(next_event(&mut rx).await, Event::ReconnectionStarted));
    let mut stuck = Vec::new();
    for _ in 0..4 {
        stuck.push(server.accept_and_stall().await);
    }
    // Each next dial starts after a backoff step, long before the stuck ones' 120 s timeout.
    let mut peer = server.accept().await;
    assert_eq!(peer.path, "/openvidu?sessionId=ses_T&reconnect=true");
    let connect = peer.recv().await;
    assert_eq!(connect["method"], "connect");
    peer.reply(&connect["id"], json!({"value": "reconnection successful"})).await;
    let ping = peer.recv().await;
    peer.reply(&ping["id"], json!({"value": "pong"})).await;
    assert!(matches!(next_event(&mut rx).await, Event::Reconnected));
    assert_eq!(session.state(), SessionState::Connected);
}

#[tokio::test]
async fn a_socket_dropped_during_the_leave_still_ends_with_one_client_disconnected() {
    let server = ScriptedServer::start().await;
    let (session, mut rx, mut peer) = connected(&server, settings(), "PUBLISHER", json!([])).await;
    session.disconnect().unwrap();
    assert_eq!(peer.recv_non_ping().await["method"], "leaveRoom");
    peer.drop_abruptly();
    assert!(matches!(next_event(&mut rx).await, Event::Disconnected(DisconnectReason::ClientDisconnected)));
    expect_no_event(&mut rx, Duration::from_millis(500)).await;
    assert_eq!(session.state(), SessionState::Disconnected);
}

#[tokio::test]
async fn a_server_that_is_not_a_websocket_endpoint_is_connection_failed() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = tcp.read(&mut buf).await;
        let _ = tcp.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").await;
        let _ = tcp.shutdown().await;
    });
    let (session, mut rx) = Session::new(None, settings());
    session.connect(&format!("ws://127.0.0.1:{port}?sessionId=s&token=t")).unwrap();
    match next_event(&mut rx).await {
        Event::Error(e) => {
            assert_eq!(e.code, ErrorCode::ConnectionFailed);
            assert!(e.message.contains("404"), "{e}");
        }
        other => panic!("expected Error, got {other:?}"),
    }
    assert_eq!(session.state(), SessionState::Idle);
}

#[tokio::test]
async fn an_oversized_server_message_is_refused_as_a_lost_link_not_buffered() {
    let server = ScriptedServer::start().await;
    // Keepalive far out of reach, so only the size limit can end the link here.
    let quiet = Settings { ping_interval: Duration::from_secs(600), ping_timeout: Duration::from_secs(600), ..settings() };
    let (session, mut rx, mut peer) = connected(&server, quiet, "PUBLISHER", json!([])).await;
    // A hostile server: one notification of 5 MiB, over the client's 4 MiB inbound limit.
    let huge = format!(
        r#"{{"jsonrpc":"2.0","method":"sendMessage","params":{{"type":"signal:x","data":"{}"}}}}"#,
        "x".repeat(5 << 20)
    );
    // The client drops the link while the frame is still arriving: the write may block or fail, so it
    // runs on its own task.
    let writer = tokio::spawn(async move {
        let _ = peer.try_send_text(huge).await;
        peer
    });
    match next_event(&mut rx).await {
        Event::ReconnectionStarted => {}
        other => panic!("the oversized message must end the link, not be delivered: got {:.80}", format!("{other:?}")),
    }
    assert_eq!(session.state(), SessionState::Reconnecting, "the session survives and tries to resume");
    writer.abort();
}
