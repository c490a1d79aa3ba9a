//! The host side of the module ABI: the [`HostApiV1`] table a module receives at init, and the
//! output sink behind `plughost_module_output` / `plughost_output`.
//!
//! Every function here catches panics (none may unwind into module code) and treats its pointer
//! arguments as the module ABI documents them.

use super::module_abi::{ByteSinkFn, HostApiV1, ModuleOutput, PLUGHOST_MODULE_ABI_VERSION};
use crate::error::{Error, ErrorKind};
use crate::host::HostShared;
use crate::logging::{self, LogRecord};
use crate::status::PLUGHOST_OK;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// Where a module or a service callback writes its result and error message.
#[derive(Default, Debug)]
pub struct OutputSink {
    /// The result bytes.
    pub data: Vec<u8>,
    /// The error message, if one was set.
    pub error: Option<String>,
}

impl OutputSink {
    /// The raw pointer handed across the module ABI.
    pub fn as_module_output(&mut self) -> *mut ModuleOutput {
        (self as *mut OutputSink).cast()
    }
}

/// What the table's `ctx` points at: the generation's module name and the host's services.
struct ModuleContext {
    name: String,
    shared: Arc<HostShared>,
}

/// A host table and the context it points at; both live as long as the generation.
pub struct HostTable {
    api: Box<HostApiV1>,
    _context: Box<ModuleContext>,
}

// SAFETY: the table is immutable after construction and its context is Send + Sync.
unsafe impl Send for HostTable {}
// SAFETY: as above.
unsafe impl Sync for HostTable {}

impl HostTable {
    /// A table whose calls act as module `name` on `shared`.
    pub fn new(name: &str, shared: Arc<HostShared>) -> Self {
        let mut context = Box::new(ModuleContext { name: name.to_owned(), shared });
        let api = Box::new(HostApiV1 {
            abi_version: PLUGHOST_MODULE_ABI_VERSION,
            struct_size: std::mem::size_of::<HostApiV1>() as u32,
            ctx: (&mut *context as *mut ModuleContext).cast(),
            log: host_log,
            storage_get: host_storage_get,
            storage_set: host_storage_set,
            call_service: host_call_service,
            publish_event: host_publish_event,
            output_write,
            output_set_error,
        });
        Self { api, _context: context }
    }

    /// The pointer passed to the module's init.
    pub fn as_ptr(&self) -> *const HostApiV1 {
        &*self.api
    }
}

/// # Safety
/// `ptr` must be valid for `len` bytes, or NULL with `len == 0`.
unsafe fn slice<'a>(ptr: *const u8, len: usize) -> Option<&'a [u8]> {
    match (ptr.is_null(), len) {
        (_, 0) => Some(&[]),
        (true, _) => None,
        // SAFETY: the module ABI's contract for pointer/length pairs.
        (false, _) => Some(unsafe { std::slice::from_raw_parts(ptr, len) }),
    }
}

/// # Safety
/// As [`slice`].
unsafe fn text<'a>(ptr: *const u8, len: usize) -> Result<&'a str, Error> {
    // SAFETY: forwarded contract.
    let bytes =
        unsafe { slice(ptr, len) }.ok_or_else(|| Error::new(ErrorKind::NullArgument, "NULL pointer with a length"))?;
    std::str::from_utf8(bytes).map_err(|_| Error::new(ErrorKind::InvalidUtf8, "string argument is not UTF-8"))
}

/// Run a table function: resolve the context, catch panics, turn errors into status codes and
/// send the message to the sink.
///
/// # Safety
/// `ctx` is the pointer this module's table was built with.
unsafe fn with_context(
    ctx: *mut c_void,
    sink: Option<(ByteSinkFn, *mut c_void)>,
    body: impl FnOnce(&ModuleContext) -> Result<Option<Vec<u8>>, Error>,
) -> i32 {
    if ctx.is_null() {
        return ErrorKind::NullArgument.code();
    }
    // SAFETY: the context outlives the generation's instance, which is the only holder of `ctx`.
    let context = unsafe { &*(ctx as *const ModuleContext) };
    let result = catch_unwind(AssertUnwindSafe(|| body(context)))
        .unwrap_or_else(|_| Err(Error::new(ErrorKind::Panic, "plughost panicked in a host function")));
    let (status, bytes) = match result {
        Ok(bytes) => (PLUGHOST_OK, bytes),
        Err(e) if e.kind() == ErrorKind::KeyNotFound => (e.kind().code(), None),
        Err(e) => (e.kind().code(), Some(e.message().as_bytes().to_vec())),
    };
    if let (Some((sink, user)), Some(bytes)) = (sink, bytes) {
        // SAFETY: the module gave this sink for the duration of the call.
        let _ = catch_unwind(AssertUnwindSafe(|| unsafe { sink(user, bytes.as_ptr(), bytes.len()) }));
    }
    status
}

unsafe extern "C" fn host_log(ctx: *mut c_void, level: u32, msg: *const u8, msg_len: usize) {
    // SAFETY: forwarded module ABI contract.
    unsafe {
        with_context(ctx, None, |c| {
            let bytes = slice(msg, msg_len).unwrap_or(b"<NULL message>");
            let message = String::from_utf8_lossy(bytes);
            logging::deliver(&LogRecord { level: level.clamp(1, 5), target: &c.name, message: &message });
            Ok(None)
        })
    };
}

unsafe extern "C" fn host_storage_get(
    ctx: *mut c_void,
    key: *const u8,
    key_len: usize,
    sink: ByteSinkFn,
    sink_user: *mut c_void,
) -> i32 {
    // SAFETY: forwarded module ABI contract.
    unsafe { with_context(ctx, Some((sink, sink_user)), |c| c.shared.storage.get(text(key, key_len)?).map(Some)) }
}

unsafe extern "C" fn host_storage_set(
    ctx: *mut c_void,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> i32 {
    // SAFETY: forwarded module ABI contract.
    unsafe {
        with_context(ctx, None, |c| {
            let value = slice(value, value_len).ok_or_else(|| Error::new(ErrorKind::NullArgument, "value is NULL"))?;
            c.shared.storage.set(text(key, key_len)?, value).map(|()| None)
        })
    }
}

unsafe extern "C" fn host_call_service(
    ctx: *mut c_void,
    name: *const u8,
    name_len: usize,
    input: *const u8,
    input_len: usize,
    sink: ByteSinkFn,
    sink_user: *mut c_void,
) -> i32 {
    // SAFETY: forwarded module ABI contract.
    unsafe {
        with_context(ctx, Some((sink, sink_user)), |c| {
            let input = slice(input, input_len).ok_or_else(|| Error::new(ErrorKind::NullArgument, "input is NULL"))?;
            c.shared.services.call(text(name, name_len)?, input).map(Some)
        })
    }
}

unsafe extern "C" fn host_publish_event(
    ctx: *mut c_void,
    topic: *const u8,
    topic_len: usize,
    payload: *const u8,
    payload_len: usize,
) -> i32 {
    // SAFETY: forwarded module ABI contract.
    unsafe {
        with_context(ctx, None, |c| {
            let payload =
                slice(payload, payload_len).ok_or_else(|| Error::new(ErrorKind::NullArgument, "payload is NULL"))?;
            c.shared.events.publish(text(topic, topic_len)?, &c.name, payload).map(|_| None)
        })
    }
}

/// Append to a sink. Shared by the module table and the exported `plughost_output_write`.
///
/// # Safety
/// `out` must be NULL or a sink the host passed for the current call; `data` valid for `len`.
pub unsafe extern "C" fn output_write(out: *mut ModuleOutput, data: *const u8, len: usize) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller's contract.
        if let (Some(sink), Some(bytes)) = (unsafe { (out as *mut OutputSink).as_mut() }, unsafe { slice(data, len) }) {
            sink.data.extend_from_slice(bytes);
        }
    }));
}

/// Set a sink's error message. Shared by the module table and `plughost_output_set_error`.
///
/// # Safety
/// As [`output_write`].
pub unsafe extern "C" fn output_set_error(out: *mut ModuleOutput, msg: *const u8, len: usize) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller's contract.
        if let (Some(sink), Some(bytes)) = (unsafe { (out as *mut OutputSink).as_mut() }, unsafe { slice(msg, len) }) {
            sink.error = Some(String::from_utf8_lossy(bytes).into_owned());
        }
    }));
}
