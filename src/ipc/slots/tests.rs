//! Slot pool tests: every class, exhaustion, back-pressure, two threads with checksums, and
//! corrupted shared memory or hostile descriptors giving errors, never panics.

use super::*;
use crate::ipc::segment::tests::small_geometry;
use crate::ipc::wake::{Event, Signal, WaitPolicy};
use std::time::Duration;

/// Sizes of the small geometry's classes.
const SIZES: [usize; 3] = [256, 4096, 65536];
const COUNTS: [usize; 3] = [8, 4, 2];

fn segment() -> Segment {
    Segment::create(&small_geometry()).unwrap()
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// FNV-1a over 8-byte words (then the tail and the length): cheap enough for debug builds.
fn checksum(bytes: &[u8]) -> u64 {
    let mix = |h: u64, w: u64| (h ^ w).wrapping_mul(0x100_0000_01b3);
    let mut words = bytes.chunks_exact(8);
    let h = words.by_ref().fold(0xcbf2_9ce4_8422_2325, |h, w| mix(h, u64::from_le_bytes(w.try_into().unwrap())));
    let h = words.remainder().iter().fold(h, |h, &b| mix(h, u64::from(b)));
    mix(h, bytes.len() as u64)
}

fn header_offset(s: &Segment, class: usize, index: usize, field: usize) -> usize {
    s.layout().pools[0][class].headers + index * SLOT_HEADER_SIZE + field
}

fn poke_u32(s: &Segment, offset: usize, value: u32) {
    s.region().write(offset, &value.to_le_bytes()).unwrap();
}

fn poke_head(s: &Segment, class: usize, value: u64) {
    s.region().atomic_u64(s.layout().pools[0][class].head).unwrap().store(value, Ordering::SeqCst);
}

#[test]
fn descriptors_round_trip_through_bytes() {
    let d = Descriptor { class: 1, index: 0xdead, generation: 0xbeef_0001, length: 4000 };
    assert_eq!(Descriptor::decode(&d.encode()), d);
}

#[test]
fn every_class_allocates_smallest_first_and_frees() {
    let s = segment();
    let pool = SlotPool::new(&s, 0).unwrap();
    for (class, count) in COUNTS.iter().enumerate() {
        assert_eq!(pool.free_slots(class), Ok(*count));
    }
    // One-byte payloads fill class 0, then spill into classes 1 and 2.
    let mut taken = Vec::new();
    for n in 0..14u8 {
        let d = pool.put(&[n]).unwrap();
        let expected_class = if n < 8 {
            0
        } else if n < 12 {
            1
        } else {
            2
        };
        assert_eq!(d.class, expected_class, "payload {n}");
        taken.push((d, n));
    }
    assert_eq!(pool.put(&[0]), Err(SlotError::Full));
    for (d, n) in taken {
        assert_eq!(pool.take(d).unwrap(), [n]);
    }
    // A payload of each class's full size lands in that class.
    for (class, size) in SIZES.iter().enumerate() {
        let payload: Vec<u8> = (0..*size).map(|i| (i * 7 + class) as u8).collect();
        let d = pool.put(&payload).unwrap();
        assert_eq!((d.class as usize, d.length as usize), (class, *size));
        assert_eq!(pool.take(d).unwrap(), payload);
        let smaller = pool.put(&payload[..size - 1]).unwrap();
        assert_eq!(smaller.class as usize, class);
        pool.cancel(smaller).unwrap();
    }
    assert_eq!(pool.put(&vec![0; 65537]), Err(SlotError::TooLarge { length: 65537, max: 65536 }));
    let stats = pool.stats();
    assert_eq!((stats.allocations, stats.takes, stats.full, stats.corrupt), (20, 17, 1, 0));
}

#[test]
fn exhaustion_is_full_until_a_slot_comes_back() {
    let s = segment();
    let pool = SlotPool::new(&s, 1).unwrap();
    let big: Vec<Descriptor> = (0..2).map(|_| pool.put(&[1; 60000]).unwrap()).collect();
    assert_eq!(pool.put(&[1; 60000]), Err(SlotError::Full), "only class 2 fits");
    assert!(!pool.may_fit(60000) && pool.may_fit(100));
    pool.take(big[0]).unwrap();
    assert!(pool.may_fit(60000));
    let again = pool.put(&[2; 60000]).unwrap();
    assert_eq!((again.class, again.index), (big[0].class, big[0].index));
    assert_ne!(again.generation, big[0].generation, "each allocation bumps the generation");
    assert_eq!(pool.take(big[0]), Err(SlotError::Stale { expected: big[0].generation, found: again.generation }));
    assert_eq!(pool.stats().full, 1);
}

#[test]
fn a_full_pool_parks_the_sender_until_space_or_deadline() {
    let s = segment();
    let s = &s;
    let sender = SlotPool::new(s, 0).unwrap();
    let space = Waiter::new(s, 0, Event::Space).unwrap().with_policy(WaitPolicy { spin: 0 });
    let held: Vec<Descriptor> = (0..2).map(|_| sender.put(&[9; 30000]).unwrap()).collect();
    let start = Instant::now();
    assert_eq!(sender.put_wait(&[9; 30000], &space, start + Duration::from_millis(30)), Err(SlotError::TimedOut));
    assert!(start.elapsed() >= Duration::from_millis(30));
    let returned = held[1];
    std::thread::scope(|scope| {
        scope.spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            let receiver = SlotPool::new(s, 0).unwrap();
            assert_eq!(receiver.take(returned).unwrap(), vec![9; 30000]);
            Signal::new(s, 0, Event::Space).unwrap().notify();
        });
        let d = sender.put_wait(&[5; 30000], &space, Instant::now() + Duration::from_secs(20)).unwrap();
        assert_eq!(d.index, held[1].index);
    });
    assert!(space.stats().parks >= 1);
}

/// Two sending threads and one receiving thread share one direction; payloads of every class
/// carry checksums and sequence numbers: nothing is lost, corrupted or reordered per sender.
#[test]
fn concurrent_senders_and_receiver_with_checksums() {
    const PER_SENDER: u64 = 3000;
    let s = segment();
    let s = &s;
    let (tx, rx) = std::sync::mpsc::channel::<(u64, u64, Descriptor, u64)>();
    std::thread::scope(|scope| {
        for sender_id in 0..2u64 {
            let tx = tx.clone();
            scope.spawn(move || {
                let pool = SlotPool::new(s, 0).unwrap();
                let space = Waiter::new(s, 0, Event::Space).unwrap();
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (sender_id + 1));
                let mut payload = Vec::new();
                for seq in 0..PER_SENDER {
                    let length = match rng.below(10) {
                        0 => rng.below(65536) + 1,
                        1..=3 => rng.below(4096) + 1,
                        _ => rng.below(256) + 1,
                    } as usize;
                    payload.clear();
                    while payload.len() < length {
                        payload.extend_from_slice(&rng.next().to_le_bytes());
                    }
                    payload.truncate(length);
                    let d = pool.put_wait(&payload, &space, Instant::now() + Duration::from_secs(30)).unwrap();
                    tx.send((sender_id, seq, d, checksum(&payload))).unwrap();
                }
                assert_eq!(pool.stats().corrupt, 0);
            });
        }
        drop(tx);
        let receiver = SlotPool::new(s, 0).unwrap();
        let space = Signal::new(s, 0, Event::Space).unwrap();
        let mut next = [0u64; 2];
        let mut buffer = Vec::new();
        for (sender_id, seq, d, sum) in rx {
            receiver.take_into(d, &mut buffer).unwrap();
            space.notify();
            assert_eq!(checksum(&buffer), sum, "sender {sender_id} message {seq}");
            assert_eq!(seq, next[sender_id as usize], "in order per sender");
            next[sender_id as usize] += 1;
        }
        assert_eq!(next, [PER_SENDER; 2]);
        assert_eq!(receiver.stats().takes, 2 * PER_SENDER);
        assert_eq!(receiver.stats().corrupt, 0);
    });
    let pool = SlotPool::new(s, 0).unwrap();
    for (class, count) in COUNTS.iter().enumerate() {
        assert_eq!(pool.free_slots(class), Ok(*count), "every slot came back to class {class}");
    }
}

#[test]
fn bad_descriptors_are_errors() {
    let s = segment();
    let pool = SlotPool::new(&s, 0).unwrap();
    let good = pool.put(b"payload").unwrap();
    let cases = [
        Descriptor { class: 3, ..good },
        Descriptor { class: u32::MAX, ..good },
        Descriptor { index: 8, ..good },
        Descriptor { index: u32::MAX, ..good },
        Descriptor { length: 257, ..good },
        Descriptor { length: u32::MAX, ..good },
        Descriptor { length: 6, ..good },
        Descriptor { generation: good.generation + 1, ..good },
        Descriptor { index: (good.index + 1) % 8, ..good },
    ];
    for d in cases {
        let err = pool.take(d).unwrap_err();
        assert!(err.is_corruption(), "{d:?}: {err}");
    }
    assert_eq!(pool.stats().corrupt, cases.len() as u64);
    assert_eq!(pool.take(good).unwrap(), b"payload", "refusals left the slot alone");
    assert!(pool.take(good).unwrap_err().is_corruption(), "a second take is refused");
    assert!(pool.cancel(good).unwrap_err().is_corruption(), "so is a cancel of a returned slot");
    let other = pool.put(b"unsent").unwrap();
    pool.cancel(other).unwrap();
    assert_eq!(pool.free_slots(0), Ok(8));
    assert_eq!(SlotPool::new(&s, 2).unwrap_err(), SlotError::NoSuchDirection(2));
}

#[test]
fn corrupted_free_lists_are_errors_and_reclaim_repairs_them() {
    let s = segment();
    let pool = SlotPool::new(&s, 0).unwrap();
    let tag = 7u64 << 32;

    poke_head(&s, 0, tag | 9);
    assert_eq!(pool.put(b"x"), Err(SlotError::Corrupt("the free-list head names no slot")));
    assert!(pool.free_slots(0).is_err());

    poke_head(&s, 0, tag | 1);
    poke_u32(&s, header_offset(&s, 0, 0, NEXT), 1000);
    assert_eq!(pool.put(b"x"), Err(SlotError::Corrupt("a free-list link names no slot")));

    poke_u32(&s, header_offset(&s, 0, 0, NEXT), 1);
    assert_eq!(pool.free_slots(0), Err(SlotError::Corrupt("the free list has a cycle")));

    poke_u32(&s, header_offset(&s, 0, 0, NEXT), 2);
    poke_u32(&s, header_offset(&s, 0, 0, STATE), IN_USE);
    assert_eq!(pool.put(b"x"), Err(SlotError::Corrupt("a slot on the free list was not free")));

    poke_u32(&s, header_offset(&s, 0, 1, STATE), 0x1234_5678);
    assert!(pool.put(b"x").unwrap_err().is_corruption(), "an unknown state is corruption too");
    assert_eq!(pool.stats().corrupt, 6);

    pool.reclaim_all().unwrap();
    for (class, count) in COUNTS.iter().enumerate() {
        assert_eq!(pool.free_slots(class), Ok(*count));
    }
    let d = pool.put(b"works again").unwrap();
    assert_eq!(pool.take(d).unwrap(), b"works again");
}

#[test]
fn reclaim_refuses_descriptors_from_before() {
    let s = segment();
    let pool = SlotPool::new(&s, 1).unwrap();
    let in_flight: Vec<Descriptor> = (0..5).map(|i| pool.put(&[i; 300]).unwrap()).collect();
    pool.reclaim_all().unwrap();
    assert_eq!(pool.free_slots(1), Ok(4));
    for d in in_flight {
        assert!(matches!(pool.take(d), Err(SlotError::Stale { .. })));
    }
}

/// Garbage everywhere in the pools' bookkeeping, and random descriptors: every call returns.
#[test]
fn garbage_in_shared_memory_never_panics() {
    let s = segment();
    let layout = s.layout().clone();
    let pool = SlotPool::new(&s, 0).unwrap();
    let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
    for round in 0..50 {
        for class in &layout.pools[0][..layout.classes] {
            let mut junk = vec![0u8; class.data - class.head];
            junk.iter_mut().for_each(|b| *b = rng.next() as u8);
            if round % 2 == 1 {
                // Plausible junk: small indices and the real state values.
                for (i, chunk) in junk[64..].chunks_exact_mut(4).enumerate() {
                    let value = match i % 4 {
                        1 => [FREE, IN_USE][rng.below(2) as usize],
                        3 => rng.below(300) as u32,
                        _ => rng.below(class.slot_count as u64 + 2) as u32,
                    };
                    chunk.copy_from_slice(&value.to_le_bytes());
                }
                junk[..8].copy_from_slice(&rng.below(class.slot_count as u64 + 2).to_le_bytes());
            }
            s.region().write(class.head, &junk).unwrap();
        }
        for _ in 0..200 {
            match rng.below(5) {
                0 => drop(pool.put(&vec![1; rng.below(70000) as usize])),
                1 | 2 => {
                    let d = Descriptor {
                        class: rng.below(5) as u32,
                        index: rng.below(10) as u32,
                        generation: rng.below(4) as u32,
                        length: rng.below(70000) as u32,
                    };
                    if let Ok(bytes) = pool.take(d) {
                        assert!(bytes.len() <= SIZES[d.class as usize]);
                    }
                }
                3 => drop(pool.free_slots(rng.below(4) as usize)),
                _ => drop(pool.may_fit(rng.below(70000) as usize)),
            }
        }
    }
    assert!(pool.stats().corrupt > 0);
    pool.reclaim_all().unwrap();
    let d = pool.put(b"recovered").unwrap();
    assert_eq!(pool.take(d).unwrap(), b"recovered");
}
