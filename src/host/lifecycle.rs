//! The host's components and the order they start and stop in.
//!
//! Each component names the components it depends on; start runs in dependency order (a
//! topological sort, ties broken by declaration order) and stop in exactly the reverse. Later
//! subsystems (IPC, plugins, Python) add their rows here.

use parking_lot::Mutex;

/// A component of the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    /// Log sink and `tracing` bridge.
    Logging,
    /// Key-value storage.
    Storage,
    /// The event bus.
    Events,
    /// The application's services and the main-thread queue.
    Services,
    /// The IPC layer: stale segments of dead owners are swept at start.
    Ipc,
    /// Work modules.
    Modules,
    /// Out-of-process plugins: started (unless on demand) and stopped.
    Plugins,
    /// The pool of Python worker processes (started with the host or by the first run).
    Python,
    /// Extensions: module extensions loaded in resolved order, the folders watched (when
    /// `Extensions.Watch`).
    Extensions,
    /// The module file watcher (when `Modules.Watch.Enabled`; switched at run time too).
    Watch,
    /// The periodic health monitor.
    HealthMonitor,
}

impl Component {
    /// Every component with its dependencies, in declaration order.
    pub const TABLE: &'static [(Component, &'static [Component])] = &[
        (Component::Logging, &[]),
        (Component::Storage, &[Component::Logging]),
        (Component::Events, &[Component::Logging]),
        (Component::Services, &[Component::Logging]),
        (Component::Ipc, &[Component::Logging]),
        (Component::Modules, &[Component::Storage, Component::Events, Component::Services]),
        (Component::Plugins, &[Component::Storage, Component::Events, Component::Services, Component::Ipc]),
        (Component::Python, &[Component::Storage, Component::Events, Component::Services, Component::Ipc]),
        (Component::Extensions, &[Component::Modules, Component::Events, Component::Plugins]),
        (Component::Watch, &[Component::Modules, Component::Events]),
        (Component::HealthMonitor, &[Component::Modules, Component::Plugins, Component::Python, Component::Extensions]),
    ];

    /// The name used in health and logs.
    pub fn name(self) -> &'static str {
        match self {
            Component::Logging => "logging",
            Component::Storage => "storage",
            Component::Events => "events",
            Component::Services => "services",
            Component::Ipc => "ipc",
            Component::Modules => "modules",
            Component::Plugins => "plugins",
            Component::Python => "python",
            Component::Extensions => "extensions",
            Component::Watch => "watch",
            Component::HealthMonitor => "health_monitor",
        }
    }
}

/// The start order: every component after all it depends on.
pub fn start_order() -> Vec<Component> {
    let mut order: Vec<Component> = Vec::new();
    while order.len() < Component::TABLE.len() {
        let next = Component::TABLE
            .iter()
            .find(|(c, deps)| !order.contains(c) && deps.iter().all(|d| order.contains(d)))
            .map(|(c, _)| *c)
            .expect("the component table has no cycle (checked by a test)");
        order.push(next);
    }
    order
}

/// Which components are running, in the order they started.
#[derive(Default)]
pub struct Lifecycle {
    running: Mutex<Vec<Component>>,
}

impl Lifecycle {
    /// Record that `component` started.
    pub fn started(&self, component: Component) {
        self.running.lock().push(component);
    }

    /// Take the running components in stop order (reverse of start).
    pub fn take_stop_order(&self) -> Vec<Component> {
        let mut running = std::mem::take(&mut *self.running.lock());
        running.reverse();
        running
    }

    /// Names of the running components, in start order.
    pub fn running(&self) -> Vec<&'static str> {
        self.running.lock().iter().map(|c| c.name()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_order_respects_dependencies_and_stop_reverses_it() {
        let order = start_order();
        assert_eq!(order.len(), Component::TABLE.len());
        for (component, deps) in Component::TABLE {
            let at = order.iter().position(|c| c == component).unwrap();
            for dep in *deps {
                assert!(order.iter().position(|c| c == dep).unwrap() < at, "{component:?} before {dep:?}");
            }
        }
        let lifecycle = Lifecycle::default();
        for c in &order {
            lifecycle.started(*c);
        }
        let mut stop = lifecycle.take_stop_order();
        stop.reverse();
        assert_eq!(stop, order);
        assert!(lifecycle.running().is_empty());
    }
}
