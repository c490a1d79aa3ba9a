using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;
using PlugHost;

namespace PlugHost.Tests
{
    [TestFixture]
    public class ModuleTests
    {
        private Sandbox sandbox;
        private Host host;

        [SetUp]
        public void SetUp()
        {
            sandbox = new Sandbox();
            host = new Host(sandbox.Config());
        }

        [TearDown]
        public void TearDown()
        {
            host.Dispose();
            sandbox.Dispose();
        }

        [Test]
        public void LoadExecuteUnload()
        {
            Module module = host.LoadModule(sandbox.Install(Fixtures.Counter, "counter"));
            Assert.AreNotEqual(0UL, module.Id);
            Assert.AreEqual(1UL, module.Generation);
            Assert.AreEqual("1", module.ExecuteString("increment", ""));
            Assert.AreEqual("6", module.ExecuteString("increment", "5"));
            Assert.AreEqual(Encoding.UTF8.GetBytes("6"), module.Execute("get", null));
            Assert.AreEqual("1.0.0", module.ExecuteString("version", null));
            Assert.AreEqual(new byte[0], module.Execute("noop", new byte[0]));
            var binary = new byte[] { 0, 1, 2, 255, 254, 0 };
            Assert.AreEqual(binary, module.Execute("echo", binary));
            Assert.AreEqual(1, sandbox.ShadowFolders);
            module.Unload();
            Assert.AreEqual(0, sandbox.ShadowFolders);
        }

        [Test]
        public void Utf8RoundTripOfNonAsciiText()
        {
            Module module = host.LoadModule(sandbox.Install(Fixtures.Counter, "counter"));
            string text = "Grüße, Željko! 日本語 Ελληνικά — 𝄞 🚀";
            Assert.AreEqual(text, module.ExecuteString("echo", text));
            Assert.AreEqual(Encoding.UTF8.GetBytes(text), module.Execute("echo", Encoding.UTF8.GetBytes(text)));
            host.StorageSet("ключ-🔑", Encoding.UTF8.GetBytes(text));
            Assert.AreEqual(text, Encoding.UTF8.GetString(host.StorageGet("ключ-🔑")));
            // A non-ASCII module path and a non-ASCII error message.
            Module second = host.LoadModule(sandbox.Install(Fixtures.Counter, "zähler"));
            Assert.AreEqual("1", second.ExecuteString("increment", ""));
            var e = Assert.Throws<ModuleFailedException>(() => second.ExecuteString("increment", "zwölf"));
            StringAssert.Contains("not a number: zwölf", e.Message);
        }

        [Test]
        public void ReloadHandsStateOverAndSwapsVersion()
        {
            string path = sandbox.Install(Fixtures.Counter, "counter");
            Module module = host.LoadModule(path);
            module.ExecuteString("increment", "7");
            Sandbox.Replace(Fixtures.CounterV2, path);
            Assert.AreEqual(2UL, module.Reload());
            Assert.AreEqual(2UL, module.Generation);
            Assert.AreEqual("2.0.0", module.ExecuteString("version", ""));
            Assert.AreEqual("7", module.ExecuteString("get", ""));
            Assert.AreEqual("9", module.ExecuteString("increment", "1"), "v2 adds twice the amount");
            string other = sandbox.Install(Fixtures.Counter, "counter_other");
            Assert.AreEqual(3UL, module.Reload(other));
            Assert.AreEqual(other, module.Path);
            Assert.AreEqual("1.0.0", module.ExecuteString("version", ""));
            Assert.AreEqual("9", module.ExecuteString("get", ""));
            ModuleHealth health = host.Health().Module("counter");
            Assert.AreEqual(3UL, health.Generation);
            Assert.AreEqual(2UL, health.Reloads);
        }

        [Test]
        public void HealthCheckRetriesAFailedReloadAndKeepsAHistory()
        {
            Module module = host.LoadModule(sandbox.Install(Fixtures.Counter, "counter"));
            Assert.IsNull(host.Health().LastCheck);
            Assert.IsNull(host.Health().Profile);
            Assert.AreEqual(0, host.HealthHistory().Count);
            string broken = sandbox.Install(Fixtures.CounterBroken, "broken");
            Assert.Throws<ModuleInitException>(() => module.Reload(broken));

            HealthCheck check = host.CheckHealth();
            Assert.AreEqual(1UL, check.Run);
            Assert.AreEqual("request", check.Trigger);
            Assert.AreEqual(HealthStatus.Degraded, check.Status);
            ProbeHealth modules = check.Probe("modules");
            Assert.AreEqual(HealthStatus.Degraded, modules.Status);
            StringAssert.Contains("init refuses", modules.Detail);
            Assert.AreEqual("counter#" + module.Id, modules.FaultTargets.Single());
            RecoveryAttempt attempt = check.Recoveries.Single();
            Assert.AreEqual("retry reload", attempt.Action);
            Assert.AreEqual(1UL, attempt.Attempt);
            Assert.AreEqual(3UL, attempt.MaxAttempts);
            Assert.AreEqual("failed", attempt.Outcome);

            // A good build where the reload looked: the next retry loads it.
            Sandbox.Replace(Fixtures.CounterV2, broken);
            attempt = host.CheckHealth().Recoveries.Single();
            Assert.AreEqual(2UL, attempt.Attempt);
            Assert.AreEqual("succeeded", attempt.Outcome);
            Assert.AreEqual("2.0.0", module.ExecuteString("version", ""));

            Assert.AreEqual(HealthStatus.Healthy, host.CheckHealth().Status);
            CollectionAssert.AreEqual(new[] { 1UL, 2UL, 3UL }, host.HealthHistory().Select(c => c.Run).ToArray());
            Assert.AreEqual(3UL, host.Health().LastCheck.Run);
            using (var production = new Host(sandbox.Config("", "\"Profile\": \"production\"")))
            {
                Assert.AreEqual("production", production.Health().Profile);
            }
        }

        [Test]
        public void FailedReloadRollsBack()
        {
            Module module = host.LoadModule(sandbox.Install(Fixtures.Counter, "counter"));
            module.ExecuteString("increment", "3");
            var e = Assert.Throws<ModuleInitException>(() => module.Reload(sandbox.Install(Fixtures.CounterBroken, "broken")));
            StringAssert.Contains("init refuses", e.Message);
            Assert.IsInstanceOf<ModuleLoadException>(e);
            Assert.AreEqual("3", module.ExecuteString("get", ""), "generation 1 keeps serving");
            Assert.AreEqual(1UL, module.Generation);
            Assert.AreEqual(1UL, host.Health().Modules[0].ReloadFailures);
        }

        [Test]
        public void ExecuteAsyncRunsOnThePoolAndCancellationStopsOnlyTheWait()
        {
            Module module = host.LoadModule(sandbox.Install(Fixtures.Counter, "counter"));
            Task<byte[]> task = module.ExecuteAsync("increment", Encoding.UTF8.GetBytes("4"), CancellationToken.None);
            Assert.AreEqual("4", Encoding.UTF8.GetString(task.Result));

            var failing = module.ExecuteAsync("fail", null);
            var aggregate = Assert.Throws<AggregateException>(() => failing.Wait());
            Assert.IsInstanceOf<ModuleFailedException>(aggregate.InnerException);

            using (var cancel = new CancellationTokenSource())
            {
                var slow = module.ExecuteAsync("sleep", Encoding.UTF8.GetBytes("1000"), cancel.Token);
                Wait.Until(() => host.Health().Modules[0].InFlight == 1, "the sleep to start");
                var watch = System.Diagnostics.Stopwatch.StartNew();
                cancel.Cancel();
                var canceled = Assert.Throws<AggregateException>(() => slow.Wait());
                Assert.IsInstanceOf<TaskCanceledException>(canceled.InnerException);
                Assert.Less(watch.ElapsedMilliseconds, 800, "the wait stops at once");
                Assert.AreEqual(1UL, host.Health().Modules[0].InFlight, "the native call still runs");
                Wait.Until(() => host.Health().Modules[0].InFlight == 0, "the native call to finish");
            }
            using (var cancelled = new CancellationTokenSource())
            {
                cancelled.Cancel();
                Assert.IsTrue(module.ExecuteAsync("noop", null, cancelled.Token).IsCanceled);
            }
        }

        [Test]
        public void ReloadWhileFourThreadsExecuteHasNoFailures()
        {
            string path = sandbox.Install(Fixtures.Counter, "counter");
            Module module = host.LoadModule(path);
            int failures = 0;
            long calls = 0;
            var errors = new List<Exception>();
            bool stop = false;
            var workers = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
            {
                while (!Volatile.Read(ref stop))
                {
                    try
                    {
                        module.ExecuteString("increment", "1");
                        Interlocked.Increment(ref calls);
                    }
                    catch (Exception e)
                    {
                        Interlocked.Increment(ref failures);
                        lock (errors)
                        {
                            errors.Add(e);
                        }
                    }
                }
            })).ToList();
            workers.ForEach(t => t.Start());
            Wait.Until(() => Interlocked.Read(ref calls) > 100, "calls to start");
            ulong generation = 1;
            for (int i = 0; i < 10; i++)
            {
                Sandbox.Replace(i % 2 == 0 ? Fixtures.CounterV2 : Fixtures.Counter, path);
                generation = module.Reload();
                long before = Interlocked.Read(ref calls);
                Wait.Until(() => Interlocked.Read(ref calls) > before + 20, "calls after a reload");
            }
            Volatile.Write(ref stop, true);
            workers.ForEach(t => t.Join());
            Assert.AreEqual(0, failures, failures == 0 ? "" : errors[0].ToString());
            Assert.AreEqual(11UL, generation);
            Assert.Greater(Interlocked.Read(ref calls), 300);
            Assert.AreEqual(1, sandbox.ShadowFolders, "old generations are gone");
        }

        [Test]
        public void ModuleReachesStorageEventsAndServices()
        {
            Module module = host.LoadModule(sandbox.Install(Fixtures.Counter, "counter"));
            module.ExecuteString("store", "remember me");
            Assert.AreEqual("remember me", Encoding.UTF8.GetString(host.StorageGet("counter.last")));

            var seen = new List<PlugHostEvent>();
            using (host.Subscribe("counter.changed", e => { lock (seen) { seen.Add(e); } }))
            {
                module.ExecuteString("publish", "42");
                host.Publish("counter.changed", Encoding.UTF8.GetBytes("from host"));
            }
            module.ExecuteString("publish", "after unsubscribe");
            Assert.AreEqual(2, seen.Count);
            Assert.AreEqual("counter.changed", seen[0].Topic);
            Assert.AreEqual("counter", seen[0].Source);
            Assert.AreEqual("42", seen[0].PayloadText);
            Assert.AreEqual("host", seen[1].Source);
            Assert.AreEqual("from host", seen[1].PayloadText);
            Assert.Greater(seen[1].Sequence, seen[0].Sequence);

            host.RegisterService("app.answer", input => Encoding.UTF8.GetBytes("answer to " + Encoding.UTF8.GetString(input)));
            Assert.AreEqual("answer to from counter", module.ExecuteString("call", "app.answer"));
            Assert.AreEqual("answer to me", Encoding.UTF8.GetString(host.CallService("app.answer", Encoding.UTF8.GetBytes("me"))));
            host.UnregisterService("app.answer");
            Assert.Throws<ServiceNotFoundException>(() => host.CallService("app.answer", null));
        }

        [Test]
        public void WatchingReloadsARebuiltModule()
        {
            using (var watched = new Host(sandbox.Config("\"Watch\": {\"DebounceMs\": 50}")))
            {
                Assert.IsFalse(watched.Watching);
                string path = sandbox.Install(Fixtures.Counter, "counter");
                Module module = watched.LoadModule(path);
                var topics = new List<string>();
                string reloaded = null;
                using (var done = new ManualResetEventSlim(false))
                using (watched.Subscribe("*", e =>
                {
                    lock (topics) { topics.Add(e.Topic); }
                    if (e.Topic == "plughost.module.reloaded")
                    {
                        reloaded = e.PayloadText;
                        done.Set();
                    }
                }))
                {
                    watched.Watching = true;
                    Assert.IsTrue(watched.Watching);
                    Sandbox.Replace(Fixtures.CounterV2, path);
                    Assert.IsTrue(done.Wait(TimeSpan.FromSeconds(20)), "reloaded: " + string.Join(", ", topics));
                }
                StringAssert.Contains("\"generation\":2", reloaded);
                CollectionAssert.AreEqual(new[] { "plughost.module.reloading", "plughost.module.reloaded" }, topics.Where(t => t.StartsWith("plughost.module.")).ToArray());
                Assert.AreEqual("2.0.0", module.ExecuteString("version", ""));
                watched.Watching = false;
                Assert.IsFalse(watched.Watching);
            }
        }

        [Test]
        public void HealthIsParsed()
        {
            Module module = host.LoadModule(sandbox.Install(Fixtures.Counter, "counter"));
            for (int i = 0; i < 10; i++)
            {
                module.Execute("noop", null);
            }
            Assert.Throws<ModuleFailedException>(() => module.Execute("fail", null));
            host.RegisterService("svc", b => b, true);
            host.StorageSet("k", new byte[] { 1, 2, 3 });
            HealthReport health = host.Health();
            Assert.AreEqual(HealthStatus.Healthy, health.Status);
            Assert.AreEqual(0, health.Reasons.Count);
            Assert.AreEqual(PlugHostLibrary.Version, health.Version);
            Assert.AreEqual(PlugHostLibrary.ExpectedAbiVersion, health.AbiVersion);
            CollectionAssert.AreEqual(new[] { "logging", "storage", "events", "services", "ipc", "modules", "plugins", "python", "extensions", "watch", "health_monitor" }, health.Components);
            Assert.Greater(health.Process.RssBytes.Value, 0UL);
            Assert.GreaterOrEqual(health.Process.Threads.Value, 1UL);
            ModuleHealth m = health.Modules.Single();
            Assert.AreEqual(module.Id, m.Id);
            Assert.AreEqual("counter", m.Name);
            Assert.AreEqual("1.0.0", m.Version);
            Assert.AreEqual("serving", m.State);
            Assert.AreEqual(1UL, m.ExecuteFailures);
            Assert.IsTrue(m.LastLoadMs.HasValue);
            Assert.AreEqual(10UL, m.Command("noop").Calls);
            Assert.LessOrEqual(m.Command("noop").P50Microseconds.Value, m.Command("noop").P99Microseconds.Value);
            Assert.AreEqual(1UL, m.Command("fail").Failures);
            Assert.AreEqual("svc", health.Services.Single().Name);
            Assert.IsTrue(health.Services.Single().MainThread);
            Assert.AreEqual(1UL, health.StorageKeys);
            Assert.IsTrue(health.TrustedRootsRestricted);
            Assert.AreEqual(1, health.TrustedRoots.Count);
            Assert.AreEqual(0, health.RetainedGenerations.Count);
            StringAssert.StartsWith("{", health.RawJson);
            Assert.AreEqual("healthy", health.Json["status"].AsString);
        }
    }
}
