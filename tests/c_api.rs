//! Runs the C tests in `tests/c/` against an embedded server: each is compiled with
//! `gcc -std=c99 -Wall -Wextra -Werror -fsanitize=address,undefined`, linked against the freshly built
//! `libotc_session.so`, and driven through a line protocol on its stdin/stdout (see
//! `tests/c/common/harness.h`): the C program asks for tokens and server-side actions with
//! `ACTION <verb> <args>` lines and gets `DONE [value]` or `FAIL <why>` back. A test passes when the
//! program exits with 0 and AddressSanitizer / LeakSanitizer / UBSan report nothing.
//!
//! Two of them also run without sanitizers under `valgrind --error-exitcode=1 --leak-check=full`, with
//! definite and indirect leaks as errors. "Possibly lost" blocks are not errors there: at exit, live Rust
//! hash tables and the TLS blocks of threads still running (the library's runtime) are only reachable
//! through interior pointers. LeakSanitizer, in the sanitizer runs, checks every leak kind.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use otc_server::{ConnectionOptions, EmbeddedServer, Role, ServerConfig};
use otc_testkit::FaultProxy;

/// How long one C program may run before it is killed (they wait for events with 20 s timeouts).
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(240);

/// The C tests share the machine's two cores with the server; running them one at a time keeps their
/// keepalive timers honest on a slow machine.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// This test run's private directory (`c-tests/lib-<pid>`), holding a copy of the `libotc_session.so`
/// this very `cargo test` run built, and the compiled C programs.
///
/// Integration tests depend on the library target, and cargo compiles that target with all its crate
/// types (`cdylib`, `staticlib`, `rlib`) in one rustc invocation before running any test, so the cdylib
/// is fresh and sits next to this test's executable (`target/<profile>/deps/`). (`cargo build --lib`
/// from here would build it a second time with other dependency features, and the two builds would
/// keep invalidating each other in the shared target directory.) Checked by hand: touching a source
/// file and running `cargo test --test c_api` rewrites `deps/libotc_session.so`.
fn library_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        let deps = exe.parent().expect("deps directory").to_path_buf();
        let library = deps.join("libotc_session.so");
        assert!(
            library.exists(),
            "{} is missing: cargo test should have built it",
            library.display()
        );
        // A private copy: other builds in the shared target dir may replace deps/ files while C tests run.
        let c_tests = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c-tests");
        remove_copies_of_finished_runs(&c_tests);
        let private = c_tests.join(format!("lib-{}", std::process::id()));
        std::fs::create_dir_all(&private).expect("create the private library directory");
        std::fs::copy(&library, private.join("libotc_session.so")).expect("copy the library");
        private
    })
}

/// Removes the `lib-<pid>` copies left by earlier test processes that are no longer running.
fn remove_copies_of_finished_runs(c_tests: &Path) {
    for entry in std::fs::read_dir(c_tests).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("lib-")
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Checker {
    /// `-fsanitize=address,undefined` (LeakSanitizer included).
    Sanitizers,
    /// No sanitizer; run under `valgrind --error-exitcode=1 --leak-check=full`.
    Valgrind,
}

/// Compiles `tests/c/<name>.c` with the shared helpers; returns the executable.
fn compile(name: &str, checker: Checker) -> PathBuf {
    // Next to this run's private library copy: concurrent runs do not share executables.
    let out_dir = library_dir();
    let suffix = if checker == Checker::Sanitizers {
        "asan"
    } else {
        "plain"
    };
    let exe = out_dir.join(format!("{name}-{suffix}"));
    let tests_c = crate_dir().join("tests/c");
    let lib = library_dir();
    let mut gcc = Command::new("gcc");
    gcc.args([
        "-std=c99",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-g",
        "-O0",
        "-fno-omit-frame-pointer",
    ]);
    if checker == Checker::Sanitizers {
        gcc.args(["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]);
    }
    gcc.arg("-I").arg(crate_dir().join("include"));
    gcc.arg("-I").arg(&tests_c);
    gcc.arg(tests_c.join("common/harness.c"));
    gcc.arg(tests_c.join("common/clients.c"));
    gcc.arg(tests_c.join(format!("{name}.c")));
    gcc.arg("-o").arg(&exe);
    gcc.arg("-L")
        .arg(lib)
        .arg(format!("-Wl,-rpath,{}", lib.display()));
    gcc.args(["-lotc_session", "-lpthread", "-ldl", "-lm"]);
    let output = gcc.output().expect("run gcc");
    assert!(
        output.status.success(),
        "gcc failed for {name}.c:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    exe
}

/// The server side of one C test: an embedded server, the test's session, and a fault proxy in front.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    server: Option<EmbeddedServer>,
    proxy: Option<FaultProxy>,
    session_id: String,
}

impl Fixture {
    fn start(name: &str) -> Fixture {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let server = runtime
            .block_on(EmbeddedServer::start(ServerConfig {
                secret: "c-tests".into(),
                ..ServerConfig::default()
            }))
            .expect("start the embedded server");
        let upstream = server
            .ws_url()
            .trim_start_matches("ws://")
            .parse()
            .expect("server address");
        let proxy = runtime
            .block_on(FaultProxy::start(upstream))
            .expect("start the fault proxy");
        let session_id = format!("ses_c_{name}");
        server
            .create_session(Some(&session_id))
            .expect("create the test session");
        Fixture {
            runtime,
            server: Some(server),
            proxy: Some(proxy),
            session_id,
        }
    }

    fn server(&self) -> &EmbeddedServer {
        self.server.as_ref().expect("server running")
    }

    fn proxy(&self) -> &FaultProxy {
        self.proxy.as_ref().expect("proxy running")
    }

    /// A token for the test session (re-created if it was removed when its last client left).
    fn token(&self, role: &str, data: &str) -> Result<String, String> {
        let role = match role {
            "MODERATOR" => Role::Moderator,
            "SUBSCRIBER" => Role::Subscriber,
            "PUBLISHER" => Role::Publisher,
            other => return Err(format!("unknown role {other}")),
        };
        let data = if data == "-" {
            String::new()
        } else {
            data.to_string()
        };
        let options = || ConnectionOptions {
            role,
            data: data.clone(),
        };
        let connection = match self.server().create_connection(&self.session_id, options()) {
            Ok(connection) => connection,
            Err(_) => {
                let _ = self.server().create_session(Some(&self.session_id));
                self.server()
                    .create_connection(&self.session_id, options())
                    .map_err(|e| format!("{e:?}"))?
            }
        };
        Ok(connection.token)
    }

    /// Performs one `ACTION` line of the C program; `Ok(value)` becomes `DONE value`.
    fn perform(&self, action: &str) -> Result<String, String> {
        let words: Vec<&str> = action.split(' ').collect();
        let server = self.server();
        let proxy = self.proxy();
        match words.as_slice() {
            ["token", role, data] => self.token(role, data),
            ["token_via_proxy", role, data] => {
                let token = self.token(role, data)?;
                let server_authority = server.ws_url().trim_start_matches("ws://").to_string();
                Ok(token.replacen(&server_authority, &proxy.local_addr().to_string(), 1))
            }
            ["force_disconnect", connection_id] => server
                .force_disconnect(&self.session_id, connection_id)
                .map(|_| String::new())
                .map_err(|e| format!("{e:?}")),
            ["close_session"] => server
                .close_session(&self.session_id)
                .map(|_| String::new())
                .map_err(|e| format!("{e:?}")),
            ["signal", kind, data] => server
                .send_signal(&self.session_id, None, kind, data)
                .map(|_| String::new())
                .map_err(|e| format!("{e:?}")),
            ["proxy_blackhole"] => {
                proxy.blackhole();
                Ok(String::new())
            }
            ["proxy_reset"] => {
                proxy.reset();
                Ok(String::new())
            }
            ["proxy_refuse"] => {
                proxy.refuse();
                Ok(String::new())
            }
            ["proxy_wait_server_closed"] => {
                // Waits until the server closed a blackholed connection (its ping watchdog fired).
                let deadline = std::time::Instant::now() + Duration::from_secs(30);
                while proxy.upstream_closures().is_empty() {
                    if std::time::Instant::now() >= deadline {
                        return Err("the server never closed the blackholed connection".into());
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(String::new())
            }
            ["proxy_restore"] => {
                proxy.restore();
                Ok(String::new())
            }
            _ => Err(format!("unknown action: {action}")),
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        drop(self.proxy.take());
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

/// Compiles and runs one C test, serving its actions; panics with its output when it fails.
fn run_c_test(name: &str, checker: Checker) {
    let _serial = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let exe = compile(name, checker);
    let fixture = Fixture::start(name);

    let mut command = if checker == Checker::Valgrind {
        let mut c = Command::new("valgrind");
        c.args([
            "--error-exitcode=1",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect",
            "--quiet",
        ])
        .arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    command
        .env("OTC_SESSION_ID", &fixture.session_id)
        .env(
            "ASAN_OPTIONS",
            "detect_leaks=1:halt_on_error=1:abort_on_error=0",
        )
        .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
    let pid = child.id();
    let finished = Arc::new(Mutex::new(false));
    let watchdog = {
        let finished = finished.clone();
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + PROGRAM_TIMEOUT;
            while std::time::Instant::now() < deadline {
                if *finished.lock().unwrap() {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            // SAFETY: plain kill(2) of the child we started.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            true
        })
    };
    let mut stderr = child.stderr.take().expect("piped stderr");
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let mut stdin = child.stdin.take().expect("piped stdin");
    let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut transcript = String::new();
    for line in stdout.lines() {
        let Ok(line) = line else { break };
        transcript.push_str(&line);
        transcript.push('\n');
        if let Some(action) = line.strip_prefix("ACTION ") {
            let reply = match fixture.perform(action) {
                Ok(value) if value.is_empty() => "DONE".to_string(),
                Ok(value) => format!("DONE {value}"),
                Err(why) => format!("FAIL {why}"),
            };
            transcript.push_str(&format!("<- {reply}\n"));
            if writeln!(stdin, "{reply}")
                .and_then(|_| stdin.flush())
                .is_err()
            {
                break;
            }
        }
    }
    let status = child.wait().expect("wait for the C test");
    *finished.lock().unwrap() = true;
    let killed = watchdog.join().unwrap_or(false);
    let stderr_text = stderr_reader.join().unwrap_or_default();
    drop(fixture);
    assert!(
        status.success() && transcript.lines().any(|l| l == "PASS"),
        "C test {name} failed ({status}{}):\n--- stdout ---\n{transcript}--- stderr ---\n{stderr_text}",
        if killed { ", killed after the timeout" } else { "" }
    );
}

#[test]
fn c_roster_events_semantics_1_to_3() {
    run_c_test("roster_events", Checker::Sanitizers);
}

#[test]
fn c_reconnection_semantic_4() {
    run_c_test("reconnect", Checker::Sanitizers);
}

#[test]
fn c_threading_semantic_5() {
    run_c_test("threading", Checker::Sanitizers);
}

#[test]
fn c_lifetimes_semantic_6() {
    run_c_test("lifetimes", Checker::Sanitizers);
}

#[test]
fn c_errors_semantic_7() {
    run_c_test("errors", Checker::Sanitizers);
}

#[test]
fn c_signals() {
    run_c_test("signals", Checker::Sanitizers);
}

#[test]
fn c_moderation() {
    run_c_test("moderation", Checker::Sanitizers);
}

#[test]
fn c_lifetimes_under_valgrind_semantic_8() {
    run_c_test("lifetimes", Checker::Valgrind);
}

#[test]
fn c_threading_under_valgrind_semantic_8() {
    run_c_test("threading", Checker::Valgrind);
}

/// The C example (`examples/c/join.c`) builds with the same strict flags and works: it joins, echoes a
/// line typed on stdin as a signal (which comes back to it), and leaves on `quit`.
#[test]
fn c_example_join_signals_and_quits() {
    let _serial = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let lib = library_dir();
    let exe = lib.join("join-example");
    let output = Command::new("gcc")
        .args([
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-g",
            "-fsanitize=address,undefined",
        ])
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg(crate_dir().join("examples/c/join.c"))
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(lib)
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .args(["-lotc_session", "-lpthread"])
        .output()
        .expect("run gcc");
    assert!(
        output.status.success(),
        "gcc failed for join.c:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let fixture = Fixture::start("join_example");
    let token = fixture.token("PUBLISHER", "-").expect("token");
    let mut child = Command::new(&exe)
        .arg(&token)
        .arg("example")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the example");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut transcript = String::new();
    let mut wait_for = |needle: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while let Ok(line) =
            lines_rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
        {
            transcript.push_str(&line);
            transcript.push('\n');
            if line.contains(needle) {
                return;
            }
        }
        panic!("the example never printed {needle:?}:\n{transcript}");
    };
    wait_for("connected to ses_c_join_example as con_");
    writeln!(stdin, "hello from the example").expect("type a line");
    wait_for("signal [chat] from con_");
    writeln!(stdin, "quit").expect("type quit");
    wait_for("disconnected: client disconnected");
    drop(stdin);
    let status = child.wait().expect("wait for the example");
    let mut stderr = String::new();
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr);
    assert!(status.success(), "the example failed ({status}):\n{stderr}");
}
