using System.Threading;
using NUnit.Framework;
using PlugHost;

namespace PlugHost.Tests
{
    /// <summary>The Python pool from C#: values, bytes, output, exceptions, sessions, timeouts, saturation.</summary>
    [TestFixture]
    public class PythonTests
    {
        private static Host PoolHost(string extra = "")
        {
            return new Host("{\"PlugHost\": {\"Python\": {\"WorkerPath\": " + JsonValue.Quote(Fixtures.PythonWorker) + ", \"Workers\": 1" + extra + "}}}");
        }

        [Test]
        public void ValuesOutputAndExceptions()
        {
            using (var host = PoolHost())
            {
                PythonResult result = host.RunPython("print('hello')\nsum(args)", "[1, 2, 3]");
                Assert.AreEqual(6.0, result.Value.AsDouble);
                Assert.AreEqual("hello\n", result.Stdout);
                Assert.AreEqual(0, result.Worker);
                CollectionAssert.AreEqual(new byte[] { 1, 2 }, host.RunPython("b'\\x01\\x02'").Bytes);
                Assert.AreEqual("[1]", host.CallPythonFunction("json", "dumps", "[[1]]", "{\"separators\": [\",\", \":\"]}").Value.AsString);
                var e = Assert.Throws<PythonScriptException>(() => host.RunPython("print('partial')\n{}['missing']"));
                Assert.AreEqual("KeyError", e.PythonType);
                Assert.AreEqual("partial\n", e.Stdout);
                StringAssert.Contains("line 2", e.PythonTraceback);
                Assert.Throws<PlugHostArgumentException>(() => host.RunPythonRequest("{\"code\": \"1\", \"file\": \"x\"}"));
            }
        }

        [Test]
        public void SessionsTimeoutsAndSaturation()
        {
            using (var host = PoolHost(", \"QueueLimit\": 0"))
            {
                host.RunPython("n = 41", null, "s");
                Assert.AreEqual(42.0, host.RunPython("n + 1", null, "s").Value.AsDouble);
                Assert.IsTrue(host.DropPythonSession("s"));
                Assert.IsFalse(host.DropPythonSession("s"));
                Assert.Throws<PlugHostTimeoutException>(() => host.RunPython("while True: pass", null, null, 300));
                Assert.AreEqual("alive", host.RunPython("'alive'").Value.AsString);
                var busy = new Thread(() => host.RunPython("import time\ntime.sleep(0.8)"));
                busy.Start();
                Thread.Sleep(300);
                Assert.Throws<PythonPoolSaturatedException>(() => host.RunPython("1"));
                busy.Join();
                Assert.Throws<PythonWorkerCrashedException>(() => host.RunPython("import os\nos._exit(2)"));
            }
            using (var host = new Host("{\"PlugHost\": {\"Python\": {\"WorkerPath\": \"/no/such/worker\"}}}"))
            {
                StringAssert.Contains("/no/such/worker", Assert.Throws<PythonUnavailableException>(() => host.RunPython("1")).Message);
            }
        }
    }
}
