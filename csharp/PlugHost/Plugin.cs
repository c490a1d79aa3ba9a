using System;
using System.Runtime.InteropServices;
using PlugHost.Native;

namespace PlugHost
{
    /// <summary>
    /// An out-of-process plugin written in C#: a program the plughost host starts with an IPC
    /// session. Pass it to <see cref="PluginRunner.Run"/>; it reaches the host through
    /// <see cref="PluginHost"/>.
    /// </summary>
    public interface IPlugin
    {
        /// <summary>Called once with the plugin's configuration (JSON text, may be empty) before any command.</summary>
        void Initialize(string config);

        /// <summary>
        /// Run <paramref name="command"/> with <paramref name="input"/>; the answer (null: empty).
        /// May run on several threads at once. An exception is the caller's error (with the status
        /// of a <see cref="PlugHostException"/>, else PLUGHOST_ERR_SERVICE_FAILED).
        /// </summary>
        byte[] Process(string command, byte[] input);

        /// <summary>Called once before <see cref="PluginRunner.Run"/> returns: when the host asks, or when the session ends.</summary>
        void Shutdown();
    }

    /// <summary>Runs this process as a plugin (see <see cref="IPlugin"/>).</summary>
    public static unsafe class PluginRunner
    {
        /// <summary>
        /// Serve the host's calls with <paramref name="plugin"/> until the session ends; the exit code
        /// for Main to return: 0 after the host's shutdown or goodbye, 1 when the session failed, 2
        /// when the plugin could not start (the reason is printed on standard error).
        /// </summary>
        public static int Run(IPlugin plugin)
        {
            if (plugin == null)
            {
                throw new ArgumentNullException("plugin");
            }
            PlugHostLibrary.EnsureLoaded();
            GCHandle state = GCHandle.Alloc(plugin);
            try
            {
                var def = new plughost_plugin_def
                {
                    abi_version = NativeMethods.PLUGHOST_PLUGIN_ABI_VERSION,
                    struct_size = (uint)sizeof(plughost_plugin_def),
                    user_data = (void*)GCHandle.ToIntPtr(state),
                    initialize = (void*)Marshal.GetFunctionPointerForDelegate(Callbacks.PluginInitialize),
                    process = (void*)Marshal.GetFunctionPointerForDelegate(Callbacks.PluginProcess),
                    shutdown = (void*)Marshal.GetFunctionPointerForDelegate(Callbacks.PluginShutdown),
                };
                return NativeMethods.plughost_plugin_run(&def);
            }
            finally
            {
                state.Free();
            }
        }
    }

    /// <summary>
    /// The host's services for the plugin <see cref="PluginRunner.Run"/> runs. Usable from any thread
    /// (also inside the plugin's methods) while it runs; otherwise they throw
    /// <see cref="InvalidHandleException"/>. A failure on the host's side throws the exception of the
    /// host's status.
    /// </summary>
    public static unsafe class PluginHost
    {
        /// <summary>The plugin's name, as the host knows it.</summary>
        public static string Name
        {
            get
            {
                ulong buffer;
                Interop.Check(NativeMethods.plughost_plugin_name(&buffer));
                return Interop.FromUtf8(Interop.TakeBuffer(buffer));
            }
        }

        /// <summary>Log <paramref name="message"/> under the plugin's name.</summary>
        public static void Log(LogLevel level, string message)
        {
            byte[] bytes = Interop.Utf8(message);
            fixed (byte* m = bytes)
            {
                Interop.Check(NativeMethods.plughost_plugin_log((uint)level, m, (UIntPtr)bytes.Length));
            }
        }

        /// <summary>The value stored under <paramref name="key"/> in the host's storage, or null.</summary>
        public static byte[] StorageGet(string key)
        {
            byte[] k = Interop.Utf8(key);
            ulong buffer;
            int status;
            fixed (byte* p = k)
            {
                status = NativeMethods.plughost_plugin_storage_get(p, (UIntPtr)k.Length, &buffer);
            }
            if (status == NativeMethods.PLUGHOST_ERR_KEY_NOT_FOUND)
            {
                return null;
            }
            Interop.Check(status);
            return Interop.TakeBuffer(buffer);
        }

        /// <summary>Store <paramref name="value"/> under <paramref name="key"/> in the host's storage.</summary>
        public static void StorageSet(string key, byte[] value)
        {
            byte[] k = Interop.Utf8(key);
            value = value ?? Interop.Empty;
            fixed (byte* p = k)
            fixed (byte* v = value)
            {
                Interop.Check(NativeMethods.plughost_plugin_storage_set(p, (UIntPtr)k.Length, v, (UIntPtr)value.Length));
            }
        }

        /// <summary>Call the host's service <paramref name="name"/>; its result.</summary>
        public static byte[] CallService(string name, byte[] input)
        {
            byte[] n = Interop.Utf8(name);
            input = input ?? Interop.Empty;
            ulong buffer;
            fixed (byte* p = n)
            fixed (byte* i = input)
            {
                Interop.Check(NativeMethods.plughost_plugin_call_service(p, (UIntPtr)n.Length, i, (UIntPtr)input.Length, &buffer));
            }
            return Interop.TakeBuffer(buffer);
        }

        /// <summary>Publish <paramref name="payload"/> under <paramref name="topic"/> on the host's bus; how many subscribers it reached.</summary>
        public static ulong Publish(string topic, byte[] payload)
        {
            byte[] t = Interop.Utf8(topic);
            payload = payload ?? Interop.Empty;
            ulong reached;
            fixed (byte* p = t)
            fixed (byte* d = payload)
            {
                Interop.Check(NativeMethods.plughost_plugin_publish(p, (UIntPtr)t.Length, d, (UIntPtr)payload.Length, &reached));
            }
            return reached;
        }

        /// <summary>
        /// Call <paramref name="handler"/> for the host's bus events of <paramref name="topic"/> ("*" for
        /// all); the subscription's id. The handler runs on the thread that reads the event; its
        /// exceptions are dropped.
        /// </summary>
        public static ulong Subscribe(string topic, Action<PlugHostEvent> handler)
        {
            if (handler == null)
            {
                throw new ArgumentNullException("handler");
            }
            byte[] t = Interop.Utf8(topic);
            ulong id;
            void* user = Callbacks.Pin(new EventState(handler));
            fixed (byte* p = t)
            {
                Interop.Check(NativeMethods.plughost_plugin_subscribe(p, (UIntPtr)t.Length, Callbacks.PluginEvent, user, Callbacks.PluginEventDestroy, &id));
            }
            return id;
        }

        /// <summary>End a subscription.</summary>
        public static void Unsubscribe(ulong subscription)
        {
            Interop.Check(NativeMethods.plughost_plugin_unsubscribe(subscription));
        }
    }
}
