//! Security properties, end to end against the real server: TLS with a CA generated at test time
//! (trusted through `Settings::extra_ca_pem` or not at all), single-use tokens, moderation refused
//! without the MODERATOR role (by the client and by the server), random-looking ids and tokens, and
//! no token or secret in the server's logs even at `RUST_LOG=trace`.

mod client_support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use client_support::{next_event, wait_for, WAIT};
use futures_util::{SinkExt, StreamExt};
use otc_server::{ConnectionOptions, EmbeddedServer, Role, ServerConfig};
use otc_session::client::{ClientError, ErrorCode, Event, EventReceiver, Session, Settings, SignalOptions};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

// ---------------------------------------------------------------------------------------------
// Helpers

/// A throwaway CA and a server certificate it signed for `localhost` and `127.0.0.1`.
struct TestPki {
    ca_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
}

fn generate_pki() -> TestPki {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "otc-session throwaway test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let mut server_params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    server_params.distinguished_name.push(DnType::CommonName, "localhost");
    let server_cert = server_params.signed_by(&server_key, &ca).unwrap();
    TestPki { ca_pem: ca.pem(), server_cert_pem: server_cert.pem(), server_key_pem: server_key.serialize_pem() }
}

async fn plain_server() -> EmbeddedServer {
    EmbeddedServer::start(ServerConfig { secret: "security-test-secret".into(), ..ServerConfig::default() }).await.unwrap()
}

fn token_for(server: &EmbeddedServer, session_id: &str, role: Role) -> (String, String) {
    let conn = server.create_connection(session_id, ConnectionOptions { role, data: String::new() }).unwrap();
    (conn.token, conn.connection_id)
}

/// Connects and expects `Connected`; returns the session, its events and its connection id.
async fn join(token: &str, settings: Settings) -> (Session, EventReceiver, String) {
    let (session, mut rx) = Session::new(None, settings);
    session.connect(token).unwrap();
    match next_event(&mut rx).await {
        Event::Connected { own } => {
            let id = own.id().to_string();
            (session, rx, id)
        }
        other => panic!("expected Connected, got {other:?}"),
    }
}

/// Connects and expects the attempt to fail: returns the error (there must be no `Connected`).
async fn failed_connect(token: &str, settings: Settings) -> ClientError {
    let (session, mut rx) = Session::new(None, settings);
    session.connect(token).unwrap();
    match next_event(&mut rx).await {
        Event::Error(e) => {
            // Nothing else follows a failed attempt: no Connected, no Disconnected.
            let extra = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await;
            assert!(!matches!(extra, Ok(Some(_))), "no event after a failed connect, got {extra:?}");
            e
        }
        other => panic!("expected Error, got {other:?}"),
    }
}

/// The `token=` query value of a token URL.
fn token_value(token_url: &str) -> &str {
    token_url.split(['?', '&']).find_map(|pair| pair.strip_prefix("token=")).expect("a token= query value")
}

fn is_id(value: &str, prefix: &str, random_len: usize) -> bool {
    value.strip_prefix(prefix).is_some_and(|rest| rest.len() == random_len && rest.chars().all(|c| c.is_ascii_alphanumeric()))
}

// ---------------------------------------------------------------------------------------------
// TLS

#[tokio::test]
async fn wss_connects_when_the_ca_is_trusted_and_fails_clearly_when_it_is_not() {
    let pki = generate_pki();
    let other_ca = generate_pki().ca_pem;
    let server = EmbeddedServer::start(ServerConfig {
        tls_cert_pem: Some(pki.server_cert_pem.clone().into_bytes()),
        tls_key_pem: Some(pki.server_key_pem.clone().into_bytes()),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let sid = server.create_session(None).unwrap();
    let (token, id) = token_for(&server, &sid, Role::Publisher);
    assert!(token.starts_with("wss://"), "a TLS server hands out wss:// tokens: {token}");

    // Not trusted: the platform roots do not know the throwaway CA, nor does an unrelated extra CA.
    for (what, extra_ca_pem) in [("no extra CA", None), ("an unrelated CA", Some(other_ca.into_bytes()))] {
        let error = failed_connect(&token, Settings { extra_ca_pem, ..Settings::default() }).await;
        assert_eq!(error.code, ErrorCode::ConnectionFailed, "{what}: {error}");
        let message = error.message.to_lowercase();
        assert!(message.contains("certificate") || message.contains("tls"), "{what}: the error says why: {error}");
    }

    // Trusted: the same token still works (the failed attempts consumed nothing).
    let trusted = Settings { extra_ca_pem: Some(pki.ca_pem.clone().into_bytes()), ..Settings::default() };
    let (session, mut rx, own_id) = join(&token, trusted.clone()).await;
    assert_eq!(own_id, id);
    session.send_signal(None, "over-tls", "sealed", SignalOptions::default()).unwrap();
    let signal = wait_for(&mut rx, "the own signal over wss", |e| matches!(e, Event::SignalReceived { .. })).await;
    assert!(matches!(signal, Event::SignalReceived { kind, data, .. } if kind == "over-tls" && data == "sealed"));
    session.disconnect().unwrap();
    wait_for(&mut rx, "Disconnected", |e| matches!(e, Event::Disconnected(_))).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_garbage_extra_ca_is_refused_with_a_clear_error() {
    let pki = generate_pki();
    let server = EmbeddedServer::start(ServerConfig {
        tls_cert_pem: Some(pki.server_cert_pem.into_bytes()),
        tls_key_pem: Some(pki.server_key_pem.into_bytes()),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let sid = server.create_session(None).unwrap();
    let (token, _) = token_for(&server, &sid, Role::Publisher);
    let garbage = Settings { extra_ca_pem: Some(b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n".to_vec()), ..Settings::default() };
    let (session, mut rx) = Session::new(None, garbage);
    // Refused either at once (bad parameter) or as the attempt's Error event; never a Connected.
    match session.connect(&token) {
        Err(e) => assert_eq!(e.code, ErrorCode::InvalidParameter, "{e}"),
        Ok(()) => match next_event(&mut rx).await {
            Event::Error(e) => assert!(
                matches!(e.code, ErrorCode::InvalidParameter | ErrorCode::ConnectionFailed),
                "unexpected error for a garbage CA: {e}"
            ),
            other => panic!("expected Error, got {other:?}"),
        },
    }
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Tokens

#[tokio::test]
async fn a_token_is_single_use() {
    let server = plain_server().await;
    let sid = server.create_session(None).unwrap();
    let (token, id) = token_for(&server, &sid, Role::Publisher);
    let (first, mut first_rx, first_id) = join(&token, Settings::default()).await;
    assert_eq!(first_id, id);

    let error = failed_connect(&token, Settings::default()).await;
    assert_eq!(error.code, ErrorCode::AuthorizationFailure, "second join with the same token: {error}");
    assert_eq!(error.code as i32, 1004);

    // Still refused once the first holder has left (someone else keeps the session alive: an empty
    // session is removed, and its tokens with it).
    let (other_token, _) = token_for(&server, &sid, Role::Publisher);
    let (_other, _other_rx, _) = join(&other_token, Settings::default()).await;
    first.disconnect().unwrap();
    wait_for(&mut first_rx, "Disconnected", |e| matches!(e, Event::Disconnected(_))).await;
    let error = failed_connect(&token, Settings::default()).await;
    assert_eq!(error.code, ErrorCode::AuthorizationFailure, "join after the holder left: {error}");
    server.shutdown().await;
}

#[tokio::test]
async fn ids_and_tokens_look_random() {
    let server = plain_server().await;
    let mut session_ids = HashSet::new();
    let mut connection_ids = HashSet::new();
    let mut token_ids = Vec::new();
    for _ in 0..10 {
        let sid = server.create_session(None).unwrap();
        assert!(is_id(&sid, "ses_", 10), "session id {sid}");
        assert!(session_ids.insert(sid.clone()), "session id {sid} repeated");
        for _ in 0..100 {
            let conn = server.create_connection(&sid, ConnectionOptions::default()).unwrap();
            assert!(is_id(&conn.connection_id, "con_", 10), "connection id {}", conn.connection_id);
            assert!(connection_ids.insert(conn.connection_id.clone()), "connection id {} repeated", conn.connection_id);
            let value = token_value(&conn.token).to_string();
            assert!(is_id(&value, "tok_", 16), "token {value}");
            token_ids.push(value);
        }
    }
    let distinct: HashSet<&String> = token_ids.iter().collect();
    assert_eq!(distinct.len(), 1000, "1000 tokens, all distinct");

    // Not a counter or a sorted sequence: consecutive tokens are out of order about half of the time,
    // and the 16 000 random characters use (nearly) the whole alphanumeric alphabet at every position.
    let descents = token_ids.windows(2).filter(|w| w[0] > w[1]).count();
    assert!((300..=700).contains(&descents), "{descents} of 999 consecutive pairs descend");
    for position in 0..16 {
        let symbols: HashSet<u8> = token_ids.iter().map(|t| t.as_bytes()[4 + position]).collect();
        assert!(symbols.len() >= 50, "position {position} uses only {} symbols", symbols.len());
    }
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Moderation

#[tokio::test]
async fn force_disconnect_without_the_moderator_role_is_refused_by_the_client_and_the_server() {
    let server = plain_server().await;
    let sid = server.create_session(None).unwrap();
    let (victim_token, victim_id) = token_for(&server, &sid, Role::Publisher);
    let (victim, mut victim_rx, _) = join(&victim_token, Settings::default()).await;
    let (publisher_token, _) = token_for(&server, &sid, Role::Publisher);
    let (publisher, _publisher_rx, _) = join(&publisher_token, Settings::default()).await;
    wait_for(&mut victim_rx, "the publisher joining", |e| matches!(e, Event::ConnectionCreated(_))).await;

    // Locally: refused at once, nothing sent.
    let refused = publisher.force_disconnect(&victim_id).unwrap_err();
    assert_eq!(refused.code, ErrorCode::UnableToForceDisconnect, "{refused}");

    // At the server: a hand-written forceDisconnect from a joined PUBLISHER socket gets error 401.
    let (raw_token, _) = token_for(&server, &sid, Role::Publisher);
    let url = format!("{}/openvidu?sessionId={sid}", server.ws_url());
    let (mut raw, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let join_frame = json!({"jsonrpc":"2.0","method":"joinRoom","id":0,"params":{"token":raw_token,"session":sid,
        "platform":"raw","sdkVersion":"2.32.2","metadata":"","secret":"","recorder":false,"stt":false}});
    raw.send(Message::text(join_frame.to_string())).await.unwrap();
    let joined = response_to(&mut raw, 0).await;
    assert!(joined.get("result").is_some(), "raw joinRoom succeeds: {joined}");
    let force = json!({"jsonrpc":"2.0","method":"forceDisconnect","id":1,"params":{"connectionId":victim_id}});
    raw.send(Message::text(force.to_string())).await.unwrap();
    let answer = response_to(&mut raw, 1).await;
    assert_eq!(answer["error"]["code"], 401, "forceDisconnect without the role: {answer}");
    assert!(answer.get("result").is_none(), "{answer}");

    // The victim is still in: its own broadcast signal comes back to it.
    victim.send_signal(None, "still-here", "", SignalOptions::default()).unwrap();
    let back = wait_for(&mut victim_rx, "the victim's signal", |e| matches!(e, Event::SignalReceived { .. } | Event::Disconnected(_))).await;
    assert!(matches!(&back, Event::SignalReceived { kind, .. } if kind == "still-here"), "victim still connected, got {back:?}");
    server.shutdown().await;
}

type RawSocket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Reads frames until the response with `id` (skipping notifications); panics after [`WAIT`].
async fn response_to(socket: &mut RawSocket, id: u64) -> Value {
    let read = async {
        while let Some(message) = socket.next().await {
            if let Message::Text(text) = message.unwrap() {
                let value: Value = serde_json::from_str(&text).unwrap();
                if value.get("id").and_then(Value::as_u64) == Some(id) {
                    return value;
                }
            }
        }
        panic!("socket closed before the response to {id}");
    };
    tokio::time::timeout(WAIT, read).await.expect("a response in time")
}

// ---------------------------------------------------------------------------------------------
// Logs

/// The real `otc-server` binary, built if needed.
fn server_binary() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", "otc-server", "--bin", "otc-server"])
        .current_dir(root)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building otc-server");
    let target = std::env::var_os("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| root.join("target"));
    target.join("debug").join("otc-server")
}

/// A running `otc-server` whose stdout and stderr are captured together.
struct LoggedServer {
    child: Child,
    http_url: String,
    log: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl LoggedServer {
    fn start(secret: &str) -> LoggedServer {
        let mut child = Command::new(server_binary())
            .args(["--listen", "127.0.0.1:0"])
            .env("OPENVIDU_SECRET", secret)
            .env("RUST_LOG", "trace")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("otc-server starts");
        let log = Arc::new(Mutex::new(String::new()));
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let http_url = first.trim().rsplit(' ').next().unwrap().to_string();
        assert!(http_url.starts_with("http://127.0.0.1:"), "first stdout line: {first:?}");
        log.lock().unwrap().push_str(&first);
        let stderr = child.stderr.take().unwrap();
        let readers = vec![capture(stdout, log.clone()), capture(stderr, log.clone())];
        LoggedServer { child, http_url, log, readers }
    }

    /// Stops the server (SIGTERM-free: kill) and returns everything it printed.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        let log = self.log.lock().unwrap().clone();
        log
    }
}

fn capture(mut stream: impl Read + Send + 'static, log: Arc<Mutex<String>>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
            log.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    })
}

/// One REST call; returns the status and the JSON body (Null when there is none).
fn rest(method: &str, url: &str, authorization: &str, body: Option<Value>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let result = match (method, body) {
        ("POST", Some(body)) => agent.post(url).header("Authorization", authorization).send_json(body),
        ("GET", _) => agent.get(url).header("Authorization", authorization).call(),
        ("DELETE", _) => agent.delete(url).header("Authorization", authorization).call(),
        other => panic!("unsupported request {other:?}"),
    };
    let mut response = result.expect("an HTTP answer");
    let status = response.status().as_u16();
    let body = response.body_mut().read_json::<Value>().unwrap_or(Value::Null);
    (status, body)
}

fn basic(secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("OPENVIDUAPP:{secret}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_logs_neither_tokens_nor_the_secret_at_trace_level() {
    let secret = "Sup3r-Secret-Value-91f3";
    let server = tokio::task::spawn_blocking(move || LoggedServer::start(secret)).await.unwrap();
    let api = format!("{}/openvidu/api", server.http_url);
    let auth = basic(secret);
    let mut tokens = Vec::new();

    let steps = {
        let (api, auth) = (api.clone(), auth.clone());
        tokio::task::spawn_blocking(move || {
            let (status, session) = rest("POST", &format!("{api}/sessions"), &auth, Some(json!({"customSessionId": ""})));
            assert_eq!(status, 200, "{session}");
            let sid = session["id"].as_str().unwrap().to_string();
            let mut tokens = Vec::new();
            for role in ["MODERATOR", "PUBLISHER", "PUBLISHER"] {
                let (status, conn) =
                    rest("POST", &format!("{api}/sessions/{sid}/connection"), &auth, Some(json!({"role": role, "data": "srv"})));
                assert_eq!(status, 200, "{conn}");
                tokens.push(conn["token"].as_str().unwrap().to_string());
            }
            let (status, legacy) = rest("POST", &format!("{api}/tokens"), &auth, Some(json!({"session": sid})));
            assert_eq!(status, 200, "{legacy}");
            tokens.push(legacy["token"].as_str().unwrap().to_string());
            // Failed auth: wrong secret, a secret-looking guess, no header at all.
            let (status, _) = rest("GET", &format!("{api}/sessions"), &basic("wrong-secret"), None);
            assert_eq!(status, 401);
            let (status, _) = rest("GET", &format!("{api}/sessions"), "Basic !!!not-base64", None);
            assert_eq!(status, 401);
            (sid, tokens)
        })
    };
    let (sid, rest_tokens) = steps.await.unwrap();
    tokens.extend(rest_tokens);

    // Joins: two good ones, a reused token, a made-up token, a token of another session id.
    let (moderator, mut moderator_rx, _) = join(&tokens[0], Settings::default()).await;
    let (publisher, _publisher_rx, publisher_id) = join(&tokens[1], Settings::default()).await;
    let reused = failed_connect(&tokens[1], Settings::default()).await;
    assert_eq!(reused.code, ErrorCode::AuthorizationFailure);
    let made_up = tokens[2].replace(token_value(&tokens[2]), "tok_AAAAAAAAAAAAAAAA");
    assert_eq!(failed_connect(&made_up, Settings::default()).await.code, ErrorCode::AuthorizationFailure);
    publisher.send_signal(None, "chat", "hello", SignalOptions::default()).unwrap();
    wait_for(&mut moderator_rx, "the signal", |e| matches!(e, Event::SignalReceived { .. })).await;
    moderator.force_disconnect(&publisher_id).unwrap();
    wait_for(&mut moderator_rx, "the eviction", |e| matches!(e, Event::ConnectionDropped { .. })).await;
    let (api2, auth2, sid2) = (api.clone(), auth.clone(), sid.clone());
    let listed = tokio::task::spawn_blocking(move || {
        rest("GET", &format!("{api2}/sessions/{sid2}?pendingConnections=true"), &auth2, None)
    })
    .await
    .unwrap();
    assert_eq!(listed.0, 200);
    moderator.disconnect().unwrap();
    wait_for(&mut moderator_rx, "Disconnected", |e| matches!(e, Event::Disconnected(_))).await;

    let log = tokio::task::spawn_blocking(move || server.stop()).await.unwrap();
    // The log really is a trace log of what happened (else the test could not fail).
    assert!(log.contains("TRACE") || log.contains("DEBUG"), "RUST_LOG=trace produced no debug/trace lines:\n{log}");
    assert!(log.contains(&sid), "the session id appears in the log (sanity):\n{log}");
    let mut needles: Vec<(&str, String)> = vec![("the secret", secret.to_string()), ("the Basic credentials", auth["Basic ".len()..].to_string())];
    for token in &tokens {
        needles.push(("a token value", token_value(token).to_string()));
    }
    needles.push(("a refused token value", "tok_AAAAAAAAAAAAAAAA".to_string()));
    let leaks: Vec<String> = log
        .lines()
        .filter_map(|line| needles.iter().find(|(_, needle)| line.contains(needle.as_str())).map(|(what, _)| format!("[{what}] {line}")))
        .collect();
    assert!(leaks.is_empty(), "{} log lines leak credentials:\n{}", leaks.len(), leaks.join("\n"));
}

/// Every line the library hands to the C logger (`otc_log_set_logger_callback`).
static CLIENT_LOG: Mutex<String> = Mutex::new(String::new());

unsafe extern "C" fn collect_client_log(message: *const std::os::raw::c_char) {
    if message.is_null() {
        return;
    }
    // SAFETY: the library passes a valid NUL-terminated string for the duration of the call.
    let line = unsafe { std::ffi::CStr::from_ptr(message) }.to_string_lossy().into_owned();
    let mut log = CLIENT_LOG.lock().unwrap_or_else(|p| p.into_inner());
    log.push_str(&line);
    log.push('\n');
}

#[tokio::test]
async fn the_client_logs_neither_its_token_nor_the_token_secret_at_the_most_verbose_level() {
    otc_session::ffi::otc_log_set_logger_callback(Some(collect_client_log));
    otc_session::ffi::otc_log_enable(100); // OTC_LOG_LEVEL_ALL
    let server = plain_server().await;
    let sid = server.create_session(None).unwrap();
    let (token, _) = token_for(&server, &sid, Role::Moderator);
    let with_secret = format!("{token}&secret=Client-Side-Secret-7d2");
    let (session, mut rx, _) = join(&with_secret, Settings::default()).await;
    session.send_signal(None, "chat", "hi", SignalOptions::default()).unwrap();
    wait_for(&mut rx, "the own signal", |e| matches!(e, Event::SignalReceived { .. })).await;
    session.disconnect().unwrap();
    wait_for(&mut rx, "Disconnected", |e| matches!(e, Event::Disconnected(_))).await;
    // A refused token is not logged either.
    let refused = token.replace(token_value(&token), "tok_BBBBBBBBBBBBBBBB");
    failed_connect(&refused, Settings::default()).await;
    server.shutdown().await;

    let log = CLIENT_LOG.lock().unwrap().clone();
    assert!(log.contains(&sid), "the trace log covers the session (sanity):\n{log}");
    let needles = [token_value(&token), "Client-Side-Secret-7d2", "tok_BBBBBBBBBBBBBBBB"];
    let leaks: Vec<&str> = log.lines().filter(|line| needles.iter().any(|n| line.contains(n))).collect();
    assert!(leaks.is_empty(), "{} client log lines leak credentials:\n{}", leaks.len(), leaks.join("\n"));
}
