//! The Socket.IO peer baseline: bench/peer-socketio/server.js (a separate, pinned process whose CPU
//! is read from /proc) driven by bench/peer-socketio/driver.js doing S1 and S3's job.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use super::fanout::FanOutLoad;
use crate::procstat::CpuWindow;
use crate::results::{figure, Figures};
use crate::server::{bench_dir, ServerKind, ServerProcess};
use crate::system::Placement;

/// S1 against the peer.
pub async fn join_storm(size: usize, placement: Placement) -> Result<Figures, String> {
    let (result, cpu) = drive(&["s1".into(), size.to_string()], placement).await?;
    Ok(vec![
        figure("p99 join-to-notify (ms)", number(&result, "p99_ms")?),
        figure("rosters complete after last join (s)", number(&result, "complete_after_last_s")?),
        figure("presence entries/s", number(&result, "entries_per_s")?),
        figure("server CPU-s", cpu),
    ])
}

/// S3 against the peer.
pub async fn fan_out(load: FanOutLoad, placement: Placement) -> Result<Figures, String> {
    let args = [
        "s3".to_string(),
        load.members.to_string(),
        load.rate.to_string(),
        load.duration.as_millis().to_string(),
        load.publishers.to_string(),
    ];
    let (result, cpu) = drive(&args, placement).await?;
    let delivered = number(&result, "delivered")?;
    Ok(vec![
        figure("offered deliveries/s", load.rate as f64 * load.members as f64),
        figure("deliveries/s", number(&result, "deliveries_per_s")?),
        figure("p50 publish-to-receive (ms)", number(&result, "p50_ms")?),
        figure("p99 publish-to-receive (ms)", number(&result, "p99_ms")?),
        figure("p99.9 publish-to-receive (ms)", number(&result, "p999_ms")?),
        figure("server CPU-s per 1M deliveries", cpu / delivered.max(1.0) * 1e6),
        figure("ordering violations", number(&result, "violations")?),
        figure("lost deliveries", number(&result, "expected")? - delivered),
    ])
}

fn number(result: &Value, key: &str) -> Result<f64, String> {
    result.get(key).and_then(Value::as_f64).ok_or_else(|| format!("socket.io driver result has no {key}: {result}"))
}

/// Starts the peer server and the driver; measures the server's CPU between "ready" and the result.
async fn drive(args: &[String], placement: Placement) -> Result<(Value, f64), String> {
    let server = ServerProcess::start(ServerKind::SocketIo, &[], placement).await?;
    let mut driver_args = vec![bench_dir().join("peer-socketio/driver.js").display().to_string(), args[0].clone(), server.addr.port().to_string()];
    driver_args.extend(args[1..].iter().cloned());
    let mut driver = Command::new("node")
        .args(&driver_args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("start socket.io driver: {e}"))?;
    let mut stdin = driver.stdin.take().ok_or("driver has no stdin")?;
    let mut lines = BufReader::new(driver.stdout.take().ok_or("driver has no stdout")?).lines();
    let mut next_line = async |what: &str, limit: u64| -> Result<String, String> {
        tokio::time::timeout(Duration::from_secs(limit), lines.next_line())
            .await
            .map_err(|_| format!("socket.io driver: no {what} within {limit} s"))?
            .map_err(|e| format!("socket.io driver: {e}"))?
            .ok_or_else(|| format!("socket.io driver exited before {what}"))
    };
    let ready = next_line("ready", 120).await?;
    if ready != "ready" {
        return Err(format!("socket.io driver said {ready:?} instead of ready"));
    }
    let cpu = CpuWindow::open(server.pid)?;
    stdin.write_all(b"go\n").await.map_err(|e| format!("socket.io driver stdin: {e}"))?;
    let line = next_line("result", 600).await?;
    let cpu_seconds = cpu.close()?;
    let result: Value = serde_json::from_str(&line).map_err(|e| format!("socket.io driver result {line:?}: {e}"))?;
    let _ = driver.wait().await;
    server.stop().await;
    Ok((result, cpu_seconds))
}
