// A minimal plughost host in C#: load a work module, execute, reload, print the health status.
//
//   mono HostExample.exe <path of the counter module>
//
// Build (as csharp/run-tests.sh does): mcs -langversion:7.2 -r:PlugHost.dll HostExample.cs, with
// PlugHost.dll and the native library (libplughost_<version>.so / plughost_<version>.dll) beside it.
using System;
using System.IO;
using PlugHost;

public static class HostExample
{
    public static int Main(string[] args)
    {
        if (args.Length != 1)
        {
            Console.Error.WriteLine("usage: HostExample <path of the counter module>");
            return 2;
        }
        string path = Path.GetFullPath(args[0]);
        string root = Path.GetDirectoryName(path).Replace("\\", "\\\\");
        string config = "{\"PlugHost\": {\"Modules\": {\"TrustedRoots\": [\"" + root + "\"]}}}";
        using (var host = new Host(config))
        {
            host.Log += (level, target, message) => { if (level <= LogLevel.Warn) Console.Error.WriteLine(level + " " + target + ": " + message); };
            using (Module counter = host.LoadModule(path))
            {
                Console.WriteLine("version: " + counter.ExecuteString("version", ""));
                Console.WriteLine("increment 5: " + counter.ExecuteString("increment", "5"));
                ulong generation = counter.Reload();
                Console.WriteLine("reloaded: generation " + generation + ", value kept: " + counter.ExecuteString("get", ""));
                try
                {
                    counter.ExecuteString("fail", "");
                }
                catch (ModuleFailedException e)
                {
                    Console.WriteLine("fail: " + e.Message);
                }
            }
            Console.WriteLine("health: " + host.Health().Status);
        }
        return 0;
    }
}
