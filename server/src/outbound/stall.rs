//! Telling a client that stopped reading from one that is merely behind.
//!
//! A member's writer lags the session's feed for one of two reasons. Either it waits for the CPU,
//! or for its pacing, while the server is busy: it catches up once it runs, and the lag is bounded
//! in time. Or the client stopped reading: the kernel's socket buffers are full and the writer is
//! stuck in a write that does not end. Only the second is a stalled client, and lag alone cannot
//! tell them apart (a 1000-member join storm puts a live reader 250 entries behind in an instant).
//! So a reader is cut when it lags beyond the bound *and* its socket's writer has been stuck on one
//! write for the stall timeout ([`is_stalled`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// Time all watches count from.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// Milliseconds since [`EPOCH`].
fn clock_ms(at: Instant) -> u64 {
    at.saturating_duration_since(*EPOCH).as_millis() as u64
}

/// When a socket's writer started the write it has not finished.
#[derive(Debug, Default)]
pub struct WriteWatch {
    /// Start of the pending write in [`clock_ms`] plus one; 0 while no write is pending.
    pending_since: AtomicU64,
}

impl WriteWatch {
    /// The writer starts a write.
    pub fn begin(&self) {
        self.pending_since.store(clock_ms(Instant::now()) + 1, Ordering::Relaxed);
    }

    /// The writer finished its write (or gave up).
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
pub struct SocketWatch {
    /// Setting it drops the socket.
    pub kill: Arc<watch::Sender<bool>>,
    /// The writer's pending write.
    pub writes: Arc<WriteWatch>,
}

/// When a feed cuts a reader as stalled.
#[derive(Clone, Copy, Debug)]
pub struct StallRule {
    /// How far a reader may lag.
    pub lag_bound: u64,
    /// How long a write may stay pending while the reader lags beyond the bound.
    pub write_timeout: Duration,
}

/// True when a reader `lag` entries behind, whose socket's writer is watched by `writes`, stopped
/// reading at `now`.
pub fn is_stalled(rule: StallRule, lag: u64, writes: &WriteWatch, now: Instant) -> bool {
    lag > rule.lag_bound && writes.stuck_for(now).is_some_and(|stuck| stuck >= rule.write_timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: StallRule = StallRule { lag_bound: 10, write_timeout: Duration::from_secs(1) };

    #[test]
    fn a_reader_far_behind_is_not_stalled_while_its_writer_is_not_stuck_in_a_write() {
        let writes = WriteWatch::default();
        let now = Instant::now();
        assert!(!is_stalled(RULE, 10_000, &writes, now), "no write pending: waiting for the CPU or its pacing");
        writes.begin();
        writes.end();
        assert!(!is_stalled(RULE, 10_000, &writes, now + Duration::from_secs(60)), "the write ended");
    }

    #[test]
    fn a_reader_behind_whose_write_is_stuck_for_the_timeout_is_stalled() {
        let writes = WriteWatch::default();
        writes.begin();
        let start = Instant::now();
        assert!(!is_stalled(RULE, 11, &writes, start), "stuck for less than the timeout");
        assert!(is_stalled(RULE, 11, &writes, start + Duration::from_millis(1100)));
        assert!(!is_stalled(RULE, 10, &writes, start + Duration::from_secs(60)), "within the lag bound");
    }

    #[test]
    fn the_watch_measures_the_pending_write_only() {
        let writes = WriteWatch::default();
        assert_eq!(writes.stuck_for(Instant::now()), None);
        writes.begin();
        let stuck = writes.stuck_for(Instant::now() + Duration::from_secs(2)).expect("a write is pending");
        assert!(stuck >= Duration::from_millis(1990) && stuck <= Duration::from_millis(2010), "{stuck:?}");
        writes.end();
        assert_eq!(writes.stuck_for(Instant::now()), None);
    }
}
