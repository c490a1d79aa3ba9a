//! Why creating or attaching a segment failed.

use crate::ipc::layout::GeometryError;
use std::fmt;

/// Why creating or attaching a segment failed. Every refusal of a peer's segment has its own
/// variant, so callers (and tests) can tell them apart.
#[derive(Debug)]
#[non_exhaustive]
pub enum SegmentError {
    /// The local geometry is invalid.
    Geometry(GeometryError),
    /// An operating-system call failed.
    Io {
        /// What was being done.
        op: &'static str,
        /// The system's error.
        source: std::io::Error,
    },
    /// The shared memory is smaller than the layout computed from the local geometry.
    TooSmall {
        /// Bytes the memory object has.
        found: u64,
        /// Bytes the local layout needs.
        needed: u64,
    },
    /// The magic is wrong: not a plughost segment, or not yet initialised.
    BadMagic {
        /// The value found.
        found: u64,
    },
    /// The layout version differs.
    WrongVersion {
        /// The version found.
        found: u32,
        /// This build's version.
        expected: u32,
    },
    /// The header size differs.
    HeaderSize {
        /// The size found.
        found: u32,
        /// This build's header size.
        expected: u32,
    },
    /// The total size recorded by the creator differs from the local layout's.
    TotalSize {
        /// The size found.
        found: u64,
        /// The local layout's size.
        expected: u64,
    },
    /// The creator's geometry differs from the local one (the message names the first difference).
    GeometryMismatch(String),
    /// A memfd without the seals that keep its size fixed.
    NotSealed {
        /// The seals found (`F_GET_SEALS`).
        seals: i32,
    },
    /// Another process attached already.
    AlreadyAttached {
        /// The process id recorded by that attacher.
        pid: u32,
    },
    /// The hand-off from the creator is missing, malformed, or names the wrong object.
    Handoff(String),
    /// The local layout does not fit the mapping (an internal inconsistency, not a peer's doing).
    Layout(String),
}

impl SegmentError {
    pub(crate) fn io(op: &'static str, source: std::io::Error) -> Self {
        SegmentError::Io { op, source }
    }

    pub(crate) fn last_os(op: &'static str) -> Self {
        SegmentError::Io { op, source: std::io::Error::last_os_error() }
    }
}

impl fmt::Display for SegmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SegmentError::Geometry(e) => write!(f, "invalid IPC geometry: {}", e.0),
            SegmentError::Io { op, source } => write!(f, "{op}: {source}"),
            SegmentError::TooSmall { found, needed } => {
                write!(f, "the segment has {found} bytes but the local layout needs {needed}")
            }
            SegmentError::BadMagic { found } => write!(f, "not an initialised plughost segment (magic {found:#018x})"),
            SegmentError::WrongVersion { found, expected } => {
                write!(f, "segment layout version {found}, this build speaks {expected}")
            }
            SegmentError::HeaderSize { found, expected } => {
                write!(f, "segment header size {found}, expected {expected}")
            }
            SegmentError::TotalSize { found, expected } => {
                write!(f, "segment total size {found}, the local layout has {expected}")
            }
            SegmentError::GeometryMismatch(what) => write!(f, "segment geometry differs: {what}"),
            SegmentError::NotSealed { seals } => {
                write!(f, "the memfd is not sealed against resizing (seals {seals:#x})")
            }
            SegmentError::AlreadyAttached { pid } => write!(f, "process {pid} attached to the segment already"),
            SegmentError::Handoff(what) => write!(f, "segment hand-off: {what}"),
            SegmentError::Layout(what) => write!(f, "segment layout: {what}"),
        }
    }
}

impl std::error::Error for SegmentError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SegmentError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
