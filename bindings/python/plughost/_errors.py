"""Exceptions: one class per kind of plughost status, and the errors raised while loading the library.

Status numbers are copied from ``include/plughost.h`` (they are fixed and never reused); a test
checks that every ``PLUGHOST_ERR_*`` macro of the header maps to a class here.
"""

from __future__ import annotations

from typing import Dict, Optional, Type

# Status codes, as in include/plughost.h.
OK = 0
ERR_NULL_ARGUMENT = 1
ERR_INVALID_ARGUMENT = 2
ERR_INVALID_UTF8 = 3
ERR_INVALID_HANDLE = 4
ERR_PANIC = 5
ERR_INVALID_CONFIG = 6
ERR_WRONG_THREAD = 7
ERR_TIMEOUT = 8
ERR_LIMIT_REACHED = 9
ERR_IO = 10
ERR_HOST_STOPPED = 11
ERR_MODULE_NOT_FOUND = 100
ERR_MODULE_NOT_LOADABLE = 101
ERR_MODULE_ENTRY_MISSING = 102
ERR_MODULE_ABI_MISMATCH = 103
ERR_MODULE_INIT_FAILED = 104
ERR_MODULE_UNKNOWN_COMMAND = 105
ERR_MODULE_FAILED = 106
ERR_MODULE_PANICKED = 107
ERR_MODULE_DRAIN_TIMEOUT = 108
ERR_MODULE_PATH_NOT_TRUSTED = 109
ERR_MODULE_PINNED_LIMIT = 110
ERR_MODULE_STATE_TRANSFER = 111
ERR_SERVICE_NOT_FOUND = 200
ERR_SERVICE_FAILED = 201
ERR_SERVICE_EXISTS = 202
ERR_KEY_NOT_FOUND = 300
ERR_IPC_PEER_DEAD = 400
ERR_IPC_TIMEOUT = 401
ERR_IPC_MALFORMED = 402
ERR_IPC_CLOSED = 403
ERR_IPC_REMOTE_FAILED = 404
ERR_IPC_TOO_LARGE = 405
ERR_IPC_SETUP = 406
ERR_IPC_INCOMPATIBLE = 407
ERR_PLUGIN_NOT_FOUND = 500
ERR_PLUGIN_NOT_RUNNING = 501
ERR_PLUGIN_START_FAILED = 502
ERR_PLUGIN_FAILED = 503
ERR_PLUGIN_CRASHED = 504
ERR_PYTHON_UNAVAILABLE = 600
ERR_PYTHON_ERROR = 601
ERR_POOL_SATURATED = 602
ERR_PYTHON_MEMORY_LIMIT = 603
ERR_PYTHON_WORKER_CRASHED = 604
ERR_PYTHON_SESSION_LOST = 605


# --- Loading the library ---------------------------------------------------------------------


class PlugHostLibraryError(ImportError):
    """The plughost shared library could not be found, loaded or accepted."""


class PlugHostLibraryNotFound(PlugHostLibraryError):
    """No plughost shared library was found; the message lists every place looked."""


class PlugHostAbiMismatch(PlugHostLibraryError):
    """The library found has another C ABI version than this package was written for."""


# --- Status errors ---------------------------------------------------------------------------


class PlugHostError(Exception):
    """A plughost call failed.

    ``status`` is the ``PLUGHOST_ERR_*`` number, ``status_name`` its name in the header,
    ``message`` the library's message for the failure, and ``function`` the C function that
    returned it (``None`` for errors raised by the Python layer itself).
    """

    status: int
    status_name: str
    message: str
    function: Optional[str]

    def __init__(
        self,
        message: str,
        status: int = -1,
        status_name: str = "PLUGHOST_ERR_UNKNOWN",
        function: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.status_name = status_name
        self.function = function

    def __str__(self) -> str:
        return f"{self.message} ({self.status_name})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status}, status_name={self.status_name!r})"

    def __reduce__(self):  # keep the attributes across pickling (for example across processes)
        return (type(self), (self.message, self.status, self.status_name, self.function))


class ArgumentError(PlugHostError):
    """A NULL, out-of-range or non-UTF-8 argument (NULL_ARGUMENT, INVALID_ARGUMENT, INVALID_UTF8)."""


class InvalidHandleError(PlugHostError):
    """A freed, stale or unknown handle or id: a host, module, buffer or subscription."""


class HostClosedError(InvalidHandleError):
    """The Python ``Host`` object was closed; raised before any call reaches the library."""

    def __init__(
        self,
        message: str = "the host is closed",
        status: int = ERR_INVALID_HANDLE,
        status_name: str = "PLUGHOST_ERR_INVALID_HANDLE",
        function: Optional[str] = None,
    ) -> None:
        super().__init__(message, status, status_name, function)


class SessionClosedError(InvalidHandleError):
    """The Python ``Session`` object was closed; raised before any call reaches the library."""

    def __init__(
        self,
        message: str = "the session is closed",
        status: int = ERR_INVALID_HANDLE,
        status_name: str = "PLUGHOST_ERR_INVALID_HANDLE",
        function: Optional[str] = None,
    ) -> None:
        super().__init__(message, status, status_name, function)


class InternalPanicError(PlugHostError):
    """plughost itself panicked; the call was abandoned and the host stays usable."""


class ConfigurationError(PlugHostError):
    """The configuration is invalid; the message lists every problem with its JSON path."""


class WrongThreadError(PlugHostError):
    """The call must be made on the host's main thread."""


class PlugHostTimeoutError(PlugHostError):
    """A wait ran out of time (for example a main-thread service call that was never pumped)."""


class LimitReachedError(PlugHostError):
    """A configured limit was reached (module slots, storage size)."""


class PlugHostIOError(PlugHostError):
    """A file-system or operating-system call failed."""


class HostStoppedError(PlugHostError):
    """The host is stopping or stopped."""


class ModuleLoadError(PlugHostError):
    """A work module could not be loaded (or reloaded)."""


class ModuleFileNotFoundError(ModuleLoadError):
    """The module file does not exist."""


class ModuleNotLoadableError(ModuleLoadError):
    """The file exists but is not a loadable library (including truncated files)."""


class ModuleEntryMissingError(ModuleLoadError):
    """The library has no ``plughost_module_entry_v1``."""


class ModuleAbiMismatchError(ModuleLoadError):
    """The module's table has another ABI version, a short table or missing functions."""


class ModuleInitError(ModuleLoadError):
    """The module's init failed; the message is the module's."""


class ModulePathNotTrustedError(ModuleLoadError):
    """The path lies outside every trusted root (after resolving ``..`` and symlinks)."""


class ModulePinnedLimitError(ModuleLoadError):
    """Too many old generations are still mapped; no further load or reload until they go."""


class ModuleUnloadError(PlugHostError):
    """Unloading a module, or retiring its old generation during a reload, did not go cleanly."""


class ModuleDrainTimeoutError(ModuleUnloadError):
    """Calls were still in flight after the unload timeout; the old library stays loaded."""


class ModuleStateTransferError(ModuleUnloadError):
    """Handing state to the new generation failed; the old generation keeps serving."""


class ModuleExecuteError(PlugHostError):
    """A module command did not succeed."""


class UnknownCommandError(ModuleExecuteError):
    """The module does not know the command."""


class ModuleFailedError(ModuleExecuteError):
    """The module's command returned an error; the message is the module's."""


class ModulePanickedError(ModuleExecuteError):
    """The module panicked; the Rust SDK caught it at the module boundary."""


class ServiceError(PlugHostError):
    """A host service call or registration failed."""


class ServiceNotFoundError(ServiceError):
    """No service is registered under that name."""


class ServiceFailedError(ServiceError):
    """The service's callback reported an error; the message is the callback's."""


class ServiceExistsError(ServiceError):
    """A service with that name is already registered."""


class KeyNotFoundError(PlugHostError, KeyError):
    """The storage key does not exist. Also a ``KeyError``."""

    def __str__(self) -> str:  # KeyError would quote the message
        return PlugHostError.__str__(self)



class IpcError(PlugHostError):
    """The shared-memory IPC transport failed (the ``IPC_*`` statuses)."""


class IpcPeerDeadError(IpcError):
    """The peer process died or its heartbeat stopped; every call in flight failed."""


class IpcTimeoutError(IpcError):
    """An IPC call or send ran past its deadline."""


class IpcMalformedError(IpcError):
    """The peer sent a malformed frame or message; the session is broken."""


class IpcClosedError(IpcError):
    """The session is closed (by this side or by the peer)."""


class IpcRemoteFailedError(IpcError):
    """The peer's handler failed; the message carries its status and text."""


class IpcTooLargeError(IpcError):
    """The message is larger than the largest slot of the session's geometry."""


class IpcSetupError(IpcError):
    """The session could not be set up (segment, hand-off, geometry, threads)."""


class IpcIncompatibleError(IpcError):
    """The peer speaks another protocol version; the session is closed."""


class PluginError(PlugHostError):
    """A failure of an out-of-process plugin (``PLUGHOST_ERR_PLUGIN_*``)."""


class PluginNotFoundError(PluginError):
    """No plugin has that name."""


class PluginNotRunningError(PluginError):
    """The plugin is stopped, or crashed and is not restarting; the message says why."""


class PluginStartFailedError(PluginError):
    """The plugin could not be started (program, attach or initialize)."""


class PluginFailedError(PluginError):
    """The plugin's command failed; the message carries its status and text."""


class PluginCrashedError(PluginError):
    """The plugin's process ended during the call; it is restarted per its policy."""

class PythonPoolError(PlugHostError):
    """A failure of a run in the Python pool (``PLUGHOST_ERR_PYTHON_*``, ``POOL_SATURATED``)."""


class PythonUnavailableError(PythonPoolError):
    """Python cannot be used: the pool is disabled, the worker program is missing, or it cannot
    start CPython; the message says which."""


class PythonScriptError(PythonPoolError):
    """The script raised. ``type_name``, ``traceback``, ``stdout`` and ``stderr`` are set by
    :meth:`plughost.Host.run_python`."""

    type_name: str = ""
    traceback: str = ""
    stdout: str = ""
    stderr: str = ""


class PoolSaturatedError(PythonPoolError):
    """Every Python worker is busy and the queue of waiting runs is full."""


class PythonMemoryLimitError(PythonPoolError):
    """The run exceeded its worker's memory limit; the worker is replaced."""


class PythonWorkerCrashedError(PythonPoolError):
    """The worker process ended during the run; it is started again."""


class PythonSessionLostError(PythonPoolError):
    """The named session's globals were lost with its worker; the next run starts it afresh."""


STATUS_CLASSES: Dict[int, Type[PlugHostError]] = {
    ERR_NULL_ARGUMENT: ArgumentError,
    ERR_INVALID_ARGUMENT: ArgumentError,
    ERR_INVALID_UTF8: ArgumentError,
    ERR_INVALID_HANDLE: InvalidHandleError,
    ERR_PANIC: InternalPanicError,
    ERR_INVALID_CONFIG: ConfigurationError,
    ERR_WRONG_THREAD: WrongThreadError,
    ERR_TIMEOUT: PlugHostTimeoutError,
    ERR_LIMIT_REACHED: LimitReachedError,
    ERR_IO: PlugHostIOError,
    ERR_HOST_STOPPED: HostStoppedError,
    ERR_MODULE_NOT_FOUND: ModuleFileNotFoundError,
    ERR_MODULE_NOT_LOADABLE: ModuleNotLoadableError,
    ERR_MODULE_ENTRY_MISSING: ModuleEntryMissingError,
    ERR_MODULE_ABI_MISMATCH: ModuleAbiMismatchError,
    ERR_MODULE_INIT_FAILED: ModuleInitError,
    ERR_MODULE_UNKNOWN_COMMAND: UnknownCommandError,
    ERR_MODULE_FAILED: ModuleFailedError,
    ERR_MODULE_PANICKED: ModulePanickedError,
    ERR_MODULE_DRAIN_TIMEOUT: ModuleDrainTimeoutError,
    ERR_MODULE_PATH_NOT_TRUSTED: ModulePathNotTrustedError,
    ERR_MODULE_PINNED_LIMIT: ModulePinnedLimitError,
    ERR_MODULE_STATE_TRANSFER: ModuleStateTransferError,
    ERR_SERVICE_NOT_FOUND: ServiceNotFoundError,
    ERR_SERVICE_FAILED: ServiceFailedError,
    ERR_SERVICE_EXISTS: ServiceExistsError,
    ERR_KEY_NOT_FOUND: KeyNotFoundError,
    ERR_IPC_PEER_DEAD: IpcPeerDeadError,
    ERR_IPC_TIMEOUT: IpcTimeoutError,
    ERR_IPC_MALFORMED: IpcMalformedError,
    ERR_IPC_CLOSED: IpcClosedError,
    ERR_IPC_REMOTE_FAILED: IpcRemoteFailedError,
    ERR_IPC_TOO_LARGE: IpcTooLargeError,
    ERR_IPC_SETUP: IpcSetupError,
    ERR_IPC_INCOMPATIBLE: IpcIncompatibleError,
    ERR_PLUGIN_NOT_FOUND: PluginNotFoundError,
    ERR_PLUGIN_NOT_RUNNING: PluginNotRunningError,
    ERR_PLUGIN_START_FAILED: PluginStartFailedError,
    ERR_PLUGIN_FAILED: PluginFailedError,
    ERR_PLUGIN_CRASHED: PluginCrashedError,
    ERR_PYTHON_UNAVAILABLE: PythonUnavailableError,
    ERR_PYTHON_ERROR: PythonScriptError,
    ERR_POOL_SATURATED: PoolSaturatedError,
    ERR_PYTHON_MEMORY_LIMIT: PythonMemoryLimitError,
    ERR_PYTHON_WORKER_CRASHED: PythonWorkerCrashedError,
    ERR_PYTHON_SESSION_LOST: PythonSessionLostError,
}


def error_class(status: int) -> Type[PlugHostError]:
    """The exception class for a status number; ``PlugHostError`` for a number not known here."""
    return STATUS_CLASSES.get(status, PlugHostError)
