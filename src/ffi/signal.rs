//! Signals and moderation: `otc_session_send_signal*`, `otc_session_force_disconnect`,
//! `otc_session_force_unpublish`.

use std::ffi::c_char;

use super::connection::otc_connection;
use super::guard::{arg_ref, arg_str};
use super::session::otc_session;
use super::status::{otc_bool, otc_status, OTC_FALSE};
use super::stream::otc_stream;
use crate::client::SignalOptions;

/// Options of one signal.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct otc_signal_options {
    /// While the session is reconnecting: `OTC_TRUE` (the default of the plain `send_signal` functions)
    /// queues the signal and sends it on resume; `OTC_FALSE` fails at once with `OTC_SESSION_NOT_CONNECTED`.
    pub retry_after_reconnect: otc_bool,
}

fn send(
    session: *mut otc_session,
    signal_type: *const c_char,
    data: *const c_char,
    to: Option<*const otc_connection>,
    options: SignalOptions,
) -> Result<(), otc_status> {
    let session = unsafe { arg_ref(session) }?;
    let signal_type = unsafe { arg_str(signal_type) }?;
    let data = unsafe { arg_str(data) }?;
    let to = match to {
        Some(connection) => Some(unsafe { arg_ref(connection) }?.inner.id().to_string()),
        None => None,
    };
    session
        .client()?
        .send_signal(to.as_deref(), signal_type, data, options)?;
    Ok(())
}

fn to_options(options: otc_signal_options) -> SignalOptions {
    SignalOptions {
        retry_after_reconnect: options.retry_after_reconnect != OTC_FALSE,
    }
}

/// Sends a signal to every client of the session, the sender included. `signal_type`: up to 128
/// characters of `[A-Za-z0-9-_~.]` (may be ""); `data`: up to 8192 bytes of UTF-8. Errors now:
/// 1011 NULL/invalid UTF-8, 1413 data too long, 1414 type too long, 1461 invalid type, 1010 not
/// connected. A refusal by the server arrives as `on_error(OTC_SESSION_SIGNAL_FAILED)`.
#[no_mangle]
pub extern "C" fn otc_session_send_signal(
    session: *mut otc_session,
    signal_type: *const c_char,
    data: *const c_char,
) -> otc_status {
    ffi_guard!(status, {
        send(session, signal_type, data, None, SignalOptions::default())
    })
}

/// Like `otc_session_send_signal`, to one connection only.
#[no_mangle]
pub extern "C" fn otc_session_send_signal_to_connection(
    session: *mut otc_session,
    signal_type: *const c_char,
    data: *const c_char,
    connection: *const otc_connection,
) -> otc_status {
    ffi_guard!(status, {
        send(
            session,
            signal_type,
            data,
            Some(connection),
            SignalOptions::default(),
        )
    })
}

/// Like `otc_session_send_signal`, with options.
#[no_mangle]
pub extern "C" fn otc_session_send_signal_with_options(
    session: *mut otc_session,
    signal_type: *const c_char,
    data: *const c_char,
    options: otc_signal_options,
) -> otc_status {
    ffi_guard!(status, {
        send(session, signal_type, data, None, to_options(options))
    })
}

/// Like `otc_session_send_signal_to_connection`, with options.
#[no_mangle]
pub extern "C" fn otc_session_send_signal_to_connection_with_options(
    session: *mut otc_session,
    signal_type: *const c_char,
    data: *const c_char,
    connection: *const otc_connection,
    options: otc_signal_options,
) -> otc_status {
    ffi_guard!(status, {
        send(
            session,
            signal_type,
            data,
            Some(connection),
            to_options(options),
        )
    })
}

/// Forces another client out of the session (MODERATOR role). `OTC_SESSION_UNABLE_TO_FORCE_DISCONNECT`
/// at once without the role; a refusal by the server arrives through `on_error` with the same code.
#[no_mangle]
pub extern "C" fn otc_session_force_disconnect(
    session: *mut otc_session,
    connection: *const otc_connection,
) -> otc_status {
    ffi_guard!(status, {
        let session = unsafe { arg_ref(session) }?;
        let connection = unsafe { arg_ref(connection) }?;
        session.client()?.force_disconnect(connection.inner.id())?;
        Ok(())
    })
}

/// Forces another client's stream to unpublish (MODERATOR role).
/// `OTC_SESSION_FORCE_UNPUBLISH_OR_INVALID_STREAM` at once without the role; a refusal by the server
/// arrives through `on_error` with the same code.
#[no_mangle]
pub extern "C" fn otc_session_force_unpublish(
    session: *mut otc_session,
    stream: *const otc_stream,
) -> otc_status {
    ffi_guard!(status, {
        let session = unsafe { arg_ref(session) }?;
        let stream = unsafe { arg_ref(stream) }?;
        session.client()?.force_unpublish(&stream.inner.id)?;
        Ok(())
    })
}
