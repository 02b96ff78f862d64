//! Tokens made from the async runtime: one kept-alive HTTP/1.1 connection to the REST API, one
//! request at a time on it, as a connection of an application server's async HTTP client pool.
//!
//! S5 makes its newcomers' tokens while the churn runs. It used blocking clients, a thread per
//! connection: every answer woke a sleeping thread on the load generator's core (`perf` under S5 at
//! 5,250/s: ~4% of the load generator's core in thread switches out of `recv`, ~4% of the server's
//! in its `writev` waking the peer). With these tasks the load generator's context switches at
//! 4,000/s went from 10.8k to 4.8k a second; both processes' CPU moved less than the VM's noise.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::rest::{Rest, Ticket, PUBLISHER_CONNECTION};

/// One kept-alive connection that makes tokens.
pub struct TokenClient {
    rest: Rest,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// Connections opened so far (1 while the server keeps the first one open).
    opened: usize,
}

impl TokenClient {
    /// A client of `rest`'s server; it connects on its first request.
    pub fn new(rest: Rest) -> TokenClient {
        TokenClient { rest, sender: None, opened: 0 }
    }

    /// Connections this client opened (a new one replaces one the server closed while idle).
    #[cfg(test)]
    pub fn connections_opened(&self) -> usize {
        self.opened
    }

    /// Makes `count` PUBLISHER tokens for `session`, one after the other.
    pub async fn create_tickets(&mut self, session: &str, count: usize) -> Result<Vec<Ticket>, String> {
        let mut tickets = Vec::with_capacity(count);
        for _ in 0..count {
            tickets.push(self.create_ticket(session).await?);
        }
        Ok(tickets)
    }

    /// Makes one PUBLISHER token for `session`.
    pub async fn create_ticket(&mut self, session: &str) -> Result<Ticket, String> {
        let path = Rest::connection_path(session);
        let request = Request::builder()
            .method(Method::POST)
            .uri(path.as_str())
            .header(HOST, self.rest.addr().to_string())
            .header(AUTHORIZATION, self.rest.authorization())
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from_static(PUBLISHER_CONNECTION.as_bytes())))
            .map_err(|e| format!("POST {path}: {e}"))?;
        let sender = self.ready_sender().await?;
        // Not retried on failure: the server may have made the connection, and a second request
        // would leave a token behind.
        let response = sender.send_request(request).await.map_err(|e| format!("POST {path}: {e}"))?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| format!("POST {path}: body: {e}"))?.to_bytes();
        if status != StatusCode::OK {
            return Err(format!("POST {path}: {status}: {}", String::from_utf8_lossy(&body)));
        }
        Ticket::from_reply(&body)
    }

    /// The connection, ready for a request: reopened when the server closed it (before any request
    /// was written on it, so nothing is lost).
    async fn ready_sender(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, String> {
        let reusable = match self.sender.as_mut() {
            Some(sender) => sender.ready().await.is_ok(),
            None => false,
        };
        if !reusable {
            let mut sender = self.connect().await?;
            sender.ready().await.map_err(|e| format!("REST connection: {e}"))?;
            self.sender = Some(sender);
        }
        self.sender.as_mut().ok_or_else(|| "REST connection missing".to_string())
    }

    async fn connect(&mut self) -> Result<SendRequest<Full<Bytes>>, String> {
        let addr = self.rest.addr();
        let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("HTTP handshake with {addr}: {e}"))?;
        tokio::spawn(async move {
            // Ends when the sender is dropped or the server closes the connection; either is seen
            // by the next request.
            let _ = connection.await;
        });
        self.opened += 1;
        Ok(sender)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::SECRET;
    use otc_server::{EmbeddedServer, ServerConfig};

    async fn server() -> EmbeddedServer {
        let config = ServerConfig { secret: SECRET.to_string(), ..ServerConfig::default() };
        EmbeddedServer::start(config).await.expect("server starts")
    }

    #[tokio::test]
    async fn makes_distinct_tokens_of_the_session_over_one_kept_alive_connection() {
        let server = server().await;
        server.create_session(Some("tokens")).expect("session");
        let mut client = TokenClient::new(Rest::new(server.local_addr()));

        let tickets = client.create_tickets("tokens", 5).await.expect("tokens");

        assert_eq!(tickets.len(), 5);
        let ids: std::collections::HashSet<_> = tickets.iter().map(|t| t.connection_id.clone()).collect();
        let tokens: std::collections::HashSet<_> = tickets.iter().map(|t| t.token.clone()).collect();
        assert_eq!((ids.len(), tokens.len()), (5, 5), "each token is its own connection");
        for ticket in &tickets {
            assert!(ticket.token.contains("sessionId=tokens"), "{}", ticket.token);
        }
        assert_eq!(client.connections_opened(), 1);
    }

    #[tokio::test]
    async fn an_unknown_session_is_an_error_with_the_status_and_the_connection_stays_usable() {
        let server = server().await;
        server.create_session(Some("known")).expect("session");
        let mut client = TokenClient::new(Rest::new(server.local_addr()));

        let error = client.create_ticket("unknown").await.expect_err("no such session");
        assert!(error.contains("404"), "{error}");

        client.create_ticket("known").await.expect("token after the error");
        assert_eq!(client.connections_opened(), 1);
    }

    #[tokio::test]
    async fn a_wrong_secret_is_refused() {
        let config = ServerConfig { secret: "another-secret".to_string(), ..ServerConfig::default() };
        let server = EmbeddedServer::start(config).await.expect("server starts");
        server.create_session(Some("locked")).expect("session");
        let mut client = TokenClient::new(Rest::new(server.local_addr()));

        let error = client.create_ticket("locked").await.expect_err("wrong secret");
        assert!(error.contains("401"), "{error}");
    }

    #[tokio::test]
    async fn a_stopped_server_is_an_error_not_a_hang() {
        let server = server().await;
        let addr = server.local_addr();
        drop(server);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let mut client = TokenClient::new(Rest::new(addr));

        let error = client.create_ticket("gone").await.expect_err("nothing listens");
        assert!(error.contains("connect"), "{error}");
    }
}
