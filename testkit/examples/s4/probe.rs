//! One measured client: a session whose events are timestamped into a shared log by a recorder task.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use otc_session::client::{Event, Session, Settings};

/// How long a join may take before the measurement gives up.
const JOIN_DEADLINE: Duration = Duration::from_secs(60);

type Log = Arc<Mutex<Vec<(Instant, Event)>>>;

/// A joined client and its timestamped events.
pub struct Probe {
    pub session: Session,
    /// The own connection id.
    pub id: String,
    log: Log,
}

impl Probe {
    /// Creates a session, starts recording its events, connects with `token` and waits for `Connected`.
    pub async fn join(token: &str, settings: Settings) -> Result<Probe, String> {
        let (session, mut events) = Session::new(None, settings);
        let log: Log = Arc::default();
        let recorder = log.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                lock(&recorder).push((Instant::now(), event));
            }
        });
        session.connect(token).map_err(|e| format!("connect refused: {e}"))?;
        let deadline = Instant::now() + JOIN_DEADLINE;
        loop {
            let outcome = lock(&log).iter().find_map(|(_, e)| match e {
                Event::Connected { own } => Some(Ok(own.id().to_string())),
                Event::Error(error) => Some(Err(format!("connect failed: {error}"))),
                _ => None,
            });
            if let Some(outcome) = outcome {
                let id = outcome?;
                return Ok(Probe { session, id, log });
            }
            if Instant::now() > deadline {
                return Err(format!("no Connected within {JOIN_DEADLINE:?}"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// When the first event matching `wanted` at or after `since` arrived.
    pub fn first(&self, since: Instant, wanted: impl Fn(&Event) -> bool) -> Option<Instant> {
        lock(&self.log).iter().find(|(at, e)| *at >= since && wanted(e)).map(|(at, _)| *at)
    }

    /// How many events match `wanted`.
    pub fn count(&self, wanted: impl Fn(&Event) -> bool) -> usize {
        lock(&self.log).iter().filter(|(_, e)| wanted(e)).count()
    }
}

fn lock(log: &Log) -> MutexGuard<'_, Vec<(Instant, Event)>> {
    log.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waits until `done()` holds or `deadline` passes; returns whether it holds.
pub async fn wait_until(deadline: Instant, mut done: impl FnMut() -> bool) -> bool {
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
