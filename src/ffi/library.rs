//! Library-wide functions: `otc_init`, `otc_destroy`, `otc_version`.

use std::ffi::{c_char, c_void};

use super::logging;
use super::status::otc_status;

/// Optional initialization: the library also works without it. `reserved` must be NULL (it is ignored).
/// Returns `OTC_SUCCESS`.
#[no_mangle]
pub extern "C" fn otc_init(reserved: *mut c_void) -> otc_status {
    let _ = reserved;
    ffi_guard!(status, {
        logging::install_bridge();
        Ok(())
    })
}

/// Optional counterpart of `otc_init`: forgets the logger callback so no function pointer of the caller
/// stays registered (useful before unloading the module that holds it). Sessions that are still alive
/// keep working; delete them first. Returns `OTC_SUCCESS`.
#[no_mangle]
pub extern "C" fn otc_destroy() -> otc_status {
    ffi_guard!(status, {
        logging::clear_logger();
        Ok(())
    })
}

/// The library version ("MAJOR.MINOR.PATCH"), a static string.
#[no_mangle]
pub extern "C" fn otc_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    ffi_guard!(value(VERSION.as_ptr().cast()), {
        Ok(VERSION.as_ptr().cast())
    })
}
