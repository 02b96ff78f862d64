//! A raw TCP proxy for resume tests that can cut one client's socket and refuse that client's
//! redials (recognised by `reconnect=true` in the WebSocket upgrade request) while letting every
//! other client through, so that others can join, leave and signal during the outage.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A running proxy; dropping it stops accepting (open pairs keep running until cut or closed).
pub struct CuttableProxy {
    pub addr: SocketAddr,
    refusing_redials: Arc<AtomicBool>,
    pairs: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept_task: JoinHandle<()>,
}

impl CuttableProxy {
    /// Listens on `listen` (port 0 = any) and forwards to `upstream`.
    pub async fn start(listen: SocketAddr, upstream: SocketAddr) -> CuttableProxy {
        let listener = TcpListener::bind(listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let refusing_redials = Arc::new(AtomicBool::new(false));
        let pairs = Arc::new(Mutex::new(Vec::new()));
        let accept_task = tokio::spawn(accept_loop(listener, upstream, refusing_redials.clone(), pairs.clone()));
        CuttableProxy { addr, refusing_redials, pairs, accept_task }
    }

    /// Cuts the `index`-th accepted connection (0 = the first) and starts refusing redials.
    pub fn cut(&self, index: usize) {
        self.refusing_redials.store(true, Ordering::SeqCst);
        self.pairs.lock().unwrap()[index].abort();
    }

    /// Lets redials through again.
    pub fn heal(&self) {
        self.refusing_redials.store(false, Ordering::SeqCst);
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.accept_task.abort();
        for pair in self.pairs.lock().unwrap().iter() {
            pair.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, refusing: Arc<AtomicBool>, pairs: Arc<Mutex<Vec<JoinHandle<()>>>>) {
    while let Ok((client, _)) = listener.accept().await {
        let refusing = refusing.clone();
        let pair = tokio::spawn(forward(client, upstream, refusing));
        pairs.lock().unwrap().push(pair);
    }
}

async fn forward(mut client: TcpStream, upstream: SocketAddr, refusing: Arc<AtomicBool>) {
    let mut head = vec![0u8; 8192];
    let mut len = 0;
    while !head[..len].windows(4).any(|w| w == b"\r\n\r\n") && len < head.len() {
        match client.read(&mut head[len..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => len += n,
        }
    }
    let request = String::from_utf8_lossy(&head[..len]);
    if refusing.load(Ordering::SeqCst) && request.contains("reconnect=true") {
        return;
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
    if server.write_all(&head[..len]).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}
