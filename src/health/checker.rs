//! A health check: every probe, then recovery of what they found, kept in a bounded history, with
//! transitions and recovery outcomes published on the bus and logged.
//!
//! Recovery attempts are counted per (component, target): a fault is tried at most
//! `MaxRetryAttempts` times; when the attempts are used up, one `given_up` outcome is reported and
//! the fault is left alone until a check no longer reports it (it is healthy again), which resets
//! its count.

use super::probe::{Fault, Probe, ProbeResult};
use super::Status;
use crate::config::HealthConfig;
use crate::host::Host;
use parking_lot::Mutex;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Published when a component's status changes: `{"component", "from", "to", "detail"}`.
pub const TRANSITION_TOPIC: &str = "plughost.health.transition";
/// Published for each recovery attempt and when the attempts are used up:
/// `{"component", "target", "action", "attempt", "max_attempts", "outcome", "detail"}` with
/// `outcome` `succeeded`, `failed` or `given_up`.
pub const RECOVERY_TOPIC: &str = "plughost.health.recovery";
/// Published when the overall status changes: `{"status", "reasons"}`.
pub const STATUS_TOPIC: &str = "plughost.health";

/// What started a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// The monitor's interval.
    Interval,
    /// A caller asked ([`Host::check_health`]).
    Request,
}

/// One probe's result in a check.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeReport {
    /// The component.
    pub component: String,
    /// What the probe found.
    #[serde(flatten)]
    pub result: ProbeResult,
}

/// One recovery attempt (or the end of the attempts) in a check.
#[derive(Clone, Debug, Serialize)]
pub struct RecoveryReport {
    /// The component whose probe reported the fault.
    pub component: String,
    /// The fault's target.
    pub target: String,
    /// What was done.
    pub action: &'static str,
    /// Which attempt this was (1-based); for `given_up`, the attempts made.
    pub attempt: u32,
    /// `Health.MaxRetryAttempts`.
    pub max_attempts: u32,
    /// `succeeded`, `failed` or `given_up`.
    pub outcome: &'static str,
    /// What the probe said it did, or the error.
    pub detail: String,
}

/// One health check: every probe's result and the recovery it led to.
#[derive(Clone, Debug, Serialize)]
pub struct CheckRun {
    /// The check's number since the host started (1 = first).
    pub run: u64,
    /// When it started, in milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    /// How long the probes and the recovery took.
    pub duration_ms: f64,
    /// What started it.
    pub trigger: Trigger,
    /// The worst status of the probes (before recovery).
    pub status: Status,
    /// Each probe's result, in registration order.
    pub probes: Vec<ProbeReport>,
    /// Recovery attempts made in this check.
    pub recoveries: Vec<RecoveryReport>,
}

/// What a check carries over to the next: each component's last status, the attempts per fault.
struct State {
    runs: u64,
    last_status: Status,
    components: HashMap<String, Status>,
    attempts: HashMap<(String, String), u32>,
}

/// Runs checks for one host (the monitor's interval, or on request) and keeps their history.
///
/// `state` serialises checks and is held while one runs (recovery may take seconds); `history`
/// is locked only to read or append, so reading health from an event handler during a check
/// does not wait for it.
pub struct Checker {
    config: HealthConfig,
    state: Mutex<State>,
    history: Mutex<VecDeque<CheckRun>>,
}

/// Each probe's result now, in registration order.
pub(crate) fn probe_all(host: &Host, probes: &[Arc<dyn Probe>]) -> Vec<ProbeReport> {
    probes.iter().map(|p| ProbeReport { component: p.component().to_owned(), result: p.check(host) }).collect()
}

fn publish(host: &Host, topic: &str, payload: serde_json::Value) {
    if let Err(e) = host.shared().events.publish(topic, "host", payload.to_string().as_bytes()) {
        tracing::debug!(topic, error = %e, "health event not published");
    }
}

impl Checker {
    /// A checker with `config`'s history size and recovery settings.
    pub fn new(config: &HealthConfig) -> Self {
        Checker {
            config: config.clone(),
            state: Mutex::new(State {
                runs: 0,
                last_status: Status::Healthy,
                components: HashMap::new(),
                attempts: HashMap::new(),
            }),
            history: Mutex::new(VecDeque::new()),
        }
    }

    /// Run a check now: every probe, transitions, recovery. Checks are serialised; must not be
    /// called from a handler of the events a check publishes on the checking thread.
    pub fn run(&self, host: &Host, trigger: Trigger) -> CheckRun {
        let mut state = self.state.lock();
        let started = Instant::now();
        let at_unix_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let probes = host.shared().probes.list();
        let reports = probe_all(host, &probes);
        let status = reports.iter().map(|r| r.result.status).max().unwrap_or(Status::Healthy);
        self.transitions(host, &mut state, &reports, status);
        let recoveries = if self.config.recovery { self.recover(host, &mut state, &probes, &reports) } else { vec![] };
        state.runs += 1;
        let run = CheckRun {
            run: state.runs,
            at_unix_ms,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
            trigger,
            status,
            probes: reports,
            recoveries,
        };
        let mut history = self.history.lock();
        while history.len() >= self.config.history_size {
            history.pop_front();
        }
        history.push_back(run.clone());
        run
    }

    /// The kept checks, oldest first.
    pub fn history(&self) -> Vec<CheckRun> {
        self.history.lock().iter().cloned().collect()
    }

    /// The latest check, if any.
    pub fn last(&self) -> Option<CheckRun> {
        self.history.lock().back().cloned()
    }

    /// Report each component whose status changed, and the overall status when it changed.
    fn transitions(&self, host: &Host, state: &mut State, reports: &[ProbeReport], status: Status) {
        for r in reports {
            let from = state.components.insert(r.component.clone(), r.result.status).unwrap_or(Status::Healthy);
            let to = r.result.status;
            if from == to {
                continue;
            }
            if to > from {
                tracing::warn!(component = %r.component, ?from, ?to, detail = %r.result.detail, "component status changed");
            } else {
                tracing::info!(component = %r.component, ?from, ?to, detail = %r.result.detail, "component status changed");
            }
            let payload =
                serde_json::json!({"component": r.component, "from": from, "to": to, "detail": r.result.detail});
            publish(host, TRANSITION_TOPIC, payload);
        }
        if status != state.last_status {
            let reasons = super::reasons(reports);
            match status {
                Status::Healthy => tracing::info!(?status, "health changed"),
                _ => tracing::warn!(?status, reasons = %reasons.join("; "), "health changed"),
            }
            publish(host, STATUS_TOPIC, serde_json::json!({ "status": status, "reasons": reasons }));
            state.last_status = status;
        }
    }

    /// Try each fault not given up on; forget the attempts of faults no longer reported.
    fn recover(
        &self,
        host: &Host,
        state: &mut State,
        probes: &[Arc<dyn Probe>],
        reports: &[ProbeReport],
    ) -> Vec<RecoveryReport> {
        let reported: Vec<(String, String)> = reports
            .iter()
            .flat_map(|r| r.result.faults.iter().map(|f| (r.component.clone(), f.target.clone())))
            .collect();
        state.attempts.retain(|key, _| reported.contains(key));
        let max = self.config.max_retry_attempts;
        let mut done = Vec::new();
        for (probe, report) in probes.iter().zip(reports) {
            for fault in &report.result.faults {
                let key = (report.component.clone(), fault.target.clone());
                let attempts = state.attempts.entry(key).or_insert(0);
                if *attempts > max {
                    continue;
                }
                let (attempt, outcome, detail) = if *attempts == max {
                    (max, "given_up", format!("{} ({max} attempt(s) made)", fault.reason))
                } else {
                    let attempt = *attempts + 1;
                    match probe.recover(host, fault) {
                        Ok(detail) => (attempt, "succeeded", detail),
                        Err(e) => (attempt, "failed", e.message().to_owned()),
                    }
                };
                *attempts += 1;
                done.push(self.reported(host, &report.component, fault, attempt, outcome, detail));
            }
        }
        done
    }

    fn reported(
        &self,
        host: &Host,
        component: &str,
        fault: &Fault,
        attempt: u32,
        outcome: &'static str,
        detail: String,
    ) -> RecoveryReport {
        let max_attempts = self.config.max_retry_attempts;
        match outcome {
            "succeeded" => tracing::info!(component, target = %fault.target, action = fault.action, attempt,
                detail = %detail, "health recovery succeeded"),
            _ => tracing::warn!(component, target = %fault.target, action = fault.action, attempt, outcome,
                detail = %detail, "health recovery did not succeed"),
        }
        let report = RecoveryReport {
            component: component.to_owned(),
            target: fault.target.clone(),
            action: fault.action,
            attempt,
            max_attempts,
            outcome,
            detail,
        };
        publish(host, RECOVERY_TOPIC, serde_json::to_value(&report).expect("a recovery report serialises"));
        report
    }
}
