//! Reads a process's CPU time and resident memory from /proc (the server's cost of the work).

use std::fs;

/// User + system CPU seconds the process has used so far (`/proc/PID/stat` utime + stime).
pub fn cpu_seconds(pid: u32) -> Result<f64, String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| format!("read /proc/{pid}/stat: {e}"))?;
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

/// Resident set size in KiB (`VmRSS` of /proc/PID/status).
pub fn rss_kib(pid: u32) -> Result<u64, String> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("read /proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status"))
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// CPU seconds a process spends between `start` and the moment `stop` is called.
pub struct CpuWindow {
    pid: u32,
    start: f64,
}

impl CpuWindow {
    /// Opens the window now.
    pub fn open(pid: u32) -> Result<CpuWindow, String> {
        Ok(CpuWindow { pid, start: cpu_seconds(pid)? })
    }

    /// CPU seconds used since `open`.
    pub fn close(&self) -> Result<f64, String> {
        Ok(cpu_seconds(self.pid)? - self.start)
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
    fn missing_process_is_an_error() {
        assert!(cpu_seconds(u32::MAX).is_err());
        assert!(rss_kib(u32::MAX).is_err());
    }
}
