using System;
using PlugHost;

namespace PlugHost.Tests
{
    /// <summary>
    /// Run by NativeLibraryTests in a fresh mono process beside a missing, broken or foreign native
    /// library: prints what the first use of the wrapper does.
    /// </summary>
    public static class NativeProbe
    {
        public static int Main()
        {
            try
            {
                using (var host = new Host(""))
                {
                    Console.WriteLine("OK " + PlugHostLibrary.Version);
                }
                return 0;
            }
            catch (NativeLibraryException e)
            {
                Console.WriteLine("PROBLEM=" + e.Problem);
                Console.WriteLine("STATUS=" + e.StatusName);
                Console.WriteLine("MESSAGE=" + e.Message);
                // Every later use reports the same problem, not a TypeInitializationException.
                try
                {
                    Console.WriteLine("VERSION=" + PlugHostLibrary.Version);
                }
                catch (NativeLibraryException again)
                {
                    Console.WriteLine("AGAIN=" + again.Problem);
                }
                return 3;
            }
            catch (Exception e)
            {
                Console.WriteLine("UNEXPECTED=" + e);
                return 4;
            }
        }
    }
}
