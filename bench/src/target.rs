//! A server under test for the raw load generator: otc-server (tokens over REST) or the floor
//! baseline (tokens made up locally: it checks none).

use crate::rest::{Rest, Ticket};
use crate::server::{ServerKind, ServerProcess};
use crate::system::Placement;

/// A started WebSocket server the raw clients can join.
pub struct Target {
    /// The process.
    pub process: ServerProcess,
}

impl Target {
    /// Starts a fresh server of `kind` (ours or floor) with extra arguments.
    pub async fn start(kind: ServerKind, extra_args: &[String], placement: Placement) -> Result<Target, String> {
        if kind == ServerKind::SocketIo {
            return Err("the Socket.IO peer is driven by its own Node driver".into());
        }
        Ok(Target { process: ServerProcess::start(kind, extra_args, placement).await? })
    }

    /// Creates session `session` and `count` tokens for it (setup, outside any measured window).
    pub async fn tickets(&self, session: &str, count: usize) -> Result<Vec<Ticket>, String> {
        match self.process.kind {
            ServerKind::Ours => {
                let rest = Rest::new(self.process.addr);
                let session = session.to_string();
                tokio::task::spawn_blocking(move || {
                    rest.create_session(&session)?;
                    rest.create_tickets(&session, count)
                })
                .await
                .map_err(|e| format!("token task: {e}"))?
            }
            _ => Ok(floor_tickets(&self.process.addr.to_string(), session, count)),
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.process.pid
    }
}

/// Tokens for the floor server: it uses the `token` value as the connection id.
pub fn floor_tickets(host: &str, session: &str, count: usize) -> Vec<Ticket> {
    (0..count)
        .map(|i| {
            let connection_id = format!("con_{session}_{i}");
            Ticket { token: format!("ws://{host}?sessionId={session}&token={connection_id}"), connection_id }
        })
        .collect()
}
