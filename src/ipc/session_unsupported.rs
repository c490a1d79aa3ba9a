//! Sessions where they are not implemented (neither Unix nor Windows, e.g. WebAssembly; Unix and
//! Windows build the real ones): the same API, so that the C ABI and its callers compile everywhere, but
//! creating or attaching a session fails with [`IpcError::Setup`], so no value of [`Session`] or
//! [`ChildHandoff`] ever exists and their methods cannot run. Verified by compilation only where
//! such a target is installed.

#![allow(dead_code, unused_variables)]

#[path = "session/config.rs"]
mod config;
#[path = "session/error.rs"]
mod error;
#[path = "session/stats.rs"]
mod stats;

pub use config::SessionConfig;
pub use error::IpcError;
pub use stats::SessionStats;

use crate::ipc::layout::Geometry;
use crate::ipc::message::{MethodKind, Registry};
use std::convert::Infallible;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The default data channel.
pub const DATA_CHANNEL: u32 = 1;

/// A service's handler (see the Linux implementation).
pub type Handler = Arc<dyn Fn(&str, &[u8]) -> Result<Vec<u8>, (i32, String)> + Send + Sync>;
/// An event handler.
pub type EventHandler = Arc<dyn Fn(&str, &[u8]) + Send + Sync>;

fn unsupported() -> IpcError {
    IpcError::Setup("IPC sessions are not implemented on this platform (Unix and Windows only)".into())
}

/// A session: never made on this platform.
#[derive(Debug)]
pub struct Session {
    never: Infallible,
}

/// A weak session handle: never made on this platform.
#[derive(Clone, Debug)]
pub struct SessionHandle {
    never: Infallible,
}

impl SessionHandle {
    /// Unreachable.
    pub fn call_on(&self, _: u32, _: &str, _: &str, _: &[u8], _: Duration) -> Result<Vec<u8>, IpcError> {
        match self.never {}
    }
}

/// A child hand-off: never made on this platform.
#[derive(Debug)]
pub struct ChildHandoff {
    never: Infallible,
}

impl ChildHandoff {
    /// Unreachable: no hand-off exists.
    pub fn prepare(&self, cmd: &mut Command) -> Result<(), IpcError> {
        match self.never {}
    }

    /// Unreachable: no hand-off exists.
    pub fn watch(&self, child: &Child) -> Result<(), IpcError> {
        match self.never {}
    }
}

impl Session {
    /// Fails: sessions are not implemented here.
    pub fn create_with(geometry: &Geometry, config: SessionConfig) -> Result<(Session, ChildHandoff), IpcError> {
        Err(unsupported())
    }

    /// Fails: sessions are not implemented here.
    pub fn attach_from_env_with(geometry: &Geometry, config: SessionConfig) -> Result<Session, IpcError> {
        Err(unsupported())
    }

    /// Unreachable.
    pub fn call_on(&self, _: u32, _: &str, _: &str, _: &[u8], _: Duration) -> Result<Vec<u8>, IpcError> {
        match self.never {}
    }

    /// Unreachable.
    pub fn call_while_waiting(
        &self,
        _: u32,
        _: &str,
        _: &str,
        _: &[u8],
        _: Duration,
        _: &dyn Fn(),
    ) -> Result<Vec<u8>, IpcError> {
        match self.never {}
    }

    /// Unreachable.
    pub fn publish_on(&self, _: u32, _: &str, _: &[u8], _: Duration) -> Result<(), IpcError> {
        match self.never {}
    }

    /// Unreachable.
    pub fn register_on(&self, _: u32, _: &str, _: &[(&str, MethodKind)], _: Handler) -> Result<u32, IpcError> {
        match self.never {}
    }

    /// Unreachable.
    pub fn unregister_on(&self, _: u32, _: &str) -> bool {
        match self.never {}
    }

    /// Unreachable.
    pub fn on_event<F: Fn(&str, &[u8]) + Send + Sync + 'static>(&self, _: F) {
        match self.never {}
    }

    /// Unreachable.
    pub fn on_channel_event(&self, _: u32, _: EventHandler) -> Result<(), IpcError> {
        match self.never {}
    }

    /// Unreachable.
    pub fn serve(&self, _: Instant) -> Result<(), IpcError> {
        match self.never {}
    }

    /// Unreachable.
    pub fn serve_in_background(&self) -> Result<(), IpcError> {
        match self.never {}
    }

    /// Unreachable.
    pub fn handle(&self) -> SessionHandle {
        match self.never {}
    }

    /// Unreachable.
    pub fn status(&self) -> Result<(), IpcError> {
        match self.never {}
    }

    /// Unreachable.
    pub fn peer_registry(&self, _: Duration) -> Result<Registry, IpcError> {
        match self.never {}
    }

    /// Unreachable.
    pub fn stats(&self) -> SessionStats {
        match self.never {}
    }

    /// Unreachable.
    pub fn calls_in_flight(&self) -> usize {
        match self.never {}
    }

    /// Unreachable.
    pub fn is_creator(&self) -> bool {
        match self.never {}
    }

    /// Unreachable.
    pub fn creator_pid(&self) -> u32 {
        match self.never {}
    }

    /// Unreachable.
    pub fn close(&self) {
        match self.never {}
    }
}
