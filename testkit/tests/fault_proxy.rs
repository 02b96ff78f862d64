//! Each control of the fault proxy, proved with plain TCP sockets on both ends.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use otc_testkit::FaultProxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;

/// How long a read must stay silent to count as "nothing arrived".
const SILENCE: Duration = Duration::from_millis(800);
/// Generous bound for things that must happen (slow, noisy machine).
const PATIENCE: Duration = Duration::from_secs(10);

/// An upstream server that hands every accepted socket to the test.
struct Upstream {
    addr: SocketAddr,
    accepted: mpsc::UnboundedReceiver<TcpStream>,
}

impl Upstream {
    async fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, accepted) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                if tx.send(socket).is_err() {
                    return;
                }
            }
        });
        Upstream { addr, accepted }
    }

    async fn next(&mut self) -> TcpStream {
        timeout(PATIENCE, self.accepted.recv()).await.expect("upstream accept timed out").unwrap()
    }

    async fn assert_no_new_connection(&mut self) {
        assert!(timeout(SILENCE, self.accepted.recv()).await.is_err(), "the upstream got a connection");
    }
}

/// A client socket through the proxy plus the upstream's end of it.
async fn connected_pair(proxy: &FaultProxy, upstream: &mut Upstream) -> (TcpStream, TcpStream) {
    let client = TcpStream::connect(proxy.local_addr()).await.unwrap();
    let server = upstream.next().await;
    (client, server)
}

async fn send(socket: &mut TcpStream, bytes: &[u8]) {
    socket.write_all(bytes).await.unwrap();
}

async fn receive_exactly(socket: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    timeout(PATIENCE, socket.read_exact(&mut buf)).await.expect("read timed out").unwrap();
    buf
}

/// Asserts that neither data nor EOF nor an error arrives within `SILENCE`.
async fn assert_silent(socket: &mut TcpStream, side: &str) {
    let mut buf = [0u8; 64];
    match timeout(SILENCE, socket.read(&mut buf)).await {
        Err(_) => {}
        Ok(Ok(0)) => panic!("{side} saw EOF"),
        Ok(Ok(n)) => panic!("{side} received {n} bytes"),
        Ok(Err(e)) => panic!("{side} saw an error: {e}"),
    }
}

/// Reads until the socket fails; returns the error kind, or panics on data or clean EOF.
async fn read_error_kind(socket: &mut TcpStream) -> ErrorKind {
    let mut buf = [0u8; 64];
    match timeout(PATIENCE, socket.read(&mut buf)).await.expect("no reset within the timeout") {
        Err(e) => e.kind(),
        Ok(0) => panic!("saw a clean EOF, expected a reset"),
        Ok(n) => panic!("received {n} bytes, expected a reset"),
    }
}

async fn assert_eof_or_reset(socket: &mut TcpStream) {
    let mut buf = [0u8; 64];
    match timeout(PATIENCE, socket.read(&mut buf)).await.expect("the socket stayed open") {
        Ok(0) => {}
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
        Ok(n) => panic!("received {n} bytes, expected the socket to close"),
    }
}

async fn assert_forwards_both_ways(client: &mut TcpStream, server: &mut TcpStream) {
    send(client, b"ping").await;
    assert_eq!(receive_exactly(server, 4).await, b"ping");
    send(server, b"pong").await;
    assert_eq!(receive_exactly(client, 4).await, b"pong");
}

async fn wait_for_count(proxy: &FaultProxy, expected: usize) {
    let deadline = Instant::now() + PATIENCE;
    while proxy.connection_count() != expected {
        assert!(Instant::now() < deadline, "connection_count stayed {} (expected {expected})", proxy.connection_count());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn pass_through_forwards_both_ways_and_passes_half_close() {
    let mut upstream = Upstream::start().await;
    let proxy = FaultProxy::start(upstream.addr).await.unwrap();
    assert!(proxy.local_addr().ip().is_loopback());
    assert_eq!(proxy.upstream(), upstream.addr);
    let (mut client, mut server) = connected_pair(&proxy, &mut upstream).await;
    assert_forwards_both_ways(&mut client, &mut server).await;
    assert_eq!(proxy.connection_count(), 1);

    client.shutdown().await.unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(timeout(PATIENCE, server.read(&mut buf)).await.unwrap().unwrap(), 0, "server should see the client's FIN");
    send(&mut server, b"late").await;
    assert_eq!(receive_exactly(&mut client, 4).await, b"late", "the other direction stays open after a half-close");
    drop(server);
    assert_eq!(timeout(PATIENCE, client.read(&mut buf)).await.unwrap().unwrap(), 0);
    wait_for_count(&proxy, 0).await;
}

#[tokio::test]
async fn blackhole_stops_both_directions_without_eof_or_reset() {
    let mut upstream = Upstream::start().await;
    let proxy = FaultProxy::start(upstream.addr).await.unwrap();
    let (mut client, mut server) = connected_pair(&proxy, &mut upstream).await;
    assert_forwards_both_ways(&mut client, &mut server).await;

    proxy.blackhole();
    send(&mut client, b"lost-up").await;
    send(&mut server, b"lost-down").await;
    assert_silent(&mut server, "the upstream").await;
    assert_silent(&mut client, "the client").await;
    assert_eq!(proxy.connection_count(), 1, "a blackholed connection stays open");

    // New connections are accepted but never reach the upstream.
    let mut late_client = TcpStream::connect(proxy.local_addr()).await.unwrap();
    send(&mut late_client, b"hello").await;
    upstream.assert_no_new_connection().await;
    assert_silent(&mut late_client, "the late client").await;
}

#[tokio::test]
async fn restore_forwards_new_connections_but_blackholed_ones_stay_dead() {
    let mut upstream = Upstream::start().await;
    let proxy = FaultProxy::start(upstream.addr).await.unwrap();
    let (mut client, mut server) = connected_pair(&proxy, &mut upstream).await;
    proxy.blackhole();
    let mut cut_at_accept = TcpStream::connect(proxy.local_addr()).await.unwrap();
    send(&mut client, b"buffered").await;
    wait_for_count(&proxy, 2).await;

    proxy.restore();
    assert_silent(&mut server, "the upstream of the cut connection").await;
    send(&mut server, b"after").await;
    assert_silent(&mut client, "the cut client").await;
    send(&mut cut_at_accept, b"x").await;
    upstream.assert_no_new_connection().await;

    let (mut fresh_client, mut fresh_server) = connected_pair(&proxy, &mut upstream).await;
    assert_forwards_both_ways(&mut fresh_client, &mut fresh_server).await;
}

#[tokio::test]
async fn reset_aborts_both_sides_with_rst() {
    let mut upstream = Upstream::start().await;
    let proxy = FaultProxy::start(upstream.addr).await.unwrap();
    let (mut client, mut server) = connected_pair(&proxy, &mut upstream).await;
    assert_forwards_both_ways(&mut client, &mut server).await;

    proxy.reset();
    assert_eq!(read_error_kind(&mut client).await, ErrorKind::ConnectionReset);
    assert_eq!(read_error_kind(&mut server).await, ErrorKind::ConnectionReset);
    wait_for_count(&proxy, 0).await;

    // The mode is unchanged: new connections are forwarded.
    let (mut client, mut server) = connected_pair(&proxy, &mut upstream).await;
    assert_forwards_both_ways(&mut client, &mut server).await;
}

#[tokio::test]
async fn reset_also_aborts_blackholed_connections() {
    let mut upstream = Upstream::start().await;
    let proxy = FaultProxy::start(upstream.addr).await.unwrap();
    let (mut client, mut server) = connected_pair(&proxy, &mut upstream).await;
    proxy.blackhole();
    assert_silent(&mut client, "the cut client").await;

    proxy.reset();
    assert_eq!(read_error_kind(&mut client).await, ErrorKind::ConnectionReset);
    assert_eq!(read_error_kind(&mut server).await, ErrorKind::ConnectionReset);
    wait_for_count(&proxy, 0).await;
}

#[tokio::test]
async fn delay_holds_each_chunk_back_in_each_direction() {
    let delay = Duration::from_millis(300);
    let mut upstream = Upstream::start().await;
    let proxy = FaultProxy::start(upstream.addr).await.unwrap();
    let (mut client, mut server) = connected_pair(&proxy, &mut upstream).await;
    proxy.set_delay(delay);

    let sent = Instant::now();
    send(&mut client, b"up").await;
    assert_eq!(receive_exactly(&mut server, 2).await, b"up");
    assert!(sent.elapsed() >= delay, "upstream got it after {:?}", sent.elapsed());

    let sent = Instant::now();
    send(&mut server, b"down").await;
    assert_eq!(receive_exactly(&mut client, 4).await, b"down");
    assert!(sent.elapsed() >= delay, "client got it after {:?}", sent.elapsed());

    // Chunks keep their order under delay.
    for i in 0..20u8 {
        send(&mut client, &[i]).await;
    }
    assert_eq!(receive_exactly(&mut server, 20).await, (0..20u8).collect::<Vec<_>>());

}

#[tokio::test]
async fn restore_removes_the_delay() {
    let long_delay = Duration::from_secs(8);
    let mut upstream = Upstream::start().await;
    let proxy = FaultProxy::start(upstream.addr).await.unwrap();
    let (mut client, mut server) = connected_pair(&proxy, &mut upstream).await;
    proxy.set_delay(long_delay);
    proxy.restore();

    let sent = Instant::now();
    send(&mut client, b"fast").await;
    assert_eq!(receive_exactly(&mut server, 4).await, b"fast");
    assert!(sent.elapsed() < long_delay / 2, "still delayed after restore: {:?}", sent.elapsed());
}

#[tokio::test]
async fn refuse_closes_new_connections_and_keeps_current_ones() {
    let mut upstream = Upstream::start().await;
    let proxy = FaultProxy::start(upstream.addr).await.unwrap();
    let (mut client, mut server) = connected_pair(&proxy, &mut upstream).await;

    proxy.refuse();
    let mut refused = TcpStream::connect(proxy.local_addr()).await.unwrap();
    assert_eq!(read_error_kind(&mut refused).await, ErrorKind::ConnectionReset);
    upstream.assert_no_new_connection().await;
    assert_forwards_both_ways(&mut client, &mut server).await;

    proxy.pass();
    let (mut client, mut server) = connected_pair(&proxy, &mut upstream).await;
    assert_forwards_both_ways(&mut client, &mut server).await;
}

#[tokio::test]
async fn an_unreachable_upstream_is_passed_on_as_a_reset() {
    let closed_port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let proxy = FaultProxy::start(closed_port).await.unwrap();
    let mut client = TcpStream::connect(proxy.local_addr()).await.unwrap();
    assert_eq!(read_error_kind(&mut client).await, ErrorKind::ConnectionReset);
    wait_for_count(&proxy, 0).await;
}

#[tokio::test]
async fn dropping_the_proxy_closes_every_connection_and_the_listener() {
    let mut upstream = Upstream::start().await;
    let proxy = FaultProxy::start(upstream.addr).await.unwrap();
    let listen = proxy.local_addr();
    let (mut client, mut server) = connected_pair(&proxy, &mut upstream).await;
    let (mut cut_client, _cut_server) = connected_pair(&proxy, &mut upstream).await;
    proxy.blackhole();
    assert_silent(&mut cut_client, "the cut client").await;

    drop(proxy);
    assert_eof_or_reset(&mut client).await;
    assert_eof_or_reset(&mut server).await;
    assert_eof_or_reset(&mut cut_client).await;
    let deadline = Instant::now() + PATIENCE;
    while TcpStream::connect(listen).await.is_ok() {
        assert!(Instant::now() < deadline, "the listener stayed open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn listening_outside_loopback_is_refused() {
    let upstream: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let err = FaultProxy::start_on("0.0.0.0:0".parse().unwrap(), upstream).await.err().expect("must fail");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let proxy = FaultProxy::start_on("127.0.0.1:0".parse().unwrap(), upstream).await.unwrap();
    assert!(proxy.local_addr().ip().is_loopback());
}

#[tokio::test]
async fn a_blackholed_connection_hides_the_upstream_close_from_the_client_but_records_it() {
    let mut upstream = Upstream::start().await;
    let proxy = FaultProxy::start(upstream.addr).await.unwrap();
    let (mut client, server) = connected_pair(&proxy, &mut upstream).await;
    assert!(proxy.upstream_closures().is_empty());

    proxy.blackhole();
    let before_close = Instant::now();
    drop(server);
    let deadline = Instant::now() + PATIENCE;
    while proxy.upstream_closures().is_empty() {
        assert!(Instant::now() < deadline, "the upstream's close was not recorded");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let closures = proxy.upstream_closures();
    assert_eq!(closures.len(), 1);
    assert!(closures[0] >= before_close);
    assert_silent(&mut client, "the cut client").await;
    assert_eq!(proxy.connection_count(), 1, "the client's side stays open");

    proxy.reset();
    assert_eq!(read_error_kind(&mut client).await, ErrorKind::ConnectionReset);
}
