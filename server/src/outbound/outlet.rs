//! What a socket's writer sends next: the socket's own queue merged with the session feed it
//! follows, in the order the server produced them.
//!
//! Every queued item carries a *stamp*: the number the feed's next entry had when the item was
//! queued. The item goes out after the feed's entries numbered below its stamp and before the
//! others; under the session's lock (joins, leaves, signals) that is exactly the order of events.

use std::collections::{vec_deque, VecDeque};
use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;

use super::feed::{Feed, Reader};
use super::queue::KEEP_CAPACITY;
use super::queue;
use super::Outbound;
use crate::rpc::Frame;

/// An item of the socket's queue, stamped.
#[derive(Debug)]
pub(crate) struct Queued {
    pub(crate) stamp: u64,
    pub(crate) item: Item,
}

/// What the socket's queue carries.
#[derive(Debug)]
pub(crate) enum Item {
    /// Something to send.
    Out(Outbound),
    /// Start following this feed from the reader's position (stop following the previous one).
    Follow(Arc<Feed>, Arc<Reader>),
    /// Stop following the feed.
    Unfollow,
}

/// Where [`Outlet::take_into`] puts what it takes, in order.
pub trait Take {
    /// Broadcasts of the followed feed, lent while the feed is locked.
    fn broadcasts(&mut self, frames: vec_deque::Iter<'_, Frame>);
    /// An item of the socket's own queue.
    fn own(&mut self, item: Outbound);
}

impl Take for Vec<Outbound> {
    fn broadcasts(&mut self, frames: vec_deque::Iter<'_, Frame>) {
        self.extend(frames.cloned().map(Outbound::Text));
    }

    fn own(&mut self, item: Outbound) {
        self.push(item);
    }
}

/// The receiving end of a socket's outbound path.
///
/// Dropping it (the writer stopped) leaves the feed's reader where it was: the broadcasts it never
/// took stay kept until the socket is detached, and become the resume backlog. Readers the writer
/// was still to stop following (their participant left) are stopped at once.
pub struct Outlet {
    rx: queue::Receiver<Queued>,
    /// Items taken from the queue and not handled yet, oldest first.
    staged: VecDeque<Queued>,
    following: Option<(Arc<Feed>, Arc<Reader>)>,
}

impl Outlet {
    pub(super) fn new(rx: queue::Receiver<Queued>) -> Outlet {
        Outlet { rx, staged: VecDeque::new(), following: None }
    }

    /// Takes up to `max` items to send, in order, without waiting, into `out`; returns how many.
    pub fn take_into(&mut self, max: usize, out: &mut impl Take) -> usize {
        let mut taken = 0;
        while taken < max {
            // Read before looking at the queue: an item queued after this look is stamped above
            // `upto`, so the entries up to `upto` may go before it.
            let upto = self.following.as_ref().map(|(feed, _)| feed.last_seq());
            if self.staged.is_empty() {
                self.staged.extend(self.rx.take_now(max - taken));
            }
            if let (Some((feed, reader)), Some(upto)) = (&self.following, upto) {
                let before = self.staged.front().map_or(upto + 1, |queued| queued.stamp.min(upto + 1));
                let broadcasts = feed.take(reader, before, max - taken, |frames| out.broadcasts(frames));
                if broadcasts > 0 {
                    taken += broadcasts;
                    continue;
                }
            }
            let Some(queued) = self.staged.pop_front() else {
                // An idle socket keeps no room for the burst it once had.
                if self.staged.capacity() > KEEP_CAPACITY {
                    self.staged = VecDeque::new();
                }
                break;
            };
            match queued.item {
                Item::Out(item) => {
                    out.own(item);
                    taken += 1;
                }
                Item::Follow(feed, reader) => self.follow(feed, reader),
                Item::Unfollow => self.stop_following(),
            }
        }
        taken
    }

    /// Takes up to `max` items to send, in order, without waiting (none when there is nothing).
    pub fn take_now(&mut self, max: usize) -> Vec<Outbound> {
        let mut out = Vec::new();
        self.take_into(max, &mut out);
        out
    }

    /// Takes the next item to send, if any, without waiting.
    pub fn try_recv(&mut self) -> Option<Outbound> {
        self.take_now(1).pop()
    }

    /// Waits until there is something to take; `false` once every sender is gone.
    pub async fn ready(&mut self) -> bool {
        poll_fn(|cx| {
            if !self.staged.is_empty() {
                return Poll::Ready(true);
            }
            if let Poll::Ready(open) = self.rx.poll_ready(cx) {
                return Poll::Ready(open);
            }
            match &self.following {
                Some((feed, reader)) if feed.ready_or_wake(reader, cx.waker()) => Poll::Ready(true),
                _ => Poll::Pending,
            }
        })
        .await
    }

    /// Waits until the socket's own queue holds something (an answer, a frame for this socket
    /// alone, a follow change) or every sender is gone; broadcasts alone do not end the wait.
    pub async fn queued(&mut self) {
        poll_fn(|cx| {
            if !self.staged.is_empty() || self.rx.poll_ready(cx).is_ready() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }

    /// True when nothing is left to take.
    pub fn is_empty(&self) -> bool {
        self.staged.is_empty()
            && self.rx.is_empty()
            && self.following.as_ref().map_or(true, |(feed, reader)| !feed.has_unread(reader))
    }

    fn follow(&mut self, feed: Arc<Feed>, reader: Arc<Reader>) {
        self.stop_following();
        self.following = Some((feed, reader));
    }

    fn stop_following(&mut self) {
        if let Some((_, reader)) = self.following.take() {
            reader.stop();
        }
    }
}

impl Drop for Outlet {
    fn drop(&mut self) {
        // Follows and unfollows still queued are played as the writer would have played them: a
        // reader unfollowed (its participant left) or followed past gets no detach, and stopped,
        // it holds nothing in the feed. The one followed last stays: its participant is attached,
        // and the socket's detach takes its backlog. Closed first, so an unfollow sent from now on
        // is refused, and its sender stops the reader itself.
        let queued = self.rx.close();
        let staged = std::mem::take(&mut self.staged);
        for queued in staged.into_iter().chain(queued) {
            match queued.item {
                Item::Follow(feed, reader) => self.follow(feed, reader),
                Item::Unfollow => self.stop_following(),
                Item::Out(_) => {}
            }
        }
    }
}

impl std::fmt::Debug for Outlet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outlet").field("following", &self.following.is_some()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Outbound, SocketLink};
    use super::*;
    use crate::rpc::Frame;

    fn texts(items: Vec<Outbound>) -> Vec<String> {
        items
            .into_iter()
            .map(|item| match item {
                Outbound::Text(frame) => frame.as_str().to_string(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    /// A feed, and a socket whose writer follows it from its first entry.
    fn following_a_new_feed() -> (Arc<Feed>, SocketLink, Outlet) {
        let feed = Feed::new(100, std::time::Duration::from_secs(1));
        let (link, outlet, _kill) = SocketLink::new(100);
        link.follow(feed.clone(), feed.reader(1, "c".into(), link.cut_handle()));
        (feed, link, outlet)
    }

    #[test]
    fn queued_frames_go_out_between_the_broadcasts_appended_before_and_after_them() {
        let feed = Feed::new(100, std::time::Duration::from_secs(1));
        let (link, mut outlet, _kill) = SocketLink::new(100);
        link.send(Frame::from("response"));
        link.follow(feed.clone(), feed.reader(1, "c".into(), link.cut_handle()));
        feed.append(Frame::from("broadcast 1"));
        link.send(Frame::from("private"));
        feed.append(Frame::from("broadcast 2"));
        feed.append(Frame::from("broadcast 3"));
        link.send(Frame::from("reply"));
        assert_eq!(
            texts(outlet.take_now(100)),
            ["response", "broadcast 1", "private", "broadcast 2", "broadcast 3", "reply"]
        );
        assert!(outlet.is_empty());
    }

    #[test]
    fn after_unfollow_later_broadcasts_are_not_sent() {
        let (feed, link, mut outlet) = following_a_new_feed();
        feed.append(Frame::from("before"));
        assert!(link.unfollow());
        feed.append(Frame::from("after"));
        link.send(Frame::from("evicted"));
        assert_eq!(texts(outlet.take_now(100)), ["before", "evicted"]);
        assert!(outlet.is_empty());
    }

    #[test]
    fn batches_stop_at_max_and_resume_where_they_stopped() {
        let (feed, link, mut outlet) = following_a_new_feed();
        for n in 0..5 {
            feed.append(Frame::from(format!("b{n}")));
            link.send(Frame::from(format!("p{n}")));
        }
        assert_eq!(texts(outlet.take_now(4)), ["b0", "p0", "b1", "p1"]);
        assert_eq!(texts(outlet.take_now(100)), ["b2", "p2", "b3", "p3", "b4", "p4"]);
    }

    #[test]
    fn a_writer_gone_before_it_took_the_unfollow_stops_its_reader_and_one_gone_before_that_does_not() {
        let feed = Feed::new(100, std::time::Duration::from_secs(1));
        let (link, mut outlet, _kill) = SocketLink::new(100);
        let reader = feed.reader(1, "c".into(), link.cut_handle());
        link.follow(feed.clone(), reader.clone());
        feed.append(Frame::from("a"));
        assert_eq!(texts(outlet.take_now(10)), ["a"]);
        drop(outlet);
        assert!(reader.is_active(), "still attached: what it never takes becomes the resume backlog");

        let (link, mut outlet, _kill) = SocketLink::new(100);
        let reader = feed.reader(feed.last_seq() + 1, "c".into(), link.cut_handle());
        link.follow(feed.clone(), reader.clone());
        feed.append(Frame::from("b"));
        assert_eq!(texts(outlet.take_now(10)), ["b"]);
        assert!(link.unfollow(), "the participant left");
        drop(outlet);
        assert!(!reader.is_active(), "nobody will take what the feed would keep for it");

        let (link, outlet, _kill) = SocketLink::new(100);
        drop(outlet);
        assert!(!link.unfollow(), "an unfollow after the writer is gone is refused (its sender stops the reader)");
    }

    #[tokio::test]
    async fn the_writer_waiting_for_work_is_woken_by_a_broadcast() {
        let (feed, link, mut outlet) = following_a_new_feed();
        assert!(outlet.take_now(10).is_empty(), "the follow itself sends nothing");
        let appender = {
            let feed = feed.clone();
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                feed.append(Frame::from("hello"));
            })
        };
        assert!(outlet.ready().await);
        assert_eq!(texts(outlet.take_now(10)), ["hello"]);
        appender.await.unwrap();
        drop(link);
        assert!(!outlet.ready().await, "every sender gone");
    }
}
