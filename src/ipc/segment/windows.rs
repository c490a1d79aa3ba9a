//! Windows: an unnamed, pagefile-backed section (`CreateFileMappingW(INVALID_HANDLE_VALUE)`), not
//! inheritable, whose handle is duplicated into the child with `DuplicateHandle`. There is no name
//! to squat or clean up, and a section cannot be resized, so no sealing is needed.
//!
//! Written against windows-sys 0.61 but not built or tested here: verified only by reading.

use super::{Backing, SegmentError, SegmentKind};
use std::os::windows::io::AsRawHandle;
use std::path::PathBuf;
use windows_sys::Win32::Foundation::{
    CloseHandle, DuplicateHandle, DUPLICATE_SAME_ACCESS, HANDLE, INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::System::Memory::{
    CreateFileMappingW, MapViewOfFile, UnmapViewOfFile, VirtualQuery, FILE_MAP_ALL_ACCESS, MEMORY_BASIC_INFORMATION,
    MEMORY_MAPPED_VIEW_ADDRESS, PAGE_READWRITE,
};
use windows_sys::Win32::System::Threading::GetCurrentProcess;

/// The section handle and its view.
pub(super) struct OsSegment {
    section: HANDLE,
    view: *mut u8,
}

// SAFETY: the handle and the view are process-wide; the view is only accessed through
// `SharedRegion` (copies, volatile reads and atomics).
unsafe impl Send for OsSegment {}
// SAFETY: as above.
unsafe impl Sync for OsSegment {}

impl OsSegment {
    pub(super) fn ptr(&self) -> *mut u8 {
        self.view
    }

    pub(super) fn kind(&self) -> SegmentKind {
        SegmentKind::Section
    }

    pub(super) fn path(&self) -> Option<PathBuf> {
        None
    }

    pub(super) fn unlink_name(&self) {}

    pub(super) fn share_with_process(&self, child: &std::process::Child) -> Result<String, SegmentError> {
        let mut target: HANDLE = std::ptr::null_mut();
        // SAFETY: our pseudo process handle, our section handle and the child's process handle
        // (owned by `child` for the duration of the call); `target` receives the handle's value in
        // the child. Not inheritable, same access.
        let ok = unsafe {
            DuplicateHandle(
                GetCurrentProcess(),
                self.section,
                child.as_raw_handle(),
                &mut target,
                0,
                0,
                DUPLICATE_SAME_ACCESS,
            )
        };
        if ok == 0 {
            return Err(SegmentError::last_os("DuplicateHandle into the child"));
        }
        Ok(format!("handle:{}", target as usize))
    }
}

impl Drop for OsSegment {
    fn drop(&mut self) {
        // SAFETY: the view and the handle came from MapViewOfFile and CreateFileMappingW (or the
        // hand-off) and are released once, here.
        unsafe {
            UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS { Value: self.view.cast() });
            CloseHandle(self.section);
        }
    }
}

/// Create an unnamed section of `total` bytes and map it.
pub(super) fn create(total: usize, backing: &Backing) -> Result<OsSegment, SegmentError> {
    let Backing::Auto = backing;
    let size = total as u64;
    // SAFETY: no file (pagefile-backed), default security (the handle is not inheritable), no name.
    let section = unsafe {
        CreateFileMappingW(
            INVALID_HANDLE_VALUE,
            std::ptr::null(),
            PAGE_READWRITE,
            (size >> 32) as u32,
            size as u32,
            std::ptr::null(),
        )
    };
    if section.is_null() {
        return Err(SegmentError::last_os("CreateFileMappingW"));
    }
    map(section, total)
}

/// Attach from a token `handle:<n>` (a handle the creator duplicated into this process).
///
/// # Safety
/// Nothing else in this process may own the handle, and the token must be used once.
pub(super) unsafe fn attach_token(token: &str, total: usize) -> Result<OsSegment, SegmentError> {
    let value = token.strip_prefix("handle:").and_then(|v| v.parse::<usize>().ok());
    let Some(value) = value.filter(|&v| v != 0) else {
        return Err(SegmentError::Handoff(format!("malformed token {token:?}, expected handle:<n>")));
    };
    map(value as HANDLE, total)
}

/// Map the whole section, then check that it holds `total` bytes. Takes ownership of `section`.
fn map(section: HANDLE, total: usize) -> Result<OsSegment, SegmentError> {
    // SAFETY: a section handle; size 0 maps the whole section (fails for any other object).
    let view = unsafe { MapViewOfFile(section, FILE_MAP_ALL_ACCESS, 0, 0, 0) };
    if view.Value.is_null() {
        let error = SegmentError::last_os("MapViewOfFile");
        // SAFETY: we own the handle and release it once.
        unsafe { CloseHandle(section) };
        return Err(error);
    }
    let segment = OsSegment { section, view: view.Value.cast() };
    let mut info = MEMORY_BASIC_INFORMATION::default();
    // SAFETY: queries our own view into a local struct of the given size.
    let filled = unsafe { VirtualQuery(view.Value, &mut info, std::mem::size_of::<MEMORY_BASIC_INFORMATION>()) };
    if filled == 0 {
        return Err(SegmentError::last_os("VirtualQuery"));
    }
    if info.RegionSize < total {
        return Err(SegmentError::TooSmall { found: info.RegionSize as u64, needed: total as u64 });
    }
    Ok(segment)
}
