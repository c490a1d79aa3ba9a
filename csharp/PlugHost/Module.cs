using System;
using System.Threading;
using System.Threading.Tasks;

namespace PlugHost
{
    /// <summary>
    /// A loaded work module (Host.LoadModule). Its id is generation-checked: after <see cref="Unload"/>
    /// (or Dispose) every call fails with <see cref="InvalidHandleException"/>. Execute may run on
    /// many threads at once, also during a reload.
    /// </summary>
    public sealed class Module : IDisposable
    {
        private readonly Host host;
        private int disposed;
        private long generation = 1;

        internal Module(Host host, ulong id, string path)
        {
            this.host = host;
            Id = id;
            Path = path;
        }

        /// <summary>The module id (plughost_module_id).</summary>
        public ulong Id { get; private set; }

        /// <summary>The path it was loaded (or last reloaded) from.</summary>
        public string Path { get; private set; }

        /// <summary>The generation serving, as of this object's last load or reload (1 after load).</summary>
        public ulong Generation
        {
            get { return (ulong)Interlocked.Read(ref generation); }
        }

        public Host Host
        {
            get { return host; }
        }

        /// <summary>Run <paramref name="command"/> with <paramref name="input"/> on the calling thread.</summary>
        /// <exception cref="ModuleExecuteException">Unknown command, the module failed (its message), or it panicked.</exception>
        /// <exception cref="InvalidHandleException">The module is unloaded.</exception>
        public byte[] Execute(string command, byte[] input)
        {
            return host.Execute(Id, command, input);
        }

        /// <summary>Execute with UTF-8 text in and out.</summary>
        public string ExecuteString(string command, string input)
        {
            return Interop.FromUtf8(host.Execute(Id, command, Interop.Utf8(input)));
        }

        /// <summary>
        /// Execute on a thread-pool thread, so that a UI thread (Revit's) never blocks. Cancelling the
        /// token stops the waiting only: the returned task ends as cancelled at once, but the native
        /// call runs to its end (plughost cannot interrupt a module), and its result is dropped.
        /// A module that calls a main-thread service needs the main thread to pump meanwhile.
        /// </summary>
        public Task<byte[]> ExecuteAsync(string command, byte[] input, CancellationToken cancellationToken = default(CancellationToken))
        {
            if (cancellationToken.IsCancellationRequested)
            {
                return Task.FromCanceled<byte[]>(cancellationToken);
            }
            Task<byte[]> work = Task.Run(() => Execute(command, input));
            if (!cancellationToken.CanBeCanceled)
            {
                return work;
            }
            var completion = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
            CancellationTokenRegistration registration = cancellationToken.Register(() => completion.TrySetCanceled(cancellationToken));
            work.ContinueWith(
                t =>
                {
                    registration.Dispose();
                    if (t.IsFaulted)
                    {
                        completion.TrySetException(t.Exception.InnerExceptions);
                    }
                    else if (t.IsCanceled)
                    {
                        completion.TrySetCanceled();
                    }
                    else
                    {
                        completion.TrySetResult(t.Result);
                    }
                },
                TaskScheduler.Default);
            return completion.Task;
        }

        /// <summary>
        /// Reload from <paramref name="path"/>, or from the current source when null; returns the new
        /// generation. On failure the old generation keeps serving; a ModuleDrainTimeoutException
        /// means the new generation serves but the old one still had calls in flight.
        /// </summary>
        public ulong Reload(string path = null)
        {
            ulong g = host.Reload(Id, path);
            Interlocked.Exchange(ref generation, (long)g);
            if (path != null)
            {
                Path = path;
            }
            return g;
        }

        /// <summary>Unload: the id is invalid at once; in-flight calls drain up to the unload timeout.</summary>
        /// <exception cref="InvalidHandleException">Already unloaded.</exception>
        /// <exception cref="ModuleDrainTimeoutException">Calls were still running; the library stays until they end.</exception>
        public void Unload()
        {
            Interlocked.Exchange(ref disposed, 1);
            host.Unload(Id);
        }

        /// <summary>Unload if still loaded; never throws (use <see cref="Unload"/> to see errors).</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) != 0 || host.IsDisposed)
            {
                return;
            }
            try
            {
                host.Unload(Id);
            }
            catch (PlugHostException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
        }

        public override string ToString()
        {
            return "Module " + Id + " (" + Path + ")";
        }
    }
}
