//! One proxied connection: dials the upstream, forwards both ways, and obeys faults.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::controls::{next_abort, next_fault, AcceptMode, Controls, Fault};
use super::pump::pump;
use super::tally::{CountedLink, UpstreamClosures};

/// Aborts a socket: SO_LINGER 0 makes the close send RST instead of FIN.
pub(crate) fn abort(socket: TcpStream) {
    // If the option cannot be set the socket still closes (with FIN): nothing better to do.
    let _ = socket.set_zero_linger();
    drop(socket);
}

/// Runs one accepted connection to its end. `started` is the control state at accept time.
pub(crate) async fn run_link(
    mut client: TcpStream,
    upstream_addr: SocketAddr,
    mut controls: watch::Receiver<Controls>,
    started: Controls,
    _counted: CountedLink,
    upstream_closures: UpstreamClosures,
) {
    if started.accept_mode == AcceptMode::Blackhole {
        hold_dead(client, None, &mut controls, &started, &upstream_closures).await;
        return;
    }
    let dialed = tokio::select! {
        dialed = TcpStream::connect(upstream_addr) => dialed,
        fault = next_fault(&mut controls, &started) => {
            finish(fault, client, None, &mut controls, &started, &upstream_closures).await;
            return;
        }
    };
    let Ok(mut upstream) = dialed else {
        // The upstream refused or is unreachable: pass that on as a reset.
        abort(client);
        return;
    };
    let _ = upstream.set_nodelay(true);
    let _ = client.set_nodelay(true);
    let fault = {
        let (client_read, client_write) = client.split();
        let (upstream_read, upstream_write) = upstream.split();
        let up = pump(client_read, upstream_write, controls.clone());
        let down = pump(upstream_read, client_write, controls.clone());
        let mut watched = controls.clone();
        tokio::select! {
            forwarded = async { tokio::try_join!(up, down) } => match forwarded {
                Ok(_) => None,
                // One side failed (typically reset by its peer): pass the reset on to the other side.
                Err(_) => Some(Fault::Reset),
            },
            fault = next_fault(&mut watched, &started) => Some(fault),
        }
    };
    match fault {
        // Both sides closed cleanly (both FINs were passed on).
        None => {}
        Some(fault) => finish(fault, client, Some(upstream), &mut controls, &started, &upstream_closures).await,
    }
}

/// Applies a fault to a connection whose forwarding has stopped.
async fn finish(
    fault: Fault,
    client: TcpStream,
    upstream: Option<TcpStream>,
    controls: &mut watch::Receiver<Controls>,
    started: &Controls,
    upstream_closures: &UpstreamClosures,
) {
    match fault {
        Fault::Blackhole => hold_dead(client, upstream, controls, started, upstream_closures).await,
        Fault::Reset => abort_both(client, upstream),
        Fault::ProxyClosed => {}
    }
}

/// Keeps a blackholed connection's sockets open, forwarding nothing, until a reset (then RST both) or
/// the proxy is dropped (then close both).
///
/// What the upstream still sends is read and dropped, as a real path drops it, so that the moment the
/// upstream closes its end can be recorded in `upstream_closures`. The client side is not read.
async fn hold_dead(
    client: TcpStream,
    mut upstream: Option<TcpStream>,
    controls: &mut watch::Receiver<Controls>,
    started: &Controls,
    upstream_closures: &UpstreamClosures,
) {
    let held = match upstream.as_mut() {
        Some(socket) => tokio::select! {
            fault = next_abort(controls, started) => Held::Aborted(fault),
            () = drain_until_closed(socket) => Held::UpstreamClosed,
        },
        None => Held::Aborted(next_abort(controls, started).await),
    };
    let fault = match held {
        Held::Aborted(fault) => fault,
        Held::UpstreamClosed => {
            upstream_closures.record(Instant::now());
            upstream = None;
            next_abort(controls, started).await
        }
    };
    if fault == Fault::Reset {
        abort_both(client, upstream);
    }
}

/// How holding a dead connection ended.
enum Held {
    Aborted(Fault),
    UpstreamClosed,
}

/// Reads and drops everything until the socket reports EOF or an error.
async fn drain_until_closed(socket: &mut TcpStream) {
    let mut sink = [0u8; 4096];
    while let Ok(n) = socket.read(&mut sink).await {
        if n == 0 {
            return;
        }
    }
}

fn abort_both(client: TcpStream, upstream: Option<TcpStream>) {
    abort(client);
    if let Some(upstream) = upstream {
        abort(upstream);
    }
}
