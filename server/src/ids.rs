//! Random identifiers (sessions, connections, tokens, RPC sessions) from a CSPRNG.

use rand::distr::Alphanumeric;
use rand::Rng;

fn random_alphanumeric(len: usize) -> String {
    // ThreadRng is a CSPRNG (ChaCha) seeded and periodically reseeded from the OS.
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A new session id: `ses_` + 10 alphanumerics.
pub fn new_session_id() -> String {
    format!("ses_{}", random_alphanumeric(10))
}

/// A new connection id: `con_` + 10 alphanumerics.
pub fn new_connection_id() -> String {
    format!("con_{}", random_alphanumeric(10))
}

/// A new token secret part: `tok_` + 16 alphanumerics.
pub fn new_token_secret() -> String {
    format!("tok_{}", random_alphanumeric(16))
}

/// A new opaque RPC session id (per socket, presented again in `connect` to resume).
pub fn new_rpc_session_id() -> String {
    random_alphanumeric(24)
}

/// True for a valid custom session id: `[a-zA-Z0-9_-]+`.
pub fn is_valid_custom_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A token shortened for logs: never log a whole token.
pub fn redact_token(token: &str) -> String {
    let tail = token.rsplit("token=").next().unwrap_or(token);
    let short: String = tail.chars().take(8).collect();
    format!("{short}…")
}

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_length() {
        assert!(new_session_id().starts_with("ses_") && new_session_id().len() == 14);
        assert!(new_connection_id().starts_with("con_") && new_connection_id().len() == 14);
        assert!(new_token_secret().starts_with("tok_") && new_token_secret().len() == 20);
        assert_ne!(new_rpc_session_id(), new_rpc_session_id());
    }

    #[test]
    fn custom_ids_are_restricted() {
        assert!(is_valid_custom_id("room-1_A"));
        assert!(!is_valid_custom_id(""));
        assert!(!is_valid_custom_id("a b"));
        assert!(!is_valid_custom_id("a&b=c"));
    }

    #[test]
    fn redacted_token_keeps_only_a_prefix() {
        let t = "ws://h:1?sessionId=s&token=tok_ABCDEFGHIJKLMNOP";
        assert_eq!(redact_token(t), "tok_ABCD…");
    }
}

/// What identifies a token, whatever host, port, scheme or path it was rewritten to.
#[derive(Debug, PartialEq, Eq)]
pub struct TokenKey<'a> {
    /// The `tok_...` value.
    pub secret: &'a str,
    /// The `sessionId=` value, when the token carries one.
    pub session_id: Option<&'a str>,
}

/// Reads a token given by a client: a full URL (`...?sessionId=S&token=tok_X`) or a bare `tok_X`.
/// `None` when no `tok_` value can be found.
pub fn token_key(token: &str) -> Option<TokenKey<'_>> {
    if token.starts_with("tok_") && !token.contains(['?', '&', '=']) {
        return Some(TokenKey {
            secret: token,
            session_id: None,
        });
    }
    let (_, query) = token.split_once('?')?;
    let mut secret = None;
    let mut session_id = None;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("token", value)) => secret = Some(value),
            Some(("sessionId", value)) => session_id = Some(value),
            _ => {}
        }
    }
    secret
        .filter(|s| s.starts_with("tok_"))
        .map(|secret| TokenKey { secret, session_id })
}

/// The `tok_...` part of a token URL built by this server.
pub fn token_secret(token: &str) -> &str {
    token_key(token).map_or(token, |key| key.secret)
}

#[cfg(test)]
mod token_tests {
    use super::*;

    #[test]
    fn token_keys_ignore_host_and_path() {
        let key = token_key("wss://proxy:9/any/path?sessionId=s1&token=tok_abc").unwrap();
        assert_eq!(
            key,
            TokenKey {
                secret: "tok_abc",
                session_id: Some("s1")
            }
        );
        assert_eq!(
            token_key("tok_bare").unwrap(),
            TokenKey {
                secret: "tok_bare",
                session_id: None
            }
        );
        assert_eq!(token_key("ws://h?token=tok_x").unwrap().session_id, None);
        assert!(token_key("ws://h?sessionId=s1").is_none());
        assert!(token_key("garbage").is_none());
        assert!(token_key("ws://h?token=nottok").is_none());
    }
}
