//! The JSON bodies of the server's notifications and of the `joinRoom` result.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::model::LeaveReason;
use crate::participant::Participant;
use crate::rpc::{self, json_text, Frame};

/// OpenVidu server version announced to clients (must be a full semver).
pub const SERVER_VERSION: &str = "2.32.2";

/// `participantJoined{id, createdAt, metadata}` (no role).
pub fn participant_joined(p: &Participant) -> Frame {
    Frame::from(format!(
        "{{\"method\":\"participantJoined\",\"params\":{},\"jsonrpc\":\"2.0\"}}",
        p.entry_json()
    ))
}

/// `participantLeft{connectionId, reason}`.
pub fn participant_left(connection_id: &str, reason: LeaveReason) -> Frame {
    rpc::notification(
        "participantLeft",
        json!({"connectionId": connection_id, "reason": reason.as_str()}),
    )
}

/// `participantEvicted{connectionId, reason}`.
pub fn participant_evicted(connection_id: &str, reason: LeaveReason) -> Frame {
    rpc::notification(
        "participantEvicted",
        json!({"connectionId": connection_id, "reason": reason.as_str()}),
    )
}

/// `sendMessage{data, type[, from]}`.
pub fn signal(from: Option<&str>, signal_type: &str, data: &str) -> Frame {
    let mut params = json!({"data": data, "type": signal_type});
    if let (Some(from), Value::Object(map)) = (from, &mut params) {
        map.insert("from".into(), Value::String(from.to_string()));
    }
    rpc::notification("sendMessage", params)
}

/// `connectionPropertyChanged{connectionId, property, newValue}` (to the changed connection; values are strings).
pub fn connection_property_changed(connection_id: &str, property: &str, new_value: &str) -> Frame {
    rpc::notification(
        "connectionPropertyChanged",
        json!({"connectionId": connection_id, "property": property, "newValue": new_value}),
    )
}

/// The JSON of one `value[]` entry / `participantJoined` body: `{id, createdAt, metadata}`.
/// No `streams` (nobody publishes here), never a `role`. Encoded once per participant.
pub fn remote_entry_json(connection_id: &str, created_at: i64, metadata: &str) -> String {
    json_text(&json!({"id": connection_id, "createdAt": created_at, "metadata": metadata}))
}

/// The whole `joinRoom` response for `me`, listing the `others` already in the session. The
/// entries are spliced in from each participant's pre-encoded JSON (a join into a session of N
/// copies N small strings instead of re-encoding N objects).
pub fn join_response(request_id: &Value, me: &Participant, others: &[Arc<Participant>]) -> Frame {
    let profile = me.profile();
    let head = json_text(&json!({
        "id": me.connection_id,
        "createdAt": me.active_at,
        "metadata": me.metadata(),
        "session": me.session_id,
        "sessionId": me.rpc_session_id,
        "version": SERVER_VERSION,
        "role": profile.role.as_str(),
        "record": profile.record,
        "mediaServer": "kurento",
        "videoSimulcast": false,
        "customIceServers": [],
    }));
    let entries_len: usize = others.iter().map(|p| p.entry_json().len() + 1).sum();
    let id = json_text(request_id);
    let mut out = String::with_capacity(head.len() + entries_len + id.len() + 64);
    out.push_str("{\"id\":");
    out.push_str(&id);
    out.push_str(",\"result\":{\"value\":[");
    for (index, other) in others.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(other.entry_json());
    }
    out.push_str("],");
    // `head` is a non-empty JSON object: drop its opening brace and keep the rest (fields and `}`).
    out.push_str(&head[1..]);
    out.push_str(",\"jsonrpc\":\"2.0\"}");
    Frame::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_escape_their_strings() {
        let entry: Value = serde_json::from_str(&remote_entry_json("con_1", 5, "a\"b%/%c")).unwrap();
        assert_eq!(entry, json!({"id": "con_1", "createdAt": 5, "metadata": "a\"b%/%c"}));
    }
}
