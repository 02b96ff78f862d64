//! The native client as a C program uses it: the `extern "C"` functions of include/otc_session.h
//! (`otc_session_create`, `otc_session_connect`, `otc_session_get_roster`, ...) called from the bench
//! through a loaded library file ([`CLibrary`]), with C callbacks that count what arrives. What S6 measures is then the whole native path: socket ->
//! parse -> session state -> dispatcher thread -> C callback.

use std::collections::HashMap;
use std::ffi::{c_char, c_void, CStr, CString};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ::otc_session::ffi::{otc_connection, otc_disconnect_reason, otc_roster, otc_session as OtcSession, otc_session_callbacks, otc_status, OTC_SUCCESS};
use tokio::sync::Notify;

use super::c_library::CLibrary;

/// An instant at which a counter reached a given value.
struct Mark {
    count: usize,
    at: OnceLock<Instant>,
}

/// What the callbacks record; shared with the library as `user_data`.
struct Probe {
    created: AtomicUsize,
    signals: AtomicUsize,
    created_marks: Vec<Mark>,
    signal_marks: Vec<Mark>,
    connected: AtomicBool,
    disconnected: AtomicBool,
    errors: Mutex<Vec<String>>,
    /// Woken after every mark, error and disconnection.
    changed: Notify,
}

impl Probe {
    fn count(&self, counter: &AtomicUsize, marks: &[Mark]) {
        let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
        for mark in marks {
            if mark.count == n {
                let _ = mark.at.set(Instant::now());
                self.changed.notify_one();
            }
        }
    }
}

/// # Safety (all callbacks)
/// `user_data` is the `Arc<Probe>` pointer given in `create`, alive until `on_release`.
unsafe fn probe<'a>(user_data: *mut c_void) -> &'a Probe {
    &*(user_data as *const Probe)
}

unsafe extern "C" fn on_connected(_: *mut OtcSession, user_data: *mut c_void) {
    let probe = probe(user_data);
    probe.connected.store(true, Ordering::Relaxed);
    probe.changed.notify_one();
}

unsafe extern "C" fn on_disconnected(_: *mut OtcSession, user_data: *mut c_void, _: otc_disconnect_reason) {
    let probe = probe(user_data);
    probe.disconnected.store(true, Ordering::Relaxed);
    probe.changed.notify_one();
}

unsafe extern "C" fn on_connection_created(_: *mut OtcSession, user_data: *mut c_void, _: *const otc_connection) {
    let probe = probe(user_data);
    probe.count(&probe.created, &probe.created_marks);
}

unsafe extern "C" fn on_signal_received(_: *mut OtcSession, user_data: *mut c_void, _: *const c_char, _: *const c_char, _: *const otc_connection) {
    let probe = probe(user_data);
    probe.count(&probe.signals, &probe.signal_marks);
}

unsafe extern "C" fn on_error(_: *mut OtcSession, user_data: *mut c_void, message: *const c_char, code: otc_status) {
    let probe = probe(user_data);
    let text = if message.is_null() { String::new() } else { CStr::from_ptr(message).to_string_lossy().into_owned() };
    if let Ok(mut errors) = probe.errors.lock() {
        errors.push(format!("{code} {text}"));
    }
    probe.changed.notify_one();
}

unsafe extern "C" fn on_release(user_data: *mut c_void) {
    drop(Arc::from_raw(user_data as *const Probe));
}

fn status_text(api: &CLibrary, status: otc_status) -> String {
    let text = (api.status_str)(status);
    if text.is_null() {
        return status.to_string();
    }
    // SAFETY: otc_status_str returns a static NUL-terminated string.
    format!("{status} {}", unsafe { CStr::from_ptr(text) }.to_string_lossy())
}

/// One `otc_session` with counting callbacks.
pub struct CClient {
    api: &'static CLibrary,
    session: *mut OtcSession,
    probe: Arc<Probe>,
}

// SAFETY: every otc_* function is thread-safe (include/otc_session.h), and the probe is Sync.
unsafe impl Send for CClient {}

impl CClient {
    /// `otc_session_create` for `session_id` with default settings. The instants at which the
    /// `on_connection_created` count reaches each of `created_marks`, and the `on_signal_received` count
    /// each of `signal_marks`, are recorded (see [`CClient::created_reached`]).
    pub fn create(api: &'static CLibrary, session_id: &str, created_marks: &[usize], signal_marks: &[usize]) -> Result<CClient, String> {
        let marks = |counts: &[usize]| counts.iter().map(|&count| Mark { count, at: OnceLock::new() }).collect();
        let probe = Arc::new(Probe {
            created: AtomicUsize::new(0),
            signals: AtomicUsize::new(0),
            created_marks: marks(created_marks),
            signal_marks: marks(signal_marks),
            connected: AtomicBool::new(false),
            disconnected: AtomicBool::new(false),
            errors: Mutex::new(Vec::new()),
            changed: Notify::new(),
        });
        // SAFETY: all-zero is the C header's OTC_SESSION_CALLBACKS_INIT (NULL pointers, no callbacks).
        let mut callbacks: otc_session_callbacks = unsafe { std::mem::zeroed() };
        callbacks.size = std::mem::size_of::<otc_session_callbacks>();
        callbacks.user_data = Arc::into_raw(probe.clone()) as *mut c_void;
        callbacks.on_release = Some(on_release);
        callbacks.on_connected = Some(on_connected);
        callbacks.on_disconnected = Some(on_disconnected);
        callbacks.on_connection_created = Some(on_connection_created);
        callbacks.on_signal_received = Some(on_signal_received);
        callbacks.on_error = Some(on_error);
        let id = CString::new(session_id).map_err(|_| "session id with a NUL byte".to_string())?;
        let mut session: *mut OtcSession = std::ptr::null_mut();
        let status = (api.session_create)(id.as_ptr(), &callbacks, std::ptr::null(), &mut session);
        if status != OTC_SUCCESS {
            // Nothing was kept: the user_data reference is still ours.
            // SAFETY: the pointer came from Arc::into_raw above and was not released.
            drop(unsafe { Arc::from_raw(callbacks.user_data as *const Probe) });
            return Err(format!("otc_session_create: {}", status_text(api, status)));
        }
        Ok(CClient { api, session, probe })
    }

    /// `otc_session_connect`; returns the instant just before the call.
    pub fn connect(&self, token: &str) -> Result<Instant, String> {
        let token = CString::new(token).map_err(|_| "token with a NUL byte".to_string())?;
        let started = Instant::now();
        let status = (self.api.session_connect)(self.session, token.as_ptr());
        if status != OTC_SUCCESS {
            return Err(format!("otc_session_connect: {}", status_text(self.api, status)));
        }
        Ok(started)
    }

    /// `on_connection_created` callbacks so far.
    pub fn created(&self) -> usize {
        self.probe.created.load(Ordering::Relaxed)
    }

    /// Waits (at most `limit`) until the `on_connection_created` count reaches `count` (one of the
    /// marks given to `create`); the instant it did.
    pub async fn created_reached(&self, count: usize, limit: Duration) -> Result<Instant, String> {
        self.wait_for_mark(&self.probe.created, &self.probe.created_marks, count, "connections created", limit).await
    }

    /// Like [`CClient::created_reached`], for `on_signal_received`.
    pub async fn signals_reached(&self, count: usize, limit: Duration) -> Result<Instant, String> {
        self.wait_for_mark(&self.probe.signals, &self.probe.signal_marks, count, "signals received", limit).await
    }

    async fn wait_for_mark(&self, counter: &AtomicUsize, marks: &[Mark], count: usize, what: &str, limit: Duration) -> Result<Instant, String> {
        let mark = marks.iter().find(|m| m.count == count).ok_or_else(|| format!("no mark at {count} {what}"))?;
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(at) = mark.at.get() {
                return Ok(*at);
            }
            if let Some(error) = self.probe.errors.lock().ok().and_then(|e| e.first().cloned()) {
                return Err(format!("native client error: {error}"));
            }
            if self.probe.disconnected.load(Ordering::Relaxed) {
                return Err(format!("native client disconnected after {} connections created", self.created()));
            }
            let timeout = format!("{} of {count} {what} within {limit:?}", counter.load(Ordering::Relaxed));
            tokio::time::timeout_at(deadline, self.probe.changed.notified()).await.map_err(|_| timeout)?;
        }
    }

    /// One roster snapshot as a C caller takes it: `otc_session_get_roster`, `otc_roster_get_count`,
    /// `otc_roster_delete`. Returns the time of the three calls and the count.
    pub fn snapshot(&self) -> Result<(Duration, usize), String> {
        let started = Instant::now();
        let mut roster: *mut otc_roster = std::ptr::null_mut();
        let status = (self.api.session_get_roster)(self.session, &mut roster);
        if status != OTC_SUCCESS {
            return Err(format!("otc_session_get_roster: {}", status_text(self.api, status)));
        }
        let count = (self.api.roster_get_count)(roster);
        (self.api.roster_delete)(roster);
        Ok((started.elapsed(), count))
    }

    /// `otc_session_disconnect`, then waits (at most 5 s) for `on_disconnected`. The session is deleted
    /// when the client is dropped.
    pub async fn disconnect(&self) {
        if (self.api.session_disconnect)(self.session) != OTC_SUCCESS {
            return;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !self.probe.disconnected.load(Ordering::Relaxed) {
            if tokio::time::timeout_at(deadline, self.probe.changed.notified()).await.is_err() {
                return;
            }
        }
    }
}

impl Drop for CClient {
    fn drop(&mut self) {
        // Returns once no callback runs any more and on_release has freed the probe's reference.
        (self.api.session_delete)(self.session);
    }
}

/// CPU time of the library's threads (its `otc-net` runtime thread and blocking pool, the sessions' `otc-dispatch`
/// threads) at one moment, per thread, from /proc/self/task/*/schedstat (nanoseconds on CPU).
pub struct LibraryCpu(HashMap<String, u64>);

impl LibraryCpu {
    /// Reads every library thread's CPU time now.
    pub fn sample() -> Result<LibraryCpu, String> {
        let tasks = std::fs::read_dir("/proc/self/task").map_err(|e| format!("read /proc/self/task: {e}"))?;
        let mut threads = HashMap::new();
        for task in tasks.flatten() {
            let path = task.path();
            let Ok(name) = std::fs::read_to_string(path.join("comm")) else { continue };
            let name = name.trim_end();
            if !(name.starts_with("otc-net") || name == "otc-dispatch") {
                continue;
            }
            let Ok(schedstat) = std::fs::read_to_string(path.join("schedstat")) else { continue };
            let nanos = schedstat.split_whitespace().next().and_then(|f| f.parse::<u64>().ok()).ok_or("malformed schedstat")?;
            threads.insert(task.file_name().to_string_lossy().into_owned(), nanos);
        }
        Ok(LibraryCpu(threads))
    }

    /// CPU seconds the library's threads used since `self` was sampled (threads started meanwhile count
    /// in full; a thread that ended meanwhile is missed).
    pub fn seconds_since(&self) -> Result<f64, String> {
        let now = LibraryCpu::sample()?;
        let nanos: u64 = now.0.iter().map(|(tid, &n)| n.saturating_sub(self.0.get(tid).copied().unwrap_or(0))).sum();
        Ok(nanos as f64 / 1e9)
    }
}
