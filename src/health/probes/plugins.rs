//! The plugins probe: plugins that crashed (the supervisor gave up restarting them; recovery
//! starts them again) or are restarting, and plugin manifests that could not be used.

use crate::error::Result;
use crate::health::probe::{Fault, Probe, ProbeResult};
use crate::health::Status;
use crate::host::Host;

/// Probe of the out-of-process plugins.
pub(super) struct PluginsProbe;

impl Probe for PluginsProbe {
    fn component(&self) -> &str {
        "plugins"
    }

    fn check(&self, host: &Host) -> ProbeResult {
        let plugins = host.plugins();
        let mut problems = Vec::new();
        let mut faults = Vec::new();
        for p in plugins.iter().filter(|p| p.state == "crashed" || p.state == "restarting") {
            let reason = format!("plugin \"{}\" is {}: {}", p.name, p.state, p.reason);
            if p.state == "crashed" {
                faults.push(Fault { target: p.name.clone(), action: "restart", reason: reason.clone() });
            }
            problems.push((Status::Degraded, reason));
        }
        let manifest_problems = host.plugin_manager().problems().len();
        if manifest_problems > 0 {
            problems.push((Status::Degraded, format!("{manifest_problems} plugin manifest(s) could not be used")));
        }
        let running = plugins.iter().filter(|p| p.state == "running").count();
        ProbeResult::from_problems(format!("{running} of {} plugin(s) running", plugins.len()), problems, faults)
    }

    fn recover(&self, host: &Host, fault: &Fault) -> Result<String> {
        host.start_plugin(&fault.target)?;
        Ok("started again".into())
    }
}
