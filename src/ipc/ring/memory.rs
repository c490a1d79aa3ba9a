//! What the ring algorithm runs over: the consumer's cursor, the first word of each line, and the
//! data area.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{RingSetupError, HEAD_OFFSET};
use crate::ipc::frame::{self, FRAME_ALIGN};
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

/// What keeps a ring's shared region mapped while the ring is used: the region itself
/// (`Arc<SharedRegion>`), or an owner of it such as a session's segment.
pub trait RegionHolder {
    /// The region.
    fn region(&self) -> &SharedRegion;
}

impl RegionHolder for Arc<SharedRegion> {
    fn region(&self) -> &SharedRegion {
        self
    }
}

/// A ring inside a shared region, at the offsets of a [`Layout`]; `H` keeps the region mapped.
#[derive(Debug)]
pub struct RegionMemory<H: RegionHolder = Arc<SharedRegion>> {
    holder: H,
    control: usize,
    data: usize,
    capacity: usize,
}

impl<H: RegionHolder> RegionMemory<H> {
    /// The ring of `direction` (0: A→B, 1: B→A) of `layout` in `holder`'s region, after checking
    /// that its control block and data lie inside the region and are aligned.
    pub fn new(holder: H, layout: &Layout, direction: usize) -> Result<Self, RingSetupError> {
        let (control, data) = locate(holder.region(), layout, direction)?;
        Ok(Self { holder, control, data, capacity: layout.ring_capacity })
    }

    /// Bytes of the data area.
    pub fn capacity(&self) -> usize {
        self.capacity
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
        self.load_word(at, Ordering::Acquire).is_some_and(|word| frame::stamp_of(word) == super::stamp(head))
    }

    fn head(&self) -> Option<&AtomicU64> {
        self.holder.region().atomic_u64(self.control + HEAD_OFFSET)
    }

    fn word(&self, offset: usize) -> Option<&AtomicU64> {
        self.holder.region().atomic_u64(word_at(self.data, self.capacity, offset)?)
    }
}

/// Check that ring `direction` of `layout` lies inside `region`, with its control block and data
/// 64-byte aligned; the offsets of its control block and data.
fn locate(region: &SharedRegion, layout: &Layout, direction: usize) -> Result<(usize, usize), RingSetupError> {
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
fn data_range(data: usize, capacity: usize, offset: usize, len: usize) -> Option<usize> {
    (offset.checked_add(len)? <= capacity).then_some(data + offset)
}

/// The absolute offset of the first word of the line at `offset` of a data area: inside it and at
/// a line's start.
fn word_at(data: usize, capacity: usize, offset: usize) -> Option<usize> {
    if offset % FRAME_ALIGN != 0 {
        return None;
    }
    data_range(data, capacity, offset, frame::WORD)
}

impl<H: RegionHolder> RingMemory for RegionMemory<H> {
    fn load_head(&self, order: Ordering) -> Option<u64> {
        Some(self.head()?.load(order))
    }

    fn store_head(&self, value: u64, order: Ordering) -> Option<()> {
        self.head()?.store(value, order);
        Some(())
    }

    fn load_word(&self, offset: usize, order: Ordering) -> Option<u64> {
        Some(self.word(offset)?.load(order))
    }

    fn store_word(&self, offset: usize, value: u64, order: Ordering) -> Option<()> {
        self.word(offset)?.store(value, order);
        Some(())
    }

    fn write(&self, offset: usize, src: &[u8]) -> Option<()> {
        self.holder.region().write(data_range(self.data, self.capacity, offset, src.len())?, src)
    }

    fn read(&self, offset: usize, dst: &mut [u8]) -> Option<()> {
        self.holder.region().read(data_range(self.data, self.capacity, offset, dst.len())?, dst)
    }
}
