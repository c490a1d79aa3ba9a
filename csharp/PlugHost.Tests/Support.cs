using System;
using System.IO;
using System.Threading;
using PlugHost;

namespace PlugHost.Tests
{
    /// <summary>
    /// The fixture modules run-tests.sh builds: the Rust ones in target/fixtures/release (as
    /// tests/support/mod.rs builds them) and the C ones in target/csharp-fixtures.
    /// </summary>
    public static class Fixtures
    {
        public static string Repo
        {
            get
            {
                string repo = Environment.GetEnvironmentVariable("PLUGHOST_REPO");
                if (string.IsNullOrEmpty(repo))
                {
                    throw new InvalidOperationException("PLUGHOST_REPO is not set: run csharp/run-tests.sh");
                }
                return repo;
            }
        }

        private static string Rust(string name)
        {
            return Existing(Path.Combine(Repo, "target", "fixtures", "release", "lib" + name + ".so"));
        }

        private static string C(string name)
        {
            return Existing(Path.Combine(Repo, "target", "csharp-fixtures", "lib" + name + ".so"));
        }

        private static string Existing(string path)
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException("fixture missing (run csharp/run-tests.sh): " + path);
            }
            return path;
        }

        public static string Counter { get { return Rust("counter"); } }
        public static string CounterV2 { get { return Rust("counter_v2"); } }
        public static string CounterBroken { get { return Rust("counter_broken"); } }
        public static string TlsPinned { get { return Rust("tls_pinned"); } }
        public static string Greeter { get { return C("greeter"); } }
        public static string NoEntry { get { return C("no_entry"); } }
        public static string AbiMismatch { get { return C("abi_mismatch"); } }
        public static string ShortTable { get { return C("short_table"); } }
        public static string NullEntry { get { return C("null_entry"); } }
        public static string MissingExecute { get { return C("missing_execute"); } }
        public static string InitFails { get { return C("init_fails"); } }
        public static string RestoreFails { get { return C("restore_fails"); } }
        public static string FakePlughostAbi99 { get { return C("fake_plughost_abi99"); } }

        /// <summary>examples/c/ipc_peer.c built: the C peer B of the session tests.</summary>
        public static string IpcPeer { get { return Existing(Path.Combine(Repo, "target", "csharp-fixtures", "ipc_peer")); } }

        /// <summary>The Python pool's worker program (python-worker), built into target/fixtures.</summary>
        public static string PythonWorker { get { return Existing(Path.Combine(Repo, "target", "fixtures", "release", "plughost-python-worker")); } }

        /// <summary>examples/c/plugin_c.c built: the plugin of the host-side plugin tests.</summary>
        public static string PluginC { get { return Existing(Path.Combine(Repo, "target", "csharp-fixtures", "plugin_c")); } }

        /// <summary>The folder holding PlugHost.dll, the native library and the test assemblies.</summary>
        public static string BinDirectory
        {
            get { return Path.GetDirectoryName(typeof(Host).Assembly.Location); }
        }
    }

    /// <summary>A temporary trusted root, an untrusted folder beside it and a shadow folder.</summary>
    public sealed class Sandbox : IDisposable
    {
        public Sandbox()
        {
            Dir = Path.Combine(Path.GetTempPath(), "plughost-cs-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(Root);
            Directory.CreateDirectory(Outside);
            Directory.CreateDirectory(Shadow);
        }

        public string Dir { get; private set; }
        public string Root { get { return Path.Combine(Dir, "root"); } }
        public string Outside { get { return Path.Combine(Dir, "outside"); } }
        public string Shadow { get { return Path.Combine(Dir, "shadow"); } }

        /// <summary>Copy <paramref name="module"/> into the trusted root as lib{name}.so in its own folder.</summary>
        public string Install(string module, string name)
        {
            string folder = Path.Combine(Root, name);
            Directory.CreateDirectory(folder);
            string target = Path.Combine(folder, "lib" + name + ".so");
            Replace(module, target);
            return target;
        }

        /// <summary>Replace a file the way a build does: write a new file, rename it over the old one.</summary>
        public static void Replace(string source, string target)
        {
            string partial = target + ".partial";
            File.Copy(source, partial, true);
            if (File.Exists(target))
            {
                File.Delete(target);
            }
            File.Move(partial, target);
        }

        /// <summary>The host configuration for this sandbox, with extra PlugHost.Modules settings.</summary>
        public string Config(string extraModules = "", string extraPlugHost = "")
        {
            return "{\"PlugHost\": {\"Modules\": {\"TrustedRoots\": [" + JsonValue.Quote(Root) + "], \"ShadowDirectory\": " + JsonValue.Quote(Shadow)
                + (extraModules.Length > 0 ? ", " + extraModules : "") + "}, \"Logging\": {\"Level\": \"debug\"}"
                + (extraPlugHost.Length > 0 ? ", " + extraPlugHost : "") + "}}";
        }

        public int ShadowFolders
        {
            get { return Directory.Exists(Shadow) ? Directory.GetDirectories(Shadow).Length : 0; }
        }

        public void Dispose()
        {
            try
            {
                Directory.Delete(Dir, true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    /// <summary>An action run on a thread of its own, keeping what it threw.</summary>
    public sealed class OtherThread
    {
        private readonly Thread thread;

        private OtherThread(Action action)
        {
            thread = new Thread(() =>
            {
                try
                {
                    action();
                }
                catch (Exception e)
                {
                    Error = e;
                }
            });
        }

        /// <summary>What the action threw (null if nothing); read it after a join.</summary>
        public Exception Error { get; private set; }

        public static OtherThread Start(Action action)
        {
            var started = new OtherThread(action);
            started.thread.Start();
            return started;
        }

        public void Join()
        {
            thread.Join();
        }

        public bool Join(int timeoutMs)
        {
            return thread.Join(timeoutMs);
        }
    }

    public static class Wait
    {
        /// <summary>Wait until <paramref name="condition"/> holds, or fail after <paramref name="timeoutMs"/>.</summary>
        public static void Until(Func<bool> condition, string what, int timeoutMs = 10000)
        {
            DateTime end = DateTime.UtcNow.AddMilliseconds(timeoutMs);
            while (!condition())
            {
                if (DateTime.UtcNow > end)
                {
                    throw new TimeoutException("timed out waiting for " + what);
                }
                Thread.Sleep(1);
            }
        }
    }
}
