//! REST representations of sessions and connections (the shapes openvidu-node-client reads).

use serde_json::{json, Value};

use crate::participant::Participant;
use crate::session::{PendingEntry, Session};

/// Session JSON; `include_pending` appends pending connections after the active ones.
pub fn session(s: &Session, include_pending: bool) -> Value {
    let snapshot = s.snapshot();
    let mut content: Vec<Value> = snapshot.participants.iter().map(|p| active_connection(p)).collect();
    if include_pending {
        content.extend(snapshot.pending.iter().map(|e| pending_connection(&s.id, e)));
    }
    json!({
        "id": s.id,
        "object": "session",
        "sessionId": s.id,
        "createdAt": s.created_at,
        "recording": false,
        "broadcasting": false,
        "mediaMode": s.settings.media_mode,
        "recordingMode": s.settings.recording_mode,
        "defaultRecordingProperties": s.settings.default_recording_properties,
        "customSessionId": s.settings.custom_session_id,
        "forcedVideoCodec": s.settings.forced_video_codec,
        "forcedVideoCodecResolved": "VP8",
        "allowTranscoding": s.settings.allow_transcoding,
        "connections": {"numberOfElements": content.len(), "content": content},
    })
}

/// Connection JSON of a joined participant.
pub fn active_connection(p: &Participant) -> Value {
    let profile = p.profile();
    json!({
        "id": p.connection_id,
        "object": "connection",
        "status": "active",
        "connectionId": p.connection_id,
        "sessionId": p.session_id,
        "createdAt": p.created_at,
        "activeAt": p.active_at,
        "location": "",
        "ip": p.ip,
        "platform": p.platform,
        "token": p.token,
        "type": "WEBRTC",
        "record": profile.record,
        "role": profile.role.as_str(),
        "kurentoOptions": p.kurento_options,
        "rtspUri": null,
        "adaptativeBitrate": null,
        "onlyPlayWithSubscribers": null,
        "networkCache": null,
        "serverData": p.server_data,
        "clientData": p.client_data,
        "publishers": [],
        "subscribers": [],
        "customIceServers": [],
    })
}

/// Connection JSON of a pending (not yet joined) connection.
pub fn pending_connection(session_id: &str, e: &PendingEntry) -> Value {
    json!({
        "id": e.connection_id,
        "object": "connection",
        "status": "pending",
        "connectionId": e.connection_id,
        "sessionId": session_id,
        "createdAt": e.created_at,
        "activeAt": null,
        "location": null,
        "ip": null,
        "platform": null,
        "token": e.token,
        "type": "WEBRTC",
        "record": e.profile.record,
        "role": e.profile.role.as_str(),
        "kurentoOptions": e.kurento_options,
        "rtspUri": null,
        "adaptativeBitrate": null,
        "onlyPlayWithSubscribers": null,
        "networkCache": null,
        "serverData": e.data,
        "clientData": null,
        "publishers": null,
        "subscribers": null,
        "customIceServers": [],
    })
}

/// Finds a connection (active first, then pending) of a session as JSON.
pub fn find_connection(s: &Session, connection_id: &str) -> Option<Value> {
    let snapshot = s.snapshot();
    if let Some(p) = snapshot.participants.iter().find(|p| p.connection_id == connection_id) {
        return Some(active_connection(p));
    }
    snapshot
        .pending
        .iter()
        .find(|e| e.connection_id == connection_id)
        .map(|e| pending_connection(&s.id, e))
}
