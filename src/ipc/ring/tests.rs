//! Single-threaded tests of the ring: framing, PAD, back-pressure, and every corruption check.

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
fn a_full_ring_refuses_without_writing_and_accepts_after_draining() {
    let g = geometry();
    let (segment, mut producer, mut consumer) = ring(&g);
    // 4096 / (8 + 248) = 16 frames fill the ring exactly.
    for i in 0..16u8 {
        producer.try_send_inline(&[i; 248]).unwrap();
    }
    let tail = segment.region().read_u64(control(&g)).unwrap();
    assert_eq!(tail, 4096);
    for _ in 0..3 {
        assert_eq!(producer.try_send_inline(b"x"), Err(SendError::Full));
    }
    assert_eq!(segment.region().read_u64(control(&g)).unwrap(), tail, "nothing published");
    assert_eq!(producer.stats().full, 1, "one message found the ring full");
    assert_eq!(recv(&mut consumer).unwrap().unwrap().1, vec![0; 248]);
    producer.try_send_inline(b"x").unwrap();
    for i in 1..16u8 {
        assert_eq!(recv(&mut consumer).unwrap().unwrap().1, vec![i; 248]);
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
    let tail = segment.region().read_u64(control(&g)).unwrap();
    assert!(tail > 50 * 4096, "went around the ring: {tail}");
    assert_eq!(segment.region().read_u64(control(&g) + HEAD_OFFSET), Some(tail));
}

#[test]
fn a_pad_is_published_alone_when_the_frame_does_not_fit_yet() {
    // 256-byte ring, 136-byte frames: the second frame needs a PAD of 120 bytes, then the whole ring.
    let (segment, mut producer, mut consumer) = small_ring(256, 128);
    producer.try_send_inline(&[1; 128]).unwrap();
    assert_eq!(producer.try_send_inline(&[2; 128]), Err(SendError::Full));
    let control = geometry().layout().rings[0];
    assert_eq!(segment.region().read_u64(control), Some(256), "the PAD is published");
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
    assert_eq!(segment.region().read_u64(control(&g)), Some(0));
    producer.try_send_inline(b"still fine").unwrap();
}

#[test]
fn the_wake_up_words_are_never_touched() {
    let g = geometry();
    let (segment, mut producer, mut consumer) = ring(&g);
    let region = segment.region();
    let lines = [control(&g) + TAIL_OFFSET, control(&g) + HEAD_OFFSET];
    for line in lines {
        region.write(line + WAKE_RESERVED.start, &[0xAB; 56]).unwrap();
    }
    let mut out = Vec::new();
    for i in 0..500usize {
        producer.try_send_inline(&vec![1; i % 200]).unwrap();
        consumer.try_recv(&mut out).unwrap().unwrap();
    }
    for line in lines {
        let mut words = [0u8; 56];
        region.read(line + WAKE_RESERVED.start, &mut words).unwrap();
        assert_eq!(words, [0xAB; 56]);
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

/// Publish raw frame bytes at the consumer's start and a tail, as a hostile producer would.
fn forge(segment: &HeapSegment, at: usize, bytes: &[u8], tail: u64) {
    let c = control(&geometry());
    segment.region().write(c + RING_CONTROL_SIZE + at, bytes).unwrap();
    segment.region().atomic_u64(c + TAIL_OFFSET).unwrap().store(tail, SeqCst);
}

fn header(len: u32, kind: u8) -> [u8; 8] {
    let mut h = [0u8; 8];
    h[..4].copy_from_slice(&len.to_le_bytes());
    h[4] = kind;
    h
}

fn corruption_of(forged: impl FnOnce(&HeapSegment)) -> Corruption {
    let (segment, _producer, mut consumer) = ring(&geometry());
    forged(&segment);
    let Err(RecvError::Corrupted(c)) = recv(&mut consumer) else { panic!("accepted") };
    // Sticky, counted once, and nothing else is read even once the ring looks sane again.
    forge(&segment, 0, &header(0, 2), 8);
    assert_eq!(recv(&mut consumer), Err(RecvError::Corrupted(c)));
    let stats = consumer.stats();
    assert_eq!((stats.frames, stats.malformed + stats.corrupted), (0, 1));
    assert_eq!(consumer.broken(), Some(c));
    c
}

#[test]
fn impossible_tails_break_the_ring() {
    for tail in [4104, u64::MAX, u64::MAX - 7, 1 << 63] {
        assert_eq!(corruption_of(|s| forge(s, 0, &[], tail)), Corruption::Tail { head: 0, tail });
    }
    assert_eq!(corruption_of(|s| forge(s, 0, &header(0, 2), 12)), Corruption::Tail { head: 0, tail: 12 });
    // A tail that moves backwards after frames were consumed.
    let (segment, mut producer, mut consumer) = ring(&geometry());
    producer.try_send_inline(b"one").unwrap();
    recv(&mut consumer).unwrap().unwrap();
    forge(&segment, 0, &[], 8);
    assert_eq!(recv(&mut consumer), Err(RecvError::Corrupted(Corruption::Tail { head: 16, tail: 8 })));
}

#[test]
fn malformed_frames_break_the_ring() {
    let frame = |at: u64, error| Corruption::Frame { position: at, error };
    assert_eq!(corruption_of(|s| forge(s, 0, &header(0, 0), 8)), frame(0, FrameError::UnknownKind(0)));
    let mut flagged = header(0, 2);
    flagged[5] = 4;
    assert_eq!(corruption_of(|s| forge(s, 0, &flagged, 8)), frame(0, FrameError::ReservedBits));
    assert_eq!(
        corruption_of(|s| forge(s, 0, &header(257, 2), 4096)),
        frame(0, FrameError::InlineTooLong { len: 257, max: 256 })
    );
    assert_eq!(corruption_of(|s| forge(s, 0, &header(0, 1), 4096)), frame(0, FrameError::PadAtStart));
    assert_eq!(
        corruption_of(|s| forge(s, 0, &header(100, 2), 64)),
        frame(0, FrameError::Truncated { needed: 112, available: 64 })
    );
    let mut slot = header(16, 3).to_vec();
    slot.extend_from_slice(&SlotDescriptor { class: 0, index: 8, generation: 0, len: 1 }.encode());
    assert_eq!(corruption_of(|s| forge(s, 0, &slot, 24)), frame(0, FrameError::SlotIndex { index: 8, count: 8 }));
}

#[test]
fn position_checks_near_the_end_of_the_data_area() {
    // Walk an honest producer to 16 bytes before the end, then forge what follows.
    let walk = || {
        let (segment, mut producer, mut consumer) = ring(&geometry());
        for _ in 0..15 {
            producer.try_send_inline(&[0; 248]).unwrap();
            recv(&mut consumer).unwrap().unwrap();
        }
        producer.try_send_inline(&[0; 232]).unwrap();
        recv(&mut consumer).unwrap().unwrap();
        (segment, producer, consumer)
    };
    let (segment, _p, mut consumer) = walk();
    forge(&segment, 4080, &header(16, 2), 4080 + 32);
    let crosses = Corruption::Frame { position: 4080, error: FrameError::CrossesEnd { size: 24, room: 16 } };
    assert_eq!(recv(&mut consumer), Err(RecvError::Corrupted(crosses)));

    let (segment, _p, mut consumer) = walk();
    forge(&segment, 4080, &header(0, 1), 4080 + 8);
    let short_pad = Corruption::Frame { position: 4080, error: FrameError::Truncated { needed: 16, available: 8 } };
    assert_eq!(recv(&mut consumer), Err(RecvError::Corrupted(short_pad)));

    let (segment, _p, mut consumer) = walk();
    forge(&segment, 4080, &header(0, 1), 4096);
    forge(&segment, 0, &header(1, 2), 4096 + 16);
    assert_eq!(recv(&mut consumer).unwrap().unwrap().0, Frame::Inline(1), "a PAD, then a frame at the start");
}

#[test]
fn impossible_heads_break_the_producer() {
    let g = geometry();
    let head_word = control(&g) + HEAD_OFFSET;
    for (head, expect_broken) in [(8u64, false), (4096, false), (4104, true), (12, true), (u64::MAX - 7, true)] {
        let (segment, mut producer, _consumer) = ring(&g);
        for _ in 0..16 {
            producer.try_send_inline(&[0; 248]).unwrap();
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
            assert_eq!(result, if head == 8 { Err(SendError::Full) } else { Ok(()) }, "head {head}");
        }
    }
    // A head that goes backwards.
    let (segment, mut producer, mut consumer) = ring(&g);
    for _ in 0..16 {
        producer.try_send_inline(&[0; 248]).unwrap();
    }
    recv(&mut consumer).unwrap().unwrap();
    recv(&mut consumer).unwrap().unwrap();
    producer.try_send_inline(&[0; 248]).unwrap(); // loads head = 512
    segment.region().atomic_u64(head_word).unwrap().store(256, SeqCst);
    producer.try_send_inline(&[0; 248]).unwrap(); // fits by the cached head
    let c = Corruption::Head { head: 256, tail: 4096 + 512 };
    assert_eq!(producer.try_send_inline(&[0; 248]), Err(SendError::Corrupted(c)));
}
