// STUB of the Revit API (RevitAPI.dll) for compilation tests only. Revit cannot run here, so the
// loader's shell (csharp/RevitLoader/Shell) is compiled against these few types, declared with the
// namespaces and signatures of the real API, and never against the real RevitAPI.dll in these tests.
// It holds exactly what the shell uses; it is not Autodesk's API and is never deployed.
using System;

namespace Autodesk.Revit.DB
{
    /// <summary>STUB: a set of elements (passed to IExternalCommand.Execute).</summary>
    public class ElementSet
    {
    }
}

namespace Autodesk.Revit.Attributes
{
    /// <summary>STUB: how Revit wraps a command in transactions.</summary>
    public enum TransactionMode
    {
        Manual = 1,
        ReadOnly = 2,
    }

    /// <summary>STUB: the transaction mode of an external command.</summary>
    [AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
    public sealed class TransactionAttribute : Attribute
    {
        public TransactionAttribute(TransactionMode mode)
        {
            Mode = mode;
        }

        public TransactionMode Mode { get; private set; }
    }
}
