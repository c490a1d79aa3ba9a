using System;
using System.Diagnostics;
using System.IO;
using NUnit.Framework;
using PlugHost;

namespace PlugHost.Tests
{
    [TestFixture]
    public class NativeLibraryTests
    {
        [Test]
        public void VersionsAndNames()
        {
            Assert.AreEqual(PlugHostLibrary.ExpectedAbiVersion, PlugHostLibrary.AbiVersion);
            Assert.AreEqual(1u, PlugHostLibrary.AbiVersion);
            string version = PlugHostLibrary.Version;
            Assert.AreEqual("plughost_" + version.Replace('.', '_'), PlugHostLibrary.Name, "the file name carries the version");
            Assert.AreEqual(version, Host.NativeVersion);
            Assert.AreEqual("lib" + PlugHostLibrary.Name + ".so", PlugHostLibrary.FileName);
            Assert.IsTrue(File.Exists(PlugHostLibrary.ExpectedPath), PlugHostLibrary.ExpectedPath);
            Assert.AreEqual("PLUGHOST_OK", PlugHostLibrary.StatusName(0));
            Assert.AreEqual("PLUGHOST_ERR_TIMEOUT", PlugHostLibrary.StatusName(8));
            Assert.AreEqual("PLUGHOST_ERR_UNKNOWN", PlugHostLibrary.StatusName(-7));
        }

        [Test]
        public void LoadFailuresAreClassified()
        {
            var wrongArch = PlugHostLibrary.FromLoadFailure(new BadImageFormatException("bad"), "/x/plughost.dll", true);
            Assert.AreEqual(NativeLibraryProblem.WrongArchitecture, wrongArch.Problem);
            StringAssert.Contains("another architecture", wrongArch.Message);
            Assert.IsInstanceOf<BadImageFormatException>(wrongArch.InnerException);
            Assert.AreEqual(-1, wrongArch.Status);
            Assert.IsInstanceOf<PlugHostException>(wrongArch);
            Assert.AreEqual(NativeLibraryProblem.Missing, PlugHostLibrary.FromLoadFailure(new DllNotFoundException("x"), "/x", false).Problem);
            Assert.AreEqual(NativeLibraryProblem.NotLoadable, PlugHostLibrary.FromLoadFailure(new DllNotFoundException("x"), "/x", true).Problem);
        }

        private static string Probe(Action<string> prepare, out int exitCode)
        {
            string dir = Path.Combine(Path.GetTempPath(), "plughost-probe-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            try
            {
                foreach (string file in new[] { "PlugHost.dll", "NativeProbe.exe" })
                {
                    File.Copy(Path.Combine(Fixtures.BinDirectory, file), Path.Combine(dir, file));
                }
                prepare(Path.Combine(dir, PlugHostLibrary.FileName));
                var start = new ProcessStartInfo("mono", "\"" + Path.Combine(dir, "NativeProbe.exe") + "\"")
                {
                    UseShellExecute = false,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    WorkingDirectory = dir,
                };
                start.EnvironmentVariables["LD_LIBRARY_PATH"] = "";
                using (Process process = Process.Start(start))
                {
                    string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
                    process.WaitForExit();
                    exitCode = process.ExitCode;
                    return output;
                }
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        [Test]
        public void TheRealLibraryBesideTheAssemblyWorks()
        {
            int code;
            string output = Probe(path => File.Copy(PlugHostLibrary.ExpectedPath, path), out code);
            Assert.AreEqual(0, code, output);
            StringAssert.StartsWith("OK " + PlugHostLibrary.Version, output);
        }

        [Test]
        public void MissingLibrary()
        {
            int code;
            string output = Probe(path => { }, out code);
            Assert.AreEqual(3, code, output);
            StringAssert.Contains("PROBLEM=Missing", output);
            StringAssert.Contains("STATUS=PLUGHOST_NATIVE_LIBRARY", output);
            StringAssert.Contains("was not found: expected ", output);
            StringAssert.Contains(PlugHostLibrary.FileName, output);
            StringAssert.Contains("AGAIN=Missing", output);
        }

        [Test]
        public void DamagedOrForeignArchitectureLibrary()
        {
            int code;
            string output = Probe(path => File.WriteAllText(path, "not a library"), out code);
            Assert.AreEqual(3, code, output);
            StringAssert.Contains("PROBLEM=NotLoadable", output);

            // A copy of the real library claiming another machine (ELF e_machine = AArch64). On
            // Windows .NET reports such a file as BadImageFormatException (WrongArchitecture, see
            // LoadFailuresAreClassified); mono on Linux reports DllNotFoundException.
            output = Probe(path =>
            {
                byte[] elf = File.ReadAllBytes(PlugHostLibrary.ExpectedPath);
                elf[18] = 183;
                elf[19] = 0;
                File.WriteAllBytes(path, elf);
            }, out code);
            Assert.AreEqual(3, code, output);
            StringAssert.Contains("PROBLEM=NotLoadable", output);
            StringAssert.Contains("another operating system or architecture", output);
        }

        [Test]
        public void LibraryWithAnotherAbiVersion()
        {
            int code;
            string output = Probe(path => File.Copy(Fixtures.FakePlughostAbi99, path), out code);
            Assert.AreEqual(3, code, output);
            StringAssert.Contains("PROBLEM=AbiMismatch", output);
            StringAssert.Contains("(version 99.0.0-fake) has C ABI version 99", output);
            StringAssert.Contains("generated for ABI version 1", output);
        }
    }
}
