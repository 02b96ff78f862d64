//! `otc_stream`: metadata of a stream published by another client (media itself is out of scope).

use std::ffi::{c_char, CString};
use std::sync::Arc;

use super::connection::otc_connection;
use super::guard::arg_ref;
use super::status::{otc_bool, OTC_FALSE, OTC_TRUE};
use super::strings::to_c_string;
use crate::client::Stream;

/// A stream published by another client. Opaque; borrowed when received in a callback, owned when
/// obtained from `otc_stream_copy` (then delete it with `otc_stream_delete`).
/// Its strings and its connection live as long as the object.
pub struct otc_stream {
    pub(crate) inner: Arc<Stream>,
    id: CString,
    video_type: CString,
    connection: Arc<otc_connection>,
}

impl otc_stream {
    /// Wraps a stream, building the C objects its getters return.
    pub(crate) fn new(inner: Arc<Stream>) -> Arc<otc_stream> {
        Arc::new(otc_stream {
            id: to_c_string(&inner.id),
            video_type: to_c_string(&inner.video_type),
            connection: otc_connection::new(inner.connection.clone()),
            inner,
        })
    }
}

fn to_otc_bool(value: bool) -> otc_bool {
    if value {
        OTC_TRUE
    } else {
        OTC_FALSE
    }
}

/// The stream id (`str_...`). NULL when `stream` is NULL.
#[no_mangle]
pub extern "C" fn otc_stream_get_id(stream: *const otc_stream) -> *const c_char {
    ffi_guard!(value(std::ptr::null()), {
        Ok(unsafe { arg_ref(stream) }?.id.as_ptr())
    })
}

/// The connection that publishes the stream, borrowed: valid as long as the stream.
/// NULL when `stream` is NULL.
#[no_mangle]
pub extern "C" fn otc_stream_get_connection(stream: *const otc_stream) -> *const otc_connection {
    ffi_guard!(value(std::ptr::null()), {
        Ok(Arc::as_ptr(&unsafe { arg_ref(stream) }?.connection))
    })
}

/// Whether the stream carries audio. `OTC_FALSE` when `stream` is NULL.
#[no_mangle]
pub extern "C" fn otc_stream_has_audio(stream: *const otc_stream) -> otc_bool {
    ffi_guard!(value(OTC_FALSE), {
        Ok(to_otc_bool(unsafe { arg_ref(stream) }?.inner.has_audio))
    })
}

/// Whether the stream carries video. `OTC_FALSE` when `stream` is NULL.
#[no_mangle]
pub extern "C" fn otc_stream_has_video(stream: *const otc_stream) -> otc_bool {
    ffi_guard!(value(OTC_FALSE), {
        Ok(to_otc_bool(unsafe { arg_ref(stream) }?.inner.has_video))
    })
}

/// The video type as the server sent it: "CAMERA", "SCREEN", "CUSTOM" or "IPCAM".
/// NULL when `stream` is NULL.
#[no_mangle]
pub extern "C" fn otc_stream_get_video_type(stream: *const otc_stream) -> *const c_char {
    ffi_guard!(value(std::ptr::null()), {
        Ok(unsafe { arg_ref(stream) }?.video_type.as_ptr())
    })
}

/// When the stream was created, in milliseconds since the Unix epoch. 0 when `stream` is NULL.
#[no_mangle]
pub extern "C" fn otc_stream_get_creation_time(stream: *const otc_stream) -> i64 {
    ffi_guard!(value(0), {
        Ok(unsafe { arg_ref(stream) }?.inner.created_at_ms)
    })
}

/// Returns an owned reference to the same stream, valid until `otc_stream_delete`.
/// NULL when `stream` is NULL.
#[no_mangle]
pub extern "C" fn otc_stream_copy(stream: *const otc_stream) -> *mut otc_stream {
    ffi_guard!(value(std::ptr::null_mut()), {
        // SAFETY: every otc_stream pointer handed to C comes from Arc::into_raw / Arc::as_ptr.
        let stream = unsafe { arg_ref(stream) }?;
        unsafe { Arc::increment_strong_count(stream as *const otc_stream) };
        Ok(stream as *const otc_stream as *mut otc_stream)
    })
}

/// Releases a stream obtained from `otc_stream_copy`. NULL is a no-op.
#[no_mangle]
pub extern "C" fn otc_stream_delete(stream: *mut otc_stream) {
    ffi_guard!(value(()), {
        if !stream.is_null() {
            // SAFETY: an owned pointer from otc_stream_copy carries one strong count.
            drop(unsafe { Arc::from_raw(stream as *const otc_stream) });
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn sample() -> Arc<Stream> {
        let connection = Arc::new(crate::client::Connection::new("con_A", 5, "cli%/%srv", "ses_S"));
        Arc::new(Stream {
            id: "str_CAM_X".into(),
            connection,
            has_audio: true,
            has_video: false,
            video_type: "SCREEN".into(),
            created_at_ms: 42,
            name: "main".into(),
        })
    }

    fn text(ptr: *const c_char) -> String {
        unsafe { CStr::from_ptr(ptr) }.to_str().unwrap().to_string()
    }

    #[test]
    fn getters_map_the_stream_and_its_connection() {
        let stream = otc_stream::new(sample());
        let ptr = Arc::as_ptr(&stream);
        assert_eq!(text(otc_stream_get_id(ptr)), "str_CAM_X");
        assert_eq!(text(otc_stream_get_video_type(ptr)), "SCREEN");
        assert_eq!(otc_stream_has_audio(ptr), OTC_TRUE);
        assert_eq!(otc_stream_has_video(ptr), OTC_FALSE);
        assert_eq!(otc_stream_get_creation_time(ptr), 42);
        let connection = otc_stream_get_connection(ptr);
        assert_eq!(
            text(super::super::connection::otc_connection_get_id(connection)),
            "con_A"
        );
        assert_eq!(
            text(super::super::connection::otc_connection_get_server_data(
                connection
            )),
            "srv"
        );
    }

    #[test]
    fn a_copy_outlives_the_borrowed_original() {
        let stream = otc_stream::new(sample());
        let copy = otc_stream_copy(Arc::as_ptr(&stream));
        drop(stream);
        assert_eq!(text(otc_stream_get_id(copy)), "str_CAM_X");
        otc_stream_delete(copy);
    }
}
