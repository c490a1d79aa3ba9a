//! Starting one instance of a plugin: its session, its process (with the session handed over and
//! its output captured into the host's logs under the plugin's name), and the host services it
//! reaches.

use super::child::ChildProcess;
use super::host_services::{self, Subscriptions};
use super::protocol::{HOST_CHANNEL, HOST_SERVICE, IPC_ENV, NAME_ENV};
use crate::config::{IpcSettings, PluginSpec};
use crate::error::{Error, ErrorKind, Result};
use crate::ffi::module_abi::log_level;
use crate::host::HostShared;
use crate::ipc::session::Session;
use crate::logging::{self, LogRecord};
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

/// The longest line of a plugin's output kept whole; longer ones are cut into pieces.
const MAX_LINE: usize = 16 << 10;

/// One running process of a plugin.
pub struct Instance {
    /// Counts the plugin's starts; an instance's events carry it so that late news of an old
    /// instance is ignored.
    pub generation: u64,
    /// The session with the process.
    pub session: Session,
    /// The process.
    pub child: Arc<ChildProcess>,
    /// Its bus subscriptions.
    pub subscriptions: Arc<Subscriptions>,
    /// When it was started.
    pub started: Instant,
}

fn start_failed(spec: &PluginSpec, what: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::PluginStartFailed, format!("plugin \"{}\" could not be started: {what}", spec.name))
}

/// Start `spec`'s program with a new session. The caller initialises it and watches the child.
pub fn launch(spec: &PluginSpec, ipc: &IpcSettings, shared: &Arc<HostShared>, generation: u64) -> Result<Instance> {
    let (session, handoff) =
        Session::create_with(&ipc.geometry, ipc.session.clone()).map_err(|e| start_failed(spec, e))?;
    let subscriptions = Arc::new(Subscriptions::default());
    let sink = host_services::session_sink(session.handle(), spec.name.clone());
    let handler = host_services::handler(spec.name.clone(), shared.clone(), sink, subscriptions.clone());
    session.register_on(HOST_CHANNEL, HOST_SERVICE, &[], handler).map_err(|e| start_failed(spec, e))?;

    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .env(NAME_ENV, &spec.name)
        .env(IPC_ENV, ipc.to_json())
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    handoff.prepare(&mut command).map_err(|e| start_failed(spec, e))?;
    let mut child = command.spawn().map_err(|e| start_failed(spec, format!("{}: {e}", spec.program.display())))?;
    for (stream, level) in [
        (child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>), log_level::INFO),
        (child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>), log_level::WARN),
    ] {
        if let Some(stream) = stream {
            capture(stream, spec.name.clone(), level);
        }
    }
    // Completes the hand-off too (Windows: the handles go to the started child).
    let watched = handoff.watch(&child);
    let child = Arc::new(ChildProcess::new(child));
    if let Err(e) = watched.and_then(|()| session.serve_in_background()) {
        child.kill();
        return Err(start_failed(spec, e));
    }
    Ok(Instance { generation, session, child, subscriptions, started: Instant::now() })
}

/// Forward `stream` line by line into the host's logs under `name`, at `level`, until it ends.
fn capture(stream: Box<dyn Read + Send>, name: String, level: u32) {
    let spawned = std::thread::Builder::new().name(format!("plughost-plugin-output-{name}")).spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match (&mut reader).take(MAX_LINE as u64).read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    let text = text.trim_end_matches(['\n', '\r']);
                    logging::deliver(&LogRecord { level, target: &name, message: text });
                }
            }
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "the output of a plugin is not captured: no thread");
    }
}
