using System;
using System.Diagnostics;
using System.IO;
using NUnit.Framework;
using PlugHost;

namespace PlugHost.Tests
{
    /// <summary>
    /// Extensions and packages through the C# layer: the host lists and rescans its extensions and
    /// installs a package made and signed by the plughost tool; Packages.Validate reports problems
    /// without a host.
    /// </summary>
    [TestFixture]
    public class ExtensionTests
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

        private static string ExtensionFolder(string parent, string name)
        {
            string folder = Path.Combine(parent, name);
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, "extension.toml"),
                "[extension]\nname = \"" + name + "\"\nversion = \"1.0.0\"\nkind = \"python\"\nentry = \"main.py\"\n");
            File.WriteAllText(Path.Combine(folder, "main.py"), "print(1)\n");
            return folder;
        }

        /// <summary>Run target/debug/plughost with <paramref name="arguments"/>; its standard output.</summary>
        private static string Tool(string arguments)
        {
            var info = new ProcessStartInfo(Path.Combine(Fixtures.Repo, "target", "debug", "plughost"), arguments)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using (Process process = Process.Start(info))
            {
                string output = process.StandardOutput.ReadToEnd();
                string errors = process.StandardError.ReadToEnd();
                process.WaitForExit();
                Assert.AreEqual(0, process.ExitCode, errors);
                return output.Trim();
            }
        }

        [Test]
        public void AHostListsRescansAndInstallsASignedPackage()
        {
            string search = Path.Combine(sandbox.Dir, "extensions");
            string store = Path.Combine(sandbox.Dir, "store");
            ExtensionFolder(search, "geo");
            string key = Path.Combine(sandbox.Dir, "acme.key");
            string trusted = Tool("package keygen acme --out " + key);
            string package = Path.Combine(sandbox.Dir, "units.plpkg");
            Tool("package pack " + ExtensionFolder(Path.Combine(sandbox.Dir, "src"), "units") + " --out " + package + " --key " + key);

            string extensions = "\"Extensions\": {\"SearchPaths\": [" + JsonValue.Quote(search) + "], \"StoreDirectory\": "
                + JsonValue.Quote(store) + ", \"TrustedKeys\": [" + trusted + "], \"AllowUnsigned\": false}";
            using (var host = new Host(sandbox.Config("", extensions)))
            {
                JsonValue listed = host.Extensions();
                Assert.AreEqual(1, listed["order"].Items.Count);
                Assert.AreEqual("geo", listed["order"][0].AsString);
                Assert.AreEqual("ready", listed["extensions"][0]["state"].AsString);

                host.InstallPackage(package);
                Assert.AreEqual("units", host.Extensions()["order"][1].AsString);
                Assert.IsTrue(File.Exists(Path.Combine(store, "units", "main.py")));

                Directory.Delete(Path.Combine(search, "geo"), true);
                host.RescanExtensions();
                Assert.AreEqual(1, host.Extensions()["order"].Items.Count);

                string bogus = Path.Combine(sandbox.Dir, "bogus.plpkg");
                File.WriteAllText(bogus, "not a zip");
                var e = Assert.Throws<PlugHostArgumentException>(() => host.InstallPackage(bogus));
                StringAssert.Contains("not a valid zip file", e.Message);
            }

            JsonValue report = Packages.Validate(package, "{\"TrustedKeys\": [" + trusted + "], \"AllowUnsigned\": false}");
            Assert.IsTrue(report["valid"].AsBoolean, report.ToString());
            Assert.AreEqual("acme", report["signer"].AsString);
            JsonValue untrusted = Packages.Validate(package, "{\"AllowUnsigned\": false}");
            Assert.IsFalse(untrusted["valid"].AsBoolean);
            StringAssert.Contains("which is not a trusted key", untrusted["problems"][0].AsString);
        }

        [Test]
        public void ValidateReportsProblemsWithoutAHost()
        {
            string bogus = Path.Combine(sandbox.Dir, "bogus.plpkg");
            File.WriteAllText(bogus, "not a zip");
            JsonValue report = Packages.Validate(bogus);
            Assert.IsFalse(report["valid"].AsBoolean);
            StringAssert.Contains("not a valid zip file", report["problems"][0].AsString);
            var e = Assert.Throws<ConfigurationException>(() => Packages.Validate(bogus, "{\"AllowUnsigned\": 1}"));
            StringAssert.Contains("$.AllowUnsigned: expected true or false", e.Message);
            Assert.Throws<ArgumentNullException>(() => Packages.Validate(null));
            using (var host = new Host(sandbox.Config()))
            {
                Assert.Throws<ConfigurationException>(() => host.InstallPackage(bogus));
            }
        }
    }
}
