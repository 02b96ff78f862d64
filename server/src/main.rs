//! `otc-server` standalone binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use otc_server::{EmbeddedServer, ServerConfig};

/// jemalloc: under churn glibc's malloc and free were a fifth of the server's CPU (bench S5: 4.9k
/// replacements/s achieved of 5,250 offered, 5.1k with jemalloc). mimalloc did as well there but made
/// 5000-member join storms erratic (S1: 5.0-7.8 server CPU-s a run, against 4.6-5.2 with jemalloc and
/// glibc). The library crate leaves the allocator to whoever embeds it.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings (read by jemalloc itself at start; `_RJEM_MALLOC_CONF` in the environment
/// overrides them): a background thread gives freed pages back to the kernel after ~1 s unused,
/// instead of only when the allocator is next called and after 10 s. Under churn the heap swings
/// with the work queued, and with the defaults RSS followed its peaks: bench S5's RSS drift was
/// 16% in one run with the defaults and 4.7% with these, at the same join rate.
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8; 60] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

/// OpenVidu 2.x compatible signaling server: WebSocket JSON-RPC at /openvidu, REST at /openvidu/api
/// (Basic auth OPENVIDUAPP:<secret>). Logs go to stderr, filtered by RUST_LOG (default "info").
/// The first stdout line is "otc-server listening on http(s)://127.0.0.1:PORT".
#[derive(Parser, Debug)]
#[command(name = "otc-server", version)]
struct Cli {
    /// Address to listen on (port 0 = any free port).
    #[arg(long, default_value = "127.0.0.1:4443")]
    listen: SocketAddr,
    /// REST secret (required).
    #[arg(long, env = "OPENVIDU_SECRET", hide_env_values = true)]
    secret: String,
    /// Public URL tokens are built from (http(s)://host:port); default: derived from the listen address.
    #[arg(long, env = "OPENVIDU_PUBLICURL")]
    public_url: Option<String>,
    /// PEM certificate chain; with --tls-key enables HTTPS/WSS.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Watchdog interval (ms) assumed when the client's first ping has no interval.
    #[arg(long, default_value_t = 20_000)]
    default_ping_interval_ms: u64,
    /// The socket is closed after this many ping intervals without a ping.
    #[arg(long, default_value_t = 3)]
    ping_timeout_factor: u32,
    /// Grace (ms) for a participant whose socket dropped to resume before eviction (networkDisconnect).
    #[arg(long, default_value_t = 10_000)]
    reconnect_grace_ms: u64,
    /// Time (ms) the server waits for a client to close its socket after leaveRoom or eviction.
    #[arg(long, default_value_t = 10_000)]
    close_grace_ms: u64,
    /// Least time (ms) between two writes to a busy socket; frames arriving meanwhile share one write.
    #[arg(long, default_value_t = 10)]
    write_coalesce_ms: u64,
    /// Most time (ms) between two writes of broadcasts to a busy socket while the server falls
    /// behind (the pacing adapts between --write-coalesce-ms and this; equal or lower: fixed).
    #[arg(long, default_value_t = 1000)]
    write_coalesce_max_ms: u64,
    /// Sessions nobody is in are removed after this many ms.
    #[arg(long, default_value_t = 600_000)]
    session_idle_timeout_ms: u64,
    /// Largest WebSocket message in bytes (bigger: close 1009).
    #[arg(long, default_value_t = 64 * 1024)]
    max_ws_message_bytes: usize,
    /// Largest REST body in bytes (bigger: 413).
    #[arg(long, default_value_t = 64 * 1024)]
    max_rest_body_bytes: usize,
    /// Frames queued per socket before a client that does not read is disconnected.
    #[arg(long, default_value_t = 8192)]
    outbound_queue_frames: usize,
    /// Time (ms) a socket's writer may stay stuck writing while it lags the session's broadcasts by
    /// more than --outbound-queue-frames, before the client counts as not reading and is
    /// disconnected (0: at once; 4 x --outbound-queue-frames behind, it is cut anyway).
    #[arg(long, default_value_t = 1000)]
    stalled_write_timeout_ms: u64,
    /// Notifications kept per participant while its socket is gone (overflow evicts it).
    #[arg(long, default_value_t = 1024)]
    backlog_frames: usize,
    /// WebSocket read buffer per connection, bytes.
    #[arg(long, default_value_t = 1024)]
    ws_read_buffer_bytes: usize,
    /// Largest signal data in bytes (bigger: sendMessage error 602, REST /signal 400).
    #[arg(long, default_value_t = 8192)]
    max_signal_data_bytes: usize,
    /// Longest signal type in characters, not counting the "signal:" prefix (longer: error 602 / 400).
    #[arg(long, default_value_t = 128)]
    max_signal_type_chars: usize,
    /// Connections per session (joinRoom beyond: error 10007; REST new connection beyond joined + pending: 409).
    #[arg(long, default_value_t = 10_000)]
    max_connections_per_session: usize,
    /// Sessions per server (REST POST /sessions beyond: 429).
    #[arg(long, default_value_t = 10_000)]
    max_sessions: usize,
    /// Signals per second one connection may send, sustained (faster: sendMessage error 603).
    #[arg(long, default_value_t = 200)]
    signal_rate_per_second: u32,
    /// Signals one connection may send at once on top of the sustained rate (token bucket size).
    #[arg(long, default_value_t = 200)]
    signal_burst: u32,
}

impl Cli {
    fn into_config(self) -> Result<ServerConfig, String> {
        let read = |path: &PathBuf| std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()));
        let tls_cert_pem = self.tls_cert.as_ref().map(read).transpose()?;
        let tls_key_pem = self.tls_key.as_ref().map(read).transpose()?;
        if self.secret.is_empty() {
            return Err("the secret must not be empty".into());
        }
        Ok(ServerConfig {
            listen: self.listen,
            secret: self.secret,
            public_url: self.public_url.filter(|u| !u.is_empty()),
            tls_cert_pem,
            tls_key_pem,
            default_ping_interval: Duration::from_millis(self.default_ping_interval_ms.max(1)),
            ping_timeout_factor: self.ping_timeout_factor.max(1),
            reconnect_grace: Duration::from_millis(self.reconnect_grace_ms),
            close_grace: Duration::from_millis(self.close_grace_ms),
            write_coalesce: Duration::from_millis(self.write_coalesce_ms),
            write_coalesce_max: Duration::from_millis(self.write_coalesce_max_ms),
            session_idle_timeout: Duration::from_millis(self.session_idle_timeout_ms),
            max_ws_message_bytes: self.max_ws_message_bytes.max(1024),
            max_rest_body_bytes: self.max_rest_body_bytes.max(1024),
            outbound_queue_frames: self.outbound_queue_frames.max(1),
            stalled_write_timeout: Duration::from_millis(self.stalled_write_timeout_ms),
            backlog_frames: self.backlog_frames,
            ws_read_buffer_bytes: self.ws_read_buffer_bytes.max(512),
            max_signal_data_bytes: self.max_signal_data_bytes,
            max_signal_type_chars: self.max_signal_type_chars,
            max_connections_per_session: self.max_connections_per_session,
            max_sessions: self.max_sessions,
            signal_rate_per_second: self.signal_rate_per_second,
            signal_burst: self.signal_burst.max(1),
        })
    }
}

fn main() -> std::process::ExitCode {
    init_logging();
    let config = match Cli::parse().into_config() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("otc-server: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    prepare_descriptors();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("otc-server: tokio runtime: {error}");
            return std::process::ExitCode::from(1);
        }
    };
    runtime.block_on(serve(config))
}

/// Raises the open-file limit and sizes the descriptor table for it, before the runtime's threads
/// exist (see [`otc_server::process::reserve_fd_table`]). A failure is logged: the server still runs.
fn prepare_descriptors() {
    match otc_server::process::prepare_descriptors() {
        Ok((limit, slots)) => tracing::info!(open_file_limit = limit, reserved_slots = slots, "descriptor table sized"),
        Err(error) => tracing::warn!(%error, "could not raise the open-file limit or size the descriptor table"),
    }
}

async fn serve(config: ServerConfig) -> std::process::ExitCode {
    let server = match EmbeddedServer::start(config).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("otc-server: {error}");
            return std::process::ExitCode::from(1);
        }
    };
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "otc-server listening on {}", server.http_url());
        let _ = out.flush();
    }
    wait_for_stop_signal().await;
    tracing::info!("stopping");
    server.shutdown().await;
    std::process::ExitCode::SUCCESS
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`). Whatever `RUST_LOG` says, the WebSocket
/// libraries' TRACE events are dropped: they print whole frames, and `joinRoom` frames carry tokens.
fn init_logging() {
    use tracing_subscriber::prelude::*;
    let env_filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // The hint matters for speed: without it the subscriber reports TRACE as its most verbose level,
    // and every `log` record of the WebSocket libraries is then formatted into a tracing event
    // only to be dropped (4% of the server's CPU in a join storm).
    let most_verbose = env_filter.max_level_hint().unwrap_or(tracing::level_filters::LevelFilter::TRACE);
    let no_frame_dumps = tracing_subscriber::filter::filter_fn(|meta| {
        !(*meta.level() == tracing::Level::TRACE && logs_frame_contents(meta.target()))
    })
    .with_max_level_hint(most_verbose);
    let output = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(env_filter)
        .with_filter(no_frame_dumps);
    tracing_subscriber::registry().with(output).init();
}

/// Targets whose TRACE output contains raw WebSocket frames.
fn logs_frame_contents(target: &str) -> bool {
    ["tungstenite", "tokio_tungstenite", "axum::extract::ws"]
        .iter()
        .any(|prefix| target == *prefix || target.strip_prefix(prefix).is_some_and(|rest| rest.starts_with("::")))
}

async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
