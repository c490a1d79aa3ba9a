//! Model check of the ring's memory ordering with loom:
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" cargo test --release --lib ipc::ring
//! ```
//!
//! (`CARGO_TARGET_DIR=target/loom` in front keeps the normal build from being rebuilt each time.)
//!
//! The [`Producer`] and [`Consumer`] under test are the real ones; only their [`RingMemory`] is
//! replaced: the consumer's cursor and the first word of each line (a header or a marker) are loom
//! atomics, and every other 8-byte word of the data area is a loom cell, so loom reports any read
//! of payload bytes that is not ordered after their write (a consumer that could see a frame before
//! its bytes), and any write that is not ordered after the previous read of the same bytes (a
//! producer overwriting a frame still being copied out). Payload never lies in a line's first word,
//! so the two kinds of memory never overlap, as in the real layout. Not covered:
//! [`RegionMemory`](super::RegionMemory)'s mapping of the same calls onto a `SharedRegion` (plain
//! offset arithmetic, tested by the unit and integration tests), and a hostile peer (the fuzz
//! tests).

use std::sync::atomic::Ordering;

use loom::cell::UnsafeCell;
use loom::sync::atomic::AtomicU64;
use loom::sync::Arc;

use super::{Consumer, Frame, Producer, RingMemory, SendError};
use crate::ipc::frame::FrameLimits;
use crate::ipc::frame::LINE;
use crate::ipc::layout::{Geometry, SlotClass};

struct Cells {
    head: AtomicU64,
    /// The first word of each line.
    lines: Vec<AtomicU64>,
    /// Every 8-byte word of the data area; those at the start of a line are never used.
    words: Vec<UnsafeCell<[u8; 8]>>,
}

/// Ring memory made of loom objects; `relaxed` downgrades every cursor access to `Relaxed`, for
/// the check that the model catches a missing ordering.
#[derive(Clone)]
struct LoomMemory {
    cells: Arc<Cells>,
    relaxed: bool,
}

impl LoomMemory {
    fn new(capacity: usize, relaxed: bool) -> Self {
        let words = (0..capacity / 8).map(|_| UnsafeCell::new([0u8; 8])).collect();
        let lines = (0..capacity / LINE).map(|_| AtomicU64::new(0)).collect();
        Self { cells: Arc::new(Cells { head: AtomicU64::new(0), lines, words }), relaxed }
    }

    fn line(&self, offset: usize) -> Option<&AtomicU64> {
        (offset % LINE == 0).then(|| self.cells.lines.get(offset / LINE))?
    }

    fn order(&self, order: Ordering) -> Ordering {
        if self.relaxed {
            Ordering::Relaxed
        } else {
            order
        }
    }

    /// The words covering `offset..offset + len`, with the byte range of each word they cover.
    fn words(&self, offset: usize, len: usize) -> Option<impl Iterator<Item = (&UnsafeCell<[u8; 8]>, usize, usize)>> {
        let end = offset.checked_add(len)?;
        (end <= self.cells.words.len() * 8).then(|| {
            let first = offset / 8;
            self.cells.words[first..end.div_ceil(8)].iter().enumerate().map(move |(i, word)| {
                let start = (first + i) * 8;
                (word, offset.max(start) - start, end.min(start + 8) - start)
            })
        })
    }
}

impl RingMemory for LoomMemory {
    fn load_head(&self, order: Ordering) -> Option<u64> {
        Some(self.cells.head.load(self.order(order)))
    }

    fn store_head(&self, value: u64, order: Ordering) -> Option<()> {
        self.cells.head.store(value, self.order(order));
        Some(())
    }

    fn load_word(&self, offset: usize, order: Ordering) -> Option<u64> {
        Some(self.line(offset)?.load(self.order(order)))
    }

    fn store_word(&self, offset: usize, value: u64, order: Ordering) -> Option<()> {
        self.line(offset)?.store(value, self.order(order));
        Some(())
    }

    fn write(&self, offset: usize, src: &[u8]) -> Option<()> {
        assert!(offset % LINE >= 8, "payload is never written into a line's first word");
        let mut src = src;
        for (word, from, to) in self.words(offset, src.len())? {
            let (now, rest) = src.split_at(to - from);
            // SAFETY: loom's cell hands out the pointer only while it records this write, and
            // fails the model if another access to the word is not ordered with it.
            word.with_mut(|p| unsafe { &mut *p }[from..to].copy_from_slice(now));
            src = rest;
        }
        Some(())
    }

    fn read(&self, offset: usize, dst: &mut [u8]) -> Option<()> {
        let mut dst = dst;
        for (word, from, to) in self.words(offset, dst.len())? {
            let (now, rest) = std::mem::take(&mut dst).split_at_mut(to - from);
            // SAFETY: as in `write`, for a read.
            word.with(|p| now.copy_from_slice(&unsafe { &*p }[from..to]));
            dst = rest;
        }
        Some(())
    }
}

/// A 256-byte ring with a 64-byte inline limit: frames of one line (up to 56 bytes) and two lines,
/// so that three messages go around the ring, need a PAD frame and find it full.
const CAPACITY: usize = 256;

fn limits() -> FrameLimits {
    let g = Geometry { ring_capacity: 4096, inline_max: 64, classes: vec![SlotClass { slot_size: 64, slot_count: 1 }] };
    FrameLimits::new(&g).unwrap()
}

fn message(i: usize) -> Vec<u8> {
    let len = [64, 1, 64][i];
    (0..len).map(|b| (i * 31 + b) as u8).collect()
}

fn transfer(relaxed: bool) {
    let memory = LoomMemory::new(CAPACITY, relaxed);
    let mut producer = Producer::with_memory(memory.clone(), CAPACITY, limits()).unwrap();
    let mut consumer = Consumer::with_memory(memory, CAPACITY, limits()).unwrap();
    let sender = loom::thread::spawn(move || {
        for i in 0..3 {
            loop {
                match producer.try_send_inline(&message(i)) {
                    Ok(()) => break,
                    Err(SendError::Full) => loom::thread::yield_now(),
                    Err(e) => panic!("{e}"),
                }
            }
        }
    });
    let mut out = Vec::new();
    for i in 0..3 {
        loop {
            match consumer.try_recv(&mut out).unwrap() {
                Some(frame) => {
                    assert_eq!(frame, Frame::Inline(out.len()));
                    assert_eq!(out, message(i));
                    break;
                }
                None => loom::thread::yield_now(),
            }
        }
    }
    sender.join().unwrap();
    assert_eq!(consumer.try_recv(&mut out), Ok(None));
}

/// Explore every interleaving, without a preemption bound (about 2 s in release on two cores: the
/// layout has only the consumer's cursor and the lines' first words to order; `LOOM_MAX_PREEMPTIONS`
/// bounds it).
fn model(check: fn()) {
    loom::model::Builder::new().check(check);
}

#[test]
fn frames_cross_in_order_and_complete() {
    model(|| transfer(false));
}

#[test]
#[should_panic]
fn relaxed_cursors_are_caught() {
    model(|| transfer(true));
}
