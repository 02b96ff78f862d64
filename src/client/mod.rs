//! The async Rust client: a [`Session`] handle plus an [`EventReceiver`] of [`Event`]s.
//!
//! This is the library's idiomatic Rust API; the C layer (`crate::ffi`) is a thin mapping over it.
//! Inside: `token` (token URLs), `jsonrpc` (framing, correlation), `wire` (message shapes),
//! `signal` (limits), `tls` + `transport` (dialing), `runtime`, `roster`, `shared` (state read by the
//! handle), `notify` (notifications to events), `hot` (fast parse of flood notifications), `actor` (connect), `live` (connected loop, leave),
//! `resume` (network-loss recovery), `session` (the handle).

mod actor;
mod hot;
pub(crate) mod jsonrpc;
mod live;
pub(crate) mod notify;
mod resume;
mod roster;
mod runtime;
mod session;
pub(crate) mod shared;
mod signal;
mod tls;
pub(crate) mod token;
mod transport;
mod types;
pub(crate) mod wire;

pub use session::{EventReceiver, Session};
pub use types::*;
