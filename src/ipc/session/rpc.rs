//! Calls, events and serving, on the shared state (used by [`Session`](super::Session) and
//! [`SessionHandle`](super::SessionHandle) alike).

use super::inner::{thread_token, Inner};
use super::receive::Goal;
use super::stats::Counters;
use super::wire::Outgoing;
use super::IpcError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The data channel calls and events use (channel 0 is the control channel).
pub const DATA_CHANNEL: u32 = 1;

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
    /// Call `service`.`method` on the peer and wait for the answer until `timeout` passes.
    pub fn call(&self, service: &str, method: &str, payload: &[u8], timeout: Duration) -> Result<Vec<u8>, IpcError> {
        self.check()?;
        let deadline = Instant::now() + timeout;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = self.pending.insert(id);
        let _registered = Registered { inner: self, id };
        // Checked after registering: an ending either came first (seen here) or fails this call.
        self.check()?;
        let request = Outgoing::Request { id, channel: DATA_CHANNEL, service, method, payload };
        self.send(&request, deadline)?;
        Counters::bump(&self.counters.calls);
        match self.pump(&Goal::Call { id, slot: &slot }, deadline)? {
            Some(answer) => Ok(answer),
            None => Err(IpcError::Timeout),
        }
    }

    /// Send a one-way event, waiting for room until `timeout` passes.
    pub fn publish(&self, topic: &str, payload: &[u8], timeout: Duration) -> Result<(), IpcError> {
        self.send(&Outgoing::Event { channel: DATA_CHANNEL, topic, payload }, Instant::now() + timeout)?;
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
