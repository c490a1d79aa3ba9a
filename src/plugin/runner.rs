//! The plugin's run loop, shared by [`run`](super::run) and the C ABI's `plughost_plugin_run`:
//! attach to the session the host handed over, serve the plugin's services until the session
//! ends, and turn how it ended into the process's exit code.

use super::{Plugin, PluginError, PluginHost};
use crate::config::IpcSettings;
use crate::ffi::module_sdk::panic_message;
use crate::ipc::segment::HANDOFF_ENV;
use crate::ipc::session::{IpcError, Session};
use crate::plugins::protocol::{
    EVENT_CHANNEL, INITIALIZE, IPC_ENV, LIFECYCLE_SERVICE, NAME_ENV, PLUGIN_CHANNEL, PLUGIN_SERVICE, SHUTDOWN,
};
use crate::status::{PLUGHOST_ERR_INVALID_UTF8, PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND, PLUGHOST_ERR_PANIC};
use parking_lot::Mutex;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Exit code: the host asked the plugin to shut down, or said goodbye.
pub(crate) const EXIT_OK: i32 = 0;
/// Exit code: the session failed (the host died, malformed data, ...).
pub(crate) const EXIT_FAILED: i32 = 1;
/// Exit code: the plugin never ran (not started by a host, bad settings, a bad definition).
pub(crate) const EXIT_NOT_STARTED: i32 = 2;
/// Exit code: the plugin panicked; the caller got `PLUGHOST_ERR_PANIC` first.
pub(crate) const EXIT_PANICKED: i32 = 101;

/// How long one serve lasts, so that a panic or a shutdown ends the process promptly.
const SLICE: Duration = Duration::from_millis(50);

/// Whether a plugin runs in this process (one at a time).
static RUNNING: AtomicBool = AtomicBool::new(false);
/// The running plugin's host, for the C ABI's host services.
static CURRENT: Mutex<Option<PluginHost>> = Mutex::new(None);

/// The running plugin's host, if a plugin runs.
#[cfg(feature = "ffi")]
pub(crate) fn current() -> Option<PluginHost> {
    CURRENT.lock().clone()
}

/// Print why the plugin stops, on one line (the host captures standard error).
pub(crate) fn report(why: impl std::fmt::Display) {
    eprintln!("plughost plugin: {why}");
}

/// Run `plugin` until its session ends; the exit code (see [`run`](super::run)).
pub(crate) fn run_plugin(plugin: Arc<dyn Plugin>) -> i32 {
    if RUNNING.swap(true, Ordering::AcqRel) {
        report("a plugin runs in this process already");
        return EXIT_NOT_STARTED;
    }
    let code = match attach() {
        Ok((name, session)) => {
            let host = PluginHost::new(name, session.handle());
            *CURRENT.lock() = Some(host.clone());
            let code = serve(plugin, &host, &session);
            *CURRENT.lock() = None;
            host.clear_subscriptions();
            code
        }
        Err(why) => {
            report(why);
            EXIT_NOT_STARTED
        }
    };
    RUNNING.store(false, Ordering::Release);
    code
}

/// The plugin's name and its session, from the environment the host set.
fn attach() -> Result<(String, Session), String> {
    if std::env::var_os(HANDOFF_ENV).is_none() {
        return Err(format!("not started by a plughost host ({HANDOFF_ENV} is not set)"));
    }
    let name = std::env::var(NAME_ENV).ok().filter(|n| !n.is_empty()).unwrap_or_else(|| {
        let exe = std::env::current_exe().ok();
        exe.and_then(|p| Some(p.file_stem()?.to_string_lossy().into_owned())).unwrap_or_else(|| "plugin".into())
    });
    let settings = match std::env::var(IPC_ENV) {
        Ok(json) => IpcSettings::from_json(&json).map_err(|e| format!("{IPC_ENV}: {e}"))?,
        Err(_) => IpcSettings::default(),
    };
    let session = Session::attach_from_env_with(&settings.geometry, settings.session).map_err(|e| e.to_string())?;
    Ok((name, session))
}

/// What the handlers tell the run loop.
#[derive(Default)]
struct RunState {
    panicked: AtomicBool,
    shut_down: AtomicBool,
}

impl RunState {
    /// Run `body`; a panic becomes `PLUGHOST_ERR_PANIC` with its text, and ends the run.
    fn guarded<T>(&self, what: &str, body: impl FnOnce() -> Result<T, PluginError>) -> Result<T, PluginError> {
        catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
            self.panicked.store(true, Ordering::Release);
            let text = panic_message(payload.as_ref());
            Err(PluginError::with_status(PLUGHOST_ERR_PANIC, format!("the plugin panicked in {what}: {text}")))
        })
    }

    /// Run the plugin's shutdown, once.
    fn shut_down(&self, plugin: &dyn Plugin, host: &PluginHost) {
        if !self.shut_down.swap(true, Ordering::AcqRel) {
            let _ = self.guarded("shutdown", || {
                plugin.shutdown(host);
                Ok(())
            });
        }
    }
}

type Answer = Result<Vec<u8>, (i32, String)>;

fn answer(result: Result<Vec<u8>, PluginError>) -> Answer {
    result.map_err(|e| (e.status, e.message))
}

/// Register the plugin's services and event dispatcher, then serve until the session ends.
fn serve(plugin: Arc<dyn Plugin>, host: &PluginHost, session: &Session) -> i32 {
    let state = Arc::new(RunState::default());
    let (p, h, s) = (plugin.clone(), host.clone(), state.clone());
    let lifecycle = Arc::new(move |method: &str, payload: &[u8]| -> Answer {
        answer(match method {
            INITIALIZE => std::str::from_utf8(payload)
                .map_err(|e| PluginError::with_status(PLUGHOST_ERR_INVALID_UTF8, format!("the configuration: {e}")))
                .and_then(|config| s.guarded(INITIALIZE, || p.initialize(&h, config)))
                .map(|()| Vec::new()),
            SHUTDOWN => {
                s.shut_down(&*p, &h);
                Ok(Vec::new())
            }
            other => Err(PluginError::with_status(
                PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND,
                format!("no lifecycle method \"{other}\""),
            )),
        })
    });
    let (p, h, s) = (plugin.clone(), host.clone(), state.clone());
    let commands = Arc::new(move |command: &str, input: &[u8]| -> Answer {
        answer(s.guarded(&format!("command \"{command}\""), || p.process(&h, command, input)))
    });
    let (h, s) = (host.clone(), state.clone());
    let events = Arc::new(move |topic: &str, envelope: &[u8]| {
        if let Err(e) = s.guarded("an event handler", || Ok(h.deliver(topic, envelope)?)) {
            report(format!("an event of \"{topic}\" was not delivered: {e}"));
        }
    });
    let registered = session
        .register_on(PLUGIN_CHANNEL, LIFECYCLE_SERVICE, &[], lifecycle)
        .and_then(|_| session.register_on(PLUGIN_CHANNEL, PLUGIN_SERVICE, &[], commands))
        .and_then(|_| session.on_channel_event(EVENT_CHANNEL, events));
    if let Err(e) = registered {
        report(e);
        return EXIT_FAILED;
    }
    let ended = loop {
        let served = session.serve(Instant::now() + SLICE);
        if state.panicked.load(Ordering::Acquire) {
            report("the plugin panicked; exiting");
            return EXIT_PANICKED;
        }
        if state.shut_down.load(Ordering::Acquire) {
            return EXIT_OK;
        }
        if let Err(e) = served {
            break e;
        }
    };
    state.shut_down(&*plugin, host);
    if state.panicked.load(Ordering::Acquire) {
        EXIT_PANICKED
    } else if ended == IpcError::Closed {
        EXIT_OK
    } else {
        report(format!("the session ended: {ended}"));
        EXIT_FAILED
    }
}
