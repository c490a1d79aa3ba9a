//! The segment header: where each field lies in the first page, how the creator writes it, and how
//! the attacher checks it once against its own geometry.
//!
//! ```text
//! offset  size  field
//! 0       8     magic (AtomicU64; written last by the creator with Release, read with Acquire)
//! 8       4     layout version
//! 12      4     header size
//! 16      8     total segment size
//! 24      4     creator's process id
//! 28      4     attacher's process id (AtomicU32; 0 until a peer attaches, then set once by CAS)
//! 32      8     ring capacity
//! 40      8     inline limit
//! 48      8     number of slot classes
//! 56      64    slot classes: (slot size u64, slot count u64) x 4, unused entries zero
//! 128     128   reserved for the peers' liveness words (one cache line each), zero
//! ```
//!
//! Integers are little-endian. Nothing here is read again after attaching.

use super::SegmentError;
use crate::ipc::layout::{Geometry, Layout, SlotClass, HEADER_SIZE, MAGIC, MAX_CLASSES, VERSION};
use crate::ipc::raw::SharedRegion;
use std::sync::atomic::Ordering;

/// Offset of the magic word.
pub const MAGIC_OFFSET: usize = 0;
/// Offset of the layout version.
pub const VERSION_OFFSET: usize = 8;
/// Offset of the header size.
pub const HEADER_SIZE_OFFSET: usize = 12;
/// Offset of the total size.
pub const TOTAL_OFFSET: usize = 16;
/// Offset of the creator's process id.
pub const CREATOR_PID_OFFSET: usize = 24;
/// Offset of the attacher's process id.
pub const ATTACHER_PID_OFFSET: usize = 28;
/// Offset of the geometry copy (ring capacity, inline limit, class count, classes).
pub const GEOMETRY_OFFSET: usize = 32;
/// Offsets of the two liveness lines reserved for the peers (A, then B).
pub const LIVENESS_OFFSETS: [usize; 2] = [128, 192];

fn outside() -> SegmentError {
    SegmentError::Layout("the header lies outside the mapping".into())
}

fn put_u32(region: &SharedRegion, offset: usize, value: u32) -> Result<(), SegmentError> {
    region.write(offset, &value.to_le_bytes()).ok_or_else(outside)
}

fn put_u64(region: &SharedRegion, offset: usize, value: u64) -> Result<(), SegmentError> {
    region.write(offset, &value.to_le_bytes()).ok_or_else(outside)
}

/// Write every field except the magic (the creator publishes it last with [`publish`]).
pub fn write(region: &SharedRegion, geometry: &Geometry, layout: &Layout, creator: u32) -> Result<(), SegmentError> {
    put_u32(region, VERSION_OFFSET, VERSION)?;
    put_u32(region, HEADER_SIZE_OFFSET, HEADER_SIZE as u32)?;
    put_u64(region, TOTAL_OFFSET, layout.total as u64)?;
    put_u32(region, CREATOR_PID_OFFSET, creator)?;
    put_u32(region, ATTACHER_PID_OFFSET, 0)?;
    put_u64(region, GEOMETRY_OFFSET, geometry.ring_capacity as u64)?;
    put_u64(region, GEOMETRY_OFFSET + 8, geometry.inline_max as u64)?;
    put_u64(region, GEOMETRY_OFFSET + 16, geometry.classes.len() as u64)?;
    for i in 0..MAX_CLASSES {
        let c = geometry.classes.get(i).copied().unwrap_or(SlotClass { slot_size: 0, slot_count: 0 });
        put_u64(region, GEOMETRY_OFFSET + 24 + 16 * i, c.slot_size as u64)?;
        put_u64(region, GEOMETRY_OFFSET + 32 + 16 * i, c.slot_count as u64)?;
    }
    Ok(())
}

/// Publish the header: store the magic with Release, after everything else is initialised.
pub fn publish(region: &SharedRegion) -> Result<(), SegmentError> {
    region.atomic_u64(MAGIC_OFFSET).ok_or_else(outside)?.store(MAGIC, Ordering::Release);
    Ok(())
}

/// Check the header against the local geometry and layout: magic (Acquire), version, header size,
/// total size, then the geometry copy. Reads each field once into a local.
pub fn check(region: &SharedRegion, geometry: &Geometry, layout: &Layout) -> Result<(), SegmentError> {
    let magic = region.atomic_u64(MAGIC_OFFSET).ok_or_else(outside)?.load(Ordering::Acquire);
    if magic != MAGIC {
        return Err(SegmentError::BadMagic { found: magic });
    }
    let version = region.read_u32(VERSION_OFFSET).ok_or_else(outside)?;
    if version != VERSION {
        return Err(SegmentError::WrongVersion { found: version, expected: VERSION });
    }
    let header_size = region.read_u32(HEADER_SIZE_OFFSET).ok_or_else(outside)?;
    if header_size as usize != HEADER_SIZE {
        return Err(SegmentError::HeaderSize { found: header_size, expected: HEADER_SIZE as u32 });
    }
    let total = region.read_u64(TOTAL_OFFSET).ok_or_else(outside)?;
    if total != layout.total as u64 {
        return Err(SegmentError::TotalSize { found: total, expected: layout.total as u64 });
    }
    let field = |offset: usize| region.read_u64(GEOMETRY_OFFSET + offset).ok_or_else(outside);
    let mismatch = |what: String| Err(SegmentError::GeometryMismatch(what));
    let (ring, inline, count) = (field(0)?, field(8)?, field(16)?);
    if ring != geometry.ring_capacity as u64 {
        return mismatch(format!("ring capacity {ring}, expected {}", geometry.ring_capacity));
    }
    if inline != geometry.inline_max as u64 {
        return mismatch(format!("inline limit {inline}, expected {}", geometry.inline_max));
    }
    if count != geometry.classes.len() as u64 {
        return mismatch(format!("{count} slot classes, expected {}", geometry.classes.len()));
    }
    for (i, own) in geometry.classes.iter().enumerate() {
        let (size, slots) = (field(24 + 16 * i)?, field(32 + 16 * i)?);
        if size != own.slot_size as u64 || slots != own.slot_count as u64 {
            return mismatch(format!(
                "slot class {i} is {slots} x {size} bytes, expected {} x {}",
                own.slot_count, own.slot_size
            ));
        }
    }
    Ok(())
}

/// Record the attacher's process id; only the first attacher succeeds.
pub fn claim_attacher(region: &SharedRegion, pid: u32) -> Result<(), SegmentError> {
    let word = region.atomic_u32(ATTACHER_PID_OFFSET).ok_or_else(outside)?;
    match word.compare_exchange(0, pid, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => Ok(()),
        Err(existing) => Err(SegmentError::AlreadyAttached { pid: existing }),
    }
}

/// The attacher's process id, 0 while nobody has attached. Peer-written: informational only.
pub fn attacher_pid(region: &SharedRegion) -> u32 {
    region.atomic_u32(ATTACHER_PID_OFFSET).map_or(0, |w| w.load(Ordering::Acquire))
}

/// The creator's process id as written in the header. Peer-written: informational only.
pub fn creator_pid(region: &SharedRegion) -> u32 {
    region.read_u32(CREATOR_PID_OFFSET).unwrap_or(0)
}
