//! The IPC probe: the plugins' sessions, and events that could not be forwarded to a plugin in
//! time (degraded for one health interval after new drops were seen: a plugin does not read its
//! session). Reading the probe changes nothing a later reading depends on, except noting when the
//! count last grew, so a health report between checks does not hide drops from the next check.

use crate::health::probe::{Probe, ProbeResult};
use crate::health::Status;
use crate::host::Host;
use parking_lot::Mutex;
use std::time::Instant;

/// Probe of the IPC sessions of the plugins.
#[derive(Default)]
pub(super) struct IpcProbe {
    /// The total of dropped events last seen, and when it last grew.
    seen: Mutex<(u64, Option<Instant>)>,
}

impl Probe for IpcProbe {
    fn component(&self) -> &str {
        "ipc"
    }

    fn check(&self, host: &Host) -> ProbeResult {
        let plugins = host.plugins();
        let sessions = plugins.iter().filter(|p| p.pid.is_some()).count();
        let dropped: u64 = plugins.iter().map(|p| p.events_dropped).sum();
        let grew_at = {
            let mut seen = self.seen.lock();
            if dropped > seen.0 {
                *seen = (dropped, Some(Instant::now()));
            }
            seen.1
        };
        let mut problems = Vec::new();
        if grew_at.is_some_and(|at| at.elapsed() < host.config().health.interval) {
            let slow: Vec<&str> = plugins.iter().filter(|p| p.events_dropped > 0).map(|p| p.name.as_str()).collect();
            problems.push((
                Status::Degraded,
                format!(
                    "events to plugins are being dropped ({dropped} in all; plugins not reading: {})",
                    slow.join(", ")
                ),
            ));
        }
        ProbeResult::from_problems(format!("{sessions} plugin session(s) open"), problems, Vec::new())
    }
}
