//! `otc_session_settings`: the builder of a session's tunables (timers, metadata, TLS trust).

use std::ffi::c_char;
use std::sync::Mutex;
use std::time::Duration;

use super::guard::{arg_ref, arg_str, InvalidArgument};
use super::status::{otc_bool, otc_status, OTC_FALSE};
use crate::client::Settings;

/// Settings for `otc_session_new_with_settings`. Created with defaults (those of openvidu-browser
/// 2.32.2: ping every 5 s, 5 s ping timeout; connect timeout 15 s; 30 s reconnection window; system CA
/// roots only; no proxy). The session copies them: the settings may be deleted right after.
pub struct otc_session_settings {
    pub(crate) inner: Mutex<Settings>,
}

impl otc_session_settings {
    /// A copy of the current values.
    pub(crate) fn snapshot(&self) -> Settings {
        match self.inner.lock() {
            Ok(settings) => settings.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn update(&self, change: impl FnOnce(&mut Settings)) {
        match self.inner.lock() {
            Ok(mut settings) => change(&mut settings),
            Err(poisoned) => change(&mut poisoned.into_inner()),
        }
    }
}

/// A positive number of milliseconds as a duration; 0 is rejected.
fn positive_ms(ms: u32) -> Result<Duration, InvalidArgument> {
    if ms == 0 {
        Err(InvalidArgument)
    } else {
        Ok(Duration::from_millis(u64::from(ms)))
    }
}

/// Sets one timer of `settings` from a positive number of milliseconds; 0 is rejected and changes nothing.
///
/// # Safety
/// `settings` is NULL or a pointer from `otc_session_settings_new` that was not deleted.
unsafe fn set_positive_ms(
    settings: *mut otc_session_settings,
    ms: u32,
    apply: impl FnOnce(&mut Settings, Duration),
) -> Result<(), InvalidArgument> {
    let settings = unsafe { arg_ref(settings) }?;
    let duration = positive_ms(ms)?;
    settings.update(|s| apply(s, duration));
    Ok(())
}

/// Whether `pem` holds at least one PEM certificate block.
fn looks_like_pem_certificates(pem: &[u8]) -> bool {
    const MARKER: &[u8] = b"-----BEGIN CERTIFICATE-----";
    pem.windows(MARKER.len()).any(|w| w == MARKER)
}

/// Creates settings with the defaults. Delete with `otc_session_settings_delete`.
#[no_mangle]
pub extern "C" fn otc_session_settings_new() -> *mut otc_session_settings {
    ffi_guard!(value(std::ptr::null_mut()), {
        Ok(Box::into_raw(Box::new(otc_session_settings {
            inner: Mutex::new(Settings::default()),
        })))
    })
}

/// Frees settings. NULL is a no-op.
#[no_mangle]
pub extern "C" fn otc_session_settings_delete(settings: *mut otc_session_settings) {
    ffi_guard!(value(()), {
        if !settings.is_null() {
            // SAFETY: the pointer comes from otc_session_settings_new and is deleted once.
            drop(unsafe { Box::from_raw(settings) });
        }
        Ok(())
    })
}

/// When true, `on_connection_created` / `on_connection_dropped` are never called (default false).
#[no_mangle]
pub extern "C" fn otc_session_settings_set_connection_events_suppressed(
    settings: *mut otc_session_settings,
    suppressed: otc_bool,
) -> otc_status {
    ffi_guard!(status, {
        let settings = unsafe { arg_ref(settings) }?;
        settings.update(|s| s.connection_events_suppressed = suppressed != OTC_FALSE);
        Ok(())
    })
}

/// How long a connect attempt may take before `on_error(OTC_SESSION_CONNECTION_TIMED_OUT)`, in ms (> 0;
/// default 15000).
#[no_mangle]
pub extern "C" fn otc_session_settings_set_connect_timeout(
    settings: *mut otc_session_settings,
    timeout_ms: u32,
) -> otc_status {
    ffi_guard!(status, {
        unsafe { set_positive_ms(settings, timeout_ms, |s, d| s.connect_timeout = d) }?;
        Ok(())
    })
}

/// Timeout of one request to the server, in ms (> 0; default 10000).
#[no_mangle]
pub extern "C" fn otc_session_settings_set_request_timeout(
    settings: *mut otc_session_settings,
    timeout_ms: u32,
) -> otc_status {
    ffi_guard!(status, {
        unsafe { set_positive_ms(settings, timeout_ms, |s, d| s.request_timeout = d) }?;
        Ok(())
    })
}

/// Interval between keepalive pings, in ms (> 0; default 5000).
#[no_mangle]
pub extern "C" fn otc_session_settings_set_ping_interval(
    settings: *mut otc_session_settings,
    interval_ms: u32,
) -> otc_status {
    ffi_guard!(status, {
        unsafe { set_positive_ms(settings, interval_ms, |s, d| s.ping_interval = d) }?;
        Ok(())
    })
}

/// How long a ping may stay unanswered before the network counts as lost, in ms (> 0; default 5000).
#[no_mangle]
pub extern "C" fn otc_session_settings_set_ping_timeout(
    settings: *mut otc_session_settings,
    timeout_ms: u32,
) -> otc_status {
    ffi_guard!(status, {
        unsafe { set_positive_ms(settings, timeout_ms, |s, d| s.ping_timeout = d) }?;
        Ok(())
    })
}

/// How long to keep trying to resume after a network loss before `on_disconnected(NETWORK_LOST)`, in ms
/// (0 = give up at once; default 30000).
#[no_mangle]
pub extern "C" fn otc_session_settings_set_reconnection_window(
    settings: *mut otc_session_settings,
    window_ms: u32,
) -> otc_status {
    ffi_guard!(status, {
        let settings = unsafe { arg_ref(settings) }?;
        settings.update(|s| s.reconnection_window = Duration::from_millis(u64::from(window_ms)));
        Ok(())
    })
}

/// The client metadata (`clientData`) other clients see in `otc_connection_get_client_data`.
/// UTF-8, copied; default "".
#[no_mangle]
pub extern "C" fn otc_session_settings_set_client_data(
    settings: *mut otc_session_settings,
    client_data: *const c_char,
) -> otc_status {
    ffi_guard!(status, {
        let settings = unsafe { arg_ref(settings) }?;
        let client_data = unsafe { arg_str(client_data) }?.to_string();
        settings.update(|s| s.client_data = client_data);
        Ok(())
    })
}

/// Trusts the CA certificates in `pem` (PEM text, `pem_len` bytes, copied) for `wss://` tokens, in addition
/// to the system roots. May be called several times; certificates accumulate. Bytes without a
/// `-----BEGIN CERTIFICATE-----` block are rejected with `OTC_SESSION_NULL_OR_INVALID_PARAMETER`.
#[no_mangle]
pub extern "C" fn otc_session_settings_add_ca_pem(
    settings: *mut otc_session_settings,
    pem: *const u8,
    pem_len: usize,
) -> otc_status {
    ffi_guard!(status, {
        let settings = unsafe { arg_ref(settings) }?;
        let pem = unsafe { arg_ref(pem) }?;
        // SAFETY: the caller passes `pem_len` readable bytes at `pem`.
        let pem = unsafe { std::slice::from_raw_parts(pem as *const u8, pem_len) };
        add_ca_pem(settings, pem)
    })
}

/// Like `otc_session_settings_add_ca_pem`, reading the PEM from the file at `path`. An unreadable file or
/// one without a certificate gives `OTC_SESSION_NULL_OR_INVALID_PARAMETER` and changes nothing.
#[no_mangle]
pub extern "C" fn otc_session_settings_add_ca_file(
    settings: *mut otc_session_settings,
    path: *const c_char,
) -> otc_status {
    ffi_guard!(status, {
        let settings = unsafe { arg_ref(settings) }?;
        let path = unsafe { arg_str(path) }?;
        let pem = std::fs::read(path).map_err(|e| {
            log::warn!(target: "otc_session::ffi", "cannot read CA file {path:?}: {e}");
            InvalidArgument
        })?;
        add_ca_pem(settings, &pem)
    })
}

fn add_ca_pem(settings: &otc_session_settings, pem: &[u8]) -> Result<(), otc_status> {
    if !looks_like_pem_certificates(pem) {
        return Err(InvalidArgument.into());
    }
    settings.update(|s| {
        let all = s.extra_ca_pem.get_or_insert_with(Vec::new);
        if !all.is_empty() && !all.ends_with(b"\n") {
            all.push(b'\n');
        }
        all.extend_from_slice(pem);
    });
    Ok(())
}
