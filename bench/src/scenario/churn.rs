//! S5 churn: `sessions` x `members` joined raw clients; then, open-loop for `duration`, every 1/R s
//! one member somewhere leaves (closes its socket) and a newcomer joins the same session with a
//! fresh token, while two stable members per session publish broadcast signals in the background.
//! Measures the achieved join and leave rates, join latency (from the *scheduled* join time to the
//! `joinRoom` answer, so a load generator that falls behind shows up as latency), leave-to-notify
//! latency, publish-to-receive latency, lost signals and ordering among the stable members, the
//! server's CPU, and its memory: the RSS *drift* under churn (the server's RSS is sampled through
//! the churn; drift = the median of its last tenth against the median of its second tenth, the
//! first tenth being the warm-up in which bounded state such as the sessions' replay rings
//! fills to its steady size), and the RSS growth between the settled states before and after the
//! churn (same members joined, no token pending: that growth is the churn's working set, bounded).
//!
//! The full plan runs the spec's 10 minutes (`ChurnLoad::duration`). A leave is what an app
//! does: `leaveRoom`, its answer, then the socket closed. Tokens come from REST while the
//! churn runs (per session, made up to 5 s ahead of need, like an application server would hand
//! them out): the REST calls share the server's core, and the settled states compare equal (RSS is
//! read before the first churn token exists and after the last one is used). When the server
//! saturates, the token supply falls behind: "joins that waited for a token" counts it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Notify};

use crate::client::{self, ClientConfig, Command, Observer};
use crate::clock;
use crate::latency::Latency;
use crate::procstat::{CpuWindow, RssProbe};
use crate::rest::{Rest, Ticket};
use crate::results::{figure, Figures};
use crate::scenario::fanout::{parse_payload, payload};
use crate::server::ServerKind;
use crate::target::Target;
use crate::token_client::TokenClient;
use crate::wire::Inbound;

/// Size and pace of one churn run.
#[derive(Clone, Copy, Debug)]
pub struct ChurnLoad {
    /// Sessions.
    pub sessions: usize,
    /// Members per session (kept constant: each leave is replaced by a join in the same session).
    pub members: usize,
    /// Joins per second, and as many leaves per second.
    pub rate: u32,
    /// Background signals per second, all sessions together.
    pub signal_rate: u32,
    /// How long the churn runs.
    pub duration: Duration,
}

impl ChurnLoad {
    /// Replacements (one leave + one join) in the run.
    pub fn events(&self) -> usize {
        (self.rate as f64 * self.duration.as_secs_f64()).round() as usize
    }

    /// Signals published in the run.
    pub fn signals(&self) -> u64 {
        (self.signal_rate as f64 * self.duration.as_secs_f64()).round() as u64
    }
}

/// Stable members per session that publish the background signals and never leave.
pub const PUBLISHERS_PER_SESSION: usize = 2;

/// Joins per second while the sessions are first filled.
const FILL_RATE: f64 = 2000.0;

/// Pause before each RSS reading, so queues drain and the allocator settles.
const SETTLE: Duration = Duration::from_secs(2);

/// Tokens one maker is counted on for a second. A maker, on its own kept-alive REST connection (as
/// a connection of an application server's async HTTP client pool), waits for each answer, and a
/// server busy with the churn answers in tens of milliseconds: by Little's law the supply needs
/// `rate / TOKENS_PER_MAKER_PER_SECOND` makers at once (10 a second each: answers within 100 ms). A
/// fixed 128 keeps up with 5,250 tokens/s only while answers take under 24 ms (128 / 5,250 s), and a
/// server busy with the churn answered slower: in a 2-minute churn 96k joins waited for a token, the
/// sessions held one member fewer for each join waiting, and the server's heap followed the token
/// backlog (100-162 MiB allocated); with 512 makers no join waited (150-168 MiB).
const TOKENS_PER_MAKER_PER_SECOND: usize = 10;

/// Fewest makers (slow rates).
const MIN_TOKEN_MAKERS: usize = 8;

/// Makers for `rate` tokens a second.
fn token_makers(rate: u32) -> usize {
    (rate as usize).div_ceil(TOKENS_PER_MAKER_PER_SECOND).max(MIN_TOKEN_MAKERS)
}

/// Seconds of tokens made before the churn starts, and kept ahead of it: REST shares the server's
/// core, so when the churn saturates it the supply falls behind (counted as joins that waited).
const HEAD_START_CHUNKS: usize = 5;

/// Tokens per order a maker takes: small, so one slow answer delays few tokens.
const TOKEN_ORDER_SIZE: usize = 4;

/// Tokens of `count` newcomers of `session`, numbered from `first_serial` (for made-up tokens).
struct TokenOrder {
    session: usize,
    first_serial: usize,
    count: usize,
}

/// The orders waiting for a free maker. Each maker takes the next one itself when it frees up
/// (an async channel behind an async lock handed the queue from maker to maker, one scheduler pass
/// each: under load that chain, not the server, capped the supply).
#[derive(Default)]
struct OrderQueue {
    /// Orders not taken yet, and whether more may come.
    book: Mutex<(VecDeque<TokenOrder>, bool)>,
    more: Notify,
}

impl OrderQueue {
    fn extend(&self, orders: Vec<TokenOrder>) {
        self.book.lock().unwrap_or_else(|p| p.into_inner()).0.extend(orders);
        self.more.notify_waiters();
    }

    /// No more orders: the makers end once the queue is empty.
    fn close(&self) {
        self.book.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
        self.more.notify_waiters();
    }

    /// The next order; `None` once the queue is closed and empty.
    async fn next(&self) -> Option<TokenOrder> {
        loop {
            // Created before the look, so an `extend` or `close` right after it still wakes it.
            let more = self.more.notified();
            {
                let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(order) = book.0.pop_front() {
                    return Some(order);
                }
                if book.1 {
                    return None;
                }
            }
            more.await;
        }
    }
}

/// Keepalive interval of the clients.
const PING_INTERVAL: Duration = Duration::from_secs(10);

/// One churn event: in `session`, the member in `slot` leaves and a newcomer takes its place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replacement {
    /// Session index.
    pub session: usize,
    /// Slot of the leaving member (never one of the publishers' slots).
    pub slot: usize,
}

/// SplitMix64: a small, seedable generator (the schedule is the same in every run).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is negligible for the small n used here).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The `events` replacements of a run, in blocks of `sessions` events that each visit every session
/// once in a random order (so every session churns at the same pace); the leaving slot is uniform
/// over the non-publisher slots `publishers..members`.
pub fn schedule(events: usize, sessions: usize, members: usize, publishers: usize, seed: u64) -> Vec<Replacement> {
    let mut rng = SplitMix(seed);
    let mut order: Vec<usize> = (0..sessions).collect();
    let mut out = Vec::with_capacity(events);
    while out.len() < events && sessions > 0 && members > publishers {
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        for &session in order.iter().take(events - out.len()) {
            out.push(Replacement { session, slot: publishers + rng.below(members - publishers) });
        }
    }
    out
}

/// Tickets needed per session for `events`.
fn tickets_per_session(events: &[Replacement], sessions: usize) -> Vec<usize> {
    let mut counts = vec![0; sessions];
    for event in events {
        counts[event.session] += 1;
    }
    counts
}

/// Role of a client index: the first `sessions * members` indices are the initial members
/// (session-major), the rest are newcomers.
#[derive(Clone, Copy, Debug)]
struct Layout {
    sessions: usize,
    members: usize,
    publishers: usize,
}

impl Layout {
    fn initial(&self) -> usize {
        self.sessions * self.members
    }

    /// Global publisher number of a stable member, `None` for everyone else.
    fn publisher_of(&self, index: usize) -> Option<usize> {
        let slot = index % self.members;
        (index < self.initial() && slot < self.publishers).then(|| index / self.members * self.publishers + slot)
    }

    /// True for the first member of a session (it counts that session's leaves).
    fn is_leave_witness(&self, index: usize) -> bool {
        index < self.initial() && index.is_multiple_of(self.members)
    }
}

/// Shared by every client's observer callbacks.
struct Churn {
    layout: Layout,
    join_scheduled_us: Vec<AtomicU64>,
    leave_scheduled_us: Vec<AtomicU64>,
    joined: Vec<AtomicBool>,
    /// Connection id -> client index of the joined clients (until a witness sees them leave).
    ids: Mutex<HashMap<String, usize>>,
    fill_joined: AtomicUsize,
    churn_joined: AtomicU64,
    churn_join_failed: AtomicU64,
    /// Newcomers told to leave before their join was answered (their leave may go unseen).
    abandoned: AtomicU64,
    last_join_us: AtomicU64,
    leaves_seen: AtomicU64,
    last_leave_us: AtomicU64,
    join_latency: Latency,
    leave_latency: Latency,
    signal_latency: Latency,
    /// Next expected sequence number per (stable receiver, publisher of its session).
    next_seq: Vec<AtomicU64>,
    stable_deliveries: AtomicU64,
    violations: AtomicU64,
    error_answers: AtomicU64,
    dropped: AtomicU64,
    spawned: AtomicUsize,
    ended: AtomicUsize,
    first_failure: Mutex<Option<String>>,
    /// Why the first failed churn join failed (printed with the figures).
    first_join_failure: Mutex<Option<String>>,
    /// Newcomer client index -> (session, connection id) of its token, until it joins.
    unjoined: Mutex<HashMap<usize, (usize, String)>>,
    /// Tokens of newcomers that will never join, waiting to be revoked.
    to_revoke: Mutex<Vec<(usize, String)>>,
}

impl Churn {
    fn new(layout: Layout, clients: usize) -> Churn {
        let stable = layout.sessions * layout.publishers;
        Churn {
            layout,
            join_scheduled_us: (0..clients).map(|_| AtomicU64::new(0)).collect(),
            leave_scheduled_us: (0..clients).map(|_| AtomicU64::new(0)).collect(),
            joined: (0..clients).map(|_| AtomicBool::new(false)).collect(),
            ids: Mutex::new(HashMap::with_capacity(layout.initial() * 2)),
            fill_joined: AtomicUsize::new(0),
            churn_joined: AtomicU64::new(0),
            churn_join_failed: AtomicU64::new(0),
            abandoned: AtomicU64::new(0),
            last_join_us: AtomicU64::new(0),
            leaves_seen: AtomicU64::new(0),
            last_leave_us: AtomicU64::new(0),
            join_latency: Latency::new(),
            leave_latency: Latency::new(),
            signal_latency: Latency::new(),
            next_seq: (0..stable * layout.publishers).map(|_| AtomicU64::new(0)).collect(),
            stable_deliveries: AtomicU64::new(0),
            violations: AtomicU64::new(0),
            error_answers: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            spawned: AtomicUsize::new(0),
            ended: AtomicUsize::new(0),
            first_failure: Mutex::new(None),
            first_join_failure: Mutex::new(None),
            unjoined: Mutex::new(HashMap::new()),
            to_revoke: Mutex::new(Vec::new()),
        }
    }

    fn note_failure(&self, message: String) {
        self.first_failure.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(message);
    }

    /// Queues the token of newcomer `client` for revocation when it never joined.
    fn revoke_unjoined(&self, client: usize) {
        let ticket = self.unjoined.lock().unwrap_or_else(|p| p.into_inner()).remove(&client);
        if let Some(ticket) = ticket {
            self.to_revoke.lock().unwrap_or_else(|p| p.into_inner()).push(ticket);
        }
    }

    fn first_failure(&self) -> Option<String> {
        self.first_failure.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn signal(&self, client: usize, at: Instant, data: &str) {
        let Some((publisher, seq, sent_us)) = parse_payload(data) else { return };
        self.signal_latency.record_micros(clock::micros(at).saturating_sub(sent_us));
        let Some(receiver) = self.layout.publisher_of(client) else { return };
        let publishers = self.layout.publishers;
        if publisher / publishers != receiver / publishers {
            return; // not from this session: cannot happen, and not this check's business
        }
        self.stable_deliveries.fetch_add(1, Ordering::Relaxed);
        // Only this receiver's task touches its slots: load/store is enough.
        let slot = &self.next_seq[receiver * publishers + publisher % publishers];
        if seq < slot.load(Ordering::Relaxed) {
            self.violations.fetch_add(1, Ordering::Relaxed);
        } else {
            slot.store(seq + 1, Ordering::Relaxed);
        }
    }
}

impl Observer for Churn {
    fn inbound(&self, client: usize, at: Instant, frame: &Inbound<'_>) {
        match frame {
            Inbound::Joined { own_id, .. } => {
                self.joined[client].store(true, Ordering::Relaxed);
                self.ids.lock().unwrap_or_else(|p| p.into_inner()).insert(own_id.to_string(), client);
                if client < self.layout.initial() {
                    self.fill_joined.fetch_add(1, Ordering::Relaxed);
                } else {
                    let now = clock::micros(at);
                    let scheduled = self.join_scheduled_us[client].load(Ordering::Relaxed);
                    self.join_latency.record_micros(now.saturating_sub(scheduled));
                    self.churn_joined.fetch_add(1, Ordering::Relaxed);
                    self.last_join_us.fetch_max(now, Ordering::Relaxed);
                    self.unjoined.lock().unwrap_or_else(|p| p.into_inner()).remove(&client);
                }
            }
            Inbound::ParticipantLeft(id) if self.layout.is_leave_witness(client) => {
                let Some(leaver) = self.ids.lock().unwrap_or_else(|p| p.into_inner()).remove(id.as_ref()) else { return };
                let scheduled = self.leave_scheduled_us[leaver].load(Ordering::Relaxed);
                if scheduled == 0 {
                    return; // not one of the scheduled leaves (teardown)
                }
                let now = clock::micros(at);
                self.leave_latency.record_micros(now.saturating_sub(scheduled));
                self.leaves_seen.fetch_add(1, Ordering::Relaxed);
                self.last_leave_us.fetch_max(now, Ordering::Relaxed);
            }
            Inbound::Signal { data, .. } => self.signal(client, at, data),
            Inbound::Error { code, message, .. } => {
                self.error_answers.fetch_add(1, Ordering::Relaxed);
                self.note_failure(format!("client {client}: error {code} {message}"));
            }
            _ => {}
        }
    }

    fn ended(&self, client: usize, outcome: &Result<(), String>) {
        self.revoke_unjoined(client);
        self.ended.fetch_add(1, Ordering::Relaxed);
        let Err(e) = outcome else {
            if client >= self.layout.initial() && !self.joined[client].load(Ordering::Relaxed) {
                self.abandoned.fetch_add(1, Ordering::Relaxed);
            }
            return;
        };
        if self.joined[client].load(Ordering::Relaxed) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        } else if client >= self.layout.initial() {
            self.churn_join_failed.fetch_add(1, Ordering::Relaxed);
            self.first_join_failure.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(|| e.clone());
        }
        self.note_failure(format!("client {client}: {e}"));
    }
}

/// Where newcomers' tokens come from.
enum TicketSource {
    /// otc-server: `POST /sessions/{id}/connection`.
    Rest(Rest),
    /// The floor checks no token: made up locally, like `target::floor_tickets`, with unique ids.
    Local { host: String },
}

/// One session's tokens made and not taken yet, and the newcomers waiting for one.
#[derive(Default)]
struct Pool {
    tickets: Mutex<VecDeque<Ticket>>,
    /// Wakes this session's waiting newcomers only: with one wake-up for every session, each
    /// answer woke every waiting newcomer, and in an overload (thousands waiting) those wake-ups
    /// took the load generator's core as the backlog grew.
    ready: Notify,
}

impl Pool {
    /// Adds `tickets` and wakes the session's waiting newcomers.
    fn put(&self, tickets: Vec<Ticket>) {
        self.tickets.lock().unwrap_or_else(|p| p.into_inner()).extend(tickets);
        self.ready.notify_waiters();
    }
}

/// Tokens for the newcomers, made ahead of need by a producer task.
struct TicketSupply {
    source: TicketSource,
    session_names: Vec<String>,
    pools: Vec<Pool>,
    /// Tokens made so far.
    produced: AtomicUsize,
    /// Next event the scheduler will run.
    progress: AtomicUsize,
    stopped: AtomicBool,
    failure: Mutex<Option<String>>,
}

impl TicketSupply {
    async fn make(&self, maker: &mut Option<TokenClient>, session: usize, first_serial: usize, count: usize) -> Result<Vec<Ticket>, String> {
        let name = &self.session_names[session];
        match &self.source {
            TicketSource::Rest(rest) => maker.get_or_insert_with(|| TokenClient::new(rest.clone())).create_tickets(name, count).await,
            TicketSource::Local { host } => Ok((first_serial..first_serial + count)
                .map(|serial| {
                    let connection_id = format!("con_{name}_{serial}");
                    Ticket { token: format!("ws://{host}?sessionId={name}&token={connection_id}"), connection_id }
                })
                .collect()),
        }
    }

    fn take(&self, session: usize) -> Option<Ticket> {
        self.pools[session].tickets.lock().unwrap_or_else(|p| p.into_inner()).pop_front()
    }

    /// Wakes every waiting newcomer (the supply failed or stopped).
    fn wake_all(&self) {
        self.pools.iter().for_each(|pool| pool.ready.notify_waiters());
    }

    /// Ends the supply: makers stop taking orders and waiting newcomers give up.
    fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.wake_all();
    }

    /// Deletes the connections of newcomers that never joined, as an application server withdraws
    /// a token its user gave up on (`DELETE /sessions/{id}/connection/{connectionId}`): a pending
    /// token would otherwise stay until its session closes, as OpenVidu keeps it, and over a long
    /// churn those leftovers of the harness would count as the server's drift. A join the server
    /// took after its client gave up (the answer never read) is deleted too: it ends at once
    /// instead of after the resume grace. Runs on a blocking thread until the supply stops and the
    /// queue is empty; returns how many deletions the server accepted.
    fn revoke(&self, churn: &Churn) -> u64 {
        let agent = ureq::Agent::new_with_defaults();
        let mut revoked = 0;
        loop {
            let batch = std::mem::take(&mut *churn.to_revoke.lock().unwrap_or_else(|p| p.into_inner()));
            if batch.is_empty() {
                if self.stopped.load(Ordering::Relaxed) {
                    return revoked;
                }
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            for (session, connection_id) in batch {
                // The floor checks no token: nothing to revoke there.
                if let TicketSource::Rest(rest) = &self.source {
                    if rest.delete_connection(&agent, &self.session_names[session], &connection_id).is_ok() {
                        revoked += 1;
                    }
                }
            }
        }
    }

    /// Makes the tokens of `schedule`, at most `lead` events ahead of the scheduler, on
    /// `makers` tasks, each with its own connection kept for the whole run. The orders go
    /// out one `chunk` of events at a time, in small pieces that each free maker takes, so a slow
    /// answer holds up one piece, not the chunk. Runs until done, failed or stopped.
    async fn produce(self: Arc<Self>, schedule: Arc<Vec<Replacement>>, makers: usize, chunk: usize, lead: usize, first_serial: usize) {
        let orders = Arc::new(OrderQueue::default());
        let makers: Vec<_> = (0..makers).map(|_| tokio::spawn(self.clone().make_orders(orders.clone()))).collect();
        let mut serial = first_serial;
        'chunks: for first in (0..schedule.len()).step_by(chunk.max(1)) {
            while first > self.progress.load(Ordering::Relaxed) + lead {
                if self.stopped.load(Ordering::Relaxed) || self.failure().is_some() {
                    break 'chunks;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let last = (first + chunk).min(schedule.len());
            let mut pieces = Vec::new();
            for (session, count) in tickets_per_session(&schedule[first..last], self.pools.len()).into_iter().enumerate() {
                for piece in (0..count).step_by(TOKEN_ORDER_SIZE) {
                    let count = TOKEN_ORDER_SIZE.min(count - piece);
                    pieces.push(TokenOrder { session, first_serial: serial, count });
                    serial += count;
                }
            }
            orders.extend(pieces);
        }
        orders.close();
        for maker in makers {
            if let Err(e) = maker.await {
                self.failure.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(format!("token maker: {e}"));
            }
        }
    }

    /// One maker: takes orders until there are none left, the supply stops or fails.
    async fn make_orders(self: Arc<Self>, orders: Arc<OrderQueue>) {
        let mut client = None;
        loop {
            let Some(order) = orders.next().await else { return };
            if self.stopped.load(Ordering::Relaxed) || self.failure().is_some() {
                return;
            }
            match self.make(&mut client, order.session, order.first_serial, order.count).await {
                Ok(tokens) => {
                    self.produced.fetch_add(order.count, Ordering::Relaxed);
                    self.pools[order.session].put(tokens);
                }
                Err(e) => {
                    self.failure.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
                    self.wake_all();
                    return;
                }
            }
        }
    }

    fn failure(&self) -> Option<String> {
        self.failure.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A member's place in its session: its client index and how to tell it to leave.
struct Slot {
    index: usize,
    commands: mpsc::UnboundedSender<Command>,
}

/// Everything the scheduler needs to start clients.
struct Launcher {
    churn: Arc<Churn>,
    supply: Arc<TicketSupply>,
    server: std::net::SocketAddr,
    /// Newcomers that had to wait for their token (the supply fell behind).
    waited_for_ticket: AtomicU64,
}

impl Launcher {
    fn config(&self, index: usize, token: String) -> ClientConfig {
        ClientConfig { index, server: self.server, source: client::source_address(index), token, ping_interval: PING_INTERVAL }
    }

    fn spawn(&self, index: usize, token: String) -> mpsc::UnboundedSender<Command> {
        self.churn.spawned.fetch_add(1, Ordering::Relaxed);
        client::spawn(self.config(index, token), self.churn.clone()).commands
    }

    /// Starts newcomer `index` of `session` with `ticket`, whose token is revoked if it never joins.
    fn spawn_newcomer(&self, index: usize, session: usize, ticket: Ticket) -> mpsc::UnboundedSender<Command> {
        self.churn.unjoined.lock().unwrap_or_else(|p| p.into_inner()).insert(index, (session, ticket.connection_id));
        self.spawn(index, ticket.token)
    }

    /// Starts newcomer `index` in `session`: at once when its token is ready, else as soon as it is
    /// (a leave ordered meanwhile cancels the join).
    fn newcomer(self: &Arc<Self>, index: usize, session: usize) -> mpsc::UnboundedSender<Command> {
        if let Some(ticket) = self.supply.take(session) {
            return self.spawn_newcomer(index, session, ticket);
        }
        self.waited_for_ticket.fetch_add(1, Ordering::Relaxed);
        let (commands, mut orders) = mpsc::unbounded_channel();
        let launcher = self.clone();
        tokio::spawn(async move {
            let mut abandoned = false;
            let ticket = loop {
                let ready = launcher.supply.pools[session].ready.notified();
                if let Some(ticket) = launcher.supply.take(session) {
                    break ticket;
                }
                if launcher.supply.failure().is_some() || launcher.supply.stopped.load(Ordering::Relaxed) {
                    return;
                }
                tokio::select! {
                    _ = ready => {}
                    _ = orders.recv(), if !abandoned => {
                        // Its token is made all the same: take it when it comes, and revoke it.
                        launcher.churn.abandoned.fetch_add(1, Ordering::Relaxed);
                        abandoned = true;
                    }
                }
            };
            if abandoned {
                launcher.churn.to_revoke.lock().unwrap_or_else(|p| p.into_inner()).push((session, ticket.connection_id));
                return;
            }
            let forward = launcher.spawn_newcomer(index, session, ticket);
            while let Some(order) = orders.recv().await {
                let _ = forward.send(order);
            }
        });
        commands
    }
}

/// Runs S5 with `load` against a fresh `target`.
pub async fn run(target: &Target, load: ChurnLoad) -> Result<Figures, String> {
    let layout = Layout { sessions: load.sessions, members: load.members, publishers: PUBLISHERS_PER_SESSION };
    if load.sessions == 0 || load.members <= layout.publishers || load.rate == 0 || load.signal_rate == 0 {
        return Err(format!("S5 needs sessions, more than {} members each and positive rates", layout.publishers));
    }
    let events = schedule(load.events(), load.sessions, load.members, layout.publishers, 0x5EED_C4A2);
    let session_names: Vec<String> = (0..load.sessions).map(|s| format!("s5_{s}")).collect();
    let mut initial_tokens = Vec::with_capacity(layout.initial());
    for name in &session_names {
        initial_tokens.extend(target.tickets(name, load.members).await?.into_iter().map(|t| t.token));
    }
    let churn = Arc::new(Churn::new(layout, layout.initial() + events.len()));
    let source = match target.process.kind {
        ServerKind::Ours => TicketSource::Rest(Rest::new(target.process.addr)),
        _ => TicketSource::Local { host: target.process.addr.to_string() },
    };
    let supply = Arc::new(TicketSupply {
        source,
        session_names,
        pools: (0..load.sessions).map(|_| Pool::default()).collect(),
        produced: AtomicUsize::new(0),
        progress: AtomicUsize::new(0),
        stopped: AtomicBool::new(false),
        failure: Mutex::new(None),
    });
    let launcher = Arc::new(Launcher { churn: churn.clone(), supply: supply.clone(), server: target.process.addr, waited_for_ticket: AtomicU64::new(0) });
    let mut slots = fill(&launcher, layout, initial_tokens).await;
    let outcome = match slots.as_mut() {
        Ok(slots) => churn_phase(target, load, &launcher, slots, Arc::new(events)).await,
        Err(e) => Err(e.clone()),
    };
    supply.stop();
    for slot in slots.iter().flatten().flatten() {
        let _ = slot.commands.send(Command::Close);
    }
    super::wait_until(Duration::from_secs(10), || churn.ended.load(Ordering::Relaxed) >= churn.spawned.load(Ordering::Relaxed)).await;
    outcome
}

/// Joins the initial members at [`FILL_RATE`]; their slots, session-major.
async fn fill(launcher: &Arc<Launcher>, layout: Layout, tokens: Vec<String>) -> Result<Vec<Vec<Slot>>, String> {
    let start = Instant::now();
    let mut slots: Vec<Vec<Slot>> = (0..layout.sessions).map(|_| Vec::with_capacity(layout.members)).collect();
    for (index, token) in tokens.into_iter().enumerate() {
        tokio::time::sleep_until((start + Duration::from_secs_f64(index as f64 / FILL_RATE)).into()).await;
        let commands = launcher.spawn(index, token);
        slots[index / layout.members].push(Slot { index, commands });
    }
    let churn = &launcher.churn;
    let all = layout.initial();
    let failed = || churn.first_failure().is_some();
    let joined = super::wait_until(Duration::from_secs(120), || churn.fill_joined.load(Ordering::Relaxed) >= all || failed()).await;
    if !joined || failed() {
        let reason = churn.first_failure().unwrap_or_else(|| "timeout".into());
        let done = churn.fill_joined.load(Ordering::Relaxed);
        for slot in slots.iter().flatten() {
            let _ = slot.commands.send(Command::Close);
        }
        return Err(format!("S5: {done} of {all} initial members joined ({reason})"));
    }
    Ok(slots)
}

/// The measured part: settle, RSS, churn + signals, drain, settle, RSS; the figures.
async fn churn_phase(target: &Target, load: ChurnLoad, launcher: &Arc<Launcher>, slots: &mut [Vec<Slot>], events: Arc<Vec<Replacement>>) -> Result<Figures, String> {
    let churn = &launcher.churn;
    let supply = &launcher.supply;
    tokio::time::sleep(SETTLE).await;
    // Opened now: at the churn's peak the load generator may hold every descriptor it may have.
    let rss = RssProbe::open(target.pid())?;
    let rss_before = rss.kib()?;
    let socket_waits_before = client::socket_budget::waits();

    // Tokens in one-second chunks, up to HEAD_START_CHUNKS ahead of need.
    let chunk = (load.rate as usize).max(load.sessions);
    let producer = {
        let (supply, events) = (supply.clone(), events.clone());
        let first_serial = churn.layout.initial();
        tokio::spawn(supply.produce(events, token_makers(load.rate), chunk, HEAD_START_CHUNKS * chunk, first_serial))
    };
    let revoker = {
        let (supply, churn) = (supply.clone(), launcher.churn.clone());
        tokio::task::spawn_blocking(move || supply.revoke(&churn))
    };
    let head_start = (HEAD_START_CHUNKS * chunk).min(events.len());
    super::wait_until(Duration::from_secs(60), || supply.produced.load(Ordering::Relaxed) >= head_start || supply.failure().is_some()).await;
    if let Some(e) = supply.failure() {
        return Err(format!("S5 tokens: {e}"));
    }

    let publishers: Vec<mpsc::UnboundedSender<Command>> =
        slots.iter().flat_map(|session| session.iter().take(PUBLISHERS_PER_SESSION).map(|s| s.commands.clone())).collect();
    let server_cpu = CpuWindow::open(target.pid())?;
    let own_cpu = CpuWindow::open(std::process::id())?;
    let start = Instant::now() + Duration::from_millis(50);
    let start_us = clock::micros(start);
    let ((), signals_sent, rss_under_load) = tokio::join!(
        replace_members(launcher, slots, &events, load.rate, start),
        publish(&publishers, load, start),
        rss_series(&rss, start, load.duration),
    );
    let rss_under_load = rss_under_load?;
    let rss_warm = RssSeries::tenth_median(&rss_under_load, 1).ok_or("S5: no RSS sample in the churn's second tenth")?;
    let rss_end = RssSeries::tenth_median(&rss_under_load, 9).ok_or("S5: no RSS sample in the churn's last tenth")?;
    let rss_peak = rss_under_load.iter().copied().max().unwrap_or(0);

    // Drain: until every join and leave is accounted for and every signal reached the stable
    // members, or nothing moved for 3 s. An abandoned join counts for its join and its leave.
    let expected_stable = signals_sent * PUBLISHERS_PER_SESSION as u64;
    let progress = || {
        churn.churn_joined.load(Ordering::Relaxed)
            + churn.churn_join_failed.load(Ordering::Relaxed)
            + 2 * churn.abandoned.load(Ordering::Relaxed)
            + churn.leaves_seen.load(Ordering::Relaxed)
            + churn.stable_deliveries.load(Ordering::Relaxed)
    };
    let target_progress = 2 * events.len() as u64 + expected_stable;
    let mut last = (progress(), Instant::now());
    super::wait_until(Duration::from_secs(120), || {
        let now = progress();
        if now != last.0 {
            last = (now, Instant::now());
        }
        now >= target_progress || last.1.elapsed() > Duration::from_secs(3)
    })
    .await;
    let server_cpu_s = server_cpu.close()?;
    let own_cpu_s = own_cpu.close()?;
    // CPU shares over the active window (to the last join or leave), not the idle end of the drain.
    let last_us = churn.last_join_us.load(Ordering::Relaxed).max(churn.last_leave_us.load(Ordering::Relaxed));
    let window_s = (last_us.saturating_sub(start_us) as f64 / 1e6).max(load.duration.as_secs_f64());
    supply.stop();
    let _ = producer.await;
    let revoked = revoker.await.unwrap_or(0);
    if let Some(e) = supply.failure() {
        return Err(format!("S5 tokens: {e}"));
    }
    tokio::time::sleep(SETTLE).await;
    let rss_after = rss.kib()?;
    let pending_left = pending_tokens(supply).await?;

    if let Some(reason) = churn.first_join_failure.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        eprintln!("S5: {} churn joins failed; the first: {reason}", churn.churn_join_failed.load(Ordering::Relaxed));
    }
    let joins = churn.churn_joined.load(Ordering::Relaxed);
    let leaves = churn.leaves_seen.load(Ordering::Relaxed);
    let rate = |count: u64, last_us: &AtomicU64| count as f64 / (last_us.load(Ordering::Relaxed).saturating_sub(start_us).max(1) as f64 / 1e6);
    let ms = |latency: &Latency, q| latency.quantile_ms(q).unwrap_or(0.0);
    let mib = |kib: u64| kib as f64 / 1024.0;
    let delivered_stable = churn.stable_deliveries.load(Ordering::Relaxed);
    let mut figures = vec![
        figure("offered joins and leaves (/s each)", load.rate as f64),
        figure("achieved join rate (/s)", rate(joins, &churn.last_join_us)),
        figure("achieved leave rate (/s)", rate(leaves, &churn.last_leave_us)),
        figure("p50 join latency (ms)", ms(&churn.join_latency, 0.5)),
        figure("p99 join latency (ms)", ms(&churn.join_latency, 0.99)),
        figure("p99 leave-to-notify (ms)", ms(&churn.leave_latency, 0.99)),
        figure("p50 signal latency (ms)", ms(&churn.signal_latency, 0.5)),
        figure("p99 signal latency (ms)", ms(&churn.signal_latency, 0.99)),
        figure("signals lost by stable members", expected_stable.saturating_sub(delivered_stable) as f64),
        figure("ordering violations", churn.violations.load(Ordering::Relaxed) as f64),
        figure("failed joins", churn.churn_join_failed.load(Ordering::Relaxed) as f64),
        figure("joins cut short by their own leave", churn.abandoned.load(Ordering::Relaxed) as f64),
        figure("joins that waited for a token", launcher.waited_for_ticket.load(Ordering::Relaxed) as f64),
        figure("joins that waited for a socket (descriptor limit)", (client::socket_budget::waits() - socket_waits_before) as f64),
        figure("clients dropped by the server", churn.dropped.load(Ordering::Relaxed) as f64),
        figure("server RSS before churn, settled (MiB)", mib(rss_before)),
        figure("server RSS under churn, 2nd tenth (MiB)", mib(rss_warm)),
        figure("server RSS under churn, last tenth (MiB)", mib(rss_end)),
        figure("server RSS under churn, peak (MiB)", mib(rss_peak)),
        figure("server RSS after churn, settled (MiB)", mib(rss_after)),
        figure("RSS drift under churn (%)", percent_change(rss_warm, rss_end)),
        figure("RSS growth, settled before -> after churn (%)", percent_change(rss_before, rss_after)),
        figure("server CPU-s (churn)", server_cpu_s),
        figure("server CPU (% of a core)", server_cpu_s / window_s * 100.0),
        figure("load generator CPU (% of a core)", own_cpu_s / window_s * 100.0),
    ];
    if let Some(pending) = pending_left {
        figures.push(figure("connections of never-joined newcomers deleted", revoked as f64));
        figures.push(figure("unused tokens left on the server", pending as f64));
    }
    Ok(figures)
}

/// Tokens the server still holds for connections that never joined (otc-server only; the floor
/// checks no token): the harness's leftovers, which the server keeps as OpenVidu does.
async fn pending_tokens(supply: &Arc<TicketSupply>) -> Result<Option<usize>, String> {
    let supply = supply.clone();
    tokio::task::spawn_blocking(move || match &supply.source {
        TicketSource::Rest(rest) => rest.pending_connections(&supply.session_names).map(Some),
        TicketSource::Local { .. } => Ok(None),
    })
    .await
    .map_err(|e| format!("S5 pending tokens: {e}"))?
}

/// The open-loop schedule: replacement `k` at `start + k/rate`; several per timer tick when due.
async fn replace_members(launcher: &Arc<Launcher>, slots: &mut [Vec<Slot>], events: &[Replacement], rate: u32, start: Instant) {
    let churn = &launcher.churn;
    let spacing = Duration::from_secs(1).div_f64(rate as f64);
    let first_newcomer = churn.layout.initial();
    let mut k = 0;
    while k < events.len() {
        let due = start + spacing.mul_f64(k as f64);
        if Instant::now() < due {
            tokio::time::sleep_until(due.into()).await;
        }
        let now = Instant::now();
        while k < events.len() && start + spacing.mul_f64(k as f64) <= now {
            let scheduled_us = clock::micros(start + spacing.mul_f64(k as f64));
            let Replacement { session, slot } = events[k];
            let joined = |slot: usize| churn.joined[slots[session][slot].index].load(Ordering::Relaxed);
            let slot = leaving_slot(slot, churn.layout, joined);
            let leaver = &slots[session][slot];
            churn.leave_scheduled_us[leaver.index].store(scheduled_us, Ordering::Relaxed);
            let _ = leaver.commands.send(Command::Leave);
            let index = first_newcomer + k;
            churn.join_scheduled_us[index].store(scheduled_us, Ordering::Relaxed);
            let commands = launcher.newcomer(index, session);
            slots[session][slot] = Slot { index, commands };
            k += 1;
            launcher.supply.progress.store(k, Ordering::Relaxed);
        }
    }
}

/// The server's RSS (KiB) sampled evenly through `duration` from `start` (once a second, or 30
/// times in a shorter run), oldest first.
async fn rss_series(rss: &RssProbe, start: Instant, duration: Duration) -> Result<Vec<u64>, String> {
    let period = Duration::from_secs(1).min(duration / RssSeries::MIN_SAMPLES);
    let count = (duration.as_secs_f64() / period.as_secs_f64()).floor() as u32;
    let mut samples = Vec::with_capacity(count as usize);
    for k in 1..=count {
        tokio::time::sleep_until((start + period * k).into()).await;
        samples.push(rss.kib()?);
    }
    Ok(samples)
}

/// Windows of an evenly sampled series.
struct RssSeries;

impl RssSeries {
    /// Fewest samples taken in a run (3 per tenth).
    const MIN_SAMPLES: u32 = 30;

    /// Median of the samples in tenth `tenth` (0..=9) of the series; `None` when it holds none.
    fn tenth_median(samples: &[u64], tenth: usize) -> Option<u64> {
        let (from, to) = (samples.len() * tenth / 10, samples.len() * (tenth + 1) / 10);
        let mut window = samples.get(from..to)?.to_vec();
        window.sort_unstable();
        window.get(window.len() / 2).copied()
    }
}

/// Change from `from` to `to`, in percent of `from`.
fn percent_change(from: u64, to: u64) -> f64 {
    (to as f64 - from as f64) / from.max(1) as f64 * 100.0
}

/// The slot that leaves: `chosen` when its member has joined, else the next non-publisher slot
/// (cyclically) whose member has, so a leave never cancels a join still under way and the
/// sessions stay at their size; `chosen` when nobody has joined.
fn leaving_slot(chosen: usize, layout: Layout, joined: impl Fn(usize) -> bool) -> usize {
    let leavable = layout.members - layout.publishers;
    (0..leavable)
        .map(|step| layout.publishers + (chosen - layout.publishers + step) % leavable)
        .find(|&slot| joined(slot))
        .unwrap_or(chosen)
}

/// Background signals, open loop: signal `j` at `start + j/signal_rate`, from publisher
/// `(j / sessions) % publishers` of session `j % sessions`; returns how many were handed to clients.
async fn publish(publishers: &[mpsc::UnboundedSender<Command>], load: ChurnLoad, start: Instant) -> u64 {
    let spacing = Duration::from_secs(1).div_f64(load.signal_rate as f64);
    let per_session = PUBLISHERS_PER_SESSION as u64;
    let sessions = load.sessions as u64;
    let mut sent = 0;
    for j in 0..load.signals() {
        let scheduled = start + spacing.mul_f64(j as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let publisher = ((j % sessions) * per_session + (j / sessions) % per_session) as usize;
        let seq = j / (sessions * per_session);
        if publishers[publisher].send(Command::Signal(payload(publisher, seq, clock::micros(scheduled)))).is_ok() {
            sent += 1;
        }
    }
    sent
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(session: usize) -> TokenOrder {
        TokenOrder { session, first_serial: 0, count: 1 }
    }

    #[tokio::test]
    async fn makers_take_orders_in_order_and_end_once_the_queue_is_closed_and_empty() {
        let orders = OrderQueue::default();
        orders.extend(vec![order(1), order(2)]);
        orders.close();
        assert_eq!(orders.next().await.map(|o| o.session), Some(1));
        assert_eq!(orders.next().await.map(|o| o.session), Some(2));
        assert!(orders.next().await.is_none());
    }

    #[tokio::test]
    async fn every_waiting_maker_wakes_for_new_orders_and_for_the_close() {
        let orders = Arc::new(OrderQueue::default());
        let makers: Vec<_> = (0..3)
            .map(|_| {
                let orders = orders.clone();
                tokio::spawn(async move {
                    let mut taken = Vec::new();
                    while let Some(order) = orders.next().await {
                        taken.push(order.session);
                    }
                    taken
                })
            })
            .collect();
        tokio::task::yield_now().await;
        orders.extend((0..30).map(order).collect());
        tokio::task::yield_now().await;
        orders.extend((30..60).map(order).collect());
        orders.close();
        let mut taken = Vec::new();
        for maker in makers {
            let got = tokio::time::timeout(Duration::from_secs(5), maker).await.expect("the makers end").expect("no panic");
            taken.extend(got);
        }
        taken.sort_unstable();
        assert_eq!(taken, (0..60).collect::<Vec<_>>(), "each order taken once");
    }

    #[tokio::test]
    async fn tokens_wake_the_newcomers_of_their_own_session_only() {
        use std::future::Future;
        let pools = [Pool::default(), Pool::default()];
        let ticket = || Ticket { token: "ws://h?sessionId=s1&token=t".into(), connection_id: "t".into() };
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut waiting = std::pin::pin!(pools[0].ready.notified());
        waiting.as_mut().enable();
        pools[1].put(vec![ticket()]);
        assert!(waiting.as_mut().poll(&mut cx).is_pending(), "another session's token wakes no one here");
        pools[0].put(vec![ticket()]);
        assert!(waiting.as_mut().poll(&mut cx).is_ready());
        assert_eq!(pools[0].tickets.lock().unwrap().len(), 1);
    }

    #[test]
    fn the_token_makers_keep_up_with_the_rate_at_100_ms_answers() {
        for rate in [1, 100, 5_250, 10_000] {
            let makers = token_makers(rate);
            let supply_per_second = makers as f64 / 0.1;
            assert!(supply_per_second >= rate as f64, "{makers} makers at 100 ms make {supply_per_second}/s of {rate}/s");
        }
        assert_eq!(token_makers(5_250), 525);
        assert_eq!(token_makers(10), MIN_TOKEN_MAKERS, "a slow run still has a few connections");
    }

    #[test]
    fn drift_compares_the_medians_of_the_second_and_last_tenths() {
        // 30 samples: a warm-up climb in the first tenth, then a plateau with one spike per tenth.
        let mut samples: Vec<u64> = (0..30).map(|i| if i < 3 { 100 + 30 * i } else { 200 }).collect();
        samples[4] = 900;
        samples[28] = 900;
        samples[29] = 204;
        assert_eq!(RssSeries::tenth_median(&samples, 0), Some(130));
        assert_eq!(RssSeries::tenth_median(&samples, 1), Some(200), "a spike does not move the median");
        assert_eq!(RssSeries::tenth_median(&samples, 9), Some(204));
        assert_eq!(percent_change(200, 204), 2.0);
        assert_eq!(RssSeries::tenth_median(&samples[..5], 0), None, "a tenth with no sample has no median");
    }

    #[test]
    fn every_block_visits_each_session_once_and_spares_the_publishers() {
        let events = schedule(1000, 7, 10, 2, 42);
        assert_eq!(events.len(), 1000);
        for block in events.chunks(7) {
            let mut sessions: Vec<usize> = block.iter().map(|e| e.session).collect();
            sessions.sort_unstable();
            sessions.dedup();
            assert_eq!(sessions.len(), block.len(), "a session twice in one block: {block:?}");
        }
        assert!(events.iter().all(|e| e.session < 7 && (2..10).contains(&e.slot)));
        // Every leavable slot gets picked, and the order is not the identity.
        let mut seen = [false; 10];
        events.iter().for_each(|e| seen[e.slot] = true);
        assert_eq!(seen, [false, false, true, true, true, true, true, true, true, true]);
        assert_ne!(events.iter().take(7).map(|e| e.session).collect::<Vec<_>>(), (0..7).collect::<Vec<_>>());
    }

    #[test]
    fn the_schedule_is_reproducible_and_tokens_match_it() {
        assert_eq!(schedule(50, 3, 5, 2, 1), schedule(50, 3, 5, 2, 1));
        assert_ne!(schedule(50, 3, 5, 2, 1), schedule(50, 3, 5, 2, 2));
        let events = schedule(10, 4, 5, 2, 9);
        let counts = tickets_per_session(&events, 4);
        for (session, &count) in counts.iter().enumerate() {
            assert_eq!(count, events.iter().filter(|e| e.session == session).count());
            assert!((2..=3).contains(&count), "blocks of 4, 4 and 2 events: {counts:?}");
        }
        assert_eq!(counts.iter().sum::<usize>(), 10);
        assert!(schedule(10, 3, 2, 2, 1).is_empty(), "no leavable slot: no events");
    }

    #[test]
    fn leaves_skip_members_still_joining() {
        let layout = Layout { sessions: 1, members: 6, publishers: 2 };
        assert_eq!(leaving_slot(3, layout, |_| true), 3);
        assert_eq!(leaving_slot(3, layout, |slot| slot != 3 && slot != 4), 5);
        assert_eq!(leaving_slot(5, layout, |slot| slot == 2), 2, "wraps around, past the publishers");
        assert_eq!(leaving_slot(4, layout, |_| false), 4, "nobody joined: the chosen one");
        assert_eq!(leaving_slot(4, layout, |slot| slot < 2), 4, "publishers never leave");
    }

    #[test]
    fn layout_names_publishers_and_witnesses() {
        let layout = Layout { sessions: 3, members: 10, publishers: 2 };
        assert_eq!(layout.publisher_of(0), Some(0));
        assert_eq!(layout.publisher_of(1), Some(1));
        assert_eq!(layout.publisher_of(2), None);
        assert_eq!(layout.publisher_of(21), Some(5));
        assert_eq!(layout.publisher_of(30), None, "newcomers are never stable");
        assert!(layout.is_leave_witness(10) && !layout.is_leave_witness(11) && !layout.is_leave_witness(30));
    }

    #[test]
    fn stable_members_count_deliveries_and_catch_reordering() {
        let layout = Layout { sessions: 2, members: 4, publishers: 2 };
        let churn = Churn::new(layout, 8);
        let at = Instant::now();
        churn.signal(4, at, &payload(2, 0, 0)); // session 1's first publisher hears its own signal
        churn.signal(4, at, &payload(3, 0, 0));
        churn.signal(4, at, &payload(2, 1, 0));
        churn.signal(4, at, &payload(2, 0, 0)); // older than what it already had: a violation
        churn.signal(6, at, &payload(2, 5, 0)); // not a stable member: latency only
        assert_eq!(churn.stable_deliveries.load(Ordering::Relaxed), 4);
        assert_eq!(churn.violations.load(Ordering::Relaxed), 1);
        assert_eq!(churn.signal_latency.quantile_ms(1.0).map(|ms| ms > 0.0), Some(true));
    }
}
