//! Per-half counters, readable from any thread for health.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Live counters of one ring half, shared with whoever reports health.
#[derive(Debug, Default)]
pub struct RingCounters {
    frames: AtomicU64,
    bytes: AtomicU64,
    full: AtomicU64,
    malformed: AtomicU64,
    corrupted: AtomicU64,
}

/// A snapshot of [`RingCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RingStats {
    /// Frames sent or received (PAD frames not counted).
    pub frames: u64,
    /// Message bytes: inline payloads, and the lengths named by slot descriptors.
    pub bytes: u64,
    /// Producer: messages that found the ring full at least once.
    pub full: u64,
    /// Consumer: malformed frames seen (at most one per ring: the ring is broken after it).
    pub malformed: u64,
    /// Impossible cursors seen (at most one per ring half).
    pub corrupted: u64,
}

impl RingCounters {
    /// A snapshot.
    pub fn snapshot(&self) -> RingStats {
        RingStats {
            frames: self.frames.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            full: self.full.load(Relaxed),
            malformed: self.malformed.load(Relaxed),
            corrupted: self.corrupted.load(Relaxed),
        }
    }

    pub(super) fn frame(&self, bytes: u64) {
        // Only the half's own thread writes, so load-and-store is exact and cheaper than an RMW.
        self.frames.store(self.frames.load(Relaxed) + 1, Relaxed);
        self.bytes.store(self.bytes.load(Relaxed) + bytes, Relaxed);
    }

    pub(super) fn full(&self) {
        self.full.fetch_add(1, Relaxed);
    }

    pub(super) fn broken(&self, corruption: &super::Corruption) {
        match corruption {
            super::Corruption::Frame { .. } => self.malformed.fetch_add(1, Relaxed),
            _ => self.corrupted.fetch_add(1, Relaxed),
        };
    }
}
