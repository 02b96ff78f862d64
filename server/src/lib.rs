//! `otc-server`: an OpenVidu 2.x compatible signaling server (WebSocket JSON-RPC at `/openvidu`,
//! REST at `/openvidu/api`), usable standalone (`otc-server` binary) or embedded ([`EmbeddedServer`]).
#![warn(missing_docs)]

mod admin;
pub mod config;
pub mod embedded;
#[doc(hidden)]
pub mod fuzzing; // in-process entry points for fuzz/, not a stable API
mod http;
mod ids;
mod missed;
pub mod model;
mod outbound;
mod participant;
mod pending;
pub mod process;
mod rate;
mod replay;
mod rest;
mod rewind;
mod rpc;
mod session;
mod state;
mod wire;
mod ws;

pub use config::ServerConfig;
pub use embedded::{EmbeddedServer, StartError};
pub use model::{ConnectionOptions, LeaveReason, PendingConnection, Role, ServerError};
