//! The main-thread queue: calls that must run on the host's main thread wait here until it pumps.

use crate::error::{Error, ErrorKind, Result};
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

type Work = Box<dyn FnOnce() -> Result<Vec<u8>> + Send>;

struct Job {
    work: Mutex<Option<Work>>,
    done: Mutex<Option<Result<Vec<u8>>>>,
    ready: Condvar,
}

/// A callback the application gives to learn that calls wait for its main thread.
pub type PumpRequest = Arc<dyn Fn() + Send + Sync>;

/// Which thread is main, and the calls waiting for it.
pub struct MainThread {
    thread: Mutex<Option<ThreadId>>,
    queue: Mutex<VecDeque<Arc<Job>>>,
    pump_request: Mutex<Option<PumpRequest>>,
    timeout: Duration,
}

impl MainThread {
    /// A queue whose callers wait at most `timeout`. The main thread is unset until
    /// [`set_current`](Self::set_current) is called.
    pub fn new(timeout: Duration) -> Self {
        Self { thread: Mutex::new(None), queue: Mutex::new(VecDeque::new()), pump_request: Mutex::new(None), timeout }
    }

    /// Declare the calling thread the main thread.
    pub fn set_current(&self) {
        *self.thread.lock() = Some(std::thread::current().id());
    }

    /// Whether the calling thread is the main thread.
    pub fn is_current(&self) -> bool {
        *self.thread.lock() == Some(std::thread::current().id())
    }

    /// Set or clear the callback told (on the submitting thread) when a call is queued.
    pub fn set_pump_request(&self, callback: Option<PumpRequest>) {
        *self.pump_request.lock() = callback;
    }

    /// How many calls wait.
    pub fn pending(&self) -> usize {
        self.queue.lock().len()
    }

    /// Queue `work` and wait for the main thread to run it.
    pub(super) fn submit(&self, name: &str, work: Work) -> Result<Vec<u8>> {
        if self.thread.lock().is_none() {
            return Err(Error::new(
                ErrorKind::WrongThread,
                format!("service \"{name}\" must run on the main thread, and no main thread is set"),
            ));
        }
        let job = Arc::new(Job { work: Mutex::new(Some(work)), done: Mutex::new(None), ready: Condvar::new() });
        self.queue.lock().push_back(job.clone());
        if let Some(request) = self.pump_request.lock().clone() {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| request()));
        }
        let deadline = Instant::now() + self.timeout;
        let mut done = job.done.lock();
        while done.is_none() {
            if job.ready.wait_until(&mut done, deadline).timed_out() && done.is_none() {
                // Withdraw the call if the main thread has not taken it; if it has, wait it out.
                if job.work.lock().take().is_some() {
                    self.queue.lock().retain(|j| !Arc::ptr_eq(j, &job));
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        format!("service \"{name}\" waited {:?} for the main thread to pump", self.timeout),
                    ));
                }
                job.ready.wait(&mut done);
            }
        }
        done.take().expect("checked above")
    }

    /// Run up to `max` queued calls (0 = all that are queued now). Main thread only.
    pub fn pump(&self, max: usize) -> Result<usize> {
        if !self.is_current() {
            return Err(Error::new(ErrorKind::WrongThread, "pump must be called on the host's main thread"));
        }
        Ok(self.run_queued(max))
    }

    /// Fail every queued call with `HostStopped` (at host stop), so no caller waits for a pump
    /// that will not come. Returns how many were failed.
    pub fn fail_pending(&self) -> usize {
        let jobs: Vec<Arc<Job>> = self.queue.lock().drain(..).collect();
        let mut failed = 0;
        for job in jobs {
            if job.work.lock().take().is_some() {
                *job.done.lock() = Some(Err(Error::new(
                    ErrorKind::HostStopped,
                    "the host stopped before the main thread ran this call",
                )));
                job.ready.notify_all();
                failed += 1;
            }
        }
        failed
    }

    /// Pump if the calling thread is the main thread; used by plughost's own waits.
    pub(crate) fn pump_if_current(&self) -> usize {
        if self.is_current() {
            self.run_queued(0)
        } else {
            0
        }
    }

    fn run_queued(&self, max: usize) -> usize {
        let limit = if max == 0 { self.pending() } else { max };
        let mut ran = 0;
        while ran < limit {
            let Some(job) = self.queue.lock().pop_front() else {
                break;
            };
            let Some(work) = job.work.lock().take() else {
                continue;
            };
            let result = work();
            *job.done.lock() = Some(result);
            job.ready.notify_all();
            ran += 1;
        }
        ran
    }
}
