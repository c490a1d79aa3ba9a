//! What every Unix shares: dlopen with RTLD_NOW | RTLD_LOCAL, and `kill(pid, 0)` for liveness.

use std::path::Path;

/// Open a library with every symbol bound now and none exported to later loads.
pub fn open_library(path: &Path) -> Result<libloading::Library, String> {
    // SAFETY: loading a library runs its initialisers; the caller loads only files it copied from a
    // trusted root, which is the documented trust boundary of work modules.
    let lib = unsafe { libloading::os::unix::Library::open(Some(path), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    lib.map(Into::into).map_err(|e| e.to_string())
}

/// Whether a process with this id exists.
pub fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks for existence and permission; it sends nothing.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}
