//! Watching the modules' files: when a build has replaced a loaded module's original file (or a
//! sibling library copied with it), the module is reloaded once the files have been quiet for the
//! debounce time.
//!
//! One thread does the work. File-system events (from `notify`) and refresh requests arrive on one
//! channel; the thread waits on it with a timeout that ends at the earliest due reload, so nothing
//! polls. A module's pending reload is due `debounce` after its last event; a file that is not a
//! complete library yet (the ELF pre-check fails, or the load reports it not loadable, not found
//! or without entry) is tried again every `retry` until it loads or `retry_limit` has passed, and
//! any new event restarts the debounce. A module whose files are still as its last watched reload
//! loaded them (length and modification time of each) is not reloaded again: the tail of a write
//! that a retry already loaded makes an event but no change. Each attempt is announced on the bus
//! ([`RELOADING_TOPIC`]) and ends with exactly one [`RELOADED_TOPIC`] or [`ROLLED_BACK_TOPIC`].
//!
//! The folders holding the modules are watched (not the files, which builds replace by renaming);
//! events are filtered by file. The watched set follows the loaded modules: the host calls
//! [`Watcher::refresh`] after loads, unloads and reloads from another path, and that call updates
//! the watches before it returns, so a change made right after a load is seen.

use super::{shadow, ModuleId, ModuleManager, WatchTarget};
use crate::config::WatchConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::host::HostShared;
use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant, SystemTime};

/// Published (source `host`) when a changed module is about to be reloaded:
/// `{"module": name, "id": id, "path": original file}`.
pub const RELOADING_TOPIC: &str = "plughost.module.reloading";
/// Published when the new generation serves: `{"module", "id", "generation", "ms"}`, where `ms`
/// runs from the last file event to the new generation serving.
pub const RELOADED_TOPIC: &str = "plughost.module.reloaded";
/// Published when the changed files could not be loaded and the old generation keeps serving:
/// `{"module", "id", "reason"}`.
pub const ROLLED_BACK_TOPIC: &str = "plughost.module.rolled_back";

enum Message {
    /// An event of the file-system watcher.
    Fs(notify::Result<notify::Event>),
    /// The set of loaded modules changed (the watches are already updated).
    Refresh,
    /// End the thread.
    Stop,
}

/// What is watched: the folders, and the modules whose files are in them.
struct Watched {
    watcher: RecommendedWatcher,
    folders: HashSet<PathBuf>,
    targets: Vec<WatchTarget>,
    dependencies: bool,
}

impl Watched {
    /// Watch exactly the folders of the loaded modules.
    fn sync(&mut self, modules: &ModuleManager) {
        let targets = modules.watch_targets();
        let wanted: HashSet<PathBuf> =
            targets.iter().filter_map(|t| t.source.parent().map(Path::to_path_buf)).collect();
        let gone: Vec<PathBuf> = self.folders.difference(&wanted).cloned().collect();
        for folder in gone {
            // The folder may be gone already, which ends its watch too.
            let _ = self.watcher.unwatch(&folder);
            self.folders.remove(&folder);
        }
        for folder in wanted {
            if self.folders.contains(&folder) {
                continue;
            }
            match self.watcher.watch(&folder, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    tracing::debug!(folder = %folder.display(), "watching module folder");
                    self.folders.insert(folder);
                }
                Err(e) => tracing::warn!(folder = %folder.display(), error = %e, "cannot watch module folder"),
            }
        }
        self.targets = targets;
    }

    /// The modules an event on `path` concerns: the module loaded from it, and, when sibling
    /// libraries are copied with modules, every module in its folder if it is a library.
    fn concerned(&self, path: &Path, into: &mut Vec<ModuleId>) {
        let library = self.dependencies && shadow::is_sibling_library(path);
        for target in &self.targets {
            let hit = target.source == path || (library && target.source.parent() == path.parent());
            if hit && !into.contains(&target.id) {
                into.push(target.id);
            }
        }
    }
}

/// Whether an event kind may mean new file contents. Reads (the shadow copy reads the original)
/// and metadata changes (access times) do not, so a reload never triggers the next one.
pub(crate) fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_)) => false,
        _ => true,
    }
}

/// Whether a failed reload may succeed once the build has finished writing.
fn is_incomplete(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::ModuleNotFound | ErrorKind::ModuleNotLoadable | ErrorKind::ModuleEntryMissing | ErrorKind::Io
    )
}

/// The file watcher of one host: a thread, and the watches it serves.
pub(crate) struct Watcher {
    watched: Arc<Mutex<Watched>>,
    modules: Arc<ModuleManager>,
    sender: Sender<Message>,
    thread: Option<JoinHandle<()>>,
    thread_id: ThreadId,
}

impl Watcher {
    /// Watch every loaded module's files and start the thread.
    pub fn start(modules: Arc<ModuleManager>, shared: Arc<HostShared>, config: WatchConfig) -> Result<Watcher> {
        let (sender, receiver) = mpsc::channel();
        let events = sender.clone();
        let watcher = notify::recommended_watcher(move |event| {
            // The receiver is gone only after the thread ended; nothing is left to tell.
            let _ = events.send(Message::Fs(event));
        })
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot watch module files: {e}")))?;
        let watched = Arc::new(Mutex::new(Watched {
            watcher,
            folders: HashSet::new(),
            targets: Vec::new(),
            dependencies: modules.copies_dependencies(),
        }));
        watched.lock().sync(&modules);
        let worker = Worker {
            watched: watched.clone(),
            modules: modules.clone(),
            shared,
            config,
            pending: HashMap::new(),
            loaded: HashMap::new(),
        };
        let thread = std::thread::Builder::new()
            .name("plughost-watch".into())
            .spawn(move || worker.run(&receiver))
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start the module watcher thread: {e}")))?;
        let thread_id = thread.thread().id();
        tracing::info!(folders = watched.lock().folders.len(), "watching module files");
        Ok(Watcher { watched, modules, sender, thread: Some(thread), thread_id })
    }

    /// Follow the loaded modules: watch the folders of new ones, drop those of unloaded ones.
    /// The watches are in place when this returns.
    pub fn refresh(&self) {
        self.watched.lock().sync(&self.modules);
        let _ = self.sender.send(Message::Refresh);
    }

    /// Whether the watcher's thread still runs, and how many folders are watched.
    pub fn state(&self) -> (bool, usize) {
        let alive = self.thread.as_ref().is_some_and(|t| !t.is_finished());
        (alive, self.watched.lock().folders.len())
    }

    /// End the thread and the watches. Waits for a reload in progress; with `pump` (the host's
    /// main thread passes its queue's pump, since a module's state hand-over may need a
    /// main-thread service), the wait runs it every millisecond. Called on the watcher's own
    /// thread (from an event handler), it only asks the thread to end.
    pub fn stop(mut self, pump: Option<&dyn Fn()>) {
        let _ = self.sender.send(Message::Stop);
        let Some(thread) = self.thread.take() else { return };
        if std::thread::current().id() == self.thread_id {
            return;
        }
        if let Some(pump) = pump {
            while !thread.is_finished() {
                pump();
                std::thread::park_timeout(Duration::from_millis(1));
            }
        }
        if thread.join().is_err() {
            tracing::error!("the module watcher thread panicked");
        }
        tracing::info!("stopped watching module files");
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.sender.send(Message::Stop);
    }
}

/// A module with a reload to do.
struct Pending {
    /// When its last file event arrived.
    last_event: Instant,
    /// When to try (the end of the debounce, or the next retry).
    due: Instant,
    /// When the first attempt found the file incomplete.
    retrying_since: Option<Instant>,
    /// Whether `reloading` was published for this reload.
    announced: bool,
}

/// What a module's files looked like: path, length and modification time of its original file
/// and (when sibling libraries are copied with it) of the libraries beside it.
type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

/// The fingerprint of `target`'s files now.
fn fingerprint(target: &WatchTarget, dependencies: bool) -> Fingerprint {
    let mut files = vec![target.source.clone()];
    if dependencies {
        if let Some(entries) = target.source.parent().and_then(|folder| std::fs::read_dir(folder).ok()) {
            files.extend(entries.flatten().map(|e| e.path()).filter(|p| shadow::is_sibling_library(p)));
        }
    }
    files.sort();
    files.dedup();
    files
        .into_iter()
        .map(|path| {
            let meta = std::fs::metadata(&path).ok();
            let (len, modified) = meta.map_or((0, None), |m| (m.len(), m.modified().ok()));
            (path, len, modified)
        })
        .collect()
}

/// The watcher thread's state.
struct Worker {
    watched: Arc<Mutex<Watched>>,
    modules: Arc<ModuleManager>,
    shared: Arc<HostShared>,
    config: WatchConfig,
    pending: HashMap<ModuleId, Pending>,
    /// The fingerprint of the files each module's latest watched reload loaded: a later event
    /// that left them so (the tail of a write that a retry already loaded) reloads nothing.
    loaded: HashMap<ModuleId, Fingerprint>,
}

impl Worker {
    fn run(mut self, receiver: &Receiver<Message>) {
        loop {
            let next = self.pending.values().map(|p| p.due).min();
            let message = match next {
                None => receiver.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(due) => receiver.recv_timeout(due.saturating_duration_since(Instant::now())),
            };
            match message {
                Ok(Message::Fs(Ok(event))) => self.on_event(&event),
                Ok(Message::Fs(Err(e))) => tracing::warn!(error = %e, "module file watcher error"),
                Ok(Message::Refresh) => {
                    let watched = self.watched.lock();
                    self.pending.retain(|id, _| watched.targets.iter().any(|t| t.id == *id));
                }
                Err(RecvTimeoutError::Timeout) => self.attempt_due(),
                Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => break,
            }
        }
    }

    fn on_event(&mut self, event: &notify::Event) {
        if !is_change(&event.kind) {
            return;
        }
        let mut concerned = Vec::new();
        {
            let watched = self.watched.lock();
            for path in &event.paths {
                watched.concerned(path, &mut concerned);
            }
        }
        let now = Instant::now();
        for id in concerned {
            tracing::trace!(id = id.0, kind = ?event.kind, paths = ?event.paths, "module file changed");
            let pending = self.pending.entry(id).or_insert(Pending {
                last_event: now,
                due: now,
                retrying_since: None,
                announced: false,
            });
            pending.last_event = now;
            pending.due = now + self.config.debounce;
            pending.retrying_since = None;
        }
    }

    fn attempt_due(&mut self) {
        let now = Instant::now();
        let due: Vec<ModuleId> = self.pending.iter().filter(|(_, p)| p.due <= now).map(|(id, _)| *id).collect();
        for id in due {
            self.attempt(id);
        }
    }

    fn publish(&self, topic: &str, payload: &serde_json::Value) {
        if let Err(e) = self.shared.events.publish(topic, "host", payload.to_string().as_bytes()) {
            tracing::warn!(topic, error = %e, "cannot publish watcher event");
        }
    }

    /// Try to reload module `id`, whose files have been quiet for the debounce time.
    fn attempt(&mut self, id: ModuleId) {
        let (target, dependencies) = {
            let watched = self.watched.lock();
            (watched.targets.iter().find(|t| t.id == id).cloned(), watched.dependencies)
        };
        let (Some(target), Some(pending)) = (target, self.pending.get_mut(&id)) else {
            self.pending.remove(&id);
            return;
        };
        let print = fingerprint(&target, dependencies);
        if !pending.announced && self.loaded.get(&id) == Some(&print) {
            tracing::debug!(module = %target.name, "module files as last loaded; nothing to reload");
            self.pending.remove(&id);
            return;
        }
        let announce = !std::mem::replace(&mut pending.announced, true);
        if announce {
            tracing::info!(module = %target.name, path = %target.source.display(), "module files changed; reloading");
            let payload =
                serde_json::json!({"module": target.name, "id": id.0, "path": target.source.display().to_string()});
            self.publish(RELOADING_TOPIC, &payload);
        }
        // A file still being written is retried without a failed reload on its record.
        let result = match crate::platform::check_image(&target.source) {
            Ok(()) => self.modules.reload(id, None),
            Err(reason) => Err(Error::new(
                ErrorKind::ModuleNotLoadable,
                format!("{} is not a complete library yet: {reason}", target.source.display()),
            )),
        };
        let now = Instant::now();
        let Some(pending) = self.pending.get_mut(&id) else { return };
        let error = match result {
            Ok(generation) => {
                self.loaded.insert(id, print);
                return self.reloaded(id, &target, generation);
            }
            Err(e) if e.kind() == ErrorKind::ModuleDrainTimeout => {
                // The new generation serves; the old one finishes its calls in the background.
                let generation = self.modules.generation_number(id).unwrap_or(0);
                return self.reloaded(id, &target, generation);
            }
            Err(e) if matches!(e.kind(), ErrorKind::InvalidHandle | ErrorKind::HostStopped) => {
                // Unloaded meanwhile, or the host is stopping: nothing to report.
                self.pending.remove(&id);
                return;
            }
            Err(e) => e,
        };
        if is_incomplete(error.kind()) {
            let since = *pending.retrying_since.get_or_insert(now);
            let retried = now.saturating_duration_since(since);
            if retried < self.config.retry_limit {
                tracing::debug!(module = %target.name, error = %error, "module file incomplete; retrying");
                pending.due = now + self.config.retry;
                return;
            }
            let reason = format!("{} (still failing after {} ms of retries)", error.message(), retried.as_millis());
            return self.rolled_back(id, &target, &reason);
        }
        self.rolled_back(id, &target, error.message());
    }

    fn reloaded(&mut self, id: ModuleId, target: &WatchTarget, generation: u64) {
        let Some(pending) = self.pending.remove(&id) else { return };
        let ms = pending.last_event.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(module = %target.name, generation, ms, "module reloaded after its files changed");
        self.publish(
            RELOADED_TOPIC,
            &serde_json::json!({"module": target.name, "id": id.0, "generation": generation, "ms": ms}),
        );
    }

    fn rolled_back(&mut self, id: ModuleId, target: &WatchTarget, reason: &str) {
        self.pending.remove(&id);
        tracing::warn!(module = %target.name, reason, "changed module files not loaded; the previous generation keeps serving");
        self.publish(ROLLED_BACK_TOPIC, &serde_json::json!({"module": target.name, "id": id.0, "reason": reason}));
    }
}
