using Autodesk.Revit.Attributes;
using Autodesk.Revit.DB;
using Autodesk.Revit.UI;

namespace PlugHost.RevitLoader
{
    /// <summary>
    /// A ribbon button's command: fails with Revit's message when the loader did not start, otherwise
    /// hands the started <see cref="LoaderCore"/> to <see cref="Run"/>. Each button has its own
    /// subclass, which the ribbon names.
    /// </summary>
    public abstract class LoaderCommand : IExternalCommand
    {
        public Result Execute(ExternalCommandData commandData, ref string message, ElementSet elements)
        {
            LoaderCore core = App.Core;
            if (core == null)
            {
                message = "The PlugHost loader did not start; see the message shown at Revit's start.";
                return Result.Failed;
            }
            return Run(core, ref message);
        }

        /// <summary>The button's action, on Revit's thread; <paramref name="message"/> is Revit's failure message.</summary>
        protected abstract Result Run(LoaderCore core, ref string message);
    }

    /// <summary>Ribbon button "Load".</summary>
    [Transaction(TransactionMode.Manual)]
    public sealed class LoadCommand : LoaderCommand
    {
        protected override Result Run(LoaderCore core, ref string message)
        {
            return App.Show(core.Load(), ref message);
        }
    }

    /// <summary>Ribbon button "Unload".</summary>
    [Transaction(TransactionMode.Manual)]
    public sealed class UnloadCommand : LoaderCommand
    {
        protected override Result Run(LoaderCore core, ref string message)
        {
            return App.Show(core.Unload(), ref message);
        }
    }

    /// <summary>Ribbon button "Reload".</summary>
    [Transaction(TransactionMode.Manual)]
    public sealed class ReloadCommand : LoaderCommand
    {
        protected override Result Run(LoaderCore core, ref string message)
        {
            return App.Show(core.Reload(), ref message);
        }
    }

    /// <summary>
    /// Ribbon button "Execute": runs the configured command on a worker thread so Revit stays
    /// responsive; the result is shown by the pump handler on Revit's thread when it is done.
    /// </summary>
    [Transaction(TransactionMode.Manual)]
    public sealed class ExecuteCommand : LoaderCommand
    {
        protected override Result Run(LoaderCore core, ref string message)
        {
            core.ExecuteAsync();
            return Result.Succeeded;
        }
    }
}
