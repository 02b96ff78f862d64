//! The server side of the WebSocket opening handshake (RFC 6455 section 4.2): checks that a request
//! asks for a WebSocket and builds the `101 Switching Protocols` answer. The server does the upgrade
//! itself (instead of a framework wrapper) so that it owns the raw connection: reads go through
//! tungstenite, writes through the socket's own writer ([`crate::outbound`]).

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// Why a request is not a WebSocket opening handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a GET.
    Method,
    /// No `Upgrade: websocket` header.
    UpgradeHeader,
    /// No `upgrade` token in `Connection`.
    ConnectionHeader,
    /// `Sec-WebSocket-Version` is missing or not 13.
    Version,
    /// `Sec-WebSocket-Key` is missing.
    Key,
    /// The HTTP connection cannot be upgraded (e.g. HTTP/2, or already taken).
    NotUpgradable,
}

impl Refusal {
    /// What the client is told.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Method => "WebSocket upgrade needs a GET request",
            Refusal::UpgradeHeader => "`Upgrade` header did not include 'websocket'",
            Refusal::ConnectionHeader => "`Connection` header did not include 'upgrade'",
            Refusal::Version => "`Sec-WebSocket-Version` header did not include '13'",
            Refusal::Key => "`Sec-WebSocket-Key` header missing",
            Refusal::NotUpgradable => "WebSocket request couldn't be upgraded since no upgrade state was present",
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = match self {
            Refusal::Method => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::Version => StatusCode::UPGRADE_REQUIRED,
            Refusal::NotUpgradable => StatusCode::UPGRADE_REQUIRED,
            _ => StatusCode::BAD_REQUEST,
        };
        let mut response = (status, self.message()).into_response();
        if self == Refusal::Version {
            response.headers_mut().insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        }
        response
    }
}

/// Checks the request headers and returns the `Sec-WebSocket-Accept` value to answer with.
pub fn accept_key(method: &Method, headers: &HeaderMap) -> Result<String, Refusal> {
    if method != Method::GET {
        return Err(Refusal::Method);
    }
    if !has_token(headers, header::UPGRADE, "websocket") {
        return Err(Refusal::UpgradeHeader);
    }
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return Err(Refusal::ConnectionHeader);
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION).map(HeaderValue::as_bytes) != Some(b"13") {
        return Err(Refusal::Version);
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY).ok_or(Refusal::Key)?;
    Ok(tungstenite::handshake::derive_accept_key(key.as_bytes()))
}

/// The `101 Switching Protocols` answer.
pub fn switching_protocols(accept: &str) -> Response {
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(value) = HeaderValue::from_str(accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, value);
    }
    response
}

/// True if a comma-separated header lists `token` (case-insensitive), in any of its values.
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    const VALID: [(&str, &str); 4] = [
        ("upgrade", "websocket"),
        ("connection", "keep-alive, Upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    #[test]
    fn the_rfc_sample_key_gets_the_rfc_sample_answer() {
        assert_eq!(accept_key(&Method::GET, &request(&VALID)), Ok("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_string()));
    }

    #[test]
    fn each_missing_piece_is_named() {
        let without = |skip: &str| request(&VALID.iter().copied().filter(|(n, _)| *n != skip).collect::<Vec<_>>());
        assert_eq!(accept_key(&Method::GET, &without("upgrade")), Err(Refusal::UpgradeHeader));
        assert_eq!(accept_key(&Method::GET, &without("connection")), Err(Refusal::ConnectionHeader));
        assert_eq!(accept_key(&Method::GET, &without("sec-websocket-version")), Err(Refusal::Version));
        assert_eq!(accept_key(&Method::GET, &without("sec-websocket-key")), Err(Refusal::Key));
        assert_eq!(accept_key(&Method::POST, &request(&VALID)), Err(Refusal::Method));
    }

    #[test]
    fn an_old_protocol_version_is_refused_with_the_version_we_speak() {
        let mut headers = request(&VALID);
        headers.insert("sec-websocket-version", HeaderValue::from_static("8"));
        assert_eq!(accept_key(&Method::GET, &headers), Err(Refusal::Version));
        let response = Refusal::Version.into_response();
        assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(response.headers().get(header::SEC_WEBSOCKET_VERSION).map(HeaderValue::as_bytes), Some(&b"13"[..]));
    }

    #[test]
    fn the_answer_switches_protocols() {
        let response = switching_protocols("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(response.headers()[header::SEC_WEBSOCKET_ACCEPT], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(response.headers()[header::UPGRADE], "websocket");
    }
}
