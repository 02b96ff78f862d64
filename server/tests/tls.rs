//! TLS: with a certificate and key the server speaks HTTPS/WSS and builds `wss://` tokens.

mod common;

use std::sync::Arc;

use common::*;
use futures_util::{SinkExt, StreamExt};
use otc_server::{EmbeddedServer, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::Connector;

const CERT: &[u8] = include_bytes!("fixtures/test-cert.pem");
const KEY: &[u8] = include_bytes!("fixtures/test-key.pem");

fn client_tls() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(CERT) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

#[tokio::test]
async fn wss_join_works_with_the_configured_certificate() {
    let config = ServerConfig {
        tls_cert_pem: Some(CERT.to_vec()),
        tls_key_pem: Some(KEY.to_vec()),
        ..test_config()
    };
    let server = EmbeddedServer::start(config).await.unwrap();
    assert!(server.http_url().starts_with("https://127.0.0.1:"));
    assert!(server.ws_url().starts_with("wss://127.0.0.1:"));
    let session = server.create_session(Some("secure")).unwrap();
    let pending = server.create_connection(&session, Default::default()).unwrap();
    assert!(pending
        .token
        .starts_with(&format!("{}?sessionId=secure", server.ws_url())));

    let url = format!("{}/openvidu?sessionId=secure", server.ws_url());
    let (mut ws, _) = tokio::time::timeout(
        WAIT,
        tokio_tungstenite::connect_async_tls_with_config(url, None, false, Some(Connector::Rustls(client_tls()))),
    )
    .await
    .unwrap()
    .expect("TLS websocket connects");
    let join = json!({"jsonrpc": "2.0", "id": 0, "method": "joinRoom",
                      "params": {"token": pending.token, "session": session, "metadata": "tls"}});
    ws.send(Message::text(join.to_string())).await.unwrap();
    let reply = loop {
        match tokio::time::timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap() {
            Message::Text(text) => break serde_json::from_str::<Value>(text.as_str()).unwrap(),
            _ => continue,
        }
    };
    assert_eq!(reply["result"]["id"], pending.connection_id.as_str());
    server.shutdown().await;
}
