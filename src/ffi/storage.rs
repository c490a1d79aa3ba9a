//! The host's key-value storage, shared with modules.

use super::args;
use super::boundary::status;
use super::buffer::{self, plughost_buffer};
use super::host::{live, plughost_host};

/// Read the value of `key` (UTF-8) into a new buffer in `out_value`.
///
/// Errors: `KEY_NOT_FOUND`.
///
/// # Safety
/// `host` from `plughost_host_new`; `key` valid for `key_len` bytes; `out_value` valid for a write.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_storage_get(
    host: *const plughost_host,
    key: *const u8,
    key_len: usize,
    out_value: *mut plughost_buffer,
) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let (h, key) = unsafe { (live(host)?, args::name(key, key_len, "key")?) };
        let out = args::out(out_value, "out_value")?;
        let value = h.storage_get(key)?;
        // SAFETY: checked out-pointer.
        unsafe { buffer::store_into(out, value) }
    })
}

/// Set `key` (UTF-8) to `value` (bytes; NULL with length 0 for empty), replacing any value.
///
/// Errors: `LIMIT_REACHED` when the storage would exceed `Storage.MaxBytes`.
///
/// # Safety
/// `host` from `plughost_host_new`; `key` and `value` valid for their lengths.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_storage_set(
    host: *const plughost_host,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let (h, key, value) =
            unsafe { (live(host)?, args::name(key, key_len, "key")?, args::bytes(value, value_len, "value")?) };
        h.storage_set(key, value)
    })
}
