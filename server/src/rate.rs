//! Token bucket: a sustained rate with a small burst, owned by one connection (no shared lock).

use std::time::{Duration, Instant};

/// Allows `rate_per_second` events per second on average and up to `burst` at once.
#[derive(Debug)]
pub struct TokenBucket {
    rate_per_second: f64,
    capacity: f64,
    tokens: f64,
    refilled_at: Instant,
}

impl TokenBucket {
    /// A full bucket. A burst of 0 is treated as 1 (one event must always be possible).
    pub fn new(rate_per_second: u32, burst: u32, now: Instant) -> TokenBucket {
        let capacity = f64::from(burst.max(1));
        TokenBucket {
            rate_per_second: f64::from(rate_per_second),
            capacity,
            tokens: capacity,
            refilled_at: now,
        }
    }

    /// Takes one token if there is one; returns whether the event is allowed.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed: Duration = now.saturating_duration_since(self.refilled_at);
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.rate_per_second).min(self.capacity);
        self.refilled_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_burst_is_allowed_then_refused_until_time_refills_it() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, 3, start);
        assert!((0..3).all(|_| bucket.try_take(start)));
        assert!(!bucket.try_take(start));
        // 10/s: one token per 100 ms.
        assert!(!bucket.try_take(start + Duration::from_millis(50)));
        assert!(bucket.try_take(start + Duration::from_millis(150)));
        assert!(!bucket.try_take(start + Duration::from_millis(150)));
    }

    #[test]
    fn refill_never_exceeds_the_burst() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(100, 2, start);
        let later = start + Duration::from_secs(60);
        assert_eq!((0..5).filter(|_| bucket.try_take(later)).count(), 2);
    }

    #[test]
    fn a_zero_rate_allows_only_the_burst() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(0, 0, start);
        assert!(bucket.try_take(start));
        assert!(!bucket.try_take(start + Duration::from_secs(3600)));
    }
}
