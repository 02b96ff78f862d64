//! `otc_roster`: a snapshot of the other clients of a session.

use std::sync::Arc;

use super::connection::otc_connection;
use super::guard::arg_ref;
use super::session::otc_session;
use super::status::otc_status;

/// A snapshot of the other clients in a session (own connection excluded), in join order. Immutable;
/// the connections it returns live as long as the roster. Free with `otc_roster_delete`.
pub struct otc_roster {
    connections: Vec<Arc<otc_connection>>,
}

/// Takes a snapshot of the other clients in the session and writes it to `*out_roster` (empty when not
/// connected). Free it with `otc_roster_delete`.
#[no_mangle]
pub extern "C" fn otc_session_get_roster(
    session: *const otc_session,
    out_roster: *mut *mut otc_roster,
) -> otc_status {
    ffi_guard!(status, {
        let session = unsafe { arg_ref(session) }?;
        unsafe { arg_ref(out_roster) }?;
        let connections = session
            .client()?
            .roster()
            .into_iter()
            .map(otc_connection::new)
            .collect();
        let roster = Box::into_raw(Box::new(otc_roster { connections }));
        // SAFETY: checked non-NULL above.
        unsafe { out_roster.write(roster) };
        Ok(())
    })
}

/// The number of connections in the roster (0 when `roster` is NULL).
#[no_mangle]
pub extern "C" fn otc_roster_get_count(roster: *const otc_roster) -> usize {
    ffi_guard!(value(0), {
        Ok(unsafe { arg_ref(roster) }?.connections.len())
    })
}

/// The connection at `index` (0-based), borrowed from the roster; NULL when out of range or `roster` is NULL.
#[no_mangle]
pub extern "C" fn otc_roster_get_connection(
    roster: *const otc_roster,
    index: usize,
) -> *const otc_connection {
    ffi_guard!(value(std::ptr::null()), {
        let roster = unsafe { arg_ref(roster) }?;
        Ok(roster
            .connections
            .get(index)
            .map_or(std::ptr::null(), Arc::as_ptr))
    })
}

/// Frees a roster. NULL is a no-op.
#[no_mangle]
pub extern "C" fn otc_roster_delete(roster: *mut otc_roster) {
    ffi_guard!(value(()), {
        if !roster.is_null() {
            // SAFETY: the pointer comes from otc_session_get_roster and is deleted once.
            drop(unsafe { Box::from_raw(roster) });
        }
        Ok(())
    })
}
