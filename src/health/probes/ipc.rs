//! The IPC probe: the plugins' sessions, and events that could not be forwarded to a plugin in
//! time since the previous check (degraded: a plugin does not read its session).

use crate::health::probe::{Probe, ProbeResult};
use crate::health::Status;
use crate::host::Host;
use std::sync::atomic::{AtomicU64, Ordering};

/// Probe of the IPC sessions of the plugins.
#[derive(Default)]
pub(super) struct IpcProbe {
    /// Events dropped in total at the previous check.
    dropped_before: AtomicU64,
}

impl Probe for IpcProbe {
    fn component(&self) -> &str {
        "ipc"
    }

    fn check(&self, host: &Host) -> ProbeResult {
        let plugins = host.plugins();
        let sessions = plugins.iter().filter(|p| p.pid.is_some()).count();
        let dropped: u64 = plugins.iter().map(|p| p.events_dropped).sum();
        let before = self.dropped_before.swap(dropped, Ordering::Relaxed);
        let mut problems = Vec::new();
        if dropped > before {
            let slow: Vec<&str> = plugins.iter().filter(|p| p.events_dropped > 0).map(|p| p.name.as_str()).collect();
            problems.push((
                Status::Degraded,
                format!(
                    "{} event(s) could not be forwarded to plugins since the last check (plugins: {})",
                    dropped - before,
                    slow.join(", ")
                ),
            ));
        }
        ProbeResult::from_problems(format!("{sessions} plugin session(s) open"), problems, Vec::new())
    }
}
