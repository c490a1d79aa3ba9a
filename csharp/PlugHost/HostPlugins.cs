using System;
using PlugHost.Native;

namespace PlugHost
{
    /// <summary>The states of an out-of-process plugin (the C ABI's PLUGHOST_PLUGIN_* values).</summary>
    public enum PluginState : uint
    {
        /// <summary>Not running: never started (on demand), stopped on request or for being idle, or ended cleanly.</summary>
        Stopped = NativeMethods.PLUGHOST_PLUGIN_STOPPED,
        /// <summary>Its process is being started.</summary>
        Starting = NativeMethods.PLUGHOST_PLUGIN_STARTING,
        /// <summary>Its initialize runs.</summary>
        Initializing = NativeMethods.PLUGHOST_PLUGIN_INITIALIZING,
        /// <summary>It serves calls.</summary>
        Running = NativeMethods.PLUGHOST_PLUGIN_RUNNING,
        /// <summary>It is shutting down.</summary>
        ShuttingDown = NativeMethods.PLUGHOST_PLUGIN_SHUTTING_DOWN,
        /// <summary>It ended unexpectedly and will not be restarted (policy or restart limit).</summary>
        Crashed = NativeMethods.PLUGHOST_PLUGIN_CRASHED,
        /// <summary>It ended unexpectedly and will be restarted after its backoff.</summary>
        Restarting = NativeMethods.PLUGHOST_PLUGIN_RESTARTING,
    }

    /// <summary>The plugin members of <see cref="Host"/>: plugins are processes the host starts, calls, supervises and restarts.</summary>
    public sealed unsafe partial class Host
    {
        /// <summary>Start plugin <paramref name="name"/> and wait until it runs.</summary>
        /// <exception cref="PluginNotFoundException">No plugin has that name.</exception>
        /// <exception cref="PluginStartFailedException">It could not be started; the message says why.</exception>
        public void StartPlugin(string name)
        {
            ByName(name, (h, p, n) => NativeMethods.plughost_plugin_start(h, p, n));
        }

        /// <summary>Stop plugin <paramref name="name"/> gracefully (killed after its shutdown timeout).</summary>
        public void StopPlugin(string name)
        {
            ByName(name, (h, p, n) => NativeMethods.plughost_plugin_stop(h, p, n));
        }

        /// <summary>
        /// Run <paramref name="command"/> of plugin <paramref name="name"/>; its answer.
        /// <paramref name="timeoutMs"/> 0 means the plugin's CallTimeoutMs. A plugin that is
        /// starting or restarting is waited for; one on demand or stopped for being idle is started.
        /// </summary>
        /// <exception cref="PluginFailedException">The plugin's command failed (its status and message).</exception>
        /// <exception cref="PluginCrashedException">Its process ended during the call (it is restarted per its policy).</exception>
        /// <exception cref="PluginNotRunningException">It is stopped, or crashed for good.</exception>
        public byte[] CallPlugin(string name, string command, byte[] input = null, int timeoutMs = 0)
        {
            if (command == null)
            {
                throw new ArgumentNullException("command");
            }
            if (timeoutMs < 0)
            {
                throw new ArgumentOutOfRangeException("timeoutMs", "The timeout must not be negative.");
            }
            byte[] c = Interop.Utf8(command);
            input = input ?? Interop.Empty;
            ulong output = 0;
            ByName(name, (h, p, n) =>
            {
                ulong result;
                int status;
                fixed (byte* cp = c)
                fixed (byte* ip = input)
                {
                    status = NativeMethods.plughost_plugin_call(h, p, n, cp, (UIntPtr)c.Length, ip, (UIntPtr)input.Length, (uint)timeoutMs, &result);
                }
                output = result;
                return status;
            });
            return Interop.TakeBuffer(output);
        }

        /// <summary>The state of plugin <paramref name="name"/>.</summary>
        public PluginState GetPluginState(string name)
        {
            uint state = 0;
            ByName(name, (h, p, n) =>
            {
                uint value;
                int status = NativeMethods.plughost_plugin_state(h, p, n, &value);
                state = value;
                return status;
            });
            return (PluginState)state;
        }

        /// <summary>Every plugin as JSON (name, state, reason, pid, restarts, crashes, calls, cpu_ms, rss_bytes, ...).</summary>
        public string PluginsJson()
        {
            ulong json = 0;
            bool added = false;
            try
            {
                plughost_host* h = Enter(ref added);
                ulong value;
                Interop.Check(NativeMethods.plughost_plugin_list(h, &value));
                json = value;
            }
            finally
            {
                Exit(added);
            }
            return Interop.FromUtf8(Interop.TakeBuffer(json));
        }

        /// <summary>
        /// Hear of every plugin state change as handler(plugin, from, to, reason), on the thread that
        /// caused it; exceptions are swallowed. Dispose the subscription to end it.
        /// </summary>
        public EventSubscription SubscribePluginStates(Action<string, PluginState, PluginState, string> handler)
        {
            if (handler == null)
            {
                throw new ArgumentNullException("handler");
            }
            ulong id;
            bool added = false;
            try
            {
                plughost_host* h = Enter(ref added);
                void* user = Callbacks.Pin(new PluginStateState(handler));
                Interop.Check(NativeMethods.plughost_plugin_subscribe_states(h, Callbacks.PluginState, user, Callbacks.PluginStateDestroy, &id));
            }
            finally
            {
                Exit(added);
            }
            return new EventSubscription(this, id, "plughost.plugin.state", UnsubscribePluginStates);
        }

        private void UnsubscribePluginStates(ulong id)
        {
            bool added = false;
            try
            {
                Interop.Check(NativeMethods.plughost_plugin_unsubscribe_states(Enter(ref added), id));
            }
            finally
            {
                Exit(added);
            }
        }

        private delegate int NameCall(plughost_host* host, byte* name, UIntPtr length);

        private void ByName(string name, NameCall call)
        {
            if (name == null)
            {
                throw new ArgumentNullException("name");
            }
            byte[] bytes = Interop.Utf8(name);
            bool added = false;
            try
            {
                plughost_host* h = Enter(ref added);
                fixed (byte* p = bytes)
                {
                    Interop.Check(call(h, p, (UIntPtr)bytes.Length));
                }
            }
            finally
            {
                Exit(added);
            }
        }
    }
}
