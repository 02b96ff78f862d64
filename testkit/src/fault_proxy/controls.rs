//! The proxy's control state, shared with every connection through a `watch` channel.
//!
//! Faults that act on current connections (blackhole, reset) are epochs: a connection remembers the
//! epochs it started under and reacts when one moves on. Modes (what happens to new connections) and
//! the delay are plain values read when they are needed.

use std::time::Duration;

use tokio::sync::watch;

/// What the proxy does with a newly accepted connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AcceptMode {
    /// Dial the upstream and forward both ways.
    Forward,
    /// Keep the socket open but never forward (a blackholed network).
    Blackhole,
    /// Close the socket at once with RST.
    Refuse,
}

/// A snapshot of every control of the proxy.
#[derive(Clone, Debug)]
pub(crate) struct Controls {
    /// What happens to new connections.
    pub accept_mode: AcceptMode,
    /// Latency added to every chunk, in each direction.
    pub delay: Duration,
    /// Bumped by each `blackhole()`: connections older than the bump stop forwarding for good.
    pub blackhole_epoch: u64,
    /// Bumped by each `reset()`: connections older than the bump are aborted with RST.
    pub reset_epoch: u64,
}

impl Default for Controls {
    fn default() -> Self {
        Controls { accept_mode: AcceptMode::Forward, delay: Duration::ZERO, blackhole_epoch: 0, reset_epoch: 0 }
    }
}

/// A fault that ends normal forwarding on one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Stop forwarding; keep both sockets open.
    Blackhole,
    /// Abort both sockets with RST.
    Reset,
    /// The proxy was dropped: close everything.
    ProxyClosed,
}

/// Waits until a fault applies to a connection that started under `started`.
/// Returns at once when one already applies.
pub(crate) async fn next_fault(controls: &mut watch::Receiver<Controls>, started: &Controls) -> Fault {
    loop {
        {
            let now = controls.borrow_and_update();
            if now.reset_epoch != started.reset_epoch {
                return Fault::Reset;
            }
            if now.blackhole_epoch != started.blackhole_epoch {
                return Fault::Blackhole;
            }
        }
        if controls.changed().await.is_err() {
            return Fault::ProxyClosed;
        }
    }
}

/// Waits until a connection that started under `started` must be aborted (reset or proxy dropped).
/// A blackholed connection waits here: it stays dead even after the proxy is restored.
pub(crate) async fn next_abort(controls: &mut watch::Receiver<Controls>, started: &Controls) -> Fault {
    loop {
        if controls.borrow_and_update().reset_epoch != started.reset_epoch {
            return Fault::Reset;
        }
        if controls.changed().await.is_err() {
            return Fault::ProxyClosed;
        }
    }
}
