//! Plugin settings (`PlugHost.Plugins`): search paths for manifests, and plugins declared in the
//! configuration. A manifest's `[plugin]` table takes the same keys as a declared plugin (see
//! `crate::plugins::manifest`), read by [`read_spec`].

use super::reader::Reader;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::time::Duration;

/// The keys of a plugin declaration.
pub const SPEC_KEYS: &[&str] = &[
    "Name",
    "Path",
    "Args",
    "Config",
    "Restart",
    "MaxRestarts",
    "RestartWindowMs",
    "BackoffMs",
    "BackoffMaxMs",
    "IdleTtlMs",
    "OnDemand",
    "StartTimeoutMs",
    "ShutdownTimeoutMs",
    "CallTimeoutMs",
];

/// When a plugin process that ended is started again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Never: it stays `Crashed`.
    Never,
    /// When it crashed: killed by a signal, or exited with a non-zero status, or stopped answering.
    OnFailure,
    /// Whenever it ended without being asked to stop.
    Always,
}

/// One plugin: what to start and how to supervise it.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginSpec {
    /// Unique name: letters, digits, `.`, `_`, `-`.
    pub name: String,
    /// The program to start.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// The configuration handed to its `initialize`, as JSON text (`{}` when none).
    pub config: String,
    /// When it is started again after it ended.
    pub restart: RestartPolicy,
    /// At most this many restarts within `restart_window`; then it stays `Crashed`.
    pub max_restarts: u32,
    /// The window the restarts are counted in.
    pub restart_window: Duration,
    /// The wait before the first restart in a window; doubled for each further one.
    pub backoff: Duration,
    /// The longest wait before a restart.
    pub backoff_max: Duration,
    /// Stopped after this long without a call (started again by the next call); `None`: never.
    pub idle_ttl: Option<Duration>,
    /// Started by its first call instead of at host start.
    pub on_demand: bool,
    /// How long starting (attach and `initialize`) may take.
    pub start_timeout: Duration,
    /// How long a graceful stop may take before the process is killed.
    pub shutdown_timeout: Duration,
    /// The default deadline of a call.
    pub call_timeout: Duration,
    /// Where it was declared: `configuration` or the manifest's path.
    pub origin: String,
    /// Environment variables set for its process, besides the session's (not configurable:
    /// the host's own workers use it).
    pub env: Vec<(String, String)>,
}

/// `PlugHost.Plugins`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PluginsConfig {
    /// Folders searched for `*/plugin.toml` manifests at host start.
    pub search_paths: Vec<PathBuf>,
    /// Plugins declared in the configuration.
    pub declared: Vec<PluginSpec>,
}

/// Whether `name` is a valid plugin name.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Read a manifest's `[plugin]` table (as JSON) as the declaration of plugin `name` running
/// `program`; `origin` (the manifest's path) prefixes every problem, all reported at once as
/// `PLUGHOST_ERR_INVALID_CONFIG`.
pub fn spec_from_manifest(table: &Value, name: &str, program: PathBuf, origin: &str) -> crate::Result<PluginSpec> {
    let mut table = table.clone();
    if let Some(o) = table.as_object_mut() {
        if o.contains_key("Name") || o.contains_key("Path") {
            let mut r = Reader::default();
            r.problem(format!("{origin}: [plugin]"), "name and entry belong in [extension], not Name or Path".into());
            r.finish()?;
        }
        o.insert("Name".into(), Value::String(name.to_owned()));
    }
    let mut r = Reader::default();
    let spec = read_spec(&mut r, &table, &format!("{origin}: [plugin]"), Some(program), origin);
    r.finish()?;
    spec.ok_or_else(|| crate::Error::new(crate::ErrorKind::InvalidConfig, format!("{origin}: no plugin declared")))
}

/// Read `PlugHost.Plugins` at `path`.
pub(super) fn read(r: &mut Reader, value: &Value, path: &str) -> PluginsConfig {
    let empty = Map::new();
    let o = r.object(value, path, &["SearchPaths", "Declared"]).unwrap_or(&empty);
    let mut declared = Vec::new();
    match o.get("Declared") {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let at = format!("{path}.Declared[{i}]");
                let Some(spec) = read_spec(r, item, &at, None, "configuration") else { continue };
                if declared.iter().any(|d: &PluginSpec| d.name == spec.name) {
                    r.problem(format!("{at}.Name"), format!("the plugin \"{}\" is declared twice", spec.name));
                }
                declared.push(spec);
            }
        }
        Some(_) => r.problem(format!("{path}.Declared"), "expected an array of plugin objects".into()),
    }
    PluginsConfig { search_paths: r.paths(o, path, "SearchPaths"), declared }
}

/// Read one plugin declaration at `path`. `program`, when given (a manifest's entry), stands in
/// for the `Path` key, which must then be absent. `None` when the name or program is missing or
/// invalid (the problem is recorded).
pub(super) fn read_spec(
    r: &mut Reader,
    value: &Value,
    path: &str,
    program: Option<PathBuf>,
    origin: &str,
) -> Option<PluginSpec> {
    let empty = Map::new();
    let o = r.object(value, path, SPEC_KEYS).unwrap_or(&empty);
    let name = match o.get("Name").and_then(Value::as_str) {
        Some(name) if valid_name(name) => Some(name.to_owned()),
        _ => {
            r.problem(format!("{path}.Name"), "needs a name of 1 to 64 letters, digits, '.', '_' or '-'".into());
            None
        }
    };
    let program = match program {
        Some(p) => {
            if o.contains_key("Path") {
                r.problem(format!("{path}.Path"), "a manifest names its program with entry, not Path".into());
            }
            Some(p)
        }
        None => {
            let p = r.path(o, path, "Path");
            if p.is_none() && !o.contains_key("Path") {
                r.problem(format!("{path}.Path"), "needs the path of the plugin's program".into());
            }
            p
        }
    };
    let ms = |r: &mut Reader, key: &str, default: u64, min: u64| {
        Duration::from_millis(r.integer(o, path, key, default, min, 86_400_000))
    };
    let restart = match r.choice(o, path, "Restart", &["never", "on-failure", "always"], "on-failure") {
        "never" => RestartPolicy::Never,
        "always" => RestartPolicy::Always,
        _ => RestartPolicy::OnFailure,
    };
    let idle = r.integer(o, path, "IdleTtlMs", 0, 0, 86_400_000);
    let spec = PluginSpec {
        name: name?,
        program: program?,
        args: r.strings(o, path, "Args"),
        config: o.get("Config").map_or_else(|| "{}".to_owned(), Value::to_string),
        restart,
        max_restarts: r.integer(o, path, "MaxRestarts", 5, 0, 1_000) as u32,
        restart_window: ms(r, "RestartWindowMs", 60_000, 1),
        backoff: ms(r, "BackoffMs", 50, 0),
        backoff_max: ms(r, "BackoffMaxMs", 5_000, 0),
        idle_ttl: (idle > 0).then(|| Duration::from_millis(idle)),
        on_demand: r.boolean(o, path, "OnDemand", false),
        start_timeout: ms(r, "StartTimeoutMs", 10_000, 1),
        shutdown_timeout: ms(r, "ShutdownTimeoutMs", 5_000, 0),
        call_timeout: ms(r, "CallTimeoutMs", 30_000, 1),
        origin: origin.to_owned(),
        env: Vec::new(),
    };
    Some(spec)
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::ErrorKind;
    use std::time::Duration;

    #[test]
    fn a_declared_plugin_with_every_key() {
        let c = Config::from_json(
            r#"{"PlugHost": {"Plugins": {"SearchPaths": ["/p"], "Declared": [{"Name": "a", "Path": "/bin/a",
                "Args": ["-v"], "Config": {"k": 1}, "Restart": "Always", "MaxRestarts": 2, "RestartWindowMs": 1000,
                "BackoffMs": 10, "BackoffMaxMs": 20, "IdleTtlMs": 30, "OnDemand": true, "StartTimeoutMs": 40,
                "ShutdownTimeoutMs": 50, "CallTimeoutMs": 60}]}}}"#,
        )
        .unwrap();
        let p = &c.plugins.declared[0];
        assert_eq!(
            (p.name.as_str(), p.program.to_str().unwrap(), p.args.as_slice()),
            ("a", "/bin/a", &["-v".to_owned()][..])
        );
        assert_eq!(p.config, r#"{"k":1}"#);
        assert_eq!(p.restart, super::RestartPolicy::Always);
        assert_eq!(
            (p.max_restarts, p.restart_window, p.backoff, p.backoff_max),
            (2, Duration::from_secs(1), Duration::from_millis(10), Duration::from_millis(20))
        );
        assert_eq!((p.idle_ttl, p.on_demand), (Some(Duration::from_millis(30)), true));
        assert_eq!(
            (p.start_timeout, p.shutdown_timeout, p.call_timeout),
            (Duration::from_millis(40), Duration::from_millis(50), Duration::from_millis(60))
        );
        assert_eq!(c.plugins.search_paths, [std::path::PathBuf::from("/p")]);
    }

    #[test]
    fn every_problem_of_the_plugins_is_reported() {
        let e = Config::from_json(
            r#"{"PlugHost": {"Plugins": {"Declared": [{"Name": "bad name", "Path": "/x"}, {"Path": ""},
                {"Name": "a", "Path": "/a", "Restart": "sometimes", "MaxRestart": 1}, {"Name": "a", "Path": "/b"}]}}}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        for expected in [
            "$.PlugHost.Plugins.Declared[0].Name: needs a name",
            "$.PlugHost.Plugins.Declared[1].Path: expected a non-empty path string",
            "$.PlugHost.Plugins.Declared[2].Restart: expected one of never, on-failure, always",
            "$.PlugHost.Plugins.Declared[2].MaxRestart: unknown key; did you mean \"MaxRestarts\"?",
            "$.PlugHost.Plugins.Declared[3].Name: the plugin \"a\" is declared twice",
        ] {
            assert!(e.message().contains(expected), "{expected:?} missing from:\n{}", e.message());
        }
    }
}
