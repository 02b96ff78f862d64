//! The library's one tokio runtime: created on first use, driven by one thread named `otc-net`.
//!
//! A signaling client does little CPU work per socket, so one thread serves every session of the
//! process: no work stealing between workers (each handoff costs a futex wake and a context switch)
//! and a smaller library than the multi-threaded scheduler. Blocking work (DNS, reading the system's
//! CA certificates) goes to tokio's blocking pool, never to this thread.

use once_cell::sync::OnceCell;
use tokio::runtime::{Builder, Handle};

use super::types::{ClientError, ErrorCode};

static RUNTIME: OnceCell<Handle> = OnceCell::new();

/// The shared runtime, created on the first call. Fails (as `Internal`) only if the OS refuses threads.
pub(crate) fn runtime() -> Result<&'static Handle, ClientError> {
    RUNTIME.get_or_try_init(|| {
        let internal = |what: &str, e: std::io::Error| ClientError::new(ErrorCode::Internal, format!("cannot start the network {what}: {e}"));
        let runtime = Builder::new_current_thread()
            // Names the blocking pool's threads (the runtime's own thread is the one spawned below).
            .thread_name("otc-net-pool")
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| internal("runtime", e))?;
        let handle = runtime.handle().clone();
        // The thread owns the runtime and drives it for the life of the process; spawned tasks run there.
        std::thread::Builder::new()
            .name("otc-net".into())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))
            .map_err(|e| internal("thread", e))?;
        Ok(handle)
    })
}
