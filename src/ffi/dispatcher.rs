//! The per-session dispatcher thread and the gate that decides whether a callback may still run.
//!
//! One `otc-dispatch` thread per session drains the client's [`EventReceiver`] and calls the C
//! callbacks one at a time, with no lock held. The [`Gate`] is what makes `otc_session_delete` safe from
//! any thread, including from inside a callback: it records whether a callback is running and whether the
//! session was deleted, so that no callback starts after deletion and the release hook runs exactly once,
//! last.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use super::callbacks::otc_disconnect_reason;
use super::connection::otc_connection;
use super::guard::run_callback;
use super::session::otc_session;
use super::stream::otc_stream;
use super::strings::to_c_string;
use crate::client::{Event, EventReceiver};

/// How long `otc_session_delete` (from a foreign thread) waits for the dispatcher thread to exit after the
/// release hook ran. The wait is bounded so that delete never depends on the async runtime: past it the
/// thread is detached (it can no longer call C and exits when its event stream ends).
const DISPATCHER_EXIT_WAIT: Duration = Duration::from_secs(2);

/// Who deleted the session.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DeletedBy {
    /// `otc_session_delete` from inside one of the session's callbacks: the dispatcher finishes.
    Callback,
    /// `otc_session_delete` from any other thread: that thread finishes.
    OtherThread,
}

#[derive(Default)]
struct GateState {
    deleted: Option<DeletedBy>,
    in_callback: bool,
    dispatcher: Option<ThreadId>,
    dispatcher_exited: bool,
    /// Threads blocked on `changed` (a foreign `otc_session_delete`). The dispatcher wakes them only when
    /// there are some: a condvar notification is a system call, once per callback otherwise.
    waiters: usize,
}

/// Callback admission control of one session (see the module doc).
#[derive(Default)]
pub(crate) struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

impl Gate {
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the calling thread is this session's dispatcher (i.e. we are inside one of its callbacks).
    pub(crate) fn on_dispatcher_thread(&self) -> bool {
        self.lock().dispatcher == Some(thread::current().id())
    }

    /// Admits one callback unless the session was deleted.
    fn begin_callback(&self) -> bool {
        let mut state = self.lock();
        if state.deleted.is_some() {
            return false;
        }
        state.in_callback = true;
        true
    }

    /// Ends a callback; `false` when the session was deleted meanwhile (the dispatcher must stop).
    fn end_callback(&self) -> bool {
        let mut state = self.lock();
        state.in_callback = false;
        self.wake_waiters(&state);
        state.deleted.is_none()
    }

    /// Admits the next callback right after one ended (one lock instead of `end_callback` then
    /// `begin_callback`); `false`, with the callback ended, when the session was deleted meanwhile.
    fn next_callback(&self) -> bool {
        if self.lock().deleted.is_none() {
            return true;
        }
        // Deleted: the gate stays closed, so ending the callback cannot race a new admission.
        self.end_callback();
        false
    }

    /// Wakes the threads blocked in [`wait`](Self::wait), if there are any.
    fn wake_waiters(&self, state: &GateState) {
        if state.waiters > 0 {
            self.changed.notify_all();
        }
    }

    /// Blocks on `changed` once, counted in `waiters` so that the dispatcher knows to wake us.
    fn wait<'a>(&self, mut state: MutexGuard<'a, GateState>, limit: Option<Duration>) -> MutexGuard<'a, GateState> {
        state.waiters += 1;
        let mut state = match limit {
            None => self.changed.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner()),
            Some(limit) => match self.changed.wait_timeout(state, limit) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            },
        };
        state.waiters -= 1;
        state
    }

    /// Marks the session deleted from inside its own callback: the dispatcher stops after it.
    pub(crate) fn delete_from_callback(&self) {
        let mut state = self.lock();
        state.deleted.get_or_insert(DeletedBy::Callback);
    }

    /// Marks the session deleted from a foreign thread and waits until no callback is running.
    /// Afterwards no callback of this session can start.
    pub(crate) fn delete_and_wait_idle(&self) {
        let mut state = self.lock();
        state.deleted.get_or_insert(DeletedBy::OtherThread);
        while state.in_callback {
            state = self.wait(state, None);
        }
    }

    /// Waits (bounded) for the dispatcher thread to exit; `true` when it did.
    pub(crate) fn wait_dispatcher_exit(&self) -> bool {
        let deadline = Instant::now() + DISPATCHER_EXIT_WAIT;
        let mut state = self.lock();
        while !state.dispatcher_exited {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self.wait(state, Some(deadline - now));
        }
        true
    }

    /// Records the dispatcher's exit; `true` when it must run the release hook (deleted from a callback).
    fn dispatcher_exit(&self) -> bool {
        let mut state = self.lock();
        state.dispatcher_exited = true;
        self.wake_waiters(&state);
        state.deleted == Some(DeletedBy::Callback)
    }
}

/// Starts the dispatcher thread of `session`.
pub(crate) fn spawn(
    session: Arc<otc_session>,
    events: EventReceiver,
) -> std::io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("otc-dispatch".into())
        .spawn(move || run(session, events))
}

fn run(session: Arc<otc_session>, mut events: EventReceiver) {
    session.gate.lock().dispatcher = Some(thread::current().id());
    'idle: while let Some(first) = events.blocking_recv() {
        if !session.gate.begin_callback() {
            break;
        }
        let mut event = first;
        // Events that have already arrived run back to back under one admission each.
        loop {
            deliver(&session, event);
            match events.try_recv() {
                Some(next) if session.gate.next_callback() => event = next,
                Some(_) => break 'idle,
                None if session.gate.end_callback() => continue 'idle,
                None => break 'idle,
            }
        }
    }
    // The event stream goes first: nothing of the session's event pipeline outlives the release hook.
    drop(events);
    if session.gate.dispatcher_exit() {
        session.release();
    }
}

/// Calls the C callback matching `event` (if the app set one). No lock is held here.
fn deliver(session: &Arc<otc_session>, event: Event) {
    let callbacks = session.callbacks;
    let user_data = callbacks.user_data;
    let this = Arc::as_ptr(session) as *mut otc_session;
    match event {
        Event::Connected { .. } => {
            if let Some(f) = callbacks.on_connected {
                run_callback(|| unsafe { f(this, user_data) });
            }
        }
        Event::Disconnected(reason) => {
            let reason = otc_disconnect_reason::from_client(&reason);
            if let Some(f) = callbacks.on_disconnected {
                run_callback(|| unsafe { f(this, user_data, reason) });
            }
        }
        Event::ConnectionCreated(connection) => {
            if let Some(f) = callbacks.on_connection_created {
                let connection = otc_connection::new(connection);
                run_callback(|| unsafe { f(this, user_data, Arc::as_ptr(&connection)) });
            }
        }
        Event::ConnectionDropped { connection, reason } => {
            let reason = otc_disconnect_reason::from_client(&reason);
            if let Some(f) = callbacks.on_connection_dropped {
                let connection = otc_connection::new(connection);
                run_callback(|| unsafe { f(this, user_data, Arc::as_ptr(&connection), reason) });
            }
        }
        Event::StreamReceived(stream) => {
            if let Some(f) = callbacks.on_stream_received {
                let stream = otc_stream::new(stream);
                run_callback(|| unsafe { f(this, user_data, Arc::as_ptr(&stream)) });
            }
        }
        Event::StreamDropped { stream, reason } => {
            if let Some(f) = callbacks.on_stream_dropped {
                let stream = otc_stream::new(stream);
                let reason = to_c_string(&reason);
                run_callback(|| unsafe {
                    f(this, user_data, Arc::as_ptr(&stream), reason.as_ptr())
                });
            }
        }
        Event::SignalReceived { kind, data, from } => {
            if let Some(f) = callbacks.on_signal_received {
                let kind = to_c_string(&kind);
                let data = to_c_string(&data);
                let from = from.map(otc_connection::new);
                let from_ptr = from.as_ref().map_or(std::ptr::null(), Arc::as_ptr);
                run_callback(|| unsafe {
                    f(this, user_data, kind.as_ptr(), data.as_ptr(), from_ptr)
                });
            }
        }
        Event::ReconnectionStarted => {
            if let Some(f) = callbacks.on_reconnection_started {
                run_callback(|| unsafe { f(this, user_data) });
            }
        }
        Event::Reconnected => {
            if let Some(f) = callbacks.on_reconnected {
                run_callback(|| unsafe { f(this, user_data) });
            }
        }
        Event::Error(error) => {
            if let Some(f) = callbacks.on_error {
                let message = to_c_string(&error.message);
                let code = error.code as i32;
                run_callback(|| unsafe { f(this, user_data, message.as_ptr(), code) });
            }
        }
    }
}
