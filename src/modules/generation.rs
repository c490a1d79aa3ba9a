//! One generation of a module: the library loaded from its shadow copy, the checked table, the
//! instance, and its admission state.
//!
//! Which callers use a generation, and when none does any more, is tracked by the slot (see
//! `current.rs`). The generation itself says whether a caller that reached it may call it: not
//! while its state is being restored (`ready` is false: callers wait at its gate instead of seeing
//! a half-initialised module), and not once it is `retired` (callers go back to the slot).

use super::shadow::ShadowCopy;
use super::stats::ModuleStats;
use super::ModuleId;
use crate::error::{Error, ErrorKind, Result};
use crate::ffi::host_table::{HostTable, OutputSink};
use crate::ffi::module_abi::*;
use crate::host::HostShared;
use crate::platform;
use parking_lot::{Condvar, Mutex};
use std::ffi::{c_void, CStr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The module's instance pointer.
struct Instance(*mut c_void);
// SAFETY: the module ABI requires instances to be usable from any thread.
unsafe impl Send for Instance {}
// SAFETY: as above; execute is documented to run concurrently.
unsafe impl Sync for Instance {}

/// Whether a caller that reached a generation may call it.
pub(crate) enum Admission {
    /// Call it.
    Open,
    /// Retired: go back to the slot's published generation.
    Retired,
    /// Its state is being restored: wait at its gate, then try again.
    Gated,
}

/// A loaded, initialised generation.
pub(crate) struct Generation {
    /// The module this generation belongs to.
    pub module: ModuleId,
    /// The module's statistics, shared by all its generations.
    pub stats: Arc<ModuleStats>,
    /// 1 for the first load of a module, then one more per reload.
    pub number: u64,
    /// The module's name from its table.
    pub name: String,
    /// The module's version from its table.
    pub version: String,
    /// The trusted, resolved source file it was copied from.
    pub source: PathBuf,
    /// Its shadow copy.
    pub shadow: ShadowCopy,
    /// How long copy + load + handshake + init took.
    pub load_duration: Duration,
    library: Mutex<Option<libloading::Library>>,
    instance: Instance,
    execute_fn: ExecuteFn,
    shutdown_fn: ShutdownFn,
    save_fn: Option<SaveStateFn>,
    restore_fn: Option<RestoreStateFn>,
    _host_table: HostTable,
    retired: AtomicBool,
    ready: AtomicBool,
    gate: Mutex<()>,
    gate_open: Condvar,
    shut_down: AtomicBool,
}

fn mismatch(message: String) -> Error {
    Error::new(ErrorKind::ModuleAbiMismatch, message)
}

/// Read a static NUL-terminated UTF-8 string of at most 256 bytes from the table.
///
/// # Safety
/// `ptr` is NULL or points at a NUL-terminated string that lives as long as the library.
unsafe fn table_string(ptr: *const std::ffi::c_char, field: &str) -> Result<String> {
    if ptr.is_null() {
        return Err(mismatch(format!("module table field {field} is NULL")));
    }
    // SAFETY: the caller's contract.
    let text = unsafe { CStr::from_ptr(ptr) };
    let text = text.to_str().map_err(|_| mismatch(format!("module table field {field} is not UTF-8")))?;
    if text.is_empty() || text.len() > 256 {
        return Err(mismatch(format!("module table field {field} must be 1 to 256 bytes long")));
    }
    Ok(text.to_owned())
}

fn call_error(name: &str, code: i32, sink: OutputSink, command: Option<&str>) -> Error {
    let message = sink.error.unwrap_or_default();
    match code {
        PLUGHOST_MODULE_UNKNOWN_COMMAND => Error::new(
            ErrorKind::ModuleUnknownCommand,
            format!("module \"{name}\" has no command \"{}\"", command.unwrap_or("?")),
        ),
        PLUGHOST_MODULE_PANICKED => Error::new(ErrorKind::ModulePanicked, format!("module \"{name}\": {message}")),
        PLUGHOST_MODULE_ERROR if !message.is_empty() => Error::new(ErrorKind::ModuleFailed, message),
        PLUGHOST_MODULE_ERROR => {
            Error::new(ErrorKind::ModuleFailed, format!("module \"{name}\" failed without a message"))
        }
        other => Error::new(ErrorKind::ModuleFailed, format!("module \"{name}\" returned unknown code {other}")),
    }
}

impl Generation {
    /// Load the shadow copy, check the handshake, and init the module.
    pub fn open(
        module: ModuleId,
        stats: Arc<ModuleStats>,
        number: u64,
        source: PathBuf,
        shadow: ShadowCopy,
        shared: Arc<HostShared>,
    ) -> Result<Generation> {
        let started = Instant::now();
        platform::check_image(&shadow.file).map_err(|e| {
            Error::new(ErrorKind::ModuleNotLoadable, format!("{} is not a loadable library: {e}", source.display()))
        })?;
        let library = platform::open_library(&shadow.file).map_err(|e| {
            Error::new(ErrorKind::ModuleNotLoadable, format!("{} is not a loadable library: {e}", source.display()))
        })?;
        // SAFETY: the symbol's type is fixed by the module ABI; a module exporting something else
        // under this versioned name breaks the ABI it claims.
        let entry: EntryFn = unsafe {
            *library.get::<EntryFn>(MODULE_ENTRY_SYMBOL).map_err(|e| {
                Error::new(
                    ErrorKind::ModuleEntryMissing,
                    format!("{} has no plughost_module_entry_v1 symbol: {e}", source.display()),
                )
            })?
        };
        // SAFETY: calling the module's entry, which returns a pointer to static data.
        let table_ptr = unsafe { entry() };
        if table_ptr.is_null() {
            return Err(mismatch("the module's entry returned NULL".into()));
        }
        // SAFETY: every table version starts with two u32s; read them before trusting the size.
        let (abi_version, struct_size) = unsafe {
            let header = table_ptr.cast::<u32>();
            (header.read_unaligned(), header.add(1).read_unaligned())
        };
        if abi_version != PLUGHOST_MODULE_ABI_VERSION {
            return Err(mismatch(format!(
                "module ABI version {abi_version}, this host speaks {PLUGHOST_MODULE_ABI_VERSION}"
            )));
        }
        if (struct_size as usize) < std::mem::size_of::<ModuleTableV1>() {
            return Err(mismatch(format!(
                "module table is {struct_size} bytes, ABI v1 needs at least {}",
                std::mem::size_of::<ModuleTableV1>()
            )));
        }
        // SAFETY: struct_size covers the whole v1 table.
        let table = unsafe { &*table_ptr };
        // SAFETY: the table's strings are static data of the library, which is open.
        let (name, version) = unsafe { (table_string(table.name, "name")?, table_string(table.version, "version")?) };
        let (Some(init), Some(execute_fn), Some(shutdown_fn)) = (table.init, table.execute, table.shutdown) else {
            return Err(mismatch(format!("module \"{name}\" lacks init, execute or shutdown")));
        };
        let host_table = HostTable::new(&name, shared);
        let mut instance: *mut c_void = std::ptr::null_mut();
        let mut sink = OutputSink::default();
        // SAFETY: init per the module ABI; the host table outlives the instance.
        let code = unsafe { init(host_table.as_ptr(), &mut instance, sink.as_module_output()) };
        if code != PLUGHOST_MODULE_OK || instance.is_null() {
            let reason = sink.error.unwrap_or_else(|| format!("init returned {code} without a message"));
            let kind = if code == PLUGHOST_MODULE_PANICKED { "panicked" } else { "failed" };
            return Err(Error::new(ErrorKind::ModuleInitFailed, format!("init of module \"{name}\" {kind}: {reason}")));
        }
        Ok(Generation {
            module,
            stats,
            number,
            name,
            version,
            source,
            shadow,
            load_duration: started.elapsed(),
            library: Mutex::new(Some(library)),
            instance: Instance(instance),
            execute_fn,
            shutdown_fn,
            save_fn: table.save_state,
            restore_fn: table.restore_state,
            _host_table: host_table,
            retired: AtomicBool::new(false),
            ready: AtomicBool::new(true),
            gate: Mutex::new(()),
            gate_open: Condvar::new(),
            shut_down: AtomicBool::new(false),
        })
    }

    /// Whether a caller may call this generation now.
    #[inline]
    pub fn admission(&self) -> Admission {
        if !self.ready.load(Ordering::SeqCst) {
            Admission::Gated
        } else if self.retired.load(Ordering::SeqCst) {
            Admission::Retired
        } else {
            Admission::Open
        }
    }

    /// Stop new calls from entering.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::SeqCst);
    }

    /// Let calls enter again (rollback of a swap whose new generation failed).
    pub fn unretire(&self) {
        self.retired.store(false, Ordering::SeqCst);
    }

    /// Whether the gate is open (false while a reload restores state into it).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Whether it can hand over state, and the new one take it.
    pub fn hands_over_state_to(&self, next: &Generation) -> bool {
        self.save_fn.is_some() && next.restore_fn.is_some()
    }

    /// Close the gate: callers wait until [`open_gate`](Self::open_gate).
    pub fn close_gate(&self) {
        self.ready.store(false, Ordering::SeqCst);
    }

    /// Open the gate and wake waiting callers.
    pub fn open_gate(&self) {
        let _guard = self.gate.lock();
        self.ready.store(true, Ordering::SeqCst);
        self.gate_open.notify_all();
    }

    /// Wait until the gate opens, running `while_waiting` every millisecond (main-thread pumping).
    pub fn wait_ready(&self, while_waiting: &dyn Fn()) {
        let mut guard = self.gate.lock();
        while !self.ready.load(Ordering::SeqCst) {
            self.gate_open.wait_for(&mut guard, Duration::from_millis(1));
            parking_lot::MutexGuard::unlocked(&mut guard, while_waiting);
        }
    }

    /// Run a command. The caller holds a claim on this generation and was admitted.
    #[inline]
    pub fn execute(&self, command: &str, input: &[u8]) -> Result<Vec<u8>> {
        let mut sink = OutputSink::default();
        // SAFETY: the instance is alive (the caller entered, so shutdown has not run); the
        // pointer/length pairs describe live slices.
        let code = unsafe {
            (self.execute_fn)(
                self.instance.0,
                command.as_ptr(),
                command.len(),
                input.as_ptr(),
                input.len(),
                sink.as_module_output(),
            )
        };
        if code == PLUGHOST_MODULE_OK {
            Ok(sink.data)
        } else {
            Err(call_error(&self.name, code, sink, Some(command)))
        }
    }

    /// Ask the module for the state to hand over. No call may be in flight.
    pub fn save_state(&self) -> Result<Vec<u8>> {
        let Some(save) = self.save_fn else {
            return Ok(Vec::new());
        };
        let mut sink = OutputSink::default();
        // SAFETY: drained instance, host-owned sink.
        let code = unsafe { save(self.instance.0, sink.as_module_output()) };
        if code == PLUGHOST_MODULE_OK {
            Ok(sink.data)
        } else {
            Err(call_error(&self.name, code, sink, None).context("save_state"))
        }
    }

    /// Hand `state` saved by `from_version` to the module. Called before it serves.
    pub fn restore_state(&self, state: &[u8], from_version: &str) -> Result<()> {
        let Some(restore) = self.restore_fn else {
            return Ok(());
        };
        let mut sink = OutputSink::default();
        // SAFETY: the instance serves no call yet (gate closed); slices are live.
        let code = unsafe {
            restore(
                self.instance.0,
                state.as_ptr(),
                state.len(),
                from_version.as_ptr(),
                from_version.len(),
                sink.as_module_output(),
            )
        };
        if code == PLUGHOST_MODULE_OK {
            Ok(())
        } else {
            Err(call_error(&self.name, code, sink, None).context("restore_state"))
        }
    }

    /// Shut the instance down (once) and close the library. Returns whether the shadow file is
    /// still mapped afterwards (`None`: cannot tell on this platform).
    pub fn shutdown_and_close(&self) -> Option<bool> {
        if !self.shut_down.swap(true, Ordering::SeqCst) {
            // SAFETY: no call is in flight (drained or never served) and shutdown runs once.
            unsafe { (self.shutdown_fn)(self.instance.0) };
        }
        if let Some(library) = self.library.lock().take() {
            if let Err(e) = library.close() {
                tracing::warn!(module = %self.name, error = %e, "closing the library failed");
            }
        }
        platform::is_mapped(&self.shadow.file)
    }
}

impl Drop for Generation {
    fn drop(&mut self) {
        // A generation is always shut down and closed explicitly before its last reference goes;
        // if one is not (a bug), leaking the library is the safe choice: never unmap live code.
        if let Some(library) = self.library.get_mut().take() {
            tracing::error!(module = %self.name, generation = self.number, "generation dropped while open; library kept mapped");
            std::mem::forget(library);
        }
    }
}
