//! The JSON-RPC frames the load generator sends, and the few shapes it reads back
//! (spec/wire-protocol.md sections 2-4).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::json;

/// Request id the load generator always uses for `joinRoom` (pings use other ids).
pub const JOIN_REQUEST_ID: u64 = 1;

/// `ping`; the first one of a socket carries the interval.
pub fn ping(id: u64, interval_ms: Option<u64>) -> String {
    match interval_ms {
        Some(ms) => json!({"jsonrpc":"2.0","method":"ping","id":id,"params":{"interval":ms}}).to_string(),
        None => json!({"jsonrpc":"2.0","method":"ping","id":id}).to_string(),
    }
}

/// `joinRoom` with a token, as openvidu-browser sends it.
pub fn join_room(token: &str, session: &str) -> String {
    json!({"jsonrpc":"2.0","method":"joinRoom","id":JOIN_REQUEST_ID,"params":{
        "token":token,"session":session,"platform":"otc-bench","sdkVersion":"2.32.2",
        "metadata":"","secret":"","recorder":false,"stt":false}})
    .to_string()
}

/// `leaveRoom`.
pub fn leave_room(id: u64) -> String {
    json!({"jsonrpc":"2.0","method":"leaveRoom","id":id,"params":{}}).to_string()
}

/// True when `text` is the response (result or error) to request `id`.
pub fn is_response_to(text: &str, id: u64) -> bool {
    #[derive(Deserialize)]
    struct Response {
        id: Option<u64>,
        method: Option<serde::de::IgnoredAny>,
    }
    serde_json::from_str::<Response>(text).is_ok_and(|r| r.method.is_none() && r.id == Some(id))
}

/// `sendMessage` to everyone (sender included) with a signal `data` of type `bench`.
pub fn send_message(id: u64, data: &str) -> String {
    let message = json!({"to":[],"data":data,"type":"signal:bench"}).to_string();
    json!({"jsonrpc":"2.0","method":"sendMessage","id":id,"params":{"message":message}}).to_string()
}

/// The `sessionId` query value of a token URL.
pub fn session_of_token(token: &str) -> Option<&str> {
    query_value(token, "sessionId")
}

/// The value of `name` in the query of a URL (`?a=1&b=2`); `None` when absent.
pub fn query_value<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then_some(v)
    })
}

/// What a received frame means to the load generator.
#[derive(Debug, PartialEq)]
pub enum Inbound<'a> {
    /// The `joinRoom` answer: own connection id and the ids already present.
    Joined { own_id: Cow<'a, str>, roster: Vec<Cow<'a, str>> },
    /// `participantJoined`.
    ParticipantJoined(Cow<'a, str>),
    /// `participantLeft`.
    ParticipantLeft(Cow<'a, str>),
    /// `sendMessage` notification (a signal).
    Signal { from: Option<Cow<'a, str>>, data: Cow<'a, str> },
    /// An error response to any request.
    Error { request_id: Option<u64>, code: i64, message: String },
    /// Anything else (pongs, other responses and notifications).
    Other,
}

#[derive(Deserialize)]
struct Frame<'a> {
    id: Option<u64>,
    #[serde(borrow)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow)]
    params: Option<Params<'a>>,
    result: Option<serde::de::IgnoredAny>,
    error: Option<RpcError>,
}

/// A `joinRoom` answer, read for the ids only (borrowed from the frame: a 1000-member answer is
/// one allocation, not a tree of maps).
#[derive(Deserialize)]
struct JoinAnswer<'a> {
    #[serde(borrow)]
    result: JoinResult<'a>,
}

#[derive(Deserialize)]
struct JoinResult<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    value: Vec<RosterEntry<'a>>,
}

#[derive(Deserialize)]
struct RosterEntry<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    connection_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: Option<Cow<'a, str>>,
    #[serde(borrow)]
    from: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RpcError {
    code: i64,
    #[serde(default)]
    message: String,
}

/// Classifies one text frame; a frame that is not JSON-RPC is an error.
pub fn classify(text: &str) -> Result<Inbound<'_>, String> {
    if let Some(inbound) = classify_notification_fast(text) {
        return Ok(inbound);
    }
    let frame: Frame = serde_json::from_str(text).map_err(|e| format!("unparsable frame ({e}): {}", clip(text)))?;
    if let Some(error) = frame.error {
        return Ok(Inbound::Error { request_id: frame.id, code: error.code, message: error.message });
    }
    if let Some(method) = frame.method {
        let params = frame.params;
        return Ok(match method.as_ref() {
            "participantJoined" => match params.and_then(|p| p.id) {
                Some(id) => Inbound::ParticipantJoined(id),
                None => return Err(format!("participantJoined without id: {}", clip(text))),
            },
            "participantLeft" => match params.and_then(|p| p.connection_id) {
                Some(id) => Inbound::ParticipantLeft(id),
                None => return Err(format!("participantLeft without connectionId: {}", clip(text))),
            },
            "sendMessage" => match params {
                Some(Params { data: Some(data), from, .. }) => Inbound::Signal { from, data },
                _ => return Err(format!("sendMessage without data: {}", clip(text))),
            },
            _ => Inbound::Other,
        });
    }
    match (frame.id, frame.result) {
        (Some(JOIN_REQUEST_ID), Some(_)) => match serde_json::from_str::<JoinAnswer>(text) {
            Ok(answer) => Ok(Inbound::Joined {
                own_id: answer.result.id,
                roster: answer.result.value.into_iter().map(|entry| entry.id).collect(),
            }),
            Err(_) => Err(format!("joinRoom result without id/value: {}", clip(text))),
        },
        _ => Ok(Inbound::Other),
    }
}

/// The load generator's hot path: at hundreds of thousands of notifications per second, a full JSON
/// parse of each was a third of its core. A notification from the server is
/// `{"jsonrpc":"2.0","method":"<m>","params":{<flat fields>}}`: one pass over the params picks out
/// the wanted string fields. Anything unusual (an escaped string, a nested value, a missing field,
/// another method or layout) returns `None` and takes the full parse.
fn classify_notification_fast(text: &str) -> Option<Inbound<'_>> {
    let rest = text.strip_prefix("{\"jsonrpc\":\"2.0\",\"method\":\"")?;
    let (method, rest) = rest.split_once('"')?;
    let params = rest.strip_prefix(",\"params\":{")?.strip_suffix("}}")?;
    // `Some(None)`: the key is there with a value that is not a plain string (the full parse decides).
    let field = |key: &str| FlatFields(params).find(|(k, _)| *k == key).map(|(_, value)| value);
    match method {
        "participantJoined" => Some(Inbound::ParticipantJoined(Cow::Borrowed(field("id")??))),
        "participantLeft" => Some(Inbound::ParticipantLeft(Cow::Borrowed(field("connectionId")??))),
        "sendMessage" => {
            let from = match field("from") {
                Some(value) => Some(Cow::Borrowed(value?)),
                None => None,
            };
            Some(Inbound::Signal { from, data: Cow::Borrowed(field("data")??) })
        }
        _ => None,
    }
}

/// The `"key":value` pairs of a flat JSON object's inside, in order. A plain string value comes as
/// `Some(text)`; a number, `true`/`false`/`null` as `None`. An escaped string or a nested value ends
/// the walk as `("", None)` so that no field after it is trusted.
struct FlatFields<'a>(&'a str);

impl<'a> Iterator for FlatFields<'a> {
    type Item = (&'a str, Option<&'a str>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let give_up = |fields: &mut Self| {
            fields.0 = "";
            Some(("", None))
        };
        let Some(rest) = self.0.strip_prefix('"') else { return give_up(self) };
        let Some((key, rest)) = rest.split_once("\":") else { return give_up(self) };
        let (value, rest) = if let Some(string) = rest.strip_prefix('"') {
            let Some(end) = string.find(['"', '\\']) else { return give_up(self) };
            if string.as_bytes()[end] == b'\\' {
                return give_up(self);
            }
            (Some(&string[..end]), &string[end + 1..])
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            let scalar = &rest[..end];
            if scalar.contains(['{', '[', '"']) {
                return give_up(self);
            }
            (None, &rest[end..])
        };
        self.0 = match rest.strip_prefix(',') {
            Some(more) => more,
            None if rest.is_empty() => "",
            None => return give_up(self),
        };
        Some((key, value))
    }
}

fn clip(text: &str) -> &str {
    let end = text.char_indices().nth(200).map(|(i, _)| i).unwrap_or(text.len());
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn join_result_gives_own_id_and_roster() {
        let text = r#"{"jsonrpc":"2.0","id":1,"result":{"id":"con_A","value":[{"id":"con_B","createdAt":1,"metadata":""}],"session":"s","sessionId":"r","role":"PUBLISHER","version":"2.32.2"}}"#;
        assert_eq!(classify(text).unwrap(), Inbound::Joined { own_id: "con_A".into(), roster: vec!["con_B".into()] });
    }

    #[test]
    fn notifications_are_recognised() {
        let joined = r#"{"jsonrpc":"2.0","method":"participantJoined","params":{"id":"con_X","createdAt":1,"metadata":""}}"#;
        assert_eq!(classify(joined).unwrap(), Inbound::ParticipantJoined("con_X".into()));
        let left = r#"{"jsonrpc":"2.0","method":"participantLeft","params":{"connectionId":"con_X","reason":"disconnect"}}"#;
        assert_eq!(classify(left).unwrap(), Inbound::ParticipantLeft("con_X".into()));
        let signal = r#"{"jsonrpc":"2.0","method":"sendMessage","params":{"data":"p1s2t3","type":"signal:bench","from":"con_Y"}}"#;
        assert_eq!(classify(signal).unwrap(), Inbound::Signal { from: Some("con_Y".into()), data: "p1s2t3".into() });
    }

    #[test]
    fn the_fast_path_agrees_with_the_full_parse_and_falls_back_on_escapes() {
        let frames = [
            r#"{"jsonrpc":"2.0","method":"participantJoined","params":{"createdAt":1,"id":"con_X","metadata":"{\"id\":\"fake\"}"}}"#,
            r#"{"jsonrpc":"2.0","method":"participantLeft","params":{"connectionId":"con_X","reason":"disconnect"}}"#,
            r#"{"jsonrpc":"2.0","method":"sendMessage","params":{"data":"p1s2t3","from":"con_Y","type":"signal:bench"}}"#,
            r#"{"jsonrpc":"2.0","method":"sendMessage","params":{"data":"a\"b","from":"con_Y","type":"signal:bench"}}"#,
        ];
        for text in frames {
            let full: Frame = serde_json::from_str(text).unwrap();
            assert!(full.method.is_some());
            if let Some(fast) = classify_notification_fast(text) {
                assert_eq!(Some(fast), classify(text).ok(), "{text}");
            }
        }
        assert_eq!(classify_notification_fast(frames[0]), Some(Inbound::ParticipantJoined("con_X".into())), "the metadata's escaped id is not a key");
        assert_eq!(classify_notification_fast(frames[3]), None, "escaped data takes the full parse");
        assert_eq!(classify(frames[3]).unwrap(), Inbound::Signal { from: Some("con_Y".into()), data: "a\"b".into() });
        assert_eq!(classify_notification_fast(r#"{"jsonrpc":"2.0","method":"participantJoined","params":{}}"#), None);
        let nested = r#"{"jsonrpc":"2.0","method":"participantJoined","params":{"x":{"id":"fake"},"id":"con_X"}}"#;
        assert_eq!(classify_notification_fast(nested), None, "nothing after a nested value is trusted");
        assert_eq!(classify(nested).unwrap(), Inbound::ParticipantJoined("con_X".into()));
    }

    #[test]
    fn errors_and_pongs() {
        let error = r#"{"jsonrpc":"2.0","id":1,"error":{"code":401,"message":"bad token"}}"#;
        assert_eq!(classify(error).unwrap(), Inbound::Error { request_id: Some(1), code: 401, message: "bad token".into() });
        let pong = r#"{"jsonrpc":"2.0","id":7,"result":{"value":"pong","sessionId":"r"}}"#;
        assert_eq!(classify(pong).unwrap(), Inbound::Other);
    }

    #[test]
    fn malformed_frames_are_errors() {
        assert!(classify("not json").is_err());
        assert!(classify(r#"{"jsonrpc":"2.0","method":"participantJoined","params":{}}"#).is_err());
        assert!(classify(r#"{"jsonrpc":"2.0","id":1,"result":{"value":"pong"}}"#).is_err());
    }

    #[test]
    fn outgoing_frames_follow_the_spec() {
        let join: Value = serde_json::from_str(&join_room("ws://h?sessionId=s&token=t", "s")).unwrap();
        assert_eq!(join["method"], "joinRoom");
        assert_eq!(join["params"]["token"], "ws://h?sessionId=s&token=t");
        let send: Value = serde_json::from_str(&send_message(3, "d")).unwrap();
        let message: Value = serde_json::from_str(send["params"]["message"].as_str().unwrap()).unwrap();
        assert_eq!(message["data"], "d");
        assert_eq!(message["to"], json!([]));
        let first_ping: Value = serde_json::from_str(&ping(0, Some(5000))).unwrap();
        assert_eq!(first_ping["params"]["interval"], 5000);
        let later_ping: Value = serde_json::from_str(&ping(2, None)).unwrap();
        assert!(later_ping.get("params").is_none());
    }

    #[test]
    fn leave_and_its_answer() {
        let leave: Value = serde_json::from_str(&leave_room(7)).unwrap();
        assert_eq!((leave["method"].as_str(), leave["id"].as_u64()), (Some("leaveRoom"), Some(7)));
        assert!(is_response_to(r#"{"jsonrpc":"2.0","id":7,"result":{"sessionId":"r"}}"#, 7));
        assert!(!is_response_to(r#"{"jsonrpc":"2.0","id":6,"result":{}}"#, 7));
        assert!(!is_response_to(r#"{"jsonrpc":"2.0","method":"participantLeft","params":{}}"#, 7));
    }

    #[test]
    fn token_query_values() {
        assert_eq!(session_of_token("ws://h:1?sessionId=abc&token=tok_1"), Some("abc"));
        assert_eq!(query_value("ws://h:1?sessionId=abc&token=tok_1", "token"), Some("tok_1"));
        assert_eq!(session_of_token("ws://h:1"), None);
    }
}
