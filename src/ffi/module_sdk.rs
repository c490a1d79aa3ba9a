//! The `extern "C"` shims that [`export_module!`](crate::export_module) puts behind a
//! [`WorkModule`]: they convert the module ABI's raw arguments, catch panics, and map results
//! onto module return codes.

use super::module_abi::*;
use crate::sdk::{CommandError, HostServices, WorkModule};
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The instance behind the opaque pointer the host keeps.
struct Instance<T> {
    host: HostServices,
    module: T,
}

/// Build the static table for `T`. `name` and `version` must end with a NUL byte.
pub const fn table<T: WorkModule>(name: &'static str, version: &'static str) -> ModuleTableV1 {
    ModuleTableV1 {
        abi_version: PLUGHOST_MODULE_ABI_VERSION,
        struct_size: std::mem::size_of::<ModuleTableV1>() as u32,
        name: name.as_ptr().cast(),
        version: version.as_ptr().cast(),
        init: Some(init::<T>),
        execute: Some(execute::<T>),
        shutdown: Some(shutdown::<T>),
        save_state: if T::HANDS_OVER_STATE { Some(save_state::<T>) } else { None },
        restore_state: if T::HANDS_OVER_STATE { Some(restore_state::<T>) } else { None },
    }
}

/// The text of a panic's payload (a `&str` or a `String`; anything else is "unknown panic").
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_owned()
    }
}

/// Run `body`, turning a panic into [`PLUGHOST_MODULE_PANICKED`] with its message on `err`.
fn guarded(host: HostServices, err: *mut ModuleOutput, body: impl FnOnce() -> i32) -> i32 {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(code) => code,
        Err(payload) => {
            host.set_error(err, &format!("panic: {}", panic_message(payload.as_ref())));
            PLUGHOST_MODULE_PANICKED
        }
    }
}

/// # Safety
/// Called by the host only, with a valid host table, a writable `instance_out` and sink.
unsafe extern "C" fn init<T: WorkModule>(
    host: *const HostApiV1,
    instance_out: *mut *mut c_void,
    err: *mut ModuleOutput,
) -> i32 {
    // SAFETY: the host passes a table that outlives the instance.
    let services = unsafe { HostServices::from_raw(host) };
    guarded(services, err, || match T::init(services) {
        Ok(module) => {
            let instance = Box::new(Instance { host: services, module });
            // SAFETY: the host passes a valid, writable out-pointer.
            unsafe { *instance_out = Box::into_raw(instance).cast() };
            PLUGHOST_MODULE_OK
        }
        Err(message) => {
            services.set_error(err, &message);
            PLUGHOST_MODULE_ERROR
        }
    })
}

/// # Safety
/// `instance` comes from `init::<T>`; the byte ranges are valid for the call; `out` is the host's.
unsafe extern "C" fn execute<T: WorkModule>(
    instance: *mut c_void,
    command: *const u8,
    command_len: usize,
    input: *const u8,
    input_len: usize,
    out: *mut ModuleOutput,
) -> i32 {
    // SAFETY: the instance stays alive until shutdown, which the host never overlaps with calls.
    let instance = unsafe { &*(instance as *const Instance<T>) };
    let host = instance.host;
    guarded(host, out, || {
        // SAFETY: the host passes valid pointer/length pairs (non-null, possibly zero length).
        let (command, input) = unsafe { (bytes(command, command_len), bytes(input, input_len)) };
        let Ok(command) = std::str::from_utf8(command) else {
            host.set_error(out, "command is not UTF-8");
            return PLUGHOST_MODULE_ERROR;
        };
        let mut output = Vec::new();
        match instance.module.execute(command, input, &mut output) {
            Ok(()) => {
                host.write_output(out, &output);
                PLUGHOST_MODULE_OK
            }
            Err(CommandError::UnknownCommand) => PLUGHOST_MODULE_UNKNOWN_COMMAND,
            Err(CommandError::Failed(message)) => {
                host.set_error(out, &message);
                PLUGHOST_MODULE_ERROR
            }
        }
    })
}

/// # Safety
/// `instance` comes from `init::<T>` and is not used again.
unsafe extern "C" fn shutdown<T: WorkModule>(instance: *mut c_void) {
    // SAFETY: ownership returns to us exactly once, at shutdown.
    let instance = unsafe { Box::from_raw(instance as *mut Instance<T>) };
    // A panic in shutdown must not unwind into the host; there is nowhere to report it but the log.
    let host = instance.host;
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || instance.module.shutdown())) {
        host.log(crate::sdk::LogLevel::Error, &format!("panic in shutdown: {}", panic_message(payload.as_ref())));
    }
}

/// # Safety
/// `instance` comes from `init::<T>`; `out` is the host's sink.
unsafe extern "C" fn save_state<T: WorkModule>(instance: *mut c_void, out: *mut ModuleOutput) -> i32 {
    // SAFETY: as in `execute`.
    let instance = unsafe { &*(instance as *const Instance<T>) };
    let host = instance.host;
    guarded(host, out, || match instance.module.save_state() {
        Ok(state) => {
            host.write_output(out, &state);
            PLUGHOST_MODULE_OK
        }
        Err(message) => {
            host.set_error(out, &message);
            PLUGHOST_MODULE_ERROR
        }
    })
}

/// # Safety
/// `instance` comes from `init::<T>`; the byte ranges are valid for the call.
unsafe extern "C" fn restore_state<T: WorkModule>(
    instance: *mut c_void,
    state: *const u8,
    state_len: usize,
    from_version: *const u8,
    from_version_len: usize,
    err: *mut ModuleOutput,
) -> i32 {
    // SAFETY: as in `execute`.
    let instance = unsafe { &*(instance as *const Instance<T>) };
    let host = instance.host;
    guarded(host, err, || {
        // SAFETY: the host passes valid pointer/length pairs.
        let (state, from) = unsafe { (bytes(state, state_len), bytes(from_version, from_version_len)) };
        match instance.module.restore_state(state, &String::from_utf8_lossy(from)) {
            Ok(()) => PLUGHOST_MODULE_OK,
            Err(message) => {
                host.set_error(err, &message);
                PLUGHOST_MODULE_ERROR
            }
        }
    })
}

/// # Safety
/// `ptr` must be valid for `len` bytes, or `len` must be 0.
unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}
