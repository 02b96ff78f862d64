//! S3 signal fan-out: M members in one session; a few of them publish broadcast signals open-loop
//! at a fixed total rate, each delivered to all M (sender included). Measures deliveries/s,
//! publish-to-receive latency (from the scheduled send time, so a stalled sender is not hidden),
//! server CPU-s per 1M deliveries, ordering violations (per sender, per receiver) and lost signals.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::client::{self, ClientConfig, Command, Observer};
use crate::clock;
use crate::latency::Latency;
use crate::procstat::CpuWindow;
use crate::results::{figure, Figures};
use crate::target::Target;
use crate::wire::Inbound;

/// Size and pace of one fan-out run.
#[derive(Clone, Copy, Debug)]
pub struct FanOutLoad {
    /// Members of the session.
    pub members: usize,
    /// Members that publish (round robin).
    pub publishers: usize,
    /// Signals published per second, all publishers together.
    pub rate: u32,
    /// How long signals are published.
    pub duration: Duration,
}

impl FanOutLoad {
    /// Signals published in the run.
    pub fn signals(&self) -> u64 {
        (self.rate as f64 * self.duration.as_secs_f64()).round() as u64
    }
}

/// Signal payload: publisher, sequence number, scheduled send time (µs since the clock epoch).
pub fn payload(publisher: usize, seq: u64, sent_us: u64) -> String {
    format!("p{publisher}s{seq}t{sent_us}")
}

/// Reads a payload back; `None` for anything else.
pub fn parse_payload(data: &str) -> Option<(usize, u64, u64)> {
    let rest = data.strip_prefix('p')?;
    let (publisher, rest) = rest.split_once('s')?;
    let (seq, sent) = rest.split_once('t')?;
    Some((publisher.parse().ok()?, seq.parse().ok()?, sent.parse().ok()?))
}

struct FanOut {
    publishers: usize,
    joined: AtomicUsize,
    /// Next expected sequence number per (receiver, publisher).
    next_seq: Vec<AtomicU64>,
    delivered: AtomicU64,
    violations: AtomicU64,
    last_delivery_us: AtomicU64,
    latency: Latency,
    failures: Mutex<Vec<String>>,
    /// Clients whose socket ended after everyone had joined (e.g. dropped by an overloaded server).
    dropped: AtomicU64,
    members: usize,
}

impl Observer for FanOut {
    fn inbound(&self, client: usize, at: Instant, frame: &Inbound<'_>) {
        match frame {
            Inbound::Joined { .. } => {
                self.joined.fetch_add(1, Ordering::Relaxed);
            }
            Inbound::Signal { data, .. } => {
                let Some((publisher, seq, sent_us)) = parse_payload(data) else { return };
                let now = clock::micros(at);
                self.latency.record_micros(now.saturating_sub(sent_us));
                self.delivered.fetch_add(1, Ordering::Relaxed);
                self.last_delivery_us.fetch_max(now, Ordering::Relaxed);
                if publisher < self.publishers {
                    // Only this receiver's task touches its slots: load/store is enough.
                    let slot = &self.next_seq[client * self.publishers + publisher];
                    if seq < slot.load(Ordering::Relaxed) {
                        self.violations.fetch_add(1, Ordering::Relaxed);
                    } else {
                        slot.store(seq + 1, Ordering::Relaxed);
                    }
                }
            }
            Inbound::Error { code, message, .. } => {
                self.failures.lock().unwrap_or_else(|p| p.into_inner()).push(format!("client {client}: error {code} {message}"));
            }
            _ => {}
        }
    }

    fn ended(&self, client: usize, outcome: &Result<(), String>) {
        if outcome.is_err() && self.joined.load(Ordering::Relaxed) == self.members {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        } else if let Err(e) = outcome {
            self.failures.lock().unwrap_or_else(|p| p.into_inner()).push(format!("client {client}: {e}"));
        }
    }
}

/// Runs S3 with `load` against a fresh `target`.
pub async fn run(target: &Target, load: FanOutLoad) -> Result<Figures, String> {
    let members = load.members;
    let publishers = load.publishers.clamp(1, members.max(1));
    if members < 2 || load.rate == 0 {
        return Err("S3 needs at least 2 members and a positive rate".into());
    }
    let session = format!("s3_{members}");
    let tickets = target.tickets(&session, members).await?;
    let fanout = Arc::new(FanOut {
        publishers,
        joined: AtomicUsize::new(0),
        next_seq: (0..members * publishers).map(|_| AtomicU64::new(0)).collect(),
        delivered: AtomicU64::new(0),
        violations: AtomicU64::new(0),
        last_delivery_us: AtomicU64::new(0),
        latency: Latency::new(),
        failures: Mutex::new(Vec::new()),
        dropped: AtomicU64::new(0),
        members,
    });
    let mut clients = Vec::with_capacity(members);
    for (index, ticket) in tickets.into_iter().enumerate() {
        let config = ClientConfig {
            index,
            server: target.process.addr,
            source: client::source_address(index),
            token: ticket.token,
            ping_interval: Duration::from_secs(5),
        };
        clients.push(client::spawn(config, fanout.clone()));
        if index % 64 == 63 {
            tokio::task::yield_now().await;
        }
    }
    let failed = || !fanout.failures.lock().unwrap_or_else(|p| p.into_inner()).is_empty();
    let joined = super::wait_until(Duration::from_secs(60), || fanout.joined.load(Ordering::Relaxed) == members || failed()).await;
    if !joined || failed() {
        let first = fanout.failures.lock().unwrap_or_else(|p| p.into_inner()).first().cloned();
        client::close_all(clients).await;
        return Err(format!("S3 M={members}: members did not all join ({})", first.unwrap_or_else(|| "timeout".into())));
    }
    // Let the join storm's notifications drain before the measured window.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let signals = load.signals();
    let expected = signals * members as u64;
    let spacing = Duration::from_secs(1).div_f64(load.rate as f64);
    let cpu = CpuWindow::open(target.pid())?;
    let own_cpu = CpuWindow::open(std::process::id())?;
    let opened = Instant::now();
    let start = opened + Duration::from_millis(20);
    let start_us = clock::micros(start);
    for k in 0..signals {
        let scheduled = start + spacing.mul_f64(k as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let publisher = (k % publishers as u64) as usize;
        let data = payload(publisher, k / publishers as u64, clock::micros(scheduled));
        let _ = clients[publisher].commands.send(Command::Signal(data));
    }
    // Drain: until everything arrived, or nothing new arrived for 3 s.
    let mut last_seen = (fanout.delivered.load(Ordering::Relaxed), Instant::now());
    super::wait_until(Duration::from_secs(120), || {
        let delivered = fanout.delivered.load(Ordering::Relaxed);
        if delivered != last_seen.0 {
            last_seen = (delivered, Instant::now());
        }
        delivered >= expected || last_seen.1.elapsed() > Duration::from_secs(3) || failed()
    })
    .await;
    let cpu_seconds = cpu.close()?;
    let own_cpu_seconds = own_cpu.close()?;
    let cpu_window_s = opened.elapsed().as_secs_f64();
    client::close_all(clients).await;
    if let Some(failure) = fanout.failures.lock().unwrap_or_else(|p| p.into_inner()).first() {
        return Err(format!("S3 M={members}: {failure}"));
    }
    let delivered = fanout.delivered.load(Ordering::Relaxed);
    let window_s = fanout.last_delivery_us.load(Ordering::Relaxed).saturating_sub(start_us).max(1) as f64 / 1e6;
    let quantile = |q| fanout.latency.quantile_ms(q).unwrap_or(0.0);
    Ok(vec![
        figure("offered deliveries/s", load.rate as f64 * members as f64),
        figure("deliveries/s", delivered as f64 / window_s),
        figure("p50 publish-to-receive (ms)", quantile(0.5)),
        figure("p99 publish-to-receive (ms)", quantile(0.99)),
        figure("p99.9 publish-to-receive (ms)", quantile(0.999)),
        figure("server CPU-s per 1M deliveries", cpu_seconds / (delivered.max(1) as f64) * 1e6),
        // Which side is saturated: a load generator near 100% delays what it reads, and the
        // latency it measures grows with its own queue, not the server's.
        figure("server CPU (% of a core, publish -> drained)", cpu_seconds / cpu_window_s * 100.0),
        figure("load generator CPU (% of a core, same window)", own_cpu_seconds / cpu_window_s * 100.0),
        figure("ordering violations", fanout.violations.load(Ordering::Relaxed) as f64),
        figure("lost deliveries", expected.saturating_sub(delivered) as f64),
        figure("clients dropped by the server", fanout.dropped.load(Ordering::Relaxed) as f64),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_reject_others() {
        assert_eq!(parse_payload(&payload(3, 17, 123456)), Some((3, 17, 123456)));
        assert_eq!(parse_payload("hello"), None);
        assert_eq!(parse_payload("pXs1t2"), None);
    }
}
