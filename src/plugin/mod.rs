//! Writing an out-of-process plugin in Rust: a program the host starts with an IPC session,
//! calls with commands, and supervises (it is restarted when it dies).
//!
//! Implement [`Plugin`](crate::plugin::Plugin) and hand it to [`run`](crate::plugin::run) (or
//! [`plugin_main!`](crate::plugin_main)); the plugin reaches the host's log, storage, services and
//! event bus through the [`PluginHost`](crate::plugin::PluginHost) its methods get. What the two
//! sides say is [`crate::plugins::protocol`].
//!
//! ```no_run
//! use plughost::plugin::{Plugin, PluginError, PluginHost};
//!
//! struct Upper;
//!
//! impl Plugin for Upper {
//!     fn process(&self, host: &PluginHost, command: &str, input: &[u8]) -> Result<Vec<u8>, PluginError> {
//!         match command {
//!             "upper" => Ok(input.to_ascii_uppercase()),
//!             "remember" => host.storage_set("upper.last", input).map(|()| Vec::new()),
//!             other => Err(PluginError::new(format!("unknown command {other}"))),
//!         }
//!     }
//! }
//!
//! plughost::plugin_main!(Upper);
//! ```
//!
//! Standard output and error are captured by the host line by line into its log, so a plugin
//! may also just print. Files: `error.rs` (`PluginError`), `host.rs` (`PluginHost`,
//! `PluginEvent`), `runner.rs` (the run loop, shared with the C ABI's `plughost_plugin_run`).

mod error;
mod host;
pub(crate) mod runner;

pub use error::PluginError;
pub use host::{PluginEvent, PluginHost};

use std::process::ExitCode;
use std::sync::Arc;

/// An out-of-process plugin. The host calls `initialize` once after starting the process, then
/// `process` for each command (from several threads at once when the host calls concurrently,
/// hence `Sync`), and `shutdown` before it stops the process.
pub trait Plugin: Send + Sync + 'static {
    /// Prepare with the plugin's configuration (JSON text, as the host's configuration gives it;
    /// may be empty). An error is the host's failure to start the plugin.
    fn initialize(&self, host: &PluginHost, config: &str) -> Result<(), PluginError> {
        let _ = (host, config);
        Ok(())
    }

    /// Run `command` with `input`; the answer's bytes, or the failure the caller gets.
    fn process(&self, host: &PluginHost, command: &str, input: &[u8]) -> Result<Vec<u8>, PluginError>;

    /// Release what the plugin holds. Called once: when the host asks, or when the session ends
    /// without that (then the host cannot be reached any more). Not called after a panic.
    fn shutdown(&self, host: &PluginHost) {
        let _ = host;
    }
}

/// Run `plugin` in this process, which the host started: attach to the session it handed over
/// (the environment variables [`NAME_ENV`](crate::plugins::protocol::NAME_ENV) and
/// [`IPC_ENV`](crate::plugins::protocol::IPC_ENV) give the plugin's name and the session's
/// settings), serve the host's calls until the session ends, and return the exit code for `main`:
///
/// - 0: the host asked the plugin to shut down, or said goodbye;
/// - 1: the session failed (the host died, or sent malformed data);
/// - 2: the plugin could not start (not started by a host, bad settings, another plugin runs);
/// - 101: the plugin panicked in one of its methods or event handlers. The caller got
///   `PLUGHOST_ERR_PANIC` with the panic's text first; the process then exits rather than run on
///   with suspect state, and the host's supervisor restarts it.
///
/// The reason for a non-zero code is printed on standard error.
pub fn run<P: Plugin>(plugin: P) -> ExitCode {
    ExitCode::from(runner::run_plugin(Arc::new(plugin)) as u8)
}

/// Write the `main` of a plugin program: `plughost::plugin_main!(MyPlugin::new());` expands to
/// `fn main() -> std::process::ExitCode { plughost::plugin::run(MyPlugin::new()) }`.
#[macro_export]
macro_rules! plugin_main {
    ($plugin:expr) => {
        fn main() -> ::std::process::ExitCode {
            $crate::plugin::run($plugin)
        }
    };
}
