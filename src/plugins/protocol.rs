//! The plugin protocol: what the host and a plugin process say to each other over their IPC
//! session. Both sides use this file, so they cannot disagree.
//!
//! - [`PLUGIN_CHANNEL`], host → plugin: service [`PLUGIN_SERVICE`] answers the plugin's commands
//!   (method = command name, payload = input); service [`LIFECYCLE_SERVICE`] has the methods
//!   [`INITIALIZE`] (payload: the plugin's configuration as JSON text; empty answer) and
//!   [`SHUTDOWN`] (empty payload and answer).
//! - [`HOST_CHANNEL`], plugin → host: service [`HOST_SERVICE`] with the methods listed under
//!   [`host_method`], payloads encoded with postcard as the types below.
//! - [`EVENT_CHANNEL`], host → plugin: one session event per bus event the plugin subscribed to;
//!   the session event's topic is the bus topic, its payload an [`EventEnvelope`].
//!
//! The host starts the plugin with two environment variables besides the session hand-off:
//! [`NAME_ENV`] (the plugin's name) and [`IPC_ENV`] (the host's `PlugHost.Ipc` settings as JSON, so
//! that the plugin attaches with the same geometry).

use serde::{Deserialize, Serialize};

/// Host → plugin: commands and lifecycle.
pub const PLUGIN_CHANNEL: u32 = 1;
/// Plugin → host: host services.
pub const HOST_CHANNEL: u32 = 2;
/// Host → plugin: events of the plugin's subscriptions.
pub const EVENT_CHANNEL: u32 = 3;

/// The plugin's service of commands (method = command name).
pub const PLUGIN_SERVICE: &str = "plugin";
/// The plugin's lifecycle service.
pub const LIFECYCLE_SERVICE: &str = "plugin.lifecycle";
/// Lifecycle method: initialise with the configuration (JSON text) as payload.
pub const INITIALIZE: &str = "initialize";
/// Lifecycle method: shut down; the host closes the session after the answer.
pub const SHUTDOWN: &str = "shutdown";

/// The host's service for plugins.
pub const HOST_SERVICE: &str = "host";

/// The methods of [`HOST_SERVICE`].
pub mod host_method {
    /// Payload [`LogRequest`](super::LogRequest); empty answer. Logged under the plugin's name.
    pub const LOG: &str = "log";
    /// Payload: the key (UTF-8); answer: the value. `PLUGHOST_ERR_KEY_NOT_FOUND` if absent.
    pub const STORAGE_GET: &str = "storage.get";
    /// Payload [`StorageSet`](super::StorageSet); empty answer. `PLUGHOST_ERR_LIMIT_REACHED` when
    /// the storage is full.
    pub const STORAGE_SET: &str = "storage.set";
    /// Payload [`ServiceCall`](super::ServiceCall); answer: the service's result. Main-thread
    /// services are queued for the host's main thread as for modules.
    pub const SERVICE_CALL: &str = "service.call";
    /// Payload [`Publish`](super::Publish); answer: the number of subscribers reached, as a
    /// little-endian `u64`. The event's source is the plugin's name.
    pub const EVENT_PUBLISH: &str = "event.publish";
    /// Payload: the topic (UTF-8; `*` for every topic); answer: the subscription id, a
    /// little-endian `u64`. Events arrive on [`EVENT_CHANNEL`](super::EVENT_CHANNEL), the
    /// plugin's own publications included.
    pub const EVENT_SUBSCRIBE: &str = "event.subscribe";
    /// Payload: a subscription id (little-endian `u64`); empty answer.
    pub const EVENT_UNSUBSCRIBE: &str = "event.unsubscribe";
}

/// The environment variable with the plugin's name.
pub const NAME_ENV: &str = "PLUGHOST_PLUGIN_NAME";
/// The environment variable with the host's IPC settings (JSON).
pub const IPC_ENV: &str = "PLUGHOST_PLUGIN_IPC";

/// [`host_method::LOG`]'s payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRequest {
    /// 1 = error .. 5 = trace.
    pub level: u32,
    /// The message.
    pub message: String,
}

/// [`host_method::STORAGE_SET`]'s payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageSet {
    /// The key.
    pub key: String,
    /// The value.
    #[serde(with = "crate::ipc::message::bytes")]
    pub value: Vec<u8>,
}

/// [`host_method::SERVICE_CALL`]'s payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceCall {
    /// The service's name.
    pub name: String,
    /// Its input.
    #[serde(with = "crate::ipc::message::bytes")]
    pub input: Vec<u8>,
}

/// [`host_method::EVENT_PUBLISH`]'s payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publish {
    /// The topic.
    pub topic: String,
    /// The payload.
    #[serde(with = "crate::ipc::message::bytes")]
    pub payload: Vec<u8>,
}

/// An event delivered to a plugin on [`EVENT_CHANNEL`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// The subscription it matched.
    pub subscription: u64,
    /// Who published it: `host`, a module's or a plugin's name.
    pub source: String,
    /// The bus's sequence number.
    pub sequence: u64,
    /// The payload.
    #[serde(with = "crate::ipc::message::bytes")]
    pub payload: Vec<u8>,
}

/// Encode a protocol value.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("encoding into a Vec cannot fail")
}

/// Decode a protocol value that fills `bytes` exactly; the error names `what`.
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T, String> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(format!("{what}: {} bytes after the value", rest.len())),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

/// A little-endian `u64` answer or argument.
pub fn decode_u64(bytes: &[u8], what: &str) -> Result<u64, String> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_le_bytes)
        .map_err(|_| format!("{what}: expected 8 bytes, found {}", bytes.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_garbage_is_an_error() {
        let set = StorageSet { key: "k".into(), value: vec![1, 2, 3] };
        assert_eq!(decode::<StorageSet>(&encode(&set), "set").unwrap(), set);
        let envelope = EventEnvelope { subscription: 7, source: "host".into(), sequence: 9, payload: b"x".to_vec() };
        assert_eq!(decode::<EventEnvelope>(&encode(&envelope), "event").unwrap(), envelope);
        assert!(decode::<StorageSet>(&[0xff, 0xff], "set").unwrap_err().starts_with("set:"));
        let mut long = encode(&set);
        long.push(0);
        assert!(decode::<StorageSet>(&long, "set").unwrap_err().contains("1 bytes after"));
        assert_eq!(decode_u64(&5u64.to_le_bytes(), "id").unwrap(), 5);
        assert!(decode_u64(&[1, 2], "id").is_err());
    }
}
