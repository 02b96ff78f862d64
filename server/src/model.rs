//! Public value types of the admin API: roles, connection options, results and errors.

use std::fmt;

/// A participant's role (OpenVidu `OpenViduRole`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Role {
    /// May only subscribe.
    Subscriber,
    /// May publish and subscribe (the default).
    #[default]
    Publisher,
    /// May also force-disconnect and force-unpublish others.
    Moderator,
}

impl Role {
    /// Wire name (`"PUBLISHER"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Subscriber => "SUBSCRIBER",
            Role::Publisher => "PUBLISHER",
            Role::Moderator => "MODERATOR",
        }
    }

    /// Parses a wire name; `None` for anything else.
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "SUBSCRIBER" => Some(Role::Subscriber),
            "PUBLISHER" => Some(Role::Publisher),
            "MODERATOR" => Some(Role::Moderator),
            _ => None,
        }
    }
}

/// Options of a new connection (REST `POST /sessions/{id}/connection`).
#[derive(Clone, Debug, Default)]
pub struct ConnectionOptions {
    /// Role granted to whoever joins with the token.
    pub role: Role,
    /// Server data, delivered to every participant in the connection's metadata.
    pub data: String,
}

/// A connection created but not joined yet.
#[derive(Clone, Debug)]
pub struct PendingConnection {
    /// The connection id the participant will have once joined.
    pub connection_id: String,
    /// The single-use token (a `ws[s]://` URL) to give to the client.
    pub token: String,
}

/// Why an admin call (REST or in-process) failed. Nothing was changed when one is returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerError {
    /// No session with that id.
    SessionNotFound,
    /// A session with that custom id already exists.
    SessionExists,
    /// No connection (active or pending) with that id in the session.
    ConnectionNotFound,
    /// No stream with that id in the session.
    StreamNotFound,
    /// A signal recipient is not an active connection of the session.
    UnknownRecipient(String),
    /// A signal to everyone in a session nobody is connected to.
    NoParticipants,
    /// The request itself is invalid (bad id, wrong field type, ...).
    BadRequest(String),
    /// The server already holds `ServerConfig::max_sessions` sessions.
    SessionLimitReached,
    /// The session already holds `ServerConfig::max_connections_per_session` connections.
    ConnectionLimitExceeded,
    /// A signal's `data` or `type` is longer than the configured limit (the text says which).
    SignalTooLarge(String),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::SessionNotFound => write!(f, "session not found"),
            ServerError::SessionExists => write!(f, "session already exists"),
            ServerError::ConnectionNotFound => write!(f, "connection not found"),
            ServerError::StreamNotFound => write!(f, "stream not found"),
            ServerError::UnknownRecipient(id) => write!(f, "unknown recipient {id}"),
            ServerError::NoParticipants => write!(f, "no participant is connected to the session"),
            ServerError::BadRequest(why) => write!(f, "bad request: {why}"),
            ServerError::SessionLimitReached => write!(f, "session limit reached: the server holds its maximum of sessions"),
            ServerError::ConnectionLimitExceeded => write!(f, "connection limit exceeded for this session"),
            ServerError::SignalTooLarge(why) => write!(f, "signal too large: {why}"),
        }
    }
}

impl std::error::Error for ServerError {}

/// Why a connection left the session (wire `reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaveReason {
    /// The client called `leaveRoom`.
    Disconnect,
    /// A moderator called `forceDisconnect`.
    ForceDisconnectByUser,
    /// REST `DELETE .../connection/{id}`.
    ForceDisconnectByServer,
    /// REST `DELETE /sessions/{id}`.
    SessionClosedByServer,
    /// Ping timeout or socket loss not resumed within the grace.
    NetworkDisconnect,
}

impl LeaveReason {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            LeaveReason::Disconnect => "disconnect",
            LeaveReason::ForceDisconnectByUser => "forceDisconnectByUser",
            LeaveReason::ForceDisconnectByServer => "forceDisconnectByServer",
            LeaveReason::SessionClosedByServer => "sessionClosedByServer",
            LeaveReason::NetworkDisconnect => "networkDisconnect",
        }
    }
}
