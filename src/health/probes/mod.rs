//! The host's own health probes, one file per component, registered in this order at start.

mod events;
mod extensions;
mod ipc;
mod modules;
mod plugins;
mod python;
mod storage;
mod watch;

use super::probe::Probe;
use std::sync::Arc;

/// The host's probes: modules, plugins, python, extensions, ipc, watch, storage, events.
pub(crate) fn builtin() -> Vec<Arc<dyn Probe>> {
    vec![
        Arc::new(modules::ModulesProbe),
        Arc::new(plugins::PluginsProbe),
        Arc::new(python::PythonProbe),
        Arc::new(extensions::ExtensionsProbe),
        Arc::new(ipc::IpcProbe::default()),
        Arc::new(watch::WatchProbe),
        Arc::new(storage::StorageProbe),
        Arc::new(events::EventsProbe),
    ]
}
