//! The core's error type: a kind that maps one-to-one onto a status code, and a message.

use crate::status::*;
use std::fmt;

/// What went wrong, as a category that maps onto one fixed status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorKind {
    /// A required pointer argument was NULL.
    NullArgument = PLUGHOST_ERR_NULL_ARGUMENT,
    /// An argument is out of range or inconsistent.
    InvalidArgument = PLUGHOST_ERR_INVALID_ARGUMENT,
    /// A string is not valid UTF-8.
    InvalidUtf8 = PLUGHOST_ERR_INVALID_UTF8,
    /// A handle or id is freed, stale or unknown.
    InvalidHandle = PLUGHOST_ERR_INVALID_HANDLE,
    /// plughost panicked internally.
    Panic = PLUGHOST_ERR_PANIC,
    /// The configuration is invalid.
    InvalidConfig = PLUGHOST_ERR_INVALID_CONFIG,
    /// The call must be made on the main thread.
    WrongThread = PLUGHOST_ERR_WRONG_THREAD,
    /// A wait ran out of time.
    Timeout = PLUGHOST_ERR_TIMEOUT,
    /// A configured limit was reached.
    LimitReached = PLUGHOST_ERR_LIMIT_REACHED,
    /// A file-system or OS call failed.
    Io = PLUGHOST_ERR_IO,
    /// The host is stopping or stopped.
    HostStopped = PLUGHOST_ERR_HOST_STOPPED,
    /// The module file does not exist.
    ModuleNotFound = PLUGHOST_ERR_MODULE_NOT_FOUND,
    /// The file is not a loadable library.
    ModuleNotLoadable = PLUGHOST_ERR_MODULE_NOT_LOADABLE,
    /// The entry symbol is missing.
    ModuleEntryMissing = PLUGHOST_ERR_MODULE_ENTRY_MISSING,
    /// The module's ABI version or table size does not match.
    ModuleAbiMismatch = PLUGHOST_ERR_MODULE_ABI_MISMATCH,
    /// The module's init failed.
    ModuleInitFailed = PLUGHOST_ERR_MODULE_INIT_FAILED,
    /// The module does not know the command.
    ModuleUnknownCommand = PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND,
    /// The module's command returned an error.
    ModuleFailed = PLUGHOST_ERR_MODULE_FAILED,
    /// The module panicked.
    ModulePanicked = PLUGHOST_ERR_MODULE_PANICKED,
    /// Draining in-flight calls timed out.
    ModuleDrainTimeout = PLUGHOST_ERR_MODULE_DRAIN_TIMEOUT,
    /// The path lies outside the trusted roots.
    ModulePathNotTrusted = PLUGHOST_ERR_MODULE_PATH_NOT_TRUSTED,
    /// Too many old generations remain mapped.
    ModulePinnedLimit = PLUGHOST_ERR_MODULE_PINNED_LIMIT,
    /// State hand-over between generations failed.
    ModuleStateTransfer = PLUGHOST_ERR_MODULE_STATE_TRANSFER,
    /// No such service.
    ServiceNotFound = PLUGHOST_ERR_SERVICE_NOT_FOUND,
    /// The service callback failed.
    ServiceFailed = PLUGHOST_ERR_SERVICE_FAILED,
    /// The service name is taken.
    ServiceExists = PLUGHOST_ERR_SERVICE_EXISTS,
    /// The storage key does not exist.
    KeyNotFound = PLUGHOST_ERR_KEY_NOT_FOUND,
    /// The IPC peer died.
    IpcPeerDead = PLUGHOST_ERR_IPC_PEER_DEAD,
    /// An IPC call or send ran past its deadline.
    IpcTimeout = PLUGHOST_ERR_IPC_TIMEOUT,
    /// The IPC peer sent malformed data.
    IpcMalformed = PLUGHOST_ERR_IPC_MALFORMED,
    /// The IPC session is closed.
    IpcClosed = PLUGHOST_ERR_IPC_CLOSED,
    /// The IPC peer's handler failed.
    IpcRemoteFailed = PLUGHOST_ERR_IPC_REMOTE_FAILED,
    /// An IPC message exceeds the largest slot.
    IpcTooLarge = PLUGHOST_ERR_IPC_TOO_LARGE,
    /// An IPC session could not be set up.
    IpcSetup = PLUGHOST_ERR_IPC_SETUP,
    /// The IPC peer speaks another protocol version.
    IpcIncompatible = PLUGHOST_ERR_IPC_INCOMPATIBLE,
    /// No plugin has that name.
    PluginNotFound = PLUGHOST_ERR_PLUGIN_NOT_FOUND,
    /// The plugin is not running.
    PluginNotRunning = PLUGHOST_ERR_PLUGIN_NOT_RUNNING,
    /// The plugin could not be started.
    PluginStartFailed = PLUGHOST_ERR_PLUGIN_START_FAILED,
    /// The plugin's command failed.
    PluginFailed = PLUGHOST_ERR_PLUGIN_FAILED,
    /// The plugin's process ended during the call.
    PluginCrashed = PLUGHOST_ERR_PLUGIN_CRASHED,
    /// Python cannot be used: the pool is disabled, the worker program is missing, or it cannot start CPython (no libpython, another version); the message says which.
    PythonUnavailable = PLUGHOST_ERR_PYTHON_UNAVAILABLE,
    /// The script raised; the run's answer carries the exception's type, message and traceback, and the output.
    PythonError = PLUGHOST_ERR_PYTHON_ERROR,
    /// Every Python worker is busy and the queue of waiting runs is full.
    PoolSaturated = PLUGHOST_ERR_POOL_SATURATED,
    /// The run exceeded its worker's memory limit (MemoryError); the worker is replaced.
    PythonMemoryLimit = PLUGHOST_ERR_PYTHON_MEMORY_LIMIT,
    /// The worker process ended during the run (os._exit, a crash); it is started again.
    PythonWorkerCrashed = PLUGHOST_ERR_PYTHON_WORKER_CRASHED,
    /// The named session's globals were lost with its worker (a timeout, a crash, recycling); the next run with that name starts a fresh session.
    PythonSessionLost = PLUGHOST_ERR_PYTHON_SESSION_LOST,
}

impl ErrorKind {
    /// Every kind, in status order (used by tests and by `plughost_status_name`).
    pub const ALL: [ErrorKind; 46] = [
        Self::NullArgument,
        Self::InvalidArgument,
        Self::InvalidUtf8,
        Self::InvalidHandle,
        Self::Panic,
        Self::InvalidConfig,
        Self::WrongThread,
        Self::Timeout,
        Self::LimitReached,
        Self::Io,
        Self::HostStopped,
        Self::ModuleNotFound,
        Self::ModuleNotLoadable,
        Self::ModuleEntryMissing,
        Self::ModuleAbiMismatch,
        Self::ModuleInitFailed,
        Self::ModuleUnknownCommand,
        Self::ModuleFailed,
        Self::ModulePanicked,
        Self::ModuleDrainTimeout,
        Self::ModulePathNotTrusted,
        Self::ModulePinnedLimit,
        Self::ModuleStateTransfer,
        Self::ServiceNotFound,
        Self::ServiceFailed,
        Self::ServiceExists,
        Self::KeyNotFound,
        Self::IpcPeerDead,
        Self::IpcTimeout,
        Self::IpcMalformed,
        Self::IpcClosed,
        Self::IpcRemoteFailed,
        Self::IpcTooLarge,
        Self::IpcSetup,
        Self::IpcIncompatible,
        Self::PluginNotFound,
        Self::PluginNotRunning,
        Self::PluginStartFailed,
        Self::PluginFailed,
        Self::PluginCrashed,
        Self::PythonUnavailable,
        Self::PythonError,
        Self::PoolSaturated,
        Self::PythonMemoryLimit,
        Self::PythonWorkerCrashed,
        Self::PythonSessionLost,
    ];

    /// The stable status code of this kind.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The kind for a status code, or `None` for 0 and unknown numbers.
    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.code() == code)
    }

    /// The status constant's name as it appears in the C header, e.g. `PLUGHOST_ERR_TIMEOUT`.
    pub fn name(self) -> &'static str {
        let with_nul = self.c_name();
        &with_nul[..with_nul.len() - 1]
    }

    /// [`name`](Self::name) with a terminating NUL, for the C ABI.
    pub fn c_name(self) -> &'static str {
        match self {
            Self::NullArgument => "PLUGHOST_ERR_NULL_ARGUMENT\0",
            Self::InvalidArgument => "PLUGHOST_ERR_INVALID_ARGUMENT\0",
            Self::InvalidUtf8 => "PLUGHOST_ERR_INVALID_UTF8\0",
            Self::InvalidHandle => "PLUGHOST_ERR_INVALID_HANDLE\0",
            Self::Panic => "PLUGHOST_ERR_PANIC\0",
            Self::InvalidConfig => "PLUGHOST_ERR_INVALID_CONFIG\0",
            Self::WrongThread => "PLUGHOST_ERR_WRONG_THREAD\0",
            Self::Timeout => "PLUGHOST_ERR_TIMEOUT\0",
            Self::LimitReached => "PLUGHOST_ERR_LIMIT_REACHED\0",
            Self::Io => "PLUGHOST_ERR_IO\0",
            Self::HostStopped => "PLUGHOST_ERR_HOST_STOPPED\0",
            Self::ModuleNotFound => "PLUGHOST_ERR_MODULE_NOT_FOUND\0",
            Self::ModuleNotLoadable => "PLUGHOST_ERR_MODULE_NOT_LOADABLE\0",
            Self::ModuleEntryMissing => "PLUGHOST_ERR_MODULE_ENTRY_MISSING\0",
            Self::ModuleAbiMismatch => "PLUGHOST_ERR_MODULE_ABI_MISMATCH\0",
            Self::ModuleInitFailed => "PLUGHOST_ERR_MODULE_INIT_FAILED\0",
            Self::ModuleUnknownCommand => "PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND\0",
            Self::ModuleFailed => "PLUGHOST_ERR_MODULE_FAILED\0",
            Self::ModulePanicked => "PLUGHOST_ERR_MODULE_PANICKED\0",
            Self::ModuleDrainTimeout => "PLUGHOST_ERR_MODULE_DRAIN_TIMEOUT\0",
            Self::ModulePathNotTrusted => "PLUGHOST_ERR_MODULE_PATH_NOT_TRUSTED\0",
            Self::ModulePinnedLimit => "PLUGHOST_ERR_MODULE_PINNED_LIMIT\0",
            Self::ModuleStateTransfer => "PLUGHOST_ERR_MODULE_STATE_TRANSFER\0",
            Self::ServiceNotFound => "PLUGHOST_ERR_SERVICE_NOT_FOUND\0",
            Self::ServiceFailed => "PLUGHOST_ERR_SERVICE_FAILED\0",
            Self::ServiceExists => "PLUGHOST_ERR_SERVICE_EXISTS\0",
            Self::KeyNotFound => "PLUGHOST_ERR_KEY_NOT_FOUND\0",
            Self::IpcPeerDead => "PLUGHOST_ERR_IPC_PEER_DEAD\0",
            Self::IpcTimeout => "PLUGHOST_ERR_IPC_TIMEOUT\0",
            Self::IpcMalformed => "PLUGHOST_ERR_IPC_MALFORMED\0",
            Self::IpcClosed => "PLUGHOST_ERR_IPC_CLOSED\0",
            Self::IpcRemoteFailed => "PLUGHOST_ERR_IPC_REMOTE_FAILED\0",
            Self::IpcTooLarge => "PLUGHOST_ERR_IPC_TOO_LARGE\0",
            Self::IpcSetup => "PLUGHOST_ERR_IPC_SETUP\0",
            Self::IpcIncompatible => "PLUGHOST_ERR_IPC_INCOMPATIBLE\0",
            Self::PluginNotFound => "PLUGHOST_ERR_PLUGIN_NOT_FOUND\0",
            Self::PluginNotRunning => "PLUGHOST_ERR_PLUGIN_NOT_RUNNING\0",
            Self::PluginStartFailed => "PLUGHOST_ERR_PLUGIN_START_FAILED\0",
            Self::PluginFailed => "PLUGHOST_ERR_PLUGIN_FAILED\0",
            Self::PluginCrashed => "PLUGHOST_ERR_PLUGIN_CRASHED\0",
            Self::PythonUnavailable => "PLUGHOST_ERR_PYTHON_UNAVAILABLE\0",
            Self::PythonError => "PLUGHOST_ERR_PYTHON_ERROR\0",
            Self::PoolSaturated => "PLUGHOST_ERR_POOL_SATURATED\0",
            Self::PythonMemoryLimit => "PLUGHOST_ERR_PYTHON_MEMORY_LIMIT\0",
            Self::PythonWorkerCrashed => "PLUGHOST_ERR_PYTHON_WORKER_CRASHED\0",
            Self::PythonSessionLost => "PLUGHOST_ERR_PYTHON_SESSION_LOST\0",
        }
    }
}

/// An error of the core: a kind (the status code) and a human-readable message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// The category, which decides the status code.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message shown to users.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error with `context: ` put before its message.
    pub fn context(self, context: impl fmt::Display) -> Self {
        Self { kind: self.kind, message: format!("{context}: {}", self.message) }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.kind.name())
    }
}

impl std::error::Error for Error {}

/// The core's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for kind in ErrorKind::ALL {
            assert!(seen.insert(kind.code()), "duplicate code {}", kind.code());
            assert_eq!(ErrorKind::from_code(kind.code()), Some(kind));
            assert!(kind.name().starts_with("PLUGHOST_ERR_"));
        }
        assert_eq!(ErrorKind::from_code(PLUGHOST_OK), None);
        assert_eq!(ErrorKind::from_code(9999), None);
    }

    #[test]
    fn context_prefixes_message_and_keeps_kind() {
        let e = Error::new(ErrorKind::Io, "disk full").context("copy x");
        assert_eq!(e.message(), "copy x: disk full");
        assert_eq!(e.kind(), ErrorKind::Io);
    }
}
