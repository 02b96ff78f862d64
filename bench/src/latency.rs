//! Latency histogram shared by many client tasks: microsecond resolution, log-linear buckets
//! (exact below 1024 µs, then 512 buckets per power of two: within 0.2%, as an HDR histogram with
//! 3 significant digits), each bucket an atomic counter.
//!
//! S1 records one latency per presence entry delivered: 12.5M at N=5000. A histogram behind a mutex
//! cost ~12% of the load generator's core there; recording here is one relaxed atomic add.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Values below this are counted exactly; above, each power of two holds `LINEAR / 2` buckets.
const LINEAR: u64 = 1024;
/// Bits of a value kept by its bucket.
const SUB_BITS: u32 = LINEAR.trailing_zeros();
/// Buckets for every `u64`.
const BUCKETS: usize = bucket_of(u64::MAX) + 1;

/// Latencies recorded concurrently; read as milliseconds at a quantile.
pub struct Latency {
    counts: Box<[AtomicU64]>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency::new()
    }
}

/// Index of the bucket counting `value`.
const fn bucket_of(value: u64) -> usize {
    if value < LINEAR {
        return value as usize;
    }
    // `value` has `exponent + 1` significant bits; its bucket keeps the top `SUB_BITS` of them.
    let exponent = 63 - value.leading_zeros();
    let shift = exponent + 1 - SUB_BITS;
    (shift as u64 * (LINEAR / 2) + (value >> shift)) as usize
}

/// The highest value counted by bucket `index`.
fn highest_in(index: usize) -> u64 {
    let index = index as u64;
    if index < LINEAR {
        return index;
    }
    let shift = index / (LINEAR / 2) - 1;
    let mantissa = index - shift * (LINEAR / 2);
    ((mantissa + 1) << shift).wrapping_sub(1)
}

impl Latency {
    /// An empty histogram.
    pub fn new() -> Latency {
        Latency { counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect() }
    }

    /// Records one latency.
    pub fn record(&self, latency: Duration) {
        self.record_micros(latency.as_micros().min(u64::MAX as u128) as u64);
    }

    /// Records one latency given in microseconds (below the resolution, 0 counts as 1 µs).
    pub fn record_micros(&self, micros: u64) {
        self.counts[bucket_of(micros.max(1))].fetch_add(1, Ordering::Relaxed);
    }

    /// The latency at quantile `q` (0..=1) in milliseconds; `None` when nothing was recorded.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let counts: Vec<u64> = self.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        let index = counts.iter().position(|&count| {
            seen += count;
            seen >= rank
        })?;
        Some(highest_in(index) as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_follow_the_recorded_values() {
        let l = Latency::new();
        assert_eq!(l.quantile_ms(0.99), None);
        for ms in 1..=100u64 {
            l.record(Duration::from_millis(ms));
        }
        let p50 = l.quantile_ms(0.5).unwrap();
        let p99 = l.quantile_ms(0.99).unwrap();
        assert!((49.0..=51.0).contains(&p50), "{p50}");
        assert!((98.0..=100.5).contains(&p99), "{p99}");
    }

    #[test]
    fn small_values_are_exact_and_large_ones_within_two_per_mille() {
        for value in (0..5000).chain([65_535, 1_000_000, 3_600_000_000, u64::MAX / 3, u64::MAX]) {
            let index = bucket_of(value);
            let high = highest_in(index);
            assert!(high >= value, "{value} -> bucket {index} up to {high}");
            if value < LINEAR {
                assert_eq!(high, value);
            } else {
                assert!((high - value) as f64 <= value as f64 * 0.002, "{value} -> {high}");
            }
            assert!(index == 0 || highest_in(index - 1) < value, "{value} belongs to bucket {index}");
            assert!(index < BUCKETS);
        }
    }

    #[test]
    fn the_top_quantile_is_the_largest_value() {
        let l = Latency::new();
        l.record_micros(7);
        l.record_micros(2_000_000);
        assert_eq!(l.quantile_ms(1.0), Some(highest_in(bucket_of(2_000_000)) as f64 / 1000.0));
        assert_eq!(l.quantile_ms(0.5), Some(0.007));
        l.record_micros(0);
        assert_eq!(l.quantile_ms(0.0), Some(0.001), "the resolution is 1 µs");
    }
}
