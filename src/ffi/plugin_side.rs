//! `plughost_plugin_*`: writing an out-of-process plugin in C (or any language with a C FFI).
//! A plugin program fills a `plughost_plugin_def` and returns `plughost_plugin_run(&def)` from
//! `main`; while it runs, its callbacks (and any other thread) reach the host's log, storage,
//! services and event bus through the functions below. One plugin per process.
//!
//! `plughost_plugin_run` is the Rust SDK's loop ([`crate::plugin::run`]) around the C callbacks.

use super::args;
use super::boundary::{infallible, status};
use super::buffer::{self, plughost_buffer};
use super::event::plughost_event_callback;
use super::host_table::OutputSink;
use super::session::handler_answer;
use super::user_data::{plughost_destroy_callback, UserData};
use crate::error::{Error, ErrorKind, Result};
use crate::plugin::runner::{self, EXIT_NOT_STARTED, EXIT_PANICKED};
use crate::plugin::{Plugin, PluginError, PluginEvent, PluginHost};
use std::ffi::c_void;
use std::sync::Arc;

/// The version of `plughost_plugin_def` this library reads; put it in the definition's
/// `abi_version`.
pub const PLUGHOST_PLUGIN_ABI_VERSION: u32 = 1;

/// A plugin's definition for `plughost_plugin_run`. Set `abi_version` to
/// `PLUGHOST_PLUGIN_ABI_VERSION` and `struct_size` to `sizeof(plughost_plugin_def)`.
///
/// - `initialize` (may be NULL): called once with the plugin's configuration (JSON text, may be
///   empty) before any command; return `PLUGHOST_OK`, or set a message with
///   `plughost_output_set_error(error, ...)` and return a `PLUGHOST_ERR_*` status.
/// - `process` (required): run `command` (UTF-8) with `input`; write the answer with
///   `plughost_output_write(output, ...)` and return `PLUGHOST_OK`, or set a message with
///   `plughost_output_set_error` and return a `PLUGHOST_ERR_*` status (other non-zero numbers
///   are sent as `PLUGHOST_ERR_SERVICE_FAILED`). It may run on several threads at once.
/// - `shutdown` (may be NULL): called once, when the host asks or when the session ends without
///   that, before `plughost_plugin_run` returns.
///
/// Pointers given to the callbacks are valid only during the call. The callbacks run on
/// plughost's or the program's threads, possibly several at once, and may call the
/// `plughost_plugin_*` host services.
#[repr(C)]
pub struct plughost_plugin_def {
    /// `PLUGHOST_PLUGIN_ABI_VERSION`.
    pub abi_version: u32,
    /// `sizeof(plughost_plugin_def)`.
    pub struct_size: u32,
    /// Passed to every callback.
    pub user_data: *mut c_void,
    /// Initialise with the configuration (may be NULL).
    pub initialize: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            config: *const u8,
            config_len: usize,
            error: *mut OutputSink,
        ) -> i32,
    >,
    /// Run a command (required).
    pub process: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            command: *const u8,
            command_len: usize,
            input: *const u8,
            input_len: usize,
            output: *mut OutputSink,
        ) -> i32,
    >,
    /// Release the plugin's resources (may be NULL).
    pub shutdown: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
}

/// A C plugin: a copy of its definition.
struct CPlugin(plughost_plugin_def);

// SAFETY: `plughost_plugin_run` documents that the callbacks and their user data are used from
// several threads at once; the program guarantees that this is safe.
unsafe impl Send for CPlugin {}
// SAFETY: as above.
unsafe impl Sync for CPlugin {}

impl CPlugin {
    /// Check and copy the definition at `def`.
    ///
    /// # Safety
    /// `def` is NULL or valid for reads of its `struct_size` bytes.
    unsafe fn from_def(def: *const plughost_plugin_def) -> std::result::Result<Self, String> {
        if def.is_null() {
            return Err("the plugin definition is NULL".into());
        }
        // SAFETY: the caller's contract; the two leading fields exist in every version.
        let (abi, size) = unsafe { ((*def).abi_version, (*def).struct_size) };
        if abi != PLUGHOST_PLUGIN_ABI_VERSION {
            return Err(format!(
                "the plugin definition has abi_version {abi}; this library reads {PLUGHOST_PLUGIN_ABI_VERSION}"
            ));
        }
        let needed = std::mem::size_of::<plughost_plugin_def>();
        if (size as usize) < needed {
            return Err(format!("the plugin definition's struct_size is {size}, less than {needed}"));
        }
        // SAFETY: the caller's contract; at least `needed` bytes are readable.
        let def = unsafe { def.read() };
        if def.process.is_none() {
            return Err("the plugin definition has no process callback".into());
        }
        Ok(CPlugin(def))
    }
}

fn failure(answer: std::result::Result<Vec<u8>, (i32, String)>) -> std::result::Result<Vec<u8>, PluginError> {
    answer.map_err(|(status, message)| PluginError::with_status(status, message))
}

impl Plugin for CPlugin {
    fn initialize(&self, _: &PluginHost, config: &str) -> std::result::Result<(), PluginError> {
        let Some(initialize) = self.0.initialize else { return Ok(()) };
        let mut sink = OutputSink::default();
        // SAFETY: the program's callback for this signature; the slices and the sink are valid
        // for the call.
        let code = unsafe { initialize(self.0.user_data, config.as_ptr(), config.len(), &mut sink) };
        failure(handler_answer(code, sink)).map(drop)
    }

    fn process(&self, _: &PluginHost, command: &str, input: &[u8]) -> std::result::Result<Vec<u8>, PluginError> {
        let process = self.0.process.expect("checked when the definition was read");
        let mut sink = OutputSink::default();
        // SAFETY: as in `initialize`.
        let code = unsafe {
            process(self.0.user_data, command.as_ptr(), command.len(), input.as_ptr(), input.len(), &mut sink)
        };
        failure(handler_answer(code, sink))
    }

    fn shutdown(&self, _: &PluginHost) {
        if let Some(shutdown) = self.0.shutdown {
            // SAFETY: the program's callback for this signature.
            unsafe { shutdown(self.0.user_data) }
        }
    }
}

/// Run the plugin `def` in this process, which a plughost host started with an IPC session:
/// attach, call `initialize`, `process` and `shutdown` as the host asks, and return when the
/// session ends. The result is the exit code for `main` to return:
///
/// - 0: the host asked the plugin to shut down, or said goodbye;
/// - 1: the session failed (the host died, or sent malformed data);
/// - 2: the plugin did not run: `def` is NULL, its `abi_version` is not
///   `PLUGHOST_PLUGIN_ABI_VERSION`, its `struct_size` too small or `process` NULL, the process
///   was not started by a host, the host's settings are invalid, or a plugin runs already;
/// - 101: a panic inside plughost while the plugin ran (a caller in flight got
///   `PLUGHOST_ERR_PANIC`).
///
/// Every non-zero code comes with a one-line reason on standard error (the host captures
/// standard output and error into its log). The definition is copied at the start.
///
/// # Safety
/// `def` NULL or valid for reads of its `struct_size` bytes; its callbacks valid for their
/// signatures, and they and `user_data` safe to use from several threads at once until this
/// returns.
///
/// Threads: any, once at a time per process (usually `main`'s thread).
#[no_mangle]
pub unsafe extern "C" fn plughost_plugin_run(def: *const plughost_plugin_def) -> i32 {
    infallible(EXIT_PANICKED, || {
        // SAFETY: the caller's contract.
        match unsafe { CPlugin::from_def(def) } {
            Ok(plugin) => runner::run_plugin(Arc::new(plugin)),
            Err(why) => {
                runner::report(why);
                EXIT_NOT_STARTED
            }
        }
    })
}

/// The running plugin's host.
fn running() -> Result<PluginHost> {
    runner::current().ok_or_else(|| Error::new(ErrorKind::InvalidHandle, "no plugin is running"))
}

/// Log `message` (UTF-8) under the plugin's name at `level` (`PLUGHOST_LOG_ERROR` (1) to
/// `PLUGHOST_LOG_TRACE` (5)).
///
/// Errors: `INVALID_HANDLE` (no plugin is running), `INVALID_ARGUMENT` (level), `INVALID_UTF8`,
/// and the session's errors (`IPC_CLOSED`, `IPC_PEER_DEAD`, `IPC_TIMEOUT`, ...).
///
/// # Safety
/// `message` valid for `message_len` bytes.
///
/// Threads: any, while `plughost_plugin_run` runs (also inside the plugin's callbacks).
#[no_mangle]
pub unsafe extern "C" fn plughost_plugin_log(level: u32, message: *const u8, message_len: usize) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let message = unsafe { args::text(message, message_len, "message")? };
        Ok(running()?.log(level, message)?)
    })
}

/// The value stored under `key` (UTF-8) in the host's storage, in a new buffer in `out_value`.
///
/// Errors: `KEY_NOT_FOUND` (no value), `INVALID_HANDLE` (no plugin is running), the session's
/// errors, and the host's (its status kept, its message in the last error).
///
/// # Safety
/// `key` valid for `key_len` bytes; `out_value` valid for a write.
///
/// Threads: any, while `plughost_plugin_run` runs.
#[no_mangle]
pub unsafe extern "C" fn plughost_plugin_storage_get(
    key: *const u8,
    key_len: usize,
    out_value: *mut plughost_buffer,
) -> i32 {
    status(|| {
        let out = args::out(out_value, "out_value")?;
        // SAFETY: the caller's contract.
        let key = unsafe { args::name(key, key_len, "key")? };
        let value = running()?
            .storage_get(key)?
            .ok_or_else(|| Error::new(ErrorKind::KeyNotFound, format!("no value under \"{key}\"")))?;
        // SAFETY: checked out-pointer.
        unsafe { buffer::store_into(out, value) }
    })
}

/// Store `value` under `key` (UTF-8) in the host's storage.
///
/// Errors: `LIMIT_REACHED` (the storage is full), `INVALID_HANDLE` (no plugin is running), the
/// session's errors.
///
/// # Safety
/// `key` and `value` valid for their lengths.
///
/// Threads: any, while `plughost_plugin_run` runs.
#[no_mangle]
pub unsafe extern "C" fn plughost_plugin_storage_set(
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let (key, value) = unsafe { (args::name(key, key_len, "key")?, args::bytes(value, value_len, "value")?) };
        Ok(running()?.storage_set(key, value)?)
    })
}

/// Call the host's service `name` (UTF-8) with `input`; its result in a new buffer in
/// `out_result`.
///
/// Errors: `SERVICE_NOT_FOUND`, the service's own status (its message in the last error),
/// `INVALID_HANDLE` (no plugin is running), the session's errors.
///
/// # Safety
/// `name` and `input` valid for their lengths; `out_result` valid for a write.
///
/// Threads: any, while `plughost_plugin_run` runs.
#[no_mangle]
pub unsafe extern "C" fn plughost_plugin_call_service(
    name: *const u8,
    name_len: usize,
    input: *const u8,
    input_len: usize,
    out_result: *mut plughost_buffer,
) -> i32 {
    status(|| {
        let out = args::out(out_result, "out_result")?;
        // SAFETY: the caller's contract.
        let (name, input) = unsafe { (args::name(name, name_len, "name")?, args::bytes(input, input_len, "input")?) };
        let result = running()?.call_service(name, input)?;
        // SAFETY: checked out-pointer.
        unsafe { buffer::store_into(out, result) }
    })
}

/// Publish `payload` under `topic` (UTF-8) on the host's event bus, with the plugin's name as
/// the source; the number of subscribers reached goes to `out_reached` (may be NULL).
///
/// Errors: `INVALID_HANDLE` (no plugin is running), the session's errors.
///
/// # Safety
/// `topic` and `payload` valid for their lengths; `out_reached` NULL or valid for a write.
///
/// Threads: any, while `plughost_plugin_run` runs.
#[no_mangle]
pub unsafe extern "C" fn plughost_plugin_publish(
    topic: *const u8,
    topic_len: usize,
    payload: *const u8,
    payload_len: usize,
    out_reached: *mut u64,
) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let (topic, payload) =
            unsafe { (args::name(topic, topic_len, "topic")?, args::bytes(payload, payload_len, "payload")?) };
        let reached = running()?.publish(topic, payload)?;
        if !out_reached.is_null() {
            // SAFETY: the caller's contract for a non-NULL `out_reached`.
            unsafe { args::write(out_reached, reached) };
        }
        Ok(())
    })
}

/// Subscribe `callback` to the host's bus events of `topic` (UTF-8; `*` for every topic), the
/// plugin's own publications included; the subscription's id goes to `out_subscription`. The
/// callback gets the topic, the source (`host`, a module's or a plugin's name), the payload (all
/// valid only during the call) and the bus's sequence number, on the thread that reads the
/// event, one event at a time. `destroy_user_data` (may be NULL) runs once the subscription
/// ended and no delivery uses it, at the latest before `plughost_plugin_run` returns.
///
/// plughost owns `user_data` from this call on, even when it fails. Errors: `NULL_ARGUMENT`,
/// `INVALID_HANDLE` (no plugin is running), the session's errors.
///
/// # Safety
/// `topic` valid for `topic_len` bytes; `out_subscription` valid for a write; the callback and
/// user data valid until destroyed.
///
/// Threads: any, while `plughost_plugin_run` runs.
#[no_mangle]
pub unsafe extern "C" fn plughost_plugin_subscribe(
    topic: *const u8,
    topic_len: usize,
    callback: plughost_event_callback,
    user_data: *mut c_void,
    destroy_user_data: plughost_destroy_callback,
    out_subscription: *mut u64,
) -> i32 {
    let user = UserData::new(user_data, destroy_user_data);
    status(move || {
        let out = args::out(out_subscription, "out_subscription")?;
        // SAFETY: the caller's contract.
        let topic = unsafe { args::name(topic, topic_len, "topic")? };
        let callback = callback.ok_or_else(|| Error::new(ErrorKind::NullArgument, "callback is NULL"))?;
        let host = running()?;
        let id = host.subscribe(topic, move |e: &PluginEvent| {
            let (t, s, p) = (&e.topic, &e.source, &e.payload);
            // SAFETY: registered by the program for this signature; the slices are valid for the call.
            unsafe { callback(user.get(), t.as_ptr(), t.len(), s.as_ptr(), s.len(), p.as_ptr(), p.len(), e.sequence) }
        })?;
        // SAFETY: checked out-pointer.
        unsafe { args::write(out, id) };
        Ok(())
    })
}

/// End the subscription `subscription`; its `destroy_user_data` runs once no delivery uses it.
///
/// Errors: the host's status for an unknown subscription, `INVALID_HANDLE` (no plugin is
/// running), the session's errors.
///
/// Threads: any, while `plughost_plugin_run` runs.
#[no_mangle]
pub extern "C" fn plughost_plugin_unsubscribe(subscription: u64) -> i32 {
    status(|| Ok(running()?.unsubscribe(subscription)?))
}

/// The running plugin's name (UTF-8), as the host knows it, in a new buffer in `out_name`.
///
/// Errors: `INVALID_HANDLE` (no plugin is running).
///
/// # Safety
/// `out_name` valid for a write.
///
/// Threads: any, while `plughost_plugin_run` runs.
#[no_mangle]
pub unsafe extern "C" fn plughost_plugin_name(out_name: *mut plughost_buffer) -> i32 {
    status(|| {
        let out = args::out(out_name, "out_name")?;
        let name = running()?.name().as_bytes().to_vec();
        // SAFETY: checked out-pointer.
        unsafe { buffer::store_into(out, name) }
    })
}
