//! The C ABI declared in `include/otc_session.h` (generated from this module by cbindgen in `build.rs`).
//!
//! This layer only maps types, owns the dispatcher thread of each session and the lifetimes of the C
//! objects; protocol and state logic live in [`crate::client`]. Every `extern "C"` body runs inside
//! [`ffi_guard!`](guard): panics never cross the boundary and NULL arguments become
//! `OTC_SESSION_NULL_OR_INVALID_PARAMETER`.
#![allow(non_camel_case_types)]
// These are C entry points: their pointer contract is documented in the header, and NULL is checked.
// Marking them `unsafe fn` would change nothing for C callers.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

#[macro_use]
mod guard;
mod callbacks;
mod connection;
mod dispatcher;
mod library;
mod logging;
mod roster;
mod session;
mod settings;
mod signal;
mod status;
mod stream;
mod strings;

pub use callbacks::*;
pub use connection::*;
pub use library::*;
pub use logging::*;
pub use roster::*;
pub use session::*;
pub use settings::*;
pub use signal::*;
pub use status::*;
pub use stream::*;
