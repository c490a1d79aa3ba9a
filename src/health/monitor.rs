//! The health monitor thread: every interval it runs housekeeping and reports status changes to
//! the log and to the event bus (topic `plughost.health`).

use super::Status;
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
        let thread = std::thread::Builder::new().name("plughost-health".into()).spawn(move || {
            let mut last = Status::Healthy;
            loop {
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
                let report = host.health();
                if report.status != last {
                    let reasons = report.reasons.join("; ");
                    match report.status {
                        Status::Healthy => tracing::info!(status = ?report.status, "health changed"),
                        _ => tracing::warn!(status = ?report.status, reasons = %reasons, "health changed"),
                    }
                    let payload = serde_json::json!({ "status": report.status, "reasons": report.reasons }).to_string();
                    let _ = host.shared().events.publish("plughost.health", "host", payload.as_bytes());
                    last = report.status;
                }
            }
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
