//! `plughost_host`: create and free a host, read its health, set its log callback and level, and
//! drive its main thread.

use super::args;
use super::boundary::{infallible, status};
use super::buffer::{self, plughost_buffer};
use super::host_cache;
use super::user_data::{plughost_destroy_callback, UserData};
use crate::error::{Error, ErrorKind, Result};
use crate::host::Host;
use arc_swap::{ArcSwapOption, Guard};
use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const LIVE: u64 = 0x706c_7567_686f_7374; // "plughost"
const FREED: u64 = 0x6672_6565_6420_2020; // "freed   "

/// An opaque host. Created by `plughost_host_new`, freed by `plughost_host_free`.
///
/// Every function taking a `const plughost_host*` may be called from any thread, concurrently.
/// After `plughost_host_free`, the pointer stays safe to pass: calls fail with
/// `PLUGHOST_ERR_INVALID_HANDLE` (a 16-byte tombstone is kept for this). A pointer that never came
/// from `plughost_host_new` is undefined behaviour. Each thread caches the host it called last, so
/// the memory of a freed (stopped) host is released once every thread that called it has called
/// plughost with another host, or has exited.
pub struct plughost_host {
    magic: AtomicU64,
    host: ArcSwapOption<Host>,
}

/// A log callback: `level` is 1 (error) to 5 (trace); `target` and `message` are UTF-8, valid only
/// during the call. Called on the thread that logged, possibly several threads at once; it must
/// not block for long. Logging from inside the callback is dropped, not delivered recursively.
pub type plughost_log_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        level: u32,
        target: *const u8,
        target_len: usize,
        message: *const u8,
        message_len: usize,
    ),
>;

/// Told that a call waits for the main thread: pump soon (in Revit, raise an ExternalEvent).
/// Called on the thread that queued the call.
pub type plughost_pump_callback = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// The live host behind a handle: derefs to [`Host`] and keeps it alive while held.
pub(crate) enum LiveHost {
    /// Lent by this thread's cache (no atomic read-modify-write).
    Cached(host_cache::Lent),
    /// Loaded from the handle.
    Loaded(Guard<Option<Arc<Host>>>),
}

impl std::ops::Deref for LiveHost {
    type Target = Host;
    fn deref(&self) -> &Host {
        match self {
            LiveHost::Cached(lent) => lent,
            LiveHost::Loaded(guard) => guard.as_ref().expect("checked by live()"),
        }
    }
}

/// The live host behind `host`: `NULL_ARGUMENT` for NULL, `INVALID_HANDLE` once freed.
///
/// # Safety
/// `host` must be NULL or a pointer returned by `plughost_host_new` (freed or not).
#[inline]
pub(crate) unsafe fn live(host: *const plughost_host) -> Result<LiveHost> {
    // SAFETY: the caller's contract; handles are never deallocated.
    let handle = unsafe { host.as_ref() }.ok_or_else(|| Error::new(ErrorKind::NullArgument, "host is NULL"))?;
    let address = host as usize;
    let freed = || Error::new(ErrorKind::InvalidHandle, "host is freed or not a plughost_host");
    if handle.magic.load(Ordering::Acquire) != LIVE {
        host_cache::forget(address);
        return Err(freed());
    }
    if let Some(lent) = host_cache::lend(address) {
        return Ok(LiveHost::Cached(lent));
    }
    let guard = handle.host.load();
    let Some(arc) = guard.as_ref() else { return Err(freed()) };
    host_cache::keep(address, arc);
    Ok(LiveHost::Loaded(guard))
}

/// Create and start a host from a JSON configuration (a `{"PlugHost": {...}}` document; NULL or
/// empty for all defaults). Components start in dependency order; the calling thread becomes the
/// host's main thread.
///
/// On success writes the new host to `out_host`; the caller owns it and frees it with
/// `plughost_host_free`. On `PLUGHOST_ERR_INVALID_CONFIG` the last error lists every problem with
/// its JSON path.
///
/// # Safety
/// `config` must be NULL or valid for `config_len` bytes; `out_host` valid for a write.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_host_new(
    config: *const u8,
    config_len: usize,
    out_host: *mut *mut plughost_host,
) -> i32 {
    status(|| {
        let out_host = args::out(out_host, "out_host")?;
        // SAFETY: the caller's contract.
        let text = unsafe { args::text(config, config_len, "config")? };
        let host = Host::from_json(text)?;
        let handle = Box::new(plughost_host { magic: AtomicU64::new(LIVE), host: ArcSwapOption::from(Some(host)) });
        // SAFETY: checked out-pointer.
        unsafe { args::write(out_host, Box::into_raw(handle)) };
        Ok(())
    })
}

/// Stop and free a host: modules are drained (up to the unload timeout each) and unloaded,
/// services and subscriptions are released (their destroy callbacks run), then the host is freed
/// once no call is running on it. NULL and an already freed host are no-ops.
///
/// # Safety
/// `host` must be NULL or a pointer returned by `plughost_host_new`.
///
/// Threads: any, but not from inside a callback plughost is running for this host.
#[no_mangle]
pub unsafe extern "C" fn plughost_host_free(host: *mut plughost_host) {
    infallible((), || {
        // SAFETY: the caller's contract; handles are never deallocated.
        let Some(handle) = (unsafe { host.as_ref() }) else {
            return;
        };
        if handle.magic.compare_exchange(LIVE, FREED, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return;
        }
        if let Some(host) = handle.host.swap(None) {
            host.stop();
        }
        host_cache::forget(host as usize);
    })
}

/// The body of the functions that write a text about the host (JSON) into a new buffer in
/// `out_json`: the host checked, the out-pointer checked, `text` of the host stored.
///
/// # Safety
/// `host` from `plughost_host_new`; `out_json` valid for a write.
pub(crate) unsafe fn host_text(
    host: *const plughost_host,
    out_json: *mut plughost_buffer,
    text: impl FnOnce(&Host) -> String,
) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let h = unsafe { live(host)? };
        let out = args::out(out_json, "out_json")?;
        // SAFETY: checked out-pointer.
        unsafe { buffer::store_into(out, text(&h).into_bytes()) }
    })
}

/// Write the health report (UTF-8 JSON: overall status with reasons, modules, retained
/// generations, process figures, per-command latency percentiles) into a new buffer; the caller
/// frees it with `plughost_buffer_free`.
///
/// # Safety
/// `host` as for every host function; `out_json` valid for a write.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_host_health(host: *const plughost_host, out_json: *mut plughost_buffer) -> i32 {
    // SAFETY: the caller's contract, forwarded.
    unsafe { host_text(host, out_json, Host::health_json) }
}

/// Run a health check now (every probe, then recovery of what they found, as the monitor does
/// every `Health.IntervalMs`) and write it as UTF-8 JSON (`run`, `at_unix_ms`, `duration_ms`,
/// `trigger`, `status`, `probes`, `recoveries`) into a new buffer; the caller frees it with
/// `plughost_buffer_free`. The check joins the history. Waits for a check in progress; may take
/// as long as a recovery does (a plugin's start).
///
/// # Safety
/// `host` as for every host function; `out_json` valid for a write.
///
/// Threads: any, except a handler of the `plughost.health*` events running on the checking thread.
#[no_mangle]
pub unsafe extern "C" fn plughost_host_health_check(host: *const plughost_host, out_json: *mut plughost_buffer) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let h = unsafe { live(host)? };
        let out = args::out(out_json, "out_json")?;
        let run = serde_json::to_vec_pretty(&h.check_health()?).expect("a health check serialises");
        // SAFETY: checked out-pointer.
        unsafe { buffer::store_into(out, run) }
    })
}

/// Write the kept health checks (up to `Health.HistorySize`, oldest first; each as
/// `plughost_host_health_check` writes it) as a UTF-8 JSON array into a new buffer; the caller
/// frees it with `plughost_buffer_free`.
///
/// # Safety
/// `host` as for every host function; `out_json` valid for a write.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_host_health_history(
    host: *const plughost_host,
    out_json: *mut plughost_buffer,
) -> i32 {
    // SAFETY: the caller's contract, forwarded.
    unsafe { host_text(host, out_json, Host::health_history_json) }
}

/// Set the log callback (NULL clears it). It receives every plughost event of the process at or
/// above the host's level. The previous callback's `destroy_user_data` runs once no delivery uses
/// it; `destroy_user_data` of this one runs when it is replaced or the host is freed.
/// plughost owns `user_data` from this call on, even when it fails: on failure `destroy_user_data`
/// runs before the call returns.
///
/// # Safety
/// `host` as for every host function; the callback and user data must stay valid until destroyed.
///
/// Threads: any. The callback runs on the thread that logs (see `plughost_log_callback`).
#[no_mangle]
pub unsafe extern "C" fn plughost_host_set_log_callback(
    host: *const plughost_host,
    callback: plughost_log_callback,
    user_data: *mut c_void,
    destroy_user_data: plughost_destroy_callback,
) -> i32 {
    let user = UserData::new(user_data, destroy_user_data);
    status(move || {
        // SAFETY: the caller's contract.
        let h = unsafe { live(host)? };
        let sink = callback.map(|cb| -> crate::logging::LogCallback {
            Arc::new(move |level, target: &str, message: &str| {
                // SAFETY: the application registered `cb` for exactly this signature; the
                // strings are valid for the call.
                unsafe { cb(user.get(), level, target.as_ptr(), target.len(), message.as_ptr(), message.len()) }
            })
        });
        h.set_log_callback(sink);
        Ok(())
    })
}

/// Change the log level at run time: 0 off, 1 error, 2 warn, 3 info, 4 debug, 5 trace
/// (`PLUGHOST_LOG_*`). Other values give `PLUGHOST_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `host` as for every host function.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_host_set_log_level(host: *const plughost_host, level: u32) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        unsafe { live(host)? }.set_log_level(level)
    })
}

/// Make the calling thread the host's main thread: main-thread services run on it, inline when
/// called on it and queued until `plughost_host_pump` otherwise. `plughost_host_new` sets its
/// calling thread; call this when the application's main thread is another one.
///
/// # Safety
/// `host` as for every host function.
///
/// Threads: the thread that is to become main.
#[no_mangle]
pub unsafe extern "C" fn plughost_host_set_main_thread(host: *const plughost_host) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        unsafe { live(host)? }.set_main_thread();
        Ok(())
    })
}

/// Set the callback told when a main-thread call is queued (NULL clears it). `destroy_user_data`
/// runs when it is replaced or the host is freed.
/// plughost owns `user_data` from this call on, even when it fails: on failure `destroy_user_data`
/// runs before the call returns.
///
/// # Safety
/// `host` as for every host function; the callback and user data stay valid until destroyed.
///
/// Threads: any; the callback runs on the thread that queued the call.
#[no_mangle]
pub unsafe extern "C" fn plughost_host_set_pump_callback(
    host: *const plughost_host,
    callback: plughost_pump_callback,
    user_data: *mut c_void,
    destroy_user_data: plughost_destroy_callback,
) -> i32 {
    let user = UserData::new(user_data, destroy_user_data);
    status(move || {
        // SAFETY: the caller's contract.
        let h = unsafe { live(host)? };
        let request = callback.map(|cb| -> Arc<dyn Fn() + Send + Sync> {
            // SAFETY: registered by the application for this signature.
            Arc::new(move || unsafe { cb(user.get()) })
        });
        h.set_pump_request(request);
        Ok(())
    })
}

/// Run up to `max_calls` queued main-thread service calls (0 = all queued now) and write how many
/// ran to `out_ran` (may be NULL). Returns `PLUGHOST_ERR_WRONG_THREAD` off the main thread.
///
/// # Safety
/// `host` as for every host function; `out_ran` NULL or valid for a write.
///
/// Threads: the host's main thread only.
#[no_mangle]
pub unsafe extern "C" fn plughost_host_pump(host: *const plughost_host, max_calls: u32, out_ran: *mut u32) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let ran = unsafe { live(host)? }.pump(max_calls as usize)?;
        if !out_ran.is_null() {
            // SAFETY: non-NULL out-pointer, valid per the caller's contract.
            unsafe { args::write(out_ran, u32::try_from(ran).unwrap_or(u32::MAX)) };
        }
        Ok(())
    })
}

/// Switch watching the work modules' files on (`enabled` = 1) or off (0); other values give
/// `PLUGHOST_ERR_INVALID_ARGUMENT`. `PlugHost.Modules.Watch.Enabled` sets it when the host starts.
///
/// While it is on, every loaded module's original file (the path it was loaded from, not its
/// shadow copy) and the sibling libraries copied with it are watched; once they have been quiet for
/// `DebounceMs` after a change, the module is reloaded as by `plughost_module_reload` with a NULL
/// path, on plughost's watcher thread. A file that is not a complete library yet is tried again
/// every `RetryMs`, up to `RetryLimitMs`. The outcome is published on the event bus (source
/// `"host"`, JSON payloads): `plughost.module.reloading` `{"module", "id", "path"}`, then
/// `plughost.module.reloaded` `{"module", "id", "generation", "ms"}` or
/// `plughost.module.rolled_back` `{"module", "id", "reason"}` (the old generation keeps serving).
/// Subscribe with `plughost_event_subscribe`; those callbacks run on the watcher thread.
///
/// Switching it off waits for a reload in progress to finish (unless called from a callback on
/// the watcher thread, which only asks it to end). Switching on what is on, or off what is off,
/// does nothing.
///
/// Errors: `INVALID_ARGUMENT`, `HOST_STOPPED`, `IO` (the operating system refused to watch).
///
/// # Safety
/// `host` as for every host function.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_host_set_watching(host: *const plughost_host, enabled: u32) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let h = unsafe { live(host)? };
        let enabled = match enabled {
            0 => false,
            1 => true,
            other => {
                return Err(Error::new(ErrorKind::InvalidArgument, format!("enabled must be 0 or 1, not {other}")))
            }
        };
        h.set_watching(enabled)
    })
}

/// Write 1 to `out_enabled` if the work modules' files are being watched
/// (see `plughost_host_set_watching`), 0 if not.
///
/// # Safety
/// `host` as for every host function; `out_enabled` valid for a write.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_host_watching(host: *const plughost_host, out_enabled: *mut u32) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let h = unsafe { live(host)? };
        let out = args::out(out_enabled, "out_enabled")?;
        // SAFETY: checked out-pointer.
        unsafe { args::write(out, u32::from(h.watching())) };
        Ok(())
    })
}
