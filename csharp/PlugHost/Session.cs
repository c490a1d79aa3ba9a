using System;
using System.Text;
using System.Threading;
using PlugHost.Native;

namespace PlugHost
{
    /// <summary>
    /// The native session pointer. ReleaseHandle calls plughost_session_free, which says goodbye to
    /// the peer, reaps a spawned child (killed after 2 s) and releases every registered callback.
    /// </summary>
    public sealed unsafe class SessionHandle : NativeHandle
    {
        internal SessionHandle()
        {
        }

        protected override bool ReleaseHandle()
        {
            NativeMethods.plughost_session_free((plughost_session*)handle);
            return true;
        }
    }

    /// <summary>
    /// One side of a shared-memory IPC session. Peer A (the host side) makes it with
    /// <see cref="Create"/> and starts the peer process with <see cref="Spawn"/>; peer B, in that
    /// process, with <see cref="Attach"/>. Both call each other's services, publish events, and
    /// serve. Every member may be called from any thread. Sessions are built and tested on Linux;
    /// the native Windows sessions are written but not yet built or tested (on Windows the spawned
    /// peer's standard input carries the hand-off).
    /// </summary>
    /// <remarks>
    /// Options are the JSON object of the configuration's PlugHost.Ipc section (null for the
    /// defaults): RingCapacity, InlineMax, SlotClasses, HeartbeatIntervalMs, HeartbeatTimeoutMs,
    /// ConnectTimeoutMs, ReplyTimeoutMs, SpinCount. Both peers must use the same geometry.
    /// </remarks>
    public sealed unsafe class Session : IDisposable
    {
        /// <summary>The channel of <see cref="OnEvent"/> for every channel without a handler of its own.</summary>
        public const uint EveryChannel = NativeMethods.PLUGHOST_SESSION_EVERY_CHANNEL;

        /// <summary>The data channel used unless one is named (0 is the session's control channel).</summary>
        public const uint DataChannel = NativeMethods.PLUGHOST_SESSION_DATA_CHANNEL;

        private readonly SessionHandle handle = new SessionHandle();
        private int disposed;

        private Session()
        {
        }

        /// <summary>Peer A: the process id of the peer started by <see cref="Spawn"/>, else 0.</summary>
        public int PeerProcessId { get; private set; }

        /// <summary>Peer A: create a session over a new shared-memory segment.</summary>
        /// <exception cref="ConfigurationException">The options are invalid (every problem is listed).</exception>
        /// <exception cref="IpcSetupException">The segment could not be made.</exception>
        public static Session Create(string optionsJson = null)
        {
            return Open(optionsJson, false);
        }

        /// <summary>Peer B: attach to the session the parent process handed over when it started this one.</summary>
        /// <exception cref="IpcSetupException">No session was handed over, or the geometry differs.</exception>
        public static Session Attach(string optionsJson = null)
        {
            return Open(optionsJson, true);
        }

        private static Session Open(string optionsJson, bool attach)
        {
            PlugHostLibrary.EnsureLoaded();
            byte[] options = Interop.Utf8(optionsJson);
            var session = new Session();
            plughost_session* native = null;
            fixed (byte* p = options)
            {
                Interop.Check(attach
                    ? NativeMethods.plughost_session_attach(p, (UIntPtr)options.Length, &native)
                    : NativeMethods.plughost_session_create(p, (UIntPtr)options.Length, &native));
            }
            session.handle.Set((IntPtr)native);
            return session;
        }

        /// <summary>The native handle (for advanced interop; do not free it).</summary>
        public SessionHandle Handle
        {
            get { return handle; }
        }

        public bool IsDisposed
        {
            get { return Volatile.Read(ref disposed) != 0; }
        }

        /// <summary>
        /// Say goodbye and free the session; a spawned peer gets 2 s to exit, then is killed. Safe to
        /// call more than once. Not from inside one of the session's handlers.
        /// </summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0)
            {
                handle.Dispose();
            }
        }

        private plughost_session* Enter(ref bool added)
        {
            return (plughost_session*)handle.Enter(ref added, IsDisposed, "Session");
        }

        private void Exit(bool added)
        {
            handle.Exit(added);
        }

        /// <summary>
        /// Peer A: start <paramref name="program"/> with <paramref name="arguments"/> as the peer (once
        /// per session); returns its process id. The child inherits standard input, output and error.
        /// </summary>
        /// <exception cref="IpcSetupException">The program could not be started (Spawn may be tried again).</exception>
        /// <exception cref="ArgumentException">The session has started its peer already, or was attached.</exception>
        public int Spawn(string program, params string[] arguments)
        {
            if (program == null)
            {
                throw new ArgumentNullException("program");
            }
            var json = new StringBuilder("[");
            foreach (string argument in arguments ?? new string[0])
            {
                json.Append(json.Length > 1 ? "," : string.Empty).Append(JsonValue.Quote(argument ?? string.Empty));
            }
            byte[] name = Interop.Utf8(program);
            byte[] args = Interop.Utf8(json.Append(']').ToString());
            uint pid;
            bool added = false;
            try
            {
                plughost_session* s = Enter(ref added);
                fixed (byte* p = name)
                fixed (byte* a = args)
                {
                    Interop.Check(NativeMethods.plughost_session_spawn(s, p, (UIntPtr)name.Length, a, (UIntPtr)args.Length, &pid));
                }
            }
            finally
            {
                Exit(added);
            }
            PeerProcessId = (int)pid;
            return (int)pid;
        }

        /// <summary>
        /// Call <paramref name="service"/>.<paramref name="method"/> on the peer and return its answer.
        /// While waiting, this thread serves the peer's requests (nested calls).
        /// </summary>
        /// <exception cref="IpcRemoteFailedException">The peer's handler failed (its status and message in the message).</exception>
        /// <exception cref="ServiceNotFoundException">The peer has no such service on that channel.</exception>
        /// <exception cref="IpcException">A subtype says why: timeout, peer dead, closed, too large, ...</exception>
        public byte[] Call(string service, string method, byte[] payload = null, uint channel = DataChannel, int timeoutMs = 30000)
        {
            byte[] s = Name(service, "service");
            byte[] m = Name(method, "method");
            payload = payload ?? Interop.Empty;
            ulong result;
            bool added = false;
            try
            {
                plughost_session* native = Enter(ref added);
                fixed (byte* sp = s)
                fixed (byte* mp = m)
                fixed (byte* pp = payload)
                {
                    Interop.Check(NativeMethods.plughost_session_call(native, channel, sp, (UIntPtr)s.Length, mp, (UIntPtr)m.Length, pp, (UIntPtr)payload.Length, Millis(timeoutMs), &result));
                }
            }
            finally
            {
                Exit(added);
            }
            return Interop.TakeBuffer(result);
        }

        /// <summary>Send the event <paramref name="topic"/> to the peer, waiting at most <paramref name="timeoutMs"/> for room.</summary>
        public void Publish(string topic, byte[] payload = null, uint channel = DataChannel, int timeoutMs = 10000)
        {
            byte[] t = Name(topic, "topic");
            payload = payload ?? Interop.Empty;
            bool added = false;
            try
            {
                plughost_session* native = Enter(ref added);
                fixed (byte* tp = t)
                fixed (byte* pp = payload)
                {
                    Interop.Check(NativeMethods.plughost_session_publish(native, channel, tp, (UIntPtr)t.Length, pp, (UIntPtr)payload.Length, Millis(timeoutMs)));
                }
            }
            finally
            {
                Exit(added);
            }
        }

        /// <summary>
        /// Serve <paramref name="service"/> on <paramref name="channel"/>: handler(method, payload)
        /// answers the peer's calls. A <see cref="PlugHostException"/> it throws is sent with its
        /// status, any other exception as PLUGHOST_ERR_SERVICE_FAILED; the caller gets
        /// IpcRemoteFailedException. It runs on the thread reading the request and may call the peer
        /// (nested calls). A handler that references this Session keeps it from being finalized:
        /// dispose the Session.
        /// </summary>
        public void Register(string service, Func<string, byte[], byte[]> handler, uint channel = DataChannel)
        {
            if (handler == null)
            {
                throw new ArgumentNullException("handler");
            }
            byte[] s = Name(service, "service");
            bool added = false;
            try
            {
                plughost_session* native = Enter(ref added);
                // From here on plughost owns the state: it calls the destroy callback exactly once, also on failure.
                void* user = Callbacks.Pin(new SessionHandlerState(handler));
                fixed (byte* sp = s)
                {
                    Interop.Check(NativeMethods.plughost_session_register(native, channel, sp, (UIntPtr)s.Length, Callbacks.SessionHandler, user, Callbacks.SessionHandlerDestroy));
                }
            }
            finally
            {
                Exit(added);
            }
        }

        /// <summary>Stop serving <paramref name="service"/> on <paramref name="channel"/>.</summary>
        /// <exception cref="ServiceNotFoundException">It was not registered there.</exception>
        public void Unregister(string service, uint channel = DataChannel)
        {
            byte[] s = Name(service, "service");
            bool added = false;
            try
            {
                plughost_session* native = Enter(ref added);
                fixed (byte* sp = s)
                {
                    Interop.Check(NativeMethods.plughost_session_unregister(native, channel, sp, (UIntPtr)s.Length));
                }
            }
            finally
            {
                Exit(added);
            }
        }

        /// <summary>
        /// Receive the peer's events as handler(topic, payload), on <paramref name="channel"/> or
        /// (<see cref="EveryChannel"/>) on every channel without a handler of its own. Replaces the
        /// previous handler of that channel. Exceptions the handler throws are swallowed.
        /// </summary>
        public void OnEvent(Action<string, byte[]> handler, uint channel = EveryChannel)
        {
            if (handler == null)
            {
                throw new ArgumentNullException("handler");
            }
            bool added = false;
            try
            {
                plughost_session* native = Enter(ref added);
                void* user = Callbacks.Pin(new SessionEventState(handler));
                Interop.Check(NativeMethods.plughost_session_on_event(native, channel, Callbacks.SessionEvent, user, Callbacks.SessionEventDestroy));
            }
            finally
            {
                Exit(added);
            }
        }

        /// <summary>
        /// Serve the peer's requests and events on this thread for <paramref name="timeoutMs"/>;
        /// throws the session's ending exception (IpcClosedException after the peer's goodbye) as soon
        /// as it ends.
        /// </summary>
        public void Serve(int timeoutMs)
        {
            Invoke(s => NativeMethods.plughost_session_serve(s, Millis(timeoutMs)));
        }

        /// <summary>Peer B's run loop: serve until the peer says goodbye (returns) or the session breaks (throws).</summary>
        public void ServeUntilClosed()
        {
            try
            {
                while (true)
                {
                    Serve(1000);
                }
            }
            catch (IpcClosedException)
            {
            }
        }

        /// <summary>Serve on a plughost thread until the session ends.</summary>
        public void ServeInBackground()
        {
            Invoke(s => NativeMethods.plughost_session_serve_in_background(s));
        }

        /// <summary>Throw the exception that ended the session, if it ended.</summary>
        public void Check()
        {
            Invoke(s => NativeMethods.plughost_session_status(s));
        }

        /// <summary>The session's figures as JSON: open, side, peer_pid, calls_in_flight, stats.</summary>
        public string StatsJson()
        {
            ulong json = 0;
            Invoke(s =>
            {
                ulong out_json;
                int status = NativeMethods.plughost_session_stats_json(s, &out_json);
                json = out_json;
                return status;
            });
            return Interop.FromUtf8(Interop.TakeBuffer(json));
        }

        /// <summary>The services the peer offers, as JSON: {"services": [{"id", "channel", "name", "methods"}]}.</summary>
        public string PeerRegistryJson(int timeoutMs = 10000)
        {
            ulong json = 0;
            Invoke(s =>
            {
                ulong out_json;
                int status = NativeMethods.plughost_session_peer_registry_json(s, Millis(timeoutMs), &out_json);
                json = out_json;
                return status;
            });
            return Interop.FromUtf8(Interop.TakeBuffer(json));
        }

        private delegate int NativeCall(plughost_session* session);

        private void Invoke(NativeCall call)
        {
            bool added = false;
            try
            {
                Interop.Check(call(Enter(ref added)));
            }
            finally
            {
                Exit(added);
            }
        }

        private static byte[] Name(string value, string what)
        {
            if (value == null)
            {
                throw new ArgumentNullException(what);
            }
            return Interop.Utf8(value);
        }

        private static uint Millis(int timeoutMs)
        {
            if (timeoutMs < 0)
            {
                throw new ArgumentOutOfRangeException("timeoutMs", "The timeout must not be negative.");
            }
            return (uint)timeoutMs;
        }
    }
}
