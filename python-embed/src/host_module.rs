//! The `plughost_host` module scripts import to reach the host's services: its log, its
//! key-value storage, the services the application registered, and the event bus. Each call goes
//! to a [`HostServices`] with the interpreter's lock released: the one the current run was given
//! ([`Executor::run`](crate::Executor::run)), else the process's default ([`set_default`]).

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

pyo3::create_exception!(plughost_host, HostError, PyRuntimeError, "A host service call failed.");

/// What scripts may ask of the host. Errors are messages shown to the script as `HostError`.
pub trait HostServices: Send + Sync {
    /// Log `message` at `level` (1 error .. 5 trace).
    fn log(&self, level: u32, message: &str) -> Result<(), String>;
    /// The value stored under `key`, or `None`.
    fn storage_get(&self, key: &str) -> Result<Option<Vec<u8>>, String>;
    /// Store `value` under `key`.
    fn storage_set(&self, key: &str, value: &[u8]) -> Result<(), String>;
    /// Call the application's service `name`.
    fn call_service(&self, name: &str, input: &[u8]) -> Result<Vec<u8>, String>;
    /// Publish an event; how many subscribers it reached (or its sequence number).
    fn publish(&self, topic: &str, payload: &[u8]) -> Result<u64, String>;
}

/// The host of threads that run no run of their own (threads a script started).
static DEFAULT: OnceLock<Arc<dyn HostServices>> = OnceLock::new();

thread_local! {
    /// The host of the run on this thread.
    static CURRENT: RefCell<Option<Arc<dyn HostServices>>> = const { RefCell::new(None) };
}

/// Set the host of threads that have no run of their own, once per process.
pub fn set_default(host: Arc<dyn HostServices>) {
    let _ = DEFAULT.set(host);
}

/// Make `host` the host of this thread until the guard is dropped.
pub(crate) fn enter(host: Option<&Arc<dyn HostServices>>) -> impl Drop {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            CURRENT.with(|c| c.borrow_mut().take());
        }
    }
    CURRENT.with(|c| *c.borrow_mut() = host.cloned());
    Leave
}

/// Run `call` on the host with the interpreter's lock released; a failure becomes `HostError`.
fn with_host<T: Send>(py: Python<'_>, call: impl FnOnce(&dyn HostServices) -> Result<T, String> + Send) -> PyResult<T> {
    let host = CURRENT.with(|c| c.borrow().clone()).or_else(|| DEFAULT.get().cloned());
    let host = host.ok_or_else(|| HostError::new_err("this thread is not connected to a host"))?;
    py.detach(|| call(host.as_ref())).map_err(HostError::new_err)
}

/// Text or bytes as bytes.
fn bytes_of(value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(text) = value.extract::<String>() {
        return Ok(text.into_bytes());
    }
    Ok(value.cast::<PyBytes>()?.as_bytes().to_vec())
}

/// `log(level, message)`: level 1 error .. 5 trace, as the host's log levels.
#[pyfunction]
fn log(py: Python<'_>, level: u32, message: &str) -> PyResult<()> {
    with_host(py, |h| h.log(level, message))
}

/// `storage_get(key) -> bytes | None`.
#[pyfunction]
fn storage_get<'py>(py: Python<'py>, key: &str) -> PyResult<Option<Bound<'py, PyBytes>>> {
    let value = with_host(py, |h| h.storage_get(key))?;
    Ok(value.map(|v| PyBytes::new(py, &v)))
}

/// `storage_set(key, value)`: value is bytes or text (stored as UTF-8).
#[pyfunction]
fn storage_set(py: Python<'_>, key: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
    let value = bytes_of(value)?;
    with_host(py, |h| h.storage_set(key, &value))
}

/// `call_service(name, input) -> bytes`: a service the application registered.
#[pyfunction]
fn call_service<'py>(py: Python<'py>, name: &str, input: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let input = bytes_of(input)?;
    let output = with_host(py, |h| h.call_service(name, &input))?;
    Ok(PyBytes::new(py, &output))
}

/// `publish(topic, payload) -> int`: the event's sequence number.
#[pyfunction]
fn publish(py: Python<'_>, topic: &str, payload: &Bound<'_, PyAny>) -> PyResult<u64> {
    let payload = bytes_of(payload)?;
    with_host(py, |h| h.publish(topic, &payload))
}

/// Make the module importable as `plughost_host` (call once, with the interpreter's lock).
pub(crate) fn install(py: Python<'_>) -> PyResult<()> {
    let module = PyModule::new(py, "plughost_host")?;
    module.add("HostError", py.get_type::<HostError>())?;
    module.add_function(wrap_pyfunction!(log, &module)?)?;
    module.add_function(wrap_pyfunction!(storage_get, &module)?)?;
    module.add_function(wrap_pyfunction!(storage_set, &module)?)?;
    module.add_function(wrap_pyfunction!(call_service, &module)?)?;
    module.add_function(wrap_pyfunction!(publish, &module)?)?;
    module.add("ERROR", 1)?;
    module.add("WARN", 2)?;
    module.add("INFO", 3)?;
    module.add("DEBUG", 4)?;
    module.add("TRACE", 5)?;
    py.import("sys")?.getattr("modules")?.set_item("plughost_host", module)?;
    Ok(())
}
