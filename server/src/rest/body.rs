//! Lenient-but-typed reading of REST JSON bodies: explicit `null` means "default", a wrong type is a 400.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::model::{Role, ServerError};

/// A REST failure: status and a short text.
#[derive(Debug)]
pub struct RestError(pub StatusCode, pub String);

impl RestError {
    /// 400 with a reason.
    pub fn bad_request(why: impl Into<String>) -> RestError {
        RestError(StatusCode::BAD_REQUEST, why.into())
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

impl From<ServerError> for RestError {
    fn from(error: ServerError) -> RestError {
        let status = match &error {
            ServerError::SessionNotFound | ServerError::ConnectionNotFound | ServerError::StreamNotFound => {
                StatusCode::NOT_FOUND
            }
            ServerError::SessionExists => StatusCode::CONFLICT,
            ServerError::UnknownRecipient(_) | ServerError::NoParticipants => StatusCode::NOT_ACCEPTABLE,
            ServerError::BadRequest(_) | ServerError::SignalTooLarge(_) => StatusCode::BAD_REQUEST,
            ServerError::SessionLimitReached => StatusCode::TOO_MANY_REQUESTS,
            ServerError::ConnectionLimitExceeded => StatusCode::CONFLICT,
        };
        RestError(status, error.to_string())
    }
}

/// Parses a body as a JSON object; an empty body is an empty object.
pub fn object(body: &[u8]) -> Result<Map<String, Value>, RestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(RestError::bad_request("body must be a JSON object")),
        Err(_) => Err(RestError::bad_request("body is not valid JSON")),
    }
}

/// An optional string field.
pub fn opt_string(map: &Map<String, Value>, key: &str) -> Result<Option<String>, RestError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(RestError::bad_request(format!("{key} must be a string"))),
    }
}

/// An optional boolean field.
pub fn opt_bool(map: &Map<String, Value>, key: &str) -> Result<Option<bool>, RestError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(RestError::bad_request(format!("{key} must be a boolean"))),
    }
}

/// An optional role field.
pub fn opt_role(map: &Map<String, Value>, key: &str) -> Result<Option<Role>, RestError> {
    match opt_string(map, key)? {
        None => Ok(None),
        Some(name) => Role::parse(&name)
            .map(Some)
            .ok_or_else(|| RestError::bad_request(format!("{key} must be SUBSCRIBER, PUBLISHER or MODERATOR"))),
    }
}

/// An optional object field (kept as is).
pub fn opt_object(map: &Map<String, Value>, key: &str) -> Result<Option<Value>, RestError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
        Some(_) => Err(RestError::bad_request(format!("{key} must be an object"))),
    }
}

/// An optional list of strings.
pub fn opt_string_list(map: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, RestError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| RestError::bad_request(format!("{key} must be an array of strings"))),
        Some(_) => Err(RestError::bad_request(format!("{key} must be an array of strings"))),
    }
}

/// An optional value restricted to a set of names.
pub fn opt_enum(map: &Map<String, Value>, key: &str, allowed: &[&str]) -> Result<Option<String>, RestError> {
    match opt_string(map, key)? {
        Some(v) if !allowed.contains(&v.as_str()) => Err(RestError::bad_request(format!(
            "{key} must be one of {}",
            allowed.join(", ")
        ))),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nulls_are_defaults_and_wrong_types_are_errors() {
        let map = object(br#"{"a":null,"b":"x","c":1,"r":"MODERATOR","l":["x"]}"#).unwrap();
        assert_eq!(opt_string(&map, "a").unwrap(), None);
        assert_eq!(opt_string(&map, "b").unwrap(), Some("x".into()));
        assert!(opt_string(&map, "c").is_err());
        assert_eq!(opt_role(&map, "r").unwrap(), Some(Role::Moderator));
        assert!(opt_role(&map, "b").is_err());
        assert_eq!(opt_string_list(&map, "l").unwrap(), Some(vec!["x".to_string()]));
        assert!(object(b"[1]").is_err());
        assert!(object(b"{").is_err());
        assert_eq!(object(b"").unwrap(), Map::new());
        assert_eq!(
            opt_object(&object(br#"{"o":{"k":1}}"#).unwrap(), "o").unwrap(),
            Some(json!({"k":1}))
        );
    }
}
