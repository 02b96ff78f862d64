//! Per-socket outbound path: a bounded queue drained by one writer task that coalesces frames
//! (many frames, one vectored write; on a busy socket at most one write per pacing interval), plus
//! a kill switch that drops the socket at once.
//!
//! The writer encodes the WebSocket frames itself ([`crate::ws::encode`]) into a scratch buffer that
//! lives for one write, and big payloads go out straight from the shared notification bytes: a
//! socket holds no write buffer between writes (a WebSocket library's buffer keeps the size of the
//! largest message it ever sent, for as long as the socket lives).

use std::io::IoSlice;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::rpc::Frame;
use crate::ws::encode::{self, Opcode};

/// Frames written before one flush, at most.
const MAX_FRAMES_PER_FLUSH: usize = 256;

/// Something for the writer task to do, in order.
#[derive(Debug)]
pub enum Outbound {
    /// Send a text frame.
    Text(Frame),
    /// Send a close frame, then stop writing and give the peer the close linger to answer.
    Close(u16, &'static str),
    /// Answer the peer's close frame (echoing its code, if it gave one), then stop at once.
    CloseReply(Option<u16>),
    /// Answer a ping.
    Pong(Bytes),
}


/// Result of queueing a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// Queued for the writer.
    Queued,
    /// The queue was full: the socket has been killed.
    Full,
    /// The socket is already gone or being dropped (its writer stopped, or an earlier send overflowed).
    Closed,
}

static NEXT_SOCKET_ID: AtomicU64 = AtomicU64::new(1);

/// Cheap, cloneable handle to one socket's outbound queue.
#[derive(Clone, Debug)]
pub struct SocketLink {
    id: u64,
    tx: mpsc::Sender<Outbound>,
    kill: Arc<watch::Sender<bool>>,
}

impl SocketLink {
    /// Creates the link and the receiving ends for the writer and reader tasks.
    pub fn new(queue_frames: usize) -> (SocketLink, mpsc::Receiver<Outbound>, watch::Receiver<bool>) {
        let (tx, rx) = mpsc::channel(queue_frames.max(1));
        let (kill, kill_rx) = watch::channel(false);
        let id = NEXT_SOCKET_ID.fetch_add(1, Ordering::Relaxed);
        (
            SocketLink {
                id,
                tx,
                kill: Arc::new(kill),
            },
            rx,
            kill_rx,
        )
    }

    /// Unique id of the socket.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Queues a frame. A full queue means the client stopped reading: the socket is killed and
    /// `false` returned. A socket already gone also returns `false`.
    pub fn send(&self, frame: Frame) -> bool {
        self.try_send(frame) == SendOutcome::Queued
    }

    /// Queues a frame and says what happened; a full queue kills the socket.
    pub fn try_send(&self, frame: Frame) -> SendOutcome {
        match self.tx.try_send(Outbound::Text(frame)) {
            Ok(()) => SendOutcome::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => {
                // Only the send that trips the kill switch reports the overflow: until the socket's
                // tasks stop, every later send finds the queue full too, and must neither log nor
                // ask for another eviction.
                if self.kill.send_replace(true) {
                    return SendOutcome::Closed;
                }
                tracing::warn!(socket = self.id, "outbound queue full: disconnecting slow reader");
                SendOutcome::Full
            }
            Err(mpsc::error::TrySendError::Closed(_)) => SendOutcome::Closed,
        }
    }

    /// Queues a close frame after everything already queued (kills the socket if the queue is full).
    pub fn close(&self, code: u16, reason: &'static str) {
        if self.tx.try_send(Outbound::Close(code, reason)).is_err() {
            self.kill();
        }
    }

    /// Queues the answer to the peer's close frame (kills the socket if the queue is full).
    pub fn reply_to_close(&self, code: Option<u16>) {
        if self.tx.try_send(Outbound::CloseReply(code)).is_err() {
            self.kill();
        }
    }

    /// Queues the answer to a ping (dropped if the queue is full: the peer is not reading anyway,
    /// and the next notification that finds the queue full evicts it).
    pub fn pong(&self, payload: Bytes) {
        let _ = self.tx.try_send(Outbound::Pong(payload));
    }

    /// Drops the socket now, without a close frame.
    pub fn kill(&self) {
        self.kill.send_replace(true);
    }

    /// Kill switch sender (for the writer's close linger).
    pub(crate) fn kill_switch(&self) -> Arc<watch::Sender<bool>> {
        self.kill.clone()
    }
}

/// Waits until the kill switch is set (or its sender is gone).
pub async fn killed(kill: &mut watch::Receiver<bool>) {
    let _ = kill.wait_for(|k| *k).await;
}

/// How the writer task paces its writes.
#[derive(Clone, Copy, Debug)]
pub struct WriterPacing {
    /// Least time between two writes to the socket. A frame that finds the socket idle longer than
    /// this goes out at once; frames arriving faster wait for the rest of the interval and then go
    /// out together, in one write. Zero writes as soon as frames are queued.
    pub coalesce: Duration,
    /// After a close frame, how long to wait for the peer before dropping the socket.
    pub close_linger: Duration,
}

/// Drains the queue into the socket until the queue closes, a close frame is sent or the socket is
/// killed, coalescing frames per [`WriterPacing`]. After a close frame it waits `close_linger` for
/// the peer, then kills the socket; after the answer to the peer's close frame it stops at once.
pub async fn run_writer<W: AsyncWrite + Unpin>(
    mut sink: W,
    mut rx: mpsc::Receiver<Outbound>,
    kill_switch: Arc<watch::Sender<bool>>,
    pacing: WriterPacing,
) {
    let mut kill = kill_switch.subscribe();
    // When the last write ended having drained the queue (a write cut short by the batch size
    // limit is followed at once by the next one).
    let mut last_drained_write: Option<Instant> = None;
    loop {
        let first = tokio::select! {
            biased;
            _ = killed(&mut kill) => return,
            next = rx.recv() => match next {
                Some(item) => item,
                None => break,
            },
        };
        match last_drained_write.map(|at| at + pacing.coalesce) {
            Some(due) if Instant::now() < due => {
                // Busy socket: let more frames gather until the interval is over.
                tokio::select! {
                    biased;
                    _ = killed(&mut kill) => return,
                    _ = tokio::time::sleep_until(due) => {}
                }
            }
            _ if rx.is_empty() => {
                // Let the tasks that are ready run first: under load they queue more frames for this
                // socket, which then go out in the same write (one syscall for many frames).
                tokio::task::yield_now().await;
            }
            _ => {}
        }
        let outcome = tokio::select! {
            biased;
            _ = killed(&mut kill) => return,
            outcome = write_batch(&mut sink, &mut rx, first) => outcome,
        };
        match outcome {
            Ok(BatchEnd::Drained) => last_drained_write = Some(Instant::now()),
            Ok(BatchEnd::More) => last_drained_write = None,
            Ok(BatchEnd::Closed) => break,
            Ok(BatchEnd::Replied) => return,
            Err(_) => {
                kill_switch.send_replace(true);
                return;
            }
        }
    }
    let _ = tokio::time::timeout(pacing.close_linger, killed(&mut kill)).await;
    kill_switch.send_replace(true);
}

enum BatchEnd {
    /// The queue was empty when the batch was written.
    Drained,
    /// The batch hit its size limit with frames still queued.
    More,
    /// A close frame was written: no more writes.
    Closed,
    /// The answer to the peer's close frame was written: no more writes, nothing to wait for.
    Replied,
}

/// Takes `first` and what else is queued (up to [`MAX_FRAMES_PER_FLUSH`], or up to a close) and
/// writes it all in as few writes as the socket accepts, then flushes.
async fn write_batch<W: AsyncWrite + Unpin>(sink: &mut W, rx: &mut mpsc::Receiver<Outbound>, first: Outbound) -> std::io::Result<BatchEnd> {
    let mut encoder = BatchEncoder::default();
    let mut end = BatchEnd::Drained;
    let mut count = 0;
    let mut next = Some(first);
    while let Some(item) = next {
        let last = match item {
            Outbound::Close(..) => Some(BatchEnd::Closed),
            Outbound::CloseReply(_) => Some(BatchEnd::Replied),
            _ => None,
        };
        encoder.push(item);
        if let Some(last) = last {
            end = last;
            break;
        }
        count += 1;
        if count >= MAX_FRAMES_PER_FLUSH {
            if !rx.is_empty() {
                end = BatchEnd::More;
            }
            break;
        }
        next = rx.try_recv().ok();
    }
    encoder.write_to(sink).await?;
    sink.flush().await?;
    Ok(end)
}

/// Payloads up to this size are copied next to their header (one contiguous buffer: copying a small
/// frame costs less than the kernel's per-slice work for it); bigger ones are written from the
/// shared bytes where they are.
const COPY_AT_MOST: usize = 1024;

/// One batch of frames, encoded: headers, control frames and small payloads in one scratch buffer
/// that lives only for this batch; big payloads kept as the shared frames, written where they are.
#[derive(Default)]
struct BatchEncoder {
    scratch: Vec<u8>,
    /// The big payloads, each with the end of the scratch bytes that go before it.
    big: Vec<(usize, Frame)>,
}

impl BatchEncoder {
    fn push(&mut self, item: Outbound) {
        let scratch = &mut self.scratch;
        match item {
            Outbound::Text(frame) => {
                encode::push_header(scratch, Opcode::Text, frame.len());
                if frame.len() <= COPY_AT_MOST {
                    scratch.extend_from_slice(frame.as_bytes());
                } else {
                    self.big.push((scratch.len(), frame));
                }
            }
            Outbound::Close(code, reason) => encode::push_close(scratch, Some(code), reason),
            Outbound::CloseReply(code) => encode::push_close(scratch, code, ""),
            Outbound::Pong(payload) => encode::push_pong(scratch, &payload),
        }
    }

    /// Writes everything: one plain write when all of it is in the scratch buffer, vectored writes
    /// otherwise.
    async fn write_to<W: AsyncWrite + Unpin>(&self, sink: &mut W) -> std::io::Result<()> {
        if self.big.is_empty() {
            return sink.write_all(&self.scratch).await;
        }
        let mut slices = Vec::with_capacity(2 * self.big.len() + 1);
        let mut start = 0;
        for (end, payload) in &self.big {
            slices.push(IoSlice::new(&self.scratch[start..*end]));
            slices.push(IoSlice::new(payload.as_bytes()));
            start = *end;
        }
        if start < self.scratch.len() {
            slices.push(IoSlice::new(&self.scratch[start..]));
        }
        let mut remaining = &mut slices[..];
        while !remaining.is_empty() {
            let written = sink.write_vectored(remaining).await?;
            if written == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            IoSlice::advance_slices(&mut remaining, written);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
    use tungstenite::protocol::frame::FrameHeader;

    /// A socket that takes at most 7 bytes per write, to exercise partial vectored writes.
    struct Trickle(Vec<u8>);

    impl AsyncWrite for Trickle {
        fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
            let n = buf.len().min(7);
            self.0.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Splits a byte stream into (opcode, payload) frames with tungstenite's parser.
    fn frames(bytes: &[u8]) -> Vec<(OpCode, Vec<u8>)> {
        let mut cursor = std::io::Cursor::new(bytes);
        let mut out = Vec::new();
        while (cursor.position() as usize) < bytes.len() {
            let (header, len) = FrameHeader::parse(&mut cursor).expect("valid header").expect("whole header");
            assert!(header.is_final && header.mask.is_none());
            let start = cursor.position() as usize;
            out.push((header.opcode, bytes[start..start + len as usize].to_vec()));
            cursor.set_position((start + len as usize) as u64);
        }
        out
    }

    #[tokio::test]
    async fn a_batch_goes_out_as_the_same_frames_in_the_same_order_however_the_socket_takes_it() {
        let big = "b".repeat(COPY_AT_MOST * 5);
        let batch = vec![
            Outbound::Text(Frame::from("small one")),
            Outbound::Text(Frame::from(big.clone())),
            Outbound::Pong(Bytes::from_static(b"p")),
            Outbound::Text(Frame::from(big.clone())),
            Outbound::Text(Frame::from("small two")),
            Outbound::Close(1000, "bye"),
        ];
        let mut socket = Trickle(Vec::new());
        let mut encoder = BatchEncoder::default();
        batch.into_iter().for_each(|item| encoder.push(item));
        encoder.write_to(&mut socket).await.expect("written");
        let text = OpCode::Data(Data::Text);
        assert_eq!(
            frames(&socket.0),
            vec![
                (text, b"small one".to_vec()),
                (text, big.clone().into_bytes()),
                (OpCode::Control(Control::Pong), b"p".to_vec()),
                (text, big.into_bytes()),
                (text, b"small two".to_vec()),
                (OpCode::Control(Control::Close), [&1000u16.to_be_bytes()[..], b"bye"].concat()),
            ]
        );
    }

    #[test]
    fn only_the_send_that_overflows_reports_full_later_ones_find_the_socket_closed() {
        let (link, _writer_rx, mut kill_rx) = SocketLink::new(1);
        let frame = || Frame::from("{}");
        assert_eq!(link.try_send(frame()), SendOutcome::Queued);
        assert!(!*kill_rx.borrow_and_update());
        assert_eq!(link.try_send(frame()), SendOutcome::Full, "the first overflow kills the socket");
        assert!(*kill_rx.borrow_and_update());
        for _ in 0..1000 {
            assert_eq!(link.try_send(frame()), SendOutcome::Closed, "no second eviction, no second warning");
        }
    }
}
