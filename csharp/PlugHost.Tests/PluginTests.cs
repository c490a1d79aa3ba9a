using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using NUnit.Framework;
using PlugHost;

namespace PlugHost.Tests
{
    /// <summary>
    /// The plugin side from C#: PluginPeer.exe (PluginRunner and PluginHost) runs under mono as the
    /// child of a session whose other side plays the host: the host service on channel 2 (log,
    /// storage, a "greet" service, publish, subscribe, with the protocol's postcard payloads), and
    /// calls of the plugin's lifecycle and commands on channel 1.
    /// </summary>
    [TestFixture]
    public class PluginTests
    {
        private const uint PluginChannel = 1;
        private const uint HostChannel = 2;
        private const uint EventChannel = 3;

        private static byte[] Bytes(string text)
        {
            return Encoding.UTF8.GetBytes(text);
        }

        private static string Text(byte[] bytes)
        {
            return Encoding.UTF8.GetString(bytes);
        }

        private static byte[] Varint(ulong n)
        {
            var bytes = new List<byte>();
            do
            {
                byte b = (byte)(n & 0x7F);
                n >>= 7;
                bytes.Add(n != 0 ? (byte)(b | 0x80) : b);
            }
            while (n != 0);
            return bytes.ToArray();
        }

        private static byte[] Blob(byte[] data)
        {
            return Varint((ulong)data.Length).Concat(data).ToArray();
        }

        /// <summary>Reads postcard's varints and length-prefixed bytes.</summary>
        private sealed class Reader
        {
            private readonly byte[] data;
            private int at;

            internal Reader(byte[] data)
            {
                this.data = data;
            }

            internal ulong Varint()
            {
                ulong n = 0;
                for (int shift = 0; ; shift += 7)
                {
                    byte b = data[at++];
                    n |= (ulong)(b & 0x7F) << shift;
                    if ((b & 0x80) == 0)
                    {
                        return n;
                    }
                }
            }

            internal byte[] Bytes()
            {
                int length = (int)Varint();
                byte[] bytes = new byte[length];
                Array.Copy(data, at, bytes, 0, length);
                at += length;
                return bytes;
            }

            internal string Text()
            {
                return Encoding.UTF8.GetString(Bytes());
            }
        }

        /// <summary>The host service of the plugin protocol, recording what the plugin asked.</summary>
        private sealed class FakeHost
        {
            internal readonly List<string> Logs = new List<string>();
            internal readonly Dictionary<string, byte[]> Storage = new Dictionary<string, byte[]>();
            internal readonly List<string> Published = new List<string>();
            internal ulong Subscriptions;

            internal byte[] Serve(string method, byte[] payload)
            {
                var r = new Reader(payload);
                lock (this)
                {
                    switch (method)
                    {
                        case "log":
                            Logs.Add(r.Varint() + " " + r.Text());
                            return null;
                        case "storage.get":
                            byte[] value;
                            if (!Storage.TryGetValue(Text(payload), out value))
                            {
                                throw new StorageKeyNotFoundException(300, "PLUGHOST_ERR_KEY_NOT_FOUND", "no value under " + Text(payload));
                            }
                            return value;
                        case "storage.set":
                            string key = r.Text();
                            Storage[key] = r.Bytes();
                            return null;
                        case "service.call":
                            string name = r.Text();
                            byte[] input = r.Bytes();
                            if (name != "greet")
                            {
                                throw new ServiceNotFoundException(200, "PLUGHOST_ERR_SERVICE_NOT_FOUND", "no service " + name);
                            }
                            return Bytes("hello " + Text(input));
                        case "event.publish":
                            Published.Add(r.Text() + ":" + Text(r.Bytes()));
                            return BitConverter.GetBytes(0UL);
                        case "event.subscribe":
                            return BitConverter.GetBytes(++Subscriptions);
                        default:
                            throw new InvalidOperationException("no host method " + method);
                    }
                }
            }
        }

        [Test]
        public void ACSharpPluginRunsUnderAHost()
        {
            var host = new FakeHost();
            const string options = "{\"RingCapacity\": 131072, \"HeartbeatIntervalMs\": 50}";
            Environment.SetEnvironmentVariable("PLUGHOST_PLUGIN_NAME", "cs-plugin");
            Environment.SetEnvironmentVariable("PLUGHOST_PLUGIN_IPC", options);
            try
            {
                using (Session session = Session.Create(options))
                {
                    session.Register("host", host.Serve, HostChannel);
                    session.Spawn("mono", Path.Combine(Fixtures.BinDirectory, "PluginPeer.exe"));
                    Func<string, string, string> command = (name, input) => Text(session.Call("plugin", name, Bytes(input), PluginChannel, 60000));
                    session.Call("plugin.lifecycle", "initialize", Bytes("{\"Mode\": \"cs\"}"), PluginChannel, 60000);
                    CollectionAssert.AreEqual(new[] { "3 c# plugin ready" }, host.Logs);
                    Assert.AreEqual("{\"Mode\": \"cs\"}", command("config", ""));
                    Assert.AreEqual("ping", command("echo", "ping"));
                    Assert.AreEqual("cs-plugin", command("name", ""));
                    command("store", "colour=blue");
                    Assert.AreEqual("blue", Text(host.Storage["colour"]));
                    Assert.AreEqual("blue", command("get", "colour"));
                    Assert.AreEqual("<none>", command("get", "size"));
                    Assert.AreEqual("hello cs", command("call", "greet cs"));
                    StringAssert.Contains("no service nothing", Assert.Throws<ServiceNotFoundException>(() => command("call", "nothing")).Message);
                    Assert.AreEqual("0", command("publish", "hi"));
                    CollectionAssert.AreEqual(new[] { "csharp.news:hi" }, host.Published);
                    ulong id = ulong.Parse(command("subscribe", "news"));
                    byte[] envelope = Varint(id).Concat(Blob(Bytes("host"))).Concat(Varint(9)).Concat(Blob(Bytes("x"))).ToArray();
                    session.Publish("news", envelope, EventChannel);
                    DateTime deadline = DateTime.UtcNow.AddSeconds(10);
                    while (command("events", "") != "1")
                    {
                        Assert.Less(DateTime.UtcNow, deadline, "the event did not arrive");
                        Thread.Sleep(10);
                    }
                    StringAssert.Contains("InvalidOperationException: c# plugin says no", Assert.Throws<IpcRemoteFailedException>(() => command("throw", "")).Message);
                    StringAssert.Contains("MODULE_UNKNOWN_COMMAND", Assert.Throws<IpcRemoteFailedException>(() => command("fly", "")).Message);
                    session.Call("plugin.lifecycle", "shutdown", null, PluginChannel, 60000);
                    Assert.AreEqual("3 c# plugin stops", host.Logs.Last());
                }
            }
            finally
            {
                Environment.SetEnvironmentVariable("PLUGHOST_PLUGIN_NAME", null);
                Environment.SetEnvironmentVariable("PLUGHOST_PLUGIN_IPC", null);
            }
        }

        [Test]
        public void PluginHostOutsideAPluginThrows()
        {
            StringAssert.Contains("no plugin is running", Assert.Throws<InvalidHandleException>(() => { string name = PluginHost.Name; }).Message);
            Assert.Throws<InvalidHandleException>(() => PluginHost.StorageGet("k"));
        }

        private sealed class EchoPlugin : IPlugin
        {
            public void Initialize(string config)
            {
            }

            public byte[] Process(string command, byte[] input)
            {
                return input;
            }

            public void Shutdown()
            {
            }
        }

        [Test]
        public void RunWithoutAHostReturns2()
        {
            Assert.AreEqual(2, PluginRunner.Run(new EchoPlugin()));
        }
    }
}
