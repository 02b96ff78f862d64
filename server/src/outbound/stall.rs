//! Telling a client that stopped reading from one that is merely behind.
//!
//! A member's writer lags the session's feed for one of two reasons. Either it waits for the CPU,
//! or for its pacing, while the server is busy: it catches up once it runs. Or the client stopped
//! reading: the kernel's socket buffers are full and the writer is stuck in a write that does not
//! end. Lag alone cannot tell them apart (a 1000-member join storm puts a live reader 250 entries
//! behind in an instant), so [`StallRule::is_stalled`] also asks the writer: a reader is cut when it
//! lags beyond the bound while its writer has been stuck writing one batch for the stall timeout.
//! A reader that lags beyond [`HARD_LAG_FACTOR`] times the bound is cut whatever its writer does:
//! its client reads, but slower than the session broadcasts, and the feed would keep entries for it
//! without end. (A reader whose writer is gone is not this rule's business: the socket's detach, or
//! the outlet's drop when the participant already left, stops it.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// A reader this many times the lag bound behind is cut even while its writer is not stuck.
pub const HARD_LAG_FACTOR: u64 = 4;

/// Time all watches count from.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// Milliseconds since [`EPOCH`].
fn clock_ms(at: Instant) -> u64 {
    at.saturating_duration_since(*EPOCH).as_millis() as u64
}

/// Since when a socket's writer has been writing its current batch, if it is writing one.
#[derive(Debug, Default)]
pub struct WriteWatch {
    /// Start of the pending write in [`clock_ms`] plus one; 0 while no write is pending.
    pending_since: AtomicU64,
}

impl WriteWatch {
    /// The writer starts writing a batch.
    pub fn begin(&self) {
        self.pending_since.store(clock_ms(Instant::now()) + 1, Ordering::Relaxed);
    }

    /// The writer finished writing its batch (or gave up).
    pub fn end(&self) {
        self.pending_since.store(0, Ordering::Relaxed);
    }

    /// How long the pending write has lasted at `now`; `None` when no write is pending.
    pub fn stuck_for(&self, now: Instant) -> Option<Duration> {
        match self.pending_since.load(Ordering::Relaxed) {
            0 => None,
            since => Some(Duration::from_millis(clock_ms(now).saturating_sub(since - 1))),
        }
    }
}

/// What the session feed needs of a socket to cut it: its kill switch, and the watch on its writer.
#[derive(Clone, Debug)]
pub struct CutHandle {
    /// Setting it drops the socket.
    pub kill: Arc<watch::Sender<bool>>,
    /// What the socket's writer is doing.
    pub writes: Arc<WriteWatch>,
}

/// When a feed cuts a reader as stalled.
#[derive(Clone, Copy, Debug)]
pub struct StallRule {
    /// How far a reader may lag.
    pub lag_bound: u64,
    /// How long the writer of a reader lagging beyond the bound may stay stuck writing one batch.
    pub write_timeout: Duration,
}

impl StallRule {
    /// True when a reader `lag` entries behind, whose socket's writer is watched by `writes`, is
    /// to be cut at `now`.
    pub fn is_stalled(&self, lag: u64, writes: &WriteWatch, now: Instant) -> bool {
        if lag > self.lag_bound.saturating_mul(HARD_LAG_FACTOR) {
            return true;
        }
        lag > self.lag_bound && writes.stuck_for(now).is_some_and(|stuck| stuck >= self.write_timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: StallRule = StallRule { lag_bound: 10, write_timeout: Duration::from_secs(1) };

    #[test]
    fn a_reader_behind_is_not_stalled_while_its_writer_is_not_stuck_in_a_write() {
        let writes = WriteWatch::default();
        let now = Instant::now();
        assert!(!is_stalled_now(40, &writes, now), "no write pending: waiting for the CPU or its pacing");
        writes.begin();
        writes.end();
        assert!(!is_stalled_now(40, &writes, now + Duration::from_secs(60)), "the write ended");
    }

    #[test]
    fn a_reader_behind_whose_write_is_stuck_for_the_timeout_is_stalled() {
        let writes = WriteWatch::default();
        let before = Instant::now();
        writes.begin();
        let after = Instant::now();
        assert!(!is_stalled_now(11, &writes, before + Duration::from_millis(900)), "stuck for less than the timeout");
        assert!(is_stalled_now(11, &writes, after + Duration::from_millis(1100)));
        assert!(!is_stalled_now(10, &writes, after + Duration::from_secs(60)), "within the lag bound");
    }

    #[test]
    fn a_reader_far_beyond_the_bound_is_stalled_whatever_its_writer_does() {
        let writes = WriteWatch::default();
        let now = Instant::now();
        assert!(!is_stalled_now(RULE.lag_bound * HARD_LAG_FACTOR, &writes, now));
        assert!(is_stalled_now(RULE.lag_bound * HARD_LAG_FACTOR + 1, &writes, now), "reads, but slower than the session");
    }

    #[test]
    fn the_watch_measures_the_pending_write_only() {
        let writes = WriteWatch::default();
        assert_eq!(writes.stuck_for(Instant::now()), None);
        let before = Instant::now();
        writes.begin();
        let after = Instant::now();
        let stuck = writes.stuck_for(after + Duration::from_secs(2)).expect("a write is pending");
        // Whole milliseconds, counted from a moment between `before` and `after`.
        assert!(stuck + Duration::from_millis(1) >= Duration::from_secs(2), "{stuck:?}");
        assert!(stuck <= (after - before) + Duration::from_secs(2) + Duration::from_millis(1), "{stuck:?}");
        writes.end();
        assert_eq!(writes.stuck_for(Instant::now()), None);
    }

    fn is_stalled_now(lag: u64, writes: &WriteWatch, now: Instant) -> bool {
        RULE.is_stalled(lag, writes, now)
    }
}
