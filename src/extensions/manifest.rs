//! The one manifest reader of every kind of extension (`extension.toml`, and the plugins'
//! `plugin.toml`).
//!
//! ```toml
//! [extension]
//! name = "geometry"            # 1 to 64 letters, digits, '.', '_' or '-'
//! version = "1.2.0"            # semver
//! kind = "module"              # "module" (native work module), "python" (script or package), "plugin" (process)
//! entry = "lib/libgeometry.so" # relative to the manifest's folder, inside it
//! description = "Walls and slabs"
//!
//! [dependencies]               # other extensions and the versions this one works with
//! units = "^1.0"
//!
//! [host]                       # the plughost versions this extension works with
//! plughost = ">=0.1, <0.3"
//!
//! [plugin]                     # kind "plugin" only: the keys of a PlugHost.Plugins.Declared entry except Name and Path
//! Restart = "always"
//! ```
//!
//! Every problem of a manifest is reported at once, each prefixed with the manifest's path.

use crate::config::{spec_from_manifest, valid_plugin_name, PluginSpec};
use semver::{Version, VersionReq};
use serde_json::{Map, Value};
use std::path::{Component, Path, PathBuf};

/// The manifest's file name in an extension's folder (and at the root of a package).
pub const MANIFEST_FILE: &str = "extension.toml";

/// What an extension is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A native work module, loaded by the module manager.
    Module,
    /// A Python script (a `.py` file) or package (a folder), run by the Python pool.
    Python,
    /// An out-of-process plugin program, supervised by the plugin manager.
    Plugin,
}

impl Kind {
    /// The name written in manifests.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Module => "module",
            Kind::Python => "python",
            Kind::Plugin => "plugin",
        }
    }

    fn parse(text: &str) -> Option<Kind> {
        [Kind::Module, Kind::Python, Kind::Plugin].into_iter().find(|k| k.name() == text)
    }
}

/// A manifest that was read without problems.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// The extension's unique name.
    pub name: String,
    /// Its version.
    pub version: Version,
    /// Its kind.
    pub kind: Kind,
    /// The entry as written (relative to the manifest's folder, `/`-separated).
    pub entry: String,
    /// One line for people.
    pub description: String,
    /// The extensions it needs, with the versions it works with, sorted by name.
    pub dependencies: Vec<(String, VersionReq)>,
    /// The plughost versions it works with (`None`: any).
    pub host: Option<VersionReq>,
    /// The manifest's file (or, in a package, `<package>!extension.toml`).
    pub origin: PathBuf,
    /// Its kind's own table (`[plugin]`), as JSON; empty when absent.
    pub kind_table: Map<String, Value>,
}

impl Manifest {
    /// The folder the manifest is in.
    pub fn folder(&self) -> &Path {
        self.origin.parent().unwrap_or(Path::new("."))
    }

    /// The entry's full path.
    pub fn entry_path(&self) -> PathBuf {
        self.folder().join(&self.entry)
    }

    /// The plugin this manifest declares (kind `plugin`), with its `[plugin]` settings.
    pub fn plugin_spec(&self) -> crate::Result<PluginSpec> {
        let origin = self.origin.display().to_string();
        spec_from_manifest(&Value::Object(self.kind_table.clone()), &self.name, self.entry_path(), &origin)
    }
}

/// Read the manifest file at `path`: the manifest, or every problem (each prefixed with the path).
pub fn read(path: &Path) -> Result<Manifest, Vec<String>> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| vec![format!("{origin}: {e}")])?;
    parse(&text, path)
}

/// Parse manifest text whose file is `origin` (used for the entry's folder and in messages).
pub fn parse(text: &str, origin: &Path) -> Result<Manifest, Vec<String>> {
    let at = origin.display().to_string();
    let document: toml::Table = toml::from_str(text).map_err(|e| vec![format!("{at}: not valid TOML: {e}")])?;
    let json = serde_json::to_value(&document).map_err(|e| vec![format!("{at}: {e}")])?;
    let mut problems = Vec::new();
    let mut problem = |text: String| problems.push(format!("{at}: {text}"));
    let empty = Map::new();
    let table = |key: &str, problem: &mut dyn FnMut(String)| match json.get(key) {
        None => Some(&empty),
        Some(Value::Object(o)) => Some(o),
        Some(_) => {
            problem(format!("[{key}] must be a table"));
            None
        }
    };
    if json.get("extension").is_none() {
        problem("no [extension] table".into());
    }
    let extension = table("extension", &mut problem).unwrap_or(&empty);
    for key in extension.keys().filter(|k| !["name", "version", "kind", "entry", "description"].contains(&k.as_str())) {
        problem(format!("[extension] unknown key {key:?}"));
    }
    let field = |key: &str| extension.get(key).and_then(Value::as_str);
    let name = field("name").filter(|n| valid_name(n));
    if name.is_none() {
        problem(
            "[extension] name must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit".into(),
        );
    }
    let version = match field("version").map(Version::parse) {
        Some(Ok(v)) => Some(v),
        Some(Err(e)) => {
            problem(format!(
                "[extension] version {:?} is not a semantic version (like 1.2.0): {e}",
                field("version").unwrap_or("")
            ));
            None
        }
        None => {
            problem("[extension] needs a version (like 1.2.0)".into());
            None
        }
    };
    let kind = field("kind").and_then(Kind::parse);
    if kind.is_none() {
        problem(format!(
            "[extension] kind must be \"module\", \"python\" or \"plugin\", found {:?}",
            field("kind").unwrap_or("")
        ));
    }
    let entry = field("entry").filter(|e| is_inside(e));
    if entry.is_none() {
        problem("[extension] entry must be a path relative to the manifest's folder and inside it".into());
    }
    if extension.get("description").is_some_and(|d| !d.is_string()) {
        problem("[extension] description must be a string".into());
    }

    let mut dependencies = Vec::new();
    for (dep, range) in table("dependencies", &mut problem).unwrap_or(&empty) {
        if !valid_name(dep) {
            problem(format!("[dependencies] {dep:?} is not a valid extension name"));
        }
        match range.as_str().map(VersionReq::parse) {
            Some(Ok(req)) => dependencies.push((dep.clone(), req)),
            Some(Err(e)) => problem(format!("[dependencies] {dep} = {range}: not a version range: {e}")),
            None => problem(format!("[dependencies] {dep} must be a version range string like \"^1.2\"")),
        }
    }
    let host_table = table("host", &mut problem).unwrap_or(&empty);
    for key in host_table.keys().filter(|k| *k != "plughost") {
        problem(format!("[host] unknown key {key:?}; only plughost"));
    }
    let host = match host_table.get("plughost").map(|v| v.as_str().map(VersionReq::parse)) {
        None => None,
        Some(Some(Ok(req))) => Some(req),
        Some(Some(Err(e))) => {
            problem(format!("[host] plughost is not a version range: {e}"));
            None
        }
        Some(None) => {
            problem("[host] plughost must be a version range string like \">=0.1\"".into());
            None
        }
    };
    let kind_table = table("plugin", &mut problem).cloned().unwrap_or_default();
    if json.get("plugin").is_some() && kind.is_some_and(|k| k != Kind::Plugin) {
        problem("[plugin] belongs to extensions of kind \"plugin\" only".into());
    }
    if let Some(unknown) = json
        .as_object()
        .and_then(|o| o.keys().find(|k| !["extension", "dependencies", "host", "plugin"].contains(&k.as_str())))
    {
        problem(format!("unknown table [{unknown}]"));
    }
    match (name, version, kind, entry) {
        (Some(name), Some(version), Some(kind), Some(entry)) if problems.is_empty() => Ok(Manifest {
            name: name.to_owned(),
            version,
            kind,
            entry: entry.to_owned(),
            description: field("description").unwrap_or_default().to_owned(),
            dependencies,
            host,
            origin: origin.to_owned(),
            kind_table,
        }),
        _ => Err(problems),
    }
}

/// Whether `name` is a valid extension name: a valid plugin name that starts with a letter or digit
/// (so it is never `.`, `..` or a hidden folder in the store).
pub fn valid_name(name: &str) -> bool {
    valid_plugin_name(name) && name.starts_with(|c: char| c.is_ascii_alphanumeric())
}

/// Whether `path` is relative, `/`-separated and stays inside its folder (no `..`, no root, no
/// drive, no backslash).
pub fn is_inside(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\\')
        && !path.contains(':')
        && Path::new(path).components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> String {
        parse(text, Path::new("/x/extension.toml")).unwrap_err().join("\n")
    }

    #[test]
    fn a_full_manifest_is_read() {
        let m = parse(
            "[extension]\nname = \"geo\"\nversion = \"1.2.0\"\nkind = \"module\"\nentry = \"lib/geo.so\"\n\
             description = \"walls\"\n[dependencies]\nunits = \"^1.0\"\n[host]\nplughost = \">=0.1\"\n",
            Path::new("/x/geo/extension.toml"),
        )
        .unwrap();
        assert_eq!((m.name.as_str(), m.kind, m.description.as_str()), ("geo", Kind::Module, "walls"));
        assert_eq!(m.version, Version::new(1, 2, 0));
        assert_eq!(m.entry_path(), Path::new("/x/geo/lib/geo.so"));
        assert_eq!(m.dependencies, [("units".to_owned(), VersionReq::parse("^1.0").unwrap())]);
        assert!(m.host.unwrap().matches(&Version::new(0, 1, 0)));
    }

    #[test]
    fn every_problem_of_a_manifest_is_reported() {
        let all = problems(
            "[extension]\nname = \"a b\"\nversion = \"1\"\nkind = \"dll\"\nentry = \"../up\"\ncolour = 1\n\
             [dependencies]\n\"b c\" = \"^1\"\nd = \"one\"\ne = 2\n[host]\nplughost = \"around 1\"\nother = 1\n[plugin]\n[misc]\n",
        );
        for expected in [
            "/x/extension.toml: [extension] unknown key \"colour\"",
            "name must be 1 to 64",
            "version \"1\" is not a semantic version",
            "kind must be \"module\", \"python\" or \"plugin\", found \"dll\"",
            "entry must be a path relative",
            "[dependencies] \"b c\" is not a valid extension name",
            "[dependencies] d = \"one\": not a version range",
            "[dependencies] e must be a version range string",
            "[host] plughost is not a version range",
            "[host] unknown key \"other\"",
            "unknown table [misc]",
        ] {
            assert!(all.contains(expected), "{expected:?} missing from:\n{all}");
        }
        assert!(problems("[extension\n").contains("not valid TOML"));
        assert!(problems("x = 1\n").contains("no [extension] table"));
        assert!(problems(
            "[extension]\nversion = \"1.0.0\"\nkind = \"python\"\nentry = \"a.py\"\nname = \"p\"\n[plugin]\n"
        )
        .contains("[plugin] belongs to extensions of kind \"plugin\" only"));
        for bad in ["..", ".hidden", "-x", ""] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(valid_name("a.b-c_1") && valid_name("1x"));
        for bad in ["/abs", "a/../../b", "..", "c:\\x", "a\\b", ""] {
            assert!(!is_inside(bad), "{bad}");
        }
        assert!(is_inside("a/b.so") && is_inside("./a"));
    }
}
