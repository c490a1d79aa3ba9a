//! Checked conversions of C arguments: NULL, lengths, UTF-8, out-pointers.

use crate::error::{Error, ErrorKind, Result};

/// The bytes at `ptr`. NULL is accepted only with `len == 0`.
///
/// # Safety
/// A non-NULL `ptr` must be valid for `len` readable bytes for the lifetime `'a`.
#[inline]
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8]> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(Error::new(ErrorKind::NullArgument, format!("{what} is NULL but its length is {len}")))
        };
    }
    if len > isize::MAX as usize {
        return Err(Error::new(ErrorKind::InvalidArgument, format!("{what} length {len} is too large")));
    }
    // SAFETY: the caller's contract; the length is bounded above.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// The UTF-8 text at `ptr`.
///
/// # Safety
/// As [`bytes`].
#[inline]
pub(crate) unsafe fn text<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a str> {
    // SAFETY: forwarded.
    let raw = unsafe { bytes(ptr, len, what)? };
    std::str::from_utf8(raw).map_err(|e| Error::new(ErrorKind::InvalidUtf8, format!("{what} is not valid UTF-8: {e}")))
}

/// Like [`text`], but NULL is an error even with length 0 and the text must not be empty.
///
/// # Safety
/// As [`bytes`].
#[inline]
pub(crate) unsafe fn name<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(Error::new(ErrorKind::NullArgument, format!("{what} is NULL")));
    }
    // SAFETY: forwarded.
    let text = unsafe { text(ptr, len, what)? };
    if text.is_empty() {
        return Err(Error::new(ErrorKind::InvalidArgument, format!("{what} is empty")));
    }
    Ok(text)
}

/// Check an out-pointer before any work is done, so that outputs can be written on success.
pub(crate) fn out<T>(ptr: *mut T, what: &str) -> Result<*mut T> {
    if ptr.is_null() {
        Err(Error::new(ErrorKind::NullArgument, format!("{what} is NULL")))
    } else {
        Ok(ptr)
    }
}

/// Write `value` through a checked out-pointer.
///
/// # Safety
/// `ptr` came from [`out`] and is valid for a write of `T`.
pub(crate) unsafe fn write<T>(ptr: *mut T, value: T) {
    // SAFETY: the caller's contract.
    unsafe { ptr.write(value) }
}
