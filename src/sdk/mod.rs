//! The Rust SDK for writing work modules.
//!
//! Implement [`WorkModule`] and export it with [`export_module!`](crate::export_module). Depend on
//! plughost without its default features so the module carries only this SDK:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//! [dependencies]
//! plughost = { version = "0.1", default-features = false }
//! ```
//!
//! ```ignore
//! use plughost::sdk::{CommandError, HostServices, WorkModule};
//!
//! struct Echo;
//! impl WorkModule for Echo {
//!     fn init(_host: HostServices) -> Result<Self, String> { Ok(Echo) }
//!     fn execute(&self, command: &str, input: &[u8], out: &mut Vec<u8>) -> Result<(), CommandError> {
//!         match command {
//!             "echo" => { out.extend_from_slice(input); Ok(()) }
//!             _ => Err(CommandError::UnknownCommand),
//!         }
//!     }
//! }
//! plughost::export_module!(Echo, name = "echo", version = "1.0.0");
//! ```
//!
//! The SDK catches panics at the module boundary and reports them as `PLUGHOST_ERR_MODULE_PANICKED`.
//! Modules should log through [`HostServices::log`], not through `tracing` of their own: a module's
//! statics die with its generation, and the host's logger outlives them.

mod host_services;

pub use host_services::{HostServices, LogLevel, ServiceError};

/// Why a command did not succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandError {
    /// The module does not know the command.
    UnknownCommand,
    /// The command failed; the message reaches the caller.
    Failed(String),
}

impl<T: Into<String>> From<T> for CommandError {
    fn from(message: T) -> Self {
        CommandError::Failed(message.into())
    }
}

/// A hot-swappable work module.
///
/// `execute` runs on the caller's thread and concurrently from many threads, so the type is
/// `Sync` and keeps mutable state behind atomics or locks. `save_state`, `restore_state` and
/// `shutdown` run while no call is in flight.
pub trait WorkModule: Sized + Send + Sync + 'static {
    /// Whether the module hands state to its next generation; when true the host calls
    /// [`save_state`](Self::save_state) on the old generation and
    /// [`restore_state`](Self::restore_state) on the new one during a reload.
    const HANDS_OVER_STATE: bool = false;

    /// Create the module. The `host` handle stays valid until `shutdown` returns.
    fn init(host: HostServices) -> Result<Self, String>;

    /// Run `command` on `input`, appending the result to `output`.
    fn execute(&self, command: &str, input: &[u8], output: &mut Vec<u8>) -> Result<(), CommandError>;

    /// The state to hand to the next generation.
    fn save_state(&self) -> Result<Vec<u8>, String> {
        Ok(Vec::new())
    }

    /// Take over the state of the previous generation, whose version was `from_version`.
    fn restore_state(&self, _state: &[u8], _from_version: &str) -> Result<(), String> {
        Ok(())
    }

    /// Release resources; the module is unloaded afterwards. Join any thread the module started.
    fn shutdown(self) {}
}

/// Export a [`WorkModule`] under the module ABI v1 entry symbol.
///
/// `name` and `version` must be string literals.
#[macro_export]
macro_rules! export_module {
    ($module:ty, name = $name:literal, version = $version:literal) => {
        /// The plughost module ABI v1 entry point.
        #[no_mangle]
        pub extern "C" fn plughost_module_entry_v1() -> *const $crate::ffi::module_abi::ModuleTableV1 {
            static TABLE: $crate::ffi::module_abi::ModuleTableV1 =
                $crate::ffi::module_sdk::table::<$module>(concat!($name, "\0"), concat!($version, "\0"));
            &TABLE
        }
    };
}
