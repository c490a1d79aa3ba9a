//! The host's side of [`HOST_SERVICE`]: what a plugin may ask of the host (logs, storage, the
//! application's services, the event bus), answered on the thread that reads the request.

use super::protocol::{self, host_method, EventEnvelope, LogRequest, Publish, ServiceCall, StorageSet, EVENT_CHANNEL};
use crate::error::{Error, ErrorKind};
use crate::host::HostShared;
use crate::ipc::session::Handler;
use crate::logging::{self, LogRecord};
use crate::status::PLUGHOST_ERR_INVALID_ARGUMENT;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long forwarding a bus event to a plugin may wait for room in its ring; the event is
/// dropped (and counted) after that, so that a plugin that does not read cannot stall publishers.
const EVENT_FORWARD_TIMEOUT: Duration = Duration::from_secs(1);

/// Sends a bus event to the plugin (the instance's session).
pub type EventSink = Arc<dyn Fn(&str, &[u8]) -> bool + Send + Sync>;

/// One plugin instance's bus subscriptions, dropped with the instance.
#[derive(Default)]
pub struct Subscriptions {
    ids: Mutex<Vec<u64>>,
    /// Events that could not be forwarded in time.
    pub dropped: AtomicU64,
}

impl Subscriptions {
    /// End every subscription on `shared`'s bus.
    pub fn end_all(&self, shared: &HostShared) {
        for id in self.ids.lock().drain(..) {
            let _ = shared.events.unsubscribe(id);
        }
    }
}

fn bad(what: String) -> (i32, String) {
    (PLUGHOST_ERR_INVALID_ARGUMENT, what)
}

fn failed(e: Error) -> (i32, String) {
    (e.kind().code(), e.message().to_owned())
}

fn text<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str, (i32, String)> {
    std::str::from_utf8(bytes).map_err(|_| bad(format!("{what} is not UTF-8")))
}

/// The handler of [`HOST_SERVICE`](protocol::HOST_SERVICE) for plugin `name`: `sink` forwards
/// events to it, `subscriptions` records its bus subscriptions.
pub fn handler(name: String, shared: Arc<HostShared>, sink: EventSink, subscriptions: Arc<Subscriptions>) -> Handler {
    Arc::new(move |method: &str, payload: &[u8]| -> Result<Vec<u8>, (i32, String)> {
        match method {
            host_method::LOG => {
                let request: LogRequest = protocol::decode(payload, "log").map_err(bad)?;
                logging::deliver(&LogRecord {
                    level: request.level.clamp(1, 5),
                    target: &name,
                    message: &request.message,
                });
                Ok(Vec::new())
            }
            host_method::STORAGE_GET => shared.storage.get(text(payload, "the key")?).map_err(failed),
            host_method::STORAGE_SET => {
                let set: StorageSet = protocol::decode(payload, "storage.set").map_err(bad)?;
                shared.storage.set(&set.key, &set.value).map(|_| Vec::new()).map_err(failed)
            }
            host_method::SERVICE_CALL => {
                let call: ServiceCall = protocol::decode(payload, "service.call").map_err(bad)?;
                shared.services.call(&call.name, &call.input).map_err(failed)
            }
            host_method::EVENT_PUBLISH => {
                let event: Publish = protocol::decode(payload, "event.publish").map_err(bad)?;
                let reached = shared.events.publish(&event.topic, &name, &event.payload).map_err(failed)?;
                Ok((reached as u64).to_le_bytes().to_vec())
            }
            host_method::EVENT_SUBSCRIBE => {
                let topic = text(payload, "the topic")?;
                let id = subscribe(&shared, topic, sink.clone(), subscriptions.clone()).map_err(failed)?;
                Ok(id.to_le_bytes().to_vec())
            }
            host_method::EVENT_UNSUBSCRIBE => {
                let id = protocol::decode_u64(payload, "event.unsubscribe").map_err(bad)?;
                let mut ids = subscriptions.ids.lock();
                let Some(at) = ids.iter().position(|i| *i == id) else {
                    return Err(failed(Error::new(
                        ErrorKind::InvalidHandle,
                        format!("no subscription {id} of this plugin"),
                    )));
                };
                ids.remove(at);
                shared.events.unsubscribe(id).map(|_| Vec::new()).map_err(failed)
            }
            other => Err(failed(Error::new(ErrorKind::ServiceNotFound, format!("the host has no method \"{other}\"")))),
        }
    })
}

/// Subscribe the plugin to `topic`: each event goes to it as an [`EventEnvelope`].
fn subscribe(
    shared: &HostShared,
    topic: &str,
    sink: EventSink,
    subscriptions: Arc<Subscriptions>,
) -> crate::Result<u64> {
    let own_id = Arc::new(AtomicU64::new(0));
    let (id_cell, counts) = (own_id.clone(), subscriptions.clone());
    let id = shared.events.subscribe(
        topic,
        Arc::new(move |e: &crate::events::Event| {
            let envelope = EventEnvelope {
                subscription: id_cell.load(Ordering::Acquire),
                source: e.source.clone(),
                sequence: e.sequence,
                payload: e.payload.clone(),
            };
            if !sink(&e.topic, &protocol::encode(&envelope)) {
                counts.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }),
    )?;
    own_id.store(id, Ordering::Release);
    subscriptions.ids.lock().push(id);
    Ok(id)
}

/// The [`EventSink`] over a session: publish on [`EVENT_CHANNEL`], waiting at most
/// [`EVENT_FORWARD_TIMEOUT`].
pub fn session_sink(session: crate::ipc::session::SessionHandle, plugin: String) -> EventSink {
    Arc::new(move |topic: &str, envelope: &[u8]| {
        match session.publish_on(EVENT_CHANNEL, topic, envelope, EVENT_FORWARD_TIMEOUT) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(plugin = %plugin, topic, error = %e, "an event was not delivered to the plugin");
                false
            }
        }
    })
}
