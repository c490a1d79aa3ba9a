//! The health monitor thread: every interval it runs housekeeping and a health check (probes,
//! recovery, transitions on the bus and in the log; see `checker.rs`).

use super::Trigger;
use crate::host::Host;
use parking_lot::{Condvar, Mutex};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

/// A running monitor; [`stop`](Self::stop) ends it.
pub struct HealthMonitor {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: JoinHandle<()>,
}

impl HealthMonitor {
    /// Start the monitor for `host` with `interval` between checks.
    pub fn spawn(host: Weak<Host>, interval: Duration) -> std::io::Result<HealthMonitor> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = stop.clone();
        let thread = std::thread::Builder::new().name("plughost-health".into()).spawn(move || loop {
            {
                let (stopped, wake) = &*signal;
                let mut stopped = stopped.lock();
                if !*stopped {
                    wake.wait_for(&mut stopped, interval);
                }
                if *stopped {
                    return;
                }
            }
            let Some(host) = host.upgrade() else { return };
            host.maintain();
            host.run_check(Trigger::Interval);
        })?;
        Ok(HealthMonitor { stop, thread })
    }

    /// Signal the thread and wait for it, unless called from the monitor thread itself.
    pub fn stop(self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock() = true;
        wake.notify_all();
        if self.thread.thread().id() != std::thread::current().id() {
            let _ = self.thread.join();
        }
    }
}
