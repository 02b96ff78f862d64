//! Network loss, as specified in wire-protocol.md §5 ("Keepalive and resume") and c-api.md "Semantics" 4:
//! a client whose network drops detects it by keepalive, resumes its connection within the server's grace
//! period without the others noticing and without losing signals, and is told `Disconnected(NetworkLost)`
//! when the resume cannot happen. Connect attempts against an unreachable server fail with an `Error`.
//!
//! Faults are injected with `otc_testkit::FaultProxy` between the cut client and the embedded server; the
//! other clients connect directly. Timers are shortened (pings every 500 ms) so detection takes about a
//! second; every wait has a generous deadline and waits for an event rather than for a fixed time. The only
//! fixed sleeps are the outages themselves, which are the scenario being tested.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use otc_server::{ConnectionOptions, EmbeddedServer, Role, ServerConfig};
use otc_session::client::{
    DisconnectReason, ErrorCode, Event, EventReceiver, Session, SessionState, Settings, SignalOptions,
};
use otc_testkit::{retarget_url, FaultProxy};
use tokio::time::{sleep_until, timeout};

/// Deadline for anything that must happen (slow, noisy machine).
const PATIENCE: Duration = Duration::from_secs(30);
/// Length of a short outage, well inside the server's default 10 s grace.
const SHORT_CUT: Duration = Duration::from_secs(2);

// ---------------------------------------------------------------------------------------------
// The server side: one embedded server with one session.

/// An embedded server with one session in it.
struct Room {
    server: EmbeddedServer,
    session_id: String,
}

impl Room {
    /// Starts a server with the default grace period.
    async fn start() -> Room {
        Room::start_with(server_config()).await
    }

    async fn start_with(config: ServerConfig) -> Room {
        let server = EmbeddedServer::start(config).await.expect("the embedded server starts");
        let session_id = server.create_session(None).expect("session created");
        Room { server, session_id }
    }

    /// The server's listening address (what a proxy forwards to).
    fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// A fresh token for a direct connection.
    fn token(&self) -> String {
        self.server
            .create_connection(&self.session_id, ConnectionOptions { role: Role::Publisher, data: String::new() })
            .expect("connection created")
            .token
    }

    /// A fresh token whose client dials through `proxy`.
    fn token_via(&self, proxy: &FaultProxy) -> String {
        retarget_url(&self.token(), proxy.local_addr()).expect("a token is a URL")
    }
}

/// The server configuration of these tests: default timers, a known secret.
fn server_config() -> ServerConfig {
    ServerConfig { secret: "network-loss".into(), ..ServerConfig::default() }
}

/// A server configuration whose resume grace period is `grace`.
fn server_config_with_grace(grace: Duration) -> ServerConfig {
    ServerConfig { reconnect_grace: grace, ..server_config() }
}

// ---------------------------------------------------------------------------------------------
// The client side: a session plus the log of every event it has delivered.

/// Client timers for fast detection: a ping every 500 ms, lost after 500 ms without an answer.
fn fast_settings(name: &str) -> Settings {
    Settings {
        ping_interval: Duration::from_millis(500),
        ping_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_secs(3),
        connect_timeout: Duration::from_secs(5),
        reconnection_window: Duration::from_secs(20),
        redial_max_interval: Duration::from_millis(300),
        client_data: name.to_string(),
        ..Settings::default()
    }
}

/// One client and everything it has been told so far.
struct Peer {
    name: &'static str,
    session: Session,
    events: EventReceiver,
    /// Every event delivered so far, in order.
    log: Vec<Event>,
}

impl Peer {
    fn new(name: &'static str, settings: Settings) -> Peer {
        let (session, events) = Session::new(None, settings);
        Peer { name, session, events, log: Vec::new() }
    }

    /// Creates a client with [`fast_settings`] and joins with `token`.
    async fn join(name: &'static str, token: &str) -> Peer {
        Peer::join_with(name, token, fast_settings(name)).await
    }

    async fn join_with(name: &'static str, token: &str, settings: Settings) -> Peer {
        let mut peer = Peer::new(name, settings);
        peer.session.connect(token).expect("connect accepted");
        let outcome = peer.wait_for(0, "Connected or Error", |e| matches!(e, Event::Connected { .. } | Event::Error(_))).await;
        assert!(is_connected(&peer.log[outcome]), "{name}: the join failed: {:?}", peer.log[outcome]);
        peer
    }

    /// The own connection id.
    fn id(&self) -> String {
        self.session.own_connection().expect("connected: has an own connection").id().to_string()
    }

    /// The log position of the next event to arrive.
    fn mark(&self) -> usize {
        self.log.len()
    }

    /// Waits until an event matching `wanted` is in the log at a position `>= since`; returns that position.
    async fn wait_for(&mut self, since: usize, what: &str, wanted: impl Fn(&Event) -> bool) -> usize {
        let deadline = Instant::now() + PATIENCE;
        let mut checked = since;
        loop {
            if let Some(offset) = self.log[checked..].iter().position(&wanted) {
                return checked + offset;
            }
            checked = self.log.len();
            let left = deadline.saturating_duration_since(Instant::now());
            match timeout(left, self.events.recv()).await {
                Ok(Some(event)) => self.log.push(event),
                Ok(None) => panic!("{}: events ended while waiting for {what}; log: {:#?}", self.name, self.log),
                Err(_) => panic!("{}: no {what} within {PATIENCE:?}; log: {:#?}", self.name, self.log),
            }
        }
    }

    /// Ends the session and collects every remaining event (the receiver ends once the network task has).
    async fn close_and_drain(self) -> Vec<Event> {
        let Peer { name, session, mut events, mut log } = self;
        drop(session);
        loop {
            match timeout(PATIENCE, events.recv()).await {
                Ok(Some(event)) => log.push(event),
                Ok(None) => return log,
                Err(_) => panic!("{name}: the event stream did not end after the session was dropped"),
            }
        }
    }

    /// How many logged events match `wanted`.
    fn count(&self, wanted: impl Fn(&Event) -> bool) -> usize {
        self.log.iter().filter(|e| wanted(e)).count()
    }
}

// Event predicates.

fn is_connected(event: &Event) -> bool {
    matches!(event, Event::Connected { .. })
}

fn is_reconnection_started(event: &Event) -> bool {
    matches!(event, Event::ReconnectionStarted)
}

fn is_reconnected(event: &Event) -> bool {
    matches!(event, Event::Reconnected)
}

fn is_disconnected(event: &Event) -> bool {
    matches!(event, Event::Disconnected(_))
}

fn disconnected_by(reason: DisconnectReason) -> impl Fn(&Event) -> bool {
    move |event| matches!(event, Event::Disconnected(r) if *r == reason)
}

fn created(connection_id: &str) -> impl Fn(&Event) -> bool + '_ {
    move |event| matches!(event, Event::ConnectionCreated(c) if c.id() == connection_id)
}

fn dropped(connection_id: &str) -> impl Fn(&Event) -> bool + '_ {
    move |event| matches!(event, Event::ConnectionDropped { connection, .. } if connection.id() == connection_id)
}

fn dropped_by<'a>(connection_id: &'a str, reason: DisconnectReason) -> impl Fn(&Event) -> bool + 'a {
    move |event| {
        matches!(event, Event::ConnectionDropped { connection, reason: r }
            if connection.id() == connection_id && *r == reason)
    }
}

/// A signal of `kind` with `data`, sent by `from`.
fn signal<'a>(kind: &'a str, data: &'a str, from: &'a str) -> impl Fn(&Event) -> bool + 'a {
    move |event| {
        matches!(event, Event::SignalReceived { kind: k, data: d, from: Some(sender) }
            if k == kind && d == data && sender.id() == from)
    }
}

fn any_signal_of_kind(kind: &str) -> impl Fn(&Event) -> bool + '_ {
    move |event| matches!(event, Event::SignalReceived { kind: k, .. } if k == kind)
}

fn is_error_with(codes: &'static [ErrorCode]) -> impl Fn(&Event) -> bool {
    move |event| matches!(event, Event::Error(e) if codes.contains(&e.code))
}

/// Makes sure every peer has received everything sent to it before this call: `peers[0]` signals everyone
/// (the sender included, as upstream) and each peer waits for that signal, which the server delivers after
/// everything it sent that peer earlier. The peers' logs grow.
async fn settle(peers: &mut [&mut Peer]) {
    static ROUND: AtomicU64 = AtomicU64::new(0);
    let data = format!("round-{}", ROUND.fetch_add(1, Ordering::SeqCst));
    let sender_id = peers[0].id();
    peers[0].session.send_signal(None, "barrier", &data, SignalOptions::default()).expect("barrier signal accepted");
    for peer in peers.iter_mut() {
        peer.wait_for(0, "the barrier signal", signal("barrier", &data, &sender_id)).await;
    }
}

/// Asserts that `observer` saw `subject` join exactly once and never leave: no presence flap.
fn assert_no_flap(observer: &Peer, subject_id: &str) {
    assert_eq!(observer.count(created(subject_id)), 1, "{}: ConnectionCreated for {subject_id}: {:#?}", observer.name, observer.log);
    assert_eq!(observer.count(dropped(subject_id)), 0, "{}: ConnectionDropped for {subject_id}: {:#?}", observer.name, observer.log);
}

// ---------------------------------------------------------------------------------------------
// Resume inside the grace period.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_second_blackhole_resumes_the_same_connection_without_flaps_or_lost_signals() {
    let room = Room::start().await;
    let proxy = FaultProxy::start(room.addr()).await.unwrap();
    let mut bob = Peer::join("bob", &room.token()).await;
    let mut carol = Peer::join("carol", &room.token()).await;
    let mut alice = Peer::join("alice", &room.token_via(&proxy)).await;
    let (alice_id, bob_id) = (alice.id(), bob.id());
    bob.wait_for(0, "alice joining", created(&alice_id)).await;
    carol.wait_for(0, "alice joining", created(&alice_id)).await;

    let cut_at = Instant::now();
    proxy.blackhole();
    let started = alice.wait_for(0, "ReconnectionStarted", is_reconnection_started).await;
    assert_eq!(alice.session.state(), SessionState::Reconnecting);

    // During the outage: bob signals alice; alice signals everyone, once queued and once not.
    bob.session.send_signal(Some(&alice_id), "during-outage", "bob to alice", SignalOptions::default()).unwrap();
    alice.session.send_signal(None, "queued", "sent while reconnecting", SignalOptions { retry_after_reconnect: true }).unwrap();
    let not_retried = alice
        .session
        .send_signal(None, "not-retried", "must not arrive", SignalOptions { retry_after_reconnect: false })
        .expect_err("a signal without retry fails at once while reconnecting");
    assert_eq!(not_retried.code, ErrorCode::NotConnected);

    sleep_until((cut_at + SHORT_CUT).into()).await;
    proxy.restore();

    let resumed = alice.wait_for(started, "Reconnected", is_reconnected).await;
    assert_eq!(alice.id(), alice_id, "the resume keeps the connection id");
    assert_eq!(alice.session.state(), SessionState::Connected);
    alice.wait_for(started, "bob's signal sent during the outage", signal("during-outage", "bob to alice", &bob_id)).await;
    bob.wait_for(0, "alice's queued signal", signal("queued", "sent while reconnecting", &alice_id)).await;
    carol.wait_for(0, "alice's queued signal", signal("queued", "sent while reconnecting", &alice_id)).await;
    alice.wait_for(resumed, "her own queued signal (to everyone includes the sender)", signal("queued", "sent while reconnecting", &alice_id)).await;

    settle(&mut [&mut bob, &mut carol, &mut alice]).await;
    for observer in [&bob, &carol] {
        assert_no_flap(observer, &alice_id);
        assert_eq!(observer.count(any_signal_of_kind("not-retried")), 0, "{} got the failed signal", observer.name);
    }
    assert_eq!(alice.count(is_reconnection_started), 1, "alice: {:#?}", alice.log);
    assert_eq!(alice.count(is_reconnected), 1, "alice: {:#?}", alice.log);
    assert_eq!(alice.count(is_disconnected), 0, "alice: {:#?}", alice.log);
    assert_eq!(alice.count(signal("during-outage", "bob to alice", &bob_id)), 1, "no duplicate: {:#?}", alice.log);
    assert_eq!(bob.count(signal("queued", "sent while reconnecting", &alice_id)), 1, "no duplicate: {:#?}", bob.log);
    let roster: Vec<String> = alice.session.roster().iter().map(|c| c.id().to_string()).collect();
    assert_eq!(roster, vec![bob_id, carol.id()], "alice's roster after the resume");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_socket_resumes_at_once() {
    let room = Room::start().await;
    let proxy = FaultProxy::start(room.addr()).await.unwrap();
    let mut bob = Peer::join("bob", &room.token()).await;
    let mut alice = Peer::join("alice", &room.token_via(&proxy)).await;
    let alice_id = alice.id();

    proxy.reset();
    let started = alice.wait_for(0, "ReconnectionStarted", is_reconnection_started).await;
    alice.wait_for(started, "Reconnected", is_reconnected).await;
    assert_eq!(alice.id(), alice_id);

    settle(&mut [&mut alice, &mut bob]).await;
    assert_no_flap(&bob, &alice_id);
    assert_eq!(alice.count(is_disconnected), 0, "alice: {:#?}", alice.log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_below_the_ping_timeout_is_not_a_network_loss() {
    let room = Room::start().await;
    let proxy = FaultProxy::start(room.addr()).await.unwrap();
    let mut bob = Peer::join("bob", &room.token()).await;
    // Pings every 300 ms, each allowed 3 s: a 1 s round trip keeps several pings in flight at once.
    let patient = Settings { ping_interval: Duration::from_millis(300), ping_timeout: Duration::from_secs(3), ..fast_settings("alice") };
    let mut alice = Peer::join_with("alice", &room.token_via(&proxy), patient).await;

    proxy.set_delay(Duration::from_millis(500));
    tokio::time::sleep(Duration::from_secs(3)).await;
    settle(&mut [&mut alice, &mut bob]).await;
    proxy.restore();
    settle(&mut [&mut bob, &mut alice]).await;

    assert_eq!(alice.count(is_reconnection_started), 0, "alice: {:#?}", alice.log);
    assert_no_flap(&bob, &alice.id());
}

/// The first redial starts while the network is still down and hangs; it must not keep the client from
/// redialing once the network is back (wire-protocol.md §5: redial every 3 s), or the server's grace (10 s)
/// runs out. Uses the default `connect_timeout`; only the keepalive is shortened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redial_during_the_outage_does_not_hold_the_resume_past_the_grace() {
    let room = Room::start().await;
    let proxy = FaultProxy::start(room.addr()).await.unwrap();
    let mut bob = Peer::join("bob", &room.token()).await;
    let defaults_but_fast_pings = Settings {
        ping_interval: Duration::from_millis(500),
        ping_timeout: Duration::from_millis(500),
        client_data: "alice".into(),
        ..Settings::default()
    };
    let mut alice = Peer::join_with("alice", &room.token_via(&proxy), defaults_but_fast_pings).await;
    let alice_id = alice.id();

    let cut_at = Instant::now();
    proxy.blackhole();
    let started = alice.wait_for(0, "ReconnectionStarted", is_reconnection_started).await;
    sleep_until((cut_at + SHORT_CUT).into()).await;
    proxy.restore();

    let ended = alice.wait_for(started, "Reconnected or Disconnected", |e| is_reconnected(e) || is_disconnected(e)).await;
    assert!(is_reconnected(&alice.log[ended]), "alice did not resume: {:#?}", &alice.log[started..]);
    settle(&mut [&mut alice, &mut bob]).await;
    assert_no_flap(&bob, &alice_id);
}

/// Roster changes during an outage are delivered once each, in the order they happened, before
/// `Reconnected` (the order `Event::Reconnected` documents: "roster changes of the outage were
/// delivered before this").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_and_leaves_during_an_outage_are_delivered_once_in_order_before_reconnected() {
    let room = Room::start().await;
    let proxy = FaultProxy::start(room.addr()).await.unwrap();
    let mut bob = Peer::join("bob", &room.token()).await;
    let mut carol = Peer::join("carol", &room.token()).await;
    let mut alice = Peer::join("alice", &room.token_via(&proxy)).await;
    let (alice_id, bob_id, carol_id) = (alice.id(), bob.id(), carol.id());
    alice.wait_for(0, "bob present", created(&bob_id)).await;
    alice.wait_for(0, "carol present", created(&carol_id)).await;
    carol.wait_for(0, "alice joining", created(&alice_id)).await;

    let cut_at = Instant::now();
    proxy.blackhole();
    let started = alice.wait_for(0, "ReconnectionStarted", is_reconnection_started).await;

    let mut dave = Peer::join("dave", &room.token()).await;
    let dave_id = dave.id();
    bob.session.disconnect().unwrap();
    bob.wait_for(0, "its own Disconnected", disconnected_by(DisconnectReason::ClientDisconnected)).await;
    carol.wait_for(0, "dave joining", created(&dave_id)).await;
    carol.wait_for(0, "bob leaving", dropped(&bob_id)).await;

    sleep_until((cut_at + SHORT_CUT).into()).await;
    proxy.restore();

    let resumed = alice.wait_for(started, "Reconnected", is_reconnected).await;
    settle(&mut [&mut carol, &mut alice, &mut dave]).await;

    let joined = alice.wait_for(started, "dave joining", created(&dave_id)).await;
    let left = alice.wait_for(started, "bob leaving", dropped_by(&bob_id, DisconnectReason::ClientDisconnected)).await;
    assert!(joined < left, "dave joined before bob left: {:#?}", &alice.log[started..]);
    assert!(left < resumed, "roster changes come before Reconnected: {:#?}", &alice.log[started..]);
    assert_eq!(alice.count(created(&dave_id)), 1, "no duplicate join: {:#?}", alice.log);
    assert_eq!(alice.count(dropped(&bob_id)), 1, "no duplicate leave: {:#?}", alice.log);
    assert_eq!(alice.count(created(&bob_id)), 1, "bob is not re-announced: {:#?}", alice.log);
    let roster: Vec<String> = alice.session.roster().iter().map(|c| c.id().to_string()).collect();
    assert_eq!(roster, vec![carol_id, dave_id], "alice's roster after the resume");
    assert_no_flap(&carol, &alice_id);
    assert_no_flap(&dave, &alice_id);
}

// ---------------------------------------------------------------------------------------------
// The resume cannot happen.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_longer_than_the_grace_drops_the_client_for_everyone() {
    let room = Room::start_with(server_config_with_grace(Duration::from_secs(1))).await;
    let proxy = FaultProxy::start(room.addr()).await.unwrap();
    let mut bob = Peer::join("bob", &room.token()).await;
    let mut alice = Peer::join("alice", &room.token_via(&proxy)).await;
    let alice_id = alice.id();
    bob.wait_for(0, "alice joining", created(&alice_id)).await;

    proxy.blackhole();
    bob.wait_for(0, "alice dropped by the network", dropped_by(&alice_id, DisconnectReason::NetworkLost)).await;
    let started = alice.wait_for(0, "ReconnectionStarted", is_reconnection_started).await;
    proxy.restore();

    // The server has evicted alice: her resume is refused (40007) and she is disconnected.
    alice.wait_for(started, "Disconnected(NetworkLost)", disconnected_by(DisconnectReason::NetworkLost)).await;
    assert_eq!(alice.session.state(), SessionState::Disconnected);
    let log = alice.close_and_drain().await;
    assert_eq!(log.iter().filter(|e| is_reconnected(e)).count(), 0, "alice: {log:#?}");
    assert_eq!(log.iter().filter(|e| is_disconnected(e)).count(), 1, "alice: {log:#?}");
    assert!(log.last().is_some_and(is_disconnected), "Disconnected is the last event: {log:#?}");
    assert_eq!(bob.count(dropped(&alice_id)), 1, "bob: {:#?}", bob.log);
}

/// Server side of §5: no ping for 3 x interval closes the socket (seen by the proxy as the server's close of
/// the blackholed connection); the participant is kept for the grace period, then evicted with
/// `networkDisconnect`. The client's interval is 500 ms, so the close cannot come before 2 x 500 ms after
/// the cut (its last ping reached the server at most one interval before the cut).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_closes_a_silent_socket_by_watchdog_and_keeps_the_participant_for_the_grace() {
    let grace = Duration::from_secs(4);
    let room = Room::start_with(server_config_with_grace(grace)).await;
    let proxy = FaultProxy::start(room.addr()).await.unwrap();
    let mut bob = Peer::join("bob", &room.token()).await;
    let mut carol = Peer::join("carol", &room.token()).await;
    let alice = Peer::join("alice", &room.token_via(&proxy)).await;
    let alice_id = alice.id();
    bob.wait_for(0, "alice joining", created(&alice_id)).await;

    let cut_at = Instant::now();
    proxy.blackhole(); // never restored: alice keeps redialing into the blackhole
    let deadline = cut_at + PATIENCE;
    while proxy.upstream_closures().is_empty() {
        assert!(Instant::now() < deadline, "the server never closed alice's silent socket");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let closed_at = proxy.upstream_closures()[0];
    assert!(
        closed_at.duration_since(cut_at) >= Duration::from_millis(1000),
        "the watchdog closed the socket {:?} after the cut, before 3 x interval could pass",
        closed_at.duration_since(cut_at)
    );

    // Inside the grace: alice is still there for the others.
    settle(&mut [&mut carol, &mut bob]).await;
    assert_eq!(bob.count(dropped(&alice_id)), 0, "alice was dropped before her grace ended: {:#?}", bob.log);

    bob.wait_for(0, "alice dropped by the network", dropped_by(&alice_id, DisconnectReason::NetworkLost)).await;
    assert!(closed_at.elapsed() + Duration::from_millis(500) >= grace, "dropped {:?} after the close", closed_at.elapsed());
    drop(alice);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconnection_window_ending_disconnects_the_client() {
    let room = Room::start_with(server_config_with_grace(Duration::from_secs(2))).await;
    let proxy = FaultProxy::start(room.addr()).await.unwrap();
    let mut bob = Peer::join("bob", &room.token()).await;
    let short_window = Settings { reconnection_window: Duration::from_secs(3), ..fast_settings("alice") };
    let mut alice = Peer::join_with("alice", &room.token_via(&proxy), short_window).await;
    let alice_id = alice.id();

    proxy.blackhole(); // never restored
    let started = alice.wait_for(0, "ReconnectionStarted", is_reconnection_started).await;
    alice.session.send_signal(None, "queued", "never sent", SignalOptions::default()).unwrap();
    let ended = alice.wait_for(started, "Disconnected(NetworkLost)", disconnected_by(DisconnectReason::NetworkLost)).await;
    bob.wait_for(0, "alice dropped by the network", dropped_by(&alice_id, DisconnectReason::NetworkLost)).await;

    // The signal queued for the resume is not lost silently: it fails before the session ends.
    let failed = alice
        .wait_for(started, "the queued signal failing", is_error_with(&[ErrorCode::NotConnected, ErrorCode::SignalFailed]))
        .await;
    assert!(failed < ended, "the failure comes before Disconnected: {:#?}", &alice.log[started..]);
    let log = alice.close_and_drain().await;
    assert_eq!(log.iter().filter(|e| is_reconnected(e)).count(), 0, "alice: {log:#?}");
    assert!(log.last().is_some_and(is_disconnected), "Disconnected is the last event: {log:#?}");
    settle(&mut [&mut bob]).await;
    assert_eq!(bob.count(any_signal_of_kind("queued")), 0, "bob: {:#?}", bob.log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restarted_on_the_same_port_refuses_the_resume() {
    let room = Room::start().await;
    let server_addr = room.addr();
    let mut alice = Peer::join("alice", &room.token()).await;

    // The server goes away with all its state (its sockets drop); a new one takes over the same port.
    room.server.shutdown().await;
    let started = alice.wait_for(0, "ReconnectionStarted", is_reconnection_started).await;
    let restarted = EmbeddedServer::start(ServerConfig { listen: server_addr, ..server_config() })
        .await
        .expect("a new server starts on the same port");

    // The new server does not know alice's RPC session: `connect` fails with 40007, alice is disconnected.
    alice.wait_for(started, "Disconnected(NetworkLost)", disconnected_by(DisconnectReason::NetworkLost)).await;
    let log = alice.close_and_drain().await;
    assert_eq!(log.iter().filter(|e| is_reconnected(e)).count(), 0, "alice: {log:#?}");
    assert_eq!(log.iter().filter(|e| is_disconnected(e)).count(), 1, "alice: {log:#?}");
    assert!(log.last().is_some_and(is_disconnected), "Disconnected is the last event: {log:#?}");
    restarted.shutdown().await;
}

/// The app gives up while the client is resuming: `disconnect()` ends the session at once with
/// `Disconnected(ClientDisconnected)` as its last event (c-api.md Semantics 3), even though the network is down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnecting_while_reconnecting_ends_the_session_at_once() {
    let room = Room::start_with(server_config_with_grace(Duration::from_secs(1))).await;
    let proxy = FaultProxy::start(room.addr()).await.unwrap();
    let mut bob = Peer::join("bob", &room.token()).await;
    let mut alice = Peer::join("alice", &room.token_via(&proxy)).await;
    let alice_id = alice.id();

    proxy.blackhole(); // never restored
    let started = alice.wait_for(0, "ReconnectionStarted", is_reconnection_started).await;
    alice.session.disconnect().expect("disconnect is allowed while reconnecting");
    alice.wait_for(started, "Disconnected(ClientDisconnected)", disconnected_by(DisconnectReason::ClientDisconnected)).await;
    assert_eq!(alice.session.state(), SessionState::Disconnected);
    let log = alice.close_and_drain().await;
    assert_eq!(log.iter().filter(|e| is_disconnected(e)).count(), 1, "alice: {log:#?}");
    assert!(log.last().is_some_and(is_disconnected), "Disconnected is the last event: {log:#?}");
    assert_eq!(log.iter().filter(|e| is_reconnected(e)).count(), 0, "alice: {log:#?}");

    // The server never heard the leave: for the others alice is lost with the network once her grace ends.
    bob.wait_for(0, "alice dropped", dropped_by(&alice_id, DisconnectReason::NetworkLost)).await;
}

// ---------------------------------------------------------------------------------------------
// Connect attempts against an unreachable server.

/// Asserts that a failed connect attempt ends with one `Error` with one of `codes`, leaves the session
/// `Idle`, and never emits `Disconnected` (c-api.md Semantics 3).
async fn assert_connect_fails(mut peer: Peer, codes: &'static [ErrorCode]) -> Peer {
    peer.wait_for(0, &format!("an Error with one of {codes:?}"), is_error_with(codes)).await;
    assert_eq!(peer.session.state(), SessionState::Idle);
    assert_eq!(peer.session.disconnect().map_err(|e| e.code), Err(ErrorCode::NotConnected));
    assert_eq!(peer.count(is_connected), 0, "{}: {:#?}", peer.name, peer.log);
    assert_eq!(peer.count(is_disconnected), 0, "{}: {:#?}", peer.name, peer.log);
    peer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_a_closed_port_fails_with_an_error_and_no_disconnected() {
    let closed_port = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let alice = Peer::new("alice", fast_settings("alice"));
    let started = Instant::now();
    alice.session.connect(&format!("ws://{closed_port}?sessionId=ses_Unreachabl&token=tok_0123456789abcdef")).unwrap();
    let alice = assert_connect_fails(alice, &[ErrorCode::ConnectionRefused, ErrorCode::ConnectionFailed]).await;
    assert!(started.elapsed() < PATIENCE);
    let log = alice.close_and_drain().await;
    assert_eq!(log.iter().filter(|e| is_disconnected(e)).count(), 0, "alice: {log:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_into_a_blackhole_times_out_with_an_error_then_works_once_restored() {
    let room = Room::start().await;
    let proxy = FaultProxy::start(room.addr()).await.unwrap();
    proxy.blackhole();
    let quick = Settings { connect_timeout: Duration::from_secs(2), ..fast_settings("alice") };
    let alice = Peer::new("alice", quick);
    alice.session.connect(&room.token_via(&proxy)).unwrap();
    let mut alice = assert_connect_fails(alice, &[ErrorCode::TimedOut, ErrorCode::ConnectionFailed]).await;

    // The failed attempt changed nothing: once the network is back the same session connects.
    proxy.restore();
    let since = alice.mark();
    alice.session.connect(&room.token_via(&proxy)).unwrap();
    alice.wait_for(since, "Connected", is_connected).await;
    assert_eq!(alice.session.state(), SessionState::Connected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_through_a_refusing_network_fails_with_an_error() {
    let room = Room::start().await;
    let proxy = FaultProxy::start(room.addr()).await.unwrap();
    proxy.refuse();
    let alice = Peer::new("alice", fast_settings("alice"));
    alice.session.connect(&room.token_via(&proxy)).unwrap();
    let alice = assert_connect_fails(alice, &[ErrorCode::ConnectionRefused, ErrorCode::ConnectionFailed]).await;
    let log = alice.close_and_drain().await;
    assert_eq!(log.iter().filter(|e| is_disconnected(e)).count(), 0, "alice: {log:#?}");
}
