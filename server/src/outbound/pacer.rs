//! Load-adaptive pacing of broadcast writes.
//!
//! Each broadcast reaches every member's socket, and each write to a socket is a system call that
//! also runs the peer's TCP receive path (~10 µs on loopback). With thousands of members, writing
//! every broadcast promptly costs more than a core can give: the runtime's queue then grows until
//! writes batch up on their own, and every task waits its turn in that queue, a new connection's
//! handshake as much as a write. Under churn (bench S5) that put the server's scheduling delay at
//! 10-50 ms on average and up to 0.5 s, and a join took 1-2 s.
//!
//! The pacer measures that delay directly: a probe task asks to wake every [`PROBE_PERIOD`] and
//! notes how late it runs. While it runs late, the least time between two broadcast writes to one
//! socket grows (more broadcasts per write, fewer writes); once it runs on time again, the interval
//! shrinks back to the configured floor. Answers and frames meant for one socket alone are not
//! paced (see [`super::run_writer`]): a client waiting for its `joinRoom` answer gets it at once.
//! With no socket open there is nothing to pace: the probe then sleeps until one opens, so an
//! idle server does not wake 100 times a second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// How often the probe asks to wake.
pub const PROBE_PERIOD: Duration = Duration::from_millis(10);
/// The pacer steps once per window of this long, from the probe's worst delay in it.
pub const WINDOW: Duration = Duration::from_millis(100);
/// A window whose worst delay reached this means the runtime is congested: the interval grows.
pub const CONGESTED: Duration = Duration::from_millis(25);
/// A window whose worst delay stayed within this means the runtime keeps up: the interval shrinks.
pub const ON_TIME: Duration = Duration::from_millis(5);

/// A busy socket's broadcasts wait no longer than this many take to gather: a write that carries
/// so many already costs little per frame, and pacing it further would only add delay (in a join
/// storm, thousands of notifications a second reach every socket).
pub const WORTH_A_WRITE: f64 = 64.0;

/// The current least time between two broadcast writes to one socket, shared by every writer.
#[derive(Debug)]
pub struct Pacer {
    floor: Duration,
    ceiling: Duration,
    interval_us: AtomicU64,
}

impl Pacer {
    /// A pacer whose interval stays within `floor..=ceiling` (a ceiling below the floor is taken
    /// as the floor: fixed pacing). It starts at the floor.
    pub fn new(floor: Duration, ceiling: Duration) -> Arc<Pacer> {
        let ceiling = ceiling.max(floor);
        Arc::new(Pacer { floor, ceiling, interval_us: AtomicU64::new(micros(floor)) })
    }

    /// The least time between two broadcast writes to one socket, now.
    pub fn interval(&self) -> Duration {
        Duration::from_micros(self.interval_us.load(Ordering::Relaxed))
    }

    /// One control step, from the probe's worst delay in a window. Congested, the interval doubles
    /// plus a millisecond (so that it leaves a zero floor); on time, it shrinks by a sixteenth plus
    /// 0.1 ms (so that it gets back to zero); in between, it stays. Congestion comes in bursts (a
    /// fan-out wakes hundreds of writers at once), so the interval grows fast and shrinks slowly:
    /// ~7 congested windows take it from 10 ms to 1 s, ~70 on-time windows (7 s) back.
    pub fn observe(&self, worst_delay: Duration) {
        let now = self.interval();
        let next = if worst_delay >= CONGESTED {
            now * 2 + Duration::from_millis(1)
        } else if worst_delay <= ON_TIME {
            now.saturating_sub(now / 16 + Duration::from_micros(100))
        } else {
            return;
        };
        let next = next.clamp(self.floor, self.ceiling);
        if next != now {
            tracing::debug!(worst_delay = ?worst_delay, interval = ?next, "pacing interval changed");
        }
        self.interval_us.store(micros(next), Ordering::Relaxed);
    }

    /// Back to the floor (nothing is paced: no socket is open).
    pub fn reset(&self) {
        self.interval_us.store(micros(self.floor), Ordering::Relaxed);
    }

    /// True when the interval can change at all.
    pub fn adapts(&self) -> bool {
        self.ceiling > self.floor
    }
}

/// One writer's pacing state: when its last write left nothing behind, and how fast its frames came.
#[derive(Debug)]
pub struct Cadence {
    last_drained: Option<Instant>,
    last_write: Option<Instant>,
    frames_per_second: f64,
    /// Frames worth a write: [`WORTH_A_WRITE`], or fewer under a small lag bound.
    gather: f64,
}

impl Cadence {
    /// The cadence of a writer whose feed reader may lag at most `lag_bound` entries: it lets at
    /// most a quarter of that gather, so that pacing alone never takes a reader past the bound (the
    /// feed then keeps entries for it that a small bound was meant to spare).
    pub fn for_lag_bound(lag_bound: usize) -> Cadence {
        Cadence { last_drained: None, last_write: None, frames_per_second: 0.0, gather: WORTH_A_WRITE.min(lag_bound as f64 / 4.0).max(1.0) }
    }

    /// When the socket's next write of broadcasts is due (`None`: at once, the last write left
    /// frames behind or there was none): `interval` after the last write, or sooner when at the
    /// socket's recent pace the frames worth a write gather before that.
    pub fn due(&self, interval: Duration) -> Option<Instant> {
        let last = self.last_drained?;
        let gather = if self.frames_per_second > 0.0 {
            Duration::from_secs_f64(self.gather / self.frames_per_second)
        } else {
            interval
        };
        Some(last + interval.min(gather))
    }

    /// Notes a write of `frames` at `now`; `drained`: nothing was left to write.
    pub fn wrote(&mut self, frames: usize, drained: bool, now: Instant) {
        if let Some(previous) = self.last_write {
            let elapsed = now.saturating_duration_since(previous).max(Duration::from_millis(1));
            self.frames_per_second = frames as f64 / elapsed.as_secs_f64();
        }
        self.last_write = Some(now);
        self.last_drained = drained.then_some(now);
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Feeds `pacer` with the runtime's scheduling delay until dropped or `sockets` (the number of
/// open WebSockets) closes (spawn it on the runtime whose writers it paces; a fixed pacer needs no
/// probe and returns at once). While no socket is open it resets the pacer and sleeps.
pub async fn run_probe(pacer: Arc<Pacer>, mut sockets: watch::Receiver<usize>) {
    if !pacer.adapts() {
        return;
    }
    let mut window_end = Instant::now() + WINDOW;
    let mut worst = Duration::ZERO;
    loop {
        if *sockets.borrow_and_update() == 0 {
            pacer.reset();
            if sockets.wait_for(|open| *open > 0).await.is_err() {
                return;
            }
            window_end = Instant::now() + WINDOW;
            worst = Duration::ZERO;
        }
        let due = Instant::now() + PROBE_PERIOD;
        tokio::time::sleep_until(due).await;
        let woke = Instant::now();
        worst = worst.max(woke.saturating_duration_since(due));
        if woke >= window_end {
            pacer.observe(worst);
            worst = Duration::ZERO;
            window_end = woke + WINDOW;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOOR: Duration = Duration::from_millis(10);
    const CEILING: Duration = Duration::from_secs(1);

    #[test]
    fn a_congested_runtime_widens_the_interval_up_to_the_ceiling() {
        let pacer = Pacer::new(FLOOR, CEILING);
        assert_eq!(pacer.interval(), FLOOR, "it starts at the floor");
        pacer.observe(CONGESTED);
        assert_eq!(pacer.interval(), Duration::from_millis(21));
        for _ in 0..7 {
            pacer.observe(Duration::from_millis(200));
        }
        assert_eq!(pacer.interval(), CEILING);
    }

    #[test]
    fn an_on_time_runtime_narrows_it_back_to_the_floor() {
        let pacer = Pacer::new(FLOOR, CEILING);
        for _ in 0..30 {
            pacer.observe(Duration::from_millis(200));
        }
        let mut steps = 0;
        while pacer.interval() > FLOOR {
            pacer.observe(Duration::ZERO);
            steps += 1;
        }
        assert!((60..=75).contains(&steps), "{steps} steps back to the floor");
        pacer.observe(Duration::ZERO);
        assert_eq!(pacer.interval(), FLOOR, "never below the floor");
    }

    #[test]
    fn a_moderate_delay_holds_the_interval() {
        let pacer = Pacer::new(FLOOR, CEILING);
        pacer.observe(Duration::from_millis(50));
        let held = pacer.interval();
        pacer.observe(Duration::from_millis(15));
        assert_eq!(pacer.interval(), held);
    }

    #[test]
    fn a_ceiling_at_or_below_the_floor_fixes_the_interval() {
        let pacer = Pacer::new(FLOOR, Duration::ZERO);
        assert!(!pacer.adapts());
        pacer.observe(Duration::from_secs(1));
        assert_eq!(pacer.interval(), FLOOR);
    }

    /// The default outbound queue: the whole 64 frames are worth a write.
    fn default_queue() -> usize {
        crate::ServerConfig::default().outbound_queue_frames
    }

    #[test]
    fn a_socket_written_once_waits_the_whole_interval() {
        let t0 = Instant::now();
        let mut cadence = Cadence::for_lag_bound(default_queue());
        assert_eq!(cadence.due(CEILING), None, "a socket never written is written at once");
        cadence.wrote(1, true, t0);
        assert_eq!(cadence.due(CEILING), Some(t0 + CEILING));
        cadence.wrote(3, false, t0 + CEILING);
        assert_eq!(cadence.due(CEILING), None, "frames left behind go out at once");
    }

    #[test]
    fn a_socket_whose_frames_come_fast_waits_only_until_a_write_is_worth_it() {
        let t0 = Instant::now();
        let mut cadence = Cadence::for_lag_bound(default_queue());
        cadence.wrote(10, true, t0);
        // 640 frames in 100 ms: 64 gather in 10 ms.
        let t1 = t0 + Duration::from_millis(100);
        cadence.wrote(640, true, t1);
        assert_eq!(cadence.due(CEILING), Some(t1 + Duration::from_millis(10)));
        // 10 frames in 1 s: the interval comes first.
        let t2 = t1 + Duration::from_secs(1);
        cadence.wrote(10, true, t2);
        assert_eq!(cadence.due(Duration::from_millis(500)), Some(t2 + Duration::from_millis(500)));
    }

    #[test]
    fn under_a_small_lag_bound_a_quarter_of_it_is_worth_a_write() {
        let t0 = Instant::now();
        let mut cadence = Cadence::for_lag_bound(64);
        cadence.wrote(10, true, t0);
        // 640 frames in 100 ms: 16 (a quarter of the bound) gather in 2.5 ms.
        let t1 = t0 + Duration::from_millis(100);
        cadence.wrote(640, true, t1);
        assert_eq!(cadence.due(CEILING), Some(t1 + Duration::from_micros(2500)));
    }

    /// Counts how often the wrapped future is polled (each poll is a wake-up of its task).
    struct CountPolls<F> {
        inner: std::pin::Pin<Box<F>>,
        polls: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl<F: std::future::Future> std::future::Future for CountPolls<F> {
        type Output = F::Output;
        fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<F::Output> {
            self.polls.fetch_add(1, Ordering::Relaxed);
            self.inner.as_mut().poll(cx)
        }
    }

    fn spawn_probe(pacer: &Arc<Pacer>, sockets: watch::Receiver<usize>) -> Arc<std::sync::atomic::AtomicUsize> {
        let polls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        tokio::spawn(CountPolls { inner: Box::pin(run_probe(pacer.clone(), sockets)), polls: polls.clone() });
        polls
    }

    #[tokio::test(start_paused = true)]
    async fn the_probe_sleeps_while_no_socket_is_open_and_wakes_every_period_while_one_is() {
        let pacer = Pacer::new(FLOOR, CEILING);
        let (open_sockets, sockets) = watch::channel(0usize);
        let polls = spawn_probe(&pacer, sockets);

        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle_polls = polls.load(Ordering::Relaxed);
        assert!(idle_polls <= 1, "{idle_polls} wake-ups in an idle second");

        open_sockets.send_replace(1);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let busy_polls = polls.load(Ordering::Relaxed) - idle_polls;
        let expected = (Duration::from_secs(1).as_millis() / PROBE_PERIOD.as_millis()) as usize;
        assert!((expected - 2..=expected + 2).contains(&busy_polls), "{busy_polls} wake-ups in a second with a socket open");

        open_sockets.send_replace(0);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let after_close = polls.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(polls.load(Ordering::Relaxed), after_close, "asleep again once the last socket closed");
    }

    #[tokio::test(start_paused = true)]
    async fn the_pacer_is_back_at_its_floor_once_no_socket_is_open() {
        let pacer = Pacer::new(FLOOR, CEILING);
        for _ in 0..5 {
            pacer.observe(Duration::from_millis(200));
        }
        assert!(pacer.interval() > FLOOR);
        let (_open_sockets, sockets) = watch::channel(0usize);
        spawn_probe(&pacer, sockets);

        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(pacer.interval(), FLOOR);
    }

    #[tokio::test(start_paused = true)]
    async fn the_probe_ends_with_the_server() {
        let pacer = Pacer::new(FLOOR, CEILING);
        let (open_sockets, sockets) = watch::channel(0usize);
        let probe = tokio::spawn(run_probe(pacer, sockets));
        drop(open_sockets);
        tokio::time::timeout(Duration::from_secs(1), probe).await.expect("the probe ended").expect("no panic");
    }

    #[test]
    fn a_zero_floor_can_still_grow() {
        let pacer = Pacer::new(Duration::ZERO, CEILING);
        pacer.observe(CONGESTED);
        assert_eq!(pacer.interval(), Duration::from_millis(1));
        for _ in 0..40 {
            pacer.observe(Duration::ZERO);
        }
        assert_eq!(pacer.interval(), Duration::ZERO, "and get back to it");
    }
}
