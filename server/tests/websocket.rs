//! The WebSocket layer itself (RFC 6455), as the server speaks it: the opening handshake, the frames
//! it writes on its own (no library write buffer in between), and the control frames it answers.

mod common;

use common::*;
use hyper::{Method, StatusCode};
use otc_server::ServerConfig;
use serde_json::json;

#[tokio::test]
async fn a_ping_frame_is_answered_with_its_own_payload() {
    let server = start().await;
    let mut client = RpcClient::connect(&server).await;
    assert_eq!(client.ws_ping(b"are you there").await.as_deref(), Some(&b"are you there"[..]));
    // The socket still works for JSON-RPC afterwards.
    assert!(client.ping(Some(5000)).await.get("value").is_some());
}

#[tokio::test]
async fn a_close_frame_is_answered_with_the_same_code() {
    let server = start().await;
    let session = server.create_session(None).unwrap();
    let mut joined = join(&server, &session, "Closer").await;
    assert_eq!(joined.client.close_and_read_answer(4104).await, Ended::Closed(Some(4104)));
}

#[tokio::test]
async fn a_plain_http_get_on_the_websocket_path_is_refused_and_says_why() {
    let server = start().await;
    let client = reqwest_like_get(&format!("{}/openvidu?sessionId=x", server.http_url())).await;
    assert_eq!(client.0, StatusCode::BAD_REQUEST);
    assert!(client.1.contains("upgrade") || client.1.contains("Upgrade"), "says what is missing: {}", client.1);
    // The REST API next to it is unaffected.
    assert_eq!(rest(&server, Method::GET, "/sessions", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn messages_of_every_length_form_arrive_whole() {
    // 7-bit, 16-bit and 64-bit payload lengths: 100 B, 10 KB and ~70 KB signals.
    let server = start_with(ServerConfig {
        max_signal_data_bytes: 128 * 1024,
        max_ws_message_bytes: 256 * 1024,
        ..test_config()
    })
    .await;
    let session = server.create_session(None).unwrap();
    let mut sender = join(&server, &session, "Sender").await;
    let mut receiver = join(&server, &session, "Receiver").await;
    sender.client.expect("participantJoined").await;
    for size in [100, 10_000, 70_000] {
        let data = "d".repeat(size);
        let params = json!({"message": json!({"to": [], "data": data, "type": "signal:bulk"}).to_string()});
        sender.client.call("sendMessage", params).await.expect("signal accepted");
        let notification = receiver.client.expect("sendMessage").await;
        assert_eq!(notification["data"].as_str().map(str::len), Some(size), "a {size}-byte signal arrives whole");
        sender.client.expect("sendMessage").await;
    }
}

/// GET without any WebSocket headers: (status, body).
async fn reqwest_like_get(url: &str) -> (StatusCode, String) {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client: Client<_, Empty<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let response = tokio::time::timeout(WAIT, client.get(url.parse().expect("url")))
        .await
        .expect("answer in time")
        .expect("HTTP answer");
    let status = response.status();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}
