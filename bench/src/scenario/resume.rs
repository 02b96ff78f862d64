//! S4 cut-and-resume: some native clients (otc_session::client::Session) reach the server through
//! the blackhole proxy (otc_testkit::FaultProxy), the others are raw clients dialing it directly.
//! The proxy is blackholed for a while, then restored. Measures detection (client: ReconnectionStarted;
//! server: it closes the dead upstream socket), resume time after restore, presence flaps the others
//! saw (participantLeft/participantJoined of a cut client) and signals the cut clients lost.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use otc_session::client::{Event, Session, Settings};
use otc_testkit::FaultProxy;

use crate::client::{self, ClientConfig, Command, Observer};
use crate::latency::Latency;
use crate::results::{figure, Figures};
use crate::server::ServerKind;
use crate::system::Placement;
use crate::target::Target;
use crate::wire::Inbound;

/// Size of one S4 run.
#[derive(Clone, Copy, Debug)]
pub struct CutLoad {
    /// Clients in the session.
    pub clients: usize,
    /// Percentage of them behind the proxy (cut).
    pub cut_percent: usize,
    /// How long the proxy blackholes.
    pub outage: Duration,
}

/// Keepalive and redial settings of the native clients under test.
pub fn native_settings() -> Settings {
    Settings {
        ping_interval: Duration::from_secs(1),
        ping_timeout: Duration::from_secs(1),
        redial_max_interval: Duration::from_millis(500),
        ..Settings::default()
    }
}

/// What one native client went through.
#[derive(Default)]
struct NativeLog {
    connected: bool,
    reconnecting_at: Option<Instant>,
    reconnected_at: Option<Instant>,
    disconnected: bool,
    signals: HashSet<u64>,
}

/// Raw observers: count flaps of the cut clients: a `participantLeft` once watching starts, or a
/// second `participantJoined` of the same cut client at the same observer (a late first one is not a flap).
struct Watch {
    cut_ids: HashSet<String>,
    /// Cut clients each observer has seen join.
    seen: Vec<Mutex<HashSet<String>>>,
    watching: AtomicBool,
    joined: AtomicUsize,
    flaps: AtomicU64,
    /// Of the flaps, the `participantLeft` ones.
    lefts: AtomicU64,
    failures: Mutex<Vec<String>>,
}

impl Observer for Watch {
    fn inbound(&self, client: usize, _at: Instant, frame: &Inbound<'_>) {
        match frame {
            Inbound::Joined { .. } => {
                self.joined.fetch_add(1, Ordering::Relaxed);
            }
            // `insert` is false for a cut client this observer has already seen join.
            Inbound::ParticipantJoined(id) if self.cut_ids.contains(id.as_ref()) && !lock(&self.seen[client]).insert(id.to_string()) => {
                self.flaps.fetch_add(1, Ordering::Relaxed);
            }
            Inbound::ParticipantLeft(id) if self.cut_ids.contains(id.as_ref()) && self.watching.load(Ordering::Relaxed) => {
                self.flaps.fetch_add(1, Ordering::Relaxed);
                self.lefts.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    fn ended(&self, client: usize, outcome: &Result<(), String>) {
        if let Err(e) = outcome {
            self.failures.lock().unwrap_or_else(|p| p.into_inner()).push(format!("observer {client}: {e}"));
        }
    }
}

fn free_loopback_port() -> Result<SocketAddr, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    listener.local_addr().map_err(|e| e.to_string())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs one S4 cut against a fresh otc-server.
pub async fn run(load: CutLoad, placement: Placement) -> Result<Figures, String> {
    let cut_count = (load.clients * load.cut_percent / 100).max(1);
    if load.clients < cut_count + 2 {
        return Err("S4 needs at least two uncut clients".into());
    }
    let proxy_addr = free_loopback_port()?;
    let target = Target::start(ServerKind::Ours, &["--public-url".into(), format!("http://{proxy_addr}")], placement).await?;
    let proxy = FaultProxy::start_on(proxy_addr, target.process.addr).await.map_err(|e| format!("fault proxy: {e}"))?;
    let outcome = cut_and_resume(&target, &proxy, load, cut_count).await;
    drop(proxy);
    target.process.stop().await;
    outcome
}

async fn cut_and_resume(target: &Target, proxy: &FaultProxy, load: CutLoad, cut_count: usize) -> Result<Figures, String> {
    let session_id = "s4";
    let tickets = target.tickets(session_id, load.clients).await?;
    let (cut, uncut) = tickets.split_at(cut_count);
    let watch = Arc::new(Watch {
        cut_ids: cut.iter().map(|t| t.connection_id.clone()).collect(),
        seen: uncut.iter().map(|_| Mutex::default()).collect(),
        watching: AtomicBool::new(false),
        joined: AtomicUsize::new(0),
        flaps: AtomicU64::new(0),
        lefts: AtomicU64::new(0),
        failures: Mutex::new(Vec::new()),
    });
    let observers: Vec<_> = uncut
        .iter()
        .enumerate()
        .map(|(index, t)| {
            let config = ClientConfig {
                index,
                server: target.process.addr,
                source: client::source_address(index),
                token: t.token.clone(),
                ping_interval: Duration::from_secs(5),
            };
            client::spawn(config, watch.clone())
        })
        .collect();
    let uncut_count = uncut.len();
    let all_observers = super::wait_until(Duration::from_secs(60), || watch.joined.load(Ordering::Relaxed) == uncut_count).await;

    let logs: Vec<Arc<Mutex<NativeLog>>> = (0..cut_count).map(|_| Arc::default()).collect();
    let mut natives = Vec::new();
    for (ticket, log) in cut.iter().zip(&logs) {
        let (session, mut events) = Session::new(Some(session_id.into()), native_settings());
        session.connect(&ticket.token).map_err(|e| format!("native connect: {}", e.message))?;
        let log = log.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let mut log = lock(&log);
                match event {
                    Event::Connected { .. } => log.connected = true,
                    Event::ReconnectionStarted => log.reconnecting_at = log.reconnecting_at.or(Some(Instant::now())),
                    Event::Reconnected => log.reconnected_at = log.reconnected_at.or(Some(Instant::now())),
                    Event::Disconnected(_) => log.disconnected = true,
                    Event::SignalReceived { data, .. } => {
                        if let Some(seq) = data.strip_prefix('l').and_then(|s| s.parse().ok()) {
                            log.signals.insert(seq);
                        }
                    }
                    _ => {}
                }
            }
        });
        natives.push(session);
    }
    let all_natives = super::wait_until(Duration::from_secs(60), || logs.iter().all(|l| lock(l).connected || lock(l).disconnected)).await;
    let failures = lock(&watch.failures).first().cloned();
    if !all_observers || !all_natives || failures.is_some() || logs.iter().any(|l| !lock(l).connected) {
        client::close_all(observers).await;
        return Err(format!("S4: not every client joined ({})", failures.unwrap_or_else(|| "timeout or refused".into())));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    watch.watching.store(true, Ordering::Relaxed);

    // Signals from an uncut member every 20 ms while the cut lasts and until everyone is back.
    let sending = Arc::new(AtomicBool::new(true));
    let sent = Arc::new(AtomicU64::new(0));
    let sender = {
        let (sending, sent, commands) = (sending.clone(), sent.clone(), observers[0].commands.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            while sending.load(Ordering::Relaxed) {
                tick.tick().await;
                let seq = sent.fetch_add(1, Ordering::Relaxed);
                let _ = commands.send(Command::Signal(format!("l{seq}")));
            }
        })
    };
    let cut_at = Instant::now();
    proxy.blackhole();
    tokio::time::sleep(load.outage).await;
    let restored_at = Instant::now();
    proxy.restore();
    super::wait_until(load.outage + Duration::from_secs(40), || {
        logs.iter().all(|l| {
            let l = lock(l);
            l.reconnected_at.is_some() || l.disconnected
        })
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    sending.store(false, Ordering::Relaxed);
    let _ = sender.await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let client_detection = Latency::new();
    let resume = Latency::new();
    let mut resumed = 0usize;
    let mut lost = 0u64;
    let total_sent = sent.load(Ordering::Relaxed);
    for log in &logs {
        let log = lock(log);
        if let Some(at) = log.reconnecting_at {
            client_detection.record(at.saturating_duration_since(cut_at));
        }
        if let (Some(done), false) = (log.reconnected_at, log.disconnected) {
            resumed += 1;
            let from = log.reconnecting_at.map_or(restored_at, |r| r.max(restored_at));
            resume.record(done.saturating_duration_since(from));
            lost += (0..total_sent).filter(|seq| !log.signals.contains(seq)).count() as u64;
        }
    }
    let server_detection = Latency::new();
    for closed in proxy.upstream_closures() {
        if closed >= cut_at {
            server_detection.record(closed.saturating_duration_since(cut_at));
        }
    }
    // Stop counting before the teardown: the natives' own leaves are not flaps.
    watch.watching.store(false, Ordering::Relaxed);
    let flaps = watch.flaps.load(Ordering::Relaxed);
    let lefts = watch.lefts.load(Ordering::Relaxed);
    for session in &natives {
        let _ = session.disconnect();
    }
    client::close_all(observers).await;
    // A figure with no sample (e.g. nobody resumed after a cut longer than the grace) is left out.
    let mut figures = vec![figure("cut clients", cut_count as f64)];
    let mut optional = |name: &str, value: Option<f64>| figures.extend(value.map(|v| figure(name, v)));
    optional("client detection p99 (s)", client_detection.quantile_ms(0.99).map(|ms| ms / 1000.0));
    optional("server detection p99 (s)", server_detection.quantile_ms(0.99).map(|ms| ms / 1000.0));
    optional("resume p50 (ms)", resume.quantile_ms(0.5));
    optional("resume p99 (ms)", resume.quantile_ms(0.99));
    figures.push(figure("clients resumed", resumed as f64));
    figures.push(figure("presence flaps seen by others", flaps as f64));
    figures.push(figure("  of which participantLeft", lefts as f64));
    figures.push(figure("signals lost by resumed clients", lost as f64));
    Ok(figures)
}
