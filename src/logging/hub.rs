//! The process-wide log hub and the `tracing` subscriber that feeds it.

use super::{format::format_event, level_number, LogRecord};
use parking_lot::{Mutex, RwLock};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

/// A host's log callback: level, target, message. Called on the emitting thread.
pub type LogCallback = Arc<dyn Fn(u32, &str, &str) + Send + Sync>;

/// One host's log sink: a level threshold and an optional callback.
pub struct LogSink {
    level: AtomicU32,
    callback: Mutex<Option<LogCallback>>,
}

impl LogSink {
    /// A sink at `level` (0 = off .. 5 = trace), registered with the hub until dropped through
    /// [`LogSink::unregister`].
    pub fn register(level: u32) -> Arc<LogSink> {
        let sink = Arc::new(LogSink { level: AtomicU32::new(level.min(5)), callback: Mutex::new(None) });
        let hub = hub();
        hub.sinks.write().push(sink.clone());
        hub.recompute_max();
        sink
    }

    /// Remove the sink from the hub; its callback is not called again after this returns.
    pub fn unregister(self: &Arc<Self>) {
        *self.callback.lock() = None;
        let hub = hub();
        hub.sinks.write().retain(|s| !Arc::ptr_eq(s, self));
        hub.recompute_max();
    }

    /// Change the threshold at run time.
    pub fn set_level(&self, level: u32) {
        self.level.store(level.min(5), Ordering::Relaxed);
        hub().recompute_max();
    }

    /// The current threshold.
    pub fn level(&self) -> u32 {
        self.level.load(Ordering::Relaxed)
    }

    /// Set or clear the callback.
    pub fn set_callback(&self, callback: Option<LogCallback>) {
        *self.callback.lock() = callback;
    }
}

pub(super) struct Hub {
    sinks: RwLock<Vec<Arc<LogSink>>>,
    max_level: AtomicU32,
    installed: AtomicBool,
    next_span: AtomicU64,
}

static HUB: OnceLock<Hub> = OnceLock::new();

pub(super) fn hub() -> &'static Hub {
    HUB.get_or_init(|| Hub {
        sinks: RwLock::new(Vec::new()),
        max_level: AtomicU32::new(0),
        installed: AtomicBool::new(false),
        next_span: AtomicU64::new(1),
    })
}

thread_local! {
    /// Set while a callback runs on this thread, so a callback that logs cannot recurse forever.
    static DELIVERING: Cell<bool> = const { Cell::new(false) };
}

impl Hub {
    fn recompute_max(&self) {
        let max = self.sinks.read().iter().map(|s| s.level()).max().unwrap_or(0);
        self.max_level.store(max, Ordering::Relaxed);
        tracing::callsite::rebuild_interest_cache();
    }

    pub(super) fn deliver(&self, record: &LogRecord<'_>) {
        if record.level > self.max_level.load(Ordering::Relaxed) || DELIVERING.with(Cell::get) {
            return;
        }
        let callbacks: Vec<LogCallback> = self
            .sinks
            .read()
            .iter()
            .filter(|s| record.level <= s.level())
            .filter_map(|s| s.callback.lock().clone())
            .collect();
        if callbacks.is_empty() {
            return;
        }
        DELIVERING.with(|d| d.set(true));
        for callback in callbacks {
            // A panicking callback must not take the emitting thread down with it.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                callback(record.level, record.target, record.message)
            }));
        }
        DELIVERING.with(|d| d.set(false));
    }
}

pub(super) fn install() {
    let hub = hub();
    if hub.installed.swap(true, Ordering::SeqCst) {
        return;
    }
    if tracing::dispatcher::set_global_default(tracing::Dispatch::new(HubSubscriber)).is_err() {
        hub.deliver(&LogRecord {
            level: crate::ffi::module_abi::log_level::WARN,
            target: "plughost::logging",
            message: "another global tracing subscriber is installed; plughost's own events go to it, host log callbacks receive module logs only",
        });
    }
}

/// Forwards every enabled event to the hub. Spans are accepted but not tracked.
struct HubSubscriber;

impl Subscriber for HubSubscriber {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        level_number(metadata.level()) <= hub().max_level.load(Ordering::Relaxed)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(hub().next_span.fetch_add(1, Ordering::Relaxed))
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let metadata = event.metadata();
        let message = format_event(event);
        hub().deliver(&LogRecord {
            level: level_number(metadata.level()),
            target: metadata.target(),
            message: &message,
        });
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}
