//! Plugin manifests: `<search path>/<folder>/plugin.toml` in `PlugHost.Plugins.SearchPaths`,
//! found at host start. They are extension manifests (`crate::extensions::manifest`, the one reader
//! of every kind) of kind `plugin`; a manifest of another kind is skipped here.
//!
//! ```toml
//! [extension]
//! name = "analytics"        # the plugin's name
//! version = "1.0.0"
//! kind = "plugin"
//! entry = "analytics"       # the program, relative to the manifest's folder
//!
//! [plugin]                  # optional: the keys of a PlugHost.Plugins.Declared entry except Name and Path
//! Restart = "on-failure"
//! MaxRestarts = 5
//! Config = { threshold = 3 }
//! ```
//!
//! Dependencies and host compatibility are resolved only for extensions in
//! `PlugHost.Extensions.SearchPaths` (`extension.toml`), which can be plugins too.

use crate::config::PluginSpec;
use crate::extensions::discovery::{scan, Root};
use crate::extensions::manifest::Kind;
use std::path::PathBuf;

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
    let roots: Vec<Root<'_>> = search_paths.iter().map(|p| Root { path: p, required: true }).collect();
    let found = scan(&roots, MANIFEST_FILE);
    let mut discovered = Discovered { specs: Vec::new(), problems: found.problems };
    for manifest in found.manifests {
        if manifest.kind != Kind::Plugin {
            tracing::debug!(manifest = %manifest.origin.display(), "not a plugin manifest; skipped");
            continue;
        }
        match manifest.plugin_spec() {
            Ok(spec) => discovered.specs.push(spec),
            Err(e) => discovered.problems.push(e.message().to_owned()),
        }
    }
    discovered
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

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
        std::fs::create_dir_all(dir.path().join("analytics/bin")).unwrap();
        std::fs::write(dir.path().join("analytics/bin/analytics"), "").unwrap();
        write(
            dir.path(),
            "module",
            "[extension]\nname = \"m\"\nversion = \"1.0.0\"\nkind = \"module\"\nentry = \"m.so\"\n",
        );
        std::fs::write(dir.path().join("module/m.so"), "").unwrap();
        write(dir.path(), "broken", "[extension\n");
        write(dir.path(), "bad", "[extension]\nname = \"a b\"\nkind = \"plugin\"\nentry = \"/abs\"\n[other]\n");
        write(
            dir.path(),
            "typo",
            "[extension]\nname = \"t\"\nversion = \"1.0.0\"\nkind = \"plugin\"\nentry = \"plugin.toml\"\n[plugin]\nRestrat = \"never\"\n",
        );
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
            "entry must be a path relative",
            "unknown table [other]",
            "broken/plugin.toml: not valid TOML",
            "typo/plugin.toml: [plugin].Restrat: unknown key; did you mean \"Restart\"?",
            "missing",
        ] {
            assert!(problems.contains(expected), "{expected:?} missing from:\n{problems}");
        }
    }
}
