//! A stand-in for the host of out-of-process plugins, made of the public `Session` API: it
//! starts a plugin program with an IPC session and the plugin's environment, serves the host
//! service (log, storage, a `greet` service, and an event bus shared by every plugin started
//! with the same [`Bus`]), and calls the plugin's lifecycle and commands.

use plughost::config::IpcSettings;
use plughost::ipc::session::{IpcError, Session, SessionHandle};
use plughost::plugins::protocol::*;
use plughost::status::*;
use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The IPC settings the fake host uses (not the defaults, so that the plugin must read
/// [`IPC_ENV`] to attach).
pub const SETTINGS: &str = r#"{"RingCapacity": 131072, "HeartbeatIntervalMs": 50}"#;

/// How long a call to the plugin may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// What the host's services saw, shared by the plugins of one test.
#[derive(Default)]
pub struct Bus {
    /// (plugin, level, message) of every log call.
    pub logs: Mutex<Vec<(String, u32, String)>>,
    /// The host's storage.
    pub storage: Mutex<HashMap<String, Vec<u8>>>,
    /// (source, topic, payload) of every publication.
    pub published: Mutex<Vec<(String, String, Vec<u8>)>>,
    subscriptions: Mutex<Vec<(u64, String, SessionHandle)>>,
    next_id: AtomicU64,
    sequence: AtomicU64,
}

type Answer = Result<Vec<u8>, (i32, String)>;

fn text(bytes: &[u8]) -> Result<&str, (i32, String)> {
    std::str::from_utf8(bytes).map_err(|e| (PLUGHOST_ERR_INVALID_UTF8, e.to_string()))
}

fn invalid(e: String) -> (i32, String) {
    (PLUGHOST_ERR_INVALID_ARGUMENT, e)
}

impl Bus {
    /// Deliver an event to every matching subscription; how many were reached.
    pub fn publish(&self, source: &str, topic: &str, payload: &[u8]) -> u64 {
        self.published.lock().unwrap().push((source.into(), topic.into(), payload.to_vec()));
        let sequence = self.sequence.fetch_add(1, SeqCst) + 1;
        let subscriptions = self.subscriptions.lock().unwrap().clone();
        let mut reached = 0;
        for (id, _, session) in subscriptions.iter().filter(|(_, t, _)| t == topic || t == "*") {
            let envelope =
                EventEnvelope { subscription: *id, source: source.into(), sequence, payload: payload.to_vec() };
            if session.publish_on(EVENT_CHANNEL, topic, &encode(&envelope), CALL_TIMEOUT).is_ok() {
                reached += 1;
            }
        }
        reached
    }

    /// The host service for the plugin `name`, whose session is `session`.
    fn serve(&self, name: &str, session: &SessionHandle, method: &str, payload: &[u8]) -> Answer {
        match method {
            host_method::LOG => {
                let r: LogRequest = decode(payload, "log").map_err(invalid)?;
                self.logs.lock().unwrap().push((name.into(), r.level, r.message));
                Ok(Vec::new())
            }
            host_method::STORAGE_GET => {
                let key = text(payload)?;
                let value = self.storage.lock().unwrap().get(key).cloned();
                value.ok_or_else(|| (PLUGHOST_ERR_KEY_NOT_FOUND, format!("no value under {key}")))
            }
            host_method::STORAGE_SET => {
                let set: StorageSet = decode(payload, "storage.set").map_err(invalid)?;
                self.storage.lock().unwrap().insert(set.key, set.value);
                Ok(Vec::new())
            }
            host_method::SERVICE_CALL => {
                let call: ServiceCall = decode(payload, "service.call").map_err(invalid)?;
                match call.name.as_str() {
                    "greet" => Ok([b"hello ".as_slice(), &call.input].concat()),
                    other => Err((PLUGHOST_ERR_SERVICE_NOT_FOUND, format!("no service \"{other}\""))),
                }
            }
            host_method::EVENT_PUBLISH => {
                let p: Publish = decode(payload, "event.publish").map_err(invalid)?;
                Ok(self.publish(name, &p.topic, &p.payload).to_le_bytes().to_vec())
            }
            host_method::EVENT_SUBSCRIBE => {
                let id = self.next_id.fetch_add(1, SeqCst) + 1;
                self.subscriptions.lock().unwrap().push((id, text(payload)?.into(), session.clone()));
                Ok(id.to_le_bytes().to_vec())
            }
            host_method::EVENT_UNSUBSCRIBE => {
                let id = decode_u64(payload, "event.unsubscribe").map_err(invalid)?;
                let mut subscriptions = self.subscriptions.lock().unwrap();
                let before = subscriptions.len();
                subscriptions.retain(|(i, _, _)| *i != id);
                if subscriptions.len() == before {
                    return Err((PLUGHOST_ERR_INVALID_HANDLE, format!("no subscription {id}")));
                }
                Ok(Vec::new())
            }
            other => Err((PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND, format!("no host method {other}"))),
        }
    }

    /// The messages the plugin `name` logged.
    pub fn logged(&self, name: &str) -> Vec<(u32, String)> {
        let logs = self.logs.lock().unwrap();
        logs.iter().filter(|(n, _, _)| n == name).map(|(_, l, m)| (*l, m.clone())).collect()
    }
}

/// A plugin process and the host's side of its session.
pub struct FakeHost {
    pub session: Session,
    pub child: Child,
    pub bus: Arc<Bus>,
}

impl FakeHost {
    /// Start `program` (with `args`) as the plugin `name` on `bus`.
    pub fn start(bus: &Arc<Bus>, program: &Path, args: &[&str], name: &str) -> FakeHost {
        let settings = IpcSettings::from_json(SETTINGS).unwrap();
        let (session, handoff) = Session::create_with(&settings.geometry, settings.session).unwrap();
        let (b, handle, plugin) = (bus.clone(), session.handle(), name.to_owned());
        let service = Arc::new(move |method: &str, payload: &[u8]| b.serve(&plugin, &handle, method, payload));
        session.register_on(HOST_CHANNEL, HOST_SERVICE, &[], service).unwrap();
        let mut command = Command::new(program);
        command.args(args).env(NAME_ENV, name).env(IPC_ENV, SETTINGS);
        let child = handoff.spawn(&mut command).unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        FakeHost { session, child, bus: bus.clone() }
    }

    /// Call `service`.`method` of the plugin.
    pub fn call(&self, service: &str, method: &str, input: &[u8]) -> Result<Vec<u8>, IpcError> {
        self.session.call_on(PLUGIN_CHANNEL, service, method, input, CALL_TIMEOUT)
    }

    /// Initialise the plugin with `config`.
    pub fn initialize(&self, config: &str) -> Result<Vec<u8>, IpcError> {
        self.call(LIFECYCLE_SERVICE, INITIALIZE, config.as_bytes())
    }

    /// Run a command; the answer as text.
    pub fn command(&self, command: &str, input: &str) -> Result<String, IpcError> {
        self.call(PLUGIN_SERVICE, command, input.as_bytes()).map(|a| String::from_utf8(a).unwrap())
    }

    /// Ask the plugin to shut down.
    pub fn shutdown(&self) -> Result<Vec<u8>, IpcError> {
        self.call(LIFECYCLE_SERVICE, SHUTDOWN, &[])
    }

    /// Wait up to 10 s for the plugin to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the plugin did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Wait until `condition` holds (up to 10 s).
    pub fn eventually(&self, what: &str, mut condition: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !condition() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for FakeHost {
    fn drop(&mut self) {
        self.session.close();
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The status of a plugin's failure, and its message.
#[track_caller]
pub fn remote_failure(result: Result<impl std::fmt::Debug, IpcError>) -> (i32, String) {
    match result {
        Err(IpcError::Remote { status, message }) => (status, message),
        Err(IpcError::NoSuchService(message)) => (PLUGHOST_ERR_SERVICE_NOT_FOUND, message),
        other => panic!("expected the plugin's failure, got {other:?}"),
    }
}
