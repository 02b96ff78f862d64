//! The protocol client against the real embedded server: connect ordering and roster, signals,
//! moderation and its errors, failed connects, disconnects of every kind, and a resume through a
//! real network cut (a proxy that cuts one client and refuses its redials for a while).

mod client_support;

use std::net::SocketAddr;
use std::time::Duration;

use client_support::*;
use otc_server::{ConnectionOptions, EmbeddedServer, ServerConfig};
use otc_session::client::*;

async fn server() -> EmbeddedServer {
    EmbeddedServer::start(ServerConfig { secret: "s".into(), ..ServerConfig::default() }).await.unwrap()
}

fn token(server: &EmbeddedServer, session_id: &str, role: otc_server::Role, data: &str) -> (String, String) {
    let conn = server.create_connection(session_id, ConnectionOptions { role, data: data.into() }).unwrap();
    (conn.token, conn.connection_id)
}

fn named(client_data: &str) -> Settings {
    Settings { client_data: client_data.into(), ..Settings::default() }
}

/// Connects and waits for `Connected`; returns the session, its events and its connection id.
async fn join(server: &EmbeddedServer, session_id: &str, role: otc_server::Role, name: &str) -> (Session, EventReceiver, String) {
    let (tok, id) = token(server, session_id, role, &format!("srv-{name}"));
    let (session, mut rx) = Session::new(Some(session_id.to_string()), named(name));
    session.connect(&tok).unwrap();
    match next_event(&mut rx).await {
        Event::Connected { own } => assert_eq!(own.id(), id),
        other => panic!("{name}: expected Connected, got {other:?}"),
    }
    (session, rx, id)
}

async fn created(rx: &mut EventReceiver) -> std::sync::Arc<Connection> {
    match next_event(rx).await {
        Event::ConnectionCreated(c) => c,
        other => panic!("expected ConnectionCreated, got {other:?}"),
    }
}

async fn dropped(rx: &mut EventReceiver) -> (String, DisconnectReason) {
    match next_event(rx).await {
        Event::ConnectionDropped { connection, reason } => (connection.id().to_string(), reason),
        other => panic!("expected ConnectionDropped, got {other:?}"),
    }
}

async fn error_code(rx: &mut EventReceiver) -> ErrorCode {
    match next_event(rx).await {
        Event::Error(e) => e.code,
        other => panic!("expected Error, got {other:?}"),
    }
}

#[tokio::test]
async fn joins_are_reported_in_order_with_metadata_and_never_for_oneself() {
    let server = server().await;
    let sid = server.create_session(None).unwrap();
    let (alice, mut alice_rx, alice_id) = join(&server, &sid, otc_server::Role::Publisher, "Alice").await;
    let own = alice.own_connection().unwrap();
    assert_eq!((own.client_data(), own.server_data()), ("Alice", "srv-Alice"));
    assert_eq!(own.data(), "Alice%/%srv-Alice");
    assert_eq!(alice.session_id().as_deref(), Some(sid.as_str()));

    let (bob, mut bob_rx, bob_id) = join(&server, &sid, otc_server::Role::Publisher, "Bob").await;
    let seen_by_bob = created(&mut bob_rx).await;
    assert_eq!(seen_by_bob.id(), alice_id);
    assert_eq!(seen_by_bob.client_data(), "Alice");
    let seen_by_alice = created(&mut alice_rx).await;
    assert_eq!(seen_by_alice.id(), bob_id);
    assert_eq!((seen_by_alice.client_data(), seen_by_alice.server_data()), ("Bob", "srv-Bob"));

    let (_carol, mut carol_rx, carol_id) = join(&server, &sid, otc_server::Role::Subscriber, "Carol").await;
    let order: Vec<String> = vec![created(&mut carol_rx).await.id().to_string(), created(&mut carol_rx).await.id().to_string()];
    assert_eq!(order, [alice_id.clone(), bob_id.clone()], "the existing roster in join order");
    assert_eq!(created(&mut alice_rx).await.id(), carol_id);
    let roster: Vec<String> = alice.roster().iter().map(|c| c.id().to_string()).collect();
    assert_eq!(roster, [bob_id.clone(), carol_id.clone()]);
    assert_eq!(created(&mut bob_rx).await.id(), carol_id);
    assert_eq!(bob.roster().len(), 2);
    assert!(!_carol.capabilities().publish && _carol.capabilities().subscribe);
    expect_no_event(&mut alice_rx, Duration::from_millis(200)).await;
}

#[tokio::test]
async fn signals_reach_everyone_including_the_sender_or_one_connection() {
    let server = server().await;
    let sid = server.create_session(None).unwrap();
    let (alice, mut alice_rx, alice_id) = join(&server, &sid, otc_server::Role::Publisher, "Alice").await;
    let (bob, mut bob_rx, bob_id) = join(&server, &sid, otc_server::Role::Publisher, "Bob").await;
    created(&mut bob_rx).await;
    created(&mut alice_rx).await;

    alice.send_signal(None, "chat", "hello all", SignalOptions::default()).unwrap();
    for rx in [&mut alice_rx, &mut bob_rx] {
        match next_event(rx).await {
            Event::SignalReceived { kind, data, from } => {
                assert_eq!((kind.as_str(), data.as_str()), ("chat", "hello all"));
                assert_eq!(from.unwrap().id(), alice_id);
            }
            other => panic!("expected SignalReceived, got {other:?}"),
        }
    }
    bob.send_signal(Some(&alice_id), "dm", "just you", SignalOptions::default()).unwrap();
    match next_event(&mut alice_rx).await {
        Event::SignalReceived { kind, from, .. } => assert_eq!((kind.as_str(), from.unwrap().id().to_string()), ("dm", bob_id.clone())),
        other => panic!("expected SignalReceived, got {other:?}"),
    }
    expect_no_event(&mut bob_rx, Duration::from_millis(300)).await;

    server.send_signal(&sid, None, "news", "from the server").unwrap();
    for rx in [&mut alice_rx, &mut bob_rx] {
        match next_event(rx).await {
            Event::SignalReceived { kind, data, from } => {
                assert_eq!((kind.as_str(), data.as_str(), from), ("news", "from the server", None))
            }
            other => panic!("expected SignalReceived, got {other:?}"),
        }
    }

    alice.send_signal(Some("con_nobody"), "chat", "lost", SignalOptions::default()).unwrap();
    assert_eq!(error_code(&mut alice_rx).await, ErrorCode::SignalFailed);
    assert_eq!(alice.send_signal(None, "chat", &"x".repeat(8193), SignalOptions::default()).unwrap_err().code, ErrorCode::SignalDataTooLong);
    expect_no_event(&mut bob_rx, Duration::from_millis(300)).await;
}

#[tokio::test]
async fn moderators_force_others_out_and_refusals_become_errors() {
    let server = server().await;
    let sid = server.create_session(None).unwrap();
    let (moderator, mut mod_rx, mod_id) = join(&server, &sid, otc_server::Role::Moderator, "Mod").await;
    let (bob, mut bob_rx, bob_id) = join(&server, &sid, otc_server::Role::Publisher, "Bob").await;
    created(&mut bob_rx).await;
    created(&mut mod_rx).await;

    assert_eq!(bob.force_disconnect(&mod_id).unwrap_err().code, ErrorCode::UnableToForceDisconnect);
    assert_eq!(bob.force_unpublish("str_x").unwrap_err().code, ErrorCode::ForceUnpublishOrInvalidStream);

    moderator.force_disconnect("con_nobody").unwrap();
    assert_eq!(error_code(&mut mod_rx).await, ErrorCode::UnableToForceDisconnect);
    moderator.force_unpublish("str_nobody").unwrap();
    assert_eq!(error_code(&mut mod_rx).await, ErrorCode::ForceUnpublishOrInvalidStream);

    moderator.force_disconnect(&bob_id).unwrap();
    assert!(matches!(next_event(&mut bob_rx).await, Event::Disconnected(DisconnectReason::ForceDisconnectedByModerator)));
    assert_eq!(dropped(&mut mod_rx).await, (bob_id, DisconnectReason::ForceDisconnectedByModerator));
    assert_eq!(bob.state(), SessionState::Disconnected);
    expect_no_event(&mut bob_rx, Duration::from_millis(500)).await;
}

#[tokio::test]
async fn failed_connects_report_the_upstream_codes_and_go_back_to_idle() {
    let server = server().await;
    let sid = server.create_session(None).unwrap();
    let (tok, _) = token(&server, &sid, otc_server::Role::Publisher, "");
    let (first, mut first_rx) = Session::new(None, Settings::default());
    first.connect(&tok).unwrap();
    assert!(matches!(next_event(&mut first_rx).await, Event::Connected { .. }));

    let (again, mut again_rx) = Session::new(None, Settings::default());
    again.connect(&tok).unwrap();
    assert_eq!(error_code(&mut again_rx).await, ErrorCode::AuthorizationFailure, "tokens are single use");
    assert_eq!(again.state(), SessionState::Idle);

    let ws = server.ws_url();
    let port = ws.rsplit(':').next().unwrap();
    again.connect(&format!("ws://127.0.0.1:{port}?sessionId=ses_doesnotexist&token=tok_0000000000000000")).unwrap();
    assert_eq!(error_code(&mut again_rx).await, ErrorCode::InvalidSession);
    assert_eq!(again.state(), SessionState::Idle);
    expect_no_event(&mut again_rx, Duration::from_millis(300)).await;

    let (other, _) = Session::new(Some("ses_expected".into()), Settings::default());
    assert_eq!(other.connect(&tok).unwrap_err().code, ErrorCode::InvalidParameter, "token for another session");
    assert_eq!(other.connect("http://nope").unwrap_err().code, ErrorCode::InvalidParameter);
    assert_eq!(other.state(), SessionState::Idle);
}

#[tokio::test]
async fn every_way_out_ends_with_one_disconnected_with_its_reason() {
    let server = server().await;
    let sid = server.create_session(None).unwrap();
    let (alice, mut alice_rx, alice_id) = join(&server, &sid, otc_server::Role::Publisher, "Alice").await;
    let (_bob, mut bob_rx, bob_id) = join(&server, &sid, otc_server::Role::Publisher, "Bob").await;
    let (_carol, mut carol_rx, _) = join(&server, &sid, otc_server::Role::Publisher, "Carol").await;
    for rx in [&mut alice_rx, &mut bob_rx, &mut carol_rx] {
        for _ in 0..2 {
            created(rx).await;
        }
    }

    alice.disconnect().unwrap();
    assert!(matches!(next_event(&mut alice_rx).await, Event::Disconnected(DisconnectReason::ClientDisconnected)));
    assert_eq!(dropped(&mut bob_rx).await, (alice_id.clone(), DisconnectReason::ClientDisconnected));
    assert_eq!(dropped(&mut carol_rx).await, (alice_id, DisconnectReason::ClientDisconnected));

    server.force_disconnect(&sid, &bob_id).unwrap();
    assert!(matches!(next_event(&mut bob_rx).await, Event::Disconnected(DisconnectReason::ForceDisconnectedByServer)));
    assert_eq!(dropped(&mut carol_rx).await, (bob_id, DisconnectReason::ForceDisconnectedByServer));

    server.close_session(&sid).unwrap();
    assert!(matches!(next_event(&mut carol_rx).await, Event::Disconnected(DisconnectReason::SessionClosed)));
    for rx in [&mut alice_rx, &mut bob_rx, &mut carol_rx] {
        expect_no_event(rx, Duration::from_millis(300)).await;
    }
}

/// A free loopback port (bound and released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn a_network_cut_is_resumed_and_the_outage_changes_arrive_before_reconnected() {
    let proxy_port = free_port();
    let server = EmbeddedServer::start(ServerConfig {
        secret: "s".into(),
        public_url: Some(format!("http://127.0.0.1:{proxy_port}")),
        reconnect_grace: Duration::from_secs(30),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let upstream: SocketAddr = server.local_addr();
    let proxy = client_support::proxy::CuttableProxy::start(SocketAddr::from(([127, 0, 0, 1], proxy_port)), upstream).await;
    let sid = server.create_session(None).unwrap();

    let (cut_tok, cut_id) = token(&server, &sid, otc_server::Role::Publisher, "");
    let fast = Settings {
        ping_interval: Duration::from_millis(500),
        ping_timeout: Duration::from_millis(1000),
        redial_max_interval: Duration::from_millis(500),
        ..named("Cut")
    };
    let (cut, mut cut_rx) = Session::new(None, fast);
    cut.connect(&cut_tok).unwrap();
    assert!(matches!(next_event(&mut cut_rx).await, Event::Connected { .. }));

    // Bob goes through the proxy too, but only the first connection (the cut client's) is cut.
    let (bob_tok, bob_id) = token(&server, &sid, otc_server::Role::Publisher, "");
    let (bob, mut bob_rx) = Session::new(None, named("Bob"));
    bob.connect(&bob_tok).unwrap();
    assert!(matches!(next_event(&mut bob_rx).await, Event::Connected { .. }));
    assert_eq!(created(&mut cut_rx).await.id(), bob_id);

    proxy.cut(0);
    wait_for(&mut cut_rx, "ReconnectionStarted", |e| matches!(e, Event::ReconnectionStarted)).await;
    assert_eq!(cut.state(), SessionState::Reconnecting);
    cut.send_signal(None, "queued", "sent during the outage", SignalOptions::default()).unwrap();

    // While the cut client is away: Bob leaves, Dave joins and signals.
    bob.disconnect().unwrap();
    wait_for(&mut bob_rx, "Bob's Disconnected", |e| matches!(e, Event::Disconnected(DisconnectReason::ClientDisconnected))).await;
    let (dave, mut dave_rx, dave_id) = join(&server, &sid, otc_server::Role::Publisher, "Dave").await;
    assert_eq!(created(&mut dave_rx).await.id(), cut_id, "the cut client is still in the session");
    dave.send_signal(Some(&cut_id), "hello", "while away", SignalOptions::default()).unwrap();

    proxy.heal();
    let mut during = Vec::new();
    loop {
        match next_event(&mut cut_rx).await {
            Event::Reconnected => break,
            other => during.push(other),
        }
    }
    assert!(matches!(&during[0], Event::ConnectionDropped { connection, reason } if connection.id() == bob_id && *reason == DisconnectReason::ClientDisconnected), "{during:?}");
    assert!(matches!(&during[1], Event::ConnectionCreated(c) if c.id() == dave_id), "{during:?}");
    assert!(matches!(&during[2], Event::SignalReceived { kind, .. } if kind == "hello"), "{during:?}");
    assert_eq!(cut.state(), SessionState::Connected);
    assert_eq!(cut.own_connection().unwrap().id(), cut_id, "same connection after the resume");
    let roster: Vec<String> = cut.roster().iter().map(|c| c.id().to_string()).collect();
    assert_eq!(roster, [dave_id]);

    // The signal queued during the outage goes out after the resume.
    match next_event(&mut dave_rx).await {
        Event::SignalReceived { kind, data, from } => {
            assert_eq!((kind.as_str(), data.as_str()), ("queued", "sent during the outage"));
            assert_eq!(from.unwrap().id(), cut_id);
        }
        other => panic!("expected the queued signal, got {other:?}"),
    }
    assert!(matches!(next_event(&mut cut_rx).await, Event::SignalReceived { kind, .. } if kind == "queued"), "a broadcast reaches its sender too");
    cut.disconnect().unwrap();
    assert!(matches!(next_event(&mut cut_rx).await, Event::Disconnected(DisconnectReason::ClientDisconnected)));
}

#[tokio::test]
async fn wss_is_trusted_through_the_extra_ca_and_refused_without_it() {
    let server = EmbeddedServer::start(ServerConfig {
        secret: "s".into(),
        tls_cert_pem: Some(include_bytes!("client_support/tls/localhost.pem").to_vec()),
        tls_key_pem: Some(include_bytes!("client_support/tls/localhost-key.pem").to_vec()),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let sid = server.create_session(None).unwrap();

    let (tok, _) = token(&server, &sid, otc_server::Role::Publisher, "");
    assert!(tok.starts_with("wss://"), "{tok}");
    let (untrusting, mut untrusting_rx) = Session::new(None, Settings::default());
    untrusting.connect(&tok).unwrap();
    assert_eq!(error_code(&mut untrusting_rx).await, ErrorCode::ConnectionFailed, "an unknown CA is refused");

    let trusting_settings = Settings { extra_ca_pem: Some(include_bytes!("client_support/tls/ca.pem").to_vec()), ..Settings::default() };
    let (trusting, mut trusting_rx) = Session::new(None, trusting_settings);
    trusting.connect(&tok).unwrap();
    assert!(matches!(next_event(&mut trusting_rx).await, Event::Connected { .. }));
    trusting.send_signal(None, "over-tls", "ok", SignalOptions::default()).unwrap();
    assert!(matches!(next_event(&mut trusting_rx).await, Event::SignalReceived { kind, .. } if kind == "over-tls"));
    trusting.disconnect().unwrap();
    assert!(matches!(next_event(&mut trusting_rx).await, Event::Disconnected(DisconnectReason::ClientDisconnected)));

    let (bad_pem, _) = Session::new(None, Settings { extra_ca_pem: Some(b"garbage".to_vec()), ..Settings::default() });
    assert_eq!(bad_pem.connect(&tok).unwrap_err().code, ErrorCode::InvalidParameter);
}

#[test]
fn the_api_works_from_plain_threads_without_any_runtime() {
    let server = EmbeddedServer::start_blocking(ServerConfig { secret: "s".into(), ..ServerConfig::default() }).unwrap();
    let sid = server.create_session(None).unwrap();
    let (tok, id) = token(&server, &sid, otc_server::Role::Publisher, "");
    let (session, mut rx) = Session::new(None, Settings::default());
    let (events_tx, events) = std::sync::mpsc::channel();
    let pump = std::thread::spawn(move || {
        while let Some(event) = rx.blocking_recv() {
            if events_tx.send(event).is_err() {
                break;
            }
        }
    });
    session.connect(&tok).unwrap();
    match events.recv_timeout(WAIT).unwrap() {
        Event::Connected { own } => assert_eq!(own.id(), id),
        other => panic!("expected Connected, got {other:?}"),
    }
    session.disconnect().unwrap();
    assert!(matches!(events.recv_timeout(WAIT).unwrap(), Event::Disconnected(DisconnectReason::ClientDisconnected)));
    drop(session);
    pump.join().unwrap();
    server.shutdown_blocking();
}
