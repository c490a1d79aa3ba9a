//! Windows: park on the segment's semaphore for the direction and event (`WaitOnAddress` does not
//! work across processes). The waiter has registered in the waiters word and re-checked its
//! condition before it parks, and the signaller releases only when that word is non-zero, so a
//! release between the re-check and the park stays counted and the park returns at once. Surplus
//! counts cause spurious wake-ups only; the caller re-checks and parks again.
//!
//! Written against windows-sys 0.61, not built or tested here: verified only by reading.

use super::Key;
use std::time::Duration;
use windows_sys::Win32::Foundation::WAIT_FAILED;
use windows_sys::Win32::System::Threading::{ReleaseSemaphore, WaitForSingleObject};

/// The most a signal releases at once: enough for every thread that can park on one direction and
/// event in practice; more waiters than this are woken by their own deadlines or the next signal.
const MAX_RELEASE: u32 = 64;

/// Park on the semaphore for at most `timeout` (at least 1 ms when not zero). Returns on a release,
/// at the timeout or on a failure (then after a short sleep); the caller re-checks its condition.
pub(super) fn wait(key: Key<'_>, _expected: u32, timeout: Duration, _attempt: u32) {
    let semaphore = key.segment.wake_object(key.object);
    let ms = timeout.as_nanos().div_ceil(1_000_000).min(u128::from(u32::MAX - 1)) as u32;
    // SAFETY: a semaphore handle the segment owns for as long as `key` borrows it; a finite
    // timeout (below INFINITE).
    let rc = unsafe { WaitForSingleObject(semaphore, ms) };
    if rc == WAIT_FAILED {
        // Unexpected (a closed or wrong handle): sleep a little rather than spin.
        std::thread::sleep(timeout.min(Duration::from_millis(1)));
    }
}

/// Release the semaphore by the number of registered waiters (1 to [`MAX_RELEASE`]).
pub(super) fn wake(key: Key<'_>, waiters: u32) {
    let semaphore = key.segment.wake_object(key.object);
    let count = waiters.clamp(1, MAX_RELEASE) as i32;
    // SAFETY: a semaphore handle the segment owns for as long as `key` borrows it; the previous
    // count is not asked for (null). A release past the maximum count fails, which only means the
    // count is high enough already.
    unsafe { ReleaseSemaphore(semaphore, count, std::ptr::null_mut()) };
}
