//! Basic auth for the REST API: `OPENVIDUAPP:<secret>`, the secret compared in constant time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use subtle::ConstantTimeEq;

use crate::state::ServerState;

/// The only user name OpenVidu accepts.
const USER: &str = "OPENVIDUAPP";

/// Rejects requests without valid credentials with 401.
pub async fn require_basic_auth(State(hub): State<Arc<ServerState>>, request: Request, next: Next) -> Response {
    let header_value = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if header_value.is_some_and(|value| credentials_match(value, &hub.config.secret)) {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"OpenVidu\"")],
            "missing or wrong credentials",
        )
            .into_response()
    }
}

/// True when `Authorization` carries `Basic base64(OPENVIDUAPP:secret)`.
pub fn credentials_match(authorization: &str, secret: &str) -> bool {
    let Some(encoded) = authorization
        .strip_prefix("Basic ")
        .or_else(|| authorization.strip_prefix("basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Some(colon) = decoded.iter().position(|b| *b == b':') else {
        return false;
    };
    let (user, given) = (&decoded[..colon], &decoded[colon + 1..]);
    let user_ok = user == USER.as_bytes();
    let secret_ok: bool = given.ct_eq(secret.as_bytes()).into();
    user_ok & secret_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(s: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(s))
    }

    #[test]
    fn accepts_only_the_right_user_and_secret() {
        assert!(credentials_match(&basic("OPENVIDUAPP:s3cret"), "s3cret"));
        assert!(!credentials_match(&basic("OPENVIDUAPP:s3cre"), "s3cret"));
        assert!(!credentials_match(&basic("OTHER:s3cret"), "s3cret"));
        assert!(!credentials_match("Bearer x", "s3cret"));
        assert!(!credentials_match("Basic !!!", "s3cret"));
    }
}
