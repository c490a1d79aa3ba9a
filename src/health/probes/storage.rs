//! The storage probe: degraded when the key-value storage is over 90% of its limit.

use crate::health::probe::{Probe, ProbeResult};
use crate::health::Status;
use crate::host::Host;

/// Probe of the host's key-value storage.
pub(super) struct StorageProbe;

impl Probe for StorageProbe {
    fn component(&self) -> &str {
        "storage"
    }

    fn check(&self, host: &Host) -> ProbeResult {
        let (keys, bytes) = host.shared().storage.usage();
        let max_bytes = host.config().storage_max_bytes;
        let mut problems = Vec::new();
        if max_bytes > 0 && bytes * 10 > max_bytes * 9 {
            problems.push((Status::Degraded, format!("storage is {bytes} of {max_bytes} bytes full")));
        }
        ProbeResult::from_problems(format!("{keys} key(s), {bytes} of {max_bytes} bytes"), problems, Vec::new())
    }
}
