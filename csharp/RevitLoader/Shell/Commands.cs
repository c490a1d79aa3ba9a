using Autodesk.Revit.Attributes;
using Autodesk.Revit.DB;
using Autodesk.Revit.UI;

namespace PlugHost.RevitLoader
{
    /// <summary>Ribbon button "Load".</summary>
    [Transaction(TransactionMode.Manual)]
    public sealed class LoadCommand : IExternalCommand
    {
        public Result Execute(ExternalCommandData commandData, ref string message, ElementSet elements)
        {
            return App.Run(core => core.Load(), ref message);
        }
    }

    /// <summary>Ribbon button "Unload".</summary>
    [Transaction(TransactionMode.Manual)]
    public sealed class UnloadCommand : IExternalCommand
    {
        public Result Execute(ExternalCommandData commandData, ref string message, ElementSet elements)
        {
            return App.Run(core => core.Unload(), ref message);
        }
    }

    /// <summary>Ribbon button "Reload".</summary>
    [Transaction(TransactionMode.Manual)]
    public sealed class ReloadCommand : IExternalCommand
    {
        public Result Execute(ExternalCommandData commandData, ref string message, ElementSet elements)
        {
            return App.Run(core => core.Reload(), ref message);
        }
    }

    /// <summary>
    /// Ribbon button "Execute": runs the configured command on a worker thread so Revit stays
    /// responsive; the result is shown by the pump handler on Revit's thread when it is done.
    /// </summary>
    [Transaction(TransactionMode.Manual)]
    public sealed class ExecuteCommand : IExternalCommand
    {
        public Result Execute(ExternalCommandData commandData, ref string message, ElementSet elements)
        {
            if (App.Core == null)
            {
                message = "The PlugHost loader did not start; see the message shown at Revit's start.";
                return Result.Failed;
            }
            App.Core.ExecuteAsync();
            return Result.Succeeded;
        }
    }
}
