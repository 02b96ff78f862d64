//! One socket's bounded outbound queue: many senders (the fan-outs that address the socket), one
//! receiver (its writer task), which takes everything queued in one go.
//!
//! A fan-out pays one uncontended lock and a push per recipient, and wakes the writer only when it
//! is waiting; the writer takes a whole batch under one lock. (A general-purpose channel pays a
//! permit, a slot claim and a wake-up check on every send, and a pop per frame on the other side.)

use std::collections::VecDeque;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

/// A drained queue keeps at most this much room; more is given back to the allocator, so an idle
/// socket holds no memory for the burst it once had.
pub(crate) const KEEP_CAPACITY: usize = 16;

/// Why an item was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum PushError<T> {
    /// The queue holds its bound already.
    Full(T),
    /// The receiver is gone.
    Closed(T),
}

struct State<T> {
    items: VecDeque<T>,
    /// The receiver's waker, while it waits for an item.
    waiting: Option<Waker>,
    senders: usize,
    receiver_gone: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    bound: usize,
}

/// Sending end; cloneable.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// Receiving end.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

/// A queue holding at most `bound` items (at least one).
pub fn bounded<T>(bound: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            waiting: None,
            senders: 1,
            receiver_gone: false,
        }),
        bound: bound.max(1),
    });
    (Sender { shared: shared.clone() }, Receiver { shared })
}

impl<T> Sender<T> {
    /// Queues `item` unless the queue is full or the receiver is gone.
    pub fn try_send(&self, item: T) -> Result<(), PushError<T>> {
        let waiting = {
            let mut state = self.shared.state.lock();
            if state.receiver_gone {
                return Err(PushError::Closed(item));
            }
            if state.items.len() >= self.shared.bound {
                return Err(PushError::Full(item));
            }
            state.items.push_back(item);
            state.waiting.take()
        };
        if let Some(waker) = waiting {
            waker.wake();
        }
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.state.lock().senders += 1;
        Sender { shared: self.shared.clone() }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waiting = {
            let mut state = self.shared.state.lock();
            state.senders -= 1;
            if state.senders > 0 {
                return;
            }
            state.waiting.take()
        };
        if let Some(waker) = waiting {
            waker.wake();
        }
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").field("bound", &self.shared.bound).finish_non_exhaustive()
    }
}

impl<T> Receiver<T> {
    /// Ready with `true` when something is queued, with `false` once every sender is gone and the
    /// queue is empty; otherwise the task is woken by the next send.
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        let mut state = self.shared.state.lock();
        if !state.items.is_empty() {
            return Poll::Ready(true);
        }
        if state.senders == 0 {
            return Poll::Ready(false);
        }
        match &mut state.waiting {
            Some(waker) => waker.clone_from(cx.waker()),
            None => state.waiting = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Waits until something is queued and takes up to `max` items, oldest first; `None` once every
    /// sender is gone and the queue is empty.
    #[cfg(test)]
    pub async fn recv_many(&mut self, max: usize) -> Option<Vec<T>> {
        match std::future::poll_fn(|cx| self.poll_ready(cx)).await {
            true => Some(self.take_now(max)),
            false => None,
        }
    }

    /// Takes up to `max` items without waiting (none when the queue is empty).
    pub fn take_now(&mut self, max: usize) -> Vec<T> {
        take(&mut self.shared.state.lock().items, max)
    }

    /// Takes the oldest item, if any, without waiting.
    #[cfg(test)]
    pub fn try_recv(&mut self) -> Option<T> {
        let mut state = self.shared.state.lock();
        let item = state.items.pop_front();
        release_room(&mut state.items);
        item
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.shared.state.lock().items.is_empty()
    }
}

impl<T> Receiver<T> {
    /// Refuses every later send (`Closed`) and hands back what is queued, in order.
    pub fn close(&mut self) -> VecDeque<T> {
        let mut state = self.shared.state.lock();
        state.receiver_gone = true;
        std::mem::take(&mut state.items)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        drop(self.close()); // the items are dropped outside the lock
    }
}

fn take<T>(items: &mut VecDeque<T>, max: usize) -> Vec<T> {
    let count = items.len().min(max);
    let taken = items.drain(..count).collect();
    release_room(items);
    taken
}

fn release_room<T>(items: &mut VecDeque<T>) {
    if items.is_empty() && items.capacity() > KEEP_CAPACITY {
        *items = VecDeque::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn items_come_out_in_order_in_batches_of_at_most_max() {
        let (tx, mut rx) = bounded(10);
        for n in 0..5 {
            tx.try_send(n).unwrap();
        }
        assert_eq!(rx.recv_many(3).await, Some(vec![0, 1, 2]));
        assert_eq!(rx.take_now(8), vec![3, 4]);
        assert!(rx.is_empty());
        assert_eq!(rx.take_now(8), Vec::<i32>::new());
    }

    #[test]
    fn a_full_queue_refuses_and_hands_the_item_back() {
        let (tx, mut rx) = bounded(2);
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        assert_eq!(tx.try_send(3), Err(PushError::Full(3)));
        assert_eq!(rx.try_recv(), Some(1));
        tx.try_send(3).unwrap();
    }

    #[test]
    fn sends_after_the_receiver_is_gone_are_refused() {
        let (tx, rx) = bounded(2);
        drop(rx);
        assert_eq!(tx.try_send(1), Err(PushError::Closed(1)));
    }

    #[tokio::test]
    async fn a_waiting_receiver_is_woken_by_a_send_from_another_task() {
        let (tx, mut rx) = bounded(4);
        let sender = tokio::spawn(async move {
            tokio::task::yield_now().await;
            tx.try_send("hello").unwrap();
        });
        assert_eq!(rx.recv_many(4).await, Some(vec!["hello"]));
        sender.await.unwrap();
    }

    #[tokio::test]
    async fn the_receiver_sees_the_end_once_every_sender_is_gone_and_the_queue_is_drained() {
        let (tx, mut rx) = bounded(4);
        let second = tx.clone();
        tx.try_send(1).unwrap();
        drop(tx);
        let waiter = tokio::spawn(async move {
            let first = rx.recv_many(4).await;
            let end = rx.recv_many(4).await;
            (first, end)
        });
        tokio::task::yield_now().await;
        drop(second);
        assert_eq!(waiter.await.unwrap(), (Some(vec![1]), None));
    }

    #[test]
    fn a_drained_queue_gives_its_burst_room_back() {
        let (tx, mut rx) = bounded(1000);
        for n in 0..500 {
            tx.try_send(n).unwrap();
        }
        assert_eq!(rx.take_now(1000).len(), 500);
        assert!(rx.shared.state.lock().items.capacity() <= KEEP_CAPACITY);
    }
}
