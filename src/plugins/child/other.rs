//! Other platforms (Windows among them): poll the child every few milliseconds; `kill` is std's
//! `Child::kill` (`TerminateProcess` on Windows: the process alone, not processes it started).
//! Not built here: verified only by reading.

use parking_lot::Mutex;
use std::process::{Child, ExitStatus};
use std::time::Duration;

/// A started plugin process.
#[derive(Debug)]
pub struct ChildProcess {
    pid: u32,
    child: Mutex<Option<Child>>,
}

impl ChildProcess {
    /// Take over `child`.
    pub fn new(child: Child) -> Self {
        ChildProcess { pid: child.id(), child: Mutex::new(Some(child)) }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Block until the process ended and return its status.
    pub fn wait_exit(&self) -> Option<ExitStatus> {
        loop {
            {
                let mut guard = self.child.lock();
                let child = guard.as_mut()?;
                match child.try_wait() {
                    Ok(Some(status)) => {
                        guard.take();
                        return Some(status);
                    }
                    Ok(None) => {}
                    Err(_) => return None,
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Kill the process unless it has been reaped already.
    pub fn kill(&self) {
        if let Some(child) = self.child.lock().as_mut() {
            let _ = child.kill();
        }
    }
}
