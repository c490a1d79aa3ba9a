//! The interpreter of this worker: started once (never finalised), with the prelude
//! (`prelude.py`) that runs scripts, and the host module.

use crate::host_module;
use plughost::python::protocol::{Outcome, RunReply, RunRequest, Source, WorkerSettings};
use plughost::sandbox::SandboxPolicy;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::ffi::CString;
use std::time::Instant;

/// The Python version the worker was built for (`major.minor`).
pub const BUILD_VERSION: &str = env!("PLUGHOST_PYTHON_BUILD_VERSION");

const PRELUDE: &str = include_str!("prelude.py");

/// The started interpreter and the prelude's entry points.
pub struct Executor {
    run: Py<PyAny>,
    drop_session: Py<PyAny>,
    /// The running Python's version, `major.minor.patch`.
    pub version: String,
}

/// The running interpreter's version, `major.minor.patch`, after checking that it is the one
/// the worker was built for.
pub fn check_version(py: Python<'_>) -> Result<String, String> {
    let v = py.version_info();
    let running = format!("{}.{}", v.major, v.minor);
    if running != BUILD_VERSION {
        return Err(format!("the worker was built for Python {BUILD_VERSION} but Python {running} was loaded"));
    }
    Ok(format!("{}.{}.{}", v.major, v.minor, v.patch))
}

fn describe(py: Python<'_>, e: PyErr) -> String {
    let traceback = e.traceback(py).and_then(|t| t.format().ok()).unwrap_or_default();
    format!("{traceback}{e}")
}

thread_local! {
    static THREAD_STATE_KEPT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Give this thread a Python thread state that lives as long as the thread. Without it, every
/// `Python::attach` on a thread Python did not create makes a new thread state and destroys it
/// again on release, which costs more than a short script.
fn keep_thread_state() {
    THREAD_STATE_KEPT.with(|kept| {
        if !kept.replace(true) {
            // SAFETY: the interpreter is initialised (`Executor::start` ran) and this thread does
            // not hold the GIL here. Ensure creates this thread's state and takes the GIL;
            // SaveThread releases the GIL but keeps the state (its use count stays 1), so later
            // attaches on this thread reuse it. The state is never released: the thread lives
            // as long as the worker process.
            unsafe {
                let _ = pyo3::ffi::PyGILState_Ensure();
                let _ = pyo3::ffi::PyEval_SaveThread();
            }
        }
    });
}

/// Add the sandbox's audit hook (`plughost::sandbox::PYTHON_AUDIT_HOOK`) for `policy`: early,
/// readable `PermissionError`s and the import block; the kernel layers are the boundary.
fn install_audit_hook(py: Python<'_>, policy: &SandboxPolicy) -> PyResult<()> {
    let code = CString::new(plughost::sandbox::PYTHON_AUDIT_HOOK).expect("the hook has no NUL");
    let hook = PyModule::from_code(py, &code, c"<plughost-audit-hook>", c"_plughost_sandbox")?;
    let roots: Vec<String> = policy.writable_roots.iter().map(|p| p.display().to_string()).collect();
    hook.getattr("install")?.call1((
        roots,
        policy.allow_network,
        policy.allow_subprocess,
        policy.blocked_imports.clone(),
    ))?;
    Ok(())
}

impl Executor {
    /// Start Python, check its version, put `settings.sys_path` in front of `sys.path`, load
    /// the prelude and the host module.
    pub fn start(settings: &WorkerSettings) -> Result<Executor, String> {
        Python::initialize();
        Python::attach(|py| {
            let version = check_version(py)?;
            let setup = || -> PyResult<Executor> {
                let sys = py.import("sys")?;
                let path = sys.getattr("path")?;
                for (i, entry) in settings.sys_path.iter().enumerate() {
                    path.call_method1("insert", (i, entry))?;
                }
                sys.setattr("dont_write_bytecode", true)?;
                host_module::install(py)?;
                let code = CString::new(PRELUDE).expect("the prelude has no NUL");
                let prelude = PyModule::from_code(py, &code, c"<plughost-worker>", c"_plughost_worker")?;
                if let Some(policy) = &settings.sandbox {
                    install_audit_hook(py, policy)?;
                }
                Ok(Executor {
                    run: prelude.getattr("run")?.unbind(),
                    drop_session: prelude.getattr("drop_session")?.unbind(),
                    version: version.clone(),
                })
            };
            setup().map_err(|e| describe(py, e))
        })
    }

    /// Run one request.
    pub fn run(&self, request: &RunRequest) -> Result<RunReply, String> {
        keep_thread_state();
        let started = Instant::now();
        let (kind, first, second) = match &request.source {
            Source::Code { code, filename } => ("code", code.as_str(), filename.as_str()),
            Source::File(path) => ("file", path.as_str(), ""),
            Source::Function { module, function } => ("function", module.as_str(), function.as_str()),
        };
        Python::attach(|py| {
            let answer = self
                .run
                .bind(py)
                .call1((kind, first, second, &request.args, &request.kwargs, &request.session, request.max_output))
                .map_err(|e| describe(py, e))?;
            let (answer, payload, stdout, stderr, truncated): (String, Bound<'_, PyBytes>, String, String, bool) =
                answer.extract().map_err(|e| describe(py, e))?;
            let payload = payload.as_bytes();
            let outcome = match answer.as_str() {
                "bytes" => Outcome::Bytes(payload.to_vec()),
                "json" => Outcome::Json(String::from_utf8_lossy(payload).into_owned()),
                _ => {
                    let raised: serde_json::Value = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
                    let field = |name: &str| raised[name].as_str().unwrap_or_default().to_owned();
                    Outcome::Raised { kind: field("kind"), message: field("message"), traceback: field("traceback") }
                }
            };
            let duration_us = started.elapsed().as_micros() as u64;
            Ok(RunReply { outcome, stdout, stderr, truncated, duration_us })
        })
    }

    /// Forget the named session; whether it existed.
    pub fn drop_session(&self, name: &str) -> Result<bool, String> {
        Python::attach(|py| {
            self.drop_session.bind(py).call1((name,)).and_then(|v| v.extract::<bool>()).map_err(|e| describe(py, e))
        })
    }
}
