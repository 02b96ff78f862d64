//! Reads a process's CPU time and resident memory from /proc (the server's cost of the work).

use std::fs;
use std::os::unix::fs::FileExt;

/// User + system CPU seconds the process has used so far (`/proc/PID/stat` utime + stime).
pub fn cpu_seconds(pid: u32) -> Result<f64, String> {
    parse_cpu_seconds(pid, &read(pid, "stat")?)
}

/// Resident set size in KiB (`VmRSS` of /proc/PID/status).
pub fn rss_kib(pid: u32) -> Result<u64, String> {
    parse_rss_kib(pid, &read(pid, "status")?)
}

fn read(pid: u32, name: &'static str) -> Result<String, String> {
    ProcFile::open(pid, name)?.read()
}

fn parse_cpu_seconds(pid: u32, stat: &str) -> Result<f64, String> {
    // The command name (field 2) may contain spaces: fields are counted after its closing ')'.
    let after_name = stat.rfind(')').map(|i| &stat[i + 1..]).ok_or("malformed /proc stat")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| -> Result<u64, String> {
        fields.get(i).and_then(|f| f.parse().ok()).ok_or_else(|| format!("malformed /proc/{pid}/stat field {i}"))
    };
    // After ')': index 0 is field 3 (state), so utime (field 14) is index 11 and stime (15) index 12.
    let total = ticks(11)? + ticks(12)?;
    Ok(total as f64 / clock_ticks_per_second())
}

fn parse_rss_kib(pid: u32, status: &str) -> Result<u64, String> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status"))
}

/// A /proc file of one process, kept open and read again from its start each time: a reading
/// needs no new file descriptor, so a load generator at its descriptor limit still measures.
struct ProcFile {
    pid: u32,
    name: &'static str,
    file: fs::File,
}

impl ProcFile {
    fn open(pid: u32, name: &'static str) -> Result<ProcFile, String> {
        let file = fs::File::open(format!("/proc/{pid}/{name}")).map_err(|e| format!("open /proc/{pid}/{name}: {e}"))?;
        Ok(ProcFile { pid, name, file })
    }

    fn read(&self) -> Result<String, String> {
        let mut bytes = Vec::with_capacity(4096);
        let mut chunk = [0u8; 4096];
        loop {
            let n = self.file.read_at(&mut chunk, bytes.len() as u64).map_err(|e| format!("read /proc/{}/{}: {e}", self.pid, self.name))?;
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8(bytes).map_err(|_| format!("/proc/{}/{} is not UTF-8", self.pid, self.name))
    }
}

/// Reads a process's RSS through a file opened once (see [`ProcFile`]).
pub struct RssProbe(ProcFile);

impl RssProbe {
    /// Opens `/proc/PID/status`.
    pub fn open(pid: u32) -> Result<RssProbe, String> {
        ProcFile::open(pid, "status").map(RssProbe)
    }

    /// Resident set size in KiB now.
    pub fn kib(&self) -> Result<u64, String> {
        parse_rss_kib(self.0.pid, &self.0.read()?)
    }
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// CPU seconds a process spends between `start` and the moment `stop` is called (its stat file
/// stays open in between, see [`ProcFile`]).
pub struct CpuWindow {
    stat: ProcFile,
    start: f64,
}

impl CpuWindow {
    /// Opens the window now.
    pub fn open(pid: u32) -> Result<CpuWindow, String> {
        let stat = ProcFile::open(pid, "stat")?;
        let start = parse_cpu_seconds(pid, &stat.read()?)?;
        Ok(CpuWindow { stat, start })
    }

    /// CPU seconds used since `open`.
    pub fn close(&self) -> Result<f64, String> {
        Ok(parse_cpu_seconds(self.stat.pid, &self.stat.read()?)? - self.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_has_cpu_time_and_memory() {
        let pid = std::process::id();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(cpu_seconds(pid).unwrap() >= 0.0);
        assert!(rss_kib(pid).unwrap() > 0);
    }

    #[test]
    fn an_open_probe_reads_fresh_values() {
        let probe = RssProbe::open(std::process::id()).unwrap();
        let before = probe.kib().unwrap();
        let ballast = std::hint::black_box(vec![1u8; 64 << 20]);
        let after = probe.kib().unwrap();
        assert!(after >= before + 60 * 1024, "{before} KiB -> {after} KiB with 64 MiB touched");
        drop(ballast);
        let window = CpuWindow::open(std::process::id()).unwrap();
        assert!(window.close().unwrap() >= 0.0);
    }

    #[test]
    fn missing_process_is_an_error() {
        assert!(RssProbe::open(u32::MAX).is_err());
        assert!(CpuWindow::open(u32::MAX).is_err());
        assert!(cpu_seconds(u32::MAX).is_err());
        assert!(rss_kib(u32::MAX).is_err());
    }
}
