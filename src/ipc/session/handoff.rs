//! Starting peer B: what peer A does to a `Command` so that the child can attach, and how the
//! session learns the child's process id for its liveness watch.

use super::inner::Inner;
use super::IpcError;
use std::process::{Child, Command};
use std::sync::Weak;

/// Prepares the child process of a new session (peer B). Made by
/// [`Session::create`](super::Session::create); use it for one child.
#[derive(Debug)]
pub struct ChildHandoff {
    inner: Weak<Inner>,
    die_with_parent: bool,
}

impl ChildHandoff {
    pub(super) fn new(inner: Weak<Inner>) -> Self {
        ChildHandoff { inner, die_with_parent: false }
    }

    /// Have the child killed (SIGKILL) when the thread that spawns it exits (Linux
    /// `PR_SET_PDEATHSIG`; the kernel ties it to the spawning *thread*, so spawn from a thread
    /// that lives as long as the session). A child whose parent died before the setting took
    /// effect exits at once.
    pub fn die_with_parent(mut self, yes: bool) -> Self {
        self.die_with_parent = yes;
        self
    }

    /// Prepare `cmd` so that the child inherits the segment (see
    /// [`Segment::share_with_child`](crate::ipc::segment::Segment::share_with_child)); after
    /// spawning, pass the child to [`ChildHandoff::watch`]. [`ChildHandoff::spawn`] does both.
    pub fn prepare(&self, cmd: &mut Command) -> Result<(), IpcError> {
        let inner = self.inner.upgrade().ok_or(IpcError::Closed)?;
        inner.segment.share_with_child(cmd).map_err(|e| IpcError::Setup(e.to_string()))?;
        #[cfg(target_os = "linux")]
        if self.die_with_parent {
            kill_with_parent(cmd);
        }
        Ok(())
    }

    /// Start watching `child` as the session's peer: its exit (a pidfd) and its heartbeat.
    pub fn watch(&self, child: &Child) -> Result<(), IpcError> {
        self.watch_pid(child.id())
    }

    /// [`ChildHandoff::watch`] by process id (for a child owned elsewhere).
    pub fn watch_pid(&self, pid: u32) -> Result<(), IpcError> {
        let inner = self.inner.upgrade().ok_or(IpcError::Closed)?;
        inner.liveness.watch(pid, true)
    }

    /// Prepare `cmd`, spawn it and watch the child.
    pub fn spawn(self, cmd: &mut Command) -> Result<Child, IpcError> {
        self.prepare(cmd)?;
        let child = cmd.spawn().map_err(|e| IpcError::Setup(format!("spawning the peer: {e}")))?;
        self.watch(&child)?;
        Ok(child)
    }
}

/// Have the child that `cmd` spawns killed (SIGKILL) when the spawning thread exits (Linux
/// `PR_SET_PDEATHSIG`, which the kernel ties to the spawning *thread*). A child whose parent died
/// before the setting took effect exits at once.
#[cfg(target_os = "linux")]
pub fn kill_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    let hook = move || {
        // SAFETY: prctl and getppid are async-signal-safe and allocate nothing.
        unsafe {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::_exit(1);
            }
        }
        Ok(())
    };
    // SAFETY: the hook runs between fork and exec and only makes the calls above.
    unsafe { cmd.pre_exec(hook) };
}
