using System;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using NUnit.Framework;
using PlugHost;

namespace PlugHost.Tests
{
    /// <summary>
    /// IPC sessions from C#: C# as peer A with the C peer (examples/c/ipc_peer.c) and with a C# peer B
    /// (SessionPeer.exe under mono); errors; disposal.
    /// </summary>
    [TestFixture]
    public class SessionTests
    {
        private static byte[] Bytes(string text)
        {
            return Encoding.UTF8.GetBytes(text);
        }

        private static string Text(byte[] bytes)
        {
            return Encoding.UTF8.GetString(bytes);
        }

        private static byte[] Greet(string method, byte[] payload)
        {
            Assert.AreEqual("greet", method);
            return Bytes("hello " + Text(payload));
        }

        [Test]
        public void CSharpHostCallsTheCPeer()
        {
            var events = new System.Collections.Concurrent.ConcurrentQueue<string>();
            int pid;
            using (Session session = Session.Create("{\"HeartbeatIntervalMs\": 50}"))
            {
                session.Register("host", Greet);
                session.OnEvent((topic, payload) => events.Enqueue(topic + "=" + Text(payload)));
                pid = session.Spawn(Fixtures.IpcPeer);
                Assert.That(pid, Is.GreaterThan(0));
                Assert.AreEqual(pid, session.PeerProcessId);
                Assert.AreEqual("ping", Text(session.Call("peer", "echo", Bytes("ping"))));
                Assert.AreEqual("SHOUT", Text(session.Call("peer", "upper", Bytes("shout"))));
                Assert.AreEqual("peer heard: hello C#", Text(session.Call("peer", "ask-host", Bytes("C#"))));
                Assert.AreEqual("two", Text(session.Call("peer", "channel", null, 2)));
                var failed = Assert.Throws<IpcRemoteFailedException>(() => session.Call("peer", "fail", Bytes("x")));
                StringAssert.Contains("INVALID_ARGUMENT (2): refused: x", failed.Message);
                StringAssert.Contains("on channel 3", Assert.Throws<ServiceNotFoundException>(() => session.Call("peer", "echo", null, 3)).Message);
                StringAssert.Contains("control channel", Assert.Throws<PlugHostArgumentException>(() => session.Call("peer", "echo", null, 0)).Message);
                session.Call("peer", "publish", Bytes("news"));
                CollectionAssert.AreEqual(new[] { "from-peer=news" }, events.ToArray());
                session.Publish("a", Bytes("1"));
                session.Publish("b", null, 2);
                Assert.AreEqual("2", Text(session.Call("peer", "events")));
                JsonValue stats = JsonValue.Parse(session.StatsJson());
                Assert.IsTrue(stats["open"].AsBoolean);
                Assert.AreEqual("a", stats["side"].AsString);
                Assert.AreEqual((ulong)pid, stats["peer_pid"].AsUInt64);
                Assert.AreEqual(1UL, stats["stats"]["requests_served"].AsUInt64);
                JsonValue registry = JsonValue.Parse(session.PeerRegistryJson());
                Assert.AreEqual(2, registry["services"].Items.Count);
                session.Check();
                Assert.Throws<PlugHostArgumentException>(() => session.Spawn(Fixtures.IpcPeer));
            }
            Assert.IsFalse(Directory.Exists("/proc/" + pid), "the peer was reaped");
        }

        [Test]
        public void CSharpHostCallsACSharpPeer()
        {
            using (Session session = Session.Create())
            {
                session.Register("host", Greet);
                session.Spawn("mono", Path.Combine(Fixtures.BinDirectory, "SessionPeer.exe"));
                Assert.AreEqual("abc", Text(session.Call("cs", "echo", Bytes("abc"), timeoutMs: 60000)));
                Assert.AreEqual("cba", Text(session.Call("cs", "reverse", Bytes("abc"))));
                Assert.AreEqual("c# heard: hello there", Text(session.Call("cs", "ask-host", Bytes("there"))));
                StringAssert.Contains("InvalidOperationException: c# says no", Assert.Throws<IpcRemoteFailedException>(() => session.Call("cs", "throw")).Message);
                StringAssert.Contains("MODULE_UNKNOWN_COMMAND", Assert.Throws<IpcRemoteFailedException>(() => session.Call("cs", "nope")).Message);
            }
        }

        [Test]
        public void ACrashingPeerFailsTheCallAtOnce()
        {
            using (Session session = Session.Create())
            {
                session.Spawn(Fixtures.IpcPeer);
                Assert.Throws<IpcPeerDeadException>(() => session.Call("peer", "abort"));
                Assert.Throws<IpcPeerDeadException>(() => session.Check());
                Assert.IsFalse(JsonValue.Parse(session.StatsJson())["open"].AsBoolean);
            }
        }

        [Test]
        public void ManyThreadsCallAtOnce()
        {
            using (Session session = Session.Create())
            {
                session.Spawn(Fixtures.IpcPeer);
                int wrong = 0;
                Thread[] threads = Enumerable.Range(0, 4).Select(n => new Thread(() =>
                {
                    for (int i = 0; i < 100; i++)
                    {
                        string text = n + "-" + i;
                        if (Text(session.Call("peer", "echo", Bytes(text))) != text)
                        {
                            Interlocked.Increment(ref wrong);
                        }
                    }
                })).ToArray();
                foreach (Thread t in threads)
                {
                    t.Start();
                }
                foreach (Thread t in threads)
                {
                    t.Join();
                }
                Assert.AreEqual(0, wrong);
                Assert.AreEqual(400UL, JsonValue.Parse(session.StatsJson())["stats"]["calls"].AsUInt64);
            }
        }

        [Test]
        public void ErrorsWithoutAPeer()
        {
            StringAssert.Contains("power of two", Assert.Throws<ConfigurationException>(() => Session.Create("{\"RingCapacity\": 1000}")).Message);
            StringAssert.Contains("did you mean \"SpinCount\"", Assert.Throws<ConfigurationException>(() => Session.Create("{\"SpinCont\": 1}")).Message);
            StringAssert.Contains("PLUGHOST_IPC_SEGMENT", Assert.Throws<IpcSetupException>(() => Session.Attach()).Message);
            Session session = Session.Create("{\"RingCapacity\": 65536, \"SlotClasses\": [{\"Size\": 4096, \"Count\": 2}]}");
            Assert.Throws<IpcTooLargeException>(() => session.Publish("t", new byte[8192]));
            Assert.Throws<IpcTimeoutException>(() => session.Call("s", "m", null, Session.DataChannel, 50));
            StringAssert.Contains("spawning", Assert.Throws<IpcSetupException>(() => session.Spawn("/no/such/peer")).Message);
            Assert.Throws<ArgumentOutOfRangeException>(() => session.Call("s", "m", null, 1, -1));
            Assert.Throws<ArgumentNullException>(() => session.Register("s", null));
            Assert.Throws<ServiceNotFoundException>(() => session.Unregister("never"));
            session.Serve(10);
            session.ServeInBackground();
            long released = Callbacks.Released;
            session.Register("s", (m, p) => p);
            session.OnEvent((t, p) => { });
            session.Dispose();
            Assert.AreEqual(released + 2, Callbacks.Released, "disposing released both handlers");
            session.Dispose();
            Assert.Throws<ObjectDisposedException>(() => session.Call("s", "m"));
        }
    }
}
