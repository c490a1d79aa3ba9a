//! Operating-system specifics, one small file per platform: opening libraries, checking whether a
//! file is still mapped into the process, whether a process id is alive, and process figures.
//!
//! Linux is built and tested here. The Windows file compiles against windows-sys but is verified
//! only by reading; other Unix systems get conservative fallbacks (a closed library is reported as
//! "unknown whether mapped" and kept as pinned).

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

#[cfg(all(unix, not(target_os = "linux")))]
mod other_unix;
#[cfg(all(unix, not(target_os = "linux")))]
pub use other_unix::*;

/// Figures about this process for health; `None` where the platform cannot tell.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ProcessFigures {
    /// Resident set size in bytes.
    pub rss_bytes: Option<u64>,
    /// Number of threads.
    pub threads: Option<u64>,
    /// Number of open file descriptors (handles on Windows).
    pub open_fds: Option<u64>,
    /// Number of memory mappings.
    pub mappings: Option<u64>,
}

/// CPU time and memory of another process (a plugin), for health; `None` where the platform
/// cannot tell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProcessUsage {
    /// User plus system CPU time, in milliseconds.
    pub cpu_ms: Option<u64>,
    /// Resident set size in bytes.
    pub rss_bytes: Option<u64>,
}

/// Library file extensions of this platform (copied as sibling dependencies).
pub const LIBRARY_EXTENSIONS: &[&str] = if cfg!(windows) {
    &["dll", "pdb"]
} else if cfg!(target_os = "macos") {
    &["dylib"]
} else {
    &["so"]
};
