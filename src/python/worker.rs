//! One worker of the pool: a supervised plugin process running `plughost-python-worker`
//! (restarted whenever it ends), with the counters health shows.

use super::protocol::{WorkerSettings, SETTINGS_ENV};
use crate::config::{IpcSettings, PluginSpec, PythonConfig, RestartPolicy};
use crate::host::HostShared;
use crate::plugins::{PluginSlot, PluginState};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Restarts allowed per minute before a worker is given up as crashed (a timeout restarts it too).
const MAX_RESTARTS_PER_MINUTE: u32 = 120;

/// A worker's counters.
#[derive(Default)]
pub struct WorkerCounters {
    /// Runs answered (values and exceptions).
    pub runs: AtomicU64,
    /// Runs since the current process started (reset by recycling and restarts).
    pub runs_since_start: AtomicU64,
    /// Runs killed at their timeout.
    pub timeouts: AtomicU64,
    /// Runs during which the process ended.
    pub crashes: AtomicU64,
    /// Processes replaced after their run count or their size.
    pub recycles: AtomicU64,
}

/// One worker.
pub struct Worker {
    /// Its place in the pool.
    pub index: usize,
    /// The supervised process.
    pub slot: Arc<PluginSlot>,
    /// Its counters.
    pub counters: WorkerCounters,
}

/// A snapshot for health.
#[derive(Clone, Debug, serde::Serialize)]
pub struct WorkerStatus {
    /// Its place in the pool.
    pub index: usize,
    /// The process's state (`running`, `restarting`, ...).
    pub state: &'static str,
    /// Why it is in that state.
    pub reason: String,
    /// Whether a run is on it now.
    pub busy: bool,
    /// How far past its run's deadline it is, in milliseconds (0 before the deadline).
    pub overdue_ms: Option<u64>,
    /// Its process id.
    pub pid: Option<u32>,
    /// Runs answered.
    pub runs: u64,
    /// Processes started after the first (restarts after crashes and timeouts, and recycling).
    pub restarts: u64,
    /// Runs killed at their timeout.
    pub timeouts: u64,
    /// Runs during which the process ended.
    pub crashes: u64,
    /// Processes replaced after their run count or size.
    pub recycles: u64,
    /// Resident size in bytes.
    pub rss_bytes: Option<u64>,
}

impl Worker {
    /// A stopped worker running `program` with the pool's settings.
    pub fn new(
        index: usize,
        program: &Path,
        config: &PythonConfig,
        ipc: &IpcSettings,
        shared: &Arc<HostShared>,
    ) -> Arc<Worker> {
        let settings = WorkerSettings {
            memory_limit: config.memory_limit,
            sys_path: config.sys_path.iter().map(|p| p.display().to_string()).collect(),
            sandbox: config.sandbox.enabled.then(|| config.sandbox.policy.clone()),
        };
        let settings = serde_json::to_string(&settings).expect("worker settings serialise");
        let spec = PluginSpec {
            name: format!("python-worker-{index}"),
            program: program.to_path_buf(),
            args: Vec::new(),
            config: "{}".into(),
            restart: RestartPolicy::Always,
            max_restarts: MAX_RESTARTS_PER_MINUTE,
            restart_window: Duration::from_secs(60),
            backoff: Duration::ZERO,
            backoff_max: Duration::from_secs(1),
            idle_ttl: None,
            on_demand: false,
            start_timeout: config.start_timeout,
            shutdown_timeout: Duration::from_secs(2),
            call_timeout: config.timeout,
            origin: "PlugHost.Python".into(),
            env: vec![(SETTINGS_ENV.into(), settings), ("MALLOC_ARENA_MAX".into(), "2".into())],
        };
        let listener = Arc::new(|_: &str, _: PluginState, _: PluginState, _: &str| {});
        let slot = PluginSlot::new(spec, shared.clone(), ipc.clone(), listener);
        Arc::new(Worker { index, slot, counters: WorkerCounters::default() })
    }

    /// Replace the process with a fresh one (`why` is logged); its sessions are lost.
    pub fn recycle(&self, why: &str) {
        tracing::info!(worker = self.index, why, "recycling a Python worker");
        self.counters.recycles.fetch_add(1, Ordering::Relaxed);
        self.counters.runs_since_start.store(0, Ordering::Relaxed);
        self.slot.stop(why, false);
        if let Err(e) = self.slot.start() {
            tracing::warn!(worker = self.index, error = %e, "a recycled Python worker did not start");
        }
    }

    /// Its resident size in bytes.
    pub fn rss(&self) -> Option<u64> {
        self.slot.pid().and_then(|pid| crate::platform::process_usage(pid).rss_bytes)
    }

    /// A snapshot for health.
    pub fn status(&self, busy_until: Option<std::time::Instant>) -> WorkerStatus {
        let s = self.slot.status();
        let c = &self.counters;
        WorkerStatus {
            index: self.index,
            state: s.state,
            reason: s.reason,
            busy: busy_until.is_some(),
            overdue_ms: busy_until.map(|t| t.elapsed().as_millis() as u64),
            pid: s.pid,
            runs: c.runs.load(Ordering::Relaxed),
            restarts: s.starts.saturating_sub(1),
            timeouts: c.timeouts.load(Ordering::Relaxed),
            crashes: c.crashes.load(Ordering::Relaxed),
            recycles: c.recycles.load(Ordering::Relaxed),
            rss_bytes: s.usage.rss_bytes,
        }
    }
}
