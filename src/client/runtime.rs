//! The library's one tokio runtime: created on first use, two worker threads named `otc-net`.

use once_cell::sync::OnceCell;
use tokio::runtime::{Builder, Runtime};

use super::types::{ClientError, ErrorCode};

static RUNTIME: OnceCell<Runtime> = OnceCell::new();

/// The shared runtime, created on the first call. Fails (as `Internal`) only if the OS refuses threads.
pub(crate) fn runtime() -> Result<&'static Runtime, ClientError> {
    RUNTIME.get_or_try_init(|| {
        Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("otc-net")
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| ClientError::new(ErrorCode::Internal, format!("cannot start the network runtime: {e}")))
    })
}
