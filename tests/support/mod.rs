//! Shared test support: builds the example and fixture modules and the example plugins once,
//! makes trusted roots, and plays the host of a plugin process (`fake_host`).
#![allow(dead_code)]

#[cfg(target_os = "linux")]
pub mod fake_host;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Paths of every module the tests load, built once per test process.
pub struct Fixtures {
    pub counter: PathBuf,
    pub counter_v2: PathBuf,
    pub counter_broken: PathBuf,
    pub tls_pinned: PathBuf,
    pub greeter: PathBuf,
    pub greeter_v2: PathBuf,
    pub no_entry: PathBuf,
    pub abi_mismatch: PathBuf,
    pub short_table: PathBuf,
    pub null_entry: PathBuf,
    pub init_fails: PathBuf,
    pub missing_execute: PathBuf,
    pub restore_fails: PathBuf,
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn dylib(name: &str) -> String {
    format!("{}{name}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX)
}

fn run(cmd: &mut Command) {
    let status = cmd.status().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(status.success(), "{cmd:?} failed");
}

/// The Rust example and fixture modules (release builds).
pub struct RustModules {
    pub counter: PathBuf,
    pub counter_v2: PathBuf,
    pub counter_broken: PathBuf,
    pub tls_pinned: PathBuf,
}

fn fixture_target() -> PathBuf {
    repo().join("target").join("fixtures")
}

/// Build the workspace `packages` (release, own target dir so the outer cargo's lock is not
/// needed); the folder of the built files.
fn build_release(packages: &[&str]) -> PathBuf {
    let target = fixture_target();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(repo()).args(["build", "--release", "--quiet"]);
    for package in packages {
        cmd.args(["-p", package]);
    }
    run(cmd.arg("--target-dir").arg(&target));
    target.join("release")
}

/// Build only the Rust modules, once per process. Benchmarks and the soak test need nothing
/// else.
pub fn rust_modules() -> &'static RustModules {
    static MODULES: OnceLock<RustModules> = OnceLock::new();
    MODULES.get_or_init(|| {
        let rust = build_release(&["counter", "counter-v2", "counter-broken", "tls-pinned"]);
        RustModules {
            counter: rust.join(dylib("counter")),
            counter_v2: rust.join(dylib("counter_v2")),
            counter_broken: rust.join(dylib("counter_broken")),
            tls_pinned: rust.join(dylib("tls_pinned")),
        }
    })
}

/// The example plugin programs (`examples/plugins`).
pub struct RustPlugins {
    pub analytics: PathBuf,
    pub transform: PathBuf,
}

/// Build the example plugins like the modules, once per process.
pub fn rust_plugins() -> &'static RustPlugins {
    static PLUGINS: OnceLock<RustPlugins> = OnceLock::new();
    PLUGINS.get_or_init(|| {
        let rust = build_release(&["analytics", "transform"]);
        let exe = |name: &str| rust.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        RustPlugins { analytics: exe("analytics"), transform: exe("transform") }
    })
}

/// The Python worker program (`python-worker`), built like the modules, once per process.
pub fn python_worker() -> &'static PathBuf {
    static WORKER: OnceLock<PathBuf> = OnceLock::new();
    WORKER.get_or_init(|| {
        build_release(&["plughost-python-worker"])
            .join(format!("plughost-python-worker{}", std::env::consts::EXE_SUFFIX))
    })
}

/// A host whose Python pool runs the built worker, with `python` as the rest of its
/// `PlugHost.Python` settings (a JSON object's members, without braces; may be empty).
pub fn python_host(python: &str) -> std::sync::Arc<plughost::Host> {
    let worker = python_worker().display().to_string();
    let comma = if python.trim().is_empty() { "" } else { "," };
    let config = format!(r#"{{"PlugHost": {{"Python": {{"WorkerPath": {worker:?}{comma} {python}}}}}}}"#);
    plughost::Host::from_json(&config).unwrap_or_else(|e| panic!("{config}: {e}"))
}

/// Build the Rust modules (see [`rust_modules`]) and the C modules.
pub fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let repo = repo();
        let rust = rust_modules();
        let target = fixture_target();
        let c_out = target.join("c");
        std::fs::create_dir_all(&c_out).unwrap();
        let c = |source: &str, define: Option<&str>, name: &str| {
            let out = c_out.join(dylib(name));
            let mut cmd = Command::new("cc");
            cmd.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-O1"])
                .arg("-I")
                .arg(repo.join("include"));
            if let Some(d) = define {
                cmd.arg(format!("-D{d}"));
            }
            run(cmd.arg("-o").arg(&out).arg(repo.join(source)));
            out
        };
        let bad = "tests/c/bad_modules.c";
        Fixtures {
            counter: rust.counter.clone(),
            counter_v2: rust.counter_v2.clone(),
            counter_broken: rust.counter_broken.clone(),
            tls_pinned: rust.tls_pinned.clone(),
            greeter: c("examples/c/greeter_module.c", None, "greeter"),
            greeter_v2: c("examples/c/greeter_module.c", Some("GREETER_VERSION_2"), "greeter_v2"),
            no_entry: c(bad, Some("NO_ENTRY"), "no_entry"),
            abi_mismatch: c(bad, Some("ABI_MISMATCH"), "abi_mismatch"),
            short_table: c(bad, Some("SHORT_TABLE"), "short_table"),
            null_entry: c(bad, Some("NULL_ENTRY"), "null_entry"),
            init_fails: c(bad, Some("INIT_FAILS"), "init_fails"),
            missing_execute: c(bad, Some("MISSING_EXECUTE"), "missing_execute"),
            restore_fails: c(bad, Some("RESTORE_FAILS"), "restore_fails"),
        }
    })
}

/// A temporary trusted root, an untrusted folder beside it, and a shadow folder.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["root", "outside", "shadow"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        Sandbox { dir }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn outside(&self) -> PathBuf {
        self.dir.path().join("outside")
    }

    pub fn shadow(&self) -> PathBuf {
        self.dir.path().join("shadow")
    }

    /// Copy `module` into the trusted root as `name` (in its own sub-folder, so no sibling is
    /// copied along) and return the new path.
    pub fn install(&self, module: &Path, name: &str) -> PathBuf {
        let folder = self.root().join(name);
        std::fs::create_dir_all(&folder).unwrap();
        let target = folder.join(dylib(name));
        replace_file(module, &target);
        target
    }

    /// The configuration JSON for this sandbox, with extra `Modules` settings.
    pub fn config(&self, extra_modules: &str) -> String {
        let sep = if extra_modules.is_empty() { "" } else { "," };
        format!(
            r#"{{"PlugHost": {{"Modules": {{"TrustedRoots": [{:?}], "ShadowDirectory": {:?}{sep}{extra_modules}}},
                "Logging": {{"Level": "debug"}}}}}}"#,
            self.root().display().to_string(),
            self.shadow().display().to_string()
        )
    }

    /// Shadow folders currently present.
    pub fn shadow_folders(&self) -> usize {
        std::fs::read_dir(self.shadow()).map(|d| d.count()).unwrap_or(0)
    }
}

/// Replace `target` with a copy of `source` the way a build does: write a new file, rename it.
pub fn replace_file(source: &Path, target: &Path) {
    let tmp = target.with_extension("partial");
    std::fs::copy(source, &tmp).unwrap();
    std::fs::rename(&tmp, target).unwrap();
}

/// The host's own events whose topic starts with `prefix` (topic and parsed JSON payload), in the
/// order they were published; each must come from the host and carry JSON.
pub fn host_events(
    host: &plughost::Host,
    prefix: &'static str,
) -> std::sync::mpsc::Receiver<(String, serde_json::Value)> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let sender = std::sync::Mutex::new(sender);
    host.subscribe(
        "*",
        std::sync::Arc::new(move |event: &plughost::events::Event| {
            if event.topic.starts_with(prefix) {
                assert_eq!(event.source, "host");
                let payload = serde_json::from_slice(&event.payload).expect("JSON payload");
                let _ = sender.lock().unwrap().send((event.topic.clone(), payload));
            }
        }),
    )
    .unwrap();
    receiver
}

/// Check that a script of `host` reaches its services through `plughost_host`: log, storage both
/// ways, a registered service, the event bus, and `HostError` for a missing service (the same
/// for worker processes and the in-process mode).
pub fn check_python_host_services(host: &plughost::Host) {
    use plughost::python::{PythonRun, PythonValue};
    use plughost::services::ServiceThreading;
    use serde_json::json;
    use std::sync::Arc;

    host.register_service(
        "upper",
        ServiceThreading::AnyThread,
        Arc::new(|input: &[u8]| Ok(input.to_ascii_uppercase())),
    )
    .unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    host.subscribe(
        "py.topic",
        Arc::new(move |e: &plughost::events::Event| sink.lock().unwrap().push(e.payload.clone())),
    )
    .unwrap();
    host.storage_set("from-host", b"42").unwrap();
    let code = r#"
import plughost_host as h
h.log(h.INFO, 'hello from python')
h.storage_set('from-python', 'stored')
h.publish('py.topic', b'published')
[h.call_service('upper', 'shout').decode(), h.storage_get('from-host').decode(), h.storage_get('missing')]
"#;
    assert_eq!(
        host.run_python(&PythonRun::code(code)).unwrap().into_value().unwrap(),
        PythonValue::Json(json!(["SHOUT", "42", null]))
    );
    assert_eq!(host.storage_get("from-python").unwrap(), b"stored");
    assert_eq!(seen.lock().unwrap().as_slice(), [b"published".to_vec()]);
    let raised = host.run_python(&PythonRun::code("import plughost_host as h\nh.call_service('nope', b'')")).unwrap();
    let raised = raised.result.unwrap_err();
    assert_eq!(raised.kind, "HostError");
    assert!(raised.message.contains("nope"), "{}", raised.message);
}
