//! The in-process mode of pooled Python (cargo feature `python-inprocess`, `PlugHost.Python.Mode`
//! = `"in-process"`): the process's one interpreter (see `plughost_python_embed`), a pool of
//! threads that run scripts on it, the same queue, sessions and health as the worker processes.
//!
//! What it does not give: timeouts are best effort (a `TimeoutError` raised in the script at
//! its deadline, which blocking C calls never see and code may catch; a run that does not stop
//! within a grace has its thread abandoned and replaced), no memory limit, no sandbox, no crash
//! containment, and one GIL for every thread.
//!
//! - [`pool`]: the threads, the queue, timeouts;
//! - [`host_services`]: `plughost_host` for these scripts.

pub mod host_services;
pub mod pool;

pub use pool::InProcessPool;
