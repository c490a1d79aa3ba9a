using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace PlugHost.RevitLoader
{
    /// <summary>
    /// How the loader asks for <see cref="LoaderCore.PumpNow"/> to run on the application's main
    /// thread. The Revit shell implements it with an ExternalEvent (Raise); Revit then calls the
    /// event's handler on its thread, which calls PumpNow. Called from any thread.
    /// </summary>
    public interface IPumpScheduler
    {
        void Request();
    }

    /// <summary>The outcome of a loader action, with a message for the user.</summary>
    public sealed class LoaderResult
    {
        public LoaderResult(bool success, string message, string output = null, Exception error = null)
        {
            Success = success;
            Message = message;
            Output = output;
            Error = error;
        }

        public bool Success { get; private set; }

        /// <summary>One or two sentences for a dialog.</summary>
        public string Message { get; private set; }

        /// <summary>The command's output (UTF-8 text), for Execute.</summary>
        public string Output { get; private set; }

        /// <summary>The exception behind a failure, if any.</summary>
        public Exception Error { get; private set; }

        public override string ToString()
        {
            return (Success ? "OK: " : "Failed: ") + Message;
        }
    }

    /// <summary>
    /// Everything the Revit loader add-in does, without Revit: one host, one work module, Load /
    /// Unload / Reload / Execute with messages for the user, a status line for the ribbon, and the
    /// main-thread pump contract.
    ///
    /// Threads: create it on the application's main thread (Revit's, in OnStartup): that thread
    /// becomes the host's main thread, where main-thread services run. Load, Unload, Reload and
    /// Execute are meant for the main thread (Revit commands); <see cref="ExecuteAsync"/> runs the
    /// module on a worker thread so the UI stays responsive, and a main-thread service the module
    /// calls meanwhile is queued: the host raises PumpRequested, which calls
    /// <see cref="OnPumpRequested"/> → <see cref="IPumpScheduler.Request"/>, and the shell's handler
    /// calls <see cref="PumpNow"/> on the main thread, which runs it.
    /// </summary>
    public sealed class LoaderCore : IDisposable
    {
        private const int MaxLogLines = 200;
        private readonly LoaderSettings settings;
        private readonly IPumpScheduler scheduler;
        private readonly object gate = new object();
        private readonly ConcurrentQueue<LoaderResult> completed = new ConcurrentQueue<LoaderResult>();
        private readonly LinkedList<string> log = new LinkedList<string>();
        private Module module;

        /// <exception cref="ConfigurationException">The host configuration in the settings is invalid.</exception>
        /// <exception cref="NativeLibraryException">The native library is missing or does not match.</exception>
        public LoaderCore(LoaderSettings settings, IPumpScheduler scheduler)
        {
            if (settings == null)
            {
                throw new ArgumentNullException("settings");
            }
            if (scheduler == null)
            {
                throw new ArgumentNullException("scheduler");
            }
            this.settings = settings;
            this.scheduler = scheduler;
            Host = new Host(settings.HostConfigJson);
            Host.PumpRequested += OnPumpRequested;
            Host.Log += OnLog;
        }

        public LoaderSettings Settings
        {
            get { return settings; }
        }

        public Host Host { get; private set; }

        /// <summary>The loaded module, or null.</summary>
        public Module Module
        {
            get
            {
                lock (gate)
                {
                    return module;
                }
            }
        }

        /// <summary>The last log lines (warnings and errors by default), newest last.</summary>
        public IList<string> RecentLog
        {
            get
            {
                lock (log)
                {
                    return new List<string>(log);
                }
            }
        }

        /// <summary>A one-line status for the ribbon, e.g. "counter 1.0.0, generation 2, healthy".</summary>
        public string StatusText
        {
            get
            {
                if (Host.IsDisposed)
                {
                    return "PlugHost stopped";
                }
                HealthReport health;
                try
                {
                    health = Host.Health();
                }
                catch (PlugHostException e)
                {
                    return "PlugHost: " + e.Message;
                }
                Module current = Module;
                string status = health.Status.ToString().ToLowerInvariant();
                ModuleHealth m = null;
                if (current != null)
                {
                    foreach (ModuleHealth candidate in health.Modules)
                    {
                        if (candidate.Id == current.Id)
                        {
                            m = candidate;
                        }
                    }
                }
                if (m == null)
                {
                    return "No module loaded (" + status + ")";
                }
                return string.Format("{0} {1}, generation {2}, {3}", m.Name, m.Version, m.Generation, status)
                    + (health.Reasons.Count > 0 ? ": " + string.Join("; ", health.Reasons) : string.Empty);
            }
        }

        /// <summary>Load the configured module.</summary>
        public LoaderResult Load()
        {
            lock (gate)
            {
                if (module != null)
                {
                    return new LoaderResult(false, "A module is already loaded (generation " + module.Generation + "). Use Reload to pick up a new build, or Unload first.");
                }
                if (string.IsNullOrEmpty(settings.ModulePath))
                {
                    return new LoaderResult(false, "No module is configured: set RevitLoader.ModulePath in " + (settings.Source ?? LoaderSettings.FileName) + ".");
                }
                try
                {
                    module = Host.LoadModule(settings.ModulePath);
                    return new LoaderResult(true, "Loaded " + Describe(module) + ".");
                }
                catch (PlugHostException e)
                {
                    return Failure("Could not load " + settings.ModulePath, e);
                }
            }
        }

        /// <summary>Unload the module.</summary>
        public LoaderResult Unload()
        {
            lock (gate)
            {
                if (module == null)
                {
                    return new LoaderResult(false, "No module is loaded.");
                }
                Module unloading = module;
                module = null;
                try
                {
                    unloading.Unload();
                    return new LoaderResult(true, "Unloaded " + settings.ModulePath + ".");
                }
                catch (ModuleDrainTimeoutException e)
                {
                    return new LoaderResult(true, "Unloaded, but calls were still running after the unload timeout; the old library is released when they end. (" + e.Message + ")", null, e);
                }
                catch (PlugHostException e)
                {
                    return Failure("Unload failed", e);
                }
            }
        }

        /// <summary>Reload the module from its path (loading it if none is loaded).</summary>
        public LoaderResult Reload()
        {
            lock (gate)
            {
                if (module == null)
                {
                    return Load();
                }
                try
                {
                    ulong generation = module.Reload(settings.ModulePath);
                    return new LoaderResult(true, "Reloaded: " + Describe(module) + " now serves as generation " + generation + ".");
                }
                catch (ModuleDrainTimeoutException e)
                {
                    return new LoaderResult(true, "Reloaded; calls to the old generation were still running after the unload timeout, so its state was not handed over. (" + e.Message + ")", null, e);
                }
                catch (PlugHostException e)
                {
                    return Failure("Reload failed; the previous generation keeps running", e);
                }
            }
        }

        /// <summary>
        /// Execute a command (the configured one when null) on the calling thread, loading the module
        /// first if needed. On Revit's thread, main-thread services the module calls run inline.
        /// </summary>
        public LoaderResult Execute(string command = null, string input = null)
        {
            Module target;
            LoaderResult loadFailure = EnsureLoaded(out target);
            if (loadFailure != null)
            {
                return loadFailure;
            }
            command = command ?? settings.Command;
            try
            {
                string output = target.ExecuteString(command, input ?? settings.Input);
                return new LoaderResult(true, "\"" + command + "\" returned: " + (output.Length == 0 ? "(no output)" : output), output);
            }
            catch (PlugHostException e)
            {
                return Failure("Command \"" + command + "\"", e);
            }
        }

        /// <summary>
        /// Execute on a worker thread (the UI thread never blocks). The result is also queued for
        /// <see cref="TryTakeCompleted"/> and a pump is requested, so the shell shows it from its
        /// ExternalEvent handler on the main thread.
        /// </summary>
        public Task<LoaderResult> ExecuteAsync(string command = null, string input = null)
        {
            return Task.Run(() =>
            {
                LoaderResult result = Execute(command, input);
                completed.Enqueue(result);
                scheduler.Request();
                return result;
            });
        }

        /// <summary>A result of <see cref="ExecuteAsync"/> not yet shown to the user.</summary>
        public bool TryTakeCompleted(out LoaderResult result)
        {
            return completed.TryDequeue(out result);
        }

        /// <summary>The host asks for the main thread: forward to the scheduler (any thread).</summary>
        public void OnPumpRequested()
        {
            scheduler.Request();
        }

        /// <summary>
        /// Run the queued main-thread calls; call it on the main thread only (from the ExternalEvent
        /// handler). Returns how many ran.
        /// </summary>
        public int PumpNow()
        {
            if (Host.IsDisposed)
            {
                return 0;
            }
            return Host.Pump(0);
        }

        /// <summary>Register an application service modules can call (see Host.RegisterService).</summary>
        public void RegisterService(string name, Func<byte[], byte[]> handler, bool mainThread)
        {
            Host.RegisterService(name, handler, mainThread);
        }

        public void Dispose()
        {
            lock (gate)
            {
                module = null;
            }
            Host.Dispose();
        }

        private LoaderResult EnsureLoaded(out Module target)
        {
            lock (gate)
            {
                if (module == null)
                {
                    LoaderResult load = Load();
                    if (!load.Success)
                    {
                        target = null;
                        return load;
                    }
                }
                target = module;
                return null;
            }
        }

        private static string Describe(Module m)
        {
            try
            {
                ModuleHealth health = null;
                foreach (ModuleHealth candidate in m.Host.Health().Modules)
                {
                    if (candidate.Id == m.Id)
                    {
                        health = candidate;
                    }
                }
                if (health != null)
                {
                    return health.Name + " " + health.Version;
                }
            }
            catch (PlugHostException)
            {
            }
            return m.Path;
        }

        private void OnLog(LogLevel level, string target, string message)
        {
            if (level > LogLevel.Warn)
            {
                return;
            }
            lock (log)
            {
                log.AddLast(DateTime.Now.ToString("HH:mm:ss") + " " + level + " " + target + ": " + message);
                while (log.Count > MaxLogLines)
                {
                    log.RemoveFirst();
                }
            }
        }

        private const string NotAModule = "The library is not a plughost work module of this version. Rebuild it against this plughost.";

        /// <summary>What to do about a failure: the first entry whose type the exception has applies.</summary>
        private static readonly KeyValuePair<Type, string>[] Advice =
        {
            For<ModuleNotFoundException>("The module file does not exist. Build the module or fix RevitLoader.ModulePath."),
            For<ModulePathNotTrustedException>("The module lies outside the trusted folders: add its folder to PlugHost.Modules.TrustedRoots."),
            For<ModuleNotLoadableException>("The file is not a loadable library (still being written, damaged, or built for another platform). Rebuild it and try again."),
            For<ModuleEntryMissingException>(NotAModule),
            For<ModuleAbiMismatchException>(NotAModule),
            For<ModuleInitException>("The module refused to start."),
            For<ModulePinnedLimitException>("Too many old generations are still mapped in this Revit session. Restart Revit to release them."),
            For<ModuleStateTransferException>("The new build could not take over the state of the running one."),
            For<UnknownCommandException>("The module has no such command."),
            For<ModuleFailedException>("The module reported an error."),
            For<ModulePanickedException>("The module crashed (panic) but stays loaded; fix the module and Reload."),
            For<InvalidHandleException>("The module is no longer loaded."),
            For<LimitReachedException>("A configured limit was reached."),
            For<PlugHostTimeoutException>("A call waited too long for Revit's main thread."),
        };

        private static KeyValuePair<Type, string> For<T>(string advice) where T : PlugHostException
        {
            return new KeyValuePair<Type, string>(typeof(T), advice);
        }

        /// <summary>A message for the user that says what to do about the failure.</summary>
        internal static LoaderResult Failure(string what, PlugHostException e)
        {
            string advice = e.StatusName + ".";
            foreach (KeyValuePair<Type, string> entry in Advice)
            {
                if (entry.Key.IsInstanceOfType(e))
                {
                    advice = entry.Value;
                    break;
                }
            }
            var message = new StringBuilder();
            message.Append(what).Append(": ").Append(advice);
            if (!string.IsNullOrEmpty(e.Message) && e.Message != e.StatusName)
            {
                message.Append(" (").Append(e.Message).Append(')');
            }
            return new LoaderResult(false, message.ToString(), null, e);
        }
    }
}
