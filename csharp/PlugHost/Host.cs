using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;
using PlugHost.Native;

namespace PlugHost
{
    /// <summary>
    /// The native host pointer. ReleaseHandle calls plughost_host_free, which drains and unloads the
    /// modules and releases every registered callback; SafeHandle's critical finalizer does it for a
    /// Host that was never disposed, and its reference count keeps the host alive while a call runs
    /// on another thread.
    /// </summary>
    public sealed unsafe class HostHandle : NativeHandle
    {
        internal HostHandle()
        {
        }

        protected override bool ReleaseHandle()
        {
            NativeMethods.plughost_host_free((plughost_host*)handle);
            return true;
        }
    }

    /// <summary>
    /// A plughost host: loads and runs work modules, offers host services (registered services,
    /// storage, events), health and logs. Every member may be called from any thread unless it says
    /// otherwise. Dispose it to stop it (modules are drained and unloaded); an abandoned Host is
    /// freed by the finalizer of its <see cref="HostHandle"/>, provided no registered callback
    /// (service, subscription, log or pump handler) references it, and then the drain runs on the
    /// finalizer thread (up to the unload timeout per busy module): prefer Dispose.
    /// </summary>
    public sealed unsafe partial class Host : IDisposable
    {
        private readonly HostHandle handle = new HostHandle();
        private readonly object gate = new object();
        private LogState logState;
        private PumpState pumpState;
        private int disposed;

        /// <summary>
        /// Create and start a host from a JSON configuration (a {"PlugHost": {...}} document; null or
        /// empty for the defaults). The calling thread becomes the host's main thread.
        /// </summary>
        /// <exception cref="ConfigurationException">The configuration is invalid; the message lists every problem with its JSON path.</exception>
        /// <exception cref="NativeLibraryException">The native library is missing, of the wrong architecture or ABI.</exception>
        public Host(string configJson = null)
        {
            PlugHostLibrary.EnsureLoaded();
            byte[] config = Interop.Utf8(configJson);
            plughost_host* host = null;
            fixed (byte* p = config)
            {
                Interop.Check(NativeMethods.plughost_host_new(p, (UIntPtr)config.Length, &host));
            }
            handle.Set((IntPtr)host);
        }

        /// <summary>The native handle (for advanced interop; do not free it).</summary>
        public HostHandle Handle
        {
            get { return handle; }
        }

        public bool IsDisposed
        {
            get { return Volatile.Read(ref disposed) != 0; }
        }

        /// <summary>
        /// Stop and free the host: modules are drained and unloaded, queued main-thread calls fail with
        /// HostStoppedException, services and subscriptions are released. Safe to call more than once;
        /// afterwards every member throws ObjectDisposedException. Not from inside a plughost callback.
        /// </summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) != 0)
            {
                return;
            }
            // Stop at once, even while calls on other threads still hold the handle (they end with
            // an error instead of keeping the host running): plughost_host_free waits for them, and the
            // freed pointer stays safe to pass. The handle's own release then frees an already freed
            // host, which is a no-op.
            bool added = false;
            try
            {
                handle.DangerousAddRef(ref added);
                NativeMethods.plughost_host_free((plughost_host*)handle.DangerousGetHandle());
            }
            finally
            {
                if (added)
                {
                    handle.DangerousRelease();
                }
                handle.Dispose();
            }
        }

        // Every native call runs between Enter and Exit: the handle cannot be freed meanwhile.
        private plughost_host* Enter(ref bool added)
        {
            return (plughost_host*)handle.Enter(ref added, IsDisposed, "Host");
        }

        private void Exit(bool added)
        {
            handle.Exit(added);
        }

        // ---- modules ----

        /// <summary>
        /// Load the work module at <paramref name="path"/> (inside a trusted root); it runs from a
        /// shadow copy, so the file can be rebuilt while loaded. Its init runs on the calling thread.
        /// </summary>
        /// <exception cref="ModuleLoadException">A subtype says why (not found, not loadable, entry missing, ABI mismatch, init failed, not trusted, pinned limit).</exception>
        /// <exception cref="LimitReachedException">MaxModules modules are loaded.</exception>
        public Module LoadModule(string path)
        {
            if (path == null)
            {
                throw new ArgumentNullException("path");
            }
            byte[] bytes = Interop.Utf8(path);
            ulong id;
            bool added = false;
            try
            {
                plughost_host* h = Enter(ref added);
                fixed (byte* p = bytes)
                {
                    Interop.Check(NativeMethods.plughost_module_load(h, p, (UIntPtr)bytes.Length, &id));
                }
            }
            finally
            {
                Exit(added);
            }
            return new Module(this, id, path);
        }

        internal byte[] Execute(ulong module, string command, byte[] input)
        {
            if (command == null)
            {
                throw new ArgumentNullException("command");
            }
            byte[] name = Interop.Utf8(command);
            input = input ?? Interop.Empty;
            ulong output;
            bool added = false;
            try
            {
                plughost_host* h = Enter(ref added);
                fixed (byte* c = name)
                fixed (byte* i = input)
                {
                    Interop.Check(NativeMethods.plughost_module_execute(h, module, c, (UIntPtr)name.Length, i, (UIntPtr)input.Length, &output));
                }
            }
            finally
            {
                Exit(added);
            }
            return Interop.TakeBuffer(output);
        }

        internal ulong Reload(ulong module, string path)
        {
            byte[] bytes = path == null ? null : Interop.Utf8(path);
            ulong generation = 0;
            bool added = false;
            try
            {
                plughost_host* h = Enter(ref added);
                fixed (byte* p = bytes)
                {
                    Interop.Check(NativeMethods.plughost_module_reload(h, module, bytes == null ? null : p, (UIntPtr)(bytes == null ? 0 : bytes.Length), &generation));
                }
            }
            finally
            {
                Exit(added);
            }
            return generation;
        }

        internal void Unload(ulong module)
        {
            bool added = false;
            try
            {
                plughost_host* h = Enter(ref added);
                Interop.Check(NativeMethods.plughost_module_unload(h, module));
            }
            finally
            {
                Exit(added);
            }
        }

        // ---- services ----

        /// <summary>
        /// Register a service modules (and <see cref="CallService"/>) can call by name. With
        /// <paramref name="mainThread"/>, it runs only on the host's main thread: inline when called
        /// there, otherwise queued until <see cref="Pump"/> runs (see <see cref="PumpRequested"/>).
        /// Otherwise it runs on the calling thread, possibly on several threads at once. An exception
        /// thrown by the handler fails the call with its message (ServiceFailedException for the caller).
        /// The handler is kept alive until the service is unregistered or the host freed.
        /// </summary>
        /// <exception cref="ServiceExistsException">The name is taken.</exception>
        public void RegisterService(string name, Func<byte[], byte[]> handler, bool mainThread = false)
        {
            if (name == null)
            {
                throw new ArgumentNullException("name");
            }
            if (handler == null)
            {
                throw new ArgumentNullException("handler");
            }
            byte[] bytes = Interop.Utf8(name);
            bool added = false;
            try
            {
                plughost_host* h = Enter(ref added);
                // From here on plughost owns the state: it calls ServiceDestroy exactly once, also on failure.
                void* user = Callbacks.Pin(new ServiceState(handler));
                uint flags = mainThread ? NativeMethods.PLUGHOST_SERVICE_MAIN_THREAD : 0u;
                fixed (byte* p = bytes)
                {
                    Interop.Check(NativeMethods.plughost_service_register(h, p, (UIntPtr)bytes.Length, flags, Callbacks.Service, user, Callbacks.ServiceDestroy));
                }
            }
            finally
            {
                Exit(added);
            }
        }

        /// <summary>Unregister a service; calls in flight finish first.</summary>
        /// <exception cref="ServiceNotFoundException">No such service.</exception>
        public void UnregisterService(string name)
        {
            byte[] bytes = Interop.Utf8(name);
            bool added = false;
            try
            {
                plughost_host* h = Enter(ref added);
                fixed (byte* p = bytes)
                {
                    Interop.Check(NativeMethods.plughost_service_unregister(h, p, (UIntPtr)bytes.Length));
                }
            }
            finally
            {
                Exit(added);
            }
        }

        /// <summary>Call a service as a module would.</summary>
        /// <exception cref="ServiceNotFoundException">No such service.</exception>
        /// <exception cref="ServiceFailedException">The service failed (its message).</exception>
        /// <exception cref="PlugHostTimeoutException">A main-thread service was not pumped in time.</exception>
        /// <exception cref="WrongThreadException">A main-thread service and no main thread.</exception>
        public byte[] CallService(string name, byte[] input)
        {
            byte[] bytes = Interop.Utf8(name);
            input = input ?? Interop.Empty;
            ulong output;
            bool added = false;
            try
            {
                plughost_host* h = Enter(ref added);
                fixed (byte* n = bytes)
                fixed (byte* i = input)
                {
                    Interop.Check(NativeMethods.plughost_service_call(h, n, (UIntPtr)bytes.Length, i, (UIntPtr)input.Length, &output));
                }
            }
            finally
            {
                Exit(added);
            }
            return Interop.TakeBuffer(output);
        }

        // ---- storage ----

        /// <summary>The value stored under <paramref name="key"/>.</summary>
        /// <exception cref="StorageKeyNotFoundException">No such key.</exception>
        public byte[] StorageGet(string key)
        {
            byte[] bytes = Interop.Utf8(key);
            ulong output;
            bool added = false;
            try
            {
                plughost_host* h = Enter(ref added);
                fixed (byte* k = bytes)
                {
                    Interop.Check(NativeMethods.plughost_storage_get(h, k, (UIntPtr)bytes.Length, &output));
                }
            }
            finally
            {
                Exit(added);
            }
            return Interop.TakeBuffer(output);
        }

        /// <summary>The value stored under <paramref name="key"/>, or false if there is none.</summary>
        public bool TryStorageGet(string key, out byte[] value)
        {
            try
            {
                value = StorageGet(key);
                return true;
            }
            catch (StorageKeyNotFoundException)
            {
                value = null;
                return false;
            }
        }

        /// <summary>Store <paramref name="value"/> under <paramref name="key"/>, replacing any value.</summary>
        /// <exception cref="LimitReachedException">Storage.MaxBytes would be exceeded.</exception>
        public void StorageSet(string key, byte[] value)
        {
            byte[] bytes = Interop.Utf8(key);
            value = value ?? Interop.Empty;
            bool added = false;
            try
            {
                plughost_host* h = Enter(ref added);
                fixed (byte* k = bytes)
                fixed (byte* v = value)
                {
                    Interop.Check(NativeMethods.plughost_storage_set(h, k, (UIntPtr)bytes.Length, v, (UIntPtr)value.Length));
                }
            }
            finally
            {
                Exit(added);
            }
        }

        // ---- events ----

        /// <summary>Publish <paramref name="payload"/> on <paramref name="topic"/>; subscribers run before this returns.</summary>
        public void Publish(string topic, byte[] payload)
        {
            byte[] bytes = Interop.Utf8(topic);
            payload = payload ?? Interop.Empty;
            bool added = false;
            try
            {
                plughost_host* h = Enter(ref added);
                fixed (byte* t = bytes)
                fixed (byte* p = payload)
                {
                    Interop.Check(NativeMethods.plughost_event_publish(h, t, (UIntPtr)bytes.Length, p, (UIntPtr)payload.Length));
                }
            }
            finally
            {
                Exit(added);
            }
        }

        /// <summary>
        /// Subscribe to <paramref name="topic"/> ("*" for every topic). The handler runs on the
        /// publishing thread (a module's or the application's), possibly on several at once; its
        /// exceptions are swallowed. Dispose the subscription to end it.
        /// </summary>
        public EventSubscription Subscribe(string topic, Action<PlugHostEvent> handler)
        {
            if (handler == null)
            {
                throw new ArgumentNullException("handler");
            }
            byte[] bytes = Interop.Utf8(topic);
            ulong id;
            bool added = false;
            try
            {
                plughost_host* h = Enter(ref added);
                void* user = Callbacks.Pin(new EventState(handler));
                fixed (byte* t = bytes)
                {
                    Interop.Check(NativeMethods.plughost_event_subscribe(h, t, (UIntPtr)bytes.Length, Callbacks.Event, user, Callbacks.EventDestroy, &id));
                }
            }
            finally
            {
                Exit(added);
            }
            return new EventSubscription(this, id, topic, Unsubscribe);
        }

        internal void Unsubscribe(ulong id)
        {
            bool added = false;
            try
            {
                plughost_host* h = Enter(ref added);
                Interop.Check(NativeMethods.plughost_event_unsubscribe(h, id));
            }
            finally
            {
                Exit(added);
            }
        }

        // ---- health and logs ----

        /// <summary>The health report.</summary>
        public HealthReport Health()
        {
            return HealthReport.Parse(BufferText((h, o) => NativeMethods.plughost_host_health(h, o)));
        }

        /// <summary>
        /// Run a health check now, as the monitor does every PlugHost.Health.IntervalMs: every component
        /// probe, then recovery of what they found (restart crashed plugins, retry failed reloads, up to
        /// MaxRetryAttempts each). Transitions are published on "plughost.health.transition" and recovery
        /// outcomes on "plughost.health.recovery". Waits for a check in progress.
        /// </summary>
        public HealthCheck CheckHealth()
        {
            return HealthCheck.Parse(BufferText((h, o) => NativeMethods.plughost_host_health_check(h, o)));
        }

        /// <summary>The kept health checks (up to PlugHost.Health.HistorySize), oldest first.</summary>
        public IList<HealthCheck> HealthHistory()
        {
            return HealthCheck.ParseHistory(BufferText((h, o) => NativeMethods.plughost_host_health_history(h, o)));
        }

        /// <summary>
        /// Whether the work modules' files are watched (PlugHost.Modules.Watch.Enabled sets it at start).
        /// While it is on, a module whose file (or a sibling library copied with it) changed is reloaded
        /// once the files have been quiet for DebounceMs, on plughost's watcher thread; the outcome is
        /// published on the event bus (see <see cref="Subscribe"/>) as "plughost.module.reloading", then
        /// "plughost.module.reloaded" or "plughost.module.rolled_back", with JSON payloads. Setting it to
        /// false waits for a reload in progress.
        /// </summary>
        public bool Watching
        {
            get
            {
                uint enabled;
                bool added = false;
                try
                {
                    plughost_host* h = Enter(ref added);
                    Interop.Check(NativeMethods.plughost_host_watching(h, &enabled));
                }
                finally
                {
                    Exit(added);
                }
                return enabled != 0;
            }
            set
            {
                bool added = false;
                try
                {
                    plughost_host* h = Enter(ref added);
                    Interop.Check(NativeMethods.plughost_host_set_watching(h, value ? 1u : 0u));
                }
                finally
                {
                    Exit(added);
                }
            }
        }

        /// <summary>Change the log level at run time.</summary>
        public void SetLogLevel(LogLevel level)
        {
            bool added = false;
            try
            {
                plughost_host* h = Enter(ref added);
                Interop.Check(NativeMethods.plughost_host_set_log_level(h, (uint)level));
            }
            finally
            {
                Exit(added);
            }
        }

        /// <summary>
        /// Where log lines go (see <see cref="ILogSink"/>: any thread, must be quick). The log callback
        /// receives every plughost log line of the process at or above the level.
        /// </summary>
        public ILogSink LogSink
        {
            get { return logState == null ? null : logState.Sink; }
            set { EnsureLogState().Sink = value; }
        }

        /// <summary>Log lines as (level, target, message), raised on the thread that logged.</summary>
        public event Action<LogLevel, string, string> Log
        {
            add
            {
                LogState state = EnsureLogState();
                lock (gate)
                {
                    state.Handlers += value;
                }
            }
            remove
            {
                lock (gate)
                {
                    if (logState != null)
                    {
                        logState.Handlers -= value;
                    }
                }
            }
        }

        private LogState EnsureLogState()
        {
            lock (gate)
            {
                if (logState != null)
                {
                    return logState;
                }
                var state = new LogState();
                bool added = false;
                try
                {
                    plughost_host* h = Enter(ref added);
                    Interop.Check(NativeMethods.plughost_host_set_log_callback(h, Callbacks.Log, Callbacks.Pin(state), Callbacks.LogDestroy));
                }
                finally
                {
                    Exit(added);
                }
                logState = state;
                return state;
            }
        }

        // ---- main thread ----

        /// <summary>
        /// Make the calling thread the host's main thread (main-thread services run on it). The thread
        /// that created the host is main until then.
        /// </summary>
        public void SetMainThread()
        {
            Call(h => NativeMethods.plughost_host_set_main_thread(h));
        }

        /// <summary>
        /// Run up to <paramref name="maxCalls"/> queued main-thread service calls (0 = all queued now)
        /// and return how many ran. Call it on the main thread only (in Revit: from an ExternalEvent).
        /// </summary>
        /// <exception cref="WrongThreadException">Not called on the main thread.</exception>
        public int Pump(uint maxCalls = 0)
        {
            uint ran = 0;
            bool added = false;
            try
            {
                plughost_host* h = Enter(ref added);
                Interop.Check(NativeMethods.plughost_host_pump(h, maxCalls, &ran));
            }
            finally
            {
                Exit(added);
            }
            return (int)ran;
        }

        /// <summary>
        /// Raised when a call waits for the main thread: arrange for <see cref="Pump"/> to run there
        /// soon (in Revit, raise an ExternalEvent). Raised on the thread that queued the call.
        /// </summary>
        public event Action PumpRequested
        {
            add
            {
                lock (gate)
                {
                    if (pumpState == null)
                    {
                        var state = new PumpState();
                        bool added = false;
                        try
                        {
                            plughost_host* h = Enter(ref added);
                            Interop.Check(NativeMethods.plughost_host_set_pump_callback(h, Callbacks.Pump, Callbacks.Pin(state), Callbacks.PumpDestroy));
                        }
                        finally
                        {
                            Exit(added);
                        }
                        pumpState = state;
                    }
                    pumpState.Handlers += value;
                }
            }
            remove
            {
                lock (gate)
                {
                    if (pumpState != null)
                    {
                        pumpState.Handlers -= value;
                    }
                }
            }
        }

        // ---- library ----

        /// <summary>The native library's version (plughost_version).</summary>
        public static string NativeVersion
        {
            get { return PlugHostLibrary.Version; }
        }
    }

    /// <summary>An event subscription; Dispose ends it (safe after the host is disposed, and twice).</summary>
    public sealed class EventSubscription : IDisposable
    {
        private readonly Host host;
        private readonly Action<ulong> unsubscribe;
        private int disposed;

        internal EventSubscription(Host host, ulong id, string topic, Action<ulong> unsubscribe)
        {
            this.host = host;
            this.unsubscribe = unsubscribe;
            Id = id;
            Topic = topic;
        }

        public ulong Id { get; private set; }

        public string Topic { get; private set; }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) != 0 || host.IsDisposed)
            {
                return;
            }
            try
            {
                unsubscribe(Id);
            }
            catch (InvalidHandleException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }
}
