//! The last failure on the calling thread: its status and message.

use super::boundary::infallible;
use crate::error::Error;
use crate::status::PLUGHOST_OK;
use std::cell::RefCell;

thread_local! {
    static LAST: RefCell<(i32, String)> = const { RefCell::new((PLUGHOST_OK, String::new())) };
}

/// Remember `error` as this thread's last failure and return its status code.
pub(crate) fn record(error: &Error) -> i32 {
    let code = error.kind().code();
    tracing::debug!(status = error.kind().name(), message = error.message(), "C call failed");
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        last.0 = code;
        last.1.clear();
        last.1.push_str(error.message());
    });
    code
}

/// Copy the message of the calling thread's last failure into `buf` as UTF-8 with a terminating
/// NUL, truncated to fit `buf_len` (truncation may split a multi-byte character).
///
/// Returns the full length of the message in bytes, without the NUL: if it is `>= buf_len`, the
/// copy was truncated and a buffer of that length + 1 holds it whole. Returns 0 when this thread
/// has had no failure. `buf` may be NULL when `buf_len` is 0, to ask for the length.
///
/// The message stays until the next failure on the same thread; successful calls keep it.
///
/// # Safety
/// `buf` must be NULL or valid for `buf_len` writable bytes.
///
/// Threads: any; each thread has its own last error.
#[no_mangle]
pub unsafe extern "C" fn plughost_last_error_message(buf: *mut u8, buf_len: usize) -> usize {
    infallible(0, || {
        LAST.with(|last| {
            let last = last.borrow();
            let message = last.1.as_bytes();
            if !buf.is_null() && buf_len > 0 {
                let n = message.len().min(buf_len - 1);
                // SAFETY: `buf` is valid for `buf_len` bytes and `n + 1 <= buf_len`.
                unsafe {
                    std::ptr::copy_nonoverlapping(message.as_ptr(), buf, n);
                    *buf.add(n) = 0;
                }
            }
            message.len()
        })
    })
}

/// The status code of the calling thread's last failure, or `PLUGHOST_OK` if it has had none.
///
/// Threads: any; each thread has its own last error.
#[no_mangle]
pub extern "C" fn plughost_last_error_status() -> i32 {
    infallible(PLUGHOST_OK, || LAST.with(|last| last.borrow().0))
}
