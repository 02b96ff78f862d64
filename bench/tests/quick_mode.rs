//! The harness must not rot: `otc-bench --quick` runs every scenario against otc-server and the
//! baselines, exits 0, and writes the table. Needs otc-server built in the same profile
//! (`cargo build -p otc-server`, done by `cargo test --workspace`) and, for the Socket.IO peer,
//! `npm ci` in bench/peer-socketio (bench/run-quick.sh does both).

use std::path::Path;
use std::process::Command;

fn bench() -> &'static str {
    env!("CARGO_BIN_EXE_otc-bench")
}

#[test]
fn quick_mode_runs_every_scenario_and_writes_the_table() {
    let exe = Path::new(bench());
    let server = exe.with_file_name("otc-server");
    assert!(server.exists(), "{} missing: run `cargo build -p otc-server` (same profile) first", server.display());
    // S6 loads the C library of the same build directory, as a C program would.
    let library = exe.with_file_name("libotc_session.so");
    assert!(library.exists(), "{} missing: run `cargo build --workspace` (same profile) first", library.display());
    let out = std::env::temp_dir().join(format!("otc-bench-quick-{}.md", std::process::id()));
    let mut command = Command::new(exe);
    command.arg("--quick").arg("--out").arg(&out);
    let peer_installed = Path::new(env!("CARGO_MANIFEST_DIR")).join("peer-socketio/node_modules/socket.io").exists();
    if !peer_installed {
        eprintln!("bench/peer-socketio not installed (npm ci): running without the Socket.IO peer");
        command.arg("--no-peer");
    }
    let output = command.output().expect("run otc-bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "otc-bench --quick failed:\n{stderr}");
    let table = std::fs::read_to_string(&out).expect("markdown table written");
    let _ = std::fs::remove_file(&out);
    for scenario in ["S1 N=", "S2 ", "S3 M=", "S4 ", "S5 ", "S6 "] {
        assert!(table.contains(&format!("| {scenario}")), "no {scenario} rows in:\n{table}");
    }
    assert!(table.contains("| ordering violations | 0 |"), "ordering violations must be 0:\n{table}");
}

#[test]
fn bad_arguments_get_usage_and_exit_code_2() {
    for args in [&["--bogus"][..], &[][..], &["--quick", "--only", "S9"][..], &["--full", "--runs", "zero"][..]] {
        let output = Command::new(bench()).args(args).output().expect("run otc-bench");
        assert_eq!(output.status.code(), Some(2), "args {args:?}");
        assert!(String::from_utf8_lossy(&output.stderr).contains("otc-bench"), "args {args:?}");
    }
}

#[test]
fn floor_server_refuses_unknown_arguments() {
    let floor = Path::new(bench()).with_file_name("otc-bench-floor");
    let output = Command::new(floor).arg("--nope").output().expect("run otc-bench-floor");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown argument"));
}
