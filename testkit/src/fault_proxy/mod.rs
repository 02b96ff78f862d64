//! A loopback fault-injection TCP proxy.
//!
//! Every connection accepted on `127.0.0.1` is forwarded to one upstream address. The controls act on
//! all current connections at once and decide what happens to new ones, so a test routes the clients
//! it wants to cut through one proxy and the others directly (or through another proxy).

mod controls;
mod link;
mod pump;
mod tally;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use controls::{AcceptMode, Controls};
use link::{abort, run_link};
use tally::{CountedLink, UpstreamClosures};

/// A running fault-injection proxy. Dropping it closes the listener and every connection.
///
/// | control | current connections | new connections |
/// |---|---|---|
/// | [`pass`](Self::pass) | unchanged (blackholed ones stay dead) | forwarded |
/// | [`blackhole`](Self::blackhole) | stop forwarding both ways, no FIN/RST, sockets stay open (see [`upstream_closures`](Self::upstream_closures)) | accepted, never forwarded |
/// | [`reset`](Self::reset) | aborted with RST (SO_LINGER 0), blackholed ones included | per the current mode |
/// | [`set_delay`](Self::set_delay) | each chunk held back by the delay, in each direction | same |
/// | [`refuse`](Self::refuse) | unchanged | closed at once with RST |
/// | [`restore`](Self::restore) | delay removed; blackholed ones stay dead (their buffered data was dropped) | forwarded |
pub struct FaultProxy {
    local_addr: SocketAddr,
    upstream: SocketAddr,
    controls: watch::Sender<Controls>,
    connections: Arc<AtomicUsize>,
    upstream_closures: UpstreamClosures,
    accept_task: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy on `127.0.0.1:0` that forwards to `upstream`, in pass-through mode.
    pub async fn start(upstream: SocketAddr) -> io::Result<FaultProxy> {
        FaultProxy::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), upstream).await
    }

    /// Starts a proxy on a chosen loopback address (port 0 = any free port).
    /// Fails with `InvalidInput` when `listen` is not a loopback address.
    pub async fn start_on(listen: SocketAddr, upstream: SocketAddr) -> io::Result<FaultProxy> {
        if !listen.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the fault proxy only listens on loopback, not {listen}"),
            ));
        }
        let listener = TcpListener::bind(listen).await?;
        let local_addr = listener.local_addr()?;
        let (controls, watched) = watch::channel(Controls::default());
        let connections = Arc::new(AtomicUsize::new(0));
        let upstream_closures = UpstreamClosures::default();
        let accept_task =
            tokio::spawn(accept_loop(listener, upstream, watched, connections.clone(), upstream_closures.clone()));
        Ok(FaultProxy { local_addr, upstream, controls, connections, upstream_closures, accept_task })
    }

    /// The address clients dial instead of the upstream.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address connections are forwarded to.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// Pass-through for new connections (ends `blackhole` and `refuse`); keeps the delay.
    pub fn pass(&self) {
        self.controls.send_modify(|c| c.accept_mode = AcceptMode::Forward);
    }

    /// Cuts every current connection without FIN or RST and blackholes new ones.
    pub fn blackhole(&self) {
        self.controls.send_modify(|c| {
            c.accept_mode = AcceptMode::Blackhole;
            c.blackhole_epoch += 1;
        });
    }

    /// Aborts every current connection with RST on both sides.
    pub fn reset(&self) {
        self.controls.send_modify(|c| c.reset_epoch += 1);
    }

    /// Adds `delay` of one-way latency to every chunk read from now on, in each direction
    /// (a request-response round trip gains twice the delay).
    pub fn set_delay(&self, delay: Duration) {
        self.controls.send_modify(|c| c.delay = delay);
    }

    /// Closes new connections at once (with RST); current ones are unaffected.
    pub fn refuse(&self) {
        self.controls.send_modify(|c| c.accept_mode = AcceptMode::Refuse);
    }

    /// Back to plain pass-through: no delay, new connections forwarded. Connections cut by
    /// `blackhole` stay dead (open, forwarding nothing), as after a real outage: clients must redial.
    pub fn restore(&self) {
        self.controls.send_modify(|c| {
            c.accept_mode = AcceptMode::Forward;
            c.delay = Duration::ZERO;
        });
    }

    /// How many accepted connections are still open (dead blackholed ones included).
    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// When the upstream closed its end of a blackholed connection, one entry per connection in the
    /// order seen: how a measurement sees a server notice a dead client. (While a connection is
    /// blackholed the proxy drops what the upstream sends, so it can see the upstream's FIN or RST.)
    pub fn upstream_closures(&self) -> Vec<Instant> {
        self.upstream_closures.snapshot()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Connection tasks see the controls' sender go away and close their sockets.
        self.accept_task.abort();
    }
}

/// Accepts connections until the proxy is dropped, handing each to its own task.
async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    mut controls: watch::Receiver<Controls>,
    connections: Arc<AtomicUsize>,
    upstream_closures: UpstreamClosures,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            closed = controls.changed() => match closed {
                Ok(()) => continue,
                Err(_) => return,
            },
        };
        let Ok((client, _peer)) = accepted else {
            // Out of file descriptors or a connection reset before accept: keep serving.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let started = controls.borrow().clone();
        if started.accept_mode == AcceptMode::Refuse {
            abort(client);
            continue;
        }
        let counted = CountedLink::new(connections.clone());
        tokio::spawn(run_link(client, upstream, controls.clone(), started, counted, upstream_closures.clone()));
    }
}
