//! Shared-memory IPC: the transport between the host (peer A) and plugin or worker processes
//! (peer B). Work in progress: this folder holds the parts built so far, listed below; sessions,
//! RPC, liveness and the C ABI come next (see README "Status").
//!
//! - [`layout`]: the segment's versioned layout and its geometry, computed by each side from its
//!   own configuration and never re-read from shared memory.
//! - `raw`: the only code that touches shared memory: volatile and atomic accesses through a
//!   bounds-checked view; no Rust reference into peer-writable memory ever exists.
//!
//! The peer is hostile: every value read from shared memory is copied out, then validated; a
//! malformed value is an error and a counted event, never a panic or an out-of-bounds access.

pub mod layout;
pub mod raw;
