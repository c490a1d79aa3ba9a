//! A ring inside a session's segment: the [`RingMemory`] the ring halves run over.
//!
//! The ring's own `RegionMemory` needs an `Arc<SharedRegion>`, while a [`Segment`] owns its view
//! together with the mapping. This type holds the segment itself (an `Arc<Segment>`), so the
//! mapping outlives every access, and applies the same bounds checks (the ring module's
//! `locate`, `data_range` and `word_at`).

use crate::ipc::frame;
use crate::ipc::ring::{self, locate, word_at, RingMemory, HEAD_OFFSET};
use crate::ipc::segment::Segment;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// One direction's ring of a segment.
#[derive(Debug)]
pub struct SegmentRing {
    segment: Arc<Segment>,
    control: usize,
    data: usize,
    capacity: usize,
}

impl SegmentRing {
    /// The ring of `direction` (0: A→B, 1: B→A), or `None` when it does not lie inside the
    /// segment or is misaligned (never for a segment built from a valid geometry).
    pub fn new(segment: Arc<Segment>, direction: usize) -> Option<Self> {
        let capacity = segment.layout().ring_capacity;
        let (control, data) = locate(segment.region(), segment.layout(), direction).ok()?;
        Some(SegmentRing { segment, control, data, capacity })
    }

    /// Whether the frame at the consumer's cursor is published: a hint read without consuming
    /// anything (for polling and parking), never used for bounds. It reads the consumer's cursor
    /// as this side last stored it and the first word of the line there, which is where the next
    /// frame arrives: a poll costs no cache line beyond the one the frame itself brings.
    pub fn has_unread(&self) -> bool {
        let Some(head) = self.load_head(Ordering::Relaxed) else {
            return false;
        };
        let at = head as usize & (self.capacity - 1);
        self.load_word(at, Ordering::Acquire).is_some_and(|word| frame::stamp_of(word) == ring::stamp(head))
    }

    fn head(&self) -> Option<&std::sync::atomic::AtomicU64> {
        self.segment.region().atomic_u64(self.control + HEAD_OFFSET)
    }
}

impl RingMemory for SegmentRing {
    fn load_head(&self, order: Ordering) -> Option<u64> {
        Some(self.head()?.load(order))
    }

    fn store_head(&self, value: u64, order: Ordering) -> Option<()> {
        self.head()?.store(value, order);
        Some(())
    }

    fn load_word(&self, offset: usize, order: Ordering) -> Option<u64> {
        Some(self.segment.region().atomic_u64(word_at(self.data, self.capacity, offset)?)?.load(order))
    }

    fn store_word(&self, offset: usize, value: u64, order: Ordering) -> Option<()> {
        self.segment.region().atomic_u64(word_at(self.data, self.capacity, offset)?)?.store(value, order);
        Some(())
    }

    fn write(&self, offset: usize, src: &[u8]) -> Option<()> {
        self.segment.region().write(ring::data_range(self.data, self.capacity, offset, src.len())?, src)
    }

    fn read(&self, offset: usize, dst: &mut [u8]) -> Option<()> {
        self.segment.region().read(ring::data_range(self.data, self.capacity, offset, dst.len())?, dst)
    }
}
