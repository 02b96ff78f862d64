//! `otc_session`: lifecycle (new, connect, disconnect, delete) and queries.

use std::ffi::{c_char, c_void, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::callbacks::otc_session_callbacks;
use super::connection::otc_connection;
use super::dispatcher::{self, Gate};
use super::guard::{arg_opt_str, arg_ref, arg_str, InvalidArgument};
use super::settings::otc_session_settings;
use super::status::{
    otc_bool, otc_status, OTC_FALSE, OTC_SESSION_ILLEGAL_STATE, OTC_SESSION_INTERNAL_ERROR,
    OTC_SESSION_NULL_OR_INVALID_PARAMETER, OTC_TRUE,
};
use super::strings::to_c_string;
use crate::client::{Session, SessionState, Settings};

/// A session. Opaque; created by `otc_session_new` / `otc_session_new_with_settings`, freed by
/// `otc_session_delete`. Every function taking it is thread-safe.
pub struct otc_session {
    /// The client handle; `None` once the session is deleted (dropping it ends the network task).
    client: Mutex<Option<Session>>,
    /// The caller's callbacks, copied in.
    pub(crate) callbacks: otc_session_callbacks,
    /// Admission of callbacks (see `dispatcher`).
    pub(crate) gate: Gate,
    dispatcher: Mutex<Option<JoinHandle<()>>>,
    released: AtomicBool,
    /// C strings handed out by `otc_session_get_id`; kept until the session is freed.
    id_strings: Mutex<Vec<CString>>,
    /// Own-connection objects handed out by `otc_session_get_connection`; kept until the session is freed.
    own_connections: Mutex<Vec<Arc<otc_connection>>>,
}

/// The lifecycle state of a session (`otc_session_get_state`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum otc_session_state {
    /// Created, never connected, or the last connect attempt failed.
    Idle = 0,
    /// A connect attempt is under way.
    Connecting = 1,
    /// Connected.
    Connected = 2,
    /// The network was lost; resuming.
    Reconnecting = 3,
    /// `otc_session_disconnect` was called; leaving.
    Disconnecting = 4,
    /// The connection ended; `otc_session_connect` may be called again.
    Disconnected = 5,
}

/// What the own connection's role allows (`otc_session_get_capabilities`). All false when not connected.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct otc_session_capabilities {
    /// May publish streams.
    pub publish: otc_bool,
    /// May subscribe to streams.
    pub subscribe: otc_bool,
    /// May force other clients out (`otc_session_force_disconnect`): MODERATOR role.
    pub force_disconnect: otc_bool,
    /// May force streams to unpublish (`otc_session_force_unpublish`): MODERATOR role.
    pub force_unpublish: otc_bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn to_bool(value: bool) -> otc_bool {
    if value {
        OTC_TRUE
    } else {
        OTC_FALSE
    }
}

impl otc_session {
    /// A clone of the client handle, taken out so that no lock is held while calling it.
    /// `ILLEGAL_STATE` once the session is deleted (possible only from inside its own last callback).
    pub(crate) fn client(&self) -> Result<Session, otc_status> {
        lock(&self.client).clone().ok_or(OTC_SESSION_ILLEGAL_STATE)
    }

    /// Runs the release hook, at most once.
    pub(crate) fn release(&self) {
        if self.released.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(f) = self.callbacks.on_release {
            let user_data = self.callbacks.user_data;
            super::guard::run_callback(|| unsafe { f(user_data) });
        }
    }
}

/// Why a session could not be created.
enum CreateError {
    /// A NULL or invalid argument (1011).
    InvalidArgument,
    /// The dispatcher thread could not be started (2000).
    NoThread,
}

impl From<InvalidArgument> for CreateError {
    fn from(_: InvalidArgument) -> CreateError {
        CreateError::InvalidArgument
    }
}

impl From<CreateError> for otc_status {
    fn from(error: CreateError) -> otc_status {
        match error {
            CreateError::InvalidArgument => OTC_SESSION_NULL_OR_INVALID_PARAMETER,
            CreateError::NoThread => OTC_SESSION_INTERNAL_ERROR,
        }
    }
}

/// Creates a session and its dispatcher. On error nothing was kept: the release hook is never called.
fn create_session(
    session_id: *const c_char,
    callbacks: *const otc_session_callbacks,
    settings: Settings,
) -> Result<*mut otc_session, CreateError> {
    let session_id = unsafe { arg_str(session_id) }?;
    if session_id.is_empty() {
        return Err(CreateError::InvalidArgument);
    }
    unsafe { arg_ref(callbacks) }?;
    let callbacks = unsafe { otc_session_callbacks::copy_from(callbacks) }
        .ok_or(CreateError::InvalidArgument)?;
    let (client, events) = Session::new(Some(session_id.to_string()), settings);
    let session = Arc::new(otc_session {
        client: Mutex::new(Some(client)),
        callbacks,
        gate: Gate::default(),
        dispatcher: Mutex::new(None),
        released: AtomicBool::new(false),
        id_strings: Mutex::new(Vec::new()),
        own_connections: Mutex::new(Vec::new()),
    });
    match dispatcher::spawn(session.clone(), events) {
        Ok(handle) => *lock(&session.dispatcher) = Some(handle),
        Err(e) => {
            log::error!(target: "otc_session::ffi", "cannot start the dispatcher thread: {e}");
            return Err(CreateError::NoThread);
        }
    }
    Ok(Arc::into_raw(session) as *mut otc_session)
}

/// `otc_session_new*` with the API key (OpenVidu has none: accepted for source compatibility, checked for
/// UTF-8, otherwise unused).
fn new_with_api_key(
    api_key: *const c_char,
    session_id: *const c_char,
    callbacks: *const otc_session_callbacks,
    settings: Settings,
) -> Result<*mut otc_session, InvalidArgument> {
    unsafe { arg_opt_str(api_key) }?;
    create_session(session_id, callbacks, settings).map_err(|_| InvalidArgument)
}

/// Creates a session with default settings. `api_key` may be NULL (OpenVidu has none; it is ignored);
/// `session_id` is the session to join (non-empty; checked against the token's on connect); `callbacks`
/// is copied (see `struct otc_session_callbacks`). Free with `otc_session_delete`.
/// Returns NULL on a NULL/invalid argument; then nothing was kept: `on_release` is not called and
/// `user_data` still belongs to the caller. (`otc_session_create` also says why.)
#[no_mangle]
pub extern "C" fn otc_session_new(
    api_key: *const c_char,
    session_id: *const c_char,
    callbacks: *const otc_session_callbacks,
) -> *mut otc_session {
    ffi_guard!(value(std::ptr::null_mut()), {
        new_with_api_key(api_key, session_id, callbacks, Settings::default())
    })
}

/// Like `otc_session_new`, with settings (copied: they may be deleted right after). NULL `settings` is an
/// invalid argument. On NULL, nothing was kept: `on_release` is not called and `user_data` still belongs
/// to the caller.
#[no_mangle]
pub extern "C" fn otc_session_new_with_settings(
    api_key: *const c_char,
    session_id: *const c_char,
    callbacks: *const otc_session_callbacks,
    settings: *const otc_session_settings,
) -> *mut otc_session {
    ffi_guard!(value(std::ptr::null_mut()), {
        let settings = unsafe { arg_ref(settings) }?.snapshot();
        new_with_api_key(api_key, session_id, callbacks, settings)
    })
}

/// Creates a session and writes it to `*out_session`, saying why when it cannot:
/// `OTC_SESSION_NULL_OR_INVALID_PARAMETER` for a NULL/invalid argument, `OTC_SESSION_INTERNAL_ERROR` when
/// the library's thread cannot start. `settings` may be NULL (defaults) and is copied. On error
/// `*out_session` is untouched and nothing was kept: `on_release` is not called and `user_data` still
/// belongs to the caller. Free the session with `otc_session_delete`.
#[no_mangle]
pub extern "C" fn otc_session_create(
    session_id: *const c_char,
    callbacks: *const otc_session_callbacks,
    settings: *const otc_session_settings,
    out_session: *mut *mut otc_session,
) -> otc_status {
    ffi_guard!(status, {
        unsafe { arg_ref(out_session) }?;
        let settings = match unsafe { settings.as_ref() } {
            Some(settings) => settings.snapshot(),
            None => Settings::default(),
        };
        let session = create_session(session_id, callbacks, settings)?;
        // SAFETY: checked non-NULL above.
        unsafe { out_session.write(session) };
        Ok(())
    })
}

/// Starts connecting with a token (`ws[s]://host[:port]?sessionId=...&token=...`). Returns at once; the
/// outcome arrives as `on_connected` or `on_error` (1004 bad token, 1005 invalid session, 1006 unreachable,
/// 1021 timed out...). Returns `OTC_SESSION_NULL_OR_INVALID_PARAMETER` for a token that does not parse or
/// is for another session than the one given to `otc_session_new`, and `OTC_SESSION_ILLEGAL_STATE` unless
/// the session is idle or disconnected (e.g. connect twice).
#[no_mangle]
pub extern "C" fn otc_session_connect(
    session: *mut otc_session,
    token: *const c_char,
) -> otc_status {
    ffi_guard!(status, {
        let session = unsafe { arg_ref(session) }?;
        let token = unsafe { arg_str(token) }?;
        session.client()?.connect(token)?;
        Ok(())
    })
}

/// Leaves the session; `on_disconnected(OTC_DISCONNECT_REASON_CLIENT_DISCONNECTED)` follows. While
/// connecting, aborts the attempt (`on_error`, no `on_disconnected`). `OTC_SESSION_NOT_CONNECTED` when idle
/// or already disconnected.
#[no_mangle]
pub extern "C" fn otc_session_disconnect(session: *mut otc_session) -> otc_status {
    ffi_guard!(status, {
        let session = unsafe { arg_ref(session) }?;
        session.client()?.disconnect()?;
        Ok(())
    })
}

/// Frees a session, from any thread, at any time (connected or not; no need to disconnect first: the
/// connection is dropped without further callbacks). When it returns, no callback of this session runs
/// any more and the release hook has run. Called from inside one of this session's callbacks, it returns
/// at once and the same holds once that callback returns. Never blocks on the network. NULL is a no-op.
/// From another thread it waits for a callback of this session that is running to return: do not call
/// it while holding a lock that such a callback waits for.
#[no_mangle]
pub extern "C" fn otc_session_delete(session: *mut otc_session) {
    ffi_guard!(value(()), {
        if session.is_null() {
            return Ok(());
        }
        // SAFETY: the pointer comes from otc_session_new (Arc::into_raw) and is deleted once.
        let session = unsafe { Arc::from_raw(session as *const otc_session) };
        let dispatcher = lock(&session.dispatcher).take();
        if session.gate.on_dispatcher_thread() {
            session.gate.delete_from_callback();
            drop(lock(&session.client).take());
            // The dispatcher runs the release hook when the current callback returns; it detaches itself.
            drop(dispatcher);
            return Ok(());
        }
        session.gate.delete_and_wait_idle();
        drop(lock(&session.client).take());
        session.release();
        if let Some(handle) = dispatcher {
            if session.gate.wait_dispatcher_exit() {
                let _ = handle.join();
            } else {
                log::debug!(target: "otc_session::ffi", "dispatcher thread still draining; detached");
            }
        }
        Ok(())
    })
}

/// The session id (from `otc_session_new`). Valid as long as the session. NULL when `session` is NULL.
#[no_mangle]
pub extern "C" fn otc_session_get_id(session: *const otc_session) -> *const c_char {
    ffi_guard!(value(std::ptr::null()), {
        let session = unsafe { arg_ref(session) }?;
        let Some(id) = session.client().ok().and_then(|c| c.session_id()) else {
            return Ok(std::ptr::null());
        };
        let mut strings = lock(&session.id_strings);
        if let Some(existing) = strings.iter().find(|s| s.as_bytes() == id.as_bytes()) {
            return Ok(existing.as_ptr());
        }
        let created = to_c_string(&id);
        let ptr = created.as_ptr();
        strings.push(created);
        Ok(ptr)
    })
}

/// The own connection while connected (or reconnecting), else NULL. Borrowed: valid as long as the
/// session (copy it to keep it beyond). Never reported through `on_connection_created`.
#[no_mangle]
pub extern "C" fn otc_session_get_connection(session: *const otc_session) -> *const otc_connection {
    ffi_guard!(value(std::ptr::null()), {
        let session = unsafe { arg_ref(session) }?;
        let Some(own) = session.client().ok().and_then(|c| c.own_connection()) else {
            return Ok(std::ptr::null());
        };
        let mut cache = lock(&session.own_connections);
        if let Some(existing) = cache.iter().find(|c| *c.inner == *own) {
            return Ok(Arc::as_ptr(existing));
        }
        let created = otc_connection::new(own);
        let ptr = Arc::as_ptr(&created);
        cache.push(created);
        Ok(ptr)
    })
}

/// Writes what the own role allows into `*out` (all false when not connected).
#[no_mangle]
pub extern "C" fn otc_session_get_capabilities(
    session: *const otc_session,
    out: *mut otc_session_capabilities,
) -> otc_status {
    ffi_guard!(status, {
        let session = unsafe { arg_ref(session) }?;
        unsafe { arg_ref(out) }?;
        let caps = session.client()?.capabilities();
        let value = otc_session_capabilities {
            publish: to_bool(caps.publish),
            subscribe: to_bool(caps.subscribe),
            force_disconnect: to_bool(caps.force_disconnect),
            force_unpublish: to_bool(caps.force_unpublish),
        };
        // SAFETY: checked non-NULL above; the caller provides a writable struct.
        unsafe { out.write(value) };
        Ok(())
    })
}

/// Writes the session's lifecycle state into `*out`.
#[no_mangle]
pub extern "C" fn otc_session_get_state(
    session: *const otc_session,
    out: *mut otc_session_state,
) -> otc_status {
    ffi_guard!(status, {
        let session = unsafe { arg_ref(session) }?;
        unsafe { arg_ref(out) }?;
        let state = match session.client()?.state() {
            SessionState::Idle => otc_session_state::Idle,
            SessionState::Connecting => otc_session_state::Connecting,
            SessionState::Connected => otc_session_state::Connected,
            SessionState::Reconnecting => otc_session_state::Reconnecting,
            SessionState::Disconnecting => otc_session_state::Disconnecting,
            SessionState::Disconnected => otc_session_state::Disconnected,
        };
        // SAFETY: checked non-NULL above.
        unsafe { out.write(state) };
        Ok(())
    })
}

/// The `user_data` given in the callbacks struct. NULL when `session` is NULL.
#[no_mangle]
pub extern "C" fn otc_session_get_user_data(session: *const otc_session) -> *mut c_void {
    ffi_guard!(value(std::ptr::null_mut()), {
        Ok(unsafe { arg_ref(session) }?.callbacks.user_data)
    })
}
