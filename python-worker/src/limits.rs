//! What the worker applies to itself before it starts Python or any thread: the address-space
//! limit and, when enabled, the sandbox (see `plughost::sandbox`: Landlock and seccomp on Linux,
//! reported layer by layer).

use plughost::python::protocol::WorkerSettings;
use std::sync::OnceLock;

/// What the sandbox enforces in this process, as JSON (`null` when it is off).
static SANDBOX_REPORT: OnceLock<serde_json::Value> = OnceLock::new();

/// Apply `settings`' limits to this process. Must run while the process has one thread.
pub fn apply(settings: &WorkerSettings) -> Result<(), String> {
    if settings.memory_limit > 0 {
        plughost::sandbox::limit_memory(settings.memory_limit)
            .map_err(|e| format!("cannot limit the memory to {} bytes: {e}", settings.memory_limit))?;
    }
    let report = match &settings.sandbox {
        Some(policy) => {
            let report = plughost::sandbox::apply(policy).map_err(|e| format!("cannot apply the sandbox: {e}"))?;
            serde_json::to_value(&report).map_err(|e| e.to_string())?
        }
        None => serde_json::Value::Null,
    };
    let _ = SANDBOX_REPORT.set(report);
    Ok(())
}

/// What the sandbox enforces, as JSON (`null` when it is off).
pub fn sandbox_report() -> serde_json::Value {
    SANDBOX_REPORT.get().cloned().unwrap_or(serde_json::Value::Null)
}
