//! The receiving half of a ring.

use std::sync::atomic::Ordering::{Acquire, Release};
use std::sync::Arc;

use super::{
    check_capacity, stamp, Corruption, RecvError, RegionMemory, RingCounters, RingMemory, RingSetupError, RingStats,
};
use crate::ipc::frame::{self, FrameError, FrameKind, FrameLimits, SlotDescriptor, DESCRIPTOR_SIZE};
use crate::ipc::layout::Geometry;
use crate::ipc::raw::SharedRegion;

/// A received frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// An inline message of this many bytes, now in the caller's buffer.
    Inline(usize),
    /// A message in a slot of the sender's pool (validated against the local geometry); the
    /// caller's buffer is left empty.
    Slot(SlotDescriptor),
}

/// The receiving half of a ring: owned by one thread of the receiving process.
#[derive(Debug)]
pub struct Consumer<M: RingMemory = RegionMemory> {
    memory: M,
    capacity: u64,
    limits: FrameLimits,
    /// Bytes consumed so far: the local truth, never read back from shared memory.
    head: u64,
    broken: Option<Corruption>,
    counters: Arc<RingCounters>,
}

impl Consumer<RegionMemory> {
    /// The consumer of ring `direction` (0: A→B, 1: B→A) in `region`, laid out by the local
    /// `geometry` (validated here).
    pub fn new(region: Arc<SharedRegion>, geometry: &Geometry, direction: usize) -> Result<Self, RingSetupError> {
        let limits = FrameLimits::new(geometry).map_err(|e| RingSetupError(e.0))?;
        let memory = RegionMemory::new(region, &geometry.layout(), direction)?;
        Self::with_memory(memory, geometry.ring_capacity, limits)
    }
}

impl<M: RingMemory> Consumer<M> {
    /// A consumer over `memory`, whose data area has `capacity` bytes; the ring starts empty at 0.
    pub fn with_memory(memory: M, capacity: usize, limits: FrameLimits) -> Result<Self, RingSetupError> {
        let capacity = check_capacity(capacity, &limits)?;
        Ok(Self { memory, capacity, limits, head: 0, broken: None, counters: Arc::default() })
    }

    /// The next frame, if one has been published. An inline message is copied into `out` (which
    /// is cleared first); a slot descriptor is returned by value. A corrupted ring is an error now
    /// and on every later call.
    pub fn try_recv(&mut self, out: &mut Vec<u8>) -> Result<Option<Frame>, RecvError> {
        out.clear();
        if let Some(c) = self.broken {
            return Err(RecvError::Corrupted(c));
        }
        match self.next(out) {
            Ok(frame) => Ok(frame),
            Err(c) => {
                out.clear();
                self.broken = Some(c);
                self.counters.broken(&c);
                Err(RecvError::Corrupted(c))
            }
        }
    }

    fn next(&mut self, out: &mut Vec<u8>) -> Result<Option<Frame>, Corruption> {
        // At most two rounds: a PAD frame sends the cursor to the start, where a PAD is refused.
        loop {
            let position = self.head;
            let at = (position & (self.capacity - 1)) as usize;
            let room = self.capacity as usize - at;
            let malformed = |error| Corruption::Frame { position, error };

            let word = self.memory.load_word(at, Acquire).ok_or(Corruption::OutOfRegion)?;
            if frame::stamp_of(word) != stamp(position) {
                return Ok(None);
            }
            let header = frame::decode_header(word, &self.limits).map_err(malformed)?;
            let size = header.frame_size();
            if header.kind == FrameKind::Pad {
                if at == 0 {
                    return Err(malformed(FrameError::PadAtStart));
                }
                self.release(room)?;
                continue;
            }
            if size > room {
                return Err(malformed(FrameError::CrossesEnd { size, room }));
            }
            let frame = if header.kind == FrameKind::Slot {
                let mut raw = [0u8; DESCRIPTOR_SIZE];
                self.read_payload(at, &mut raw)?;
                let descriptor = frame::decode_descriptor(&raw, &self.limits).map_err(malformed)?;
                self.counters.frame(descriptor.len as u64);
                Frame::Slot(descriptor)
            } else {
                // Appended straight into `out`'s spare capacity: never zeroed first.
                for (offset, part) in frame::chunks(header.len as usize) {
                    self.memory.read_append(at + offset, part.len(), out).ok_or(Corruption::OutOfRegion)?;
                }
                self.counters.frame(out.len() as u64);
                Frame::Inline(out.len())
            };
            self.release(size)?;
            return Ok(Some(frame));
        }
    }

    /// Copy the payload of the frame at `at` out of its lines into `out` (as long as the payload).
    fn read_payload(&self, at: usize, out: &mut [u8]) -> Result<(), Corruption> {
        for (offset, part) in frame::chunks(out.len()) {
            self.memory.read(at + offset, &mut out[part]).ok_or(Corruption::OutOfRegion)?;
        }
        Ok(())
    }

    /// Hand `bytes` back to the producer.
    fn release(&mut self, bytes: usize) -> Result<(), Corruption> {
        self.head = self.head.wrapping_add(bytes as u64);
        self.memory.store_head(self.head, Release).ok_or(Corruption::OutOfRegion)
    }

    ring_end_accessors!();
}
