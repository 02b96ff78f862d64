//! Signal limits (checked before anything is sent) and the wire form of a signal type.

use super::types::{ClientError, ErrorCode};

/// Largest signal payload, in bytes.
pub(crate) const MAX_DATA_BYTES: usize = 8192;
/// Longest signal type, in characters.
pub(crate) const MAX_TYPE_CHARS: usize = 128;

/// Checks a signal's type and data against the limits of the upstream SDK.
pub(crate) fn validate(kind: &str, data: &str) -> Result<(), ClientError> {
    if data.len() > MAX_DATA_BYTES {
        return Err(ClientError::new(
            ErrorCode::SignalDataTooLong,
            format!("signal data is {} bytes, the limit is {MAX_DATA_BYTES}", data.len()),
        ));
    }
    let chars = kind.chars().count();
    if chars > MAX_TYPE_CHARS {
        return Err(ClientError::new(
            ErrorCode::SignalTypeTooLong,
            format!("signal type is {chars} characters, the limit is {MAX_TYPE_CHARS}"),
        ));
    }
    if let Some(bad) = kind.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '~' | '.'))) {
        return Err(ClientError::new(
            ErrorCode::InvalidSignalType,
            format!("signal type has the character {bad:?}; allowed are A-Z a-z 0-9 - _ ~ ."),
        ));
    }
    Ok(())
}

/// The type as sent on the wire: `signal:<kind>`, and `signal:signal` for an empty kind (as the browser).
pub(crate) fn wire_type(kind: &str) -> String {
    if kind.is_empty() {
        "signal:signal".to_string()
    } else {
        format!("signal:{kind}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_signals_at_the_limits() {
        assert!(validate("", "").is_ok());
        assert!(validate(&"a".repeat(MAX_TYPE_CHARS), &"x".repeat(MAX_DATA_BYTES)).is_ok());
        assert!(validate("Az09-_~.", "any data: ünïcødé {}").is_ok());
    }

    #[test]
    fn rejects_data_over_8192_bytes_counting_bytes_not_chars() {
        let err = validate("chat", &"x".repeat(MAX_DATA_BYTES + 1)).unwrap_err();
        assert_eq!(err.code, ErrorCode::SignalDataTooLong);
        // 4097 two-byte characters are 8194 bytes.
        assert_eq!(validate("chat", &"é".repeat(4097)).unwrap_err().code, ErrorCode::SignalDataTooLong);
    }

    #[test]
    fn rejects_long_or_badly_spelled_types() {
        assert_eq!(validate(&"a".repeat(MAX_TYPE_CHARS + 1), "").unwrap_err().code, ErrorCode::SignalTypeTooLong);
        for bad in ["a b", "signal:chat", "é", "a/b", "a\n"] {
            assert_eq!(validate(bad, "").unwrap_err().code, ErrorCode::InvalidSignalType, "{bad:?}");
        }
    }

    #[test]
    fn wire_type_is_prefixed() {
        assert_eq!(wire_type("chat"), "signal:chat");
        assert_eq!(wire_type(""), "signal:signal");
    }
}
