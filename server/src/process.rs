//! Process setup for a program that holds many sockets: the open-file limit and the kernel's table of
//! file descriptors. The `otc-server` binary calls these at start; an app embedding the server
//! decides for its own process.

use std::io;

/// The most descriptor slots the binaries reserve with [`reserve_fd_table`] (65,536 slots cost
/// the kernel ~520 KiB). Past it the table grows as usual.
pub const FD_TABLE_RESERVE_MAX: u64 = 65_536;

/// Raises this process's soft open-file limit to its hard limit, as Go's runtime does at start:
/// each connection holds a descriptor, and many systems set the soft limit at 1024. Returns the
/// soft limit now in force.
#[cfg(unix)]
pub fn raise_open_file_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `limit` is a valid out-pointer for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: `limit` is a valid, initialised rlimit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is u32 on some targets
    Ok(limit.rlim_cur as u64)
}

/// Grows this process's descriptor table to at least `slots` entries now, in one step, so that it
/// does not double while connections arrive. In a process with more than one thread, Linux waits for
/// an RCU grace period on each doubling (`expand_fdtable`): 8-20 ms on our 2-core VM, during which
/// the thread opening the descriptor (an accept, a connect) is blocked. A server taking 10,000
/// connections a second met four of them on its way to 19,000 (bench S2: the joins around the 4,096th,
/// 8,192nd and 16,384th connection waited 30-50 ms, the rest 3-4 ms at p99). The table never
/// shrinks; the reservation costs ~8 bytes a slot.
#[cfg(unix)]
pub fn reserve_fd_table(slots: u64) -> io::Result<()> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let highest = match slots.checked_sub(1) {
        Some(highest) if highest > 0 => libc::c_int::try_from(highest).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
        _ => return Ok(()),
    };
    let null = std::fs::File::open("/dev/null")?;
    // SAFETY: `null` is an open descriptor; F_DUPFD_CLOEXEC returns a new descriptor or -1.
    let copy = unsafe { libc::fcntl(null.as_raw_fd(), libc::F_DUPFD_CLOEXEC, highest) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `copy` was just returned by fcntl and nothing else owns it; dropping it closes it.
    drop(unsafe { OwnedFd::from_raw_fd(copy) });
    Ok(())
}

/// Prepares a process about to hold many connections, before it starts threads: raises the
/// open-file limit ([`raise_open_file_limit`]), then reserves the descriptor table for it, up to
/// [`FD_TABLE_RESERVE_MAX`] slots ([`reserve_fd_table`]). Returns the limit and the slots reserved.
pub fn prepare_descriptors() -> io::Result<(u64, u64)> {
    let limit = raise_open_file_limit()?;
    let slots = limit.min(FD_TABLE_RESERVE_MAX);
    reserve_fd_table(slots)?;
    Ok((limit, slots))
}

/// Not supported on this platform.
#[cfg(not(unix))]
pub fn raise_open_file_limit() -> io::Result<u64> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Not supported on this platform.
#[cfg(not(unix))]
pub fn reserve_fd_table(_slots: u64) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The descriptor table's size in slots, as the kernel reports it.
    fn fd_table_size() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
        let line = status.lines().find(|l| l.starts_with("FDSize:")).expect("FDSize line");
        line["FDSize:".len()..].trim().parse().expect("FDSize number")
    }

    #[test]
    fn reserving_grows_the_table_at_once_and_closes_what_it_opened() {
        let limit = raise_open_file_limit().expect("open-file limit");
        let before = fd_table_size();
        let wanted = (before * 4).min(limit);
        assert!(wanted > before, "the open-file limit ({limit}) leaves no room to grow the table ({before})");
        reserve_fd_table(wanted).expect("reserve");
        assert!(fd_table_size() >= wanted, "table {} after reserving {wanted}", fd_table_size());
        let highest = std::path::PathBuf::from(format!("/proc/self/fd/{}", wanted - 1));
        assert!(!highest.exists(), "the descriptor the reservation opened ({}) is still open", wanted - 1);
    }

    #[test]
    fn reserving_beyond_the_open_file_limit_is_an_error() {
        let limit = raise_open_file_limit().expect("open-file limit");
        assert!(reserve_fd_table(limit.saturating_add(1)).is_err());
    }

    #[test]
    #[allow(clippy::unnecessary_cast)] // rlim_t is u32 on some targets
    fn the_soft_limit_is_raised_to_the_hard_limit() {
        let read = || {
            let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            // SAFETY: valid out-pointer.
            assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0);
            limit
        };
        // Start below the hard limit (lowering the soft limit needs no privilege), so that a call
        // that changed nothing fails here.
        let mut lowered = read();
        lowered.rlim_cur = lowered.rlim_max / 2;
        // SAFETY: `lowered` is a valid rlimit read above.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) }, 0);
        assert!(read().rlim_cur < read().rlim_max, "the test needs a soft limit below the hard one");
        let soft = raise_open_file_limit().expect("open-file limit");
        let limit = read();
        assert_eq!(limit.rlim_cur, limit.rlim_max);
        assert_eq!(soft, limit.rlim_cur as u64);
    }
}
