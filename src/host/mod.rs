//! The host: built from a configuration, it starts its components in dependency order, owns the
//! work modules and the shared services, and stops everything in reverse.
//!
//! This is the safe Rust API; `src/ffi` exposes it to C. Every method may be called from any
//! thread unless its doc says otherwise.

mod lifecycle;
mod shared;

pub use lifecycle::Component;
pub use shared::HostShared;

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::events::{Event, EventHandler};
use crate::extensions::package::{self, Installed};
use crate::extensions::{ExtensionWatcher, ExtensionsReport, Registry};
use crate::health::{self, CheckRun, Checker, HealthMonitor, HealthReport, Probe, Trigger};
use crate::logging::{self, LogCallback, LogSink};
use crate::modules::{ModuleId, ModuleManager, Watcher};
use crate::plugins::{PluginManager, PluginState, PluginStatus, StateListener};
use crate::python::{PoolStatus, PythonOutput, PythonPool, PythonRun};
use crate::services::{ServiceHandler, ServiceThreading};
use lifecycle::Lifecycle;
use parking_lot::Mutex;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// A running plughost host.
pub struct Host {
    config: Config,
    shared: Arc<HostShared>,
    modules: Arc<ModuleManager>,
    plugins: PluginManager,
    python: Arc<PythonPool>,
    watcher: Mutex<Option<Watcher>>,
    extensions: Arc<Registry>,
    extension_watcher: Mutex<Option<ExtensionWatcher>>,
    log_sink: Arc<LogSink>,
    lifecycle: Lifecycle,
    monitor: Mutex<Option<HealthMonitor>>,
    checker: Checker,
    started_at: Instant,
    stopped: AtomicBool,
}

impl Host {
    /// Parse `json` (empty = defaults), then create and start a host.
    pub fn from_json(json: &str) -> Result<Arc<Host>> {
        Host::start(Config::from_json(json)?)
    }

    /// Create a host and start its components in dependency order. The calling thread becomes
    /// the main thread (change it with [`set_main_thread`](Self::set_main_thread)).
    pub fn start(config: Config) -> Result<Arc<Host>> {
        let started_at = Instant::now();
        logging::install();
        let log_sink = LogSink::register(config.log_level);
        let shared = Arc::new(HostShared::new(&config));
        shared.services.main_thread().set_current();
        let modules = Arc::new(ModuleManager::new(&config.modules, shared.clone()));
        let extensions = Arc::new(Registry::new(&config.extensions, modules.clone(), shared.clone()));
        let plugins = PluginManager::new(&config, &shared, extensions.plugin_specs());
        let python = PythonPool::new(&config.python, &config.ipc, &shared);
        for probe in health::builtin_probes() {
            shared.probes.register(probe)?;
        }
        let host = Arc::new(Host {
            checker: Checker::new(&config.health),
            config,
            shared,
            modules,
            plugins,
            python,
            watcher: Mutex::new(None),
            extensions,
            extension_watcher: Mutex::new(None),
            log_sink,
            lifecycle: Lifecycle::default(),
            monitor: Mutex::new(None),
            started_at,
            stopped: AtomicBool::new(false),
        });
        for component in lifecycle::start_order() {
            host.start_component(component)?;
            host.lifecycle.started(component);
        }
        tracing::info!(ms = started_at.elapsed().as_secs_f64() * 1000.0, "host started");
        Ok(host)
    }

    fn start_component(self: &Arc<Self>, component: Component) -> Result<()> {
        match component {
            // Built in `start` already; nothing runs in the background.
            Component::Logging | Component::Storage | Component::Events | Component::Services | Component::Modules => {}
            Component::Plugins => self.plugins.start()?,
            Component::Python => self.python.start_with_host(),
            Component::Extensions => self.start_extensions()?,
            Component::Watch if self.config.modules.watch.enabled => self.start_watching()?,
            Component::Watch => {}
            Component::Ipc => {
                let swept = crate::ipc::segment::sweep_stale();
                if swept > 0 {
                    tracing::info!(swept, "removed shared-memory segments of processes that no longer run");
                }
            }
            Component::HealthMonitor => {
                let monitor = HealthMonitor::spawn(Arc::downgrade(self), self.config.health.interval)
                    .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start the health monitor thread: {e}")))?;
                *self.monitor.lock() = Some(monitor);
            }
        }
        Ok(())
    }

    fn stop_component(&self, component: Component) {
        match component {
            Component::HealthMonitor => {
                if let Some(monitor) = self.monitor.lock().take() {
                    monitor.stop();
                }
                self.shared.probes.clear();
            }
            Component::Extensions => {
                if let Some(watcher) = self.extension_watcher.lock().take() {
                    watcher.stop();
                }
            }
            Component::Watch => self.stop_watching(),
            Component::Modules => self.modules.stop(),
            Component::Plugins => {
                self.plugins.stop();
                self.plugins.clear_listeners();
            }
            Component::Python => self.python.stop(),
            Component::Ipc => {}
            Component::Services => {
                self.shared.services.main_thread().set_pump_request(None);
                self.shared.services.main_thread().fail_pending();
                self.shared.services.clear();
            }
            Component::Events => self.shared.events.clear(),
            Component::Storage => self.shared.storage.clear(),
            Component::Logging => self.log_sink.unregister(),
        }
        tracing::debug!(component = component.name(), "component stopped");
    }

    /// Stop every component in reverse start order: modules are drained and unloaded, services
    /// and subscriptions dropped. Idempotent; later calls on the host fail with `HostStopped`.
    pub fn stop(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        tracing::info!("host stopping");
        for component in self.lifecycle.take_stop_order() {
            self.stop_component(component);
        }
    }

    fn check_running(&self) -> Result<()> {
        if self.stopped.load(Ordering::SeqCst) {
            Err(Error::new(ErrorKind::HostStopped, "the host is stopped"))
        } else {
            Ok(())
        }
    }

    /// The configuration the host runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Storage, events and services.
    pub fn shared(&self) -> &Arc<HostShared> {
        &self.shared
    }

    /// Load the module at `path`. While watching is on, its files are watched from now on.
    pub fn load_module(&self, path: &Path) -> Result<ModuleId> {
        self.check_running()?;
        let id = self.modules.load(path)?;
        self.refresh_watch();
        Ok(id)
    }

    /// Execute `command` of module `id` on `input`, on the calling thread.
    #[inline]
    pub fn execute(&self, id: ModuleId, command: &str, input: &[u8]) -> Result<Vec<u8>> {
        self.modules.execute(id, command, input)
    }

    /// Reload module `id`, from `path` or from its current source. Returns the new generation.
    pub fn reload_module(&self, id: ModuleId, path: Option<&Path>) -> Result<u64> {
        self.check_running()?;
        let result = self.modules.reload(id, path);
        if path.is_some() {
            // The module's source may have moved: watch its new folder.
            self.refresh_watch();
        }
        result
    }

    /// Unload module `id` (and stop watching its files).
    pub fn unload_module(&self, id: ModuleId) -> Result<()> {
        self.check_running()?;
        let result = self.modules.unload(id);
        self.refresh_watch();
        result
    }

    /// Switch watching the modules' files on or off (`Modules.Watch.Enabled` sets it at start).
    ///
    /// While it is on, every loaded module's original file and the sibling libraries copied with it
    /// are watched, and a module whose files changed is reloaded once they have been quiet for
    /// `DebounceMs`, on the watcher's thread; the outcome is published on the bus
    /// ([`crate::modules::RELOADING_TOPIC`], [`crate::modules::RELOADED_TOPIC`],
    /// [`crate::modules::ROLLED_BACK_TOPIC`]). Switching it off ends the watcher's thread, waiting
    /// for a reload it is running (called from a handler on that thread, it does not wait).
    pub fn set_watching(&self, enabled: bool) -> Result<()> {
        self.check_running()?;
        if enabled {
            self.start_watching()
        } else {
            self.stop_watching();
            Ok(())
        }
    }

    /// Whether the modules' files are being watched.
    pub fn watching(&self) -> bool {
        self.watcher.lock().is_some()
    }

    fn start_watching(&self) -> Result<()> {
        let mut watcher = self.watcher.lock();
        // Checked under the lock: a stop that began meanwhile takes the watcher after this.
        self.check_running()?;
        if watcher.is_none() {
            *watcher =
                Some(Watcher::start(self.modules.clone(), self.shared.clone(), self.config.modules.watch.clone())?);
        }
        Ok(())
    }

    fn stop_watching(&self) {
        // Taken out first: a handler on the watcher's thread may load or unload (and so refresh).
        let watcher = self.watcher.lock().take();
        if let Some(watcher) = watcher {
            let main_thread = self.shared.services.main_thread();
            let pump = || {
                main_thread.pump_if_current();
            };
            watcher.stop(main_thread.is_current().then_some(&pump as &dyn Fn()));
        }
    }

    fn refresh_watch(&self) {
        if let Some(watcher) = self.watcher.lock().as_ref() {
            watcher.refresh();
        }
    }

    fn start_extensions(self: &Arc<Self>) -> Result<()> {
        self.extensions.start();
        self.refresh_watch();
        if self.config.extensions.watch {
            let host = Arc::downgrade(self);
            let rescan = Box::new(move || {
                if let Some(host) = host.upgrade() {
                    let _ = host.rescan_extensions();
                }
            });
            let watcher = ExtensionWatcher::start(&self.extensions.roots(), self.config.extensions.debounce, rescan)?;
            *self.extension_watcher.lock() = Some(watcher);
        }
        Ok(())
    }

    /// The discovered extensions: load order, each one's state and problems.
    pub fn extensions(&self) -> ExtensionsReport {
        self.extensions.report()
    }

    /// The discovered extensions as JSON (see [`ExtensionsReport`]).
    pub fn extensions_json(&self) -> String {
        serde_json::to_string_pretty(&self.extensions()).expect("the extensions report serialises")
    }

    /// Scan the extension folders again now: new module extensions are loaded, removed or changed
    /// ones unloaded, and the changes published ([`crate::extensions::ADDED_TOPIC`],
    /// [`crate::extensions::REMOVED_TOPIC`], [`crate::extensions::FAILED_TOPIC`]).
    /// `Extensions.Watch` does this on its own after a change.
    pub fn rescan_extensions(&self) -> Result<ExtensionsReport> {
        self.check_running()?;
        let report = self.extensions.rescan();
        self.refresh_watch();
        Ok(report)
    }

    /// The module id of the loaded module extension `name`.
    pub fn extension_module(&self, name: &str) -> Result<ModuleId> {
        self.extensions
            .module_id(name)
            .ok_or_else(|| Error::new(ErrorKind::ModuleNotFound, format!("no module extension \"{name}\" is loaded")))
    }

    /// Validate the package at `path` against `PlugHost.Extensions` (trusted keys,
    /// `AllowUnsigned`, limits), install it into the store and rescan.
    pub fn install_package(&self, path: &Path) -> Result<Installed> {
        self.check_running()?;
        let installed = package::install(path, &self.config.extensions)?;
        for warning in &installed.report.warnings {
            tracing::warn!(package = %path.display(), "{warning}");
        }
        tracing::info!(package = %path.display(), directory = %installed.directory.display(), "package installed");
        self.rescan_extensions()?;
        Ok(installed)
    }

    /// Register a service of the embedding application.
    pub fn register_service(&self, name: &str, threading: ServiceThreading, handler: ServiceHandler) -> Result<()> {
        self.check_running()?;
        self.shared.services.register(name, threading, handler)
    }

    /// Remove a service.
    pub fn unregister_service(&self, name: &str) -> Result<()> {
        self.check_running()?;
        self.shared.services.unregister(name)
    }

    /// Call a service as a module would.
    pub fn call_service(&self, name: &str, input: &[u8]) -> Result<Vec<u8>> {
        self.check_running()?;
        self.shared.services.call(name, input)
    }

    /// Declare the calling thread the main thread.
    pub fn set_main_thread(&self) {
        self.shared.services.main_thread().set_current();
    }

    /// Run up to `max` queued main-thread calls (0 = all queued now). Main thread only.
    pub fn pump(&self, max: usize) -> Result<usize> {
        self.shared.services.main_thread().pump(max)
    }

    /// Set or clear the callback told when a main-thread call is queued (called on the queuing thread).
    pub fn set_pump_request(&self, callback: Option<Arc<dyn Fn() + Send + Sync>>) {
        self.shared.services.main_thread().set_pump_request(callback);
    }

    /// Set or clear the log callback.
    pub fn set_log_callback(&self, callback: Option<LogCallback>) {
        self.log_sink.set_callback(callback);
    }

    /// Change the log level (0 = off .. 5 = trace).
    pub fn set_log_level(&self, level: u32) -> Result<()> {
        if level > 5 {
            return Err(Error::new(ErrorKind::InvalidArgument, format!("log level {level} is not in 0..=5")));
        }
        self.log_sink.set_level(level);
        Ok(())
    }

    /// Read a storage value.
    pub fn storage_get(&self, key: &str) -> Result<Vec<u8>> {
        self.check_running()?;
        self.shared.storage.get(key)
    }

    /// Write a storage value.
    pub fn storage_set(&self, key: &str, value: &[u8]) -> Result<()> {
        self.check_running()?;
        self.shared.storage.set(key, value)
    }

    /// Publish an event from the host.
    pub fn publish(&self, topic: &str, payload: &[u8]) -> Result<usize> {
        self.check_running()?;
        self.shared.events.publish(topic, "host", payload)
    }

    /// Subscribe to a topic (`"*"` for all).
    pub fn subscribe(&self, topic: &str, handler: EventHandler) -> Result<u64> {
        self.check_running()?;
        self.shared.events.subscribe(topic, handler)
    }

    /// End a subscription.
    pub fn unsubscribe(&self, id: u64) -> Result<()> {
        self.check_running()?;
        self.shared.events.unsubscribe(id)
    }

    /// The kept events of a topic.
    pub fn event_history(&self, topic: &str) -> Vec<Event> {
        self.shared.events.history(topic)
    }

    /// Start plugin `name` and wait until it runs (nothing to do if it does). A crashed plugin's
    /// restart window starts afresh.
    pub fn start_plugin(&self, name: &str) -> Result<()> {
        self.check_running()?;
        self.plugins.slot(name)?.start()
    }

    /// Stop plugin `name` gracefully (its `shutdown`, then a kill after its shutdown timeout).
    /// Calls do not start it again until [`Host::start_plugin`] (unless it runs on demand).
    pub fn stop_plugin(&self, name: &str) -> Result<()> {
        self.check_running()?;
        self.plugins.slot(name)?.stop("stop requested", false);
        Ok(())
    }

    /// Run `command` of plugin `name` with `input`, within `timeout` (the plugin's
    /// `CallTimeoutMs` when `None`). A plugin that is starting or restarting is waited for; one
    /// stopped on demand or for being idle is started.
    pub fn call_plugin(
        &self,
        name: &str,
        command: &str,
        input: &[u8],
        timeout: Option<std::time::Duration>,
    ) -> Result<Vec<u8>> {
        self.check_running()?;
        self.plugins.slot(name)?.call(command, input, timeout)
    }

    /// The state of plugin `name`.
    pub fn plugin_state(&self, name: &str) -> Result<PluginState> {
        Ok(self.plugins.slot(name)?.state())
    }

    /// Every plugin's status.
    pub fn plugins(&self) -> Vec<PluginStatus> {
        self.plugins.statuses()
    }

    /// Hear of every plugin state change (`plugin, from, to, reason`), on the thread that caused
    /// it; returns the subscription id. The bus also carries them, on [`crate::plugins::STATE_TOPIC`].
    pub fn subscribe_plugin_states(&self, listener: StateListener) -> Result<u64> {
        self.check_running()?;
        Ok(self.plugins.subscribe(listener))
    }

    /// End a plugin state subscription.
    pub fn unsubscribe_plugin_states(&self, id: u64) -> Result<()> {
        self.plugins.unsubscribe(id)
    }

    /// Run Python in the pool (started by the first run unless `Python.Start` is `host-start`).
    /// A script's exception is `Ok` with the exception in [`PythonOutput::result`]; the errors
    /// are the pool's: `PythonUnavailable`, `PoolSaturated`, `Timeout` (the worker is killed and
    /// started again), `PythonMemoryLimit`, `PythonWorkerCrashed`, `PythonSessionLost`,
    /// `InvalidArgument`.
    pub fn run_python(&self, run: &PythonRun) -> Result<PythonOutput> {
        self.check_running()?;
        self.python.run(run)
    }

    /// Forget the named Python session's globals; whether it existed.
    pub fn drop_python_session(&self, name: &str) -> Result<bool> {
        self.check_running()?;
        self.python.drop_session(name)
    }

    /// The Python pool's workers, queue and counters.
    pub fn python_status(&self) -> PoolStatus {
        self.python.status()
    }

    /// The Python pool (for health).
    pub(crate) fn python_pool(&self) -> &PythonPool {
        &self.python
    }

    /// The plugins' manager (for health).
    pub(crate) fn plugin_manager(&self) -> &PluginManager {
        &self.plugins
    }

    /// The work modules (for the health probes).
    pub(crate) fn modules(&self) -> &Arc<ModuleManager> {
        &self.modules
    }

    /// Whether the watcher's thread runs and how many folders it watches; `None` when not watching.
    pub(crate) fn watch_state(&self) -> Option<(bool, usize)> {
        self.watcher.lock().as_ref().map(Watcher::state)
    }

    /// Run a health check now, as the monitor does every `Health.IntervalMs`: every probe, then
    /// (with `Health.Recovery`) recovery of what they found; transitions and recovery outcomes
    /// are published ([`health::TRANSITION_TOPIC`], [`health::RECOVERY_TOPIC`],
    /// [`health::STATUS_TOPIC`]) and logged, and the check joins the history. Checks are
    /// serialised: this waits for a check in progress. Not from a handler of those topics.
    pub fn check_health(&self) -> Result<CheckRun> {
        self.check_running()?;
        Ok(self.run_check(Trigger::Request))
    }

    pub(crate) fn run_check(&self, trigger: Trigger) -> CheckRun {
        self.checker.run(self, trigger)
    }

    /// The kept health checks (up to `Health.HistorySize`), oldest first.
    pub fn health_history(&self) -> Vec<CheckRun> {
        self.checker.history()
    }

    /// The latest health check, if one ran.
    pub(crate) fn last_check(&self) -> Option<CheckRun> {
        self.checker.last()
    }

    /// The kept health checks as a JSON array, oldest first.
    pub fn health_history_json(&self) -> String {
        serde_json::to_string_pretty(&self.health_history()).expect("health history serialises")
    }

    /// Add a health probe (see [`Probe`]); returns its id. Its component name must be new.
    pub fn register_probe(&self, probe: Arc<dyn Probe>) -> Result<u64> {
        self.check_running()?;
        self.shared.probes.register(probe)
    }

    /// Remove health probe `id`.
    pub fn unregister_probe(&self, id: u64) -> Result<()> {
        self.shared.probes.unregister(id)
    }

    /// Housekeeping: retire drained and unmapped old generations. Called by the health monitor.
    pub fn maintain(&self) {
        self.modules.reap();
    }

    /// The health report, computed now.
    pub fn health(&self) -> HealthReport {
        health::report(
            self,
            &self.modules,
            &self.lifecycle.running(),
            self.started_at,
            self.stopped.load(Ordering::SeqCst),
        )
    }

    /// The health report as JSON.
    pub fn health_json(&self) -> String {
        serde_json::to_string_pretty(&self.health()).expect("health serialises")
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.stop();
    }
}
