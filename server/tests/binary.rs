//! The standalone binary: first stdout line, configuration errors, --help.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_otc-server");

#[test]
fn first_stdout_line_announces_the_real_port_and_the_server_answers() {
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0"])
        .env("OPENVIDU_SECRET", "bin-secret")
        .env_remove("OPENVIDU_PUBLICURL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line
        .trim_end()
        .strip_prefix("otc-server listening on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .expect("a port number");
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
        "--listen", "--secret", "OPENVIDU_SECRET", "OPENVIDU_PUBLICURL", "--tls-cert", "--tls-key",
        "--default-ping-interval-ms", "--ping-timeout-factor", "--reconnect-grace-ms", "--close-grace-ms",
        "--session-idle-timeout-ms", "--max-ws-message-bytes", "--max-rest-body-bytes", "--outbound-queue-frames",
        "--backlog-frames", "--ws-read-buffer-bytes", "--ws-write-buffer-bytes", "RUST_LOG",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}
