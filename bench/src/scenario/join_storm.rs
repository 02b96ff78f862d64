//! S1 join storm: N clients join one session at N/s (open loop). Measures join-to-notify latency
//! (joinRoom sent -> each other member told), time until every roster is complete after the last
//! join, presence entries delivered per second and the server's CPU seconds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use crate::client::{self, ClientConfig, Observer};
use crate::wire::Inbound;
use crate::clock;
use crate::latency::Latency;
use crate::procstat::CpuWindow;
use crate::results::{figure, Figures};
use crate::target::Target;

/// Finds a joiner by its connection id. otc-server's ids (`con_` + 10 random alphanumerics) differ
/// in their last 8 bytes: read as one integer, they are a cheaper key than the whole string (S1
/// N=5000 looks up 12.5M ids on the load generator's one core). Ids that do not differ there are
/// looked up whole.
enum IdIndex {
    Tail(FxHashMap<u64, usize>),
    Whole(FxHashMap<String, usize>),
}

impl IdIndex {
    fn new(ids: &[&str]) -> IdIndex {
        let tails: FxHashMap<u64, usize> =
            ids.iter().enumerate().filter_map(|(index, id)| Some((tail(id)?, index))).collect();
        if tails.len() == ids.len() {
            IdIndex::Tail(tails)
        } else {
            IdIndex::Whole(ids.iter().enumerate().map(|(index, id)| (id.to_string(), index)).collect())
        }
    }

    fn get(&self, id: &str) -> Option<usize> {
        match self {
            IdIndex::Tail(tails) => tails.get(&tail(id)?).copied(),
            IdIndex::Whole(ids) => ids.get(id).copied(),
        }
    }
}

/// The last 8 bytes of `id` as an integer (`None` for a shorter id).
fn tail(id: &str) -> Option<u64> {
    let bytes = id.as_bytes().get(id.len().checked_sub(8)?..)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

/// Counts what each member has learned about the others.
struct Storm {
    size: usize,
    index_of: IdIndex,
    join_sent_us: Vec<AtomicU64>,
    known: Vec<AtomicUsize>,
    complete_members: AtomicUsize,
    all_complete_us: AtomicU64,
    notify: Latency,
    failures: Mutex<Vec<String>>,
}

impl Storm {
    fn learned(&self, client: usize, count: usize, at: Instant) {
        // Only the client's own task counts for it: a plain load and store, no locked add.
        let known = self.known[client].load(Ordering::Relaxed) + count;
        self.known[client].store(known, Ordering::Relaxed);
        if known == self.size - 1 && self.complete_members.fetch_add(1, Ordering::Relaxed) + 1 == self.size {
            self.all_complete_us.store(clock::micros(at), Ordering::Relaxed);
        }
    }
}

impl Observer for Storm {
    fn join_sent(&self, client: usize, at: Instant) {
        self.join_sent_us[client].store(clock::micros(at), Ordering::Relaxed);
    }

    fn inbound(&self, client: usize, at: Instant, frame: &Inbound<'_>) {
        match frame {
            Inbound::Joined { roster, .. } => self.learned(client, roster.len(), at),
            Inbound::ParticipantJoined(id) => {
                if let Some(joiner) = self.index_of.get(id.as_ref()) {
                    let sent = self.join_sent_us[joiner].load(Ordering::Relaxed);
                    self.notify.record_micros(clock::micros(at).saturating_sub(sent));
                }
                self.learned(client, 1, at);
            }
            _ => {}
        }
    }

    fn ended(&self, client: usize, outcome: &Result<(), String>) {
        if let Err(e) = outcome {
            self.failures.lock().unwrap_or_else(|p| p.into_inner()).push(format!("client {client}: {e}"));
        }
    }
}

/// Runs S1 with `size` clients against a fresh `target`.
pub async fn run(target: &Target, size: usize) -> Result<Figures, String> {
    if size < 2 {
        return Err("S1 needs at least 2 clients".into());
    }
    let session = format!("s1_{size}");
    let tickets = target.tickets(&session, size).await?;
    let storm = Arc::new(Storm {
        size,
        index_of: IdIndex::new(&tickets.iter().map(|t| t.connection_id.as_str()).collect::<Vec<_>>()),
        join_sent_us: (0..size).map(|_| AtomicU64::new(0)).collect(),
        known: (0..size).map(|_| AtomicUsize::new(0)).collect(),
        complete_members: AtomicUsize::new(0),
        all_complete_us: AtomicU64::new(0),
        notify: Latency::new(),
        failures: Mutex::new(Vec::new()),
    });
    let spacing = Duration::from_secs(1).div_f64(size as f64);
    let cpu = CpuWindow::open(target.pid())?;
    let own_cpu = CpuWindow::open(std::process::id())?;
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let mut clients = Vec::with_capacity(size);
    for (index, ticket) in tickets.into_iter().enumerate() {
        tokio::time::sleep_until(start + spacing * index as u32).await;
        let config = ClientConfig {
            index,
            server: target.process.addr,
            source: client::source_address(index),
            token: ticket.token,
            ping_interval: Duration::from_secs(5),
        };
        clients.push(client::spawn(config, storm.clone()));
    }
    let limit = Duration::from_secs(30) + Duration::from_millis(size as u64 * 10);
    let failed = || !storm.failures.lock().unwrap_or_else(|p| p.into_inner()).is_empty();
    let done = super::wait_until(limit, || storm.complete_members.load(Ordering::Relaxed) == size || failed()).await;
    if failed() {
        // Let the other failures of the same cause arrive, for the summary.
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let cpu_seconds = cpu.close()?;
    let own_cpu_seconds = own_cpu.close()?;
    client::close_all(clients).await;
    let failures = std::mem::take(&mut *storm.failures.lock().unwrap_or_else(|p| p.into_inner()));
    if !failures.is_empty() {
        return Err(format!("S1 N={size}: {} clients failed: {}", failures.len(), summary(&failures)));
    }
    if !done {
        let complete = storm.complete_members.load(Ordering::Relaxed);
        return Err(format!("S1 N={size}: only {complete} of {size} rosters complete after {limit:?}"));
    }
    let sent: Vec<u64> = storm.join_sent_us.iter().map(|t| t.load(Ordering::Relaxed)).collect();
    let first_join = sent.iter().copied().min().unwrap_or(0);
    let last_join = sent.iter().copied().max().unwrap_or(0);
    let complete_at = storm.all_complete_us.load(Ordering::Relaxed);
    let entries = storm.known.iter().map(|known| known.load(Ordering::Relaxed)).sum::<usize>() as f64;
    let window_s = complete_at.saturating_sub(first_join).max(1) as f64 / 1e6;
    // Both CPU windows also hold the ~50 ms before the first join and the wait's last poll.
    Ok(vec![
        figure("p99 join-to-notify (ms)", storm.notify.quantile_ms(0.99).unwrap_or(0.0)),
        figure("rosters complete after last join (s)", complete_at.saturating_sub(last_join) as f64 / 1e6),
        figure("presence entries/s", entries / window_s),
        figure("server CPU-s", cpu_seconds),
        figure("server CPU (% of a core, first join -> rosters complete)", cpu_seconds / window_s * 100.0),
        figure("load generator CPU (% of a core, same window)", own_cpu_seconds / window_s * 100.0),
    ])
}

/// The distinct failure reasons (client index removed) with their counts, most frequent first.
pub fn summary(failures: &[String]) -> String {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for failure in failures {
        let reason = failure.split_once(": ").map_or(failure.as_str(), |(_, reason)| reason);
        *counts.entry(reason).or_default() += 1;
    }
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    counts.iter().take(4).map(|(reason, n)| format!("{n} x {reason}")).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joiners_are_found_by_the_tail_of_their_ids_when_it_tells_them_apart() {
        let index = IdIndex::new(&["con_AAAAAAAAAA", "con_AAAAAAAAAB", "con_AAAAAAAABA"]);
        assert!(matches!(index, IdIndex::Tail(_)));
        assert_eq!(index.get("con_AAAAAAAAAB"), Some(1));
        assert_eq!(index.get("con_AAAAAAAABA"), Some(2));
        assert_eq!(index.get("short"), None);

        let index = IdIndex::new(&["x_12345678", "y_12345678", "short"]);
        assert!(matches!(index, IdIndex::Whole(_)), "same tails, and an id under 8 bytes");
        assert_eq!(index.get("y_12345678"), Some(1));
        assert_eq!(index.get("short"), Some(2));
        assert_eq!(index.get("z_12345678"), None);
    }

    #[test]
    fn failure_summary_groups_reasons() {
        let failures = vec!["client 1: reset".to_string(), "client 2: reset".into(), "client 3: refused 202".into()];
        assert_eq!(summary(&failures), "2 x reset; 1 x refused 202");
    }
}
