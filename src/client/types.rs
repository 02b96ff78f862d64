//! Plain data types of the client: settings, roster entries, events, reasons and errors.
//!
//! Nothing here knows about C: the FFI layer (`crate::ffi`) maps these to C types.

use std::sync::Arc;
use std::time::Duration;

/// Tunables of one session. `Default` gives the timers of openvidu-browser 2.32.2.
#[derive(Clone, Debug)]
pub struct Settings {
    /// When true, no `ConnectionCreated` / `ConnectionDropped` events are emitted.
    pub connection_events_suppressed: bool,
    /// How long a connect attempt (dial + TLS + WebSocket + joinRoom) may take before it fails with `TimedOut`.
    pub connect_timeout: Duration,
    /// Timeout of one JSON-RPC request (upstream: 10 s).
    pub request_timeout: Duration,
    /// Interval between keepalive pings (upstream: 5 s).
    pub ping_interval: Duration,
    /// How long a ping may stay unanswered before the socket counts as lost (upstream: 5 s).
    pub ping_timeout: Duration,
    /// How long to keep trying to resume after a network loss before giving up (default 30 s).
    pub reconnection_window: Duration,
    /// Upper bound of the redial backoff (upstream redials every 3 s). The first redial is immediate.
    pub redial_max_interval: Duration,
    /// The `clientData` sent in `joinRoom.metadata`.
    pub client_data: String,
    /// Extra trusted CA certificates (PEM), added to the platform roots for `wss://`.
    pub extra_ca_pem: Option<Vec<u8>>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            connection_events_suppressed: false,
            connect_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(5),
            ping_timeout: Duration::from_secs(5),
            reconnection_window: Duration::from_secs(30),
            redial_max_interval: Duration::from_secs(3),
            client_data: String::new(),
            extra_ca_pem: None,
        }
    }
}

impl Settings {
    /// A faster network-loss profile: ping every 1 s, a ping unanswered for 1 s counts as a loss, redials
    /// at most 1 s apart. A silent cut is detected in about 2 s instead of up to 10 s, for about 5x the
    /// keepalive traffic of the upstream defaults (one small frame each way per second).
    pub fn fast_detection() -> Self {
        Settings {
            ping_interval: Duration::from_secs(1),
            ping_timeout: Duration::from_secs(1),
            redial_max_interval: Duration::from_secs(1),
            ..Settings::default()
        }
    }
}

/// Role granted by the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// May only subscribe.
    Subscriber,
    /// May publish and subscribe (the default role).
    Publisher,
    /// May also force other clients out and force-unpublish their streams.
    Moderator,
}

impl Role {
    /// Parses the server's role string; unknown strings are treated as `Publisher`, the upstream default.
    pub fn from_wire(s: &str) -> Role {
        match s {
            "SUBSCRIBER" => Role::Subscriber,
            "MODERATOR" => Role::Moderator,
            _ => Role::Publisher,
        }
    }
}

/// What the own connection may do, derived from its role.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub publish: bool,
    pub subscribe: bool,
    pub force_disconnect: bool,
    pub force_unpublish: bool,
}

impl Capabilities {
    /// The capabilities a role grants.
    pub fn of(role: Role) -> Capabilities {
        let moderator = role == Role::Moderator;
        Capabilities {
            publish: role != Role::Subscriber,
            subscribe: true,
            force_disconnect: moderator,
            force_unpublish: moderator,
        }
    }
}

/// One client in the session (a roster entry). Immutable; shared as `Arc<Connection>`.
///
/// Compact by design (a roster can hold thousands): the id and the metadata share one allocation,
/// the client and server parts of the metadata are ranges of it, and the session id is shared by
/// every connection of the session.
#[derive(Clone, PartialEq, Eq)]
pub struct Connection {
    /// The id followed by the metadata.
    text: Box<str>,
    /// Where the id ends (and the metadata starts) in `text`.
    id_len: usize,
    /// The client data is `data()[..client_end]`.
    client_end: usize,
    /// The server data is `data()[server_start..]`.
    server_start: usize,
    created_at_ms: i64,
    session_id: Arc<str>,
}

/// Separates the client data from the server data in a connection's metadata.
const METADATA_SEPARATOR: &str = "%/%";

/// Where the first [`METADATA_SEPARATOR`] starts in `data`. A scan for its first byte: for strings as
/// short as metadata, `str::find`'s setup per call cost more than the search.
fn find_separator(data: &str) -> Option<usize> {
    let bytes = data.as_bytes();
    let first = METADATA_SEPARATOR.as_bytes()[0];
    (0..bytes.len()).find(|&at| bytes[at] == first && bytes[at..].starts_with(METADATA_SEPARATOR.as_bytes()))
}

/// Where the two parts of a connection's metadata lie in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MetadataSplit {
    /// The client data is `data[..client_end]`.
    pub client_end: usize,
    /// The server data is `data[server_start..]`.
    pub server_start: usize,
}

impl MetadataSplit {
    /// Splits metadata into client data and server data. With the `%/%` separator both parts are known
    /// (the first separator splits). Without it the string is one of the two: for the own connection
    /// (`own_client_data` = what this client sent) it is client data when it equals what was sent, else
    /// server data; for other connections it counts as client data.
    pub(crate) fn of(data: &str, own_client_data: Option<&str>) -> MetadataSplit {
        if let Some(at) = find_separator(data) {
            return MetadataSplit { client_end: at, server_start: at + METADATA_SEPARATOR.len() };
        }
        match own_client_data {
            Some(own) if own != data => MetadataSplit { client_end: 0, server_start: 0 },
            _ => MetadataSplit { client_end: data.len(), server_start: data.len() },
        }
    }
}

impl Connection {
    /// Another client's connection as the server announces it: `data` is its metadata, split at the
    /// first `%/%` into client and server data (without one, it is all client data).
    pub fn new(id: &str, created_at_ms: i64, data: &str, session_id: &str) -> Connection {
        Connection::with_split(id, created_at_ms, data, MetadataSplit::of(data, None), Arc::from(session_id))
    }

    /// A connection of session `session_id` whose metadata `data` splits as `split`. A split that
    /// does not fit `data` (a caller's bug) counts as all client data.
    pub(crate) fn with_split(id: &str, created_at_ms: i64, data: &str, split: MetadataSplit, session_id: Arc<str>) -> Connection {
        let fits = split.client_end <= split.server_start
            && split.server_start <= data.len()
            && data.is_char_boundary(split.client_end)
            && data.is_char_boundary(split.server_start);
        let split = if fits { split } else { MetadataSplit { client_end: data.len(), server_start: data.len() } };
        let mut text = String::with_capacity(id.len() + data.len());
        text.push_str(id);
        text.push_str(data);
        Connection {
            text: text.into_boxed_str(),
            id_len: id.len(),
            client_end: split.client_end,
            server_start: split.server_start,
            created_at_ms,
            session_id,
        }
    }

    /// The connection id (`con_...`).
    pub fn id(&self) -> &str {
        &self.text[..self.id_len]
    }

    /// Creation time, milliseconds since the Unix epoch.
    pub fn created_at_ms(&self) -> i64 {
        self.created_at_ms
    }

    /// The full metadata string as the server sent it (`clientData%/%serverData` when both are set).
    pub fn data(&self) -> &str {
        &self.text[self.id_len..]
    }

    /// The part of `data` set by the client in `joinRoom`.
    pub fn client_data(&self) -> &str {
        &self.data()[..self.client_end]
    }

    /// The part of `data` set by the server (REST `data`).
    pub fn server_data(&self) -> &str {
        &self.data()[self.server_start..]
    }

    /// The id of the session this connection belongs to.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The session id, shared.
    pub(crate) fn shared_session_id(&self) -> &Arc<str> {
        &self.session_id
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.id())
            .field("created_at_ms", &self.created_at_ms)
            .field("data", &self.data())
            .field("client_data", &self.client_data())
            .field("server_data", &self.server_data())
            .field("session_id", &self.session_id())
            .finish()
    }
}

/// A published stream's metadata (media itself is out of scope).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stream {
    /// The stream id (`str_...`).
    pub id: String,
    /// The connection that publishes it.
    pub connection: Arc<Connection>,
    pub has_audio: bool,
    pub has_video: bool,
    /// `CAMERA`, `SCREEN`, `CUSTOM` or `IPCAM`, as the server sent it.
    pub video_type: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// The stream's name, if any.
    pub name: String,
}

/// Why a connection left, or why the own session ended. Parsed from the server's reason string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The client called disconnect (`disconnect`).
    ClientDisconnected,
    /// A moderator forced it out (`forceDisconnectByUser`).
    ForceDisconnectedByModerator,
    /// The server's REST API forced it out (`forceDisconnectByServer`).
    ForceDisconnectedByServer,
    /// The session was closed by the server (`sessionClosedByServer`).
    SessionClosed,
    /// The network was lost and the resume failed (`networkDisconnect`).
    NetworkLost,
    /// The server stopped (`openviduServerStopped`, `nodeCrashed`).
    ServerStopped,
    /// A reason string this library does not know; kept verbatim.
    Unknown(String),
}

impl DisconnectReason {
    /// Maps a wire reason string to a reason; unknown strings are kept in `Unknown`.
    pub fn from_wire(s: &str) -> DisconnectReason {
        match s {
            "disconnect" => DisconnectReason::ClientDisconnected,
            "forceDisconnectByUser" => DisconnectReason::ForceDisconnectedByModerator,
            "forceDisconnectByServer" => DisconnectReason::ForceDisconnectedByServer,
            "sessionClosedByServer" => DisconnectReason::SessionClosed,
            "networkDisconnect" => DisconnectReason::NetworkLost,
            "openviduServerStopped" | "nodeCrashed" => DisconnectReason::ServerStopped,
            other => DisconnectReason::Unknown(other.to_string()),
        }
    }
}

/// Error codes, numbered as the upstream (OpenTok) C SDK's `otc_status` / error enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum ErrorCode {
    /// Bad or already used token (1004).
    AuthorizationFailure = 1004,
    /// The session does not exist on the server (1005).
    InvalidSession = 1005,
    /// The server could not be reached or the socket failed (1006).
    ConnectionFailed = 1006,
    /// The operation needs a connected session (1010).
    NotConnected = 1010,
    /// NULL or invalid argument (1011).
    InvalidParameter = 1011,
    /// The call is not allowed in the current state (1015).
    IllegalState = 1015,
    /// The connect attempt or a request timed out (1021).
    TimedOut = 1021,
    /// The connection dropped (1022).
    ConnectionDropped = 1022,
    /// The server refused the connection (1023).
    ConnectionRefused = 1023,
    /// The server reached its connection limit (1027).
    ConnectionLimitExceeded = 1027,
    /// Signal data longer than 8192 bytes (1413).
    SignalDataTooLong = 1413,
    /// Signal type longer than 128 characters (1414).
    SignalTypeTooLong = 1414,
    /// Signal type has characters outside `[A-Za-z0-9-_~.]` (1461).
    InvalidSignalType = 1461,
    /// The server rejected a signal (unknown recipient, malformed) (1450).
    SignalFailed = 1450,
    /// Force disconnect without the moderator role, or refused by the server (1520).
    UnableToForceDisconnect = 1520,
    /// Force unpublish without the moderator role, or no such stream (1535).
    ForceUnpublishOrInvalidStream = 1535,
    /// Internal error, e.g. a caught panic (2000).
    Internal = 2000,
}

/// An error: a code plus a human-readable message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientError {
    pub code: ErrorCode,
    pub message: String,
}

impl ClientError {
    /// Builds an error from a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ClientError {
        ClientError { code, message: message.into() }
    }
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code as i32)
    }
}

impl std::error::Error for ClientError {}

/// The session's lifecycle state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionState {
    /// Created, never connected (or the last connect attempt failed).
    Idle,
    /// A connect attempt is under way.
    Connecting,
    /// Joined.
    Connected,
    /// The socket was lost; resuming.
    Reconnecting,
    /// `disconnect` was called and the leave is under way.
    Disconnecting,
    /// The last connection ended (`Disconnected` was emitted). `connect` may be called again.
    Disconnected,
}

/// Options of one signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalOptions {
    /// When the session is reconnecting: queue the signal and send it on resume (true, the default),
    /// or fail it at once (false).
    pub retry_after_reconnect: bool,
}

impl Default for SignalOptions {
    fn default() -> Self {
        SignalOptions { retry_after_reconnect: true }
    }
}

/// Events of one session, in the order the app must see them (see spec/c-api.md "Semantics").
#[derive(Clone, Debug)]
pub enum Event {
    /// Joined. Carries the own connection (never reported through `ConnectionCreated`).
    Connected { own: Arc<Connection> },
    /// Another client is in the session (once for each already present, then for each that joins).
    ConnectionCreated(Arc<Connection>),
    /// Another client left.
    ConnectionDropped { connection: Arc<Connection>, reason: DisconnectReason },
    /// A stream was published by another client.
    StreamReceived(Arc<Stream>),
    /// A stream went away; `reason` is the wire reason (`unpublish`, `forceUnpublishByUser`, ... or a connection reason).
    StreamDropped { stream: Arc<Stream>, reason: String },
    /// A signal arrived. `kind` has no `signal:` prefix; `from` is `None` when the server sent it.
    SignalReceived { kind: String, data: String, from: Option<Arc<Connection>> },
    /// The socket was lost; the client is trying to resume.
    ReconnectionStarted,
    /// The resume succeeded (same connection id); roster changes of the outage were delivered before this.
    Reconnected,
    /// An asynchronous failure (connect failure, refused moderation, failed signal...).
    Error(ClientError),
    /// The connection ended: exactly one per `Connected`, always its last event.
    Disconnected(DisconnectReason),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_splits_at_the_first_separator() {
        let split = |data| MetadataSplit::of(data, None);
        assert_eq!(split("Bob%/%srv"), MetadataSplit { client_end: 3, server_start: 6 });
        assert_eq!(split("%/%srv"), MetadataSplit { client_end: 0, server_start: 3 });
        assert_eq!(split("a%b%/%c%/%d"), MetadataSplit { client_end: 3, server_start: 6 });
        assert_eq!(split("é%/%"), MetadataSplit { client_end: 2, server_start: 5 });
        for whole in ["", "%", "%/", "a%/b%", "{\"clientData\":\"50%\"}"] {
            assert_eq!(split(whole), MetadataSplit { client_end: whole.len(), server_start: whole.len() }, "{whole}");
        }
        assert_eq!(MetadataSplit::of("srv", Some("Ann")), MetadataSplit { client_end: 0, server_start: 0 });
    }
}
