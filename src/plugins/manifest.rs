//! Plugin manifests: `<search path>/<folder>/plugin.toml`, found at host start.
//!
//! ```toml
//! [extension]
//! name = "analytics"        # the plugin's name
//! version = "1.0.0"
//! kind = "plugin"           # other kinds (modules, Python) belong to other subsystems: skipped
//! entry = "analytics"       # the program, relative to the manifest's folder
//!
//! [plugin]                  # optional: the keys of a PlugHost.Plugins.Declared entry except Name and Path
//! Restart = "on-failure"
//! MaxRestarts = 5
//! Config = { threshold = 3 }
//! ```
//!
//! The `[extension]` table is the part every kind of extension shares (later: dependencies and
//! host compatibility); `[plugin]` is this kind's own.

use crate::config::{spec_from_manifest, valid_plugin_name, PluginSpec};
use std::path::{Path, PathBuf};

/// The manifest's file name.
pub const MANIFEST_FILE: &str = "plugin.toml";

/// What a scan of the search paths found.
#[derive(Debug, Default)]
pub struct Discovered {
    /// Plugins of valid manifests.
    pub specs: Vec<PluginSpec>,
    /// Manifests that could not be used, each with every problem it has.
    pub problems: Vec<String>,
}

/// Scan `search_paths` for `*/plugin.toml` manifests of kind `plugin`. A missing search path is a
/// problem; a manifest of another kind is skipped.
pub fn discover(search_paths: &[PathBuf]) -> Discovered {
    let mut found = Discovered::default();
    for dir in search_paths {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                found.problems.push(format!("plugin search path {}: {e}", dir.display()));
                continue;
            }
        };
        let mut manifests: Vec<PathBuf> =
            entries.flatten().map(|e| e.path().join(MANIFEST_FILE)).filter(|m| m.is_file()).collect();
        manifests.sort();
        for manifest in manifests {
            match read(&manifest) {
                Ok(Some(spec)) => found.specs.push(spec),
                Ok(None) => tracing::debug!(manifest = %manifest.display(), "not a plugin manifest; skipped"),
                Err(problem) => found.problems.push(problem),
            }
        }
    }
    found
}

/// Read one manifest: the plugin it declares, `None` for another kind, or every problem.
pub fn read(manifest: &Path) -> Result<Option<PluginSpec>, String> {
    let origin = manifest.display().to_string();
    let text = std::fs::read_to_string(manifest).map_err(|e| format!("{origin}: {e}"))?;
    let document: toml::Table = toml::from_str(&text).map_err(|e| format!("{origin}: not valid TOML: {e}"))?;
    let json = serde_json::to_value(&document).map_err(|e| format!("{origin}: {e}"))?;
    let extension =
        json.get("extension").and_then(|e| e.as_object()).ok_or(format!("{origin}: no [extension] table"))?;
    let field = |key: &str| extension.get(key).and_then(|v| v.as_str());
    if field("kind") != Some("plugin") {
        return match field("kind") {
            Some(_) => Ok(None),
            None => Err(format!("{origin}: [extension] needs kind = \"plugin\" (or another extension kind)")),
        };
    }
    let mut problems = Vec::new();
    let name = field("name").filter(|n| valid_plugin_name(n));
    if name.is_none() {
        problems.push("[extension] name must be 1 to 64 letters, digits, '.', '_' or '-'".to_owned());
    }
    if field("version").is_none_or(str::is_empty) {
        problems.push("[extension] needs a version".to_owned());
    }
    let entry = field("entry").filter(|e| !e.is_empty() && !Path::new(e).is_absolute());
    if entry.is_none() {
        problems.push("[extension] entry must name the program relative to the manifest's folder".to_owned());
    }
    if let Some(unknown) = json.as_object().and_then(|o| o.keys().find(|k| *k != "extension" && *k != "plugin")) {
        problems.push(format!("unknown table [{unknown}]"));
    }
    if !problems.is_empty() {
        return Err(format!("{origin}: {}", problems.join("; ")));
    }
    let (name, entry) = (name.unwrap_or_default(), entry.unwrap_or_default());
    let program = manifest.parent().unwrap_or(Path::new(".")).join(entry);
    let table = json.get("plugin").cloned().unwrap_or_else(|| serde_json::json!({}));
    spec_from_manifest(&table, name, program, &origin).map(Some).map_err(|e| e.message().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, folder: &str, text: &str) -> PathBuf {
        std::fs::create_dir_all(dir.join(folder)).unwrap();
        let path = dir.join(folder).join(MANIFEST_FILE);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn manifests_are_found_read_and_their_problems_reported() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "analytics",
            "[extension]\nname = \"analytics\"\nversion = \"1.0.0\"\nkind = \"plugin\"\nentry = \"bin/analytics\"\n\
             [plugin]\nRestart = \"always\"\nConfig = { threshold = 3 }\n",
        );
        write(
            dir.path(),
            "module",
            "[extension]\nname = \"m\"\nversion = \"1\"\nkind = \"native-module\"\nentry = \"m.so\"\n",
        );
        write(dir.path(), "broken", "[extension\n");
        write(dir.path(), "bad", "[extension]\nname = \"a b\"\nkind = \"plugin\"\nentry = \"/abs\"\n[other]\n");
        write(dir.path(), "typo", "[extension]\nname = \"t\"\nversion = \"1\"\nkind = \"plugin\"\nentry = \"t\"\n[plugin]\nRestrat = \"never\"\n");
        let found = discover(&[dir.path().to_path_buf(), dir.path().join("missing")]);
        assert_eq!(found.specs.len(), 1, "{:?}", found.problems);
        let spec = &found.specs[0];
        assert_eq!(spec.name, "analytics");
        assert_eq!(spec.program, dir.path().join("analytics/bin/analytics"));
        assert_eq!(spec.config, r#"{"threshold":3}"#);
        assert_eq!(spec.restart, crate::config::RestartPolicy::Always);
        assert!(spec.origin.ends_with("analytics/plugin.toml"));
        let problems = found.problems.join("\n");
        for expected in [
            "bad/plugin.toml: [extension] name must be",
            "needs a version",
            "entry must name the program relative",
            "unknown table [other]",
            "broken/plugin.toml: not valid TOML",
            "typo/plugin.toml: [plugin].Restrat: unknown key; did you mean \"Restart\"?",
            "missing",
        ] {
            assert!(problems.contains(expected), "{expected:?} missing from:\n{problems}");
        }
    }
}
