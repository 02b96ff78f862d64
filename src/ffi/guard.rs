//! The wrapper around every `extern "C"` body: catches panics and maps bad arguments to a status.

use std::any::Any;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::status::{
    otc_status, OTC_SESSION_INTERNAL_ERROR, OTC_SESSION_NULL_OR_INVALID_PARAMETER, OTC_SUCCESS,
};
use crate::client::ClientError;

/// A NULL pointer, invalid UTF-8 or an out-of-range value passed by the C caller.
#[derive(Debug)]
pub(crate) struct InvalidArgument;

impl From<InvalidArgument> for otc_status {
    fn from(_: InvalidArgument) -> otc_status {
        OTC_SESSION_NULL_OR_INVALID_PARAMETER
    }
}

impl From<ClientError> for otc_status {
    fn from(error: ClientError) -> otc_status {
        error.code as otc_status
    }
}

/// Wraps the body of an `extern "C"` function.
///
/// - `ffi_guard!(status, { ... })`: the body yields `Result<(), otc_status>`; returns `OTC_SUCCESS`, the
///   error status, or `OTC_SESSION_INTERNAL_ERROR` after a panic.
/// - `ffi_guard!(value(fallback), { ... })`: the body yields `Result<T, InvalidArgument>`; returns the
///   value, or `fallback` on a bad argument or a panic.
///
/// `?` works inside the body; a panic is logged and never unwinds into C.
macro_rules! ffi_guard {
    (status, $body:block) => {
        $crate::ffi::guard::run_status(|| -> Result<(), $crate::ffi::otc_status> { $body })
    };
    (value($fallback:expr), $body:block) => {
        $crate::ffi::guard::run_value(
            $fallback,
            || -> Result<_, $crate::ffi::guard::InvalidArgument> { $body },
        )
    };
}

/// Runs a status-returning body (see [`ffi_guard!`]).
pub(crate) fn run_status(body: impl FnOnce() -> Result<(), otc_status>) -> otc_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => OTC_SUCCESS,
        Ok(Err(status)) => status,
        Err(payload) => {
            log_panic(payload.as_ref());
            OTC_SESSION_INTERNAL_ERROR
        }
    }
}

/// Runs a value-returning body (see [`ffi_guard!`]).
pub(crate) fn run_value<T>(fallback: T, body: impl FnOnce() -> Result<T, InvalidArgument>) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => value,
        Ok(Err(InvalidArgument)) => fallback,
        Err(payload) => {
            log_panic(payload.as_ref());
            fallback
        }
    }
}

/// Runs a call into C code (a callback) so that a Rust panic raised around it cannot escape either.
pub(crate) fn run_callback(body: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(body)) {
        log_panic(payload.as_ref());
    }
}

fn log_panic(payload: &(dyn Any + Send)) {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_string());
    log::error!(target: "otc_session::ffi", "internal error (panic caught at the C boundary): {message}");
}

/// Borrows the object behind a C pointer; NULL is an invalid argument.
///
/// # Safety
/// `ptr` must be NULL or point to a live `T` for the returned lifetime.
pub(crate) unsafe fn arg_ref<'a, T>(ptr: *const T) -> Result<&'a T, InvalidArgument> {
    ptr.as_ref().ok_or(InvalidArgument)
}

/// Reads a NUL-terminated UTF-8 C string; NULL or invalid UTF-8 is an invalid argument.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string that stays valid for the returned lifetime.
pub(crate) unsafe fn arg_str<'a>(ptr: *const c_char) -> Result<&'a str, InvalidArgument> {
    if ptr.is_null() {
        return Err(InvalidArgument);
    }
    CStr::from_ptr(ptr).to_str().map_err(|_| InvalidArgument)
}

/// Like [`arg_str`], but NULL means "not given".
///
/// # Safety
/// As [`arg_str`].
pub(crate) unsafe fn arg_opt_str<'a>(
    ptr: *const c_char,
) -> Result<Option<&'a str>, InvalidArgument> {
    if ptr.is_null() {
        Ok(None)
    } else {
        arg_str(ptr).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_internal_error_and_never_unwinds() {
        assert_eq!(run_status(|| panic!("boom")), OTC_SESSION_INTERNAL_ERROR);
        assert_eq!(
            run_value(7, || -> Result<i32, InvalidArgument> { panic!("boom") }),
            7
        );
        run_callback(|| panic!("boom"));
    }

    #[test]
    fn bad_arguments_become_the_invalid_parameter_status() {
        let status = run_status(|| {
            unsafe { arg_str(std::ptr::null()) }?;
            Ok(())
        });
        assert_eq!(status, OTC_SESSION_NULL_OR_INVALID_PARAMETER);
        let invalid_utf8 = b"\xff\xfe\0";
        assert!(unsafe { arg_str(invalid_utf8.as_ptr().cast()) }.is_err());
        assert_eq!(unsafe { arg_opt_str(std::ptr::null()) }.ok(), Some(None));
        assert_eq!(
            run_value(1, || unsafe { arg_ref::<u8>(std::ptr::null()) }.map(|_| 2)),
            1
        );
    }
}
