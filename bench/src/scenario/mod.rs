//! The scenarios of spec/benchmarks.md, one module each.

pub mod c_client;
pub mod c_library;
pub mod churn;
pub mod fanout;
pub mod idle;
pub mod join_storm;
pub mod native_cost;
pub mod resume;
pub mod socketio;
pub mod stream_player;

use std::time::Duration;

/// Waits until `done()` holds, checking every 10 ms, for at most `limit`; true when it held.
pub async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
