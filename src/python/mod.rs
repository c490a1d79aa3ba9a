//! Pooled Python: scripts run in a pool of worker processes (`plughost-python-worker`, built
//! from `python-worker/`), each embedding CPython once and talking to the host over an IPC
//! session as a supervised plugin process. A run that overstays its timeout is ended by killing
//! its worker, which is then started again; a worker is limited in memory, recycled after a
//! number of runs or when it grows, and optionally sandboxed.
//!
//! - [`protocol`](crate::python::protocol): what the host and a worker say to each other;
//! - [`run`](crate::python::run): a run's request and its output, as the Rust API and the C ABI see them;
//! - [`locate`](crate::python::locate): finding the worker program and checking that Python can start;
//! - [`worker`](crate::python::worker): one worker process and its counters;
//! - [`pool`](crate::python::pool): the workers, the queue, named sessions, health;
//! - `inprocess` (feature `python-inprocess`): the same on threads of the host process, with
//!   best-effort timeouts.

#[cfg(feature = "python-inprocess")]
pub mod inprocess;
pub mod locate;
pub mod pool;
pub mod protocol;
pub mod run;
pub mod worker;

pub use pool::{PoolStatus, PythonPool};
pub use run::{PythonOutput, PythonRun, PythonValue};
