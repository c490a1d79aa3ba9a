//! The services every part of a host reaches: storage, events, the application's services and
//! the health probes.

use crate::config::Config;
use crate::events::EventBus;
use crate::health::ProbeRegistry;
use crate::services::ServiceRegistry;
use crate::storage::Storage;

/// Storage, event bus and service registry of one host, shared with modules through their host
/// table (and, later, with plugins and Python workers).
pub struct HostShared {
    /// Key-value storage.
    pub storage: Storage,
    /// The event bus.
    pub events: EventBus,
    /// Services registered by the embedding application.
    pub services: ServiceRegistry,
    /// The health probes the monitor runs (the host's own, and those subsystems register).
    pub probes: ProbeRegistry,
}

impl HostShared {
    /// Build from the configuration.
    pub fn new(config: &Config) -> Self {
        Self {
            storage: Storage::new(config.storage_max_bytes),
            events: EventBus::new(config.event_history_per_topic),
            services: ServiceRegistry::new(config.main_thread_call_timeout),
            probes: ProbeRegistry::default(),
        }
    }
}
