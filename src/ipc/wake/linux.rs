//! Linux: a futex on the shared sequence word, without `FUTEX_PRIVATE_FLAG`, so that the kernel
//! keys it by the shared page and a waiter in one process is woken from the other.

use super::Key;
use std::time::Duration;

/// Sleep while the sequence word holds `expected`, at most `timeout`. Returns on a wake, on a
/// changed word (EAGAIN), on a signal (EINTR) or at the timeout; the caller re-checks its
/// condition.
pub(super) fn wait(key: Key<'_>, expected: u32, timeout: Duration, _attempt: u32) {
    let word = key.seq;
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as _,
    };
    // SAFETY: `word` is an aligned u32 that stays mapped for the call; FUTEX_WAIT reads it
    // atomically and sleeps; the timeout is a valid relative timespec; the other arguments are
    // unused by FUTEX_WAIT.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
            std::ptr::null::<u32>(),
            0u32,
        )
    };
    if rc != 0 {
        let errno = std::io::Error::last_os_error().raw_os_error();
        if !matches!(errno, Some(libc::EAGAIN | libc::ETIMEDOUT | libc::EINTR)) {
            // Unexpected (ENOSYS under a filter, EFAULT): sleep a little rather than spin.
            std::thread::sleep(timeout.min(Duration::from_millis(1)));
        }
    }
}

/// Wake every waiter parked on the sequence word (however many registered).
pub(super) fn wake(key: Key<'_>, _waiters: u32) {
    let word = key.seq;
    // SAFETY: FUTEX_WAKE only uses the address as a key and the count; the word is mapped.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}
