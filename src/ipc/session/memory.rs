//! A ring inside a session's segment: the [`RingMemory`] the ring halves run over.
//!
//! The ring's own `RegionMemory` needs an `Arc<SharedRegion>`, while a [`Segment`] owns its view
//! together with the mapping. This type holds the segment itself (an `Arc<Segment>`), so the
//! mapping outlives every access, and applies the same bounds checks.

use crate::ipc::layout::RING_CONTROL_SIZE;
use crate::ipc::ring::{Cursor, RingMemory, HEAD_OFFSET, TAIL_OFFSET};
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
    /// segment or its cursors are misaligned (never for a segment built from a valid geometry).
    pub fn new(segment: Arc<Segment>, direction: usize) -> Option<Self> {
        let layout = segment.layout();
        let control = *layout.rings.get(direction)?;
        let capacity = layout.ring_capacity;
        let data = control.checked_add(RING_CONTROL_SIZE)?;
        let end = data.checked_add(capacity)?;
        let region = segment.region();
        let aligned =
            region.atomic_u64(control + TAIL_OFFSET).is_some() && region.atomic_u64(control + HEAD_OFFSET).is_some();
        (end <= region.len() && aligned).then_some(SegmentRing { segment, control, data, capacity })
    }

    /// Whether the producer has published bytes the consumer has not released: a hint read
    /// without consuming anything (for polling and parking), never used for bounds. It also
    /// prefetches the cache line at the consumer's cursor, where the next frame's header will
    /// be: a reader polling this fetches that line together with the producer's cursor instead
    /// of after it.
    pub fn has_unread(&self) -> bool {
        let head = self.load(Cursor::Head, Ordering::Relaxed);
        if let Some(at) = head.and_then(|head| self.data_range(head as usize & (self.capacity - 1), 1)) {
            self.segment.region().prefetch(at);
        }
        let tail = self.load(Cursor::Tail, Ordering::Acquire);
        tail.is_some() && tail != head
    }

    fn cursor(&self, cursor: Cursor) -> usize {
        self.control + if cursor == Cursor::Tail { TAIL_OFFSET } else { HEAD_OFFSET }
    }

    fn data_range(&self, offset: usize, len: usize) -> Option<usize> {
        (offset.checked_add(len)? <= self.capacity).then_some(self.data + offset)
    }
}

impl RingMemory for SegmentRing {
    fn load(&self, cursor: Cursor, order: Ordering) -> Option<u64> {
        Some(self.segment.region().atomic_u64(self.cursor(cursor))?.load(order))
    }

    fn store(&self, cursor: Cursor, value: u64, order: Ordering) -> Option<()> {
        self.segment.region().atomic_u64(self.cursor(cursor))?.store(value, order);
        Some(())
    }

    fn write(&self, offset: usize, src: &[u8]) -> Option<()> {
        self.segment.region().write(self.data_range(offset, src.len())?, src)
    }

    fn read(&self, offset: usize, dst: &mut [u8]) -> Option<()> {
        self.segment.region().read(self.data_range(offset, dst.len())?, dst)
    }
}
