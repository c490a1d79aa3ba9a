//! Logs: plughost logs through `tracing`; a process-wide subscriber hands every event to the log
//! sinks of the live hosts, each with its own level and callback.
//!
//! The subscriber is installed as the global default the first time a host is created. If the
//! process already has a global `tracing` subscriber (a Rust embedder with its own), plughost's
//! events go to that one instead, and host sinks receive only module logs; this is logged once.
//! Every sink sees every plughost event of the process, so two hosts in one process see each
//! other's events. Callbacks run on the thread that emitted the event, never under a plughost lock.

mod format;
mod hub;

pub use hub::{LogCallback, LogSink};

/// A log event as delivered to a sink.
#[derive(Clone, Copy, Debug)]
pub struct LogRecord<'a> {
    /// 1 = error .. 5 = trace.
    pub level: u32,
    /// Where it came from: a Rust module path or a work module's name.
    pub target: &'a str,
    /// The formatted message with its fields.
    pub message: &'a str,
}

/// Install the process-wide subscriber if no global subscriber exists yet. Idempotent.
pub fn install() {
    hub::install();
}

/// Deliver a record to every sink directly, bypassing `tracing` (for module logs).
pub fn deliver(record: &LogRecord<'_>) {
    hub::hub().deliver(record);
}

/// The level number of a `tracing` level.
pub fn level_number(level: &tracing::Level) -> u32 {
    use crate::ffi::module_abi::log_level::*;
    match *level {
        tracing::Level::ERROR => ERROR,
        tracing::Level::WARN => WARN,
        tracing::Level::INFO => INFO,
        tracing::Level::DEBUG => DEBUG,
        _ => TRACE,
    }
}
