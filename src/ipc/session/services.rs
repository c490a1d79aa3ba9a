//! The handlers a session serves: services by channel and name, event handlers by channel, and
//! the registry that describes the services.

use super::hash::FastHash;
use crate::ipc::message::{MethodInfo, MethodKind, Registry, ServiceInfo};
use arc_swap::ArcSwap;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Moves after every replacement of `services` (a [`ServiceView`] reloads when it did).
    version: AtomicU64,
    /// The last service id given; held while the table changes, which orders the changes.
    next_id: Mutex<u32>,
    /// Event handlers of single channels.
    events: RwLock<HashMap<u32, EventHandler>>,
    /// The event handler of every channel without its own.
    any_events: RwLock<Option<EventHandler>>,
}

/// A reader's copy of the services table, kept for a run of requests (one leader's turn) so that
/// a lookup takes no locked instruction: it reloads only when the table's version moved. Each
/// turn has its own, so a handler that calls the peer (and serves a nested request) never sees
/// its view change under it. A replaced or unregistered handler is dropped once no view holds
/// the old table: at the view's next lookup, or when its turn ends (a serving thread's turn ends
/// when it goes idle, a caller's when its call is answered).
#[derive(Default)]
pub struct ServiceView {
    /// The version `table` was loaded at.
    seen: u64,
    /// The table, once a request needed it.
    table: Option<Arc<Table>>,
    /// The last service found in `table`, with its channel: a run of requests mostly names one
    /// service, which is then found without hashing its name. It points into `table`, which
    /// holds it (the table is never changed once published) and is replaced only together
    /// with it.
    last: Option<(u32, NonNull<Entry>)>,
}

// SAFETY: `last` only points into `table`, an `Arc` of data that is `Send` and `Sync` and never
// changed after it is published; the view is used by one thread at a time like any owned value.
unsafe impl Send for ServiceView {}

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
        self.replace(table);
        id
    }

    /// Remove `name` from `channel`; whether it was registered.
    pub fn unregister(&self, channel: u32, name: &str) -> bool {
        let _changing = self.next_id.lock();
        let mut table = Table::clone(&self.services.load());
        let removed = table.get_mut(&channel).and_then(|services| services.remove(name)).is_some();
        if removed {
            self.replace(table);
        }
        removed
    }

    /// Publish a changed table (the caller holds `next_id`).
    fn replace(&self, table: Table) {
        self.services.store(Arc::new(table));
        self.version.fetch_add(1, Ordering::Release);
    }

    /// Call `f` with the handler of `name` on `channel` (`None` when there is none), looked up in
    /// `view`, which is brought up to date first: one load of the version when nothing changed.
    pub fn with_handler<R>(
        &self,
        view: &mut ServiceView,
        channel: u32,
        name: &str,
        f: impl FnOnce(Option<&Handler>) -> R,
    ) -> R {
        let version = self.version.load(Ordering::Acquire);
        if view.seen != version || view.table.is_none() {
            *view = ServiceView { seen: version, table: Some(self.services.load_full()), last: None };
        }
        if let Some((c, entry)) = view.last {
            // SAFETY: `entry` points into `view.table`, which the view still holds (see `last`).
            let entry = unsafe { entry.as_ref() };
            if c == channel && entry.info.name == name {
                return f(Some(&entry.handler));
            }
        }
        let found = view.table.as_ref().and_then(|t| t.get(&channel)).and_then(|services| services.get(name));
        view.last = found.map(|entry| (channel, NonNull::from(entry)));
        f(found.map(|e| &e.handler))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn answering(tag: &'static str) -> Handler {
        Arc::new(move |_, _| Ok(tag.as_bytes().to_vec()))
    }

    #[test]
    fn a_view_follows_every_change_of_the_table() {
        let services = Services::default();
        let mut view = ServiceView::default();
        let mut call = |name: &str| services.with_handler(&mut view, 1, name, |h| h.map(|h| h("m", b"").unwrap()));
        assert_eq!(call("a"), None);
        services.register(1, "a", &[], answering("first"));
        assert_eq!(call("a"), Some(b"first".to_vec()), "a service registered after the view was made");
        services.register(1, "a", &[], answering("second"));
        assert_eq!(call("a"), Some(b"second".to_vec()), "a replaced handler");
        services.register(2, "b", &[], answering("other channel"));
        assert_eq!(call("b"), None, "another channel's service");
        assert!(services.unregister(1, "a"));
        assert_eq!(call("a"), None, "an unregistered service");
    }
}
