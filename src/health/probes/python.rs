//! The Python pool probe: workers their supervisor gave up on (recovery starts them again),
//! workers stuck in a run well past its timeout (recovery kills the process, which its supervisor
//! replaces), and Python unavailable while the pool starts with the host.

use crate::error::{Error, ErrorKind, Result};
use crate::health::probe::{Fault, Probe, ProbeResult};
use crate::health::Status;
use crate::host::Host;
use crate::python::PythonPool;
use std::time::Duration;

/// Probe of the Python worker pool.
pub(super) struct PythonProbe;

const RESTART: &str = "restart";
const RECYCLE: &str = "recycle stuck worker";

impl Probe for PythonProbe {
    fn component(&self) -> &str {
        "python"
    }

    fn check(&self, host: &Host) -> ProbeResult {
        let pool = host.python_pool();
        let status = pool.status();
        let mut problems = Vec::new();
        let mut faults = Vec::new();
        if status.state == "unavailable" && pool.starts_with_host() {
            problems.push((Status::Degraded, status.python.clone().unwrap_or_default()));
        }
        for w in &status.workers {
            let target = w.index.to_string();
            if w.state == "crashed" {
                let reason = format!("worker {} crashed: {}", w.index, w.reason);
                faults.push(Fault { target, action: RESTART, reason: reason.clone() });
                problems.push((Status::Degraded, reason));
            } else if let Some(ms) = w.overdue_ms.filter(|ms| Duration::from_millis(*ms) > PythonPool::STUCK_GRACE) {
                let reason = format!("worker {} is still busy {ms} ms after its run's deadline", w.index);
                faults.push(Fault { target, action: RECYCLE, reason: reason.clone() });
                problems.push((Status::Degraded, reason));
            }
        }
        let busy = status.workers.iter().filter(|w| w.busy).count();
        let figures = format!(
            "{}: {busy} of {} worker(s) busy, {} waiting, {} run(s)",
            status.state,
            status.workers.len(),
            status.queue_depth,
            status.runs
        );
        ProbeResult::from_problems(figures, problems, faults)
    }

    fn recover(&self, host: &Host, fault: &Fault) -> Result<String> {
        let index: usize = fault
            .target
            .parse()
            .map_err(|_| Error::new(ErrorKind::InvalidArgument, format!("no Python worker {}", fault.target)))?;
        host.python_pool().recover_worker(index, fault.action == RECYCLE)
    }
}
