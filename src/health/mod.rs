//! Health: one JSON document with an overall status and the figures behind it, and the monitor
//! thread that does periodic housekeeping and reports status changes.
//!
//! Status rules: `unhealthy` when the host is stopped or old generations have reached the cap (so
//! reloads are refused); `degraded` when old generations are retained (pinned or still draining)
//! or storage is over 90% full, or a plugin crashed or is restarting, or a plugin manifest could not
//! be used, or an extension has problems; `healthy` otherwise. Each non-healthy status comes with reasons.

mod monitor;

pub use monitor::HealthMonitor;

use crate::host::Host;
use crate::modules::{ModuleManager, ModuleReport, RetainedReport};
use crate::platform::{self, ProcessFigures};
use crate::services::ServiceStats;
use serde::Serialize;
use std::time::Instant;

/// The overall status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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

/// Build the report for `host`.
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
    let max_bytes = host.config().storage_max_bytes;
    let cap = modules.max_retained();

    let mut reasons = Vec::new();
    let mut status = Status::Healthy;
    let mut worsen = |to: Status, reason: String, reasons: &mut Vec<String>| {
        if to == Status::Unhealthy || status == Status::Healthy {
            status = to;
        }
        reasons.push(reason);
    };
    if stopped {
        worsen(Status::Unhealthy, "the host is stopped".into(), &mut reasons);
    }
    if !retained.is_empty() {
        let pinned = retained.iter().filter(|r| r.reason == "pinned").count();
        let draining = retained.len() - pinned;
        let summary = format!("{pinned} old generation(s) pinned in memory, {draining} still draining");
        if retained.len() >= cap {
            worsen(
                Status::Unhealthy,
                format!("{summary}: cap of {cap} reached, loads and reloads are refused"),
                &mut reasons,
            );
        } else {
            worsen(Status::Degraded, summary, &mut reasons);
        }
    }
    let plugins = host.plugin_manager().statuses();
    for p in plugins.iter().filter(|p| p.state == "crashed" || p.state == "restarting") {
        worsen(Status::Degraded, format!("plugin \"{}\" is {}: {}", p.name, p.state, p.reason), &mut reasons);
    }
    let manifest_problems = host.plugin_manager().problems().to_vec();
    if !manifest_problems.is_empty() {
        worsen(Status::Degraded, format!("{} problem(s) in plugin manifests", manifest_problems.len()), &mut reasons);
    }
    let extension_problems = host.extensions().problems;
    if !extension_problems.is_empty() {
        worsen(Status::Degraded, format!("{} problem(s) with extensions", extension_problems.len()), &mut reasons);
    }
    if max_bytes > 0 && bytes * 10 > max_bytes * 9 {
        worsen(Status::Degraded, format!("storage is {bytes} of {max_bytes} bytes full"), &mut reasons);
    }

    let trust = modules.trusted_roots();
    HealthReport {
        status,
        reasons,
        version: crate::VERSION,
        abi_version: crate::ABI_VERSION,
        uptime_seconds: started_at.elapsed().as_secs_f64(),
        components: components.to_vec(),
        process: platform::process_figures(),
        modules: module_reports,
        retained_generations: retained,
        max_retained_generations: cap,
        services: shared.services.stats(),
        main_thread_pending: shared.services.main_thread().pending(),
        storage: StorageReport { keys, bytes, max_bytes },
        events: EventsReport { subscriptions, topics },
        trusted_roots: TrustReport {
            restricted: trust.restricted(),
            roots: trust.roots().iter().map(|p| p.display().to_string()).collect(),
        },
        plugins,
        plugin_manifest_problems: manifest_problems,
        extension_problems,
    }
}
