//! Token URLs: `ws[s]://host[:port][/path]?sessionId=..&token=..`, parsed the way openvidu-browser does.
//!
//! The token's path is ignored: the WebSocket endpoint is always `<scheme>://host[:port]/openvidu`.

use super::types::{ClientError, ErrorCode};

/// A parsed token URL. Its `Debug` output leaves out the token and the secret (logs are not for credentials).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct TokenUrl {
    /// The full token string, sent back verbatim in `joinRoom.params.token`.
    pub full: String,
    /// `wss://` (TLS) or `ws://`.
    pub secure: bool,
    /// The host name or IPv4 address (IPv6 literals do not parse, as in the browser).
    pub host: String,
    /// The explicit port, if the token has one.
    pub port: Option<u16>,
    /// The `sessionId` query value.
    pub session_id: String,
    /// The optional `secret` query value (sent in `joinRoom.params.secret`, as the browser does).
    pub secret: String,
    /// Whether the token asks for a recorder participant (`recorder` query value present).
    pub recorder: bool,
}

impl std::fmt::Debug for TokenUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenUrl")
            .field("secure", &self.secure)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

impl TokenUrl {
    /// Parses a token; anything that is not a `ws`/`wss` URL with a host and a `sessionId` is `InvalidParameter`.
    pub fn parse(token: &str) -> Result<TokenUrl, ClientError> {
        let invalid = |why: &str| ClientError::new(ErrorCode::InvalidParameter, format!("invalid token: {why}"));
        let (secure, rest) = if let Some(rest) = token.strip_prefix("wss://") {
            (true, rest)
        } else if let Some(rest) = token.strip_prefix("ws://") {
            (false, rest)
        } else {
            return Err(invalid("the scheme must be ws:// or wss://"));
        };
        if token.contains('#') {
            return Err(invalid("a token has no fragment"));
        }
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => {
                let port: u16 = port.parse().map_err(|_| invalid("the port is not a number from 1 to 65535"))?;
                if port == 0 {
                    return Err(invalid("the port is not a number from 1 to 65535"));
                }
                (host, Some(port))
            }
            None => (authority, None),
        };
        if host.is_empty() || host.contains(['[', ']', '@', ' ']) {
            return Err(invalid("the host is missing or not a plain host name"));
        }
        let query = match rest[authority_end..].split_once('?') {
            Some((_path, query)) => query,
            None => return Err(invalid("the query string (sessionId, token) is missing")),
        };
        let value_of = |key: &str| {
            // As the browser: the last occurrence of a key wins.
            query
                .split('&')
                .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
                .rev()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        };
        let session_id = value_of("sessionId").unwrap_or_default();
        if session_id.is_empty() {
            return Err(invalid("sessionId is missing"));
        }
        Ok(TokenUrl {
            full: token.to_string(),
            secure,
            host: host.to_string(),
            port,
            session_id,
            secret: value_of("secret").unwrap_or_default(),
            recorder: value_of("recorder").is_some_and(|v| !v.is_empty()),
        })
    }

    /// The port to dial: the explicit one, else 443 for `wss` and 80 for `ws`.
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(if self.secure { 443 } else { 80 })
    }

    /// The WebSocket endpoint: `/openvidu?sessionId=..`, plus `&reconnect=true` on every redial.
    pub fn endpoint(&self, reconnect: bool) -> String {
        let scheme = if self.secure { "wss" } else { "ws" };
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        let mut url = format!("{scheme}://{}{port}/openvidu?sessionId={}", self.host, self.session_id);
        if reconnect {
            url.push_str("&reconnect=true");
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_plain_token_with_port() {
        let t = TokenUrl::parse("ws://127.0.0.1:4443?sessionId=ses_A&token=tok_B").unwrap();
        assert!(!t.secure);
        assert_eq!(t.host, "127.0.0.1");
        assert_eq!(t.port, Some(4443));
        assert_eq!(t.session_id, "ses_A");
        assert_eq!(t.secret, "");
        assert!(!t.recorder);
        assert_eq!(t.endpoint(false), "ws://127.0.0.1:4443/openvidu?sessionId=ses_A");
        assert_eq!(t.endpoint(true), "ws://127.0.0.1:4443/openvidu?sessionId=ses_A&reconnect=true");
    }

    #[test]
    fn ignores_the_path_and_takes_tls_from_the_scheme() {
        let t = TokenUrl::parse("wss://video.example.com/some/path?sessionId=s1&token=tok_X").unwrap();
        assert!(t.secure);
        assert_eq!(t.port, None);
        assert_eq!(t.port_or_default(), 443);
        assert_eq!(t.endpoint(false), "wss://video.example.com/openvidu?sessionId=s1");
    }

    #[test]
    fn keeps_the_full_token_and_reads_secret_and_recorder() {
        let raw = "ws://h:80/?sessionId=s&token=tok_1&secret=abc&recorder=true";
        let t = TokenUrl::parse(raw).unwrap();
        assert_eq!(t.full, raw);
        assert_eq!(t.secret, "abc");
        assert!(t.recorder);
        assert_eq!(t.port_or_default(), 80);
    }

    #[test]
    fn debug_output_hides_the_credentials() {
        let t = TokenUrl::parse("ws://h:1?sessionId=s&token=tok_SECRET1&secret=SECRET2").unwrap();
        let shown = format!("{t:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("session_id: \"s\""), "{shown}");
    }

    #[test]
    fn rejects_malformed_tokens_with_invalid_parameter() {
        for bad in [
            "",
            "http://h:1?sessionId=s&token=t",
            "ws://?sessionId=s&token=t",
            "ws://h:notaport?sessionId=s&token=t",
            "ws://h:0?sessionId=s&token=t",
            "ws://h:70000?sessionId=s&token=t",
            "ws://h:1",
            "ws://h:1?token=t",
            "ws://h:1?sessionId=&token=t",
            "ws://[::1]:1?sessionId=s&token=t",
            "ws://h:1?sessionId=s&token=t#frag",
        ] {
            let err = TokenUrl::parse(bad).expect_err(bad);
            assert_eq!(err.code, ErrorCode::InvalidParameter, "{bad}");
        }
    }
}
