//! Test tools for otc-session.
//!
//! [`FaultProxy`] is a loopback TCP proxy that injects network faults (blackhole, reset, delay,
//! refusal) between a client and a server, for keepalive and resume tests and the S4 benchmark;
//! [`retarget_url`] points a token at it.

mod fault_proxy;
mod retarget;

pub use fault_proxy::FaultProxy;
pub use retarget::retarget_url;
