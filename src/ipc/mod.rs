//! Shared-memory IPC: the transport between the host (peer A) and plugin or worker processes
//! (peer B). Work in progress: this folder holds the parts built so far, listed below; the C ABI
//! for both peers and the benchmarks come next (see README "Status").
//!
//! - [`layout`](crate::ipc::layout): the segment's versioned layout and its geometry, computed by each side from its
//!   own configuration and never re-read from shared memory.
//! - `raw`: the only code that touches shared memory: volatile and atomic accesses through a
//!   bounds-checked view; no Rust reference into peer-writable memory ever exists.
//! - [`frame`](crate::ipc::frame): the frame format inside a ring (PAD, INLINE, SLOT) and its decoder, which checks
//!   bytes copied out of shared memory against the local geometry.
//! - [`ring`](crate::ipc::ring): the single-producer single-consumer byte ring of frames, one per direction, with its
//!   cursor offsets and memory ordering (model-checked with loom).
//! - `fuzzing`: the entry points shared by the cargo-fuzz targets (`fuzz/`) and the bounded fuzz
//!   test (`tests/ipc_fuzz.rs`).
//! - [`segment`](crate::ipc::segment): one segment per session: a sealed memfd handed to the child (Linux), an
//!   exclusive mode-0600 file as fallback with a sweep of stale ones, an unnamed section and four
//!   wake-up semaphores duplicated into the child (Windows); header written, then published with
//!   the magic last; attach checks size, magic, version and geometry once.
//! - [`wake`](crate::ipc::wake): wake-ups per ring direction: spin, then park on a futex (Linux) or a semaphore
//!   (Windows) only after setting a waiter count; the signaller makes a syscall only when someone
//!   waits. Other Unix systems sleep in short steps.
//! - [`slots`](crate::ipc::slots): per-direction slot pools for large payloads: Treiber free lists in shared memory,
//!   bounded and validated against the local layout; a full pool parks the sender.
//! - [`message`](crate::ipc::message): the postcard-encoded messages (requests, responses, failures, events, control)
//!   and the service registry.
//! - [`session`](crate::ipc::session) (Unix and Windows): sessions over all of the above: calls from many threads with request ids,
//!   nested calls in both directions (a waiting caller serves the peer's requests), events, a
//!   service registry, back-pressure with deadlines, and liveness (the peer's process exit first,
//!   a heartbeat as the backstop) that fails calls in flight at once when the peer dies.
//!
//! Built and tested on Linux. The Windows code (`segment/windows.rs`, `wake/windows.rs`,
//! `session/liveness/windows.rs`, the Windows branches of the hand-off) is written against
//! windows-sys 0.61, not built or tested here: verified only by reading.
//!
//! The peer is hostile: every value read from shared memory is copied out, then validated; a
//! malformed value is an error and a counted event, never a panic or an out-of-bounds access.

pub mod frame;
#[doc(hidden)]
pub mod fuzzing;
pub mod layout;
pub mod message;
pub mod raw;
pub mod ring;
pub mod segment;
#[cfg(any(unix, windows))]
pub mod session;
#[cfg(not(any(unix, windows)))]
#[path = "session_unsupported.rs"]
pub mod session;
pub mod slots;
pub mod wake;
