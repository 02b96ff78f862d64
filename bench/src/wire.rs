//! The JSON-RPC frames the load generator sends, and the few shapes it reads back
//! (spec/wire-protocol.md sections 2-4).

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::json_scan;

/// Request id the load generator always uses for `joinRoom` (pings use other ids).
pub const JOIN_REQUEST_ID: u64 = 1;

// The frames below are written with `format!` and `quoted`, not built as `serde_json::Value` trees:
// tens of thousands go out per second in S5, and the trees' allocations and the walk that prints
// them were ~2% of the load generator's samples. `outgoing_frames_follow_the_spec` parses them back.

/// `ping`; the first one of a socket carries the interval.
pub fn ping(id: u64, interval_ms: Option<u64>) -> String {
    match interval_ms {
        Some(ms) => format!(r#"{{"jsonrpc":"2.0","method":"ping","id":{id},"params":{{"interval":{ms}}}}}"#),
        None => format!(r#"{{"jsonrpc":"2.0","method":"ping","id":{id}}}"#),
    }
}

/// `joinRoom` with a token, as openvidu-browser sends it.
pub fn join_room(token: &str, session: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","method":"joinRoom","id":{JOIN_REQUEST_ID},"params":{{"token":{},"session":{},"platform":"otc-bench","sdkVersion":"2.32.2","metadata":"","secret":"","recorder":false,"stt":false}}}}"#,
        quoted(token),
        quoted(session)
    )
}

/// `leaveRoom`.
pub fn leave_room(id: u64) -> String {
    format!(r#"{{"jsonrpc":"2.0","method":"leaveRoom","id":{id},"params":{{}}}}"#)
}

/// True when `text` is the response (result or error) to request `id`.
pub fn is_response_to(text: &str, id: u64) -> bool {
    // A leaving client reads mostly notifications while it waits; the fast paths know them.
    let notification = classify_participant_joined_fast(text)
        .or_else(|| classify_participant_left_fast(text))
        .or_else(|| classify_notification_fast(text));
    if notification.is_some() {
        return false;
    }
    #[derive(Deserialize)]
    struct Response {
        id: Option<u64>,
        method: Option<IgnoredAny>,
    }
    serde_json::from_str::<Response>(text).is_ok_and(|r| r.method.is_none() && r.id == Some(id))
}

/// `sendMessage` to everyone (sender included) with a signal `data` of type `bench`.
pub fn send_message(id: u64, data: &str) -> String {
    let message = format!(r#"{{"to":[],"data":{},"type":"signal:bench"}}"#, quoted(data));
    format!(r#"{{"jsonrpc":"2.0","method":"sendMessage","id":{id},"params":{{"message":{}}}}}"#, quoted(&message))
}

/// `text` as a JSON string literal, quotes and escapes included.
fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
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
    result: Option<IgnoredAny>,
    error: Option<RpcError>,
}

/// A `joinRoom` answer, read for the ids only (borrowed from the frame: a 1000-member answer is
/// one allocation, not a tree of maps). The hot path reads it without serde
/// ([`classify_join_answer_fast`]); this is the fallback for any other layout.
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
    let fast = classify_participant_joined_fast(text)
        .or_else(|| classify_participant_left_fast(text))
        .or_else(|| classify_notification_fast(text))
        .or_else(|| classify_join_answer_fast(text));
    match fast {
        Some(inbound) => Ok(inbound),
        None => classify_full(text),
    }
}

/// True when one of [`classify`]'s fast paths reads `text` (tests keep the server's layout on them).
#[cfg(test)]
pub fn read_by_fast_path(text: &str) -> bool {
    classify_participant_joined_fast(text)
        .or_else(|| classify_participant_left_fast(text))
        .or_else(|| classify_notification_fast(text))
        .or_else(|| classify_join_answer_fast(text))
        .is_some()
}

/// The hottest path of all: an N-client join storm delivers N²/2 `participantJoined`, and walking
/// each member by member was most of the load generator's core (S1 N=5000 saturated it while the
/// server's core had room). otc-server writes them all as
/// `{"method":"participantJoined","params":<member>,"jsonrpc":"2.0"}` (see [`server_member`]): a
/// frame of exactly that layout gives its id at once. Any other layout (another member order,
/// streams, an escaped id) returns `None` for the general paths.
pub(crate) fn classify_participant_joined_fast(text: &str) -> Option<Inbound<'_>> {
    let rest = text.strip_prefix(r#"{"method":"participantJoined","params":"#)?;
    let (id, rest) = server_member(rest)?;
    (rest == r#","jsonrpc":"2.0"}"#).then_some(Inbound::ParticipantJoined(Cow::Borrowed(id)))
}

/// The churn's counterpart: each leave reaches every member of the session, ~400k
/// `participantLeft` a second in S5 at 4,000 leaves/s, and the general walk below spent ~5% of
/// the load generator's samples in its string scans. otc-server writes them as
/// `{"jsonrpc":"2.0","method":"participantLeft","params":{"connectionId":"<id>","reason":"<text>"}}`;
/// any other layout, or an id with escapes, returns `None` for the general paths.
pub(crate) fn classify_participant_left_fast(text: &str) -> Option<Inbound<'_>> {
    let rest = text.strip_prefix(r#"{"jsonrpc":"2.0","method":"participantLeft","params":{"connectionId":""#)?;
    let (id, rest) = json_scan::string_body(rest)?;
    if id.is_empty() || id.contains('\\') {
        return None;
    }
    let (_, rest) = json_scan::string_body(rest.strip_prefix(r#","reason":""#)?)?;
    (rest == "}}").then_some(Inbound::ParticipantLeft(Cow::Borrowed(id)))
}

/// One member exactly as otc-server encodes it, in `participantJoined` and in the `joinRoom`
/// roster: `{"createdAt":<ms>,"id":"<id>","metadata":"<text>"}`, with a non-empty id without
/// escapes. Its id and the text after it; `None` for anything else.
fn server_member(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix(r#"{"createdAt":"#)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let rest = rest[digits..].strip_prefix(r#","id":""#).filter(|_| digits > 0)?;
    let (id, rest) = json_scan::string_body(rest)?;
    if id.is_empty() || id.contains('\\') {
        return None;
    }
    let rest = rest.strip_prefix(r#","metadata":""#)?;
    let (_, rest) = json_scan::string_body(rest)?;
    Some((id, rest.strip_prefix('}')?))
}

/// [`classify`] by serde_json, for every frame the fast paths leave alone.
fn classify_full(text: &str) -> Result<Inbound<'_>, String> {
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
/// parse of each was a third of its core. A notification is an object with `jsonrpc` "2.0", a
/// `method` and flat `params`, in any order: one walk over the text picks out the wanted string
/// fields. Anything unusual (an escaped wanted string, an `id`, a repeated or missing field, another
/// method) returns `None` and takes the full parse.
fn classify_notification_fast(text: &str) -> Option<Inbound<'_>> {
    let (mut version, mut method, mut params) = (None, None, None);
    let rest = json_scan::object(text, |key, value| {
        let slot = match key {
            "jsonrpc" => &mut version,
            "method" => &mut method,
            "params" => &mut params,
            _ => return None,
        };
        slot.replace(value).is_none().then_some(())
    })?;
    if !rest.is_empty() || version != Some("\"2.0\"") {
        return None;
    }
    let method = plain_string(method?)?;
    let wanted: &[&str] = match method {
        "participantJoined" => &["id"],
        "participantLeft" => &["connectionId"],
        "sendMessage" => &["data", "from"],
        _ => return None,
    };
    let mut found: [Option<&str>; 2] = [None, None];
    let after_params = json_scan::object(params?, |key, value| {
        if let Some(index) = wanted.iter().position(|w| *w == key) {
            found[index].replace(plain_string(value)?).is_none().then_some(())?;
        }
        Some(())
    })?;
    if !after_params.is_empty() {
        return None;
    }
    Some(match method {
        "participantJoined" => Inbound::ParticipantJoined(Cow::Borrowed(found[0]?)),
        "participantLeft" => Inbound::ParticipantLeft(Cow::Borrowed(found[0]?)),
        _ => Inbound::Signal { from: found[1].map(Cow::Borrowed), data: Cow::Borrowed(found[0]?) },
    })
}

/// The other hot path: in an N-client join storm the `joinRoom` answers hold as many roster entries
/// as all the notifications together. The server writes `{"id":1,"result":{"value":[<entries>],
/// <the joiner's fields>},"jsonrpc":"2.0"}`, each entry a flat object with an `"id"`: one walk over
/// the text picks out the ids. Any other layout, an escaped id or a missing field returns `None` and
/// takes the full parse.
fn classify_join_answer_fast(text: &str) -> Option<Inbound<'_>> {
    let mut rest = text.strip_prefix("{\"id\":1,\"result\":{\"value\":[")?;
    let mut roster = Vec::new();
    if let Some(after) = rest.strip_prefix(']') {
        rest = after;
    } else {
        loop {
            // otc-server's members are read by their exact layout; any other by a general walk.
            if let Some((id, after)) = server_member(rest) {
                roster.push(Cow::Borrowed(id));
                rest = after;
            } else {
                let mut id = None;
                rest = json_scan::object(rest, |key, value| {
                    match key {
                        "id" => id.replace(plain_string(value)?).is_none().then_some(()), // serde refuses a repeat
                        _ => Some(()),
                    }
                })?;
                roster.push(Cow::Borrowed(id?));
            }
            match *rest.as_bytes().first()? {
                b',' => rest = &rest[1..],
                b']' => break rest = &rest[1..],
                _ => return None,
            }
        }
    }
    let mut own_id = None;
    rest = json_scan::remaining_members(rest, |key, value| match key {
        "id" => own_id.replace(plain_string(value)?).is_none().then_some(()),
        "value" => None, // a second roster: the full parse decides (serde refuses repeats)
        _ => Some(()),
    })?;
    let frame_end = json_scan::remaining_members(rest, |key, value| (key == "jsonrpc" && value == "\"2.0\"").then_some(()))?;
    if !frame_end.is_empty() {
        return None;
    }
    Some(Inbound::Joined { own_id: Cow::Borrowed(own_id?), roster })
}

/// The value of the raw JSON string `raw` (quotes included) when it holds no escape.
fn plain_string(raw: &str) -> Option<&str> {
    let inside = raw.strip_prefix('"')?.strip_suffix('"')?;
    (!inside.contains('\\')).then_some(inside)
}

fn clip(text: &str) -> &str {
    let end = text.char_indices().nth(200).map(|(i, _)| i).unwrap_or(text.len());
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn join_result_gives_own_id_and_roster() {
        let text = r#"{"jsonrpc":"2.0","id":1,"result":{"id":"con_A","value":[{"id":"con_B","createdAt":1,"metadata":""}],"session":"s","sessionId":"r","role":"PUBLISHER","version":"2.32.2"}}"#;
        assert_eq!(classify(text).unwrap(), Inbound::Joined { own_id: "con_A".into(), roster: vec!["con_B".into()] });
    }

    #[test]
    fn join_result_is_read_in_any_layout_with_escaped_metadata() {
        let server_layout = r#"{"id":1,"result":{"value":[{"id":"con_B","createdAt":1,"metadata":"{\"clientData\":\"b\"}"},{"id":"con_C","createdAt":2,"metadata":""}],"id":"con_A","createdAt":3,"metadata":"{\"x\":[1]}","customIceServers":[],"record":true},"jsonrpc":"2.0"}"#;
        assert_eq!(
            classify(server_layout).unwrap(),
            Inbound::Joined { own_id: "con_A".into(), roster: vec!["con_B".into(), "con_C".into()] }
        );
        let escaped_id = r#"{"id":1,"result":{"id":"con_\u0041","value":[]}}"#;
        assert_eq!(classify(escaped_id).unwrap(), Inbound::Joined { own_id: "con_A".into(), roster: vec![] });
    }

    #[test]
    fn the_join_answer_fast_path_agrees_with_the_full_parse() {
        let agreeing = [
            r#"{"id":1,"result":{"value":[{"createdAt":1,"id":"con_B","metadata":"{\"clientData\":\"b}]\"}"},{"id":"con_C","createdAt":2,"metadata":""}],"createdAt":3,"customIceServers":[],"id":"con_A","metadata":"{\"x\":[1]}","record":true},"jsonrpc":"2.0"}"#,
            r#"{"id":1,"result":{"value":[],"id":"con_A"},"jsonrpc":"2.0"}"#,
            r#"{"id":1,"result":{"value":[{"id":"con_B","extra":{"nested":[{}]}}],"id":"con_A"},"jsonrpc":"2.0"}"#,
            // otc-server's layout next to others, and one that starts like it but has one more key.
            r#"{"id":1,"result":{"value":[{"createdAt":1,"id":"con_B","metadata":"{\"a\":\"}\"}"},{"id":"con_C","createdAt":2},{"createdAt":3,"id":"con_D","metadata":"","x":{}}],"id":"con_A"},"jsonrpc":"2.0"}"#,
        ];
        for text in agreeing {
            let fast = classify_join_answer_fast(text);
            assert!(fast.is_some(), "{text}");
            assert_eq!(fast, classify_full(text).ok(), "{text}");
        }
        let declined = [
            r#"{"id":1,"result":{"value":[{"id":"con_\u0042"}],"id":"con_A"},"jsonrpc":"2.0"}"#,
            r#"{"id":1,"result":{"value":[{"createdAt":1}],"id":"con_A"},"jsonrpc":"2.0"}"#,
            r#"{"id":1,"result":{"value":[],"id":"con_A","value":[{"id":"con_B"}]},"jsonrpc":"2.0"}"#,
            r#"{"id":1,"result":{"value":[]},"jsonrpc":"2.0"}"#,
            r#"{"id":1,"result":{"value":[], "id":"con_A"},"jsonrpc":"2.0"}"#,
            r#"{"id":1,"result":{"value":[],"id":"con_A"},"jsonrpc":"2.0"} "#,
            r#"{"id":1,"result":{"value":[],"id":"con_A"},"jsonrpc":"2.0","method":"x"}"#,
            r#"{"id":2,"result":{"value":[],"id":"con_A"},"jsonrpc":"2.0"}"#,
            r#"{"id":1,"result":{"value":[{"id":"con_B"}"#,
            r#"{"id":1,"result":{"value":[{"id":"con_B","id":"con_C"}],"id":"con_A"},"jsonrpc":"2.0"}"#,
            r#"{"id":1,"result":{"value":[],"id":"con_A","id":"con_Z"},"jsonrpc":"2.0"}"#,
        ];
        for text in declined {
            assert_eq!(classify_join_answer_fast(text), None, "{text}");
        }
        assert_eq!(classify(declined[0]).unwrap(), Inbound::Joined { own_id: "con_A".into(), roster: vec!["con_B".into()] });
        assert!(classify(declined[1]).is_err(), "an entry without id is an error");
        assert!(classify(declined[8]).is_err(), "a cut frame is an error");
        assert!(classify(declined[9]).is_err(), "an entry with two ids is an error");
        assert!(classify(declined[10]).is_err(), "an answer with two ids is an error");
    }

    #[test]
    fn other_results_of_any_shape_are_other() {
        for text in [
            r#"{"jsonrpc":"2.0","id":7,"result":true}"#,
            r#"{"jsonrpc":"2.0","id":7,"result":[1,{"a":2}]}"#,
            r#"{"jsonrpc":"2.0","id":7,"result":{"id":{"n":1},"value":{"k":[]}}}"#,
            r#"{"jsonrpc":"2.0","id":7,"result":"text"}"#,
        ] {
            assert_eq!(classify(text).unwrap(), Inbound::Other, "{text}");
        }
        assert!(classify(r#"{"jsonrpc":"2.0","id":1,"result":{"id":"con_A","value":"pong"}}"#).is_err());
        assert!(classify(r#"{"jsonrpc":"2.0","id":1,"result":{"id":"con_A","value":[{"createdAt":1}]}}"#).is_err());
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
        assert_eq!(classify_notification_fast(nested), Some(Inbound::ParticipantJoined("con_X".into())), "a nested value is skipped whole");
        assert_eq!(classify(nested).unwrap(), Inbound::ParticipantJoined("con_X".into()));
    }

    #[test]
    fn the_server_layout_of_participant_joined_is_read_at_once_and_anything_else_is_not() {
        let server = r#"{"method":"participantJoined","params":{"createdAt":1700000000000,"id":"con_X","metadata":"{\"clientData\":\"a \\\"b\"}"},"jsonrpc":"2.0"}"#;
        assert_eq!(classify_participant_joined_fast(server), Some(Inbound::ParticipantJoined("con_X".into())));
        assert_eq!(classify_full(server).ok(), classify_participant_joined_fast(server));
        let empty_metadata = r#"{"method":"participantJoined","params":{"createdAt":1,"id":"con_X","metadata":""},"jsonrpc":"2.0"}"#;
        assert_eq!(classify_participant_joined_fast(empty_metadata), Some(Inbound::ParticipantJoined("con_X".into())));
        let others = [
            r#"{"method":"participantJoined","params":{"createdAt":1,"id":"con_X","metadata":"","streams":[]},"jsonrpc":"2.0"}"#,
            r#"{"method":"participantJoined","params":{"createdAt":1,"id":"con\u0058","metadata":""},"jsonrpc":"2.0"}"#,
            r#"{"method":"participantJoined","params":{"createdAt":1,"id":"","metadata":""},"jsonrpc":"2.0"}"#,
            r#"{"method":"participantJoined","params":{"createdAt":"1","id":"con_X","metadata":""},"jsonrpc":"2.0"}"#,
            r#"{"method":"participantJoined","params":{"createdAt":,"id":"con_X","metadata":""},"jsonrpc":"2.0"}"#,
            r#"{"method":"participantJoined","params":{"createdAt":1,"id":"con_X","metadata":""},"jsonrpc":"1.0"}"#,
            r#"{"method":"participantJoined","params":{"createdAt":1,"id":"con_X","metadata":""},"jsonrpc":"2.0"} "#,
            r#"{"method":"participantJoined","params":{"createdAt":1,"id":"con_X","metadata":"}"#,
            r#"{"jsonrpc":"2.0","method":"participantJoined","params":{"createdAt":1,"id":"con_X","metadata":""}}"#,
            r#"{"method":"participantJoined","params":{"id":"con_X","createdAt":1,"metadata":""},"jsonrpc":"2.0"}"#,
        ];
        for text in others {
            assert_eq!(classify_participant_joined_fast(text), None, "{text}");
        }
        // The general paths still read the ones that are well formed.
        assert_eq!(classify(others[0]).unwrap(), Inbound::ParticipantJoined("con_X".into()));
        assert_eq!(classify(others[1]).unwrap(), Inbound::ParticipantJoined("conX".into()));
    }

    #[test]
    fn the_server_layout_of_participant_left_is_read_at_once_and_anything_else_is_not() {
        let server = r#"{"jsonrpc":"2.0","method":"participantLeft","params":{"connectionId":"con_X","reason":"disconnect"}}"#;
        assert_eq!(classify_participant_left_fast(server), Some(Inbound::ParticipantLeft("con_X".into())));
        assert_eq!(classify_full(server).ok(), classify_participant_left_fast(server));
        let escaped_reason = r#"{"jsonrpc":"2.0","method":"participantLeft","params":{"connectionId":"con_X","reason":"a \"b\""}}"#;
        assert_eq!(classify_participant_left_fast(escaped_reason), Some(Inbound::ParticipantLeft("con_X".into())));
        let others = [
            r#"{"jsonrpc":"2.0","method":"participantLeft","params":{"reason":"disconnect","connectionId":"con_X"}}"#,
            r#"{"jsonrpc":"2.0","method":"participantLeft","params":{"connectionId":"con\u0058","reason":"disconnect"}}"#,
            r#"{"jsonrpc":"2.0","method":"participantLeft","params":{"connectionId":"","reason":"disconnect"}}"#,
            r#"{"jsonrpc":"2.0","method":"participantLeft","params":{"connectionId":"con_X","reason":"disconnect","x":1}}"#,
            r#"{"jsonrpc":"2.0","method":"participantLeft","params":{"connectionId":"con_X","reason":"disconnect"}"#,
            r#"{"jsonrpc":"2.0","method":"participantLeft","params":{"connectionId":"con_X","reason":"disconnect"}},"#,
            r#"{"method":"participantLeft","params":{"connectionId":"con_X","reason":"disconnect"},"jsonrpc":"2.0"}"#,
        ];
        for text in others {
            assert_eq!(classify_participant_left_fast(text), None, "{text}");
        }
        assert_eq!(classify(others[0]).unwrap(), Inbound::ParticipantLeft("con_X".into()), "another order takes the general walk");
        assert_eq!(classify(others[1]).unwrap(), Inbound::ParticipantLeft("conX".into()), "an escaped id takes the full parse");
        assert!(classify(others[4]).is_err(), "a cut frame is an error");
    }

    #[test]
    fn notifications_are_read_fast_in_any_member_order_and_declined_when_unusual() {
        let reordered = [
            r#"{"method":"participantJoined","params":{"createdAt":1,"id":"con_X","metadata":""},"jsonrpc":"2.0"}"#,
            r#"{"params":{"reason":"disconnect","connectionId":"con_X"},"jsonrpc":"2.0","method":"participantLeft"}"#,
            r#"{"method":"sendMessage","params":{"type":"signal:bench","data":"p1s2t3"},"jsonrpc":"2.0"}"#,
        ];
        for text in reordered {
            let fast = classify_notification_fast(text);
            assert!(fast.is_some(), "{text}");
            assert_eq!(fast, classify_full(text).ok(), "{text}");
        }
        let declined = [
            r#"{"method":"participantJoined","params":{"id":"con_X","id":"con_Y"},"jsonrpc":"2.0"}"#,
            r#"{"method":"participantJoined","method":"participantLeft","params":{"id":"con_X"},"jsonrpc":"2.0"}"#,
            r#"{"method":"participantJoined","params":{"id":"con_X"},"jsonrpc":"1.0"}"#,
            r#"{"method":"participantJoined","params":{"id":"con_X"}}"#,
            r#"{"id":4,"method":"participantJoined","params":{"id":"con_X"},"jsonrpc":"2.0"}"#,
            r#"{"method":"participantJoined","params":{"id":7},"jsonrpc":"2.0"}"#,
            r#"{"method":"participantJoined","params":[],"jsonrpc":"2.0"}"#,
            r#"{"method":"iceCandidate","params":{"id":"con_X"},"jsonrpc":"2.0"}"#,
        ];
        for text in declined {
            assert_eq!(classify_notification_fast(text), None, "{text}");
        }
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
        assert_eq!((later_ping["jsonrpc"].as_str(), later_ping["method"].as_str(), later_ping["id"].as_u64()), (Some("2.0"), Some("ping"), Some(2)));
    }

    #[test]
    fn strings_in_outgoing_frames_are_escaped() {
        let awkward = "quote \" backslash \\ newline \n tab \t";
        let join: Value = serde_json::from_str(&join_room(awkward, awkward)).unwrap();
        assert_eq!((join["params"]["token"].as_str(), join["params"]["session"].as_str()), (Some(awkward), Some(awkward)));
        assert_eq!(join["id"].as_u64(), Some(JOIN_REQUEST_ID));
        let send: Value = serde_json::from_str(&send_message(3, awkward)).unwrap();
        assert_eq!(send["id"].as_u64(), Some(3));
        let message: Value = serde_json::from_str(send["params"]["message"].as_str().unwrap()).unwrap();
        assert_eq!((message["data"].as_str(), message["type"].as_str()), (Some(awkward), Some("signal:bench")));
    }

    #[test]
    fn leave_and_its_answer() {
        let leave: Value = serde_json::from_str(&leave_room(7)).unwrap();
        assert_eq!((leave["method"].as_str(), leave["id"].as_u64()), (Some("leaveRoom"), Some(7)));
        assert!(is_response_to(r#"{"jsonrpc":"2.0","id":7,"result":{"sessionId":"r"}}"#, 7));
        assert!(!is_response_to(r#"{"jsonrpc":"2.0","id":6,"result":{}}"#, 7));
        assert!(!is_response_to(r#"{"jsonrpc":"2.0","method":"participantLeft","params":{}}"#, 7));
        assert!(is_response_to(r#"{"jsonrpc":"2.0","id":7,"error":{"code":40,"message":"no"}}"#, 7), "an error answers too");
        let joined = r#"{"method":"participantJoined","params":{"createdAt":1,"id":"con_7","metadata":""},"jsonrpc":"2.0"}"#;
        let signal = r#"{"jsonrpc":"2.0","method":"sendMessage","params":{"data":"7","from":"con_7"}}"#;
        assert!(read_by_fast_path(joined) && read_by_fast_path(signal));
        assert!(!is_response_to(joined, 7) && !is_response_to(signal, 7), "notifications never answer");
    }

    #[test]
    fn token_query_values() {
        assert_eq!(session_of_token("ws://h:1?sessionId=abc&token=tok_1"), Some("abc"));
        assert_eq!(query_value("ws://h:1?sessionId=abc&token=tok_1", "token"), Some("tok_1"));
        assert_eq!(session_of_token("ws://h:1"), None);
    }
}
