//! A slot's current generation, published for lock-free callers, and the two reader counters
//! that tell when an old generation has no caller left.
//!
//! The protocol (all SeqCst):
//! - A caller reads the phase, increments `readers[phase & 1]`, then loads `current` and may use
//!   that generation until it decrements the same counter.
//! - A swapper (one at a time: module operations are serialised) first waits until the *other*
//!   counter is zero, stores the new generation, then advances the phase. Callers of the old
//!   generation are all counted in `readers[old parity]`: a caller that read the old phase but
//!   incremented only after the swapper saw that counter at zero loads `current` after the store,
//!   so it gets the new generation. When `readers[old parity]` is zero, no caller uses the old one.
//!
//! A call costs two atomic read-modify-writes (the counter up and down); the old design, an
//! `ArcSwap` load plus an in-flight counter per generation, cost four.

use super::generation::Generation;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A counter on its own cache line, so that callers bumping it do not slow readers of `current`.
#[repr(align(64))]
#[derive(Default)]
struct Counter(AtomicUsize);

/// The published generation of a slot and its readers.
#[derive(Default)]
pub(crate) struct Current {
    /// The generation callers use; owned by `owner`. Null when the slot is empty.
    current: AtomicPtr<Generation>,
    /// Keeps the published generation alive.
    owner: Mutex<Option<Arc<Generation>>>,
    phase: AtomicUsize,
    readers: [Counter; 2],
}

/// A caller's claim on the published generation; the counter goes down when it is dropped.
pub(crate) struct Reader<'a> {
    current: &'a Current,
    parity: usize,
    generation: *const Generation,
}

impl Reader<'_> {
    /// The generation that was published when the claim was made, if any.
    #[inline]
    pub fn generation(&self) -> Option<&Generation> {
        // SAFETY: a published generation is owned by `owner` or by whoever replaced it, and is not
        // dropped before `readers[parity]` has been seen at zero, which this claim prevents.
        unsafe { self.generation.as_ref() }
    }

    /// A strong reference to the claimed generation, for waiting after the claim is released.
    pub fn generation_arc(&self) -> Option<Arc<Generation>> {
        if self.generation.is_null() {
            return None;
        }
        // SAFETY: the pointer came from `Arc::as_ptr` of a live `Arc` (see `generation`); taking
        // one more strong count keeps it alive past this claim.
        unsafe {
            Arc::increment_strong_count(self.generation);
            Some(Arc::from_raw(self.generation))
        }
    }
}

impl Drop for Reader<'_> {
    #[inline]
    fn drop(&mut self) {
        self.current.readers[self.parity].0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The result of [`Current::replace`] when the previous replacement has not drained yet.
pub(crate) struct NotIdle {
    /// Callers still counted on the parity the replacement needs.
    pub readers: usize,
}

impl Current {
    /// Claim the published generation.
    #[inline]
    pub fn enter(&self) -> Reader<'_> {
        let parity = self.phase.load(Ordering::SeqCst) & 1;
        self.readers[parity].0.fetch_add(1, Ordering::SeqCst);
        let generation = self.current.load(Ordering::SeqCst);
        Reader { current: self, parity, generation }
    }

    /// The published generation, as a strong reference (for operations and reports).
    pub fn get(&self) -> Option<Arc<Generation>> {
        self.owner.lock().clone()
    }

    /// Callers counted on either parity now.
    pub fn in_flight(&self) -> usize {
        self.readers.iter().map(|c| c.0.load(Ordering::SeqCst)).sum()
    }

    /// Callers counted on `parity`.
    pub fn readers(&self, parity: usize) -> usize {
        self.readers[parity & 1].0.load(Ordering::SeqCst)
    }

    /// Whether no caller is counted at all (the slot may be reused).
    pub fn is_idle(&self) -> bool {
        self.in_flight() == 0
    }

    /// Publish `next` in place of the current generation. First waits up to `timeout` for the
    /// callers of the replacement before last to leave (they use the parity this one needs).
    /// Returns the replaced generation and the parity its callers are counted on; wait for that
    /// parity with [`wait_drained`](Self::wait_drained) before shutting it down.
    pub fn replace(
        &self,
        next: Option<Arc<Generation>>,
        timeout: Duration,
        while_waiting: &dyn Fn(),
    ) -> Result<(Option<Arc<Generation>>, usize), NotIdle> {
        let old_parity = self.phase.load(Ordering::SeqCst) & 1;
        if !self.wait_drained(old_parity ^ 1, timeout, while_waiting) {
            return Err(NotIdle { readers: self.readers(old_parity ^ 1) });
        }
        let pointer = next.as_ref().map_or(std::ptr::null_mut(), |g| Arc::as_ptr(g).cast_mut());
        let previous = std::mem::replace(&mut *self.owner.lock(), next);
        self.current.store(pointer, Ordering::SeqCst);
        self.phase.fetch_add(1, Ordering::SeqCst);
        Ok((previous, old_parity))
    }

    /// Wait up to `timeout` until no caller is counted on `parity`, running `while_waiting`
    /// between checks (main-thread pumping). Returns whether that happened.
    pub fn wait_drained(&self, parity: usize, timeout: Duration, while_waiting: &dyn Fn()) -> bool {
        let deadline = Instant::now() + timeout;
        let mut spins = 0u32;
        while self.readers(parity) != 0 {
            if Instant::now() >= deadline {
                return false;
            }
            while_waiting();
            if spins < 64 {
                spins += 1;
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        true
    }
}
