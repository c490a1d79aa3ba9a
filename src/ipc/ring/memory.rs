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
    /// Append `len` bytes of the data area at `offset` to `out` (`None`, with `out` unchanged,
    /// when they are not inside it).
    fn read_append(&self, offset: usize, len: usize, out: &mut Vec<u8>) -> Option<()> {
        let start = out.len();
        out.resize(start.checked_add(len)?, 0);
        let read = self.read(offset, &mut out[start..]);
        if read.is_none() {
            out.truncate(start);
        }
        read
    }
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
///
/// The ring's control block and data area are views of their own ([`SharedRegion::part`]),
/// checked once against the region here, so that each access on the message path is checked
/// against the part's length alone.
#[derive(Debug)]
pub struct RegionMemory<H: RegionHolder = Arc<SharedRegion>> {
    /// Keeps the mapping that the parts view alive (never read).
    _holder: H,
    control: SharedRegion,
    data: SharedRegion,
}

impl<H: RegionHolder> RegionMemory<H> {
    /// The ring of `direction` (0: A→B, 1: B→A) of `layout` in `holder`'s region, after checking
    /// that its control block and data lie inside the region and are aligned.
    pub fn new(holder: H, layout: &Layout, direction: usize) -> Result<Self, RingSetupError> {
        let (control, data) = locate(holder.region(), layout, direction)?;
        let region = holder.region();
        // SAFETY: the parts live in the returned value next to `holder`, which keeps the mapping
        // alive for as long as the value exists.
        let parts = unsafe { (region.part(control, RING_CONTROL_SIZE), region.part(data, layout.ring_capacity)) };
        let (Some(control), Some(data)) = parts else {
            return Err(RingSetupError(format!("ring {direction} lies outside the region or is misaligned")));
        };
        Ok(Self { _holder: holder, control, data })
    }

    /// Bytes of the data area.
    pub fn capacity(&self) -> usize {
        self.data.len()
    }

    /// Whether the frame at the consumer's cursor is published: a hint read without consuming
    /// anything (for polling and parking), never used for bounds. It reads the consumer's cursor
    /// as this side last stored it and the first word of the line there, which is where the next
    /// frame arrives: a poll costs no cache line beyond the one the frame itself brings.
    pub fn has_unread(&self) -> bool {
        let Some(head) = self.load_head(Ordering::Relaxed) else {
            return false;
        };
        let at = head as usize & (self.capacity() - 1);
        self.load_word(at, Ordering::Acquire).is_some_and(|word| frame::stamp_of(word) == super::stamp(head))
    }

    fn head(&self) -> Option<&AtomicU64> {
        self.control.atomic_u64(HEAD_OFFSET)
    }

    /// The first word of the line at `offset` of the data area: inside it and at a line's start.
    fn word(&self, offset: usize) -> Option<&AtomicU64> {
        if offset % FRAME_ALIGN != 0 {
            return None;
        }
        self.data.atomic_u64(offset)
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
        self.data.write(offset, src)
    }

    fn read(&self, offset: usize, dst: &mut [u8]) -> Option<()> {
        self.data.read(offset, dst)
    }

    fn read_append(&self, offset: usize, len: usize, out: &mut Vec<u8>) -> Option<()> {
        self.data.read_append(offset, len, out)
    }
}
