//! Host configuration: the JSON document (a `"PlugHost"` object, in the shape of an
//! `appsettings.json` section), its defaults, and its validation.
//!
//! Validation reports every problem at once, each with its JSON path; an unknown key is an error
//! that names the nearest known key. An empty document (or `{}`) gives working defaults. Relative
//! paths are resolved against the process's working directory when the host is created.

mod extensions;
mod ipc;
mod plugins;
pub mod profiles;
mod python;
mod reader;

pub use extensions::{ExtensionsConfig, TrustedKey};
pub use ipc::IpcSettings;
pub use plugins::{
    spec_from_manifest, valid_name as valid_plugin_name, PluginSpec, PluginsConfig, RestartPolicy,
    SPEC_KEYS as PLUGIN_KEYS,
};
pub use python::{PoolStart, PythonConfig, PythonMode, PythonSandbox};
pub use reader::Problem;

use crate::error::{Error, ErrorKind, Result};
use reader::Reader;
use std::path::PathBuf;
use std::time::Duration;

/// The validated configuration of a host.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Work modules.
    pub modules: ModulesConfig,
    /// The profile whose preset was merged under the document (`PlugHost.Profile`), if any.
    pub profile: Option<&'static str>,
    /// The initial log level (0 = off .. 5 = trace, as in `log_level`).
    pub log_level: u32,
    /// The health monitor (`PlugHost.Health`).
    pub health: HealthConfig,
    /// How long a call to a main-thread service waits to be pumped before it fails.
    pub main_thread_call_timeout: Duration,
    /// Upper bound of the key-value storage (keys plus values), in bytes.
    pub storage_max_bytes: u64,
    /// Events kept per topic for late readers.
    pub event_history_per_topic: usize,
    /// IPC sessions (`PlugHost.Ipc`): the geometry and timing of the host's sessions.
    pub ipc: IpcSettings,
    /// Out-of-process plugins (`PlugHost.Plugins`).
    pub plugins: PluginsConfig,
    /// Pooled Python (`PlugHost.Python`).
    pub python: PythonConfig,
    /// Extensions and packages (`PlugHost.Extensions`).
    pub extensions: ExtensionsConfig,
}

/// Health monitor settings (`PlugHost.Health`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthConfig {
    /// How often the monitor runs a check (probes, recovery) and housekeeping.
    pub interval: Duration,
    /// How many checks the history keeps (the oldest goes first).
    pub history_size: usize,
    /// Whether checks act on what they find (restart crashed plugins, retry failed reloads, ...).
    pub recovery: bool,
    /// How often one thing is tried to be recovered before the monitor gives up on it, until it is
    /// found healthy again.
    pub max_retry_attempts: u32,
}

/// The keys of `PlugHost.Health`.
const HEALTH_KEYS: &[&str] = &["IntervalMs", "HistorySize", "Recovery", "MaxRetryAttempts"];

/// Work-module settings (`PlugHost.Modules`).
#[derive(Clone, Debug, PartialEq)]
pub struct ModulesConfig {
    /// Modules load only from inside these folders; empty means no restriction (a warning is
    /// logged at start).
    pub trusted_roots: Vec<PathBuf>,
    /// Where shadow copies are made; each load gets a fresh folder below it.
    pub shadow_directory: PathBuf,
    /// How long unload and reload wait for in-flight calls.
    pub unload_timeout: Duration,
    /// How many old generations of one module may stay mapped before reloads are refused.
    pub max_pinned_generations: usize,
    /// How many modules may be loaded at once.
    pub max_modules: usize,
    /// Whether sibling library files are copied into the shadow folder with the module.
    pub copy_dependencies: bool,
    /// Watching the modules' files and reloading them when a build finished (`Modules.Watch`).
    pub watch: WatchConfig,
}

/// File-watching settings (`PlugHost.Modules.Watch`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchConfig {
    /// Whether watching is on when the host starts (`Host::set_watching` changes it later).
    pub enabled: bool,
    /// How long a module's files must stay quiet after a change before it is reloaded.
    pub debounce: Duration,
    /// How often a reload that found an incomplete library (still being written) is tried again.
    pub retry: Duration,
    /// How long such retries go on before the reload is reported as rolled back.
    pub retry_limit: Duration,
}

/// The keys of `PlugHost.Modules.Watch`.
const WATCH_KEYS: &[&str] = &["Enabled", "DebounceMs", "RetryMs", "RetryLimitMs"];

fn read_watch(r: &mut Reader, value: Option<&serde_json::Value>, path: &str) -> WatchConfig {
    let empty = serde_json::Map::new();
    let o = match value {
        Some(value) => r.object(value, path, WATCH_KEYS).unwrap_or(&empty),
        None => &empty,
    };
    let ms = |r: &mut Reader, key: &str, default: u64, min: u64| {
        Duration::from_millis(r.integer(o, path, key, default, min, 3_600_000))
    };
    WatchConfig {
        enabled: r.boolean(o, path, "Enabled", false),
        debounce: ms(r, "DebounceMs", 500, 0),
        retry: ms(r, "RetryMs", 100, 1),
        retry_limit: ms(r, "RetryLimitMs", 10_000, 0),
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::from_json("").expect("the empty configuration is valid")
    }
}

impl Config {
    /// Parse and validate a JSON document. Empty or whitespace-only text means all defaults.
    pub fn from_json(text: &str) -> Result<Config> {
        let value = parse_json(text)?;
        Config::from_value(value)
            .map_err(|problems| reader::problems_error(&problems).expect_err("a failed validation has problems"))
    }

    /// Validate a JSON document, returning every problem found (each with its JSON path) instead
    /// of one error. Text that is not JSON is one problem at `$`.
    pub fn validate(text: &str) -> std::result::Result<Config, Vec<Problem>> {
        let value =
            parse_json(text).map_err(|e| vec![Problem { path: "$".into(), message: e.message().to_owned() }])?;
        Config::from_value(value)
    }

    /// Merge the profile's preset under `value`, then read and validate it.
    fn from_value(mut value: serde_json::Value) -> std::result::Result<Config, Vec<Problem>> {
        let mut reader = Reader::default();
        let profile = profiles::apply(&mut reader, &mut value);
        let config = Config { profile, ..read_config(&mut reader, &value) };
        let problems = reader.into_problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }
}

/// Parse the JSON text of one section (empty = defaults) with its `read` function at path `$`,
/// reporting every problem at once as `PLUGHOST_ERR_INVALID_CONFIG`.
fn section_from_json<T>(text: &str, read: impl FnOnce(&mut Reader, &serde_json::Value, &str) -> T) -> Result<T> {
    let value = parse_json(text)?;
    let mut reader = Reader::default();
    let section = read(&mut reader, &value, "$");
    reader.finish().map(|()| section)
}

/// Parse JSON text; empty or whitespace-only text is an empty object.
fn parse_json(text: &str) -> Result<serde_json::Value> {
    if text.trim().is_empty() {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    serde_json::from_str(text)
        .map_err(|e| Error::new(ErrorKind::InvalidConfig, format!("configuration is not valid JSON: {e}")))
}

fn read_health(r: &mut Reader, o: &serde_json::Map<String, serde_json::Value>) -> HealthConfig {
    let p = "$.PlugHost.Health";
    HealthConfig {
        interval: Duration::from_millis(r.integer(o, p, "IntervalMs", 30_000, 10, 86_400_000)),
        history_size: r.integer(o, p, "HistorySize", 64, 1, 10_000) as usize,
        recovery: r.boolean(o, p, "Recovery", true),
        max_retry_attempts: r.integer(o, p, "MaxRetryAttempts", 3, 0, 1_000) as u32,
    }
}

fn default_shadow_directory() -> PathBuf {
    std::env::temp_dir().join("plughost-shadow")
}

fn read_config(r: &mut Reader, root: &serde_json::Value) -> Config {
    let empty = serde_json::Value::Object(Default::default());
    let top = r.object(root, "$", &["PlugHost"]);
    let host_value = top.and_then(|o| o.get("PlugHost")).unwrap_or(&empty);
    let host = r.object(
        host_value,
        "$.PlugHost",
        &[
            "Profile",
            "Modules",
            "Logging",
            "Health",
            "Services",
            "Storage",
            "Events",
            "Python",
            "Plugins",
            "Ipc",
            "Extensions",
        ],
    );
    let section = |r: &mut Reader, name: &str, keys: &[&str]| {
        let value = host.and_then(|h| h.get(name)).unwrap_or(&empty);
        r.object(value, &format!("$.PlugHost.{name}"), keys).cloned().unwrap_or_default()
    };

    let m = section(
        r,
        "Modules",
        &[
            "TrustedRoots",
            "ShadowDirectory",
            "UnloadTimeoutMs",
            "MaxPinnedGenerations",
            "MaxModules",
            "CopyDependencies",
            "Watch",
        ],
    );
    let p = "$.PlugHost.Modules";
    let modules = ModulesConfig {
        trusted_roots: r.paths(&m, p, "TrustedRoots"),
        shadow_directory: r.path(&m, p, "ShadowDirectory").unwrap_or_else(default_shadow_directory),
        unload_timeout: Duration::from_millis(r.integer(&m, p, "UnloadTimeoutMs", 5_000, 0, 3_600_000)),
        max_pinned_generations: r.integer(&m, p, "MaxPinnedGenerations", 4, 0, 1_000) as usize,
        max_modules: r.integer(&m, p, "MaxModules", 64, 1, 65_535) as usize,
        copy_dependencies: r.boolean(&m, p, "CopyDependencies", true),
        watch: read_watch(r, m.get("Watch"), "$.PlugHost.Modules.Watch"),
    };

    let logging = section(r, "Logging", &["Level"]);
    let health = section(r, "Health", HEALTH_KEYS);
    let services = section(r, "Services", &["MainThreadCallTimeoutMs"]);
    let storage = section(r, "Storage", &["MaxBytes"]);
    let events = section(r, "Events", &["HistoryPerTopic"]);

    let ipc = ipc::read(r, host.and_then(|h| h.get("Ipc")).unwrap_or(&empty), "$.PlugHost.Ipc");

    let plugins = plugins::read(r, host.and_then(|h| h.get("Plugins")).unwrap_or(&empty), "$.PlugHost.Plugins");

    let python = python::read(r, host.and_then(|h| h.get("Python")).unwrap_or(&empty), "$.PlugHost.Python");
    let extensions =
        extensions::read(r, host.and_then(|h| h.get("Extensions")).unwrap_or(&empty), "$.PlugHost.Extensions");

    Config {
        modules,
        profile: None,
        log_level: r.log_level(&logging, "$.PlugHost.Logging", "Level", 3),
        health: read_health(r, &health),
        main_thread_call_timeout: Duration::from_millis(r.integer(
            &services,
            "$.PlugHost.Services",
            "MainThreadCallTimeoutMs",
            30_000,
            1,
            3_600_000,
        )),
        storage_max_bytes: r.integer(&storage, "$.PlugHost.Storage", "MaxBytes", 64 << 20, 0, 1 << 40),
        event_history_per_topic: r.integer(&events, "$.PlugHost.Events", "HistoryPerTopic", 64, 0, 100_000) as usize,
        ipc,
        plugins,
        python,
        extensions,
    }
}

#[cfg(test)]
mod tests;
