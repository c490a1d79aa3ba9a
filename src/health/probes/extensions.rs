//! The extensions probe: extensions with problems (a bad manifest, a missing or incompatible
//! dependency, a cycle, a failed load) are not loaded, which degrades the host. Nothing to
//! recover: a fixed manifest or package is picked up by the next rescan.

use crate::health::probe::{Probe, ProbeResult};
use crate::health::Status;
use crate::host::Host;

/// Probe of the extensions.
pub(super) struct ExtensionsProbe;

impl Probe for ExtensionsProbe {
    fn component(&self) -> &str {
        "extensions"
    }

    fn check(&self, host: &Host) -> ProbeResult {
        let report = host.extensions();
        let problems = match report.problems.len() {
            0 => Vec::new(),
            n => vec![(Status::Degraded, format!("{n} problem(s) with extensions: {}", report.problems.join("; ")))],
        };
        ProbeResult::from_problems(format!("{} extension(s)", report.extensions.len()), problems, Vec::new())
    }
}
