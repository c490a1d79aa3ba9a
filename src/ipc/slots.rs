//! Slot pools: payloads too large for a ring frame travel in a slot of a per-direction pool
//! (`Layout.pools[direction][class]`). The sender takes a slot of the smallest class that fits
//! (then larger ones), copies the payload in and sends a [`Descriptor`] through the ring; the
//! receiver validates the descriptor against its own geometry, copies the payload out and returns
//! the slot at once. A full pool is [`SlotError::Full`]: the sender parks
//! ([`SlotPool::put_wait`]) until the receiver returns a slot and signals
//! [`Event::Space`](crate::ipc::wake::Event::Space) for the direction, or until its deadline.
//! Nothing is dropped.
//!
//! Each class is a Treiber stack in shared memory:
//!
//! ```text
//! head block (64 bytes)   +0  AtomicU64: tag << 32 | (index + 1), 0 = empty; the tag grows on
//!                             every change so that a stale compare-and-swap fails (ABA)
//! slot header i (16 B)    +0  next: index + 1 of the next free slot, 0 = end
//!                         +4  state: FREE or IN_USE
//!                         +8  generation, bumped on each allocation (and on reclaim)
//!                         +12 length of the payload in the slot
//! slot data i             slot_size bytes
//! ```
//!
//! The peer is hostile: every index read from shared memory or from a descriptor is checked
//! against the local layout before use, every loop is bounded (a walk by the class's slot count,
//! a compare-and-swap retry loop by a small multiple of it), and an impossible state is a
//! [`SlotError`] plus a counted event: never a panic, never an access outside the segment. The
//! generation check rejects stale descriptors quickly; it is not a security boundary.

#[cfg(all(test, target_os = "linux"))]
mod tests;

use crate::ipc::layout::{PoolLayout, MAX_CLASSES, SLOT_HEADER_SIZE};
use crate::ipc::raw::SharedRegion;
use crate::ipc::segment::Segment;
use crate::ipc::wake::Waiter;
use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

/// Slot state: on the free list.
pub const FREE: u32 = u32::from_le_bytes(*b"FREE");
/// Slot state: allocated by the sender, not yet returned by the receiver.
pub const IN_USE: u32 = u32::from_le_bytes(*b"USED");

const NEXT: usize = 0;
const STATE: usize = 4;
const GENERATION: usize = 8;
const LENGTH: usize = 12;
const INDEX_MASK: u64 = 0xFFFF_FFFF;

/// What the sender puts in the ring for a payload in a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Descriptor {
    /// Slot class (index into the geometry's classes).
    pub class: u32,
    /// Slot index within the class.
    pub index: u32,
    /// The slot's generation at allocation.
    pub generation: u32,
    /// Payload bytes.
    pub length: u32,
}

impl Descriptor {
    /// Size of the encoded form.
    pub const ENCODED_LEN: usize = 16;

    /// Little-endian class, index, generation, length.
    pub fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        for (chunk, value) in out.chunks_exact_mut(4).zip([self.class, self.index, self.generation, self.length]) {
            chunk.copy_from_slice(&value.to_le_bytes());
        }
        out
    }

    /// The inverse of [`Descriptor::encode`]; any bytes decode, validation happens in
    /// [`SlotPool::take`].
    pub fn decode(bytes: &[u8; Self::ENCODED_LEN]) -> Self {
        let word = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        Descriptor { class: word(0), index: word(4), generation: word(8), length: word(12) }
    }
}

/// Why a slot operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotError {
    /// No free slot in any class large enough: park and retry (back-pressure, not a failure).
    Full,
    /// The payload is larger than the largest slot.
    TooLarge {
        /// Payload bytes.
        length: usize,
        /// The largest slot's size.
        max: usize,
    },
    /// [`SlotPool::put_wait`] ran past its deadline.
    TimedOut,
    /// The direction is neither 0 (A→B) nor 1 (B→A).
    NoSuchDirection(usize),
    /// A descriptor that does not fit the local geometry or the slot's state.
    BadDescriptor(&'static str),
    /// The slot's generation differs from the descriptor's.
    Stale {
        /// The descriptor's generation.
        expected: u32,
        /// The slot's generation.
        found: u32,
    },
    /// Shared memory is in a state this side never produces.
    Corrupt(&'static str),
}

impl SlotError {
    /// Whether this counts as a corrupt event (the peer, or memory, misbehaved).
    pub fn is_corruption(&self) -> bool {
        matches!(self, SlotError::BadDescriptor(_) | SlotError::Stale { .. } | SlotError::Corrupt(_))
    }
}

impl fmt::Display for SlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlotError::Full => f.write_str("no free slot large enough"),
            SlotError::TooLarge { length, max } => write!(f, "{length} bytes is larger than the largest slot ({max})"),
            SlotError::TimedOut => f.write_str("no slot became free before the deadline"),
            SlotError::NoSuchDirection(d) => write!(f, "slot pool direction {d} does not exist"),
            SlotError::BadDescriptor(what) => write!(f, "bad slot descriptor: {what}"),
            SlotError::Stale { expected, found } => {
                write!(f, "stale slot descriptor: generation {expected}, the slot is at {found}")
            }
            SlotError::Corrupt(what) => write!(f, "corrupt slot pool: {what}"),
        }
    }
}

impl std::error::Error for SlotError {}

/// Counters of a [`SlotPool`] (local memory: the peer cannot change them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SlotStats {
    /// Slots allocated.
    pub allocations: u64,
    /// Slots taken (copied out and returned).
    pub takes: u64,
    /// Allocations that found every fitting class empty.
    pub full: u64,
    /// Corrupt events: bad or stale descriptors, impossible states.
    pub corrupt: u64,
}

/// One direction's slot pools of a segment `S` (a `&Segment`, an `Arc<Segment>`, ...), with the
/// layout copied from the local geometry.
#[derive(Debug)]
pub struct SlotPool<S> {
    segment: S,
    direction: usize,
    pools: [PoolLayout; MAX_CLASSES],
    classes: usize,
    allocations: AtomicU64,
    takes: AtomicU64,
    full: AtomicU64,
    corrupt: AtomicU64,
}

impl<S: Deref<Target = Segment>> SlotPool<S> {
    /// The pools of `direction` (0 = A→B, 1 = B→A).
    pub fn new(segment: S, direction: usize) -> Result<Self, SlotError> {
        let layout = segment.layout();
        let pools = *layout.pools.get(direction).ok_or(SlotError::NoSuchDirection(direction))?;
        let classes = layout.classes.min(MAX_CLASSES);
        if segment.region().len() < layout.total {
            return Err(SlotError::Corrupt("the segment is smaller than its layout"));
        }
        Ok(SlotPool {
            segment,
            direction,
            pools,
            classes,
            allocations: AtomicU64::new(0),
            takes: AtomicU64::new(0),
            full: AtomicU64::new(0),
            corrupt: AtomicU64::new(0),
        })
    }

    /// The direction these pools serve.
    pub fn direction(&self) -> usize {
        self.direction
    }

    /// Copy `payload` into a free slot of the smallest fitting class (then larger ones).
    pub fn put(&self, payload: &[u8]) -> Result<Descriptor, SlotError> {
        self.put_parts(&[payload])
    }

    /// [`SlotPool::put`] of the concatenation of `parts`, copied into the slot one after the
    /// other (no intermediate buffer).
    pub fn put_parts(&self, parts: &[&[u8]]) -> Result<Descriptor, SlotError> {
        let result = self.put_inner(parts);
        self.tally(result)
    }

    /// [`SlotPool::put`], parking on `space` (the waiter for
    /// [`Event::Space`](crate::ipc::wake::Event::Space) of this direction) while the pool is full,
    /// until `deadline`.
    pub fn put_wait<W: Deref<Target = Segment>>(
        &self,
        payload: &[u8],
        space: &Waiter<W>,
        deadline: Instant,
    ) -> Result<Descriptor, SlotError> {
        loop {
            match self.put(payload) {
                Err(SlotError::Full) => {}
                other => return other,
            }
            if Instant::now() >= deadline {
                return Err(SlotError::TimedOut);
            }
            space.wait_until(|| self.may_fit(payload.len()), deadline).map_err(|_| SlotError::TimedOut)?;
        }
    }

    /// Validate `descriptor` against the local geometry and the slot's state, copy the payload out
    /// and return the slot at once.
    pub fn take(&self, descriptor: Descriptor) -> Result<Vec<u8>, SlotError> {
        let mut out = Vec::new();
        self.take_into(descriptor, &mut out).map(|()| out)
    }

    /// [`SlotPool::take`] into `out`, replacing its contents (copied into its capacity, never
    /// zeroed first).
    pub fn take_into(&self, descriptor: Descriptor, out: &mut Vec<u8>) -> Result<(), SlotError> {
        out.clear();
        self.take_with(descriptor, |bytes| bytes.append_to(0, bytes.len(), out))?
            .ok_or(SlotError::Corrupt("slot data outside the segment"))
    }

    /// Validate `descriptor` like [`SlotPool::take`], let `read` copy what it wants out of the
    /// payload through a [`SlotBytes`], then return the slot. `read` only ever gets copies: the
    /// slot is the peer's to rewrite at any time.
    pub fn take_with<R>(&self, descriptor: Descriptor, read: impl FnOnce(&SlotBytes<'_>) -> R) -> Result<R, SlotError> {
        let result = self.take_inner(descriptor, read);
        if result.is_ok() {
            self.takes.fetch_add(1, Ordering::Relaxed);
        }
        self.tally(result)
    }

    /// Return a slot the sender allocated but could not send.
    pub fn cancel(&self, descriptor: Descriptor) -> Result<(), SlotError> {
        let result = self.check_in_use(descriptor).and_then(|(pool, index, _)| self.release(&pool, index));
        self.tally(result)
    }

    /// Whether some class large enough for `length` bytes has a free slot (a hint: another
    /// allocation may take it first).
    pub fn may_fit(&self, length: usize) -> bool {
        self.pools[..self.classes]
            .iter()
            .filter(|p| p.slot_size >= length)
            .any(|p| self.head(p).is_ok_and(|h| h.load(Ordering::Acquire) & INDEX_MASK != 0))
    }

    /// Reset every class of this direction: all slots free, generations bumped so that older
    /// descriptors are refused. For formatting and for reclaiming after the peer died; no local
    /// thread may use the pool meanwhile.
    pub fn reclaim_all(&self) -> Result<(), SlotError> {
        let result = self.reclaim_inner();
        self.tally(result)
    }

    /// Free slots of `class`, walking the free list (at most the class's slot count steps; exact
    /// only while nobody allocates or returns slots).
    pub fn free_slots(&self, class: usize) -> Result<usize, SlotError> {
        let result = self.free_slots_inner(class);
        self.tally(result)
    }

    /// This pool's counters.
    pub fn stats(&self) -> SlotStats {
        SlotStats {
            allocations: self.allocations.load(Ordering::Relaxed),
            takes: self.takes.load(Ordering::Relaxed),
            full: self.full.load(Ordering::Relaxed),
            corrupt: self.corrupt.load(Ordering::Relaxed),
        }
    }

    fn tally<T>(&self, result: Result<T, SlotError>) -> Result<T, SlotError> {
        match &result {
            Err(SlotError::Full) => {
                self.full.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) if e.is_corruption() => {
                self.corrupt.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(direction = self.direction, error = %e, "slot pool corruption");
            }
            _ => {}
        }
        result
    }

    fn put_inner(&self, parts: &[&[u8]]) -> Result<Descriptor, SlotError> {
        let length = parts.iter().try_fold(0usize, |sum, p| sum.checked_add(p.len())).unwrap_or(usize::MAX);
        let max = self.pools[..self.classes].last().map_or(0, |p| p.slot_size);
        if length > max || u32::try_from(length).is_err() {
            return Err(SlotError::TooLarge { length, max });
        }
        for (class, pool) in self.pools[..self.classes].iter().enumerate() {
            if pool.slot_size < length {
                continue;
            }
            let Some(index) = self.pop(pool)? else {
                continue;
            };
            let state = self.header(pool, index, STATE)?;
            if state.compare_exchange(FREE, IN_USE, Ordering::AcqRel, Ordering::Acquire).is_err() {
                return Err(SlotError::Corrupt("a slot on the free list was not free"));
            }
            let generation = self.header(pool, index, GENERATION)?.fetch_add(1, Ordering::AcqRel).wrapping_add(1);
            self.header(pool, index, LENGTH)?.store(length as u32, Ordering::Release);
            let data = data_offset(pool, index).ok_or(SlotError::Corrupt("slot data outside the segment"))?;
            let mut at = data;
            for part in parts {
                self.segment.region().write(at, part).ok_or(SlotError::Corrupt("slot data outside the segment"))?;
                at += part.len();
            }
            self.allocations.fetch_add(1, Ordering::Relaxed);
            return Ok(Descriptor { class: class as u32, index: index as u32, generation, length: length as u32 });
        }
        Err(SlotError::Full)
    }

    fn take_inner<R>(&self, descriptor: Descriptor, read: impl FnOnce(&SlotBytes<'_>) -> R) -> Result<R, SlotError> {
        let (pool, index, length) = self.check_in_use(descriptor)?;
        let data = data_offset(&pool, index).ok_or(SlotError::Corrupt("slot data outside the segment"))?;
        let region = self.segment.region();
        if data.checked_add(length).is_none_or(|end| end > region.len()) {
            return Err(SlotError::Corrupt("slot data outside the segment"));
        }
        let result = read(&SlotBytes { region, data, length });
        self.release(&pool, index)?;
        Ok(result)
    }

    /// Check a descriptor against the local geometry, then against the slot's header (copied out
    /// once): generation, state, length.
    fn check_in_use(&self, d: Descriptor) -> Result<(PoolLayout, usize, usize), SlotError> {
        let pool =
            *self.pools[..self.classes].get(d.class as usize).ok_or(SlotError::BadDescriptor("no such slot class"))?;
        let index = d.index as usize;
        if index >= pool.slot_count {
            return Err(SlotError::BadDescriptor("slot index out of range"));
        }
        let length = d.length as usize;
        if length > pool.slot_size {
            return Err(SlotError::BadDescriptor("length larger than the slot"));
        }
        let generation = self.header(&pool, index, GENERATION)?.load(Ordering::Acquire);
        if generation != d.generation {
            return Err(SlotError::Stale { expected: d.generation, found: generation });
        }
        if self.header(&pool, index, STATE)?.load(Ordering::Acquire) != IN_USE {
            return Err(SlotError::BadDescriptor("the slot is not in use"));
        }
        if self.header(&pool, index, LENGTH)?.load(Ordering::Acquire) != d.length {
            return Err(SlotError::BadDescriptor("length differs from the slot's"));
        }
        Ok((pool, index, length))
    }

    /// Mark an in-use slot free and push it; only one of two concurrent returns succeeds.
    fn release(&self, pool: &PoolLayout, index: usize) -> Result<(), SlotError> {
        let state = self.header(pool, index, STATE)?;
        if state.compare_exchange(IN_USE, FREE, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return Err(SlotError::BadDescriptor("the slot was returned meanwhile"));
        }
        self.push(pool, index)
    }

    /// Pop a free slot's index; `None` when the class is empty, or when the head kept changing
    /// for longer than the retry bound (treated as empty: the caller parks and retries).
    fn pop(&self, pool: &PoolLayout) -> Result<Option<usize>, SlotError> {
        let head = self.head(pool)?;
        for _ in 0..retry_bound(pool) {
            let seen = head.load(Ordering::Acquire);
            let top = (seen & INDEX_MASK) as usize;
            if top == 0 {
                return Ok(None);
            }
            if top > pool.slot_count {
                return Err(SlotError::Corrupt("the free-list head names no slot"));
            }
            let next = self.header(pool, top - 1, NEXT)?.load(Ordering::Acquire) as usize;
            if next > pool.slot_count {
                // Either a concurrent pop reused the slot (then the head moved) or corruption.
                if head.load(Ordering::Acquire) == seen {
                    return Err(SlotError::Corrupt("a free-list link names no slot"));
                }
                continue;
            }
            let new = (((seen >> 32) + 1) << 32) | next as u64;
            if head.compare_exchange(seen, new, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                return Ok(Some(top - 1));
            }
        }
        Ok(None)
    }

    fn push(&self, pool: &PoolLayout, index: usize) -> Result<(), SlotError> {
        let head = self.head(pool)?;
        let link = self.header(pool, index, NEXT)?;
        for _ in 0..retry_bound(pool) {
            let seen = head.load(Ordering::Acquire);
            let top = seen & INDEX_MASK;
            if top as usize > pool.slot_count {
                return Err(SlotError::Corrupt("the free-list head names no slot"));
            }
            link.store(top as u32, Ordering::Relaxed);
            let new = (((seen >> 32) + 1) << 32) | (index as u64 + 1);
            if head.compare_exchange(seen, new, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                return Ok(());
            }
        }
        Err(SlotError::Corrupt("the free-list head kept changing"))
    }

    fn reclaim_inner(&self) -> Result<(), SlotError> {
        for pool in &self.pools[..self.classes] {
            for index in 0..pool.slot_count {
                let next = if index + 1 < pool.slot_count { index as u32 + 2 } else { 0 };
                self.header(pool, index, NEXT)?.store(next, Ordering::Relaxed);
                self.header(pool, index, STATE)?.store(FREE, Ordering::Relaxed);
                self.header(pool, index, GENERATION)?.fetch_add(1, Ordering::Relaxed);
                self.header(pool, index, LENGTH)?.store(0, Ordering::Relaxed);
            }
            let head = self.head(pool)?;
            let tag = (head.load(Ordering::Acquire) >> 32) + 1;
            head.store((tag << 32) | u64::from(pool.slot_count > 0), Ordering::Release);
        }
        Ok(())
    }

    fn free_slots_inner(&self, class: usize) -> Result<usize, SlotError> {
        let pool = self.pools[..self.classes].get(class).ok_or(SlotError::BadDescriptor("no such slot class"))?;
        let mut top = (self.head(pool)?.load(Ordering::Acquire) & INDEX_MASK) as usize;
        let mut count = 0;
        while top != 0 {
            if top > pool.slot_count {
                return Err(SlotError::Corrupt("a free-list link names no slot"));
            }
            count += 1;
            if count > pool.slot_count {
                return Err(SlotError::Corrupt("the free list has a cycle"));
            }
            top = self.header(pool, top - 1, NEXT)?.load(Ordering::Acquire) as usize;
        }
        Ok(count)
    }

    fn head(&self, pool: &PoolLayout) -> Result<&AtomicU64, SlotError> {
        self.segment.region().atomic_u64(pool.head).ok_or(SlotError::Corrupt("the pool head lies outside the segment"))
    }

    fn header(&self, pool: &PoolLayout, index: usize, field: usize) -> Result<&AtomicU32, SlotError> {
        let offset = index.checked_mul(SLOT_HEADER_SIZE).and_then(|o| o.checked_add(pool.headers + field));
        offset
            .and_then(|o| self.segment.region().atomic_u32(o))
            .ok_or(SlotError::Corrupt("a slot header lies outside the segment"))
    }
}

/// The payload of a slot being taken, readable only by copying ranges of it out.
#[derive(Debug)]
pub struct SlotBytes<'a> {
    region: &'a SharedRegion,
    data: usize,
    length: usize,
}

impl SlotBytes<'_> {
    /// The payload's length (from the validated descriptor).
    pub fn len(&self) -> usize {
        self.length
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Copy `dst.len()` bytes from `at` within the payload; `None` past its end.
    pub fn read(&self, at: usize, dst: &mut [u8]) -> Option<()> {
        let end = at.checked_add(dst.len())?;
        (end <= self.length).then_some(())?;
        self.region.read(self.data + at, dst)
    }

    /// Append `len` bytes from `at` within the payload to `out` (not zeroed first); `None` past
    /// its end.
    pub fn append_to(&self, at: usize, len: usize, out: &mut Vec<u8>) -> Option<()> {
        let end = at.checked_add(len)?;
        (end <= self.length).then_some(())?;
        self.region.read_append(self.data + at, len, out)
    }
}

fn data_offset(pool: &PoolLayout, index: usize) -> Option<usize> {
    index.checked_mul(pool.slot_size)?.checked_add(pool.data)
}

/// Compare-and-swap attempts before giving up: each failure means another party's operation
/// succeeded, so a legitimate peer never comes near this.
fn retry_bound(pool: &PoolLayout) -> usize {
    pool.slot_count.saturating_mul(4).saturating_add(64)
}
