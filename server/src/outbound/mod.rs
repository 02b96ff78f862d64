//! Per-socket outbound path: a bounded queue ([`queue`]) merged with the session's feed
//! ([`outlet`]), drained by one writer task that coalesces frames (many frames, one write; on a busy
//! socket at most one write of broadcasts per pacing interval, which adapts to the load:
//! [`pacer`]), plus a kill switch that drops the socket at once. The feed cuts a socket that stopped
//! reading: one whose writer lags beyond the bound while stuck writing a batch ([`stall`]).
//!
//! The writer encodes the WebSocket frames itself ([`crate::ws::encode`]) into a scratch buffer that
//! lives for one write, and big payloads go out straight from the shared notification bytes: a
//! socket holds no write buffer between writes (a WebSocket library's buffer keeps the size of the
//! largest message it ever sent, for as long as the socket lives).

mod batch;
pub mod feed;
mod outlet;
pub mod pacer;
pub mod packer;
pub mod queue;
pub mod stall;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;

use batch::{BatchEncoder, BatchEnd};
use crate::rpc::Frame;
use feed::{Feed, Reader};
pub use outlet::Outlet;
use pacer::{Cadence, Pacer};
use outlet::{Item, Queued};
use stall::{CutHandle, WriteWatch};

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

/// Cheap, cloneable handle to one socket's outbound path: its own queue, and the session feed its
/// writer follows while the socket's participant is in a session.
#[derive(Clone, Debug)]
pub struct SocketLink {
    id: u64,
    tx: queue::Sender<Queued>,
    kill: Arc<watch::Sender<bool>>,
    /// Since when the writer has been writing its current batch, for the feed's stall rule.
    writes: Arc<WriteWatch>,
    /// The feed the writer follows (or will, once it reaches the `Follow` queued last): queued
    /// items are stamped with its next number, so they go out after every entry appended before.
    feed: Arc<parking_lot::Mutex<Option<Arc<Feed>>>>,
}

impl SocketLink {
    /// Creates the link, the writer's outlet and the kill switch's receiver.
    pub fn new(queue_frames: usize) -> (SocketLink, Outlet, watch::Receiver<bool>) {
        let (tx, rx) = queue::bounded(queue_frames);
        let (kill, kill_rx) = watch::channel(false);
        let id = NEXT_SOCKET_ID.fetch_add(1, Ordering::Relaxed);
        (
            SocketLink {
                id,
                tx,
                kill: Arc::new(kill),
                writes: Arc::default(),
                feed: Arc::default(),
            },
            Outlet::new(rx),
            kill_rx,
        )
    }

    fn stamped(&self, item: Item) -> Queued {
        let stamp = self.feed.lock().as_ref().map_or(0, |feed| feed.last_seq() + 1);
        Queued { stamp, item }
    }

    fn push(&self, item: Item) -> Result<(), queue::PushError<Queued>> {
        self.tx.try_send(self.stamped(item))
    }

    /// From now on the writer also sends `feed`'s entries, from `reader`'s position on, after
    /// everything queued so far. Kills the socket if its queue is full.
    pub fn follow(&self, feed: Arc<Feed>, reader: Arc<Reader>) {
        let item = self.stamped(Item::Follow(feed.clone(), reader));
        *self.feed.lock() = Some(feed);
        if self.tx.try_send(item).is_err() {
            self.kill();
        }
    }

    /// The writer stops following its feed after the entries appended so far. Returns `false` if
    /// that could not be queued (the writer is gone, or its queue is full: the socket is killed).
    pub fn unfollow(&self) -> bool {
        let item = self.stamped(Item::Unfollow);
        *self.feed.lock() = None;
        match self.tx.try_send(item) {
            Ok(()) => true,
            Err(queue::PushError::Full(_)) => {
                self.kill();
                false
            }
            Err(queue::PushError::Closed(_)) => false,
        }
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
        match self.push(Item::Out(Outbound::Text(frame))) {
            Ok(()) => SendOutcome::Queued,
            Err(queue::PushError::Full(_)) => {
                // Only the send that trips the kill switch reports the overflow: until the socket's
                // tasks stop, every later send finds the queue full too, and must neither log nor
                // ask for another eviction.
                if self.kill.send_replace(true) {
                    return SendOutcome::Closed;
                }
                tracing::warn!(socket = self.id, "outbound queue full: disconnecting slow reader");
                SendOutcome::Full
            }
            Err(queue::PushError::Closed(_)) => SendOutcome::Closed,
        }
    }

    /// Queues a close frame after everything already queued (kills the socket if the queue is full).
    pub fn close(&self, code: u16, reason: &'static str) {
        if self.push(Item::Out(Outbound::Close(code, reason))).is_err() {
            self.kill();
        }
    }

    /// Queues the answer to the peer's close frame (kills the socket if the queue is full).
    pub fn reply_to_close(&self, code: Option<u16>) {
        if self.push(Item::Out(Outbound::CloseReply(code))).is_err() {
            self.kill();
        }
    }

    /// Queues the answer to a ping (dropped if the queue is full: the peer is not reading anyway,
    /// and the next notification that finds the queue full evicts it).
    pub fn pong(&self, payload: Bytes) {
        let _ = self.push(Item::Out(Outbound::Pong(payload)));
    }

    /// Drops the socket now, without a close frame.
    pub fn kill(&self) {
        self.kill.send_replace(true);
    }

    /// The socket's kill switch and the watch on its writer (for the writer, and for the feed's
    /// readers, which cut the socket if it stalls).
    pub(crate) fn cut_handle(&self) -> CutHandle {
        CutHandle { kill: self.kill.clone(), writes: self.writes.clone() }
    }
}

/// Waits until the kill switch is set (or its sender is gone).
pub async fn killed(kill: &mut watch::Receiver<bool>) {
    let _ = kill.wait_for(|k| *k).await;
}

/// How the writer task paces its writes.
#[derive(Clone, Debug)]
pub struct WriterPacing {
    /// Least time between two writes of broadcasts to the socket, adapted to the load. A broadcast
    /// that finds the socket idle longer than this goes out at once; broadcasts arriving faster
    /// wait for the rest of the interval and then go out together, in one write. Anything for
    /// this socket alone (an answer, a private frame) ends the wait: it goes out at once, after
    /// the broadcasts that precede it.
    pub pacer: Arc<Pacer>,
    /// How far the socket's feed reader may lag (the outbound queue size): broadcasts gather to
    /// at most a quarter of it.
    pub lag_bound: usize,
    /// After a close frame, how long to wait for the peer before dropping the socket.
    pub close_linger: Duration,
}

/// Drains the outlet (the socket's queue merged with the feed it follows) into the socket,
/// coalescing frames per [`WriterPacing`], until a close frame is sent, writing fails or every
/// sender is gone. After a close frame it waits `close_linger` for the
/// peer, then kills the socket; after the answer to the peer's close frame it stops at once.
///
/// The socket task aborts the writer when the socket is killed, so a write blocked on a peer that
/// stopped reading never outlives the socket.
pub async fn run_writer<W: AsyncWrite + Unpin>(mut sink: W, mut outlet: Outlet, socket: CutHandle, pacing: WriterPacing) {
    let mut cadence = Cadence::for_lag_bound(pacing.lag_bound);
    while outlet.ready().await {
        match cadence.due(pacing.pacer.interval()) {
            // Busy socket: let more broadcasts gather until the interval is over, unless something
            // for this socket alone comes first.
            Some(due) if Instant::now() < due => {
                tokio::select! {
                    _ = tokio::time::sleep_until(due) => {}
                    _ = outlet.queued() => {}
                }
            }
            // Let the tasks that are ready run first: under load they queue more frames for this
            // socket, which then go out in the same write (one syscall for many frames).
            _ => tokio::task::yield_now().await,
        }
        let mut batch = BatchEncoder::default();
        outlet.take_into(MAX_FRAMES_PER_FLUSH, &mut batch);
        if batch.is_empty() {
            continue;
        }
        socket.writes.begin();
        let written = write_batch(&mut sink, &batch).await;
        socket.writes.end();
        if written.is_err() {
            socket.kill.send_replace(true);
            return;
        }
        match batch.end() {
            BatchEnd::Written => cadence.wrote(batch.frames(), outlet.is_empty(), Instant::now()),
            BatchEnd::Closed => break,
            BatchEnd::Replied => return,
        }
    }
    let mut kill = socket.kill.subscribe();
    let _ = tokio::time::timeout(pacing.close_linger, killed(&mut kill)).await;
    socket.kill.send_replace(true);
}

/// Writes the encoded `batch`, in as few writes as the socket accepts, then flushes.
async fn write_batch<W: AsyncWrite + Unpin>(sink: &mut W, batch: &BatchEncoder) -> std::io::Result<()> {
    batch.write_to(sink).await?;
    sink.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// Reads one unmasked text frame of under 126 bytes (what the server sends in these tests).
    async fn read_text(peer: &mut tokio::io::DuplexStream) -> String {
        let mut head = [0u8; 2];
        peer.read_exact(&mut head).await.unwrap();
        assert_eq!(head[0], 0x81, "a final text frame");
        let mut payload = vec![0u8; usize::from(head[1])];
        peer.read_exact(&mut payload).await.unwrap();
        String::from_utf8(payload).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn broadcasts_to_a_busy_socket_wait_for_the_pacing_but_an_answer_goes_out_at_once() {
        const PACING: Duration = Duration::from_secs(10);
        let feed = Feed::new(100, Duration::from_secs(1));
        let (link, outlet, _kill) = SocketLink::new(100);
        link.follow(feed.clone(), feed.reader(1, "c".into(), link.cut_handle()));
        let (sink, mut peer) = tokio::io::duplex(4096);
        let pacing = WriterPacing { pacer: Pacer::new(PACING, PACING), lag_bound: 100, close_linger: Duration::from_secs(1) };
        let writer = tokio::spawn(run_writer(sink, outlet, link.cut_handle(), pacing));
        let start = Instant::now();

        feed.append(Frame::from("b1"));
        assert_eq!(read_text(&mut peer).await, "b1");
        assert!(start.elapsed() < Duration::from_millis(1), "an idle socket is written at once");

        feed.append(Frame::from("b2"));
        tokio::time::sleep(Duration::from_secs(1)).await;
        link.send(Frame::from("answer"));
        assert_eq!(read_text(&mut peer).await, "b2", "the broadcast before the answer goes with it");
        assert_eq!(read_text(&mut peer).await, "answer");
        let answered = start.elapsed();
        assert!(answered < Duration::from_secs(2), "the answer did not wait for the pacing: {answered:?}");

        feed.append(Frame::from("b3"));
        assert_eq!(read_text(&mut peer).await, "b3");
        assert!(start.elapsed() >= answered + PACING, "a broadcast alone waits for the pacing");

        drop(link);
        writer.await.unwrap();
    }

    /// A socket whose peer reads nothing, written by its writer task; the feed it follows cuts a
    /// reader more than 20 entries behind whose writer has been stuck for 50 ms.
    fn unread_socket() -> (Arc<Feed>, SocketLink, watch::Receiver<bool>, tokio::task::JoinHandle<()>, tokio::io::DuplexStream) {
        let feed = Feed::new(20, Duration::from_millis(50));
        let (link, outlet, kill) = SocketLink::new(100);
        link.follow(feed.clone(), feed.reader(1, "c".into(), link.cut_handle()));
        let (sink, peer) = tokio::io::duplex(64);
        let pacing = WriterPacing { pacer: Pacer::new(Duration::ZERO, Duration::ZERO), lag_bound: 20, close_linger: Duration::from_secs(1) };
        let writer = tokio::spawn(run_writer(sink, outlet, link.cut_handle(), pacing));
        (feed, link, kill, writer, peer)
    }

    /// Appends until the feed's next check (its first is at the 64th entry); returns who it cut.
    fn append_until_checked(feed: &Feed) -> Vec<String> {
        let mut stalled = Vec::new();
        while feed.last_seq() < 64 {
            stalled.extend(feed.append(Frame::from("x".repeat(100))));
        }
        stalled
    }

    #[tokio::test]
    async fn a_socket_whose_writer_is_stuck_writing_to_a_peer_that_reads_nothing_is_cut() {
        let (feed, _link, kill, _writer, _peer) = unread_socket();
        feed.append(Frame::from("x".repeat(100))); // more than the peer's buffer: the write blocks
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(append_until_checked(&feed), ["c"], "63 behind (within the hard bound), stuck for 150 ms");
        assert!(*kill.borrow());
    }

    #[tokio::test]
    async fn a_writer_aborted_before_it_took_its_participants_unfollow_stops_the_reader() {
        let feed = Feed::new(20, Duration::from_millis(50));
        let (link, outlet, _kill) = SocketLink::new(100);
        let reader = feed.reader(1, "c".into(), link.cut_handle());
        link.follow(feed.clone(), reader.clone());
        let (sink, _peer) = tokio::io::duplex(64);
        let pacing = WriterPacing { pacer: Pacer::new(Duration::ZERO, Duration::ZERO), lag_bound: 20, close_linger: Duration::from_secs(1) };
        let writer = tokio::spawn(run_writer(sink, outlet, link.cut_handle(), pacing));
        feed.append(Frame::from("before the leave"));
        tokio::task::yield_now().await; // the writer takes the follow and the entry
        assert!(link.unfollow(), "the participant leaves");
        writer.abort(); // the client dropped its socket at once
        let _ = writer.await;
        assert!(!reader.is_active(), "no detach will come for it: it holds nothing in the feed");
        assert!(append_until_checked(&feed).is_empty(), "nothing to cut");
        assert_eq!(feed.kept(), 0);
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
