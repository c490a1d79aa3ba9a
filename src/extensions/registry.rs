//! A host's extensions: the last scan and resolution, the module extensions it loaded, and the
//! changes a rescan makes (published on the bus).
//!
//! Module extensions are loaded in resolved order through the module manager (so trust, shadow
//! copies and health apply to them) and unloaded in reverse when they disappear, change or become
//! blocked; one that fails to load blocks its dependents. Plugin extensions found at start become
//! plugins (the plugin manager takes them); ones found later wait for the next start. Python
//! extensions are recorded with their entry for the Python pool.

use super::discovery::{scan, Root, Scan};
use super::manifest::{Kind, Manifest, MANIFEST_FILE};
use super::resolve::{resolve, Resolution};
use crate::config::{ExtensionsConfig, PluginSpec};
use crate::host::HostShared;
use crate::modules::{ModuleId, ModuleManager};
use parking_lot::Mutex;
use semver::Version;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

/// Published when an extension became available (a module extension: once loaded):
/// `{"name", "version", "kind", "module_id"}` (`module_id` null for other kinds).
pub const ADDED_TOPIC: &str = "plughost.extension.added";
/// Published when an extension went away (a module extension: once unloaded): `{"name", "kind"}`.
pub const REMOVED_TOPIC: &str = "plughost.extension.removed";
/// Published when new problems appear: `{"name", "problems"}` (`name` null for a manifest that
/// could not be read).
pub const FAILED_TOPIC: &str = "plughost.extension.failed";

/// One discovered extension.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ExtensionStatus {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its kind.
    pub kind: Kind,
    /// The entry's full path.
    pub entry: String,
    /// The manifest's path.
    pub manifest: String,
    /// Its description.
    pub description: String,
    /// Its dependencies as `name range`.
    pub dependencies: Vec<String>,
    /// `loaded` (a module), `plugin` (handed to the plugin manager), `ready` (Python, for the
    /// pool), `restart-needed` (a plugin found after start), `blocked` (problems) or `failed` (a
    /// module that did not load).
    pub state: &'static str,
    /// Why it is blocked or failed.
    pub problems: Vec<String>,
    /// The module id of a loaded module extension.
    pub module_id: Option<u64>,
}

/// All extensions of a host (the JSON of `plughost_host_extensions_json`).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ExtensionsReport {
    /// The usable extensions' names in load order.
    pub order: Vec<String>,
    /// Every discovered extension, in scan order.
    pub extensions: Vec<ExtensionStatus>,
    /// Every problem: manifests that could not be read and the problems of each extension.
    pub problems: Vec<String>,
}

impl ExtensionsReport {
    /// The usable extensions of `kind`, in load order (for example the Python extensions the
    /// Python pool is to run, with their entries).
    pub fn usable(&self, kind: Kind) -> Vec<&ExtensionStatus> {
        self.order
            .iter()
            .filter_map(|name| self.extensions.iter().find(|e| &e.name == name && e.problems.is_empty()))
            .filter(|e| e.kind == kind)
            .collect()
    }
}

/// A loaded module extension.
struct Loaded {
    id: ModuleId,
    entry: PathBuf,
    version: Version,
}

#[derive(Default)]
struct State {
    report: ExtensionsReport,
    /// Loaded module extensions in load order.
    loaded: Vec<(String, Loaded)>,
}

/// The extensions of one host.
pub struct Registry {
    config: ExtensionsConfig,
    modules: Arc<ModuleManager>,
    shared: Arc<HostShared>,
    /// The plugin extensions handed to the plugin manager at start.
    plugins: Vec<PluginSpec>,
    first: Mutex<Option<(Scan, Resolution)>>,
    state: Mutex<State>,
}

impl Registry {
    /// Scan and resolve the extensions of `config` (nothing is loaded yet).
    pub fn new(config: &ExtensionsConfig, modules: Arc<ModuleManager>, shared: Arc<HostShared>) -> Self {
        let (found, resolution) = discover(config);
        let mut plugins = Vec::new();
        let mut first = (found, resolution);
        for &i in &first.1.order {
            let m = &first.0.manifests[i];
            if m.kind == Kind::Plugin {
                match m.plugin_spec() {
                    Ok(spec) => plugins.push(spec),
                    Err(e) => {
                        first.1.blocked.insert(i, vec![e.message().to_owned()]);
                    }
                }
            }
        }
        first.1.order.retain(|i| !first.1.blocked.contains_key(i));
        Registry {
            config: config.clone(),
            modules,
            shared,
            plugins,
            first: Mutex::new(Some(first)),
            state: Mutex::new(State::default()),
        }
    }

    /// The plugins declared by plugin extensions found at start.
    pub fn plugin_specs(&self) -> Vec<PluginSpec> {
        self.plugins.clone()
    }

    /// The folders scanned: the search paths, then the store.
    pub fn roots(&self) -> Vec<PathBuf> {
        self.config.search_paths.iter().chain(&self.config.store_directory).cloned().collect()
    }

    /// Load what the scan at start found (host start).
    pub fn start(&self) {
        let first = self.first.lock().take();
        let (found, resolution) = first.unwrap_or_else(|| discover(&self.config));
        self.apply(found, resolution);
    }

    /// Scan the folders again and apply the differences: load new module extensions, unload those
    /// gone or changed, publish the changes. Returns the new report.
    pub fn rescan(&self) -> ExtensionsReport {
        let (found, resolution) = discover(&self.config);
        self.apply(found, resolution)
    }

    /// The current report.
    pub fn report(&self) -> ExtensionsReport {
        self.state.lock().report.clone()
    }

    /// The module id of the loaded module extension `name`.
    pub fn module_id(&self, name: &str) -> Option<ModuleId> {
        self.state.lock().loaded.iter().find(|(n, _)| n == name).map(|(_, l)| l.id)
    }

    fn publish(&self, topic: &str, payload: serde_json::Value) {
        let _ = self.shared.events.publish(topic, "host", payload.to_string().as_bytes());
    }

    fn apply(&self, found: Scan, resolution: Resolution) -> ExtensionsReport {
        let mut state = self.state.lock();
        let manifests = &found.manifests;
        let wanted: BTreeMap<&str, &Manifest> = resolution
            .order
            .iter()
            .map(|&i| &manifests[i])
            .filter(|m| m.kind == Kind::Module)
            .map(|m| (m.name.as_str(), m))
            .collect();
        // Unload, in reverse load order, what is gone, blocked or changed.
        let mut kept = Vec::new();
        for (name, loaded) in std::mem::take(&mut state.loaded).into_iter().rev() {
            let same = wanted
                .get(name.as_str())
                .is_some_and(|m| m.entry_path() == loaded.entry && m.version == loaded.version);
            if same {
                kept.push((name, loaded));
            } else {
                self.unload(&name, &loaded);
            }
        }
        kept.reverse();
        state.loaded = kept;

        let mut blocked = resolution.blocked;
        let mut order = Vec::new();
        for &i in &resolution.order {
            let m = &manifests[i];
            if let Some(dep) = m
                .dependencies
                .iter()
                .find(|(d, _)| manifests.iter().position(|o| &o.name == d).is_some_and(|j| blocked.contains_key(&j)))
            {
                let text = format!("{}: depends on \"{}\", which failed to load", m.origin.display(), dep.0);
                blocked.insert(i, vec![text]);
                continue;
            }
            if m.kind == Kind::Module && !state.loaded.iter().any(|(n, _)| *n == m.name) {
                match self.modules.load(&m.entry_path()) {
                    Ok(id) => {
                        tracing::info!(extension = %m.name, "module extension loaded");
                        state
                            .loaded
                            .push((m.name.clone(), Loaded { id, entry: m.entry_path(), version: m.version.clone() }));
                    }
                    Err(e) => {
                        blocked.insert(i, vec![format!("{}: the module did not load: {e}", m.origin.display())]);
                        continue;
                    }
                }
            }
            order.push(i);
        }
        // A loaded one whose dependency failed to load just now is blocked too: unloaded.
        let index = |name: &str| manifests.iter().position(|m| m.name == name);
        let (stay, go): (Vec<_>, Vec<_>) = std::mem::take(&mut state.loaded)
            .into_iter()
            .partition(|(n, _)| index(n).is_none_or(|i| !blocked.contains_key(&i)));
        for (name, loaded) in go.iter().rev() {
            self.unload(name, loaded);
        }
        state.loaded = stay;

        let previous = std::mem::take(&mut state.report);
        let plugin_names: BTreeSet<&str> = self.plugins.iter().map(|p| p.name.as_str()).collect();
        let mut report = ExtensionsReport {
            order: order.iter().map(|&i| manifests[i].name.clone()).collect(),
            extensions: Vec::new(),
            problems: found.problems.clone(),
        };
        for (i, m) in manifests.iter().enumerate() {
            let problems = blocked.get(&i).cloned().unwrap_or_default();
            let module_id = state.loaded.iter().find(|(n, _)| *n == m.name && problems.is_empty()).map(|(_, l)| l.id.0);
            let state = match (m.kind, problems.is_empty()) {
                (_, false) if m.kind == Kind::Module && problems.iter().any(|p| p.contains("did not load")) => "failed",
                (_, false) => "blocked",
                (Kind::Module, true) => "loaded",
                (Kind::Python, true) => "ready",
                (Kind::Plugin, true) if plugin_names.contains(m.name.as_str()) => "plugin",
                (Kind::Plugin, true) => "restart-needed",
            };
            report.problems.extend(problems.iter().cloned());
            report.extensions.push(ExtensionStatus {
                name: m.name.clone(),
                version: m.version.to_string(),
                kind: m.kind,
                entry: m.entry_path().display().to_string(),
                manifest: m.origin.display().to_string(),
                description: m.description.clone(),
                dependencies: m.dependencies.iter().map(|(d, r)| format!("{d} {r}")).collect(),
                state,
                problems,
                module_id,
            });
        }
        self.announce(&previous, &report);
        for problem in report.problems.iter().filter(|p| !previous.problems.contains(p)) {
            tracing::error!(problem = %problem, "extension not usable");
        }
        state.report = report.clone();
        report
    }

    fn unload(&self, name: &str, loaded: &Loaded) {
        if let Err(e) = self.modules.unload(loaded.id) {
            tracing::warn!(extension = %name, error = %e, "unloading a module extension failed");
        }
        tracing::info!(extension = %name, "module extension unloaded");
        self.publish(REMOVED_TOPIC, serde_json::json!({"name": name, "kind": "module"}));
    }

    /// Publish what changed between two reports.
    fn announce(&self, before: &ExtensionsReport, after: &ExtensionsReport) {
        let usable = |r: &ExtensionsReport, s: &ExtensionStatus| {
            r.order.contains(&s.name) && s.problems.is_empty() && (s.kind != Kind::Module || s.module_id.is_some())
        };
        let find =
            |r: &ExtensionsReport, name: &str| r.extensions.iter().find(|s| s.name == name && usable(r, s)).cloned();
        for s in after.extensions.iter().filter(|s| usable(after, s)) {
            if find(before, &s.name).is_none_or(|b| b.version != s.version || b.module_id != s.module_id) {
                let payload =
                    serde_json::json!({"name": s.name, "version": s.version, "kind": s.kind, "module_id": s.module_id});
                self.publish(ADDED_TOPIC, payload);
            }
        }
        for s in before.extensions.iter().filter(|s| usable(before, s) && s.kind != Kind::Module) {
            if find(after, &s.name).is_none() {
                self.publish(REMOVED_TOPIC, serde_json::json!({"name": s.name, "kind": s.kind}));
            }
        }
        for s in after.extensions.iter().filter(|s| !s.problems.is_empty()) {
            if s.problems.iter().any(|p| !before.problems.contains(p)) {
                self.publish(FAILED_TOPIC, serde_json::json!({"name": s.name, "problems": s.problems}));
            }
        }
        let unread: Vec<&String> = after
            .problems
            .iter()
            .filter(|p| !before.problems.contains(p) && !after.extensions.iter().any(|s| s.problems.contains(p)))
            .collect();
        if !unread.is_empty() {
            self.publish(FAILED_TOPIC, serde_json::json!({"name": null, "problems": unread}));
        }
    }
}

/// Scan the search paths (required) and the store (may not exist yet), then resolve.
fn discover(config: &ExtensionsConfig) -> (Scan, Resolution) {
    let mut roots: Vec<Root<'_>> = config.search_paths.iter().map(|p| Root { path: p, required: true }).collect();
    if let Some(store) = &config.store_directory {
        roots.push(Root { path: store, required: false });
    }
    let found = scan(&roots, MANIFEST_FILE);
    let host = Version::parse(crate::VERSION).expect("plughost's own version is semver");
    let resolution = resolve(&found.manifests, &host);
    (found, resolution)
}
