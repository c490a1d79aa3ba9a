//! Whether the peer lives: the operating system first, a heartbeat as the backstop.
//!
//! - Linux: a pidfd of the peer (`pidfd_open`), which becomes readable the moment the process
//!   exits (a zombie counts as exited). The monitor thread blocks in `poll` on it, so a crash is
//!   seen within scheduling latency; parks that time out poll it too (timeout 0). Without pidfd
//!   (kernels before 5.3): `waitid(WNOWAIT)` for our own child, `kill(pid, 0)` otherwise, at each
//!   tick. Other Unix systems use that fallback.
//! - Heartbeat: each side stores its `CLOCK_MONOTONIC` milliseconds into its liveness word of the
//!   header (offset 128 for A, 192 for B) every interval; the peer is dead when its word has not
//!   changed for longer than the heartbeat timeout, or has never changed within the connect timeout. A
//!   stall of this side (its own tick came late) restarts the count, so a descheduled monitor
//!   does not declare a live peer dead.
//!
//! The liveness words are written by the peer: a hostile peer can only make itself look alive
//! (the operating system still reports its exit) or dead (it loses its own session).

use super::IpcError;
use crate::ipc::raw::SharedRegion;
use crate::ipc::segment::header::LIVENESS_OFFSETS;
use parking_lot::Mutex;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The system's monotonic clock in milliseconds (shared by all processes of the machine).
pub fn monotonic_ms() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the struct it is given; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).saturating_mul(1000).saturating_add(ts.tv_nsec as u64 / 1_000_000)
}

/// How the peer's process is watched.
#[derive(Debug)]
enum PeerProcess {
    /// A pidfd: readable once the process exited.
    #[cfg(target_os = "linux")]
    Pidfd(std::os::fd::OwnedFd),
    /// A process id, checked at each tick; `child` when it is our own child (not yet reaped).
    Pid { pid: libc::pid_t, child: bool },
}

impl PeerProcess {
    fn open(pid: u32, child: bool) -> Result<Self, IpcError> {
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
    fn fd(&self) -> Option<i32> {
        match self {
            #[cfg(target_os = "linux")]
            PeerProcess::Pidfd(fd) => Some(std::os::fd::AsRawFd::as_raw_fd(fd)),
            PeerProcess::Pid { .. } => None,
        }
    }

    /// Whether the process has exited (no waiting).
    fn exited(&self) -> bool {
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
fn readable(fd: i32) -> bool {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd, timeout 0.
    let rc = unsafe { libc::poll(&mut p, 1, 0) };
    rc > 0 && p.revents != 0
}

/// The heartbeat watch's state.
#[derive(Debug)]
struct Watch {
    /// When watching began (connect timeout).
    since: Instant,
    last_value: u64,
    last_change: Instant,
    seen: bool,
    last_tick: Instant,
}

/// The liveness of one session: this side's heartbeat, and the watch over the peer.
#[derive(Debug)]
pub struct Liveness {
    own_word: usize,
    peer_word: usize,
    interval: Duration,
    timeout: Duration,
    connect_timeout: Duration,
    peer: OnceLock<PeerProcess>,
    watch: Mutex<Option<Watch>>,
    /// Wakes the monitor early (an eventfd on Linux).
    #[cfg(target_os = "linux")]
    wake: std::os::fd::OwnedFd,
}

impl Liveness {
    /// The liveness of side `own` (0 = A, 1 = B): beat every `interval`, declare the peer dead
    /// after `timeout` without its beat (or `connect_timeout` before its first).
    pub fn new(own: usize, interval: Duration, timeout: Duration, connect_timeout: Duration) -> Result<Self, IpcError> {
        #[cfg(target_os = "linux")]
        let wake = {
            use std::os::fd::FromRawFd;
            // SAFETY: eventfd returns a new descriptor or -1.
            let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
            if fd < 0 {
                return Err(IpcError::Setup(format!("eventfd: {}", std::io::Error::last_os_error())));
            }
            // SAFETY: a fresh descriptor that nothing else owns.
            unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
        };
        Ok(Liveness {
            own_word: LIVENESS_OFFSETS[own & 1],
            peer_word: LIVENESS_OFFSETS[(own + 1) & 1],
            interval,
            timeout,
            connect_timeout,
            peer: OnceLock::new(),
            watch: Mutex::new(None),
            #[cfg(target_os = "linux")]
            wake,
        })
    }

    /// The heartbeat interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Start watching the peer process `pid` (`child`: our own, unreaped child) and its heartbeat.
    /// Only the first call counts.
    pub fn watch(&self, pid: u32, child: bool) -> Result<(), IpcError> {
        let process = PeerProcess::open(pid, child)?;
        if self.peer.set(process).is_ok() {
            let now = Instant::now();
            *self.watch.lock() =
                Some(Watch { since: now, last_value: 0, last_change: now, seen: false, last_tick: now });
            self.wake();
        }
        Ok(())
    }

    /// Store this side's heartbeat.
    pub fn beat(&self, region: &SharedRegion) {
        if let Some(word) = region.atomic_u64(self.own_word) {
            word.store(monotonic_ms(), Ordering::Release);
        }
    }

    /// Whether the peer's process has exited (cheap: a `poll` with timeout 0, or a `kill(pid, 0)`).
    pub fn process_exited(&self) -> Option<String> {
        let peer = self.peer.get()?;
        peer.exited().then(|| "its process exited".to_string())
    }

    /// The monitor's tick: the process check, then the heartbeat rule.
    pub fn check(&self, region: &SharedRegion) -> Option<String> {
        if let Some(why) = self.process_exited() {
            return Some(why);
        }
        let value = region.atomic_u64(self.peer_word).map_or(0, |w| w.load(Ordering::Acquire));
        let mut guard = self.watch.lock();
        let watch = guard.as_mut()?;
        let now = Instant::now();
        if now.duration_since(watch.last_tick) > 2 * self.interval {
            // This side stalled (descheduled, suspended): that is not the peer's death.
            watch.last_change = now;
        }
        watch.last_tick = now;
        if value != watch.last_value {
            watch.last_value = value;
            watch.last_change = now;
            watch.seen = true;
            return None;
        }
        if !watch.seen {
            let waited = now.duration_since(watch.since);
            return (waited > self.connect_timeout)
                .then(|| format!("no heartbeat within the connect timeout ({} ms)", waited.as_millis()));
        }
        let silent = now.duration_since(watch.last_change);
        (silent > self.timeout).then(|| format!("no heartbeat for {} ms", silent.as_millis()))
    }

    /// Block until the peer's process exits, [`Liveness::wake`] is called, or `timeout` passes.
    pub fn wait(&self, timeout: Duration) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let wake = self.wake.as_raw_fd();
            let mut fds = [
                libc::pollfd { fd: wake, events: libc::POLLIN, revents: 0 },
                libc::pollfd {
                    fd: self.peer.get().and_then(PeerProcess::fd).unwrap_or(-1),
                    events: libc::POLLIN,
                    revents: 0,
                },
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
        std::thread::sleep(timeout.min(Duration::from_millis(10)));
    }

    /// Wake the monitor now (the session closes, or a peer was set).
    pub fn wake(&self) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let one = 1u64;
            // SAFETY: writing 8 bytes from a local to our eventfd.
            unsafe { libc::write(self.wake.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
    }
}
