"""Python bindings to plughost, an embeddable plugin host with a stable C ABI::

    import plughost

    config = {"PlugHost": {"Modules": {"TrustedRoots": ["/opt/app/modules"]}}}
    with plughost.Host(config) as host:
        counter = host.load_module("/opt/app/modules/counter/libcounter.so")
        counter.execute_text("increment", "2")
        counter.reload()
        host.health()["status"]

The library is found through ``PLUGHOST_LIBRARY``, a copy packaged in
``plughost/<platform>-<machine>/``, or the cargo build folders of the repository this package sits
in (see :mod:`plughost._ffi`). The low-level bindings are :data:`plughost._ffi.lib`. A plugin
process the host starts is written with :func:`run_plugin` and :class:`PluginHost`.
"""

from ._errors import (
    PythonPoolError,
    PythonUnavailableError,
    PythonScriptError,
    PoolSaturatedError,
    PythonMemoryLimitError,
    PythonWorkerCrashedError,
    PythonSessionLostError,
    ArgumentError,
    ConfigurationError,
    HostClosedError,
    HostStoppedError,
    InternalPanicError,
    InvalidHandleError,
    IpcError,
    IpcPeerDeadError,
    IpcTimeoutError,
    IpcMalformedError,
    IpcClosedError,
    IpcRemoteFailedError,
    IpcTooLargeError,
    IpcSetupError,
    IpcIncompatibleError,
    PluginError,
    PluginNotFoundError,
    PluginNotRunningError,
    PluginStartFailedError,
    PluginFailedError,
    PluginCrashedError,
    KeyNotFoundError,
    LimitReachedError,
    ModuleAbiMismatchError,
    ModuleDrainTimeoutError,
    ModuleEntryMissingError,
    ModuleExecuteError,
    ModuleFailedError,
    ModuleFileNotFoundError,
    ModuleInitError,
    ModuleLoadError,
    ModuleNotLoadableError,
    ModulePanickedError,
    ModulePathNotTrustedError,
    ModulePinnedLimitError,
    ModuleStateTransferError,
    ModuleUnloadError,
    PlugHostAbiMismatch,
    PlugHostError,
    PlugHostIOError,
    PlugHostLibraryError,
    PlugHostLibraryNotFound,
    PlugHostTimeoutError,
    ServiceError,
    ServiceExistsError,
    ServiceFailedError,
    ServiceNotFoundError,
    SessionClosedError,
    UnknownCommandError,
    WrongThreadError,
)
from ._ffi import ABI_VERSION, library_path, library_version
from ._callbacks import Event
from ._extensions import validate_package
from ._host import TRACE, Host, Module, Subscription, log_to_logging, logger_name
from ._session import DATA_CHANNEL, EVERY_CHANNEL, Session
from ._plugin import PluginHost, run_plugin
from ._python import PythonResult

#: This package's version.
__version__ = "0.1.0"

__all__ = [
    "ABI_VERSION",
    "DATA_CHANNEL",
    "EVERY_CHANNEL",
    "ArgumentError",
    "ConfigurationError",
    "Event",
    "Host",
    "HostClosedError",
    "HostStoppedError",
    "InternalPanicError",
    "InvalidHandleError",
    "IpcError",
    "IpcPeerDeadError",
    "IpcTimeoutError",
    "IpcMalformedError",
    "IpcClosedError",
    "IpcRemoteFailedError",
    "IpcTooLargeError",
    "IpcSetupError",
    "IpcIncompatibleError",
    "PluginError",
    "PluginNotFoundError",
    "PluginNotRunningError",
    "PluginStartFailedError",
    "PluginFailedError",
    "PluginCrashedError",
    "PythonPoolError",
    "PythonUnavailableError",
    "PythonScriptError",
    "PoolSaturatedError",
    "PythonMemoryLimitError",
    "PythonWorkerCrashedError",
    "PythonSessionLostError",
    "PythonResult",
    "KeyNotFoundError",
    "LimitReachedError",
    "Module",
    "ModuleAbiMismatchError",
    "ModuleDrainTimeoutError",
    "ModuleEntryMissingError",
    "ModuleExecuteError",
    "ModuleFailedError",
    "ModuleFileNotFoundError",
    "ModuleInitError",
    "ModuleLoadError",
    "ModuleNotLoadableError",
    "ModulePanickedError",
    "ModulePathNotTrustedError",
    "ModulePinnedLimitError",
    "ModuleStateTransferError",
    "ModuleUnloadError",
    "PlugHostAbiMismatch",
    "PlugHostError",
    "PlugHostIOError",
    "PlugHostLibraryError",
    "PlugHostLibraryNotFound",
    "PlugHostTimeoutError",
    "PluginHost",
    "ServiceError",
    "ServiceExistsError",
    "ServiceFailedError",
    "ServiceNotFoundError",
    "Session",
    "SessionClosedError",
    "Subscription",
    "TRACE",
    "UnknownCommandError",
    "WrongThreadError",
    "library_path",
    "library_version",
    "log_to_logging",
    "logger_name",
    "run_plugin",
    "validate_package",
]
