//! JSON-RPC 2.0 framing and request correlation, as kurento-jsonrpc (openvidu-browser) does it.
//!
//! Outgoing requests are serialized as `{"jsonrpc":"2.0","method":..,["params":..,]"id":N}` (the
//! browser's key order; `params` left out when there are none). Incoming frames are parsed strictly:
//! anything malformed becomes a [`FrameError`], never a panic.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;
use tokio::time::{Duration, Instant};

/// A JSON-RPC error object from the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RpcError {
    pub code: i64,
    pub message: String,
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

/// One parsed frame from the server.
#[derive(Debug, PartialEq)]
pub(crate) enum Incoming {
    /// The answer to one of our requests.
    Response { id: u64, outcome: Result<Value, RpcError> },
    /// A server notification (`method` + `params`, no `id`).
    Notification { method: String, params: Value },
    /// A request from the server (has `method` and `id`); the OpenVidu protocol has none.
    ServerRequest { method: String },
}

/// Why a frame was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FrameError {
    NotJson(String),
    NotAnObject,
    WrongVersion,
    ResultAndError,
    NeitherResultNorError,
    BadId,
    BadMethod,
    BadErrorObject,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::NotJson(e) => write!(f, "frame is not JSON: {e}"),
            FrameError::NotAnObject => write!(f, "frame is not a JSON object"),
            FrameError::WrongVersion => write!(f, "frame lacks \"jsonrpc\":\"2.0\""),
            FrameError::ResultAndError => write!(f, "response has both result and error"),
            FrameError::NeitherResultNorError => write!(f, "response has neither result nor error"),
            FrameError::BadId => write!(f, "response id is not a non-negative integer"),
            FrameError::BadMethod => write!(f, "method is not a string"),
            FrameError::BadErrorObject => write!(f, "error is not an object with an integer code"),
        }
    }
}

#[derive(Serialize)]
struct RequestFrame<'a, P: Serialize> {
    jsonrpc: &'static str,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a P>,
    id: u64,
}

/// Params of a request that has none (`params` is left out of the frame).
pub(crate) const NO_PARAMS: Option<&Value> = None;

/// Serializes one request frame in the browser's key order (params keep their own field order).
pub(crate) fn encode_request<P: Serialize>(id: u64, method: &str, params: Option<&P>) -> String {
    let frame = RequestFrame { jsonrpc: "2.0", method, params, id };
    // Serializing a struct of strings, integers and a `Value` cannot fail.
    serde_json::to_string(&frame).unwrap_or_default()
}

/// Parses one text frame strictly.
pub(crate) fn parse_frame(text: &str) -> Result<Incoming, FrameError> {
    let value: Value = serde_json::from_str(text).map_err(|e| FrameError::NotJson(e.to_string()))?;
    let Value::Object(mut obj) = value else {
        return Err(FrameError::NotAnObject);
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(FrameError::WrongVersion);
    }
    if let Some(method) = obj.remove("method") {
        let Value::String(method) = method else {
            return Err(FrameError::BadMethod);
        };
        if obj.contains_key("id") {
            return Ok(Incoming::ServerRequest { method });
        }
        let params = obj.remove("params").unwrap_or(Value::Null);
        return Ok(Incoming::Notification { method, params });
    }
    let id = obj.get("id").and_then(Value::as_u64).ok_or(FrameError::BadId)?;
    match (obj.remove("result"), obj.remove("error")) {
        (Some(_), Some(_)) => Err(FrameError::ResultAndError),
        (None, None) => Err(FrameError::NeitherResultNorError),
        (Some(result), None) => Ok(Incoming::Response { id, outcome: Ok(result) }),
        (None, Some(error)) => Ok(Incoming::Response { id, outcome: Err(parse_error_object(&error)?) }),
    }
}

fn parse_error_object(error: &Value) -> Result<RpcError, FrameError> {
    let code = error.get("code").and_then(Value::as_i64).ok_or(FrameError::BadErrorObject)?;
    let message = error.get("message").and_then(Value::as_str).unwrap_or_default().to_string();
    Ok(RpcError { code, message })
}

struct Pending<K> {
    kind: K,
    deadline: Instant,
}

/// Outstanding requests of one client: ids count from 0 for the client's whole life (across
/// reconnections), each request has a deadline.
pub(crate) struct Requests<K> {
    next_id: u64,
    pending: HashMap<u64, Pending<K>>,
}

impl<K> Requests<K> {
    /// No requests yet; the first id is 0.
    pub fn new() -> Requests<K> {
        Requests { next_id: 0, pending: HashMap::new() }
    }

    /// The id the next request will get.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Registers a request and returns its frame; `kind` comes back when it completes or expires.
    pub fn start<P: Serialize>(&mut self, method: &str, params: Option<&P>, kind: K, timeout: Duration) -> String {
        let id = self.next_id;
        self.next_id += 1;
        self.pending.insert(id, Pending { kind, deadline: Instant::now() + timeout });
        encode_request(id, method, params)
    }

    /// Takes the request answered by a response with this id (`None` for an unknown or late id).
    pub fn complete(&mut self, id: u64) -> Option<K> {
        self.pending.remove(&id).map(|p| p.kind)
    }

    /// The earliest deadline of the outstanding requests.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    /// Removes and returns the requests whose deadline has passed, oldest id first.
    pub fn take_expired(&mut self, now: Instant) -> Vec<K> {
        let mut ids: Vec<u64> = self.pending.iter().filter(|(_, p)| p.deadline <= now).map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.into_iter().filter_map(|id| self.complete(id)).collect()
    }

    /// Removes and returns every outstanding request, oldest id first (used when the socket is lost).
    pub fn take_all(&mut self) -> Vec<K> {
        let mut all: Vec<(u64, K)> = self.pending.drain().map(|(id, p)| (id, p.kind)).collect();
        all.sort_unstable_by_key(|(id, _)| *id);
        all.into_iter().map(|(_, k)| k).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_are_framed_like_the_browser() {
        assert_eq!(
            encode_request(0, "ping", Some(&json!({"interval": 5000}))),
            r#"{"jsonrpc":"2.0","method":"ping","params":{"interval":5000},"id":0}"#
        );
        assert_eq!(encode_request(7, "ping", NO_PARAMS), r#"{"jsonrpc":"2.0","method":"ping","id":7}"#);
    }

    #[test]
    fn parses_results_errors_and_notifications() {
        assert_eq!(
            parse_frame(r#"{"id":3,"result":{"value":"pong"},"jsonrpc":"2.0"}"#).unwrap(),
            Incoming::Response { id: 3, outcome: Ok(json!({"value":"pong"})) }
        );
        assert_eq!(
            parse_frame(r#"{"id":4,"error":{"code":401,"message":"no"},"jsonrpc":"2.0"}"#).unwrap(),
            Incoming::Response { id: 4, outcome: Err(RpcError { code: 401, message: "no".into() }) }
        );
        assert_eq!(
            parse_frame(r#"{"method":"participantLeft","params":{"connectionId":"c"},"jsonrpc":"2.0"}"#).unwrap(),
            Incoming::Notification { method: "participantLeft".into(), params: json!({"connectionId":"c"}) }
        );
    }

    #[test]
    fn rejects_hostile_frames_without_panicking() {
        let cases = [
            ("", FrameError::NotJson(String::new())),
            ("[1,2]", FrameError::NotAnObject),
            (r#"{"id":1,"result":{}}"#, FrameError::WrongVersion),
            (r#"{"jsonrpc":"1.0","id":1,"result":{}}"#, FrameError::WrongVersion),
            (r#"{"jsonrpc":"2.0","id":1,"result":{},"error":null}"#, FrameError::ResultAndError),
            (r#"{"jsonrpc":"2.0","id":1}"#, FrameError::NeitherResultNorError),
            (r#"{"jsonrpc":"2.0","id":"1","result":{}}"#, FrameError::BadId),
            (r#"{"jsonrpc":"2.0","id":-1,"result":{}}"#, FrameError::BadId),
            (r#"{"jsonrpc":"2.0","result":{}}"#, FrameError::BadId),
            (r#"{"jsonrpc":"2.0","method":5}"#, FrameError::BadMethod),
            (r#"{"jsonrpc":"2.0","id":1,"error":"boom"}"#, FrameError::BadErrorObject),
            (r#"{"jsonrpc":"2.0","id":1,"error":{"code":"x"}}"#, FrameError::BadErrorObject),
        ];
        for (text, expected) in cases {
            let err = parse_frame(text).expect_err(text);
            match expected {
                FrameError::NotJson(_) => assert!(matches!(err, FrameError::NotJson(_)), "{text}"),
                other => assert_eq!(err, other, "{text}"),
            }
        }
    }

    #[test]
    fn ids_count_from_zero_and_correlate() {
        let mut reqs: Requests<&str> = Requests::new();
        let a = reqs.start("ping", NO_PARAMS, "a", Duration::from_secs(5));
        let b = reqs.start("joinRoom", Some(&json!({})), "b", Duration::from_secs(10));
        assert!(a.ends_with(r#""id":0}"#));
        assert!(b.ends_with(r#""id":1}"#));
        assert_eq!(reqs.complete(1), Some("b"));
        assert_eq!(reqs.complete(1), None, "a second answer to the same id is ignored");
        assert_eq!(reqs.complete(99), None);
        assert_eq!(reqs.take_all(), vec!["a"]);
        let c = reqs.start("ping", NO_PARAMS, "c", Duration::from_secs(5));
        assert!(c.ends_with(r#""id":2}"#), "ids keep counting after the pending set was cleared");
    }

    #[test]
    fn expired_requests_are_taken_oldest_first() {
        let mut reqs: Requests<u32> = Requests::new();
        reqs.start("a", NO_PARAMS, 1, Duration::ZERO);
        reqs.start("b", NO_PARAMS, 2, Duration::from_secs(3600));
        reqs.start("c", NO_PARAMS, 3, Duration::ZERO);
        assert!(reqs.next_deadline().is_some());
        assert_eq!(reqs.take_expired(Instant::now()), vec![1, 3]);
        assert_eq!(reqs.take_all(), vec![2]);
        assert_eq!(reqs.next_deadline(), None);
    }
}
