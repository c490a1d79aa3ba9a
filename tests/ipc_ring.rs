//! The ring across threads: a million messages without loss, reordering or corruption, and a
//! consumer (and producer) that stay sound while a hostile peer scribbles over the ring.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed, Ordering::SeqCst};
use std::thread;

use plughost::ipc::frame::{self, SlotDescriptor};
use plughost::ipc::fuzzing::{seeds, HeapSegment, XorShift};
use plughost::ipc::layout::{Geometry, SlotClass, RING_CONTROL_SIZE};
use plughost::ipc::raw::SharedRegion;
use plughost::ipc::ring::{self, Consumer, Corruption, Frame, Producer, RecvError, SendError, HEAD_OFFSET};
use std::time::{Duration, Instant};

const MESSAGES: u64 = 1_000_000;
/// Writes the hostile peer makes in each run of the scribbling test.
const HOSTILE_ACTIONS: u32 = 1_000_000;

fn geometry(ring_capacity: usize) -> Geometry {
    Geometry { ring_capacity, inline_max: 256, classes: vec![SlotClass { slot_size: 4096, slot_count: 8 }] }
}

/// Message `i`: every 16th is a slot descriptor, the others inline, 1 to 256 bytes, cut from a
/// fixed pattern at an offset that depends on `i`, with `i` in the first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Message {
    /// This many bytes, written into the caller's buffer.
    Inline(usize),
    Slot(SlotDescriptor),
}

fn message(i: u64, pattern: &[u8], buf: &mut [u8; 256]) -> Message {
    if i % 16 == 15 {
        return Message::Slot(SlotDescriptor {
            class: 0,
            index: (i % 8) as u32,
            generation: i as u32,
            len: (i % 4097) as u32,
        });
    }
    let len = 1 + (i.wrapping_mul(7919) % 256) as usize;
    let start = (i % 251) as usize;
    buf[..len].copy_from_slice(&pattern[start..start + len]);
    let n = len.min(8);
    buf[..n].copy_from_slice(&i.to_le_bytes()[..n]);
    Message::Inline(len)
}

fn fnv(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

#[test]
fn a_million_mixed_messages_arrive_complete_and_in_order() {
    let g = geometry(64 << 10);
    let segment = HeapSegment::for_geometry(&g);
    let mut producer = Producer::new(segment.region().clone(), &g, 0).unwrap();
    let mut consumer = Consumer::new(segment.region().clone(), &g, 0).unwrap();
    let pattern: Vec<u8> = (0..512u32).map(|k| (k.wrapping_mul(37) ^ 0x5A) as u8).collect();

    // Set by whichever side ends first, so that a failure on one side never leaves the other spinning.
    let stop = AtomicBool::new(false);
    let (sent_sum, received_sum) = thread::scope(|s| {
        let (pattern, stop) = (&pattern, &stop);
        let _stop = StopOnDrop(stop);
        let sender = s.spawn(move || {
            let _stop = StopOnDrop(stop);
            let mut sum = 0xcbf2_9ce4_8422_2325u64;
            let mut buf = [0u8; 256];
            for i in 0..MESSAGES {
                let m = message(i, pattern, &mut buf);
                let mut spins = 0u32;
                loop {
                    let result = match m {
                        Message::Slot(d) => producer.try_send_slot(&d),
                        Message::Inline(len) => producer.try_send_inline(&buf[..len]),
                    };
                    match result {
                        Ok(()) => break,
                        Err(SendError::Full) if stop.load(SeqCst) => panic!("the receiver stopped"),
                        Err(SendError::Full) => backoff(&mut spins),
                        Err(e) => panic!("message {i}: {e}"),
                    }
                }
                sum = match m {
                    Message::Slot(d) => fnv(sum, &d.encode()),
                    Message::Inline(len) => fnv(sum, &buf[..len]),
                };
            }
            (sum, producer.stats())
        });

        let mut sum = 0xcbf2_9ce4_8422_2325u64;
        let mut out = Vec::with_capacity(256);
        let mut expected = [0u8; 256];
        let mut spins = 0u32;
        for i in 0..MESSAGES {
            let frame = loop {
                let stopped = stop.load(SeqCst);
                match consumer.try_recv(&mut out) {
                    Ok(Some(frame)) => break frame,
                    Ok(None) if stopped => panic!("the sender ended before message {i} arrived"),
                    Ok(None) => backoff(&mut spins),
                    Err(e) => panic!("message {i}: {e}"),
                }
            };
            spins = 0;
            match (message(i, pattern, &mut expected), frame) {
                (Message::Slot(d), Frame::Slot(got)) => {
                    assert_eq!(got, d, "message {i}");
                    sum = fnv(sum, &got.encode());
                }
                (Message::Inline(len), Frame::Inline(got)) => {
                    assert_eq!(got, len, "message {i}: length");
                    assert!(out[..] == expected[..len], "message {i}: bytes");
                    sum = fnv(sum, &out);
                }
                (m, frame) => panic!("message {i}: {frame:?} instead of {m:?}"),
            }
        }
        assert_eq!(consumer.try_recv(&mut out), Ok(None), "nothing extra");
        let (sent_sum, sent_stats) = sender.join().unwrap();
        assert_eq!(consumer.stats().frames, MESSAGES);
        assert_eq!(consumer.stats().bytes, sent_stats.bytes);
        println!("sender stats {sent_stats:?}");
        (sent_sum, sum)
    });
    assert_eq!(sent_sum, received_sum, "checksum over every message");
}

/// Sets the flag when dropped, so that a panicking thread still stops the others.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

/// Spin briefly, then yield: the test runs beside other tests on two cores.
fn backoff(spins: &mut u32) {
    *spins += 1;
    if *spins < 64 {
        std::hint::spin_loop();
    } else {
        thread::yield_now();
    }
}

/// Header fields (the upper half of a header word) a hostile peer might write: mostly plausible
/// kinds and lengths, sometimes garbage.
fn hostile_header(rng: &mut XorShift) -> u32 {
    let len: u32 = match rng.below(6) {
        0 => 0,
        1 => rng.below(257) as u32,
        2 => 16,
        3 => 257 + rng.below(5000) as u32,
        4 => 0xFFFF - rng.below(8) as u32,
        _ => rng.next_u64() as u16 as u32,
    };
    let mut fields = len | (rng.below(5) as u32) << 16;
    if rng.one_in(8) {
        fields |= (rng.next_u64() as u8 as u32) << 24;
    }
    fields
}

/// The fields (the upper half of a header word) of a well-formed INLINE header.
fn inline_header(rng: &mut XorShift) -> u32 {
    rng.below(257) as u32 | 2 << 16
}

/// Write 8 bytes as two atomic words, as a peer in another process would store them.
fn write_words(region: &SharedRegion, at: usize, bytes: &[u8; 8]) {
    for (k, chunk) in bytes.chunks(4).enumerate() {
        region.atomic_u32(at + 4 * k).unwrap().store(u32::from_le_bytes(chunk.try_into().unwrap()), Relaxed);
    }
}

/// Publish a header at the line of cursor `position`: its fields (`fields`, the upper half of the
/// word), then the stamp of `stamped`.
fn put_header(region: &SharedRegion, line: usize, fields: u32, stamped: u64) {
    region.atomic_u32(line + 4).unwrap().store(fields, Relaxed);
    region.atomic_u32(line).unwrap().store(ring::stamp(stamped), Relaxed);
}

/// Checks a received frame against the limits; returns whether it was a frame.
fn check(result: Result<Option<Frame>, RecvError>, out: &[u8]) -> Result<bool, RecvError> {
    match result? {
        None => Ok(false),
        Some(Frame::Inline(len)) => {
            assert!(len <= 256 && len == out.len());
            Ok(true)
        }
        Some(Frame::Slot(d)) => {
            assert!(d.class == 0 && d.index < 8 && d.len <= 4096, "{d:?}");
            Ok(true)
        }
    }
}

#[test]
fn a_hostile_peer_scribbling_over_the_ring_only_ever_gets_frames_or_errors() {
    let g = geometry(4096);
    let control = g.layout().rings[0];
    for seed in seeds(0x0BAD_5EED) {
        println!("seed {seed} (replay with PLUGHOST_FUZZ_SEED={seed})");
        let segment = HeapSegment::for_geometry(&g);
        let region = segment.region();
        let data = control + RING_CONTROL_SIZE;
        let stop = AtomicBool::new(false);
        let (mut frames, mut errors, mut empty) = (0u64, 0u64, 0u64);
        thread::scope(|s| {
            s.spawn(|| {
                let _stop = StopOnDrop(&stop);
                let mut rng = XorShift::new(seed);
                let head = region.atomic_u64(control + HEAD_OFFSET).unwrap();
                let line = |position: u64| data + (position & 4095 & !63) as usize;
                for _ in 0..HOSTILE_ACTIONS {
                    let seen = head.load(Relaxed);
                    match rng.below(10) {
                        // A plausible frame at the consumer's position, published by its stamp.
                        0..=3 => {
                            let fields = if rng.one_in(3) { hostile_header(&mut rng) } else { inline_header(&mut rng) };
                            put_header(region, line(seen), fields, seen);
                        }
                        // The stamp of another position, at its place or at the consumer's.
                        4 => {
                            let other = seen.wrapping_add(rng.below(8192) & !63);
                            let at = line(if rng.one_in(2) { other } else { seen });
                            region.atomic_u32(at).unwrap().store(ring::stamp(other), Relaxed);
                        }
                        5 => region.atomic_u64(line(seen)).unwrap().store(rng.next_u64(), Relaxed),
                        6 => put_header(region, line(seen), inline_header(&mut rng), seen.wrapping_add(rng.below(64))),
                        // A frame published ahead of the consumer's position (out of order).
                        7 => {
                            let ahead = seen.wrapping_add(64 * (1 + rng.below(8)));
                            put_header(region, line(ahead), inline_header(&mut rng), ahead);
                        }
                        _ => {
                            let at = (seen.wrapping_add(rng.below(4096)) & 4095 & !7) as usize;
                            let bytes = if rng.one_in(2) {
                                (u64::from(hostile_header(&mut rng)) << 32 | rng.next_u64() & 0xFFFF_FFFF).to_le_bytes()
                            } else {
                                rng.next_u64().to_le_bytes()
                            };
                            write_words(region, control + RING_CONTROL_SIZE + at, &bytes);
                        }
                    }
                    if rng.one_in(64) {
                        thread::yield_now();
                    }
                }
            });
            let mut consumer = Consumer::new(region.clone(), &g, 0).unwrap();
            let mut out = Vec::new();
            let mut spins = 0;
            while !stop.load(Relaxed) {
                match check(consumer.try_recv(&mut out), &out) {
                    Ok(true) => {
                        frames += 1;
                        spins = 0;
                    }
                    Ok(false) => {
                        empty += 1;
                        backoff(&mut spins);
                    }
                    Err(e) => {
                        assert_ne!(e, RecvError::Corrupted(Corruption::OutOfRegion));
                        assert_eq!(consumer.try_recv(&mut out), Err(e), "sticky");
                        errors += 1;
                        // Start over on a fresh ring.
                        consumer = Consumer::new(region.clone(), &g, 0).unwrap();
                        region.atomic_u64(control + HEAD_OFFSET).unwrap().store(0, SeqCst);
                    }
                }
            }
        });
        println!("frames {frames}, errors {errors}, empty {empty}");
        assert!(frames > 0 && errors > 0, "both paths exercised: frames {frames}, errors {errors}");
    }
}

#[test]
fn honest_traffic_under_scribbles_ends_in_frames_or_errors_on_both_sides() {
    let g = geometry(4096);
    let control = g.layout().rings[0];
    let limits = frame::FrameLimits::new(&g).unwrap();
    for seed in seeds(0x5C21_BB1E) {
        println!("seed {seed} (replay with PLUGHOST_FUZZ_SEED={seed})");
        // Clean rounds, consumer errors, producer errors, frames, and rounds that stalled because a
        // scribble wiped the stamp of a frame not yet received (that frame is lost to the ring;
        // a session then reaches its deadline).
        let mut outcomes = [0u64; 5];
        for round in 0..6u64 {
            let segment = HeapSegment::for_geometry(&g);
            let region = segment.region();
            let stop = AtomicBool::new(false);
            let producer_failed = AtomicBool::new(false);
            let sent = thread::scope(|s| {
                let mut producer = Producer::new(region.clone(), &g, 0).unwrap();
                let (stop, producer_failed, limits) = (&stop, &producer_failed, &limits);
                let sender = s.spawn(move || {
                    let _stop = StopOnDrop(stop);
                    let mut spins = 0;
                    let mut sent = 0u64;
                    let mut progress = Instant::now();
                    while sent < 20_000 && !stop.load(Relaxed) {
                        let len = 1 + (sent as usize * 13) % limits.inline_max();
                        match producer.try_send_inline(&vec![sent as u8; len]) {
                            Ok(()) => {
                                sent += 1;
                                progress = Instant::now();
                            }
                            Err(SendError::Full) if progress.elapsed() > Duration::from_millis(300) => break,
                            Err(SendError::Full) => backoff(&mut spins),
                            Err(SendError::Corrupted(c)) => {
                                assert!(matches!(c, Corruption::Head { .. }), "{c:?}");
                                producer_failed.store(true, Relaxed);
                                break;
                            }
                            Err(e) => panic!("{e}"),
                        }
                    }
                    sent
                });
                s.spawn(|| {
                    let mut rng = XorShift::new(seed ^ round);
                    while !stop.load(Relaxed) {
                        for _ in 0..rng.below(20_000) {
                            std::hint::spin_loop();
                        }
                        let at = match rng.below(8) {
                            0 => 0,
                            1 => HEAD_OFFSET,
                            _ => rng.below(RING_CONTROL_SIZE as u64 + 4096) as usize & !7,
                        };
                        let value = if rng.one_in(2) {
                            u64::from(hostile_header(&mut rng)) << 32 | rng.next_u64() & 0xFFFF_FFFF
                        } else {
                            rng.next_u64()
                        };
                        region.atomic_u64(control + at).unwrap().store(value, Relaxed);
                        thread::yield_now();
                    }
                });
                let mut consumer = Consumer::new(region.clone(), &g, 0).unwrap();
                let mut out = Vec::new();
                let mut spins = 0;
                loop {
                    match check(consumer.try_recv(&mut out), &out) {
                        Ok(true) => outcomes[3] += 1,
                        Ok(false) if stop.load(Relaxed) => break,
                        Ok(false) => backoff(&mut spins),
                        Err(e) => {
                            assert_ne!(e, RecvError::Corrupted(Corruption::OutOfRegion));
                            outcomes[1] += 1;
                            stop.store(true, Relaxed);
                            break;
                        }
                    }
                }
                sender.join().unwrap()
            });
            if producer_failed.load(Relaxed) {
                outcomes[2] += 1;
            } else if sent == 20_000 {
                outcomes[0] += 1;
            } else if !stop.load(Relaxed) || outcomes[1] == 0 {
                outcomes[4] += 1;
            }
        }
        println!("clean rounds, consumer errors, producer errors, frames, stalls: {outcomes:?}");
        assert!(outcomes[3] > 0);
    }
}
