//! The standalone binary: first stdout line, configuration errors, --help.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_otc-server");

/// Starts the binary as `command` describes (with `--listen 127.0.0.1:0` added) and returns it with the
/// port its first stdout line announces, which must read exactly `otc-server listening on http://127.0.0.1:PORT`.
fn start_on_a_free_port(mut command: Command) -> (Child, u16) {
    let mut child = command
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim_end()
        .strip_prefix("otc-server listening on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .expect("a port number");
    (child, port)
}

#[test]
fn first_stdout_line_announces_the_real_port_and_the_server_answers() {
    let mut command = Command::new(BIN);
    command
        .env("OPENVIDU_SECRET", "bin-secret")
        .env_remove("OPENVIDU_PUBLICURL")
        .stderr(Stdio::null());
    let (mut child, port) = start_on_a_free_port(command);
    assert_ne!(port, 0);
    // A raw HTTP request without credentials gets 401.
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(b"GET /openvidu/api/sessions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_missing_secret_is_a_configuration_error() {
    let output = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("OPENVIDU_SECRET")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--secret"));
}

#[test]
fn help_documents_every_setting() {
    let output = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--listen",
        "--secret",
        "OPENVIDU_SECRET",
        "OPENVIDU_PUBLICURL",
        "--tls-cert",
        "--tls-key",
        "--default-ping-interval-ms",
        "--ping-timeout-factor",
        "--reconnect-grace-ms",
        "--close-grace-ms",
        "--session-idle-timeout-ms",
        "--max-ws-message-bytes",
        "--max-rest-body-bytes",
        "--write-coalesce-ms",
        "--write-coalesce-max-ms",
        "--outbound-queue-frames",
        "--stalled-write-timeout-ms",
        "--backlog-frames",
        "--ws-read-buffer-bytes",
        "--max-signal-data-bytes",
        "--max-signal-type-chars",
        "--max-connections-per-session",
        "--max-sessions",
        "--signal-rate-per-second",
        "--signal-burst",
        "RUST_LOG",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn trace_logging_never_shows_a_token_or_the_secret() {
    use futures_util::{SinkExt, StreamExt};
    use std::io::{Read, Write};
    let mut command = Command::new(BIN);
    command
        .env("OPENVIDU_SECRET", "trace-secret-value")
        .env("RUST_LOG", "trace")
        .stderr(Stdio::piped());
    let (mut child, port) = start_on_a_free_port(command);

    let post = |path: &str, body: &str| -> String {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let auth = "T1BFTlZJRFVBUFA6dHJhY2Utc2VjcmV0LXZhbHVl"; // OPENVIDUAPP:trace-secret-value
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    post("/openvidu/api/sessions", r#"{"customSessionId":"traced"}"#);
    let created = post("/openvidu/api/sessions/traced/connection", "{}");
    let token = created
        .split("\"token\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let secret_part = token.rsplit('=').next().unwrap().to_string();
    assert!(secret_part.starts_with("tok_"));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let url = format!("ws://127.0.0.1:{port}/openvidu?sessionId=traced");
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let join = serde_json::json!({"jsonrpc":"2.0","id":0,"method":"joinRoom",
                                      "params":{"token": token, "session":"traced","metadata":""}});
        ws.send(tokio_tungstenite::tungstenite::Message::text(join.to_string()))
            .await
            .unwrap();
        let reply = ws.next().await.unwrap().unwrap();
        assert!(reply.to_text().unwrap().contains("\"result\""), "joined: {reply:?}");
    });
    child.kill().unwrap();
    let mut log = String::new();
    child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    child.wait().unwrap();
    assert!(log.contains("TRACE") || log.contains("DEBUG"), "trace logging was on");
    assert!(!log.contains(&secret_part), "a token leaked into the log");
    assert!(!log.contains("trace-secret-value"), "the secret leaked into the log");
}

#[test]
fn the_limit_flags_reach_the_server() {
    use base64::Engine;
    use std::io::{Read, Write};
    let mut command = Command::new(BIN);
    command
        .args(["--max-sessions", "1"])
        .env("OPENVIDU_SECRET", "bin-secret")
        .stderr(Stdio::null());
    let (mut child, port) = start_on_a_free_port(command);
    let credentials = base64::engine::general_purpose::STANDARD.encode("OPENVIDUAPP:bin-secret");
    let create_session = || {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let request = format!(
            "POST /openvidu/api/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {credentials}\r\n\
             Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    let first = create_session();
    let second = create_session();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(second.starts_with("HTTP/1.1 429"), "{second}");
}

/// The binary's allocator gives freed memory back from a background thread (`malloc_conf` in
/// main.rs), so the server's RSS follows its live heap instead of its peaks.
#[cfg(target_os = "linux")]
#[test]
fn the_allocator_returns_memory_from_a_background_thread() {
    let mut command = Command::new(BIN);
    command.env("OPENVIDU_SECRET", "bin-secret").env_remove("_RJEM_MALLOC_CONF").stderr(Stdio::null());
    let (mut child, _port) = start_on_a_free_port(command);
    let thread_names = |pid: u32| -> Vec<String> {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|tasks| {
                tasks
                    .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
                    .map(|name| name.trim_end().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut names = thread_names(child.id());
    while !names.iter().any(|n| n == "jemalloc_bg_thd") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        names = thread_names(child.id());
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(names.iter().any(|n| n == "jemalloc_bg_thd"), "threads: {names:?}");
}
