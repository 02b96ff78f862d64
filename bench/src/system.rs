//! Process setup: CPU pinning.

use std::process::Command;

/// Number of CPUs this process may run on.
pub fn cpu_count() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Pins the calling process (and the threads it creates later) to one CPU.
pub fn pin_self_to(cpu: usize) -> Result<(), String> {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET and sched_setaffinity get valid pointers.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(format!("sched_setaffinity: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// True when the `taskset` tool can be used to pin child processes.
pub fn taskset_available() -> bool {
    Command::new("taskset").arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
}

/// Where servers and the load generator run: on different cores when the machine has two or more.
#[derive(Clone, Copy, Debug)]
pub struct Placement {
    /// Core for server processes (`None`: not pinned).
    pub server_cpu: Option<usize>,
    /// Core for this load generator and its workers.
    pub load_cpu: Option<usize>,
}

impl Placement {
    /// Server on core 0, load generator on core 1, when `taskset` exists and there are two cores.
    pub fn choose() -> Placement {
        if cpu_count() >= 2 && taskset_available() {
            Placement { server_cpu: Some(0), load_cpu: Some(1) }
        } else {
            Placement { server_cpu: None, load_cpu: None }
        }
    }
}
