//! The replay ring of one participant: its recent notifications, numbered 1, 2, ... (the numbers
//! survive resumes), kept so that a resuming client that says how many it received gets exactly the
//! ones it missed.
//!
//! Memory matters here: every joined connection has a ring, and in a join burst each one fills with
//! its session's `participantJoined` notifications. A ring entry is therefore just the shared frame
//! (the bytes themselves are encoded once per session and shared). Ages are tracked coarsely, by
//! *marks*: one (first number, time) pair per [`MARK_SPAN`] of activity, not one timestamp per entry.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::rpc::Frame;

/// Entries recorded within this span of a mark share its timestamp; an entry may outlive the age
/// bound by up to this much.
pub const MARK_SPAN: Duration = Duration::from_secs(1);

/// Recent notifications of one participant, bounded by count and by age.
#[derive(Debug)]
pub struct Replay {
    /// Number of the last notification recorded (0 = none yet).
    last_seq: u64,
    /// The most recent notifications, oldest first; the last one has number `last_seq`.
    entries: VecDeque<Frame>,
    /// `(number of the first entry recorded at or after `at`, at)`, oldest first.
    marks: VecDeque<(u64, Instant)>,
    /// Count bound (0 = keep nothing).
    limit: usize,
    /// Age bound.
    max_age: Duration,
}

impl Replay {
    /// An empty ring holding at most `limit` notifications, none older than `max_age`.
    pub fn new(limit: usize, max_age: Duration) -> Replay {
        Replay { last_seq: 0, entries: VecDeque::new(), marks: VecDeque::new(), limit, max_age }
    }

    /// Number of the last notification recorded (0 = none yet).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Records the next notification, sent at `now` (a fan-out reads the clock once for all).
    pub fn record_at(&mut self, frame: &Frame, now: Instant) {
        self.last_seq += 1;
        if self.limit == 0 {
            return;
        }
        if self.entries.len() >= self.limit {
            self.entries.pop_front();
            self.forget_stale_marks();
        }
        self.entries.push_back(frame.clone());
        if self.marks.back().map_or(true, |&(_, at)| now.saturating_duration_since(at) >= MARK_SPAN) {
            self.marks.push_back((self.last_seq, now));
        }
    }

    /// Changes the age bound and drops what is older.
    pub fn set_max_age(&mut self, max_age: Duration) {
        self.max_age = max_age;
        self.prune();
    }

    /// Drops the notifications older than the age bound.
    pub fn prune(&mut self) {
        self.prune_at(Instant::now());
    }

    fn prune_at(&mut self, now: Instant) {
        // Every entry of a mark was recorded before `at + MARK_SPAN`.
        let expired = |at: Instant| now.saturating_duration_since(at) >= self.max_age + MARK_SPAN;
        while let Some(&(_, at)) = self.marks.front() {
            if !expired(at) {
                break;
            }
            self.marks.pop_front();
            let keep_from = self.marks.front().map_or(self.last_seq + 1, |&(seq, _)| seq);
            while self.first_seq() < keep_from && self.entries.pop_front().is_some() {}
        }
        self.release_if_empty();
    }

    /// Forgets everything kept (the participant ended).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.release_if_empty();
    }

    /// Number of the oldest kept notification (`last_seq + 1` when none is kept).
    pub fn first_seq(&self) -> u64 {
        self.last_seq + 1 - self.entries.len() as u64
    }

    /// The notifications after number `received`, and whether some of them are no longer kept.
    /// Everything up to `received` is acknowledged and forgotten.
    pub fn after(&mut self, received: u64) -> (Vec<Frame>, bool) {
        self.prune();
        if received >= self.last_seq {
            return (Vec::new(), false);
        }
        let first = self.first_seq();
        let gap = received + 1 < first;
        let skip = if gap { 0 } else { (received + 1 - first) as usize };
        let missed = self.entries.iter().skip(skip).cloned().collect();
        self.entries.drain(..skip);
        self.forget_stale_marks();
        self.release_if_empty();
        (missed, gap)
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

    fn texts(frames: &[Frame]) -> Vec<&str> {
        frames.iter().map(|f| f.as_str()).collect()
    }

    fn record_all(replay: &mut Replay, texts: &[&'static str], at: Instant) {
        for text in texts {
            replay.record_at(&Frame::from(*text), at);
        }
    }

    #[test]
    fn replay_returns_what_follows_the_received_count_and_forgets_the_acknowledged() {
        let mut replay = Replay::new(10, Duration::from_secs(60));
        record_all(&mut replay, &["a", "b", "c", "d"], Instant::now());
        let (missed, gap) = replay.after(2);
        assert_eq!((texts(&missed), gap), (vec!["c", "d"], false));
        assert_eq!(replay.first_seq(), 3, "1 and 2 are acknowledged");
        let (missed, gap) = replay.after(4);
        assert_eq!((missed.len(), gap), (0, false));
        let (missed, _) = replay.after(9);
        assert!(missed.is_empty(), "a count beyond what was sent replays nothing");
    }

    #[test]
    fn replay_reports_a_gap_when_the_ring_lost_entries() {
        let mut replay = Replay::new(2, Duration::from_secs(60));
        record_all(&mut replay, &["a", "b", "c"], Instant::now());
        let (missed, gap) = replay.after(0);
        assert_eq!((texts(&missed), gap), (vec!["b", "c"], true));
    }

    #[test]
    fn a_ring_of_size_zero_only_counts() {
        let mut replay = Replay::new(0, Duration::from_secs(60));
        record_all(&mut replay, &["a", "b"], Instant::now());
        assert_eq!((replay.last_seq(), replay.first_seq()), (2, 3));
        assert_eq!(replay.after(0), (Vec::new(), true));
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
        assert_eq!(replay.marks.len(), 1);
        replay.prune_at(start + Duration::from_secs(13));
        assert_eq!((replay.first_seq(), replay.marks.len()), (6, 0), "everything expired");
        assert_eq!(replay.after(0), (Vec::new(), true), "what expired is a gap");
    }

    #[test]
    fn marks_follow_entries_dropped_by_count_or_acknowledgement() {
        let start = Instant::now();
        let mut replay = Replay::new(2, Duration::from_secs(60));
        record_all(&mut replay, &["a"], start);
        record_all(&mut replay, &["b"], start + Duration::from_secs(1));
        record_all(&mut replay, &["c"], start + Duration::from_secs(2));
        assert_eq!(replay.marks.iter().map(|m| m.0).collect::<Vec<_>>(), vec![2, 3], "a's mark went with a");
        let (missed, _) = replay.after(2);
        assert_eq!(texts(&missed), vec!["c"]);
        assert_eq!(replay.marks.iter().map(|m| m.0).collect::<Vec<_>>(), vec![3]);
        replay.clear();
        assert!(replay.marks.is_empty());
    }
}
