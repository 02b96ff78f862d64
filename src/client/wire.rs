//! Message shapes of the OpenVidu 2.x protocol: request params we send, results and notification
//! params we parse. Parsing is lenient about extra fields and strict about the ones we need.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::types::{Connection, MetadataSplit, Role, Stream};

/// The SDK version we announce; the server checks it against its own (same major, minor or minor+1).
pub(crate) const SDK_VERSION: &str = "2.32.2";

/// `joinRoom` params, in the browser's key order.
#[derive(Serialize)]
pub(crate) struct JoinRoomParams<'a> {
    pub token: &'a str,
    pub session: &'a str,
    pub platform: &'a str,
    #[serde(rename = "sdkVersion")]
    pub sdk_version: &'a str,
    pub metadata: &'a str,
    pub secret: &'a str,
    pub recorder: bool,
    pub stt: bool,
}

/// `connect` params (resume): the browser's `sessionId` and `reconnect`, in its order, plus our
/// extension `received`: how many notifications this client has applied on the RPC session, so that
/// a server keeping recent notifications can replay the ones lost in the dead socket. Servers that
/// do not know it (OpenVidu's) ignore unknown params.
#[derive(Serialize)]
pub(crate) struct ResumeParams<'a> {
    #[serde(rename = "sessionId")]
    pub session_id: &'a str,
    pub reconnect: bool,
    pub received: u64,
}

/// Params of the first ping of a socket: `{"interval": <ms>}` (later pings have none).
pub(crate) fn first_ping_params(interval: std::time::Duration) -> Value {
    serde_json::json!({ "interval": interval.as_millis() as u64 })
}

/// The `platform` string of `joinRoom` (the browser sends its user-agent description).
pub(crate) fn platform_description() -> String {
    format!("otc-session {} ({} {})", env!("CARGO_PKG_VERSION"), std::env::consts::OS, std::env::consts::ARCH)
}

/// The signal payload, serialized into `sendMessage.params.message` (key order as the browser).
#[derive(Serialize)]
struct SignalMessage<'a> {
    to: &'a [String],
    data: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
}

/// `sendMessage` params: `{"message":"{\"to\":[..],\"data\":..,\"type\":\"signal:..\"}"}`.
pub(crate) fn send_message_params(to: &[String], data: &str, wire_type: &str) -> Value {
    let message = serde_json::to_string(&SignalMessage { to, data, kind: wire_type }).unwrap_or_default();
    serde_json::json!({ "message": message })
}

/// What a `joinRoom` result tells us.
#[derive(Debug)]
pub(crate) struct JoinResult {
    pub own: Arc<Connection>,
    pub role: Role,
    /// The RPC session id to present in `connect` when resuming.
    pub rpc_session_id: String,
    /// The other participants, in the server's order, each with its published streams.
    pub participants: Vec<Participant>,
}

/// A remote participant with the streams it publishes.
#[derive(Debug)]
pub(crate) struct Participant {
    pub connection: Arc<Connection>,
    pub streams: Vec<Arc<Stream>>,
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn required_str<'a>(v: &'a Value, key: &str, what: &str) -> Result<&'a str, String> {
    str_field(v, key).ok_or_else(|| format!("{what}: missing string field \"{key}\""))
}

fn millis_field(v: &Value, key: &str) -> i64 {
    match v.get(key) {
        Some(Value::Number(n)) => millis_of(n),
        Some(_) | None => 0,
    }
}

/// A millisecond timestamp from a JSON number (a fraction is cut off; out of range is 0).
pub(crate) fn millis_of(n: &serde_json::Number) -> i64 {
    n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)).unwrap_or(0)
}

/// Builds a connection from `{id, createdAt, metadata}`. `own_client_data` is given for the own
/// connection only (see [`MetadataSplit::of`]).
pub(crate) fn parse_connection(v: &Value, session_id: &Arc<str>, own_client_data: Option<&str>) -> Result<Connection, String> {
    let id = required_str(v, "id", "connection")?;
    if id.is_empty() {
        return Err("connection: empty id".into());
    }
    let data = str_field(v, "metadata").unwrap_or_default();
    Ok(connection_from_fields(id, millis_field(v, "createdAt"), data, session_id, own_client_data))
}

/// Builds a connection from its fields (see [`parse_connection`]).
pub(crate) fn connection_from_fields(id: &str, created_at_ms: i64, metadata: &str, session_id: &Arc<str>, own_client_data: Option<&str>) -> Connection {
    Connection::with_split(id, created_at_ms, metadata, MetadataSplit::of(metadata, own_client_data), session_id.clone())
}

/// A connection known only by its id (a signal from a sender missing from the roster).
pub(crate) fn connection_from_id(id: &str, session_id: &Arc<str>) -> Connection {
    Connection::with_split(id, 0, "", MetadataSplit { client_end: 0, server_start: 0 }, session_id.clone())
}

/// Parses the `streams` array of a participant (absent = none).
pub(crate) fn parse_streams(v: &Value, connection: &Arc<Connection>) -> Result<Vec<Arc<Stream>>, String> {
    let Some(streams) = v.get("streams") else {
        return Ok(Vec::new());
    };
    let streams = streams.as_array().ok_or("streams: not an array")?;
    streams
        .iter()
        .map(|s| {
            let id = required_str(s, "id", "stream")?;
            Ok(Arc::new(Stream {
                id: id.to_string(),
                connection: connection.clone(),
                has_audio: s.get("hasAudio").and_then(Value::as_bool).unwrap_or(false),
                has_video: s.get("hasVideo").and_then(Value::as_bool).unwrap_or(false),
                video_type: str_field(s, "typeOfVideo").unwrap_or_default().to_string(),
                created_at_ms: millis_field(s, "createdAt"),
                name: str_field(s, "name").unwrap_or_default().to_string(),
            }))
        })
        .collect()
}

/// Parses a participant entry (`value[]` of `joinRoom`, `participantJoined`, `participantPublished`).
pub(crate) fn parse_participant(v: &Value, session_id: &Arc<str>) -> Result<Participant, String> {
    let connection = Arc::new(parse_connection(v, session_id, None)?);
    let streams = parse_streams(v, &connection)?;
    Ok(Participant { connection, streams })
}

/// Parses a `joinRoom` result. `sent_client_data` is the metadata this client sent.
pub(crate) fn parse_join_result(v: &Value, sent_client_data: &str) -> Result<JoinResult, String> {
    if !v.is_object() {
        return Err("joinRoom result is not an object".into());
    }
    let session: Arc<str> = Arc::from(required_str(v, "session", "joinRoom result")?);
    let rpc_session_id = required_str(v, "sessionId", "joinRoom result")?;
    let own = Arc::new(parse_connection(v, &session, Some(sent_client_data))?);
    let role = Role::from_wire(str_field(v, "role").unwrap_or_default());
    let value = v.get("value").and_then(Value::as_array).ok_or("joinRoom result: missing array \"value\"")?;
    let participants = value.iter().map(|p| parse_participant(p, &session)).collect::<Result<Vec<_>, _>>()?;
    Ok(JoinResult { own, role, rpc_session_id: rpc_session_id.to_string(), participants })
}

/// `{connectionId, reason}` of `participantLeft`, `participantEvicted`, `participantUnpublished`.
pub(crate) fn parse_connection_reason(v: &Value) -> Result<(String, String), String> {
    let id = required_str(v, "connectionId", "notification")?;
    let reason = str_field(v, "reason").unwrap_or_default();
    Ok((id.to_string(), reason.to_string()))
}

/// A received `sendMessage` notification.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ReceivedSignal {
    /// The type without its `signal:` prefix.
    pub kind: String,
    pub data: String,
    /// The sender's connection id; `None` when the server sent it.
    pub from: Option<String>,
}

/// Parses `sendMessage{data, type, from}`.
pub(crate) fn parse_received_signal(v: &Value) -> Result<ReceivedSignal, String> {
    if !v.is_object() {
        return Err("sendMessage: params is not an object".into());
    }
    Ok(received_signal(str_field(v, "type"), str_field(v, "data").map(Cow::Borrowed), str_field(v, "from")))
}

/// A received signal from its `type`, `data` and `from` fields (absent = ""). Data already unescaped
/// into a string of its own is kept, not copied.
pub(crate) fn received_signal(raw_type: Option<&str>, data: Option<Cow<'_, str>>, from: Option<&str>) -> ReceivedSignal {
    let raw_type = raw_type.unwrap_or_default();
    let kind = raw_type.strip_prefix("signal:").unwrap_or(raw_type).to_string();
    let data = data.map(Cow::into_owned).unwrap_or_default();
    let from = from.filter(|f| !f.is_empty()).map(str::to_string);
    ReceivedSignal { kind, data, from }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn join_params_are_sent_in_the_browser_order() {
        let p = JoinRoomParams {
            token: "ws://h?sessionId=s&token=t",
            session: "s",
            platform: "p",
            sdk_version: SDK_VERSION,
            metadata: "Alice",
            secret: "",
            recorder: false,
            stt: false,
        };
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"token":"ws://h?sessionId=s&token=t","session":"s","platform":"p","sdkVersion":"2.32.2","metadata":"Alice","secret":"","recorder":false,"stt":false}"#
        );
    }

    #[test]
    fn signal_message_is_a_json_string_inside_message() {
        let params = send_message_params(&["con_a".to_string()], "hi \"there\"", "signal:chat");
        let inner = params["message"].as_str().unwrap();
        assert_eq!(inner, r#"{"to":["con_a"],"data":"hi \"there\"","type":"signal:chat"}"#);
        let broadcast = send_message_params(&[], "", "signal:signal");
        assert_eq!(broadcast["message"], r#"{"to":[],"data":"","type":"signal:signal"}"#);
    }

    #[test]
    fn parses_a_join_result_with_roster_and_streams() {
        let result = json!({
            "id":"con_me","createdAt":1700000000123_i64,"metadata":"Alice%/%srv",
            "value":[
                {"id":"con_b","createdAt":1,"metadata":"Bob"},
                {"id":"con_c","createdAt":2,"metadata":"Carol","streams":[{"id":"str_c","hasAudio":true,"hasVideo":false,"typeOfVideo":"CAMERA","createdAt":3}]}
            ],
            "session":"ses_1","sessionId":"rpc1","version":"2.32.2","role":"MODERATOR"
        });
        let j = parse_join_result(&result, "Alice").unwrap();
        assert_eq!(j.own.id(), "con_me");
        assert_eq!(j.own.created_at_ms(), 1700000000123);
        assert_eq!((j.own.client_data(), j.own.server_data()), ("Alice", "srv"));
        assert_eq!(j.own.session_id(), "ses_1");
        assert_eq!(j.role, Role::Moderator);
        assert_eq!(j.rpc_session_id, "rpc1");
        let ids: Vec<_> = j.participants.iter().map(|p| p.connection.id()).collect();
        assert_eq!(ids, ["con_b", "con_c"]);
        assert!(j.participants[0].streams.is_empty());
        let s = &j.participants[1].streams[0];
        assert_eq!((s.id.as_str(), s.has_audio, s.has_video, s.video_type.as_str()), ("str_c", true, false, "CAMERA"));
        assert_eq!(s.connection.id(), "con_c");
    }

    #[test]
    fn rejects_join_results_without_required_fields() {
        assert!(parse_join_result(&json!("x"), "").is_err());
        assert!(parse_join_result(&json!({"id":"c","session":"s","sessionId":"r"}), "").is_err());
        assert!(parse_join_result(&json!({"id":"c","value":[],"sessionId":"r"}), "").is_err());
        assert!(parse_join_result(&json!({"id":"c","value":[{"metadata":"x"}],"session":"s","sessionId":"r"}), "").is_err());
        assert!(parse_join_result(&json!({"value":[],"session":"s","sessionId":"r"}), "").is_err());
    }

    #[test]
    fn metadata_without_separator_is_attributed_sensibly() {
        let parts = |data: &str, own: Option<&str>| {
            let c = Connection::with_split("con_x", 0, data, MetadataSplit::of(data, own), Arc::from("s"));
            (c.client_data().to_string(), c.server_data().to_string())
        };
        assert_eq!(parts("a%/%b", None), ("a".into(), "b".into()));
        assert_eq!(parts("Alice", Some("Alice")), ("Alice".into(), "".into()));
        assert_eq!(parts("srv", Some("")), ("".into(), "srv".into()));
        assert_eq!(parts("Bob", None), ("Bob".into(), "".into()));
        assert_eq!(parts("a%/%b%/%c", None), ("a".into(), "b%/%c".into()), "the first separator splits");
        let public = Connection::new("con_y", 7, "a%/%b", "ses_y");
        assert_eq!((public.id(), public.created_at_ms(), public.data()), ("con_y", 7, "a%/%b"));
        assert_eq!((public.client_data(), public.server_data(), public.session_id()), ("a", "b", "ses_y"));
    }

    #[test]
    fn received_signals_lose_their_prefix_and_may_lack_a_sender() {
        let s = parse_received_signal(&json!({"data":"d","type":"signal:chat","from":"con_a"})).unwrap();
        assert_eq!(s, ReceivedSignal { kind: "chat".into(), data: "d".into(), from: Some("con_a".into()) });
        let s = parse_received_signal(&json!({"data":"d","type":"signal:chat"})).unwrap();
        assert_eq!(s.from, None);
        let s = parse_received_signal(&json!({"type":"signal:signal:x","from":""})).unwrap();
        assert_eq!((s.kind.as_str(), s.data.as_str(), s.from), ("signal:x", "", None));
        assert!(parse_received_signal(&json!(null)).is_err());
    }
}
