using System;
using PlugHost.Native;

namespace PlugHost
{
    /// <summary>
    /// The extension members of <see cref="Host"/>: extensions are native modules, Python scripts and
    /// plugin programs described by extension.toml manifests in PlugHost.Extensions.SearchPaths and in
    /// the store packages are installed into.
    /// </summary>
    public sealed unsafe partial class Host
    {
        /// <summary>
        /// The discovered extensions as JSON: "order" (names in load order), "extensions" (each with
        /// "name", "version", "kind", "entry", "state", "problems", "module_id") and "problems".
        /// </summary>
        public string ExtensionsJson()
        {
            return BufferText((h, o) => NativeMethods.plughost_host_extensions_json(h, o));
        }

        /// <summary>The discovered extensions, parsed (see <see cref="ExtensionsJson"/>).</summary>
        public JsonValue Extensions()
        {
            return JsonValue.Parse(ExtensionsJson());
        }

        /// <summary>
        /// Scan the extension folders again now: new module extensions load, removed ones unload, and
        /// the changes are published on the event bus ("plughost.extension.added", ".removed",
        /// ".failed", JSON payloads).
        /// </summary>
        public void RescanExtensions()
        {
            Call(h => NativeMethods.plughost_host_rescan_extensions(h));
        }

        /// <summary>
        /// Validate the package at <paramref name="path"/> against the host's trusted keys, install it
        /// into PlugHost.Extensions.StoreDirectory and rescan.
        /// </summary>
        /// <exception cref="PlugHostArgumentException">The package is invalid; the message lists every problem.</exception>
        /// <exception cref="ConfigurationException">No store is configured.</exception>
        public void InstallPackage(string path)
        {
            ByName(path, (h, p, n) => NativeMethods.plughost_host_install_package(h, p, n));
        }

        private delegate int HostCall(plughost_host* host);

        /// <summary>Run a host call that takes nothing but the host.</summary>
        private void Call(HostCall call)
        {
            bool added = false;
            try
            {
                plughost_host* h = Enter(ref added);
                Interop.Check(call(h));
            }
            finally
            {
                Exit(added);
            }
        }

        private delegate int BufferCall(plughost_host* host, ulong* output);

        /// <summary>Run a host call that writes a buffer; its UTF-8 text.</summary>
        private string BufferText(BufferCall call)
        {
            ulong output;
            bool added = false;
            try
            {
                plughost_host* h = Enter(ref added);
                Interop.Check(call(h, &output));
            }
            finally
            {
                Exit(added);
            }
            return Interop.FromUtf8(Interop.TakeBuffer(output));
        }
    }

    /// <summary>Extension packages (.plpkg) without a host.</summary>
    public static unsafe class Packages
    {
        /// <summary>
        /// Check the package at <paramref name="path"/>; the report as JSON: "valid", "name",
        /// "version", "kind", "signer", "problems" (every one at once), "warnings". An invalid package
        /// is a report with "valid": false, not an exception. <paramref name="optionsJson"/> is a
        /// PlugHost.Extensions object (TrustedKeys, AllowUnsigned, MaxPackageBytes, MaxPackageFiles),
        /// or null for the defaults.
        /// </summary>
        /// <exception cref="ConfigurationException">The options are invalid.</exception>
        public static string ValidateJson(string path, string optionsJson = null)
        {
            if (path == null)
            {
                throw new ArgumentNullException("path");
            }
            byte[] p = Interop.Utf8(path);
            byte[] o = optionsJson == null ? Interop.Empty : Interop.Utf8(optionsJson);
            ulong output;
            fixed (byte* pp = p)
            fixed (byte* op = o)
            {
                Interop.Check(NativeMethods.plughost_package_validate(pp, (UIntPtr)p.Length, op, (UIntPtr)o.Length, &output));
            }
            return Interop.FromUtf8(Interop.TakeBuffer(output));
        }

        /// <summary>The report of <see cref="ValidateJson"/>, parsed.</summary>
        public static JsonValue Validate(string path, string optionsJson = null)
        {
            return JsonValue.Parse(ValidateJson(path, optionsJson));
        }
    }
}
