//! Extensions: native modules, Python scripts or packages, and plugin programs described by an
//! `extension.toml` manifest, found in search paths and in the local store, resolved into a load
//! order by their dependencies, and distributed as signed packages.
//!
//! - `manifest.rs`: the one manifest reader of every kind (the plugins' `plugin.toml` too).
//! - `discovery.rs`: scanning folders for manifests.
//! - `resolve.rs`: dependency and host-version resolution into a load order, every problem at once.
//! - `registry.rs`: a host's extensions: loads module extensions through the module manager,
//!   hands plugin extensions to the plugin manager, records Python ones, publishes changes.
//! - `watch.rs`: rescanning the folders when they change (debounced).
//! - `package/`: the `.plpkg` format: pack, sign, validate, install.

pub mod discovery;
pub mod manifest;
pub mod package;
mod registry;
pub mod resolve;
mod watch;

pub use manifest::{Kind, Manifest, MANIFEST_FILE};
pub use registry::{ExtensionStatus, ExtensionsReport, Registry, ADDED_TOPIC, FAILED_TOPIC, REMOVED_TOPIC};
pub(crate) use watch::ExtensionWatcher;
