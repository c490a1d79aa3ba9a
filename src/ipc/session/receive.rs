//! Receiving and dispatching, leader/follower style.
//!
//! Exactly one thread at a time holds the reader role and reads the incoming ring. Any thread
//! that needs input (a caller waiting for its answer, a serving thread) tries to take the role:
//!
//! - The leader copies each frame out, validates and decodes it, and dispatches it at once: its
//!   own answer ends its wait; another caller's answer goes into that caller's slot and wakes it;
//!   a request runs its handler inline on this thread and sends the answer (so a handler can call
//!   the peer, whose handler can call back: the nested wait finds the role already held by its
//!   own thread and keeps reading); an event runs the event handler. With nothing to read it
//!   spins on the ring, then parks on the data word in slices of [`SLICE`], polling the peer's
//!   process after each timed-out slice. Messages are dispatched in arrival order.
//! - A caller that takes the role before its request leaves keeps it until the answer comes: no
//!   other thread can read that answer, so the call needs no slot in the pending map, and the
//!   answer is taken straight from the ring without any hand-off.
//! - A follower spins briefly on its own slot, then parks on its thread; it is woken by its
//!   answer, by the end of the session, or by the leader giving the role up (a leader wakes
//!   threads only when some follow).
//! - A serving thread that finds nothing to read gives the role up before it parks, so that a
//!   caller arriving meanwhile leads itself (and reads its answer without any wake-up syscall).
//!   It spins on the ring first only after recent activity (a call made, an event published, a
//!   request or event handled since its last park ran out idle); an idle server parks slice after
//!   slice without spinning, so an idle session costs no CPU beyond one wake-up per [`SLICE`].
//!   A caller that finds a serving thread reading asks for the role (`role_wanted`); the server
//!   gives it up at its next poll round, and the caller reads its own answer.

use super::inner::{Inner, ReadHalf, RoleGuard, SLICE};
use super::memory::SegmentRing;
use super::pending::{CallResult, CallSlot};
use super::send::Deadline;
use super::services::{ServiceView, REGISTRY_METHOD, REGISTRY_SERVICE};
use super::stats::Counters;
use super::IpcError;
use crate::ipc::message::{DecodeError, Message, MessageRef, CONTROL_CHANNEL, PROTOCOL_VERSION};
use crate::ipc::ring::{Consumer, Frame};
use crate::ipc::slots::{Descriptor, SlotBytes};
use crate::ipc::wake::TimedOut;
use crate::status::{PLUGHOST_ERR_IPC_TOO_LARGE, PLUGHOST_ERR_PANIC, PLUGHOST_ERR_SERVICE_NOT_FOUND};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Messages a blocked sender keeps for the reader, at most.
pub(super) const BACKLOG_MAX: usize = 65_536;

/// Bytes of a slot copied out first to decode a message's head from (a longer head is decoded
/// from a copy of the whole slot).
const HEAD_PREFIX: usize = 256;

/// A message taken out of the ring or the backlog.
pub(super) enum Incoming {
    /// Decoded already (out of a slot, or out of the backlog); boxed, so that the common kind,
    /// [`Incoming::Bytes`], is a small value to hand from the ring to the dispatch.
    Message(Box<Message>),
    /// Its bytes, copied out, are in the reader's buffer, to be decoded where they lie.
    Bytes,
}

thread_local! {
    /// Each thread's buffer for the messages it reads (taken while in use, so that a nested wait
    /// gets its own).
    static RECEIVED: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// A thread's receive buffer, given back to the thread when dropped (unless it grew large).
struct ReceiveBuffer(Vec<u8>);

impl ReceiveBuffer {
    fn take() -> Self {
        ReceiveBuffer(RECEIVED.take())
    }
}

impl Drop for ReceiveBuffer {
    fn drop(&mut self) {
        if self.0.capacity() <= 1 << 16 {
            RECEIVED.set(std::mem::take(&mut self.0));
        }
    }
}

/// What one step of draining did.
enum Drained {
    /// Nothing read (or the backlog is full).
    Nothing,
    /// A request or event went into the backlog.
    Kept,
    /// An answer, for the caller of this id.
    Answer(u64, CallResult),
}

/// What [`copy_slot`] made of a slot.
enum SlotCopy {
    /// The whole slot is in the buffer (`false`: it could not be read), to decode from there.
    Whole(bool),
    /// The message, its payload copied straight out of the slot.
    Message(Result<Message, DecodeError>),
}

/// Copy a slot's message out: its head into a local prefix, decoded there, then the payload
/// straight into its own vector (one copy, never zeroed first). A message without a payload, or
/// with a head longer than [`HEAD_PREFIX`], is copied whole into `buffer` instead.
fn copy_slot(bytes: &SlotBytes<'_>, buffer: &mut Vec<u8>) -> SlotCopy {
    let mut prefix = [0u8; HEAD_PREFIX];
    let prefix = &mut prefix[..bytes.len().min(HEAD_PREFIX)];
    if bytes.read(0, prefix).is_some() {
        match Message::decode_head(prefix, bytes.len()) {
            Ok(None) => {}
            Ok(Some(at)) => {
                let mut message = at.message;
                let mut payload = Vec::new();
                if bytes.append_to(at.offset, at.len, &mut payload).is_none() {
                    return SlotCopy::Whole(false);
                }
                message.set_payload(payload);
                return SlotCopy::Message(Ok(message));
            }
            Err(e) => return SlotCopy::Message(Err(e)),
        }
    }
    buffer.clear();
    SlotCopy::Whole(bytes.append_to(0, bytes.len(), buffer).is_some())
}

/// How often a following caller runs its `while_waiting` hook.
pub(super) const HOOK_PERIOD: std::time::Duration = std::time::Duration::from_millis(1);

/// What a waiting thread waits for.
pub(super) enum Goal<'a> {
    /// The answer to call `id`.
    Call {
        /// The request id.
        id: u64,
        /// Where another reader puts the answer (`None` while this thread holds the reader role
        /// throughout the call: then no other thread reads it).
        slot: Option<&'a CallSlot>,
        /// Run at least every [`HOOK_PERIOD`] while this thread follows another reader.
        while_waiting: Option<&'a (dyn Fn() + 'a)>,
    },
    /// Nothing: serve until `stop` or the deadline.
    Serve {
        /// Set to end serving early.
        stop: &'a AtomicBool,
    },
}

impl Goal<'_> {
    /// The outcome if the goal is reached: the call's answer, or `Ok(None)` for a stopped server.
    fn reached(&self) -> Option<Result<Option<Vec<u8>>, IpcError>> {
        match self {
            Goal::Call { slot, .. } => slot.and_then(CallSlot::take).map(|r| r.map(Some)),
            Goal::Serve { stop } => stop.load(Ordering::Acquire).then_some(Ok(None)),
        }
    }

    fn ready(&self) -> bool {
        match self {
            Goal::Call { slot, .. } => slot.is_some_and(CallSlot::is_ready),
            Goal::Serve { stop } => stop.load(Ordering::Acquire),
        }
    }

    fn while_waiting(&self) -> Option<&(dyn Fn() + '_)> {
        match self {
            Goal::Call { while_waiting, .. } => *while_waiting,
            Goal::Serve { .. } => None,
        }
    }

    fn call_id(&self) -> Option<u64> {
        match self {
            Goal::Call { id, .. } => Some(*id),
            Goal::Serve { .. } => None,
        }
    }

    fn timed_out(&self) -> Result<Option<Vec<u8>>, IpcError> {
        match self {
            Goal::Call { .. } => Err(IpcError::Timeout),
            Goal::Serve { .. } => Ok(None),
        }
    }
}

/// How a leader's turn ended.
enum Turn {
    /// The goal is reached (or failed).
    Done(Result<Option<Vec<u8>>, IpcError>),
    /// A server found nothing to read: give the role up and park.
    Idle,
}

impl Inner {
    /// Wait for `goal` until `deadline`, leading or following. A call's answer is `Some`; a
    /// server returns `Ok(None)` when stopped or at the deadline.
    pub fn pump(&self, goal: &Goal<'_>, deadline: Instant) -> Result<Option<Vec<u8>>, IpcError> {
        // The first round does not read the clock: the deadline is fresh (and one that has
        // passed already still ends the wait after one round).
        let mut first = true;
        loop {
            if let Some(done) = goal.reached() {
                return done;
            }
            self.check()?;
            if !std::mem::take(&mut first) && Instant::now() >= deadline {
                return goal.timed_out();
            }
            match self.acquire_role() {
                Some(role) => match self.lead(goal, deadline, &role) {
                    Turn::Done(done) => return done,
                    Turn::Idle => {
                        drop(role);
                        self.park_idle(goal, deadline)?;
                    }
                },
                None => self.follow(goal, deadline)?,
            }
        }
    }

    /// Wait until `deadline` for the answer to call `id` as its reader: this thread holds `role`
    /// since before the request left. `None` at the deadline.
    pub fn await_own_answer(
        &self,
        id: u64,
        deadline: Instant,
        role: &RoleGuard<'_>,
    ) -> Result<Option<Vec<u8>>, IpcError> {
        match self.lead(&Goal::Call { id, slot: None, while_waiting: None }, deadline, role) {
            Turn::Done(done) => done,
            // Only a serving thread's turn goes idle.
            Turn::Idle => Ok(None),
        }
    }

    fn lead(&self, goal: &Goal<'_>, deadline: Instant, role: &RoleGuard<'_>) -> Turn {
        // A serving thread that took the role itself gives it up when nothing comes, or when a
        // caller asks for it.
        let idle_server = matches!(goal, Goal::Serve { .. }) && role.owned();
        if idle_server {
            self.server_reads.store(true, Ordering::Relaxed);
        }
        let turn = self.lead_turn(goal, deadline, idle_server);
        if idle_server {
            self.server_reads.store(false, Ordering::Relaxed);
        }
        turn
    }

    fn lead_turn(&self, goal: &Goal<'_>, deadline: Instant, idle_server: bool) -> Turn {
        let mut buffer = ReceiveBuffer::take();
        let mut view = ServiceView::default();
        let mut first = true;
        loop {
            if let Some(done) = goal.reached() {
                return Turn::Done(done);
            }
            if let Err(e) = self.check() {
                let answer = self.published_before_death(goal, &e, &mut buffer.0, &mut view);
                return Turn::Done(answer.map_or(Err(e), |answer| answer.map(Some)));
            }
            // As in `pump`, the first round trusts the caller's fresh deadline.
            if !std::mem::take(&mut first) && Instant::now() >= deadline {
                return Turn::Done(goal.timed_out());
            }
            let received = match self.receive_one(&mut buffer.0) {
                Ok(Some(incoming)) => incoming,
                Ok(None) => match self.await_input(goal, deadline, idle_server, &mut buffer.0) {
                    Ok(Some(incoming)) => incoming,
                    Ok(None) => continue,
                    Err(turn) => return turn,
                },
                Err(e) => return Turn::Done(Err(e)),
            };
            if let Some(answer) = self.dispatch(received, &buffer.0, goal.call_id(), &mut view) {
                // The space is settled when the role is given up, or by the outer turn.
                return Turn::Done(answer.map(Some));
            }
            self.settle_space();
        }
    }

    /// After the peer died, the answer to the leader's own call that the peer published before
    /// its end (a plugin that answers, then exits): read what is left in the ring, dispatching it,
    /// until that answer or the end of the input. `None` when the session ended otherwise, or the
    /// answer is not there.
    fn published_before_death(
        &self,
        goal: &Goal<'_>,
        ended: &IpcError,
        buffer: &mut Vec<u8>,
        view: &mut ServiceView,
    ) -> Option<CallResult> {
        let own = goal.call_id().filter(|_| matches!(ended, IpcError::PeerDead(_)))?;
        while let Ok(Some(received)) = self.receive_one(buffer) {
            if let Some(answer) = self.dispatch(received, buffer, Some(own), view) {
                return Some(answer);
            }
        }
        None
    }

    /// The leader found nothing to read: spin on the ring, then (callers, nested waits) park
    /// holding the role until a slice passes. `Ok(Some)` is input (an inline message's bytes in
    /// `buffer`), `Ok(None)` a reason to look again (the goal, the session's end, a slice that
    /// passed), `Err` the end of the turn.
    fn await_input(
        &self,
        goal: &Goal<'_>,
        deadline: Instant,
        idle_server: bool,
        buffer: &mut Vec<u8>,
    ) -> Result<Option<Incoming>, Turn> {
        if idle_server && self.quiet() {
            // Nothing happened since the last idle park: park again without spinning.
            return Err(Turn::Idle);
        }
        let mut got = None;
        let mut yielding = false;
        let mut poll = || {
            if goal.ready() || !self.is_open() {
                return true;
            }
            if idle_server && self.role_wanted.load(Ordering::Relaxed) != 0 {
                // A caller wants to read its own answer: give the role up.
                yielding = true;
                return true;
            }
            match self.receive_one(buffer) {
                Ok(None) => false,
                other => {
                    got = Some(other);
                    true
                }
            }
        };
        let waited = if self.in_data.spin(&mut poll) {
            Ok(())
        } else if idle_server {
            Err(TimedOut)
        } else {
            self.settle_space();
            self.in_data.park_until(&mut poll, deadline.min(Instant::now() + SLICE))
        };
        match got {
            Some(Ok(incoming)) => Ok(incoming),
            Some(Err(e)) => Err(Turn::Done(Err(e))),
            None if yielding || (waited.is_err() && idle_server) => Err(Turn::Idle),
            None if waited.is_err() => self.check_peer_process().map(|()| None).map_err(|e| Turn::Done(Err(e))),
            None => Ok(None),
        }
    }

    /// A server without the role parks on the data word (no spinning) until data, the deadline
    /// or a slice passes. A slice that passes with no activity marks the session quiet, so that
    /// the next turn parks again at once instead of spinning.
    fn park_idle(&self, goal: &Goal<'_>, deadline: Instant) -> Result<(), IpcError> {
        let activity = self.activity();
        let until = deadline.min(Instant::now() + SLICE);
        let woke = self.in_data_idle.wait_until(|| goal.ready() || !self.is_open() || self.has_input(), until);
        if woke.is_err() {
            if self.activity() == activity {
                self.idle_mark.store(activity, Ordering::Relaxed);
            }
            self.check_peer_process()?;
        }
        Ok(())
    }

    /// Another thread leads: spin on the goal and the role, then park this thread.
    fn follow(&self, goal: &Goal<'_>, deadline: Instant) -> Result<(), IpcError> {
        for _ in 0..self.config.spin {
            if goal.ready() || self.role_free() || !self.is_open() {
                return Ok(());
            }
            std::hint::spin_loop();
        }
        let mut now = Instant::now();
        let mut until = deadline.min(now + SLICE);
        if let Some(hook) = goal.while_waiting() {
            hook();
            now = Instant::now();
            until = until.min(now + HOOK_PERIOD);
        }
        self.followers.fetch_add(1, Ordering::SeqCst);
        if until > now && !(goal.ready() || self.role_free() || !self.is_open()) {
            std::thread::park_timeout(until - now);
        }
        self.followers.fetch_sub(1, Ordering::SeqCst);
        if Instant::now() >= until && !goal.ready() {
            self.check_peer_process()?;
        }
        Ok(())
    }

    /// Copy the next message out of the ring (and its slot) into local memory: a slot's message
    /// decoded, an inline one's bytes into `buffer`, decoded (borrowed) when dispatched. Only the
    /// reader-role holder calls this. Malformed data ends the session. With nothing to read (the
    /// common poll round) it takes no lock: two loads of the ring's cursors and one of a flag.
    pub fn receive_one(&self, buffer: &mut Vec<u8>) -> Result<Option<Incoming>, IpcError> {
        if !self.backlogged.load(Ordering::Acquire) && !self.in_ring.has_unread() {
            return Ok(None);
        }
        let read = self.with_reader(|half| {
            if let Some(message) = half.backlog.pop_front() {
                self.backlogged.store(!half.backlog.is_empty(), Ordering::Release);
                return Ok(Some(Incoming::Message(message)));
            }
            self.read_ring(&mut half.consumer, buffer)
        });
        read.unwrap_or(Ok(None))
    }

    /// Whether a message waits to be dispatched (in the ring or the backlog).
    pub fn has_input(&self) -> bool {
        self.in_ring.has_unread() || self.backlogged.load(Ordering::Acquire)
    }

    /// Copy the next message out of the ring itself, ignoring the backlog (the caller holds the
    /// reader role): a slot's message decoded, an inline one's (or one copied whole out of its
    /// slot) bytes into `buffer`.
    fn read_ring(
        &self,
        consumer: &mut Consumer<SegmentRing>,
        buffer: &mut Vec<u8>,
    ) -> Result<Option<Incoming>, IpcError> {
        let frame = match consumer.try_recv(buffer) {
            Ok(None) => return Ok(None),
            Ok(Some(frame)) => frame,
            Err(e) => return Err(self.fail(IpcError::Malformed(e.to_string()))),
        };
        if let Frame::Slot(d) = frame {
            let descriptor =
                Descriptor { class: u32::from(d.class), index: d.index, generation: d.generation, length: d.len };
            let taken = self.enter_pools().and_then(|_pools| {
                self.in_pool
                    .take_with(descriptor, |bytes| copy_slot(bytes, buffer))
                    .map_err(|e| self.fail(IpcError::Malformed(format!("incoming slot: {e}"))))
            });
            // The frame left the ring either way; the peer's senders are owed the space.
            self.owe_space();
            match taken? {
                SlotCopy::Whole(true) => {}
                SlotCopy::Whole(false) => {
                    return Err(self.fail(IpcError::Malformed("incoming slot: data outside the segment".into())))
                }
                SlotCopy::Message(Ok(message)) => return Ok(Some(Incoming::Message(Box::new(message)))),
                SlotCopy::Message(Err(e)) => return Err(self.undecodable(&e)),
            }
        } else {
            self.owe_space();
        }
        Ok(Some(Incoming::Bytes))
    }

    /// End the session over a message that does not decode.
    fn undecodable(&self, e: &DecodeError) -> IpcError {
        self.fail(IpcError::Malformed(format!("undecodable message: {}", e.0)))
    }

    /// For a sender waiting for room: read what the peer sent meanwhile, so that a peer blocked
    /// on its own full ring can go on. Answers go to their callers at once; requests and events
    /// wait in the backlog (at most [`BACKLOG_MAX`]) for the reader. Only with the reader role.
    pub fn drain_while_blocked(&self) -> Result<(), IpcError> {
        let Some(_role) = self.acquire_role() else {
            return Ok(());
        };
        loop {
            match self.with_reader(|half| self.drain_one(half)).unwrap_or(Ok(Drained::Nothing))? {
                Drained::Nothing => {
                    // The peer may itself wait for room: tell it now.
                    self.settle_space();
                    return Ok(());
                }
                Drained::Kept => {}
                Drained::Answer(id, result) => self.answer(id, result),
            }
        }
    }

    /// [`Inner::drain_while_blocked`]'s step: read one message out of the ring; keep a request
    /// or an event in the backlog, return an answer.
    fn drain_one(&self, half: &mut ReadHalf) -> Result<Drained, IpcError> {
        if half.backlog.len() >= BACKLOG_MAX {
            return Ok(Drained::Nothing);
        }
        let ReadHalf { consumer, buffer, backlog } = half;
        let message = match self.read_ring(consumer, buffer)? {
            None => return Ok(Drained::Nothing),
            Some(Incoming::Message(message)) => *message,
            Some(Incoming::Bytes) => Message::decode(buffer).map_err(|e| self.undecodable(&e))?,
        };
        Ok(match message {
            Message::Response { id, payload } => Drained::Answer(id, Ok(payload)),
            Message::Failure { id, status, message } => {
                Drained::Answer(id, Err(IpcError::from_failure(status, message)))
            }
            other => {
                backlog.push_back(Box::new(other));
                self.backlogged.store(true, Ordering::Release);
                Drained::Kept
            }
        })
    }

    fn answer(&self, id: u64, result: CallResult) {
        if !self.pending.deliver(id, result) {
            Counters::bump_by_reader(&self.counters.stray_answers);
        }
    }

    /// The answer to call `id`: returned when it is `own` (the caller's own call), else handed
    /// to its caller.
    fn settle(&self, id: u64, result: CallResult, own: Option<u64>) -> Option<CallResult> {
        if Some(id) == own {
            return Some(result);
        }
        self.answer(id, result);
        None
    }

    /// Act on one message received (an inline one decoded from `bytes`, borrowing them; a request
    /// served with the handlers of `view`); returns the answer when it answers `own`, or the
    /// error when the message does not decode.
    fn dispatch(
        &self,
        incoming: Incoming,
        bytes: &[u8],
        own: Option<u64>,
        view: &mut ServiceView,
    ) -> Option<CallResult> {
        match incoming {
            // Owned answers hand their payload over without a copy.
            Incoming::Message(message) => match *message {
                Message::Response { id, payload } => self.settle(id, Ok(payload), own),
                other => self.act(other.as_ref(), own, view),
            },
            Incoming::Bytes => match MessageRef::decode(bytes) {
                Ok(message) => self.act(message, own, view),
                Err(e) => Some(Err(self.undecodable(&e))),
            },
        }
    }

    /// Act on one decoded message; returns the answer when it answers `own`.
    fn act(&self, message: MessageRef<'_>, own: Option<u64>, view: &mut ServiceView) -> Option<CallResult> {
        match message {
            MessageRef::Response { id, payload } => self.settle(id, Ok(payload.to_vec()), own),
            MessageRef::Failure { id, status, message } => {
                self.settle(id, Err(IpcError::from_failure(status, message.into())), own)
            }
            MessageRef::Request { id, channel, service, method, payload } => {
                self.serve_request(view, id, channel, (service, method), payload);
                None
            }
            MessageRef::Event { channel, topic, payload } => {
                self.handle_event(channel, topic, payload);
                None
            }
            MessageRef::Goodbye => {
                self.fail(IpcError::Closed);
                None
            }
            MessageRef::Hello { version, .. } => {
                if version != PROTOCOL_VERSION {
                    self.fail(IpcError::Incompatible { ours: PROTOCOL_VERSION, theirs: version });
                }
                None
            }
            MessageRef::Heartbeat { .. } => None,
        }
    }

    /// Run the event handler of `channel`, if any, on this thread.
    fn handle_event(&self, channel: u32, topic: &str, payload: &[u8]) {
        Counters::bump_by_reader(&self.counters.events_received);
        if let Some(handler) = self.services.event_handler(channel) {
            if catch_unwind(AssertUnwindSafe(|| handler(topic, payload))).is_err() {
                tracing::warn!(topic, "an IPC event handler panicked");
            }
        }
    }

    /// Run the handler of a request (`name` is its service and method, looked up in `view`) on
    /// this thread and send its answer.
    fn serve_request(&self, view: &mut ServiceView, id: u64, channel: u32, name: (&str, &str), payload: &[u8]) {
        let (service, method) = name;
        Counters::bump_by_reader(&self.counters.requests_served);
        let result = if channel == CONTROL_CHANNEL && service == REGISTRY_SERVICE && method == REGISTRY_METHOD {
            Ok(postcard::to_allocvec(&self.services.registry()).unwrap_or_default())
        } else {
            self.services.with_handler(view, channel, service, |handler| match handler {
                Some(handler) => catch_unwind(AssertUnwindSafe(|| handler(method, payload)))
                    .unwrap_or_else(|_| Err((PLUGHOST_ERR_PANIC, format!("the handler of \"{service}\" panicked")))),
                None => Err((PLUGHOST_ERR_SERVICE_NOT_FOUND, format!("no service \"{service}\" on channel {channel}"))),
            })
        };
        let deadline = &mut Deadline::After(self.config.reply_timeout);
        let sent = match &result {
            Ok(bytes) => match self.send(&MessageRef::Response { id, payload: bytes }, deadline) {
                Err(IpcError::TooLarge { len, max }) => {
                    let message = format!("the answer of {len} bytes is larger than the largest slot ({max})");
                    self.send(
                        &MessageRef::Failure { id, status: PLUGHOST_ERR_IPC_TOO_LARGE, message: &message },
                        deadline,
                    )
                }
                other => other,
            },
            Err((status, message)) => self.send(&MessageRef::Failure { id, status: *status, message }, deadline),
        };
        if let Err(e) = sent {
            Counters::bump(&self.counters.reply_failures);
            tracing::debug!(service, method, error = %e, "the answer to an IPC request was not sent");
        }
    }
}
