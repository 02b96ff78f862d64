//! What a resuming participant missed, from the count of notifications its client says it got.
//!
//! A participant's notifications are two interleaved streams: the session's broadcasts from the one
//! after it joined (numbered in the session's ring), and what was sent to it alone (numbered in its
//! own ring, each stamped with the number the session's next broadcast would get). The client
//! numbers the merged stream 1, 2, ...; [`missed`] maps that count back onto the two rings.

use crate::replay::Replay;
use crate::rpc::Frame;

/// A notification sent to one participant alone.
#[derive(Clone, Debug)]
pub struct Private {
    /// Number of the session's next broadcast when this was sent: it follows every broadcast
    /// numbered below and precedes the others.
    pub stamp: u64,
    /// The notification.
    pub frame: Frame,
}

/// What a resume replays.
#[derive(Debug, Default)]
pub struct Missed {
    /// The notifications numbered after the client's count that are still kept, in order.
    pub frames: Vec<Frame>,
    /// Some notifications after the count are no longer kept (`frames` holds all kept ones).
    pub gap: bool,
    /// Number of the participant's last notification.
    pub last: u64,
}

/// The participant's notifications numbered after `received`. It gets the broadcasts numbered
/// `from` and after, and those in `private`.
pub fn missed(received: u64, from: u64, broadcasts: &Replay<Frame>, private: &Replay<Private>) -> Missed {
    // How many of the participant's broadcasts are numbered below `number`.
    let broadcasts_before = |number: u64| number.saturating_sub(from);
    let last = broadcasts_before(broadcasts.last_seq() + 1) + private.last_seq();
    if received >= last {
        return Missed { frames: Vec::new(), gap: false, last };
    }
    // A broadcast's number in the merged stream counts the private notifications before it; below
    // the newest dropped private one, that count is unknown: those broadcasts count as not kept.
    let dropped_stamp = private.last_dropped().map_or(0, |p| p.stamp);
    let mut broadcast_list = broadcasts.kept_from(from.max(dropped_stamp)).peekable();
    let mut private_list = private.kept_from(0).peekable();
    let mut privates_so_far = private.first_seq() - 1;
    let mut frames = Vec::new();
    let mut first_replayed = None;
    loop {
        let private_first = match (private_list.peek(), broadcast_list.peek()) {
            (Some((_, p)), Some(&(seq, _))) => p.stamp <= seq,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if private_first {
            private_list.next().map(|(index, p)| {
                privates_so_far = index;
                (broadcasts_before(p.stamp) + index, &p.frame)
            })
        } else {
            broadcast_list
                .next()
                .map(|(seq, frame)| (broadcasts_before(seq) + 1 + privates_so_far, frame))
        };
        let Some((number, frame)) = next else { break };
        if number > received {
            first_replayed.get_or_insert(number);
            frames.push(frame.clone());
        }
    }
    let gap = first_replayed != Some(received + 1);
    Missed { frames, gap, last }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn strings(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| t.to_string()).collect()
    }

    /// A session's broadcasts and one participant's private ring, built event by event.
    struct Story {
        broadcasts: Replay<Frame>,
        private: Replay<Private>,
        from: u64,
    }

    impl Story {
        /// `earlier` broadcasts happened before the participant joined.
        fn new(earlier: &[&'static str], limit: usize) -> Story {
            let mut story = Story {
                broadcasts: Replay::new(limit, Duration::from_secs(60)),
                private: Replay::new(limit, Duration::from_secs(60)),
                from: 0,
            };
            for text in earlier {
                story.broadcast(text);
            }
            story.from = story.broadcasts.last_seq() + 1;
            story
        }

        fn broadcast(&mut self, text: &'static str) {
            self.broadcasts.record_at(Frame::from(text), Instant::now());
        }

        fn private(&mut self, text: &'static str) {
            let stamp = self.broadcasts.last_seq() + 1;
            self.private.record_at(Private { stamp, frame: Frame::from(text) }, Instant::now());
        }

        /// The replayed texts, the gap flag and the last number.
        fn missed(&self, received: u64) -> (Vec<String>, bool, u64) {
            let m = missed(received, self.from, &self.broadcasts, &self.private);
            (m.frames.iter().map(|f| f.as_str().to_owned()).collect(), m.gap, m.last)
        }
    }

    #[test]
    fn the_count_is_of_the_merged_stream_in_the_order_it_was_sent() {
        let mut story = Story::new(&["before-1", "before-2"], 100);
        story.broadcast("b1");
        story.private("p1");
        story.private("p2");
        story.broadcast("b2");
        story.private("p3");
        story.broadcast("b3");
        let all = ["b1", "p1", "p2", "b2", "p3", "b3"];
        for received in 0..=6u64 {
            let (frames, gap, last) = story.missed(received);
            assert_eq!(frames, all[received as usize..], "after {received}");
            assert_eq!((gap, last), (false, 6));
        }
        assert_eq!(story.missed(9), (vec![], false, 6), "a count beyond what was sent replays nothing");
    }

    #[test]
    fn broadcasts_before_the_join_are_not_the_participants() {
        let mut story = Story::new(&["before"], 100);
        story.private("p1");
        story.broadcast("b1");
        assert_eq!(story.missed(0), (strings(&["p1", "b1"]), false, 2));
    }

    #[test]
    fn broadcasts_the_session_ring_dropped_are_a_gap_and_the_rest_replays() {
        let mut story = Story::new(&[], 2);
        story.broadcast("b1");
        story.private("p1");
        story.broadcast("b2");
        story.broadcast("b3");
        // b1 is gone: the client that got nothing misses b1 (gone), then p1, b2, b3.
        assert_eq!(story.missed(0), (strings(&["p1", "b2", "b3"]), true, 4));
        assert_eq!(story.missed(1), (strings(&["p1", "b2", "b3"]), false, 4), "b1 was received: no gap");
        assert_eq!(story.missed(2), (strings(&["b2", "b3"]), false, 4));
    }

    #[test]
    fn broadcasts_older_than_a_dropped_private_notification_cannot_be_numbered() {
        let mut story = Story::new(&[], 2);
        story.private("p1");
        story.broadcast("b1");
        story.private("p2");
        story.private("p3"); // drops p1 from the private ring
        story.broadcast("b2");
        // p1 is gone; b1 came after it, so b1's number (2) is still known.
        assert_eq!(story.missed(1), (strings(&["b1", "p2", "p3", "b2"]), false, 5));
        assert_eq!(story.missed(0), (strings(&["b1", "p2", "p3", "b2"]), true, 5), "p1 is gone");

        let mut story = Story::new(&[], 2);
        story.broadcast("b1");
        story.private("p1");
        story.private("p2");
        story.private("p3"); // drops p1, sent after b1
        // How many private notifications came before b1 is no longer known: b1 counts as gone.
        assert_eq!(story.missed(0), (strings(&["p2", "p3"]), true, 4));
        assert_eq!(story.missed(2), (strings(&["p2", "p3"]), false, 4));
    }

    #[test]
    fn nothing_kept_after_the_count_is_a_gap_with_nothing_to_replay() {
        let mut story = Story::new(&[], 1);
        story.broadcast("b1");
        story.broadcast("b2");
        story.broadcast("b3");
        assert_eq!(story.missed(0), (strings(&["b3"]), true, 3));
        assert_eq!(story.missed(2), (strings(&["b3"]), false, 3));
        let empty = Story::new(&[], 0);
        assert_eq!(empty.missed(0), (vec![], false, 0));
    }
}
