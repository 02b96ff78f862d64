//! S6 the native client's cost, through its public API: one otc_session client joins a session that
//! already holds K raw members (its roster arrives in one joinRoom answer), then reads its roster
//! snapshot; and the size of the stripped release cdylib.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use otc_session::client::{Event, Session, Settings};

use crate::client::{self, ClientConfig, Observer};
use crate::results::{figure, Figures};
use crate::target::Target;
use crate::wire::Inbound;

struct Joined(AtomicUsize);

impl Observer for Joined {
    fn inbound(&self, _client: usize, _at: Instant, frame: &Inbound<'_>) {
        if let Inbound::Joined { .. } = frame {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Roster snapshot calls timed; the median is reported.
const SNAPSHOT_CALLS: usize = 21;

/// Runs S6 with `members` raw members against a fresh otc-server.
pub async fn run(target: &Target, members: usize) -> Result<Figures, String> {
    let session_id = format!("s6_{members}");
    let tickets = target.tickets(&session_id, members + 1).await?;
    let joined = Arc::new(Joined(AtomicUsize::new(0)));
    let mut raw = Vec::with_capacity(members);
    // Paced like S1 (1000 joins/s): an unpaced storm makes the server evict the members that cannot
    // read their N-1 notifications fast enough.
    let start = tokio::time::Instant::now();
    for (index, ticket) in tickets[..members].iter().enumerate() {
        tokio::time::sleep_until(start + Duration::from_millis(index as u64)).await;
        let config = ClientConfig {
            index,
            server: target.process.addr,
            source: client::source_address(index),
            token: ticket.token.clone(),
            ping_interval: Duration::from_secs(5),
        };
        raw.push(client::spawn(config, joined.clone()));
    }
    if !super::wait_until(Duration::from_secs(120), || joined.0.load(Ordering::Relaxed) == members).await {
        client::close_all(raw).await;
        return Err(format!("S6: only {} of {members} members joined", joined.0.load(Ordering::Relaxed)));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let outcome = measure_native(&session_id, &tickets[members].token, members).await;
    client::close_all(raw).await;
    outcome
}

async fn measure_native(session_id: &str, token: &str, members: usize) -> Result<Figures, String> {
    let (session, mut events) = Session::new(Some(session_id.into()), Settings::default());
    let started = Instant::now();
    session.connect(token).map_err(|e| format!("S6 connect: {}", e.message))?;
    let mut created = 0usize;
    let mut connected_at = None;
    let deadline = Duration::from_secs(60);
    while created < members {
        match tokio::time::timeout(deadline, events.recv()).await {
            Ok(Some(Event::Connected { .. })) => connected_at = Some(Instant::now()),
            Ok(Some(Event::ConnectionCreated(_))) => created += 1,
            Ok(Some(Event::Error(e))) => return Err(format!("S6 native client error: {}", e.message)),
            Ok(Some(Event::Disconnected(reason))) => return Err(format!("S6 native client disconnected: {reason:?}")),
            Ok(Some(_)) => {}
            Ok(None) => return Err("S6 native client's events ended".into()),
            Err(_) => return Err(format!("S6: {created} of {members} roster entries within {deadline:?}")),
        }
    }
    let applied = started.elapsed();
    let mut snapshots: Vec<Duration> = (0..SNAPSHOT_CALLS)
        .map(|_| {
            let t = Instant::now();
            let roster = session.roster();
            let took = t.elapsed();
            std::hint::black_box(roster.len());
            took
        })
        .collect();
    snapshots.sort();
    let roster_len = session.roster().len();
    let _ = session.disconnect();
    if roster_len != members {
        return Err(format!("S6: roster() has {roster_len} entries, expected {members}"));
    }
    let mut figures = vec![
        figure("join with full roster (ms)", applied.as_secs_f64() * 1000.0),
        figure("roster entries applied/s (connect to last event)", members as f64 / applied.as_secs_f64()),
        figure("roster() snapshot (ms)", snapshots[SNAPSHOT_CALLS / 2].as_secs_f64() * 1000.0),
    ];
    if let Some(connected) = connected_at {
        figures.push(figure("connect to Connected (ms)", connected.duration_since(started).as_secs_f64() * 1000.0));
    }
    if let Some(bytes) = library_size() {
        figures.push(figure("stripped release cdylib (MB)", bytes as f64 / 1e6));
    }
    Ok(figures)
}

/// Size of target/release/libotc_session.so (built with `cargo build --release -p otc-session`).
pub fn library_size() -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    std::fs::metadata(dir.join("libotc_session.so")).ok().map(|m| m.len())
}
