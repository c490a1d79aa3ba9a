//! A session's counters.

use crate::ipc::ring::RingStats;
use crate::ipc::slots::SlotStats;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Live counters of a session (local memory: the peer cannot change them). Messages sent inline
/// are not counted here: they are the outgoing ring's frames that are not slot messages.
#[derive(Debug, Default)]
pub struct Counters {
    pub(super) calls: AtomicU64,
    /// Changed only by the reader-role holder ([`Counters::bump_by_reader`]).
    pub(super) requests_served: AtomicU64,
    pub(super) events_sent: AtomicU64,
    /// Changed only by the reader-role holder.
    pub(super) events_received: AtomicU64,
    pub(super) slot_sent: AtomicU64,
    pub(super) ring_full_waits: AtomicU64,
    pub(super) pool_full_waits: AtomicU64,
    pub(super) malformed: AtomicU64,
    /// Changed only by the reader-role holder.
    pub(super) stray_answers: AtomicU64,
    pub(super) reply_failures: AtomicU64,
}

impl Counters {
    pub(super) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    /// Add one to a counter that only the reader-role holder changes: one thread at a time, and
    /// the role's hand-over (a release and an acquire) orders the holders, so a load and a store
    /// are exact, without the locked instruction of `bump`.
    pub(super) fn bump_by_reader(counter: &AtomicU64) {
        counter.store(counter.load(Relaxed).wrapping_add(1), Relaxed);
    }
}

/// A snapshot of a session's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SessionStats {
    /// Calls made.
    pub calls: u64,
    /// Requests of the peer answered.
    pub requests_served: u64,
    /// Events published.
    pub events_sent: u64,
    /// Events received.
    pub events_received: u64,
    /// Messages sent inline in the ring.
    pub inline_sent: u64,
    /// Messages sent through a slot.
    pub slot_sent: u64,
    /// Sends that found the outgoing ring full and waited (back-pressure).
    pub ring_full_waits: u64,
    /// Sends that found the outgoing slot pool full and waited (back-pressure).
    pub pool_full_waits: u64,
    /// Malformed frames or messages received (the session broke at the first).
    pub malformed: u64,
    /// Answers for no call in flight (late answers to calls that timed out, or a confused peer).
    pub stray_answers: u64,
    /// Answers to the peer's requests that could not be sent.
    pub reply_failures: u64,
    /// The outgoing ring's counters.
    pub ring_out: RingStats,
    /// The incoming ring's counters.
    pub ring_in: RingStats,
    /// The outgoing slot pool's counters.
    pub slots_out: SlotStats,
    /// The incoming slot pool's counters.
    pub slots_in: SlotStats,
}

impl Counters {
    /// The snapshot, with the rings' and pools' counters (and the inline messages, counted by
    /// the outgoing ring) filled in by the caller.
    pub(super) fn snapshot(&self) -> SessionStats {
        SessionStats {
            calls: self.calls.load(Relaxed),
            requests_served: self.requests_served.load(Relaxed),
            events_sent: self.events_sent.load(Relaxed),
            events_received: self.events_received.load(Relaxed),
            slot_sent: self.slot_sent.load(Relaxed),
            ring_full_waits: self.ring_full_waits.load(Relaxed),
            pool_full_waits: self.pool_full_waits.load(Relaxed),
            malformed: self.malformed.load(Relaxed),
            stray_answers: self.stray_answers.load(Relaxed),
            reply_failures: self.reply_failures.load(Relaxed),
            ..SessionStats::default()
        }
    }
}
