//! The frame format inside a ring, and its validating decoder.
//!
//! A frame is one or more cache lines ([`LINE`] = 64 bytes). Every line starts with an 8-byte
//! little-endian word; the other [`LINE_PAYLOAD`] = 56 bytes of each line carry the payload, in
//! order, the last line's unused bytes ignored. The word of a frame's first line is its header:
//!
//! ```text
//! bits 0..32    stamp: the ring's mark that the frame is published (see the ring module); the
//!               frame codec carries it but does not judge it
//! bits 32..48   payload length
//! bits 48..56   kind: 1 PAD, 2 INLINE, 3 SLOT (0 and everything else is refused)
//! bits 56..64   flags: none defined in layout version 2, so every bit must be 0
//! ```
//!
//! The word of every further line is a **marker**: the stamp of that line's own position with
//! nothing else set (kind 0). So the first word of any line in a ring only ever holds a header or a
//! marker, never payload: a stale word can be told from a fresh header by its stamp alone (see the
//! ring module).
//!
//! - PAD: length 0. The rest of the ring's data area up to its end is unused (its further lines
//!   carry markers); the next frame starts at the ring's start. Frames never wrap around the end of
//!   the data area.
//! - INLINE: the payload is the message, at most the geometry's `inline_max` bytes.
//! - SLOT: the payload is a [`SlotDescriptor`] of [`DESCRIPTOR_SIZE`] bytes naming a slot of the
//!   sender's pool that holds the message.
//!
//! A message of up to 56 bytes is one line: the receiver polls the line where the next frame will
//! start, and such a message costs the transfer of that one line between the CPUs.
//!
//! The decoder works on bytes already copied out of shared memory and checks them against
//! [`FrameLimits`], which are built from the local [`Geometry`], never from values in shared
//! memory. Every problem is a [`FrameError`]; no input makes it panic.

use std::fmt;

use super::layout::{Geometry, GeometryError, MAX_CLASSES};

/// Bytes of a line: frames start on lines and are whole lines.
pub const LINE: usize = 64;
/// Bytes of the word at the start of every line (a header or a marker).
pub const WORD: usize = 8;
/// Payload bytes per line.
pub const LINE_PAYLOAD: usize = LINE - WORD;
/// Frames start on multiples of this; each frame is a whole number of lines.
pub const FRAME_ALIGN: usize = LINE;
/// Size of a SLOT frame's payload, the encoded [`SlotDescriptor`].
pub const DESCRIPTOR_SIZE: usize = 16;
/// The flag bits layout version 2 defines: none.
pub const KNOWN_FLAGS: u8 = 0;

/// What a frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameKind {
    /// Skip to the ring's start (written by the ring itself, never by a caller).
    Pad = 1,
    /// The payload is the message.
    Inline = 2,
    /// The payload is a [`SlotDescriptor`].
    Slot = 3,
}

impl FrameKind {
    /// The kind with this wire value, if any.
    pub fn from_u8(value: u8) -> Option<Self> {
        match value {
            1 => Some(FrameKind::Pad),
            2 => Some(FrameKind::Inline),
            3 => Some(FrameKind::Slot),
            _ => None,
        }
    }
}

/// A decoded and validated frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// The ring's publication stamp (not checked by the codec).
    pub stamp: u32,
    /// Payload bytes (without padding).
    pub len: u32,
    /// The frame's kind.
    pub kind: FrameKind,
    /// Flag bits (always 0 in layout version 2).
    pub flags: u8,
}

impl FrameHeader {
    /// The header word.
    pub fn encode(&self) -> u64 {
        u64::from(self.stamp)
            | u64::from(self.len) << 32
            | u64::from(self.kind as u8) << 48
            | u64::from(self.flags) << 56
    }

    /// Bytes the whole frame occupies in the ring: whole lines.
    pub fn frame_size(&self) -> usize {
        frame_size(self.len as usize)
    }
}

/// The word of a frame's further line whose position has `stamp`.
pub fn marker(stamp: u32) -> u64 {
    u64::from(stamp)
}

/// The stamp in a line's first word.
pub fn stamp_of(word: u64) -> u32 {
    word as u32
}

/// Where each part of a payload of `len` bytes lies in its frame: `(offset in the frame, range of
/// the payload)`, one entry per line that carries payload. The one layout the codec, the producer
/// and the consumer all follow.
pub fn chunks(len: usize) -> impl Iterator<Item = (usize, std::ops::Range<usize>)> {
    // Stepped without a division: most payloads fit one line, and take one round.
    let (mut at, mut done) = (WORD, 0);
    std::iter::from_fn(move || {
        if done >= len {
            return None;
        }
        let end = len.min(done + LINE_PAYLOAD);
        let chunk = (at, done..end);
        (at, done) = (at + LINE, end);
        Some(chunk)
    })
}

/// Where a message lies in a slot pool: the payload of a SLOT frame.
///
/// ```text
/// offset 0   u8  class (index into the geometry's slot classes)
/// offset 1   3 bytes reserved, must be 0
/// offset 4   u32 slot index within the class
/// offset 8   u32 slot generation (a fast reject of stale descriptors, not a security boundary)
/// offset 12  u32 message length within the slot
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotDescriptor {
    /// Slot class, smaller than the number of classes in use.
    pub class: u8,
    /// Slot index, smaller than the class's slot count.
    pub index: u32,
    /// The slot's generation when it was filled.
    pub generation: u32,
    /// Message bytes in the slot, at most the class's slot size.
    pub len: u32,
}

impl SlotDescriptor {
    /// The descriptor's 16 bytes.
    pub fn encode(&self) -> [u8; DESCRIPTOR_SIZE] {
        let mut out = [0u8; DESCRIPTOR_SIZE];
        out[0] = self.class;
        out[4..8].copy_from_slice(&self.index.to_le_bytes());
        out[8..12].copy_from_slice(&self.generation.to_le_bytes());
        out[12..16].copy_from_slice(&self.len.to_le_bytes());
        out
    }
}

/// Why bytes are not a valid frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Fewer bytes than the header or the frame needs.
    Truncated {
        /// Bytes the frame needs.
        needed: usize,
        /// Bytes there are.
        available: usize,
    },
    /// The kind byte is not PAD, INLINE or SLOT.
    UnknownKind(u8),
    /// A flag bit outside [`KNOWN_FLAGS`], or a non-zero reserved field, in the header.
    ReservedBits,
    /// A PAD frame with a payload length other than 0.
    PadWithPayload(u32),
    /// An INLINE payload longer than the geometry's inline limit.
    InlineTooLong {
        /// The header's length.
        len: u32,
        /// The local limit.
        max: u32,
    },
    /// A SLOT payload whose length is not [`DESCRIPTOR_SIZE`].
    DescriptorSize(u32),
    /// A descriptor's reserved bytes are not 0.
    DescriptorReserved,
    /// A descriptor's class is not in use.
    UnknownClass {
        /// The descriptor's class.
        class: u8,
        /// Classes in use locally.
        classes: u8,
    },
    /// A descriptor's slot index is outside its class.
    SlotIndex {
        /// The descriptor's index.
        index: u32,
        /// The class's slot count.
        count: u32,
    },
    /// A descriptor's length is larger than its class's slot size.
    SlotLength {
        /// The descriptor's length.
        len: u32,
        /// The class's slot size.
        slot_size: u32,
    },
    /// Found by the ring consumer: a PAD frame at the start of the data area, where a sender never
    /// needs one.
    PadAtStart,
    /// Found by the ring consumer: a frame that would run past the end of the data area (frames
    /// never wrap).
    CrossesEnd {
        /// Bytes the frame occupies.
        size: usize,
        /// Bytes from its start to the end of the data area.
        room: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FrameError::Truncated { needed, available } => {
                write!(f, "frame truncated: {needed} bytes needed, {available} available")
            }
            FrameError::UnknownKind(k) => write!(f, "unknown frame kind {k}"),
            FrameError::ReservedBits => write!(f, "reserved bits set in a frame header"),
            FrameError::PadWithPayload(len) => write!(f, "PAD frame with payload length {len}"),
            FrameError::InlineTooLong { len, max } => write!(f, "inline payload of {len} bytes, limit {max}"),
            FrameError::DescriptorSize(len) => write!(f, "SLOT payload of {len} bytes, not {DESCRIPTOR_SIZE}"),
            FrameError::DescriptorReserved => write!(f, "reserved bytes set in a slot descriptor"),
            FrameError::UnknownClass { class, classes } => {
                write!(f, "slot class {class}, but {classes} classes are in use")
            }
            FrameError::SlotIndex { index, count } => write!(f, "slot index {index}, but the class has {count} slots"),
            FrameError::SlotLength { len, slot_size } => {
                write!(f, "slot length {len}, but the class's slots hold {slot_size} bytes")
            }
            FrameError::PadAtStart => write!(f, "PAD frame at the start of the ring"),
            FrameError::CrossesEnd { size, room } => {
                write!(f, "frame of {size} bytes crosses the end of the ring ({room} bytes left)")
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// The limits a frame is checked against, taken from the local geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLimits {
    inline_max: u32,
    class_count: u8,
    /// (slot size, slot count) per class; entries past `class_count` are unused.
    classes: [(u32, u32); MAX_CLASSES],
}

impl FrameLimits {
    /// The limits of a geometry, which is validated first (so every size fits in a `u32`).
    pub fn new(geometry: &Geometry) -> Result<Self, GeometryError> {
        geometry.validate()?;
        let mut classes = [(0u32, 0u32); MAX_CLASSES];
        for (slot, class) in classes.iter_mut().zip(&geometry.classes) {
            let size = u32::try_from(class.slot_size).map_err(|_| GeometryError("slot size over 4 GiB".into()))?;
            let count = u32::try_from(class.slot_count).map_err(|_| GeometryError("slot count over 2^32".into()))?;
            *slot = (size, count);
        }
        let inline_max =
            u32::try_from(geometry.inline_max).map_err(|_| GeometryError("inline limit too large".into()))?;
        Ok(Self { inline_max, class_count: geometry.classes.len() as u8, classes })
    }

    /// The largest INLINE payload.
    pub fn inline_max(&self) -> usize {
        self.inline_max as usize
    }

    /// Slot classes in use.
    pub fn class_count(&self) -> usize {
        self.class_count as usize
    }

    /// The largest frame these limits admit, in ring bytes.
    pub fn max_frame_size(&self) -> usize {
        frame_size(self.inline_max().max(DESCRIPTOR_SIZE))
    }
}

/// Bytes a frame with `payload_len` payload bytes occupies: one line, or as many as the payload
/// needs at 56 bytes a line.
pub fn frame_size(payload_len: usize) -> usize {
    payload_len.div_ceil(LINE_PAYLOAD).max(1) * LINE
}

/// Check a header word copied out of the ring (the stamp is taken as it is).
pub fn decode_header(word: u64, limits: &FrameLimits) -> Result<FrameHeader, FrameError> {
    let stamp = stamp_of(word);
    let len = (word >> 32) as u16 as u32;
    let kind = (word >> 48) as u8;
    let flags = (word >> 56) as u8;
    let kind = FrameKind::from_u8(kind).ok_or(FrameError::UnknownKind(kind))?;
    if flags & !KNOWN_FLAGS != 0 {
        return Err(FrameError::ReservedBits);
    }
    match kind {
        FrameKind::Pad if len != 0 => return Err(FrameError::PadWithPayload(len)),
        FrameKind::Inline if len > limits.inline_max => {
            return Err(FrameError::InlineTooLong { len, max: limits.inline_max })
        }
        FrameKind::Slot if len as usize != DESCRIPTOR_SIZE => return Err(FrameError::DescriptorSize(len)),
        _ => {}
    }
    Ok(FrameHeader { stamp, len, kind, flags })
}

/// Check a slot descriptor copied out of the ring.
pub fn decode_descriptor(bytes: &[u8; DESCRIPTOR_SIZE], limits: &FrameLimits) -> Result<SlotDescriptor, FrameError> {
    let word = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    if bytes[1..4] != [0, 0, 0] {
        return Err(FrameError::DescriptorReserved);
    }
    let descriptor = SlotDescriptor { class: bytes[0], index: word(4), generation: word(8), len: word(12) };
    check_descriptor(&descriptor, limits)?;
    Ok(descriptor)
}

/// Check a descriptor's class, index and length against the local limits.
pub fn check_descriptor(descriptor: &SlotDescriptor, limits: &FrameLimits) -> Result<(), FrameError> {
    if descriptor.class >= limits.class_count {
        return Err(FrameError::UnknownClass { class: descriptor.class, classes: limits.class_count });
    }
    let (slot_size, count) = limits.classes[descriptor.class as usize];
    if descriptor.index >= count {
        return Err(FrameError::SlotIndex { index: descriptor.index, count });
    }
    if descriptor.len > slot_size {
        return Err(FrameError::SlotLength { len: descriptor.len, slot_size });
    }
    Ok(())
}

/// What a frame carries: the input of [`encode`], the output of [`decode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FramePayload<'a> {
    /// Skip to the ring's start.
    Pad,
    /// An inline message.
    Inline(&'a [u8]),
    /// A message in a slot.
    Slot(SlotDescriptor),
}

/// A frame decoded from the start of a byte slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// What it carries (an inline payload gathered from its lines into the caller's buffer).
    pub payload: FramePayload<'a>,
    /// Bytes it occupies, whole lines (the next frame starts there).
    pub size: usize,
    /// The header's stamp.
    pub stamp: u32,
}

/// Decode and validate the frame at the start of `bytes` (local memory: a copy, never a view of the
/// shared region). An inline payload is gathered from the frame's lines into `out` (cleared
/// first). The markers and the unused bytes of the last line must be present but are not
/// inspected.
pub fn decode<'a>(bytes: &[u8], limits: &FrameLimits, out: &'a mut Vec<u8>) -> Result<Decoded<'a>, FrameError> {
    out.clear();
    let word: [u8; WORD] = bytes
        .get(..WORD)
        .and_then(|h| h.try_into().ok())
        .ok_or(FrameError::Truncated { needed: WORD, available: bytes.len() })?;
    let header = decode_header(u64::from_le_bytes(word), limits)?;
    let size = header.frame_size();
    if bytes.len() < size {
        return Err(FrameError::Truncated { needed: size, available: bytes.len() });
    }
    let len = header.len as usize;
    out.resize(len, 0);
    for (at, part) in chunks(len) {
        out[part.clone()].copy_from_slice(&bytes[at..at + part.len()]);
    }
    let payload = match header.kind {
        FrameKind::Pad => FramePayload::Pad,
        FrameKind::Inline => FramePayload::Inline(out),
        FrameKind::Slot => {
            let raw: &[u8; DESCRIPTOR_SIZE] = out[..].try_into().map_err(|_| FrameError::DescriptorSize(header.len))?;
            FramePayload::Slot(decode_descriptor(raw, limits)?)
        }
    };
    Ok(Decoded { payload, size, stamp: header.stamp })
}

/// Append the frame for `payload` whose first line has `stamp` to `out` (header, markers, payload,
/// zero padding) after checking it with the same rules as the decoder, so that nothing is sent
/// that the receiver would refuse.
pub fn encode(
    payload: FramePayload<'_>,
    stamp: u32,
    limits: &FrameLimits,
    out: &mut Vec<u8>,
) -> Result<(), FrameError> {
    let descriptor;
    let (kind, body): (FrameKind, &[u8]) = match payload {
        FramePayload::Pad => (FrameKind::Pad, &[]),
        FramePayload::Inline(bytes) => (FrameKind::Inline, bytes),
        FramePayload::Slot(d) => {
            descriptor = d.encode();
            (FrameKind::Slot, &descriptor)
        }
    };
    let header = FrameHeader { stamp, ..outgoing_header(kind, body, limits)? };
    let start = out.len();
    out.resize(start + header.frame_size(), 0);
    let frame = &mut out[start..];
    for (line, word) in frame.chunks_mut(LINE).enumerate() {
        let value = if line == 0 { header.encode() } else { marker(stamp.wrapping_add(line as u32)) };
        word[..WORD].copy_from_slice(&value.to_le_bytes());
    }
    for (at, part) in chunks(body.len()) {
        frame[at..at + part.len()].copy_from_slice(&body[part]);
    }
    Ok(())
}

/// The header for sending `body` as a `kind` frame (stamp 0), checked with the decoder's rules
/// (and, for a SLOT frame, the descriptor in `body` too).
pub fn outgoing_header(kind: FrameKind, body: &[u8], limits: &FrameLimits) -> Result<FrameHeader, FrameError> {
    let len =
        u32::try_from(body.len()).map_err(|_| FrameError::InlineTooLong { len: u32::MAX, max: limits.inline_max })?;
    if len > u32::from(u16::MAX) {
        // Longer than a header can say (limits are at most 4096 anyway).
        return Err(FrameError::InlineTooLong { len, max: limits.inline_max });
    }
    let header = FrameHeader { stamp: 0, len, kind, flags: 0 };
    if kind == FrameKind::Inline && len <= limits.inline_max {
        // What the decoder makes of it, without the round trip (the common frame).
        return Ok(header);
    }
    let header = decode_header(header.encode(), limits)?;
    if kind == FrameKind::Slot {
        let raw: &[u8; DESCRIPTOR_SIZE] = body.try_into().map_err(|_| FrameError::DescriptorSize(len))?;
        decode_descriptor(raw, limits)?;
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::layout::SlotClass;

    fn limits() -> FrameLimits {
        FrameLimits::new(&Geometry {
            ring_capacity: 4096,
            inline_max: 128,
            classes: vec![SlotClass { slot_size: 128, slot_count: 4 }, SlotClass { slot_size: 1024, slot_count: 2 }],
        })
        .unwrap()
    }

    fn header(len: u16, kind: u8, flags: u8) -> u64 {
        0x89AB_CDEF | u64::from(len) << 32 | u64::from(kind) << 48 | u64::from(flags) << 56
    }

    fn descriptor(class: u8, reserved: u8, index: u32, len: u32) -> [u8; 16] {
        let mut d = SlotDescriptor { class, index, generation: 7, len }.encode();
        d[2] = reserved;
        d
    }

    #[test]
    fn encoded_frames_decode_to_the_same_payload() {
        let l = limits();
        let slot = SlotDescriptor { class: 1, index: 1, generation: u32::MAX, len: 1024 };
        let long: Vec<u8> = (0..128u8).collect();
        let cases = [
            FramePayload::Pad,
            FramePayload::Inline(b""),
            FramePayload::Inline(b"x"),
            FramePayload::Inline(&[0xA5; 56]),
            FramePayload::Inline(&[0x5A; 57]),
            FramePayload::Inline(&long),
            FramePayload::Slot(slot),
        ];
        let mut stream = Vec::new();
        for (stamp, case) in cases.into_iter().enumerate() {
            encode(case, stamp as u32 * 1000, &l, &mut stream).unwrap();
        }
        assert_eq!(stream.len() % LINE, 0);
        let mut rest = &stream[..];
        let mut out = Vec::new();
        for (stamp, case) in cases.into_iter().enumerate() {
            let d = decode(rest, &l, &mut out).unwrap();
            assert_eq!((d.payload, d.stamp), (case, stamp as u32 * 1000));
            rest = &rest[d.size..];
        }
        assert!(rest.is_empty());
    }

    #[test]
    fn every_line_starts_with_a_header_or_a_marker() {
        let l = limits();
        let long: Vec<u8> = (1..=128u8).collect();
        let mut frame = Vec::new();
        encode(FramePayload::Inline(&long), 41, &l, &mut frame).unwrap();
        assert_eq!(frame.len(), 3 * LINE);
        let word = |line: usize| u64::from_le_bytes(frame[line * LINE..line * LINE + 8].try_into().unwrap());
        assert_eq!(word(0), 41 | 128 << 32 | 2 << 48);
        assert_eq!((word(1), word(2)), (marker(42), marker(43)));
        assert_eq!(&frame[8..64], &long[..56]);
        assert_eq!(&frame[72..128], &long[56..112]);
        assert_eq!(&frame[136..152], &long[112..]);
        assert!(frame[152..].iter().all(|&b| b == 0), "padding is zero");
    }

    #[test]
    fn sizes_are_whole_lines_of_56_payload_bytes() {
        assert_eq!(frame_size(0), 64);
        assert_eq!(frame_size(1), 64);
        assert_eq!(frame_size(56), 64);
        assert_eq!(frame_size(57), 128);
        assert_eq!(frame_size(112), 128);
        assert_eq!(frame_size(113), 192);
        assert_eq!(frame_size(4096), 74 * 64);
        assert_eq!(limits().max_frame_size(), 192);
        let parts: Vec<_> = chunks(113).collect();
        assert_eq!(parts, [(8, 0..56), (72, 56..112), (136, 112..113)]);
        assert_eq!(chunks(0).count(), 0);
    }

    #[test]
    fn header_errors() {
        let l = limits();
        let h = |len, kind, flags| decode_header(header(len, kind, flags), &l);
        assert_eq!(h(0, 0, 0), Err(FrameError::UnknownKind(0)));
        assert_eq!(h(0, 4, 0), Err(FrameError::UnknownKind(4)));
        assert_eq!(h(0, 255, 0), Err(FrameError::UnknownKind(255)));
        assert_eq!(h(3, 2, 1), Err(FrameError::ReservedBits));
        assert_eq!(h(3, 2, 0x80), Err(FrameError::ReservedBits));
        assert_eq!(h(8, 1, 0), Err(FrameError::PadWithPayload(8)));
        assert_eq!(h(129, 2, 0), Err(FrameError::InlineTooLong { len: 129, max: 128 }));
        assert_eq!(h(u16::MAX, 2, 0), Err(FrameError::InlineTooLong { len: 65535, max: 128 }));
        assert_eq!(h(15, 3, 0), Err(FrameError::DescriptorSize(15)));
        assert_eq!(h(17, 3, 0), Err(FrameError::DescriptorSize(17)));
        assert_eq!(
            h(64, 2, 0).unwrap(),
            FrameHeader { stamp: 0x89AB_CDEF, len: 64, kind: FrameKind::Inline, flags: 0 }
        );
        assert_eq!(h(0, 1, 0).unwrap().kind, FrameKind::Pad);
        assert_eq!(h(16, 3, 0).unwrap().kind, FrameKind::Slot);
        assert_eq!(decode_header(marker(5), &l), Err(FrameError::UnknownKind(0)), "a marker is no header");
    }

    #[test]
    fn descriptor_errors() {
        let l = limits();
        let d = |class, reserved, index, len| decode_descriptor(&descriptor(class, reserved, index, len), &l);
        assert_eq!(d(2, 0, 0, 0), Err(FrameError::UnknownClass { class: 2, classes: 2 }));
        assert_eq!(d(255, 0, 0, 0), Err(FrameError::UnknownClass { class: 255, classes: 2 }));
        assert_eq!(d(0, 0, 4, 0), Err(FrameError::SlotIndex { index: 4, count: 4 }));
        assert_eq!(d(1, 0, 2, 0), Err(FrameError::SlotIndex { index: 2, count: 2 }));
        assert_eq!(d(1, 0, u32::MAX, 0), Err(FrameError::SlotIndex { index: u32::MAX, count: 2 }));
        assert_eq!(d(0, 0, 3, 129), Err(FrameError::SlotLength { len: 129, slot_size: 128 }));
        assert_eq!(d(1, 0, 1, u32::MAX), Err(FrameError::SlotLength { len: u32::MAX, slot_size: 1024 }));
        assert_eq!(d(0, 1, 0, 0), Err(FrameError::DescriptorReserved));
        assert_eq!(d(0, 0, 3, 128).unwrap(), SlotDescriptor { class: 0, index: 3, generation: 7, len: 128 });
        assert_eq!(d(1, 0, 1, 1024).unwrap().len, 1024);
    }

    #[test]
    fn truncated_input_is_an_error() {
        let l = limits();
        let mut out = Vec::new();
        assert_eq!(decode(&[], &l, &mut out), Err(FrameError::Truncated { needed: 8, available: 0 }));
        let pad = header(0, 1, 0).to_le_bytes();
        assert_eq!(decode(&pad[..7], &l, &mut out), Err(FrameError::Truncated { needed: 8, available: 7 }));
        let mut frame = header(57, 2, 0).to_le_bytes().to_vec();
        frame.resize(100, 1);
        assert_eq!(decode(&frame, &l, &mut out), Err(FrameError::Truncated { needed: 128, available: 100 }));
        frame.resize(128, 1);
        assert_eq!(decode(&frame, &l, &mut out).unwrap().payload, FramePayload::Inline(&[1; 57]));
        let mut slot = header(16, 3, 0).to_le_bytes().to_vec();
        slot.extend_from_slice(&descriptor(0, 0, 9, 0));
        assert_eq!(decode(&slot, &l, &mut out), Err(FrameError::Truncated { needed: 64, available: 24 }));
        slot.resize(64, 0);
        assert_eq!(decode(&slot, &l, &mut out), Err(FrameError::SlotIndex { index: 9, count: 4 }));
    }

    #[test]
    fn encoding_refuses_what_decoding_would() {
        let l = limits();
        let mut out = Vec::new();
        assert_eq!(
            encode(FramePayload::Inline(&[0; 129]), 0, &l, &mut out),
            Err(FrameError::InlineTooLong { len: 129, max: 128 })
        );
        assert_eq!(
            encode(FramePayload::Inline(&vec![0; 70_000]), 0, &l, &mut out),
            Err(FrameError::InlineTooLong { len: 70_000, max: 128 })
        );
        let bad = SlotDescriptor { class: 0, index: 4, generation: 0, len: 0 };
        assert_eq!(encode(FramePayload::Slot(bad), 0, &l, &mut out), Err(FrameError::SlotIndex { index: 4, count: 4 }));
        assert_eq!(outgoing_header(FrameKind::Slot, &[0; 15], &l), Err(FrameError::DescriptorSize(15)));
        assert_eq!(outgoing_header(FrameKind::Pad, &[0; 1], &l), Err(FrameError::PadWithPayload(1)));
        // The inline header is built without the decoder: it must be what the decoder makes of it.
        for len in 0..=l.inline_max as usize + 1 {
            let header = FrameHeader { stamp: 0, len: len as u32, kind: FrameKind::Inline, flags: 0 };
            assert_eq!(outgoing_header(FrameKind::Inline, &vec![0; len], &l), decode_header(header.encode(), &l));
        }
        assert!(out.is_empty(), "nothing is written on error");
        for e in [FrameError::ReservedBits, FrameError::CrossesEnd { size: 16, room: 8 }] {
            assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn limits_come_from_a_valid_geometry_only() {
        let mut g = Geometry::default();
        let l = FrameLimits::new(&g).unwrap();
        assert_eq!((l.inline_max(), l.class_count()), (256, 3));
        g.inline_max = 3;
        assert!(FrameLimits::new(&g).is_err());
    }
}
