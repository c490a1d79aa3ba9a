//! Out-of-process plugins, from the host's side: start, stop, call, state, list, and state
//! subscriptions. Plugins are declared in the configuration (`PlugHost.Plugins`) or found
//! through manifests; these functions name them.

use super::args;
use super::boundary::status;
use super::buffer::{self, plughost_buffer};
use super::host::{live, plughost_host};
use super::user_data::{plughost_destroy_callback, UserData};
use crate::error::{Error, ErrorKind};
use crate::plugins::PluginState;
use std::ffi::c_void;
use std::sync::Arc;
use std::time::Duration;

/// Plugin state: not running (never started, stopped on request or for being idle, or ended
/// cleanly).
pub const PLUGHOST_PLUGIN_STOPPED: u32 = 0;
/// Plugin state: its process is being started.
pub const PLUGHOST_PLUGIN_STARTING: u32 = 1;
/// Plugin state: its initialize runs.
pub const PLUGHOST_PLUGIN_INITIALIZING: u32 = 2;
/// Plugin state: it serves calls.
pub const PLUGHOST_PLUGIN_RUNNING: u32 = 3;
/// Plugin state: it is shutting down.
pub const PLUGHOST_PLUGIN_SHUTTING_DOWN: u32 = 4;
/// Plugin state: it ended unexpectedly and will not be restarted (policy or restart limit).
pub const PLUGHOST_PLUGIN_CRASHED: u32 = 5;
/// Plugin state: it ended unexpectedly and will be restarted after its backoff.
pub const PLUGHOST_PLUGIN_RESTARTING: u32 = 6;

/// Told of a plugin's change of state: its name (UTF-8), the old and new `PLUGHOST_PLUGIN_*`
/// state, and why (UTF-8); the strings are valid only during the call. Runs on the thread that
/// caused the change (a caller, a restart or watcher thread of plughost's), possibly on several
/// threads at once; it must not block for long.
pub type plughost_plugin_state_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        plugin: *const u8,
        plugin_len: usize,
        from: u32,
        to: u32,
        reason: *const u8,
        reason_len: usize,
    ),
>;

/// Start plugin `name` (UTF-8) and wait until it runs. Nothing to do when it runs already;
/// starting a crashed plugin starts its restart window afresh.
///
/// Errors: `PLUGIN_NOT_FOUND`, `PLUGIN_START_FAILED` (the last error says why: the program, the
/// attach, or its initialize), `HOST_STOPPED`.
///
/// # Safety
/// `host` from `plughost_host_new`; `name` valid for `name_len` bytes.
///
/// Threads: any; blocks until the plugin runs or failed to start.
#[no_mangle]
pub unsafe extern "C" fn plughost_plugin_start(host: *const plughost_host, name: *const u8, name_len: usize) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let (h, name) = unsafe { (live(host)?, args::name(name, name_len, "name")?) };
        h.start_plugin(name)
    })
}

/// Stop plugin `name` gracefully: its shutdown runs, the session is closed, and after its
/// `ShutdownTimeoutMs` the process is killed. Calls then fail with `PLUGIN_NOT_RUNNING` until
/// `plughost_plugin_start` (a plugin declared `OnDemand` starts again on its next call).
///
/// Errors: `PLUGIN_NOT_FOUND`, `HOST_STOPPED`.
///
/// # Safety
/// `host` from `plughost_host_new`; `name` valid for `name_len` bytes.
///
/// Threads: any; blocks until the process has ended.
#[no_mangle]
pub unsafe extern "C" fn plughost_plugin_stop(host: *const plughost_host, name: *const u8, name_len: usize) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let (h, name) = unsafe { (live(host)?, args::name(name, name_len, "name")?) };
        h.stop_plugin(name)
    })
}

/// Run `command` (UTF-8) of plugin `name` with `input` and write its answer to a new buffer in
/// `out_output`. `timeout_ms` 0 means the plugin's `CallTimeoutMs`. A plugin that is starting or
/// restarting is waited for (within the timeout); one on demand or stopped for being idle is
/// started. While it waits, the plugin may call host services (nested calls).
///
/// Errors: `PLUGIN_NOT_FOUND`, `PLUGIN_NOT_RUNNING`, `PLUGIN_START_FAILED`, `PLUGIN_FAILED` (the
/// plugin's status and message in the last error), `PLUGIN_CRASHED` (its process ended during the
/// call; it is restarted per its policy), `TIMEOUT` (still starting at the deadline),
/// `IPC_TIMEOUT` (no answer in time), `HOST_STOPPED`.
///
/// # Safety
/// `host` from `plughost_host_new`; `name`, `command` and `input` valid for their lengths;
/// `out_output` valid for a write.
///
/// Threads: any, any number at once.
#[no_mangle]
pub unsafe extern "C" fn plughost_plugin_call(
    host: *const plughost_host,
    name: *const u8,
    name_len: usize,
    command: *const u8,
    command_len: usize,
    input: *const u8,
    input_len: usize,
    timeout_ms: u32,
    out_output: *mut plughost_buffer,
) -> i32 {
    status(|| {
        let out = args::out(out_output, "out_output")?;
        // SAFETY: the caller's contract.
        let (h, name, command, input) = unsafe {
            (
                live(host)?,
                args::name(name, name_len, "name")?,
                args::name(command, command_len, "command")?,
                args::bytes(input, input_len, "input")?,
            )
        };
        let timeout = (timeout_ms > 0).then(|| Duration::from_millis(u64::from(timeout_ms)));
        let output = h.call_plugin(name, command, input, timeout)?;
        // SAFETY: checked out-pointer.
        unsafe { buffer::store_into(out, output) }
    })
}

/// Write the state of plugin `name` (a `PLUGHOST_PLUGIN_*` value) to `out_state`.
///
/// Errors: `PLUGIN_NOT_FOUND`.
///
/// # Safety
/// `host` from `plughost_host_new`; `name` valid for `name_len` bytes; `out_state` valid for a
/// write.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_plugin_state(
    host: *const plughost_host,
    name: *const u8,
    name_len: usize,
    out_state: *mut u32,
) -> i32 {
    status(|| {
        let out = args::out(out_state, "out_state")?;
        // SAFETY: the caller's contract.
        let (h, name) = unsafe { (live(host)?, args::name(name, name_len, "name")?) };
        let state = h.plugin_state(name)?;
        // SAFETY: checked out-pointer.
        unsafe { args::write(out, state as u32) };
        Ok(())
    })
}

/// Every plugin as a JSON array in a new buffer: per plugin `name`, `state`, `reason`, `pid`,
/// `program`, `origin`, `restart_policy`, `restarts_in_window`, `restarts`, `crashes`, `starts`,
/// `calls`, `failures`, `in_flight`, `uptime_ms`, `idle_ms`, `events_dropped`, `cpu_ms`,
/// `rss_bytes` (the same objects as the health report's `plugins`).
///
/// # Safety
/// `host` from `plughost_host_new`; `out_json` valid for a write.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_plugin_list(host: *const plughost_host, out_json: *mut plughost_buffer) -> i32 {
    status(|| {
        let out = args::out(out_json, "out_json")?;
        // SAFETY: the caller's contract.
        let h = unsafe { live(host)? };
        let json = serde_json::to_vec(&h.plugins()).map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
        // SAFETY: checked out-pointer.
        unsafe { buffer::store_into(out, json) }
    })
}

/// Hear of every plugin's changes of state through `callback` (see
/// `plughost_plugin_state_callback`); writes the subscription id to `out_subscription`.
/// `destroy_user_data` (may be NULL) runs after `plughost_plugin_unsubscribe_states` or host free,
/// once no call uses it. The same changes are also published on the event bus, topic
/// `plughost.plugin.state`, as JSON `{"plugin", "from", "to", "reason"}`.
///
/// plughost owns `user_data` from this call on, even when it fails.
///
/// # Safety
/// `host` from `plughost_host_new`; `out_subscription` valid for a write; the callback and user
/// data stay valid until destroyed.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_plugin_subscribe_states(
    host: *const plughost_host,
    callback: plughost_plugin_state_callback,
    user_data: *mut c_void,
    destroy_user_data: plughost_destroy_callback,
    out_subscription: *mut u64,
) -> i32 {
    let user = UserData::new(user_data, destroy_user_data);
    status(move || {
        let out = args::out(out_subscription, "out_subscription")?;
        // SAFETY: the caller's contract.
        let h = unsafe { live(host)? };
        let callback = callback.ok_or_else(|| Error::new(ErrorKind::NullArgument, "callback is NULL"))?;
        let listener = Arc::new(move |plugin: &str, from: PluginState, to: PluginState, reason: &str| {
            // SAFETY: registered by the application for this signature; the strings are valid
            // for the call.
            unsafe {
                callback(
                    user.get(),
                    plugin.as_ptr(),
                    plugin.len(),
                    from as u32,
                    to as u32,
                    reason.as_ptr(),
                    reason.len(),
                )
            }
        });
        let id = h.subscribe_plugin_states(listener)?;
        // SAFETY: checked out-pointer.
        unsafe { args::write(out, id) };
        Ok(())
    })
}

/// End a plugin state subscription; its `destroy_user_data` runs once no call uses it.
///
/// Errors: `INVALID_HANDLE` for an unknown or ended subscription.
///
/// # Safety
/// `host` from `plughost_host_new`.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_plugin_unsubscribe_states(host: *const plughost_host, subscription: u64) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        unsafe { live(host)? }.unsubscribe_plugin_states(subscription)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_constants_are_the_states_numbers() {
        let constants = [
            PLUGHOST_PLUGIN_STOPPED,
            PLUGHOST_PLUGIN_STARTING,
            PLUGHOST_PLUGIN_INITIALIZING,
            PLUGHOST_PLUGIN_RUNNING,
            PLUGHOST_PLUGIN_SHUTTING_DOWN,
            PLUGHOST_PLUGIN_CRASHED,
            PLUGHOST_PLUGIN_RESTARTING,
        ];
        for (constant, state) in constants.iter().zip(PluginState::ALL) {
            assert_eq!(*constant, state as u32, "{state}");
        }
        assert_eq!(constants.len(), PluginState::ALL.len());
    }
}
