//! Starting peer B: what peer A does to a `Command` so that the child can attach, how the session
//! learns the child's process id for its liveness watch, and how the child learns its creator's.
//!
//! Windows (written against windows-sys 0.61, not built or tested here: verified only by
//! reading): [`ChildHandoff::watch`] also completes the hand-off (the handles are duplicated into
//! the started child and named on its standard input), and the child watches the process id the
//! environment variable names. No equivalent of `kill_with_parent` exists there yet (a job
//! object with `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE` would be one): a child outlives its parent
//! until its own session sees the parent's exit.

use super::inner::Inner;
use super::IpcError;
use crate::ipc::segment::Segment;
use std::process::{Child, Command};
use std::sync::Weak;

/// Prepares the child process of a new session (peer B). Made by
/// [`Session::create`](super::Session::create); use it for one child.
#[derive(Debug)]
pub struct ChildHandoff {
    inner: Weak<Inner>,
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    die_with_parent: bool,
}

impl ChildHandoff {
    pub(super) fn new(inner: Weak<Inner>) -> Self {
        ChildHandoff { inner, die_with_parent: false }
    }

    /// Have the child killed (SIGKILL) when the thread that spawns it exits (Linux
    /// `PR_SET_PDEATHSIG`; the kernel ties it to the spawning *thread*, so spawn from a thread
    /// that lives as long as the session). A child whose parent died before the setting took
    /// effect exits at once. Has no effect elsewhere (see the module's notes on Windows).
    pub fn die_with_parent(mut self, yes: bool) -> Self {
        self.die_with_parent = yes;
        self
    }

    /// Prepare `cmd` so that the child inherits the segment (see
    /// [`Segment::share_with_child`]; on Windows the child's standard input becomes the hand-off
    /// pipe); after spawning, pass the child to [`ChildHandoff::watch`]. [`ChildHandoff::spawn`]
    /// does both.
    pub fn prepare(&self, cmd: &mut Command) -> Result<(), IpcError> {
        let inner = self.inner.upgrade().ok_or(IpcError::Closed)?;
        inner.segment.share_with_child(cmd).map_err(|e| IpcError::Setup(e.to_string()))?;
        #[cfg(target_os = "linux")]
        if self.die_with_parent {
            kill_with_parent(cmd);
        }
        Ok(())
    }

    /// Complete the hand-off to `child` (Windows: see [`Segment::complete_handoff`]; nothing to do
    /// on Unix) and start watching it as the session's peer: its exit (a pidfd, a process handle
    /// on Windows) and its heartbeat.
    pub fn watch(&self, child: &Child) -> Result<(), IpcError> {
        let inner = self.inner.upgrade().ok_or(IpcError::Closed)?;
        inner.segment.complete_handoff(child).map_err(|e| IpcError::Setup(e.to_string()))?;
        self.watch_pid(child.id())
    }

    /// Watch a child by process id (for a child owned elsewhere). On Unix the same as
    /// [`ChildHandoff::watch`]; on Windows it does not complete the hand-off, so a child prepared
    /// by [`ChildHandoff::prepare`] needs [`ChildHandoff::watch`].
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

/// The process id of the creator (peer A) that an attaching child watches: the one recorded in the
/// segment's header on Unix, the one the hand-off's environment variable names on Windows.
pub(super) fn creator_pid(segment: &Segment) -> Result<u32, IpcError> {
    #[cfg(windows)]
    {
        let _ = segment;
        let env = std::env::var(crate::ipc::segment::HANDOFF_ENV).unwrap_or_default();
        crate::ipc::segment::token::parse_stdin_env(&env)
            .ok_or_else(|| IpcError::Setup(format!("malformed hand-off variable {env:?}")))
    }
    #[cfg(not(windows))]
    Ok(segment.creator_pid())
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
