//! A replay ring: recent notifications numbered 1, 2, ..., bounded by count and by age, kept so that
//! a resuming client that says how many it received gets exactly the ones it missed.
//!
//! A session keeps one ring of what it broadcast (every member got those), and each participant one
//! of what was sent to it alone ([`crate::resume`] merges the two). A broadcast is recorded once per
//! session, not once per member: a 5000-member join storm would otherwise write 12.5M ring entries.
//! Ages are tracked coarsely, by *marks*: one (first number, time) pair per [`MARK_SPAN`] of
//! activity, not one timestamp per entry.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::rpc::Frame;

/// Entries recorded within this span of a mark share its timestamp; an entry may outlive the age
/// bound by up to this much.
pub const MARK_SPAN: Duration = Duration::from_secs(1);

/// Recent notifications (or anything numbered with them), bounded by count and by age.
#[derive(Debug)]
pub struct Replay<T = Frame> {
    /// Number of the last notification recorded (0 = none yet).
    last_seq: u64,
    /// The most recent notifications, oldest first; the last one has number `last_seq`.
    entries: VecDeque<T>,
    /// `(number of the first entry recorded at or after `at`, at)`, oldest first.
    marks: VecDeque<(u64, Instant)>,
    /// Count bound (0 = keep nothing).
    limit: usize,
    /// Age bound.
    max_age: Duration,
    /// The newest entry dropped (by count or age), until [`Replay::clear`].
    last_dropped: Option<T>,
}

impl<T: Clone> Replay<T> {
    /// An empty ring holding at most `limit` notifications, none older than `max_age`.
    pub fn new(limit: usize, max_age: Duration) -> Replay<T> {
        Replay { last_seq: 0, entries: VecDeque::new(), marks: VecDeque::new(), limit, max_age, last_dropped: None }
    }

    /// Number of the last notification recorded (0 = none yet).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Records the next notification, sent at `now` (a fan-out reads the clock once for all).
    pub fn record_at(&mut self, entry: T, now: Instant) {
        self.last_seq += 1;
        if self.limit == 0 {
            return;
        }
        if self.entries.len() >= self.limit {
            self.drop_oldest();
            self.forget_stale_marks();
        }
        self.entries.push_back(entry);
        if self.marks.back().map_or(true, |&(_, at)| now.saturating_duration_since(at) >= MARK_SPAN) {
            self.marks.push_back((self.last_seq, now));
        }
    }

    /// The age bound.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// The kept entries numbered `from` and after, oldest first, with their numbers.
    pub fn kept_from(&self, from: u64) -> impl Iterator<Item = (u64, &T)> {
        let first = self.first_seq();
        let skip = from.saturating_sub(first) as usize;
        self.entries.iter().enumerate().skip(skip).map(move |(i, entry)| (first + i as u64, entry))
    }

    /// Changes the age bound and drops what is older.
    pub fn set_max_age(&mut self, max_age: Duration) {
        self.max_age = max_age;
        self.prune();
    }

    /// The newest entry dropped by the count or age bound (none since [`Replay::clear`]).
    pub fn last_dropped(&self) -> Option<&T> {
        self.last_dropped.as_ref()
    }

    /// Drops the notifications older than the age bound.
    pub fn prune(&mut self) {
        self.prune_at(Instant::now());
    }

    /// [`Replay::prune`] at `now`.
    pub fn prune_at(&mut self, now: Instant) {
        // Every entry of a mark was recorded before `at + MARK_SPAN`.
        let max_age = self.max_age;
        let expired = |at: Instant| now.saturating_duration_since(at) >= max_age + MARK_SPAN;
        while let Some(&(_, at)) = self.marks.front() {
            if !expired(at) {
                break;
            }
            self.marks.pop_front();
            let keep_from = self.marks.front().map_or(self.last_seq + 1, |&(seq, _)| seq);
            while self.first_seq() < keep_from && self.drop_oldest() {}
        }
        self.release_if_empty();
    }

    /// Forgets everything kept (the participant ended).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.last_dropped = None;
        self.release_if_empty();
    }

    fn drop_oldest(&mut self) -> bool {
        match self.entries.pop_front() {
            Some(entry) => {
                self.last_dropped = Some(entry);
                true
            }
            None => false,
        }
    }

    /// Number of the oldest kept notification (`last_seq + 1` when none is kept).
    pub fn first_seq(&self) -> u64 {
        self.last_seq + 1 - self.entries.len() as u64
    }

    /// Drops marks that no longer cover any kept entry (all of their entries were dropped).
    fn forget_stale_marks(&mut self) {
        let first = self.first_seq();
        while self.marks.len() >= 2 && self.marks[1].0 <= first {
            self.marks.pop_front();
        }
    }

    fn release_if_empty(&mut self) {
        if self.entries.is_empty() {
            self.marks.clear();
            if self.entries.capacity() > 16 {
                self.entries.shrink_to_fit();
            }
            self.marks.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(replay: &Replay, from: u64) -> Vec<(u64, &str)> {
        replay.kept_from(from).map(|(n, f)| (n, f.as_str())).collect()
    }

    fn record_all(replay: &mut Replay, texts: &[&'static str], at: Instant) {
        for text in texts {
            replay.record_at(Frame::from(*text), at);
        }
    }

    #[test]
    fn kept_entries_come_with_their_numbers_from_any_starting_number() {
        let mut replay = Replay::new(10, Duration::from_secs(60));
        record_all(&mut replay, &["a", "b", "c", "d"], Instant::now());
        assert_eq!(kept(&replay, 3), vec![(3, "c"), (4, "d")]);
        assert_eq!(kept(&replay, 0), kept(&replay, 1), "numbers start at 1");
        assert!(kept(&replay, 5).is_empty(), "nothing after the last");
        assert!(replay.last_dropped().is_none());
    }

    #[test]
    fn the_count_bound_drops_the_oldest_and_remembers_the_newest_dropped() {
        let mut replay = Replay::new(2, Duration::from_secs(60));
        record_all(&mut replay, &["a", "b", "c", "d"], Instant::now());
        assert_eq!((replay.first_seq(), replay.last_seq()), (3, 4));
        assert_eq!(kept(&replay, 1), vec![(3, "c"), (4, "d")]);
        assert_eq!(replay.last_dropped().map(|f| f.as_str()), Some("b"));
        replay.clear();
        assert!(replay.last_dropped().is_none(), "clear forgets everything");
    }

    #[test]
    fn a_ring_of_size_zero_only_counts() {
        let mut replay = Replay::new(0, Duration::from_secs(60));
        record_all(&mut replay, &["a", "b"], Instant::now());
        assert_eq!((replay.last_seq(), replay.first_seq()), (2, 3));
        assert!(kept(&replay, 1).is_empty());
    }

    #[test]
    fn entries_older_than_the_age_bound_are_forgotten_mark_by_mark() {
        let start = Instant::now();
        let mut replay = Replay::new(100, Duration::from_secs(10));
        record_all(&mut replay, &["a", "b"], start);
        record_all(&mut replay, &["c"], start + Duration::from_millis(500)); // same mark as a, b
        record_all(&mut replay, &["d", "e"], start + Duration::from_secs(2)); // a new mark
        assert_eq!(replay.marks.len(), 2);

        replay.prune_at(start + Duration::from_millis(10_500));
        assert_eq!(replay.first_seq(), 1, "within the age bound plus one mark span, all are kept");
        replay.prune_at(start + Duration::from_secs(11));
        assert_eq!(replay.first_seq(), 4, "a, b and c shared the first mark and expire together");
        assert_eq!(replay.last_dropped().map(|f| f.as_str()), Some("c"));
        assert_eq!(replay.marks.len(), 1);
        replay.prune_at(start + Duration::from_secs(13));
        assert_eq!((replay.first_seq(), replay.marks.len()), (6, 0), "everything expired");
        assert!(kept(&replay, 1).is_empty());
    }

    #[test]
    fn marks_follow_entries_dropped_by_count() {
        let start = Instant::now();
        let mut replay = Replay::new(2, Duration::from_secs(60));
        record_all(&mut replay, &["a"], start);
        record_all(&mut replay, &["b"], start + Duration::from_secs(1));
        record_all(&mut replay, &["c"], start + Duration::from_secs(2));
        assert_eq!(replay.marks.iter().map(|m| m.0).collect::<Vec<_>>(), vec![2, 3], "a's mark went with a");
        replay.clear();
        assert!(replay.marks.is_empty());
    }
}
