//! What the ring algorithm runs over: two cursors and a data area.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{RingSetupError, HEAD_OFFSET, TAIL_OFFSET};
use crate::ipc::layout::{Layout, RING_CONTROL_SIZE};
use crate::ipc::raw::SharedRegion;

/// One of the ring's two cursors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cursor {
    /// Bytes published by the producer.
    Tail,
    /// Bytes released by the consumer.
    Head,
}

/// The memory of one ring: the cursors and the data area. [`RegionMemory`] is the shared-memory
/// one; the model check implements it with loom's atomics, so that it checks the same algorithm.
///
/// Every method returns `None` instead of touching memory outside the ring.
pub trait RingMemory {
    /// Load a cursor.
    fn load(&self, cursor: Cursor, order: Ordering) -> Option<u64>;
    /// Store a cursor.
    fn store(&self, cursor: Cursor, value: u64, order: Ordering) -> Option<()>;
    /// Copy `src` into the data area at `offset`.
    fn write(&self, offset: usize, src: &[u8]) -> Option<()>;
    /// Copy bytes of the data area at `offset` into `dst`.
    fn read(&self, offset: usize, dst: &mut [u8]) -> Option<()>;
}

/// A ring inside a [`SharedRegion`], at the offsets of a [`Layout`].
#[derive(Debug)]
pub struct RegionMemory {
    region: Arc<SharedRegion>,
    control: usize,
    data: usize,
    capacity: usize,
}

impl RegionMemory {
    /// The ring of `direction` (0: A→B, 1: B→A) of `layout` in `region`, after checking that its
    /// control block and data lie inside the region and that the cursors are aligned.
    pub fn new(region: Arc<SharedRegion>, layout: &Layout, direction: usize) -> Result<Self, RingSetupError> {
        let control = *layout
            .rings
            .get(direction)
            .ok_or_else(|| RingSetupError(format!("ring direction {direction} does not exist")))?;
        let end = control
            .checked_add(RING_CONTROL_SIZE)
            .and_then(|data| data.checked_add(layout.ring_capacity).map(|end| (data, end)));
        let Some((data, end)) = end.filter(|&(_, end)| end <= region.len()) else {
            return Err(RingSetupError(format!("ring {direction} lies outside the {}-byte region", region.len())));
        };
        if control % 64 != 0
            || region.atomic_u64(control + TAIL_OFFSET).is_none()
            || region.atomic_u64(control + HEAD_OFFSET).is_none()
        {
            return Err(RingSetupError(format!("ring {direction}'s control block at {control} is misaligned")));
        }
        debug_assert!(end <= region.len());
        Ok(Self { region, control, data, capacity: layout.ring_capacity })
    }

    /// Bytes of the data area.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn cursor(&self, cursor: Cursor) -> usize {
        self.control + if cursor == Cursor::Tail { TAIL_OFFSET } else { HEAD_OFFSET }
    }

    fn data_range(&self, offset: usize, len: usize) -> Option<usize> {
        (offset.checked_add(len)? <= self.capacity).then_some(self.data + offset)
    }
}

impl RingMemory for RegionMemory {
    fn load(&self, cursor: Cursor, order: Ordering) -> Option<u64> {
        Some(self.region.atomic_u64(self.cursor(cursor))?.load(order))
    }

    fn store(&self, cursor: Cursor, value: u64, order: Ordering) -> Option<()> {
        self.region.atomic_u64(self.cursor(cursor))?.store(value, order);
        Some(())
    }

    fn write(&self, offset: usize, src: &[u8]) -> Option<()> {
        self.region.write(self.data_range(offset, src.len())?, src)
    }

    fn read(&self, offset: usize, dst: &mut [u8]) -> Option<()> {
        self.region.read(self.data_range(offset, dst.len())?, dst)
    }
}
