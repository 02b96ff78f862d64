//! One process-wide epoch so timestamps fit in an atomic u64 (microseconds since the epoch).

use std::sync::OnceLock;
use std::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Microseconds from the process epoch to `at` (0 for instants before it).
pub fn micros(at: Instant) -> u64 {
    let epoch = *EPOCH.get_or_init(Instant::now);
    at.saturating_duration_since(epoch).as_micros() as u64
}
