//! The C library S6 measures, loaded as a C program loads it: `dlopen` of libotc_session.so, then the
//! functions of include/otc_session.h looked up by name. In full mode that is the shipped build
//! (`scripts/build-release.sh`: target/release/libotc_session.so, size-optimised, LTO, stripped), so
//! S6's rates and sizes are those of the file an app links; the bench's own build of the crate (other
//! opt-levels for the dependencies, linked for S4's Rust API) takes no part. Quick mode, run by the
//! test suite, takes the shared library of the bench's own build directory (target/debug), so the
//! harness always exercises the library of the same checkout.

use std::ffi::c_char;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ::otc_session::ffi::{
    otc_roster, otc_roster_delete, otc_roster_get_count, otc_session as OtcSession, otc_session_callbacks, otc_session_connect,
    otc_session_create, otc_session_delete, otc_session_disconnect, otc_session_get_roster, otc_session_settings, otc_status,
    otc_status_str,
};

use crate::cli::Mode;

type CreateFn = extern "C" fn(*const c_char, *const otc_session_callbacks, *const otc_session_settings, *mut *mut OtcSession) -> otc_status;
type ConnectFn = extern "C" fn(*mut OtcSession, *const c_char) -> otc_status;
type GetRosterFn = extern "C" fn(*const OtcSession, *mut *mut otc_roster) -> otc_status;
type RosterCountFn = extern "C" fn(*const otc_roster) -> usize;
type RosterDeleteFn = extern "C" fn(*mut otc_roster);
type DisconnectFn = extern "C" fn(*mut OtcSession) -> otc_status;
type DeleteFn = extern "C" fn(*mut OtcSession);
type StatusStrFn = extern "C" fn(otc_status) -> *const c_char;

// The signatures above are the crate's own (checked at compile time), so the functions looked up in
// the file are called with the header's types.
const _: CreateFn = otc_session_create;
const _: ConnectFn = otc_session_connect;
const _: GetRosterFn = otc_session_get_roster;
const _: RosterCountFn = otc_roster_get_count;
const _: RosterDeleteFn = otc_roster_delete;
const _: DisconnectFn = otc_session_disconnect;
const _: DeleteFn = otc_session_delete;
const _: StatusStrFn = otc_status_str;

/// The functions S6 calls, from one loaded library file.
pub struct CLibrary {
    /// The file they came from.
    pub path: PathBuf,
    /// True for the shipped build (full mode), whose file size S6 reports.
    pub shipped: bool,
    /// `otc_session_create`.
    pub session_create: CreateFn,
    /// `otc_session_connect`.
    pub session_connect: ConnectFn,
    /// `otc_session_get_roster`.
    pub session_get_roster: GetRosterFn,
    /// `otc_roster_get_count`.
    pub roster_get_count: RosterCountFn,
    /// `otc_roster_delete`.
    pub roster_delete: RosterDeleteFn,
    /// `otc_session_disconnect`.
    pub session_disconnect: DisconnectFn,
    /// `otc_session_delete`.
    pub session_delete: DeleteFn,
    /// `otc_status_str`.
    pub status_str: StatusStrFn,
    /// Keeps the functions mapped (the library is never unloaded: its threads may outlive a session).
    _library: libloading::Library,
}

impl CLibrary {
    /// Loads the library file at `path` and looks up every function.
    pub fn load(path: &Path, shipped: bool) -> Result<CLibrary, String> {
        // SAFETY: loading runs the library's initialisers; libotc_session has no constructors with
        // preconditions (its runtime starts lazily on the first session).
        let library = unsafe { libloading::Library::new(path) }.map_err(|e| format!("cannot load {}: {e}", path.display()))?;
        /// Looks up `name` as a function of type `F` (the caller names the header's type for it).
        fn function<F: Copy>(library: &libloading::Library, path: &Path, name: &str) -> Result<F, String> {
            // SAFETY: `F` is the function type the crate declares for `name` (checked above), and the
            // library stays loaded for as long as the copied pointer is used (owned by CLibrary).
            unsafe { library.get::<F>(name.as_bytes()) }.map(|symbol| *symbol).map_err(|e| format!("{}: no {name}: {e}", path.display()))
        }
        Ok(CLibrary {
            path: path.to_path_buf(),
            shipped,
            session_create: function(&library, path, "otc_session_create")?,
            session_connect: function(&library, path, "otc_session_connect")?,
            session_get_roster: function(&library, path, "otc_session_get_roster")?,
            roster_get_count: function(&library, path, "otc_roster_get_count")?,
            roster_delete: function(&library, path, "otc_roster_delete")?,
            session_disconnect: function(&library, path, "otc_session_disconnect")?,
            session_delete: function(&library, path, "otc_session_delete")?,
            status_str: function(&library, path, "otc_status_str")?,
            _library: library,
        })
    }

    /// The library of `mode` (see the module doc), loaded on the first call; a process runs one mode.
    pub fn of(mode: Mode) -> Result<&'static CLibrary, String> {
        static LOADED: OnceLock<Result<CLibrary, String>> = OnceLock::new();
        LOADED.get_or_init(|| CLibrary::load(&library_path(mode)?, mode == Mode::Full)).as_ref().map_err(Clone::clone)
    }

    /// Size of the file in bytes.
    pub fn file_size(&self) -> Result<u64, String> {
        std::fs::metadata(&self.path).map(|m| m.len()).map_err(|e| format!("{}: {e}", self.path.display()))
    }
}

/// Where the library of `mode` is, relative to this executable: full mode ../release/ (the bench is
/// target/server/otc-bench; the shipped build is target/release/), quick mode the executable's own
/// directory (target/debug/ under `cargo test`).
fn library_path(mode: Mode) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate the bench executable: {e}"))?;
    let dir = exe.parent().ok_or("the bench executable has no directory")?;
    let path = match mode {
        Mode::Full => dir.join("../release/libotc_session.so"),
        Mode::Quick => dir.join("libotc_session.so"),
    };
    if !path.is_file() {
        let how = match mode {
            Mode::Full => "build the shipped library first: scripts/build-release.sh",
            Mode::Quick => "build the workspace first: cargo build --workspace",
        };
        return Err(format!("S6 needs {}: {how}", path.display()));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_foreign_file_is_a_clear_error() {
        let missing = Path::new("/nonexistent/libotc_session.so");
        let error = CLibrary::load(missing, true).err().expect("no file, no library");
        assert!(error.contains("cannot load /nonexistent/libotc_session.so"), "{error}");

        // A shared library that is not ours (glibc's libm, found by its soname as dlopen does): it
        // loads, but lacks the functions.
        let error = CLibrary::load(Path::new("libm.so.6"), true).err().expect("libm has no otc_session_create");
        assert!(error.contains("no otc_session_create"), "{error}");
    }
}
