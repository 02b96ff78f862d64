//! The embedding contract: start, URLs, admin calls, shutdown and restart on the same port.

mod common;

use common::*;
use otc_server::{ConnectionOptions, EmbeddedServer, Role, ServerConfig, ServerError, StartError};
use serde_json::json;

#[tokio::test]
async fn urls_secret_and_defaults() {
    let server = EmbeddedServer::start(ServerConfig::default()).await.unwrap();
    let port = server.local_addr().port();
    assert_ne!(port, 0);
    assert_eq!(server.http_url(), format!("http://127.0.0.1:{port}"));
    assert_eq!(server.ws_url(), format!("ws://127.0.0.1:{port}"));
    assert_eq!(server.secret(), "MY_SECRET");
    let options = ConnectionOptions::default();
    assert_eq!((options.role, options.data.as_str()), (Role::Publisher, ""));
    server.shutdown().await;
}

#[tokio::test]
async fn admin_calls_report_errors_as_values() {
    let server = start().await;
    assert_eq!(server.create_session(Some("dup")).unwrap(), "dup");
    assert_eq!(server.create_session(Some("dup")), Err(ServerError::SessionExists));
    assert!(matches!(
        server.create_session(Some("bad id")),
        Err(ServerError::BadRequest(_))
    ));
    assert_eq!(
        server.create_connection("missing", Default::default()).unwrap_err(),
        ServerError::SessionNotFound
    );
    assert_eq!(
        server.force_disconnect("dup", "con_missing"),
        Err(ServerError::ConnectionNotFound)
    );
    assert_eq!(
        server.send_signal("missing", None, "t", "d"),
        Err(ServerError::SessionNotFound)
    );
}

#[tokio::test]
async fn shutdown_drops_every_socket_and_a_new_server_can_take_the_port() {
    let server = start().await;
    let addr = server.local_addr();
    let session = server.create_session(None).unwrap();
    let mut joined = join(&server, &session, "A").await;
    let rpc = joined.rpc_session_id.clone();
    server.shutdown().await;
    assert_eq!(
        joined.client.ended().await,
        Ended::Dropped,
        "clients see the socket drop"
    );

    let again = start_with(ServerConfig {
        listen: addr,
        ..test_config()
    })
    .await;
    assert_eq!(again.local_addr(), addr);
    let mut client = RpcClient::connect(&again).await;
    assert_eq!(
        client
            .error_code("connect", json!({"sessionId": rpc, "reconnect": true}))
            .await,
        40007
    );
    again.shutdown().await;
}

#[test]
fn start_blocking_runs_on_its_own_runtime_thread() {
    let server = EmbeddedServer::start_blocking(test_config()).unwrap();
    let session = server.create_session(Some("blocking")).unwrap();
    let pending = server
        .create_connection(
            &session,
            ConnectionOptions {
                role: Role::Moderator,
                data: "x".into(),
            },
        )
        .unwrap();
    assert!(pending
        .token
        .starts_with(&format!("{}?sessionId=blocking&token=tok_", server.ws_url())));
    let addr = server.local_addr();
    // Talk to it from a separate runtime, like a foreign test harness would.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut client = RpcClient::connect(&server).await;
        let result = client.join(&session, &pending.token, "").await.unwrap();
        assert_eq!(result["role"], "MODERATOR");
        server.send_signal(&session, None, "hello", "world").unwrap();
        assert_eq!(client.expect("sendMessage").await["data"], "world");
    });
    server.shutdown_blocking();
    let restarted = EmbeddedServer::start_blocking(ServerConfig {
        listen: addr,
        ..test_config()
    })
    .unwrap();
    assert_eq!(restarted.local_addr(), addr);
    restarted.shutdown_blocking();
}

#[tokio::test]
async fn start_fails_cleanly_on_a_busy_port_or_bad_tls_material() {
    let server = start().await;
    let busy = EmbeddedServer::start(ServerConfig {
        listen: server.local_addr(),
        ..test_config()
    })
    .await;
    assert!(matches!(busy, Err(StartError::Bind(_))));
    let bad_tls = ServerConfig {
        tls_cert_pem: Some(b"not a certificate".to_vec()),
        tls_key_pem: Some(b"not a key".to_vec()),
        ..test_config()
    };
    assert!(matches!(EmbeddedServer::start(bad_tls).await, Err(StartError::Tls(_))));
    let bad_url = ServerConfig {
        public_url: Some("ftp://nope".into()),
        ..test_config()
    };
    assert!(matches!(
        EmbeddedServer::start(bad_url).await,
        Err(StartError::PublicUrl(_))
    ));
}

#[tokio::test]
async fn tokens_use_the_public_url() {
    let server = start_with(ServerConfig {
        public_url: Some("https://media.example.org:8443/".into()),
        ..test_config()
    })
    .await;
    let session = server.create_session(Some("pub")).unwrap();
    let pending = server.create_connection(&session, Default::default()).unwrap();
    assert!(pending
        .token
        .starts_with("wss://media.example.org:8443?sessionId=pub&token=tok_"));
}
