//! Work modules: load, execute, reload, unload.

use super::args;
use super::boundary::status;
use super::buffer::{self, plughost_buffer};
use super::host::{live, plughost_host};
use crate::modules::ModuleId;
use std::path::Path;

/// A generation-checked module id. 0 is never valid; the id of an unloaded module stays invalid
/// even after its slot is reused.
pub type plughost_module_id = u64;

/// Load the work module at `path` (UTF-8): it must resolve (after `..` and symlinks) to a file
/// inside a trusted root; it is copied with its sibling libraries into a fresh shadow folder and
/// loaded from there, so the original is never locked. Writes the new id to `out_module`.
///
/// Errors: `MODULE_NOT_FOUND`, `MODULE_PATH_NOT_TRUSTED`, `MODULE_NOT_LOADABLE`,
/// `MODULE_ENTRY_MISSING`, `MODULE_ABI_MISMATCH`, `MODULE_INIT_FAILED`, `LIMIT_REACHED`,
/// `MODULE_PINNED_LIMIT`, `IO`; the last error says why.
///
/// # Safety
/// `host` from `plughost_host_new`; `path` valid for `path_len` bytes; `out_module` valid for a write.
///
/// Threads: any. The module's init runs on the calling thread.
#[no_mangle]
pub unsafe extern "C" fn plughost_module_load(
    host: *const plughost_host,
    path: *const u8,
    path_len: usize,
    out_module: *mut plughost_module_id,
) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let (h, path) = unsafe { (live(host)?, args::name(path, path_len, "path")?) };
        let out = args::out(out_module, "out_module")?;
        let id = h.load_module(Path::new(path))?;
        // SAFETY: checked out-pointer.
        unsafe { args::write(out, id.0) };
        Ok(())
    })
}

/// Execute `command` (UTF-8) of a module with `input` bytes, on the calling thread, and write the
/// output to a new buffer in `out_output` (free it with `plughost_buffer_free`). Safe to call from
/// many threads at once and during a reload: calls go to the current generation, and wait briefly
/// while a reload hands state over.
///
/// Errors: `INVALID_HANDLE` (stale id), `MODULE_UNKNOWN_COMMAND`, `MODULE_FAILED` (the module's
/// message in the last error), `MODULE_PANICKED`.
///
/// # Safety
/// `host` from `plughost_host_new`; `command` and `input` valid for their lengths (`input` may be
/// NULL with length 0); `out_output` valid for a write.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_module_execute(
    host: *const plughost_host,
    module: plughost_module_id,
    command: *const u8,
    command_len: usize,
    input: *const u8,
    input_len: usize,
    out_output: *mut plughost_buffer,
) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let (h, command, input) = unsafe {
            (live(host)?, args::name(command, command_len, "command")?, args::bytes(input, input_len, "input")?)
        };
        let out = args::out(out_output, "out_output")?;
        let output = h.execute(ModuleId(module), command, input)?;
        // SAFETY: checked out-pointer.
        unsafe { buffer::store_into(out, output) }
    })
}

/// Reload a module from `path` (UTF-8), or from its current source when `path` is NULL: the new
/// generation is loaded and initialised fully, swapped in atomically, the old one drained, its
/// state handed over, shut down and unloaded. Writes the new generation number to
/// `out_generation` (may be NULL).
///
/// On any failure of the new generation the old one keeps serving and the error says why.
/// Exception: `MODULE_DRAIN_TIMEOUT` means the new generation serves but the old one still has
/// calls in flight after the unload timeout; it stays loaded (see health) and its state was not
/// handed over.
///
/// # Safety
/// `host` from `plughost_host_new`; `path` NULL or valid for `path_len` bytes; `out_generation`
/// NULL or valid for a write.
///
/// Threads: any; reloads of one module are serialised. Draining on the main thread pumps
/// main-thread calls.
#[no_mangle]
pub unsafe extern "C" fn plughost_module_reload(
    host: *const plughost_host,
    module: plughost_module_id,
    path: *const u8,
    path_len: usize,
    out_generation: *mut u64,
) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let h = unsafe { live(host)? };
        // SAFETY: the caller's contract (a non-NULL path is valid for its length).
        let path = if path.is_null() { None } else { Some(Path::new(unsafe { args::name(path, path_len, "path")? })) };
        let generation = h.reload_module(ModuleId(module), path)?;
        if !out_generation.is_null() {
            // SAFETY: non-NULL out-pointer, valid per the caller's contract.
            unsafe { args::write(out_generation, generation) };
        }
        Ok(())
    })
}

/// Unload a module: its id is invalid at once, in-flight calls drain (up to the unload timeout),
/// then it shuts down, its library is closed and its shadow folder removed once unmapped. A
/// library that stays mapped is reported in health as pinned.
///
/// Errors: `INVALID_HANDLE` (stale id, including a second unload), `MODULE_DRAIN_TIMEOUT` (the id
/// is gone, but the library stays loaded until its calls finish).
///
/// # Safety
/// `host` from `plughost_host_new`.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_module_unload(host: *const plughost_host, module: plughost_module_id) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        unsafe { live(host)? }.unload_module(ModuleId(module))
    })
}
