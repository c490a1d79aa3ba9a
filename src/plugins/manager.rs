//! All plugins of a host: the declared and discovered ones, started at host start (except those
//! on demand), stopped at host stop, an idle check, state listeners and the state events on the
//! bus.

use super::manifest;
use super::state::PluginState;
use super::supervisor::{PluginSlot, PluginStatus, StateListener};
use crate::config::{Config, PluginSpec};
use crate::error::{Error, ErrorKind, Result};
use crate::host::HostShared;
use parking_lot::{Condvar, Mutex, RwLock};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

/// The bus topic of plugin state changes; the payload is JSON
/// `{"plugin", "from", "to", "reason"}`.
pub const STATE_TOPIC: &str = "plughost.plugin.state";

/// How often the idle check runs.
const IDLE_CHECK: Duration = Duration::from_millis(100);

/// The idle check's thread and its stop flag.
type IdleCheck = (JoinHandle<()>, Arc<(Mutex<bool>, Condvar)>);

/// Listeners of state changes, by id.
#[derive(Default)]
struct Listeners {
    next: AtomicU64,
    list: RwLock<Vec<(u64, StateListener)>>,
}

/// The plugins of one host.
pub struct PluginManager {
    slots: Vec<Arc<PluginSlot>>,
    /// Manifests that could not be used.
    problems: Vec<String>,
    listeners: Arc<Listeners>,
    idle: Mutex<Option<IdleCheck>>,
}

impl PluginManager {
    /// The plugins of `config`: declared ones, then those of manifests in the search paths, then
    /// `extensions` (plugin extensions); one whose name is taken already is skipped with a
    /// problem. Nothing starts yet.
    pub fn new(config: &Config, shared: &Arc<HostShared>, extensions: Vec<PluginSpec>) -> Self {
        let discovered = manifest::discover(&config.plugins.search_paths);
        let mut problems = discovered.problems;
        let mut specs: Vec<PluginSpec> = config.plugins.declared.clone();
        for spec in discovered.specs.into_iter().chain(extensions) {
            if let Some(existing) = specs.iter().find(|s| s.name == spec.name) {
                problems.push(format!(
                    "{}: the plugin \"{}\" is also declared in {}; that one is used",
                    spec.origin, spec.name, existing.origin
                ));
            } else {
                specs.push(spec);
            }
        }
        for problem in &problems {
            tracing::error!(problem = %problem, "plugin manifest not used");
        }
        let listeners = Arc::new(Listeners::default());
        let listener = Self::bus_listener(Arc::downgrade(shared), listeners.clone());
        let slots = specs
            .into_iter()
            .map(|spec| PluginSlot::new(spec, shared.clone(), config.ipc.clone(), listener.clone()))
            .collect();
        PluginManager { slots, problems, listeners, idle: Mutex::new(None) }
    }

    /// The listener every slot reports to: the bus event, then the registered listeners.
    fn bus_listener(shared: Weak<HostShared>, listeners: Arc<Listeners>) -> StateListener {
        Arc::new(move |plugin: &str, from: PluginState, to: PluginState, reason: &str| {
            if let Some(shared) = shared.upgrade() {
                let payload =
                    serde_json::json!({"plugin": plugin, "from": from.name(), "to": to.name(), "reason": reason});
                let _ = shared.events.publish(STATE_TOPIC, "host", payload.to_string().as_bytes());
            }
            let list: Vec<StateListener> = listeners.list.read().iter().map(|(_, l)| l.clone()).collect();
            for listener in list {
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| listener(plugin, from, to, reason)))
                    .is_err()
                {
                    tracing::warn!(plugin, "a plugin state listener panicked");
                }
            }
        })
    }

    /// Start every plugin that is not on demand, at once, and the idle check. A plugin that does
    /// not start is logged and left to its restart policy; the host starts anyway.
    pub fn start(&self) -> Result<()> {
        std::thread::scope(|s| {
            for slot in self.slots.iter().filter(|slot| !slot.spec.on_demand) {
                s.spawn(move || {
                    if let Err(e) = slot.start() {
                        tracing::error!(plugin = slot.name(), error = %e, "plugin did not start");
                    }
                });
            }
        });
        if self.slots.iter().any(|s| s.spec.idle_ttl.is_some()) {
            self.start_idle_check()?;
        }
        Ok(())
    }

    fn start_idle_check(&self) -> Result<()> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let (slots, flag) = (self.slots.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("plughost-plugin-idle".into())
            .spawn(move || loop {
                {
                    let mut stopped = flag.0.lock();
                    if !*stopped {
                        flag.1.wait_for(&mut stopped, IDLE_CHECK);
                    }
                    if *stopped {
                        return;
                    }
                }
                for slot in &slots {
                    slot.stop_if_idle();
                }
            })
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start the plugin idle check: {e}")))?;
        *self.idle.lock() = Some((thread, stop));
        Ok(())
    }

    /// Stop every plugin (gracefully, all at once) and the idle check.
    pub fn stop(&self) {
        if let Some((thread, stop)) = self.idle.lock().take() {
            *stop.0.lock() = true;
            stop.1.notify_all();
            let _ = thread.join();
        }
        std::thread::scope(|s| {
            for slot in &self.slots {
                s.spawn(move || slot.stop("the host stops", false));
            }
        });
    }

    /// The plugin `name`.
    pub fn slot(&self, name: &str) -> Result<&Arc<PluginSlot>> {
        self.slots
            .iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| Error::new(ErrorKind::PluginNotFound, format!("no plugin named \"{name}\"")))
    }

    /// Every plugin's status, in declaration order.
    pub fn statuses(&self) -> Vec<PluginStatus> {
        self.slots.iter().map(|s| s.status()).collect()
    }

    /// Manifests that could not be used.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// Add a state listener; returns its id.
    pub fn subscribe(&self, listener: StateListener) -> u64 {
        let id = self.listeners.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.listeners.list.write().push((id, listener));
        id
    }

    /// Remove a state listener.
    pub fn unsubscribe(&self, id: u64) -> Result<()> {
        let mut list = self.listeners.list.write();
        let before = list.len();
        list.retain(|(i, _)| *i != id);
        if list.len() == before {
            return Err(Error::new(ErrorKind::InvalidHandle, format!("no plugin state subscription {id}")));
        }
        Ok(())
    }

    /// Drop every state listener (host stop).
    pub fn clear_listeners(&self) {
        self.listeners.list.write().clear();
    }
}
