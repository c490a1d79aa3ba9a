//! The sending half of a ring.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::Arc;

use super::{
    check_capacity, stamp, Corruption, RegionMemory, RingCounters, RingMemory, RingSetupError, RingStats, SendError,
};
use crate::ipc::frame::{self, FrameHeader, FrameKind, FrameLimits, SlotDescriptor, FRAME_ALIGN, LINE};
use crate::ipc::layout::Geometry;
use crate::ipc::raw::SharedRegion;

/// The sending half of a ring: owned by one thread of the sending process.
#[derive(Debug)]
pub struct Producer<M: RingMemory = RegionMemory> {
    memory: M,
    capacity: u64,
    limits: FrameLimits,
    /// Bytes published so far: the local truth, never shared (frames carry stamps instead).
    tail: u64,
    /// The consumer's cursor as last loaded and checked.
    head: u64,
    /// Whether the message being retried has already been counted as a full event.
    counted_full: bool,
    broken: Option<Corruption>,
    counters: Arc<RingCounters>,
}

impl Producer<RegionMemory> {
    /// The producer of ring `direction` (0: A→B, 1: B→A) in `region`, laid out by the local
    /// `geometry` (validated here).
    pub fn new(region: Arc<SharedRegion>, geometry: &Geometry, direction: usize) -> Result<Self, RingSetupError> {
        let limits = FrameLimits::new(geometry).map_err(|e| RingSetupError(e.0))?;
        let memory = RegionMemory::new(region, &geometry.layout(), direction)?;
        Self::with_memory(memory, geometry.ring_capacity, limits)
    }
}

impl<M: RingMemory> Producer<M> {
    /// A producer over `memory`, whose data area has `capacity` bytes; the ring starts empty at 0.
    pub fn with_memory(memory: M, capacity: usize, limits: FrameLimits) -> Result<Self, RingSetupError> {
        let capacity = check_capacity(capacity, &limits)?;
        Ok(Self {
            memory,
            capacity,
            limits,
            tail: 0,
            head: 0,
            counted_full: false,
            broken: None,
            counters: Arc::default(),
        })
    }

    /// Send an INLINE message.
    pub fn try_send_inline(&mut self, message: &[u8]) -> Result<(), SendError> {
        self.try_send(FrameKind::Inline, message)
    }

    /// Send a SLOT frame naming `descriptor`.
    pub fn try_send_slot(&mut self, descriptor: &SlotDescriptor) -> Result<(), SendError> {
        self.try_send(FrameKind::Slot, &descriptor.encode())
    }

    /// Send a frame of `kind` with `payload` (for SLOT, an encoded [`SlotDescriptor`]), checked
    /// first against the local limits. On [`SendError::Full`] nothing of the frame was written;
    /// retry once the consumer has made room.
    pub fn try_send(&mut self, kind: FrameKind, payload: &[u8]) -> Result<(), SendError> {
        if let Some(c) = self.broken {
            return Err(SendError::Corrupted(c));
        }
        if kind == FrameKind::Pad {
            return Err(SendError::PadNotSendable);
        }
        let header = frame::outgoing_header(kind, payload, &self.limits).map_err(SendError::Invalid)?;
        match self.place(&header, payload) {
            Ok(true) => {
                self.counted_full = false;
                self.counters.frame(message_bytes(&header, payload));
                Ok(())
            }
            Ok(false) => {
                if !self.counted_full {
                    self.counted_full = true;
                    self.counters.full();
                }
                Err(SendError::Full)
            }
            Err(c) => {
                self.broken = Some(c);
                self.counters.broken(&c);
                Err(SendError::Corrupted(c))
            }
        }
    }

    /// Write the frame and publish it; `false` when it does not fit yet. A PAD frame that fits
    /// when the frame does not is published alone, so that a frame larger than the space left
    /// before the end still gets through once the consumer has drained the ring.
    fn place(&mut self, header: &FrameHeader, payload: &[u8]) -> Result<bool, Corruption> {
        let size = header.frame_size() as u64;
        let room = self.capacity - (self.tail & (self.capacity - 1));
        if room < size {
            if !self.has_space(room)? {
                return Ok(false);
            }
            let pad = FrameHeader { stamp: 0, len: 0, kind: FrameKind::Pad, flags: 0 };
            self.publish(&pad, &[], room)?;
        }
        if !self.has_space(size)? {
            return Ok(false);
        }
        self.publish(header, payload, size)?;
        Ok(true)
    }

    /// Write the frame at the cursor over `size` bytes (checked free by the caller): the markers
    /// of its further lines and its payload, then its header word with its stamp (Release); move
    /// the cursor past it.
    fn publish(&mut self, header: &FrameHeader, payload: &[u8], size: u64) -> Result<(), Corruption> {
        let at = self.offset();
        let mut line = LINE;
        while line < size as usize {
            let marker = frame::marker(stamp(self.tail.wrapping_add(line as u64)));
            self.memory.store_word(at + line, marker, Relaxed).ok_or(Corruption::OutOfRegion)?;
            line += LINE;
        }
        for (offset, part) in frame::chunks(payload.len()) {
            self.memory.write(at + offset, &payload[part]).ok_or(Corruption::OutOfRegion)?;
        }
        let word = FrameHeader { stamp: stamp(self.tail), ..*header }.encode();
        self.memory.store_word(at, word, Release).ok_or(Corruption::OutOfRegion)?;
        self.tail = self.tail.wrapping_add(size);
        Ok(())
    }

    /// Whether `bytes` are free, reloading the consumer's cursor only when the cached one says no.
    fn has_space(&mut self, bytes: u64) -> Result<bool, Corruption> {
        if self.capacity - self.tail.wrapping_sub(self.head) >= bytes {
            return Ok(true);
        }
        let head = self.memory.load_head(Acquire).ok_or(Corruption::OutOfRegion)?;
        // The consumer's cursor only moves forward, never past what was published, by whole frames.
        if head.wrapping_sub(self.head) > self.tail.wrapping_sub(self.head) || head % FRAME_ALIGN as u64 != 0 {
            return Err(Corruption::Head { head, tail: self.tail });
        }
        self.head = head;
        Ok(self.capacity - self.tail.wrapping_sub(self.head) >= bytes)
    }

    fn offset(&self) -> usize {
        // The mask keeps the value below the capacity, which came from a `usize`.
        (self.tail & (self.capacity - 1)) as usize
    }

    ring_end_accessors!();
}

/// Message bytes a validated frame carries: the inline payload, or the slot's length.
fn message_bytes(header: &FrameHeader, payload: &[u8]) -> u64 {
    match header.kind {
        FrameKind::Slot => payload.get(12..16).and_then(|b| b.try_into().ok()).map_or(0, u32::from_le_bytes) as u64,
        _ => payload.len() as u64,
    }
}
