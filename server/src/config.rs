//! Server configuration: listen address, secret, public URL, TLS material, timers and limits.

use std::net::SocketAddr;
use std::time::Duration;

/// Everything the server needs to run. `Default` gives an ephemeral loopback port, the secret
/// `MY_SECRET`, plain HTTP and the timers of the OpenVidu 2.x reference server.
#[derive(Clone)]
pub struct ServerConfig {
    /// Address to bind (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// REST secret (`OPENVIDUAPP:<secret>` Basic auth).
    pub secret: String,
    /// Public base URL tokens are built from (`https://host:port`); `None` = derived from the bound address.
    pub public_url: Option<String>,
    /// PEM certificate chain; TLS is enabled when both this and `tls_key_pem` are set.
    pub tls_cert_pem: Option<Vec<u8>>,
    /// PEM private key matching `tls_cert_pem`.
    pub tls_key_pem: Option<Vec<u8>>,
    /// Watchdog interval assumed when the client's first ping carries no `interval`.
    pub default_ping_interval: Duration,
    /// The socket is closed when no ping arrived for this many intervals.
    pub ping_timeout_factor: u32,
    /// How long a participant whose socket dropped may resume before it is evicted (`networkDisconnect`).
    pub reconnect_grace: Duration,
    /// How long the server waits for a client to close its socket after `leaveRoom` before closing it.
    pub close_grace: Duration,
    /// Least time between two writes to one busy socket: frames that arrive within it go out together
    /// in one write (a socket idle for longer is written at once). Zero: write as soon as possible.
    pub write_coalesce: Duration,
    /// Most time between two writes of broadcasts to one busy socket: while the runtime falls
    /// behind, the pacing grows from `write_coalesce` up to this (fewer, bigger writes), and shrinks
    /// back once it keeps up ([`crate::outbound::pacer`]). At or below `write_coalesce`: fixed pacing.
    pub write_coalesce_max: Duration,
    /// Sessions nobody is connected to are removed after this long.
    pub session_idle_timeout: Duration,
    /// Largest accepted WebSocket message/frame; bigger ones close the socket with 1009.
    pub max_ws_message_bytes: usize,
    /// Largest accepted REST request body (413 beyond).
    pub max_rest_body_bytes: usize,
    /// Frames queued per socket before a non-reading client is disconnected. Sized for bursts: in a
    /// 5000-member join storm every member is sent ~5000 notifications within seconds. The queue holds
    /// handles to shared frames (~40 bytes each), so a full queue costs ~320 KiB.
    pub outbound_queue_frames: usize,
    /// How long a socket's writer may stay stuck writing one batch while it lags the session's
    /// broadcasts by more than `outbound_queue_frames`, before the client counts as not reading and
    /// is disconnected. A writer that is behind while it waits for the CPU is not cut for it (only
    /// 4 x `outbound_queue_frames` behind: its client reads slower than the session broadcasts).
    /// Zero: cut as soon as such a write is pending.
    pub stalled_write_timeout: Duration,
    /// Notifications kept for a participant whose socket is gone (inside the grace); overflow evicts it.
    pub backlog_frames: usize,
    /// WebSocket read buffer per connection.
    pub ws_read_buffer_bytes: usize,
    /// Largest signal `data`, in bytes (bigger: JSON-RPC error 602, REST 400; nobody receives it).
    pub max_signal_data_bytes: usize,
    /// Longest signal `type`, in characters, not counting the `signal:` prefix clients add on the wire.
    pub max_signal_type_chars: usize,
    /// Connections per session: joined participants, and joined + pending for new tokens
    /// (`joinRoom` beyond: error 10007; REST beyond: 409).
    pub max_connections_per_session: usize,
    /// Sessions per server (REST `POST /sessions` beyond: 429).
    pub max_sessions: usize,
    /// Signals per second one connection may send (`sendMessage`), sustained.
    pub signal_rate_per_second: u32,
    /// Signals one connection may send at once above the sustained rate (token bucket size).
    pub signal_burst: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            secret: "MY_SECRET".to_string(),
            public_url: None,
            tls_cert_pem: None,
            tls_key_pem: None,
            default_ping_interval: Duration::from_secs(20),
            ping_timeout_factor: 3,
            reconnect_grace: Duration::from_secs(10),
            close_grace: Duration::from_secs(10),
            write_coalesce: Duration::from_millis(10),
            write_coalesce_max: Duration::from_secs(1),
            session_idle_timeout: Duration::from_secs(600),
            max_ws_message_bytes: 64 * 1024,
            max_rest_body_bytes: 64 * 1024,
            outbound_queue_frames: 8192,
            stalled_write_timeout: Duration::from_secs(1),
            backlog_frames: 1024,
            ws_read_buffer_bytes: 1024,
            max_signal_data_bytes: 8192,
            max_signal_type_chars: 128,
            max_connections_per_session: 10_000,
            max_sessions: 10_000,
            signal_rate_per_second: 200,
            signal_burst: 200,
        }
    }
}

impl ServerConfig {
    /// True when both TLS PEM inputs are present.
    pub fn tls_enabled(&self) -> bool {
        self.tls_cert_pem.is_some() && self.tls_key_pem.is_some()
    }

    /// How long sent notifications stay replayable for a client on the default ping interval:
    /// its ping watchdog plus the resume grace.
    pub fn default_replay_age(&self) -> Duration {
        self.reconnect_grace + self.default_ping_interval * self.ping_timeout_factor.max(1)
    }
}
