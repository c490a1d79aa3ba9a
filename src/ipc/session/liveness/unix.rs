//! Unix: the clock is `CLOCK_MONOTONIC`; the peer's process is a pidfd on Linux (readable once it
//! exits), else its process id checked with `waitid(WNOWAIT)` (our own child) or `kill(pid, 0)`;
//! the monitor blocks in `poll` on an eventfd and the pidfd on Linux, and sleeps in short steps
//! elsewhere.

use super::super::IpcError;
use std::time::Duration;

/// The system's monotonic clock in milliseconds (shared by all processes of the machine).
pub fn monotonic_ms() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the struct it is given; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).saturating_mul(1000).saturating_add(ts.tv_nsec as u64 / 1_000_000)
}

/// How the peer's process is watched.
#[derive(Debug)]
pub(super) enum PeerProcess {
    /// A pidfd: readable once the process exited.
    #[cfg(target_os = "linux")]
    Pidfd(std::os::fd::OwnedFd),
    /// A process id, checked at each tick; `child` when it is our own child (not yet reaped).
    Pid { pid: libc::pid_t, child: bool },
}

impl PeerProcess {
    pub(super) fn open(pid: u32, child: bool) -> Result<Self, IpcError> {
        let pid = libc::pid_t::try_from(pid).map_err(|_| IpcError::Setup(format!("process id {pid} is invalid")))?;
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::FromRawFd;
            // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
            if fd >= 0 {
                // SAFETY: a fresh descriptor that nothing else owns.
                return Ok(PeerProcess::Pidfd(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) }));
            }
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ESRCH) {
                return Err(IpcError::PeerDead(format!("process {pid} does not exist")));
            }
            tracing::debug!(error = %e, "pidfd_open unavailable; watching the peer by its process id");
        }
        Ok(PeerProcess::Pid { pid, child })
    }

    /// The descriptor to block on, if any.
    #[cfg(target_os = "linux")]
    fn fd(&self) -> Option<i32> {
        match self {
            PeerProcess::Pidfd(fd) => Some(std::os::fd::AsRawFd::as_raw_fd(fd)),
            PeerProcess::Pid { .. } => None,
        }
    }

    /// Whether the process has exited (no waiting).
    pub(super) fn exited(&self) -> bool {
        match self {
            #[cfg(target_os = "linux")]
            PeerProcess::Pidfd(fd) => readable(std::os::fd::AsRawFd::as_raw_fd(fd)),
            PeerProcess::Pid { pid, child: true } => {
                // SAFETY: a zeroed siginfo is a valid output buffer; WNOWAIT leaves the child unreaped.
                let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
                // SAFETY: as above; waitid writes only `info`.
                let rc = unsafe {
                    libc::waitid(
                        libc::P_PID,
                        *pid as libc::id_t,
                        &mut info,
                        libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
                    )
                };
                // SAFETY: reading the pid field of a siginfo waitid filled (0 when nothing changed).
                rc != 0 || unsafe { info.si_pid() } != 0
            }
            PeerProcess::Pid { pid, child: false } => {
                // SAFETY: signal 0 sends nothing; it only checks that the process exists.
                let rc = unsafe { libc::kill(*pid, 0) };
                rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
            }
        }
    }
}

/// Whether `fd` is readable now.
#[cfg(target_os = "linux")]
fn readable(fd: i32) -> bool {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd, timeout 0.
    let rc = unsafe { libc::poll(&mut p, 1, 0) };
    rc > 0 && p.revents != 0
}

/// Wakes the monitor early: an eventfd on Linux; nothing elsewhere (the monitor sleeps in short
/// steps).
#[derive(Debug)]
pub(super) struct Wakeup {
    #[cfg(target_os = "linux")]
    fd: std::os::fd::OwnedFd,
}

impl Wakeup {
    pub(super) fn new() -> Result<Self, IpcError> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::FromRawFd;
            // SAFETY: eventfd returns a new descriptor or -1.
            let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
            if fd < 0 {
                return Err(IpcError::Setup(format!("eventfd: {}", std::io::Error::last_os_error())));
            }
            // SAFETY: a fresh descriptor that nothing else owns.
            Ok(Wakeup { fd: unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) } })
        }
        #[cfg(not(target_os = "linux"))]
        Ok(Wakeup {})
    }

    /// Block until `peer` exits, [`Wakeup::wake`] is called, or `timeout` passes.
    pub(super) fn wait(&self, peer: Option<&PeerProcess>, timeout: Duration) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let wake = self.fd.as_raw_fd();
            let mut fds = [
                libc::pollfd { fd: wake, events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: peer.and_then(PeerProcess::fd).unwrap_or(-1), events: libc::POLLIN, revents: 0 },
            ];
            let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
            // SAFETY: two valid pollfds (a negative fd is ignored by poll).
            unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
            if fds[0].revents != 0 {
                let mut value = 0u64;
                // SAFETY: reading 8 bytes from our non-blocking eventfd into a local resets it.
                unsafe { libc::read(wake, (&mut value as *mut u64).cast(), 8) };
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = peer;
            std::thread::sleep(timeout.min(Duration::from_millis(10)));
        }
    }

    /// Wake the monitor now.
    pub(super) fn wake(&self) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let one = 1u64;
            // SAFETY: writing 8 bytes from a local to our eventfd.
            unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
    }
}
