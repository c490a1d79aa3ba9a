//! The worker as a plugin: `initialize` starts the interpreter, `process` answers the pool's
//! commands.

use crate::executor::Executor;
use crate::host_module;
use plughost::plugin::{Plugin, PluginError, PluginHost};
use plughost::plugins::protocol::{decode, encode};
use plughost::python::protocol::{self, RunRequest, WorkerSettings};
use std::sync::{Mutex, OnceLock};

/// One worker.
pub struct Worker {
    settings: WorkerSettings,
    executor: OnceLock<Executor>,
    /// One run at a time: the capture of `sys.stdout` is per process.
    running: Mutex<()>,
}

impl Worker {
    /// A worker that starts Python with `settings` when the host initialises it.
    pub fn new(settings: WorkerSettings) -> Worker {
        Worker { settings, executor: OnceLock::new(), running: Mutex::new(()) }
    }

    fn executor(&self) -> Result<&Executor, PluginError> {
        self.executor.get().ok_or_else(|| PluginError::new("the worker's interpreter is not started"))
    }
}

impl Plugin for Worker {
    fn initialize(&self, host: &PluginHost, _config: &str) -> Result<(), PluginError> {
        host_module::set_host(host.clone());
        let executor = Executor::start(&self.settings).map_err(PluginError::new)?;
        let _ = self.executor.set(executor);
        Ok(())
    }

    fn process(&self, _host: &PluginHost, command: &str, input: &[u8]) -> Result<Vec<u8>, PluginError> {
        let executor = self.executor()?;
        let _one = self.running.lock().unwrap_or_else(|p| p.into_inner());
        match command {
            protocol::RUN => {
                let request: RunRequest = decode(input, "run request").map_err(PluginError::new)?;
                executor.run(&request).map(|reply| encode(&reply)).map_err(PluginError::new)
            }
            protocol::DROP_SESSION => {
                let name = std::str::from_utf8(input).map_err(|e| PluginError::new(e.to_string()))?;
                executor.drop_session(name).map(|existed| vec![existed as u8]).map_err(PluginError::new)
            }
            protocol::INFO => {
                let info = serde_json::json!({"python": executor.version, "sandbox": crate::limits::sandbox_report()});
                Ok(info.to_string().into_bytes())
            }
            other => Err(PluginError::new(format!("unknown worker command \"{other}\""))),
        }
    }
}
