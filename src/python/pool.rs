//! The pool: its workers, the bounded queue of runs waiting for one, the named sessions bound to
//! the worker that holds their globals, timeouts, recycling, and health.
//!
//! A run takes an idle worker (a session's run waits for its own worker), or waits in the queue
//! until its deadline; with `QueueLimit` runs already waiting it fails at once with
//! `PLUGHOST_ERR_POOL_SATURATED`. A run past its deadline has its worker killed, which the
//! worker's supervisor starts again at once; a session whose worker was replaced is reported lost
//! once (`PLUGHOST_ERR_PYTHON_SESSION_LOST`).

use super::locate;
use super::protocol::{self, RunReply, RunRequest};
use super::run::{PythonOutput, PythonRun};
use super::worker::{Worker, WorkerStatus};
use crate::config::{IpcSettings, PoolStart, PythonConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::host::HostShared;
use crate::plugins::protocol::{decode, encode};
use parking_lot::{Condvar, Mutex};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a failed availability check is remembered before Python is looked for again.
const RECHECK_AFTER: Duration = Duration::from_secs(5);
/// The resident size is read after every this many runs of a worker (and after a MemoryError).
const RSS_CHECK_EVERY: u64 = 32;

/// Where a named session lives.
#[derive(Clone, Copy)]
struct Binding {
    worker: usize,
    generation: u64,
}

enum Availability {
    Unknown,
    Available(String),
    Unavailable(Error, Instant),
}

struct PoolState {
    availability: Availability,
    workers: Vec<Arc<Worker>>,
    busy: Vec<bool>,
    /// The deadline of the run on each busy worker.
    busy_until: Vec<Option<Instant>>,
    waiting: usize,
    sessions: HashMap<String, Binding>,
    /// Sessions whose worker was killed, crashed or recycled; their next run is told once.
    lost: HashSet<String>,
    /// What the sandbox enforces in the workers, as the first worker reported it.
    sandbox: serde_json::Value,
    stopped: bool,
}

#[derive(Default)]
struct PoolCounters {
    runs: AtomicU64,
    raised: AtomicU64,
    failures: AtomicU64,
    timeouts: AtomicU64,
    memory_errors: AtomicU64,
    saturated: AtomicU64,
    sessions_lost: AtomicU64,
}

/// The pool of Python workers of one host.
pub struct PythonPool {
    config: PythonConfig,
    /// The in-process mode's pool, which then serves every run instead of worker processes.
    #[cfg(feature = "python-inprocess")]
    in_process: Option<Arc<super::inprocess::InProcessPool>>,
    ipc: IpcSettings,
    shared: Arc<HostShared>,
    state: Mutex<PoolState>,
    freed: Condvar,
    /// Serialises the first start, so concurrent first runs start the workers once.
    starting: Mutex<()>,
    counters: PoolCounters,
}

/// A snapshot of the pool for health.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PoolStatus {
    /// Whether `PlugHost.Python.Enabled`.
    pub enabled: bool,
    /// `isolated` (worker processes) or `in-process`.
    pub mode: crate::config::PythonMode,
    /// In-process: the runner threads alive (worker processes: 0, see `workers`).
    pub threads: usize,
    /// In-process: threads abandoned after a run that did not stop at its timeout.
    pub poisoned_threads: u64,
    /// `started`, `not started` (first use has not come), `unavailable`, or `stopped`.
    pub state: &'static str,
    /// The Python version the workers run, or why Python is unavailable.
    pub python: Option<String>,
    /// Runs waiting for a worker.
    pub queue_depth: usize,
    /// Runs answered with a value or an exception.
    pub runs: u64,
    /// Runs whose script raised.
    pub raised: u64,
    /// Runs that failed otherwise (crashes, memory, unavailable workers).
    pub failures: u64,
    /// Runs killed at their timeout (or that timed out in the queue).
    pub timeouts: u64,
    /// Runs that hit the memory limit.
    pub memory_errors: u64,
    /// Runs refused because the queue was full.
    pub saturated: u64,
    /// Sessions lost with their worker.
    pub sessions_lost: u64,
    /// Named sessions alive.
    pub sessions: usize,
    /// What the sandbox enforces in the workers, layer by layer (`null` when it is off).
    pub sandbox: serde_json::Value,
    /// The workers.
    pub workers: Vec<WorkerStatus>,
}

fn timeout_error(what: String) -> Error {
    Error::new(ErrorKind::Timeout, what)
}

impl PythonPool {
    /// A pool that starts nothing yet.
    pub fn new(config: &PythonConfig, ipc: &IpcSettings, shared: &Arc<HostShared>) -> Arc<PythonPool> {
        Arc::new(PythonPool {
            config: config.clone(),
            #[cfg(feature = "python-inprocess")]
            in_process: (config.mode == crate::config::PythonMode::InProcess)
                .then(|| super::inprocess::InProcessPool::new(config, shared)),
            ipc: ipc.clone(),
            shared: shared.clone(),
            state: Mutex::new(PoolState {
                availability: Availability::Unknown,
                workers: Vec::new(),
                busy: Vec::new(),
                busy_until: Vec::new(),
                waiting: 0,
                sessions: HashMap::new(),
                lost: HashSet::new(),
                sandbox: serde_json::Value::Null,
                stopped: false,
            }),
            freed: Condvar::new(),
            starting: Mutex::new(()),
            counters: PoolCounters::default(),
        })
    }

    /// At host start: start the workers in the background when `Start` is `host-start`.
    pub fn start_with_host(self: &Arc<Self>) {
        if !self.config.enabled || self.config.start != PoolStart::HostStart {
            return;
        }
        let pool = self.clone();
        let spawned = std::thread::Builder::new().name("plughost-python-start".into()).spawn(move || {
            #[cfg(feature = "python-inprocess")]
            if let Some(in_process) = &pool.in_process {
                if let Err(e) = in_process.ensure_started() {
                    tracing::warn!(error = %e, "in-process Python did not start");
                }
                return;
            }
            if let Err(e) = pool.ensure_started() {
                tracing::warn!(error = %e, "the Python pool did not start");
            }
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no thread to start the Python pool");
        }
    }

    /// Check Python and start every worker in parallel, once; later calls return at once (or
    /// the remembered reason Python is unavailable, checked again after a few seconds).
    pub fn ensure_started(&self) -> Result<()> {
        if !self.config.enabled {
            return Err(Error::new(
                ErrorKind::PythonUnavailable,
                "Python unavailable: PlugHost.Python.Enabled is false",
            ));
        }
        let _starting = self.starting.lock();
        {
            let s = self.state.lock();
            if s.stopped {
                return Err(Error::new(ErrorKind::HostStopped, "the host is stopped"));
            }
            match &s.availability {
                Availability::Available(_) => return Ok(()),
                Availability::Unavailable(e, at) if at.elapsed() < RECHECK_AFTER => return Err(e.clone()),
                _ => {}
            }
        }
        let checked = locate::worker_program(self.config.worker_path.as_deref())
            .and_then(|program| locate::check(&program, self.config.start_timeout).map(|version| (program, version)));
        let (program, version) = match checked {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "Python is unavailable");
                self.state.lock().availability = Availability::Unavailable(e.clone(), Instant::now());
                return Err(e);
            }
        };
        let workers: Vec<Arc<Worker>> =
            (0..self.config.workers).map(|i| Worker::new(i, &program, &self.config, &self.ipc, &self.shared)).collect();
        let started = Instant::now();
        let results: Vec<Result<()>> = std::thread::scope(|scope| {
            let handles: Vec<_> = workers.iter().map(|w| scope.spawn(|| w.slot.start())).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(Error::new(ErrorKind::Panic, "start panicked"))))
                .collect()
        });
        let failed: Vec<String> =
            results.iter().filter_map(|r| r.as_ref().err()).map(|e| e.message().to_owned()).collect();
        if failed.len() == workers.len() {
            for w in &workers {
                w.slot.stop("the pool did not start", false);
            }
            let e = Error::new(
                ErrorKind::PythonUnavailable,
                format!("Python unavailable: no worker started: {}", failed[0]),
            );
            self.state.lock().availability = Availability::Unavailable(e.clone(), Instant::now());
            return Err(e);
        }
        for why in &failed {
            tracing::warn!(why, "a Python worker did not start; it is retried");
        }
        let sandbox = workers
            .iter()
            .find_map(|w| w.slot.call(protocol::INFO, b"", Some(self.config.start_timeout)).ok())
            .and_then(|info| serde_json::from_slice::<serde_json::Value>(&info).ok())
            .map_or(serde_json::Value::Null, |info| info["sandbox"].clone());
        if self.config.sandbox.enabled {
            tracing::info!(report = %sandbox, "Python workers sandboxed");
        }
        tracing::info!(workers = workers.len(), ms = started.elapsed().as_secs_f64() * 1000.0, %version, "Python pool started");
        let mut s = self.state.lock();
        if s.stopped {
            drop(s);
            for w in &workers {
                w.slot.stop("the host stopped", false);
            }
            return Err(Error::new(ErrorKind::HostStopped, "the host is stopped"));
        }
        s.busy = vec![false; workers.len()];
        s.busy_until = vec![None; workers.len()];
        s.workers = workers;
        s.availability = Availability::Available(version);
        s.sandbox = sandbox;
        Ok(())
    }

    /// Run `run` on a worker.
    pub fn run(&self, run: &PythonRun) -> Result<PythonOutput> {
        #[cfg(feature = "python-inprocess")]
        if let Some(in_process) = &self.in_process {
            return in_process.run(run);
        }
        run.validate()?;
        let deadline = Instant::now() + run.timeout.unwrap_or(self.config.timeout);
        self.ensure_started()?;
        let worker = self.acquire(run.session.as_deref(), deadline)?;
        let request = run.request(self.config.max_output_chars as u64);
        let result = self.run_on(&worker, &request, deadline);
        self.release(&worker, result.as_ref().err());
        result
    }

    /// Forget the named session's globals; whether it existed.
    pub fn drop_session(&self, name: &str) -> Result<bool> {
        #[cfg(feature = "python-inprocess")]
        if let Some(in_process) = &self.in_process {
            return in_process.drop_session(name);
        }
        let deadline = Instant::now() + self.config.timeout;
        {
            let mut s = self.state.lock();
            if s.lost.remove(name) {
                return Ok(true);
            }
            if !s.sessions.contains_key(name) {
                return Ok(false);
            }
        }
        let worker = match self.acquire(Some(name), deadline) {
            Ok(worker) => worker,
            Err(e) if e.kind() == ErrorKind::PythonSessionLost => return Ok(true),
            Err(e) => return Err(e),
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        let result = worker.slot.call(protocol::DROP_SESSION, name.as_bytes(), Some(remaining));
        self.state.lock().sessions.remove(name);
        self.release(&worker, None);
        result.map(|_| true)
    }

    /// Take a worker for a run: the session's own, or any idle one; wait in the queue until
    /// `deadline`.
    fn acquire(&self, session: Option<&str>, deadline: Instant) -> Result<Arc<Worker>> {
        let mut s = self.state.lock();
        let mut queued = false;
        let result = loop {
            if s.stopped {
                break Err(Error::new(ErrorKind::HostStopped, "the host is stopped"));
            }
            let bound = session.and_then(|name| s.sessions.get(name).copied());
            if let Some(name) = session {
                let replaced =
                    bound.is_some_and(|b| !s.busy[b.worker] && s.workers[b.worker].slot.generation() != b.generation);
                if s.lost.remove(name) || replaced {
                    s.sessions.remove(name);
                    self.counters.sessions_lost.fetch_add(1, Ordering::Relaxed);
                    break Err(Error::new(
                        ErrorKind::PythonSessionLost,
                        format!("the session \"{name}\" was lost with its worker (timeout, crash or recycling); the next run starts it afresh"),
                    ));
                }
            }
            let choice = match bound {
                Some(binding) => (!s.busy[binding.worker]).then_some(binding.worker),
                None => self.idle_worker(&s),
            };
            if let Some(index) = choice {
                s.busy[index] = true;
                s.busy_until[index] = Some(deadline);
                let worker = s.workers[index].clone();
                if let (Some(name), None) = (session, bound) {
                    s.sessions.insert(name.to_owned(), Binding { worker: index, generation: worker.slot.generation() });
                }
                break Ok(worker);
            }
            if !queued {
                if s.waiting >= self.config.queue_limit {
                    self.counters.saturated.fetch_add(1, Ordering::Relaxed);
                    return Err(Error::new(
                        ErrorKind::PoolSaturated,
                        format!(
                            "the Python pool is saturated: {} workers busy and {} runs waiting (QueueLimit)",
                            s.workers.len(),
                            s.waiting
                        ),
                    ));
                }
                s.waiting += 1;
                queued = true;
            }
            if self.freed.wait_until(&mut s, deadline).timed_out() {
                self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                break Err(timeout_error("no Python worker became free before the run's deadline".into()));
            }
        };
        if queued {
            s.waiting -= 1;
        }
        result
    }

    /// The idle worker to take: one that runs, with the fewest sessions bound to it.
    fn idle_worker(&self, s: &PoolState) -> Option<usize> {
        let sessions_on = |i: usize| s.sessions.values().filter(|b| b.worker == i).count();
        (0..s.workers.len()).filter(|i| !s.busy[*i]).min_by_key(|i| sessions_on(*i))
    }

    /// Give the worker back; recycle it first when it has run enough or grew too big.
    fn release(&self, worker: &Arc<Worker>, error: Option<&Error>) {
        let c = &worker.counters;
        let runs = c.runs_since_start.load(Ordering::Relaxed);
        let memory_error = error.is_some_and(|e| e.kind() == ErrorKind::PythonMemoryLimit);
        let recycle = if self.config.recycle_after_runs > 0 && runs >= self.config.recycle_after_runs {
            Some(format!("recycled after {runs} runs"))
        } else if memory_error {
            Some("recycled after it reached its memory limit".to_owned())
        } else if self.config.recycle_above_rss > 0 && runs > 0 && runs % RSS_CHECK_EVERY == 0 {
            worker
                .rss()
                .filter(|rss| *rss > self.config.recycle_above_rss)
                .map(|rss| format!("recycled at {} MB resident", rss >> 20))
        } else {
            None
        };
        if let Some(why) = recycle {
            self.lose_sessions_of(worker.index);
            worker.recycle(&why);
        }
        let mut s = self.state.lock();
        s.busy[worker.index] = false;
        s.busy_until[worker.index] = None;
        drop(s);
        self.freed.notify_all();
    }

    /// Send `request` to `worker` and interpret what comes back.
    fn run_on(&self, worker: &Worker, request: &RunRequest, deadline: Instant) -> Result<PythonOutput> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
            return Err(timeout_error("the run's deadline passed before a worker was free".into()));
        }
        let c = &worker.counters;
        let answer = worker.slot.call(protocol::RUN, &encode(request), Some(remaining));
        let reply = match answer {
            Ok(bytes) => decode::<RunReply>(&bytes, "run reply").map_err(|e| Error::new(ErrorKind::PythonError, e)),
            Err(e) => Err(e),
        };
        let reply = match reply {
            Ok(reply) => reply,
            Err(e) => return Err(self.failed(worker, e, remaining)),
        };
        c.runs.fetch_add(1, Ordering::Relaxed);
        c.runs_since_start.fetch_add(1, Ordering::Relaxed);
        self.counters.runs.fetch_add(1, Ordering::Relaxed);
        let output = PythonOutput::from_reply(reply, worker.index)?;
        if let Err(raised) = &output.result {
            self.counters.raised.fetch_add(1, Ordering::Relaxed);
            if raised.kind == "MemoryError" {
                self.counters.memory_errors.fetch_add(1, Ordering::Relaxed);
                let limit = self.config.memory_limit >> 20;
                return Err(Error::new(
                    ErrorKind::PythonMemoryLimit,
                    format!("the run exceeded the worker's memory limit of {limit} MB (MemoryLimitMb); the worker is replaced\n{}", raised.traceback),
                ));
            }
        }
        Ok(output)
    }

    /// The sessions bound to worker `index` lose their globals with its process: their next run
    /// is told so.
    fn lose_sessions_of(&self, index: usize) {
        let mut s = self.state.lock();
        let names: Vec<String> = s.sessions.iter().filter(|(_, b)| b.worker == index).map(|(n, _)| n.clone()).collect();
        for name in names {
            s.sessions.remove(&name);
            s.lost.insert(name);
        }
    }

    /// A call to `worker` failed with `e`: say what it means for a Python run.
    fn failed(&self, worker: &Worker, e: Error, timeout: Duration) -> Error {
        let c = &worker.counters;
        self.counters.failures.fetch_add(1, Ordering::Relaxed);
        match e.kind() {
            ErrorKind::Timeout | ErrorKind::IpcTimeout => {
                c.timeouts.fetch_add(1, Ordering::Relaxed);
                self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                self.lose_sessions_of(worker.index);
                worker.slot.kill("a Python run exceeded its timeout");
                c.runs_since_start.store(0, Ordering::Relaxed);
                timeout_error(format!(
                    "the Python run exceeded its timeout of {} ms; its worker was killed and is started again",
                    timeout.as_millis()
                ))
            }
            ErrorKind::PluginCrashed | ErrorKind::IpcPeerDead => {
                self.lose_sessions_of(worker.index);
                c.crashes.fetch_add(1, Ordering::Relaxed);
                c.runs_since_start.store(0, Ordering::Relaxed);
                Error::new(
                    ErrorKind::PythonWorkerCrashed,
                    format!("the Python worker ended during the run ({}); it is started again", e.message()),
                )
            }
            ErrorKind::PluginFailed | ErrorKind::PythonError => {
                Error::new(ErrorKind::PythonError, e.message().to_owned())
            }
            _ => Error::new(ErrorKind::PythonUnavailable, format!("Python unavailable: {}", e.message())),
        }
    }

    /// Stop every worker; waiting runs fail with `HostStopped`.
    pub fn stop(&self) {
        #[cfg(feature = "python-inprocess")]
        if let Some(in_process) = &self.in_process {
            in_process.stop();
        }
        let workers = {
            let mut s = self.state.lock();
            s.stopped = true;
            s.sessions.clear();
            s.lost.clear();
            std::mem::take(&mut s.workers)
        };
        self.freed.notify_all();
        std::thread::scope(|scope| {
            for w in &workers {
                scope.spawn(|| w.slot.stop("the host stopped", false));
            }
        });
    }

    /// A snapshot for health.
    pub fn status(&self) -> PoolStatus {
        #[cfg(feature = "python-inprocess")]
        if let Some(in_process) = &self.in_process {
            return in_process.status();
        }
        let s = self.state.lock();
        let (state, python) = match &s.availability {
            _ if s.stopped => ("stopped", None),
            _ if !self.config.enabled => ("disabled", None),
            Availability::Unknown => ("not started", None),
            Availability::Available(version) => ("started", Some(version.clone())),
            Availability::Unavailable(e, _) => ("unavailable", Some(e.message().to_owned())),
        };
        let workers: Vec<(Arc<Worker>, Option<Instant>)> =
            s.workers.iter().cloned().zip(s.busy_until.iter().copied()).collect();
        let (queue_depth, sessions, sandbox) = (s.waiting, s.sessions.len(), s.sandbox.clone());
        drop(s);
        let c = &self.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        PoolStatus {
            enabled: self.config.enabled,
            mode: self.config.mode,
            threads: 0,
            poisoned_threads: 0,
            state,
            python,
            queue_depth,
            runs: load(&c.runs),
            raised: load(&c.raised),
            failures: load(&c.failures),
            timeouts: load(&c.timeouts),
            memory_errors: load(&c.memory_errors),
            saturated: load(&c.saturated),
            sessions_lost: load(&c.sessions_lost),
            sessions,
            sandbox,
            workers: workers.iter().map(|(w, until)| w.status(*until)).collect(),
        }
    }

    /// How long past its run's deadline a worker may stay taken before the health monitor calls
    /// it stuck (the run's own timeout normally ends it at the deadline).
    pub const STUCK_GRACE: Duration = Duration::from_secs(10);

    /// Whether the pool starts with the host (then an unavailable Python degrades health).
    pub fn starts_with_host(&self) -> bool {
        self.config.enabled && self.config.start == PoolStart::HostStart
    }

    /// Recovery of the health monitor: start worker `index` again (after its supervisor gave up)
    /// or, when `kill`, end its stuck process so that its supervisor starts a new one.
    pub fn recover_worker(&self, index: usize, kill: bool) -> Result<String> {
        let worker = self.state.lock().workers.get(index).cloned();
        let worker =
            worker.ok_or_else(|| Error::new(ErrorKind::InvalidArgument, format!("no Python worker {index}")))?;
        if kill {
            self.lose_sessions_of(index);
            worker.counters.runs_since_start.store(0, Ordering::Relaxed);
            worker.slot.kill("the health monitor found the worker stuck");
            Ok("killed; its supervisor starts it again".into())
        } else {
            worker.slot.start()?;
            Ok("started again".into())
        }
    }
}
