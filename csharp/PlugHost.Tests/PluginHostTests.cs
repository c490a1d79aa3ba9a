using System;
using System.Collections.Concurrent;
using System.Text;
using NUnit.Framework;
using PlugHost;

namespace PlugHost.Tests
{
    /// <summary>Plugins from the host's side in C#: a host declaring the C plugin (examples/c/plugin_c.c).</summary>
    [TestFixture]
    public class PluginHostTests
    {
        private static string Config(string extra = "")
        {
            return "{\"PlugHost\": {\"Plugins\": {\"Declared\": [{\"Name\": \"cplug\", \"Path\": " + JsonValue.Quote(Fixtures.PluginC)
                + ", \"BackoffMs\": 5" + extra + "}]}}}";
        }

        private static string Text(byte[] bytes)
        {
            return Encoding.UTF8.GetString(bytes);
        }

        [Test]
        public void CallsCrashRestartStopStart()
        {
            var changes = new ConcurrentQueue<string>();
            using (var host = new Host(Config()))
            using (host.SubscribePluginStates((plugin, from, to, reason) => changes.Enqueue(plugin + ":" + to)))
            {
                Assert.AreEqual(PluginState.Running, host.GetPluginState("cplug"));
                Assert.AreEqual("ping", Text(host.CallPlugin("cplug", "echo", Encoding.UTF8.GetBytes("ping"))));
                host.CallPlugin("cplug", "store", Encoding.UTF8.GetBytes("plugin_c.value=kept"));
                Assert.AreEqual("kept", Text(host.StorageGet("plugin_c.value")));
                Assert.Throws<PluginCrashedException>(() => host.CallPlugin("cplug", "abort"));
                Assert.AreEqual("back", Text(host.CallPlugin("cplug", "echo", Encoding.UTF8.GetBytes("back"), 20000)));
                CollectionAssert.Contains(changes.ToArray(), "cplug:Restarting");
                StringAssert.Contains("no such command", Assert.Throws<PluginFailedException>(() => host.CallPlugin("cplug", "no-such-command")).Message);
                Assert.Throws<PluginNotFoundException>(() => host.CallPlugin("nobody", "echo"));
                JsonValue list = JsonValue.Parse(host.PluginsJson());
                Assert.AreEqual("cplug", list[0]["name"].AsString);
                Assert.AreEqual(1UL, list[0]["crashes"].AsUInt64);
                host.StopPlugin("cplug");
                Assert.AreEqual(PluginState.Stopped, host.GetPluginState("cplug"));
                Assert.Throws<PluginNotRunningException>(() => host.CallPlugin("cplug", "echo"));
                host.StartPlugin("cplug");
                Assert.AreEqual("again", Text(host.CallPlugin("cplug", "echo", Encoding.UTF8.GetBytes("again"))));
                Assert.Throws<ArgumentOutOfRangeException>(() => host.CallPlugin("cplug", "echo", null, -1));
            }
        }

        [Test]
        public void StartFailures()
        {
            using (var host = new Host("{\"PlugHost\": {\"Plugins\": {\"Declared\": [{\"Name\": \"ghost\", \"Path\": \"/no/such/plugin\", \"Restart\": \"never\"}]}}}"))
            {
                Assert.AreEqual(PluginState.Crashed, host.GetPluginState("ghost"));
                StringAssert.Contains("/no/such/plugin", Assert.Throws<PluginStartFailedException>(() => host.StartPlugin("ghost")).Message);
            }
            Assert.Throws<ConfigurationException>(() => new Host(Config(", \"Restart\": \"sometimes\"")));
        }
    }
}
