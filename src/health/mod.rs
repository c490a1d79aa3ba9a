//! Health: one JSON document with an overall status and the figures behind it; probes per
//! component; checks (every probe, then recovery) kept in a history; and the monitor thread that
//! runs a check and housekeeping every interval.
//!
//! The overall status is the worst of the probes' (`unhealthy` too when the host is stopped); each
//! non-healthy probe adds a reason `component: detail`. The probes' rules: modules `unhealthy`
//! when old generations have reached the cap (so reloads are refused), `degraded` when old
//! generations are retained or a module's latest reload failed; plugins `degraded` when one
//! crashed or is restarting, or a manifest could not be used; ipc `degraded` when events to
//! plugins were dropped within the last interval; watch `unhealthy` when the watcher's thread
//! ended; storage `degraded` when over 90% full; python `degraded` when a worker was given up or is
//! stuck, or Python is unavailable though the pool starts with the host; extensions `degraded`
//! when an extension has problems (it is not loaded).

mod checker;
mod monitor;
mod probe;
mod probes;

pub use checker::{
    CheckRun, Checker, ProbeReport, RecoveryReport, Trigger, RECOVERY_TOPIC, STATUS_TOPIC, TRANSITION_TOPIC,
};
pub use monitor::HealthMonitor;
pub use probe::{Fault, Probe, ProbeRegistry, ProbeResult};
pub(crate) use probes::builtin as builtin_probes;

use crate::host::Host;
use crate::modules::{ModuleManager, ModuleReport, RetainedReport};
use crate::platform::{self, ProcessFigures};
use crate::services::ServiceStats;
use serde::Serialize;
use std::time::Instant;

/// The overall status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// All is well.
    Healthy,
    /// Working, with something to look at.
    Degraded,
    /// Not working as it should.
    Unhealthy,
}

/// The health document.
#[derive(Clone, Debug, Serialize)]
pub struct HealthReport {
    /// Overall status.
    pub status: Status,
    /// Why the status is not healthy.
    pub reasons: Vec<String>,
    /// plughost's version.
    pub version: &'static str,
    /// The C ABI version.
    pub abi_version: u32,
    /// The configuration profile (`PlugHost.Profile`), `null` when none.
    pub profile: Option<&'static str>,
    /// Seconds since the host started.
    pub uptime_seconds: f64,
    /// Running components in start order.
    pub components: Vec<&'static str>,
    /// Process figures.
    pub process: ProcessFigures,
    /// Loaded modules.
    pub modules: Vec<ModuleReport>,
    /// Old generations still loaded.
    pub retained_generations: Vec<RetainedReport>,
    /// The cap on retained generations.
    pub max_retained_generations: usize,
    /// Registered services.
    pub services: Vec<ServiceStats>,
    /// Main-thread calls waiting to be pumped.
    pub main_thread_pending: usize,
    /// Storage usage.
    pub storage: StorageReport,
    /// Event bus usage.
    pub events: EventsReport,
    /// Module trust settings.
    pub trusted_roots: TrustReport,
    /// Out-of-process plugins.
    pub plugins: Vec<crate::plugins::PluginStatus>,
    /// Plugin manifests that could not be used.
    pub plugin_manifest_problems: Vec<String>,
    /// The Python pool: workers (alive, busy, runs, restarts, RSS), queue depth, timeouts,
    /// failures.
    pub python: crate::python::PoolStatus,
    /// The latest health check (the monitor's or a requested one), `null` before the first.
    pub last_check: Option<CheckRun>,
    /// Problems of extensions (manifests, resolution, loading): those extensions are not loaded.
    pub extension_problems: Vec<String>,
}

/// Storage usage.
#[derive(Clone, Debug, Serialize)]
pub struct StorageReport {
    /// Keys held.
    pub keys: usize,
    /// Bytes held (keys + values).
    pub bytes: u64,
    /// The limit.
    pub max_bytes: u64,
}

/// Event bus usage.
#[derive(Clone, Debug, Serialize)]
pub struct EventsReport {
    /// Active subscriptions.
    pub subscriptions: usize,
    /// Topics with kept history.
    pub topics: usize,
}

/// Trusted roots as resolved.
#[derive(Clone, Debug, Serialize)]
pub struct TrustReport {
    /// Whether loads are restricted to the roots.
    pub restricted: bool,
    /// The resolved roots.
    pub roots: Vec<String>,
}

/// The reasons of the results that are not healthy, each prefixed with its component.
pub(crate) fn reasons(reports: &[ProbeReport]) -> Vec<String> {
    reports
        .iter()
        .filter(|r| r.result.status != Status::Healthy)
        .map(|r| format!("{}: {}", r.component, r.result.detail))
        .collect()
}

/// Build the report for `host`: every probe now (no recovery), and the figures.
pub(crate) fn report(
    host: &Host,
    modules: &ModuleManager,
    components: &[&'static str],
    started_at: Instant,
    stopped: bool,
) -> HealthReport {
    let shared = host.shared();
    let (module_reports, retained) = modules.report();
    let (keys, bytes) = shared.storage.usage();
    let (subscriptions, topics) = shared.events.usage();
    let probes = checker::probe_all(host, &shared.probes.list());
    let mut status = probes.iter().map(|r| r.result.status).max().unwrap_or(Status::Healthy);
    let mut reasons = reasons(&probes);
    if stopped {
        status = Status::Unhealthy;
        reasons.insert(0, "the host is stopped".into());
    }
    let trust = modules.trusted_roots();
    HealthReport {
        status,
        reasons,
        version: crate::VERSION,
        abi_version: crate::ABI_VERSION,
        profile: host.config().profile,
        uptime_seconds: started_at.elapsed().as_secs_f64(),
        components: components.to_vec(),
        process: platform::process_figures(),
        modules: module_reports,
        retained_generations: retained,
        max_retained_generations: modules.max_retained(),
        services: shared.services.stats(),
        main_thread_pending: shared.services.main_thread().pending(),
        storage: StorageReport { keys, bytes, max_bytes: host.config().storage_max_bytes },
        events: EventsReport { subscriptions, topics },
        trusted_roots: TrustReport {
            restricted: trust.restricted(),
            roots: trust.roots().iter().map(|p| p.display().to_string()).collect(),
        },
        plugins: host.plugin_manager().statuses(),
        plugin_manifest_problems: host.plugin_manager().problems().to_vec(),
        python: host.python_pool().status(),
        last_check: host.last_check(),
        extension_problems: host.extensions().problems,
    }
}
