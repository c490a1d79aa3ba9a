//! Pooled Python: scripts run in a pool of worker processes (`plughost-python-worker`, built
//! from `python-worker/`), each embedding CPython once and talking to the host over an IPC
//! session as a supervised plugin process. A run that overstays its timeout is ended by killing
//! its worker, which is then started again; a worker is limited in memory, recycled after a
//! number of runs or when it grows, and optionally sandboxed.
//!
//! - [`protocol`]: what the host and a worker say to each other;
//! - [`run`]: a run's request and its output, as the Rust API and the C ABI see them;
//! - [`locate`]: finding the worker program and checking that Python can start;
//! - [`worker`]: one worker process and its counters;
//! - [`pool`]: the workers, the queue, named sessions, health.

pub mod locate;
pub mod pool;
pub mod protocol;
pub mod run;
pub mod worker;

pub use pool::{PoolStatus, PythonPool};
pub use run::{PythonOutput, PythonRun, PythonValue};
