//! The handlers a session serves: services by channel and name, event handlers by channel, and
//! the registry that describes the services.

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

/// The name of the built-in service that answers the registry (method [`REGISTRY_METHOD`]), on
/// the control channel.
pub const REGISTRY_SERVICE: &str = "plughost.registry";
/// The registry service's method: returns the postcard-encoded [`Registry`].
pub const REGISTRY_METHOD: &str = "list";

#[derive(Clone)]
struct Entry {
    info: ServiceInfo,
    handler: Handler,
}

/// Per channel, the services by name.
type Table = HashMap<u32, HashMap<String, Entry, FastHash>, FastHash>;

/// Services by channel and name, and the event handlers.
#[derive(Default)]
pub struct Services {
    /// Replaced whole by every change, so that looking a service up per request takes no lock.
    services: ArcSwap<Table>,
    /// The last service id given; held while the table changes, which orders the changes.
    next_id: Mutex<u32>,
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
        let mut next = self.next_id.lock();
        let mut table = Table::clone(&self.services.load());
        let services = table.entry(channel).or_default();
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
        let info = ServiceInfo { id, channel, name: name.into(), methods };
        services.insert(name.into(), Entry { info, handler });
        self.services.store(Arc::new(table));
        id
    }

    /// Remove `name` from `channel`; whether it was registered.
    pub fn unregister(&self, channel: u32, name: &str) -> bool {
        let _changing = self.next_id.lock();
        let mut table = Table::clone(&self.services.load());
        let removed = table.get_mut(&channel).and_then(|services| services.remove(name)).is_some();
        if removed {
            self.services.store(Arc::new(table));
        }
        removed
    }

    /// Run `f` with the handler of `name` on `channel`, if there is one. The table `f` sees stays
    /// alive while it runs, even if the service is replaced or removed meanwhile.
    pub fn with_handler<R>(&self, channel: u32, name: &str, f: impl FnOnce(Option<&Handler>) -> R) -> R {
        let table = self.services.load();
        f(table.get(&channel).and_then(|services| services.get(name)).map(|e| &e.handler))
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
        let table = self.services.load();
        let mut services: Vec<ServiceInfo> = table.values().flat_map(|s| s.values()).map(|e| e.info.clone()).collect();
        services.sort_by_key(|s| s.id);
        Registry { services }
    }
}
