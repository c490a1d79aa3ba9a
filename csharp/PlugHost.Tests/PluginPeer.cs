using System;
using System.Text;
using System.Threading;
using PlugHost;

namespace PlugHost.Tests
{
    /// <summary>
    /// An out-of-process plugin written in C# (PluginRunner.Run with an IPlugin), started by
    /// PluginTests through Session.Spawn("mono", "PluginPeer.exe") with the plugin environment set.
    /// Commands: echo, config, name, store (key=value), get, call (service input), publish,
    /// subscribe (a topic), events, throw. It exits with Run's exit code.
    /// </summary>
    public sealed class PluginPeer : IPlugin
    {
        private string config = string.Empty;
        private int events;

        public static int Main()
        {
            return PluginRunner.Run(new PluginPeer());
        }

        private static byte[] Bytes(string text)
        {
            return Encoding.UTF8.GetBytes(text);
        }

        public void Initialize(string configuration)
        {
            config = configuration;
            PluginHost.Log(LogLevel.Info, "c# plugin ready");
        }

        public byte[] Process(string command, byte[] input)
        {
            string text = Encoding.UTF8.GetString(input);
            switch (command)
            {
                case "echo":
                    return input;
                case "config":
                    return Bytes(config);
                case "name":
                    return Bytes(PluginHost.Name);
                case "store":
                    int eq = text.IndexOf('=');
                    PluginHost.StorageSet(text.Substring(0, eq), Bytes(text.Substring(eq + 1)));
                    return null;
                case "get":
                    return PluginHost.StorageGet(text) ?? Bytes("<none>");
                case "call":
                    int space = text.IndexOf(' ');
                    return space < 0 ? PluginHost.CallService(text, null) : PluginHost.CallService(text.Substring(0, space), Bytes(text.Substring(space + 1)));
                case "publish":
                    return Bytes(PluginHost.Publish("csharp.news", input).ToString());
                case "subscribe":
                    return Bytes(PluginHost.Subscribe(text, e => Interlocked.Increment(ref events)).ToString());
                case "events":
                    return Bytes(Volatile.Read(ref events).ToString());
                case "throw":
                    throw new InvalidOperationException("c# plugin says no");
                default:
                    throw new UnknownCommandException(105, "PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND", "no command " + command);
            }
        }

        public void Shutdown()
        {
            PluginHost.Log(LogLevel.Info, "c# plugin stops");
        }
    }
}
