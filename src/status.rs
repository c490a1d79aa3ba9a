//! Status codes: the fixed numbers every fallible C function returns.
//!
//! These numbers are part of the stable ABI. A number is never renumbered and never reused: a
//! retired status stays here as a comment. Ranges: 0 success, 1..=99 caller and host errors,
//! 100..=199 work modules, 200..=299 host services, 300..=399 storage and events. 400..=499 IPC. 500..=599 plugins. Later
//! subsystems take 500 (plugins) and 600 (Python).
//!
//! The constants are plain `i32`s so that the generated header carries them as `#define`s and no
//! Rust enum crosses the boundary.

/// Success.
pub const PLUGHOST_OK: i32 = 0;
/// A required pointer argument was NULL.
pub const PLUGHOST_ERR_NULL_ARGUMENT: i32 = 1;
/// An argument is out of range or inconsistent (for example a length without a pointer).
pub const PLUGHOST_ERR_INVALID_ARGUMENT: i32 = 2;
/// A string argument is not valid UTF-8.
pub const PLUGHOST_ERR_INVALID_UTF8: i32 = 3;
/// A handle or id is freed, stale or was never issued.
pub const PLUGHOST_ERR_INVALID_HANDLE: i32 = 4;
/// plughost itself panicked; the call was abandoned and the host stays usable.
pub const PLUGHOST_ERR_PANIC: i32 = 5;
/// The configuration is invalid; the message lists every problem with its JSON path.
pub const PLUGHOST_ERR_INVALID_CONFIG: i32 = 6;
/// The call must be made on the host's main thread.
pub const PLUGHOST_ERR_WRONG_THREAD: i32 = 7;
/// A wait ran out of time (for example a main-thread service call that was never pumped).
pub const PLUGHOST_ERR_TIMEOUT: i32 = 8;
/// A configured limit was reached (module slots, storage size, subscriptions).
pub const PLUGHOST_ERR_LIMIT_REACHED: i32 = 9;
/// A file-system or operating-system call failed.
pub const PLUGHOST_ERR_IO: i32 = 10;
/// The host is stopping or stopped.
pub const PLUGHOST_ERR_HOST_STOPPED: i32 = 11;

/// The module file does not exist.
pub const PLUGHOST_ERR_MODULE_NOT_FOUND: i32 = 100;
/// The file exists but the operating system cannot load it as a library.
pub const PLUGHOST_ERR_MODULE_NOT_LOADABLE: i32 = 101;
/// The library has no `plughost_module_entry_v1` symbol.
pub const PLUGHOST_ERR_MODULE_ENTRY_MISSING: i32 = 102;
/// The module's table has another ABI version or a table size this host cannot read.
pub const PLUGHOST_ERR_MODULE_ABI_MISMATCH: i32 = 103;
/// The module's init returned an error (its message is in the last error).
pub const PLUGHOST_ERR_MODULE_INIT_FAILED: i32 = 104;
/// The module does not know the command.
pub const PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND: i32 = 105;
/// The module's command returned an error (its message is in the last error).
pub const PLUGHOST_ERR_MODULE_FAILED: i32 = 106;
/// The module panicked; the Rust SDK caught the unwind at the module boundary.
pub const PLUGHOST_ERR_MODULE_PANICKED: i32 = 107;
/// In-flight calls did not finish within the unload timeout.
pub const PLUGHOST_ERR_MODULE_DRAIN_TIMEOUT: i32 = 108;
/// The path lies outside every trusted module root (after resolving `..` and symlinks).
pub const PLUGHOST_ERR_MODULE_PATH_NOT_TRUSTED: i32 = 109;
/// Too many old generations of this module are still mapped; no further reload until they go.
pub const PLUGHOST_ERR_MODULE_PINNED_LIMIT: i32 = 110;
/// Handing state from the old generation to the new one failed; the old one keeps serving.
pub const PLUGHOST_ERR_MODULE_STATE_TRANSFER: i32 = 111;

/// No service is registered under that name.
pub const PLUGHOST_ERR_SERVICE_NOT_FOUND: i32 = 200;
/// The service's callback reported an error (its message is in the last error).
pub const PLUGHOST_ERR_SERVICE_FAILED: i32 = 201;
/// A service with that name is already registered.
pub const PLUGHOST_ERR_SERVICE_EXISTS: i32 = 202;

/// The storage key does not exist.
pub const PLUGHOST_ERR_KEY_NOT_FOUND: i32 = 300;

/// The IPC peer died (its process exited or its heartbeat stopped); every call in flight failed.
pub const PLUGHOST_ERR_IPC_PEER_DEAD: i32 = 400;
/// An IPC call or send ran past its deadline (no answer, or the peer kept its ring or slots full).
pub const PLUGHOST_ERR_IPC_TIMEOUT: i32 = 401;
/// The IPC peer sent a malformed frame or message; the session is broken.
pub const PLUGHOST_ERR_IPC_MALFORMED: i32 = 402;
/// The IPC session is closed (by this side or by the peer's goodbye).
pub const PLUGHOST_ERR_IPC_CLOSED: i32 = 403;
/// The IPC peer's handler failed; the message carries the peer's status and text.
pub const PLUGHOST_ERR_IPC_REMOTE_FAILED: i32 = 404;
/// An IPC message is larger than the largest slot of the session's geometry.
pub const PLUGHOST_ERR_IPC_TOO_LARGE: i32 = 405;
/// An IPC session could not be set up (segment, hand-off, geometry, threads).
pub const PLUGHOST_ERR_IPC_SETUP: i32 = 406;
/// The IPC peer speaks another protocol version; the session is closed.
pub const PLUGHOST_ERR_IPC_INCOMPATIBLE: i32 = 407;

/// No plugin has that name.
pub const PLUGHOST_ERR_PLUGIN_NOT_FOUND: i32 = 500;
/// The plugin is not running and will not start for this call (stopped on request, or crashed
/// and not restarting); the message says its state and why.
pub const PLUGHOST_ERR_PLUGIN_NOT_RUNNING: i32 = 501;
/// The plugin could not be started (program missing, attach or initialize failed or timed out).
pub const PLUGHOST_ERR_PLUGIN_START_FAILED: i32 = 502;
/// The plugin's command failed; the message carries the plugin's status and text.
pub const PLUGHOST_ERR_PLUGIN_FAILED: i32 = 503;
/// The plugin's process ended during the call; it is restarted per its policy.
pub const PLUGHOST_ERR_PLUGIN_CRASHED: i32 = 504;

/// Python cannot be used: the pool is disabled, the worker program is missing, or it cannot start CPython (no libpython, another version); the message says which.
pub const PLUGHOST_ERR_PYTHON_UNAVAILABLE: i32 = 600;
/// The script raised; the run's answer carries the exception's type, message and traceback, and the output.
pub const PLUGHOST_ERR_PYTHON_ERROR: i32 = 601;
/// Every Python worker is busy and the queue of waiting runs is full.
pub const PLUGHOST_ERR_POOL_SATURATED: i32 = 602;
/// The run exceeded its worker's memory limit (MemoryError); the worker is replaced.
pub const PLUGHOST_ERR_PYTHON_MEMORY_LIMIT: i32 = 603;
/// The worker process ended during the run (os._exit, a crash); it is started again.
pub const PLUGHOST_ERR_PYTHON_WORKER_CRASHED: i32 = 604;
/// The named session's globals were lost with its worker (a timeout, a crash, recycling); the next run with that name starts a fresh session.
pub const PLUGHOST_ERR_PYTHON_SESSION_LOST: i32 = 605;
