//! What the proxy observes: how many connections are open, and when upstreams closed dead ones.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Counts a live connection for as long as it exists.
pub(crate) struct CountedLink {
    count: Arc<AtomicUsize>,
}

impl CountedLink {
    /// Counts one more connection; the count drops again when this guard is dropped.
    pub(crate) fn new(count: Arc<AtomicUsize>) -> CountedLink {
        count.fetch_add(1, Ordering::SeqCst);
        CountedLink { count }
    }
}

impl Drop for CountedLink {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
    }
}

/// When the upstream closed its end of blackholed connections, shared by all connections of a proxy.
#[derive(Clone, Default)]
pub(crate) struct UpstreamClosures {
    times: Arc<Mutex<Vec<Instant>>>,
}

impl UpstreamClosures {
    pub(crate) fn record(&self, at: Instant) {
        // A poisoned lock only means another connection task panicked mid-push: keep recording.
        self.times.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(at);
    }

    /// Every recorded closure time, in recording order.
    pub(crate) fn snapshot(&self) -> Vec<Instant> {
        self.times.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}
