//! Out-of-process plugins: processes the host starts, calls over an IPC session, supervises and
//! restarts.
//!
//! - `protocol.rs`: what the host and a plugin say to each other (both sides use it).
//! - `manifest.rs`: `plugin.toml` manifests found in the search paths.
//! - `process.rs`: starting one instance (session, process, captured output, host services);
//!   `host_services.rs`: what a plugin may ask of the host; `child/`: waiting for a process's end
//!   without racing a kill.
//! - `supervisor.rs`: one plugin's state machine (start, initialise, call, crash, restart with
//!   backoff, give up, idle stop, graceful stop); `manager.rs`: all plugins of a host.
//! - `state.rs`: the states.
//!
//! The plugin side (the SDK a plugin is written with) is `crate::plugin`.

mod child;
mod host_services;
mod manager;
pub mod manifest;
mod process;
pub mod protocol;
mod state;
mod supervisor;

pub use manager::{PluginManager, STATE_TOPIC};
pub use state::PluginState;
pub use supervisor::{PluginSlot, PluginStatus, StateListener};
