// Hand-written additions to the generated NativeMethods (NativeMethods.g.cs).
namespace PlugHost.Native
{
    internal static unsafe partial class NativeMethods
    {
        /// <summary>
        /// The library name every [DllImport] of the generated file uses: "plughost_" and the crate
        /// version with '.' replaced by '_' (for example "plughost_0_1_0"). The file beside the add-in
        /// is plughost_0_1_0.dll on Windows and libplughost_0_1_0.so on Linux.
        /// </summary>
        internal const string LibraryName = __DllName;
    }
}
