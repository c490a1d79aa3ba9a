using System;
using PlugHost.Native;

namespace PlugHost
{
    /// <summary>
    /// A plughost call failed. <see cref="Status"/> is the PLUGHOST_ERR_* number, <see cref="StatusName"/>
    /// its name and <see cref="Exception.Message"/> the library's message for the failure (read with
    /// plughost_last_error_message on the calling thread right after the call).
    /// Every status has its own type: see <see cref="FromStatus"/>.
    /// </summary>
    [Serializable]
    public class PlugHostException : Exception
    {
        public PlugHostException(int status, string statusName, string message, Exception inner = null)
            : base(string.IsNullOrEmpty(message) ? statusName : message, inner)
        {
            Status = status;
            StatusName = statusName;
        }

        /// <summary>The status code (PLUGHOST_ERR_*), or -1 for a failure to load the library.</summary>
        public int Status { get; private set; }

        /// <summary>The status name as in plughost.h, for example "PLUGHOST_ERR_TIMEOUT".</summary>
        public string StatusName { get; private set; }

        public override string ToString()
        {
            return StatusName + " (" + Status + "): " + base.ToString();
        }

        /// <summary>The exception for a status code and message.</summary>
        public static PlugHostException FromStatus(int status, string message)
        {
            string name = PlugHostLibrary.StatusName(status);
            switch (status)
            {
                case NativeMethods.PLUGHOST_ERR_NULL_ARGUMENT:
                case NativeMethods.PLUGHOST_ERR_INVALID_ARGUMENT:
                case NativeMethods.PLUGHOST_ERR_INVALID_UTF8:
                    return new PlugHostArgumentException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_INVALID_HANDLE: return new InvalidHandleException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_PANIC: return new NativePanicException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_INVALID_CONFIG: return new ConfigurationException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_WRONG_THREAD: return new WrongThreadException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_TIMEOUT: return new PlugHostTimeoutException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_LIMIT_REACHED: return new LimitReachedException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_IO: return new PlugHostIOException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_HOST_STOPPED: return new HostStoppedException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_MODULE_NOT_FOUND: return new ModuleNotFoundException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_MODULE_NOT_LOADABLE: return new ModuleNotLoadableException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_MODULE_ENTRY_MISSING: return new ModuleEntryMissingException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_MODULE_ABI_MISMATCH: return new ModuleAbiMismatchException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_MODULE_INIT_FAILED: return new ModuleInitException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_MODULE_PATH_NOT_TRUSTED: return new ModulePathNotTrustedException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_MODULE_PINNED_LIMIT: return new ModulePinnedLimitException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_MODULE_DRAIN_TIMEOUT: return new ModuleDrainTimeoutException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_MODULE_STATE_TRANSFER: return new ModuleStateTransferException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND: return new UnknownCommandException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_MODULE_FAILED: return new ModuleFailedException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_MODULE_PANICKED: return new ModulePanickedException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_SERVICE_NOT_FOUND: return new ServiceNotFoundException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_SERVICE_FAILED: return new ServiceFailedException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_SERVICE_EXISTS: return new ServiceExistsException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_KEY_NOT_FOUND: return new StorageKeyNotFoundException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_IPC_PEER_DEAD: return new IpcPeerDeadException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_IPC_TIMEOUT: return new IpcTimeoutException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_IPC_MALFORMED: return new IpcMalformedException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_IPC_CLOSED: return new IpcClosedException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_IPC_REMOTE_FAILED: return new IpcRemoteFailedException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_IPC_TOO_LARGE: return new IpcTooLargeException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_IPC_SETUP: return new IpcSetupException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_IPC_INCOMPATIBLE: return new IpcIncompatibleException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_PLUGIN_NOT_FOUND: return new PluginNotFoundException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_PLUGIN_NOT_RUNNING: return new PluginNotRunningException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_PLUGIN_START_FAILED: return new PluginStartFailedException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_PLUGIN_FAILED: return new PluginFailedException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_PLUGIN_CRASHED: return new PluginCrashedException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_PYTHON_UNAVAILABLE: return new PythonUnavailableException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_PYTHON_ERROR: return new PythonScriptException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_POOL_SATURATED: return new PythonPoolSaturatedException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_PYTHON_MEMORY_LIMIT: return new PythonMemoryLimitException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_PYTHON_WORKER_CRASHED: return new PythonWorkerCrashedException(status, name, message);
                case NativeMethods.PLUGHOST_ERR_PYTHON_SESSION_LOST: return new PythonSessionLostException(status, name, message);
                default: return new PlugHostException(status, name, message);
            }
        }
    }

    /// <summary>NULL_ARGUMENT, INVALID_ARGUMENT, INVALID_UTF8: an argument plughost refused.</summary>
    [Serializable]
    public class PlugHostArgumentException : PlugHostException
    {
        public PlugHostArgumentException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>INVALID_HANDLE: a freed, stale or unknown host, module, buffer or subscription.</summary>
    [Serializable]
    public class InvalidHandleException : PlugHostException
    {
        public InvalidHandleException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>PANIC: plughost itself panicked; the call was abandoned and the host stays usable.</summary>
    [Serializable]
    public class NativePanicException : PlugHostException
    {
        public NativePanicException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>INVALID_CONFIG: the message lists every problem with its JSON path.</summary>
    [Serializable]
    public class ConfigurationException : PlugHostException
    {
        public ConfigurationException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>WRONG_THREAD: the call must be made on the host's main thread.</summary>
    [Serializable]
    public class WrongThreadException : PlugHostException
    {
        public WrongThreadException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>TIMEOUT: a wait ran out (for example a main-thread call that was never pumped).</summary>
    [Serializable]
    public class PlugHostTimeoutException : PlugHostException
    {
        public PlugHostTimeoutException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>LIMIT_REACHED: module slots, storage size, subscriptions.</summary>
    [Serializable]
    public class LimitReachedException : PlugHostException
    {
        public LimitReachedException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>IO: a file-system or operating-system call failed.</summary>
    [Serializable]
    public class PlugHostIOException : PlugHostException
    {
        public PlugHostIOException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>HOST_STOPPED: the host is stopping or stopped.</summary>
    [Serializable]
    public class HostStoppedException : PlugHostException
    {
        public HostStoppedException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>Loading a module (or the new generation of a reload) failed; the old one keeps serving.</summary>
    [Serializable]
    public class ModuleLoadException : PlugHostException
    {
        public ModuleLoadException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>MODULE_NOT_FOUND: the module file does not exist.</summary>
    [Serializable]
    public class ModuleNotFoundException : ModuleLoadException
    {
        public ModuleNotFoundException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>MODULE_NOT_LOADABLE: not a loadable library (a text file, a truncated copy, another architecture).</summary>
    [Serializable]
    public class ModuleNotLoadableException : ModuleLoadException
    {
        public ModuleNotLoadableException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>MODULE_ENTRY_MISSING: the library has no plughost_module_entry_v1.</summary>
    [Serializable]
    public class ModuleEntryMissingException : ModuleLoadException
    {
        public ModuleEntryMissingException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>MODULE_ABI_MISMATCH: another module ABI version, a short table, missing functions.</summary>
    [Serializable]
    public class ModuleAbiMismatchException : ModuleLoadException
    {
        public ModuleAbiMismatchException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>MODULE_INIT_FAILED: the module's init failed; the message is the module's.</summary>
    [Serializable]
    public class ModuleInitException : ModuleLoadException
    {
        public ModuleInitException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>MODULE_PATH_NOT_TRUSTED: outside the trusted roots after resolving ".." and links.</summary>
    [Serializable]
    public class ModulePathNotTrustedException : ModuleLoadException
    {
        public ModulePathNotTrustedException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>MODULE_PINNED_LIMIT: too many old generations are still mapped.</summary>
    [Serializable]
    public class ModulePinnedLimitException : ModuleLoadException
    {
        public ModulePinnedLimitException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>Unloading a module, or retiring the old generation of a reload, did not complete.</summary>
    [Serializable]
    public class ModuleUnloadException : PlugHostException
    {
        public ModuleUnloadException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>
    /// MODULE_DRAIN_TIMEOUT: calls were still in flight after the unload timeout. After an unload the id
    /// is gone; after a reload the new generation serves. The old library stays loaded until its calls end.
    /// </summary>
    [Serializable]
    public class ModuleDrainTimeoutException : ModuleUnloadException
    {
        public ModuleDrainTimeoutException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>MODULE_STATE_TRANSFER: handing state over failed; the old generation keeps serving.</summary>
    [Serializable]
    public class ModuleStateTransferException : ModuleUnloadException
    {
        public ModuleStateTransferException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>A module command failed.</summary>
    [Serializable]
    public class ModuleExecuteException : PlugHostException
    {
        public ModuleExecuteException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>MODULE_UNKNOWN_COMMAND: the module does not know the command.</summary>
    [Serializable]
    public class UnknownCommandException : ModuleExecuteException
    {
        public UnknownCommandException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>MODULE_FAILED: the command returned an error; the message is the module's.</summary>
    [Serializable]
    public class ModuleFailedException : ModuleExecuteException
    {
        public ModuleFailedException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>MODULE_PANICKED: the module panicked (caught at the module boundary).</summary>
    [Serializable]
    public class ModulePanickedException : ModuleExecuteException
    {
        public ModulePanickedException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>A host service call or registration failed.</summary>
    [Serializable]
    public class ServiceException : PlugHostException
    {
        public ServiceException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>SERVICE_NOT_FOUND: no service is registered under that name.</summary>
    [Serializable]
    public class ServiceNotFoundException : ServiceException
    {
        public ServiceNotFoundException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>SERVICE_FAILED: the service reported an error; the message is the service's.</summary>
    [Serializable]
    public class ServiceFailedException : ServiceException
    {
        public ServiceFailedException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>SERVICE_EXISTS: a service with that name is already registered.</summary>
    [Serializable]
    public class ServiceExistsException : ServiceException
    {
        public ServiceExistsException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>KEY_NOT_FOUND: the storage key does not exist.</summary>
    [Serializable]
    public class StorageKeyNotFoundException : PlugHostException
    {
        public StorageKeyNotFoundException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>The shared-memory IPC transport failed (IPC_* statuses).</summary>
    [Serializable]
    public class IpcException : PlugHostException
    {
        public IpcException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>IPC_PEER_DEAD: the peer process died or its heartbeat stopped; every call in flight failed.</summary>
    [Serializable]
    public class IpcPeerDeadException : IpcException
    {
        public IpcPeerDeadException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>IPC_TIMEOUT: an IPC call or send ran past its deadline.</summary>
    [Serializable]
    public class IpcTimeoutException : IpcException
    {
        public IpcTimeoutException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>IPC_MALFORMED: the peer sent a malformed frame or message; the session is broken.</summary>
    [Serializable]
    public class IpcMalformedException : IpcException
    {
        public IpcMalformedException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>IPC_CLOSED: the session is closed (by this side or by the peer).</summary>
    [Serializable]
    public class IpcClosedException : IpcException
    {
        public IpcClosedException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>IPC_REMOTE_FAILED: the peer's handler failed; the message carries its status and text.</summary>
    [Serializable]
    public class IpcRemoteFailedException : IpcException
    {
        public IpcRemoteFailedException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>IPC_TOO_LARGE: the message is larger than the largest slot of the session's geometry.</summary>
    [Serializable]
    public class IpcTooLargeException : IpcException
    {
        public IpcTooLargeException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>IPC_SETUP: the session could not be set up (segment, hand-off, geometry, threads).</summary>
    [Serializable]
    public class IpcSetupException : IpcException
    {
        public IpcSetupException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>PLUGIN_*: a failure of an out-of-process plugin.</summary>
    [Serializable]
    public class PluginException : PlugHostException
    {
        public PluginException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>PLUGIN_NOT_FOUND: no plugin has that name.</summary>
    [Serializable]
    public class PluginNotFoundException : PluginException
    {
        public PluginNotFoundException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>PLUGIN_NOT_RUNNING: the plugin is stopped, or crashed and not restarting; the message says why.</summary>
    [Serializable]
    public class PluginNotRunningException : PluginException
    {
        public PluginNotRunningException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>PLUGIN_START_FAILED: the plugin could not be started (program, attach or initialize).</summary>
    [Serializable]
    public class PluginStartFailedException : PluginException
    {
        public PluginStartFailedException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>PLUGIN_FAILED: the plugin's command failed; the message carries its status and text.</summary>
    [Serializable]
    public class PluginFailedException : PluginException
    {
        public PluginFailedException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>PLUGIN_CRASHED: the plugin's process ended during the call; it is restarted per its policy.</summary>
    [Serializable]
    public class PluginCrashedException : PluginException
    {
        public PluginCrashedException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>IPC_INCOMPATIBLE: the peer speaks another protocol version; the session is closed.</summary>
    [Serializable]
    public class IpcIncompatibleException : IpcException
    {
        public IpcIncompatibleException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>Why the native library could not be used.</summary>
    public enum NativeLibraryProblem
    {
        /// <summary>No library file was found (DllNotFoundException, file absent).</summary>
        Missing,
        /// <summary>The file exists but the OS cannot load it (damaged, or for another OS or architecture).</summary>
        NotLoadable,
        /// <summary>Built for another architecture (BadImageFormatException, e.g. x86 in an x64 process).</summary>
        WrongArchitecture,
        /// <summary>A library that is not plughost, or whose C ABI version differs from the wrapper's.</summary>
        AbiMismatch,
    }

    /// <summary>
    /// The native plughost library is missing, of the wrong architecture, or has another C ABI
    /// version than the one this wrapper was generated for. Thrown by the first use of the wrapper
    /// (and again by every later use), never a crash or a TypeInitializationException.
    /// </summary>
    [Serializable]
    public class NativeLibraryException : PlugHostException
    {
        public NativeLibraryException(NativeLibraryProblem problem, string message, Exception inner = null)
            : base(-1, "PLUGHOST_NATIVE_LIBRARY", message, inner)
        {
            Problem = problem;
        }

        /// <summary>What is wrong with the library.</summary>
        public NativeLibraryProblem Problem { get; private set; }
    }

    /// <summary>PYTHON_*, POOL_SATURATED: a failure of a run in the Python pool.</summary>
    [Serializable]
    public class PythonPoolException : PlugHostException
    {
        public PythonPoolException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>PYTHON_UNAVAILABLE: Python cannot be used (pool disabled, no worker program, no usable CPython); the message says which.</summary>
    [Serializable]
    public class PythonUnavailableException : PythonPoolException
    {
        public PythonUnavailableException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>PYTHON_ERROR: the script raised. Host.RunPython fills in the exception's type, traceback and the captured output.</summary>
    [Serializable]
    public class PythonScriptException : PythonPoolException
    {
        public PythonScriptException(int status, string name, string message) : base(status, name, message) { }

        /// <summary>The exception's type name, such as ZeroDivisionError.</summary>
        public string PythonType { get; internal set; }

        /// <summary>The formatted traceback.</summary>
        public string PythonTraceback { get; internal set; }

        /// <summary>What the run wrote to stdout before it raised.</summary>
        public string Stdout { get; internal set; }

        /// <summary>What the run wrote to stderr before it raised.</summary>
        public string Stderr { get; internal set; }
    }

    /// <summary>POOL_SATURATED: every Python worker is busy and the queue of waiting runs is full.</summary>
    [Serializable]
    public class PythonPoolSaturatedException : PythonPoolException
    {
        public PythonPoolSaturatedException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>PYTHON_MEMORY_LIMIT: the run exceeded its worker's memory limit; the worker is replaced.</summary>
    [Serializable]
    public class PythonMemoryLimitException : PythonPoolException
    {
        public PythonMemoryLimitException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>PYTHON_WORKER_CRASHED: the worker process ended during the run; it is started again.</summary>
    [Serializable]
    public class PythonWorkerCrashedException : PythonPoolException
    {
        public PythonWorkerCrashedException(int status, string name, string message) : base(status, name, message) { }
    }

    /// <summary>PYTHON_SESSION_LOST: the named session's globals were lost with its worker; the next run starts it afresh.</summary>
    [Serializable]
    public class PythonSessionLostException : PythonPoolException
    {
        public PythonSessionLostException(int status, string name, string message) : base(status, name, message) { }
    }
}
