//! Single-threaded tests of the ring: framing, stamps, PAD, back-pressure, and every corruption
//! check.

use std::sync::atomic::Ordering::SeqCst;

use super::*;
use crate::ipc::frame::{FrameError, FrameKind, FrameLimits, SlotDescriptor};
use crate::ipc::fuzzing::HeapSegment;
use crate::ipc::layout::{Geometry, SlotClass, RING_CONTROL_SIZE};

fn geometry() -> Geometry {
    Geometry { ring_capacity: 4096, inline_max: 256, classes: vec![SlotClass { slot_size: 4096, slot_count: 8 }] }
}

fn ring(g: &Geometry) -> (HeapSegment, Producer, Consumer) {
    let segment = HeapSegment::for_geometry(g);
    let producer = Producer::new(segment.region().clone(), g, 0).unwrap();
    let consumer = Consumer::new(segment.region().clone(), g, 0).unwrap();
    (segment, producer, consumer)
}

/// A ring whose data area is only `capacity` bytes (below what a geometry allows), to reach the
/// wrap-around cases quickly.
fn small_ring(capacity: usize, inline_max: usize) -> (HeapSegment, Producer, Consumer) {
    let g = geometry();
    let segment = HeapSegment::for_geometry(&g);
    let mut layout = g.layout();
    layout.ring_capacity = capacity;
    let limits = FrameLimits::new(&Geometry { inline_max, ..g }).unwrap();
    let memory = || RegionMemory::new(segment.region().clone(), &layout, 0).unwrap();
    let producer = Producer::with_memory(memory(), capacity, limits).unwrap();
    let consumer = Consumer::with_memory(memory(), capacity, limits).unwrap();
    (segment, producer, consumer)
}

fn control(g: &Geometry) -> usize {
    g.layout().rings[0]
}

/// The ring's data area, copied out.
fn data(segment: &HeapSegment) -> Vec<u8> {
    let mut bytes = vec![0u8; 4096];
    segment.region().read(control(&geometry()) + RING_CONTROL_SIZE, &mut bytes).unwrap();
    bytes
}

fn head_word(segment: &HeapSegment) -> u64 {
    segment.region().read_u64(control(&geometry()) + HEAD_OFFSET).unwrap()
}

fn recv(consumer: &mut Consumer) -> Result<Option<(Frame, Vec<u8>)>, RecvError> {
    let mut out = vec![0xEE; 3];
    Ok(consumer.try_recv(&mut out)?.map(|f| (f, out)))
}

#[test]
fn messages_arrive_in_order_with_their_bytes() {
    let g = geometry();
    let (_segment, mut producer, mut consumer) = ring(&g);
    assert_eq!(recv(&mut consumer), Ok(None));
    let slot = SlotDescriptor { class: 0, index: 7, generation: 3, len: 4096 };
    producer.try_send_inline(b"hello").unwrap();
    producer.try_send_inline(b"").unwrap();
    producer.try_send_slot(&slot).unwrap();
    producer.try_send_inline(&[9; 256]).unwrap();
    assert_eq!(recv(&mut consumer), Ok(Some((Frame::Inline(5), b"hello".to_vec()))));
    assert_eq!(recv(&mut consumer), Ok(Some((Frame::Inline(0), vec![]))));
    assert_eq!(recv(&mut consumer), Ok(Some((Frame::Slot(slot), vec![]))));
    assert_eq!(recv(&mut consumer), Ok(Some((Frame::Inline(256), vec![9; 256]))));
    assert_eq!(recv(&mut consumer), Ok(None));
    let sent = producer.stats();
    assert_eq!((sent.frames, sent.bytes, sent.full), (4, 5 + 4096 + 256, 0));
    assert_eq!(consumer.stats(), sent);
}

#[test]
fn frames_are_stamped_cache_lines() {
    let g = geometry();
    let (segment, mut producer, _consumer) = ring(&g);
    producer.try_send_inline(&[7; 56]).unwrap(); // one line
    producer.try_send_inline(&[8; 57]).unwrap(); // two lines
    let bytes = data(&segment);
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    assert_eq!(word(0), 1 | 56 << 32 | 2 << 48, "line 0: stamp 1, 56 bytes, INLINE");
    assert_eq!(&bytes[8..64], &[7; 56]);
    assert_eq!(word(64), 2 | 57 << 32 | 2 << 48, "line 1: stamp 2, 57 bytes, INLINE");
    assert_eq!(&bytes[72..128], &[8; 56]);
    assert_eq!(word(128), 3, "line 2: the marker of stamp 3");
    assert_eq!(bytes[136], 8);
    assert_eq!(word(192), 0, "nothing after the second frame");
    assert_eq!(stamp(0), 1);
    assert_eq!(stamp(63), 1);
    assert_eq!(stamp(64 << 32), 1, "stamps have 32 bits");
}

#[test]
fn a_full_ring_refuses_without_writing_and_accepts_after_draining() {
    let g = geometry();
    let (segment, mut producer, mut consumer) = ring(&g);
    // 4096 / 256 = 16 frames of 4 lines (up to 224 bytes) fill the ring exactly.
    for i in 0..16u8 {
        producer.try_send_inline(&[i; 224]).unwrap();
    }
    let before = data(&segment);
    for _ in 0..3 {
        assert_eq!(producer.try_send_inline(b"x"), Err(SendError::Full));
    }
    assert!(data(&segment) == before, "nothing written");
    assert_eq!(producer.stats().full, 1, "one message found the ring full");
    assert_eq!(recv(&mut consumer).unwrap().unwrap().1, vec![0; 224]);
    producer.try_send_inline(b"x").unwrap();
    for i in 1..16u8 {
        assert_eq!(recv(&mut consumer).unwrap().unwrap().1, vec![i; 224]);
    }
    assert_eq!(recv(&mut consumer).unwrap().unwrap().1, b"x");
    assert_eq!(recv(&mut consumer), Ok(None));
}

#[test]
fn frames_never_wrap_a_pad_sends_them_to_the_start() {
    let g = geometry();
    let (segment, mut producer, mut consumer) = ring(&g);
    // Walk the ring around many times with sizes that leave odd gaps before the end.
    let mut expected = std::collections::VecDeque::new();
    for i in 0..2000usize {
        let message = vec![(i % 251) as u8; (i * 37) % 257];
        match producer.try_send_inline(&message) {
            Ok(()) => expected.push_back(message),
            Err(SendError::Full) => {
                while let Some((_, bytes)) = recv(&mut consumer).unwrap() {
                    assert_eq!(Some(bytes), expected.pop_front());
                }
                producer.try_send_inline(&message).unwrap();
                expected.push_back(message);
            }
            Err(e) => panic!("{e}"),
        }
    }
    while let Some((_, bytes)) = recv(&mut consumer).unwrap() {
        assert_eq!(Some(bytes), expected.pop_front());
    }
    assert!(expected.is_empty());
    assert!(head_word(&segment) > 50 * 4096, "went around the ring: {}", head_word(&segment));
}

#[test]
fn a_pad_is_published_alone_when_the_frame_does_not_fit_yet() {
    // 512-byte ring, 192-byte frames: the third frame needs a PAD of 128 bytes (a header and a
    // marker), then the start of the ring.
    let (segment, mut producer, mut consumer) = small_ring(512, 128);
    producer.try_send_inline(&[1; 128]).unwrap();
    producer.try_send_inline(&[1; 128]).unwrap();
    assert_eq!(producer.try_send_inline(&[2; 128]), Err(SendError::Full));
    let bytes = data(&segment);
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    assert_eq!(word(384), stamp(384) as u64 | (FrameKind::Pad as u64) << 48, "the PAD is published");
    assert_eq!(word(448), stamp(448) as u64, "with a marker on its further line");
    assert_eq!(recv(&mut consumer).unwrap().unwrap().1, vec![1; 128]);
    assert_eq!(recv(&mut consumer).unwrap().unwrap().1, vec![1; 128]);
    assert_eq!(recv(&mut consumer), Ok(None), "the PAD is skipped silently");
    producer.try_send_inline(&[2; 128]).unwrap();
    assert_eq!(recv(&mut consumer).unwrap().unwrap().1, vec![2; 128]);
}

#[test]
fn invalid_frames_are_refused_before_anything_is_written() {
    let g = geometry();
    let (segment, mut producer, _consumer) = ring(&g);
    assert_eq!(producer.try_send(FrameKind::Pad, &[]), Err(SendError::PadNotSendable));
    assert_eq!(
        producer.try_send_inline(&[0; 257]),
        Err(SendError::Invalid(FrameError::InlineTooLong { len: 257, max: 256 }))
    );
    let bad = SlotDescriptor { class: 1, index: 0, generation: 0, len: 0 };
    assert_eq!(
        producer.try_send_slot(&bad),
        Err(SendError::Invalid(FrameError::UnknownClass { class: 1, classes: 1 }))
    );
    assert_eq!(producer.try_send(FrameKind::Slot, &[0; 8]), Err(SendError::Invalid(FrameError::DescriptorSize(8))));
    assert!(data(&segment).iter().all(|&b| b == 0));
    producer.try_send_inline(b"still fine").unwrap();
}

#[test]
fn the_wake_up_words_are_never_touched() {
    let g = geometry();
    let (segment, mut producer, mut consumer) = ring(&g);
    let region = segment.region();
    let reserved = [control(&g)..control(&g) + HEAD_OFFSET, control(&g) + HEAD_OFFSET + 8..control(&g) + 128];
    for range in reserved.clone() {
        region.write(range.start, &vec![0xAB; range.len()]).unwrap();
    }
    let mut out = Vec::new();
    for i in 0..500usize {
        producer.try_send_inline(&vec![1; i % 200]).unwrap();
        consumer.try_recv(&mut out).unwrap().unwrap();
    }
    for range in reserved {
        let mut words = vec![0u8; range.len()];
        region.read(range.start, &mut words).unwrap();
        assert!(words.iter().all(|&b| b == 0xAB));
    }
}

#[test]
fn setup_is_checked() {
    let g = geometry();
    let segment = HeapSegment::for_geometry(&g);
    let region = segment.region();
    assert!(Consumer::new(region.clone(), &g, 2).is_err(), "no third direction");
    let small = HeapSegment::new(g.layout().rings[1] + RING_CONTROL_SIZE);
    assert!(Producer::new(small.region().clone(), &g, 1).is_err(), "region too small");
    assert!(Producer::new(small.region().clone(), &g, 0).is_ok());
    let no_room = Geometry { inline_max: 4096, ..g.clone() };
    assert!(Producer::new(region.clone(), &no_room, 0).is_err(), "largest frame larger than the ring");
    let invalid = Geometry { ring_capacity: 5000, ..g.clone() };
    assert!(Consumer::new(region.clone(), &invalid, 0).is_err());
    let limits = FrameLimits::new(&g).unwrap();
    let memory = RegionMemory::new(region.clone(), &g.layout(), 0).unwrap();
    assert!(Consumer::with_memory(memory, 3000, limits).is_err(), "not a power of two");
}

/// Write a frame's raw bytes (its header word's fields, then the rest of its lines) at cursor
/// `position` and publish them with that position's stamp, as a hostile producer could.
fn forge(segment: &HeapSegment, position: u64, bytes: &[u8]) {
    let at = control(&geometry()) + RING_CONTROL_SIZE + (position % 4096) as usize;
    segment.region().write(at, bytes).unwrap();
    segment.region().atomic_u32(at).unwrap().store(stamp(position), SeqCst);
}

/// A header word's bytes with no stamp (`forge` adds it).
fn header(len: u16, kind: u8) -> [u8; 8] {
    (u64::from(len) << 32 | u64::from(kind) << 48).to_le_bytes()
}

fn corruption_of(forged: impl FnOnce(&HeapSegment)) -> Corruption {
    let (segment, _producer, mut consumer) = ring(&geometry());
    forged(&segment);
    let Err(RecvError::Corrupted(c)) = recv(&mut consumer) else { panic!("accepted") };
    // Sticky, counted once, and nothing else is read even once the ring looks sane again.
    forge(&segment, 0, &header(0, 2));
    assert_eq!(recv(&mut consumer), Err(RecvError::Corrupted(c)));
    let stats = consumer.stats();
    assert_eq!((stats.frames, stats.malformed + stats.corrupted), (0, 1));
    assert_eq!(consumer.broken(), Some(c));
    c
}

#[test]
fn only_the_stamp_of_the_cursor_publishes_a_frame() {
    let g = geometry();
    // Zeroed memory, or the stamp of another position, of the same place a lap earlier or later:
    // nothing is published.
    for position in [64, 4096, 4096 * 7, (64 << 32) - 4096] {
        let (segment, _producer, mut consumer) = ring(&g);
        assert_eq!(recv(&mut consumer), Ok(None));
        forge(&segment, position, &header(3, 2));
        assert_eq!(recv(&mut consumer), Ok(None), "stamp of {position}");
        assert_eq!(consumer.stats().frames, 0);
    }
    let (segment, _producer, mut consumer) = ring(&g);
    forge(&segment, 64 << 32, &header(3, 2));
    assert_eq!(recv(&mut consumer).unwrap().unwrap().0, Frame::Inline(3), "2^32 lines later, the same stamp");
}

#[test]
fn stale_lines_are_not_taken_for_new_frames() {
    let g = geometry();
    let (segment, mut producer, mut consumer) = ring(&g);
    // A frame of four lines whose payload is made of what would be headers and markers; then go
    // around the ring, so that the consumer waits at the frame's old second line.
    let mut first = vec![0u8; 224];
    for (k, chunk) in first.chunks_mut(8).enumerate() {
        let word = (stamp(4096 + 64 * (k as u64 / 7 + 1)) as u64) | 2 << 48;
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    producer.try_send_inline(&first).unwrap();
    for _ in 0..15 {
        producer.try_send_inline(&[5; 224]).unwrap();
    }
    for _ in 0..16 {
        recv(&mut consumer).unwrap().unwrap();
    }
    assert_eq!(recv(&mut consumer), Ok(None), "the first frame's header is a lap old");
    producer.try_send_inline(&[6; 56]).unwrap();
    assert_eq!(recv(&mut consumer).unwrap().unwrap().1, vec![6; 56]);
    assert_eq!(recv(&mut consumer), Ok(None), "the old marker at 64 is a lap old; payload is never at a line's start");
    let bytes = data(&segment);
    assert_eq!(u64::from_le_bytes(bytes[64..72].try_into().unwrap()), stamp(64) as u64);
    producer.try_send_inline(&[7; 56]).unwrap();
    assert_eq!(recv(&mut consumer).unwrap().unwrap().1, vec![7; 56]);
}

#[test]
fn malformed_frames_break_the_ring() {
    let frame = |at: u64, error| Corruption::Frame { position: at, error };
    assert_eq!(corruption_of(|s| forge(s, 0, &header(0, 0))), frame(0, FrameError::UnknownKind(0)));
    let mut flagged = header(0, 2);
    flagged[7] = 4;
    assert_eq!(corruption_of(|s| forge(s, 0, &flagged)), frame(0, FrameError::ReservedBits));
    assert_eq!(
        corruption_of(|s| forge(s, 0, &header(257, 2))),
        frame(0, FrameError::InlineTooLong { len: 257, max: 256 })
    );
    assert_eq!(corruption_of(|s| forge(s, 0, &header(0, 1))), frame(0, FrameError::PadAtStart));
    let mut slot = header(16, 3).to_vec();
    slot.extend_from_slice(&SlotDescriptor { class: 0, index: 8, generation: 0, len: 1 }.encode());
    assert_eq!(
        corruption_of(|s| forge(s, 0, &header(300, 2))),
        frame(0, FrameError::InlineTooLong { len: 300, max: 256 })
    );
    assert_eq!(corruption_of(|s| forge(s, 0, &slot)), frame(0, FrameError::SlotIndex { index: 8, count: 8 }));
}

#[test]
fn position_checks_near_the_end_of_the_data_area() {
    // Walk an honest producer to 64 bytes before the end, then forge what follows.
    let walk = || {
        let (segment, mut producer, mut consumer) = ring(&geometry());
        for _ in 0..15 {
            producer.try_send_inline(&[0; 224]).unwrap();
            recv(&mut consumer).unwrap().unwrap();
        }
        producer.try_send_inline(&[0; 168]).unwrap();
        recv(&mut consumer).unwrap().unwrap();
        (segment, producer, consumer)
    };
    let (segment, _p, mut consumer) = walk();
    forge(&segment, 4032, &header(100, 2));
    let crosses = Corruption::Frame { position: 4032, error: FrameError::CrossesEnd { size: 128, room: 64 } };
    assert_eq!(recv(&mut consumer), Err(RecvError::Corrupted(crosses)));

    let (segment, _p, mut consumer) = walk();
    forge(&segment, 4032, &header(0, 1));
    assert_eq!(recv(&mut consumer), Ok(None), "a PAD, then nothing yet at the start");
    forge(&segment, 4096, &header(1, 2));
    assert_eq!(recv(&mut consumer).unwrap().unwrap().0, Frame::Inline(1), "a PAD, then a frame at the start");
}

#[test]
fn impossible_heads_break_the_producer() {
    let g = geometry();
    let head_word = control(&g) + HEAD_OFFSET;
    for (head, expect_broken) in
        [(0u64, false), (64, false), (4096, false), (4160, true), (32, true), (u64::MAX - 63, true)]
    {
        let (segment, mut producer, _consumer) = ring(&g);
        for _ in 0..16 {
            producer.try_send_inline(&[0; 224]).unwrap();
        }
        // The consumer's cursor is only read when the producer runs short of space.
        segment.region().atomic_u64(head_word).unwrap().store(head, SeqCst);
        let result = producer.try_send_inline(b"x");
        if expect_broken {
            let c = Corruption::Head { head, tail: 4096 };
            assert_eq!(result, Err(SendError::Corrupted(c)), "head {head}");
            segment.region().atomic_u64(head_word).unwrap().store(4096, SeqCst);
            assert_eq!(producer.try_send_inline(b"x"), Err(SendError::Corrupted(c)), "sticky");
            assert_eq!(producer.stats().corrupted, 1);
        } else {
            assert_eq!(result, if head == 0 { Err(SendError::Full) } else { Ok(()) }, "head {head}");
        }
    }
    // A head that goes backwards.
    let (segment, mut producer, mut consumer) = ring(&g);
    for _ in 0..16 {
        producer.try_send_inline(&[0; 224]).unwrap();
    }
    recv(&mut consumer).unwrap().unwrap();
    recv(&mut consumer).unwrap().unwrap();
    producer.try_send_inline(&[0; 224]).unwrap(); // loads head = 512
    segment.region().atomic_u64(head_word).unwrap().store(256, SeqCst);
    producer.try_send_inline(&[0; 224]).unwrap(); // fits by the cached head
    let c = Corruption::Head { head: 256, tail: 4096 + 512 };
    assert_eq!(producer.try_send_inline(&[0; 224]), Err(SendError::Corrupted(c)));
}
