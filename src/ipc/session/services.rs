//! The handlers a session serves: services by channel and name, event handlers by channel, and
//! the registry that describes the services.

use crate::ipc::message::{MethodInfo, MethodKind, Registry, ServiceInfo};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

/// A service's handler: `(method, payload)` to the result bytes, or a `PLUGHOST_ERR_*` status
/// and a message. It runs on the thread that reads the request (possibly a thread waiting for
/// its own call), and may itself make calls on the session through a
/// [`SessionHandle`](super::SessionHandle).
pub type Handler = Arc<dyn Fn(&str, &[u8]) -> Result<Vec<u8>, (i32, String)> + Send + Sync>;

/// The event handler: `(topic, payload)`.
pub type EventHandler = Arc<dyn Fn(&str, &[u8]) + Send + Sync>;

/// The name of the built-in service that answers the registry (method [`REGISTRY_METHOD`]), on
/// the control channel.
pub const REGISTRY_SERVICE: &str = "plughost.registry";
/// The registry service's method: returns the postcard-encoded [`Registry`].
pub const REGISTRY_METHOD: &str = "list";

struct Entry {
    info: ServiceInfo,
    handler: Handler,
}

/// Services by channel and name, and the event handlers.
#[derive(Default)]
pub struct Services {
    /// Per channel, services by name.
    services: RwLock<HashMap<u32, HashMap<String, Entry>>>,
    next_id: RwLock<u32>,
    /// Event handlers of single channels.
    events: RwLock<HashMap<u32, EventHandler>>,
    /// The event handler of every channel without its own.
    any_events: RwLock<Option<EventHandler>>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").field("registry", &self.registry()).finish_non_exhaustive()
    }
}

impl Services {
    /// Register (or replace) `name` on `channel` with its methods; returns the service's id.
    pub fn register(&self, channel: u32, name: &str, methods: &[(&str, MethodKind)], handler: Handler) -> u32 {
        let mut channels = self.services.write();
        let services = channels.entry(channel).or_default();
        let id = match services.get(name) {
            Some(old) => old.info.id,
            None => {
                let mut next = self.next_id.write();
                *next += 1;
                *next
            }
        };
        let methods = methods
            .iter()
            .enumerate()
            .map(|(i, (method, kind))| MethodInfo { id: i as u32 + 1, name: (*method).into(), kind: *kind })
            .collect();
        let info = ServiceInfo { id, channel, name: name.into(), methods };
        services.insert(name.into(), Entry { info, handler });
        id
    }

    /// Remove `name` from `channel`; whether it was registered.
    pub fn unregister(&self, channel: u32, name: &str) -> bool {
        self.services.write().get_mut(&channel).and_then(|services| services.remove(name)).is_some()
    }

    /// The handler of `name` on `channel`.
    pub fn handler(&self, channel: u32, name: &str) -> Option<Handler> {
        self.services.read().get(&channel)?.get(name).map(|e| e.handler.clone())
    }

    /// Set the event handler of `channel`, or (`None`) of every channel without its own.
    pub fn set_event_handler(&self, channel: Option<u32>, handler: EventHandler) {
        match channel {
            Some(channel) => {
                self.events.write().insert(channel, handler);
            }
            None => *self.any_events.write() = Some(handler),
        }
    }

    /// The event handler for an event on `channel`.
    pub fn event_handler(&self, channel: u32) -> Option<EventHandler> {
        if let Some(handler) = self.events.read().get(&channel) {
            return Some(handler.clone());
        }
        self.any_events.read().clone()
    }

    /// The registered services, by id.
    pub fn registry(&self) -> Registry {
        let channels = self.services.read();
        let mut services: Vec<ServiceInfo> =
            channels.values().flat_map(|s| s.values()).map(|e| e.info.clone()).collect();
        services.sort_by_key(|s| s.id);
        Registry { services }
    }
}
