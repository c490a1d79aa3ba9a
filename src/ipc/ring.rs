//! A single-producer single-consumer byte ring of [frames](super::frame), one per direction.
//!
//! Control block at `Layout.rings[i]` ([`RING_CONTROL_SIZE`] = 128 bytes, 64-byte aligned), data
//! after it:
//!
//! ```text
//! control + 0     tail: AtomicU64   producer line: bytes ever published (written by the producer)
//! control + 8     ..64 reserved for the wake-up words of the producer's line; the ring never
//!                 touches them
//! control + 64    head: AtomicU64   consumer line: bytes ever consumed (written by the consumer)
//! control + 72    ..128 reserved for the wake-up words of the consumer's line
//! control + 128   data: ring_capacity bytes (a power of two); a cursor's position is cursor % capacity
//! ```
//!
//! Both cursors count bytes from 0 and only grow; a ring starts empty with both at 0 (the segment's
//! creator zero-fills the control block before it publishes the segment). Each side keeps its own
//! cursor locally and never reads it back from shared memory; it reads only the peer's cursor, and
//! checks it before use.
//!
//! Memory ordering: the producer copies a frame in, then stores `tail` (Release); the consumer loads
//! `tail` (Acquire), copies the frame out, then stores `head` (Release); the producer loads `head`
//! (Acquire) before it writes over space the consumer has released. The producer caches `head` and
//! reloads it only when short of space; the consumer caches `tail` and reloads it only when it has
//! consumed everything it saw.
//!
//! Frames are 8-aligned and never wrap: when the space left before the end of the data area is too
//! short for a frame, the producer writes a PAD frame there and the frame goes to the start. A full
//! ring is [`SendError::Full`]: nothing is dropped, the caller waits (the wake-up module) and retries.
//!
//! The algorithm is written once, generic over [`RingMemory`]: [`RegionMemory`] runs it over a
//! [`SharedRegion`], and the model check (`ring/loom_model.rs`) runs the same code over loom's
//! atomics and cells:
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" cargo test --release --lib ipc::ring
//! ```
//!
//! [`SharedRegion`]: super::raw::SharedRegion
//! [`RING_CONTROL_SIZE`]: super::layout::RING_CONTROL_SIZE

/// The accessors both ends of a ring have (`capacity`, `limits`, `broken`, `stats`, `counters`),
/// over the fields of the same names; written once, expanded in each end's `impl`.
macro_rules! ring_end_accessors {
    () => {
        /// Bytes of the data area.
        pub fn capacity(&self) -> usize {
            self.capacity as usize
        }

        /// The local limits frames are checked against.
        pub fn limits(&self) -> &FrameLimits {
            &self.limits
        }

        /// The corruption that broke the ring, if any.
        pub fn broken(&self) -> Option<Corruption> {
            self.broken
        }

        /// A snapshot of the counters.
        pub fn stats(&self) -> RingStats {
            self.counters.snapshot()
        }

        /// The live counters, for a health reporter on another thread.
        pub fn counters(&self) -> Arc<RingCounters> {
            self.counters.clone()
        }
    };
}

mod consumer;
mod error;
mod memory;
mod producer;
mod stats;

#[cfg(all(test, loom))]
mod loom_model;
#[cfg(all(test, not(loom)))]
mod tests;

pub use consumer::{Consumer, Frame};
pub use error::{Corruption, RecvError, RingSetupError, SendError};
pub use memory::{Cursor, RegionMemory, RingMemory};
pub use producer::Producer;
pub use stats::{RingCounters, RingStats};

/// Offset of `tail` in the control block (start of the producer's cache line).
pub const TAIL_OFFSET: usize = 0;
/// Offset of `head` in the control block (start of the consumer's cache line).
pub const HEAD_OFFSET: usize = 64;
/// Bytes of each control line after its cursor, `8..64`, reserved for the wake-up words.
pub const WAKE_RESERVED: std::ops::Range<usize> = 8..64;

/// Check a ring's capacity against the frame limits: a power of two that holds the largest frame.
fn check_capacity(capacity: usize, limits: &super::frame::FrameLimits) -> Result<u64, RingSetupError> {
    if !capacity.is_power_of_two() || capacity < limits.max_frame_size() {
        return Err(RingSetupError(format!(
            "ring capacity {capacity} must be a power of two of at least {} bytes (the largest frame)",
            limits.max_frame_size()
        )));
    }
    u64::try_from(capacity).map_err(|_| RingSetupError(format!("ring capacity {capacity} is too large")))
}
