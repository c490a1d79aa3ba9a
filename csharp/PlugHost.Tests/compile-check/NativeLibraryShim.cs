// STUB for a compilation check only: mono's class library has no System.Runtime.InteropServices.NativeLibrary
// (.NET Core 3+). run-tests.sh compiles PlugHost with -define:NETCOREAPP plus these declarations, copied
// from the .NET 8 signatures, to type-check the .NET 8 branch of PlugHostLibrary. Never run, never shipped.
using System.Reflection;

namespace System.Runtime.InteropServices
{
    public delegate IntPtr DllImportResolver(string libraryName, Assembly assembly, DllImportSearchPath? searchPath);

    public static class NativeLibrary
    {
        public static void SetDllImportResolver(Assembly assembly, DllImportResolver resolver)
        {
            throw new NotSupportedException("compilation stub");
        }

        public static IntPtr Load(string libraryPath)
        {
            throw new NotSupportedException("compilation stub");
        }
    }
}
