//! HDR latency histogram shared by many client tasks (microsecond resolution, 3 significant digits).

use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Latencies recorded concurrently; read as milliseconds at a quantile.
pub struct Latency {
    histogram: Mutex<Histogram<u64>>,
}

/// Longest latency the histogram tracks exactly (longer ones are clamped): one hour.
const HIGHEST_MICROS: u64 = 3_600_000_000;

impl Default for Latency {
    fn default() -> Self {
        Latency::new()
    }
}

impl Latency {
    /// An empty histogram.
    pub fn new() -> Latency {
        // Constant, valid bounds (1 <= low, high >= 2 * low, 3 significant digits): cannot fail.
        let histogram = Histogram::new_with_bounds(1, HIGHEST_MICROS, 3).expect("constant histogram bounds are valid");
        Latency { histogram: Mutex::new(histogram) }
    }

    /// Records one latency.
    pub fn record(&self, latency: Duration) {
        self.record_micros(latency.as_micros() as u64);
    }

    /// Records one latency given in microseconds.
    pub fn record_micros(&self, micros: u64) {
        let mut h = self.histogram.lock().unwrap_or_else(|p| p.into_inner());
        h.saturating_record(micros.clamp(1, HIGHEST_MICROS));
    }

    /// The latency at quantile `q` (0..=1) in milliseconds; `None` when nothing was recorded.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let h = self.histogram.lock().unwrap_or_else(|p| p.into_inner());
        if h.is_empty() {
            return None;
        }
        Some(h.value_at_quantile(q) as f64 / 1000.0)
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
}
