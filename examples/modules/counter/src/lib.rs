//! Example work module: a counter that hands its value to the next generation on reload.
//!
//! Built three ways from this one file: `counter` (version 1.0.0), `counter-v2` (2.0.0, feature
//! `v2`: `increment` adds twice the amount) and `counter-broken` (feature `broken`: init fails),
//! which the demo and the tests use to show a swap and a rollback.
//!
//! Commands: `increment [n]`, `get`, `version`, `echo`, `noop`, `fail`, `panic`, `sleep <ms>`,
//! `store <value>` (host storage), `call <service>` (a host service), `publish <payload>` (event).

use plughost::sdk::{CommandError, HostServices, LogLevel, WorkModule};
use std::sync::atomic::{AtomicI64, Ordering};

#[cfg(not(any(feature = "v2", feature = "broken")))]
plughost::export_module!(Counter, name = "counter", version = "1.0.0");
#[cfg(feature = "v2")]
plughost::export_module!(Counter, name = "counter", version = "2.0.0");
#[cfg(feature = "broken")]
plughost::export_module!(Counter, name = "counter", version = "3.0.0-broken");

const VERSION: &str = if cfg!(feature = "v2") { "2.0.0" } else { "1.0.0" };
const STEP: i64 = if cfg!(feature = "v2") { 2 } else { 1 };

/// The module instance.
pub struct Counter {
    host: HostServices,
    value: AtomicI64,
}

fn text(input: &[u8]) -> Result<&str, CommandError> {
    std::str::from_utf8(input).map_err(|_| CommandError::from("input is not UTF-8"))
}

impl WorkModule for Counter {
    const HANDS_OVER_STATE: bool = true;

    fn init(host: HostServices) -> Result<Self, String> {
        if cfg!(feature = "broken") {
            return Err("this build is broken on purpose: init refuses".into());
        }
        host.log(LogLevel::Info, &format!("counter {VERSION} initialised"));
        Ok(Counter { host, value: AtomicI64::new(0) })
    }

    fn execute(&self, command: &str, input: &[u8], out: &mut Vec<u8>) -> Result<(), CommandError> {
        match command {
            "increment" => {
                let amount = match text(input)?.trim() {
                    "" => 1,
                    n => n.parse::<i64>().map_err(|_| CommandError::from(format!("not a number: {n}")))?,
                };
                let value = self.value.fetch_add(amount * STEP, Ordering::SeqCst) + amount * STEP;
                out.extend_from_slice(value.to_string().as_bytes());
            }
            "get" => out.extend_from_slice(self.value.load(Ordering::SeqCst).to_string().as_bytes()),
            "version" => out.extend_from_slice(VERSION.as_bytes()),
            "echo" => out.extend_from_slice(input),
            "noop" => {}
            "fail" => return Err(CommandError::from("failure requested by the caller")),
            "panic" => panic!("panic requested by the caller"),
            "sleep" => {
                let ms =
                    text(input)?.trim().parse::<u64>().map_err(|_| CommandError::from("sleep needs milliseconds"))?;
                std::thread::sleep(std::time::Duration::from_millis(ms));
            }
            "store" => self.host.storage_set("counter.last", input).map_err(|e| CommandError::from(e.message))?,
            "call" => {
                let result = self
                    .host
                    .call_service(text(input)?, b"from counter")
                    .map_err(|e| CommandError::from(format!("service failed ({}): {}", e.status, e.message)))?;
                out.extend_from_slice(&result);
            }
            "publish" => {
                self.host.publish_event("counter.changed", input).map_err(|e| CommandError::from(e.message))?
            }
            _ => return Err(CommandError::UnknownCommand),
        }
        Ok(())
    }

    fn save_state(&self) -> Result<Vec<u8>, String> {
        Ok(self.value.load(Ordering::SeqCst).to_string().into_bytes())
    }

    fn restore_state(&self, state: &[u8], from_version: &str) -> Result<(), String> {
        let text = std::str::from_utf8(state).map_err(|_| "state is not UTF-8".to_owned())?;
        let value = text.parse::<i64>().map_err(|_| format!("state {text:?} is not a number"))?;
        self.value.store(value, Ordering::SeqCst);
        self.host.log(LogLevel::Info, &format!("took over value {value} from {from_version}"));
        Ok(())
    }

    fn shutdown(self) {
        self.host.log(LogLevel::Info, &format!("counter {VERSION} shut down at {}", self.value.load(Ordering::SeqCst)));
    }
}
