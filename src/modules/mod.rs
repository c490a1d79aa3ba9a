//! Hot-swappable native work modules: load, execute, reload and unload.
//!
//! A module lives in a slot of a fixed table and is addressed by a [`ModuleId`] that carries the
//! slot's epoch, so an id of an unloaded module is detected as stale even after its slot is reused.
//! Each module has a current [`Generation`](generation::Generation); a reload loads and checks a
//! new one fully, swaps it in atomically, drains the old one, hands its state over, and unloads it.
//! Any failure before the swap is completed leaves the old generation serving.
//!
//! Old generations that cannot be unmapped (glibc keeps a Rust library loaded while a live thread
//! holds thread-local values with destructors) or that did not drain in time are *retained*: they
//! are reported in health, re-checked by housekeeping, and capped by `MaxPinnedGenerations`.

mod generation;
mod report;
pub mod shadow;
mod stats;
pub mod trust;

pub use report::{ModuleReport, RetainedReport};
pub use stats::{CommandReport, LastDurations};

use crate::config::ModulesConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::host::HostShared;
use arc_swap::{ArcSwap, ArcSwapOption};
use generation::{Entry, Generation};
use parking_lot::Mutex;
use stats::{millis, ModuleStats};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use trust::TrustedRoots;

/// A generation-checked module id: the slot's epoch in the high 32 bits, slot index + 1 in the low.
/// 0 is never a valid id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ModuleId(pub u64);

impl ModuleId {
    fn new(index: usize, epoch: u32) -> Self {
        ModuleId((u64::from(epoch) << 32) | (index as u64 + 1))
    }

    fn index(self) -> Option<usize> {
        usize::try_from(self.0 & 0xffff_ffff).ok()?.checked_sub(1)
    }
}

struct Slot {
    epoch: AtomicU32,
    entry: ArcSwapOption<ModuleEntry>,
}

struct ModuleEntry {
    id: ModuleId,
    current: ArcSwap<Generation>,
    closed: AtomicBool,
    operation: Mutex<()>,
    stats: ModuleStats,
    next_number: AtomicU64,
}

/// Why an old generation is still around.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RetainReason {
    /// Calls were still in flight when the unload timeout passed.
    Draining,
    /// Closed, but the shadow file is still mapped (or the platform cannot tell).
    Pinned,
}

struct Retained {
    generation: Arc<Generation>,
    reason: RetainReason,
    since: Instant,
}

/// The work modules of one host.
pub struct ModuleManager {
    config: ModulesConfig,
    trust: TrustedRoots,
    shared: Arc<HostShared>,
    slots: Box<[Slot]>,
    allocation: Mutex<()>,
    retained: Mutex<Vec<Retained>>,
    stopped: AtomicBool,
}

fn stale(id: ModuleId) -> Error {
    Error::new(ErrorKind::InvalidHandle, format!("module id {:#x} is stale or was never issued", id.0))
}

impl ModuleManager {
    /// A manager for `config`, sweeping stale shadow folders of dead processes first.
    pub fn new(config: &ModulesConfig, shared: Arc<HostShared>) -> Self {
        shadow::sweep_stale(&config.shadow_directory);
        Self {
            trust: TrustedRoots::new(&config.trusted_roots),
            config: config.clone(),
            shared,
            slots: (0..config.max_modules)
                .map(|_| Slot { epoch: AtomicU32::new(0), entry: ArcSwapOption::empty() })
                .collect(),
            allocation: Mutex::new(()),
            retained: Mutex::new(Vec::new()),
            stopped: AtomicBool::new(false),
        }
    }

    /// The resolved trusted roots.
    pub fn trusted_roots(&self) -> &TrustedRoots {
        &self.trust
    }

    fn pump(&self) {
        self.shared.services.main_thread().pump_if_current();
    }

    fn entry(&self, id: ModuleId) -> Result<Arc<ModuleEntry>> {
        let slot = id.index().and_then(|i| self.slots.get(i)).ok_or_else(|| stale(id))?;
        match slot.entry.load_full() {
            Some(entry) if entry.id == id && !entry.closed.load(Ordering::SeqCst) => Ok(entry),
            _ => Err(stale(id)),
        }
    }

    fn check_pinned_limit(&self) -> Result<()> {
        let pinned = self.retained.lock().len();
        if pinned > 0 && pinned >= self.config.max_pinned_generations {
            return Err(Error::new(
                ErrorKind::ModulePinnedLimit,
                format!(
                    "{pinned} old module generations are still loaded (limit {}); a module keeps its library \
                     mapped while a live thread holds its thread-local values, so end such threads or restart",
                    self.config.max_pinned_generations
                ),
            ));
        }
        Ok(())
    }

    /// Copy `source` into a shadow folder and open it as generation `number`.
    fn open_generation(&self, number: u64, source: &Path) -> Result<Generation> {
        let trust = &self.trust;
        let copy = shadow::create(&self.config.shadow_directory, source, self.config.copy_dependencies, |sibling| {
            trust.check(sibling).is_ok()
        })?;
        let dir = copy.dir.clone();
        let file = copy.file.clone();
        Generation::open(number, source.to_owned(), copy, self.shared.clone()).inspect_err(|_| {
            if crate::platform::is_mapped(&file) != Some(true) {
                shadow::remove(&dir);
            }
        })
    }

    /// Load the module at `path` and return its id.
    pub fn load(&self, path: &Path) -> Result<ModuleId> {
        if self.stopped.load(Ordering::SeqCst) {
            return Err(Error::new(ErrorKind::HostStopped, "the host is stopped"));
        }
        let source = self.trust.check(path)?;
        self.reap();
        self.check_pinned_limit()?;
        let _allocation = self.allocation.lock();
        let (index, slot) = self.slots.iter().enumerate().find(|(_, s)| s.entry.load().is_none()).ok_or_else(|| {
            Error::new(ErrorKind::LimitReached, format!("all {} module slots are in use", self.slots.len()))
        })?;
        let generation = self.open_generation(1, &source).inspect_err(|e| {
            tracing::warn!(path = %source.display(), error = %e, "module load failed");
        })?;
        let epoch = slot.epoch.fetch_add(1, Ordering::SeqCst).wrapping_add(1).max(1);
        let id = ModuleId::new(index, epoch);
        tracing::info!(module = %generation.name, version = %generation.version, id = id.0,
            ms = millis(generation.load_duration), "module loaded");
        let stats = ModuleStats::default();
        stats.loads.fetch_add(1, Ordering::Relaxed);
        stats.last.lock().load_ms = Some(millis(generation.load_duration));
        let entry = ModuleEntry {
            id,
            current: ArcSwap::from_pointee(generation),
            closed: AtomicBool::new(false),
            operation: Mutex::new(()),
            stats,
            next_number: AtomicU64::new(2),
        };
        slot.entry.store(Some(Arc::new(entry)));
        Ok(id)
    }

    /// Run `command` of module `id` on `input`, on the calling thread.
    #[inline]
    pub fn execute(&self, id: ModuleId, command: &str, input: &[u8]) -> Result<Vec<u8>> {
        let slot = id.index().and_then(|i| self.slots.get(i)).ok_or_else(|| stale(id))?;
        let guard = slot.entry.load();
        let entry = match guard.as_ref() {
            Some(entry) if entry.id == id => entry,
            _ => return Err(stale(id)),
        };
        // Reading the clock twice costs more than the rest of the bookkeeping, so only the calls
        // the command's statistics sample are timed (see `stats`).
        let command_stats = entry.stats.find(command);
        let started = command_stats.is_none_or(stats::CommandStats::time_next_call).then(Instant::now);
        let result = loop {
            let generation = entry.current.load();
            match generation.enter() {
                Entry::Entered => {
                    let result = generation.execute(command, input);
                    generation.leave();
                    break result;
                }
                Entry::Retired if entry.closed.load(Ordering::SeqCst) => return Err(stale(id)),
                Entry::Retired => std::hint::spin_loop(),
                Entry::NotReady => generation.wait_ready(&|| self.pump()),
            }
        };
        let known = !matches!(&result, Err(e) if e.kind() == ErrorKind::ModuleUnknownCommand);
        let latency = started.map(|s| s.elapsed());
        entry.stats.record_call(command_stats, known.then_some(command), latency, result.is_ok());
        result
    }

    /// Reload module `id` from `path` (or from its current source when `None`). Returns the new
    /// generation number. On failure the old generation keeps serving, except for
    /// `ModuleDrainTimeout`, where the new generation serves and the old one is retained.
    pub fn reload(&self, id: ModuleId, path: Option<&Path>) -> Result<u64> {
        let entry = self.entry(id)?;
        let _operation = entry.operation.lock();
        if entry.closed.load(Ordering::SeqCst) {
            return Err(stale(id));
        }
        let started = Instant::now();
        let result = self.swap(&entry, path);
        let elapsed = started.elapsed();
        match &result {
            Ok(number) => {
                entry.stats.reloads.fetch_add(1, Ordering::Relaxed);
                entry.stats.loads.fetch_add(1, Ordering::Relaxed);
                entry.stats.last.lock().reload_ms = Some(millis(elapsed));
                tracing::info!(id = id.0, generation = number, ms = millis(elapsed), "module reloaded");
            }
            Err(e) if e.kind() == ErrorKind::ModuleDrainTimeout => {
                entry.stats.reloads.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(id = id.0, error = %e, "module reloaded, old generation still draining");
            }
            Err(e) => {
                entry.stats.reload_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(id = id.0, error = %e, "module reload failed; previous generation keeps serving");
            }
        }
        result
    }

    fn swap(&self, entry: &ModuleEntry, path: Option<&Path>) -> Result<u64> {
        let old = entry.current.load_full();
        let source = self.trust.check(path.unwrap_or(&old.source))?;
        self.reap();
        self.check_pinned_limit()?;
        let number = entry.next_number.fetch_add(1, Ordering::Relaxed);
        let new = Arc::new(self.open_generation(number, &source)?);
        if new.name != old.name {
            tracing::warn!(old = %old.name, new = %new.name, "reloaded module reports another name");
        }
        let hand_over = old.hands_over_state_to(&new);
        if hand_over {
            new.close_gate();
        }
        entry.current.store(new.clone());
        old.retire();
        let timeout = self.config.unload_timeout;
        if !old.drain(timeout, &|| self.pump()) {
            new.open_gate();
            let in_flight = old.in_flight();
            self.retain(old.clone(), RetainReason::Draining);
            return Err(Error::new(
                ErrorKind::ModuleDrainTimeout,
                format!(
                    "generation {number} of \"{}\" serves, but generation {} still had {in_flight} call(s) in flight \
                     after {timeout:?}: its state was not handed over and it stays loaded until they finish",
                    new.name, old.number
                ),
            ));
        }
        if hand_over {
            let transfer = old.save_state().and_then(|state| new.restore_state(&state, &old.version));
            if let Err(e) = transfer {
                old.unretire();
                entry.current.store(old.clone());
                new.retire();
                new.open_gate();
                new.drain(timeout, &|| self.pump());
                self.finish(new);
                return Err(Error::new(
                    ErrorKind::ModuleStateTransfer,
                    format!(
                        "state hand-over to generation {number} failed ({}); generation {} keeps serving",
                        e.message(),
                        old.number
                    ),
                ));
            }
            new.open_gate();
        }
        self.finish(old);
        Ok(number)
    }

    /// Unload module `id`: its id goes stale at once, in-flight calls drain (up to the unload
    /// timeout), then the module shuts down and its library is closed and checked.
    pub fn unload(&self, id: ModuleId) -> Result<()> {
        let entry = self.entry(id)?;
        let _operation = entry.operation.lock();
        if entry.closed.swap(true, Ordering::SeqCst) {
            return Err(stale(id));
        }
        let started = Instant::now();
        if let Some(slot) = id.index().and_then(|i| self.slots.get(i)) {
            slot.entry.rcu(|current| match current {
                Some(e) if e.id == id => None,
                other => other.clone(),
            });
        }
        let generation = entry.current.load_full();
        generation.retire();
        entry.stats.unloads.fetch_add(1, Ordering::Relaxed);
        if !generation.drain(self.config.unload_timeout, &|| self.pump()) {
            let in_flight = generation.in_flight();
            self.retain(generation, RetainReason::Draining);
            return Err(Error::new(
                ErrorKind::ModuleDrainTimeout,
                format!(
                    "module {:#x} is unloaded from the table, but {in_flight} call(s) were still in flight after {:?}; \
                     its library stays loaded until they finish",
                    id.0, self.config.unload_timeout
                ),
            ));
        }
        let name = generation.name.clone();
        let unmapped = self.finish(generation);
        entry.stats.last.lock().unload_ms = Some(millis(started.elapsed()));
        tracing::info!(module = %name, id = id.0, unmapped, ms = millis(started.elapsed()), "module unloaded");
        Ok(())
    }

    fn retain(&self, generation: Arc<Generation>, reason: RetainReason) {
        self.retained.lock().push(Retained { generation, reason, since: Instant::now() });
    }

    /// Shut down and close a drained generation; remove its shadow folder if it is unmapped,
    /// retain it as pinned if not. Returns whether it was unmapped.
    fn finish(&self, generation: Arc<Generation>) -> bool {
        match generation.shutdown_and_close() {
            Some(false) => {
                shadow::remove(&generation.shadow.dir);
                true
            }
            mapped => {
                tracing::warn!(module = %generation.name, generation = generation.number,
                    known = mapped.is_some(), "library still mapped after close; generation retained as pinned");
                self.retain(generation, RetainReason::Pinned);
                false
            }
        }
    }

    /// Housekeeping: finish retained generations that have drained, and forget pinned ones that
    /// have since been unmapped. Returns how many are still retained.
    pub fn reap(&self) -> usize {
        let candidates: Vec<Retained> = std::mem::take(&mut *self.retained.lock());
        let mut keep = Vec::new();
        for r in candidates {
            match r.reason {
                RetainReason::Draining if r.generation.in_flight() == 0 => {
                    if r.generation.shutdown_and_close() == Some(false) {
                        shadow::remove(&r.generation.shadow.dir);
                    } else {
                        keep.push(Retained { reason: RetainReason::Pinned, ..r });
                    }
                }
                RetainReason::Pinned if crate::platform::is_mapped(&r.generation.shadow.file) == Some(false) => {
                    shadow::remove(&r.generation.shadow.dir);
                }
                _ => keep.push(r),
            }
        }
        let mut retained = self.retained.lock();
        retained.extend(keep);
        retained.len()
    }

    /// Unload every module (at host stop) and refuse new loads.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let ids: Vec<ModuleId> = self.slots.iter().filter_map(|s| s.entry.load().as_ref().map(|e| e.id)).collect();
        for id in ids {
            if let Err(e) = self.unload(id) {
                tracing::warn!(id = id.0, error = %e, "module did not unload cleanly at stop");
            }
        }
        self.reap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_zero_is_invalid() {
        let id = ModuleId::new(5, 7);
        assert_eq!(id.index(), Some(5));
        assert_eq!(id.0 >> 32, 7);
        assert_eq!(ModuleId(0).index(), None);
        assert_eq!(ModuleId(7 << 32).index(), None);
    }
}
