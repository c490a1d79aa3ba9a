//! Work-module ABI v1: the tables a module and the host exchange.
//!
//! A module is a shared library that exports one symbol, `plughost_module_entry_v1`, a function
//! taking nothing and returning a pointer to a static [`ModuleTableV1`]. At init the host passes a
//! [`HostApiV1`] table through which the module reaches host services. The same layout is spelled
//! out for C authors in `include/plughost_module.h`; a C module built against that header is loaded
//! by the tests, which keeps the two in step.
//!
//! Rules both sides follow:
//! - Every table starts with `abi_version` and `struct_size`. A later minor version only appends
//!   fields; the reader uses a field only if `struct_size` covers it.
//! - Strings are UTF-8 as pointer and length, except `name` and `version`, which are NUL-terminated
//!   because they are static data in the module.
//! - Memory is freed by whoever allocated it. Output goes through the host's `output_write`, and
//!   bytes the host hands back go through a sink callback that the module provides, so no
//!   allocation crosses the boundary.

use std::ffi::{c_char, c_void};

/// The module ABI version this host speaks.
pub const PLUGHOST_MODULE_ABI_VERSION: u32 = 1;
/// The entry symbol's name, NUL-terminated.
pub const MODULE_ENTRY_SYMBOL: &[u8] = b"plughost_module_entry_v1\0";

/// Module return code: success.
pub const PLUGHOST_MODULE_OK: i32 = 0;
/// Module return code: the command is not known to the module.
pub const PLUGHOST_MODULE_UNKNOWN_COMMAND: i32 = 1;
/// Module return code: the operation failed; the message was set with `output_set_error`.
pub const PLUGHOST_MODULE_ERROR: i32 = 2;
/// Module return code: the module panicked (set by the Rust SDK when it catches an unwind).
pub const PLUGHOST_MODULE_PANICKED: i32 = 3;

/// Log level numbers shared by the module ABI and the C ABI.
pub mod log_level {
    /// Logging off (only meaningful as a threshold).
    pub const PLUGHOST_LOG_OFF: u32 = 0;
    /// Errors.
    pub const PLUGHOST_LOG_ERROR: u32 = 1;
    /// Warnings.
    pub const PLUGHOST_LOG_WARN: u32 = 2;
    /// Information.
    pub const PLUGHOST_LOG_INFO: u32 = 3;
    /// Debugging detail.
    pub const PLUGHOST_LOG_DEBUG: u32 = 4;
    /// Tracing detail.
    pub const PLUGHOST_LOG_TRACE: u32 = 5;
    pub use PLUGHOST_LOG_DEBUG as DEBUG;
    pub use PLUGHOST_LOG_ERROR as ERROR;
    pub use PLUGHOST_LOG_INFO as INFO;
    pub use PLUGHOST_LOG_OFF as OFF;
    pub use PLUGHOST_LOG_TRACE as TRACE;
    pub use PLUGHOST_LOG_WARN as WARN;
}

/// Opaque output sink owned by the host; a module writes its result (or error message) into it.
#[repr(C)]
pub struct ModuleOutput {
    _private: [u8; 0],
}

/// A byte sink the module provides when the host hands bytes back (storage values, service
/// results, error messages). Called zero or more times, on the calling thread, before the host
/// function returns.
pub type ByteSinkFn = unsafe extern "C" fn(sink_user: *mut c_void, data: *const u8, len: usize);

/// The host services a module may call, from any thread, at any time between init's start and
/// shutdown's end.
#[repr(C)]
pub struct HostApiV1 {
    /// [`PLUGHOST_MODULE_ABI_VERSION`].
    pub abi_version: u32,
    /// `size_of::<HostApiV1>()` as the host built it.
    pub struct_size: u32,
    /// Opaque host context; pass it back as the first argument of every function here.
    pub ctx: *mut c_void,
    /// Log a UTF-8 message at a level of [`log_level`]; the target is the module's name.
    pub log: unsafe extern "C" fn(ctx: *mut c_void, level: u32, msg: *const u8, msg_len: usize),
    /// Read a storage value into the sink. Returns 0 or a `PLUGHOST_ERR_*` code (KEY_NOT_FOUND).
    pub storage_get: unsafe extern "C" fn(
        ctx: *mut c_void,
        key: *const u8,
        key_len: usize,
        sink: ByteSinkFn,
        sink_user: *mut c_void,
    ) -> i32,
    /// Write a storage value. Returns 0 or a `PLUGHOST_ERR_*` code (LIMIT_REACHED).
    pub storage_set: unsafe extern "C" fn(
        ctx: *mut c_void,
        key: *const u8,
        key_len: usize,
        value: *const u8,
        value_len: usize,
    ) -> i32,
    /// Call a service the embedding application registered. The sink receives the result on
    /// success and the error message on failure. Returns 0 or a `PLUGHOST_ERR_*` code.
    pub call_service: unsafe extern "C" fn(
        ctx: *mut c_void,
        name: *const u8,
        name_len: usize,
        input: *const u8,
        input_len: usize,
        sink: ByteSinkFn,
        sink_user: *mut c_void,
    ) -> i32,
    /// Publish an event on a topic. Returns 0 or a `PLUGHOST_ERR_*` code.
    pub publish_event: unsafe extern "C" fn(
        ctx: *mut c_void,
        topic: *const u8,
        topic_len: usize,
        payload: *const u8,
        payload_len: usize,
    ) -> i32,
    /// Append bytes to an output sink the host passed to the module.
    pub output_write: unsafe extern "C" fn(out: *mut ModuleOutput, data: *const u8, len: usize),
    /// Set the error message of an output sink (call before returning `PLUGHOST_MODULE_ERROR`).
    pub output_set_error: unsafe extern "C" fn(out: *mut ModuleOutput, msg: *const u8, len: usize),
}

/// Module init: create the instance. On failure return [`PLUGHOST_MODULE_ERROR`] and set the
/// message on `err`.
pub type InitFn =
    unsafe extern "C" fn(host: *const HostApiV1, instance_out: *mut *mut c_void, err: *mut ModuleOutput) -> i32;
/// Module execute: run `command` on `input`, writing the result to `out`. Called concurrently
/// from many threads.
pub type ExecuteFn = unsafe extern "C" fn(
    instance: *mut c_void,
    command: *const u8,
    command_len: usize,
    input: *const u8,
    input_len: usize,
    out: *mut ModuleOutput,
) -> i32;
/// Module shutdown: release the instance. No call is in flight.
pub type ShutdownFn = unsafe extern "C" fn(instance: *mut c_void);
/// Optional: write the state to hand to the next generation into `out`. No call is in flight.
pub type SaveStateFn = unsafe extern "C" fn(instance: *mut c_void, out: *mut ModuleOutput) -> i32;
/// Optional: take over state written by `save_state` of generation `from_version`. Called before
/// the new generation serves its first call.
pub type RestoreStateFn = unsafe extern "C" fn(
    instance: *mut c_void,
    state: *const u8,
    state_len: usize,
    from_version: *const u8,
    from_version_len: usize,
    err: *mut ModuleOutput,
) -> i32;

/// The static table a module's entry symbol returns.
#[repr(C)]
pub struct ModuleTableV1 {
    /// Must equal [`PLUGHOST_MODULE_ABI_VERSION`].
    pub abi_version: u32,
    /// `size_of::<ModuleTableV1>()` as the module was built.
    pub struct_size: u32,
    /// The module's name, NUL-terminated UTF-8, static.
    pub name: *const c_char,
    /// The module's version, NUL-terminated UTF-8, static.
    pub version: *const c_char,
    /// Required.
    pub init: Option<InitFn>,
    /// Required.
    pub execute: Option<ExecuteFn>,
    /// Required.
    pub shutdown: Option<ShutdownFn>,
    /// Optional (NULL when the module has no state to hand over).
    pub save_state: Option<SaveStateFn>,
    /// Optional (NULL when the module takes no state).
    pub restore_state: Option<RestoreStateFn>,
}

// SAFETY: the table is immutable static data; its pointers are to static strings and functions.
unsafe impl Sync for ModuleTableV1 {}

/// The entry symbol's type.
pub type EntryFn = unsafe extern "C" fn() -> *const ModuleTableV1;
