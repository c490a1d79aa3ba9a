using System;
using System.Collections.Generic;
using System.IO;
using Autodesk.Revit.UI;

namespace PlugHost.RevitLoader
{
    /// <summary>
    /// The Revit add-in: a "PlugHost" ribbon tab with Load, Unload, Reload and Execute buttons over
    /// <see cref="LoaderCore"/>, and an ExternalEvent that pumps plughost's main-thread calls on
    /// Revit's thread. Everything else lives in the Revit-free core.
    /// </summary>
    public sealed class App : IExternalApplication
    {
        public const string TabName = "PlugHost";
        public const string PanelName = "Work module";

        private static readonly List<KeyValuePair<RibbonItem, string>> Buttons = new List<KeyValuePair<RibbonItem, string>>();
        private static ExternalEvent pumpEvent;

        /// <summary>The loader, created in OnStartup on Revit's main thread (null if it failed to start).</summary>
        internal static LoaderCore Core { get; private set; }

        public Result OnStartup(UIControlledApplication application)
        {
            string folder = Path.GetDirectoryName(typeof(App).Assembly.Location);
            try
            {
                LoaderSettings settings = LoaderSettings.FromFile(Path.Combine(folder, LoaderSettings.FileName));
                pumpEvent = ExternalEvent.Create(new PumpHandler());
                // Created here, on Revit's main thread, which so becomes the host's main thread.
                Core = new LoaderCore(settings, new ExternalEventScheduler(pumpEvent));
            }
            catch (Exception e) when (e is PlugHostException || e is FormatException || e is IOException)
            {
                TaskDialog.Show("PlugHost", "The PlugHost loader could not start: " + e.Message);
                return Result.Failed;
            }

            application.CreateRibbonTab(TabName);
            RibbonPanel panel = application.CreateRibbonPanel(TabName, PanelName);
            string assembly = typeof(App).Assembly.Location;
            AddButton(panel, assembly, "PlugHostLoad", "Load", typeof(LoadCommand), "Load the configured work module.");
            AddButton(panel, assembly, "PlugHostUnload", "Unload", typeof(UnloadCommand), "Unload the work module.");
            AddButton(panel, assembly, "PlugHostReload", "Reload", typeof(ReloadCommand), "Reload the work module from its (rebuilt) file; its state is handed over.");
            AddButton(panel, assembly, "PlugHostExecute", "Execute", typeof(ExecuteCommand), "Run the configured command of the work module without blocking Revit.");
            RefreshStatus();
            return Result.Succeeded;
        }

        public Result OnShutdown(UIControlledApplication application)
        {
            if (Core != null)
            {
                Core.Dispose();
                Core = null;
            }
            if (pumpEvent != null)
            {
                pumpEvent.Dispose();
                pumpEvent = null;
            }
            Buttons.Clear();
            return Result.Succeeded;
        }

        private static void AddButton(RibbonPanel panel, string assembly, string name, string text, Type command, string description)
        {
            var data = new PushButtonData(name, text, assembly, command.FullName) { ToolTip = description };
            Buttons.Add(new KeyValuePair<RibbonItem, string>(panel.AddItem(data), description));
        }

        /// <summary>Show the loader's status in the buttons' tooltips (call on Revit's thread).</summary>
        internal static void RefreshStatus()
        {
            if (Core == null)
            {
                return;
            }
            string status = Core.StatusText;
            foreach (KeyValuePair<RibbonItem, string> button in Buttons)
            {
                button.Key.ToolTip = button.Value + "\n\n" + status;
            }
        }

        /// <summary>Show a command's result: a dialog on success, Revit's failure message otherwise.</summary>
        internal static Result Show(LoaderResult result, ref string message)
        {
            RefreshStatus();
            if (!result.Success)
            {
                message = result.Message;
                return Result.Failed;
            }
            TaskDialog.Show("PlugHost", result.Message);
            return Result.Succeeded;
        }
    }

    /// <summary>Asks Revit for its main thread by raising the ExternalEvent (callable from any thread).</summary>
    internal sealed class ExternalEventScheduler : IPumpScheduler
    {
        private readonly ExternalEvent externalEvent;

        internal ExternalEventScheduler(ExternalEvent externalEvent)
        {
            this.externalEvent = externalEvent;
        }

        public void Request()
        {
            externalEvent.Raise();
        }
    }

    /// <summary>
    /// Runs on Revit's main thread when the ExternalEvent was raised: runs the queued main-thread
    /// calls, then shows the results of Execute that finished on a worker thread.
    /// </summary>
    public sealed class PumpHandler : IExternalEventHandler
    {
        public void Execute(UIApplication app)
        {
            LoaderCore core = App.Core;
            if (core == null)
            {
                return;
            }
            try
            {
                core.PumpNow();
            }
            catch (PlugHostException e)
            {
                TaskDialog.Show("PlugHost", "Pumping main-thread calls failed: " + e.Message);
            }
            LoaderResult result;
            while (core.TryTakeCompleted(out result))
            {
                TaskDialog.Show("PlugHost", result.Message);
            }
            App.RefreshStatus();
        }

        public string GetName()
        {
            return "PlugHost main-thread pump";
        }
    }
}
