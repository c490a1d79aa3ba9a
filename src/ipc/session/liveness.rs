//! Whether the peer lives: the operating system first, a heartbeat as the backstop.
//!
//! - Linux: a pidfd of the peer (`pidfd_open`), which becomes readable the moment the process
//!   exits (a zombie counts as exited). The monitor thread blocks in `poll` on it, so a crash is
//!   seen within scheduling latency; parks that time out poll it too (timeout 0). Without pidfd
//!   (kernels before 5.3): `waitid(WNOWAIT)` for our own child, `kill(pid, 0)` otherwise, at each
//!   tick. Other Unix systems use that fallback. (`liveness/unix.rs`.)
//! - Windows: a process handle (`OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION)`),
//!   signalled once the process exits; the monitor blocks on it and a wake event in
//!   `WaitForMultipleObjects`. Written against windows-sys 0.61, not built or tested here:
//!   verified only by reading. (`liveness/windows.rs`.)
//! - Heartbeat (this file, the same everywhere): each side stores its monotonic milliseconds
//!   ([`monotonic_ms`]: `CLOCK_MONOTONIC`, `GetTickCount64` on Windows) into its liveness word of the
//!   header (offset 128 for A, 192 for B) every interval; the peer is dead when its word has not
//!   changed for longer than the heartbeat timeout, or has never changed within the connect timeout. A
//!   stall of this side (its own tick came late) restarts the count, so a descheduled monitor
//!   does not declare a live peer dead.
//!
//! The liveness words are written by the peer: a hostile peer can only make itself look alive
//! (the operating system still reports its exit) or dead (it loses its own session).

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as sys;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as sys;

pub use sys::monotonic_ms;

use super::IpcError;
use crate::ipc::raw::SharedRegion;
use crate::ipc::segment::header::LIVENESS_OFFSETS;
use parking_lot::Mutex;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use sys::{PeerProcess, Wakeup};

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
    /// Wakes the monitor early.
    wake: Wakeup,
}

impl Liveness {
    /// The liveness of side `own` (0 = A, 1 = B): beat every `interval`, declare the peer dead
    /// after `timeout` without its beat (or `connect_timeout` before its first).
    pub fn new(own: usize, interval: Duration, timeout: Duration, connect_timeout: Duration) -> Result<Self, IpcError> {
        let wake = Wakeup::new()?;
        Ok(Liveness {
            own_word: LIVENESS_OFFSETS[own & 1],
            peer_word: LIVENESS_OFFSETS[(own + 1) & 1],
            interval,
            timeout,
            connect_timeout,
            peer: OnceLock::new(),
            watch: Mutex::new(None),
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

    /// Whether the peer's process has exited (cheap: a `poll` with timeout 0, a `kill(pid, 0)`, or
    /// a wait with timeout 0 on Windows).
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
        self.wake.wait(self.peer.get(), timeout);
    }

    /// Wake the monitor now (the session closes, or a peer was set).
    pub fn wake(&self) {
        self.wake.wake();
    }
}
