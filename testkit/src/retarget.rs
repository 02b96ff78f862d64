//! Pointing a token URL at a proxy.

use std::net::SocketAddr;

/// Rewrites the `host:port` of a token URL (`ws[s]://host[:port][/path]?query`) to `addr`, keeping the
/// scheme, path and query, so that a client dials a proxy instead of the server. `None` when `url` has
/// no `scheme://`.
pub fn retarget_url(url: &str, addr: SocketAddr) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    Some(format!("{scheme}://{addr}{}", &rest[authority_end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_everything_but_the_authority() {
        let addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert_eq!(
            retarget_url("ws://127.0.0.1:5443?sessionId=ses_a&token=tok_b", addr).as_deref(),
            Some("ws://127.0.0.1:4000?sessionId=ses_a&token=tok_b")
        );
        assert_eq!(
            retarget_url("wss://example.org/path?sessionId=s&token=t", addr).as_deref(),
            Some("wss://127.0.0.1:4000/path?sessionId=s&token=t")
        );
        assert_eq!(retarget_url("ws://host", addr).as_deref(), Some("ws://127.0.0.1:4000"));
    }

    #[test]
    fn refuses_what_is_not_a_url() {
        let addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert_eq!(retarget_url("tok_abcdef", addr), None);
    }
}
