//! The services every part of a host reaches: storage, events and the application's services.

use crate::config::Config;
use crate::events::EventBus;
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
}

impl HostShared {
    /// Build from the configuration.
    pub fn new(config: &Config) -> Self {
        Self {
            storage: Storage::new(config.storage_max_bytes),
            events: EventBus::new(config.event_history_per_topic),
            services: ServiceRegistry::new(config.main_thread_call_timeout),
        }
    }
}
