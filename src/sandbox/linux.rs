//! Linux: the order of the layers (no_new_privs, Landlock, then seccomp) and the single-thread
//! check. Landlock and the seccomp filter live in their own files.

use super::landlock;
use super::seccomp;
use super::{SandboxError, SandboxPolicy, SandboxReport};
use std::io;

/// See [`super::apply`].
pub(super) fn apply(policy: &SandboxPolicy) -> Result<SandboxReport, SandboxError> {
    let threads = thread_count()?;
    if threads != 1 {
        return Err(SandboxError::ThreadsRunning { threads });
    }
    // Both layers need it (without CAP_SYS_ADMIN), and it keeps exec from gaining privileges.
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(SandboxError::Syscall { step: "PR_SET_NO_NEW_PRIVS", error: io::Error::last_os_error() });
    }
    let landlock = landlock::restrict(policy)?;
    let (seccomp, seccomp_denies) = seccomp::install(policy, landlock.abi)?;
    Ok(SandboxReport {
        landlock_abi: landlock.abi,
        landlock_filesystem: landlock.filesystem,
        landlock_network: landlock.network,
        landlock_scopes: landlock.scopes,
        seccomp,
        seccomp_denies,
    })
}

/// The number of threads of this process.
fn thread_count() -> Result<usize, SandboxError> {
    std::fs::read_dir("/proc/self/task")
        .map(|entries| entries.count())
        .map_err(|error| SandboxError::Syscall { step: "counting threads in /proc/self/task", error })
}
