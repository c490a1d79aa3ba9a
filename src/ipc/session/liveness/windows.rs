//! Windows: the clock is `GetTickCount64` (milliseconds since boot, the same for every process);
//! the peer's process is a handle (`OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION)`)
//! that is signalled once it exits; the monitor blocks in `WaitForMultipleObjects` on an
//! auto-reset wake event and that handle.
//!
//! Written against windows-sys 0.61, not built or tested here: verified only by reading.

use super::super::IpcError;
use std::time::Duration;
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, WAIT_OBJECT_0};
use windows_sys::Win32::System::SystemInformation::GetTickCount64;
use windows_sys::Win32::System::Threading::{
    CreateEventW, OpenProcess, SetEvent, WaitForMultipleObjects, WaitForSingleObject,
    PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE,
};

/// The system's monotonic clock in milliseconds (shared by all processes of the machine).
pub fn monotonic_ms() -> u64 {
    // SAFETY: no arguments; reads the tick count.
    unsafe { GetTickCount64() }
}

/// A kernel handle this process owns, closed on drop.
#[derive(Debug)]
struct Owned(HANDLE);

// SAFETY: a kernel handle is valid on every thread of the process; the objects used here (a
// process, an event) are thread-safe.
unsafe impl Send for Owned {}
// SAFETY: as above.
unsafe impl Sync for Owned {}

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: a handle this value owns, closed once, here.
        unsafe { CloseHandle(self.0) };
    }
}

/// The peer's process handle: signalled once the process exited.
#[derive(Debug)]
pub(super) struct PeerProcess(Owned);

impl PeerProcess {
    /// Open process `pid` (our own child or not: a handle keeps its id from being reused).
    pub(super) fn open(pid: u32, _child: bool) -> Result<Self, IpcError> {
        // SAFETY: plain arguments; returns a new handle (not inheritable) or null.
        let handle = unsafe { OpenProcess(PROCESS_SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
        if handle.is_null() {
            let e = std::io::Error::last_os_error();
            return Err(IpcError::PeerDead(format!("process {pid} cannot be opened: {e}")));
        }
        Ok(PeerProcess(Owned(handle)))
    }

    /// Whether the process has exited (no waiting).
    pub(super) fn exited(&self) -> bool {
        // SAFETY: a process handle we own, opened with SYNCHRONIZE; timeout 0.
        unsafe { WaitForSingleObject(self.0 .0, 0) == WAIT_OBJECT_0 }
    }
}

/// Wakes the monitor early: an auto-reset event.
#[derive(Debug)]
pub(super) struct Wakeup(Owned);

impl Wakeup {
    pub(super) fn new() -> Result<Self, IpcError> {
        // SAFETY: default security (not inheritable), auto-reset, not signalled, no name.
        let event = unsafe { CreateEventW(std::ptr::null(), 0, 0, std::ptr::null()) };
        if event.is_null() {
            return Err(IpcError::Setup(format!("CreateEventW: {}", std::io::Error::last_os_error())));
        }
        Ok(Wakeup(Owned(event)))
    }

    /// Block until `peer` exits, [`Wakeup::wake`] is called, or `timeout` passes.
    pub(super) fn wait(&self, peer: Option<&PeerProcess>, timeout: Duration) {
        let handles = [self.0 .0, peer.map_or(std::ptr::null_mut(), |p| p.0 .0)];
        let count = if peer.is_some() { 2 } else { 1 };
        let ms = timeout.as_millis().min(u128::from(u32::MAX - 1)) as u32;
        // SAFETY: `count` valid handles we own (the event, then the process), any one suffices
        // (bWaitAll FALSE), a finite timeout. The auto-reset event resets as the wait takes it.
        unsafe { WaitForMultipleObjects(count, handles.as_ptr(), 0, ms) };
    }

    /// Wake the monitor now.
    pub(super) fn wake(&self) {
        // SAFETY: an event handle we own.
        unsafe { SetEvent(self.0 .0) };
    }
}
