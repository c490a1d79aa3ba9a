//! Sending: encode the message's head (the payload is copied once, straight into the frame or
//! slot), then an INLINE frame when the message fits the inline limit, else a slot and
//! a SLOT frame. A full ring or pool parks the sender (spin, then park in slices on the space
//! word) until its deadline: nothing is dropped; past the deadline the send fails with
//! [`IpcError::Timeout`] and a slot it took is returned.
//!
//! While it waits, a sender that can take the reader role reads what the peer sent (answers to
//! their callers, requests and events into a backlog the reader dispatches first), so that two
//! peers flooding each other do not both wait for a reader that never comes.

use super::inner::{thread_token, Inner, SLICE};
use super::stats::Counters;
use super::IpcError;
use crate::ipc::frame::{FrameKind, SlotDescriptor};
use crate::ipc::message::MessageRef;
use crate::ipc::ring::{RingMemory, SendError};
use crate::ipc::slots::{Descriptor, SlotError};
use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

thread_local! {
    /// Each thread's encoding buffer (taken while in use, so nested sends get their own).
    static BUFFER: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// How long a send may wait for room: until an instant, or for a time that starts when it first
/// has to wait (so that a send that finds room reads no clock).
#[derive(Clone, Copy, Debug)]
pub(super) enum Deadline {
    /// Until this instant.
    At(Instant),
    /// This long from the first wait on.
    After(Duration),
}

impl Deadline {
    /// The instant, fixed now (reading the clock) if it was not yet.
    pub fn instant(&mut self) -> Instant {
        match *self {
            Deadline::At(at) => at,
            Deadline::After(_) => self.fix(Instant::now()),
        }
    }

    /// The instant, fixed at `now` if it was not yet.
    fn fix(&mut self, now: Instant) -> Instant {
        let at = match *self {
            Deadline::At(at) => at,
            Deadline::After(timeout) => now + timeout,
        };
        *self = Deadline::At(at);
        at
    }
}

impl Inner {
    /// Send `message`, waiting for room until `deadline` (fixed here if the send has to wait).
    pub fn send(&self, message: &MessageRef<'_>, deadline: &mut Deadline) -> Result<(), IpcError> {
        self.check()?;
        let mut buffer = BUFFER.take();
        // The payload is not encoded into the buffer: it is copied once, into the frame or slot.
        let payload = message.encode_head_into(&mut buffer);
        let len = buffer.len() + payload.len();
        let result = if len <= self.inline_max {
            buffer.extend_from_slice(payload);
            self.send_frame(FrameKind::Inline, &buffer, deadline)
        } else {
            self.send_in_slot(&[&buffer, payload], len, deadline).map(|()| Counters::bump(&self.counters.slot_sent))
        };
        if buffer.capacity() <= 1 << 16 {
            BUFFER.set(buffer);
        }
        result
    }

    /// Put the concatenation of `parts` (`len` bytes) into a slot (waiting for one), then send its
    /// descriptor.
    fn send_in_slot(&self, parts: &[&[u8]], len: usize, deadline: &mut Deadline) -> Result<(), IpcError> {
        if len > self.max_message {
            return Err(IpcError::TooLarge { len, max: self.max_message });
        }
        let pools = self.enter_pools()?;
        let mut counted = false;
        let slot = loop {
            match self.out_pool.put_parts(parts) {
                Ok(d) => break d,
                Err(SlotError::Full) => {}
                Err(SlotError::TooLarge { length, max }) => return Err(IpcError::TooLarge { len: length, max }),
                Err(e) => return Err(self.fail(IpcError::Malformed(format!("outgoing slot pool: {e}")))),
            }
            if !counted {
                counted = true;
                Counters::bump(&self.counters.pool_full_waits);
            }
            self.wait_for_space(deadline, || self.out_pool.may_fit(len))?;
        };
        let frame = descriptor_frame(&slot);
        let sent = self.send_frame(FrameKind::Slot, &frame.encode(), deadline);
        if sent.is_err() && self.is_open() {
            // Not sent: the slot is still ours. (After a death the reclaim frees it.)
            let _ = self.out_pool.cancel(slot);
        }
        drop(pools);
        sent
    }

    /// Send one frame, waiting for ring space until `deadline`.
    fn send_frame(&self, kind: FrameKind, payload: &[u8], deadline: &mut Deadline) -> Result<(), IpcError> {
        self.check()?;
        let result = self.producer.lock().try_send(kind, payload);
        match result {
            Ok(()) => {
                self.out_data.notify();
                Ok(())
            }
            Err(e) => self.send_frame_again(kind, payload, deadline, e),
        }
    }

    /// [`Inner::send_frame`] after its first try failed with `error`: wait for room and retry
    /// while the ring is full.
    #[cold]
    #[inline(never)]
    fn send_frame_again(
        &self,
        kind: FrameKind,
        payload: &[u8],
        deadline: &mut Deadline,
        mut error: SendError,
    ) -> Result<(), IpcError> {
        if error == SendError::Full {
            Counters::bump(&self.counters.ring_full_waits);
        }
        loop {
            if error != SendError::Full {
                return Err(self.fail(IpcError::Malformed(format!("outgoing ring: {error}"))));
            }
            // The consumer's cursor moving is the sign of room (a hint: the producer re-checks).
            let head = self.out_ring.load_head(Ordering::Acquire);
            self.wait_for_space(deadline, || self.out_ring.load_head(Ordering::Acquire) != head)?;
            self.check()?;
            match self.producer.lock().try_send(kind, payload) {
                Ok(()) => {
                    self.out_data.notify();
                    return Ok(());
                }
                Err(e) => error = e,
            }
        }
    }

    /// Park on the outgoing space word until `ready` holds, the session ends, or `deadline`.
    fn wait_for_space(&self, deadline: &mut Deadline, mut ready: impl FnMut() -> bool) -> Result<(), IpcError> {
        let now = Instant::now();
        let deadline = deadline.fix(now);
        if now >= deadline {
            return Err(IpcError::Timeout);
        }
        let slice = deadline.min(now + SLICE);
        // The peer may itself wait for room in our direction: keep reading while waiting.
        self.drain_while_blocked()?;
        let can_read = || self.role_free() || self.role.load(Ordering::Acquire) == thread_token();
        let woke = self
            .out_space
            .wait_until(|| !self.is_open() || ready() || (can_read() && self.in_ring.has_unread()), slice);
        self.check()?;
        if woke.is_err() {
            self.check_peer_process()?;
        }
        Ok(())
    }

    /// Poll the peer's process (cheap); a dead one ends the session.
    pub fn check_peer_process(&self) -> Result<(), IpcError> {
        if let Some(why) = self.liveness.process_exited() {
            return Err(self.fail(IpcError::PeerDead(why)));
        }
        Ok(())
    }
}

/// The SLOT frame's payload for a slot the pool handed out (the pool's classes fit a `u8`).
fn descriptor_frame(d: &Descriptor) -> SlotDescriptor {
    SlotDescriptor { class: d.class as u8, index: d.index, generation: d.generation, len: d.length }
}
