using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;
using PlugHost;

namespace PlugHost.Tests
{
    [TestFixture]
    public class CallbackTests
    {
        private Sandbox sandbox;

        [SetUp]
        public void SetUp()
        {
            sandbox = new Sandbox();
        }

        [TearDown]
        public void TearDown()
        {
            sandbox.Dispose();
        }

        private sealed class RecordingSink : ILogSink
        {
            public readonly List<Tuple<LogLevel, string, string, int>> Lines = new List<Tuple<LogLevel, string, string, int>>();

            public void Write(LogLevel level, string target, string message)
            {
                lock (Lines)
                {
                    Lines.Add(Tuple.Create(level, target, message, Thread.CurrentThread.ManagedThreadId));
                }
            }

            public bool Any(Func<Tuple<LogLevel, string, string, int>, bool> match)
            {
                lock (Lines)
                {
                    return Lines.Any(match);
                }
            }
        }

        [Test]
        public void LogSinkAndEventReceiveLinesFromOtherThreadsAndLevelChanges()
        {
            using (var host = new Host(sandbox.Config()))
            {
                var sink = new RecordingSink();
                host.LogSink = sink;
                Assert.AreSame(sink, host.LogSink);
                var evented = new List<string>();
                Action<LogLevel, string, string> handler = (level, target, message) => { lock (evented) { evented.Add(target + ": " + message); } };
                host.Log += handler;
                host.Log += (level, target, message) => { throw new InvalidOperationException("a throwing handler is isolated"); };

                string path = sandbox.Install(Fixtures.Counter, "counter");
                Module module = null;
                int worker = 0;
                var t = new Thread(() =>
                {
                    worker = Thread.CurrentThread.ManagedThreadId;
                    module = host.LoadModule(path);
                });
                t.Start();
                t.Join();
                Assert.IsTrue(sink.Any(l => l.Item1 == LogLevel.Info && l.Item2 == "counter" && l.Item3.Contains("initialised") && l.Item4 == worker), "module log on the loading thread");
                Assert.IsTrue(sink.Any(l => l.Item2.StartsWith("plughost") && l.Item3.Contains("module loaded")));
                lock (evented)
                {
                    Assert.IsTrue(evented.Any(l => l.StartsWith("counter: counter 1.0.0 initialised")));
                }

                host.SetLogLevel(LogLevel.Error);
                lock (sink.Lines)
                {
                    sink.Lines.Clear();
                }
                module.ExecuteString("increment", "");
                module.Reload();
                Assert.IsFalse(sink.Any(l => l.Item1 > LogLevel.Error), "only errors pass");
                host.SetLogLevel(LogLevel.Info);
                module.Reload();
                Assert.IsTrue(sink.Any(l => l.Item3.Contains("took over value 1")));

                host.Log -= handler;
                int before;
                lock (evented)
                {
                    before = evented.Count;
                }
                module.Reload();
                lock (evented)
                {
                    Assert.AreEqual(before, evented.Count, "a removed handler gets nothing");
                }
            }
        }

        [Test]
        public void ServiceCalledFromAModuleOnAWorkerThreadRunsThere()
        {
            using (var host = new Host(sandbox.Config()))
            {
                int serviceThread = 0;
                host.RegisterService("app.where", input =>
                {
                    serviceThread = Thread.CurrentThread.ManagedThreadId;
                    return Encoding.UTF8.GetBytes("called with " + Encoding.UTF8.GetString(input));
                });
                Module module = host.LoadModule(sandbox.Install(Fixtures.Counter, "counter"));
                int worker = 0;
                string result = Task.Run(() =>
                {
                    worker = Thread.CurrentThread.ManagedThreadId;
                    return module.ExecuteString("call", "app.where");
                }).Result;
                Assert.AreEqual("called with from counter", result);
                Assert.AreEqual(worker, serviceThread);
                Assert.AreNotEqual(Thread.CurrentThread.ManagedThreadId, serviceThread);
            }
        }

        [Test]
        public void MainThreadServiceFromAWorkerIsCompletedByThePump()
        {
            using (var host = new Host(sandbox.Config()))
            {
                int main = Thread.CurrentThread.ManagedThreadId;
                int ranOn = 0;
                host.RegisterService("ui.ask", input =>
                {
                    ranOn = Thread.CurrentThread.ManagedThreadId;
                    return Encoding.UTF8.GetBytes(ranOn == main ? "main" : "other");
                }, true);
                Module module = host.LoadModule(sandbox.Install(Fixtures.Counter, "counter"));
                Assert.AreEqual("main", module.ExecuteString("call", "ui.ask"), "inline on the main thread");

                int requests = 0;
                int requestThread = 0;
                var requested = new ManualResetEventSlim();
                host.PumpRequested += () =>
                {
                    requestThread = Thread.CurrentThread.ManagedThreadId;
                    Interlocked.Increment(ref requests);
                    requested.Set();
                };
                Task<string> call = Task.Run(() => module.ExecuteString("call", "ui.ask"));
                Assert.IsTrue(requested.Wait(10000), "PumpRequested raised");
                Assert.AreNotEqual(main, requestThread, "raised on the queuing thread");
                int ran = 0;
                Wait.Until(() => (ran += host.Pump()) > 0, "a pumped call");
                Assert.AreEqual("main", call.Result);
                Assert.AreEqual(main, ranOn);
                Assert.AreEqual(1, requests);
            }
        }

        [Test]
        public void SetMainThreadMovesTheMainThread()
        {
            using (var host = new Host(sandbox.Config()))
            {
                host.RegisterService("ui.ask", b => Encoding.UTF8.GetBytes(Thread.CurrentThread.ManagedThreadId.ToString()), true);
                int uiThread = 0;
                string inline = null;
                var ui = new Thread(() =>
                {
                    uiThread = Thread.CurrentThread.ManagedThreadId;
                    host.SetMainThread();
                    inline = Encoding.UTF8.GetString(host.CallService("ui.ask", null));
                    Assert.AreEqual(0, host.Pump(5));
                });
                ui.Start();
                ui.Join();
                Assert.AreEqual(uiThread.ToString(), inline);
                Assert.Throws<WrongThreadException>(() => host.Pump(), "this thread is no longer main");
            }
        }

        [Test]
        public void SubscriptionsReleaseTheirStateAndEndOnDispose()
        {
            using (var host = new Host(sandbox.Config()))
            {
                int count = 0;
                long released = Callbacks.Released;
                EventSubscription all = host.Subscribe("*", e => Interlocked.Increment(ref count));
                Assert.AreEqual("*", all.Topic);
                host.Publish("a", null);
                host.Publish("b", Encoding.UTF8.GetBytes("x"));
                Assert.AreEqual(2, count);
                all.Dispose();
                all.Dispose();
                Assert.AreEqual(released + 1, Callbacks.Released, "the destroy callback freed the handler");
                host.Publish("c", null);
                Assert.AreEqual(2, count);
                host.Subscribe("boom", e => { throw new Exception("isolated"); });
                host.Publish("boom", null);
            }
        }
    }

    [TestFixture]
    public class LifetimeTests
    {
        [Test]
        public void DisposeTwiceIsSafeAndADisposedHostThrowsObjectDisposed()
        {
            var host = new Host("");
            host.StorageSet("k", new byte[] { 1 });
            host.Dispose();
            host.Dispose();
            Assert.IsTrue(host.IsDisposed);
            Assert.IsTrue(host.Handle.IsClosed);
            Assert.Throws<ObjectDisposedException>(() => host.StorageGet("k"));
            Assert.Throws<ObjectDisposedException>(() => host.Health());
            Assert.Throws<ObjectDisposedException>(() => host.LoadModule("/x.so"));
            Assert.Throws<ObjectDisposedException>(() => host.RegisterService("s", b => b));
            Assert.Throws<ObjectDisposedException>(() => host.Pump());
            Assert.Throws<ObjectDisposedException>(() => { host.PumpRequested += () => { }; });
        }

        [Test]
        public void DisposeReleasesEveryCallbackAndUnloadsModules()
        {
            using (var sandbox = new Sandbox())
            {
                long released = Callbacks.Released;
                var host = new Host(sandbox.Config());
                host.RegisterService("one", b => b);
                host.RegisterService("two", b => b, true);
                host.Subscribe("t", e => { });
                host.Log += (l, t, m) => { };
                host.PumpRequested += () => { };
                Module module = host.LoadModule(sandbox.Install(Fixtures.Counter, "counter"));
                Assert.AreEqual(1, sandbox.ShadowFolders);
                host.Dispose();
                Assert.AreEqual(released + 5, Callbacks.Released);
                Assert.AreEqual(0, sandbox.ShadowFolders);
                Assert.Throws<ObjectDisposedException>(() => module.Execute("get", null));
                module.Dispose();
            }
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void AbandonHost(Sandbox sandbox)
        {
            // On its own thread, so no stack slot of the test thread still points at the host.
            var t = new Thread(() =>
            {
                var host = new Host(sandbox.Config());
                host.RegisterService("abandoned", b => b);
                host.LoadModule(sandbox.Install(Fixtures.Counter, "counter")).ExecuteString("increment", "");
            });
            t.Start();
            t.Join();
        }

        [Test]
        public void AnAbandonedHostIsFreedByTheFinalizer()
        {
            using (var sandbox = new Sandbox())
            {
                long released = Callbacks.Released;
                AbandonHost(sandbox);
                Assert.AreEqual(1, sandbox.ShadowFolders);
                for (int i = 0; i < 50 && (Callbacks.Released == released || sandbox.ShadowFolders != 0); i++)
                {
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    Thread.Sleep(10);
                }
                Assert.AreEqual(released + 1, Callbacks.Released, "the service's destroy callback ran");
                Assert.AreEqual(0, sandbox.ShadowFolders, "the module was unloaded");
            }
        }

        [Test]
        public void CallsOnOtherThreadsDuringDisposeFailCleanly()
        {
            using (var sandbox = new Sandbox())
            {
                var host = new Host(sandbox.Config());
                Module module = host.LoadModule(sandbox.Install(Fixtures.Counter, "counter"));
                int ok = 0;
                var unexpected = new List<Exception>();
                var threads = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
                {
                    while (true)
                    {
                        try
                        {
                            module.Execute("increment", null);
                            Interlocked.Increment(ref ok);
                        }
                        catch (ObjectDisposedException)
                        {
                            return;
                        }
                        catch (InvalidHandleException)
                        {
                            return;
                        }
                        catch (Exception e)
                        {
                            lock (unexpected)
                            {
                                unexpected.Add(e);
                            }
                            return;
                        }
                    }
                })).ToList();
                threads.ForEach(t => t.Start());
                Wait.Until(() => Volatile.Read(ref ok) > 100, "calls");
                host.Dispose();
                threads.ForEach(t => Assert.IsTrue(t.Join(10000)));
                Assert.AreEqual(0, unexpected.Count, unexpected.Count == 0 ? "" : unexpected[0].ToString());
                Assert.AreEqual(0, sandbox.ShadowFolders);
            }
        }
    }
}
