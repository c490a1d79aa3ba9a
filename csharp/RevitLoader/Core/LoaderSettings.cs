using System;
using System.IO;

namespace PlugHost.RevitLoader
{
    /// <summary>
    /// The loader's settings, read from PlugHost.RevitLoader.json beside the add-in:
    /// <code>
    /// {
    ///   "RevitLoader": { "ModulePath": "modules/mymodule/mymodule.dll", "Command": "run", "Input": "" },
    ///   "PlugHost": { "Modules": { "TrustedRoots": ["modules"] }, "Logging": { "Level": "info" } }
    /// }
    /// </code>
    /// "PlugHost" is the host configuration (README "Configuration"), passed on unchanged. Relative
    /// paths (ModulePath, and inside PlugHost the TrustedRoots and ShadowDirectory, which plughost
    /// resolves against the working directory) are best given absolute; ModulePath alone is resolved
    /// here against the settings file's folder.
    /// </summary>
    public sealed class LoaderSettings
    {
        public const string FileName = "PlugHost.RevitLoader.json";

        public LoaderSettings()
        {
            Command = "run";
            Input = string.Empty;
            HostConfigJson = string.Empty;
        }

        /// <summary>The work module to load (absolute, or relative to the settings file).</summary>
        public string ModulePath { get; set; }

        /// <summary>The command the Execute button runs.</summary>
        public string Command { get; set; }

        /// <summary>The input (UTF-8 text) the Execute button passes.</summary>
        public string Input { get; set; }

        /// <summary>The host configuration document ({"PlugHost": {...}}), empty for the defaults.</summary>
        public string HostConfigJson { get; set; }

        /// <summary>Where the settings came from (for messages), or null.</summary>
        public string Source { get; set; }

        /// <summary>Parse a settings document; relative ModulePath resolves against <paramref name="baseDirectory"/>.</summary>
        /// <exception cref="FormatException">Not valid JSON, or a member of the wrong type.</exception>
        public static LoaderSettings FromJson(string json, string baseDirectory)
        {
            JsonValue root = JsonValue.Parse(json);
            if (root.Kind != JsonKind.Object)
            {
                throw new FormatException("the settings must be a JSON object");
            }
            var settings = new LoaderSettings();
            JsonValue loader = root["RevitLoader"];
            settings.ModulePath = Text(loader, "ModulePath", null);
            settings.Command = Text(loader, "Command", settings.Command);
            settings.Input = Text(loader, "Input", settings.Input);
            if (!string.IsNullOrEmpty(settings.ModulePath) && !Path.IsPathRooted(settings.ModulePath) && baseDirectory != null)
            {
                settings.ModulePath = Path.GetFullPath(Path.Combine(baseDirectory, settings.ModulePath));
            }
            JsonValue host = root["PlugHost"];
            if (!host.IsNull)
            {
                settings.HostConfigJson = "{\"PlugHost\": " + host.Raw + "}";
            }
            return settings;
        }

        /// <summary>Read a settings file; a missing file gives the defaults (nothing to load yet).</summary>
        public static LoaderSettings FromFile(string path)
        {
            if (!File.Exists(path))
            {
                return new LoaderSettings { Source = path };
            }
            LoaderSettings settings = FromJson(File.ReadAllText(path), Path.GetDirectoryName(Path.GetFullPath(path)));
            settings.Source = path;
            return settings;
        }

        private static string Text(JsonValue section, string name, string fallback)
        {
            JsonValue value = section[name];
            if (value.IsNull)
            {
                return fallback;
            }
            if (value.Kind != JsonKind.String)
            {
                throw new FormatException("RevitLoader." + name + " must be a string, found " + value.Raw);
            }
            return value.AsString;
        }
    }
}
