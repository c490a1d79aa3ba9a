//! Wake-ups between the peers, one pair of words per ring direction and event, living in the
//! rings' control blocks (the ring code owns `head` at offset 0 of the consumer line and leaves
//! the producer line and the rest of the consumer line to this module):
//!
//! ```text
//! producer line, Layout.rings[d]        +8  data sequence   (AtomicU32, the futex word)
//!                                       +12 data waiters    (AtomicU32, non-zero while parked)
//! consumer line, Layout.rings[d] + 64   +8  space sequence  (AtomicU32, the futex word)
//!                                       +12 space waiters   (AtomicU32)
//! ```
//!
//! "Data available" is waited for by the consumer of direction `d` and signalled by its producer;
//! "space available" (ring space, or a slot returned to the pool of direction `d`) is waited for by
//! the producer and signalled by the consumer.
//!
//! Protocol. The waiter spins on its condition for a bounded number of rounds
//! ([`WaitPolicy::spin`]); then it reads the sequence, registers in the waiters word (SeqCst),
//! re-checks the condition, and parks on the sequence word with a timeout (Linux: `FUTEX_WAIT`
//! **without** `FUTEX_PRIVATE_FLAG`, so the key is the shared page, not the address). The signaller
//! publishes its change, issues a SeqCst fence, reads the waiters word, and only when it is
//! non-zero bumps the sequence and calls `FUTEX_WAKE`. Either the waiter's re-check sees the
//! change or the signaller sees the waiter; a wake between the re-check and the park changes the
//! sequence, so the park returns at once. No syscall happens while the peer is awake.
//!
//! The peer can write these words: the worst it can do is make this side's notifications cost a
//! syscall (a waiters word that stays non-zero) or make this side sleep until its deadline (a
//! waiters word it clears). Every wait has a deadline.
//!
//! Windows (`wake/windows.rs`): `WaitOnAddress` does not work across processes, so each direction
//! and event has a kernel object of its own, an unnamed semaphore the segment owns (index
//! `2 * direction + event`, created with the section and duplicated into the child with it). The
//! protocol is the same; the waiter parks in `WaitForSingleObject` on the semaphore, and the
//! signaller, only when the waiters word is non-zero, bumps the sequence and releases the
//! semaphore by the number of waiters it read (1 to 64). A release between a waiter's re-check and
//! its park stays counted, so that park returns at once; counts left over (a waiter that timed
//! out, a count the peer inflated) only cause spurious wake-ups, which the waiter's re-check loop
//! absorbs. Written against windows-sys 0.61, not built or tested here: verified only by reading.
//!
//! Other platforms (Unix systems other than Linux, others) park by sleeping in short, growing
//! steps (50 µs up to 1 ms) and re-checking; notifications are free.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(not(any(target_os = "linux", windows)))]
mod poll;
#[cfg(all(test, target_os = "linux"))]
mod tests;
#[cfg(windows)]
mod windows;

#[cfg(target_os = "linux")]
use linux as sys;
#[cfg(not(any(target_os = "linux", windows)))]
use poll as sys;
#[cfg(windows)]
use windows as sys;

use crate::ipc::layout::Layout;
use crate::ipc::segment::Segment;
use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

/// Offset of the sequence word within its control line; the waiters word follows at +4.
pub const WORDS_OFFSET: usize = 8;
/// Offset of the consumer line from the start of a ring's control block.
pub const CONSUMER_LINE: usize = 64;

/// What a waiter waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Data available in direction `d` (the consumer waits, the producer signals).
    Data,
    /// Space available in direction `d`: ring space or a returned slot (the producer waits, the
    /// consumer signals).
    Space,
}

/// Offset of the sequence word for `direction` and `event` in `layout`, or `None` for a direction
/// other than 0 or 1.
pub fn word_offset(layout: &Layout, direction: usize, event: Event) -> Option<usize> {
    let ring = *layout.rings.get(direction)?;
    let line = match event {
        Event::Data => 0,
        Event::Space => CONSUMER_LINE,
    };
    Some(ring + line + WORDS_OFFSET)
}

/// The index of the wake-up object of `direction` and `event` among a segment's four (the order of
/// the semaphores in the Windows hand-off): `2 * direction + event`, Data 0 and Space 1.
fn object_index(direction: usize, event: Event) -> usize {
    2 * direction + usize::from(event == Event::Space)
}

/// Why a waiter or signal cannot be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WakeError {
    /// The direction is neither 0 (A→B) nor 1 (B→A).
    BadDirection(usize),
    /// The words lie outside the segment (an internal inconsistency).
    OutOfRegion,
}

impl fmt::Display for WakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WakeError::BadDirection(d) => write!(f, "ring direction {d} does not exist"),
            WakeError::OutOfRegion => f.write_str("the wake-up words lie outside the segment"),
        }
    }
}

impl std::error::Error for WakeError {}

/// A wait ran past its deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimedOut;

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the wait ran past its deadline")
    }
}

impl std::error::Error for TimedOut {}

/// How long a waiter spins before it parks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitPolicy {
    /// Condition checks, each followed by a spin-loop hint, before parking (0 parks at once).
    pub spin: u32,
}

impl Default for WaitPolicy {
    /// 2,000 rounds: some tens of microseconds, enough to catch a busy peer's reply without a
    /// syscall.
    fn default() -> Self {
        WaitPolicy { spin: 2000 }
    }
}

/// What a platform parks on and wakes: the sequence word (the futex word on Linux) and the
/// segment with the index of the wake-up object, `2 * direction + event` (the semaphore on
/// Windows). Each platform uses what it needs.
#[derive(Clone, Copy)]
struct Key<'a> {
    seq: &'a AtomicU32,
    #[cfg_attr(not(windows), allow(dead_code))]
    segment: &'a Segment,
    #[cfg_attr(not(windows), allow(dead_code))]
    object: usize,
}

/// The segment `S` (a `&Segment`, an `Arc<Segment>`, ...), the offset of one sequence word, and
/// the index of its wake-up object.
#[derive(Debug)]
struct Words<S> {
    segment: S,
    seq: usize,
    object: usize,
}

impl<S: Deref<Target = Segment>> Words<S> {
    fn new(segment: S, direction: usize, event: Event) -> Result<Self, WakeError> {
        let seq = word_offset(segment.layout(), direction, event).ok_or(WakeError::BadDirection(direction))?;
        let region = segment.region();
        if region.atomic_u32(seq).is_none() || region.atomic_u32(seq + 4).is_none() {
            return Err(WakeError::OutOfRegion);
        }
        Ok(Words { segment, seq, object: object_index(direction, event) })
    }

    /// The sequence and waiters words (checked in `new`; the region never changes size), and the
    /// key to park on.
    fn get(&self) -> Option<(Key<'_>, &AtomicU32)> {
        let region = self.segment.region();
        let seq = region.atomic_u32(self.seq)?;
        Some((Key { seq, segment: &self.segment, object: self.object }, region.atomic_u32(self.seq + 4)?))
    }
}

/// Counters of a [`Waiter`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WaitStats {
    /// Calls to `wait_until`.
    pub waits: u64,
    /// Waits satisfied while spinning.
    pub spun: u64,
    /// Parks (futex or semaphore waits, or sleeps).
    pub parks: u64,
    /// Waits that ran past their deadline.
    pub timeouts: u64,
}

/// The waiting side of one direction and event.
#[derive(Debug)]
pub struct Waiter<S> {
    words: Words<S>,
    policy: WaitPolicy,
    /// Whether `waits` and `spun` are counted (see [`Waiter::uncounted`]).
    counted: bool,
    waits: AtomicU64,
    spun: AtomicU64,
    parks: AtomicU64,
    timeouts: AtomicU64,
}

impl<S: Deref<Target = Segment>> Waiter<S> {
    /// The waiter for `event` in `direction` (0 = A→B, 1 = B→A) of `segment`.
    pub fn new(segment: S, direction: usize, event: Event) -> Result<Self, WakeError> {
        Ok(Waiter {
            words: Words::new(segment, direction, event)?,
            policy: WaitPolicy::default(),
            counted: true,
            waits: AtomicU64::new(0),
            spun: AtomicU64::new(0),
            parks: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
        })
    }

    /// The same waiter with another spin policy.
    pub fn with_policy(mut self, policy: WaitPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The same waiter without the counters of every wait (`waits` and `spun` stay 0): each is a
    /// locked instruction per wait, which a user that never reads them need not pay. Parks and
    /// timeouts are still counted.
    pub fn uncounted(mut self) -> Self {
        self.counted = false;
        self
    }

    /// Wait until `cond` holds or `deadline` passes: spin, then park until the peer's
    /// [`Signal::notify`] or the deadline. `cond` must read what the signaller publishes before
    /// it notifies (with Acquire or stronger).
    pub fn wait_until(&self, mut cond: impl FnMut() -> bool, deadline: Instant) -> Result<(), TimedOut> {
        if self.spin(&mut cond) {
            return Ok(());
        }
        self.park_until(cond, deadline)
    }

    /// The first half of [`Waiter::wait_until`]: spin on `cond` for the policy's rounds; whether
    /// it came to hold. Reads no clock.
    pub fn spin(&self, mut cond: impl FnMut() -> bool) -> bool {
        count(self.counted, &self.waits);
        for _ in 0..self.policy.spin {
            if cond() {
                count(self.counted, &self.spun);
                return true;
            }
            std::hint::spin_loop();
        }
        false
    }

    /// The second half of [`Waiter::wait_until`]: park (no spinning) until `cond` holds, after
    /// the peer's [`Signal::notify`], or until `deadline` passes.
    pub fn park_until(&self, mut cond: impl FnMut() -> bool, deadline: Instant) -> Result<(), TimedOut> {
        let Some((key, waiters)) = self.words.get() else {
            return Err(TimedOut);
        };
        let mut attempt = 0u32;
        loop {
            if cond() {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                self.timeouts.fetch_add(1, Ordering::Relaxed);
                return Err(TimedOut);
            }
            let expected = key.seq.load(Ordering::SeqCst);
            waiters.fetch_add(1, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            if cond() {
                waiters.fetch_sub(1, Ordering::SeqCst);
                return Ok(());
            }
            self.parks.fetch_add(1, Ordering::Relaxed);
            sys::wait(key, expected, deadline - now, attempt);
            waiters.fetch_sub(1, Ordering::SeqCst);
            attempt = attempt.saturating_add(1);
        }
    }

    /// This waiter's counters.
    pub fn stats(&self) -> WaitStats {
        WaitStats {
            waits: self.waits.load(Ordering::Relaxed),
            spun: self.spun.load(Ordering::Relaxed),
            parks: self.parks.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
        }
    }
}

/// Add one to `counter` if counting is on.
fn count(counted: bool, counter: &AtomicU64) {
    if counted {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counters of a [`Signal`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignalStats {
    /// Calls to `notify`.
    pub notifies: u64,
    /// Wake syscalls made (only when a waiter was registered).
    pub wake_calls: u64,
}

/// The signalling side of one direction and event.
#[derive(Debug)]
pub struct Signal<S> {
    words: Words<S>,
    /// Whether `notifies` is counted (see [`Signal::uncounted`]).
    counted: bool,
    notifies: AtomicU64,
    wake_calls: AtomicU64,
}

impl<S: Deref<Target = Segment>> Signal<S> {
    /// The signal for `event` in `direction` (0 = A→B, 1 = B→A) of `segment`.
    pub fn new(segment: S, direction: usize, event: Event) -> Result<Self, WakeError> {
        Ok(Signal {
            words: Words::new(segment, direction, event)?,
            counted: true,
            notifies: AtomicU64::new(0),
            wake_calls: AtomicU64::new(0),
        })
    }

    /// Tell a parked waiter that the condition may hold now. Call after publishing the change.
    /// Costs a fence and a load when nobody waits; a syscall only when a waiter is registered.
    pub fn notify(&self) {
        fence(Ordering::SeqCst);
        self.notify_after_fence();
    }

    /// [`Signal::notify`] for a caller that has itself issued a SeqCst fence after publishing
    /// the change (one fence that serves several purposes).
    pub fn notify_after_fence(&self) {
        count(self.counted, &self.notifies);
        let Some((key, waiters)) = self.words.get() else {
            return;
        };
        let parked = waiters.load(Ordering::SeqCst);
        if parked != 0 {
            key.seq.fetch_add(1, Ordering::SeqCst);
            self.wake_calls.fetch_add(1, Ordering::Relaxed);
            sys::wake(key, parked);
        }
    }

    /// The same signal without the counter of every notification (`notifies` stays 0): a locked
    /// instruction per call, which a user that never reads it need not pay. Wake calls are still
    /// counted.
    pub fn uncounted(mut self) -> Self {
        self.counted = false;
        self
    }

    /// Whether a waiter is registered right now (peer-written: a hint, for tests and diagnostics).
    pub fn peer_waiting(&self) -> bool {
        self.words.get().is_some_and(|(_, waiters)| waiters.load(Ordering::SeqCst) != 0)
    }

    /// This signal's counters.
    pub fn stats(&self) -> SignalStats {
        SignalStats {
            notifies: self.notifies.load(Ordering::Relaxed),
            wake_calls: self.wake_calls.load(Ordering::Relaxed),
        }
    }
}
