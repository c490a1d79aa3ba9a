using System;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Threading;
using System.Xml;
using Autodesk.Revit.Attributes;
using Autodesk.Revit.DB;
using Autodesk.Revit.UI;
using NUnit.Framework;
using PlugHost.Tests;

namespace PlugHost.RevitLoader.Tests
{
    /// <summary>
    /// The shell against the Revit API stub (tests/RevitApiStub): it compiles against the API's
    /// signatures, and its wiring (ribbon, commands, pump handler, manifest) is checked. Revit itself
    /// never runs here.
    /// </summary>
    [TestFixture]
    public class ShellTests
    {
        private static Assembly Shell
        {
            get { return typeof(App).Assembly; }
        }

        [Test]
        public void ManifestNamesTheApplicationClass()
        {
            string path = Path.Combine(Fixtures.Repo, "csharp", "RevitLoader", "PlugHost.RevitLoader.addin");
            var document = new XmlDocument();
            document.Load(path);
            XmlElement addIn = (XmlElement)document.DocumentElement.SelectSingleNode("AddIn");
            Assert.AreEqual("Application", addIn.GetAttribute("Type"));
            Type app = Shell.GetType(addIn["FullClassName"].InnerText);
            Assert.IsNotNull(app);
            Assert.IsTrue(typeof(IExternalApplication).IsAssignableFrom(app));
            Guid id;
            Assert.IsTrue(Guid.TryParse(addIn["AddInId"].InnerText, out id));
            Assert.IsNotEmpty(addIn["VendorId"].InnerText);
            Assert.AreEqual(Path.GetFileName(Shell.Location), Path.GetFileName(addIn["Assembly"].InnerText.Replace('\\', '/')));
        }

        [Test]
        public void StartupBuildsTheRibbonAndTheCommandsUseTheCore()
        {
            StubRecord.Clear();
            var app = new App();
            var ui = new UIControlledApplication();
            Assert.AreEqual(Result.Succeeded, app.OnStartup(ui));
            try
            {
                CollectionAssert.Contains(StubRecord.Calls, "CreateRibbonTab PlugHost");
                CollectionAssert.Contains(StubRecord.Calls, "CreateRibbonPanel PlugHost/Work module");
                var buttons = StubRecord.ItemData.Cast<PushButtonData>().ToList();
                CollectionAssert.AreEqual(new[] { "Load", "Unload", "Reload", "Execute" }, buttons.Select(b => b.Text).ToArray());
                foreach (PushButtonData button in buttons)
                {
                    Assert.AreEqual(Shell.Location, button.AssemblyName);
                    Type command = Shell.GetType(button.ClassName);
                    Assert.IsNotNull(command, button.ClassName);
                    Assert.IsTrue(typeof(IExternalCommand).IsAssignableFrom(command));
                    var transaction = (TransactionAttribute)command.GetCustomAttributes(typeof(TransactionAttribute), false).Single();
                    Assert.AreEqual(TransactionMode.Manual, transaction.Mode);
                }
                StringAssert.Contains("No module loaded", StubRecord.Items[0].ToolTip, "the status is shown");

                // No settings file beside the test build: Load explains what to configure.
                string message = null;
                Assert.AreEqual(Result.Failed, new LoadCommand().Execute(new ExternalCommandData(), ref message, new ElementSet()));
                StringAssert.StartsWith("No module is configured: set RevitLoader.ModulePath", message);
                message = null;
                Assert.AreEqual(Result.Failed, new UnloadCommand().Execute(new ExternalCommandData(), ref message, new ElementSet()));
                Assert.AreEqual("No module is loaded.", message);

                // Execute returns at once; its result is shown from the pump handler on Revit's thread.
                ExternalEvent pump = StubRecord.Events.Single();
                message = null;
                Assert.AreEqual(Result.Succeeded, new ExecuteCommand().Execute(new ExternalCommandData(), ref message, new ElementSet()));
                Wait.Until(() => pump.RaiseCount > 0, "the pump request");
                pump.RunHandlerAsRevitWould();
                Assert.IsTrue(StubRecord.Calls.Any(c => c.StartsWith("TaskDialog PlugHost: No module is configured")));
                Assert.AreEqual("PlugHost main-thread pump", new PumpHandler().GetName());
            }
            finally
            {
                Assert.AreEqual(Result.Succeeded, app.OnShutdown(ui));
            }
            CollectionAssert.Contains(StubRecord.Calls, "ExternalEvent.Dispose");
            string after = null;
            Assert.AreEqual(Result.Failed, new ReloadCommand().Execute(new ExternalCommandData(), ref after, new ElementSet()));
            StringAssert.Contains("did not start", after);
        }
    }
}
