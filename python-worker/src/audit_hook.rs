//! The sandbox's audit hook (`plughost::sandbox::PYTHON_AUDIT_HOOK`) in the worker's
//! interpreter: early, readable `PermissionError`s and the import block; the kernel layers are
//! the boundary.

use plughost::sandbox::SandboxPolicy;
use plughost_python_embed::Executor;
use pyo3::prelude::*;
use std::ffi::CString;

/// Add the hook for `policy` (after the prelude, so the prelude's own imports are not judged).
pub fn install(executor: &Executor, policy: &SandboxPolicy) -> Result<(), String> {
    executor.with_python(|py| {
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
    })
}
