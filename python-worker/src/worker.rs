//! The worker as a plugin: `initialize` starts the interpreter, `process` answers the pool's
//! commands.

use crate::host_services::OverSession;
use plughost::plugin::{Plugin, PluginError, PluginHost};
use plughost::plugins::protocol::{decode, encode};
use plughost::python::protocol::{self, RunReply, RunRequest, WorkerSettings};
use plughost_python_embed::{Executor, Job};
use std::sync::{Arc, Mutex, OnceLock};

/// One worker.
pub struct Worker {
    settings: WorkerSettings,
    executor: OnceLock<&'static Executor>,
    /// One run at a time: the pool gives a worker one run at a time anyway, and timeouts kill
    /// the whole process.
    running: Mutex<()>,
}

impl Worker {
    /// A worker that starts Python with `settings` when the host initialises it.
    pub fn new(settings: WorkerSettings) -> Worker {
        Worker { settings, executor: OnceLock::new(), running: Mutex::new(()) }
    }

    fn executor(&self) -> Result<&'static Executor, PluginError> {
        self.executor.get().copied().ok_or_else(|| PluginError::new("the worker's interpreter is not started"))
    }
}

impl Plugin for Worker {
    fn initialize(&self, host: &PluginHost, _config: &str) -> Result<(), PluginError> {
        plughost_python_embed::host_module::set_default(Arc::new(OverSession(host.clone())));
        let executor = Executor::get().map_err(PluginError::new)?;
        executor.prepend_sys_path(&self.settings.sys_path).map_err(PluginError::new)?;
        if let Some(policy) = &self.settings.sandbox {
            crate::audit_hook::install(executor, policy).map_err(PluginError::new)?;
        }
        let _ = self.executor.set(executor);
        Ok(())
    }

    fn process(&self, _host: &PluginHost, command: &str, input: &[u8]) -> Result<Vec<u8>, PluginError> {
        let executor = self.executor()?;
        let _one = self.running.lock().unwrap_or_else(|p| p.into_inner());
        match command {
            protocol::RUN => {
                let request: RunRequest = decode(input, "run request").map_err(PluginError::new)?;
                let a = executor.run(&Job::from(request.prelude_args()), None).map_err(PluginError::new)?;
                let reply = RunReply::from_prelude(&a.kind, a.payload, a.stdout, a.stderr, a.truncated, a.duration_us);
                reply.map(|reply| encode(&reply)).map_err(PluginError::new)
            }
            protocol::DROP_SESSION => {
                let name = std::str::from_utf8(input).map_err(|e| PluginError::new(e.to_string()))?;
                executor.drop_session(name).map(|existed| vec![existed as u8]).map_err(PluginError::new)
            }
            protocol::INFO => {
                let python = &executor.started.version;
                let info = serde_json::json!({"python": python, "sandbox": crate::limits::sandbox_report()});
                Ok(info.to_string().into_bytes())
            }
            other => Err(PluginError::new(format!("unknown worker command \"{other}\""))),
        }
    }
}
