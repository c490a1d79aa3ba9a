//! Calls in flight: one slot per request id, filled by whichever thread reads the response, and a
//! parker (the caller's thread) to wake.
//!
//! A thread keeps the slot of its last finished call for its next one (no allocation per call)
//! when nobody else holds it any more.

use super::hash::FastHash;
use super::IpcError;
use parking_lot::Mutex;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::Thread;

thread_local! {
    /// The slot of this thread's last finished call, ready for its next.
    static SPARE: Cell<Option<Arc<CallSlot>>> = const { Cell::new(None) };
}

/// The result of a call.
pub type CallResult = Result<Vec<u8>, IpcError>;

/// Where the answer to one call lands.
#[derive(Debug)]
pub struct CallSlot {
    ready: AtomicBool,
    result: Mutex<Option<CallResult>>,
    thread: Thread,
}

impl CallSlot {
    /// Whether the answer is in (Acquire: the result is visible once this is true).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Take the answer, if it is in.
    pub fn take(&self) -> Option<CallResult> {
        if !self.is_ready() {
            return None;
        }
        self.result.lock().take()
    }

    fn fill(&self, result: CallResult) {
        *self.result.lock() = Some(result);
        self.ready.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// The calls in flight of one session, by request id.
#[derive(Debug, Default)]
pub struct Pending {
    calls: Mutex<HashMap<u64, Arc<CallSlot>, FastHash>>,
}

impl Pending {
    /// Register call `id` of the current thread.
    pub fn insert(&self, id: u64) -> Arc<CallSlot> {
        let slot = SPARE.take().unwrap_or_else(|| {
            Arc::new(CallSlot {
                ready: AtomicBool::new(false),
                result: Mutex::new(None),
                thread: std::thread::current(),
            })
        });
        self.calls.lock().insert(id, slot.clone());
        slot
    }

    /// Forget call `id` (answered, failed or abandoned), whose slot is `slot`; the slot is kept
    /// for the thread's next call when nobody else holds it.
    pub fn remove(&self, id: u64, mut slot: Arc<CallSlot>) {
        self.calls.lock().remove(&id);
        if let Some(unique) = Arc::get_mut(&mut slot) {
            *unique.ready.get_mut() = false;
            *unique.result.get_mut() = None;
            SPARE.set(Some(slot));
        }
    }

    /// Hand `result` to the waiter of call `id` and wake it; `false` when no such call waits
    /// (a stray answer, or one that came after its caller gave up).
    pub fn deliver(&self, id: u64, result: CallResult) -> bool {
        let Some(slot) = self.calls.lock().remove(&id) else {
            return false;
        };
        slot.fill(result);
        true
    }

    /// Fail every call in flight with `error` and wake their threads.
    pub fn fail_all(&self, error: &IpcError) {
        let calls: Vec<_> = self.calls.lock().drain().map(|(_, slot)| slot).collect();
        for slot in calls {
            slot.fill(Err(error.clone()));
        }
    }

    /// Wake every waiting caller (the reader role is free: one of them may take it).
    pub fn wake_all(&self) {
        for slot in self.calls.lock().values() {
            slot.thread.unpark();
        }
    }

    /// Calls in flight.
    pub fn count(&self) -> usize {
        self.calls.lock().len()
    }
}
