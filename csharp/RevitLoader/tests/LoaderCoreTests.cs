using System;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;
using PlugHost;
using PlugHost.RevitLoader;
using PlugHost.Tests;

namespace PlugHost.RevitLoader.Tests
{
    /// <summary>Stands in for the shell's ExternalEvent: counts requests and signals them.</summary>
    public sealed class RecordingScheduler : IPumpScheduler
    {
        public int Requests;
        public readonly AutoResetEvent Requested = new AutoResetEvent(false);

        public void Request()
        {
            Interlocked.Increment(ref Requests);
            Requested.Set();
        }
    }

    [TestFixture]
    public class LoaderSettingsTests
    {
        [Test]
        public void ReadsTheLoaderSectionAndPassesThePlugHostSectionOn()
        {
            string json = "{\"RevitLoader\": {\"ModulePath\": \"modules/m.so\", \"Command\": \"get\", \"Input\": \"ü\"},"
                + " \"PlugHost\": {\"Modules\": {\"MaxModules\": 3}}}";
            LoaderSettings s = LoaderSettings.FromJson(json, "/opt/addin");
            Assert.AreEqual("/opt/addin/modules/m.so", s.ModulePath);
            Assert.AreEqual("get", s.Command);
            Assert.AreEqual("ü", s.Input);
            Assert.AreEqual("{\"PlugHost\": {\"Modules\": {\"MaxModules\": 3}}}", s.HostConfigJson);
            LoaderSettings defaults = LoaderSettings.FromJson("{}", null);
            Assert.IsNull(defaults.ModulePath);
            Assert.AreEqual("run", defaults.Command);
            Assert.AreEqual("", defaults.HostConfigJson);
            Assert.AreEqual("/abs/m.so", LoaderSettings.FromJson("{\"RevitLoader\": {\"ModulePath\": \"/abs/m.so\"}}", "/x").ModulePath);
            Assert.Throws<FormatException>(() => LoaderSettings.FromJson("{\"RevitLoader\": {\"ModulePath\": 3}}", null));
            Assert.Throws<FormatException>(() => LoaderSettings.FromJson("[", null));
            LoaderSettings missing = LoaderSettings.FromFile("/nonexistent/PlugHost.RevitLoader.json");
            Assert.IsNull(missing.ModulePath);
            Assert.AreEqual("/nonexistent/PlugHost.RevitLoader.json", missing.Source);
        }

        [Test]
        public void TheSampleSettingsFileParses()
        {
            string sample = Path.Combine(Fixtures.Repo, "csharp", "RevitLoader", LoaderSettings.FileName);
            LoaderSettings s = LoaderSettings.FromFile(sample);
            StringAssert.EndsWith("my_module.dll", s.ModulePath);
            StringAssert.Contains("TrustedRoots", s.HostConfigJson);
        }
    }

    [TestFixture]
    public class LoaderCoreTests
    {
        private Sandbox sandbox;
        private RecordingScheduler scheduler;

        [SetUp]
        public void SetUp()
        {
            sandbox = new Sandbox();
            scheduler = new RecordingScheduler();
        }

        [TearDown]
        public void TearDown()
        {
            sandbox.Dispose();
        }

        private LoaderCore Core(string modulePath, string extraModules = "")
        {
            var settings = new LoaderSettings { ModulePath = modulePath, Command = "increment", Input = "2", HostConfigJson = sandbox.Config(extraModules) };
            return new LoaderCore(settings, scheduler);
        }

        [Test]
        public void LoadExecuteReloadUnloadWithMessagesAndStatus()
        {
            string path = sandbox.Install(Fixtures.Counter, "counter");
            using (LoaderCore core = Core(path))
            {
                StringAssert.StartsWith("No module loaded", core.StatusText);
                LoaderResult load = core.Load();
                Assert.IsTrue(load.Success, load.Message);
                Assert.AreEqual("Loaded counter 1.0.0.", load.Message);
                Assert.AreEqual("counter 1.0.0, generation 1, healthy", core.StatusText);
                Assert.IsFalse(core.Load().Success, "a second load is refused");
                StringAssert.Contains("Use Reload", core.Load().Message);

                LoaderResult run = core.Execute();
                Assert.IsTrue(run.Success);
                Assert.AreEqual("2", run.Output);
                Assert.AreEqual("\"increment\" returned: 2", run.Message);
                Assert.AreEqual("2", core.Execute("get", "").Output);

                Sandbox.Replace(Fixtures.CounterV2, path);
                LoaderResult reload = core.Reload();
                Assert.IsTrue(reload.Success, reload.Message);
                Assert.AreEqual("Reloaded: counter 2.0.0 now serves as generation 2.", reload.Message);
                Assert.AreEqual("counter 2.0.0, generation 2, healthy", core.StatusText);
                Assert.AreEqual("2", core.Execute("get", "").Output, "state handed over");

                LoaderResult unload = core.Unload();
                Assert.IsTrue(unload.Success, unload.Message);
                Assert.IsNull(core.Module);
                Assert.IsFalse(core.Unload().Success);
                StringAssert.StartsWith("No module loaded", core.StatusText);

                LoaderResult autoLoaded = core.Execute("version", "");
                Assert.IsTrue(autoLoaded.Success, "Execute loads the module first");
                Assert.AreEqual("2.0.0", autoLoaded.Output);
            }
        }

        [Test]
        public void FailuresGiveMessagesForTheUser()
        {
            using (LoaderCore core = Core(Path.Combine(sandbox.Root, "missing", "libmissing.so")))
            {
                LoaderResult notFound = core.Load();
                Assert.IsFalse(notFound.Success);
                StringAssert.Contains("The module file does not exist", notFound.Message);
                Assert.IsInstanceOf<ModuleNotFoundException>(notFound.Error);
                Assert.IsFalse(core.Execute().Success, "Execute reports the failed load");
            }
            string outside = Path.Combine(sandbox.Outside, "libcounter.so");
            File.Copy(Fixtures.Counter, outside);
            using (LoaderCore core = Core(outside))
            {
                StringAssert.Contains("TrustedRoots", core.Load().Message);
            }
            using (LoaderCore core = Core(sandbox.Install(Fixtures.InitFails, "init_fails")))
            {
                LoaderResult init = core.Load();
                StringAssert.Contains("The module refused to start", init.Message);
                StringAssert.Contains("cannot reach the licence server", init.Message);
            }
            using (LoaderCore core = Core(sandbox.Install(Fixtures.Counter, "counter")))
            {
                LoaderResult unknown = core.Execute("bogus", "");
                Assert.IsFalse(unknown.Success);
                StringAssert.StartsWith("Command \"bogus\": The module has no such command.", unknown.Message);
                StringAssert.Contains("failure requested by the caller", core.Execute("fail", "").Message);
                StringAssert.Contains("crashed (panic)", core.Execute("panic", "").Message);
                var broken = core.Host.LoadModule(sandbox.Install(Fixtures.Counter, "other"));
                broken.Dispose();
            }
            using (LoaderCore core = new LoaderCore(new LoaderSettings(), scheduler))
            {
                StringAssert.StartsWith("No module is configured", core.Load().Message);
            }
            Assert.Throws<ConfigurationException>(() => new LoaderCore(new LoaderSettings { HostConfigJson = "{\"PlugHost\": {\"Bogus\": 1}}" }, scheduler));
        }

        [Test]
        public void MainThreadServiceCalledFromAModuleOnAWorkerIsCompletedThroughThePump()
        {
            using (LoaderCore core = Core(sandbox.Install(Fixtures.Counter, "counter")))
            {
                // This test thread plays Revit's main thread: the core was created on it.
                int main = Thread.CurrentThread.ManagedThreadId;
                int ranOn = 0;
                core.RegisterService("revit.active_document", input =>
                {
                    ranOn = Thread.CurrentThread.ManagedThreadId;
                    return Encoding.UTF8.GetBytes("Project1.rvt");
                }, true);
                Assert.IsTrue(core.Load().Success);

                Task<LoaderResult> running = core.ExecuteAsync("call", "revit.active_document");
                Assert.IsTrue(scheduler.Requested.WaitOne(10000), "the host asked for the main thread");
                Assert.IsFalse(running.IsCompleted, "the module waits for the main thread");
                int pumped = 0;
                Wait.Until(() => (pumped += core.PumpNow()) > 0, "the queued call to run");
                LoaderResult result = running.Result;
                Assert.IsTrue(result.Success, result.Message);
                Assert.AreEqual("Project1.rvt", result.Output);
                Assert.AreEqual(main, ranOn, "the service ran on the main thread");

                LoaderResult shown;
                Assert.IsTrue(core.TryTakeCompleted(out shown), "queued for the pump handler to show");
                Assert.AreSame(result, shown);
                Assert.IsFalse(core.TryTakeCompleted(out shown));
                Assert.AreEqual(2, scheduler.Requests, "one for the service call, one for the finished result");
                Assert.AreEqual(0, core.PumpNow());
            }
        }

        [Test]
        public void PumpNowOffTheMainThreadFails()
        {
            using (LoaderCore core = Core(null))
            {
                var e = Assert.Throws<AggregateException>(() => Task.Run(() => core.PumpNow()).Wait());
                Assert.IsInstanceOf<WrongThreadException>(e.InnerException);
                core.Dispose();
                Assert.AreEqual(0, core.PumpNow(), "nothing to pump once stopped");
                Assert.AreEqual("PlugHost stopped", core.StatusText);
            }
        }
    }
}
