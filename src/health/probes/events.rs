//! The events probe: the bus's subscriptions and kept topics (figures only; the bus has no
//! failure state of its own).

use crate::health::probe::{Probe, ProbeResult};
use crate::host::Host;

/// Probe of the event bus.
pub(super) struct EventsProbe;

impl Probe for EventsProbe {
    fn component(&self) -> &str {
        "events"
    }

    fn check(&self, host: &Host) -> ProbeResult {
        let (subscriptions, topics) = host.shared().events.usage();
        ProbeResult::healthy(format!("{subscriptions} subscription(s), {topics} topic(s) with history"))
    }
}
