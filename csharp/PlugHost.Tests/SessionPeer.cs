using System;
using System.Text;
using PlugHost;

namespace PlugHost.Tests
{
    /// <summary>
    /// An IPC peer B written in C#, started by SessionTests through Session.Spawn("mono",
    /// "SessionPeer.exe"): it serves "cs" on channel 1 (echo, reverse, ask-host, throw) and exits 0
    /// after the host's goodbye.
    /// </summary>
    public static class SessionPeer
    {
        public static int Main()
        {
            using (Session session = Session.Attach())
            {
                session.Register("cs", (method, payload) =>
                {
                    switch (method)
                    {
                        case "echo":
                            return payload;
                        case "reverse":
                            Array.Reverse(payload);
                            return payload;
                        case "ask-host":
                            byte[] answer = session.Call("host", "greet", payload, timeoutMs: 10000);
                            return Encoding.UTF8.GetBytes("c# heard: " + Encoding.UTF8.GetString(answer));
                        case "throw":
                            throw new InvalidOperationException("c# says no");
                        default:
                            throw new UnknownCommandException(105, "PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND", "no method " + method);
                    }
                });
                session.ServeUntilClosed();
            }
            return 0;
        }
    }
}
