//! The server side of the WebSocket opening handshake (RFC 6455 section 4.2): checks that a request
//! asks for a WebSocket and builds the `101 Switching Protocols` answer. The server does the upgrade
//! itself (instead of a framework wrapper) so that it owns the raw connection: reads go through
//! tungstenite, writes through the socket's own writer ([`crate::outbound`]).

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
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

/// The headers of a request, wherever they were parsed.
pub trait RequestHeaders {
    /// Every value of the header `name` (lower case), in order.
    fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s [u8]> + 's;
}

impl RequestHeaders for HeaderMap {
    fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s [u8]> + 's {
        self.get_all(name).iter().map(HeaderValue::as_bytes)
    }
}

/// Headers parsed by the accept loop ([`super::direct`]), names in any case.
impl RequestHeaders for [httparse::Header<'_>] {
    fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s [u8]> + 's {
        self.iter().filter(move |h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value)
    }
}

/// Checks a request (`is_get`: its method is GET) and returns the `Sec-WebSocket-Accept` value to
/// answer with.
pub fn accept_key<H: RequestHeaders + ?Sized>(is_get: bool, headers: &H) -> Result<String, Refusal> {
    if !is_get {
        return Err(Refusal::Method);
    }
    if !has_token(headers, "upgrade", "websocket") {
        return Err(Refusal::UpgradeHeader);
    }
    if !has_token(headers, "connection", "upgrade") {
        return Err(Refusal::ConnectionHeader);
    }
    if headers.values("sec-websocket-version").next() != Some(b"13") {
        return Err(Refusal::Version);
    }
    let key = headers.values("sec-websocket-key").next().ok_or(Refusal::Key)?;
    Ok(tungstenite::handshake::derive_accept_key(key))
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

/// The same answer as [`switching_protocols`], as the bytes written on the raw connection.
pub fn switching_protocols_head(accept: &str) -> Vec<u8> {
    format!("HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-accept: {accept}\r\n\r\n").into_bytes()
}

/// True if a comma-separated header lists `token` (case-insensitive), in any of its values.
fn has_token<H: RequestHeaders + ?Sized>(headers: &H, name: &'static str, token: &str) -> bool {
    headers
        .values(name)
        .filter_map(|value| std::str::from_utf8(value).ok())
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
        assert_eq!(accept_key(true, &request(&VALID)), Ok("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_string()));
    }

    #[test]
    fn each_missing_piece_is_named() {
        let without = |skip: &str| request(&VALID.iter().copied().filter(|(n, _)| *n != skip).collect::<Vec<_>>());
        assert_eq!(accept_key(true, &without("upgrade")), Err(Refusal::UpgradeHeader));
        assert_eq!(accept_key(true, &without("connection")), Err(Refusal::ConnectionHeader));
        assert_eq!(accept_key(true, &without("sec-websocket-version")), Err(Refusal::Version));
        assert_eq!(accept_key(true, &without("sec-websocket-key")), Err(Refusal::Key));
        assert_eq!(accept_key(false, &request(&VALID)), Err(Refusal::Method));
    }

    #[test]
    fn an_old_protocol_version_is_refused_with_the_version_we_speak() {
        let mut headers = request(&VALID);
        headers.insert("sec-websocket-version", HeaderValue::from_static("8"));
        assert_eq!(accept_key(true, &headers), Err(Refusal::Version));
        let response = Refusal::Version.into_response();
        assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(response.headers().get(header::SEC_WEBSOCKET_VERSION).map(HeaderValue::as_bytes), Some(&b"13"[..]));
    }

    #[test]
    fn the_raw_answer_says_what_the_framework_answer_says() {
        let accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
        let framed = switching_protocols(accept);
        let raw = switching_protocols_head(accept);
        let mut parsed = [httparse::EMPTY_HEADER; 8];
        let mut head = httparse::Response::new(&mut parsed);
        assert_eq!(head.parse(&raw), Ok(httparse::Status::Complete(raw.len())));
        assert_eq!(head.code, Some(framed.status().as_u16()));
        assert_eq!(head.headers.len(), framed.headers().len());
        for (name, value) in framed.headers() {
            assert_eq!(head.headers.values(name.as_str()).collect::<Vec<_>>(), [value.as_bytes()], "{name}");
        }
    }

    #[test]
    fn parsed_headers_are_found_in_any_case() {
        let parsed = [
            httparse::Header { name: "UPGRADE", value: b"WebSocket" },
            httparse::Header { name: "Connection", value: b"keep-alive" },
            httparse::Header { name: "connection", value: b"Upgrade" },
            httparse::Header { name: "Sec-WebSocket-Version", value: b"13" },
            httparse::Header { name: "Sec-WebSocket-Key", value: b"dGhlIHNhbXBsZSBub25jZQ==" },
        ];
        assert_eq!(accept_key(true, &parsed[..]), Ok("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_string()));
        assert_eq!(accept_key(true, &parsed[..2]), Err(Refusal::ConnectionHeader), "upgrade only in a later value");
    }

    #[test]
    fn the_answer_switches_protocols() {
        let response = switching_protocols("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(response.headers()[header::SEC_WEBSOCKET_ACCEPT], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(response.headers()[header::UPGRADE], "websocket");
    }
}
