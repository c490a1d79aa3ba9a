//! The modules probe: old generations still loaded (degraded; unhealthy at the cap, where reloads
//! are refused) and modules whose latest reload failed (degraded; recovery tries that reload
//! again, from the file it tried to load).

use crate::error::{Error, ErrorKind, Result};
use crate::health::probe::{Fault, Probe, ProbeResult};
use crate::health::Status;
use crate::host::Host;
use crate::modules::ModuleId;

/// Probe of the work modules.
pub(super) struct ModulesProbe;

/// The recovery action of a module whose reload failed.
const RETRY_RELOAD: &str = "retry reload";

impl Probe for ModulesProbe {
    fn component(&self) -> &str {
        "modules"
    }

    fn check(&self, host: &Host) -> ProbeResult {
        let modules = host.modules();
        let (reports, retained) = modules.report();
        let cap = modules.max_retained();
        let mut problems = Vec::new();
        if !retained.is_empty() {
            let pinned = retained.iter().filter(|r| r.reason == "pinned").count();
            let draining = retained.len() - pinned;
            let summary = format!("{pinned} old generation(s) pinned in memory, {draining} still draining");
            if retained.len() >= cap {
                problems.push((
                    Status::Unhealthy,
                    format!("{summary}: cap of {cap} reached, loads and reloads are refused"),
                ));
            } else {
                problems.push((Status::Degraded, summary));
            }
        }
        let mut faults = Vec::new();
        for m in &reports {
            if let Some(failed) = &m.failed_reload {
                let reason = format!(
                    "the latest reload of module \"{}\" from {} failed: {}",
                    m.name,
                    failed.path.display(),
                    failed.error
                );
                problems.push((Status::Degraded, reason.clone()));
                faults.push(Fault { target: format!("{}#{}", m.name, m.id), action: RETRY_RELOAD, reason });
            }
        }
        ProbeResult::from_problems(format!("{} module(s) loaded", reports.len()), problems, faults)
    }

    fn recover(&self, host: &Host, fault: &Fault) -> Result<String> {
        let id =
            fault.target.rsplit_once('#').and_then(|(_, id)| id.parse().ok()).ok_or_else(|| {
                Error::new(ErrorKind::InvalidArgument, format!("not a module target: {}", fault.target))
            })?;
        let id = ModuleId(id);
        let path = host.modules().failed_reload_path(id).ok_or_else(|| {
            Error::new(ErrorKind::InvalidArgument, format!("module {} has no failed reload to retry", fault.target))
        })?;
        let generation = host.reload_module(id, Some(&path))?;
        Ok(format!("reloaded from {} as generation {generation}", path.display()))
    }
}
