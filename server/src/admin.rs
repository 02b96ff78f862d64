//! Administrative operations: the single implementation behind the REST handlers and the
//! in-process [`crate::EmbeddedServer`] calls.

use std::sync::Arc;

use serde_json::Value;

use crate::ids;
use crate::model::{LeaveReason, PendingConnection, Role, ServerError};
use crate::participant::Profile;
use crate::session::{PendingEntry, Session, SessionSettings};
use crate::state::ServerState;

/// Properties of a new session; `Default` = ROUTED, MANUAL, no custom id.
#[derive(Clone, Debug, Default)]
pub struct SessionRequest {
    /// Custom id (`None` or empty = generated).
    pub custom_session_id: Option<String>,
    /// Media mode (default `ROUTED`).
    pub media_mode: Option<String>,
    /// Recording mode (default `MANUAL`).
    pub recording_mode: Option<String>,
    /// Recording defaults (opaque).
    pub default_recording_properties: Option<Value>,
    /// Forced video codec (default `MEDIA_SERVER_PREFERRED`).
    pub forced_video_codec: Option<String>,
    /// Transcoding flag (default false).
    pub allow_transcoding: Option<bool>,
}

/// Properties of a new connection; `Default` = PUBLISHER, record, no data.
#[derive(Clone, Debug, Default)]
pub struct ConnectionRequest {
    /// Role (default PUBLISHER).
    pub role: Option<Role>,
    /// Server data (default "").
    pub data: Option<String>,
    /// Record flag (default true).
    pub record: Option<bool>,
    /// Kurento options (opaque, echoed).
    pub kurento_options: Option<Value>,
}

/// Creates a session. `SessionExists` if the custom id is taken.
pub fn create_session(hub: &ServerState, req: SessionRequest) -> Result<Arc<Session>, ServerError> {
    let custom = req.custom_session_id.filter(|id| !id.is_empty());
    if let Some(id) = &custom {
        if !ids::is_valid_custom_id(id) {
            return Err(ServerError::BadRequest(
                "customSessionId must match [a-zA-Z0-9_-]+".into(),
            ));
        }
    }
    let settings = SessionSettings {
        media_mode: req.media_mode.unwrap_or_else(|| "ROUTED".into()),
        recording_mode: req.recording_mode.unwrap_or_else(|| "MANUAL".into()),
        default_recording_properties: req
            .default_recording_properties
            .unwrap_or_else(default_recording_properties),
        custom_session_id: custom.clone().unwrap_or_default(),
        forced_video_codec: req
            .forced_video_codec
            .unwrap_or_else(|| "MEDIA_SERVER_PREFERRED".into()),
        allow_transcoding: req.allow_transcoding.unwrap_or(false),
    };
    if !hub.reserve_session_slot() {
        tracing::warn!(max = hub.config.max_sessions, "session refused: session limit reached");
        return Err(ServerError::SessionLimitReached);
    }
    let id = custom.unwrap_or_else(ids::new_session_id);
    match hub.sessions.entry(id.clone()) {
        dashmap::Entry::Occupied(_) => {
            hub.release_session_slot();
            Err(ServerError::SessionExists)
        }
        dashmap::Entry::Vacant(slot) => {
            let session = Arc::new(Session::new(id.clone(), settings, &hub.config));
            slot.insert(session.clone());
            tracing::info!(session = %id, "session created");
            Ok(session)
        }
    }
}

fn default_recording_properties() -> Value {
    serde_json::json!({
        "name": "", "hasAudio": true, "hasVideo": true, "outputMode": "COMPOSED",
        "recordingLayout": "BEST_FIT", "resolution": "1280x720", "frameRate": 25,
        "shmSize": 536870912, "ignoreFailedStreams": false
    })
}

/// Looks a session up.
pub fn get_session(hub: &ServerState, session_id: &str) -> Result<Arc<Session>, ServerError> {
    hub.session(session_id).ok_or(ServerError::SessionNotFound)
}

/// All sessions, oldest first.
pub fn list_sessions(hub: &ServerState) -> Vec<Arc<Session>> {
    let mut all: Vec<Arc<Session>> = hub.sessions.iter().map(|s| s.value().clone()).collect();
    all.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
    all
}

/// Closes a session: everyone evicted with `sessionClosedByServer`.
pub fn close_session(hub: &ServerState, session_id: &str) -> Result<(), ServerError> {
    get_session(hub, session_id)?.close(hub, LeaveReason::SessionClosedByServer)
}

/// Creates a pending connection and its single-use token.
pub fn create_connection(
    hub: &ServerState,
    session_id: &str,
    req: ConnectionRequest,
) -> Result<(PendingConnection, PendingEntry), ServerError> {
    let session = get_session(hub, session_id)?;
    let entry = PendingEntry {
        connection_id: ids::new_connection_id(),
        token: format!(
            "{}?sessionId={}&token={}",
            hub.token_base,
            session.id,
            ids::new_token_secret()
        ),
        profile: Profile {
            role: req.role.unwrap_or_default(),
            record: req.record.unwrap_or(true),
        },
        data: req.data.unwrap_or_default(),
        kurento_options: req.kurento_options.unwrap_or(Value::Null),
        created_at: ids::now_millis(),
    };
    session.add_pending(entry.clone(), hub.config.max_connections_per_session)?;
    tracing::info!(session = %session.id, connection = %entry.connection_id,
        token = %ids::redact_token(&entry.token), "connection created");
    Ok((
        PendingConnection {
            connection_id: entry.connection_id.clone(),
            token: entry.token.clone(),
        },
        entry,
    ))
}

/// Evicts an active connection (`forceDisconnectByServer`) or invalidates a pending one.
pub fn delete_connection(hub: &ServerState, session_id: &str, connection_id: &str) -> Result<(), ServerError> {
    get_session(hub, session_id)?.delete_connection(hub, connection_id)
}

/// Force-unpublishes a stream. This server carries no media, so no stream ever exists.
pub fn unpublish_stream(hub: &ServerState, session_id: &str, stream_id: &str) -> Result<(), ServerError> {
    get_session(hub, session_id)?;
    tracing::debug!(session = %session_id, stream = %stream_id, "unpublish of unknown stream");
    Err(ServerError::StreamNotFound)
}

/// Sends a server signal (no `from`). `signal_type` gets the `signal:` prefix; none = `signal:signal`.
pub fn send_signal(
    hub: &ServerState,
    session_id: &str,
    to: Option<&[String]>,
    signal_type: Option<&str>,
    data: &str,
) -> Result<(), ServerError> {
    let session = get_session(hub, session_id)?;
    let wire_type = server_signal_type(signal_type);
    check_signal_size(hub, &wire_type, data)?;
    session.signal(hub, None, to, &wire_type, data, None)
}

/// Refuses a signal whose `data` or `type` is longer than the configured limits. The type is measured
/// as the app named it: without the `signal:` prefix the clients add on the wire (a 128-character type
/// is allowed by the client APIs, and arrives as 135 characters).
pub fn check_signal_size(hub: &ServerState, wire_type: &str, data: &str) -> Result<(), ServerError> {
    let config = &hub.config;
    if data.len() > config.max_signal_data_bytes {
        return Err(ServerError::SignalTooLarge(format!(
            "data is {} bytes, the limit is {}",
            data.len(),
            config.max_signal_data_bytes
        )));
    }
    let app_type = wire_type.strip_prefix("signal:").unwrap_or(wire_type);
    let type_chars = app_type.chars().count();
    if type_chars > config.max_signal_type_chars {
        return Err(ServerError::SignalTooLarge(format!(
            "type is {type_chars} characters, the limit is {}",
            config.max_signal_type_chars
        )));
    }
    Ok(())
}

fn server_signal_type(signal_type: Option<&str>) -> String {
    match signal_type.filter(|t| !t.is_empty()) {
        Some(t) if t.starts_with("signal:") => t.to_string(),
        Some(t) => format!("signal:{t}"),
        None => "signal:signal".to_string(),
    }
}

/// Changes role and/or record of a connection.
pub fn update_connection(
    hub: &ServerState,
    session_id: &str,
    connection_id: &str,
    role: Option<Role>,
    record: Option<bool>,
) -> Result<(), ServerError> {
    if get_session(hub, session_id)?.update_connection(hub, connection_id, role, record) {
        Ok(())
    } else {
        Err(ServerError::ConnectionNotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_signal_types_are_prefixed_once() {
        assert_eq!(server_signal_type(Some("chat")), "signal:chat");
        assert_eq!(server_signal_type(Some("signal:chat")), "signal:chat");
        assert_eq!(server_signal_type(None), "signal:signal");
        assert_eq!(server_signal_type(Some("")), "signal:signal");
    }
}
