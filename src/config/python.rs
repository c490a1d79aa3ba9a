//! Pooled Python settings (`PlugHost.Python`): the mode (worker processes, or in-process with
//! feature `python-inprocess`), the workers, their limits and recycling, the run queue, and the
//! sandbox.

use super::reader::Reader;
use crate::sandbox::SandboxPolicy;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::time::Duration;

/// When the pool's workers are started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoolStart {
    /// With the host (in parallel); the host's start does not wait for them.
    HostStart,
    /// By the first run.
    FirstUse,
}

/// Where scripts run (`PlugHost.Python.Mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PythonMode {
    /// In worker processes: hard timeouts, memory limits, crash containment, the sandbox.
    Isolated,
    /// In the host process (cargo feature `python-inprocess`): microsecond calls, best-effort
    /// timeouts, no memory limit, no sandbox.
    InProcess,
}

/// The sandbox of the workers (`PlugHost.Python.Sandbox`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PythonSandbox {
    /// Whether workers apply the policy.
    pub enabled: bool,
    /// What a sandboxed worker may do.
    pub policy: SandboxPolicy,
}

/// `PlugHost.Python`.
#[derive(Clone, Debug, PartialEq)]
pub struct PythonConfig {
    /// Whether the pool exists; when off every run fails with `PLUGHOST_ERR_PYTHON_UNAVAILABLE`.
    pub enabled: bool,
    /// Worker processes or the host process.
    pub mode: PythonMode,
    /// The worker program; `None`: `plughost-python-worker` next to the plughost library, then
    /// next to the executable.
    pub worker_path: Option<PathBuf>,
    /// How many worker processes (in-process: threads) run scripts at once.
    pub workers: usize,
    /// When they start.
    pub start: PoolStart,
    /// How many runs may wait for a worker; one more fails with `PLUGHOST_ERR_POOL_SATURATED`.
    pub queue_limit: usize,
    /// The default deadline of a run (waiting in the queue included).
    pub timeout: Duration,
    /// How long a worker may take to start.
    pub start_timeout: Duration,
    /// The address-space limit of a worker process in bytes; 0: none.
    pub memory_limit: u64,
    /// A worker is replaced after this many runs; 0: never.
    pub recycle_after_runs: u64,
    /// A worker is replaced after a run that leaves it above this resident size in bytes; 0: never.
    pub recycle_above_rss: u64,
    /// The most characters of stdout and of stderr kept per run; the rest is cut off and marked.
    pub max_output_chars: usize,
    /// Folders put in front of the workers' `sys.path`.
    pub sys_path: Vec<PathBuf>,
    /// The sandbox.
    pub sandbox: PythonSandbox,
}

const KEYS: &[&str] = &[
    "Enabled",
    "Mode",
    "WorkerPath",
    "Workers",
    "Start",
    "QueueLimit",
    "TimeoutMs",
    "StartTimeoutMs",
    "MemoryLimitMb",
    "RecycleAfterRuns",
    "RecycleAboveMb",
    "MaxOutputChars",
    "SysPath",
    "Sandbox",
];

const SANDBOX_KEYS: &[&str] = &["Enabled", "WritableRoots", "AllowNetwork", "AllowSubprocess", "BlockedImports"];

impl Default for PythonConfig {
    fn default() -> Self {
        let mut r = Reader::default();
        read(&mut r, &Value::Object(Map::new()), "$")
    }
}

/// Read `PlugHost.Python` at `path`.
pub(super) fn read(r: &mut Reader, value: &Value, path: &str) -> PythonConfig {
    let empty = Map::new();
    let o = r.object(value, path, KEYS).unwrap_or(&empty);
    let ms = |r: &mut Reader, key: &str, default: u64| {
        Duration::from_millis(r.integer(o, path, key, default, 1, 86_400_000))
    };
    let mb = |r: &mut Reader, key: &str, default: u64| r.integer(o, path, key, default, 0, 1 << 20) << 20;
    let start = match r.choice(o, path, "Start", &["host-start", "first-use"], "first-use") {
        "host-start" => PoolStart::HostStart,
        _ => PoolStart::FirstUse,
    };
    let mode = match r.choice(o, path, "Mode", &["isolated", "in-process"], "isolated") {
        "in-process" => PythonMode::InProcess,
        _ => PythonMode::Isolated,
    };
    if mode == PythonMode::InProcess && !cfg!(feature = "python-inprocess") {
        r.problem(
            format!("{path}.Mode"),
            "\"in-process\" needs plughost built with the cargo feature \"python-inprocess\"".into(),
        );
    }
    let sandbox = read_sandbox(r, o.get("Sandbox"), &format!("{path}.Sandbox"));
    if mode == PythonMode::InProcess && sandbox.enabled {
        r.problem(
            format!("{path}.Sandbox.Enabled"),
            "the sandbox needs worker processes; it cannot be enabled with Mode \"in-process\"".into(),
        );
    }
    PythonConfig {
        enabled: r.boolean(o, path, "Enabled", true),
        mode,
        worker_path: r.path(o, path, "WorkerPath"),
        workers: r.integer(o, path, "Workers", 5, 1, 256) as usize,
        start,
        queue_limit: r.integer(o, path, "QueueLimit", 64, 0, 1 << 20) as usize,
        timeout: ms(r, "TimeoutMs", 30_000),
        start_timeout: ms(r, "StartTimeoutMs", 10_000),
        memory_limit: mb(r, "MemoryLimitMb", 1024),
        recycle_after_runs: r.integer(o, path, "RecycleAfterRuns", 0, 0, u32::MAX as u64),
        recycle_above_rss: mb(r, "RecycleAboveMb", 512),
        max_output_chars: r.integer(o, path, "MaxOutputChars", 1 << 20, 0, 1 << 30) as usize,
        sys_path: r.paths(o, path, "SysPath"),
        sandbox,
    }
}

fn read_sandbox(r: &mut Reader, value: Option<&Value>, path: &str) -> PythonSandbox {
    let empty = Map::new();
    let o = match value {
        Some(v) => r.object(v, path, SANDBOX_KEYS).unwrap_or(&empty),
        None => &empty,
    };
    let blocked_imports = if o.contains_key("BlockedImports") {
        r.strings(o, path, "BlockedImports")
    } else {
        SandboxPolicy::default().blocked_imports
    };
    PythonSandbox {
        enabled: r.boolean(o, path, "Enabled", false),
        policy: SandboxPolicy {
            writable_roots: r.paths(o, path, "WritableRoots"),
            allow_network: r.boolean(o, path, "AllowNetwork", false),
            allow_subprocess: r.boolean(o, path, "AllowSubprocess", false),
            blocked_imports,
        },
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::time::Duration;

    #[test]
    fn defaults_and_every_key() {
        let c = Config::from_json("{}").unwrap();
        assert_eq!((c.python.workers, c.python.queue_limit, c.python.enabled), (5, 64, true));
        assert_eq!(c.python.mode, super::PythonMode::Isolated);
        assert_eq!(c.python.timeout, Duration::from_secs(30));
        assert!(!c.python.sandbox.enabled);
        assert_eq!(c.python.sandbox.policy.blocked_imports, ["ctypes", "_ctypes"]);
        let c = Config::from_json(
            r#"{"PlugHost": {"Python": {"Enabled": false, "WorkerPath": "/w", "Workers": 2, "Start": "host-start",
                "QueueLimit": 3, "TimeoutMs": 4, "StartTimeoutMs": 5, "MemoryLimitMb": 6, "RecycleAfterRuns": 7,
                "RecycleAboveMb": 8, "MaxOutputChars": 9, "SysPath": ["/s"], "Sandbox": {"Enabled": true,
                "WritableRoots": ["/tmp/x"], "AllowNetwork": true, "AllowSubprocess": true, "BlockedImports": []}}}}"#,
        )
        .unwrap();
        let p = &c.python;
        assert_eq!((p.enabled, p.worker_path.as_deref(), p.workers), (false, Some(std::path::Path::new("/w")), 2));
        assert_eq!((p.start, p.queue_limit), (super::PoolStart::HostStart, 3));
        assert_eq!((p.timeout, p.start_timeout), (Duration::from_millis(4), Duration::from_millis(5)));
        assert_eq!((p.memory_limit, p.recycle_after_runs, p.recycle_above_rss), (6 << 20, 7, 8 << 20));
        assert_eq!((p.max_output_chars, p.sys_path.len()), (9, 1));
        let s = &p.sandbox.policy;
        assert!(p.sandbox.enabled && s.allow_network && s.allow_subprocess && s.blocked_imports.is_empty());
        assert_eq!(s.writable_roots, [std::path::PathBuf::from("/tmp/x")]);
    }

    #[test]
    fn every_problem_is_reported() {
        let e = Config::from_json(
            r#"{"PlugHost": {"Python": {"Workers": 0, "Start": "later", "Sandbox": {"AllowNet": true}, "Timeout": 1}}}"#,
        )
        .unwrap_err();
        for expected in [
            "$.PlugHost.Python.Workers",
            "$.PlugHost.Python.Start: expected one of host-start, first-use",
            "$.PlugHost.Python.Sandbox.AllowNet: unknown key; did you mean \"AllowNetwork\"?",
            "$.PlugHost.Python.Timeout: unknown key; did you mean \"TimeoutMs\"?",
        ] {
            assert!(e.message().contains(expected), "{expected:?} missing from:\n{}", e.message());
        }
    }

    #[test]
    fn in_process_mode_needs_the_feature_and_no_sandbox() {
        let read = |text: &str| Config::from_json(text).map(|c| c.python.mode);
        let e = read(r#"{"PlugHost": {"Python": {"Mode": "in-process", "Sandbox": {"Enabled": true}}}}"#).unwrap_err();
        assert!(e.message().contains("$.PlugHost.Python.Sandbox.Enabled: the sandbox needs worker processes"), "{e}");
        let answer = read(r#"{"PlugHost": {"Python": {"Mode": "in-process"}}}"#);
        if cfg!(feature = "python-inprocess") {
            assert_eq!(answer.unwrap(), super::PythonMode::InProcess);
        } else {
            let e = answer.unwrap_err();
            assert!(e.message().contains("$.PlugHost.Python.Mode: \"in-process\" needs plughost built with the cargo feature \"python-inprocess\""), "{e}");
        }
        let e = read(r#"{"PlugHost": {"Python": {"Mode": "inline"}}}"#).unwrap_err();
        assert!(e.message().contains("expected one of isolated, in-process"), "{e}");
    }
}
