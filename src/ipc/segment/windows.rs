//! Windows: an unnamed, pagefile-backed section (`CreateFileMappingW(INVALID_HANDLE_VALUE)`) and
//! four unnamed semaphores for the wake-ups (one per direction and event, see
//! [`wake`](crate::ipc::wake)), none inheritable. All five handles are duplicated into the started
//! child with `DuplicateHandle`; their values in the child reach it as one line on its standard
//! input (see [`token`](super::token)), since the environment is fixed before the child exists.
//! There is no name to squat or clean up, and a section cannot be resized, so no sealing is needed.
//!
//! Written against windows-sys 0.61, not built or tested here: verified only by reading.

use super::token::{self, HandleToken};
use super::{Backing, SegmentError, SegmentKind, HANDOFF_ENV};
use std::io::{BufRead, Read, Write};
use std::os::windows::io::AsRawHandle;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use windows_sys::Win32::Foundation::{
    CloseHandle, DuplicateHandle, DUPLICATE_SAME_ACCESS, HANDLE, INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::System::Memory::{
    CreateFileMappingW, MapViewOfFile, UnmapViewOfFile, VirtualQuery, FILE_MAP_ALL_ACCESS, MEMORY_BASIC_INFORMATION,
    MEMORY_MAPPED_VIEW_ADDRESS, PAGE_READWRITE,
};
use windows_sys::Win32::System::Threading::{CreateSemaphoreW, GetCurrentProcess};

/// The semaphores' maximum count: far above any number of parked threads; a release past it
/// fails, which only means the count is high enough already.
const SEMAPHORE_MAX: i32 = 1 << 20;

/// The longest hand-off line read from standard input.
const MAX_TOKEN: u64 = 256;

/// The section handle, its view, and the wake-up semaphores. Null handles are not open.
pub(super) struct OsSegment {
    section: HANDLE,
    view: *mut u8,
    wake: [HANDLE; 4],
}

// SAFETY: the handles and the view are process-wide; the view is only accessed through
// `SharedRegion` (copies, volatile reads and atomics); the semaphores are thread-safe objects.
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

    /// The semaphore of wake-up object `index` (`2 * direction + event`), null if out of range.
    pub(super) fn wake_object(&self, index: usize) -> HANDLE {
        self.wake.get(index).copied().unwrap_or(std::ptr::null_mut())
    }

    /// Duplicate the section and the semaphores into `process` (not inheritable, same access);
    /// the token naming their values there. A failure part-way leaves the handles duplicated so
    /// far open in `process` (a child that fails to attach exits, and its handles with it).
    pub(super) fn share_into(&self, process: HANDLE) -> Result<String, SegmentError> {
        let mut wake = [0usize; 4];
        for (value, &handle) in wake.iter_mut().zip(&self.wake) {
            *value = duplicate_into(process, handle)?;
        }
        Ok(HandleToken { section: duplicate_into(process, self.section)?, wake }.format())
    }

    /// Prepare `cmd`: the environment names this process, and the child's standard input becomes
    /// the pipe that [`OsSegment::complete_handoff`] writes the token into.
    pub(super) fn share_with_child(&self, cmd: &mut Command) -> Result<(), SegmentError> {
        cmd.env(HANDOFF_ENV, token::stdin_env(std::process::id())).stdin(Stdio::piped());
        Ok(())
    }

    /// Duplicate the handles into the started `child` and write the token to its standard input.
    pub(super) fn complete_handoff(&self, child: &Child) -> Result<(), SegmentError> {
        let token = self.share_into(child.as_raw_handle())?;
        let Some(stdin) = child.stdin.as_ref() else {
            return Err(SegmentError::Handoff("the child's standard input is not the hand-off pipe".into()));
        };
        let mut stdin = stdin;
        stdin.write_all(format!("{token}\n").as_bytes()).map_err(|e| SegmentError::io("write the hand-off", e))
    }
}

/// Duplicate `handle` into `process`; its value there.
fn duplicate_into(process: HANDLE, handle: HANDLE) -> Result<usize, SegmentError> {
    let mut target: HANDLE = std::ptr::null_mut();
    // SAFETY: our pseudo process handle, a handle we own, and a process handle valid for the call
    // (the caller's `Child`, or our own pseudo handle); `target` receives the value in `process`.
    // Not inheritable, same access.
    let ok = unsafe { DuplicateHandle(GetCurrentProcess(), handle, process, &mut target, 0, 0, DUPLICATE_SAME_ACCESS) };
    if ok == 0 {
        return Err(SegmentError::last_os("DuplicateHandle into the peer"));
    }
    Ok(target as usize)
}

impl Drop for OsSegment {
    fn drop(&mut self) {
        if !self.view.is_null() {
            // SAFETY: the view came from MapViewOfFile and is released once, here.
            unsafe { UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS { Value: self.view.cast() }) };
        }
        for handle in std::iter::once(self.section).chain(self.wake) {
            if !handle.is_null() {
                // SAFETY: a handle this segment owns (created, or taken from the hand-off),
                // closed once, here.
                unsafe { CloseHandle(handle) };
            }
        }
    }
}

/// Create an unnamed section of `total` bytes and the semaphores, and map the section.
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
    let mut os = OsSegment { section, view: std::ptr::null_mut(), wake: [std::ptr::null_mut(); 4] };
    for slot in &mut os.wake {
        // SAFETY: default security (not inheritable), count 0 of at most SEMAPHORE_MAX, no name.
        *slot = unsafe { CreateSemaphoreW(std::ptr::null(), 0, SEMAPHORE_MAX, std::ptr::null()) };
        if slot.is_null() {
            return Err(SegmentError::last_os("CreateSemaphoreW"));
        }
    }
    os.map(total)?;
    Ok(os)
}

/// Attach from a token `handle:<section>;wake:<h0>,<h1>,<h2>,<h3>` (handles the creator
/// duplicated into this process).
///
/// # Safety
/// Nothing else in this process may own the handles, and the token must be used once.
pub(super) unsafe fn attach_token(token: &str, total: usize) -> Result<OsSegment, SegmentError> {
    let Some(parsed) = HandleToken::parse(token) else {
        return Err(SegmentError::Handoff(format!(
            "malformed token {token:?}, expected handle:<n>;wake:<n>,<n>,<n>,<n>"
        )));
    };
    let mut os = OsSegment {
        section: parsed.section as HANDLE,
        view: std::ptr::null_mut(),
        wake: parsed.wake.map(|v| v as HANDLE),
    };
    os.map(total)?;
    Ok(os)
}

/// The token for [`attach_token`]: the environment variable must say `stdin:<pid>`; the token is
/// the first line of standard input (what the parent's `complete_handoff` wrote).
pub(super) fn handoff_token(env: &str) -> Result<String, SegmentError> {
    if token::parse_stdin_env(env).is_none() {
        return Err(SegmentError::Handoff(format!("malformed {HANDOFF_ENV} {env:?}, expected stdin:<pid>")));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .take(MAX_TOKEN)
        .read_line(&mut line)
        .map_err(|e| SegmentError::io("read the hand-off from standard input", e))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

impl OsSegment {
    /// Map the whole section, then check that it holds `total` bytes.
    fn map(&mut self, total: usize) -> Result<(), SegmentError> {
        // SAFETY: a section handle we own; size 0 maps the whole section (fails for any other
        // object).
        let view = unsafe { MapViewOfFile(self.section, FILE_MAP_ALL_ACCESS, 0, 0, 0) };
        if view.Value.is_null() {
            return Err(SegmentError::last_os("MapViewOfFile"));
        }
        self.view = view.Value.cast();
        let mut info = MEMORY_BASIC_INFORMATION::default();
        // SAFETY: queries our own view into a local struct of the given size.
        let filled = unsafe { VirtualQuery(view.Value, &mut info, std::mem::size_of::<MEMORY_BASIC_INFORMATION>()) };
        if filled == 0 {
            return Err(SegmentError::last_os("VirtualQuery"));
        }
        if info.RegionSize < total {
            return Err(SegmentError::TooSmall { found: info.RegionSize as u64, needed: total as u64 });
        }
        Ok(())
    }
}
