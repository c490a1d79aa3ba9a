//! plughost: an embeddable plugin host with a stable C ABI.
//!
//! A native application (a .NET Revit add-in, a C or C++ program, Python through ctypes) links the
//! plughost shared library and gets hot-swappable native work modules, host services (log,
//! key-value storage, events, and services the application registers) reachable from every module,
//! and health, metrics and logs, all through the C ABI in `include/plughost.h`.
//!
//! Layout:
//! - [`host`]: the host and its lifecycle; [`config`]: configuration and validation;
//! - [`modules`]: loading, swapping and unloading work modules; [`sdk`]: writing modules in Rust;
//! - [`services`], [`storage`], [`events`]: host services; [`logging`], [`health`]: observability;
//! - [`platform`]: the per-OS pieces; [`ffi`]: the C ABI, the only place with `extern "C"`;
//! - [`extensions`]: manifests, discovery, dependency resolution and signed packages;
//! - [`ipc`]: shared-memory sessions; [`plugins`]: the protocol of out-of-process plugins;
//!   [`plugin`]: writing such a plugin in Rust; [`sandbox`]: the sandbox of Python workers.
//!
//! Features: `host` (the host itself) and `ffi` (the exported C ABI), both default. A work module
//! depends on plughost with `default-features = false` and gets only the [`sdk`] and the module ABI.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]

pub mod ffi;
pub mod sdk;
pub mod status;

#[cfg(feature = "host")]
pub mod config;
#[cfg(feature = "host")]
pub mod error;
#[cfg(feature = "host")]
pub mod events;
/// cbindgen:ignore
#[cfg(feature = "host")]
pub mod extensions;
#[cfg(feature = "host")]
pub mod health;
#[cfg(feature = "host")]
pub mod host;
/// cbindgen:ignore
#[cfg(feature = "host")]
pub mod ipc;
#[cfg(feature = "host")]
pub mod logging;
#[cfg(feature = "host")]
pub mod modules;
#[cfg(feature = "host")]
pub mod platform;
/// cbindgen:ignore
#[cfg(feature = "host")]
pub mod plugin;
/// cbindgen:ignore
#[cfg(feature = "host")]
pub mod plugins;
/// cbindgen:ignore
#[cfg(feature = "host")]
pub mod python;
/// cbindgen:ignore
#[cfg(feature = "host")]
pub mod sandbox;
#[cfg(feature = "host")]
pub mod services;
#[cfg(feature = "host")]
pub mod storage;

#[cfg(feature = "host")]
pub use error::{Error, ErrorKind, Result};
#[cfg(feature = "host")]
pub use host::Host;

/// The version of the C ABI. Raised only when an existing function or type changes incompatibly;
/// additions keep it.
pub const PLUGHOST_ABI_VERSION: u32 = 1;

/// plughost's version, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
#[cfg(feature = "host")]
pub(crate) use PLUGHOST_ABI_VERSION as ABI_VERSION;
