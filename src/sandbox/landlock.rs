//! Landlock through raw system calls: write-type file-system rights denied everywhere except the
//! writable roots and `/dev/null` (reads and execution stay allowed everywhere), TCP bind and
//! connect denied when the network is not allowed (ABI 4), and the abstract-Unix-socket and signal
//! scopes (ABI 6). Every right is handled only where the kernel's ABI knows it; what the kernel
//! lacks is reported as unavailable.
//!
//! `landlock_restrict_self` restricts the calling thread only (and what it starts later), which is
//! why [`super::apply`] refuses a process with more than one thread.

use super::{LayerState, SandboxError, SandboxPolicy};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

const CREATE_RULESET_VERSION: libc::c_uint = 1 << 0;
const RULE_PATH_BENEATH: libc::c_int = 1;

const FS_EXECUTE: u64 = 1 << 0;
const FS_WRITE_FILE: u64 = 1 << 1;
const FS_READ_FILE: u64 = 1 << 2;
const FS_REMOVE_DIR: u64 = 1 << 4;
const FS_REMOVE_FILE: u64 = 1 << 5;
const FS_MAKE_CHAR: u64 = 1 << 6;
const FS_MAKE_DIR: u64 = 1 << 7;
const FS_MAKE_REG: u64 = 1 << 8;
const FS_MAKE_SOCK: u64 = 1 << 9;
const FS_MAKE_FIFO: u64 = 1 << 10;
const FS_MAKE_BLOCK: u64 = 1 << 11;
const FS_MAKE_SYM: u64 = 1 << 12;
/// ABI 2: linking or renaming into another directory.
const FS_REFER: u64 = 1 << 13;
/// ABI 3: truncate(2), ftruncate of files opened here, open with O_TRUNC.
const FS_TRUNCATE: u64 = 1 << 14;
/// The rights that may be granted on a file (not a directory) rule.
const FS_FILE_RIGHTS: u64 = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE;

const NET_BIND_TCP: u64 = 1 << 0;
const NET_CONNECT_TCP: u64 = 1 << 1;

const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
const SCOPE_SIGNAL: u64 = 1 << 1;

/// The Landlock ABI that first handles TCP rules.
const ABI_NETWORK: u32 = 4;
/// The Landlock ABI that first has scopes.
const ABI_SCOPES: u32 = 6;
/// Writable paths every worker needs besides the policy's roots.
const ALWAYS_WRITABLE: &[&str] = &["/dev/null"];

/// `struct landlock_ruleset_attr`; its size tells the kernel which fields are present.
#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

/// `struct landlock_path_beneath_attr` (packed in the kernel's header).
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// What [`restrict`] did.
pub(super) struct Outcome {
    /// The kernel's Landlock ABI, `None` where Landlock is missing.
    pub(super) abi: Option<u32>,
    pub(super) filesystem: LayerState,
    pub(super) network: LayerState,
    pub(super) scopes: LayerState,
}

/// The Landlock ABI version of the running kernel, or why there is none.
pub(super) fn abi_version() -> Result<u32, String> {
    // SAFETY: the version query takes no attribute pointer and a zero size.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    if v >= 1 {
        return Ok(v as u32);
    }
    let error = io::Error::last_os_error();
    Err(match error.raw_os_error() {
        Some(libc::ENOSYS) => "the kernel has no Landlock (needs Linux 5.13)".to_string(),
        Some(libc::EOPNOTSUPP) => "Landlock is disabled at boot (lsm= parameter)".to_string(),
        _ => format!("Landlock version query failed: {error}"),
    })
}

/// Restricts the calling thread as far as the kernel's Landlock ABI allows.
pub(super) fn restrict(policy: &SandboxPolicy) -> Result<Outcome, SandboxError> {
    let abi = match abi_version() {
        Ok(abi) => abi,
        Err(why) => {
            let missing = || LayerState::Unavailable(why.clone());
            return Ok(Outcome { abi: None, filesystem: missing(), network: missing(), scopes: missing() });
        }
    };
    let handled_fs = write_rights(abi);
    let (handled_net, network) = if policy.allow_network {
        (0, LayerState::NotRequested)
    } else if abi >= ABI_NETWORK {
        (NET_BIND_TCP | NET_CONNECT_TCP, LayerState::Enforced)
    } else {
        (0, LayerState::Unavailable(format!("Landlock ABI {abi} has no TCP rules (needs ABI 4, Linux 6.7)")))
    };
    let (scoped, scopes) = if abi >= ABI_SCOPES {
        let unix = if policy.allow_network { 0 } else { SCOPE_ABSTRACT_UNIX_SOCKET };
        (SCOPE_SIGNAL | unix, LayerState::Enforced)
    } else {
        (0, LayerState::Unavailable(format!("Landlock ABI {abi} has no scopes (needs ABI 6, Linux 6.12)")))
    };
    let attr = RulesetAttr { handled_access_fs: handled_fs, handled_access_net: handled_net, scoped };
    // Older kernels reject a larger struct with fields they do not know, so pass only what the ABI has.
    let size = match abi {
        1..=3 => 8,
        4 | 5 => 16,
        _ => std::mem::size_of::<RulesetAttr>(),
    };
    // SAFETY: `attr` is a valid ruleset attribute whose first `size` bytes the kernel reads.
    let fd = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, &attr as *const RulesetAttr, size, 0) };
    if fd < 0 {
        return Err(SandboxError::Syscall { step: "landlock_create_ruleset", error: io::Error::last_os_error() });
    }
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    let ruleset = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    for root in &policy.writable_roots {
        allow_beneath(&ruleset, root, handled_fs)?;
    }
    for path in ALWAYS_WRITABLE {
        match allow_beneath(&ruleset, Path::new(path), handled_fs) {
            Err(SandboxError::WritableRoot { error, .. }) if error.kind() == io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    // SAFETY: the ruleset descriptor is open; flags 0.
    if unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0u32) } != 0 {
        return Err(SandboxError::Syscall { step: "landlock_restrict_self", error: io::Error::last_os_error() });
    }
    Ok(Outcome { abi: Some(abi), filesystem: LayerState::Enforced, network, scopes })
}

/// The write-type rights the kernel's ABI knows: all of them are handled (denied unless granted).
fn write_rights(abi: u32) -> u64 {
    let mut rights = FS_WRITE_FILE
        | FS_REMOVE_DIR
        | FS_REMOVE_FILE
        | FS_MAKE_CHAR
        | FS_MAKE_DIR
        | FS_MAKE_REG
        | FS_MAKE_SOCK
        | FS_MAKE_FIFO
        | FS_MAKE_BLOCK
        | FS_MAKE_SYM;
    if abi >= 2 {
        rights |= FS_REFER;
    }
    if abi >= 3 {
        rights |= FS_TRUNCATE;
    }
    rights
}

/// Grants `rights` beneath `path` (a directory), or the file rights among them on a file.
fn allow_beneath(ruleset: &OwnedFd, path: &Path, rights: u64) -> Result<(), SandboxError> {
    let fail = |error| SandboxError::WritableRoot { path: path.to_path_buf(), error };
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| fail(io::Error::new(io::ErrorKind::InvalidInput, "NUL in the path")))?;
    // SAFETY: `c_path` is NUL-terminated and outlives the call.
    let raw = unsafe { libc::open(c_path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    if raw < 0 {
        return Err(fail(io::Error::last_os_error()));
    }
    // SAFETY: open returned a new descriptor that nothing else owns.
    let fd = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(raw) });
    let is_dir = fd.metadata().map_err(fail)?.is_dir();
    let allowed_access = if is_dir { rights } else { rights & FS_FILE_RIGHTS };
    let attr = PathBeneathAttr { allowed_access, parent_fd: fd.as_raw_fd() };
    // SAFETY: both descriptors are open and `attr` is a valid rule that outlives the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset.as_raw_fd(),
            RULE_PATH_BENEATH,
            &attr as *const PathBeneathAttr,
            0u32,
        )
    };
    if rc != 0 {
        return Err(SandboxError::Syscall { step: "landlock_add_rule", error: io::Error::last_os_error() });
    }
    Ok(())
}
