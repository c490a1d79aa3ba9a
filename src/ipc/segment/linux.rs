//! Linux: the segment is a memfd sealed against resizing, so neither peer can shrink it under the
//! other's mapping (which would fault the other side with SIGBUS).

use super::SegmentError;
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};

/// The seals a segment memfd carries: no shrinking, no growing, no further seal changes.
pub(super) const SEALS: libc::c_int = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;

/// A new memfd of `total` bytes (close-on-exec), sealed.
pub(super) fn create_memfd(total: usize) -> Result<File, SegmentError> {
    let name = format!("plughost-{}-{}", std::process::id(), super::unix::random_hex()?);
    let name = CString::new(name).map_err(|_| SegmentError::Layout("NUL in the memfd name".into()))?;
    // SAFETY: a NUL-terminated name and valid flags; returns a new descriptor or -1.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(SegmentError::last_os("memfd_create"));
    }
    // SAFETY: `fd` is fresh and owned by nothing else.
    let file = unsafe { File::from_raw_fd(fd) };
    file.set_len(total as u64).map_err(|e| SegmentError::io("size the memfd", e))?;
    // SAFETY: fcntl with an integer argument on our own descriptor.
    if unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, SEALS) } < 0 {
        return Err(SegmentError::last_os("seal the memfd"));
    }
    Ok(file)
}

/// Whether the object is a sealed memfd (`true`), or an object that never allowed sealing such as
/// the fallback file (`false`). A memfd that allows sealing but lacks the seals is refused.
pub(super) fn check_seals(file: &File) -> Result<bool, SegmentError> {
    // SAFETY: F_GET_SEALS reads the seals of our own descriptor; no pointer is involved.
    let seals = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GET_SEALS) };
    if seals < 0 {
        // EINVAL: a file system without sealing.
        return Ok(false);
    }
    let fixed = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW;
    if seals & fixed == fixed {
        Ok(true)
    } else if seals & libc::F_SEAL_SEAL != 0 {
        // Sealing was never allowed (a plain tmpfs file); the same trust as the fallback file.
        Ok(false)
    } else {
        Err(SegmentError::NotSealed { seals })
    }
}
