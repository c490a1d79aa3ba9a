//! Probes: what the health monitor asks each component, and the registry they live in.
//!
//! A [`Probe`] looks at one component and answers with a status, a line of detail and the
//! [`Fault`]s it knows how to recover from. The monitor calls [`Probe::recover`] for each fault
//! (when `Health.Recovery` is on), at most `Health.MaxRetryAttempts` times per fault until a check
//! no longer reports it. The host's own probes (modules, plugins, ipc, watch, storage, events)
//! are registered at start; a subsystem registers its own with [`ProbeRegistry::register`] (the
//! Python worker pool's "stuck worker" probe recycles the worker in `recover`).

use super::Status;
use crate::error::{Error, ErrorKind, Result};
use crate::host::Host;
use parking_lot::RwLock;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Something a probe found wrong and knows how to repair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fault {
    /// What is wrong, as the probe names it (a plugin's name, `counter#4294967297` for a module);
    /// the probe reads it back in [`Probe::recover`].
    pub target: String,
    /// What recovery does, e.g. `restart` or `retry reload`.
    pub action: &'static str,
    /// Why it is a fault.
    pub reason: String,
}

/// What a probe found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProbeResult {
    /// The component's status.
    pub status: Status,
    /// One line for people (the reasons when not healthy, figures otherwise).
    pub detail: String,
    /// What recovery may repair.
    pub faults: Vec<Fault>,
}

impl ProbeResult {
    /// A healthy result with `detail`.
    pub fn healthy(detail: impl Into<String>) -> Self {
        ProbeResult { status: Status::Healthy, detail: detail.into(), faults: Vec::new() }
    }

    /// A result built from problems: each `(status, reason)` worsens the status; the detail is
    /// the reasons joined, or `figures` when there is none.
    pub fn from_problems(figures: String, problems: Vec<(Status, String)>, faults: Vec<Fault>) -> Self {
        let status = problems.iter().map(|(s, _)| *s).max().unwrap_or(Status::Healthy);
        let detail = if problems.is_empty() {
            figures
        } else {
            problems.into_iter().map(|(_, reason)| reason).collect::<Vec<_>>().join("; ")
        };
        ProbeResult { status, detail, faults }
    }
}

/// A health probe of one component.
///
/// `check` runs on the monitor's thread every interval (and on the caller's thread for
/// [`Host::check_health`] and [`Host::health`]); it must be quick and must not block on the
/// component. `recover` runs on the same thread and may take as long as the repair takes.
pub trait Probe: Send + Sync {
    /// The component's name in health (`modules`, `python`, ...).
    fn component(&self) -> &str;

    /// Look at the component now.
    fn check(&self, host: &Host) -> ProbeResult;

    /// Repair `fault` (one this probe reported). Returns what was done. The default repairs
    /// nothing.
    fn recover(&self, host: &Host, fault: &Fault) -> Result<String> {
        let _ = host;
        Err(Error::new(ErrorKind::InvalidArgument, format!("{} cannot recover {}", self.component(), fault.target)))
    }
}

/// The probes of one host, in registration order.
#[derive(Default)]
pub struct ProbeRegistry {
    next: AtomicU64,
    probes: RwLock<Vec<(u64, Arc<dyn Probe>)>>,
}

impl ProbeRegistry {
    /// Add a probe; returns its id. A component name already registered is refused.
    pub fn register(&self, probe: Arc<dyn Probe>) -> Result<u64> {
        let mut probes = self.probes.write();
        if probes.iter().any(|(_, p)| p.component() == probe.component()) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("a health probe for \"{}\" is registered already", probe.component()),
            ));
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        probes.push((id, probe));
        Ok(id)
    }

    /// Remove probe `id`.
    pub fn unregister(&self, id: u64) -> Result<()> {
        let mut probes = self.probes.write();
        let before = probes.len();
        probes.retain(|(i, _)| *i != id);
        if probes.len() == before {
            return Err(Error::new(ErrorKind::InvalidArgument, format!("no health probe has id {id}")));
        }
        Ok(())
    }

    /// The probes now, in registration order.
    pub fn list(&self) -> Vec<Arc<dyn Probe>> {
        self.probes.read().iter().map(|(_, p)| p.clone()).collect()
    }

    /// Drop every probe (at host stop).
    pub fn clear(&self) {
        self.probes.write().clear();
    }
}
