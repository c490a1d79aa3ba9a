//! The watch probe: whether the module files are watched, and a watcher whose thread ended
//! unexpectedly (unhealthy; recovery starts watching again).

use crate::error::Result;
use crate::health::probe::{Fault, Probe, ProbeResult};
use crate::health::Status;
use crate::host::Host;

/// Probe of the module file watcher.
pub(super) struct WatchProbe;

impl Probe for WatchProbe {
    fn component(&self) -> &str {
        "watch"
    }

    fn check(&self, host: &Host) -> ProbeResult {
        match host.watch_state() {
            None => ProbeResult::healthy("not watching"),
            Some((true, folders)) => ProbeResult::healthy(format!("watching {folders} folder(s)")),
            Some((false, _)) => {
                let reason = "the module watcher's thread has ended".to_owned();
                let fault = Fault { target: "watcher".into(), action: "restart", reason: reason.clone() };
                ProbeResult::from_problems(String::new(), vec![(Status::Unhealthy, reason)], vec![fault])
            }
        }
    }

    fn recover(&self, host: &Host, _fault: &Fault) -> Result<String> {
        host.set_watching(false)?;
        host.set_watching(true)?;
        Ok("watching again".into())
    }
}
