//! The host services of in-process scripts: each `plughost_host` call goes straight to the
//! host's storage, services, event bus and log ([`HostShared`]), with the interpreter's lock
//! released.

use crate::error::{Error, ErrorKind};
use crate::host::HostShared;
use crate::logging::{self, LogRecord};
use plughost_python_embed::HostServices;
use std::sync::Arc;

/// The log target and event source of in-process scripts.
pub const SOURCE: &str = "python";

/// One host, as its in-process scripts reach it.
pub struct Direct(pub Arc<HostShared>);

fn message(e: Error) -> String {
    format!("{} (status {})", e.message(), e.kind().code())
}

impl HostServices for Direct {
    fn log(&self, level: u32, text: &str) -> Result<(), String> {
        if !(1..=5).contains(&level) {
            return Err(format!("log level {level} is not 1 (error) to 5 (trace)"));
        }
        logging::deliver(&LogRecord { level, target: SOURCE, message: text });
        Ok(())
    }

    fn storage_get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        match self.0.storage.get(key) {
            Ok(value) => Ok(Some(value)),
            Err(e) if e.kind() == ErrorKind::KeyNotFound => Ok(None),
            Err(e) => Err(message(e)),
        }
    }

    fn storage_set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.0.storage.set(key, value).map_err(message)
    }

    fn call_service(&self, name: &str, input: &[u8]) -> Result<Vec<u8>, String> {
        self.0.services.call(name, input).map_err(message)
    }

    fn publish(&self, topic: &str, payload: &[u8]) -> Result<u64, String> {
        self.0.events.publish(topic, SOURCE, payload).map(|n| n as u64).map_err(message)
    }
}
