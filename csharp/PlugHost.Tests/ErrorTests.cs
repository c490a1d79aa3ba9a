using System;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;
using PlugHost;
using PlugHost.Native;

namespace PlugHost.Tests
{
    [TestFixture]
    public class ErrorTests
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

        [Test]
        public void EveryStatusMapsToItsOwnExceptionType()
        {
            var statuses = typeof(NativeMethods)
                .GetFields(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)
                .Where(f => f.IsLiteral && f.Name.StartsWith("PLUGHOST_ERR_"))
                .ToList();
            string header = File.ReadAllText(Path.Combine(Fixtures.Repo, "include", "plughost.h"));
            int inHeader = header.Split('\n').Count(line => line.StartsWith("#define PLUGHOST_ERR_"));
            Assert.AreEqual(inHeader, statuses.Count, "every status of plughost.h is generated");
            foreach (FieldInfo field in statuses)
            {
                int status = (int)field.GetValue(null);
                PlugHostException e = PlugHostException.FromStatus(status, "message of " + field.Name);
                Assert.AreEqual(status, e.Status);
                Assert.AreEqual(field.Name, e.StatusName, "plughost_status_name agrees with the generated constant");
                Assert.AreEqual("message of " + field.Name, e.Message);
                Assert.AreNotEqual(typeof(PlugHostException), e.GetType(), field.Name + " has a specific type");
            }
            Assert.AreEqual(typeof(PlugHostException), PlugHostException.FromStatus(999, "x").GetType());
            Assert.AreEqual("PLUGHOST_ERR_UNKNOWN", PlugHostException.FromStatus(999, "x").StatusName);
            Assert.IsInstanceOf<ModuleLoadException>(PlugHostException.FromStatus(NativeMethods.PLUGHOST_ERR_MODULE_PINNED_LIMIT, ""));
            Assert.IsInstanceOf<ModuleUnloadException>(PlugHostException.FromStatus(NativeMethods.PLUGHOST_ERR_MODULE_DRAIN_TIMEOUT, ""));
            Assert.IsInstanceOf<ModuleUnloadException>(PlugHostException.FromStatus(NativeMethods.PLUGHOST_ERR_MODULE_STATE_TRANSFER, ""));
            Assert.IsInstanceOf<ModuleExecuteException>(PlugHostException.FromStatus(NativeMethods.PLUGHOST_ERR_MODULE_PANICKED, ""));
            Assert.IsInstanceOf<ServiceException>(PlugHostException.FromStatus(NativeMethods.PLUGHOST_ERR_SERVICE_EXISTS, ""));
        }

        [Test]
        public void EveryLoadErrorHasItsException()
        {
            using (var host = new Host(sandbox.Config()))
            {
                var notFound = Assert.Throws<ModuleNotFoundException>(() => host.LoadModule(Path.Combine(sandbox.Root, "missing.so")));
                Assert.AreEqual("PLUGHOST_ERR_MODULE_NOT_FOUND", notFound.StatusName);
                Assert.AreEqual(100, notFound.Status);

                string text = Path.Combine(sandbox.Root, "notes.so");
                File.WriteAllText(text, "not a library");
                Assert.Throws<ModuleNotLoadableException>(() => host.LoadModule(text));

                string truncated = Path.Combine(sandbox.Root, "truncated.so");
                byte[] bytes = File.ReadAllBytes(Fixtures.Greeter);
                File.WriteAllBytes(truncated, bytes.Take(bytes.Length / 3).ToArray());
                Assert.Throws<ModuleNotLoadableException>(() => host.LoadModule(truncated));

                Assert.Throws<ModuleEntryMissingException>(() => host.LoadModule(sandbox.Install(Fixtures.NoEntry, "no_entry")));
                Assert.Throws<ModuleAbiMismatchException>(() => host.LoadModule(sandbox.Install(Fixtures.AbiMismatch, "abi")));
                Assert.Throws<ModuleAbiMismatchException>(() => host.LoadModule(sandbox.Install(Fixtures.ShortTable, "short")));
                Assert.Throws<ModuleAbiMismatchException>(() => host.LoadModule(sandbox.Install(Fixtures.NullEntry, "null_entry")));
                Assert.Throws<ModuleAbiMismatchException>(() => host.LoadModule(sandbox.Install(Fixtures.MissingExecute, "missing_exec")));

                var init = Assert.Throws<ModuleInitException>(() => host.LoadModule(sandbox.Install(Fixtures.InitFails, "init_fails")));
                StringAssert.Contains("cannot reach the licence server", init.Message);

                string outside = Path.Combine(sandbox.Outside, "libcounter.so");
                File.Copy(Fixtures.Counter, outside);
                Assert.Throws<ModulePathNotTrustedException>(() => host.LoadModule(outside));
                Assert.Throws<ModulePathNotTrustedException>(() => host.LoadModule(Path.Combine(sandbox.Root, "..", "outside", "libcounter.so")));
                Assert.AreEqual(0, sandbox.ShadowFolders, "no failed load leaves a shadow folder");
            }
        }

        [Test]
        public void PinnedLimit()
        {
            using (var host = new Host(sandbox.Config("\"MaxPinnedGenerations\": 1")))
            {
                string path = sandbox.Install(Fixtures.TlsPinned, "tls");
                Module module = host.LoadModule(path);
                // The test thread lives on through the unload and holds a thread-local value with a
                // destructor: glibc keeps the library mapped, so the generation stays pinned.
                Assert.AreEqual("1", module.ExecuteString("touch", ""));
                module.Unload();
                HealthReport health = host.Health();
                Assert.AreEqual("pinned", health.RetainedGenerations.Single().Reason);
                Assert.AreEqual(HealthStatus.Unhealthy, health.Status);
                var e = Assert.Throws<ModulePinnedLimitException>(() => host.LoadModule(path));
                Assert.IsInstanceOf<ModuleLoadException>(e);
            }
        }

        [Test]
        public void DrainTimeout()
        {
            using (var host = new Host(sandbox.Config("\"UnloadTimeoutMs\": 50")))
            {
                Module module = host.LoadModule(sandbox.Install(Fixtures.Counter, "counter"));
                Task<byte[]> slow = module.ExecuteAsync("sleep", Encoding.UTF8.GetBytes("400"));
                Wait.Until(() => host.Health().Modules.Single().InFlight == 1, "the call to be in flight");
                var e = Assert.Throws<ModuleDrainTimeoutException>(() => module.Unload());
                Assert.IsInstanceOf<ModuleUnloadException>(e);
                Assert.AreEqual("draining", host.Health().RetainedGenerations.Single().Reason);
                Assert.AreEqual(new byte[0], slow.Result, "the call in flight completes");
                Assert.Throws<InvalidHandleException>(() => module.Execute("get", null));
            }
        }

        [Test]
        public void StateTransfer()
        {
            using (var host = new Host(sandbox.Config()))
            {
                Module module = host.LoadModule(sandbox.Install(Fixtures.RestoreFails, "restore_fails"));
                var e = Assert.Throws<ModuleStateTransferException>(() => module.Reload());
                StringAssert.Contains("state format changed", e.Message);
                Assert.AreEqual(1UL, host.Health().Modules.Single().Generation);
                Assert.AreEqual(new byte[0], module.Execute("anything", null), "generation 1 serves again");
            }
        }

        [Test]
        public void ExecuteErrors()
        {
            using (var host = new Host(sandbox.Config()))
            {
                Module module = host.LoadModule(sandbox.Install(Fixtures.Counter, "counter"));
                var unknown = Assert.Throws<UnknownCommandException>(() => module.Execute("bogus", null));
                Assert.AreEqual("PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND", unknown.StatusName);
                var failed = Assert.Throws<ModuleFailedException>(() => module.Execute("fail", null));
                StringAssert.Contains("failure requested by the caller", failed.Message);
                var panicked = Assert.Throws<ModulePanickedException>(() => module.Execute("panic", null));
                StringAssert.Contains("panic requested by the caller", panicked.Message);
                Assert.IsInstanceOf<ModuleExecuteException>(panicked);
                Assert.AreEqual("0", module.ExecuteString("get", ""), "the module survives its panic");
            }
        }

        [Test]
        public void ServiceAndStorageErrors()
        {
            using (var host = new Host(sandbox.Config("", "\"Storage\": {\"MaxBytes\": 64}")))
            {
                Assert.Throws<ServiceNotFoundException>(() => host.CallService("nope", null));
                Assert.Throws<ServiceNotFoundException>(() => host.UnregisterService("nope"));
                host.RegisterService("broken", input => { throw new InvalidOperationException("the service broke: ü"); });
                var failed = Assert.Throws<ServiceFailedException>(() => host.CallService("broken", null));
                StringAssert.Contains("InvalidOperationException: the service broke: ü", failed.Message);
                Assert.Throws<ServiceExistsException>(() => host.RegisterService("broken", b => b));
                Assert.Throws<PlugHostArgumentException>(() => host.RegisterService("", b => b));

                Assert.Throws<StorageKeyNotFoundException>(() => host.StorageGet("missing"));
                byte[] value;
                Assert.IsFalse(host.TryStorageGet("missing", out value));
                host.StorageSet("small", new byte[8]);
                Assert.IsTrue(host.TryStorageGet("small", out value));
                Assert.AreEqual(8, value.Length);
                Assert.Throws<LimitReachedException>(() => host.StorageSet("big", new byte[100]));
            }
        }

        [Test]
        public void ConfigurationErrorsCarryTheirJsonPath()
        {
            var e = Assert.Throws<ConfigurationException>(() => new Host(
                "{\"PlugHost\": {\"Modules\": {\"UnloadTimeotMs\": 1}, \"Logging\": {\"Level\": \"loud\"}}}"));
            Assert.AreEqual("PLUGHOST_ERR_INVALID_CONFIG", e.StatusName);
            StringAssert.Contains("2 problem(s)", e.Message);
            StringAssert.Contains("$.PlugHost.Modules.UnloadTimeotMs: unknown key; did you mean \"UnloadTimeoutMs\"?", e.Message);
            StringAssert.Contains("$.PlugHost.Logging.Level", e.Message);
            Assert.Throws<ConfigurationException>(() => new Host("not json"));
        }

        [Test]
        public void WrongThreadTimeoutAndLimit()
        {
            using (var host = new Host(sandbox.Config("\"MaxModules\": 1", "\"Services\": {\"MainThreadCallTimeoutMs\": 100}")))
            {
                OtherThread offMain = OtherThread.Start(() => host.Pump());
                offMain.Join();
                Assert.IsInstanceOf<WrongThreadException>(offMain.Error);
                Assert.AreEqual(0, host.Pump(), "the creating thread is main");

                host.RegisterService("ui.ask", b => b, true);
                OtherThread caller = OtherThread.Start(() => host.CallService("ui.ask", null));
                caller.Join();
                Assert.IsInstanceOf<PlugHostTimeoutException>(caller.Error, "never pumped");

                string path = sandbox.Install(Fixtures.Greeter, "greeter");
                host.LoadModule(path);
                Assert.Throws<LimitReachedException>(() => host.LoadModule(path));
                Assert.Throws<PlugHostArgumentException>(() => host.SetLogLevel((LogLevel)9));
            }
        }

        [Test]
        public void HostStoppedWhileAMainThreadCallWaits()
        {
            var host = new Host(sandbox.Config());
            host.RegisterService("ui.ask", b => b, true);
            OtherThread caller = OtherThread.Start(() => host.CallService("ui.ask", null));
            Wait.Until(() => host.Health().MainThreadPending == 1, "the call to queue");
            host.Dispose();
            Assert.IsTrue(caller.Join(5000));
            Assert.IsInstanceOf<HostStoppedException>(caller.Error);
        }

        [Test]
        public void InvalidHandleOnUnloadedAndDisposedModules()
        {
            using (var host = new Host(sandbox.Config()))
            {
                Module module = host.LoadModule(sandbox.Install(Fixtures.Counter, "counter"));
                module.Dispose();
                module.Dispose();
                var e = Assert.Throws<InvalidHandleException>(() => module.Execute("get", null));
                Assert.AreEqual("PLUGHOST_ERR_INVALID_HANDLE", e.StatusName);
                Assert.Throws<InvalidHandleException>(() => module.Unload());
                Assert.Throws<InvalidHandleException>(() => module.Reload());
                Module other = host.LoadModule(sandbox.Install(Fixtures.Greeter, "greeter"));
                other.Unload();
                Assert.Throws<InvalidHandleException>(() => other.Unload(), "a second unload");
                Assert.Throws<InvalidHandleException>(() => other.ExecuteAsync("count", null).GetAwaiter().GetResult());
            }
        }

        [Test]
        public void LastErrorIsReadOnTheFailingThread()
        {
            using (var host = new Host(sandbox.Config()))
            {
                Module module = host.LoadModule(sandbox.Install(Fixtures.Counter, "counter"));
                var messages = new string[8];
                var threads = Enumerable.Range(0, 8).Select(i => new Thread(() =>
                {
                    for (int n = 0; n < 50; n++)
                    {
                        try
                        {
                            module.ExecuteString("increment", "x" + i);
                        }
                        catch (ModuleFailedException e)
                        {
                            messages[i] = e.Message;
                            if (!e.Message.Contains("x" + i))
                            {
                                return;
                            }
                        }
                    }
                })).ToList();
                threads.ForEach(t => t.Start());
                threads.ForEach(t => t.Join());
                for (int i = 0; i < 8; i++)
                {
                    StringAssert.Contains("not a number: x" + i, messages[i]);
                }
            }
        }
    }
}
