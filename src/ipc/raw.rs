//! The only code that touches shared memory: a bounds-checked view of a mapped region.
//!
//! Plain bytes are copied in and out with `ptr::copy` (never through a `&[u8]` into the region);
//! fixed-size values are read with `read_volatile` into locals. Atomics are the one kind of
//! reference handed out, because concurrent modification is what they are for; they are checked
//! for bounds and alignment first. Every accessor returns `None` instead of touching memory outside
//! the region.

use std::sync::atomic::{AtomicU32, AtomicU64};

/// A view of `len` bytes at `base`, shared with a peer that may write any of them at any time.
#[derive(Debug)]
pub struct SharedRegion {
    base: *mut u8,
    len: usize,
}

// SAFETY: the region is only accessed through copies, volatile reads and atomics, all of which
// are sound to perform from any thread.
unsafe impl Send for SharedRegion {}
// SAFETY: as above.
unsafe impl Sync for SharedRegion {}

impl SharedRegion {
    /// View `len` bytes at `base`.
    ///
    /// # Safety
    /// `base` must be valid for reads and writes of `len` bytes, aligned to 64, for the lifetime of
    /// the value (the mapping outlives it), and the memory must not be truncated meanwhile (a
    /// sealed memfd, or a file the other side cannot shrink).
    pub unsafe fn new(base: *mut u8, len: usize) -> Self {
        debug_assert_eq!(base as usize % 64, 0);
        Self { base, len }
    }

    /// The region's size.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A view of the `len` bytes at `offset` of this region (64-aligned, like every region), so
    /// that a part used on every message is bounds-checked against its own length only; `None`
    /// when the part is not inside the region or `offset` is not a multiple of 64.
    ///
    /// # Safety
    /// The view does not keep the mapping alive: the caller keeps whatever keeps this region's
    /// mapping alive for as long as the view is used.
    pub unsafe fn part(&self, offset: usize, len: usize) -> Option<SharedRegion> {
        let base = self.range(offset, len).filter(|_| offset % 64 == 0)?;
        // SAFETY: `base..base + len` lies inside this region (checked by `range`) and is
        // 64-aligned (this region's base is, and `offset` is a multiple of 64); the caller keeps
        // the mapping alive while the view is used, and the region cannot shrink (see `new`).
        Some(unsafe { SharedRegion::new(base, len) })
    }

    fn range(&self, offset: usize, size: usize) -> Option<*mut u8> {
        let end = offset.checked_add(size)?;
        // SAFETY: `offset + size <= len`, so the pointer stays inside the mapping.
        (end <= self.len).then(|| unsafe { self.base.add(offset) })
    }

    /// The `AtomicU32` at `offset` (4-byte aligned).
    pub fn atomic_u32(&self, offset: usize) -> Option<&AtomicU32> {
        let p = self.range(offset, 4)?;
        // SAFETY: in bounds, aligned (checked), and atomics tolerate concurrent access by design.
        (p as usize % 4 == 0).then(|| unsafe { AtomicU32::from_ptr(p.cast()) })
    }

    /// The `AtomicU64` at `offset` (8-byte aligned).
    pub fn atomic_u64(&self, offset: usize) -> Option<&AtomicU64> {
        let p = self.range(offset, 8)?;
        // SAFETY: as in `atomic_u32`.
        (p as usize % 8 == 0).then(|| unsafe { AtomicU64::from_ptr(p.cast()) })
    }

    /// Copy `dst.len()` bytes from `offset` out of the region.
    pub fn read(&self, offset: usize, dst: &mut [u8]) -> Option<()> {
        let p = self.range(offset, dst.len())?;
        // SAFETY: in bounds; `dst` is local memory the peer cannot reach, so the ranges do not
        // overlap. A concurrent write by the peer makes the copied bytes arbitrary, which every
        // caller validates, but never makes the copy itself touch memory outside the region.
        unsafe { std::ptr::copy_nonoverlapping(p, dst.as_mut_ptr(), dst.len()) };
        Some(())
    }

    /// Append `len` bytes copied from `offset` to `out`, without zeroing the new bytes first.
    pub fn read_append(&self, offset: usize, len: usize, out: &mut Vec<u8>) -> Option<()> {
        let p = self.range(offset, len)?;
        out.reserve(len);
        let spare = out.spare_capacity_mut();
        // SAFETY: in bounds; `spare` holds at least `len` bytes (reserved above) of local memory
        // the peer cannot reach, so the ranges do not overlap. After the copy the first `len`
        // bytes of the spare capacity are initialised (with bytes a concurrent write by the peer
        // may have made arbitrary, which every caller validates), so the new length covers only
        // initialised bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(p, spare.as_mut_ptr().cast::<u8>(), len);
            out.set_len(out.len() + len);
        }
        Some(())
    }

    /// Copy `src` into the region at `offset`.
    pub fn write(&self, offset: usize, src: &[u8]) -> Option<()> {
        let p = self.range(offset, src.len())?;
        // SAFETY: in bounds; `src` is local memory, so the ranges do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), p, src.len()) };
        Some(())
    }

    /// Read the little-endian `u64` at `offset` (any alignment) into a local.
    pub fn read_u64(&self, offset: usize) -> Option<u64> {
        let mut bytes = [0u8; 8];
        self.read(offset, &mut bytes)?;
        Some(u64::from_le_bytes(bytes))
    }

    /// Read the little-endian `u32` at `offset` (any alignment) into a local.
    pub fn read_u32(&self, offset: usize) -> Option<u32> {
        let mut bytes = [0u8; 4];
        self.read(offset, &mut bytes)?;
        Some(u32::from_le_bytes(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(align(64))]
    struct Page([u8; 256]);

    #[test]
    fn every_access_is_bounds_and_alignment_checked() {
        let mut page = Page([0; 256]);
        // SAFETY: the page outlives the view and is 64-byte aligned.
        let region = unsafe { SharedRegion::new(page.0.as_mut_ptr(), 256) };
        assert!(region.atomic_u64(248).is_some());
        assert!(region.atomic_u64(249).is_none(), "misaligned");
        assert!(region.atomic_u64(256).is_none(), "out of bounds");
        assert!(region.atomic_u32(usize::MAX - 1).is_none(), "overflow");
        region.write(10, b"hello").unwrap();
        let mut out = [0u8; 5];
        region.read(10, &mut out).unwrap();
        assert_eq!(&out, b"hello");
        assert!(region.write(252, b"hello").is_none());
        let mut appended = b"say ".to_vec();
        region.read_append(10, 5, &mut appended).unwrap();
        assert_eq!(appended, b"say hello");
        assert!(region.read_append(252, 5, &mut appended).is_none());
        assert_eq!(appended, b"say hello");
        assert!(region.read(usize::MAX, &mut out).is_none());
        // SAFETY: `page` outlives the part.
        let part = unsafe { region.part(64, 128) }.unwrap();
        part.write(0, b"part").unwrap();
        assert_eq!(region.read_u32(64), Some(u32::from_le_bytes(*b"part")));
        assert!(part.write(126, b"xyz").is_none(), "a part is checked against its own length");
        // SAFETY: as above.
        unsafe {
            assert!(region.part(8, 64).is_none(), "misaligned");
            assert!(region.part(192, 128).is_none(), "outside the region");
            assert!(region.part(64, usize::MAX).is_none(), "overflow");
        }
        region.atomic_u64(8).unwrap().store(0x0102_0304_0506_0708, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(region.read_u64(8), Some(0x0102_0304_0506_0708));
        assert_eq!(region.read_u32(8), Some(0x0506_0708));
    }
}
