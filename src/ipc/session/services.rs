//! The handlers a session serves: services by name, one event handler, and the registry that
//! describes them.

use super::hash::FastHash;
use crate::ipc::message::{MethodInfo, MethodKind, Registry, ServiceInfo};
use arc_swap::ArcSwap;
use parking_lot::{Mutex, RwLock};
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

#[derive(Clone)]
struct Entry {
    info: ServiceInfo,
    handler: Handler,
}

/// The services by name.
type Table = HashMap<String, Entry, FastHash>;

/// Services by name, and the event handler.
#[derive(Default)]
pub struct Services {
    /// Replaced whole by every change, so that looking a service up per request takes no lock.
    services: ArcSwap<Table>,
    /// The last service id given; held while the table changes, which orders the changes.
    next_id: Mutex<u32>,
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
        let mut next = self.next_id.lock();
        let mut services = Table::clone(&self.services.load());
        let id = match services.get(name) {
            Some(old) => old.info.id,
            None => {
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
        self.services.store(Arc::new(services));
        id
    }

    /// Remove `name`; whether it was registered.
    pub fn unregister(&self, name: &str) -> bool {
        let _changing = self.next_id.lock();
        let mut services = Table::clone(&self.services.load());
        let removed = services.remove(name).is_some();
        if removed {
            self.services.store(Arc::new(services));
        }
        removed
    }

    /// Run `f` with the handler of `name`, if there is one. The table `f` sees stays alive while
    /// it runs, even if the service is replaced or removed meanwhile.
    pub fn with_handler<R>(&self, name: &str, f: impl FnOnce(Option<&Handler>) -> R) -> R {
        let services = self.services.load();
        f(services.get(name).map(|e| &e.handler))
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
        let mut services: Vec<ServiceInfo> = self.services.load().values().map(|e| e.info.clone()).collect();
        services.sort_by_key(|s| s.id);
        Registry { services }
    }
}
