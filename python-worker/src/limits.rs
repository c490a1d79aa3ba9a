//! What the worker applies to itself before it starts Python: the address-space limit and,
//! when enabled, the sandbox.

use plughost::python::protocol::WorkerSettings;

/// Apply `settings`' limits to this process.
pub fn apply(settings: &WorkerSettings) -> Result<(), String> {
    if settings.memory_limit > 0 {
        limit_address_space(settings.memory_limit)?;
    }
    Ok(())
}

#[cfg(unix)]
fn limit_address_space(bytes: u64) -> Result<(), String> {
    let limit = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
    // SAFETY: `limit` is a valid rlimit that outlives the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) } != 0 {
        return Err(format!("cannot limit the address space to {bytes} bytes: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(not(unix))]
fn limit_address_space(_bytes: u64) -> Result<(), String> {
    // Windows: the host puts the worker in a job object with a memory limit (not built yet).
    Err("a memory limit is only enforced on Linux so far".into())
}
