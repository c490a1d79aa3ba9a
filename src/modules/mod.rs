//! Hot-swappable native work modules: load, execute, reload and unload.
//!
//! A module lives in a slot of a fixed table and is addressed by a [`ModuleId`] that carries the
//! slot's epoch, so an id of an unloaded module is detected as stale even after its slot is reused.
//! Each module has a current `Generation`; a reload loads and checks a
//! new one fully, swaps it in atomically, drains the old one, hands its state over, and unloads it.
//! Any failure before the swap is completed leaves the old generation serving.
//!
//! Old generations that cannot be unmapped (glibc keeps a Rust library loaded while a live thread
//! holds thread-local values with destructors) or that did not drain in time are *retained*: they
//! are reported in health, re-checked by housekeeping, and capped by `MaxPinnedGenerations`.

mod current;
mod generation;
mod report;
pub mod shadow;
mod stats;
pub mod trust;
mod watch;

pub use report::{ModuleReport, RetainedReport};
pub use stats::{CommandReport, FailedReload, LastDurations};
pub(crate) use watch::{is_change, Watcher};
pub use watch::{RELOADED_TOPIC, RELOADING_TOPIC, ROLLED_BACK_TOPIC};

use crate::config::ModulesConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::host::HostShared;
use arc_swap::ArcSwapOption;
use current::Current;
use generation::{Admission, Generation};
use parking_lot::Mutex;
use stats::{millis, ModuleStats};
use std::path::{Path, PathBuf};
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

/// A slot of the module table. `current` is read by every call; `entry` only by operations.
struct Slot {
    epoch: AtomicU32,
    entry: ArcSwapOption<ModuleEntry>,
    current: Current,
}

struct ModuleEntry {
    id: ModuleId,
    closed: AtomicBool,
    operation: Mutex<()>,
    stats: Arc<ModuleStats>,
    next_number: AtomicU64,
}

/// A loaded module as the file watcher sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WatchTarget {
    /// The module.
    pub id: ModuleId,
    /// Its name, as its current generation reports it.
    pub name: String,
    /// The file it was loaded from (resolved), not its shadow copy.
    pub source: PathBuf,
}

/// Why an old generation is still around.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RetainReason {
    /// Calls were still in flight when the unload timeout passed; they are counted on this
    /// parity of this slot's readers.
    Draining { slot: usize, parity: usize },
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
                .map(|_| Slot { epoch: AtomicU32::new(0), entry: ArcSwapOption::empty(), current: Current::default() })
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

    fn slot(&self, id: ModuleId) -> Result<&Slot> {
        id.index().and_then(|i| self.slots.get(i)).ok_or_else(|| stale(id))
    }

    fn entry(&self, id: ModuleId) -> Result<(&Slot, Arc<ModuleEntry>)> {
        let slot = self.slot(id)?;
        match slot.entry.load_full() {
            Some(entry) if entry.id == id && !entry.closed.load(Ordering::SeqCst) => Ok((slot, entry)),
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
    fn open_generation(&self, owner: (ModuleId, &Arc<ModuleStats>), number: u64, source: &Path) -> Result<Generation> {
        let trust = &self.trust;
        let copy = shadow::create(&self.config.shadow_directory, source, self.config.copy_dependencies, |sibling| {
            trust.check(sibling).is_ok()
        })?;
        let dir = copy.dir.clone();
        let file = copy.file.clone();
        let (module, stats) = owner;
        Generation::open(module, stats.clone(), number, source.to_owned(), copy, self.shared.clone()).inspect_err(
            |_| {
                if crate::platform::is_mapped(&file) != Some(true) {
                    shadow::remove(&dir);
                }
            },
        )
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
        // A slot whose last module's calls have not all left yet is not reused.
        let free = |s: &&Slot| s.entry.load().is_none() && s.current.is_idle();
        let (index, slot) = self.slots.iter().enumerate().find(|(_, s)| free(s)).ok_or_else(|| {
            Error::new(ErrorKind::LimitReached, format!("all {} module slots are in use", self.slots.len()))
        })?;
        // The epoch moves on even if the load fails: ids are never handed out twice.
        let epoch = slot.epoch.fetch_add(1, Ordering::SeqCst).wrapping_add(1).max(1);
        let id = ModuleId::new(index, epoch);
        let stats = Arc::new(ModuleStats::default());
        let generation = self.open_generation((id, &stats), 1, &source).inspect_err(|e| {
            tracing::warn!(path = %source.display(), error = %e, "module load failed");
        })?;
        tracing::info!(module = %generation.name, version = %generation.version, id = id.0,
            ms = millis(generation.load_duration), "module loaded");
        stats.loads.fetch_add(1, Ordering::Relaxed);
        stats.last.lock().load_ms = Some(millis(generation.load_duration));
        let entry = ModuleEntry {
            id,
            closed: AtomicBool::new(false),
            operation: Mutex::new(()),
            stats,
            next_number: AtomicU64::new(2),
        };
        let generation = Arc::new(generation);
        if let Err(busy) = slot.current.replace(Some(generation.clone()), self.config.unload_timeout, &|| self.pump()) {
            // Unreachable: the slot was idle and this thread holds the allocation lock.
            self.finish(generation);
            return Err(Error::new(ErrorKind::LimitReached, format!("slot busy with {} call(s)", busy.readers)));
        }
        slot.entry.store(Some(Arc::new(entry)));
        Ok(id)
    }

    /// Run `command` of module `id` on `input`, on the calling thread.
    ///
    /// The path every call takes: the slot's reader count up, a load of the published generation
    /// (which carries its module id, so a reused slot is detected), the call, the count down, and
    /// the command's counters. See `current.rs` for why this is safe against a concurrent swap.
    #[inline]
    pub fn execute(&self, id: ModuleId, command: &str, input: &[u8]) -> Result<Vec<u8>> {
        let slot = self.slot(id)?;
        loop {
            let reader = slot.current.enter();
            let generation = match reader.generation() {
                Some(generation) if generation.module == id => generation,
                // Unloaded (or the slot holds another module now).
                _ => return Err(stale(id)),
            };
            match generation.admission() {
                Admission::Open => {
                    // Reading the clock twice costs more than the rest of the bookkeeping, so only
                    // the calls the command's statistics sample are timed (see `stats`).
                    let command_stats = generation.stats.find(command);
                    let started = command_stats.is_none_or(stats::CommandStats::time_next_call).then(Instant::now);
                    let result = generation.execute(command, input);
                    let known = !matches!(&result, Err(e) if e.kind() == ErrorKind::ModuleUnknownCommand);
                    let latency = started.map(|s| s.elapsed());
                    generation.stats.record_call(command_stats, known.then_some(command), latency, result.is_ok());
                    return result;
                }
                // Replaced by a rollback a moment ago: the slot already holds what comes next.
                Admission::Retired => std::hint::spin_loop(),
                // State is being handed to it: wait at its gate without holding the claim, so the
                // swap can drain the old generation.
                Admission::Gated => {
                    let Some(gated) = reader.generation_arc() else { continue };
                    drop(reader);
                    gated.wait_ready(&|| self.pump());
                }
            }
        }
    }

    /// Reload module `id` from `path` (or from its current source when `None`). Returns the new
    /// generation number. On failure the old generation keeps serving, except for
    /// `ModuleDrainTimeout`, where the new generation serves and the old one is retained.
    pub fn reload(&self, id: ModuleId, path: Option<&Path>) -> Result<u64> {
        let (slot, entry) = self.entry(id)?;
        let _operation = entry.operation.lock();
        if entry.closed.load(Ordering::SeqCst) {
            return Err(stale(id));
        }
        let started = Instant::now();
        let result = self.swap(slot, &entry, path);
        let elapsed = started.elapsed();
        match &result {
            Ok(number) => {
                entry.stats.reloads.fetch_add(1, Ordering::Relaxed);
                entry.stats.loads.fetch_add(1, Ordering::Relaxed);
                entry.stats.last.lock().reload_ms = Some(millis(elapsed));
                *entry.stats.failed_reload.lock() = None;
                tracing::info!(id = id.0, generation = number, ms = millis(elapsed), "module reloaded");
            }
            Err(e) if e.kind() == ErrorKind::ModuleDrainTimeout => {
                entry.stats.reloads.fetch_add(1, Ordering::Relaxed);
                *entry.stats.failed_reload.lock() = None;
                tracing::warn!(id = id.0, error = %e, "module reloaded, old generation still draining");
            }
            Err(e) => {
                entry.stats.reload_failures.fetch_add(1, Ordering::Relaxed);
                let attempted = path.map(Path::to_path_buf).or_else(|| slot.current.get().map(|g| g.source.clone()));
                *entry.stats.failed_reload.lock() =
                    attempted.map(|path| FailedReload { path, error: e.message().to_owned() });
                tracing::warn!(id = id.0, error = %e, "module reload failed; previous generation keeps serving");
            }
        }
        result
    }

    fn swap(&self, slot: &Slot, entry: &ModuleEntry, path: Option<&Path>) -> Result<u64> {
        let old = slot.current.get().ok_or_else(|| stale(entry.id))?;
        let source = self.trust.check(path.unwrap_or(&old.source))?;
        self.reap();
        self.check_pinned_limit()?;
        let number = entry.next_number.fetch_add(1, Ordering::Relaxed);
        let new = Arc::new(self.open_generation((entry.id, &entry.stats), number, &source)?);
        if new.name != old.name {
            tracing::warn!(old = %old.name, new = %new.name, "reloaded module reports another name");
        }
        let hand_over = old.hands_over_state_to(&new);
        if hand_over {
            new.close_gate();
        }
        let timeout = self.config.unload_timeout;
        let index = entry.id.index().expect("a live id has an index");
        let old_parity = match slot.current.replace(Some(new.clone()), timeout, &|| self.pump()) {
            Ok((_, parity)) => parity,
            Err(busy) => {
                self.finish(new);
                return Err(Error::new(
                    ErrorKind::ModuleDrainTimeout,
                    format!(
                        "an earlier generation of \"{}\" still has {} call(s) in flight after {timeout:?}; \
                         generation {} keeps serving",
                        old.name, busy.readers, old.number
                    ),
                ));
            }
        };
        old.retire();
        if !slot.current.wait_drained(old_parity, timeout, &|| self.pump()) {
            new.open_gate();
            let in_flight = slot.current.readers(old_parity);
            self.retain(old.clone(), RetainReason::Draining { slot: index, parity: old_parity });
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
                return Err(self.roll_back(slot, index, old, new, number, e));
            }
            new.open_gate();
        }
        self.finish(old);
        Ok(number)
    }

    /// Put `old` back after `new` failed to take its state. Callers waiting at the new
    /// generation's gate see it retired and go back to the old one, which has served no call since
    /// it drained.
    fn roll_back(
        &self,
        slot: &Slot,
        index: usize,
        old: Arc<Generation>,
        new: Arc<Generation>,
        number: u64,
        e: Error,
    ) -> Error {
        let timeout = self.config.unload_timeout;
        new.retire();
        old.unretire();
        let rolled_back = slot.current.replace(Some(old.clone()), timeout, &|| self.pump());
        new.open_gate();
        match rolled_back {
            Ok((_, new_parity)) if slot.current.wait_drained(new_parity, timeout, &|| self.pump()) => {
                self.finish(new);
            }
            Ok((_, new_parity)) => self.retain(new, RetainReason::Draining { slot: index, parity: new_parity }),
            // A straggler still counted on the old generation's parity: the new generation stays
            // published and serves without the state.
            Err(_) => {
                new.unretire();
                return Error::new(
                    ErrorKind::ModuleStateTransfer,
                    format!(
                        "state hand-over to generation {number} failed ({}); it serves without that state",
                        e.message()
                    ),
                );
            }
        }
        Error::new(
            ErrorKind::ModuleStateTransfer,
            format!(
                "state hand-over to generation {number} failed ({}); generation {} keeps serving",
                e.message(),
                old.number
            ),
        )
    }

    /// Unload module `id`: its id goes stale at once, in-flight calls drain (up to the unload
    /// timeout), then the module shuts down and its library is closed and checked.
    pub fn unload(&self, id: ModuleId) -> Result<()> {
        let (slot, entry) = self.entry(id)?;
        let _operation = entry.operation.lock();
        if entry.closed.swap(true, Ordering::SeqCst) {
            return Err(stale(id));
        }
        let started = Instant::now();
        let timeout = self.config.unload_timeout;
        let index = id.index().expect("a live id has an index");
        // Operations on this entry are serialised by `operation`, so the slot still holds it.
        let (generation, parity) = match slot.current.replace(None, timeout, &|| self.pump()) {
            Ok((Some(generation), parity)) => (generation, parity),
            Ok((None, _)) => return Err(stale(id)),
            Err(busy) => {
                entry.closed.store(false, Ordering::SeqCst);
                return Err(Error::new(
                    ErrorKind::ModuleDrainTimeout,
                    format!(
                        "an earlier generation of module {:#x} still has {} call(s) in flight after {timeout:?}; \
                         the module stays loaded",
                        id.0, busy.readers
                    ),
                ));
            }
        };
        slot.entry.store(None);
        generation.retire();
        entry.stats.unloads.fetch_add(1, Ordering::Relaxed);
        if !slot.current.wait_drained(parity, timeout, &|| self.pump()) {
            let in_flight = slot.current.readers(parity);
            self.retain(generation, RetainReason::Draining { slot: index, parity });

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
                RetainReason::Draining { slot, parity } if self.slots[slot].current.readers(parity) == 0 => {
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

    /// Every loaded module with the file it was loaded from, for the file watcher.
    pub(crate) fn watch_targets(&self) -> Vec<WatchTarget> {
        self.slots
            .iter()
            .filter_map(|slot| {
                let entry = slot.entry.load_full()?;
                let generation = slot.current.get().filter(|g| g.module == entry.id)?;
                Some(WatchTarget { id: entry.id, name: generation.name.clone(), source: generation.source.clone() })
            })
            .collect()
    }

    /// The number of the generation module `id` serves with now.
    pub(crate) fn generation_number(&self, id: ModuleId) -> Option<u64> {
        let (slot, _) = self.entry(id).ok()?;
        slot.current.get().filter(|g| g.module == id).map(|g| g.number)
    }

    /// The file the latest reload of module `id` tried to load, when that reload failed.
    pub(crate) fn failed_reload_path(&self, id: ModuleId) -> Option<PathBuf> {
        let (_, entry) = self.entry(id).ok()?;
        let failed = entry.stats.failed_reload.lock();
        failed.as_ref().map(|f| f.path.clone())
    }

    /// Whether sibling library files travel with a module (and so are watched with it).
    pub(crate) fn copies_dependencies(&self) -> bool {
        self.config.copy_dependencies
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
