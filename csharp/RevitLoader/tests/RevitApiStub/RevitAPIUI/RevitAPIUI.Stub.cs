// STUB of the Revit UI API (RevitAPIUI.dll) for compilation tests only. Revit cannot run here, so the
// loader's shell (csharp/RevitLoader/Shell) is compiled against these few types, declared with the
// namespaces and signatures of the real API. Where the shell's tests need to observe a call (ribbon
// items created, dialogs shown, events raised), the stub records it in a static Recorded list; the
// real API has no such members. It is not Autodesk's API and is never deployed.
using System;
using System.Collections.Generic;
using Autodesk.Revit.DB;

namespace Autodesk.Revit.UI
{
    /// <summary>STUB: the result of a command or application event.</summary>
    public enum Result
    {
        Failed = -1,
        Succeeded = 0,
        Cancelled = 1,
    }

    /// <summary>STUB: an add-in application (OnStartup / OnShutdown).</summary>
    public interface IExternalApplication
    {
        Result OnStartup(UIControlledApplication application);

        Result OnShutdown(UIControlledApplication application);
    }

    /// <summary>STUB: an external command behind a ribbon button.</summary>
    public interface IExternalCommand
    {
        Result Execute(ExternalCommandData commandData, ref string message, ElementSet elements);
    }

    /// <summary>STUB: what Revit passes to a command.</summary>
    public class ExternalCommandData
    {
        public UIApplication Application { get; set; }
    }

    /// <summary>STUB: the running Revit session (UI).</summary>
    public class UIApplication
    {
    }

    /// <summary>STUB: the application as seen during OnStartup.</summary>
    public class UIControlledApplication
    {
        public void CreateRibbonTab(string tabName)
        {
            StubRecord.Add("CreateRibbonTab " + tabName);
        }

        public RibbonPanel CreateRibbonPanel(string tabName, string panelName)
        {
            StubRecord.Add("CreateRibbonPanel " + tabName + "/" + panelName);
            return new RibbonPanel { Name = panelName, Title = panelName };
        }
    }

    /// <summary>STUB: a ribbon panel.</summary>
    public class RibbonPanel
    {
        public string Name { get; set; }

        public string Title { get; set; }

        public RibbonItem AddItem(RibbonItemData itemData)
        {
            var push = itemData as PushButtonData;
            StubRecord.Add("AddItem " + itemData.Name + (push != null ? " " + push.ClassName : ""));
            var button = new PushButton { Name = itemData.Name, ItemText = itemData.Text, ToolTip = itemData.ToolTip, Enabled = true };
            StubRecord.Items.Add(button);
            StubRecord.ItemData.Add(itemData);
            return button;
        }
    }

    /// <summary>STUB: what a ribbon item is created from.</summary>
    public abstract class RibbonItemData
    {
        public string Name { get; set; }

        public string Text { get; set; }

        public string ToolTip { get; set; }

        public string LongDescription { get; set; }
    }

    /// <summary>STUB: data of a button.</summary>
    public abstract class ButtonData : RibbonItemData
    {
        protected ButtonData(string name, string text)
        {
            Name = name;
            Text = text;
        }
    }

    /// <summary>STUB: data of a push button: the command class it runs.</summary>
    public class PushButtonData : ButtonData
    {
        public PushButtonData(string name, string text, string assemblyName, string className)
            : base(name, text)
        {
            AssemblyName = assemblyName;
            ClassName = className;
        }

        public string AssemblyName { get; set; }

        public string ClassName { get; set; }
    }

    /// <summary>STUB: a ribbon item.</summary>
    public class RibbonItem
    {
        public string Name { get; set; }

        public string ItemText { get; set; }

        public string ToolTip { get; set; }

        public bool Enabled { get; set; }
    }

    /// <summary>STUB: a ribbon button.</summary>
    public class RibbonButton : RibbonItem
    {
    }

    /// <summary>STUB: a push button.</summary>
    public class PushButton : RibbonButton
    {
    }

    /// <summary>STUB: the handler Revit calls on its main thread when an ExternalEvent was raised.</summary>
    public interface IExternalEventHandler
    {
        void Execute(UIApplication app);

        string GetName();
    }

    /// <summary>STUB: the answer to ExternalEvent.Raise.</summary>
    public enum ExternalEventRequest
    {
        Accepted,
        Pending,
        Denied,
        TimedOut,
    }

    /// <summary>STUB: an event any thread may raise; Revit then runs its handler on the main thread.</summary>
    public class ExternalEvent : IDisposable
    {
        private readonly IExternalEventHandler handler;

        private ExternalEvent(IExternalEventHandler handler)
        {
            this.handler = handler;
        }

        public static ExternalEvent Create(IExternalEventHandler handler)
        {
            var e = new ExternalEvent(handler);
            StubRecord.Events.Add(e);
            return e;
        }

        public ExternalEventRequest Raise()
        {
            lock (StubRecord.Calls)
            {
                RaiseCount++;
            }
            return ExternalEventRequest.Accepted;
        }

        public void Dispose()
        {
            StubRecord.Add("ExternalEvent.Dispose");
        }

        /// <summary>Stub only: how often Raise was called.</summary>
        public int RaiseCount { get; private set; }

        /// <summary>Stub only: run the handler as Revit would on its main thread.</summary>
        public void RunHandlerAsRevitWould()
        {
            handler.Execute(new UIApplication());
        }
    }

    /// <summary>STUB: the result of a task dialog.</summary>
    public enum TaskDialogResult
    {
        None = 0,
        Ok = 1,
        Cancel = 2,
    }

    /// <summary>STUB: Revit's message box.</summary>
    public class TaskDialog
    {
        public static TaskDialogResult Show(string title, string mainInstruction)
        {
            StubRecord.Add("TaskDialog " + title + ": " + mainInstruction);
            return TaskDialogResult.Ok;
        }
    }

    /// <summary>Stub only (not in the real API): what the shell did, for its tests.</summary>
    public static class StubRecord
    {
        public static readonly List<string> Calls = new List<string>();
        public static readonly List<RibbonItem> Items = new List<RibbonItem>();
        public static readonly List<RibbonItemData> ItemData = new List<RibbonItemData>();
        public static readonly List<ExternalEvent> Events = new List<ExternalEvent>();

        public static void Add(string call)
        {
            lock (Calls)
            {
                Calls.Add(call);
            }
        }

        public static void Clear()
        {
            lock (Calls)
            {
                Calls.Clear();
            }
            Items.Clear();
            ItemData.Clear();
            Events.Clear();
        }
    }
}
