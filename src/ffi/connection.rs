//! `otc_connection`: one client of a session (a roster entry), an immutable, reference-counted object.

use std::ffi::{c_char, CString};
use std::sync::{Arc, OnceLock};

use super::guard::arg_ref;
use super::strings::to_c_string;
use crate::client::Connection;

/// One client of a session. Opaque; handed out as a pointer that is either borrowed (callback arguments,
/// getters: do not delete) or owned (from `otc_connection_copy`: delete with `otc_connection_delete`).
/// Its strings live as long as the object.
pub struct otc_connection {
    pub(crate) inner: Arc<Connection>,
    id: OnceLock<CString>,
    data: OnceLock<CString>,
    client_data: OnceLock<CString>,
    server_data: OnceLock<CString>,
    session_id: OnceLock<CString>,
}

impl otc_connection {
    /// Wraps a roster entry. The C strings its getters return are built on first use (most
    /// callbacks read none of them) and then kept, unchanged, as long as the object lives.
    pub(crate) fn new(inner: Arc<Connection>) -> Arc<otc_connection> {
        Arc::new(otc_connection {
            id: OnceLock::new(),
            data: OnceLock::new(),
            client_data: OnceLock::new(),
            server_data: OnceLock::new(),
            session_id: OnceLock::new(),
            inner,
        })
    }
}

/// The C copy of `text`, built the first time it is asked for.
fn cached(slot: &OnceLock<CString>, text: &str) -> *const c_char {
    slot.get_or_init(|| to_c_string(text)).as_ptr()
}

/// The connection id (`con_...`). NULL when `connection` is NULL.
#[no_mangle]
pub extern "C" fn otc_connection_get_id(connection: *const otc_connection) -> *const c_char {
    ffi_guard!(value(std::ptr::null()), {
        let connection = unsafe { arg_ref(connection) }?;
        Ok(cached(&connection.id, connection.inner.id()))
    })
}

/// The full metadata string as the server sent it (`clientData%/%serverData` when both are set).
/// NULL when `connection` is NULL.
#[no_mangle]
pub extern "C" fn otc_connection_get_data(connection: *const otc_connection) -> *const c_char {
    ffi_guard!(value(std::ptr::null()), {
        let connection = unsafe { arg_ref(connection) }?;
        Ok(cached(&connection.data, connection.inner.data()))
    })
}

/// The part of the metadata set by that client when joining (may be ""). NULL when `connection` is NULL.
#[no_mangle]
pub extern "C" fn otc_connection_get_client_data(
    connection: *const otc_connection,
) -> *const c_char {
    ffi_guard!(value(std::ptr::null()), {
        let connection = unsafe { arg_ref(connection) }?;
        Ok(cached(&connection.client_data, connection.inner.client_data()))
    })
}

/// The part of the metadata set by the server when the token was created (may be "").
/// NULL when `connection` is NULL.
#[no_mangle]
pub extern "C" fn otc_connection_get_server_data(
    connection: *const otc_connection,
) -> *const c_char {
    ffi_guard!(value(std::ptr::null()), {
        let connection = unsafe { arg_ref(connection) }?;
        Ok(cached(&connection.server_data, connection.inner.server_data()))
    })
}

/// The id of the session this connection belongs to. NULL when `connection` is NULL.
#[no_mangle]
pub extern "C" fn otc_connection_get_session_id(
    connection: *const otc_connection,
) -> *const c_char {
    ffi_guard!(value(std::ptr::null()), {
        let connection = unsafe { arg_ref(connection) }?;
        Ok(cached(&connection.session_id, connection.inner.session_id()))
    })
}

/// When the connection was created, in milliseconds since the Unix epoch. 0 when `connection` is NULL.
#[no_mangle]
pub extern "C" fn otc_connection_get_creation_time(connection: *const otc_connection) -> i64 {
    ffi_guard!(value(0), {
        Ok(unsafe { arg_ref(connection) }?.inner.created_at_ms())
    })
}

/// Returns an owned reference to the same connection, valid until `otc_connection_delete`.
/// Use it to keep a connection received in a callback. NULL when `connection` is NULL.
#[no_mangle]
pub extern "C" fn otc_connection_copy(connection: *const otc_connection) -> *mut otc_connection {
    ffi_guard!(value(std::ptr::null_mut()), {
        // SAFETY: every otc_connection pointer handed to C comes from Arc::into_raw / Arc::as_ptr.
        let connection = unsafe { arg_ref(connection) }?;
        unsafe { Arc::increment_strong_count(connection as *const otc_connection) };
        Ok(connection as *const otc_connection as *mut otc_connection)
    })
}

/// Releases a connection obtained from `otc_connection_copy`. NULL is a no-op.
/// Never call it on a borrowed pointer (callback argument, getter result).
#[no_mangle]
pub extern "C" fn otc_connection_delete(connection: *mut otc_connection) {
    ffi_guard!(value(()), {
        if !connection.is_null() {
            // SAFETY: an owned pointer from otc_connection_copy carries one strong count.
            drop(unsafe { Arc::from_raw(connection as *const otc_connection) });
        }
        Ok(())
    })
}
