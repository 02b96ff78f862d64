//! S2 idle connections: many sessions of 100 joined members held by worker processes, which connect
//! and join open-loop at a fixed offered rate. Measures the server's RSS per connection (VmRSS delta,
//! right after the joins and again after the idle period), the achieved connect+join rate and its
//! latency percentiles (from each join's scheduled time), and the server's CPU, joining and idle.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use crate::latency::Latency;
use crate::procstat::{self, CpuWindow};
use crate::results::{figure, Figures};
use crate::target::Target;
use crate::worker::{WorkerReport, CONNECTIONS_PER_WORKER};

/// Size of one S2 run.
#[derive(Clone, Copy, Debug)]
pub struct IdleLoad {
    /// Sessions.
    pub sessions: usize,
    /// Members per session.
    pub members: usize,
    /// How long the joined connections sit idle while CPU is measured.
    pub idle: Duration,
    /// Offered connect+join rate, per second, over all workers.
    pub join_rate: f64,
}

struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
}

async fn start_worker(target: &Target, first_index: usize, join_rate: f64, tokens: &[String]) -> Result<(Worker, tokio::io::Lines<BufReader<tokio::process::ChildStdout>>), String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut child = Command::new(exe)
        .args(["worker", "--server", &target.process.addr.to_string(), "--first-index", &first_index.to_string(), "--ping-ms", "5000", "--join-rate", &join_rate.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("start worker: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("worker has no stdin")?;
    let stdout = child.stdout.take().ok_or("worker has no stdout")?;
    let mut input = tokens.join("\n");
    input.push_str("\n\n");
    stdin.write_all(input.as_bytes()).await.map_err(|e| format!("write tokens to worker: {e}"))?;
    stdin.flush().await.map_err(|e| format!("flush worker stdin: {e}"))?;
    Ok((Worker { child, stdin: Some(stdin) }, BufReader::new(stdout).lines()))
}

/// Runs S2 against a fresh `target`.
pub async fn run(target: &Target, load: IdleLoad) -> Result<Figures, String> {
    let total = load.sessions * load.members;
    if total == 0 {
        return Err("S2 needs at least one session and member".into());
    }
    let mut tokens = Vec::with_capacity(total);
    for s in 0..load.sessions {
        let tickets = target.tickets(&format!("s2_{s}"), load.members).await?;
        tokens.extend(tickets.into_iter().map(|t| t.token));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before = procstat::rss_kib(target.pid())?;

    let join_cpu = CpuWindow::open(target.pid())?;
    let worker_count = total.div_ceil(CONNECTIONS_PER_WORKER);
    let per_worker = total.div_ceil(worker_count);
    let mut workers = Vec::new();
    let mut outputs = Vec::new();
    for (w, chunk) in tokens.chunks(per_worker).enumerate() {
        let (worker, lines) = start_worker(target, w * per_worker, load.join_rate / worker_count as f64, chunk).await?;
        workers.push(worker);
        outputs.push(lines);
    }
    let mut reports = Vec::new();
    for lines in outputs.iter_mut() {
        let line = tokio::time::timeout(Duration::from_secs(600), lines.next_line())
            .await
            .map_err(|_| "worker did not report within 600 s".to_string())?
            .map_err(|e| format!("read worker report: {e}"))?
            .ok_or("worker exited without a report")?;
        let report: WorkerReport = serde_json::from_str(&line).map_err(|e| format!("worker report {line:?}: {e}"))?;
        reports.push(report);
    }
    let join_cpu_s = join_cpu.close()?;
    let outcome = measure(target, load, rss_before, join_cpu_s, &reports).await;
    for mut worker in workers {
        drop(worker.stdin.take());
        if tokio::time::timeout(Duration::from_secs(10), worker.child.wait()).await.is_err() {
            let _ = worker.child.start_kill();
        }
    }
    outcome
}

async fn measure(target: &Target, load: IdleLoad, rss_before: u64, join_cpu_s: f64, reports: &[WorkerReport]) -> Result<Figures, String> {
    let failed: usize = reports.iter().map(|r| r.failed).sum();
    if failed > 0 {
        let first = reports.iter().find_map(|r| r.first_error.clone()).unwrap_or_default();
        return Err(format!("S2: {failed} clients failed to join (first: {first})"));
    }
    let joined: usize = reports.iter().map(|r| r.joined).sum();
    let latency = Latency::new();
    reports.iter().flat_map(|r| &r.latencies_us).for_each(|&us| latency.record_micros(us));
    let elapsed = reports.iter().map(|r| r.elapsed_s).fold(0.0, f64::max).max(1e-6);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let per_connection = |rss: u64| rss.saturating_sub(rss_before) as f64 / joined.max(1) as f64;
    let rss_joined = procstat::rss_kib(target.pid())?;
    let cpu = CpuWindow::open(target.pid())?;
    tokio::time::sleep(load.idle).await;
    let idle_cpu = cpu.close()? / load.idle.as_secs_f64();
    let rss_idle = procstat::rss_kib(target.pid())?;
    Ok(vec![
        figure("connections", joined as f64),
        figure("server RSS per connection, 1 s after the joins (KiB)", per_connection(rss_joined)),
        figure("server RSS per connection (KiB)", per_connection(rss_idle)),
        figure("offered connect+join rate (/s)", load.join_rate),
        figure("connect+join rate (/s)", joined as f64 / elapsed),
        figure("p50 connect+join (ms)", latency.quantile_ms(0.5).unwrap_or(0.0)),
        figure("p99 connect+join (ms)", latency.quantile_ms(0.99).unwrap_or(0.0)),
        figure("server CPU while joining (% of a core)", join_cpu_s / elapsed * 100.0),
        figure("load generator CPU while joining (% of a core)", reports.iter().map(|r| r.cpu_s).sum::<f64>() / elapsed * 100.0),
        figure("idle server CPU (%)", idle_cpu * 100.0),
    ])
}
