using System;
using System.Runtime.InteropServices;
using System.Threading;
using PlugHost.Native;

namespace PlugHost
{
    /// <summary>
    /// The native callbacks. Each is one static delegate, alive for the life of the process, so the
    /// function pointer plughost stores never points at a collected delegate. The per-registration
    /// state travels as user_data: a normal GCHandle to a state object (which must not reference the
    /// Host, so that an abandoned Host can still be finalized), freed by the destroy callback
    /// plughost calls exactly once when it no longer needs the state (also when registering fails).
    /// No exception ever unwinds into native code.
    /// </summary>
    internal static unsafe class Callbacks
    {
        internal static readonly NativeMethods.plughost_service_register_callback_delegate Service = OnService;
        internal static readonly NativeMethods.plughost_service_register_destroy_user_data_delegate ServiceDestroy = Release;
        internal static readonly NativeMethods.plughost_host_set_log_callback_callback_delegate Log = OnLog;
        internal static readonly NativeMethods.plughost_host_set_log_callback_destroy_user_data_delegate LogDestroy = Release;
        internal static readonly NativeMethods.plughost_host_set_pump_callback_callback_delegate Pump = OnPump;
        internal static readonly NativeMethods.plughost_host_set_pump_callback_destroy_user_data_delegate PumpDestroy = Release;
        internal static readonly NativeMethods.plughost_event_subscribe_callback_delegate Event = OnEvent;
        internal static readonly NativeMethods.plughost_event_subscribe_destroy_user_data_delegate EventDestroy = Release;
        internal static readonly NativeMethods.plughost_session_register_handler_delegate SessionHandler = OnSessionHandler;
        internal static readonly NativeMethods.plughost_session_register_destroy_user_data_delegate SessionHandlerDestroy = Release;
        internal static readonly NativeMethods.plughost_session_on_event_callback_delegate SessionEvent = OnSessionEvent;
        internal static readonly NativeMethods.plughost_session_on_event_destroy_user_data_delegate SessionEventDestroy = Release;
        internal static readonly NativeMethods.plughost_plugin_subscribe_states_callback_delegate PluginState = OnPluginState;
        internal static readonly NativeMethods.plughost_plugin_subscribe_states_destroy_user_data_delegate PluginStateDestroy = Release;
        internal static readonly NativeMethods.plughost_plugin_subscribe_callback_delegate PluginEvent = OnEvent;
        internal static readonly NativeMethods.plughost_plugin_subscribe_destroy_user_data_delegate PluginEventDestroy = Release;

        // The callbacks of plughost_plugin_def (its fields are plain pointers): their signatures
        // are those of a service callback (initialize), a session handler (process) and a pump
        // callback (shutdown), so those delegate types serve.
        internal static readonly NativeMethods.plughost_service_register_callback_delegate PluginInitialize = OnPluginInitialize;
        internal static readonly NativeMethods.plughost_session_register_handler_delegate PluginProcess = OnPluginProcess;
        internal static readonly NativeMethods.plughost_host_set_pump_callback_callback_delegate PluginShutdown = OnPluginShutdown;

        private static long released;

        /// <summary>How many states plughost has released so far (for tests and diagnostics).</summary>
        internal static long Released
        {
            get { return Interlocked.Read(ref released); }
        }

        /// <summary>A GCHandle for <paramref name="state"/> as user_data.</summary>
        internal static void* Pin(object state)
        {
            return (void*)GCHandle.ToIntPtr(GCHandle.Alloc(state));
        }

        private static T State<T>(void* user) where T : class
        {
            return (T)GCHandle.FromIntPtr((IntPtr)user).Target;
        }

        private static void Release(void* user)
        {
            try
            {
                GCHandle handle = GCHandle.FromIntPtr((IntPtr)user);
                var state = handle.Target as ReleasableState;
                handle.Free();
                Interlocked.Increment(ref released);
                if (state != null)
                {
                    state.OnReleased();
                }
            }
            catch (Exception)
            {
                // Nothing may unwind into plughost.
            }
        }

        private static int OnService(void* user, byte* input, UIntPtr inputLength, plughost_output* output)
        {
            try
            {
                var state = State<ServiceState>(user);
                return Answer(output, state.Handler(Interop.Copy(input, inputLength)));
            }
            catch (Exception e)
            {
                return Fail(output, e);
            }
        }

        private static int OnSessionHandler(void* user, byte* method, UIntPtr methodLength, byte* input, UIntPtr inputLength, plughost_output* output)
        {
            try
            {
                var state = State<SessionHandlerState>(user);
                return Answer(output, state.Handler(Interop.CopyUtf8(method, methodLength), Interop.Copy(input, inputLength)));
            }
            catch (Exception e)
            {
                return Fail(output, e);
            }
        }

        private static int OnPluginInitialize(void* user, byte* config, UIntPtr configLength, plughost_output* error)
        {
            try
            {
                State<IPlugin>(user).Initialize(Interop.CopyUtf8(config, configLength));
                return NativeMethods.PLUGHOST_OK;
            }
            catch (Exception e)
            {
                return Fail(error, e);
            }
        }

        private static int OnPluginProcess(void* user, byte* command, UIntPtr commandLength, byte* input, UIntPtr inputLength, plughost_output* output)
        {
            try
            {
                return Answer(output, State<IPlugin>(user).Process(Interop.CopyUtf8(command, commandLength), Interop.Copy(input, inputLength)));
            }
            catch (Exception e)
            {
                return Fail(output, e);
            }
        }

        private static void OnPluginShutdown(void* user)
        {
            try
            {
                State<IPlugin>(user).Shutdown();
            }
            catch (Exception)
            {
            }
        }

        /// <summary>Write a handler's result (null: nothing) to its output.</summary>
        private static int Answer(plughost_output* output, byte[] result)
        {
            result = result ?? Interop.Empty;
            fixed (byte* data = result)
            {
                return NativeMethods.plughost_output_write(output, data, (UIntPtr)result.Length);
            }
        }

        /// <summary>
        /// Set a handler's exception as its error message; the status of a PlugHostException, else
        /// PLUGHOST_ERR_SERVICE_FAILED.
        /// </summary>
        private static int Fail(plughost_output* output, Exception e)
        {
            try
            {
                byte[] message = Interop.Utf8(e.GetType().Name + ": " + e.Message);
                fixed (byte* data = message)
                {
                    NativeMethods.plughost_output_set_error(output, data, (UIntPtr)message.Length);
                }
            }
            catch (Exception)
            {
            }
            var plughost = e as PlugHostException;
            return plughost != null && plughost.Status > 0 ? plughost.Status : NativeMethods.PLUGHOST_ERR_SERVICE_FAILED;
        }

        private static void OnPluginState(void* user, byte* plugin, UIntPtr pluginLength, uint from, uint to, byte* reason, UIntPtr reasonLength)
        {
            try
            {
                State<PluginStateState>(user).Handler(Interop.CopyUtf8(plugin, pluginLength), (PlugHost.PluginState)from, (PlugHost.PluginState)to, Interop.CopyUtf8(reason, reasonLength));
            }
            catch (Exception)
            {
            }
        }

        private static void OnSessionEvent(void* user, byte* topic, UIntPtr topicLength, byte* payload, UIntPtr payloadLength)
        {
            try
            {
                State<SessionEventState>(user).Handler(Interop.CopyUtf8(topic, topicLength), Interop.Copy(payload, payloadLength));
            }
            catch (Exception)
            {
            }
        }

        private static void OnLog(void* user, uint level, byte* target, UIntPtr targetLength, byte* message, UIntPtr messageLength)
        {
            try
            {
                State<LogState>(user).Deliver((LogLevel)level, Interop.CopyUtf8(target, targetLength), Interop.CopyUtf8(message, messageLength));
            }
            catch (Exception)
            {
            }
        }

        private static void OnPump(void* user)
        {
            try
            {
                State<PumpState>(user).Deliver();
            }
            catch (Exception)
            {
            }
        }

        private static void OnEvent(void* user, byte* topic, UIntPtr topicLength, byte* source, UIntPtr sourceLength, byte* payload, UIntPtr payloadLength, ulong sequence)
        {
            try
            {
                var e = new PlugHostEvent(Interop.CopyUtf8(topic, topicLength), Interop.CopyUtf8(source, sourceLength), Interop.Copy(payload, payloadLength), sequence);
                State<EventState>(user).Handler(e);
            }
            catch (Exception)
            {
            }
        }
    }

    /// <summary>State told when plughost releases it.</summary>
    internal abstract class ReleasableState
    {
        private int released;

        internal bool IsReleased
        {
            get { return Volatile.Read(ref released) != 0; }
        }

        internal void OnReleased()
        {
            Volatile.Write(ref released, 1);
        }
    }

    internal sealed class ServiceState : ReleasableState
    {
        internal readonly Func<byte[], byte[]> Handler;

        internal ServiceState(Func<byte[], byte[]> handler)
        {
            Handler = handler;
        }
    }

    internal sealed class SessionHandlerState : ReleasableState
    {
        internal readonly Func<string, byte[], byte[]> Handler;

        internal SessionHandlerState(Func<string, byte[], byte[]> handler)
        {
            Handler = handler;
        }
    }

    internal sealed class PluginStateState : ReleasableState
    {
        internal readonly Action<string, PluginState, PluginState, string> Handler;

        internal PluginStateState(Action<string, PluginState, PluginState, string> handler)
        {
            Handler = handler;
        }
    }

    internal sealed class SessionEventState : ReleasableState
    {
        internal readonly Action<string, byte[]> Handler;

        internal SessionEventState(Action<string, byte[]> handler)
        {
            Handler = handler;
        }
    }

    internal sealed class EventState : ReleasableState
    {
        internal readonly Action<PlugHostEvent> Handler;

        internal EventState(Action<PlugHostEvent> handler)
        {
            Handler = handler;
        }
    }

    /// <summary>The log sink and handlers of one host (holds no reference to the Host).</summary>
    internal sealed class LogState : ReleasableState
    {
        internal volatile ILogSink Sink;
        internal Action<LogLevel, string, string> Handlers;

        internal void Deliver(LogLevel level, string target, string message)
        {
            ILogSink sink = Sink;
            if (sink != null)
            {
                try
                {
                    sink.Write(level, target, message);
                }
                catch (Exception)
                {
                }
            }
            Action<LogLevel, string, string> handlers = Volatile.Read(ref Handlers);
            if (handlers != null)
            {
                foreach (Action<LogLevel, string, string> handler in handlers.GetInvocationList())
                {
                    try
                    {
                        handler(level, target, message);
                    }
                    catch (Exception)
                    {
                    }
                }
            }
        }
    }

    /// <summary>The pump-request handlers of one host (holds no reference to the Host).</summary>
    internal sealed class PumpState : ReleasableState
    {
        internal Action Handlers;

        internal void Deliver()
        {
            Action handlers = Volatile.Read(ref Handlers);
            if (handlers != null)
            {
                foreach (Action handler in handlers.GetInvocationList())
                {
                    try
                    {
                        handler();
                    }
                    catch (Exception)
                    {
                    }
                }
            }
        }
    }
}
