//! Calls, events and serving, on the shared state (used by [`Session`](super::Session) and
//! [`SessionHandle`](super::SessionHandle) alike).

use super::inner::{thread_token, Inner};
use super::receive::Goal;
use super::stats::Counters;
use super::wire::Outgoing;
use super::IpcError;
use crate::ipc::message::CONTROL_CHANNEL;
use std::sync::atomic::{AtomicBool, Ordering};
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
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.inner.pending.remove(self.id);
    }
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
        self.check()?;
        let deadline = Instant::now() + timeout;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = self.pending.insert(id);
        let _registered = Registered { inner: self, id };
        // Checked after registering: an ending either came first (seen here) or fails this call.
        self.check()?;
        let request = Outgoing::Request { id, channel, service, method, payload };
        self.send(&request, deadline)?;
        Counters::bump(&self.counters.calls);
        match self.pump(&Goal::Call { id, slot: &slot }, deadline)? {
            Some(answer) => Ok(answer),
            None => Err(IpcError::Timeout),
        }
    }

    /// Send a one-way event on `channel`, waiting for room until `timeout` passes.
    pub fn publish(&self, channel: u32, topic: &str, payload: &[u8], timeout: Duration) -> Result<(), IpcError> {
        self.send(&Outgoing::Event { channel: data_channel(channel)?, topic, payload }, Instant::now() + timeout)?;
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
