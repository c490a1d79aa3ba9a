//! What the ring algorithm runs over: the consumer's cursor, the first word of each line, and the
//! data area.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{RingSetupError, HEAD_OFFSET};
use crate::ipc::frame::FRAME_ALIGN;
use crate::ipc::layout::{Layout, RING_CONTROL_SIZE};
use crate::ipc::raw::SharedRegion;

/// The memory of one ring. [`RegionMemory`] is the shared-memory one; the model check implements
/// it with loom's atomics and cells, so that it checks the same algorithm.
///
/// Every method returns `None` instead of touching memory outside the ring; the word methods also
/// for an offset that is not the start of a line ([`FRAME_ALIGN`]).
pub trait RingMemory {
    /// Load the consumer's cursor.
    fn load_head(&self, order: Ordering) -> Option<u64>;
    /// Store the consumer's cursor.
    fn store_head(&self, value: u64, order: Ordering) -> Option<()>;
    /// Load the first word of the line at `offset` of the data area (a header or a marker).
    fn load_word(&self, offset: usize, order: Ordering) -> Option<u64>;
    /// Store the first word of the line at `offset` of the data area.
    fn store_word(&self, offset: usize, value: u64, order: Ordering) -> Option<()>;
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
    /// control block and data lie inside the region and are aligned.
    pub fn new(region: Arc<SharedRegion>, layout: &Layout, direction: usize) -> Result<Self, RingSetupError> {
        let (control, data) = locate(&region, layout, direction)?;
        Ok(Self { region, control, data, capacity: layout.ring_capacity })
    }

    /// Bytes of the data area.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Check that ring `direction` of `layout` lies inside `region`, with its control block and data
/// 64-byte aligned; the offsets of its control block and data.
pub fn locate(region: &SharedRegion, layout: &Layout, direction: usize) -> Result<(usize, usize), RingSetupError> {
    let control = *layout
        .rings
        .get(direction)
        .ok_or_else(|| RingSetupError(format!("ring direction {direction} does not exist")))?;
    let end = control
        .checked_add(RING_CONTROL_SIZE)
        .and_then(|data| data.checked_add(layout.ring_capacity).map(|end| (data, end)));
    let Some((data, _)) = end.filter(|&(_, end)| end <= region.len()) else {
        return Err(RingSetupError(format!("ring {direction} lies outside the {}-byte region", region.len())));
    };
    if control % FRAME_ALIGN != 0 || region.atomic_u64(control + HEAD_OFFSET).is_none() {
        return Err(RingSetupError(format!("ring {direction}'s control block at {control} is misaligned")));
    }
    Ok((control, data))
}

/// The absolute offset of `offset..offset + len` of a data area at `data` of `capacity` bytes.
pub fn data_range(data: usize, capacity: usize, offset: usize, len: usize) -> Option<usize> {
    (offset.checked_add(len)? <= capacity).then_some(data + offset)
}

/// The absolute offset of the first word of the line at `offset` of a data area: inside it and at
/// a line's start.
pub fn word_at(data: usize, capacity: usize, offset: usize) -> Option<usize> {
    (offset % FRAME_ALIGN == 0).then_some(())?;
    data_range(data, capacity, offset, 8)
}

impl RingMemory for RegionMemory {
    fn load_head(&self, order: Ordering) -> Option<u64> {
        Some(self.region.atomic_u64(self.control + HEAD_OFFSET)?.load(order))
    }

    fn store_head(&self, value: u64, order: Ordering) -> Option<()> {
        self.region.atomic_u64(self.control + HEAD_OFFSET)?.store(value, order);
        Some(())
    }

    fn load_word(&self, offset: usize, order: Ordering) -> Option<u64> {
        Some(self.region.atomic_u64(word_at(self.data, self.capacity, offset)?)?.load(order))
    }

    fn store_word(&self, offset: usize, value: u64, order: Ordering) -> Option<()> {
        self.region.atomic_u64(word_at(self.data, self.capacity, offset)?)?.store(value, order);
        Some(())
    }

    fn write(&self, offset: usize, src: &[u8]) -> Option<()> {
        self.region.write(data_range(self.data, self.capacity, offset, src.len())?, src)
    }

    fn read(&self, offset: usize, dst: &mut [u8]) -> Option<()> {
        self.region.read(data_range(self.data, self.capacity, offset, dst.len())?, dst)
    }
}
