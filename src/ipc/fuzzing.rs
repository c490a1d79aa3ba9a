//! Entry points shared by the cargo-fuzz targets in `fuzz/` and the bounded fuzz test in
//! `tests/ipc_fuzz.rs`, so that both drive exactly the same code. Not a stable API.
//!
//! - [`frame_decode`]: arbitrary bytes into the frame decoder, frame after frame.
//! - [`message_decode`]: arbitrary bytes into the message decoder, whole and by its head.
//! - [`ring_recv`]: arbitrary bytes laid over a ring's control block and data, then a script of
//!   receive calls and writes a hostile producer makes between them (see [`RingScript`]).
//!
//! Both panic only when an invariant of the code under test breaks, which is what a fuzzer reports.

use std::alloc::{alloc_zeroed, dealloc, handle_alloc_error, Layout as AllocLayout};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::frame::{self, FrameLimits, FramePayload, FRAME_ALIGN};
use super::layout::{Geometry, SlotClass, RING_CONTROL_SIZE};
use super::message::{Message, MessageRef};
use super::raw::SharedRegion;
use super::ring::{self, Consumer, Corruption, Frame, RecvError};

/// The small geometry both targets use: a 4 KiB ring, 256-byte inline limit, two slot classes.
pub fn geometry() -> Geometry {
    Geometry {
        ring_capacity: 4096,
        inline_max: 256,
        classes: vec![SlotClass { slot_size: 64, slot_count: 4 }, SlotClass { slot_size: 1024, slot_count: 2 }],
    }
}

/// Bytes of ring 0's control block and data: what [`ring_recv`]'s image is laid over.
pub const RING_IMAGE_LEN: usize = RING_CONTROL_SIZE + 4096;

/// Zeroed, 64-byte aligned heap memory seen through a [`SharedRegion`], standing in for a mapped
/// segment in tests and fuzzing.
#[derive(Debug)]
pub struct HeapSegment {
    region: Arc<SharedRegion>,
    memory: *mut u8,
    layout: AllocLayout,
}

impl HeapSegment {
    /// `len` zeroed bytes (at least one cache line is allocated).
    pub fn new(len: usize) -> Self {
        let layout = AllocLayout::from_size_align(len.max(64).next_multiple_of(64), 64).expect("segment size");
        // SAFETY: the layout has a non-zero size.
        let memory = unsafe { alloc_zeroed(layout) };
        if memory.is_null() {
            handle_alloc_error(layout);
        }
        // SAFETY: `memory` is valid for `len` bytes and 64-byte aligned; it is freed only in `drop`,
        // and only when no other holder of the view is left (otherwise it is leaked).
        let region = Arc::new(unsafe { SharedRegion::new(memory, len) });
        Self { region, memory, layout }
    }

    /// A segment of `geometry`'s total size.
    pub fn for_geometry(geometry: &Geometry) -> Self {
        Self::new(geometry.layout().total)
    }

    /// The view, to hand to ring halves.
    pub fn region(&self) -> &Arc<SharedRegion> {
        &self.region
    }
}

impl Drop for HeapSegment {
    fn drop(&mut self) {
        if Arc::get_mut(&mut self.region).is_some() {
            // SAFETY: allocated in `new` with this layout; the last view is ours and is no longer used.
            unsafe { dealloc(self.memory, self.layout) };
        }
    }
}

/// Decode `data` frame after frame until the first error; returns the number of frames decoded.
/// Checks that every decoded frame respects the limits and re-encodes to the same bytes.
pub fn frame_decode(data: &[u8]) -> usize {
    let limits = FrameLimits::new(&geometry()).expect("the fuzz geometry is valid");
    let mut rest = data;
    let (mut payload, mut again) = (Vec::new(), Vec::new());
    let mut frames = 0;
    while let Ok(decoded) = frame::decode(rest, &limits, &mut payload) {
        assert!(decoded.size >= FRAME_ALIGN && decoded.size % FRAME_ALIGN == 0 && decoded.size <= rest.len());
        let len = match decoded.payload {
            FramePayload::Pad => 0,
            FramePayload::Inline(bytes) => bytes.len(),
            FramePayload::Slot(d) => {
                assert_eq!(frame::check_descriptor(&d, &limits), Ok(()));
                frame::DESCRIPTOR_SIZE
            }
        };
        assert!(len <= limits.inline_max().max(frame::DESCRIPTOR_SIZE) && decoded.size == frame::frame_size(len));
        again.clear();
        frame::encode(decoded.payload, decoded.stamp, &limits, &mut again).expect("a decoded frame encodes");
        assert_eq!(again.len(), decoded.size);
        // The header and the payload's bytes are canonical; markers and padding may differ.
        assert_eq!(again[..frame::WORD], rest[..frame::WORD], "the header is canonical");
        for (at, part) in frame::chunks(len) {
            assert_eq!(again[at..at + part.len()], rest[at..at + part.len()], "the payload is where it was");
        }
        rest = &rest[decoded.size..];
        frames += 1;
    }
    frames
}

/// Decode `data` as one message, borrowed and owned, and by its head from every prefix a slot's
/// reader might copy; returns whether it decoded. Checks that the three agree, and that a decoded
/// message encodes to bytes that decode to it again.
pub fn message_decode(data: &[u8]) -> bool {
    let decoded = MessageRef::decode(data);
    let owned = Message::decode(data);
    assert_eq!(decoded.map(Message::from).ok(), owned.clone().ok(), "borrowed and owned decoding agree");
    for cut in [0, 1, 8, 16, 64, 256].into_iter().filter(|&cut| cut <= data.len()) {
        match Message::decode_head(&data[..cut], data.len()) {
            Ok(Some(at)) => {
                let mut message = at.message;
                message.set_payload(data[at.offset..].to_vec());
                assert_eq!(Some(&message), owned.as_ref().ok(), "a head decodes like the whole message");
            }
            Ok(None) => {}
            // Refused by its head: the whole message is refused too.
            Err(_) => assert!(owned.is_err(), "a refused head belongs to a refused message"),
        }
    }
    match owned {
        Ok(message) => {
            assert_eq!(Message::decode(&message.encode()).as_ref(), Ok(&message), "a decoded message round-trips");
            true
        }
        Err(_) => false,
    }
}

/// What [`ring_recv`] saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingRecvOutcome {
    /// Frames received.
    pub frames: u64,
    /// The error that broke the ring, if one did.
    pub error: Option<RecvError>,
}

/// Lay `data` over ring 0 of a segment of [`geometry`] and run its consumer under the script that
/// follows the image (format: [`RingScript`]). Checks that the consumer only returns frames within
/// the limits or its sticky error, never reads outside the ring, and counts what it returns.
pub fn ring_recv(data: &[u8]) -> RingRecvOutcome {
    let geometry = geometry();
    let control = geometry.layout().rings[0];
    let segment = HeapSegment::for_geometry(&geometry);
    let region = segment.region().clone();
    let mut consumer = Consumer::new(region.clone(), &geometry, 0).expect("the fuzz geometry is valid");
    let limits = *consumer.limits();
    let mut script = Reader(data);
    let image_len = script.u16() as usize % (RING_IMAGE_LEN + 1);
    let image = script.take(image_len);
    region.write(control, image).expect("inside the ring");

    let mut out = Vec::new();
    let mut outcome = RingRecvOutcome { frames: 0, error: None };
    // Receives `times` times; whether the last call returned a frame.
    let mut recv = |consumer: &mut Consumer, times: usize| {
        let mut frame = false;
        for _ in 0..times {
            frame = match consumer.try_recv(&mut out) {
                Ok(None) => false,
                Ok(Some(Frame::Inline(len))) => {
                    assert!(len == out.len() && len <= limits.inline_max());
                    true
                }
                Ok(Some(Frame::Slot(d))) => {
                    assert_eq!(frame::check_descriptor(&d, &limits), Ok(()));
                    assert!(out.is_empty());
                    true
                }
                Err(e) => {
                    assert_ne!(e, RecvError::Corrupted(Corruption::OutOfRegion), "bounds arithmetic");
                    assert!(outcome.error.is_none_or(|first| first == e), "the error is sticky");
                    outcome.error = Some(e);
                    false
                }
            };
            outcome.frames += u64::from(frame);
        }
        frame
    };
    while let Some(tag) = script.next_byte() {
        match tag % 4 {
            0 => {
                recv(&mut consumer, 1 + (tag >> 2) as usize);
            }
            1 => {
                let offset = script.u16() as usize % RING_IMAGE_LEN;
                let len = script.next_byte().unwrap_or(0) as usize;
                let bytes = script.take(len.min(RING_IMAGE_LEN - offset));
                region.write(control + offset, bytes).expect("inside the ring");
            }
            2 => {
                let position = script.u16() as u64 * FRAME_ALIGN as u64;
                let at = RING_CONTROL_SIZE + (position as usize % (RING_IMAGE_LEN - RING_CONTROL_SIZE));
                let stamp = ring::stamp(position);
                region.atomic_u32(control + at).expect("aligned").store(stamp, Ordering::Release);
            }
            _ => {
                let offset = (script.u16() as usize % RING_IMAGE_LEN) & !7;
                let value = script.u64();
                region.write(control + offset, &value.to_le_bytes()).expect("inside the ring");
            }
        }
    }
    // Drain what the script left published: with the memory still, a stamp holds for one position
    // of the 4096-byte ring only, so the consumer must stop within one lap: 64 frames.
    let mut drained = 0;
    while recv(&mut consumer, 1) {
        drained += 1;
        assert!(drained <= 4096 / FRAME_ALIGN, "the consumer returns more frames than were published");
    }
    let stats = consumer.stats();
    assert_eq!(stats.frames, outcome.frames);
    assert_eq!(stats.malformed + stats.corrupted, outcome.error.is_some() as u64);
    outcome
}

/// Builds [`ring_recv`] inputs: a two-byte image length, the image, then steps, each a tag byte
/// and its arguments (little-endian): `4k`: receive `k + 1` times (k < 64); `1, offset u16, len u8,
/// bytes`: write bytes into the ring image; `2, index u16`: publish the frame at cursor
/// `64 * index` (store its stamp into the low half of the first word of its line); `3, offset u16,
/// value u64`: write 8 bytes at an 8-aligned offset of the image.
#[derive(Clone, Debug, Default)]
pub struct RingScript(Vec<u8>);

impl RingScript {
    /// A script over `image`, laid at the start of the control block (truncated to the ring).
    pub fn new(image: &[u8]) -> Self {
        let image = &image[..image.len().min(RING_IMAGE_LEN)];
        let mut bytes = (image.len() as u16).to_le_bytes().to_vec();
        bytes.extend_from_slice(image);
        Self(bytes)
    }

    /// Receive `times` times (1 to 64).
    pub fn recv(&mut self, times: usize) -> &mut Self {
        self.0.push(((times.clamp(1, 64) - 1) << 2) as u8);
        self
    }

    /// Write `bytes` (up to 255) at `offset` of the ring image (0 is the control block's start,
    /// [`RING_CONTROL_SIZE`] the data's).
    pub fn write(&mut self, offset: usize, bytes: &[u8]) -> &mut Self {
        let bytes = &bytes[..bytes.len().min(255)];
        self.0.push(1);
        self.0.extend_from_slice(&(offset as u16).to_le_bytes());
        self.0.push(bytes.len() as u8);
        self.0.extend_from_slice(bytes);
        self
    }

    /// Publish the frame at cursor `position` (rounded down to 64, taken modulo 4 MiB): store its
    /// stamp into the first word of its line, leaving the header's other fields as they are.
    pub fn publish(&mut self, position: u64) -> &mut Self {
        self.0.push(2);
        self.0.extend_from_slice(&((position / FRAME_ALIGN as u64) as u16).to_le_bytes());
        self
    }

    /// Write the 8 bytes of `value` at `offset` (rounded down to 8) of the ring image.
    pub fn write_u64(&mut self, offset: usize, value: u64) -> &mut Self {
        self.0.push(3);
        self.0.extend_from_slice(&(offset as u16).to_le_bytes());
        self.0.extend_from_slice(&value.to_le_bytes());
        self
    }

    /// The input bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The input bytes, mutable (for mutating a script).
    pub fn bytes_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

/// Reads a script; missing bytes read as zeros.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn next_byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    fn u16(&mut self) -> u16 {
        let mut b = [0u8; 2];
        let src = self.take(2);
        b[..src.len()].copy_from_slice(src);
        u16::from_le_bytes(b)
    }

    fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        let src = self.take(8);
        b[..src.len()].copy_from_slice(src);
        u64::from_le_bytes(b)
    }
}

/// A xorshift64* generator: cheap, deterministic inputs for the bounded fuzz and stress tests.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from `seed` (0 is replaced, as xorshift would stay at 0).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 { 0x9E37_79B9_7F4A_7C15 } else { seed })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// Fill `bytes` with random bytes.
    pub fn fill(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes()[..chunk.len()]);
        }
    }
}

/// The seeds a bounded fuzz or stress test runs: `PLUGHOST_FUZZ_SEED` alone when set (to replay a
/// failure), otherwise `fixed` and one from the clock. Each is printed, so a failure shows it.
pub fn seeds(fixed: u64) -> Vec<u64> {
    if let Some(seed) = std::env::var("PLUGHOST_FUZZ_SEED").ok().and_then(|s| s.trim().parse().ok()) {
        return vec![seed];
    }
    let clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
    vec![fixed, clock]
}
