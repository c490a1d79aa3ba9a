//! The sandbox of Python workers: a policy, the operating-system layers that enforce it on the
//! current process, and the Python audit hook that adds checks inside the interpreter.
//!
//! What is a security boundary and what is not:
//! - Linux: Landlock (file writes, TCP, abstract Unix sockets and signals outside the sandbox) and a
//!   seccomp filter (sockets, process creation, cross-process access) are enforced by the kernel;
//!   they hold against anything the process runs, native code and ctypes included.
//!   [`apply`](crate::sandbox::apply) reports which of them the running kernel enforces; a layer
//!   the kernel lacks is reported as unavailable, never claimed.
//! - Everywhere: the audit hook ([`PYTHON_AUDIT_HOOK`](crate::sandbox::PYTHON_AUDIT_HOOK)) and the
//!   import block are **not** a boundary (python/cpython#87604): code that reaches native code or
//!   patches the interpreter's own modules gets past them. They give early, readable
//!   `PermissionError`s and are the only layer on systems other than Linux.
//!
//! [`apply`](crate::sandbox::apply) is irreversible and must run before the process starts any
//! other thread: Landlock restricts only the calling thread, so a process with more threads is
//! refused ([`SandboxError::ThreadsRunning`](crate::sandbox::SandboxError::ThreadsRunning)).

#[cfg(target_os = "linux")]
mod landlock;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
mod seccomp;
#[cfg(target_os = "linux")]
use linux as imp;

#[cfg(not(target_os = "linux"))]
mod other;
#[cfg(not(target_os = "linux"))]
use other as imp;

mod memory;
pub use memory::limit_memory;

use std::fmt;
use std::path::PathBuf;

/// The Python source of the audit hook: defines `install(writable_roots, allow_network,
/// allow_subprocess, blocked_imports)`, which adds a `sys.addaudithook` hook raising
/// `PermissionError` for what the policy forbids. Not a security boundary (see the module docs).
/// Compile it under a file name of its own (`compile(source, "<plughost-audit-hook>", "exec")`):
/// the hook protects the functions whose code carries that name.
pub const PYTHON_AUDIT_HOOK: &str = include_str!("audit_hook.py");

/// What a sandboxed worker may do. The default is the strictest: no writable roots, no network,
/// no subprocesses, `ctypes` and `_ctypes` blocked.
/// Serialised (for health, or to hand it to a worker), a missing field takes its default.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxPolicy {
    /// Directories (or files) under which writes are allowed; writes anywhere else are denied.
    /// Reads are allowed everywhere. `/dev/null` is always writable.
    pub writable_roots: Vec<PathBuf>,
    /// Allows sockets of every kind (and TCP bind/connect).
    pub allow_network: bool,
    /// Allows creating processes (fork, exec, subprocess).
    pub allow_subprocess: bool,
    /// Top-level module names Python may not import (enforced by the audit hook only).
    pub blocked_imports: Vec<String>,
}

impl Default for SandboxPolicy {
    fn default() -> Self {
        Self {
            writable_roots: Vec::new(),
            allow_network: false,
            allow_subprocess: false,
            blocked_imports: vec!["ctypes".into(), "_ctypes".into()],
        }
    }
}

/// The state of one enforcement layer after [`apply`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum LayerState {
    /// The kernel enforces this layer on the process from now on.
    Enforced,
    /// The policy allows what this layer would deny, so it was not installed.
    NotRequested,
    /// The layer is missing on this system; the text says why.
    Unavailable(String),
}

impl LayerState {
    /// Whether the kernel enforces the layer.
    pub fn is_enforced(&self) -> bool {
        matches!(self, LayerState::Enforced)
    }
}

impl fmt::Display for LayerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayerState::Enforced => f.write_str("enforced"),
            LayerState::NotRequested => f.write_str("not requested"),
            LayerState::Unavailable(why) => write!(f, "unavailable ({why})"),
        }
    }
}

/// Which operating-system layers [`apply`] put in place, for health and logs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SandboxReport {
    /// The Landlock ABI version the kernel reports; `None` where Landlock is missing.
    pub landlock_abi: Option<u32>,
    /// Landlock file-system rules: writes only under the writable roots.
    pub landlock_filesystem: LayerState,
    /// Landlock TCP rules (ABI 4, Linux 6.7): no TCP bind or connect.
    pub landlock_network: LayerState,
    /// Landlock scopes (ABI 6, Linux 6.12): no connecting to abstract Unix sockets and no
    /// signals to processes outside the sandbox.
    pub landlock_scopes: LayerState,
    /// The seccomp filter (sockets, process creation, cross-process access, io_uring).
    pub seccomp: LayerState,
    /// What the seccomp filter denies, one short phrase each (empty when not enforced).
    pub seccomp_denies: Vec<&'static str>,
}

impl SandboxReport {
    /// A report of a system with no operating-system layer at all.
    pub fn without_os_layers(reason: &str) -> Self {
        let missing = || LayerState::Unavailable(reason.to_string());
        Self {
            landlock_abi: None,
            landlock_filesystem: missing(),
            landlock_network: missing(),
            landlock_scopes: missing(),
            seccomp: missing(),
            seccomp_denies: Vec::new(),
        }
    }

    /// The layers by name, in a fixed order.
    pub fn layers(&self) -> [(&'static str, &LayerState); 4] {
        [
            ("landlock-filesystem", &self.landlock_filesystem),
            ("landlock-network", &self.landlock_network),
            ("landlock-scopes", &self.landlock_scopes),
            ("seccomp", &self.seccomp),
        ]
    }

    /// Whether the policy's file-write rule is enforced by the kernel.
    pub fn writes_enforced(&self) -> bool {
        self.landlock_filesystem.is_enforced()
    }
}

impl fmt::Display for SandboxReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.landlock_abi {
            Some(abi) => write!(f, "landlock abi {abi}")?,
            None => f.write_str("landlock missing")?,
        }
        for (name, state) in self.layers() {
            write!(f, "; {name}: {state}")?;
        }
        Ok(())
    }
}

/// Why [`apply`] or [`limit_memory`] failed. After a failure of [`apply`] the process may be
/// partly restricted; a worker must then exit rather than run scripts.
#[derive(Debug)]
pub enum SandboxError {
    /// The process has other threads, which Landlock would leave unrestricted.
    ThreadsRunning {
        /// The number of threads found.
        threads: usize,
    },
    /// A writable root could not be opened.
    WritableRoot {
        /// The root.
        path: PathBuf,
        /// The error of opening it.
        error: std::io::Error,
    },
    /// A system call the sandbox needs failed.
    Syscall {
        /// What was being done.
        step: &'static str,
        /// The error.
        error: std::io::Error,
    },
    /// The platform cannot do this.
    Unsupported(&'static str),
}

impl fmt::Display for SandboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SandboxError::ThreadsRunning { threads } => {
                write!(f, "the sandbox must be applied before other threads start ({threads} threads are running)")
            }
            SandboxError::WritableRoot { path, error } => {
                write!(f, "writable root {}: {error}", path.display())
            }
            SandboxError::Syscall { step, error } => write!(f, "sandbox: {step}: {error}"),
            SandboxError::Unsupported(what) => write!(f, "sandbox: {what} is not supported on this platform"),
        }
    }
}

impl std::error::Error for SandboxError {}

impl From<SandboxError> for crate::Error {
    fn from(error: SandboxError) -> Self {
        let kind = match error {
            SandboxError::ThreadsRunning { .. } | SandboxError::WritableRoot { .. } => crate::ErrorKind::InvalidConfig,
            SandboxError::Syscall { .. } | SandboxError::Unsupported(_) => crate::ErrorKind::Io,
        };
        crate::Error::new(kind, error.to_string())
    }
}

/// Applies the operating-system layers of `policy` to the current process, irreversibly, and says
/// which are enforced. Call it in a worker before it starts Python or any other thread.
///
/// Linux: Landlock (file system from ABI 1, TCP from ABI 4, scopes from ABI 6) and a seccomp
/// filter synchronised to all threads. Elsewhere: nothing, and a report saying so.
pub fn apply(policy: &SandboxPolicy) -> Result<SandboxReport, SandboxError> {
    imp::apply(policy)
}
