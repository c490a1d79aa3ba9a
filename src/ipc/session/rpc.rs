//! Calls, events and serving, on the shared state (used by [`Session`](super::Session) and
//! [`SessionHandle`](super::SessionHandle) alike).

use super::inner::{thread_token, Inner, RoleGuard};
use super::pending::CallSlot;
use super::receive::Goal;
use super::send::Deadline;
use super::stats::Counters;
use super::IpcError;
use crate::ipc::message::MessageRef;
use crate::ipc::message::CONTROL_CHANNEL;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The data channel that calls, events and services use unless one is named (channel 0,
/// [`CONTROL_CHANNEL`], is the session's own).
pub const DATA_CHANNEL: u32 = 1;

/// Refuse the control channel for the application's calls, events and services.
pub(super) fn data_channel(channel: u32) -> Result<u32, IpcError> {
    if channel == CONTROL_CHANNEL {
        return Err(IpcError::InvalidArgument("channel 0 is the control channel; data channels are 1 and up".into()));
    }
    Ok(channel)
}

/// Removes a call from the pending map however its wait ends.
struct Registered<'a> {
    inner: &'a Inner,
    id: u64,
    /// The call's slot (taken back on drop).
    slot: Option<Arc<CallSlot>>,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.inner.pending.remove(self.id, slot);
        }
    }
}

/// Request ids handed out per thread from blocks of [`ID_BLOCK`] (unique in the process, so in
/// every session), so that a call takes no locked instruction for its id.
static NEXT_ID_BLOCK: AtomicU64 = AtomicU64::new(1);
const ID_BLOCK: u64 = 1 << 16;

/// A request id no other call of this process has.
fn next_call_id() -> u64 {
    thread_local!(static IDS: Cell<(u64, u64)> = const { Cell::new((0, 0)) });
    IDS.with(|ids| {
        let (mut next, mut end) = ids.get();
        if next == end {
            next = NEXT_ID_BLOCK.fetch_add(ID_BLOCK, Ordering::Relaxed);
            end = next + ID_BLOCK;
        }
        ids.set((next + 1, end));
        next
    })
}

impl Inner {
    /// Call `service`.`method` on `channel` of the peer and wait for the answer until `timeout`
    /// passes. The channel is not checked here: the control channel's own calls come this way.
    pub fn call(
        &self,
        channel: u32,
        service: &str,
        method: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, IpcError> {
        self.call_with(channel, service, method, payload, timeout, None)
    }

    /// [`Inner::call`], running `while_waiting` at least every millisecond while another thread
    /// reads for this one (a thread that reads itself handles the peer's requests inline).
    pub fn call_with(
        &self,
        channel: u32,
        service: &str,
        method: &str,
        payload: &[u8],
        timeout: Duration,
        while_waiting: Option<&dyn Fn()>,
    ) -> Result<Vec<u8>, IpcError> {
        self.check()?;
        let id = next_call_id();
        let request = MessageRef::Request { id, channel, service, method, payload };
        // The timeout starts when the request is sent or has to wait for room: the clock is not
        // read before the request leaves.
        let deadline = &mut Deadline::After(timeout);
        // A thread holding the reader role from before the request leaves until its answer comes
        // is the only one that can read that answer: the call needs no slot in the pending map.
        let answer = if let Some(role) = self.acquire_role().or_else(|| self.take_role_from_server()) {
            self.send(&request, deadline)?;
            Counters::bump(&self.counters.calls);
            self.await_own_answer(id, deadline.instant(), &role)?
        } else {
            let registered = Registered { inner: self, id, slot: Some(self.pending.insert(id)) };
            // Checked after registering: an ending either came first (seen here) or fails this call.
            self.check()?;
            self.send(&request, deadline)?;
            Counters::bump(&self.counters.calls);
            let goal = Goal::Call { id, slot: registered.slot.as_deref(), while_waiting };
            self.pump(&goal, deadline.instant())?
        };
        answer.ok_or(IpcError::Timeout)
    }

    /// Ask a serving thread that holds the reader role (spinning after recent activity) to give
    /// it up, and take it: spin at most the configured rounds. `None` when another caller reads
    /// or the server is busy with a request; the call then follows.
    fn take_role_from_server(&self) -> Option<RoleGuard<'_>> {
        if !self.server_reads.load(Ordering::Relaxed) {
            return None;
        }
        self.role_wanted.fetch_add(1, Ordering::Relaxed);
        let mut role = None;
        for _ in 0..self.config.spin {
            if self.role_free() {
                role = self.acquire_role();
                if role.is_some() {
                    break;
                }
            }
            std::hint::spin_loop();
        }
        self.role_wanted.fetch_sub(1, Ordering::Relaxed);
        role
    }

    /// Send a one-way event on `channel`, waiting for room until `timeout` passes.
    pub fn publish(&self, channel: u32, topic: &str, payload: &[u8], timeout: Duration) -> Result<(), IpcError> {
        let event = MessageRef::Event { channel: data_channel(channel)?, topic, payload };
        self.send(&event, &mut Deadline::After(timeout))?;
        Counters::bump(&self.counters.events_sent);
        Ok(())
    }

    /// Serve the peer's requests and events on this thread until `deadline` or `stop`.
    pub fn serve_until(&self, deadline: Instant, stop: &AtomicBool) -> Result<(), IpcError> {
        let token = thread_token();
        self.servers.lock().push((token, std::thread::current()));
        let result = self.pump(&Goal::Serve { stop }, deadline);
        self.servers.lock().retain(|(t, _)| *t != token);
        result.map(|_| ())
    }
}
