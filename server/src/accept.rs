//! The accept loop runs on a thread of its own.
//!
//! On the server's runtime, a task accepting connections waits its turn behind every socket's task.
//! When the runtime is saturated (S5's churn keeps its core ~97% busy) that wait grows past what the
//! kernel's accept queue holds (`somaxconn` connections, under a second of a 5k/s connect rate): the
//! kernel then drops new clients' SYNs, which they retry after 1 s, 3 s, 7 s ... until their connect
//! times out. On its own thread the loop empties the kernel's queue at once; accepted connections
//! wait in the runtime instead, where a saturated server answers them late rather than never.

use std::io;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// A connection accepted by the accept thread (non-blocking, not yet registered with a runtime).
pub type Accepted = (std::net::TcpStream, SocketAddr);

/// The receiving end of the accept thread.
pub struct Acceptor {
    accepted: mpsc::UnboundedReceiver<Accepted>,
    stopped: oneshot::Receiver<()>,
}

impl Acceptor {
    /// Moves `listener` to a new accept thread.
    pub fn spawn(listener: TcpListener) -> io::Result<Acceptor> {
        let listener = listener.into_std()?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
        let (sender, accepted) = mpsc::unbounded_channel();
        let (stopped_tx, stopped) = oneshot::channel();
        std::thread::Builder::new().name("otc-accept".into()).spawn(move || {
            runtime.block_on(accept_until_closed(listener, sender));
            drop(runtime);
            // The listener is closed: the port is free.
            let _ = stopped_tx.send(());
        })?;
        Ok(Acceptor { accepted, stopped })
    }

    /// The next accepted connection (`None` if the accept thread ended).
    pub async fn next(&mut self) -> Option<Accepted> {
        self.accepted.recv().await
    }

    /// Stops the accept thread and waits until it closed the listener. Connections accepted and not
    /// taken yet are closed.
    pub async fn stop(self) {
        let Acceptor { accepted, stopped } = self;
        drop(accepted);
        let _ = stopped.await;
    }
}

async fn accept_until_closed(listener: std::net::TcpListener, sender: mpsc::UnboundedSender<Accepted>) {
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, "accept thread: cannot register the listener");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = sender.closed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Ok(stream) = stream.into_std() else { continue };
                    if sender.send((stream, peer)).is_err() {
                        return;
                    }
                }
                Err(error) => {
                    // Out of descriptors, typically: give the server a moment to close some.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
        }
    }
}
