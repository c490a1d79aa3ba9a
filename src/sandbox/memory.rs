//! The memory limit of a worker process, set from inside it.

use super::SandboxError;

/// Limits the address space of the current process (and of the processes it would start) to
/// `bytes`: soft and hard `RLIMIT_AS`, so it cannot be raised again; allocations beyond it fail.
/// Unix only; a Windows worker is limited by the job object the pool puts it in, and this returns
/// [`SandboxError::Unsupported`] there.
#[cfg(unix)]
pub fn limit_memory(bytes: u64) -> Result<(), SandboxError> {
    let limit = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
    // SAFETY: `limit` is a valid rlimit that outlives the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) } != 0 {
        let error = std::io::Error::last_os_error();
        return Err(SandboxError::Syscall { step: "setrlimit(RLIMIT_AS)", error });
    }
    Ok(())
}

/// Limits the address space of the current process: not possible from inside on this platform
/// (the pool's job object does it), so this returns [`SandboxError::Unsupported`].
#[cfg(not(unix))]
pub fn limit_memory(_bytes: u64) -> Result<(), SandboxError> {
    Err(SandboxError::Unsupported("limiting memory from inside the process"))
}
