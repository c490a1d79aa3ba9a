//! [`PluginHost`]: the host's services as a running plugin sees them, reached over the session
//! (service [`HOST_SERVICE`] on [`HOST_CHANNEL`]), and the plugin's event subscriptions.

use super::PluginError;
use crate::ffi::module_abi::log_level;
use crate::ipc::session::SessionHandle;
use crate::plugins::protocol::{
    self, host_method, EventEnvelope, LogRequest, Publish, ServiceCall, StorageSet, HOST_CHANNEL, HOST_SERVICE,
};
use crate::status::{PLUGHOST_ERR_INVALID_ARGUMENT, PLUGHOST_ERR_IPC_MALFORMED, PLUGHOST_ERR_KEY_NOT_FOUND};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How long a host service call may take.
const HOST_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Events that arrive for a subscription whose id its `subscribe` call has not returned yet are
/// kept (at most this many) and delivered when it returns.
const EARLY_EVENTS_MAX: usize = 1024;

/// An event of one of the plugin's subscriptions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginEvent {
    /// The bus topic.
    pub topic: String,
    /// Who published it: `host`, a module's or a plugin's name.
    pub source: String,
    /// The bus's sequence number (grows with every event of the host).
    pub sequence: u64,
    /// The payload.
    pub payload: Vec<u8>,
    /// The subscription it matched.
    pub subscription: u64,
}

type EventFn = Arc<dyn Fn(&PluginEvent) + Send + Sync>;

#[derive(Default)]
struct Subscriptions {
    handlers: HashMap<u64, EventFn>,
    /// `subscribe` calls waiting for their id.
    subscribing: usize,
    /// Events for unknown ids that came while a `subscribe` call waited.
    early: Vec<PluginEvent>,
}

struct Inner {
    name: String,
    session: SessionHandle,
    subscriptions: Mutex<Subscriptions>,
}

/// The host, for a running plugin: its name, log, storage, services and event bus. Cheap to
/// clone; every method may be called from any thread, also while a command runs (the call is
/// nested in the host's request). Calls wait at most 30 s for the host; once the session has ended
/// they fail with `PLUGHOST_ERR_IPC_CLOSED` or `PLUGHOST_ERR_IPC_PEER_DEAD`.
#[derive(Clone)]
pub struct PluginHost {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost").field("name", &self.inner.name).finish_non_exhaustive()
    }
}

fn malformed(what: String) -> PluginError {
    PluginError::with_status(PLUGHOST_ERR_IPC_MALFORMED, format!("the host's answer: {what}"))
}

impl PluginHost {
    pub(crate) fn new(name: String, session: SessionHandle) -> Self {
        let subscriptions = Mutex::new(Subscriptions::default());
        PluginHost { inner: Arc::new(Inner { name, session, subscriptions }) }
    }

    /// The plugin's name, as the host knows it.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    fn call(&self, method: &str, payload: &[u8]) -> Result<Vec<u8>, PluginError> {
        Ok(self.inner.session.call_on(HOST_CHANNEL, HOST_SERVICE, method, payload, HOST_CALL_TIMEOUT)?)
    }

    /// Log `message` under the plugin's name at `level` (1 = error, 2 = warn, 3 = info,
    /// 4 = debug, 5 = trace; other values are `PLUGHOST_ERR_INVALID_ARGUMENT`).
    pub fn log(&self, level: u32, message: &str) -> Result<(), PluginError> {
        if !(log_level::ERROR..=log_level::TRACE).contains(&level) {
            let why = format!("log level {level} is not 1 (error) to 5 (trace)");
            return Err(PluginError::with_status(PLUGHOST_ERR_INVALID_ARGUMENT, why));
        }
        self.call(host_method::LOG, &protocol::encode(&LogRequest { level, message: message.to_owned() }))?;
        Ok(())
    }

    /// [`log`](Self::log) that cannot fail: when the host cannot be reached, the message goes to
    /// standard error (which the host captures too).
    fn log_or_print(&self, level: u32, message: &str) {
        if let Err(e) = self.log(level, message) {
            eprintln!("{message} (not logged: {e})");
        }
    }

    /// Log an error (see [`log`](Self::log)).
    pub fn error(&self, message: &str) {
        self.log_or_print(log_level::ERROR, message);
    }

    /// Log a warning.
    pub fn warn(&self, message: &str) {
        self.log_or_print(log_level::WARN, message);
    }

    /// Log information.
    pub fn info(&self, message: &str) {
        self.log_or_print(log_level::INFO, message);
    }

    /// Log debugging detail.
    pub fn debug(&self, message: &str) {
        self.log_or_print(log_level::DEBUG, message);
    }

    /// The value stored under `key` in the host's storage, or `None`.
    pub fn storage_get(&self, key: &str) -> Result<Option<Vec<u8>>, PluginError> {
        match self.call(host_method::STORAGE_GET, key.as_bytes()) {
            Ok(value) => Ok(Some(value)),
            Err(e) if e.status == PLUGHOST_ERR_KEY_NOT_FOUND => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Store `value` under `key` in the host's storage (`PLUGHOST_ERR_LIMIT_REACHED` when full).
    pub fn storage_set(&self, key: &str, value: &[u8]) -> Result<(), PluginError> {
        let request = StorageSet { key: key.to_owned(), value: value.to_vec() };
        self.call(host_method::STORAGE_SET, &protocol::encode(&request))?;
        Ok(())
    }

    /// Call the host's service `name` with `input`; its result.
    pub fn call_service(&self, name: &str, input: &[u8]) -> Result<Vec<u8>, PluginError> {
        let request = ServiceCall { name: name.to_owned(), input: input.to_vec() };
        self.call(host_method::SERVICE_CALL, &protocol::encode(&request))
    }

    /// Publish `payload` on the host's event bus under `topic` (the source is the plugin's name);
    /// the number of subscribers reached.
    pub fn publish(&self, topic: &str, payload: &[u8]) -> Result<u64, PluginError> {
        let request = Publish { topic: topic.to_owned(), payload: payload.to_vec() };
        let answer = self.call(host_method::EVENT_PUBLISH, &protocol::encode(&request))?;
        protocol::decode_u64(&answer, "subscribers reached").map_err(malformed)
    }

    /// Subscribe `handler` to the bus events of `topic` (`*` for every topic), the plugin's own
    /// publications included; the subscription's id. The handler runs on the thread that reads
    /// the event, one event at a time in the host's order, and must not block for long.
    pub fn subscribe(
        &self,
        topic: &str,
        handler: impl Fn(&PluginEvent) + Send + Sync + 'static,
    ) -> Result<u64, PluginError> {
        self.inner.subscriptions.lock().subscribing += 1;
        let answer = self.call(host_method::EVENT_SUBSCRIBE, topic.as_bytes());
        let handler: EventFn = Arc::new(handler);
        let (result, early) = {
            let mut subs = self.inner.subscriptions.lock();
            subs.subscribing -= 1;
            let result = answer.and_then(|bytes| protocol::decode_u64(&bytes, "subscription id").map_err(malformed));
            let mut early = Vec::new();
            if let Ok(id) = result {
                subs.handlers.insert(id, handler.clone());
                let (mine, others): (Vec<_>, Vec<_>) =
                    std::mem::take(&mut subs.early).into_iter().partition(|e| e.subscription == id);
                (early, subs.early) = (mine, others);
            }
            if subs.subscribing == 0 {
                subs.early.clear();
            }
            (result, early)
        };
        early.iter().for_each(|event| handler(event));
        result
    }

    /// End the subscription `id` (its handler is dropped once no delivery uses it).
    pub fn unsubscribe(&self, id: u64) -> Result<(), PluginError> {
        self.call(host_method::EVENT_UNSUBSCRIBE, &id.to_le_bytes())?;
        self.inner.subscriptions.lock().handlers.remove(&id);
        Ok(())
    }

    /// Hand an event of [`EVENT_CHANNEL`](crate::plugins::protocol::EVENT_CHANNEL) to its
    /// subscription's handler. A malformed envelope is an error (the caller reports it).
    pub(crate) fn deliver(&self, topic: &str, envelope: &[u8]) -> Result<(), String> {
        let e: EventEnvelope = protocol::decode(envelope, "an event envelope")?;
        let event = PluginEvent {
            topic: topic.to_owned(),
            source: e.source,
            sequence: e.sequence,
            payload: e.payload,
            subscription: e.subscription,
        };
        let handler = {
            let mut subs = self.inner.subscriptions.lock();
            let handler = subs.handlers.get(&event.subscription).cloned();
            if handler.is_none() && subs.subscribing > 0 && subs.early.len() < EARLY_EVENTS_MAX {
                subs.early.push(event.clone());
            }
            handler
        };
        if let Some(handler) = handler {
            handler(&event);
        }
        Ok(())
    }

    /// Drop every subscription handler (when the plugin's run ends).
    pub(crate) fn clear_subscriptions(&self) {
        let handlers = std::mem::take(&mut self.inner.subscriptions.lock().handlers);
        drop(handlers);
    }
}
