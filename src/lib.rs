//! otc-session: a native session-signaling client for OpenVidu 2.x compatible servers.
//!
//! Layers, each knowing only the one below it:
//! - [`client`]: the async Rust API (session handle + event stream), protocol and state logic.
//! - `ffi`: the C ABI declared in `include/otc_session.h`, a thin mapping over [`client`].

pub mod client;
pub mod ffi;
#[doc(hidden)]
pub mod fuzzing;
