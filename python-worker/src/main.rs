//! `plughost-python-worker`: one worker process of plughost's Python pool. The host starts it as
//! a plugin process (see `plughost::plugin`), with its settings in the environment variable
//! `PLUGHOST_PYTHON_WORKER`; the worker limits itself, starts CPython once, and runs the scripts
//! the host sends, one at a time.
//!
//! `plughost-python-worker --check` prints the Python version the worker runs with and exits 0,
//! or prints why Python cannot be used and exits 3.

#![deny(unsafe_op_in_unsafe_fn)]

mod audit_hook;
mod host_services;
mod limits;
mod worker;

use plughost::python::protocol::{WorkerSettings, EXIT_PYTHON_UNAVAILABLE, SETTINGS_ENV};
use std::process::ExitCode;

fn check() -> ExitCode {
    match plughost_python_embed::interpreter::start() {
        Ok(started) => {
            println!("Python {}", started.version);
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("{why}");
            ExitCode::from(EXIT_PYTHON_UNAVAILABLE as u8)
        }
    }
}

fn settings() -> Result<WorkerSettings, String> {
    match std::env::var(SETTINGS_ENV) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{SETTINGS_ENV} is not valid: {e}")),
        Err(_) => Ok(WorkerSettings::default()),
    }
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("--check") {
        return check();
    }
    let settings = match settings() {
        Ok(settings) => settings,
        Err(why) => {
            eprintln!("plughost-python-worker: {why}");
            return ExitCode::from(2);
        }
    };
    // Before any thread exists: the limits hold for the whole process.
    if let Err(why) = limits::apply(&settings) {
        eprintln!("plughost-python-worker: {why}");
        return ExitCode::from(2);
    }
    plughost::plugin::run(worker::Worker::new(settings))
}
