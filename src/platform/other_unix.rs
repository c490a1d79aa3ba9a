//! Other Unix systems (macOS, BSD): dlopen, `kill(pid, 0)`; no mapping check (macOS never unloads
//! images with thread-local destructors, so a closed library is reported as pinned).

use super::ProcessFigures;
use std::path::Path;

/// Open a library with every symbol bound now and none exported to later loads.
pub fn open_library(path: &Path) -> Result<libloading::Library, String> {
    // SAFETY: as on Linux: only files copied from a trusted root are loaded.
    let lib = unsafe { libloading::os::unix::Library::open(Some(path), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    lib.map(Into::into).map_err(|e| e.to_string())
}

/// Unknown on this platform.
pub fn is_mapped(_path: &Path) -> Option<bool> {
    None
}

/// No pre-check on this platform.
pub fn check_image(_path: &Path) -> Result<(), String> {
    Ok(())
}

/// Whether a process with this id exists.
pub fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks for existence.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Not collected on this platform.
pub fn process_figures() -> ProcessFigures {
    ProcessFigures::default()
}
