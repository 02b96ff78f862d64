//! A session's feed: each broadcast appended once, numbered like the session's replay ring, and read
//! by every member's writer at its own [`Reader`] position.
//!
//! A fan-out to N members used to push N queue entries, each into a different, cold queue; in an
//! N-member join storm that is N²/2 pushes. Now a broadcast costs one append plus a wake-up for the
//! writers that were waiting; each writer copies what it has not sent yet when it next writes.
//!
//! The feed keeps an entry until every reader has taken it. Readers are checked every few appends
//! (not on each one): one that lags more than the bound while its writer is stuck writing a batch
//! (or lags far more) is *stalled* ([`super::stall`]), its socket is killed and the append reports
//! it, so the session evicts it exactly as a full queue used to.

use std::collections::{vec_deque, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use super::stall::{CutHandle, StallRule};
use crate::rpc::Frame;

/// The feed checks its readers at least this many appends apart.
const MIN_CHECK_SPAN: u64 = 64;

/// One session's feed.
pub struct Feed {
    /// Number of the newest entry (0 = none yet); read without the lock to stamp queued items.
    last_seq: AtomicU64,
    /// When a reader counts as stalled.
    stall: StallRule,
    /// Taking entries only reads: the writers of a session's members take in parallel, and only
    /// appends, new readers and detaches wait for one another.
    inner: RwLock<FeedInner>,
    /// Readers waiting for the next append (apart from the entries, so a writer that registers
    /// does not hold up the others' takes).
    waiting: Mutex<Vec<Arc<Reader>>>,
}

struct FeedInner {
    /// Entries not yet taken by every reader, oldest first; the last one is numbered `last_seq`.
    entries: VecDeque<Frame>,
    /// Readers to check and to keep entries for.
    readers: Vec<Arc<Reader>>,
    /// Number at which the next check of the readers is due.
    next_check: u64,
}

impl FeedInner {
    /// Number of the oldest entry kept, when the newest is numbered `last`.
    fn first_seq(&self, last: u64) -> u64 {
        last + 1 - self.entries.len() as u64
    }
}

/// One writer's position in a feed.
pub struct Reader {
    /// Number of the next entry this reader takes.
    next: AtomicU64,
    /// Connection id of the participant whose socket reads (reported when it stalls).
    pub owner: String,
    socket: CutHandle,
    slot: Mutex<ReaderSlot>,
}

#[derive(Default)]
struct ReaderSlot {
    /// Reading (false once the writer stopped following, or the socket was detached or stalled).
    active: bool,
    /// In the feed's waiting list.
    listed: bool,
    waker: Option<Waker>,
}

impl Feed {
    /// An empty feed whose readers are cut when they lag more than `lag_bound` entries while their
    /// writer is stuck writing one batch for `write_timeout`, or lag far more
    /// ([`super::stall`]).
    pub fn new(lag_bound: usize, write_timeout: Duration) -> Arc<Feed> {
        Arc::new(Feed {
            last_seq: AtomicU64::new(0),
            stall: StallRule { lag_bound: lag_bound.max(1) as u64, write_timeout },
            inner: RwLock::new(FeedInner { entries: VecDeque::new(), readers: Vec::new(), next_check: MIN_CHECK_SPAN }),
            waiting: Mutex::new(Vec::new()),
        })
    }

    /// Number of the newest entry (0 = none yet).
    pub fn last_seq(&self) -> u64 {
        self.last_seq.load(Ordering::Acquire)
    }

    /// A reader for `owner`'s socket (cut through `socket` if it stalls) that takes the entries
    /// numbered `next` and after.
    pub fn reader(&self, next: u64, owner: String, socket: CutHandle) -> Arc<Reader> {
        let reader = Arc::new(Reader {
            next: AtomicU64::new(next),
            owner,
            socket,
            slot: Mutex::new(ReaderSlot { active: true, ..ReaderSlot::default() }),
        });
        self.inner.write().readers.push(reader.clone());
        reader
    }

    /// Appends `frame` and wakes the readers waiting for it; returns the connection ids of readers
    /// found stalled (their sockets are killed).
    pub fn append(&self, frame: Frame) -> Vec<String> {
        let stalled = {
            let mut inner = self.inner.write();
            inner.entries.push_back(frame);
            let seq = self.last_seq.load(Ordering::Relaxed) + 1;
            self.last_seq.store(seq, Ordering::Release);
            if seq >= inner.next_check { self.check_readers(&mut inner, seq) } else { Vec::new() }
        };
        // After the new number is stored: a reader registering from here on sees it.
        let waiting = std::mem::take(&mut *self.waiting.lock());
        for reader in waiting {
            let waker = {
                let mut slot = reader.slot.lock();
                slot.listed = false;
                slot.waker.take()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        }
        stalled
    }

    /// Drops the entries every reader has taken, stops readers that stalled, and schedules the next
    /// check (in proportion to the readers, so the checks cost O(1) per append).
    fn check_readers(&self, inner: &mut FeedInner, last: u64) -> Vec<String> {
        let mut stalled = Vec::new();
        let mut oldest_needed = last + 1;
        let now = Instant::now();
        inner.readers.retain(|reader| {
            let mut slot = reader.slot.lock();
            if !slot.active {
                return false;
            }
            let next = reader.next.load(Ordering::Acquire);
            let lag = last + 1 - next.min(last + 1);
            if self.stall.is_stalled(lag, &reader.socket.writes, now) {
                slot.active = false;
                drop(slot);
                tracing::warn!(connection = %reader.owner, lag, "socket stopped reading: disconnecting");
                reader.socket.kill.send_replace(true);
                stalled.push(reader.owner.clone());
                return false;
            }
            oldest_needed = oldest_needed.min(next);
            true
        });
        let first = inner.first_seq(last);
        let drop_count = oldest_needed.saturating_sub(first).min(inner.entries.len() as u64) as usize;
        inner.entries.drain(..drop_count);
        if inner.entries.capacity() > 64 && inner.entries.len() < inner.entries.capacity() / 4 {
            inner.entries.shrink_to(inner.entries.len() * 2);
        }
        inner.next_check = last + MIN_CHECK_SPAN.max(inner.readers.len() as u64 / 4);
        stalled
    }

    /// Lends to `out` the entries `reader` has not taken, numbered below `before`, at most `max`
    /// (borrowed while the feed is locked: a writer copies them into its batch, with no reference
    /// count touched per recipient), moves the reader past them and returns how many they were. A
    /// reader that is not active takes nothing, and `out` is not called when there is nothing.
    pub fn take(&self, reader: &Reader, before: u64, max: usize, out: impl FnOnce(vec_deque::Iter<'_, Frame>)) -> usize {
        if reader.next() > self.last_seq().min(before.saturating_sub(1)) {
            return 0; // nothing to take: no lock
        }
        let inner = self.inner.read();
        if !reader.slot.lock().active {
            return 0;
        }
        let next = reader.next.load(Ordering::Relaxed);
        let last = self.last_seq.load(Ordering::Relaxed);
        let first = inner.first_seq(last);
        // Entries are kept until every active reader took them, so `next >= first` holds.
        let from = next.max(first);
        let until = before.min(last + 1);
        if until <= from || max == 0 {
            return 0;
        }
        let count = ((until - from) as usize).min(max);
        let skip = (from - first) as usize;
        out(inner.entries.range(skip..skip + count));
        reader.next.store(from + count as u64, Ordering::Release);
        count
    }

    /// True when `reader` is active and has something to take (read without the feed's lock).
    pub fn has_unread(&self, reader: &Reader) -> bool {
        reader.next() <= self.last_seq() && reader.is_active()
    }

    /// True when `reader` has something to take; otherwise `waker` is woken by the next append.
    pub fn ready_or_wake(&self, reader: &Arc<Reader>, waker: &Waker) -> bool {
        if self.has_unread(reader) {
            return true;
        }
        let mut waiting = self.waiting.lock();
        let mut slot = reader.slot.lock();
        if !slot.active {
            return false;
        }
        if reader.next.load(Ordering::Relaxed) <= self.last_seq.load(Ordering::Relaxed) {
            return true;
        }
        match &mut slot.waker {
            Some(current) => current.clone_from(waker),
            None => slot.waker = Some(waker.clone()),
        }
        if !slot.listed {
            slot.listed = true;
            drop(slot);
            waiting.push(reader.clone());
        }
        false
    }

    /// Stops `reader` and copies out what it has not taken yet (the frames its socket never got),
    /// with the number of the first.
    pub fn detach(&self, reader: &Reader) -> (u64, Vec<Frame>) {
        // Exclusive: a take of the same reader must end before, or see it stopped.
        let inner = self.inner.write();
        let mut slot = reader.slot.lock();
        let next = reader.next.load(Ordering::Relaxed);
        if !slot.active {
            return (next, Vec::new());
        }
        slot.active = false;
        slot.waker = None;
        let last = self.last_seq.load(Ordering::Relaxed);
        let first = inner.first_seq(last);
        let from = next.max(first);
        let skip = ((from - first) as usize).min(inner.entries.len());
        (from, inner.entries.range(skip..).cloned().collect())
    }

    /// Number of entries kept.
    #[cfg(test)]
    pub fn kept(&self) -> usize {
        self.inner.read().entries.len()
    }
}

impl Reader {
    /// Number of the next entry this reader takes.
    pub fn next(&self) -> u64 {
        self.next.load(Ordering::Acquire)
    }

    /// Stops reading (the writer stopped following, or is gone); the feed drops it at its next check.
    pub fn stop(&self) {
        let mut slot = self.slot.lock();
        slot.active = false;
        slot.waker = None;
    }

    /// True while the reader reads.
    pub fn is_active(&self) -> bool {
        self.slot.lock().active
    }
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed").field("last_seq", &self.last_seq()).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").field("owner", &self.owner).field("next", &self.next()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    use tokio::sync::watch;

    use super::super::stall::HARD_LAG_FACTOR;
    use super::*;

    /// A socket's cut handle, and the receiving end of its kill switch.
    fn socket() -> (CutHandle, watch::Receiver<bool>) {
        let (tx, rx) = watch::channel(false);
        (CutHandle { kill: Arc::new(tx), writes: Arc::default() }, rx)
    }

    /// A feed whose readers may lag `lag_bound` entries, and are cut beyond it as soon as their
    /// writer is in a write.
    fn feed(lag_bound: usize) -> Arc<Feed> {
        Feed::new(lag_bound, Duration::ZERO)
    }

    fn append_all(feed: &Feed, texts: &[&str]) -> Vec<String> {
        texts.iter().flat_map(|text| feed.append(Frame::from(*text))).collect()
    }

    fn take(feed: &Feed, reader: &Reader, before: u64, max: usize) -> Vec<String> {
        let mut out = Vec::new();
        feed.take(reader, before, max, |frames| out.extend(frames.map(|frame| frame.as_str().to_string())));
        out
    }

    #[test]
    fn each_reader_takes_the_entries_from_its_own_position_in_order() {
        let feed = feed(100);
        let early = feed.reader(1, "early".into(), socket().0);
        append_all(&feed, &["a", "b"]);
        let late = feed.reader(3, "late".into(), socket().0);
        append_all(&feed, &["c", "d"]);
        assert_eq!(take(&feed, &early, u64::MAX, 3), ["a", "b", "c"], "at most max");
        assert_eq!(take(&feed, &early, u64::MAX, 10), ["d"]);
        assert_eq!(take(&feed, &early, u64::MAX, 10), Vec::<String>::new());
        assert_eq!(take(&feed, &late, 4, 10), ["c"], "only those numbered below `before`");
        assert_eq!(take(&feed, &late, u64::MAX, 10), ["d"]);
    }

    #[test]
    fn entries_are_dropped_once_every_reader_took_them() {
        let feed = feed(10_000);
        let fast = feed.reader(1, "fast".into(), socket().0);
        let slow = feed.reader(1, "slow".into(), socket().0);
        let texts: Vec<String> = (0..MIN_CHECK_SPAN).map(|n| n.to_string()).collect();
        for text in &texts {
            feed.append(Frame::from(text.as_str()));
            take(&feed, &fast, u64::MAX, 100);
        }
        assert_eq!(feed.kept(), MIN_CHECK_SPAN as usize, "the slow reader took nothing yet");
        take(&feed, &slow, u64::MAX, 10);
        for text in &texts {
            feed.append(Frame::from(text.as_str()));
            take(&feed, &fast, u64::MAX, 100);
        }
        assert_eq!(feed.kept(), 2 * MIN_CHECK_SPAN as usize - 10, "kept from the slow reader's position on");
        slow.stop();
        for text in &texts {
            feed.append(Frame::from(text.as_str()));
            take(&feed, &fast, u64::MAX, 100);
        }
        // Checked as the last one was appended, before the fast reader took it.
        assert_eq!(feed.kept(), 1, "a stopped reader holds nothing");
    }

    #[test]
    fn a_reader_lagging_beyond_the_bound_while_stuck_in_a_write_is_cut_and_reported_once() {
        let feed = feed(10);
        let (stuck_socket, mut killed) = socket();
        stuck_socket.writes.begin();
        let stuck = feed.reader(1, "stuck".into(), stuck_socket);
        let reading = feed.reader(1, "reading".into(), socket().0);
        let mut stalled = Vec::new();
        for n in 0..3 * MIN_CHECK_SPAN {
            stalled.extend(feed.append(Frame::from(n.to_string())));
            take(&feed, &reading, u64::MAX, 100);
        }
        assert_eq!(stalled, ["stuck"]);
        assert!(*killed.borrow_and_update(), "its socket is killed");
        assert!(!stuck.is_active());
        assert_eq!(take(&feed, &stuck, u64::MAX, 100), Vec::<String>::new(), "a cut reader takes nothing");
        assert!(feed.kept() < MIN_CHECK_SPAN as usize, "and holds nothing");
    }

    #[test]
    fn a_reader_lagging_beyond_the_bound_is_kept_while_its_writer_is_not_stuck_in_a_write() {
        let feed = feed(100);
        let (behind_socket, killed) = socket();
        let behind = feed.reader(1, "behind".into(), behind_socket.clone());
        let appended = 3 * MIN_CHECK_SPAN;
        let stalled: Vec<String> = (0..appended).flat_map(|n| feed.append(Frame::from(n.to_string()))).collect();
        assert!(stalled.is_empty(), "waiting for the CPU is not a stall");
        assert!(!*killed.borrow());
        assert_eq!(feed.kept(), appended as usize, "everything kept for it");
        assert_eq!(take(&feed, &behind, u64::MAX, 1000).len(), appended as usize, "it catches up");

        behind_socket.writes.begin();
        let stalled: Vec<String> = (0..appended).flat_map(|n| feed.append(Frame::from(n.to_string()))).collect();
        assert_eq!(stalled, ["behind"], "stuck in a write and behind again: cut");
    }

    #[test]
    fn a_reader_that_reads_slower_than_the_session_broadcasts_is_cut_far_beyond_the_bound() {
        let feed = feed(20);
        let (slow_socket, _killed) = socket();
        let slow = feed.reader(1, "slow".into(), slow_socket);
        let mut stalled = Vec::new();
        let mut appended = 0;
        while stalled.is_empty() && appended < 100 * MIN_CHECK_SPAN {
            stalled.extend(feed.append(Frame::from(appended.to_string())));
            appended += 1;
            if appended % 4 == 0 {
                take(&feed, &slow, u64::MAX, 1); // one in four, never stuck in a write
            }
        }
        assert_eq!(stalled, ["slow"]);
        let lag = appended - slow.next() + 1;
        assert!(lag > 20 * HARD_LAG_FACTOR && lag <= 20 * HARD_LAG_FACTOR + MIN_CHECK_SPAN, "cut at the first check past the hard bound: {lag}");
    }

    #[test]
    fn a_detach_racing_the_writers_take_hands_over_each_entry_exactly_once() {
        for round in 0..200 {
            let feed = feed(10_000);
            let reader = feed.reader(1, "racer".into(), socket().0);
            let texts: Vec<String> = (0..2000).map(|n| n.to_string()).collect();
            texts.iter().for_each(|text| drop(feed.append(Frame::from(text.as_str()))));
            let (taken, (first, untaken)) = std::thread::scope(|scope| {
                let writer = scope.spawn(|| {
                    let mut taken = Vec::new();
                    while reader.is_active() {
                        taken.extend(take(&feed, &reader, u64::MAX, 2));
                    }
                    taken
                });
                // Detach while the writer is mid-way.
                while reader.next() < 100 + round {
                    std::hint::spin_loop();
                }
                let detached = feed.detach(&reader);
                (writer.join().unwrap(), detached)
            });
            assert_eq!(first, taken.len() as u64 + 1, "the backlog starts where the writer stopped");
            let handed: Vec<String> = taken.into_iter().chain(untaken.iter().map(|f| f.as_str().to_string())).collect();
            assert_eq!(handed, texts, "round {round}: every entry once, in order");
        }
    }

    #[test]
    fn a_detached_reader_hands_over_what_it_never_took_and_takes_nothing_more() {
        let feed = feed(100);
        let reader = feed.reader(1, "r".into(), socket().0);
        append_all(&feed, &["a", "b", "c"]);
        assert_eq!(take(&feed, &reader, u64::MAX, 1), ["a"]);
        let (first, untaken) = feed.detach(&reader);
        assert_eq!(first, 2);
        assert_eq!(untaken.iter().map(|f| f.as_str()).collect::<Vec<_>>(), ["b", "c"]);
        append_all(&feed, &["d"]);
        assert_eq!(take(&feed, &reader, u64::MAX, 10), Vec::<String>::new());
        assert_eq!(feed.detach(&reader).1.len(), 0, "detached once");
    }

    struct CountWakes(AtomicUsize);

    impl Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_waiting_reader_is_woken_once_by_the_next_append() {
        let feed = feed(100);
        let reader = feed.reader(1, "r".into(), socket().0);
        let wakes = Arc::new(CountWakes(AtomicUsize::new(0)));
        let waker = Waker::from(wakes.clone());
        assert!(!feed.ready_or_wake(&reader, &waker));
        assert!(!feed.ready_or_wake(&reader, &waker), "asking twice lists it once");
        append_all(&feed, &["a", "b"]);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert!(feed.ready_or_wake(&reader, &waker), "something to take");
    }
}
