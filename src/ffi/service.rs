//! Host services the application registers, and the output object their callbacks write to.

use super::args;
use super::boundary::status;
use super::buffer::{self, plughost_buffer};
use super::host::{live, plughost_host};
use super::host_table::OutputSink;
use super::user_data::{plughost_destroy_callback, UserData};
use crate::error::{Error, ErrorKind};
use crate::services::ServiceThreading;
use crate::status::PLUGHOST_OK;
use std::ffi::c_void;
use std::sync::Arc;

/// `flags` bit for `plughost_service_register`: the service runs only on the host's main thread.
pub const PLUGHOST_SERVICE_MAIN_THREAD: u32 = 1;

/// A service callback: read `input`, write the result with `plughost_output_write`, return
/// `PLUGHOST_OK`; or set a message with `plughost_output_set_error` and return any non-zero value.
/// `output` is valid only during the call. Runs on the calling thread for ordinary services, on
/// the main thread for main-thread services; ordinary services may run on several threads at once.
pub type plughost_service_callback = Option<
    unsafe extern "C" fn(user_data: *mut c_void, input: *const u8, input_len: usize, output: *mut OutputSink) -> i32,
>;

/// Register a service under `name` (UTF-8, unique). Modules reach it through their host table;
/// the application through `plughost_service_call`. With `PLUGHOST_SERVICE_MAIN_THREAD` in
/// `flags`, calls made off the main thread wait until it pumps (see `plughost_host_pump`), and calls
/// on it run inline. `destroy_user_data` (may be NULL) runs once the service is unregistered (or
/// the host freed) and no call uses it.
///
/// Errors: `SERVICE_EXISTS`, `INVALID_ARGUMENT` (unknown flag bits, empty name), `NULL_ARGUMENT`.
/// plughost owns `user_data` from this call on, even when it fails: on failure `destroy_user_data`
/// runs before the call returns.
///
///
/// # Safety
/// `host` from `plughost_host_new`; `name` valid for `name_len` bytes; the callback and user
/// data stay valid until destroyed.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_service_register(
    host: *const plughost_host,
    name: *const u8,
    name_len: usize,
    flags: u32,
    callback: plughost_service_callback,
    user_data: *mut c_void,
    destroy_user_data: plughost_destroy_callback,
) -> i32 {
    let user = UserData::new(user_data, destroy_user_data);
    status(move || {
        // SAFETY: the caller's contract.
        let (h, name) = unsafe { (live(host)?, args::name(name, name_len, "name")?) };
        {
            let callback = callback.ok_or_else(|| Error::new(ErrorKind::NullArgument, "callback is NULL"))?;
            if flags & !PLUGHOST_SERVICE_MAIN_THREAD != 0 {
                return Err(Error::new(ErrorKind::InvalidArgument, format!("unknown service flags {flags:#x}")));
            }
            let threading = if flags & PLUGHOST_SERVICE_MAIN_THREAD != 0 {
                ServiceThreading::MainThread
            } else {
                ServiceThreading::AnyThread
            };
            let handler = Arc::new(move |input: &[u8]| {
                let mut sink = OutputSink::default();
                // SAFETY: the application registered `callback` for this signature; the input
                // and the sink are valid for the call.
                let code = unsafe { callback(user.get(), input.as_ptr(), input.len(), &mut sink) };
                if code == PLUGHOST_OK {
                    Ok(sink.data)
                } else {
                    Err(sink.error.unwrap_or_else(|| format!("the service returned {code}")))
                }
            });
            h.register_service(name, threading, handler)
        }
    })
}

/// Unregister a service. Calls in flight finish; then its `destroy_user_data` runs.
///
/// # Safety
/// `host` from `plughost_host_new`; `name` valid for `name_len` bytes.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_service_unregister(
    host: *const plughost_host,
    name: *const u8,
    name_len: usize,
) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let (h, name) = unsafe { (live(host)?, args::name(name, name_len, "name")?) };
        h.unregister_service(name)
    })
}

/// Call a registered service as a module would, writing its result to a new buffer in
/// `out_output`. A main-thread service called off the main thread waits for a pump (up to
/// `Services.MainThreadCallTimeoutMs`, then `PLUGHOST_ERR_TIMEOUT`).
///
/// Errors: `SERVICE_NOT_FOUND`, `SERVICE_FAILED` (the callback's message in the last error),
/// `TIMEOUT`, `WRONG_THREAD` (main-thread service and no main thread).
///
/// # Safety
/// `host` from `plughost_host_new`; `name` and `input` valid for their lengths; `out_output`
/// valid for a write.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_service_call(
    host: *const plughost_host,
    name: *const u8,
    name_len: usize,
    input: *const u8,
    input_len: usize,
    out_output: *mut plughost_buffer,
) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let (h, name, input) =
            unsafe { (live(host)?, args::name(name, name_len, "name")?, args::bytes(input, input_len, "input")?) };
        let out = args::out(out_output, "out_output")?;
        let output = h.call_service(name, input)?;
        // SAFETY: checked out-pointer.
        unsafe { buffer::store_into(out, output) }
    })
}

/// Append `len` bytes to a service callback's output. Only valid inside the callback that
/// received `output`.
///
/// # Safety
/// `output` is the pointer the callback received; `data` valid for `len` bytes.
///
/// Threads: the callback's thread.
#[no_mangle]
pub unsafe extern "C" fn plughost_output_write(output: *mut OutputSink, data: *const u8, len: usize) -> i32 {
    status(|| {
        let output = args::out(output, "output")?;
        // SAFETY: the caller's contract.
        let data = unsafe { args::bytes(data, len, "data")? };
        // SAFETY: the output object is live for the duration of the callback.
        unsafe { (*output).data.extend_from_slice(data) };
        Ok(())
    })
}

/// Set the error message (UTF-8, invalid sequences replaced) of a service callback's output; return
/// non-zero from the callback to report it.
///
/// # Safety
/// As `plughost_output_write`.
///
/// Threads: the callback's thread.
#[no_mangle]
pub unsafe extern "C" fn plughost_output_set_error(output: *mut OutputSink, message: *const u8, len: usize) -> i32 {
    status(|| {
        let output = args::out(output, "output")?;
        // SAFETY: the caller's contract.
        let message = unsafe { args::bytes(message, len, "message")? };
        // SAFETY: the output object is live for the duration of the callback.
        unsafe { (*output).error = Some(String::from_utf8_lossy(message).into_owned()) };
        Ok(())
    })
}
