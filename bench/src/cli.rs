//! Command line: `otc-bench --quick|--full [--out FILE] [--only S1,S3] [--runs N] [--no-peer] [--no-floor]
//! [--churn-seconds N] [--churn-rate R]`
//! and the internal `otc-bench worker ...` mode.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::worker::WorkerArgs;

/// Quick (seconds, small sizes, for the test suite) or full (minutes, spec sizes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Small sizes, one run each.
    Quick,
    /// Spec sizes, medians of several runs.
    Full,
}

/// What the user asked for.
#[derive(Clone, Debug)]
pub struct Options {
    /// Quick or full.
    pub mode: Mode,
    /// Markdown output file.
    pub out: Option<PathBuf>,
    /// Scenario ids to run (empty = all).
    pub only: Vec<String>,
    /// Runs per scenario (medians); default 1 quick, 3 full.
    pub runs: usize,
    /// Skip the Socket.IO peer.
    pub no_peer: bool,
    /// Skip the floor baseline.
    pub no_floor: bool,
    /// S5's churn length in seconds, instead of the mode's (the spec's 10 minutes in full mode).
    pub churn_seconds: Option<u64>,
    /// S5's offered joins (and leaves) per second, instead of the mode's.
    pub churn_rate: Option<u32>,
}

impl Options {
    /// True when scenario `id` is selected.
    pub fn wants(&self, id: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s.eq_ignore_ascii_case(id))
    }
}

/// The two ways to start the binary.
#[derive(Debug)]
pub enum Invocation {
    /// The benchmark.
    Bench(Options),
    /// A load-generator worker process (started by S2).
    Worker(WorkerArgs),
}

/// Usage text.
pub const USAGE: &str = "usage: otc-bench (--quick | --full) [--out FILE.md] [--only S1,S2,S3,S4,S5,S6] [--runs N] [--no-peer] [--no-floor] [--churn-seconds N] [--churn-rate R]";

/// Parses the arguments (without the program name).
pub fn parse(args: &[String]) -> Result<Invocation, String> {
    if args.first().map(String::as_str) == Some("worker") {
        return parse_worker(&args[1..]).map(Invocation::Worker);
    }
    let mut mode = None;
    let mut options = Options { mode: Mode::Quick, out: None, only: Vec::new(), runs: 0, no_peer: false, no_floor: false, churn_seconds: None, churn_rate: None };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("{arg} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--quick" => mode = Some(Mode::Quick),
            "--full" => mode = Some(Mode::Full),
            "--out" => options.out = Some(PathBuf::from(value()?)),
            "--only" => options.only = value()?.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
            "--runs" => options.runs = value()?.parse().ok().filter(|n| *n > 0).ok_or_else(|| format!("--runs needs a positive whole number\n{USAGE}"))?,
            "--no-peer" => options.no_peer = true,
            "--no-floor" => options.no_floor = true,
            "--churn-seconds" => {
                let seconds = value()?.parse().ok().filter(|n| *n > 0).ok_or_else(|| format!("--churn-seconds needs a positive whole number\n{USAGE}"))?;
                options.churn_seconds = Some(seconds);
            }
            "--churn-rate" => {
                let rate = value()?.parse().ok().filter(|n| *n > 0).ok_or_else(|| format!("--churn-rate needs a positive whole number\n{USAGE}"))?;
                options.churn_rate = Some(rate);
            }
            "--help" | "-h" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    options.mode = mode.ok_or_else(|| format!("choose --quick or --full\n{USAGE}"))?;
    if options.runs == 0 {
        options.runs = if options.mode == Mode::Full { 3 } else { 1 };
    }
    if let Some(unknown) = options.only.iter().find(|s| !["S1", "S2", "S3", "S4", "S5", "S6"].contains(&s.to_uppercase().as_str())) {
        return Err(format!("--only: unknown scenario {unknown:?} (S1, S2, S3, S4, S5, S6)\n{USAGE}"));
    }
    Ok(Invocation::Bench(options))
}

fn parse_worker(args: &[String]) -> Result<WorkerArgs, String> {
    let mut server: Option<SocketAddr> = None;
    let mut first_index = 0usize;
    let mut ping_ms = 5000u64;
    let mut join_rate = 1000f64;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let value = it.next().ok_or_else(|| format!("worker: {arg} needs a value"))?;
        let bad = |e: String| format!("worker: {arg} {value:?}: {e}");
        match arg.as_str() {
            "--server" => server = Some(value.parse().map_err(|e: std::net::AddrParseError| bad(e.to_string()))?),
            "--first-index" => first_index = value.parse().map_err(|e: std::num::ParseIntError| bad(e.to_string()))?,
            "--ping-ms" => ping_ms = value.parse().map_err(|e: std::num::ParseIntError| bad(e.to_string()))?,
            "--join-rate" => {
                join_rate = value.parse().ok().filter(|r: &f64| r.is_finite() && *r > 0.0).ok_or_else(|| bad("not a positive rate".into()))?
            }
            other => return Err(format!("worker: unknown argument {other:?}")),
        }
    }
    Ok(WorkerArgs {
        server: server.ok_or("worker: --server is required")?,
        first_index,
        ping_interval: Duration::from_millis(ping_ms.max(1)),
        join_rate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn modes_and_defaults() {
        let Ok(Invocation::Bench(o)) = parse(&args("--quick --out r.md")) else { panic!() };
        assert_eq!((o.mode, o.runs, o.out.as_deref()), (Mode::Quick, 1, Some(std::path::Path::new("r.md"))));
        let Ok(Invocation::Bench(o)) = parse(&args("--full --only s1,S3")) else { panic!() };
        assert_eq!((o.mode, o.runs), (Mode::Full, 3));
        assert!(o.wants("S1") && o.wants("S3") && !o.wants("S2"));
        assert_eq!(o.churn_seconds, None);
        let Ok(Invocation::Bench(o)) = parse(&args("--full --only S5 --churn-seconds 120 --churn-rate 4000")) else { panic!() };
        assert_eq!((o.churn_seconds, o.churn_rate), (Some(120), Some(4000)));
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(parse(&args("")).is_err());
        assert!(parse(&args("--quick --runs 0")).is_err());
        assert!(parse(&args("--quick --only S9")).is_err());
        assert!(parse(&args("--quick --bogus")).is_err());
        assert!(parse(&args("--quick --out")).is_err());
        assert!(parse(&args("--full --churn-seconds 0")).is_err());
        assert!(parse(&args("--full --churn-seconds soon")).is_err());
        assert!(parse(&args("--full --churn-rate 0")).is_err());
        assert!(parse(&args("worker --first-index 3")).is_err());
        assert!(parse(&args("worker --server nowhere")).is_err());
    }

    #[test]
    fn worker_arguments() {
        let Ok(Invocation::Worker(w)) = parse(&args("worker --server 127.0.0.1:9 --first-index 15000 --ping-ms 5000 --join-rate 2500")) else { panic!() };
        assert_eq!((w.first_index, w.ping_interval, w.join_rate), (15000, Duration::from_secs(5), 2500.0));
        assert!(parse(&args("worker --server 127.0.0.1:9 --join-rate 0")).is_err());
    }
}
