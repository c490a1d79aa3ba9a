using System;
using System.IO;
using System.Runtime.InteropServices;
using PlugHost.Native;

namespace PlugHost
{
    /// <summary>
    /// The native plughost library: where it is found, and the check made before the first call.
    ///
    /// File name: the library is imported as <see cref="Name"/> ("plughost_" + the crate version with
    /// '.' replaced by '_', for example "plughost_0_1_0"), and deployed beside PlugHost.dll as
    /// <see cref="FileName"/>: plughost_0_1_0.dll on Windows, libplughost_0_1_0.so on Linux. The name is
    /// versioned because the CLR never unloads a native library and Windows hands out an already
    /// loaded DLL by its base name: two add-ins shipping different plughost builds must not share
    /// one name.
    ///
    /// Loading, before the first P/Invoke, from <see cref="Directory"/> (by default the folder of
    /// PlugHost.dll), by full path:
    /// <list type="bullet">
    /// <item>.NET 8 (NETCOREAPP): NativeLibrary.SetDllImportResolver maps the name to the full path.</item>
    /// <item>.NET Framework on Windows: LoadLibraryEx(full path, LOAD_WITH_ALTERED_SEARCH_PATH) loads the
    /// file first, so the [DllImport] by base name finds it loaded (not yet run on Windows).</item>
    /// <item>Mono on Linux (the tests): mono's own probing, which looks in the assembly's folder and
    /// then LD_LIBRARY_PATH.</item>
    /// </list>
    /// Then plughost_abi_version() must equal <see cref="ExpectedAbiVersion"/>; otherwise every use of
    /// the wrapper throws <see cref="NativeLibraryException"/>.
    /// </summary>
    public static unsafe class PlugHostLibrary
    {
        /// <summary>The name the [DllImport]s use.</summary>
        public const string Name = NativeMethods.LibraryName;

        /// <summary>The C ABI version this wrapper was generated for (PLUGHOST_ABI_VERSION).</summary>
        public const uint ExpectedAbiVersion = NativeMethods.PLUGHOST_ABI_VERSION;

        private static readonly object Gate = new object();
        private static bool checkedOnce;
        private static NativeLibraryException failure;
        private static string directory;

        /// <summary>The platform's file name of the library, e.g. plughost_0_1_0.dll or libplughost_0_1_0.so.</summary>
        public static string FileName
        {
            get
            {
                if (IsWindows)
                {
                    return Name + ".dll";
                }
                return IsMacOS ? "lib" + Name + ".dylib" : "lib" + Name + ".so";
            }
        }

        /// <summary>
        /// The folder the library is loaded from; by default the folder of PlugHost.dll. Set it before
        /// the first use of the wrapper; later changes have no effect.
        /// </summary>
        public static string Directory
        {
            get
            {
                lock (Gate)
                {
                    if (directory == null)
                    {
                        string location = typeof(PlugHostLibrary).Assembly.Location;
                        directory = string.IsNullOrEmpty(location) ? AppDomain.CurrentDomain.BaseDirectory : Path.GetDirectoryName(location);
                    }
                    return directory;
                }
            }
            set
            {
                lock (Gate)
                {
                    directory = value;
                }
            }
        }

        /// <summary>The full path the library is expected at.</summary>
        public static string ExpectedPath
        {
            get { return Path.Combine(Directory, FileName); }
        }

        /// <summary>
        /// Load and check the library once; throw <see cref="NativeLibraryException"/> (again on every
        /// call) if it is missing, not loadable, of the wrong architecture or of another ABI version.
        /// </summary>
        public static void EnsureLoaded()
        {
            lock (Gate)
            {
                if (!checkedOnce)
                {
                    failure = LoadAndCheck();
                    checkedOnce = true;
                }
            }
            if (failure != null)
            {
                throw new NativeLibraryException(failure.Problem, failure.Message, failure.InnerException);
            }
        }

        /// <summary>The library's C ABI version (plughost_abi_version).</summary>
        public static uint AbiVersion
        {
            get
            {
                EnsureLoaded();
                return NativeMethods.plughost_abi_version();
            }
        }

        /// <summary>The library's version, e.g. "0.1.0" (plughost_version).</summary>
        public static string Version
        {
            get
            {
                EnsureLoaded();
                return Interop.StaticCString(NativeMethods.plughost_version());
            }
        }

        /// <summary>The name of a status code as in plughost.h (plughost_status_name).</summary>
        public static string StatusName(int status)
        {
            EnsureLoaded();
            return Interop.StaticCString(NativeMethods.plughost_status_name(status));
        }

        private static bool IsWindows
        {
            get { return Path.DirectorySeparatorChar == '\\'; }
        }

        private static bool IsMacOS
        {
            get { return !IsWindows && System.IO.Directory.Exists("/System/Library/CoreServices"); }
        }

        private static NativeLibraryException LoadAndCheck()
        {
            string path = ExpectedPath;
            try
            {
                NativeLibraryException preloadFailure = Preload(path);
                if (preloadFailure != null)
                {
                    return preloadFailure;
                }
                uint abi = NativeMethods.plughost_abi_version();
                if (abi != ExpectedAbiVersion)
                {
                    string version = "unknown";
                    try
                    {
                        version = Interop.StaticCString(NativeMethods.plughost_version());
                    }
                    catch (EntryPointNotFoundException)
                    {
                    }
                    return new NativeLibraryException(
                        NativeLibraryProblem.AbiMismatch,
                        string.Format(
                            "The plughost library {0} (version {1}) has C ABI version {2}, but this PlugHost.dll was generated for ABI version {3}. Deploy the library built with this wrapper.",
                            Name, version, abi, ExpectedAbiVersion));
                }
                return null;
            }
            catch (DllNotFoundException e)
            {
                return FromLoadFailure(e, path, File.Exists(path));
            }
            catch (BadImageFormatException e)
            {
                return FromLoadFailure(e, path, true);
            }
            catch (EntryPointNotFoundException e)
            {
                return new NativeLibraryException(
                    NativeLibraryProblem.AbiMismatch,
                    string.Format("The library loaded as {0} is not a plughost library of this ABI (no plughost_abi_version): {1}", Name, e.Message),
                    e);
            }
        }

        /// <summary>The exception for a library that could not be loaded from <paramref name="path"/>.</summary>
        internal static NativeLibraryException FromLoadFailure(Exception e, string path, bool fileExists)
        {
            if (e is BadImageFormatException)
            {
                return new NativeLibraryException(
                    NativeLibraryProblem.WrongArchitecture,
                    string.Format(
                        "The plughost library {0} is built for another architecture than this {1}-bit process. Deploy the {2} build. ({3})",
                        path, IntPtr.Size * 8, IntPtr.Size == 8 ? "64-bit" : "32-bit", e.Message),
                    e);
            }
            if (fileExists)
            {
                return new NativeLibraryException(
                    NativeLibraryProblem.NotLoadable,
                    string.Format(
                        "The plughost library {0} exists but cannot be loaded: it is damaged, or built for another operating system or architecture. ({1})",
                        path, e.Message),
                    e);
            }
            return new NativeLibraryException(
                NativeLibraryProblem.Missing,
                string.Format(
                    "The plughost library was not found: expected {0} (beside PlugHost.dll, or set PlugHostLibrary.Directory before the first use). ({1})",
                    path, e.Message),
                e);
        }

#if NETCOREAPP
        private static NativeLibraryException Preload(string path)
        {
            // Only our own name is resolved here; a missing file falls back to the default probing.
            try
            {
                NativeLibrary.SetDllImportResolver(typeof(PlugHostLibrary).Assembly, (name, assembly, searchPath) =>
                {
                    if (name != Name || !File.Exists(path))
                    {
                        return IntPtr.Zero;
                    }
                    return NativeLibrary.Load(path);
                });
            }
            catch (InvalidOperationException)
            {
                // The application set its own resolver for PlugHost.dll: it decides.
            }
            return null;
        }
#else
        private const uint LoadWithAlteredSearchPath = 0x00000008;
        private const int ErrorBadExeFormat = 193;

        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, EntryPoint = "LoadLibraryExW")]
        private static extern IntPtr LoadLibraryEx(string fileName, IntPtr reserved, uint flags);

        private static NativeLibraryException Preload(string path)
        {
            // .NET Framework: [DllImport] resolves by base name, and LoadLibrary returns a DLL already
            // loaded under that name, so loading the full path first makes the imports use this file.
            // Mono on Linux and macOS probes the assembly's folder itself.
            if (!IsWindows || !File.Exists(path))
            {
                return null;
            }
            if (LoadLibraryEx(path, IntPtr.Zero, LoadWithAlteredSearchPath) != IntPtr.Zero)
            {
                return null;
            }
            int error = Marshal.GetLastWin32Error();
            Exception cause = error == ErrorBadExeFormat
                ? (Exception)new BadImageFormatException("LoadLibraryEx failed with ERROR_BAD_EXE_FORMAT", path)
                : new DllNotFoundException("LoadLibraryEx failed with Windows error " + error);
            return FromLoadFailure(cause, path, true);
        }
#endif
    }
}
