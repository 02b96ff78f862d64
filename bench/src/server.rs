//! Starting a server under test as its own process (ours, the floor baseline, the Socket.IO peer),
//! pinned to the server core, and learning its address from its first stdout line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::system::Placement;

/// Which server a scenario runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    /// otc-server (crate otc-server).
    Ours,
    /// otc-bench-floor: same WebSocket stack, no session logic.
    Floor,
    /// bench/peer-socketio/server.js (Socket.IO 4.8).
    SocketIo,
}

impl ServerKind {
    /// Short name for tables and logs.
    pub fn label(self) -> &'static str {
        match self {
            ServerKind::Ours => "otc-server",
            ServerKind::Floor => "floor",
            ServerKind::SocketIo => "socket.io",
        }
    }
}

/// REST secret given to otc-server.
pub const SECRET: &str = "bench-secret";

/// A running server process; killed when dropped. Its stderr goes to a log file in the temp
/// directory, filtered by `RUST_LOG` = `$OTC_BENCH_SERVER_LOG` (default `warn`).
pub struct ServerProcess {
    child: Child,
    /// Process id (for /proc readings).
    pub pid: u32,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Which server this is.
    pub kind: ServerKind,
    /// Its stderr log file.
    pub log: PathBuf,
}

/// Directory of the running otc-bench binary (the other binaries are built next to it).
fn binary_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    exe.parent().map(PathBuf::from).ok_or_else(|| "otc-bench has no parent directory".to_string())
}

/// bench/ (for the Node peer's scripts).
pub fn bench_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn program(kind: ServerKind) -> Result<(PathBuf, Vec<String>), String> {
    match kind {
        ServerKind::Ours | ServerKind::Floor => {
            let name = if kind == ServerKind::Ours { "otc-server" } else { "otc-bench-floor" };
            let path = binary_dir()?.join(name);
            if !path.exists() {
                return Err(format!("{} not found: build it with `cargo build --release -p otc-server -p otc-bench`", path.display()));
            }
            let mut args = vec!["--listen".to_string(), "127.0.0.1:0".to_string()];
            if kind == ServerKind::Ours {
                // Tuning experiments: extra otc-server options, e.g. `--write-coalesce-ms 8`.
                if let Ok(extra) = std::env::var("OTC_BENCH_SERVER_ARGS") {
                    args.extend(extra.split_whitespace().map(String::from));
                }
            }
            Ok((path, args))
        }
        ServerKind::SocketIo => {
            let script = bench_dir().join("peer-socketio").join("server.js");
            if !bench_dir().join("peer-socketio/node_modules/socket.io").exists() {
                return Err("bench/peer-socketio/node_modules missing: run `npm ci` in bench/peer-socketio".into());
            }
            Ok((PathBuf::from("node"), vec![script.display().to_string()]))
        }
    }
}

impl ServerProcess {
    /// Starts `kind` with extra arguments, pinned per `placement`, and waits for its listening line.
    pub async fn start(kind: ServerKind, extra_args: &[String], placement: Placement) -> Result<ServerProcess, String> {
        let (path, mut args) = program(kind)?;
        args.extend(extra_args.iter().cloned());
        let mut command = match placement.server_cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(&path);
                c
            }
            None => Command::new(&path),
        };
        static STARTS: AtomicUsize = AtomicUsize::new(0);
        let start = STARTS.fetch_add(1, Ordering::Relaxed);
        let log = std::env::temp_dir().join(format!("otc-bench-{}-{}-{start}.log", kind.label(), std::process::id()));
        let log_file = std::fs::File::create(&log).map_err(|e| format!("create {}: {e}", log.display()))?;
        command
            .args(&args)
            .env("OPENVIDU_SECRET", SECRET)
            .env("RUST_LOG", std::env::var("OTC_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| format!("start {}: {e}", path.display()))?;
        let pid = child.id().ok_or("server exited at once")?;
        let stdout = child.stdout.take().ok_or("no server stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .map_err(|_| format!("{} printed no listening line within 20 s (log: {})", kind.label(), log.display()))?
            .map_err(|e| format!("read {} stdout: {e}", kind.label()))?
            .ok_or_else(|| format!("{} exited before listening (log: {})", kind.label(), log.display()))?;
        let addr = parse_listening_line(&first).ok_or_else(|| format!("unexpected first line from {}: {first:?}", kind.label()))?;
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(ServerProcess { child, pid, addr, kind, log })
    }

    /// True while the process is running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops the process and waits for it.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

/// `<name> listening on http://HOST:PORT` -> the address.
pub fn parse_listening_line(line: &str) -> Option<SocketAddr> {
    let url = line.split(" listening on ").nth(1)?.trim();
    let host_port = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"))?;
    host_port.trim_end_matches('/').parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_line_gives_the_address() {
        assert_eq!(parse_listening_line("otc-server listening on http://127.0.0.1:4321"), Some("127.0.0.1:4321".parse().unwrap()));
        assert_eq!(parse_listening_line("socket.io listening on http://127.0.0.1:80/"), Some("127.0.0.1:80".parse().unwrap()));
        assert_eq!(parse_listening_line("hello"), None);
        assert_eq!(parse_listening_line("x listening on http://nohost"), None);
    }
}
