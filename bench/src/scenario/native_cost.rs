//! S6 the native client's cost, through its C API ([`c_client`]) in the library file of
//! [`CLibrary`] (in full mode the shipped cdylib), and that file's size. Two runs:
//!
//! - **stream** ([`run_stream`]): the client joins the [`stream_player`], whose `joinRoom` answer lists
//!   K participants (connect -> K-th `on_connection_created` = join time); the C roster snapshot is
//!   timed at K; then the player writes P `participantJoined` notifications (an S1 stream) and S
//!   signals (an S3 stream) and the client's rate of applying them is measured from the first frame
//!   sent to the last callback. The player replays a recorded-shape stream to isolate the client's
//!   cost (the server's cost is S1's and S3's job); it runs on the other core, the client's threads on
//!   the bench's core, so the rates are per core of the client.
//! - **otc-server** ([`run_server`]): K raw members join a real otc-server (paced), then the native
//!   client joins through the C API: the same path against the real server, dial included.

use std::time::{Duration, Instant};

use super::c_client::{CClient, LibraryCpu};
use super::c_library::CLibrary;
use super::stream_player::{Burst, Script, StreamPlayer};
use crate::client::{self, ClientConfig, Observer};
use crate::results::{figure, Figures};
use crate::target::Target;
use crate::wire::Inbound;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Sizes of the stream run.
#[derive(Clone, Copy, Debug)]
pub struct StreamLoad {
    /// K: participants in the `joinRoom` answer (the roster the snapshot is taken of).
    pub roster: usize,
    /// P: `participantJoined` notifications streamed after the join.
    pub joins: usize,
    /// S: signals streamed after the joins.
    pub signals: usize,
}

/// Roster snapshot calls timed; the median is reported.
const SNAPSHOT_CALLS: usize = 21;
/// How long any one phase (join, a burst) may take before the run fails.
const PHASE_LIMIT: Duration = Duration::from_secs(120);

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Per second of `d` (0 when `d` is zero).
fn rate(count: usize, d: Duration) -> f64 {
    if d.is_zero() { 0.0 } else { count as f64 / d.as_secs_f64() }
}

/// Median time of [`SNAPSHOT_CALLS`] roster snapshots; each must hold `expected` entries.
fn snapshot_median(client: &CClient, expected: usize) -> Result<Duration, String> {
    let mut times = Vec::with_capacity(SNAPSHOT_CALLS);
    for _ in 0..SNAPSHOT_CALLS {
        let (took, count) = client.snapshot()?;
        if count != expected {
            return Err(format!("S6: roster snapshot has {count} entries, expected {expected}"));
        }
        times.push(took);
    }
    times.sort();
    Ok(times[SNAPSHOT_CALLS / 2])
}

/// Bytes of heap in use in the whole process (glibc `mallinfo2`: small chunks in every arena plus
/// mmapped chunks).
fn heap_in_use() -> u64 {
    // SAFETY: mallinfo2 has no preconditions; it only reads the allocator's statistics.
    let info = unsafe { libc::mallinfo2() };
    (info.uordblks + info.hblkhd) as u64
}

/// Runs the stream variant against `library`. The player thread is pinned to `player_cpu` when given.
pub async fn run_stream(library: &'static CLibrary, load: StreamLoad, player_cpu: Option<usize>) -> Result<Figures, String> {
    if load.roster == 0 {
        return Err("S6: the stream run needs a roster".into());
    }
    let script = Script { session_id: format!("s6_stream_{}", load.roster), roster: load.roster, joins: load.joins, signals: load.signals };
    let player = StreamPlayer::start(&script, player_cpu)?;
    let all_joined = load.roster + load.joins;
    let client = CClient::create(library, &script.session_id, &[load.roster, all_joined], &[load.signals])?;
    let outcome = measure_stream(&client, &player, load).await;
    client.disconnect().await;
    drop(client);
    drop(player);
    let mut figures = outcome?;
    if library.shipped {
        let bytes = library.file_size()?;
        // Binary units, as for every memory figure of the table: the spec's "8 KB" per connection (S2)
        // is judged as 8 KiB, so its "2 MB" library is 2 MiB.
        figures.push(figure("stripped release cdylib (MiB)", bytes as f64 / (1024.0 * 1024.0)));
    }
    Ok(figures)
}

async fn measure_stream(client: &CClient, player: &StreamPlayer, load: StreamLoad) -> Result<Figures, String> {
    let connect_started = client.connect(&player.token())?;
    let roster_done = client.created_reached(load.roster, PHASE_LIMIT).await?;
    let snapshot = snapshot_median(client, load.roster)?;
    let mut figures = vec![
        figure("join with roster (ms)", millis(roster_done - connect_started)),
        figure("roster snapshot (ms)", millis(snapshot)),
    ];
    if load.joins > 0 {
        let heap_before = heap_in_use();
        let cpu = LibraryCpu::sample()?;
        let burst = player.play(Burst::Joins).await?;
        let done = client.created_reached(load.roster + load.joins, PHASE_LIMIT).await?;
        let cpu_seconds = cpu.seconds_since()?;
        let heap_after = heap_in_use();
        figures.push(figure("roster entries applied/s (stream, per core)", rate(load.joins, done - burst.first_sent)));
        if cpu_seconds > 0.0 {
            figures.push(figure("roster entries per client CPU-s (stream)", load.joins as f64 / cpu_seconds));
        }
        figures.push(figure("joins stream written by the player (ms)", millis(burst.last_written - burst.first_sent)));
        figures.push(figure("bytes per roster entry (live heap)", heap_after.saturating_sub(heap_before) as f64 / load.joins as f64));
    }
    if load.signals > 0 {
        let cpu = LibraryCpu::sample()?;
        let burst = player.play(Burst::Signals).await?;
        let done = client.signals_reached(load.signals, PHASE_LIMIT).await?;
        let cpu_seconds = cpu.seconds_since()?;
        figures.push(figure("signals applied/s (stream, per core)", rate(load.signals, done - burst.first_sent)));
        if cpu_seconds > 0.0 {
            figures.push(figure("signals per client CPU-s (stream)", load.signals as f64 / cpu_seconds));
        }
    }
    Ok(figures)
}

struct Joined(AtomicUsize);

impl Observer for Joined {
    fn inbound(&self, _client: usize, _at: Instant, frame: &Inbound<'_>) {
        if let Inbound::Joined { .. } = frame {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Runs the otc-server variant: `members` raw members join a fresh otc-server, then the native client
/// of `library`.
pub async fn run_server(library: &'static CLibrary, target: &Target, members: usize) -> Result<Figures, String> {
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
    let outcome = measure_server_join(library, &session_id, &tickets[members].token, members).await;
    client::close_all(raw).await;
    outcome
}

async fn measure_server_join(library: &'static CLibrary, session_id: &str, token: &str, members: usize) -> Result<Figures, String> {
    let client = CClient::create(library, session_id, &[members], &[])?;
    let outcome = async {
        let started = client.connect(token)?;
        let done = client.created_reached(members, PHASE_LIMIT).await?;
        let snapshot = snapshot_median(&client, members)?;
        Ok(vec![
            figure("join with roster (ms)", millis(done - started)),
            figure("roster entries applied/s (join answer, dial included)", rate(members, done - started)),
            figure("roster snapshot (ms)", millis(snapshot)),
        ])
    }
    .await;
    client.disconnect().await;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The heap figure reads the allocator the loaded C library allocates with, the C malloc (the
    /// bench's own Rust code allocates with jemalloc, which the figure must not count).
    #[test]
    fn the_heap_figure_sees_the_c_mallocs_and_not_the_bench_allocator() {
        let before = heap_in_use();
        // Big enough that other tests' allocations, running alongside, cannot hide it.
        const BLOCK: usize = 64 << 20;
        // SAFETY: a plain malloc/free pair; the block is not read.
        let block = unsafe { libc::malloc(BLOCK) };
        assert!(!block.is_null());
        let during = heap_in_use();
        unsafe { libc::free(block) };
        assert!(during >= before + (48 << 20), "heap_in_use went from {before} to {during} around a 64 MiB malloc");

        let before = heap_in_use();
        let rust_block = std::hint::black_box(vec![1u8; BLOCK]);
        let during = heap_in_use();
        drop(rust_block);
        assert!(during < before + (16 << 20), "heap_in_use went from {before} to {during} around a 64 MiB Rust (jemalloc) allocation");
    }
}
