//! The module's view of the host: a safe wrapper over the host table it received at init.

use crate::ffi::module_abi::{log_level, HostApiV1};
use std::ffi::c_void;

/// Log levels a module may log at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// Errors.
    Error,
    /// Warnings.
    Warn,
    /// Information.
    Info,
    /// Debugging detail.
    Debug,
    /// Tracing detail.
    Trace,
}

impl LogLevel {
    fn number(self) -> u32 {
        match self {
            LogLevel::Error => log_level::ERROR,
            LogLevel::Warn => log_level::WARN,
            LogLevel::Info => log_level::INFO,
            LogLevel::Debug => log_level::DEBUG,
            LogLevel::Trace => log_level::TRACE,
        }
    }
}

/// A failed host call: the plughost status code and the host's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceError {
    /// The `PLUGHOST_ERR_*` status code.
    pub status: i32,
    /// The message the host gave, possibly empty.
    pub message: String,
}

/// The host services, as handed to [`WorkModule::init`](super::WorkModule::init).
///
/// Copyable and usable from any thread until the module's `shutdown` returns.
#[derive(Clone, Copy)]
pub struct HostServices {
    api: *const HostApiV1,
}

// SAFETY: the host guarantees that every function of the table is callable from any thread, and
// the table outlives the module instance.
unsafe impl Send for HostServices {}
// SAFETY: as above; the wrapper only reads the immutable table.
unsafe impl Sync for HostServices {}

unsafe extern "C" fn collect_into_vec(user: *mut c_void, data: *const u8, len: usize) {
    if data.is_null() || len == 0 {
        return;
    }
    // SAFETY: `user` is the `&mut Vec<u8>` passed by `call_with_sink` below, alive for the call;
    // the host guarantees `data` points at `len` readable bytes for the duration of this call.
    unsafe {
        let out = &mut *(user as *mut Vec<u8>);
        out.extend_from_slice(std::slice::from_raw_parts(data, len));
    }
}

impl HostServices {
    /// Wrap a host table.
    ///
    /// # Safety
    /// `api` must point at a valid [`HostApiV1`] that outlives every use of the returned value.
    pub unsafe fn from_raw(api: *const HostApiV1) -> Self {
        Self { api }
    }

    fn api(&self) -> &HostApiV1 {
        // SAFETY: `from_raw`'s contract: the table is valid for as long as `self` is used.
        unsafe { &*self.api }
    }

    /// Log `message` at `level`; the host's log callback sees the module's name as the target.
    pub fn log(&self, level: LogLevel, message: &str) {
        let api = self.api();
        // SAFETY: the pointer and length describe `message`, valid for the call.
        unsafe { (api.log)(api.ctx, level.number(), message.as_ptr(), message.len()) }
    }

    /// Read a value from the host's key-value storage; `Ok(None)` when the key is absent.
    pub fn storage_get(&self, key: &str) -> Result<Option<Vec<u8>>, ServiceError> {
        let api = self.api();
        let mut value = Vec::new();
        // SAFETY: key pointer/length valid for the call; the sink and its user pointer are valid
        // for the call, and the host calls the sink only before returning.
        let status = unsafe {
            (api.storage_get)(
                api.ctx,
                key.as_ptr(),
                key.len(),
                collect_into_vec,
                &mut value as *mut Vec<u8> as *mut c_void,
            )
        };
        match status {
            0 => Ok(Some(value)),
            crate::status::PLUGHOST_ERR_KEY_NOT_FOUND => Ok(None),
            _ => Err(ServiceError { status, message: String::from_utf8_lossy(&value).into_owned() }),
        }
    }

    /// Write a value into the host's key-value storage.
    pub fn storage_set(&self, key: &str, value: &[u8]) -> Result<(), ServiceError> {
        let api = self.api();
        // SAFETY: both pointer/length pairs describe live slices for the call.
        let status = unsafe { (api.storage_set)(api.ctx, key.as_ptr(), key.len(), value.as_ptr(), value.len()) };
        if status == 0 {
            Ok(())
        } else {
            Err(ServiceError { status, message: format!("storage_set({key}) failed") })
        }
    }

    /// Call a service registered by the embedding application.
    pub fn call_service(&self, name: &str, input: &[u8]) -> Result<Vec<u8>, ServiceError> {
        let api = self.api();
        let mut out = Vec::new();
        // SAFETY: as in `storage_get`.
        let status = unsafe {
            (api.call_service)(
                api.ctx,
                name.as_ptr(),
                name.len(),
                input.as_ptr(),
                input.len(),
                collect_into_vec,
                &mut out as *mut Vec<u8> as *mut c_void,
            )
        };
        if status == 0 {
            Ok(out)
        } else {
            Err(ServiceError { status, message: String::from_utf8_lossy(&out).into_owned() })
        }
    }

    /// Publish `payload` on `topic` to the host's event bus.
    pub fn publish_event(&self, topic: &str, payload: &[u8]) -> Result<(), ServiceError> {
        let api = self.api();
        // SAFETY: both pointer/length pairs describe live slices for the call.
        let status =
            unsafe { (api.publish_event)(api.ctx, topic.as_ptr(), topic.len(), payload.as_ptr(), payload.len()) };
        if status == 0 {
            Ok(())
        } else {
            Err(ServiceError { status, message: format!("publish_event({topic}) failed") })
        }
    }

    pub(crate) fn write_output(&self, out: *mut crate::ffi::module_abi::ModuleOutput, data: &[u8]) {
        let api = self.api();
        // SAFETY: `out` is the sink the host passed for this call; data is a live slice.
        unsafe { (api.output_write)(out, data.as_ptr(), data.len()) }
    }

    pub(crate) fn set_error(&self, out: *mut crate::ffi::module_abi::ModuleOutput, message: &str) {
        let api = self.api();
        // SAFETY: as in `write_output`.
        unsafe { (api.output_set_error)(out, message.as_ptr(), message.len()) }
    }
}
