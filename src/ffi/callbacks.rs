//! `struct otc_session_callbacks` (how it is copied in, how it grows) and `enum otc_disconnect_reason`.

use std::ffi::{c_char, c_void};
use std::mem::{size_of, MaybeUninit};

use super::connection::otc_connection;
use super::session::otc_session;
use super::status::otc_status;
use super::stream::otc_stream;
use crate::client::DisconnectReason;

/// Why a connection left (`on_connection_dropped`) or why the own connection ended (`on_disconnected`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum otc_disconnect_reason {
    /// The client called disconnect (`otc_session_disconnect`, or leaveRoom from another SDK).
    ClientDisconnected = 0,
    /// A moderator forced the connection out.
    ForceDisconnectedByModerator = 1,
    /// The server (its REST API) forced the connection out.
    ForceDisconnectedByServer = 2,
    /// The server closed the whole session.
    SessionClosed = 3,
    /// The network was lost and resuming failed (or the reconnection window ended).
    NetworkLost = 4,
    /// The server stopped.
    ServerStopped = 5,
    /// A reason this library does not know; the raw string is written to the log.
    Unknown = 6,
}

impl otc_disconnect_reason {
    /// Maps a client reason; unknown reasons are logged with their raw string.
    pub(crate) fn from_client(reason: &DisconnectReason) -> otc_disconnect_reason {
        match reason {
            DisconnectReason::ClientDisconnected => otc_disconnect_reason::ClientDisconnected,
            DisconnectReason::ForceDisconnectedByModerator => {
                otc_disconnect_reason::ForceDisconnectedByModerator
            }
            DisconnectReason::ForceDisconnectedByServer => {
                otc_disconnect_reason::ForceDisconnectedByServer
            }
            DisconnectReason::SessionClosed => otc_disconnect_reason::SessionClosed,
            DisconnectReason::NetworkLost => otc_disconnect_reason::NetworkLost,
            DisconnectReason::ServerStopped => otc_disconnect_reason::ServerStopped,
            DisconnectReason::Unknown(raw) => {
                log::warn!(target: "otc_session::ffi", "unknown disconnect reason from the server: {raw:?}");
                otc_disconnect_reason::Unknown
            }
        }
    }
}

/// The callbacks of one session, plus `user_data` passed back to each of them.
///
/// The library copies the struct in `otc_session_new`; the caller may free or reuse it right after.
/// Every function pointer may be NULL (= not interested). All callbacks of one session run one at a time,
/// in order, on a thread owned by the library (never inside the caller's `otc_*` call). Pointer arguments
/// (connections, streams, strings) are borrowed for the duration of the callback: use `otc_*_copy` to keep
/// them. Any `otc_*` function may be called from a callback, including `otc_session_disconnect` and
/// `otc_session_delete` of the session delivering it. A callback that blocks holds up the session's later
/// events (never the network: events queue meanwhile).
///
/// ABI growth: `size` must be set to `sizeof(struct otc_session_callbacks)` as the caller's header sees
/// it: initialize the struct with `OTC_SESSION_CALLBACKS_INIT` (or `otc_session_callbacks_init()`), which
/// zeroes every field and sets `size`. New fields are only ever appended at the end; the library reads the
/// first `size` bytes and treats fields beyond them as NULL, so binaries built against an older header
/// keep working with a newer library, and a newer header's extra fields are ignored by an older library.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct otc_session_callbacks {
    /// `sizeof(struct otc_session_callbacks)` of the caller's header (set by `OTC_SESSION_CALLBACKS_INIT`).
    pub size: usize,
    /// Opaque pointer passed to every callback.
    pub user_data: *mut c_void,
    /// Called exactly once, after the last callback of the session (when the session is deleted), so that
    /// whatever `user_data` holds can be freed. Runs on the thread calling `otc_session_delete`, or on the
    /// library's thread when the session was deleted from inside one of its callbacks.
    pub on_release: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
    /// The connect succeeded. Once per successful `otc_session_connect`.
    pub on_connected:
        Option<unsafe extern "C" fn(session: *mut otc_session, user_data: *mut c_void)>,
    /// The connection ended: exactly once per `on_connected`, always its last event.
    pub on_disconnected: Option<
        unsafe extern "C" fn(
            session: *mut otc_session,
            user_data: *mut c_void,
            reason: otc_disconnect_reason,
        ),
    >,
    /// Another client is in the session: once for each client present when connecting, then once per
    /// client that joins. Never for the own connection.
    pub on_connection_created: Option<
        unsafe extern "C" fn(
            session: *mut otc_session,
            user_data: *mut c_void,
            connection: *const otc_connection,
        ),
    >,
    /// Another client left, with the reason. Never for the own connection.
    pub on_connection_dropped: Option<
        unsafe extern "C" fn(
            session: *mut otc_session,
            user_data: *mut c_void,
            connection: *const otc_connection,
            reason: otc_disconnect_reason,
        ),
    >,
    /// Another client published a stream.
    pub on_stream_received: Option<
        unsafe extern "C" fn(
            session: *mut otc_session,
            user_data: *mut c_void,
            stream: *const otc_stream,
        ),
    >,
    /// A stream went away. `reason` is the server's string: "unpublish", "forceUnpublishByUser",
    /// "forceUnpublishByServer", or the reason of the publisher's connection (e.g. "disconnect").
    pub on_stream_dropped: Option<
        unsafe extern "C" fn(
            session: *mut otc_session,
            user_data: *mut c_void,
            stream: *const otc_stream,
            reason: *const c_char,
        ),
    >,
    /// A signal arrived. `signal_type` has no "signal:" prefix (may be ""); `from` is NULL when the server sent it.
    pub on_signal_received: Option<
        unsafe extern "C" fn(
            session: *mut otc_session,
            user_data: *mut c_void,
            signal_type: *const c_char,
            data: *const c_char,
            from: *const otc_connection,
        ),
    >,
    /// The network was lost; the library is trying to resume the connection.
    pub on_reconnection_started:
        Option<unsafe extern "C" fn(session: *mut otc_session, user_data: *mut c_void)>,
    /// The connection was resumed (same connection id). Joins and drops that happened meanwhile were
    /// delivered before this callback.
    pub on_reconnected:
        Option<unsafe extern "C" fn(session: *mut otc_session, user_data: *mut c_void)>,
    /// An asynchronous failure: a failed connect (then no `on_disconnected`), a refused moderation
    /// request, a failed signal...
    pub on_error: Option<
        unsafe extern "C" fn(
            session: *mut otc_session,
            user_data: *mut c_void,
            error_string: *const c_char,
            error_code: otc_status,
        ),
    >,
}

// SAFETY: the struct only holds function pointers and the caller's `user_data`; the header documents
// that callbacks run on the library's thread, so the caller agrees to `user_data` being used there.
unsafe impl Send for otc_session_callbacks {}
unsafe impl Sync for otc_session_callbacks {}

impl otc_session_callbacks {
    /// Copies the caller's struct, reading only the `size` bytes it declares (see the ABI note above).
    /// `None` when `size` does not even cover the `size` field itself.
    ///
    /// # Safety
    /// `from` must point to at least `from->size` readable bytes.
    pub(crate) unsafe fn copy_from(
        from: *const otc_session_callbacks,
    ) -> Option<otc_session_callbacks> {
        let declared = std::ptr::read_unaligned(from as *const usize);
        if declared < size_of::<usize>() {
            return None;
        }
        let mut copy = MaybeUninit::<otc_session_callbacks>::zeroed();
        let len = declared.min(size_of::<otc_session_callbacks>());
        std::ptr::copy_nonoverlapping(from as *const u8, copy.as_mut_ptr() as *mut u8, len);
        // SAFETY: all-zero is a valid value for every field (0, NULL, None), and the copied prefix
        // comes from a struct of the same layout.
        Some(copy.assume_init())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" fn connected(_: *mut otc_session, _: *mut c_void) {}

    #[test]
    fn a_shorter_struct_from_an_older_header_reads_as_null_beyond_its_size() {
        let mut full: otc_session_callbacks = unsafe { MaybeUninit::zeroed().assume_init() };
        full.on_connected = Some(connected);
        full.on_reconnected = Some(connected);
        // An "older header" that ends right after on_connected.
        full.size = std::mem::offset_of!(otc_session_callbacks, on_disconnected);
        let copy = unsafe { otc_session_callbacks::copy_from(&full) }.unwrap();
        assert!(copy.on_connected.is_some());
        assert!(copy.on_reconnected.is_none());
    }

    #[test]
    fn a_size_not_covering_the_size_field_is_rejected() {
        let mut full: otc_session_callbacks = unsafe { MaybeUninit::zeroed().assume_init() };
        full.size = 0;
        assert!(unsafe { otc_session_callbacks::copy_from(&full) }.is_none());
    }
}
