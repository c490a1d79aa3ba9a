//! The state both halves of a session share: the segment, the ring halves, the slot pools, the
//! wake-up words, the calls in flight, the services, the reader role and the session's state.

use super::liveness::Liveness;
use super::memory::{segment_ring, SegmentRing};
use super::pending::Pending;
use super::services::Services;
use super::stats::Counters;
use super::{IpcError, SessionConfig};
use crate::ipc::frame::FrameLimits;
use crate::ipc::message::Message;
use crate::ipc::ring::{Consumer, Producer, RingCounters};
use crate::ipc::segment::{Role, Segment};
use crate::ipc::slots::SlotPool;
use crate::ipc::wake::{Event, Signal, WaitPolicy, Waiter};
use parking_lot::Mutex;
use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::Thread;
use std::time::Duration;

/// The longest a thread parks before it re-checks the peer's process and its own deadline.
pub(super) const SLICE: Duration = Duration::from_millis(10);

const OPEN: u8 = 0;
const CLOSED: u8 = 1;
const DEAD: u8 = 2;
const BROKEN: u8 = 3;

pub(super) type Seg = Arc<Segment>;

/// The receiving half, used only by the reader-role holder (see [`Inner::with_reader`]).
pub(super) struct ReadHalf {
    pub consumer: Consumer<SegmentRing>,
    pub buffer: Vec<u8>,
    /// Requests and events read by a sender that waited for room (see `send.rs`), to be
    /// dispatched before anything still in the ring.
    pub backlog: VecDeque<Box<Message>>,
}

/// The receiving half behind the reader role: the role is its lock, so that reading a message
/// takes no locked instruction of its own.
pub(super) struct ReaderCell {
    half: UnsafeCell<ReadHalf>,
    /// Whether the half is lent out (changed only by the role holder).
    lent: AtomicBool,
}

// SAFETY: the half is reached only through `Inner::with_reader`, which lends it only to the
// thread holding the reader role, and only once at a time (see there).
unsafe impl Sync for ReaderCell {}

impl ReaderCell {
    fn new(half: ReadHalf) -> Self {
        ReaderCell { half: UnsafeCell::new(half), lent: AtomicBool::new(false) }
    }
}

/// Everything a session shares between its threads.
pub(super) struct Inner {
    pub segment: Seg,
    pub config: SessionConfig,
    /// 0 for peer A, 1 for peer B; the outgoing direction has the same number.
    pub side: usize,
    pub inline_max: usize,
    pub max_message: usize,
    pub producer: Mutex<Producer<SegmentRing>>,
    /// The outgoing ring, for a look at the consumer's cursor while waiting for room.
    pub out_ring: SegmentRing,
    pub out_pool: SlotPool<Seg>,
    /// Wakes the peer's reader after a send.
    pub out_data: Signal<Seg>,
    /// Where senders wait for ring space or a returned slot.
    pub out_space: Waiter<Seg>,
    /// Wakes this side's parked senders (death, close).
    pub out_space_local: Signal<Seg>,
    pub reader: ReaderCell,
    /// The incoming ring's counters (the consumer's, readable without the reader role).
    pub in_counters: Arc<RingCounters>,
    /// Whether the reader's backlog holds messages (changed only by the reader-role holder), so
    /// that a poll round with nothing to read does not touch the receiving half.
    pub backlogged: AtomicBool,
    /// The incoming ring, for a look at its cursors without consuming.
    pub in_ring: SegmentRing,
    pub in_pool: SlotPool<Seg>,
    /// Where the reader waits for data: spinning first.
    pub in_data: Waiter<Seg>,
    /// Where an idle server parks without the reader role: no spinning.
    pub in_data_idle: Waiter<Seg>,
    /// Wakes this side's parked readers (death, close).
    pub in_data_local: Signal<Seg>,
    /// Tells the peer's senders that ring space or a slot came free.
    pub in_space: Signal<Seg>,
    /// The thread token of the reader-role holder, 0 when free.
    pub role: AtomicU64,
    /// Whether the reader consumed input since it last told the peer's senders that space came
    /// free (changed only by the reader-role holder; see [`Inner::owe_space`]).
    space_owed: AtomicBool,
    /// Threads serving (`serve`, the background server), woken when the role comes free.
    pub servers: Mutex<Vec<(u64, Thread)>>,
    /// Threads about to park or parked in `follow`: a leader giving the role up wakes the
    /// waiting threads only when there are any.
    pub followers: AtomicUsize,
    /// Callers asking a serving thread that holds the reader role to give it up (so that they
    /// read their own answers, without a hand-off).
    pub role_wanted: AtomicUsize,
    /// Whether the reader-role holder is a serving thread (which gives the role up on request).
    pub server_reads: AtomicBool,
    pub pending: Pending,
    pub services: Services,
    pub counters: Counters,
    pub liveness: Arc<Liveness>,
    /// The [`activity`](Inner::activity) count when a serving thread's park last ran out with
    /// nothing happening; while the count still equals it, serving threads park without spinning.
    pub idle_mark: AtomicU64,
    state: AtomicU8,
    reason: Mutex<Option<IpcError>>,
    /// Set by a local close before its goodbye: the peer's end that the goodbye brings about is
    /// the close, not a death.
    closing: AtomicBool,
    pool_users: AtomicUsize,
    reclaimed: AtomicBool,
}

fn setup(what: impl std::fmt::Display) -> IpcError {
    IpcError::Setup(what.to_string())
}

/// This thread's token for the reader role (never 0).
pub(super) fn thread_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local!(static TOKEN: u64 = NEXT.fetch_add(1, Ordering::Relaxed));
    TOKEN.with(|t| *t)
}

impl Inner {
    /// The session state over `segment` for the side its role says.
    pub fn new(segment: Segment, config: SessionConfig) -> Result<Arc<Self>, IpcError> {
        let side = if segment.role() == Role::Creator { 0 } else { 1 };
        let (out, inn) = (side, 1 - side);
        let segment = Arc::new(segment);
        let geometry = segment.geometry().clone();
        let limits = FrameLimits::new(&geometry).map_err(|e| setup(e.0))?;
        let ring = |d| segment_ring(&segment, d).ok_or_else(|| setup(format!("ring {d} is misplaced")));
        let producer = Producer::with_memory(ring(out)?, geometry.ring_capacity, limits).map_err(setup)?;
        let consumer = Consumer::with_memory(ring(inn)?, geometry.ring_capacity, limits).map_err(setup)?;
        let pool = |d| SlotPool::new(segment.clone(), d).map_err(setup);
        let spin = WaitPolicy { spin: config.spin };
        // The session never reads the wake-ups' counters: it does not pay for them per message.
        let waiter = |d, e| Waiter::new(segment.clone(), d, e).map(Waiter::uncounted).map_err(setup);
        let signal = |d, e| Signal::new(segment.clone(), d, e).map(Signal::uncounted).map_err(setup);
        let liveness =
            Liveness::new(side, config.heartbeat_interval, config.heartbeat_timeout, config.connect_timeout)?;
        liveness.beat(segment.region());
        let inner = Inner {
            side,
            inline_max: geometry.inline_max,
            max_message: geometry.classes.last().map_or(0, |c| c.slot_size),
            producer: Mutex::new(producer),
            out_ring: ring(out)?,
            out_pool: pool(out)?,
            out_data: signal(out, Event::Data)?,
            out_space: waiter(out, Event::Space)?.with_policy(spin),
            out_space_local: signal(out, Event::Space)?,
            in_counters: consumer.counters(),
            reader: ReaderCell::new(ReadHalf { consumer, buffer: Vec::new(), backlog: VecDeque::new() }),
            backlogged: AtomicBool::new(false),
            in_ring: ring(inn)?,
            in_pool: pool(inn)?,
            in_data: waiter(inn, Event::Data)?.with_policy(spin),
            in_data_idle: waiter(inn, Event::Data)?.with_policy(WaitPolicy { spin: 0 }),
            in_data_local: signal(inn, Event::Data)?,
            in_space: signal(inn, Event::Space)?,
            role: AtomicU64::new(0),
            space_owed: AtomicBool::new(false),
            servers: Mutex::new(Vec::new()),
            followers: AtomicUsize::new(0),
            role_wanted: AtomicUsize::new(0),
            server_reads: AtomicBool::new(false),
            pending: Pending::default(),
            services: Services::default(),
            counters: Counters::default(),
            liveness: Arc::new(liveness),
            idle_mark: AtomicU64::new(u64::MAX),
            state: AtomicU8::new(OPEN),
            reason: Mutex::new(None),
            closing: AtomicBool::new(false),
            pool_users: AtomicUsize::new(0),
            reclaimed: AtomicBool::new(false),
            config,
            segment,
        };
        Ok(Arc::new(inner))
    }

    /// A local close begins: a peer death from now on counts as the close.
    pub fn begin_close(&self) {
        self.closing.store(true, Ordering::SeqCst);
    }

    /// Whether the session still works.
    pub fn is_open(&self) -> bool {
        self.state.load(Ordering::SeqCst) == OPEN
    }

    /// `Ok` while the session works, else the error that ended it.
    pub fn check(&self) -> Result<(), IpcError> {
        if self.is_open() {
            return Ok(());
        }
        Err(self.reason.lock().clone().unwrap_or(IpcError::Closed))
    }

    /// End the session with `error` (the first ending wins): after a death reclaim the slots,
    /// then fail every call in flight and wake every waiting thread. Returns the error that ended
    /// it.
    pub fn fail(&self, error: IpcError) -> IpcError {
        let error = match error {
            IpcError::PeerDead(_) if self.closing.load(Ordering::SeqCst) => IpcError::Closed,
            other => other,
        };
        let state = match error {
            IpcError::PeerDead(_) => DEAD,
            IpcError::Malformed(_) => BROKEN,
            _ => CLOSED,
        };
        {
            let mut reason = self.reason.lock();
            if self.state.compare_exchange(OPEN, state, Ordering::SeqCst, Ordering::SeqCst).is_err() {
                return reason.clone().unwrap_or(IpcError::Closed);
            }
            *reason = Some(error.clone());
        }
        match &error {
            IpcError::PeerDead(why) => tracing::warn!(side = self.side, why, "IPC peer dead"),
            IpcError::Malformed(what) => {
                Counters::bump(&self.counters.malformed);
                tracing::warn!(side = self.side, what, "IPC session broken by malformed data");
            }
            _ => tracing::debug!(side = self.side, error = %error, "IPC session ended"),
        }
        if state == DEAD {
            // Before the calls fail, so that a caller seeing `PeerDead` sees the slots back (a
            // thread still inside the pools reclaims them when it leaves, after the wake-up).
            self.reclaim();
        }
        self.pending.fail_all(&error);
        self.wake_everyone();
        error
    }

    /// Wake every thread of this side that may be parked on the session.
    pub fn wake_everyone(&self) {
        self.in_data_local.notify();
        self.out_space_local.notify();
        self.wake_followers();
        self.liveness.wake();
    }

    /// Unpark every caller and serving thread (one of them may take the reader role).
    fn wake_followers(&self) {
        self.pending.wake_all();
        for (_, thread) in self.servers.lock().iter() {
            thread.unpark();
        }
    }

    /// Enter the slot pools (so that a reclaim after death waits for this user to leave).
    pub fn enter_pools(&self) -> Result<PoolUse<'_>, IpcError> {
        self.pool_users.fetch_add(1, Ordering::SeqCst);
        let guard = PoolUse { inner: self };
        self.check()?;
        Ok(guard)
    }

    /// Return both directions' slots to their free lists, once, when nobody uses the pools.
    fn reclaim(&self) {
        if self.pool_users.load(Ordering::SeqCst) != 0 || self.reclaimed.swap(true, Ordering::SeqCst) {
            return;
        }
        for pool in [&self.out_pool, &self.in_pool] {
            if let Err(e) = pool.reclaim_all() {
                tracing::warn!(error = %e, "reclaiming the slots of a dead peer");
            }
        }
    }

    /// Try to take the reader role; a guard that gives it back (and wakes the followers) unless
    /// this thread already held it.
    pub fn acquire_role(&self) -> Option<RoleGuard<'_>> {
        let me = thread_token();
        let current = self.role.load(Ordering::Acquire);
        if current == me {
            return Some(RoleGuard { inner: self, owned: false });
        }
        if current != 0 {
            return None;
        }
        self.role.compare_exchange(0, me, Ordering::AcqRel, Ordering::Acquire).ok()?;
        Some(RoleGuard { inner: self, owned: true })
    }

    /// A count that moves with every call made, event published and request or event handled
    /// (the counters' sum: reading it costs the hot path nothing).
    pub fn activity(&self) -> u64 {
        let c = &self.counters;
        [&c.calls, &c.events_sent, &c.requests_served, &c.events_received]
            .iter()
            .fold(0u64, |sum, counter| sum.wrapping_add(counter.load(Ordering::Relaxed)))
    }

    /// Whether nothing happened since a serving thread's park last ran out idle.
    pub fn quiet(&self) -> bool {
        self.activity() == self.idle_mark.load(Ordering::Relaxed)
    }

    /// Run `f` on the receiving half: `None` unless this thread holds the reader role (and is
    /// not inside `f` already, which never happens: `f` reads the ring and never waits).
    pub fn with_reader<R>(&self, f: impl FnOnce(&mut ReadHalf) -> R) -> Option<R> {
        let cell = &self.reader;
        if self.role.load(Ordering::Acquire) != thread_token() || cell.lent.load(Ordering::Relaxed) {
            debug_assert!(false, "the receiving half used without the reader role, or twice");
            return None;
        }
        cell.lent.store(true, Ordering::Relaxed);
        // SAFETY: this thread holds the reader role, so no other thread gets past the check above
        // until it gives the role up, and the role changes hands only by a release and an
        // acquire, which orders every holder's accesses after the previous holder's. `lent` is
        // false, so this thread does not hold a reference from an outer call either: the
        // reference is the only one while `f` runs.
        let result = f(unsafe { &mut *cell.half.get() });
        cell.lent.store(false, Ordering::Relaxed);
        Some(result)
    }

    /// After the reader consumed input (ring space or a slot came free): tell the peer's senders
    /// now if one is parked (a hint read without a fence), else once later, where the reader
    /// fences anyway: after it dispatched what it read ([`Inner::settle_space`]) or when it
    /// gives the role up. So the fence and the load of the waiters word leave the path from a
    /// request to its answer; a sender that registers meanwhile re-checks the cursor after
    /// registering, and one that parks anyway is woken at the latest by that settlement.
    /// Reader-role holder only.
    pub fn owe_space(&self) {
        if self.in_space.peer_waiting() {
            self.space_owed.store(false, Ordering::Relaxed);
            self.in_space.notify();
        } else {
            self.space_owed.store(true, Ordering::Relaxed);
        }
    }

    /// Tell the peer's senders about the space owed since [`Inner::owe_space`], if any.
    /// Reader-role holder only.
    pub fn settle_space(&self) {
        if self.take_space_owed() {
            self.in_space.notify();
        }
    }

    /// Whether space is owed, which is then no longer (reader-role holder only).
    fn take_space_owed(&self) -> bool {
        let owed = self.space_owed.load(Ordering::Relaxed);
        if owed {
            self.space_owed.store(false, Ordering::Relaxed);
        }
        owed
    }

    /// Whether a space notification is owed (for tests).
    #[cfg(test)]
    pub fn space_owed(&self) -> bool {
        self.space_owed.load(Ordering::Relaxed)
    }

    /// Give the reader role up (its holder only): free it, tell the peer's senders about space
    /// still owed, and wake this side's followers if any. One fence serves both wake-up
    /// protocols: a follower counts itself before it checks the role a last time and parks
    /// (both SeqCst), so either it sees the role free or this sees it counted.
    fn release_role(&self) {
        let owed = self.take_space_owed();
        self.role.store(0, Ordering::Release);
        fence(Ordering::SeqCst);
        if owed {
            self.in_space.notify_after_fence();
        }
        if self.followers.load(Ordering::SeqCst) != 0 {
            self.wake_followers();
        }
    }

    /// Whether nobody holds the reader role (SeqCst: see [`Inner::release_role`]).
    pub fn role_free(&self) -> bool {
        self.role.load(Ordering::SeqCst) == 0
    }

    /// Whether the slots of a dead peer were reclaimed.
    pub fn reclaimed(&self) -> bool {
        self.reclaimed.load(Ordering::SeqCst)
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("side", &self.side).field("segment", &self.segment).finish_non_exhaustive()
    }
}

/// A thread inside the slot pools.
pub(super) struct PoolUse<'a> {
    inner: &'a Inner,
}

impl Drop for PoolUse<'_> {
    fn drop(&mut self) {
        if self.inner.pool_users.fetch_sub(1, Ordering::SeqCst) == 1 && self.inner.state.load(Ordering::SeqCst) == DEAD
        {
            self.inner.reclaim();
        }
    }
}

/// The reader role, held by one thread at a time.
pub(super) struct RoleGuard<'a> {
    inner: &'a Inner,
    /// Whether this guard took the role (an inner guard of a nested wait did not).
    owned: bool,
}

impl RoleGuard<'_> {
    /// Whether this guard took the role itself (the outermost wait of its thread).
    pub fn owned(&self) -> bool {
        self.owned
    }
}

impl Drop for RoleGuard<'_> {
    fn drop(&mut self) {
        if self.owned {
            self.inner.release_role();
        }
    }
}
