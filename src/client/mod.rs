//! The async Rust client: a [`Session`] handle plus an [`EventReceiver`] of [`Event`]s.
//!
//! This is the library's idiomatic Rust API; the C layer (`crate::ffi`) is a thin mapping over it.

mod session;
mod types;

pub use session::{EventReceiver, Session};
pub use types::*;
