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
//! - A follower spins briefly on its own slot, then parks on its thread; it is woken by its
//!   answer, by the end of the session, or by the leader giving the role up.
//! - A serving thread that finds nothing to read gives the role up before it parks, so that a
//!   caller arriving meanwhile leads itself (and reads its answer without any wake-up syscall).
//!   It spins on the ring first only after recent activity (a call made, an event published, a
//!   request or event handled since its last park ran out idle); an idle server parks slice after
//!   slice without spinning, so an idle session costs no CPU beyond one wake-up per [`SLICE`].

use super::inner::{Inner, ReadHalf, RoleGuard, SLICE};
use super::pending::{CallResult, CallSlot};
use super::services::{REGISTRY_METHOD, REGISTRY_SERVICE};
use super::stats::Counters;
use super::wire::Outgoing;
use super::IpcError;
use crate::ipc::message::{DecodeError, Message, CONTROL_CHANNEL, PROTOCOL_VERSION};
use crate::ipc::ring::Frame;
use crate::ipc::slots::{Descriptor, SlotBytes};
use crate::status::{PLUGHOST_ERR_IPC_TOO_LARGE, PLUGHOST_ERR_PANIC, PLUGHOST_ERR_SERVICE_NOT_FOUND};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Messages a blocked sender keeps for the reader, at most.
pub(super) const BACKLOG_MAX: usize = 65_536;

/// Bytes of a slot copied out first to decode a message's head from (a longer head is decoded
/// from a copy of the whole slot).
const HEAD_PREFIX: usize = 256;

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

/// What a waiting thread waits for.
pub(super) enum Goal<'a> {
    /// The answer to call `id`.
    Call {
        /// The request id.
        id: u64,
        /// Where another reader puts the answer.
        slot: &'a CallSlot,
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
            Goal::Call { slot, .. } => slot.take().map(|r| r.map(Some)),
            Goal::Serve { stop } => stop.load(Ordering::Acquire).then_some(Ok(None)),
        }
    }

    fn ready(&self) -> bool {
        match self {
            Goal::Call { slot, .. } => slot.is_ready(),
            Goal::Serve { stop } => stop.load(Ordering::Acquire),
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
        loop {
            if let Some(done) = goal.reached() {
                return done;
            }
            self.check()?;
            if Instant::now() >= deadline {
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

    fn lead(&self, goal: &Goal<'_>, deadline: Instant, role: &RoleGuard<'_>) -> Turn {
        let serving = matches!(goal, Goal::Serve { .. });
        loop {
            if let Some(done) = goal.reached() {
                return Turn::Done(done);
            }
            if let Err(e) = self.check() {
                return Turn::Done(Err(e));
            }
            let now = Instant::now();
            if now >= deadline {
                return Turn::Done(goal.timed_out());
            }
            let received = match self.receive_one() {
                Ok(Some(message)) => Some(message),
                Ok(None) => {
                    if serving && role.owned() && self.quiet() {
                        // Nothing happened since the last idle park: park again without spinning.
                        return Turn::Idle;
                    }
                    // Nothing yet: spin, then (callers, nested waits) park holding the role.
                    let park_until = if serving && role.owned() { now } else { deadline.min(now + SLICE) };
                    let mut got = None;
                    let waited = self.in_data.wait_until(
                        || {
                            if goal.ready() || !self.is_open() {
                                return true;
                            }
                            match self.receive_one() {
                                Ok(None) => false,
                                other => {
                                    got = Some(other);
                                    true
                                }
                            }
                        },
                        park_until,
                    );
                    match got {
                        Some(Ok(message)) => message,
                        Some(Err(e)) => return Turn::Done(Err(e)),
                        None if waited.is_err() && serving && role.owned() => return Turn::Idle,
                        None => {
                            if waited.is_err() {
                                if let Err(e) = self.check_peer_process() {
                                    return Turn::Done(Err(e));
                                }
                            }
                            None
                        }
                    }
                }
                Err(e) => return Turn::Done(Err(e)),
            };
            if let Some(message) = received {
                if let Some(answer) = self.dispatch(message, goal.call_id()) {
                    return Turn::Done(answer.map(Some));
                }
            }
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
        let now = Instant::now();
        let until = deadline.min(now + SLICE);
        if until > now {
            std::thread::park_timeout(until - now);
        }
        if Instant::now() >= until && !goal.ready() {
            self.check_peer_process()?;
        }
        Ok(())
    }

    /// Copy the next message out of the ring (and its slot), validate and decode it. Only the
    /// reader-role holder calls this. Malformed data ends the session. With nothing to read (the
    /// common poll round) it takes no lock: two loads of the ring's cursors and one of a flag.
    pub fn receive_one(&self) -> Result<Option<Message>, IpcError> {
        if !self.backlogged.load(Ordering::Acquire) && !self.in_ring.has_unread() {
            return Ok(None);
        }
        let mut reader = self.reader.lock();
        if let Some(message) = reader.backlog.pop_front() {
            self.backlogged.store(!reader.backlog.is_empty(), Ordering::Release);
            return Ok(Some(message));
        }
        self.read_ring(&mut reader)
    }

    /// Whether a message waits to be dispatched (in the ring or the backlog).
    pub fn has_input(&self) -> bool {
        self.in_ring.has_unread() || self.backlogged.load(Ordering::Acquire)
    }

    /// Copy the next message out of the ring itself, ignoring the backlog (the caller holds the
    /// `reader` lock).
    fn read_ring(&self, half: &mut ReadHalf) -> Result<Option<Message>, IpcError> {
        let frame = match half.consumer.try_recv(&mut half.buffer) {
            Ok(None) => return Ok(None),
            Ok(Some(frame)) => frame,
            Err(e) => return Err(self.fail(IpcError::Malformed(e.to_string()))),
        };
        if let Frame::Slot(d) = frame {
            let descriptor =
                Descriptor { class: u32::from(d.class), index: d.index, generation: d.generation, length: d.len };
            let buffer = &mut half.buffer;
            let taken = self.enter_pools().and_then(|_pools| {
                self.in_pool
                    .take_with(descriptor, |bytes| copy_slot(bytes, buffer))
                    .map_err(|e| self.fail(IpcError::Malformed(format!("incoming slot: {e}"))))
            });
            // The frame left the ring either way; tell the peer's sender.
            self.in_space.notify();
            match taken? {
                SlotCopy::Whole(true) => {}
                SlotCopy::Whole(false) => {
                    return Err(self.fail(IpcError::Malformed("incoming slot: data outside the segment".into())))
                }
                SlotCopy::Message(Ok(message)) => return Ok(Some(message)),
                SlotCopy::Message(Err(e)) => {
                    return Err(self.fail(IpcError::Malformed(format!("undecodable message: {}", e.0))))
                }
            }
        } else {
            self.in_space.notify();
        }
        match Message::decode(&half.buffer) {
            Ok(message) => Ok(Some(message)),
            Err(e) => Err(self.fail(IpcError::Malformed(format!("undecodable message: {}", e.0)))),
        }
    }

    /// For a sender waiting for room: read what the peer sent meanwhile, so that a peer blocked
    /// on its own full ring can go on. Answers go to their callers at once; requests and events
    /// wait in the backlog (at most [`BACKLOG_MAX`]) for the reader. Only with the reader role.
    pub fn drain_while_blocked(&self) -> Result<(), IpcError> {
        let Some(_role) = self.acquire_role() else {
            return Ok(());
        };
        loop {
            let mut reader = self.reader.lock();
            if reader.backlog.len() >= BACKLOG_MAX {
                return Ok(());
            }
            match self.read_ring(&mut reader)? {
                None => return Ok(()),
                Some(Message::Response { id, payload }) => {
                    drop(reader);
                    self.answer(id, Ok(payload))
                }
                Some(Message::Failure { id, status, message }) => {
                    drop(reader);
                    self.answer(id, Err(IpcError::from_failure(status, message)))
                }
                Some(other) => {
                    reader.backlog.push_back(other);
                    self.backlogged.store(true, Ordering::Release);
                }
            }
        }
    }

    fn answer(&self, id: u64, result: CallResult) {
        if !self.pending.deliver(id, result) {
            Counters::bump(&self.counters.stray_answers);
        }
    }

    /// Act on one message; returns the answer when it answers `own` (the caller's own call).
    fn dispatch(&self, message: Message, own: Option<u64>) -> Option<CallResult> {
        let answer = |id: u64, result: CallResult| {
            if Some(id) == own {
                return Some(result);
            }
            self.answer(id, result);
            None
        };
        match message {
            Message::Response { id, payload } => answer(id, Ok(payload)),
            Message::Failure { id, status, message } => answer(id, Err(IpcError::from_failure(status, message))),
            Message::Request { id, channel, service, method, payload } => {
                self.serve_request(id, channel, &service, &method, &payload);
                None
            }
            Message::Event { channel, topic, payload } => {
                Counters::bump(&self.counters.events_received);
                if let Some(handler) = self.services.event_handler(channel) {
                    if catch_unwind(AssertUnwindSafe(|| handler(&topic, &payload))).is_err() {
                        tracing::warn!(topic, "an IPC event handler panicked");
                    }
                }
                None
            }
            Message::Goodbye => {
                self.fail(IpcError::Closed);
                None
            }
            Message::Hello { version, .. } => {
                if version != PROTOCOL_VERSION {
                    self.fail(IpcError::Incompatible { ours: PROTOCOL_VERSION, theirs: version });
                }
                None
            }
            Message::Heartbeat { .. } => None,
        }
    }

    /// Run the handler of a request on this thread and send its answer.
    fn serve_request(&self, id: u64, channel: u32, service: &str, method: &str, payload: &[u8]) {
        Counters::bump(&self.counters.requests_served);
        let result = if channel == CONTROL_CHANNEL && service == REGISTRY_SERVICE && method == REGISTRY_METHOD {
            Ok(postcard::to_allocvec(&self.services.registry()).unwrap_or_default())
        } else {
            match self.services.handler(channel, service) {
                Some(handler) => catch_unwind(AssertUnwindSafe(|| handler(method, payload)))
                    .unwrap_or_else(|_| Err((PLUGHOST_ERR_PANIC, format!("the handler of \"{service}\" panicked")))),
                None => Err((PLUGHOST_ERR_SERVICE_NOT_FOUND, format!("no service \"{service}\" on channel {channel}"))),
            }
        };
        let deadline = Instant::now() + self.config.reply_timeout;
        let sent = match &result {
            Ok(bytes) => match self.send(&Outgoing::Response { id, payload: bytes }, deadline) {
                Err(IpcError::TooLarge { len, max }) => {
                    let message = format!("the answer of {len} bytes is larger than the largest slot ({max})");
                    self.send(
                        &Outgoing::Failure { id, status: PLUGHOST_ERR_IPC_TOO_LARGE, message: &message },
                        deadline,
                    )
                }
                other => other,
            },
            Err((status, message)) => self.send(&Outgoing::Failure { id, status: *status, message }, deadline),
        };
        if let Err(e) = sent {
            Counters::bump(&self.counters.reply_failures);
            tracing::debug!(service, method, error = %e, "the answer to an IPC request was not sent");
        }
    }
}
