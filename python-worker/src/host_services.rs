//! The worker's host services for scripts: each `plughost_host` call goes to the host over the
//! worker's session ([`PluginHost`]).

use plughost::plugin::{PluginError, PluginHost};
use plughost_python_embed::HostServices;

/// The host of this worker, as scripts reach it.
pub struct OverSession(pub PluginHost);

fn message(e: PluginError) -> String {
    format!("{} (status {})", e.message, e.status)
}

impl HostServices for OverSession {
    fn log(&self, level: u32, text: &str) -> Result<(), String> {
        self.0.log(level, text).map_err(message)
    }

    fn storage_get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.0.storage_get(key).map_err(message)
    }

    fn storage_set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.0.storage_set(key, value).map_err(message)
    }

    fn call_service(&self, name: &str, input: &[u8]) -> Result<Vec<u8>, String> {
        self.0.call_service(name, input).map_err(message)
    }

    fn publish(&self, topic: &str, payload: &[u8]) -> Result<u64, String> {
        self.0.publish(topic, payload).map_err(message)
    }
}
