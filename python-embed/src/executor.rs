//! The run logic of the process's interpreter: the prelude (`prelude.py`, loaded once) and the
//! `plughost_host` module, and the Rust entry points that run a [`Job`] on the calling thread,
//! forget a session, and interrupt a run on another thread (best effort).

use crate::host_module::{self, HostServices};
use crate::interpreter::{self, Started};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::ffi::CString;
use std::sync::{Arc, OnceLock};

const PRELUDE: &str = include_str!("prelude.py");

/// One run, as the prelude takes it.
#[derive(Clone, Copy, Debug)]
pub struct Job<'a> {
    /// `code`, `file` or `function`.
    pub kind: &'a str,
    /// The code, the file's path, or the module.
    pub first: &'a str,
    /// The code's file name, or the function.
    pub second: &'a str,
    /// JSON: the script's `args`, or a function's positional arguments.
    pub args: &'a str,
    /// JSON object: a function's keyword arguments.
    pub kwargs: &'a str,
    /// The named session whose globals persist; `None`: fresh globals.
    pub session: Option<&'a str>,
    /// The most characters of stdout and of stderr kept.
    pub max_output: u64,
}

impl<'a> From<(&'a str, &'a str, &'a str, &'a str, &'a str, Option<&'a str>, u64)> for Job<'a> {
    /// From `(kind, first, second, args, kwargs, session, max_output)`.
    fn from(
        (kind, first, second, args, kwargs, session, max_output): (
            &'a str,
            &'a str,
            &'a str,
            &'a str,
            &'a str,
            Option<&'a str>,
            u64,
        ),
    ) -> Self {
        Job { kind, first, second, args, kwargs, session, max_output }
    }
}

/// What the prelude answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// `json`, `bytes` or `raised`.
    pub kind: String,
    /// The result as JSON text, the bytes, or the exception as JSON (`kind`, `message`, `traceback`).
    pub payload: Vec<u8>,
    /// What the run wrote to `sys.stdout`.
    pub stdout: String,
    /// What the run wrote to `sys.stderr`.
    pub stderr: String,
    /// Whether output beyond the limit was cut off.
    pub truncated: bool,
    /// Time spent in `run`, in microseconds.
    pub duration_us: u64,
}

/// The started interpreter and the prelude's entry points (one per process).
pub struct Executor {
    run: Py<PyAny>,
    drop_session: Py<PyAny>,
    /// How the interpreter was found and started.
    pub started: Started,
}

/// A Python error with its traceback, as text.
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
            // SAFETY: the interpreter is initialised (`Executor::get` ran) and this thread does
            // not hold the GIL here. Ensure creates this thread's state and takes the GIL;
            // SaveThread releases the GIL but keeps the state (its use count stays 1), so later
            // attaches on this thread reuse it. The state is never released: runs go to
            // long-lived threads.
            unsafe {
                let _ = pyo3::ffi::PyGILState_Ensure();
                let _ = pyo3::ffi::PyEval_SaveThread();
            }
        }
    });
}

static EXECUTOR: OnceLock<Result<Executor, String>> = OnceLock::new();

impl Executor {
    /// The process's executor: starts the interpreter ([`interpreter::start`]) and loads the
    /// prelude and the host module, once; later calls return the first answer.
    pub fn get() -> Result<&'static Executor, String> {
        EXECUTOR.get_or_init(Executor::start).as_ref().map_err(Clone::clone)
    }

    fn start() -> Result<Executor, String> {
        let started = interpreter::start()?;
        Python::attach(|py| {
            let setup = || -> PyResult<Executor> {
                py.import("sys")?.setattr("dont_write_bytecode", true)?;
                host_module::install(py)?;
                let code = CString::new(PRELUDE).expect("the prelude has no NUL");
                let prelude = PyModule::from_code(py, &code, c"<plughost-prelude>", c"_plughost_prelude")?;
                Ok(Executor {
                    run: prelude.getattr("run")?.unbind(),
                    drop_session: prelude.getattr("drop_session")?.unbind(),
                    started: started.clone(),
                })
            };
            setup().map_err(|e| describe(py, e))
        })
    }

    /// Run `f` with the interpreter's lock; a Python error becomes its text with the traceback.
    pub fn with_python<T>(&self, f: impl for<'py> FnOnce(Python<'py>) -> PyResult<T>) -> Result<T, String> {
        Python::attach(|py| f(py).map_err(|e| describe(py, e)))
    }

    /// Put `entries` in front of `sys.path` (those already there are left where they are).
    pub fn prepend_sys_path(&self, entries: &[String]) -> Result<(), String> {
        self.with_python(|py| {
            let path = py.import("sys")?.getattr("path")?;
            for (i, entry) in entries.iter().enumerate() {
                if !path.contains(entry)? {
                    path.call_method1("insert", (i, entry))?;
                }
            }
            Ok(())
        })
    }

    /// Run `job` on this thread, with `host` as the host of its `plughost_host` calls (`None`:
    /// the process's default).
    pub fn run(&self, job: &Job<'_>, host: Option<&Arc<dyn HostServices>>) -> Result<Answer, String> {
        let started = std::time::Instant::now();
        keep_thread_state();
        let _host = host_module::enter(host);
        Python::attach(|py| {
            let answer = self
                .run
                .bind(py)
                .call1((job.kind, job.first, job.second, job.args, job.kwargs, job.session, job.max_output))
                .map_err(|e| describe(py, e))?;
            let (kind, payload, stdout, stderr, truncated): (String, Bound<'_, PyBytes>, String, String, bool) =
                answer.extract().map_err(|e| describe(py, e))?;
            let duration_us = started.elapsed().as_micros() as u64;
            Ok(Answer { kind, payload: payload.as_bytes().to_vec(), stdout, stderr, truncated, duration_us })
        })
    }

    /// Forget the named session; whether it existed.
    pub fn drop_session(&self, name: &str) -> Result<bool, String> {
        self.with_python(|py| self.drop_session.bind(py).call1((name,))?.extract::<bool>())
    }

    /// The Python identity of the calling thread (`threading.get_ident()`), for [`interrupt`](Self::interrupt).
    pub fn thread_ident() -> u64 {
        // SAFETY: PyThread_get_thread_ident reads the calling thread's id; it needs no GIL.
        unsafe { pyo3::ffi::PyThread_get_thread_ident() as u64 }
    }

    /// Best effort: raise `TimeoutError` in the Python thread `ident` at its next bytecode
    /// boundary (never inside a blocking C call; code may catch it). Waits for the interpreter's
    /// lock, so call it from a thread that may wait. Whether a thread state was found.
    pub fn interrupt(&self, ident: u64) -> bool {
        Python::attach(|_py| {
            // SAFETY: the GIL is held (attach); the exception type is a static of the running
            // interpreter; SetAsyncExc takes its own reference.
            let found = unsafe {
                pyo3::ffi::PyThreadState_SetAsyncExc(ident as std::os::raw::c_long, pyo3::ffi::PyExc_TimeoutError)
            };
            if found > 1 {
                // SAFETY: as above; NULL clears what was posted (the documented answer to > 1).
                unsafe { pyo3::ffi::PyThreadState_SetAsyncExc(ident as std::os::raw::c_long, std::ptr::null_mut()) };
            }
            found == 1
        })
    }

    /// Withdraw an [`interrupt`](Self::interrupt) the thread `ident` has not received yet.
    pub fn clear_interrupt(&self, ident: u64) {
        Python::attach(|_py| {
            // SAFETY: the GIL is held; NULL clears a pending asynchronous exception.
            unsafe { pyo3::ffi::PyThreadState_SetAsyncExc(ident as std::os::raw::c_long, std::ptr::null_mut()) };
        });
    }
}
