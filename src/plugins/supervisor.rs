//! One plugin under supervision: its state machine, starts and restarts, graceful stops, calls.
//!
//! Every change of state happens under the slot's lock; listeners hear of it after the lock is
//! released. Each start gets a new generation number; news about an older generation (its
//! process ending, a start finishing after a stop) is recognised and ignored. The process's end
//! is seen by a waiter thread blocked in `waitid`, so a crash is noticed at once; what follows
//! depends on the restart policy: `Restarting` with exponential backoff, or `Crashed` for good
//! when the policy says never or the restart limit of the window is reached.

use super::child::{self, ChildProcess};
use super::process::{self, Instance};
use super::protocol::{INITIALIZE, LIFECYCLE_SERVICE, PLUGIN_CHANNEL, PLUGIN_SERVICE, SHUTDOWN};
use super::state::PluginState;
use crate::config::{IpcSettings, PluginSpec, RestartPolicy};
use crate::error::{Error, ErrorKind, Result};
use crate::host::HostShared;
use crate::ipc::session::IpcError;
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Told of every change of state: `(plugin, from, to, reason)`, outside every plugin lock.
pub type StateListener = Arc<dyn Fn(&str, PluginState, PluginState, &str) + Send + Sync>;

/// How long a stop waits for the process after killing it.
const KILL_GRACE: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    failures: AtomicU64,
    crashes: AtomicU64,
    restarts: AtomicU64,
    starts: AtomicU64,
}

struct SlotInner {
    state: PluginState,
    instance: Option<Arc<Instance>>,
    generation: u64,
    /// When the restarts of the current window happened.
    restarts: VecDeque<Instant>,
    /// Why it is in its state.
    reason: String,
    /// Set when a start failed before its process ended, for the crash report.
    start_failure: Option<String>,
    /// A stop was asked for: the process's end is not a crash.
    stopping: bool,
    /// A call in the `Stopped` state starts it (on demand, or stopped for being idle).
    start_on_call: bool,
    last_call: Instant,
    in_flight: usize,
}

/// One plugin: its specification and its state.
pub struct PluginSlot {
    /// What it is and how it is supervised.
    pub spec: PluginSpec,
    shared: Arc<HostShared>,
    ipc: IpcSettings,
    inner: Mutex<SlotInner>,
    changed: Condvar,
    counters: Counters,
    listener: StateListener,
}

/// A snapshot of a plugin for health and the C ABI's list.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PluginStatus {
    /// Its name.
    pub name: String,
    /// Its state.
    pub state: &'static str,
    /// Why it is in that state.
    pub reason: String,
    /// Its process id while one runs.
    pub pid: Option<u32>,
    /// The program.
    pub program: String,
    /// `configuration` or the manifest it came from.
    pub origin: String,
    /// Its restart policy.
    pub restart_policy: RestartPolicy,
    /// Restarts within the current window.
    pub restarts_in_window: usize,
    /// Restarts since the host started.
    pub restarts: u64,
    /// Unexpected ends since the host started.
    pub crashes: u64,
    /// Processes started.
    pub starts: u64,
    /// Calls made.
    pub calls: u64,
    /// Calls that failed.
    pub failures: u64,
    /// Calls running now.
    pub in_flight: usize,
    /// How long the current process has run.
    pub uptime_ms: Option<u64>,
    /// How long since the last call.
    pub idle_ms: u64,
    /// Events that could not be forwarded to it in time.
    pub events_dropped: u64,
    /// CPU time and memory of its process.
    #[serde(flatten)]
    pub usage: crate::platform::ProcessUsage,
}

/// How a call's session error reads for the plugin's caller.
fn call_error(name: &str, e: IpcError, stopped: bool) -> Error {
    match e {
        IpcError::Remote { status, message } => {
            let status_name = ErrorKind::from_code(status).map_or("PLUGHOST_ERR_UNKNOWN", ErrorKind::name);
            Error::new(
                ErrorKind::PluginFailed,
                format!("plugin \"{name}\" failed with {status_name} ({status}): {message}"),
            )
        }
        IpcError::NoSuchService(message) => {
            Error::new(ErrorKind::PluginFailed, format!("plugin \"{name}\" serves no commands: {message}"))
        }
        IpcError::PeerDead(_) | IpcError::Closed | IpcError::Malformed(_) if stopped => {
            Error::new(ErrorKind::PluginNotRunning, format!("plugin \"{name}\" was stopped during the call"))
        }
        IpcError::PeerDead(why) => {
            Error::new(ErrorKind::PluginCrashed, format!("plugin \"{name}\" ended during the call: {why}"))
        }
        IpcError::Closed | IpcError::Malformed(_) => {
            Error::new(ErrorKind::PluginCrashed, format!("plugin \"{name}\" ended the call: {e}"))
        }
        other => Error::from(other),
    }
}

impl PluginSlot {
    /// A stopped plugin.
    pub fn new(spec: PluginSpec, shared: Arc<HostShared>, ipc: IpcSettings, listener: StateListener) -> Arc<Self> {
        let inner = SlotInner {
            state: PluginState::Stopped,
            instance: None,
            generation: 0,
            restarts: VecDeque::new(),
            reason: if spec.on_demand { "started by its first call".into() } else { "not started yet".into() },
            start_failure: None,
            stopping: false,
            start_on_call: spec.on_demand,
            last_call: Instant::now(),
            in_flight: 0,
        };
        Arc::new(PluginSlot {
            spec,
            shared,
            ipc,
            inner: Mutex::new(inner),
            changed: Condvar::new(),
            counters: Counters::default(),
            listener,
        })
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The state.
    pub fn state(&self) -> PluginState {
        self.inner.lock().state
    }

    /// The current generation: it grows with every start and restart, so a new process has a new
    /// one.
    pub fn generation(&self) -> u64 {
        self.inner.lock().generation
    }

    /// The id of the running process, if one runs.
    pub fn pid(&self) -> Option<u32> {
        self.inner.lock().instance.as_ref().map(|i| i.child.pid())
    }

    /// Kill the current process (`why` is logged) and wait until its end has been handled: as a
    /// crash, so the restart policy applies. Used when a call must not run on, such as a script
    /// past its timeout.
    pub fn kill(&self, why: &str) {
        let (instance, generation) = {
            let g = self.inner.lock();
            (g.instance.clone(), g.generation)
        };
        if let Some(instance) = instance {
            tracing::warn!(plugin = %self.spec.name, pid = instance.child.pid(), why, "killing the plugin's process");
            instance.child.kill();
            self.wait_for_end(generation, Instant::now() + KILL_GRACE);
        }
    }

    /// Change the state under `guard`, then tell the listener after releasing it.
    fn transition(&self, mut guard: MutexGuard<'_, SlotInner>, to: PluginState, reason: String) {
        let from = guard.state;
        guard.state = to;
        guard.reason = reason.clone();
        drop(guard);
        match to {
            PluginState::Crashed | PluginState::Restarting => {
                tracing::warn!(plugin = %self.spec.name, from = from.name(), to = to.name(), %reason, "plugin state")
            }
            _ => tracing::info!(plugin = %self.spec.name, from = from.name(), to = to.name(), %reason, "plugin state"),
        }
        // Listeners first, then the waiting callers: a caller woken by a change finds it told.
        (self.listener)(&self.spec.name, from, to, &reason);
        self.changed.notify_all();
    }

    /// Start the plugin and wait until it runs (or failed to start). Starting a crashed plugin
    /// resets its restart window. Already running (or starting): nothing to do.
    pub fn start(self: &Arc<Self>) -> Result<()> {
        let mut g = self.inner.lock();
        loop {
            match g.state {
                PluginState::Running => return Ok(()),
                PluginState::Starting | PluginState::Initializing | PluginState::ShuttingDown => {
                    self.changed.wait(&mut g);
                }
                PluginState::Stopped | PluginState::Crashed | PluginState::Restarting => break,
            }
        }
        g.generation += 1;
        g.restarts.clear();
        g.stopping = false;
        let generation = g.generation;
        self.transition(g, PluginState::Starting, "start requested".into());
        self.bring_up(generation)
    }

    /// Launch and initialise generation `generation` (the state is `Starting`).
    fn bring_up(self: &Arc<Self>, generation: u64) -> Result<()> {
        self.counters.starts.fetch_add(1, Ordering::Relaxed);
        let instance = match process::launch(&self.spec, &self.ipc, &self.shared, generation) {
            Ok(instance) => Arc::new(instance),
            Err(e) => {
                let g = self.inner.lock();
                if g.generation == generation {
                    self.after_end(g, e.message().to_owned(), true);
                }
                return Err(e);
            }
        };
        self.watch(generation, instance.child.clone());
        {
            let mut g = self.inner.lock();
            if g.generation != generation {
                drop(g);
                instance.session.close();
                instance.child.kill();
                return Err(Error::new(
                    ErrorKind::PluginNotRunning,
                    format!("plugin \"{}\" was stopped while starting", self.spec.name),
                ));
            }
            g.instance = Some(instance.clone());
            let pid = instance.child.pid();
            self.transition(g, PluginState::Initializing, format!("process {pid} started"));
        }
        let init = instance.session.call_on(
            PLUGIN_CHANNEL,
            LIFECYCLE_SERVICE,
            INITIALIZE,
            self.spec.config.as_bytes(),
            self.spec.start_timeout,
        );
        let mut g = self.inner.lock();
        if g.generation != generation {
            return Err(Error::new(
                ErrorKind::PluginNotRunning,
                format!("plugin \"{}\" was stopped while starting", self.spec.name),
            ));
        }
        if g.state != PluginState::Initializing {
            // Its process ended during initialize; the waiter has applied the restart policy.
            let message = format!("plugin \"{}\" could not be started: {}", self.spec.name, g.reason);
            return Err(Error::new(ErrorKind::PluginStartFailed, message));
        }
        match init {
            Ok(_) => {
                g.last_call = Instant::now();
                self.transition(g, PluginState::Running, "initialized".into());
                Ok(())
            }
            Err(e) => {
                let why = format!("initialize failed: {e}");
                g.start_failure = Some(why.clone());
                drop(g);
                // The waiter sees the end and applies the restart policy; wait for it, so that the
                // state says what happened when this returns.
                instance.child.kill();
                self.wait_for_end(generation, Instant::now() + KILL_GRACE);
                Err(Error::new(
                    ErrorKind::PluginStartFailed,
                    format!("plugin \"{}\" could not be started: {why}", self.spec.name),
                ))
            }
        }
    }

    /// Wait for the end of generation `generation`'s process on a thread of its own.
    fn watch(self: &Arc<Self>, generation: u64, child: Arc<ChildProcess>) {
        let slot = self.clone();
        let spawned =
            std::thread::Builder::new().name(format!("plughost-plugin-wait-{}", self.spec.name)).spawn(move || {
                let status = child.wait_exit();
                slot.exited(
                    generation,
                    status.as_ref().map_or("ended (its status is unknown)".into(), child::describe),
                    status.is_some_and(|s| s.success()),
                );
            });
        if let Err(e) = spawned {
            tracing::error!(plugin = %self.spec.name, error = %e, "no thread to watch the plugin's process");
        }
    }

    /// Generation `generation`'s process ended (`how`; `clean` for exit status 0).
    fn exited(self: &Arc<Self>, generation: u64, how: String, clean: bool) {
        let mut g = self.inner.lock();
        if g.generation != generation {
            return;
        }
        let instance = g.instance.take();
        if let Some(instance) = &instance {
            instance.subscriptions.end_all(&self.shared);
        }
        if g.stopping || g.state == PluginState::ShuttingDown {
            g.stopping = false;
            let reason = format!("{}; the process {how}", g.reason);
            self.transition(g, PluginState::Stopped, reason);
        } else {
            let reason = match g.start_failure.take() {
                Some(failure) => format!("{failure}; the process {how}"),
                None => format!("the process {how}"),
            };
            self.after_end(g, reason, !clean);
        }
        if let Some(instance) = instance {
            instance.session.close();
        }
    }

    /// The process of the current generation ended unexpectedly (or never started): apply the
    /// restart policy.
    fn after_end(self: &Arc<Self>, mut g: MutexGuard<'_, SlotInner>, reason: String, failed: bool) {
        let spec = &self.spec;
        if failed {
            self.counters.crashes.fetch_add(1, Ordering::Relaxed);
        }
        let restart = match spec.restart {
            RestartPolicy::Never => false,
            RestartPolicy::OnFailure => failed,
            RestartPolicy::Always => true,
        };
        if !restart {
            let (to, note) = if failed {
                (PluginState::Crashed, "not restarted: policy never")
            } else {
                (PluginState::Stopped, "ended cleanly on its own")
            };
            self.transition(g, to, format!("{reason}; {note}"));
            return;
        }
        let now = Instant::now();
        while g.restarts.front().is_some_and(|t| now.duration_since(*t) > spec.restart_window) {
            g.restarts.pop_front();
        }
        if g.restarts.len() >= spec.max_restarts as usize {
            let note =
                format!("gave up after {} restarts within {} ms", g.restarts.len(), spec.restart_window.as_millis());
            self.transition(g, PluginState::Crashed, format!("{reason}; {note}"));
            return;
        }
        let doublings = g.restarts.len().min(20) as u32;
        let delay = spec.backoff.saturating_mul(1 << doublings).min(spec.backoff_max);
        g.restarts.push_back(now);
        let generation = g.generation;
        self.transition(g, PluginState::Restarting, format!("{reason}; restarting in {} ms", delay.as_millis()));
        let slot = self.clone();
        let spawned =
            std::thread::Builder::new().name(format!("plughost-plugin-restart-{}", spec.name)).spawn(move || {
                std::thread::sleep(delay);
                slot.restart(generation);
            });
        if let Err(e) = spawned {
            tracing::error!(plugin = %spec.name, error = %e, "no thread to restart the plugin");
        }
    }

    /// The backoff of generation `generation` ran out: start again unless something else happened.
    fn restart(self: &Arc<Self>, generation: u64) {
        let mut g = self.inner.lock();
        if g.generation != generation || g.state != PluginState::Restarting {
            return;
        }
        g.generation += 1;
        let next = g.generation;
        self.counters.restarts.fetch_add(1, Ordering::Relaxed);
        self.transition(g, PluginState::Starting, "restarting".into());
        if let Err(e) = self.bring_up(next) {
            tracing::warn!(plugin = %self.spec.name, error = %e, "restart failed");
        }
    }

    /// Stop gracefully: `shutdown`, goodbye, wait up to the shutdown timeout, then kill. A later
    /// call does not start it again unless `start_on_call` (an idle stop).
    pub fn stop(self: &Arc<Self>, reason: &str, start_on_call: bool) {
        let mut g = self.inner.lock();
        g.start_on_call = start_on_call || self.spec.on_demand;
        let instance = match g.state {
            PluginState::Stopped | PluginState::Crashed => return,
            PluginState::Restarting | PluginState::Starting if g.instance.is_none() => {
                g.generation += 1;
                self.transition(g, PluginState::Stopped, reason.to_owned());
                return;
            }
            _ => g.instance.clone(),
        };
        let Some(instance) = instance else { return };
        if g.state != PluginState::ShuttingDown {
            g.stopping = true;
            self.transition(g, PluginState::ShuttingDown, reason.to_owned());
        } else {
            drop(g);
        }
        let deadline = Instant::now() + self.spec.shutdown_timeout;
        if let Err(e) =
            instance.session.call_on(PLUGIN_CHANNEL, LIFECYCLE_SERVICE, SHUTDOWN, b"", self.spec.shutdown_timeout)
        {
            tracing::debug!(plugin = %self.spec.name, error = %e, "the plugin's shutdown failed");
        }
        instance.session.close();
        if !self.wait_for_end(instance.generation, deadline) {
            tracing::warn!(plugin = %self.spec.name, "the plugin did not exit in time; killing it");
            instance.child.kill();
            self.wait_for_end(instance.generation, Instant::now() + KILL_GRACE);
        }
    }

    /// Wait until generation `generation` has ended (its waiter ran) or `deadline`.
    fn wait_for_end(&self, generation: u64, deadline: Instant) -> bool {
        let mut g = self.inner.lock();
        while g.generation == generation && g.instance.is_some() {
            if self.changed.wait_until(&mut g, deadline).timed_out() {
                return g.generation != generation || g.instance.is_none();
            }
        }
        true
    }

    /// Run `command` with `input` (the plugin's default deadline when `timeout` is `None`).
    pub fn call(self: &Arc<Self>, command: &str, input: &[u8], timeout: Option<Duration>) -> Result<Vec<u8>> {
        let deadline = Instant::now() + timeout.unwrap_or(self.spec.call_timeout);
        let name = &self.spec.name;
        let instance = loop {
            let mut g = self.inner.lock();
            match g.state {
                PluginState::Running => {
                    let instance = g.instance.clone().expect("a running plugin has its instance");
                    if instance.session.status().is_err() {
                        // Its session ended (the process died, or broke the protocol): the end
                        // of the process is on its way, or is brought about here; the call waits
                        // for the restart like any call during one.
                        instance.child.kill();
                        if self.changed.wait_until(&mut g, deadline).timed_out() {
                            return Err(Error::new(ErrorKind::PluginCrashed, format!("plugin \"{name}\" ended")));
                        }
                        continue;
                    }
                    g.in_flight += 1;
                    g.last_call = Instant::now();
                    break instance;
                }
                PluginState::Stopped if g.start_on_call => {
                    drop(g);
                    self.start()?;
                }
                PluginState::Stopped | PluginState::Crashed => {
                    let message = format!("plugin \"{name}\" is {}: {}", g.state, g.reason);
                    return Err(Error::new(ErrorKind::PluginNotRunning, message));
                }
                _ => {
                    if self.changed.wait_until(&mut g, deadline).timed_out() {
                        let message = format!("plugin \"{name}\" is still {} after the call's deadline", g.state);
                        return Err(Error::new(ErrorKind::Timeout, message));
                    }
                }
            }
        };
        self.counters.calls.fetch_add(1, Ordering::Relaxed);
        let remaining = deadline.saturating_duration_since(Instant::now());
        let main = self.shared.services.main_thread();
        let result = if main.is_current() {
            // A plugin may need a main-thread service (such as Revit's API) in the middle of its
            // command: the main thread runs them while it waits, or it would wait for itself.
            let pump = || {
                let _ = main.pump(0);
            };
            instance.session.call_while_waiting(PLUGIN_CHANNEL, PLUGIN_SERVICE, command, input, remaining, &pump)
        } else {
            instance.session.call_on(PLUGIN_CHANNEL, PLUGIN_SERVICE, command, input, remaining)
        };
        let stopped = {
            let mut g = self.inner.lock();
            g.in_flight -= 1;
            g.last_call = Instant::now();
            g.stopping || matches!(g.state, PluginState::ShuttingDown | PluginState::Stopped)
        };
        result.map_err(|e| {
            self.counters.failures.fetch_add(1, Ordering::Relaxed);
            call_error(name, e, stopped)
        })
    }

    /// Stop the plugin if it has been idle longer than its idle TTL (on this thread).
    pub fn stop_if_idle(self: &Arc<Self>) {
        let Some(ttl) = self.spec.idle_ttl else { return };
        let idle = {
            let g = self.inner.lock();
            g.state == PluginState::Running && g.in_flight == 0 && g.last_call.elapsed() >= ttl
        };
        if idle {
            self.stop(&format!("idle for {} ms; the next call starts it again", ttl.as_millis()), true);
        }
    }

    /// A snapshot for health.
    pub fn status(&self) -> PluginStatus {
        let g = self.inner.lock();
        let pid = g.instance.as_ref().filter(|_| g.state.is_live()).map(|i| i.child.pid());
        let c = &self.counters;
        PluginStatus {
            name: self.spec.name.clone(),
            state: g.state.name(),
            reason: g.reason.clone(),
            pid,
            program: self.spec.program.display().to_string(),
            origin: self.spec.origin.clone(),
            restart_policy: self.spec.restart,
            restarts_in_window: g.restarts.iter().filter(|t| t.elapsed() <= self.spec.restart_window).count(),
            restarts: c.restarts.load(Ordering::Relaxed),
            crashes: c.crashes.load(Ordering::Relaxed),
            starts: c.starts.load(Ordering::Relaxed),
            calls: c.calls.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            in_flight: g.in_flight,
            uptime_ms: g.instance.as_ref().map(|i| i.started.elapsed().as_millis() as u64),
            idle_ms: g.last_call.elapsed().as_millis() as u64,
            events_dropped: g.instance.as_ref().map_or(0, |i| i.subscriptions.dropped.load(Ordering::Relaxed)),
            usage: pid.map(crate::platform::process_usage).unwrap_or_default(),
        }
    }
}
