//! otc-server's REST API, as far as setup needs it: create a session and its tokens ahead of the
//! measured window, many at once.

use std::net::SocketAddr;

use base64::Engine;
use serde::Deserialize;
use serde_json::json;

use crate::server::SECRET;

/// A token and the connection id the server fixed for it.
#[derive(Clone, Debug)]
pub struct Ticket {
    /// Token URL for `joinRoom`.
    pub token: String,
    /// Connection id the join will get.
    pub connection_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConnectionReply {
    token: String,
    connection_id: String,
}

#[derive(Deserialize)]
struct ConnectionList {
    content: Vec<ConnectionStatus>,
}

#[derive(Deserialize)]
struct ConnectionStatus {
    status: String,
}

/// REST client for one server.
#[derive(Clone)]
pub struct Rest {
    addr: SocketAddr,
    base: String,
    authorization: String,
}

/// Parallel HTTP clients used to create tokens.
const TOKEN_THREADS: usize = 4;

/// Path of the REST API on the server.
const API: &str = "/openvidu/api";

impl Rest {
    /// REST at `http://addr/openvidu/api` with the bench secret.
    pub fn new(addr: SocketAddr) -> Rest {
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!("OPENVIDUAPP:{SECRET}"));
        Rest { addr, base: format!("http://{addr}{API}"), authorization: format!("Basic {credentials}") }
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Value of the `Authorization` header (Basic, with the bench secret).
    pub fn authorization(&self) -> &str {
        &self.authorization
    }

    /// Path (from the root) that makes a connection, and so a token, in `session`.
    pub fn connection_path(session: &str) -> String {
        format!("{API}/sessions/{session}/connection")
    }

    /// POSTs the JSON text `body` to `path` (below the API's path).
    fn post(&self, agent: &ureq::Agent, path: &str, body: &str) -> Result<ureq::http::Response<ureq::Body>, String> {
        agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", &self.authorization)
            .header("Content-Type", "application/json")
            .send(body)
            .map_err(|e| format!("POST {path}: {e}"))
    }

    /// Creates a session with a custom id.
    pub fn create_session(&self, id: &str) -> Result<(), String> {
        let agent = ureq::Agent::new_with_defaults();
        self.post(&agent, "/sessions", &json!({"customSessionId": id}).to_string())?;
        Ok(())
    }

    /// Creates `count` PUBLISHER tokens for `session`, on several threads.
    pub fn create_tickets(&self, session: &str, count: usize) -> Result<Vec<Ticket>, String> {
        let per_thread = count.div_ceil(TOKEN_THREADS).max(1);
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..count)
                .step_by(per_thread)
                .map(|start| {
                    let n = per_thread.min(count - start);
                    scope.spawn(move || {
                        let agent = ureq::Agent::new_with_defaults();
                        (0..n).map(|_| self.create_ticket(&agent, session)).collect::<Result<Vec<_>, String>>()
                    })
                })
                .collect();
            let mut tickets = Vec::with_capacity(count);
            for worker in workers {
                tickets.extend(worker.join().map_err(|_| "token thread panicked".to_string())??);
            }
            Ok(tickets)
        })
    }

    /// Connections of `sessions` made over REST and not joined (yet): their tokens are still valid.
    pub fn pending_connections(&self, sessions: &[String]) -> Result<usize, String> {
        let agent = ureq::Agent::new_with_defaults();
        let mut pending = 0;
        for session in sessions {
            let path = format!("/sessions/{session}/connection");
            let mut response = agent
                .get(format!("{}{path}", self.base))
                .header("Authorization", &self.authorization)
                .call()
                .map_err(|e| format!("GET {path}: {e}"))?;
            let list: ConnectionList = response.body_mut().read_json().map_err(|e| format!("GET {path}: {e}"))?;
            pending += list.content.iter().filter(|c| c.status == "pending").count();
        }
        Ok(pending)
    }

    /// Deletes connection `connection_id` of `session` on `agent` (a pending one's token stops working).
    pub fn delete_connection(&self, agent: &ureq::Agent, session: &str, connection_id: &str) -> Result<(), String> {
        let path = format!("/sessions/{session}/connection/{connection_id}");
        agent
            .delete(format!("{}{path}", self.base))
            .header("Authorization", &self.authorization)
            .call()
            .map_err(|e| format!("DELETE {path}: {e}"))?;
        Ok(())
    }

    fn create_ticket(&self, agent: &ureq::Agent, session: &str) -> Result<Ticket, String> {
        let mut response = self.post(agent, &format!("/sessions/{session}/connection"), PUBLISHER_CONNECTION)?;
        let body = response.body_mut().read_to_vec().map_err(|e| format!("connection reply: {e}"))?;
        Ticket::from_reply(&body)
    }
}

/// Body of the request that makes a PUBLISHER connection.
pub const PUBLISHER_CONNECTION: &str = r#"{"role":"PUBLISHER"}"#;

impl Ticket {
    /// The ticket in the server's answer to `POST /sessions/{id}/connection`.
    pub fn from_reply(body: &[u8]) -> Result<Ticket, String> {
        let reply: ConnectionReply = serde_json::from_slice(body).map_err(|e| format!("connection reply: {e}"))?;
        Ok(Ticket { token: reply.token, connection_id: reply.connection_id })
    }
}
