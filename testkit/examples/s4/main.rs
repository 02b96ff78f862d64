//! S4 of benchmarks.md in small: cut a share of one session's clients with a blackhole proxy for a
//! while, restore, and measure client and server detection, resume times, presence flaps seen by the
//! others and signals lost. Prints one table row per outage length. A measurement, not a test.
//!
//! `cargo run --release -p otc-testkit --example s4 -- --clients 100 --cut-percent 10 --cut-secs 2,8,20`

mod args;
mod probe;
mod stats;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use otc_server::{ConnectionOptions, EmbeddedServer, Role, ServerConfig};
use otc_session::client::{ErrorCode, Event, Settings, SignalOptions};
use otc_testkit::{retarget_url, FaultProxy};

use args::Options;
use probe::{wait_until, Probe};
use stats::{print_table, Summary};

/// Clients joining at the same time.
const JOIN_BATCH: usize = 25;
/// How long to wait for presence to settle, for resumes to end, and for signals to arrive.
const SETTLE: Duration = Duration::from_secs(60);

/// What one run measured.
struct Outcome {
    cut_length: Duration,
    cut_clients: usize,
    client_detection: Summary,
    server_detection: Summary,
    resume: Summary,
    resumed: usize,
    disconnected: usize,
    flaps: usize,
    false_alarms: usize,
    lost_to_cut: usize,
    lost_from_cut: usize,
    failed_from_cut: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match args::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    println!(
        "S4: {} clients, {} cut, pings every {:?} (timeout {:?}), connect timeout {:?}, server grace {:?}",
        options.clients,
        options.cut_count(),
        options.ping_interval,
        options.ping_timeout,
        client_settings(&options).connect_timeout,
        options.grace
    );
    let mut rows = Vec::new();
    for &cut_length in &options.cuts {
        match run(&options, cut_length).await {
            Ok(outcome) => rows.push(row(&outcome)),
            Err(message) => {
                eprintln!("cut of {cut_length:?} failed: {message}");
                return ExitCode::FAILURE;
            }
        }
    }
    print_table(
        &[
            "cut",
            "clients cut",
            "client detection ms p50/p99/max",
            "server detection ms p50/p99/max",
            "resume ms p50/p99/max",
            "resumed",
            "disconnected",
            "flaps",
            "false alarms",
            "signals lost: to cut / from cut",
        ],
        &rows,
    );
    println!("resume = Reconnected minus the later of (restore, ReconnectionStarted); detection from the cut;");
    println!("server detection = when the server closed a cut socket (its watchdog, or the resume if sooner).");
    println!("flaps = ConnectionDropped/extra ConnectionCreated of resumed clients seen by the others;");
    println!("false alarms = uncut clients that saw ReconnectionStarted; lost signals count resumed clients only,");
    println!("\"with error\" = of those sent by cut clients, how many the client reported as SignalFailed.");
    ExitCode::SUCCESS
}

fn row(o: &Outcome) -> Vec<String> {
    vec![
        format!("{:?}", o.cut_length),
        o.cut_clients.to_string(),
        o.client_detection.cell(),
        o.server_detection.cell(),
        o.resume.cell(),
        format!("{}/{}", o.resumed, o.cut_clients),
        o.disconnected.to_string(),
        o.flaps.to_string(),
        o.false_alarms.to_string(),
        format!("{} / {} ({} with error)", o.lost_to_cut, o.lost_from_cut, o.failed_from_cut),
    ]
}

fn client_settings(options: &Options) -> Settings {
    let defaults = Settings::default();
    Settings {
        ping_interval: options.ping_interval,
        ping_timeout: options.ping_timeout,
        connect_timeout: options.connect_timeout.unwrap_or(defaults.connect_timeout),
        redial_max_interval: Duration::from_millis(500),
        ..defaults
    }
}

/// A fresh token, rewritten to dial `via` when given.
fn token(server: &EmbeddedServer, session_id: &str, via: Option<SocketAddr>) -> Result<String, String> {
    let created = server
        .create_connection(session_id, ConnectionOptions { role: Role::Publisher, data: String::new() })
        .map_err(|e| format!("create_connection: {e:?}"))?;
    match via {
        None => Ok(created.token),
        Some(addr) => retarget_url(&created.token, addr).ok_or_else(|| format!("not a token URL: {}", created.token)),
    }
}

/// Joins `options.clients` clients in batches, spreading the `cut_count()` that dial through the proxy evenly
/// over the join order. Returns (cut clients, the others).
async fn join_all(
    server: &EmbeddedServer,
    session_id: &str,
    proxy: &FaultProxy,
    options: &Options,
) -> Result<(Vec<Probe>, Vec<Probe>), String> {
    let cut_count = options.cut_count();
    let stride = options.clients / cut_count;
    let (mut cut, mut stable) = (Vec::new(), Vec::new());
    let indices: Vec<usize> = (0..options.clients).collect();
    for batch in indices.chunks(JOIN_BATCH) {
        let mut joins = Vec::new();
        for &i in batch {
            let is_cut = i % stride == 0 && i / stride < cut_count;
            let via = is_cut.then(|| proxy.local_addr());
            let token = token(server, session_id, via)?;
            let settings = client_settings(options);
            joins.push((is_cut, tokio::spawn(async move { Probe::join(&token, settings).await })));
        }
        for (is_cut, join) in joins {
            let probe = join.await.map_err(|e| format!("join task: {e}"))??;
            if is_cut { cut.push(probe) } else { stable.push(probe) }
        }
    }
    Ok((cut, stable))
}

async fn run(options: &Options, cut_length: Duration) -> Result<Outcome, String> {
    let config = ServerConfig { secret: "s4".into(), reconnect_grace: options.grace, ..ServerConfig::default() };
    let server = EmbeddedServer::start(config).await.map_err(|e| format!("server start: {e:?}"))?;
    let session_id = server.create_session(None).map_err(|e| format!("create_session: {e:?}"))?;
    let proxy = FaultProxy::start(server.local_addr()).await.map_err(|e| format!("proxy: {e}"))?;
    let (cut, stable) = join_all(&server, &session_id, &proxy, options).await?;
    let everyone: Vec<&Probe> = cut.iter().chain(stable.iter()).collect();
    let others = options.clients - 1;
    if !wait_until(Instant::now() + SETTLE, || everyone.iter().all(|p| p.session.roster().len() == others)).await {
        return Err("rosters did not complete".into());
    }

    let cut_at = Instant::now();
    proxy.blackhole();
    tokio::time::sleep((cut_length / 2).min(Duration::from_secs(1))).await;
    for (i, victim) in cut.iter().enumerate() {
        let partner = &stable[i % stable.len()];
        let to_cut = partner.session.send_signal(Some(&victim.id), "s4-in", &format!("in-{i}"), SignalOptions::default());
        let from_cut = victim.session.send_signal(Some(&partner.id), "s4-out", &format!("out-{i}"), SignalOptions::default());
        if let Err(e) = to_cut.and(from_cut) {
            return Err(format!("a signal during the outage was refused: {e}"));
        }
    }
    tokio::time::sleep_until((cut_at + cut_length).into()).await;
    let restored_at = Instant::now();
    proxy.restore();

    let ended = |p: &Probe| {
        p.first(cut_at, |e| matches!(e, Event::Reconnected)).is_some()
            || p.first(cut_at, |e| matches!(e, Event::Disconnected(_))).is_some()
    };
    if !wait_until(Instant::now() + SETTLE, || cut.iter().all(ended)).await {
        return Err("some cut clients neither resumed nor disconnected".into());
    }
    let resumed: Vec<(usize, &Probe)> =
        cut.iter().enumerate().filter(|(_, p)| p.first(cut_at, |e| matches!(e, Event::Reconnected)).is_some()).collect();
    let delivered_in = |i: usize, p: &Probe| p.count(|e| is_signal(e, "s4-in", &format!("in-{i}"))) > 0;
    let delivered_out = |i: usize| {
        let partner = &stable[i % stable.len()];
        partner.count(|e| is_signal(e, "s4-out", &format!("out-{i}"))) > 0
    };
    // Signals may trail the resume: give them time, but stop early once all arrived.
    wait_until(Instant::now() + Duration::from_secs(10), || {
        resumed.iter().all(|&(i, p)| delivered_in(i, p) && delivered_out(i))
    })
    .await;

    let since_cut = |at: Instant| at.saturating_duration_since(cut_at);
    let client_detection = cut
        .iter()
        .filter_map(|p| p.first(cut_at, |e| matches!(e, Event::ReconnectionStarted)).map(since_cut))
        .collect();
    let server_detection = proxy.upstream_closures().into_iter().filter(|at| *at >= cut_at).map(since_cut).collect();
    let resume = resumed
        .iter()
        .filter_map(|(_, p)| {
            let started = p.first(cut_at, |e| matches!(e, Event::ReconnectionStarted))?;
            let back = p.first(cut_at, |e| matches!(e, Event::Reconnected))?;
            Some(back.saturating_duration_since(started.max(restored_at)))
        })
        .collect();
    let flaps = resumed
        .iter()
        .map(|(_, victim)| {
            stable
                .iter()
                .map(|observer| {
                    let drops = observer.count(|e| is_dropped(e, &victim.id));
                    let joins = observer.count(|e| matches!(e, Event::ConnectionCreated(c) if c.id() == victim.id));
                    drops + joins.saturating_sub(1)
                })
                .sum::<usize>()
        })
        .sum();
    let outcome = Outcome {
        cut_length,
        cut_clients: cut.len(),
        client_detection: Summary::of(client_detection),
        server_detection: Summary::of(server_detection),
        resume: Summary::of(resume),
        resumed: resumed.len(),
        disconnected: cut.iter().filter(|p| p.first(cut_at, |e| matches!(e, Event::Disconnected(_))).is_some()).count(),
        flaps,
        false_alarms: stable.iter().filter(|p| p.first(cut_at, |e| matches!(e, Event::ReconnectionStarted)).is_some()).count(),
        lost_to_cut: resumed.iter().filter(|&&(i, p)| !delivered_in(i, p)).count(),
        lost_from_cut: resumed.iter().filter(|&&(i, _)| !delivered_out(i)).count(),
        failed_from_cut: resumed
            .iter()
            .filter(|(_, p)| p.first(cut_at, |e| matches!(e, Event::Error(err) if err.code == ErrorCode::SignalFailed)).is_some())
            .count(),
    };
    drop(everyone);
    drop(cut);
    drop(stable);
    drop(proxy);
    server.shutdown().await;
    Ok(outcome)
}

fn is_signal(event: &Event, kind: &str, data: &str) -> bool {
    matches!(event, Event::SignalReceived { kind: k, data: d, .. } if k == kind && d == data)
}

fn is_dropped(event: &Event, id: &str) -> bool {
    matches!(event, Event::ConnectionDropped { connection, .. } if connection.id() == id)
}
