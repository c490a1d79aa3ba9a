//! The modules' part of the health document.

use super::stats::{CommandReport, FailedReload, LastDurations};
use super::{ModuleManager, RetainReason};
use std::sync::atomic::Ordering;

/// One loaded module in health.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ModuleReport {
    /// The module id.
    pub id: u64,
    /// Name from the module's table.
    pub name: String,
    /// Version from the module's table.
    pub version: String,
    /// Generation number (1 = first load).
    pub generation: u64,
    /// `serving`, or `swapping` while a reload's state hand-over holds new calls.
    pub state: &'static str,
    /// The source file.
    pub source: String,
    /// The shadow folder it runs from.
    pub shadow_dir: String,
    /// Calls in flight now (on every generation of the module's slot).
    pub in_flight: usize,
    /// Successful loads plus reloads.
    pub loads: u64,
    /// Successful reloads.
    pub reloads: u64,
    /// Failed (rolled back) reloads.
    pub reload_failures: u64,
    /// The latest reload when it failed (`path` it tried, `error`), while no reload has succeeded
    /// since; `null` otherwise.
    pub failed_reload: Option<FailedReload>,
    /// Unloads.
    pub unloads: u64,
    /// Calls that returned an error.
    pub execute_failures: u64,
    /// Last durations.
    pub last: LastDurations,
    /// Per-command calls, failures and latency percentiles.
    pub commands: Vec<CommandReport>,
}

/// An old generation still loaded.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RetainedReport {
    /// The module's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Generation number.
    pub generation: u64,
    /// `draining` (calls still in flight) or `pinned` (closed but still mapped).
    pub reason: &'static str,
    /// Calls still in flight.
    pub in_flight: usize,
    /// Its shadow folder.
    pub shadow_dir: String,
    /// Seconds since it was retained.
    pub seconds: f64,
}

impl ModuleManager {
    /// Snapshot of loaded modules (by slot) and retained generations.
    pub fn report(&self) -> (Vec<ModuleReport>, Vec<RetainedReport>) {
        let modules = self
            .slots
            .iter()
            .filter_map(|slot| Some((slot, slot.entry.load_full()?, slot.current.get()?)))
            .map(|(slot, entry, generation)| {
                let s = &entry.stats;
                ModuleReport {
                    id: entry.id.0,
                    name: generation.name.clone(),
                    version: generation.version.clone(),
                    generation: generation.number,
                    state: if generation.is_ready() { "serving" } else { "swapping" },
                    source: generation.source.display().to_string(),
                    shadow_dir: generation.shadow.dir.display().to_string(),
                    in_flight: slot.current.in_flight(),
                    loads: s.loads.load(Ordering::Relaxed),
                    reloads: s.reloads.load(Ordering::Relaxed),
                    reload_failures: s.reload_failures.load(Ordering::Relaxed),
                    failed_reload: s.failed_reload.lock().clone(),
                    unloads: s.unloads.load(Ordering::Relaxed),
                    execute_failures: s.execute_failures.load(Ordering::Relaxed),
                    last: *s.last.lock(),
                    commands: s.commands(),
                }
            })
            .collect();
        let retained = self
            .retained
            .lock()
            .iter()
            .map(|r| RetainedReport {
                name: r.generation.name.clone(),
                version: r.generation.version.clone(),
                generation: r.generation.number,
                reason: match r.reason {
                    RetainReason::Draining { .. } => "draining",
                    RetainReason::Pinned => "pinned",
                },
                in_flight: match r.reason {
                    RetainReason::Draining { slot, parity } => self.slots[slot].current.readers(parity),
                    RetainReason::Pinned => 0,
                },
                shadow_dir: r.generation.shadow.dir.display().to_string(),
                seconds: r.since.elapsed().as_secs_f64(),
            })
            .collect();
        (modules, retained)
    }

    /// The configured cap of retained generations.
    pub fn max_retained(&self) -> usize {
        self.config.max_pinned_generations
    }
}
