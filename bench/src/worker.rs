//! A load-generator worker process: holds a slice of the connections so no process needs more
//! than ~20k open files. Reads token lines on stdin (then an empty line), joins them all open-loop at a
//! fixed rate (with a bound on joins in flight), prints one JSON line with its join latencies, keeps the clients idle (pinging) until
//! stdin closes, then closes them.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Semaphore;

use crate::client::{self, ClientConfig, Observer};
use crate::clock;
use crate::wire::Inbound;

/// Most connections one worker process holds.
pub const CONNECTIONS_PER_WORKER: usize = 15_000;

/// Joins in flight per worker, at most: past it, dials wait (and their latency counts the wait).
const CONCURRENT_JOINS: usize = 4096;

/// What a worker reports once every client has joined (or failed).
#[derive(Serialize, Deserialize, Debug)]
pub struct WorkerReport {
    /// Clients that joined.
    pub joined: usize,
    /// Clients that failed before joining.
    pub failed: usize,
    /// The first failure, if any.
    pub first_error: Option<String>,
    /// Seconds from the first dial to the last join answer.
    pub elapsed_s: f64,
    /// Scheduled-dial-to-join-answer latency of each joined client, µs (a late dial counts its delay).
    pub latencies_us: Vec<u64>,
    /// CPU seconds this worker process used up to the report (its share of the load generator's cost).
    pub cpu_s: f64,
}

/// Command-line settings of a worker.
#[derive(Debug, Clone)]
pub struct WorkerArgs {
    /// Server address.
    pub server: std::net::SocketAddr,
    /// Global index of this worker's first connection (picks source addresses).
    pub first_index: usize,
    /// Keepalive interval.
    pub ping_interval: Duration,
    /// Joins per second this worker offers (open loop).
    pub join_rate: f64,
}

struct Joins {
    dial_us: Vec<AtomicU64>,
    latencies_us: Mutex<Vec<u64>>,
    settled: AtomicUsize,
    failed: AtomicUsize,
    first_error: Mutex<Option<String>>,
    last_join_us: AtomicU64,
    slots: Semaphore,
}

impl Observer for Joins {

    fn inbound(&self, client: usize, at: Instant, frame: &Inbound<'_>) {
        if let Inbound::Joined { .. } = frame {
            let now = clock::micros(at);
            let latency = now.saturating_sub(self.dial_us[client].load(Ordering::Relaxed));
            self.latencies_us.lock().unwrap_or_else(|p| p.into_inner()).push(latency);
            self.last_join_us.fetch_max(now, Ordering::Relaxed);
            self.settled.fetch_add(1, Ordering::Relaxed);
            self.slots.add_permits(1);
        }
    }

    fn ended(&self, _client: usize, outcome: &Result<(), String>) {
        if let Err(e) = outcome {
            // Only failures before the join count: later ones are not this worker's measurement.
            let joined = self.latencies_us.lock().unwrap_or_else(|p| p.into_inner()).len();
            if joined + self.failed.load(Ordering::Relaxed) < self.dial_us.len() {
                self.failed.fetch_add(1, Ordering::Relaxed);
                self.settled.fetch_add(1, Ordering::Relaxed);
                self.slots.add_permits(1);
                self.first_error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(|| e.clone());
            }
        }
    }
}

/// Runs the worker protocol on stdin/stdout.
pub async fn run(args: WorkerArgs) -> Result<(), String> {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut tokens = Vec::new();
    while let Some(line) = lines.next_line().await.map_err(|e| format!("read tokens: {e}"))? {
        if line.is_empty() {
            break;
        }
        tokens.push(line);
    }
    if tokens.len() > CONNECTIONS_PER_WORKER {
        return Err(format!("{} tokens is more than one worker holds ({CONNECTIONS_PER_WORKER})", tokens.len()));
    }
    let count = tokens.len();
    let joins = Arc::new(Joins {
        dial_us: (0..count).map(|_| AtomicU64::new(0)).collect(),
        latencies_us: Mutex::new(Vec::with_capacity(count)),
        settled: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        first_error: Mutex::new(None),
        last_join_us: AtomicU64::new(0),
        slots: Semaphore::new(CONCURRENT_JOINS),
    });
    let start = tokio::time::Instant::now();
    let start_us = clock::micros(start.into_std());
    let mut clients = Vec::with_capacity(count);
    for (index, token) in tokens.into_iter().enumerate() {
        let scheduled = start + Duration::from_secs_f64(index as f64 / args.join_rate.max(1e-3));
        joins.dial_us[index].store(clock::micros(scheduled.into_std()), Ordering::Relaxed);
        tokio::time::sleep_until(scheduled).await;
        if let Ok(permit) = joins.slots.acquire().await {
            permit.forget();
        }
        let config = ClientConfig {
            index,
            server: args.server,
            source: client::source_address(args.first_index + index),
            token,
            ping_interval: args.ping_interval,
        };
        clients.push(client::spawn(config, joins.clone()));
    }
    crate::scenario::wait_until(Duration::from_secs(300), || joins.settled.load(Ordering::Relaxed) >= count).await;
    let latencies_us = std::mem::take(&mut *joins.latencies_us.lock().unwrap_or_else(|p| p.into_inner()));
    let report = WorkerReport {
        joined: latencies_us.len(),
        failed: joins.failed.load(Ordering::Relaxed),
        first_error: joins.first_error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        elapsed_s: joins.last_join_us.load(Ordering::Relaxed).saturating_sub(start_us) as f64 / 1e6,
        latencies_us,
        cpu_s: crate::procstat::cpu_seconds(std::process::id())?,
    };
    println!("{}", serde_json::to_string(&report).map_err(|e| e.to_string())?);
    // Stay connected (clients keep pinging) until the parent closes stdin.
    while let Ok(Some(_)) = lines.next_line().await {}
    client::close_all(clients).await;
    Ok(())
}
