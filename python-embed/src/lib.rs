//! CPython embedded through pyo3 for plughost, shared by the two ways plughost runs Python: the
//! worker processes of the pool (`plughost-python-worker`) and the optional in-process mode of
//! the library itself (cargo feature `python-inprocess`).
//!
//! - [`interpreter`]: starting the one interpreter of the process (never finalised), its version
//!   check, and an interpreter someone else already started;
//! - [`executor`]: the run logic (`prelude.py`: fresh or session globals, output captured per
//!   thread, the result or the traceback) and its Rust entry points;
//! - [`host_module`]: the `plughost_host` module scripts import to reach the host's services,
//!   over a [`host_module::HostServices`] the embedder supplies.
//!
//! This crate knows nothing of plughost's types: it depends on pyo3 only, so that plughost can
//! use it behind a feature without the default build linking libpython.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod executor;
pub mod host_module;
pub mod interpreter;
#[cfg(unix)]
mod promote_unix;

pub use executor::{Answer, Executor, Job};
pub use host_module::HostServices;
pub use interpreter::{Started, BUILD_VERSION};
