//! One direction of a proxied connection: copies bytes, holding each chunk back by the proxy's delay.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};

use super::controls::Controls;

/// Size of one read.
const CHUNK_BYTES: usize = 16 * 1024;
/// Chunks read but not yet written (while delayed) before reading pauses.
const CHUNKS_IN_FLIGHT: usize = 1024;

/// Copies `from` to `to` until `from` reaches EOF, then half-closes `to`.
///
/// Each chunk is written no earlier than `delay` after it was read, where `delay` is the proxy's
/// delay at the time of the read; chunks keep their order. Reading and writing run concurrently, so
/// a delay adds latency without cutting throughput.
pub(crate) async fn pump<R, W>(mut from: R, mut to: W, controls: watch::Receiver<Controls>) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (chunks_tx, mut chunks_rx) = mpsc::channel::<(Instant, Vec<u8>)>(CHUNKS_IN_FLIGHT);
    let reader = async move {
        let mut buf = vec![0u8; CHUNK_BYTES];
        loop {
            let n = from.read(&mut buf).await?;
            if n == 0 {
                return Ok::<(), io::Error>(());
            }
            let due = Instant::now() + controls.borrow().delay;
            if chunks_tx.send((due, buf[..n].to_vec())).await.is_err() {
                return Ok(());
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = chunks_rx.recv().await {
            sleep_until(due).await;
            to.write_all(&chunk).await?;
        }
        to.shutdown().await
    };
    tokio::try_join!(reader, writer).map(|_| ())
}
