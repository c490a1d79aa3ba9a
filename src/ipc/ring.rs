//! A single-producer single-consumer byte ring of [frames](super::frame), one per direction.
//!
//! Control block at `Layout.rings[i]` ([`RING_CONTROL_SIZE`] = 128 bytes, 64-byte aligned), data
//! after it:
//!
//! ```text
//! control + 0     ..64 producer line: reserved for the wake-up words (the ring never touches them)
//! control + 64    head: AtomicU64   consumer line: bytes ever consumed (written by the consumer)
//! control + 72    ..128 reserved for the wake-up words of the consumer's line
//! control + 128   data: ring_capacity bytes (a power of two); a cursor's position is cursor % capacity
//! ```
//!
//! Both cursors count bytes from 0 and only grow. The producer's cursor (`tail`) is not shared at
//! all: a frame is published by the **stamp** in its header word, which the producer stores last
//! (Release) after the frame's other lines. The stamp of the line at cursor `p` is
//! `p / 64 + 1` in 32 bits ([`stamp`]): the consumer polls the first word of the line at its own
//! cursor (Acquire) and takes the frame when it holds the stamp of that position. So a small frame
//! costs one cache line between the CPUs, where a shared tail cost its own line too.
//!
//! Why a stale word is never taken for a fresh header: the first word of every line holds a header
//! or a marker (see the frame module), never payload, and the producer writes every line of the
//! data area once per lap (frames, and PAD frames with markers on their further lines). So the word
//! at the consumer's position is zero (a fresh segment), or a header or marker of this lap or the
//! previous one. A previous lap's stamp is that of a position one capacity earlier, which differs
//! in 32 bits because a capacity is at most 1 GiB, 2^24 lines. (A hostile producer can forge
//! stamps at will; that gains it nothing the frame checks do not already catch.)
//!
//! Memory ordering: the producer copies a frame's further lines in (markers and payload), then
//! stores its header word (Release); the consumer loads the header word (Acquire), copies the frame
//! out, then stores `head` (Release); the producer loads `head` (Acquire) before it writes over
//! space the consumer has released, and caches it: it reloads `head` only when short of space.
//!
//! Frames are 64-aligned and never wrap: when the space left before the end of the data area is
//! too short for a frame, the producer writes a PAD frame there and the frame goes to the start. A
//! full ring is [`SendError::Full`]: nothing is dropped, the caller waits (the wake-up module) and
//! retries.
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
pub use memory::{RegionHolder, RegionMemory, RingMemory};
pub use producer::Producer;
pub use stats::{RingCounters, RingStats};

/// Offset of `head` in the control block (start of the consumer's cache line).
pub const HEAD_OFFSET: usize = 64;

/// The stamp of the line at cursor `position`: its line number plus one, in 32 bits (zeroed
/// memory holds no stamp until 2^32 lines have passed, by when every line has been rewritten).
pub fn stamp(position: u64) -> u32 {
    (position / crate::ipc::frame::LINE as u64).wrapping_add(1) as u32
}

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
