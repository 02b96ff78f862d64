//! `otc_status` return codes (numbered as the upstream OpenTok C SDK) and `otc_bool`.

use std::ffi::c_char;

/// The result of every fallible `otc_*` function: `OTC_SUCCESS` (0) or one of the `OTC_SESSION_*` codes.
/// The same codes arrive asynchronously through `on_error`.
pub type otc_status = i32;

/// A C boolean: `OTC_FALSE` (0) or `OTC_TRUE` (1). Any non-zero value passed in counts as true.
pub type otc_bool = i32;

/// Boolean false.
pub const OTC_FALSE: otc_bool = 0;
/// Boolean true.
pub const OTC_TRUE: otc_bool = 1;

/// The call succeeded.
pub const OTC_SUCCESS: otc_status = 0;
/// The server refused the token: unknown or already used (asynchronous, 1004).
pub const OTC_SESSION_AUTHORIZATION_FAILURE: otc_status = 1004;
/// The session does not exist on the server (asynchronous, 1005).
pub const OTC_SESSION_INVALID_SESSION: otc_status = 1005;
/// The server could not be reached or the socket failed (1006).
pub const OTC_SESSION_CONNECTION_FAILED: otc_status = 1006;
/// The call needs a connected session (1010).
pub const OTC_SESSION_NOT_CONNECTED: otc_status = 1010;
/// A NULL pointer, invalid UTF-8 or an invalid value was passed (1011).
pub const OTC_SESSION_NULL_OR_INVALID_PARAMETER: otc_status = 1011;
/// The call is not allowed in the session's current state, e.g. connect twice (1015).
pub const OTC_SESSION_ILLEGAL_STATE: otc_status = 1015;
/// The connect attempt or a request timed out (1021).
pub const OTC_SESSION_CONNECTION_TIMED_OUT: otc_status = 1021;
/// The connection dropped (1022).
pub const OTC_SESSION_CONNECTION_DROPPED: otc_status = 1022;
/// The server refused the connection (1023).
pub const OTC_SESSION_CONNECTION_REFUSED: otc_status = 1023;
/// The server reached its connection limit (1027).
pub const OTC_SESSION_CONNECTION_LIMIT_EXCEEDED: otc_status = 1027;
/// Signal data longer than 8192 bytes (1413).
pub const OTC_SESSION_SIGNAL_DATA_TOO_LONG: otc_status = 1413;
/// Signal type longer than 128 characters (1414).
pub const OTC_SESSION_SIGNAL_TYPE_TOO_LONG: otc_status = 1414;
/// The server rejected a signal, e.g. an unknown recipient (asynchronous, 1450).
pub const OTC_SESSION_SIGNAL_FAILED: otc_status = 1450;
/// Signal type with characters outside `[A-Za-z0-9-_~.]` (1461).
pub const OTC_SESSION_INVALID_SIGNAL_TYPE: otc_status = 1461;
/// Force disconnect without the moderator role, or refused by the server (1520).
pub const OTC_SESSION_UNABLE_TO_FORCE_DISCONNECT: otc_status = 1520;
/// Force unpublish without the moderator role, or no such stream (1535).
pub const OTC_SESSION_FORCE_UNPUBLISH_OR_INVALID_STREAM: otc_status = 1535;
/// Internal error: a bug in the library, e.g. a caught panic (2000). Details go to the log.
pub const OTC_SESSION_INTERNAL_ERROR: otc_status = 2000;

/// Every status this library returns, with its description.
const DESCRIPTIONS: &[(otc_status, &str)] = &[
    (OTC_SUCCESS, "success\0"),
    (
        OTC_SESSION_AUTHORIZATION_FAILURE,
        "authorization failure: the token was refused\0",
    ),
    (OTC_SESSION_INVALID_SESSION, "invalid session\0"),
    (OTC_SESSION_CONNECTION_FAILED, "connection failed\0"),
    (OTC_SESSION_NOT_CONNECTED, "the session is not connected\0"),
    (
        OTC_SESSION_NULL_OR_INVALID_PARAMETER,
        "NULL or invalid parameter\0",
    ),
    (OTC_SESSION_ILLEGAL_STATE, "illegal state for this call\0"),
    (OTC_SESSION_CONNECTION_TIMED_OUT, "timed out\0"),
    (OTC_SESSION_CONNECTION_DROPPED, "connection dropped\0"),
    (OTC_SESSION_CONNECTION_REFUSED, "connection refused\0"),
    (
        OTC_SESSION_CONNECTION_LIMIT_EXCEEDED,
        "connection limit exceeded\0",
    ),
    (
        OTC_SESSION_SIGNAL_DATA_TOO_LONG,
        "signal data too long (max 8192 bytes)\0",
    ),
    (
        OTC_SESSION_SIGNAL_TYPE_TOO_LONG,
        "signal type too long (max 128 characters)\0",
    ),
    (
        OTC_SESSION_SIGNAL_FAILED,
        "the server rejected the signal\0",
    ),
    (
        OTC_SESSION_INVALID_SIGNAL_TYPE,
        "invalid signal type (allowed: A-Z a-z 0-9 - _ ~ .)\0",
    ),
    (
        OTC_SESSION_UNABLE_TO_FORCE_DISCONNECT,
        "unable to force disconnect\0",
    ),
    (
        OTC_SESSION_FORCE_UNPUBLISH_OR_INVALID_STREAM,
        "unable to force unpublish, or invalid stream\0",
    ),
    (OTC_SESSION_INTERNAL_ERROR, "internal error\0"),
];

/// A static, human-readable description of a status code ("unknown status" for codes this
/// library does not define). Never NULL; never free it.
#[no_mangle]
pub extern "C" fn otc_status_str(status: otc_status) -> *const c_char {
    const UNKNOWN: &str = "unknown status\0";
    ffi_guard!(value(UNKNOWN.as_ptr().cast()), {
        let text = DESCRIPTIONS
            .iter()
            .find(|(code, _)| *code == status)
            .map_or(UNKNOWN, |(_, text)| *text);
        Ok(text.as_ptr().cast())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ErrorCode;
    use std::ffi::CStr;

    #[test]
    fn status_codes_match_the_client_error_codes() {
        let pairs = [
            (
                ErrorCode::AuthorizationFailure,
                OTC_SESSION_AUTHORIZATION_FAILURE,
            ),
            (ErrorCode::InvalidSession, OTC_SESSION_INVALID_SESSION),
            (ErrorCode::ConnectionFailed, OTC_SESSION_CONNECTION_FAILED),
            (ErrorCode::NotConnected, OTC_SESSION_NOT_CONNECTED),
            (
                ErrorCode::InvalidParameter,
                OTC_SESSION_NULL_OR_INVALID_PARAMETER,
            ),
            (ErrorCode::IllegalState, OTC_SESSION_ILLEGAL_STATE),
            (ErrorCode::TimedOut, OTC_SESSION_CONNECTION_TIMED_OUT),
            (ErrorCode::ConnectionDropped, OTC_SESSION_CONNECTION_DROPPED),
            (ErrorCode::ConnectionRefused, OTC_SESSION_CONNECTION_REFUSED),
            (
                ErrorCode::ConnectionLimitExceeded,
                OTC_SESSION_CONNECTION_LIMIT_EXCEEDED,
            ),
            (
                ErrorCode::SignalDataTooLong,
                OTC_SESSION_SIGNAL_DATA_TOO_LONG,
            ),
            (
                ErrorCode::SignalTypeTooLong,
                OTC_SESSION_SIGNAL_TYPE_TOO_LONG,
            ),
            (ErrorCode::SignalFailed, OTC_SESSION_SIGNAL_FAILED),
            (
                ErrorCode::InvalidSignalType,
                OTC_SESSION_INVALID_SIGNAL_TYPE,
            ),
            (
                ErrorCode::UnableToForceDisconnect,
                OTC_SESSION_UNABLE_TO_FORCE_DISCONNECT,
            ),
            (
                ErrorCode::ForceUnpublishOrInvalidStream,
                OTC_SESSION_FORCE_UNPUBLISH_OR_INVALID_STREAM,
            ),
            (ErrorCode::Internal, OTC_SESSION_INTERNAL_ERROR),
        ];
        for (code, status) in pairs {
            assert_eq!(code as i32, status, "{code:?}");
        }
    }

    #[test]
    fn every_status_has_a_distinct_nul_terminated_description() {
        for (code, text) in DESCRIPTIONS {
            assert!(
                text.ends_with('\0') && !text[..text.len() - 1].contains('\0'),
                "{code}"
            );
            let described = unsafe { CStr::from_ptr(otc_status_str(*code)) }
                .to_str()
                .unwrap();
            assert_eq!(described, &text[..text.len() - 1]);
        }
        let unknown = unsafe { CStr::from_ptr(otc_status_str(4242)) };
        assert_eq!(unknown.to_str().unwrap(), "unknown status");
    }
}
