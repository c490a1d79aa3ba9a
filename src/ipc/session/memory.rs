//! A ring inside a session's segment: the ring's [`RegionMemory`] over the segment itself (an
//! `Arc<Segment>`), so that the mapping outlives every access.

use crate::ipc::raw::SharedRegion;
use crate::ipc::ring::{RegionHolder, RegionMemory};
use crate::ipc::segment::Segment;
use std::sync::Arc;

impl RegionHolder for Arc<Segment> {
    fn region(&self) -> &SharedRegion {
        Segment::region(self)
    }
}

/// One direction's ring of a segment.
pub type SegmentRing = RegionMemory<Arc<Segment>>;

/// The ring of `direction` (0: A→B, 1: B→A) of `segment`, or `None` when it does not lie inside
/// the segment or is misaligned (never for a segment built from a valid geometry).
pub fn segment_ring(segment: &Arc<Segment>, direction: usize) -> Option<SegmentRing> {
    RegionMemory::new(segment.clone(), segment.layout(), direction).ok()
}
