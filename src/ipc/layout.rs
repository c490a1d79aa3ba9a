//! The segment layout, version 2 (version 1 framed the rings differently; see the ring module).
//!
//! ```text
//! offset 0            SegmentHeader (one page): magic (written last), version, sizes, geometry,
//!                     creator and attacher pids, per-peer liveness words
//! rings[0]            ring A→B: control block (producer line, consumer line), then data bytes
//! rings[1]            ring B→A: the same
//! pools[0]            slot pool A→B (A allocates, B returns): free-list head, slot headers, slot data
//! pools[1]            slot pool B→A
//! ```
//!
//! Every region starts on a 64-byte boundary. Each side computes all offsets from its own
//! [`Geometry`]; the attaching side checks once that the header's copy matches its own, and never
//! reads geometry from shared memory again.

/// The segment's magic, written last by the creator (Release) and checked first by the attacher.
pub const MAGIC: u64 = u64::from_le_bytes(*b"PLUGHIPC");
/// The layout version described here.
pub const VERSION: u32 = 2;
/// Size of the header region.
pub const HEADER_SIZE: usize = 4096;
/// Size of a ring's control block: a cache line for the producer, one for the consumer.
pub const RING_CONTROL_SIZE: usize = 128;
/// Size of a slot header (next index, state, generation, length, padding).
pub const SLOT_HEADER_SIZE: usize = 16;
/// Size of a pool's head block (free-list head on its own cache line).
pub const POOL_HEAD_SIZE: usize = 64;
/// At most this many slot size classes.
pub const MAX_CLASSES: usize = 4;
/// The largest segment a geometry may describe.
pub const MAX_SEGMENT_SIZE: usize = 16 << 30;
/// Frame payloads up to this size travel inline in the ring.
pub const DEFAULT_INLINE_MAX: usize = 256;

/// One slot size class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotClass {
    /// Bytes per slot (a multiple of 64).
    pub slot_size: usize,
    /// Slots of this size per direction.
    pub slot_count: usize,
}

/// Sizes of the rings and slot pools, from configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Bytes of each ring's data area (a power of two).
    pub ring_capacity: usize,
    /// Largest payload sent inline.
    pub inline_max: usize,
    /// Slot classes, smallest first.
    pub classes: Vec<SlotClass>,
}

impl Default for Geometry {
    /// Defaults sized so that 256 KB responses at concurrency 8 flow without stalls: a 256 KiB ring
    /// per direction, and per direction 256 × 4 KiB, 64 × 64 KiB and 16 × 1 MiB slots (about
    /// 21 MiB per direction; pages are touched only when used).
    fn default() -> Self {
        Geometry {
            ring_capacity: 256 << 10,
            inline_max: DEFAULT_INLINE_MAX,
            classes: vec![
                SlotClass { slot_size: 4 << 10, slot_count: 256 },
                SlotClass { slot_size: 64 << 10, slot_count: 64 },
                SlotClass { slot_size: 1 << 20, slot_count: 16 },
            ],
        }
    }
}

/// Why a geometry is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeometryError(pub String);

impl Geometry {
    /// Check the limits every offset computation relies on.
    pub fn validate(&self) -> Result<(), GeometryError> {
        let fail = |m: String| Err(GeometryError(m));
        if !self.ring_capacity.is_power_of_two() || !(4096..=(1 << 30)).contains(&self.ring_capacity) {
            return fail(format!("ring capacity {} must be a power of two from 4 KiB to 1 GiB", self.ring_capacity));
        }
        if !(16..=4096).contains(&self.inline_max) || self.inline_max % 8 != 0 {
            return fail(format!("inline limit {} must be a multiple of 8 from 16 to 4096", self.inline_max));
        }
        if self.ring_capacity < 4 * crate::ipc::frame::frame_size(self.inline_max) {
            return fail(format!(
                "ring capacity {} must hold at least four frames of the inline limit {}",
                self.ring_capacity, self.inline_max
            ));
        }
        if self.classes.is_empty() || self.classes.len() > MAX_CLASSES {
            return fail(format!("1 to {MAX_CLASSES} slot classes are needed, found {}", self.classes.len()));
        }
        let mut previous = 0;
        for c in &self.classes {
            if c.slot_size % 64 != 0 || c.slot_size <= previous || c.slot_size > (1 << 30) {
                return fail(format!("slot sizes must be multiples of 64, growing, at most 1 GiB: {}", c.slot_size));
            }
            if c.slot_count == 0 || c.slot_count > (1 << 20) {
                return fail(format!("slot counts must be from 1 to 1048576: {}", c.slot_count));
            }
            previous = c.slot_size;
        }
        match self.total_size() {
            Some(total) if total <= MAX_SEGMENT_SIZE => {}
            _ => return fail(format!("the segment would be larger than {} GiB", MAX_SEGMENT_SIZE >> 30)),
        }
        Ok(())
    }

    /// Bytes of one direction's pool of class `c` (headers, then data), rounded to 64.
    fn class_size(c: &SlotClass) -> Option<usize> {
        let headers = c.slot_count.checked_mul(SLOT_HEADER_SIZE)?;
        let data = c.slot_count.checked_mul(c.slot_size)?;
        round64(POOL_HEAD_SIZE.checked_add(headers)?.checked_add(data)?)
    }

    /// The whole segment's size, or `None` on overflow.
    pub fn total_size(&self) -> Option<usize> {
        let ring = RING_CONTROL_SIZE.checked_add(self.ring_capacity)?;
        let mut pools = 0usize;
        for c in &self.classes {
            pools = pools.checked_add(Self::class_size(c)?)?;
        }
        HEADER_SIZE.checked_add(ring.checked_mul(2)?)?.checked_add(pools.checked_mul(2)?)
    }

    /// Offsets of every region, computed from this geometry alone.
    pub fn layout(&self) -> Layout {
        let ring_stride = RING_CONTROL_SIZE + self.ring_capacity;
        let rings = [HEADER_SIZE, HEADER_SIZE + ring_stride];
        let mut offset = HEADER_SIZE + 2 * ring_stride;
        let mut pools = [[PoolLayout::default(); MAX_CLASSES]; 2];
        for direction in &mut pools {
            for (i, c) in self.classes.iter().enumerate() {
                direction[i] = PoolLayout {
                    head: offset,
                    headers: offset + POOL_HEAD_SIZE,
                    data: offset + POOL_HEAD_SIZE + c.slot_count * SLOT_HEADER_SIZE,
                    slot_size: c.slot_size,
                    slot_count: c.slot_count,
                };
                offset += Self::class_size(c).expect("validated");
            }
        }
        Layout { rings, ring_capacity: self.ring_capacity, pools, classes: self.classes.len(), total: offset }
    }
}

fn round64(n: usize) -> Option<usize> {
    Some(n.checked_add(63)? & !63)
}

/// Where one slot class of one direction lies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolLayout {
    /// The free-list head block.
    pub head: usize,
    /// The first slot header.
    pub headers: usize,
    /// The first slot's data.
    pub data: usize,
    /// Bytes per slot.
    pub slot_size: usize,
    /// Slots in the pool.
    pub slot_count: usize,
}

/// All offsets of a segment; index 0 is direction A→B, 1 is B→A.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Start of each ring's control block; its data follows the control block.
    pub rings: [usize; 2],
    /// Bytes of each ring's data area.
    pub ring_capacity: usize,
    /// Each direction's slot pools, `classes` of them in use.
    pub pools: [[PoolLayout; MAX_CLASSES]; 2],
    /// Slot classes in use.
    pub classes: usize,
    /// Total size.
    pub total: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_geometry_is_valid_and_regions_do_not_overlap() {
        let g = Geometry::default();
        g.validate().unwrap();
        let l = g.layout();
        assert_eq!(Some(l.total), g.total_size());
        let mut regions: Vec<(usize, usize)> =
            l.rings.iter().map(|&r| (r, r + RING_CONTROL_SIZE + l.ring_capacity)).collect();
        for direction in &l.pools {
            for p in &direction[..l.classes] {
                regions.push((p.head, p.data + p.slot_count * p.slot_size));
            }
        }
        regions.sort();
        assert_eq!(regions[0].0, HEADER_SIZE);
        for pair in regions.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "{pair:?} overlap");
            assert_eq!(pair[1].0 % 64, 0);
        }
        assert!(regions.last().unwrap().1 <= l.total);
    }

    #[test]
    fn bad_geometries_are_refused() {
        let base = Geometry::default();
        let with = |f: &dyn Fn(&mut Geometry)| {
            let mut g = base.clone();
            f(&mut g);
            g.validate().is_err()
        };
        assert!(with(&|g| g.ring_capacity = 5000));
        assert!(with(&|g| g.inline_max = 7));
        assert!(with(&|g| {
            g.ring_capacity = 4096;
            g.inline_max = 4096;
        }));
        assert!(with(&|g| g.classes.clear()));
        assert!(with(&|g| g.classes[1].slot_size = 1024));
        assert!(with(&|g| g.classes[0].slot_count = 0));
        assert!(with(&|g| g.classes = vec![SlotClass { slot_size: 1 << 30, slot_count: 1 << 20 }]));
    }
}
