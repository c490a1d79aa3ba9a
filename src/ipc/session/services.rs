//! The handlers a session serves: services by name, one event handler, and the registry that
//! describes them.

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

/// The name of the built-in service that answers the registry (method [`REGISTRY_METHOD`]).
pub const REGISTRY_SERVICE: &str = "plughost.registry";
/// The registry service's method: returns the postcard-encoded [`Registry`].
pub const REGISTRY_METHOD: &str = "list";

struct Entry {
    info: ServiceInfo,
    handler: Handler,
}

/// Services by name, and the event handler.
#[derive(Default)]
pub struct Services {
    services: RwLock<HashMap<String, Entry>>,
    next_id: RwLock<u32>,
    events: RwLock<Option<EventHandler>>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").field("registry", &self.registry()).finish_non_exhaustive()
    }
}

impl Services {
    /// Register (or replace) `name` with its methods; returns the service's id.
    pub fn register(&self, name: &str, methods: &[(&str, MethodKind)], handler: Handler) -> u32 {
        let mut services = self.services.write();
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
        services.insert(name.into(), Entry { info: ServiceInfo { id, name: name.into(), methods }, handler });
        id
    }

    /// Remove `name`; whether it was registered.
    pub fn unregister(&self, name: &str) -> bool {
        self.services.write().remove(name).is_some()
    }

    /// The handler of `name`.
    pub fn handler(&self, name: &str) -> Option<Handler> {
        self.services.read().get(name).map(|e| e.handler.clone())
    }

    /// Set the event handler.
    pub fn set_event_handler(&self, handler: EventHandler) {
        *self.events.write() = Some(handler);
    }

    /// The event handler.
    pub fn event_handler(&self) -> Option<EventHandler> {
        self.events.read().clone()
    }

    /// The registered services, by id.
    pub fn registry(&self) -> Registry {
        let mut services: Vec<ServiceInfo> = self.services.read().values().map(|e| e.info.clone()).collect();
        services.sort_by_key(|s| s.id);
        Registry { services }
    }
}
