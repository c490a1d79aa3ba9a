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

/// The file this library (or the program it is linked into) was loaded from, by `dladdr` of one
/// of its functions.
pub fn own_image_path() -> Option<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: `Dl_info` is plain data for which all-zero is a valid value.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let address = own_image_path as *const libc::c_void;
    // SAFETY: `address` is a function of this image and `info` is writable; dladdr only reads
    // the loader's tables.
    if unsafe { libc::dladdr(address, &mut info) } == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dladdr gave a NUL-terminated name owned by the loader, valid while the image is
    // loaded, which this function's own code is.
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    Some(Path::new(std::ffi::OsStr::from_bytes(name.to_bytes())).to_path_buf())
}
