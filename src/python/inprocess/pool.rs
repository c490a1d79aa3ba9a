//! The in-process pool: `Workers` threads taking runs from one queue and running them on the
//! process's interpreter.
//!
//! A run waits in the queue until its deadline; with `QueueLimit` runs already waiting and no
//! thread free it fails at once with `PLUGHOST_ERR_POOL_SATURATED`. At its deadline a running
//! script gets a `TimeoutError` raised in its thread (`PyThreadState_SetAsyncExc`); if it has
//! not ended [`INTERRUPT_GRACE`] later, its thread is marked poisoned, abandoned (it ends when
//! the script does) and replaced. Either way the run is answered `PLUGHOST_ERR_TIMEOUT`. Runs of
//! one named session are serialised; its globals stay in the interpreter.

use super::host_services::Direct;
use crate::config::PythonConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::host::HostShared;
use crate::python::protocol::{RunReply, RunRequest};
use crate::python::run::{PythonOutput, PythonRun};
use crate::python::PoolStatus;
use parking_lot::{Condvar, Mutex};
use plughost_python_embed::{Executor, HostServices, Job};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How long a script may go on after the `TimeoutError` was raised in it before its thread is
/// abandoned.
pub const INTERRUPT_GRACE: Duration = Duration::from_millis(500);

/// How long a thread that finished a run keeps polling the queue, and a caller its answer,
/// before sleeping: back-to-back short runs then pass without waking a sleeping thread (on a
/// virtual machine, a wake-up across processors costs more than running `pass`).
const POLL: Duration = Duration::from_micros(50);

/// Poll `ready` until it is true or [`POLL`] has passed.
fn poll(ready: impl Fn() -> bool) {
    let until = Instant::now() + POLL;
    while !ready() && Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// Tells pools apart in the interpreter's session table (one interpreter serves every host).
static NEXT_POOL: AtomicU64 = AtomicU64::new(1);

/// Where a run is.
enum Stage {
    Queued,
    /// On the thread whose Python identity is `ident`; `interrupted` once the exception was posted.
    Running {
        ident: u64,
        interrupted: bool,
    },
    Done(std::result::Result<RunReply, String>),
    /// Its caller left while it waited.
    GaveUp,
    /// Its caller left while it ran: the thread ends after it.
    Poisoned,
}

struct Task {
    request: RunRequest,
    deadline: Instant,
    stage: Mutex<Stage>,
    done: Condvar,
    /// Set with `Stage::Done`, for polling without the lock.
    finished: AtomicBool,
}

struct Queue {
    tasks: VecDeque<Arc<Task>>,
    stopped: bool,
}

#[derive(Default)]
struct Counters {
    runs: AtomicU64,
    raised: AtomicU64,
    failures: AtomicU64,
    timeouts: AtomicU64,
    saturated: AtomicU64,
    poisoned: AtomicU64,
}

/// The in-process pool of one host.
pub struct InProcessPool {
    config: PythonConfig,
    host: Arc<dyn HostServices>,
    prefix: String,
    started: OnceLock<std::result::Result<&'static Executor, Error>>,
    queue: Mutex<Queue>,
    ready: Condvar,
    threads: AtomicUsize,
    busy: AtomicUsize,
    /// The queue's length, for polling without the lock.
    queued: AtomicUsize,
    sessions: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    counters: Counters,
}

fn timeout(what: String) -> Error {
    Error::new(ErrorKind::Timeout, what)
}

impl InProcessPool {
    /// A pool that starts nothing yet.
    pub fn new(config: &PythonConfig, shared: &Arc<HostShared>) -> Arc<InProcessPool> {
        Arc::new(InProcessPool {
            config: config.clone(),
            host: Arc::new(Direct(shared.clone())),
            prefix: format!("{}:", NEXT_POOL.fetch_add(1, Ordering::Relaxed)),
            started: OnceLock::new(),
            queue: Mutex::new(Queue { tasks: VecDeque::new(), stopped: false }),
            ready: Condvar::new(),
            threads: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
            sessions: Mutex::new(HashMap::new()),
            counters: Counters::default(),
        })
    }

    /// Start the interpreter (once per process) and this pool's threads, once.
    pub fn ensure_started(self: &Arc<Self>) -> Result<&'static Executor> {
        if !self.config.enabled {
            return Err(Error::new(
                ErrorKind::PythonUnavailable,
                "Python unavailable: PlugHost.Python.Enabled is false",
            ));
        }
        self.started.get_or_init(|| self.start()).clone()
    }

    fn start(self: &Arc<Self>) -> std::result::Result<&'static Executor, Error> {
        let unavailable = |why: String| Error::new(ErrorKind::PythonUnavailable, format!("Python unavailable: {why}"));
        let executor = Executor::get().map_err(unavailable)?;
        let s = &executor.started;
        if s.shared {
            tracing::warn!(version = %s.version, "CPython was already running in this process; in-process scripts share its interpreter (sys.path, sys.modules, sys.stdout)");
        }
        if let Err(why) = &s.promoted {
            tracing::warn!(why, "libpython not promoted to RTLD_GLOBAL; C extension modules may fail to import");
        }
        let sys_path: Vec<String> = self.config.sys_path.iter().map(|p| p.display().to_string()).collect();
        executor.prepend_sys_path(&sys_path).map_err(unavailable)?;
        for _ in 0..self.config.workers {
            self.spawn_thread().map_err(unavailable)?;
        }
        tracing::info!(threads = self.config.workers, version = %s.version, "in-process Python started");
        Ok(executor)
    }

    /// Start one more runner thread.
    fn spawn_thread(self: &Arc<Self>) -> std::result::Result<(), String> {
        let n = self.threads.fetch_add(1, Ordering::Relaxed);
        let pool = self.clone();
        let spawned = std::thread::Builder::new().name(format!("plughost-python-{n}")).spawn(move || pool.serve());
        spawned.map(|_| ()).map_err(|e| {
            self.threads.fetch_sub(1, Ordering::Relaxed);
            format!("no thread for Python: {e}")
        })
    }

    /// A runner thread: take runs until the pool stops or a run of this thread is abandoned.
    fn serve(self: Arc<Self>) {
        let Ok(executor) = Executor::get() else {
            return;
        };
        let ident = Executor::thread_ident();
        loop {
            poll(|| self.queued.load(Ordering::Acquire) > 0);
            let task = {
                let mut q = self.queue.lock();
                loop {
                    if q.stopped {
                        self.threads.fetch_sub(1, Ordering::Relaxed);
                        return;
                    }
                    if let Some(task) = q.tasks.pop_front() {
                        self.queued.store(q.tasks.len(), Ordering::Release);
                        break task;
                    }
                    self.ready.wait(&mut q);
                }
            };
            {
                let mut stage = task.stage.lock();
                if matches!(*stage, Stage::GaveUp) {
                    continue;
                }
                *stage = Stage::Running { ident, interrupted: false };
            }
            self.busy.fetch_add(1, Ordering::Relaxed);
            let reply = self.execute(executor, &task);
            self.busy.fetch_sub(1, Ordering::Relaxed);
            let mut stage = task.stage.lock();
            let (interrupted, poisoned) = match *stage {
                Stage::Running { interrupted, .. } => (interrupted, false),
                _ => (true, true),
            };
            *stage = Stage::Done(reply);
            task.finished.store(true, Ordering::Release);
            drop(stage);
            task.done.notify_all();
            if interrupted {
                executor.clear_interrupt(ident);
            }
            if poisoned {
                self.threads.fetch_sub(1, Ordering::Relaxed);
                return;
            }
        }
    }

    /// Run `task` on this thread.
    fn execute(&self, executor: &Executor, task: &Task) -> std::result::Result<RunReply, String> {
        let a = executor.run(&Job::from(task.request.prelude_args()), Some(&self.host))?;
        RunReply::from_prelude(&a.kind, a.payload, a.stdout, a.stderr, a.truncated, a.duration_us)
    }

    /// Run `run` on one of the pool's threads.
    pub fn run(self: &Arc<Self>, run: &PythonRun) -> Result<PythonOutput> {
        run.validate()?;
        let limit = run.timeout.unwrap_or(self.config.timeout);
        let deadline = Instant::now() + limit;
        let executor = self.ensure_started()?;
        let session_lock =
            run.session.as_ref().map(|name| self.sessions.lock().entry(name.clone()).or_default().clone());
        let _session = match &session_lock {
            Some(lock) => Some(lock.try_lock_until(deadline).ok_or_else(|| {
                self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                timeout("the session's previous run did not end before this run's deadline".into())
            })?),
            None => None,
        };
        let mut request = run.request(self.config.max_output_chars as u64);
        request.session = run.session.as_ref().map(|name| format!("{}{name}", self.prefix));
        let task = Arc::new(Task {
            request,
            deadline,
            stage: Mutex::new(Stage::Queued),
            done: Condvar::new(),
            finished: AtomicBool::new(false),
        });
        self.enqueue(&task)?;
        let reply = self.wait(executor, &task, limit)?;
        self.counters.runs.fetch_add(1, Ordering::Relaxed);
        let output = PythonOutput::from_reply(reply, 0)?;
        if output.result.is_err() {
            self.counters.raised.fetch_add(1, Ordering::Relaxed);
        }
        Ok(output)
    }

    /// Put `task` in the queue, or refuse it when `QueueLimit` runs wait already.
    fn enqueue(&self, task: &Arc<Task>) -> Result<()> {
        let mut q = self.queue.lock();
        if q.stopped {
            return Err(Error::new(ErrorKind::HostStopped, "the host is stopped"));
        }
        let threads = self.threads.load(Ordering::Relaxed);
        let idle = threads.saturating_sub(self.busy.load(Ordering::Relaxed));
        let waiting = q.tasks.len();
        if waiting >= idle && waiting - idle >= self.config.queue_limit {
            self.counters.saturated.fetch_add(1, Ordering::Relaxed);
            return Err(Error::new(
                ErrorKind::PoolSaturated,
                format!("the Python pool is saturated: {threads} threads busy and {waiting} runs waiting (QueueLimit)"),
            ));
        }
        q.tasks.push_back(task.clone());
        self.queued.store(q.tasks.len(), Ordering::Release);
        drop(q);
        self.ready.notify_one();
        Ok(())
    }

    /// Wait for `task`'s answer; at its deadline interrupt it, and abandon its thread if it
    /// does not stop within the grace.
    fn wait(self: &Arc<Self>, executor: &'static Executor, task: &Task, limit: Duration) -> Result<RunReply> {
        poll(|| task.finished.load(Ordering::Acquire));
        let mut stage = task.stage.lock();
        let mut grace_until = None;
        loop {
            if let Stage::Done(_) = &*stage {
                let Stage::Done(reply) = std::mem::replace(&mut *stage, Stage::Poisoned) else { unreachable!() };
                if grace_until.is_some() {
                    self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                    return Err(timeout(format!(
                        "the Python run exceeded its timeout of {} ms and was stopped by a TimeoutError raised in it",
                        limit.as_millis()
                    )));
                }
                return reply.map_err(|e| {
                    self.counters.failures.fetch_add(1, Ordering::Relaxed);
                    if self.queue.lock().stopped {
                        return Error::new(ErrorKind::HostStopped, "the host is stopped");
                    }
                    Error::new(ErrorKind::PythonError, e)
                });
            }
            let until = grace_until.unwrap_or(task.deadline);
            if !task.done.wait_until(&mut stage, until).timed_out() {
                continue;
            }
            match &mut *stage {
                Stage::Queued => {
                    *stage = Stage::GaveUp;
                    self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                    return Err(timeout("no Python thread became free before the run's deadline".into()));
                }
                Stage::Running { ident, interrupted } if grace_until.is_none() => {
                    *interrupted = true;
                    let ident = *ident;
                    // Posting needs the interpreter's lock, which a C loop may hold for long:
                    // never on this thread, which must answer at the grace's end.
                    let _ = std::thread::Builder::new()
                        .name("plughost-python-interrupt".into())
                        .spawn(move || executor.interrupt(ident));
                    grace_until = Some(Instant::now() + INTERRUPT_GRACE);
                }
                Stage::Running { .. } => {
                    *stage = Stage::Poisoned;
                    drop(stage);
                    self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                    self.counters.poisoned.fetch_add(1, Ordering::Relaxed);
                    let replaced = match self.spawn_thread() {
                        Ok(()) => "its thread is abandoned and replaced".to_owned(),
                        Err(why) => format!("its thread is abandoned ({why})"),
                    };
                    tracing::warn!(
                        ms = limit.as_millis() as u64,
                        "an in-process Python run did not stop at its timeout; {replaced}"
                    );
                    return Err(timeout(format!(
                        "the Python run exceeded its timeout of {} ms and did not stop when interrupted (a blocking C call, or code that catches the exception); {replaced}. In-process timeouts are best effort: use Mode \"isolated\" for hard ones",
                        limit.as_millis()
                    )));
                }
                _ => unreachable!("only the runner finishes a run"),
            }
        }
    }

    /// Forget the named session's globals; whether it existed.
    pub fn drop_session(self: &Arc<Self>, name: &str) -> Result<bool> {
        let executor = self.ensure_started()?;
        let lock = self.sessions.lock().remove(name);
        let _session = match &lock {
            Some(lock) => Some(
                lock.try_lock_for(self.config.timeout)
                    .ok_or_else(|| timeout(format!("the session \"{name}\" stayed busy")))?,
            ),
            None => None,
        };
        executor.drop_session(&format!("{}{name}", self.prefix)).map_err(|e| Error::new(ErrorKind::PythonError, e))
    }

    /// Stop the threads (runs on them finish; the interpreter stays, it is never finalised).
    pub fn stop(&self) {
        let mut q = self.queue.lock();
        q.stopped = true;
        self.queued.store(0, Ordering::Release);
        for task in q.tasks.drain(..) {
            *task.stage.lock() = Stage::Done(Err("the host stopped".into()));
            task.finished.store(true, Ordering::Release);
            task.done.notify_all();
        }
        drop(q);
        self.ready.notify_all();
    }

    /// A snapshot for health (no `workers`: see `threads` and `poisoned_threads`).
    pub fn status(&self) -> PoolStatus {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let c = &self.counters;
        let (stopped, queue_depth) = {
            let q = self.queue.lock();
            (q.stopped, q.tasks.len())
        };
        let (state, python) = match self.started.get() {
            _ if stopped => ("stopped", None),
            _ if !self.config.enabled => ("disabled", None),
            None => ("not started", None),
            Some(Ok(executor)) => ("started", Some(executor.started.version.clone())),
            Some(Err(e)) => ("unavailable", Some(e.message().to_owned())),
        };
        PoolStatus {
            enabled: self.config.enabled,
            mode: self.config.mode,
            threads: self.threads.load(Ordering::Relaxed),
            poisoned_threads: load(&c.poisoned),
            state,
            python,
            queue_depth,
            runs: load(&c.runs),
            raised: load(&c.raised),
            failures: load(&c.failures),
            timeouts: load(&c.timeouts),
            memory_errors: 0,
            saturated: load(&c.saturated),
            sessions_lost: 0,
            sessions: self.sessions.lock().len(),
            sandbox: serde_json::Value::Null,
            workers: Vec::new(),
        }
    }
}
