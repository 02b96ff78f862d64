//! Bridges the `log` crate to a C logger callback (`otc_log_set_logger_callback`, `otc_log_enable`).

use std::ffi::c_char;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::strings::to_c_string;

/// A C logger: receives one NUL-terminated line per log record, e.g. "[otc WARN otc_session::ffi] ...".
/// It is called from any library thread, including the one network thread every session shares, so it
/// must be thread-safe and return quickly (while it runs, no session reads or writes its socket); it must
/// not call any `otc_*` function.
pub type otc_logger_func = Option<unsafe extern "C" fn(message: *const c_char)>;

/// Log levels for `otc_log_enable`, as in the upstream SDK.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum otc_log_level {
    /// No logging (the default).
    Disabled = 0,
    /// Errors only.
    Error = 1,
    /// Errors and warnings.
    Warn = 2,
    /// Also informational messages.
    Info = 3,
    /// Also debug messages.
    Debug = 4,
    /// Also protocol messages.
    Msg = 5,
    /// Also trace messages.
    Trace = 6,
    /// Everything.
    All = 100,
}

/// The installed C logger, as a function address (0 = none). An atomic, so no lock is held while calling C.
static LOGGER: AtomicUsize = AtomicUsize::new(0);

struct CBridge;

static BRIDGE: CBridge = CBridge;

impl log::Log for CBridge {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
            && !may_carry_credentials(metadata)
            && LOGGER.load(Ordering::Acquire) != 0
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let address = LOGGER.load(Ordering::Acquire);
        if address == 0 {
            return;
        }
        // SAFETY: LOGGER only ever holds 0 or the address of an `unsafe extern "C" fn(*const c_char)`.
        let logger: unsafe extern "C" fn(*const c_char) = unsafe { std::mem::transmute(address) };
        let line = to_c_string(&format!(
            "[otc {} {}] {}",
            record.level(),
            record.target(),
            record.args()
        ));
        super::guard::run_callback(|| unsafe { logger(line.as_ptr()) });
    }

    fn flush(&self) {}
}

/// Whether a record may quote protocol frames, and so live tokens: the TRACE records of other crates (the
/// WebSocket library logs every frame it sends and receives at TRACE, `joinRoom` with its token included).
/// The library's own records never carry credentials, at any level.
fn may_carry_credentials(metadata: &log::Metadata) -> bool {
    metadata.level() == log::Level::Trace && !metadata.target().starts_with("otc_session")
}

/// Installs the bridge as the process' `log` logger (once; a no-op when the host already installed one).
pub(crate) fn install_bridge() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        if log::set_logger(&BRIDGE).is_err() {
            log::debug!(target: "otc_session::ffi", "a log logger was already installed; the C logger bridge is inactive");
        }
    });
}

/// Forgets the C logger (used by `otc_destroy`).
pub(crate) fn clear_logger() {
    LOGGER.store(0, Ordering::Release);
}

fn level_filter(level: i32) -> Option<log::LevelFilter> {
    Some(match level {
        0 => log::LevelFilter::Off,
        1 => log::LevelFilter::Error,
        2 => log::LevelFilter::Warn,
        3 => log::LevelFilter::Info,
        4 | 5 => log::LevelFilter::Debug,
        6 | 100 => log::LevelFilter::Trace,
        _ => return None,
    })
}

/// Sets the function that receives the library's log lines (NULL = none). Nothing is logged until
/// `otc_log_enable` sets a level.
#[no_mangle]
pub extern "C" fn otc_log_set_logger_callback(logger: otc_logger_func) {
    ffi_guard!(value(()), {
        install_bridge();
        LOGGER.store(logger.map_or(0, |f| f as usize), Ordering::Release);
        Ok(())
    })
}

/// Sets the log level: one of `enum otc_log_level` (`OTC_LOG_LEVEL_DISABLED` turns logging off).
/// Unknown values are ignored.
#[no_mangle]
pub extern "C" fn otc_log_enable(level: i32) {
    ffi_guard!(value(()), {
        install_bridge();
        if let Some(filter) = level_filter(level) {
            log::set_max_level(filter);
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_level_maps_to_a_filter_and_others_are_rejected() {
        for level in [
            otc_log_level::Disabled,
            otc_log_level::Error,
            otc_log_level::Warn,
            otc_log_level::Info,
            otc_log_level::Debug,
            otc_log_level::Msg,
            otc_log_level::Trace,
            otc_log_level::All,
        ] {
            assert!(level_filter(level as i32).is_some(), "{level:?}");
        }
        assert_eq!(level_filter(0), Some(log::LevelFilter::Off));
        assert_eq!(level_filter(7), None);
        assert_eq!(level_filter(-1), None);
    }

    #[test]
    fn trace_records_of_other_crates_are_held_back_because_they_quote_frames() {
        let record = |target: &'static str, level| log::MetadataBuilder::new().target(target).level(level).build();
        assert!(may_carry_credentials(&record("tungstenite::protocol", log::Level::Trace)));
        assert!(may_carry_credentials(&record("tokio_tungstenite", log::Level::Trace)));
        assert!(!may_carry_credentials(&record("tungstenite::protocol", log::Level::Debug)));
        assert!(!may_carry_credentials(&record("otc_session::client::live", log::Level::Trace)));
    }
}
